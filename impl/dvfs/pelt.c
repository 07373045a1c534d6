/* SPDX-License-Identifier: MIT */
#include "dvfs.h"

/* y^n * 2^32 for n < 32 (y^32 = 1/2), from the definition and in integers only: the guest kernel
 * (no libm, no floating point) shares this file. y^n = 2^(-n/32): the largest x with x^32 <=
 * 2^(-n), by bisection in 0.64 fixed point (so that x^32 keeps 32 bits even near 2^-31), then
 * rounded to 32 bits. Once, at first use; not copied from the kernel's table. */
static uint64_t pow32_fx(uint64_t x) /* x^32, x in 0.64 fixed point */
{
	for (int i = 0; i < 5; i++)
		x = (uint64_t)(((unsigned __int128)x * x) >> 64);
	return x;
}

static uint32_t yn_inv(unsigned n)
{
	static uint32_t t[PELT_HALFLIFE];
	if (!t[1]) {
		t[0] = 0xffffffffu;
		for (unsigned i = 1; i < PELT_HALFLIFE; i++) {
			uint64_t lo = 0, hi = ~0ull, target = 1ull << (64 - i);
			while (lo < hi) {
				uint64_t mid = lo + (hi - lo) / 2 + ((hi - lo) & 1); /* rounded up: no overflow */
				if (pow32_fx(mid) <= target)
					lo = mid;
				else
					hi = mid - 1;
			}
			t[i] = (uint32_t)((lo + (1ull << 31)) >> 32);
		}
	}
	return t[n];
}

uint64_t pelt_decay(uint64_t val, uint64_t n)
{
	if (n > PELT_HALFLIFE * 63)
		return 0;
	val >>= n / PELT_HALFLIFE; /* whole half-lives */
	return (uint64_t)(((unsigned __int128)val * yn_inv((unsigned)(n % PELT_HALFLIFE))) >> 32);
}

/* the contribution of d1 (the rest of the first period), whole periods and d3 (the new partial
 * one), each decayed by its age: the kernel's __accumulate_pelt_segments() */
static uint32_t segments(uint64_t periods, uint32_t d1, uint32_t d3)
{
	uint32_t c1 = (uint32_t)pelt_decay(d1, periods);
	uint32_t c2 = PELT_LOAD_AVG_MAX - (uint32_t)pelt_decay(PELT_LOAD_AVG_MAX, periods) - PELT_PERIOD_US;
	return c1 + c2 + d3;
}

void pelt_update(struct pelt *p, uint64_t now_us, int running, uint32_t scale)
{
	uint64_t delta = now_us > p->last_us ? now_us - p->last_us : 0, periods;
	uint32_t contrib = (uint32_t)delta;

	p->last_us = now_us;
	if (!delta)
		return;
	delta += p->period_contrib;
	periods = delta / PELT_PERIOD_US;
	if (periods) {
		p->util_sum = pelt_decay(p->util_sum, periods);
		delta %= PELT_PERIOD_US;
		contrib = segments(periods, PELT_PERIOD_US - p->period_contrib, (uint32_t)delta);
	}
	p->period_contrib = (uint32_t)delta;
	if (running) /* frequency- and capacity-invariant: a slow CPU's running time counts less */
		p->util_sum += ((uint64_t)contrib * scale / DVFS_SCALE) << 10;
	/* the kernel's divider: the series' sum up to the current point in the period */
	p->util_avg = (uint32_t)(p->util_sum / (PELT_LOAD_AVG_MAX - PELT_PERIOD_US + p->period_contrib));
	if (p->util_avg > DVFS_SCALE)
		p->util_avg = DVFS_SCALE;
}
