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

#include <stddef.h>
#include "metrics.h"

struct schedtrace;

/* Starts tracing tids (thread i reported as cpu i). 0, or -1 with a sentence in err (tracefs
 * absent and not mountable, no permission for tracepoints, ...). */
int schedtrace_start(struct schedtrace **t, const int *tids, int n, char *err, size_t errlen);
/* Drains the ring buffers; call every few ms while tracing, or the buffers may overflow (lost
 * records are counted). */
void schedtrace_poll(struct schedtrace *t);
/* How often thread i was woken and preempted so far (as drained by the last poll): for an agent
 * that acts on what the host scheduler does to the thread. */
void schedtrace_counts(const struct schedtrace *t, int i, unsigned long *woken, unsigned long *preempted);
/* Stops, drains, adds the derived metrics to out (thread i as cpu i) and frees everything:
 * vcpu_runtime_pct, preemptions (involuntary) and run_delay_avg (runnable but waiting, per time
 * slice) from the kernel's own accounting; wake_to_run_p50/p99/max and _n from the trace (whole
 * wake-up/switch-in pairs only); trace_records, trace_lost, trace_unpaired (switch-outs whose
 * switch-in the host did not report). */
void schedtrace_stop(struct schedtrace *t, struct metric_set *out);

#endif
