/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "util.h"
#include "boost_agent.h"
#include "freqemu.h"
#include "schedtrace.h"
#include "stats.h"

static const char *boost_device_choice(int i)
{
	static const char *const names[] = { "ram", "ivshmem", NULL };
	return names[i];
}

const struct key_def boost_agent_keys[] = {
	{ "boost_prio", KT_INT, 1, 98, KEY_LIST, "50", "dynamic policies: SCHED_FIFO priority of a boosted vCPU thread (the VM's cap); the agent runs one above it" },
	{ "boost_lead_us", KT_INT, 0, 100000, KEY_LIST, "50", "dynamic policies: predictive boosts this long before the guest's RT deadline; lazy gives the host this long after it; the agent's timers go off early by its own lateness, at most this" },
	{ "boost_max_ms", KT_INT, 1, 100000, KEY_LIST, "50", "dynamic policies: longest boost, then unboosted as long; a parked vCPU's goes on while it ran under half of each such stretch" },
	{ "boost_gate_ms", KT_INT, 0, 100000, KEY_LIST, "250", "dynamic-predictive: boosts a vCPU that never halts only while the host holds its thread off a CPU, judged over windows of this much of its unboosted time (preempted for 10% of one: boosted; the first window 50 ms; 0: always boosted)" },
	{ "agent_poll_us", KT_INT, 20, 100000, KEY_LIST, "100", "dynamic policies: while a vCPU is boosted and its region has no doorbell, how often the agent looks for the guest's unboost" },
	{ "boost_device", KT_CHOICE, 0, 0, KEY_LIST, "ram",
	  "dynamic policies: the region in reserved guest RAM named on the command line (ram; a kick is "
	  "seen at the agent's next look), or with a doorbell (ivshmem: QEMU's ivshmem-doorbell, or on "
	  "vmm = pvbench its own doorbell register; a kick wakes the agent)",
	  .choice = boost_device_choice },
	{ 0 },
};

#define MAX_REACT 65536
#define LATE_N 32
#define NOT_PARKED INT64_MIN
/* kicks, timer, stop; per CPU up to 3 trace events, per vCPU its sleeps */
#define MAX_POLL (VM_MAX_VCPUS + 2 + 3 * 256 + VM_MAX_VCPUS)

struct vcpu_agent {
	struct sched_saved saved;
	int boosted;
	int parked;                      /* boosted, halted until its next RT deadline */
	double since_ms, cooldown_until_ms, boosted_ms;
	double window_ms;                /* the boost's bound counts from here */
	double unboosted_ms, last_ms;    /* when the last boost ended, and how long it lasted */
	int64_t run0_us;                 /* its CPU time at window_ms (as if it ran all the time to its
					    first park); NOT_PARKED: not parked in this boost yet */
	uint64_t deadline;               /* the guest deadline the current boost is for */
	uint32_t kicks;                  /* slot.kicks at the last look */
	uint64_t stamp;                  /* slot.stamp_tsc at the last look */
	uint64_t stamp_seen;             /* host TSC at that look's start (0: none yet) */
	int rang;                        /* its doorbell rang since the last look */
	int ended;                       /* its thread has exited (the VM powered off): not looked at */
	struct schedtrace_thread seen;   /* the trace at the last look */
	uint64_t wake_at;                /* guest TSC the strategy asked to look again at; 0: none */
	/* the gate (boost_gate_ms): a window of the thread's unboosted time, and its time held off */
	int gate_open;
	double gate_look_ms, win_ms, win_len_ms, closed_ms;
	uint64_t win_held_ns;
};

struct agent {
	const struct agent_strategy *s;
	const struct vm_view *vm;        /* valid from start to stop */
	struct vcpu_agent v[VM_MAX_VCPUS];
	int nr, prio, lead_us, max_ms, poll_us, gate_ms;
	unsigned khz;
	struct policy_thread th;
	int64_t offset, offset0;         /* host TSC - guest TSC: the bound now, and the first one */
	int negotiated, doorbell;        /* doorbell: the VM has one (kick_fds) */
	uint32_t features;
	struct schedtrace *trace;
	sem_t ready;                     /* the thread has started its trace (or failed to) */
	uint64_t armed_ns;               /* the next time asked for: ppoll's timeout (CLOCK_MONOTONIC;
					    0: none). Not a timerfd, whose set and read were two of the
					    four or five syscalls of a wake-up */
	uint64_t early_ns;               /* how much before a time asked the timer is set: its own
					    recent lateness (p90 of the last LATE_N), at most the lead (so
					    lazy never acts before a deadline, predictive at most twice
					    the lead before it) */
	double late_us[LATE_N];          /* the timer's last lateness samples, a ring */
	uint64_t nlate;
	struct pvb_boost_stats st;
	uint64_t boosts, unboosts, cooldowns, errors, gone, kicks, doorbells, wakeups, rt_signals, parks;
	uint64_t offset_resets;          /* stamps that proved the TSC offset wrong */
	uint64_t woke_by[3];             /* wake-ups with a doorbell, the timer, the trace ready */
	uint64_t deadlines;              /* looks at which the guest had published an RT deadline */
	uint64_t by_cause[NR_CAUSES];
	uint64_t in_crit, in_irq;        /* boosts given while the guest said CRIT / IN_IRQ */
	double *react_us;                /* the causing event -> the priority applied */
	size_t nreact;
	double cpu_ms, life_ms, t_start;
	char trace_err[160];
	char sched_err[160];             /* the first scheduling call that failed, for the run's reason */
	char note[220];
};

