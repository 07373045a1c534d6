/* SPDX-License-Identifier: MIT */
/* Change points on synthetic nightly series: a planted step is found where it was planted; pure
 * noise stays quiet at (at most) the stated rate over many seeded series. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "changepoint.h"
#include "stats.h"

#define NIGHTS 20
#define REPS 5

static double v[NIGHTS * REPS];
static size_t start[NIGHTS + 1];

/* lognormal runs (sigma 0.15) around 100, times `step` from night `at` on */
static void series(uint64_t *rng, size_t at, double step)
{
	for (size_t n = 0; n <= NIGHTS; n++)
		start[n] = n * REPS;
	for (size_t i = 0; i < NIGHTS * REPS; i++) {
		double u = stats_rand_unit(rng), w = stats_rand_unit(rng);
		v[i] = 100 * (i / REPS >= at ? step : 1) * exp(0.15 * sqrt(-2 * log(1 - u)) * cos(2 * M_PI * w));
	}
}

static void planted_step_is_found_where_planted(void **state)
{
	struct cp_params p = CP_PARAMS_DEFAULT;
	struct cp_change c[8];
	uint64_t rng = 99;
	int found = 0, trials = 40;

	for (int t = 0; t < trials; t++) {
		series(&rng, 12, 1.3);
		size_t n = cp_detect(v, start, NIGHTS, &p, c, 8);
		for (size_t i = 0; i < n; i++)
			if (c[i].at >= 11 && c[i].at <= 13) { /* within a night of where it was planted */
				found++;
				assert_true(c[i].after > c[i].before);
				assert_true(c[i].p < 0.05);
			}
	}
	print_message("a +30%% step at night 12 of 20 (5 runs a night): found at 12 +- 1 in %d of %d series\n",
		      found, trials);
	assert_true(found >= trials * 90 / 100);
	/* the newest night alone: a step on the last of them is found too */
	series(&rng, NIGHTS - 1, 1.5);
	size_t n = cp_detect(v, start, NIGHTS, &p, c, 8);
	assert_true(n >= 1);
	assert_int_equal(c[n - 1].at, NIGHTS - 1);
}

static void noise_stays_quiet(void **state)
{
	struct cp_params p = CP_PARAMS_DEFAULT;
	struct cp_change c[8];
	uint64_t rng = 2024;
	int flagged = 0, trials = 100;

	for (int t = 0; t < trials; t++) {
		series(&rng, NIGHTS, 1);
		flagged += cp_detect(v, start, NIGHTS, &p, c, 8) > 0;
	}
	print_message("pure noise: %d of %d series flagged\n", flagged, trials);
	assert_true(flagged <= trials * 5 / 100);
}

/* Two nights of five runs each: the least a nightly needs to flag a change (exact p 2/252). */
static void two_nights_are_enough_for_a_clear_step(void **state)
{
	struct cp_params p = CP_PARAMS_DEFAULT;
	struct cp_change c[2];
	double two[] = { 100, 101, 99, 100.5, 100.2, 150, 149, 151, 150.3, 150.1 };
	size_t st[] = { 0, 5, 10 };
	assert_int_equal(cp_detect(two, st, 2, &p, c, 2), 1);
	assert_int_equal(c[0].at, 1);
	double flat[] = { 100, 101, 99, 100.5, 100.2, 100.1, 100.4, 99.5, 100.3, 100.9 };
	assert_int_equal(cp_detect(flat, st, 2, &p, c, 2), 0);  /* below min_rel */
	assert_int_equal(cp_detect(two, st, 1, &p, c, 2), 0);   /* one night: nothing to compare */
}

/* One run a night over many nights cannot reach the level once corrected for the split points
 * tried: the series says so instead of "none"; five runs a night can. */
static void one_run_a_night_cannot_flag_and_says_so(void **state)
{
	struct cp_params p = CP_PARAMS_DEFAULT;
	size_t one[21], five[21];
	for (size_t s = 0; s <= 20; s++)
		one[s] = s, five[s] = 5 * s;
	assert_true(cp_best_p(one, 20, &p) >= p.alpha);
	assert_true(cp_best_p(five, 20, &p) < p.alpha);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(planted_step_is_found_where_planted),
		cmocka_unit_test(noise_stays_quiet),
		cmocka_unit_test(two_nights_are_enough_for_a_clear_step),
		cmocka_unit_test(one_run_a_night_cannot_flag_and_says_so),
	};
	return cmocka_run_group_tests_name("changepoint", tests, NULL, NULL);
}
