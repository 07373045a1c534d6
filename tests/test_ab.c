/* SPDX-License-Identifier: MIT */
/* A/B verdicts against known distributions: a planted difference is found, an A/A comparison
 * says "no difference" at (at most) the stated false-positive rate, over many seeded trials. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ab.h"
#include "stats.h"

/* latency-like: lognormal around `median`, heavy right tail */
static void lognormal(double *x, size_t n, double median, double sigma, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++) {
		double u = stats_rand_unit(rng), v = stats_rand_unit(rng);
		x[i] = median * exp(sigma * sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v));
	}
}

struct trial { double a[40], a2[40], b[40]; struct ab_metric m[2]; };

/* two metrics: latency (lower is better) with B = shift x A, and a second one with no difference */
static void one_trial(struct trial *t, size_t n, double shift, uint64_t *rng, const struct ab_params *p)
{
	static double a[40], a2[40], b[40];
	memset(t->m, 0, sizeof(t->m));
	lognormal(t->a, n, 100, 0.2, rng);
	lognormal(t->a2, n, 100, 0.2, rng);
	lognormal(t->b, n, 100 * shift, 0.2, rng);
	lognormal(a, n, 50, 0.3, rng);
	lognormal(a2, n, 50, 0.3, rng);
	lognormal(b, n, 50, 0.3, rng);
	t->m[0] = (struct ab_metric){ .side = "guest", .name = "lat", .unit = "us",
				      .a = t->a, .a2 = t->a2, .b = t->b, .na = n, .na2 = n, .nb = n };
	t->m[1] = (struct ab_metric){ .side = "guest", .name = "other", .unit = "us",
				      .a = a, .a2 = a2, .b = b, .na = n, .na2 = n, .nb = n };
	ab_analyse(t->m, 2, p);
}

static void planted_difference_is_found(void **state)
{
	struct ab_params p = AB_PARAMS_DEFAULT;
	struct trial t;
	uint64_t rng = 11;
	int worse = 0, better = 0, trials = 200;

	p.boot = 300;
	for (int i = 0; i < trials; i++) {
		one_trial(&t, 20, 1.4, &rng, &p);   /* B 40% slower */
		worse += t.m[0].verdict == AB_WORSE;
		assert_true(t.m[0].d_lo > 0 || t.m[0].verdict != AB_WORSE);
		assert_int_not_equal(t.m[0].verdict, AB_BETTER);
	}
	print_message("planted +40%%, 20 runs: %d of %d trials say worse\n", worse, trials);
	assert_true(worse >= trials * 90 / 100);
	for (int i = 0; i < trials; i++) {
		one_trial(&t, 20, 0.7, &rng, &p);   /* B 30% faster */
		better += t.m[0].verdict == AB_BETTER;
	}
	assert_true(better >= trials * 90 / 100);
	assert_int_equal(ab_exit_status(t.m, 2), t.m[1].verdict == AB_WORSE ? AB_EXIT_WORSE :
				  t.m[0].verdict == AB_BETTER ? AB_EXIT_BETTER : 0);
	/* declared more-is-better flips the verdict; a figure that describes the run is never judged */
	t.m[0].better = PVB_MORE;
	ab_analyse(t.m, 1, &p);
	assert_true(t.m[0].verdict == AB_WORSE || t.m[0].verdict == AB_SAME);
	t.m[0].better = PVB_INFO;
	ab_analyse(t.m, 1, &p);
	assert_true(t.m[0].verdict == AB_CHANGED || t.m[0].verdict == AB_SAME);
	assert_int_not_equal(ab_exit_status(t.m, 1), AB_EXIT_WORSE);
}

/* With no difference, a verdict other than "no difference" is a false positive: over 500 seeded
 * trials of two metrics each, at most the stated FDR level (5%) of trials may have one. The raw
 * Mann-Whitney rate is checked too (near 5%): the test is calibrated, not merely blind. */
static void aa_says_no_difference(void **state)
{
	struct ab_params p = AB_PARAMS_DEFAULT;
	struct trial t;
	uint64_t rng = 12345;
	int fp = 0, raw = 0, trials = 500;

	p.boot = 200;
	for (int i = 0; i < trials; i++) {
		one_trial(&t, 12, 1.0, &rng, &p);
		fp += t.m[0].verdict != AB_SAME || t.m[1].verdict != AB_SAME;
		raw += t.m[0].p < 0.05;
	}
	print_message("A/A: %d of %d trials with a false verdict, %d with raw p < 0.05\n", fp, trials, raw);
	assert_true(fp <= trials * 5 / 100);
	assert_in_range(raw, trials * 2 / 100, trials * 8 / 100);
}

static void too_few_runs_and_precision(void **state)
{
	struct ab_params p = AB_PARAMS_DEFAULT;
	double a[] = { 1 }, b[] = { 2, 3 }, a2[] = { 1, 2 };
	struct ab_metric m = { .name = "x", .a = a, .a2 = a2, .b = b, .na = 1, .na2 = 2, .nb = 2 };
	ab_analyse(&m, 1, &p);
	assert_int_equal(m.verdict, AB_FEW);
	/* nothing judged is not "no difference": its own status, and a sentence */
	assert_int_equal(ab_exit_status(&m, 1), AB_EXIT_NOT_JUDGED);
	assert_non_null(ab_not_judged(&m, 1));
	assert_int_equal(ab_exit_status(&m, 0), AB_EXIT_NOT_JUDGED); /* no metric at all */

	/* 3 against 3 cannot reach p < 0.05 (at best 0.1), however far apart: too few, not "same";
	 * 4 against 4 can (0.029) */
	double a3[] = { 1, 1.1, 1.2, 1.3 }, b3[] = { 5, 5.1, 5.2, 5.3 }, c3[] = { 1, 1.1, 1.2, 1.3 };
	struct ab_metric m3 = { .name = "x", .a = a3, .a2 = c3, .b = b3, .na = 3, .na2 = 3, .nb = 3 };
	ab_analyse(&m3, 1, &p);
	assert_int_equal(m3.verdict, AB_FEW);
	assert_int_equal(ab_exit_status(&m3, 1), AB_EXIT_NOT_JUDGED);
	m3.na = m3.na2 = m3.nb = 4;
	ab_analyse(&m3, 1, &p);
	assert_int_equal(m3.verdict, AB_WORSE); /* lower is better: B's 5 is worse than A's 1 */

	struct trial t;
	uint64_t rng = 5;
	one_trial(&t, 5, 1.0, &rng, &p);       /* 5 runs, sigma 0.2: intervals far wider than 5% */
	assert_false(ab_precise(t.m, 2, &p));
	p.precision = 10;                       /* within 1000%: yes */
	assert_true(ab_precise(t.m, 2, &p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(planted_difference_is_found),
		cmocka_unit_test(aa_says_no_difference),
		cmocka_unit_test(too_few_runs_and_precision),
	};
	return cmocka_run_group_tests_name("ab", tests, NULL, NULL);
}