/* A guest TSC value as CLOCK_MONOTONIC ns, through the offset's bound and the TSC rate. */
static uint64_t guest_to_mono(const struct agent *a, uint64_t guest_tsc, uint64_t now_ns, uint64_t host_now)
{
	int64_t d = (int64_t)(guest_tsc + (uint64_t)a->offset - host_now);
	int64_t ns = (int64_t)((double)d * 1e6 / a->khz);
	return ns < 0 && (uint64_t)-ns > now_ns ? 0 : now_ns + (uint64_t)ns;
}

/* Whether vCPU i's halts (its thread's sleeps) wake the agent: a boosted one's may end its boost;
 * an unboosted one's ask nothing of eager or lazy (and come once a period), but tell predictive
 * its next deadline; a parked one's ask nothing of anyone. */
static void halts_wake(struct agent *a, int i)
{
	const struct vcpu_agent *c = &a->v[i];
	if (a->trace)
		schedtrace_wake_on_sleep(a->trace, i, !c->parked && (c->boosted || a->s->reads_halts));
}

/* 0: the vCPU thread runs boosted now */
static int boost(struct agent *a, int i, double t, enum agent_cause why, uint64_t event_ns)
{
	char err[200];
	if (sched_save_and_set_fifo(&a->v[i].saved, a->vm->tids[i], a->prio, err, sizeof(err))) {
		/* a vCPU thread that has ended (the guest powered off while a deadline was due) is not
		 * a failure of the policy: there is nothing left to boost */
		if (errno == ESRCH) {
			a->gone++;
			return -1;
		}
		if (!a->errors++)
			snprintf(a->sched_err, sizeof(a->sched_err), "%s", err);
		return -1;
	}
	uint64_t applied = mono_ns();
	a->v[i].boosted = 1;
	/* a boost that follows the last one after a shorter gap than that one lasted continues its
	 * stretch: else a guest whose claims flip (ending each boost with a plain unboost) would
	 * never meet the bound */
	if (t - a->v[i].unboosted_ms >= a->v[i].last_ms) {
		a->v[i].window_ms = t;
		a->v[i].run0_us = NOT_PARKED;
	}
	a->v[i].since_ms = t;
	a->v[i].parked = 0;
	halts_wake(a, i);
	a->boosts++;
	a->by_cause[why]++;
	pvb_boost_host_publish(pvb_boost_slot(a->vm->boost, (unsigned)i), 1, (unsigned)a->prio, 0, 0, 0);
	/* an event older than a second is not one this boost answers; one still ahead (a deadline
	 * the timer was armed early for) is answered in time: 0 */
	if (event_ns && (applied < event_ns || applied - event_ns < 1000000000ull) && a->nreact < MAX_REACT)
		a->react_us[a->nreact++] = applied > event_ns ? (double)(applied - event_ns) / 1e3 : 0;
	return 0;
}

static void unboost(struct agent *a, int i, double t)
{
	sched_restore(&a->v[i].saved);
	a->v[i].boosted = a->v[i].parked = 0;
	halts_wake(a, i);
	a->v[i].boosted_ms += t - a->v[i].since_ms;
	a->v[i].last_ms = t - a->v[i].since_ms;
	a->v[i].unboosted_ms = t;
	a->unboosts++;
	pvb_boost_host_publish(pvb_boost_slot(a->vm->boost, (unsigned)i), 0, 0, 0, 0, 0);
}

/* Bounded: a boost ends at boost_max_ms, then as long unboosted; one that has been parked goes
 * on while its vCPU ran under half of the time (it halted between RT periods), measured by the
 * host, not said by the guest. */
static void bound_boost(struct agent *a, int i, double t)
{
	struct vcpu_agent *c = &a->v[i];
	if (!c->boosted || t - c->window_ms <= a->max_ms)
		return;
	/* its CPU time (-1: the thread has ended, nothing to cool down) */
	int64_t run = c->run0_us != NOT_PARKED ? thread_cpu_us(a->vm->tids[i]) : NOT_PARKED;
	if (run >= 0 && (double)(run - c->run0_us) / 1e3 < (t - c->window_ms) / 2) {
		c->window_ms = t;
		c->run0_us = run;
	} else {
		unboost(a, i, t);
		c->cooldown_until_ms = run != -1 ? t + a->max_ms : 0;
		a->cooldowns += run != -1;
	}
}

