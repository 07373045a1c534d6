/* SPDX-License-Identifier: MIT */
/*
 * The emulated frequency backend: a host CPU runs as if at f, because a stealer thread pinned to
 * it at SCHED_FIFO takes (1 - f/f_max) of every slice away from whatever else runs there (the
 * vCPU thread pinned to it, and anything sharing the CPU, as a slow CPU would slow them all).
 * No signal, no ptrace, no cooperation from the VMM: the vCPU thread is simply preempted, and
 * ends its slowness when the stealer ends (with pvbench: RT threads die with their process).
 *
 * Why not cgroup cpu.max: bandwidth control is enforced at the scheduler tick here (HZ=250, no
 * HRTICK), so a throttled thread stays off for 4-19 ms whatever the period (measured here), longer
 * than a 60 FPS frame. Why not ptrace stops of the vCPU thread: tried and measured: each stop costs the thread 10-15% of its CPU time in signal handling on this host, and
 * the achieved share did not even fall monotonically with f.
 *
 * The stealer wakes late (~45 us here): it keeps the difference between the time it meant to
 * take and the time it took as a debt and wakes that much earlier next slice, so that the share
 * is exact on average; the residual is measured (freqemu_stats) and stored with every run.
 *
 * The host's view of a vCPU thread counts its held-back time as running, as a slow CPU shows
 * it: thread CPU time * f_max / f.
 */
#ifndef PVB_FREQEMU_H
#define PVB_FREQEMU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

#define FREQEMU_MAX 64

struct freqemu_cpu {
	int cpu;
	_Atomic int tid;                   /* the stealer's thread id (its CPU time is not others') */
	struct freqemu *e;
	pthread_t thr;
	_Atomic uint32_t duty;             /* 0..1024: the share of each slice left to others */
	/* written by its stealer only */
	uint64_t slices, stolen_us, late_us_max;
};

struct freqemu {
	int nr;
	unsigned slice_us;
	atomic_int quit;
	atomic_int started;
	struct freqemu_cpu c[FREQEMU_MAX];
};

/* One stealer per host CPU in cpus[] (pinned, SCHED_FIFO 1), each starting at duty 1024 (never
 * steals). 0, or -1 with a sentence in err (RT refused: the backend cannot run here). */
int freqemu_start(struct freqemu *e, const int *cpus, int nr, unsigned slice_us, char *err, size_t errlen);
static inline void freqemu_set(struct freqemu *e, int i, uint32_t duty)
{
	atomic_store_explicit(&e->c[i].duty, duty > 1024 ? 1024 : duty, memory_order_relaxed);
}
/* Stops and joins the stealers; idempotent. */
void freqemu_stop(struct freqemu *e);

/* A thread's CPU time so far, us (/proc/TID/schedstat, any process's thread); -1: gone. */
int64_t thread_cpu_us(int tid);
/* Is the thread runnable now (state R: running or waiting for a CPU)? 1, 0, or -1 if it is gone. The
 * kernel adds a running thread's CPU time only at its tick (4 ms here) or when it is switched out,
 * so "ran since the last look" alone misses a thread that has not stopped running. */
int thread_runnable(int tid);

#endif
