/* SPDX-License-Identifier: MIT */
/*
 * dynamic-eager (seed 001's v1): the host boosts a vCPU when it injects an interrupt into it (the
 * seed's host boosted "proactively" there: the guest's handler runs next) or its RT work is due,
 * and when the guest asks; it unboosts when the guest says it is done. In user space "injects" is
 * what the host can see: it woke the vCPU thread while the guest's slot still says it halted (an
 * interrupt is the only thing that ends a halt), or the RT deadline the guest published came (its
 * timer interrupt is due now). Such a boost lasts until the guest publishes what it runs after the
 * interrupt (nothing RT: it is done) or halts with no RT deadline ahead; one that halts until its
 * RT deadline keeps it (its next wake-up is that timer's injection, which eager would boost). The guest asks with BOOST_REQ and a kick while
 * an RT task runs, and is done when it halts or says it runs nothing RT any more. The guest also
 * asks (BOOST_REQ) while it is in a critical section or an interrupt; the seed's host read that
 * flag at the vCPU's next exit, and the exit user space sees is the host preempting the thread: RT
 * work pending then is boosted at once.
 *
 * A boost only matters to a thread the host keeps off a CPU: one that is on a CPU takes its
 * interrupt now, and if the host preempts it in its RT work, that preemption boosts it. So the
 * agent looks at an RT deadline (a timer: the dearest wake-up on a host that is itself a VM) only
 * while the thread waits for a CPU, and a request only from a thread that is not on one. Nor is it
 * woken when a boosted thread wakes (the kernel drops those, NORMAL_WAKEUPS): that thread has what
 * a boost would give it, and a parked one wakes once a period.
 */
#include "boost_agent.h"

static uint64_t wake_at(const struct agent_look *l)
{
	return l->held_off ? l->v->next_rt_tsc : 0; /* the injection of its RT timer */
}

static enum agent_act decide(const struct agent_look *l, enum agent_cause *why)
{
	const struct pvb_boost_view *v = l->v;
	/* its RT timer fires within the lead (the offset's bound may make "now" a little early) */
	int rt_now = v->next_rt_tsc && l->guest_now + l->lead >= v->next_rt_tsc;
	/* woken out of a halt, and the guest has said nothing since: its interrupt is being handled */
	int injected = v->cls == PVB_CLASS_IDLE && l->awake == 1;
	int pending = agent_important(v) || rt_now || injected;

	if (l->woken && pending)
		return *why = CAUSE_WAKE, AGENT_BOOST;
	if (l->due)
		return *why = CAUSE_DUE, AGENT_BOOST;
	if (l->preempted && l->on_cpu != 1 && pending)
		return *why = CAUSE_PREEMPT, AGENT_BOOST;
	if (l->kicked && l->on_cpu != 1 && (v->flags & PVB_SF_BOOST_REQ) && agent_important(v))
		return *why = CAUSE_REQUEST, AGENT_BOOST;
	if (agent_halted_for_rt(l)) /* its next wake-up is the RT timer's injection: boosted already */
		return AGENT_KEEP;
	return !pending && (l->kicked || l->slept || l->boosted) ? AGENT_UNBOOST : AGENT_KEEP;
}

static const struct agent_strategy strategy = { .needs = PVB_BF_BOOST, .wake_at = wake_at, .decide = decide,
						.trace_events = SCHEDTRACE_WAKEUPS | SCHEDTRACE_NORMAL_WAKEUPS | SCHEDTRACE_INS |
								SCHEDTRACE_PREEMPTS | SCHEDTRACE_ASKED_SLEEPS, .parks = 1 };

static int prepare(struct policy *p, char *err, size_t errlen)
{
	return boost_agent_prepare(p, &strategy, err, errlen);
}

BOOST_AGENT_POLICY(policy_eager, "dynamic-eager",
		   "boost a vCPU thread when the host wakes it or its RT timer fires with RT work pending, or on the guest's request; unboost when it is done (seed 001 v1)",
		   prepare);
