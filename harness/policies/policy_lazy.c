/* SPDX-License-Identifier: MIT */
/*
 * dynamic-lazy (the maintainers' direction in seed 002): never needs a kick to boost. The agent
 * (boost_agent.c) watches the host's sched trace of the vCPU threads and boosts a thread when the
 * host preempts or wakes it while its slot says an RT task or an interrupt is running; it
 * unboosts on the guest's kick when the vCPU drops to idle or normal work.
 */
#include "boost_agent.h"

static enum agent_act decide(const struct agent_look *l)
{
	const struct pvb_boost_view *v = l->v;
	int important = v->cls == PVB_CLASS_RT || (v->flags & PVB_SF_IN_IRQ);

	if (important && (l->preempted || l->woken))
		return AGENT_BOOST;
	if (l->kicked && !important)
		return AGENT_UNBOOST;
	return AGENT_KEEP;
}

static const struct agent_strategy strategy = { .needs = PVB_BF_BOOST, .uses_trace = 1, .decide = decide };

static int prepare(struct policy *p, char *err, size_t errlen)
{
	return boost_agent_prepare(p, &strategy, err, errlen);
}

BOOST_AGENT_POLICY(policy_lazy, "dynamic-lazy",
		   "boost a vCPU thread the host preempts or wakes while the guest runs RT work; unboost on its kick",
		   prepare);