/* A stamp S new since c's last look. The guest stamped it before the read ended: host - guest is
 * at most after - S (a TSC taken before the read let a stamp made during it push the bound past
 * the truth), and the offset is the least such bound. It was written after that last look began
 * (c->stamp_seen), so host - guest is at least stamp_seen - S. One that says more than the offset
 * now by over a millisecond proves the offset wrong: a stamp that lied (or a wild write), or a
 * migration, set it; it starts again from this stamp. An honest guest's stamps never do that,
 * unless the host held its vCPU off for over a millisecond between its TSC read and its publish,
 * which costs a bound as loose until its next stamp. No floor near the first bound: a guest
 * ready before the agent's first look (it booted while the policy started, as QEMU's vCPUs may)
 * may have been so for any time. A floor 10 ms under that bound kept a guest ready 30 ms early
 * 30 ms behind, every stamp refused: predictive found no deadline due. A lie mistimes only its
 * own guest's boosts, which their bound holds. */
static void bound_offset(struct agent *a, const struct vcpu_agent *c, uint64_t stamp, uint64_t host,
			 uint64_t *guest_now)
{
	int64_t upper = (int64_t)(__builtin_ia32_rdtsc() - stamp);
	int64_t lower = c->stamp_seen ? (int64_t)(c->stamp_seen - stamp) : INT64_MIN;
	/* lower - offset as unsigned: a lie's values overflow a signed sum */
	int wrong = lower > a->offset && (uint64_t)lower - (uint64_t)a->offset > a->khz;
	a->offset_resets += wrong;
	if (upper < a->offset || wrong) {
		a->offset = upper;
		*guest_now = host - (uint64_t)a->offset;
	}
}

/* What the host's scheduler saw of the vCPU thread since the last look, into l. */
static void trace_look(const struct agent *a, struct vcpu_agent *c, const struct schedtrace_thread *tr,
		       struct agent_look *l)
{
	l->woken = tr->woken != c->seen.woken;
	l->preempted = tr->preempted != c->seen.preempted;
	l->slept = tr->slept != c->seen.slept;
	unsigned ev = a->s->trace_events;
	if (ev & SCHEDTRACE_INS) { /* with every switch out */
		l->on_cpu = tr->in_ns > tr->out_ns;
		/* preempted, and no CPU since; or asleep */
		l->held_off = !l->on_cpu && tr->out_ns && tr->preempted_ns == tr->out_ns;
		l->asleep = !l->on_cpu && tr->out_ns && tr->preempted_ns != tr->out_ns;
	}
	if (ev & SCHEDTRACE_WAKEUPS && ev & SCHEDTRACE_INS)
		l->awake = tr->woken_ns > tr->out_ns;
	if (l->held_off == 0 && ev & SCHEDTRACE_WAKEUPS) /* or woken and waiting for a CPU */
		l->held_off = !l->on_cpu && l->awake;
	c->seen = *tr;
}

/* A boost that stays: parked while halted for RT work; a thread seen awake is looked at as any
 * other. */
static void keep_boosted(struct agent *a, int i, double t, const struct agent_look *l, uint64_t next_rt_tsc)
{
	struct vcpu_agent *c = &a->v[i];
	int park = a->s->parks && agent_halted_for_rt(l);
	/* its share of CPU counts from the boost, as if it ran all the time until now: a guest cannot
	 * stretch a boost by halting once near its end */
	int64_t run = park && c->run0_us == NOT_PARKED ? thread_cpu_us(a->vm->tids[i]) : -1;
	if (run >= 0)
		c->run0_us = run - (int64_t)((t - c->window_ms) * 1e3);
	if (park) /* an unpark's look for the unboost starts after this deadline */
		c->deadline = next_rt_tsc;
	a->parks += park && !c->parked;
	c->parked = park;
	halts_wake(a, i);
}

/* The gate of a strategy that boosts only against contention (boost_gate_ms). A boost before
 * every deadline of a vCPU that never halts cost the agent a wake-up or two per period, 14% of a
 * CPU here on an idle host, to win nothing there. At the end of a window of gate_ms of the vCPU's
 * unboosted time the gate is open if the host held its thread off a CPU (preempted it) for 10% of
 * that time, else closed; it opens at once when that reaches 10% of the window. Short
 * preemptions (a kworker, an RT task above any boost) stay under it; a CPU shared with normal
 * work (stress-ng) is ~50%. A boosted thread is not preempted by normal work, so its boosted time
 * does not count. A vCPU that halts opens it (its halt wakes the agent): the waits a boost is for
 * are then those of its wake-ups, which the trace does not show the agent, and parked it costs
 * the agent little. Open from the first look, for a first window of 50 ms: closed from the start,
 * a busy host's first ~50 ms went unboosted (1% of a 5 s run: a p99); a whole first window
 * open cost a busy vCPU on an idle host ~2% of a CPU over 3 s. Open where there is no trace. */
