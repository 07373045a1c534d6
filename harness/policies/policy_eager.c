/* SPDX-License-Identifier: MIT */
/*
 * dynamic-eager: acts on every kick. The guest asks for a boost when its RT task runs (class RT,
 * BOOST_REQ, a kick) and kicks again to unboost when it drops to idle or normal work while the
 * host says it is boosted; the agent (boost_agent.c) does what each kick asks (seed 001's v1).
 */
#include "boost_agent.h"

static enum agent_act decide(const struct agent_look *l)
{
	const struct pvb_boost_view *v = l->v;

	if (!l->kicked)
		return AGENT_KEEP;
	if (v->cls == PVB_CLASS_RT && (v->flags & PVB_SF_BOOST_REQ))
		return AGENT_BOOST;
	return v->cls == PVB_CLASS_RT ? AGENT_KEEP : AGENT_UNBOOST;
}

static const struct agent_strategy strategy = { .needs = PVB_BF_BOOST, .decide = decide };

static int prepare(struct policy *p, char *err, size_t errlen)
{
	return boost_agent_prepare(p, &strategy, err, errlen);
}

BOOST_AGENT_POLICY(policy_eager, "dynamic-eager",
		   "boost a vCPU thread on the guest's request kick, unboost on its kick (seed 001 v1)",
		   prepare);
