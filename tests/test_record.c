/* SPDX-License-Identifier: MIT */
/* The result record: what the writer produces validates; anything damaged is rejected. */
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
	pvb_rec_metric(&w, 0, "lat_min", "ns", 1500);
	pvb_rec_metric(&w, 0, "lat_max", "ns", 3900);
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
	pvb_rec_metric(&w, 0, "a", "ns", 1);
	pvb_rec_metric(&w, 0, "b", "ns", 2); /* does not fit */
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

static void metrics_clamp_percentiles_to_exact_extremes(void **state)
{
	struct metric_set ms;

	make_record();
	metrics_from_record(buf, &ms);
	/* hist {1,2,3,4} over [0,4) us: p50 bucket 2 us, p99 bucket 3 us; exact max 3.9 us */
	assert_true(metrics_find(&ms, "lat_p50", 0)->value == 2000);
	assert_true(metrics_find(&ms, "lat_p99", 0)->value == 3000);
	/* p.. never below the exact minimum (1.5 us, while bucket 0 says 0) */
	assert_true(metrics_find(&ms, "lat_min", 0)->value == 1500);
	assert_string_equal(ms.text, "hello");
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
		cmocka_unit_test(metrics_clamp_percentiles_to_exact_extremes),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