static int gate(struct agent *a, int i, const struct schedtrace_thread *tr, double t)
{
	struct vcpu_agent *c = &a->v[i];
	if (!a->gate_ms || !tr)
		return 1;
	if (!c->gate_look_ms) {
		c->gate_look_ms = t;
		c->win_len_ms = a->gate_ms < 50 ? a->gate_ms : 50;
		return c->gate_open = 1;
	}
	/* c->seen is the trace at the last look: trace_look comes after */
	double dt = t - c->gate_look_ms;
	int halted = tr->slept != c->seen.slept;
	c->closed_ms += c->gate_open ? 0 : dt;
	c->win_held_ns += tr->held_ns - c->seen.held_ns;
	c->win_ms += c->boosted ? 0 : dt;
	c->gate_look_ms = t;
	int end = c->win_ms >= c->win_len_ms;
	if (halted || (double)c->win_held_ns >= c->win_len_ms * 1e5 || end) { /* 10%, in ns */
		c->gate_open = halted || (double)c->win_held_ns >= (end ? c->win_ms : c->win_len_ms) * 1e5;
		c->win_ms = 0, c->win_held_ns = 0;
		c->win_len_ms = a->gate_ms;
	}
	return c->gate_open;
}

/* One look at every slot: what happened to each vCPU since the last, and what its strategy says. */
static void step(struct agent *a, uint64_t woke_ns)
{
	double t = mono_ms();
	uint64_t host = __builtin_ia32_rdtsc(), now_ns = mono_ns(), guest_now = host - (uint64_t)a->offset;
	uint64_t early_tsc = a->early_ns * a->khz / 1000000; /* the timer's margin, as arm_timer sets it */
	struct pvb_boost_limits lim = { .max_prio = (uint8_t)a->prio, .features = a->features,
					.max_ahead_tsc = (uint64_t)a->khz * 1000, .read_tries = 3 };

	for (int i = 0; i < a->nr; i++) {
		struct vcpu_agent *c = &a->v[i];
		struct pvb_boost_view v;
		if (c->ended)
			continue;
		const struct schedtrace_thread *tr = a->trace ? schedtrace_thread(a->trace, i) : NULL;
		bound_boost(a, i, t);
		if (pvb_boost_read(pvb_boost_slot(a->vm->boost, (unsigned)i), &lim, guest_now, &v, &a->st) ==
		    PVB_BOOST_READ_TORN)
			continue;
		if (v.stamp_tsc && v.stamp_tsc != c->stamp) /* an old one read again bounds it less */
			bound_offset(a, c, v.stamp_tsc, host, &guest_now);
		c->stamp = v.stamp_tsc;
		c->stamp_seen = host;
		struct agent_look l = { .v = &v, .guest_now = guest_now, .boosted = c->boosted,
					.lead = (uint64_t)a->lead_us * a->khz / 1000, .boost_deadline = c->deadline,
					.on_cpu = -1, .awake = -1, .held_off = -1, .asleep = -1 };
		l.kicked = v.kicks != c->kicks || c->rang;
		a->kicks += v.kicks != c->kicks;
		c->kicks = v.kicks;
		c->rang = 0;
		l.contended = gate(a, i, tr, t);
		if (tr)
			trace_look(a, c, tr, &l);
		a->rt_signals += v.cls == PVB_CLASS_RT || (v.flags & PVB_SF_BOOST_REQ) || v.next_rt_tsc;
		a->deadlines += v.next_rt_tsc != 0;
		uint64_t at = a->s->wake_at(&l);
		l.due = at && guest_now + early_tsc >= at;
		enum agent_cause why = CAUSE_REQUEST;
		enum agent_act act = a->s->decide(&l, &why);
		if (act == AGENT_BOOST && !c->boosted && t >= c->cooldown_until_ms) {
			/* the event the boost answers, in CLOCK_MONOTONIC */
			uint64_t ev = why == CAUSE_WAKE && tr ? tr->woken_ns :
				      why == CAUSE_PREEMPT && tr ? tr->preempted_ns :
				      why == CAUSE_DUE ? guest_to_mono(a, at, now_ns, host) :
				      a->doorbell ? woke_ns : guest_to_mono(a, v.stamp_tsc, now_ns, host);
			if (!boost(a, i, t, why, ev)) {
				a->in_crit += !!(v.flags & PVB_SF_CRIT);
				a->in_irq += !!(v.flags & PVB_SF_IN_IRQ);
			}
			c->deadline = v.next_rt_tsc;
		} else if (act == AGENT_UNBOOST && c->boosted) {
			unboost(a, i, t);
		}
		if (c->boosted && act != AGENT_UNBOOST)
			keep_boosted(a, i, t, &l, v.next_rt_tsc);
		/* what it waits for next: its own time, unless boosted already or cooling down */
		c->wake_at = !c->boosted && t >= c->cooldown_until_ms && !l.due ? at : 0;
	}
}

