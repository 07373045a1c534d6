/* SPDX-License-Identifier: MIT */
/*
 * A host policy: what the host does to a VM's vCPU threads during a run. One file per policy
 * fills one struct policy_ops; policy_vanilla.c (does nothing) is the one to copy.
 *
 * Order: prepare (before the guest starts: check that the host allows it) -> start (vCPU thread
 * ids known) -> tick (about every 10 ms while the guest runs) -> stop (always, on every path,
 * also after a failed start: undo everything) -> counters (into the run's metrics).
 * Callbacks may be NULL. Errors are sentences in err; a failing prepare refuses the run.
 */
#ifndef PVB_POLICY_H
#define PVB_POLICY_H

#include <stddef.h>
#include "metrics.h"

struct policy_params {
	int static_prio;                 /* SCHED_FIFO priority for "static" */
};

struct policy {
	const struct policy_ops *ops;
	struct policy_params params;
	void *priv;                      /* the policy's own state */
};

struct policy_ops {
	const char *name;
	const char *help;                /* one line */
	int (*prepare)(struct policy *p, char *err, size_t errlen);
	int (*start)(struct policy *p, const int *tids, int nr, char *err, size_t errlen);
	int (*tick)(struct policy *p, char *err, size_t errlen);
	void (*stop)(struct policy *p);
	void (*counters)(struct policy *p, struct metric_set *out);
};

extern const struct policy_ops *const policies[];   /* NULL-terminated (policy.c) */
const struct policy_ops *policy_find(const char *name);

/* Shared helpers for policies that change scheduling (policy.c). */
struct sched_saved { int tid, saved; unsigned policy; unsigned long long flags; int nice, prio; };
int sched_save_and_set_fifo(struct sched_saved *s, int tid, int prio, char *err, size_t errlen);
void sched_restore(struct sched_saved *s);
/* Is SCHED_FIFO allowed here? Tried on a probe thread, not read from rlimits. */
int sched_fifo_allowed(int prio, char *err, size_t errlen);
/* Policy and priority of a thread: for tests and checks. -1 if it does not exist. */
int sched_policy_of(int tid, int *prio);

#endif
