/* SPDX-License-Identifier: MIT */
/* The DVFS model against the kernel's definitions: PELT's 32 ms half-life and limits, a duty
 * cycle's utilisation, frequency invariance, and schedutil's choice and rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dvfs.h"

/* run (1) or idle (0) for us microseconds, updating every step us (the scheduler's ticks) */
static void spend(struct pelt *p, uint64_t *now, uint64_t us, int running, uint32_t scale)
{
	for (uint64_t end = *now + us; *now < end;) {
		*now += 100;
		pelt_update(p, *now, running, scale);
	}
}

static void decay_is_the_kernels(void **state)
{
	/* y^0 is 0xffffffff / 2^32 in the kernel's table too: one less, as decay_load() gives */
	assert_int_equal(pelt_decay(1u << 20, 0), (1u << 20) - 1);
	assert_int_equal(pelt_decay(1u << 20, 32), (1u << 19) - 1);    /* one half-life */
	assert_int_equal(pelt_decay(1u << 20, 64), (1u << 18) - 1);
	assert_in_range(pelt_decay(1000000, 16), 707106, 707107);      /* y^16 = 1/sqrt(2) */
	assert_int_equal(pelt_decay(~0ull, 32 * 64), 0);               /* beyond 63 half-lives */
}

static void half_life_and_limits(void **state)
{
	struct pelt p = { 0 };
	uint64_t now = 0;

	spend(&p, &now, 32 * 1024, 1, DVFS_SCALE);       /* 32 periods running from nothing */
	assert_in_range(p.util_avg, 500, 524);            /* 1 - y^32 = 1/2 */
	spend(&p, &now, 400 * 1024, 1, DVFS_SCALE);      /* always running: the maximum */
	assert_in_range(p.util_avg, 1010, 1024);
	uint32_t full = p.util_avg;
	spend(&p, &now, 32 * 1024, 0, DVFS_SCALE);       /* then 32 ms idle: half */
	assert_in_range(p.util_avg, full / 2 - 12, full / 2 + 12);
	spend(&p, &now, 1000 * 1024, 0, DVFS_SCALE);
	assert_int_equal(p.util_avg, 0);
}

static void duty_cycle_and_invariance(void **state)
{
	struct pelt p = { 0 }, q = { 0 };
	uint64_t now = 0, t2 = 0;

	for (int i = 0; i < 400; i++) { /* 1 ms on, 1 ms off: about half */
		spend(&p, &now, 1000, 1, DVFS_SCALE);
		spend(&p, &now, 1000, 0, DVFS_SCALE);
	}
	assert_in_range(p.util_avg, 490, 534);
	/* always running at half the maximum frequency: as much utilisation as half the time at full */
	spend(&q, &t2, 400 * 1024, 1, DVFS_SCALE / 2);
	assert_in_range(q.util_avg, 500, 514);
}

static void schedutil_choice_and_rate_limit(void **state)
{
	struct dvfs_domain d = { .khz = { 500000, 1000000, 1500000, 2000000 }, .nr = 4, .capacity = 1024,
				 .rate_limit_us = 2000 };

	assert_int_equal(dvfs_resolve(&d, 1), 500000);
	assert_int_equal(dvfs_resolve(&d, 1000001), 1500000);
	assert_int_equal(dvfs_resolve(&d, 9999999), 2000000);
	assert_int_equal(dvfs_governor(&d, 0, 0), 500000);
	/* 1.25 * 2 GHz * 400 / 1024 = 976.6 MHz -> 1 GHz; but inside the rate limit: unchanged */
	assert_int_equal(dvfs_governor(&d, 400, 1000), 500000);
	assert_int_equal(dvfs_governor(&d, 400, 2500), 1000000);
	/* 80% of capacity asks for f_max (the 25% headroom) */
	assert_int_equal(dvfs_governor(&d, 820, 10000), 2000000);
	/* a LITTLE CPU: capacity 512 at its f_max; util is against its own capacity */
	struct dvfs_domain l = { .khz = { 400000, 800000, 1200000 }, .nr = 3, .capacity = 512 };
	assert_int_equal(dvfs_governor(&l, 256, 0), 800000);   /* 1.25 * 1.2 GHz * 256/512 = 750 MHz */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decay_is_the_kernels),
		cmocka_unit_test(half_life_and_limits),
		cmocka_unit_test(duty_cycle_and_invariance),
		cmocka_unit_test(schedutil_choice_and_rate_limit),
	};
	return cmocka_run_group_tests_name("dvfs", tests, NULL, NULL);
}
