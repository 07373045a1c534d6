/* SPDX-License-Identifier: MIT */
/* The DVFS model against the kernel's definitions: PELT's 32 ms half-life and limits, a duty
 * cycle's utilisation, frequency invariance, and schedutil's choice and rate limit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dvfs.h"
#include "energy.h"

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
	/* the integer table (the guest kernel has no libm) against the definition */
	for (unsigned n = 1; n < 32; n++)
		assert_true(fabs((double)pelt_decay(1ull << 32, n) - ldexp(pow(0.5, n / 32.0), 32)) <= 2.0);
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

/* The RK3399 OP1 model: the kernel's power formula on the DT's data, capacities, energy. */
static void energy_model_of_a_published_device(void **state)
{
	/* 436 uW/MHz/V^2 * 1250^2 mV^2 * 2016 MHz / 10^6 = 1373400 uW at the A72's top OPP */
	assert_int_equal(em_power_uw(&em_rk3399_op1_a72, 2016000), 1373400);
	/* 100 * 1150^2 * 1512 / 10^6 = 199962 uW at the A53's */
	assert_int_equal(em_power_uw(&em_rk3399_op1_a53, 1512000), 199962);
	assert_int_equal(em_power_uw(&em_rk3399_op1_a72, 1), em_power_uw(&em_rk3399_op1_a72, 408000));
	/* the kernel's cost (power * f_max / f) never falls with f (equal at equal voltage, as 408
	 * and 600 MHz on the A72), and rises across the table: lower OPPs do a cycle for less */
	const struct em_domain *d = &em_rk3399_op1_a72;
	for (int i = 1; i < d->nr; i++)
		assert_true(em_power_uw(d, d->opp[i].khz) * d->opp[i - 1].khz + d->opp[i].khz >=
			    em_power_uw(d, d->opp[i - 1].khz) * d->opp[i].khz);
	assert_true(em_power_uw(d, 2016000) / 2016 > 2 * (em_power_uw(d, 408000) / 408));
	/* capacities as the kernel normalises them: 485 * 1512 / (1024 * 2016) of 1024 */
	assert_int_equal(em_capacity(&em_rk3399_op1_a72, &em_rk3399_op1_a72), 1024);
	assert_int_equal(em_capacity(&em_rk3399_op1_a53, &em_rk3399_op1_a72), 363);
	/* one second busy at the top: 1.3734 J; idle costs nothing in the kernel's model */
	assert_true(em_energy_uj(d, 2016000, 1e6, 5e6) > 1373399.9 && em_energy_uj(d, 2016000, 1e6, 5e6) < 1373400.1);
	struct dvfs_domain g;
	em_to_dvfs(&em_rk3399_op1_a53, &em_rk3399_op1_a72, &g);
	assert_int_equal(g.nr, 7);
	assert_int_equal(g.capacity, 363);
	assert_int_equal(dvfs_governor(&g, 363, 0), 1512000); /* full LITTLE: its f_max */
}

/* What each policy makes of a CPU's threads, by hand (dvfs_cpu_util) */
static void policies_by_hand(void **state)
{
	struct dvfs_thread_in t[2] = { { .host = 300, .guest = 700, .runnable = 1 },
				       { .host = 200, .guest = 100, .runnable = 1 } };
	assert_int_equal(dvfs_cpu_util(DVFS_BASELINE, t, 2, 50, 1024, 1024), 550);
	/* util_est-like: max per thread, then summed with the CPU's other work */
	assert_int_equal(dvfs_cpu_util(DVFS_UTIL_GUEST, t, 2, 50, 1024, 1024), 700 + 200 + 50);
	/* uclamp_min: a floor, not additive: the sum (550) is under the largest value (700) */
	assert_int_equal(dvfs_cpu_util(DVFS_UCLAMP_MIN, t, 2, 50, 1024, 1024), 700);
	t[0].host = 600; /* and over it: the floor adds nothing */
	assert_int_equal(dvfs_cpu_util(DVFS_UCLAMP_MIN, t, 2, 50, 1024, 1024), 850);
	/* a thread that did not run in the interval is not enqueued: its guest value counts for nothing */
	t[0].runnable = 0;
	t[0].host = 300;
	assert_int_equal(dvfs_cpu_util(DVFS_UTIL_GUEST, t, 2, 50, 1024, 1024), 550);
	assert_int_equal(dvfs_cpu_util(DVFS_UCLAMP_MIN, t, 2, 50, 1024, 1024), 550);
	/* the VM's cap, and the CPU's capacity */
	t[0].runnable = 1;
	assert_int_equal(dvfs_cpu_util(DVFS_UTIL_GUEST, t, 2, 50, 400, 1024), 400 + 200 + 50);
	assert_int_equal(dvfs_cpu_util(DVFS_UTIL_GUEST, t, 2, 50, 1024, 485), 485);
	assert_int_equal(dvfs_cpu_util(DVFS_PERFORMANCE, t, 2, 0, 1024, 485), 485);
	assert_int_equal(dvfs_cpu_util(DVFS_POWERSAVE, t, 2, 900, 1024, 1024), 0);
}

/* A guest that publishes anything cannot take its CPUs past what its threads' own demand asks
 * under baseline plus the VM's cap per vCPU (the bound a guest cannot pass), under either guest policy. */
static void a_rogue_guest_is_bounded(void **state)
{
	uint64_t x = 88172645463325252ull;
	for (int trial = 0; trial < 100000; trial++) {
		struct dvfs_thread_in t[4];
		int n = 1 + trial % 4;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint32_t cap = (uint32_t)(x % 1025), other = (uint32_t)(x >> 20) % 1025, capacity = 256 + (uint32_t)(x >> 40) % 769;
		for (int i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			t[i].host = (uint32_t)(x % 1025);
			t[i].guest = (uint32_t)(x >> 32); /* anything at all */
			t[i].runnable = (int)(x >> 11) & 1;
		}
		uint32_t base = dvfs_cpu_util(DVFS_BASELINE, t, n, other, cap, capacity);
		uint64_t bound = base + (uint64_t)n * cap;
		if (bound > capacity)
			bound = capacity;
		assert_true(dvfs_cpu_util(DVFS_UTIL_GUEST, t, n, other, cap, capacity) <= bound);
		assert_true(dvfs_cpu_util(DVFS_UCLAMP_MIN, t, n, other, cap, capacity) <= bound);
		assert_true(dvfs_cpu_util(DVFS_UTIL_GUEST, t, n, other, cap, capacity) >= base);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decay_is_the_kernels),
		cmocka_unit_test(half_life_and_limits),
		cmocka_unit_test(duty_cycle_and_invariance),
		cmocka_unit_test(schedutil_choice_and_rate_limit),
		cmocka_unit_test(energy_model_of_a_published_device),
		cmocka_unit_test(policies_by_hand),
		cmocka_unit_test(a_rogue_guest_is_bounded),
	};
	return cmocka_run_group_tests_name("dvfs", tests, NULL, NULL);
}
