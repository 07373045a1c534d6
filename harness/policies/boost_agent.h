/* SPDX-License-Identifier: MIT */
/*
 * The host agent behind the dynamic policies (policy_predictive.c, policy_eager.c,
 * policy_lazy.c): a thread that watches the guest's boost region (pvb_boost.h) -- and, for the
 * lazy strategy, the host's sched trace of the vCPU threads -- and boosts or unboosts vCPU threads
 * with sched_setattr. What it shares: negotiation, the guest TSC offset, the decoder and its
 * limits, the bound on continuous boost (boost_max_ms, then as long unboosted), the host half of
 * each slot (boosted, boost_prio), undoing everything on stop, and the counters. A strategy is
 * one function that looks at one vCPU and says boost, unboost or nothing.
 */
#ifndef PVB_BOOST_AGENT_H
#define PVB_BOOST_AGENT_H

#include <pthread.h>
#include "policy.h"
#include "pvb_boost.h"
#include "vm.h"

/* What a strategy sees of one vCPU at one look. */
struct agent_look {
	const struct pvb_boost_view *v; /* the guest's slot, validated */
	uint64_t guest_now;              /* now, in the guest's TSC */
	uint64_t lead;                   /* boost_lead_us in guest TSC ticks */
	int boosted;                     /* the vCPU thread runs boosted now */
	int kicked;                      /* the guest kicked since the last look (slot.kicks moved) */
	int preempted, woken;            /* the host trace saw the thread preempted / woken since */
	uint64_t boost_deadline;         /* the deadline the current boost is for (predictive) */
};

enum agent_act { AGENT_KEEP, AGENT_BOOST, AGENT_UNBOOST };

struct agent_strategy {
	uint32_t needs;                  /* PVB_BF_* it acts on */
	int uses_trace;                  /* it needs the host's sched trace of the vCPU threads */
	enum agent_act (*decide)(const struct agent_look *l);
};

extern const struct key_def boost_agent_keys[];

int boost_agent_prepare(struct policy *p, const struct agent_strategy *s, char *err, size_t errlen);
int boost_agent_start(struct policy *p, const struct vm_view *vm, char *err, size_t errlen);
void boost_agent_stop(struct policy *p);
void boost_agent_counters(struct policy *p, struct metric_set *out);
void boost_agent_destroy(struct policy *p);

/* A dynamic policy's ops: its name, help and strategy around the shared agent. */
#define BOOST_AGENT_POLICY(var, pname, phelp, prepare_fn)                                         \
	const struct policy_ops var = {                                                           \
		.name = pname, .help = phelp, .keys = boost_agent_keys, .boost_region = 1,        \
		.prepare = prepare_fn, .start = boost_agent_start, .stop = boost_agent_stop,      \
		.counters = boost_agent_counters, .destroy = boost_agent_destroy,                 \
	}

#endif
