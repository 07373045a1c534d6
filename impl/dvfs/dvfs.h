/* SPDX-License-Identifier: MIT */
/*
 * The DVFS model, as the Linux kernel defines its parts (the "modelled" path, where the
 * host has no cpufreq, RAPL or uclamp):
 *   - PELT utilisation (kernel/sched/pelt.c): 1024 us periods, a geometric decay with
 *     y^32 = 1/2 (a 32 ms half-life), util_avg in 0..1024; frequency invariance as the kernel
 *     applied it before clock_pelt (v4.x): a running period contributes f * cap / (f_max * 1024)
 *     of itself;
 *   - a schedutil-style governor (kernel/sched/cpufreq_schedutil.c): f = 1.25 * f_max * util /
 *     capacity, resolved to the lowest OPP at or above it, at most one change per rate limit.
 * Everything is integer arithmetic in the kernel's units, so that values match the kernel's
 * given the same inputs; time is in microseconds (the kernel's 1024 ns "us").
 */
#ifndef PVB_DVFS_H
#define PVB_DVFS_H

#include <stdint.h>

#define DVFS_SCALE 1024u           /* SCHED_CAPACITY_SCALE */
#define PELT_PERIOD_US 1024u       /* one PELT period */
#define PELT_HALFLIFE 32u          /* periods: y^32 = 1/2 */
#define PELT_LOAD_AVG_MAX 47742u   /* the kernel's LOAD_AVG_MAX: the series' sum, 1024 * sum(y^n) */

struct pelt {
	uint64_t last_us;          /* time of the last update */
	uint32_t period_contrib;   /* us into the current period */
	uint64_t util_sum;
	uint32_t util_avg;         /* 0..1024 */
};

/* y^n * val, as the kernel's decay_load() */
uint64_t pelt_decay(uint64_t val, uint64_t n);
/* Accounts [last_us, now_us) as running (at scale = f * cap / f_max, 0..1024) or not. */
void pelt_update(struct pelt *p, uint64_t now_us, int running, uint32_t scale);

/* An OPP table, ascending; capacity of the CPU at f_max (a big.LITTLE host has several). */
#define DVFS_MAX_OPPS 32
struct dvfs_domain {
	uint32_t khz[DVFS_MAX_OPPS];
	int nr;
	uint32_t capacity;         /* 0..1024 at the highest OPP */
	uint32_t rate_limit_us;    /* schedutil's rate_limit_us */
	/* governor state */
	uint32_t cur_khz;
	uint64_t last_change_us;
	int changed_once;
};

/* schedutil's choice for util (0..capacity) now: the frequency it sets (unchanged inside the
 * rate limit). */
uint32_t dvfs_governor(struct dvfs_domain *d, uint32_t util, uint64_t now_us);
/* The lowest OPP at or above khz (the highest if none): CPUFREQ_RELATION_L. */
uint32_t dvfs_resolve(const struct dvfs_domain *d, uint32_t khz);

/* How a CPU's utilisation for the governor is made from its vCPU threads (the DVFS policies).
 *   BASELINE:   the host's own view: the sum of the threads' PELT, plus the CPU's other tasks.
 *   UTIL_GUEST: each runnable thread counts max(its PELT, the guest's value), as the kernel
 *               counts util_est (seed 000: "treating the vCPU run queue util similar to
 *               util_est"), summed per CPU: additive with the CPU's other work.
 *   UCLAMP_MIN: the guest's value as a floor on the whole CPU (the largest of its runnable
 *               threads' values), not added: what uclamp_min does.
 *   PERFORMANCE, POWERSAVE: the highest and the lowest OPP.
 * guest[] is what the guest published, already validated; the host caps it to guest_cap first,
 * so a guest can never ask for more than baseline plus guest_cap per vCPU. */
enum dvfs_mode { DVFS_BASELINE, DVFS_UTIL_GUEST, DVFS_UCLAMP_MIN, DVFS_PERFORMANCE, DVFS_POWERSAVE };
struct dvfs_thread_in { uint32_t host, guest; int runnable; };
uint32_t dvfs_cpu_util(enum dvfs_mode m, const struct dvfs_thread_in *t, int n, uint32_t other,
		       uint32_t guest_cap, uint32_t capacity);

#endif
