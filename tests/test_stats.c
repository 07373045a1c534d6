/* SPDX-License-Identifier: MIT */
/* Statistics against values computed independently (brute force over all rank arrangements;
 * R's wilcox.test for the tied case). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "stats.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-4)

static void mean_sd_median(void **state)
{
	double x[] = { 2, 4, 4, 4, 5, 5, 7, 9 };
	NEAR(stats_mean(x, 8), 5.0);
	NEAR(stats_sd(x, 8), 2.13809);
	NEAR(stats_median(x, 8), 4.5);
	NEAR(stats_median(x, 7), 4.0);
	NEAR(stats_sd(x, 1), 0.0);
	assert_true(isnan(stats_mean(x, 0)));
}

static void mann_whitney_exact(void **state)
{
	double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
	double c[] = { 1.1, 2.2, 3.3, 6.5, 8.1 }, d[] = { 3.9, 4.4, 5.6, 7.7, 9.9, 10.2 };
	double e[] = { 10, 20, 30 }, f[] = { 15, 25, 35, 45 };

	NEAR(stats_mann_whitney_p(a, 5, b, 5), 2.0 / 252);   /* complete separation */
	NEAR(stats_mann_whitney_p(b, 5, a, 5), 2.0 / 252);   /* symmetric */
	NEAR(stats_mann_whitney_p(c, 5, d, 6), 0.1774892);
	NEAR(stats_mann_whitney_p(e, 3, f, 4), 0.4);
	NEAR(stats_mann_whitney_p(a, 5, a, 5), 1.0);         /* all tied with their twin */
}

/* Ties (the rule for p99 in 1 us buckets) keep the exact distribution at small n: the normal
 * approximation says 0.043 here, the exact permutation p is 0.0556 (14 of 252 arrangements with
 * mid-ranks at least as extreme), as a brute-force count over all 252 gives. */
static void mann_whitney_exact_with_ties(void **state)
{
	double x[] = { 5, 0, 4, 1, 4 }, y[] = { 7, 7, 5, 4, 8 };
	NEAR(stats_mann_whitney_p(x, 5, y, 5), 14.0 / 252);
	double u[] = { 1, 2, 2, 3, 4, 5 }, v[] = { 2, 3, 6, 7, 8, 9 };
	double p = stats_mann_whitney_p(u, 6, v, 6);
	assert_true(p > 0.05 && p < 0.1);
}

/* No minimum n: small samples simply cannot get small p-values. 3 vs 3 never below 0.1, while
 * 4 vs 4 reaches 2/70 = 0.029. */
static void small_samples_reach_what_they_can(void **state)
{
	double a[] = { 1, 2, 3, 4 }, b[] = { 7, 8, 9, 10 };
	NEAR(stats_mann_whitney_p(a, 3, b, 3), 0.1);
	NEAR(stats_mann_whitney_p(a, 4, b, 4), 2.0 / 70);
	assert_true(isnan(stats_mann_whitney_p(a, 0, b, 3)));
}

static void holm_adjusts_for_the_family(void **state)
{
	double p[] = { 0.01, 0.04, 0.03, NAN, 0.5 }, adj[5];
	stats_holm(p, adj, 5);
	NEAR(adj[0], 0.04);      /* 0.01 x 4 comparisons */
	NEAR(adj[2], 0.09);      /* 0.03 x 3 */
	NEAR(adj[1], 0.09);      /* 0.04 x 2 = 0.08, but never below the step before */
	NEAR(adj[4], 0.5);
	assert_true(isnan(adj[3]));
}

static void bh_controls_the_false_discovery_rate(void **state)
{
	/* R: p.adjust(c(0.01, 0.04, 0.03, NA, 0.5), "BH") */
	double p[] = { 0.01, 0.04, 0.03, NAN, 0.5 }, adj[5];
	stats_bh(p, adj, 5);
	NEAR(adj[0], 0.04);
	NEAR(adj[1], 0.053333);
	NEAR(adj[2], 0.053333);  /* 0.06, but never above the step after */
	NEAR(adj[4], 0.5);
	assert_true(isnan(adj[3]));
}

static void quantile_as_r_type_7(void **state)
{
	double x[] = { 10, 1, 9, 2, 8, 3, 7, 4, 6, 5 };
	NEAR(stats_quantile(x, 10, 0.9), 9.1);
	NEAR(stats_quantile(x, 10, 0.5), 5.5);
	NEAR(stats_quantile(x, 10, 0), 1);
	NEAR(stats_quantile(x, 10, 1), 10);
	assert_true(isnan(stats_quantile(x, 0, 0.5)));
}

static double normal(uint64_t *rng)
{
	double u = stats_rand_unit(rng), v = stats_rand_unit(rng);
	return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* The 95% interval of a difference of medians covers the true difference in about 95% of
 * samples (here: normal samples, true difference 1.5) and is reproducible for a seed. */
static void bootstrap_interval_covers(void **state)
{
	uint64_t rng = 42, brng = 7;
	int covered = 0, trials = 300;
	double a[40], b[40], lo, hi, lo2, hi2;

	for (int t = 0; t < trials; t++) {
		for (int i = 0; i < 40; i++) {
			a[i] = 10 + normal(&rng);
			b[i] = 11.5 + normal(&rng);
		}
		assert_int_equal(stats_bootstrap_diff(a, 40, b, 40, 0.5, 1000, 0.95, &brng, &lo, &hi), 0);
		covered += lo <= 1.5 && 1.5 <= hi;
	}
	assert_in_range(covered, trials * 88 / 100, trials * 99 / 100);
	brng = 3;
	stats_bootstrap_diff(a, 40, b, 40, 0.5, 500, 0.95, &brng, &lo, &hi);
	brng = 3;
	stats_bootstrap_diff(a, 40, b, 40, 0.5, 500, 0.95, &brng, &lo2, &hi2);
	assert_true(lo == lo2 && hi == hi2);
	assert_int_equal(stats_bootstrap_diff(a, 0, b, 40, 0.5, 500, 0.95, &brng, &lo, &hi), -1);
	assert_true(isnan(lo));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mean_sd_median),
		cmocka_unit_test(mann_whitney_exact),
		cmocka_unit_test(mann_whitney_exact_with_ties),
		cmocka_unit_test(small_samples_reach_what_they_can),
		cmocka_unit_test(holm_adjusts_for_the_family),
		cmocka_unit_test(bh_controls_the_false_discovery_rate),
		cmocka_unit_test(quantile_as_r_type_7),
		cmocka_unit_test(bootstrap_interval_covers),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