/* When to wake up for nothing else: the earliest time a strategy asked for, the end of a boost's
 * bound or of a cool-down, and a look every poll_us while a vCPU is boosted without a doorbell. */
static void arm_timer(struct agent *a)
{
	uint64_t now = mono_ns(), host = __builtin_ia32_rdtsc(), next = 0;
	double t = mono_ms();
#define EARLIEST(x) do { uint64_t x_ = (x); if (x_ && (!next || x_ < next)) next = x_; } while (0)
	if (!a->negotiated)
		EARLIEST(now + (uint64_t)a->poll_us * 1000);
	for (int i = 0; a->negotiated && i < a->nr; i++) {
		const struct vcpu_agent *c = &a->v[i];
		if (c->ended)
			continue;
		if (c->wake_at) { /* early by the timer's own lateness: the look lands when asked */
			uint64_t at = guest_to_mono(a, c->wake_at, now, host);
			EARLIEST(at > a->early_ns ? at - a->early_ns : at); /* 0: long past, none */
		}
		if (c->boosted)
			EARLIEST(now + (uint64_t)((c->window_ms + a->max_ms - t) * 1e6));
		/* without a doorbell a guest that does not halt can only say "done" in its slot: look
		 * every poll_us, from the deadline the boost was for (a halting one says it sooner).
		 * From the deadline itself: looks from lead_us after it held a busy guest's vCPU
		 * boosted for half of a 500 us period, so each boost continued the last one's stretch
		 * and the bound cut them all, 50 ms on, 50 ms off (predictive: p99 3.8 ms) */
		if (c->boosted && !c->parked && !a->doorbell) {
			uint64_t from = c->deadline ? guest_to_mono(a, c->deadline, now, host) : 0;
			EARLIEST((from > now ? from : now) + (uint64_t)a->poll_us * 1000);
		}
		if (c->cooldown_until_ms > t)
			EARLIEST(now + (uint64_t)((c->cooldown_until_ms - t) * 1e6));
		/* a strategy that acts on the guest's deadlines alone, and none to wait for: a vCPU
		 * that never halts may publish its first at any time, and without a doorbell nothing
		 * would make the agent look again (a busy guest whose RT task had not started at the
		 * first look went a whole run unboosted) */
		if (a->s->reads_halts && !c->boosted && !c->wake_at)
			EARLIEST(now + (uint64_t)a->max_ms * 1000000);
	}
#undef EARLIEST
	a->armed_ns = next && next <= now ? now + 1000 : next;
}

/* The timer fired at WOKE_NS: how late this thread got to it. A user-space agent gets to its timer
 * some time after it fires (here 25-45 us by p90: the wake-up is paid to the outer hypervisor; on
 * bare metal a few us), and a boost asked for a deadline landed that much after it. So times asked
 * are armed early by the recent p90 of that lateness. */
