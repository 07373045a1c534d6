/* SPDX-License-Identifier: MIT */
/*
 * dynamic-predictive: the guest publishes, before each vCPU halts, the TSC deadline of its next
 * RT wake-up. The agent (boost_agent.c) boosts the vCPU thread boost_lead_us before that deadline,
 * so it wakes already boosted -- a user-space stand-in for the seed's in-kernel "boost on
 * interrupt injection" -- and unboosts it once the vCPU runs something else with its next deadline
 * not yet due. A vCPU that halts until its next deadline keeps the boost (the host sees it asleep;
 * boosted asleep costs the host nothing). No kick needed either way. Only against contention
 * (boost_gate_ms): a vCPU the host has not held off a CPU lately is not boosted, as on an idle
 * host a boost wins nothing and costs the agent a wake-up or two per period.
 */
#include "boost_agent.h"

static uint64_t wake_at(const struct agent_look *l)
{
	uint64_t d = l->contended ? l->v->next_rt_tsc : 0;
	return d ? (d > l->lead ? d - l->lead : 1) : 0;
}

static enum agent_act decide(const struct agent_look *l, enum agent_cause *why)
{
	const struct pvb_boost_view *v = l->v;

	/* waiting for its RT wake-up: halted (idle) or running the guest's normal work */
	if (v->cls != PVB_CLASS_RT && l->due)
		return *why = CAUSE_DUE, AGENT_BOOST;
	/* late: the look came after the deadline, and the RT task runs unboosted. Boosted now, for
	 * the rest of its work; its unboost's look then finds the next deadline. Left alone, a busy
	 * vCPU (no halt, no doorbell) had nothing to wake the agent until boost_max_ms: one late
	 * timer cost up to 50 periods (74-89% of a busy vCPU's periods boosted, 1 s, idle host) */
	if (v->cls == PVB_CLASS_RT && !l->boosted && l->contended)
		return AGENT_BOOST; /* *why stays CAUSE_REQUEST: its reaction counts from the RT start */
	/* still waiting for the wake-up it was boosted for, or running it: keep */
	if (v->cls == PVB_CLASS_RT || (v->next_rt_tsc && v->next_rt_tsc == l->boost_deadline))
		return AGENT_KEEP;
	/* halted until its next RT deadline: that one's boost is in place already */
	if (agent_halted_for_rt(l))
		return AGENT_KEEP;
	return AGENT_UNBOOST;
}

static const struct agent_strategy strategy = { .needs = PVB_BF_RT_DEADLINE, .wake_at = wake_at, .decide = decide,
						.trace_events = SCHEDTRACE_INS | SCHEDTRACE_ASKED_SLEEPS, .reads_halts = 1, .parks = 1,
						.gated = 1 };

static int prepare(struct policy *p, char *err, size_t errlen)
{
	return boost_agent_prepare(p, &strategy, err, errlen);
}

BOOST_AGENT_POLICY(policy_predictive, "dynamic-predictive",
		   "boost each vCPU thread just before the guest's published RT deadline, unboost after",
		   prepare);
