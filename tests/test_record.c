/* SPDX-License-Identifier: MIT */
/* The result record: what the writer produces validates; anything damaged is rejected. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"
#include "pvb_record.h"

static uint8_t buf[8192];
static char err[256];

static uint32_t make_record(void)
{
	struct pvb_rec_writer w;
	uint32_t hist[4] = { 1, 2, 3, 4 };

	memset(buf, 0xaa, sizeof(buf));
	pvb_rec_begin(&w, buf, sizeof(buf));
	pvb_rec_metric(&w, 0, "lat_min", "ns", PVB_LESS, 1500);
	pvb_rec_metric(&w, 0, "lat_max", "ns", PVB_LESS, 3900);
	pvb_rec_hist(&w, 0, "lat", 1000, hist, 4, 0);
	pvb_rec_text(&w, PVB_CPU_VM, "hello");
	return pvb_rec_seal(&w, PVB_STATUS_OK, 1);
}

static void valid_record_passes(void **state)
{
	uint32_t len = make_record();
	const struct pvb_sec *s = NULL;
	int n = 0;

	assert_int_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), 0);
	assert_int_equal(pvb_rec_validate(buf, len, err, sizeof(err)), 0);
	while ((s = pvb_rec_next(buf, s)))
		n++;
	assert_int_equal(n, 4);
}

static void every_flipped_bit_is_caught(void **state)
{
	uint32_t len = make_record();

	for (uint32_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1 << bit);
			assert_int_not_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), 0);
			buf[i] ^= (uint8_t)(1 << bit);
		}
	}
	assert_int_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), 0);
}

static void truncated_record_is_rejected(void **state)
{
	uint32_t len = make_record();

	for (uint32_t cut = 0; cut < len; cut += 7)
		assert_int_equal(pvb_rec_validate(buf, cut, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated") ? err : strstr(err, "length"));
}

static void missing_magic_reads_as_no_record(void **state)
{
	make_record();
	memset(buf, 0, 4);
	assert_int_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no result record"));
}

static void overflowing_writer_seals_failed(void **state)
{
	struct pvb_rec_writer w;

	pvb_rec_begin(&w, buf, 100);
	pvb_rec_metric(&w, 0, "a", "ns", PVB_LESS, 1);
	pvb_rec_metric(&w, 0, "b", "ns", PVB_LESS, 2); /* does not fit */
	pvb_rec_seal(&w, PVB_STATUS_OK, 1);
	assert_int_equal(pvb_rec_validate(buf, 100, err, sizeof(err)), 0);
	assert_int_equal(((struct pvb_rec_hdr *)buf)->status, PVB_STATUS_FAILED);
}

static void quantiles_read_like_cyclictest(void **state)
{
	unsigned c[5] = { 0, 10, 80, 9, 1 }; /* 100 values */

	assert_true(hist_quantile_ns(c, 5, 0, 1000, 0.5) == 2000);
	assert_true(hist_quantile_ns(c, 5, 0, 1000, 0.99) == 3000);
	assert_true(hist_quantile_ns(c, 5, 0, 1000, 0.999) == 4000);
	assert_true(hist_quantile_ns(c, 5, 0, 1000, 0.0) == 1000);
	assert_true(hist_quantile_ns(c, 5, 900, 1000, 0.5) == 5000); /* in the overflow */
	unsigned z[3] = { 0 };
	assert_true(hist_quantile_ns(z, 3, 0, 1000, 0.5) < 0);
}

static void metrics_read_percentiles_from_histograms(void **state)
{
	struct metric_set ms;

	make_record();
	metrics_from_record(buf, &ms);
	/* hist {1,2,3,4} over [0,4) us: p50 bucket 2 us, p99 bucket 3 us; exact max 3.9 us */
	assert_true(metrics_find(&ms, "lat_p50", 0)->value == 2000);
	assert_true(metrics_find(&ms, "lat_p99", 0)->value == 3000);
	assert_true(metrics_find(&ms, "lat_min", 0)->value == 1500);
	assert_string_equal(ms.text, "hello");
	metrics_free(&ms);
}

/* Where a bucket's lower edge falls outside the exact extremes, the percentile is clamped into
 * them: all of CPU 0 in bucket 0 (edge 0 ns) with an exact minimum of 700 ns reads 700, not 0;
 * all of CPU 1 in the overflow (edge 4 us) with an exact maximum of 2.5 us reads 2500. */