static void timer_late(struct agent *a, uint64_t woke_ns)
{
	if (!a->armed_ns || woke_ns < a->armed_ns)
		return;
	a->late_us[a->nlate++ % LATE_N] = (double)(woke_ns - a->armed_ns) / 1e3;
	if (a->nlate % LATE_N)
		return;
	double us = stats_quantile(a->late_us, LATE_N, 0.9);
	a->early_ns = (uint64_t)((us < a->lead_us ? us : a->lead_us) * 1e3);
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	struct pvb_boost_hdr *h = a->vm->boost;
	struct timespec c0, c1;
	struct pollfd pf[MAX_POLL];
	struct sched_saved self = { 0 };
	char err[200];
	int npf = 0, nkick = a->vm->kick_fds ? a->nr : 0;

	/* above the vCPU threads it boosts: nothing on a busy host delays its decision */
	int tid = (int)syscall(SYS_gettid);
	if (sched_save_and_set_fifo(&self, tid, a->prio + 1, err, sizeof(err)) && !a->errors++)
		snprintf(a->sched_err, sizeof(a->sched_err), "agent: %s", err);
	/* ppoll's timeout is its timer: no slack (a FIFO thread has none; one that could not be made
	 * FIFO would have 50 us) */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* the host's side of the story (without it only kicks and times wake the agent), from here:
	 * the trace must not take this thread's own wake-ups on a vCPU's CPU for the host's doing */
	if (a->s->trace_events && schedtrace_start(&a->trace, a->vm->tids, a->nr, a->s->trace_events, tid,
						   a->trace_err, sizeof(a->trace_err)))
		a->trace = NULL;
	/* with a doorbell, the guest rings it for no RT start the trace shows: an exit less, and a
	 * wake-up of this thread less, per period */
	if (a->trace)
		__atomic_store_n(&h->host_sees, PVB_HS_SCHED, __ATOMIC_RELEASE);
	sem_post(&a->ready);
	if (a->s->needs_trace && !a->trace) {
		sched_restore(&self);
		return NULL;
	}
	for (int i = 0; i < a->nr; i++)
		halts_wake(a, i);
	for (int i = 0; i < nkick; i++)
		pf[npf++] = (struct pollfd){ .fd = a->vm->kick_fds[i], .events = POLLIN };
	pf[npf++] = (struct pollfd){ .fd = a->th.wake_fd, .events = POLLIN };
	if (a->trace)
		npf += schedtrace_pollfds(a->trace, pf + npf, MAX_POLL - npf);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	while (!a->th.stop) {
		if (!a->negotiated && !pvb_boost_host_check(h, a->vm->boost_size, (unsigned)a->nr, &a->features)) {
			a->negotiated = 1;
			/* the guest stamped its TSC just before guest_ready: host - guest, at most */
			a->offset = a->offset0 = (int64_t)(__builtin_ia32_rdtsc() - h->guest_tsc_ready);
			for (int i = 0; i < a->nr; i++)
				a->v[i].kicks = pvb_boost_slot(h, (unsigned)i)->kicks;
			/* a first look: a guest that never halts, kicks or is preempted would otherwise
			 * never have its deadlines looked at */
			if ((a->features & a->s->needs) == a->s->needs)
				step(a, 0);
		}
		arm_timer(a);
		if (a->trace)
			schedtrace_sleeping(a->trace);
		uint64_t now = mono_ns(), left = a->armed_ns > now ? a->armed_ns - now : 0;
		struct timespec ts = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
		if (ppoll(pf, (nfds_t)npf, a->armed_ns ? &ts : NULL, NULL) < 0 && errno != EINTR)
			break;
		uint64_t woke_ns = mono_ns(), n;
		int by[3] = { 0 };
		a->wakeups++;
		if (a->armed_ns && woke_ns >= a->armed_ns) { /* its time came: the timer fired */
			by[1] = 1;
			timer_late(a, woke_ns);
			a->armed_ns = 0;
		}
		for (int i = 0; i < npf; i++) {
			/* a vCPU thread's own event once the thread has exited (its VM powered off):
			 * readable for good, it would wake this FIFO thread in a loop */
			if (pf[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				/* its thread's own event hangs up as it exits: that vCPU is done. Kept
				 * boosted, its last look having caught it running, it had the agent
				 * looking every poll_us until its bound (400 wake-ups in 50 ms) */
				int e = a->trace && pf[i].revents & POLLHUP ? schedtrace_thread_of_fd(a->trace, pf[i].fd) : -1;
				if (e >= 0 && e < a->nr && !a->v[e].ended) {
					if (a->v[e].boosted)
						unboost(a, e, mono_ms());
					a->v[e].ended = 1;
					a->v[e].wake_at = 0;
				}
				pf[i].fd = -1;
			}
			if (!(pf[i].revents & POLLIN))
				continue;
			if (i != nkick) /* not the stop */
				by[i < nkick ? 0 : 2] = 1;
			if (i < nkick && read(pf[i].fd, &n, sizeof(n)) == (ssize_t)sizeof(n)) {
				a->doorbells += n;
				a->v[i].rang = 1;
			}
		}
		for (int k = 0; k < 3; k++)
			a->woke_by[k] += (uint64_t)by[k];
		if (a->trace)
			schedtrace_drain(a->trace);
		if (a->negotiated && (a->features & a->s->needs) == a->s->needs)
			step(a, woke_ns);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	a->cpu_ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
	__atomic_store_n(&h->host_sees, 0, __ATOMIC_RELEASE); /* no one looks any more */
	sched_restore(&self);
	return NULL;
}

int boost_agent_prepare(struct policy *p, const struct agent_strategy *s, char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (!a)
		return -1;
	p->priv = a;
	a->s = s;
	a->prio = (int)spec_int(p->spec, "boost_prio");
	a->lead_us = (int)spec_int(p->spec, "boost_lead_us");
	a->max_ms = (int)spec_int(p->spec, "boost_max_ms");
	a->poll_us = (int)spec_int(p->spec, "agent_poll_us");
	a->gate_ms = s->gated ? (int)spec_int(p->spec, "boost_gate_ms") : 0;
	a->react_us = calloc(MAX_REACT, sizeof(double));
	if (!a->react_us)
		return -1;
	return sched_fifo_allowed(a->prio + 1, err, errlen) ? 0 : -1;
}

int boost_agent_start(struct policy *p, const struct vm_view *vm, char *err, size_t errlen)
{
	struct agent *a = p->priv;

	if (!vm->boost) {
		snprintf(err, errlen, "no boost region offered");
		return -1;
	}
	a->vm = vm;
	a->nr = vm->nr_vcpus < VM_MAX_VCPUS ? vm->nr_vcpus : VM_MAX_VCPUS;
	a->khz = vm->tsc_khz;
	a->doorbell = vm->kick_fds != NULL;
	a->t_start = mono_ms();
	sem_init(&a->ready, 0, 0);
	if (policy_thread_start(&a->th, "pvbench-boost", agent_main, a, err, errlen))
		return -1;
	while (sem_wait(&a->ready) < 0 && errno == EINTR)
		;
	if (a->s->needs_trace && !a->trace) {
		snprintf(err, errlen, "%s", a->trace_err);
		return -1; /* stop() joins the thread, which has returned */
	}
	return 0;
}

void boost_agent_stop(struct policy *p)
{
	struct agent *a = p->priv;
	double t = mono_ms();

	if (!a)
		return;
	if (a->th.running)
		a->life_ms = t - a->t_start;
	policy_thread_stop(&a->th);
	for (int i = 0; i < a->nr; i++) /* every path: nothing stays boosted */
		if (a->v[i].boosted)
			unboost(a, i, t);
	schedtrace_stop(a->trace, NULL);
	a->trace = NULL;
	a->vm = NULL;
}

/* How long the gate was closed, averaged over the vCPUs. */
static double gate_closed_ms(const struct agent *a)
{
	double ms = 0;
	for (int i = 0; i < a->nr; i++)
		ms += a->v[i].closed_ms;
	return a->nr ? ms / a->nr : 0;
}

void boost_agent_counters(struct policy *p, struct metric_set *out)
{
	static const char *const cause[NR_CAUSES] = { "boosts_on_wake", "boosts_on_preempt", "boosts_on_due",
						       "boosts_on_request" };
	struct agent *a = p->priv;
	double boosted = 0;

	if (!a)
		return;
	for (int i = 0; i < a->nr; i++) {
		metrics_add(out, "boosted_ms", "ms", PVB_INFO, i, a->v[i].boosted_ms);
		boosted += a->v[i].boosted_ms;
	}
	metrics_add(out, "boosted_ms", "ms", PVB_INFO, METRIC_CPU_ALL, boosted);
	metrics_add(out, "negotiated", "bool", PVB_INFO, METRIC_CPU_VM, a->negotiated);
	metrics_add(out, "boosts", "count", PVB_INFO, METRIC_CPU_VM, (double)a->boosts);
	for (int c = 0; c < NR_CAUSES; c++)
		metrics_add(out, cause[c], "count", PVB_INFO, METRIC_CPU_VM, (double)a->by_cause[c]);
	/* what the guest said it ran when boosted: a critical section, an interrupt */
	metrics_add(out, "boosts_in_crit", "count", PVB_INFO, METRIC_CPU_VM, (double)a->in_crit);
	metrics_add(out, "boosts_in_irq", "count", PVB_INFO, METRIC_CPU_VM, (double)a->in_irq);
	metrics_add(out, "unboosts", "count", PVB_INFO, METRIC_CPU_VM, (double)a->unboosts);
	metrics_add(out, "kicks", "count", PVB_INFO, METRIC_CPU_VM, (double)a->kicks);
	metrics_add(out, "rt_signals", "count", PVB_INFO, METRIC_CPU_VM, (double)a->rt_signals);
	if (a->doorbell)
		metrics_add(out, "doorbells_seen", "count", PVB_INFO, METRIC_CPU_VM, (double)a->doorbells);
	if (a->s->trace_events) /* the host's sched trace worked (else only kicks and times woke it) */
		metrics_add(out, "host_trace", "bool", PVB_INFO, METRIC_CPU_VM, a->trace_err[0] == 0);
	metrics_add(out, "cooldowns", "count", PVB_INFO, METRIC_CPU_VM, (double)a->cooldowns);
	/* boosts kept while the vCPU halted until its next RT deadline */
	metrics_add(out, "parks", "count", PVB_INFO, METRIC_CPU_VM, (double)a->parks);
	metrics_add(out, "sched_errors", "count", PVB_LESS, METRIC_CPU_VM, (double)a->errors);
	metrics_add(out, "boosts_too_late", "count", PVB_LESS, METRIC_CPU_VM, (double)a->gone);
	metrics_add(out, "torn_reads", "count", PVB_LESS, METRIC_CPU_VM, (double)a->st.torn);
	metrics_add(out, "rejected_values", "count", PVB_LESS, METRIC_CPU_VM,
		    (double)(a->st.bad_class + a->st.prio_clamped + a->st.bad_flags + a->st.util_clamped +
			     a->st.rt_rejected));
	metrics_add(out, "agent_cpu", "ms", PVB_LESS, METRIC_CPU_VM, a->cpu_ms);
	metrics_add(out, "agent_wakeups", "count", PVB_INFO, METRIC_CPU_VM, (double)a->wakeups);
	/* what woke it (one wake-up may have several): where its CPU goes */
	static const char *const by[3] = { "agent_wakeups_doorbell", "agent_wakeups_timer", "agent_wakeups_trace" };
	for (int k = 0; k < 3; k++)
		if (k != 0 || a->doorbell)
			metrics_add(out, by[k], "count", PVB_INFO, METRIC_CPU_VM, (double)a->woke_by[k]);
	if (a->life_ms > 0) /* of one CPU, over the agent's life */
		metrics_add(out, "agent_cpu_pct", "%", PVB_LESS, METRIC_CPU_VM, 100.0 * a->cpu_ms / a->life_ms);
	if (a->gate_ms && a->life_ms > 0) /* the share of the run the gate kept the boosts off, per vCPU */
		metrics_add(out, "gate_closed_pct", "%", PVB_INFO, METRIC_CPU_VM, 100.0 * gate_closed_ms(a) / a->life_ms);
	if (a->negotiated) { /* how far the guest's stamps tightened the TSC offset's bound after negotiation */
		metrics_add(out, "offset_tightened", "us", PVB_MORE, METRIC_CPU_VM, (double)(a->offset0 - a->offset) / a->khz * 1000);
		/* stamps that proved it wrong: a guest that lied, a migration, or a vCPU held off for
		 * over 1 ms between its TSC read and its publish */
		metrics_add(out, "offset_resets", "count", PVB_LESS, METRIC_CPU_VM, (double)a->offset_resets);
	}
	if (a->nlate >= LATE_N) /* what its last timers were armed early by */
		metrics_add(out, "agent_early_us", "us", PVB_INFO, METRIC_CPU_VM, (double)a->early_ns / 1e3);
	if (a->nreact) {
		metrics_add(out, "reaction_p50", "us", PVB_LESS, METRIC_CPU_VM, stats_median(a->react_us, a->nreact));
		metrics_add(out, "reaction_p99", "us", PVB_LESS, METRIC_CPU_VM, stats_quantile(a->react_us, a->nreact, 0.99));
		metrics_add(out, "reaction_max", "us", PVB_LESS, METRIC_CPU_VM, stats_max(a->react_us, a->nreact));
	}
}

/* The region offered, at the VM's cap, in RAM or behind the doorbell as boost_device says. */
void boost_agent_vm_spec(const struct policy *p, struct vm_spec *vs)
{
	vs->boost = 1;
	vs->boost_max_prio = (int)spec_int(p->spec, "boost_prio");
	vs->boost_device = !strcmp(spec_str(p->spec, "boost_device"), "ivshmem") ? VM_BOOST_IVSHMEM : VM_BOOST_RAM;
}

/* A dynamic policy that did nothing must say why, not look like a result. */
const char *boost_agent_note(struct policy *p)
{
	struct agent *a = p->priv;

	if (!a)
		return NULL;
	if (a->errors) {
		snprintf(a->note, sizeof(a->note), "%llu scheduling calls failed, the first: %s",
			 (unsigned long long)a->errors, a->sched_err);
		return a->note;
	}
	if (!a->boosts && !a->negotiated)
		return "no boosts: the guest never accepted the boost region";
	if (!a->boosts && (a->s->needs & PVB_BF_RT_DEADLINE) && !a->deadlines) /* predictive acts on nothing else */
		return "no boost requests: no RT deadline published (the workload ran no RT task); set rt_prio";
	if (a->gate_ms && a->life_ms > 0 && gate_closed_ms(a) > a->life_ms / 2) {
		snprintf(a->note, sizeof(a->note), "the gate was closed %.0f%% of the run: the host seldom held a vCPU "
			 "off a CPU, and predictive boosts only against that (boost_gate_ms)",
			 100.0 * gate_closed_ms(a) / a->life_ms);
		return a->note;
	}
	if (a->boosts)
		return NULL;
	if (!a->rt_signals)
		return "no boost requests: the workload ran no RT task, critical section or interrupt; set rt_prio";
	return NULL;
}

void boost_agent_destroy(struct policy *p)
{
	struct agent *a = p->priv;
	if (a) {
		schedtrace_stop(a->trace, NULL);
		free(a->react_us);
	}
	free(a);
	p->priv = NULL;
}
