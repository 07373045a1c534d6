/* SPDX-License-Identifier: MIT */
/*
 * dynamic-lazy (the maintainers' direction in seed 002): boost only when the host actually gets in
 * the way of a running vCPU: it preempts the vCPU thread while its guest runs RT work, an interrupt
 * or a critical section, or the guest's RT deadline passes by boost_lead_us while the host still
 * holds the preempted thread off its CPU. Unboost lazily, at the vCPU's next natural exit (it
 * halts), or when the guest says it runs nothing RT any more. Needs the host's sched trace.
 *
 * A halted vCPU is not watched: "lazy priority changing is only done when the vCPU is running"
 * (seed 002). Its wake-up is eager's and predictive's business; a timer at each of its deadlines
 * woke this agent once a period, and on a 2-CPU host its FIFO wake-up there was itself what held
 * the woken vCPU off (p99 worse than vanilla's, halting guest, busy host: 244 us against 84).
 */
#include "boost_agent.h"

static uint64_t wake_at(const struct agent_look *l)
{
	/* the host had its chance; a thread on a CPU has its interrupt now, and a preemption wakes
	 * the agent again */
	return l->v->next_rt_tsc && l->held_off ? l->v->next_rt_tsc + l->lead : 0;
}

static enum agent_act decide(const struct agent_look *l, enum agent_cause *why)
{
	const struct pvb_boost_view *v = l->v;

	if (l->preempted && !l->on_cpu && (agent_important(v) || l->due))
		return *why = CAUSE_PREEMPT, AGENT_BOOST;
	if (l->due && !l->on_cpu)
		return *why = CAUSE_DUE, AGENT_BOOST;
	if (l->slept || (l->kicked && !agent_important(v)))
		return AGENT_UNBOOST;
	return AGENT_KEEP;
}

static const struct agent_strategy strategy = { .needs = PVB_BF_BOOST, .trace_events = SCHEDTRACE_INS | SCHEDTRACE_PREEMPTS | SCHEDTRACE_ASKED_SLEEPS,
						.needs_trace = 1, .wake_at = wake_at,
						.decide = decide };

static int prepare(struct policy *p, char *err, size_t errlen)
{
	return boost_agent_prepare(p, &strategy, err, errlen);
}

BOOST_AGENT_POLICY(policy_lazy, "dynamic-lazy",
		   "boost a vCPU thread the host preempts or delays while its guest has RT work; unboost when it halts (seed 002)",
		   prepare);
