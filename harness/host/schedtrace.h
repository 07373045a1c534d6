/* SPDX-License-Identifier: MIT */
/*
 * A sched trace of a VM's vCPU threads on the host, through perf_event_open on the
 * sched:sched_switch and sched:sched_wakeup tracepoints (one event per host CPU, filtered to the
 * threads; trace-cmd cannot run on these hosts, tracefs gives the field layout). From it, per
 * vCPU thread: the share of the wall time it was on a CPU, how often it was preempted while
 * runnable (involuntary), and how long it waited from its wake-up to running (wake-to-run).
 */
#ifndef PVB_SCHEDTRACE_H
#define PVB_SCHEDTRACE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include "metrics.h"

struct schedtrace;

/* What to trace. Every event but a switch-in costs its reader a wake-up, so an agent asks only for
 * what it acts on. A switch-in wakes no one: nothing acts on a thread getting a CPU, and the reader
 * drains every ring at each wake-up, so what it sees of on_cpu then is current. With INS every
 * switch out is recorded too, waking the reader only where SLEEPS or PREEMPTS ask. */
enum {
	SCHEDTRACE_WAKEUPS = 1,          /* sched_wakeup */
	SCHEDTRACE_INS = 2,              /* switches in (on_cpu, with every switch out, quietly) */
	SCHEDTRACE_SLEEPS = 4,           /* switches out to sleep wake the reader */
	SCHEDTRACE_PREEMPTS = 8,         /* switches out while runnable wake the reader */
	SCHEDTRACE_ASKED_SLEEPS = 16,    /* a thread's sleep wakes the reader while it asks
					    (schedtrace_wake_on_sleep) */
	SCHEDTRACE_NORMAL_WAKEUPS = 32,  /* with WAKEUPS, only those of a thread at a normal priority:
					    one the agent boosted (or RT anyway) costs it nothing */
	SCHEDTRACE_OUTS = SCHEDTRACE_SLEEPS | SCHEDTRACE_PREEMPTS,
	SCHEDTRACE_SWITCHES = SCHEDTRACE_INS | SCHEDTRACE_OUTS,
	SCHEDTRACE_ALL = SCHEDTRACE_WAKEUPS | SCHEDTRACE_SWITCHES,
};
/* Starts tracing tids (thread i reported as cpu i). except_tid (0: none) is the reader, which
 * does not see itself: its wake-up on a thread's CPU preempts the thread, which it would otherwise
 * take for the host's doing at each look (the thread gets the CPU back when it sleeps). What it
 * sees instead is where it leaves that CPU: to another task, the thread is preempted from then
 * (the host held it off); back to the thread, nothing happened. With INS, and the reader calling
 * schedtrace_sleeping() before it sleeps, that leave to another task wakes it.
 * 0, or -1 with a sentence in err (tracefs absent and not mountable, no permission, ...). */
int schedtrace_start(struct schedtrace **t, const int *tids, int n, unsigned events, int except_tid,
		     char *err, size_t errlen);
/* Drains the ring buffers; call when a descriptor of schedtrace_pollfds() is readable, or every
 * few ms, or the buffers may overflow (lost records are counted). */
void schedtrace_poll(struct schedtrace *t);
/* Only the rings, for an agent's hot path whose trace feeds no metrics: no /proc reads for the
 * kernel's accounting, and the records are counted into schedtrace_thread() but not kept. */
void schedtrace_drain(struct schedtrace *t);
/* The reader (except_tid) is about to sleep. Where it holds a traced thread's CPU, the host
 * giving that CPU to another task as it leaves must wake it: that is a preemption of the thread
 * it caused (a task that has just run loses a CPU picked again to one that waits). Anything
 * else the reader leaves a CPU to wakes no one. */
void schedtrace_sleeping(struct schedtrace *t);
/* With ASKED_SLEEPS: whether thread i going to sleep wakes the reader from now (an agent asks
 * while the thread is boosted: an unboosted thread's sleep asks nothing of it, and it sleeps once
 * a period). Costs a syscall where it changes. */
void schedtrace_wake_on_sleep(struct schedtrace *t, int i, int on);
/* The thread whose own event (ASKED_SLEEPS) fd of schedtrace_pollfds() is, or -1 (a per-CPU
 * one): that event hangs up when its thread exits. */
int schedtrace_thread_of_fd(const struct schedtrace *t, int fd);
/* The descriptors that become readable at each traced event (one per CPU and event, and with
 * ASKED_SLEEPS one per thread), for an agent that sleeps until the host does something to a
 * thread: up to max into pf, POLLIN. A thread's own one reports POLLHUP for good once the thread
 * has exited: poll it no more. */
int schedtrace_pollfds(const struct schedtrace *t, struct pollfd *pf, int max);
/* What the host scheduler did to thread i so far (as drained by the last poll). Times are
 * CLOCK_MONOTONIC ns, 0 until seen. */
struct schedtrace_thread {
	unsigned long woken, preempted, slept; /* wake-ups; switched out runnable; switched out to sleep */
	uint64_t woken_ns, preempted_ns;       /* the latest of each */
	uint64_t in_ns, out_ns;                /* the latest switch in and out: on a CPU if in > out */
	uint64_t held_ns;                      /* switched out runnable until back on a CPU, summed (a
						  wait not over yet is not in it) */
};
const struct schedtrace_thread *schedtrace_thread(const struct schedtrace *t, int i);
/* Stops, drains, adds the derived metrics to out (thread i as cpu i) and frees everything:
 * vcpu_runtime_pct, preemptions (involuntary) and run_delay_avg (runnable but waiting, per time
 * slice) from the kernel's own accounting; wake_to_run_p50/p99/max and _n from the trace (whole
 * wake-up/switch-in pairs only); trace_records, trace_lost, trace_unpaired (switch-outs whose
 * switch-in the host did not report). */
void schedtrace_stop(struct schedtrace *t, struct metric_set *out);

#endif
