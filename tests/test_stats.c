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
	NEAR(stats_mann_whitney_p(a, 5, a, 5), 1.0);         /* ties: normal approximation */
}

static void mann_whitney_ties_normal_approximation(void **state)
{
	double x[] = { 1, 2, 2, 3, 4, 5 }, y[] = { 2, 3, 6, 7, 8, 9 };
	NEAR(stats_mann_whitney_p(x, 6, y, 6), 0.0755663);
}

static void small_samples_cannot_reach_significance(void **state)
{
	/* with 3 vs 3 even complete separation gives p = 0.1: why compare needs n >= 5 */
	double a[] = { 1, 2, 3 }, b[] = { 7, 8, 9 };
	NEAR(stats_mann_whitney_p(a, 3, b, 3), 0.1);
	assert_true(isnan(stats_mann_whitney_p(a, 0, b, 3)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mean_sd_median),
		cmocka_unit_test(mann_whitney_exact),
		cmocka_unit_test(mann_whitney_ties_normal_approximation),
		cmocka_unit_test(small_samples_cannot_reach_significance),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
