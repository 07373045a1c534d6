/* SPDX-License-Identifier: MIT */
/*
 * A host policy: what the host does to a VM's vCPU threads during a run. One file per policy
 * fills one struct policy_ops; policy_vanilla.c (does nothing) is the one to copy.
 *
 * Order: prepare (before the guest starts: check that the host allows it) -> start (the VM is
 * up: vCPU thread ids and a read/write view of guest memory) -> tick (every tick_ms while the
 * guest runs) -> stop (as soon as the guest is over, while its memory still exists, and again on
 * every path, also after a failed start: undo everything; it must be idempotent) ->
 * counters (into the run's metrics) -> destroy (frees its state; also after a refused prepare).
 * Callbacks may be NULL. Errors are sentences in err; a failing prepare (-1) refuses the run, and
 * a prepare that returns 1 says this host lacks what the policy needs: its runs are skipped, err
 * saying why.
 * A policy's keys are experiment keys (listed by `pvbench run --keys`); it reads them from
 * p->spec with spec_int()/spec_str().
 */
#ifndef PVB_POLICY_H
#define PVB_POLICY_H

#include <pthread.h>
#include <stddef.h>
#include "engine.h"
#include "metrics.h"
#include "vm.h" /* struct vm_view */

struct policy {
	const struct policy_ops *ops;
	const struct run_spec *spec;     /* the run's keys, the policy's own among them */
	void *priv;                      /* the policy's own state */
};

struct policy_ops {
	const char *name;
	const char *help;                /* one line */
	const struct key_def *keys;      /* its own keys, ending with { 0 }; may be NULL */
	int tick_ms;                     /* how often tick runs; 0: every 10 ms */
	/* optional: what the policy needs of the VM before it boots (the pvb_boost.h region
	 * offered, where, with which features, the VM's RT cap); spec is p->spec */
	void (*vm_spec)(const struct policy *p, struct vm_spec *vs);
	int (*prepare)(struct policy *p, char *err, size_t errlen);
	int (*start)(struct policy *p, const struct vm_view *vm, char *err, size_t errlen);
	int (*tick)(struct policy *p, char *err, size_t errlen);
	void (*stop)(struct policy *p);
	void (*counters)(struct policy *p, struct metric_set *out);
	/* after counters: a sentence when the run went fine but the policy had nothing to act on
	 * (stored with the run, printed under its tables), else NULL */
	const char *(*note)(struct policy *p);
	void (*destroy)(struct policy *p);
};

extern const struct policy_ops *const policies[];   /* NULL-terminated (policy.c) */
const struct policy_ops *policy_find(const char *name);
const char *policy_choice(int i);    /* the i-th policy's name, NULL past the last: a key's choices */

/* A policy's own thread (the agents'): started by start(), stopped by stop() on every path. The
 * thread runs until it sees stop set; one that sleeps in poll() also watches wake_fd (an eventfd
 * that stop signals), so it need not wake up on a timer to notice. NAME (at most 15 characters)
 * is the thread's name, as top -H and perf show it. */
struct policy_thread { pthread_t t; volatile int stop; int running, wake_fd; };
int policy_thread_start(struct policy_thread *th, const char *name, void *(*fn)(void *), void *arg, char *err,
			size_t errlen);
void policy_thread_stop(struct policy_thread *th);   /* sets stop and joins; idempotent */

/* Shared helpers for policies that change scheduling (policy.c). */
struct sched_saved { int tid, saved; unsigned policy; unsigned long long flags; int nice, prio; };
int sched_save_and_set_fifo(struct sched_saved *s, int tid, int prio, char *err, size_t errlen);
void sched_restore(struct sched_saved *s);
/* Is SCHED_FIFO allowed here? Tried on a probe thread, not read from rlimits. */
int sched_fifo_allowed(int prio, char *err, size_t errlen);
/* Policy and priority of a thread: for tests and checks. -1 if it does not exist. */
int sched_policy_of(int tid, int *prio);

#endif
