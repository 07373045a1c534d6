/* SPDX-License-Identifier: MIT */
/*
 * Work measured in microseconds at full capacity, for the DVFS workloads (frameloop, burst): a
 * frame that "takes 8 ms" takes 8 ms on the fastest CPU at its highest frequency, and longer on a
 * slower one, wherever it runs (guest under KVM or TCG, Linux). The loop is a dependent chain of
 * integer operations (no memory traffic: its speed follows the CPU's clock only). While it works,
 * a task republishes itself every ~500 us, as the kernel's tick updates its utilisation.
 */
#ifndef PVB_WORK_H
#define PVB_WORK_H

#include "pvb.h"

static uint64_t work_per_us; /* loop iterations per us at capacity 1024 */

static inline uint64_t work_spin(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/* Median of 7 timed runs of ~10 ms, each scaled by the capacity the CPU had meanwhile (the host
 * holds f_max until the workload starts: the scaling matters where no host hints). 0: ok. */
static inline int work_calibrate(void)
{
	uint64_t r[7], n = 20000;
	for (int i = 0; i < 7; i++) {
		uint32_t c0 = pvb_capacity();
		uint64_t t0 = pvb_now();
		work_spin(n, t0);
		uint64_t ns = pvb_ticks_to_ns(pvb_now() - t0);
		uint32_t c1 = pvb_capacity(), c = (c0 + c1) / 2;
		if (ns < 5000000 && i == 0) { /* too short to time: grow it, and count again */
			n = n * 10000000 / (ns ? ns : 1);
			i--;
			continue;
		}
		r[i] = n * 1000 * 1024 / (ns ? ns : 1) / (c ? c : 1024);
	}
	for (int i = 1; i < 7; i++)
		for (int j = i; j > 0 && r[j - 1] > r[j]; j--) {
			uint64_t t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	work_per_us = r[3];
	if (!work_per_us) {
		pvb_fail("work: the CPU is too slow to calibrate the work loop");
		return -1;
	}
	return 0;
}

/* us of work at full capacity, as task t */
static inline void work_do(uint64_t us, struct pvb_task *t)
{
	uint64_t left = us * work_per_us, chunk = 500 * work_per_us, x = left;
	pvb_task_run(t);
	while (left) {
		uint64_t n = left < chunk ? left : chunk;
		x = work_spin(n, x);
		left -= n;
		if (left)
			pvb_task_run(t);
	}
}

/* Jobs in sequence, taken in turn: job k runs on CPU k % nr_cpus once job k-1 is done (the task
 * moves with it, as a guest's load balancer moves a worker). The others halt meanwhile. */
struct turns { volatile uint64_t done, prev_end; volatile int stop; };

/* Waits (halting) until job k may start, not before earliest; then returns 1, or 0 to stop. */
static inline int turn_wait(struct turns *t, uint64_t k, uint64_t earliest)
{
	pvb_sleep_until(earliest);
	while (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE) != k && !t->stop)
		pvb_sleep_until(pvb_now() + pvb_ns_to_ticks(200000));
	return !t->stop;
}

static inline void turn_done(struct turns *t, uint64_t k, uint64_t end)
{
	t->prev_end = end;
	__atomic_store_n(&t->done, k + 1, __ATOMIC_RELEASE);
}

/* floor(x^(1/n)), for geometric means without libm */
static inline uint64_t work_root(uint64_t x, unsigned n)
{
	uint64_t lo = 0, hi = x < 0xffffffffu ? x : 0xffffffffu;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2 + 1, p = 1;
		int over = 0;
		for (unsigned i = 0; i < n && !over; i++) {
			if (p > x / mid)
				over = 1;
			else
				p *= mid;
		}
		if (over || p > x)
			hi = mid - 1;
		else
			lo = mid;
	}
	return lo;
}

#endif
