/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "dvfs.h"

/* y^n * 2^32 for n < 32 (y^32 = 1/2): computed from the definition, not copied */
static uint32_t yn_inv(unsigned n)
{
	static uint32_t t[PELT_HALFLIFE];
	if (!t[0])
		for (unsigned i = 0; i < PELT_HALFLIFE; i++)
			t[i] = (uint32_t)fmin(ldexp(pow(0.5, (double)i / PELT_HALFLIFE), 32), 4294967295.0);
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
