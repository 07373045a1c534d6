/* SPDX-License-Identifier: MIT */
/*
 * The host agent behind the dynamic policies (policy_eager.c, policy_lazy.c,
 * policy_predictive.c): a thread that sleeps until something happens to a vCPU and then boosts or
 * unboosts vCPU threads with sched_setattr. What wakes it:
 *   - the host's scheduler acting on a vCPU thread (a perf trace of sched_wakeup/sched_switch:
 *     the host woke it, preempted it, or, while it is boosted, it went to sleep because its guest
 *     halted: an unboosted vCPU's halt asks nothing of the agent, and comes once a period);
 *   - a guest kick, where the region has a doorbell (an eventfd);
 *   - a time a strategy asked for, from a deadline the guest published (a timerfd);
 *   - while a vCPU is boosted and there is no doorbell, a look every agent_poll_us for the
 *     guest's unboost (shared memory is the only way it can say so then).
 * It runs SCHED_FIFO one above boost_prio, so a busy host cannot delay it, and does a bounded
 * amount of work per wake-up. What it shares with every strategy: negotiation, the guest TSC
 * offset, the decoder and its limits, the bound on continuous boost (boost_max_ms, then as long
 * unboosted), the host half of each slot, undoing everything on stop, and the counters.
 * A strategy is two functions of one vCPU: when it wants to look again, and what to do now.
 */
#ifndef PVB_BOOST_AGENT_H
#define PVB_BOOST_AGENT_H

#include <pthread.h>
#include "policy.h"
#include "pvb_boost.h"
#include "schedtrace.h"
#include "vm.h"

/* What a strategy sees of one vCPU at one look. The event flags say what happened since the last. */
struct agent_look {
	const struct pvb_boost_view *v; /* the guest's slot, validated */
	uint64_t guest_now;              /* now, in the guest's TSC */
	uint64_t lead;                   /* boost_lead_us in guest TSC ticks */
	int boosted;                     /* the vCPU thread runs boosted now */
	uint64_t boost_deadline;         /* the deadline the current boost is for */
	int kicked;                      /* the guest kicked (slot.kicks moved, or its doorbell rang) */
	int woken, preempted, slept;     /* the host woke the thread / switched it out runnable / it slept */
	int on_cpu;                      /* the thread is on a CPU now (-1: not traced) */
	int awake;                       /* woken since it last left a CPU (-1: not traced) */
	int held_off;                    /* off a CPU though runnable: preempted, or woken and waiting
					    (-1: not traced) */
	int asleep;                      /* no CPU since it went to sleep (its guest halted); it may
					    have been woken since (-1: not traced) */
	int due;                         /* the strategy's wake_at() has come */
	int contended;                   /* the host held the thread off a CPU lately (boost_gate_ms;
					    1 where the strategy has no gate, or nothing to judge by) */
};

enum agent_act { AGENT_KEEP, AGENT_BOOST, AGENT_UNBOOST };

/* Halted until its next RT deadline: the host saw the thread go to sleep, and the guest says an
 * RT wake-up comes next. Boosted, such a vCPU costs the host nothing until it wakes, and then it
 * wakes for RT work: a strategy with .parks keeps its boost, and the agent parks it: no wake-up
 * of the agent at its halts, no look for its unboost, until it is seen awake or boost_max_ms says
 * look. (lazy does not: it unboosts at a halt, by design.) */
static inline int agent_halted_for_rt(const struct agent_look *l)
{
	return l->asleep == 1 && l->v->cls == PVB_CLASS_IDLE && l->v->next_rt_tsc;
}

/* Why a boost was given: its reaction is measured from that event to the priority applied. */
enum agent_cause { CAUSE_WAKE, CAUSE_PREEMPT, CAUSE_DUE, CAUSE_REQUEST, NR_CAUSES };

struct agent_strategy {
	uint32_t needs;                  /* PVB_BF_* it acts on */
	unsigned trace_events;           /* SCHEDTRACE_* it acts on: each costs the agent a wake-up
					    (ASKED_SLEEPS: the agent asks while a vCPU is boosted) */
	int needs_trace;                 /* it cannot work without them */
	int reads_halts;                 /* it learns from every halt, not only a boosted vCPU's */
	int parks;                       /* it keeps the boost of a vCPU halted for RT work (below) */
	int gated;                       /* it boosts only against contention: l->contended */
	/* the guest TSC at which to look at this vCPU again (0: no time of its own) */
	uint64_t (*wake_at)(const struct agent_look *l);
	enum agent_act (*decide)(const struct agent_look *l, enum agent_cause *why);
};

/* RT work the guest says is running or pending on a vCPU: an RT task, an interrupt, a critical
 * section. */
static inline int agent_important(const struct pvb_boost_view *v)
{
	return v->cls == PVB_CLASS_RT || (v->flags & (PVB_SF_IN_IRQ | PVB_SF_CRIT));
}

extern const struct key_def boost_agent_keys[];

int boost_agent_prepare(struct policy *p, const struct agent_strategy *s, char *err, size_t errlen);
int boost_agent_start(struct policy *p, const struct vm_view *vm, char *err, size_t errlen);
void boost_agent_stop(struct policy *p);
void boost_agent_counters(struct policy *p, struct metric_set *out);
const char *boost_agent_note(struct policy *p);
void boost_agent_vm_spec(const struct policy *p, struct vm_spec *vs);
void boost_agent_destroy(struct policy *p);

/* A dynamic policy's ops: its name, help and strategy around the shared agent. */
#define BOOST_AGENT_POLICY(var, pname, phelp, prepare_fn)                                         \
	const struct policy_ops var = {                                                           \
		.name = pname, .help = phelp, .keys = boost_agent_keys, .vm_spec = boost_agent_vm_spec, \
		.prepare = prepare_fn, .start = boost_agent_start, .stop = boost_agent_stop,      \
		.counters = boost_agent_counters, .note = boost_agent_note,                      \
		.destroy = boost_agent_destroy,                                                   \
	}

#endif