static void metrics_clamp_percentiles_to_exact_extremes(void **state)
{
	struct pvb_rec_writer w;
	struct metric_set ms;
	uint32_t low[4] = { 5, 0, 0, 0 }, none[4] = { 0, 0, 0, 0 };

	pvb_rec_begin(&w, buf, sizeof(buf));
	pvb_rec_metric(&w, 0, "lat_min", "ns", PVB_LESS, 700);
	pvb_rec_metric(&w, 0, "lat_max", "ns", PVB_LESS, 900);
	pvb_rec_hist(&w, 0, "lat", 1000, low, 4, 0);
	pvb_rec_metric(&w, 1, "lat_min", "ns", PVB_LESS, 2100);
	pvb_rec_metric(&w, 1, "lat_max", "ns", PVB_LESS, 2500);
	pvb_rec_hist(&w, 1, "lat", 1000, none, 4, 5);
	pvb_rec_seal(&w, PVB_STATUS_OK, 2);
	assert_int_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), 0);
	metrics_from_record(buf, &ms);
	assert_true(metrics_find(&ms, "lat_p50", 0)->value == 700);
	assert_true(metrics_find(&ms, "lat_p99.9", 0)->value == 700);
	assert_true(metrics_find(&ms, "lat_p50", 1)->value == 2500);
	assert_true(metrics_find(&ms, "lat_p99", 1)->value == 2500);
	metrics_free(&ms);
}

/* Which way a metric improves travels with it from the writer; a direction that is none of the
 * three is refused like any other bad field (the CRC is right: the writer itself wrote it). */
static void metric_directions_travel_and_are_checked(void **state)
{
	struct pvb_rec_writer w;
	struct metric_set ms;

	pvb_rec_begin(&w, buf, sizeof(buf));
	pvb_rec_metric(&w, PVB_CPU_VM, "fps", "FPS", PVB_MORE, 60);
	pvb_rec_metric(&w, PVB_CPU_VM, "samples", "count", PVB_INFO, 1000);
	pvb_rec_metric(&w, PVB_CPU_VM, "lat_max", "ns", PVB_LESS, 5000);
	pvb_rec_seal(&w, PVB_STATUS_OK, 1);
	assert_int_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), 0);
	metrics_from_record(buf, &ms);
	assert_int_equal(metrics_find(&ms, "fps", METRIC_CPU_VM)->better, PVB_MORE);
	assert_int_equal(metrics_find(&ms, "samples", METRIC_CPU_VM)->better, PVB_INFO);
	assert_int_equal(metrics_find(&ms, "lat_max", METRIC_CPU_VM)->better, PVB_LESS);
	metrics_free(&ms);

	pvb_rec_begin(&w, buf, sizeof(buf));
	pvb_rec_metric(&w, PVB_CPU_VM, "fps", "FPS", (enum pvb_better)3, 60);
	pvb_rec_seal(&w, PVB_STATUS_OK, 1);
	assert_int_equal(pvb_rec_validate(buf, sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "direction"));
}

/* A figure that is not a number never enters a metric set (nor the store behind it). */
static void non_finite_values_are_refused(void **state)
{
	struct metric_set ms = { 0 };
	assert_int_equal(metrics_add(&ms, "cost_p50", "ns", PVB_LESS, -2, NAN), -1);
	assert_int_equal(metrics_add(&ms, "cost_p50", "ns", PVB_LESS, -2, INFINITY), -1);
	assert_int_equal(metrics_add(&ms, "cost_p50", "ns", PVB_LESS, -2, 1.5), 0);
	assert_int_equal(ms.n, 1);
	metrics_free(&ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_record_passes),
		cmocka_unit_test(every_flipped_bit_is_caught),
		cmocka_unit_test(truncated_record_is_rejected),
		cmocka_unit_test(missing_magic_reads_as_no_record),
		cmocka_unit_test(overflowing_writer_seals_failed),
		cmocka_unit_test(quantiles_read_like_cyclictest),
		cmocka_unit_test(metrics_read_percentiles_from_histograms),
		cmocka_unit_test(metrics_clamp_percentiles_to_exact_extremes),
		cmocka_unit_test(non_finite_values_are_refused),
		cmocka_unit_test(metric_directions_travel_and_are_checked),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
