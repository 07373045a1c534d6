/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "boost_agent.h"
#include "schedtrace.h"
#include "stats.h"

static const char *boost_device_choice(int i)
{
	static const char *const names[] = { "ram", "ivshmem", NULL };
	return names[i];
}

const struct key_def boost_agent_keys[] = {
	{ "boost_prio", KT_INT, 1, 98, KEY_LIST, "50", "dynamic policies: SCHED_FIFO priority of a boosted vCPU thread (the VM's cap)" },
	{ "boost_lead_us", KT_INT, 0, 100000, KEY_LIST, "200", "dynamic-predictive: boost this long before the guest's RT deadline" },
	{ "boost_max_ms", KT_INT, 1, 100000, KEY_LIST, "50", "dynamic policies: longest continuous boost; then unboosted as long" },
	{ "agent_poll_us", KT_INT, 20, 100000, KEY_LIST, "100", "dynamic policies: how often the agent looks at the region" },
	{ "boost_device", KT_CHOICE, 0, 0, KEY_LIST, "ram",
	  "dynamic policies: the region in reserved guest RAM named on the command line (ram; kicks "
	  "seen at the next look), or behind QEMU's ivshmem-doorbell (ivshmem; kicks wake the agent)",
	  .choice = boost_device_choice },
	{ 0 },
};

#define MAX_REACT 65536

struct vcpu_agent {
	struct sched_saved saved;
	int boosted;
	double since_ms, cooldown_until_ms, boosted_ms;
	uint64_t deadline;               /* the guest deadline the current boost is for */
	uint32_t kicks;                  /* slot.kicks at the last look */
	unsigned long woken, preempted;  /* trace counts at the last look */
};

struct agent {
	const struct agent_strategy *s;
	const struct vm_view *vm;        /* valid from start to stop */
	struct vcpu_agent v[VM_MAX_VCPUS];
	int nr, prio, lead_us, max_ms, poll_us;
	unsigned khz;
	struct policy_thread th;
	int64_t offset, offset0;         /* host TSC - guest TSC: the bound now, and the first one */
	int negotiated, doorbell;        /* doorbell: the VM has one (kick_fds) */
	uint32_t features;
	struct schedtrace *trace;
	struct pvb_boost_stats st;
	uint64_t boosts, unboosts, cooldowns, errors, kicks, doorbells;
	double *react_us;                /* predictive: deadline - lead -> boost applied */
	double *kick_react_us;           /* a request kick (the slot's stamp) -> boost applied */
	size_t nreact, nkick_react;
	double cpu_ms;
	char err[200];
};

static void boost(struct agent *a, int i, double t)
{
	char err[200];
	if (sched_save_and_set_fifo(&a->v[i].saved, a->vm->tids[i], a->prio, err, sizeof(err))) {
		a->errors++;
		return;
	}
	a->v[i].boosted = 1;
	a->v[i].since_ms = t;
	a->boosts++;
	pvb_boost_host_publish(pvb_boost_slot(a->vm->boost, (unsigned)i), 1, (unsigned)a->prio, 0, 0, 0);
}

static void unboost(struct agent *a, int i, double t)
{
	sched_restore(&a->v[i].saved);
	a->v[i].boosted = 0;
	a->v[i].boosted_ms += t - a->v[i].since_ms;
	a->unboosts++;
	pvb_boost_host_publish(pvb_boost_slot(a->vm->boost, (unsigned)i), 0, 0, 0, 0, 0);
}

/* One look at every slot. */
static void step(struct agent *a)
{
	double t = engine_now_ms();
	uint64_t host = __builtin_ia32_rdtsc(), guest_now = host - (uint64_t)a->offset;
	struct pvb_boost_limits lim = { .max_prio = (uint8_t)a->prio, .features = a->features,
					.max_ahead_tsc = (uint64_t)a->khz * 1000, .read_tries = 3 };

	if (a->trace)
		schedtrace_poll(a->trace);
	for (int i = 0; i < a->nr; i++) {
		struct vcpu_agent *c = &a->v[i];
		struct pvb_boost_view v;
		uint64_t before = __builtin_ia32_rdtsc();
		if (c->boosted && t - c->since_ms > a->max_ms) { /* bounded: then as long unboosted */
			unboost(a, i, t);
			c->cooldown_until_ms = t + a->max_ms;
			a->cooldowns++;
			continue;
		}
		if (pvb_boost_read(pvb_boost_slot(a->vm->boost, (unsigned)i), &lim, guest_now, &v, &a->st) ==
		    PVB_BOOST_READ_TORN)
			continue;
		/* the guest stamped before we read: host - guest is at most before - stamp. The first
		 * bound (guest_tsc_ready) was taken within a poll of the truth, so a stamp that claims
		 * more than 10 ms better is a lie: a guest cannot move the offset further than that */
		int64_t bound = (int64_t)(before - v.stamp_tsc);
		if (bound < a->offset && bound >= a->offset0 - (int64_t)a->khz * 10) {
			a->offset = bound;
			guest_now = host - (uint64_t)a->offset;
		}
		struct agent_look l = { .v = &v, .guest_now = guest_now, .boosted = c->boosted,
					.lead = (uint64_t)a->lead_us * a->khz / 1000, .boost_deadline = c->deadline };
		l.kicked = v.kicks != c->kicks;
		a->kicks += l.kicked;
		c->kicks = v.kicks;
		if (a->trace) {
			unsigned long w, p;
			schedtrace_counts(a->trace, i, &w, &p);
			l.woken = w != c->woken;
			l.preempted = p != c->preempted;
			c->woken = w;
			c->preempted = p;
		}
		enum agent_act act = a->s->decide(&l);
		if (act == AGENT_BOOST && !c->boosted && t >= c->cooldown_until_ms) {
			boost(a, i, t);
			/* reactions end when the priority is applied, in the guest's TSC */
			uint64_t applied = __builtin_ia32_rdtsc() - (uint64_t)a->offset;
			c->deadline = v.next_rt_tsc;
			if (v.next_rt_tsc && a->nreact < MAX_REACT) { /* late against deadline - lead */
				double late = (double)(int64_t)(applied - (v.next_rt_tsc - l.lead)) / a->khz * 1000;
				a->react_us[a->nreact++] = late > 0 ? late : 0;
			} else if (l.kicked && a->nkick_react < MAX_REACT) {
				/* from the guest's stamp of the request it kicked for: a lower bound, as the
				 * offset is an upper bound (by the fastest read of a stamp seen so far); a
				 * stamp from the future or older than a second is not believed */
				double late = (double)(int64_t)(applied - v.stamp_tsc) / a->khz * 1000;
				if (late < 1e6)
					a->kick_react_us[a->nkick_react++] = late > 0 ? late : 0;
			}
		} else if (act == AGENT_UNBOOST && c->boosted) {
			unboost(a, i, t);
		}
	}
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	struct pvb_boost_hdr *h = a->vm->boost;
	struct timespec c0, c1;
	struct pollfd pf[VM_MAX_VCPUS];
	int npf = a->vm->kick_fds ? a->nr : 0;

	for (int i = 0; i < npf; i++)
		pf[i] = (struct pollfd){ .fd = a->vm->kick_fds[i], .events = POLLIN };
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	while (!a->th.stop) {
		if (!a->negotiated && !pvb_boost_host_check(h, a->vm->boost_size, (unsigned)a->nr, &a->features)) {
			a->negotiated = 1;
			/* the guest stamped its TSC just before guest_ready: host - guest, at most */
			a->offset = a->offset0 = (int64_t)(__builtin_ia32_rdtsc() - h->guest_tsc_ready);
			for (int i = 0; i < a->nr; i++)
				a->v[i].kicks = pvb_boost_slot(h, (unsigned)i)->kicks;
		}
		if (a->negotiated && (a->features & a->s->needs) == a->s->needs)
			step(a);
		if (!npf) {
			nanosleep(&(struct timespec){ 0, a->poll_us * 1000L }, NULL);
			continue;
		}
		/* a doorbell: look at once rather than at the next poll */
		if (ppoll(pf, (nfds_t)npf, &(struct timespec){ 0, a->poll_us * 1000L }, NULL) <= 0)
			continue;
		for (int i = 0; i < npf; i++) {
			uint64_t n;
			if ((pf[i].revents & POLLIN) && read(pf[i].fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
				a->doorbells += n;
		}
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	a->cpu_ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
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
	a->react_us = calloc(MAX_REACT, sizeof(double));
	a->kick_react_us = calloc(MAX_REACT, sizeof(double));
	if (!a->react_us || !a->kick_react_us)
		return -1;
	return sched_fifo_allowed(a->prio, err, errlen) ? 0 : -1;
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
	if (a->s->uses_trace && schedtrace_start(&a->trace, vm->tids, a->nr, err, errlen))
		return -1;
	return policy_thread_start(&a->th, agent_main, a, err, errlen);
}

void boost_agent_stop(struct policy *p)
{
	struct agent *a = p->priv;
	double t = engine_now_ms();

	if (!a)
		return;
	policy_thread_stop(&a->th);
	for (int i = 0; i < a->nr; i++) /* every path: nothing stays boosted */
		if (a->v[i].boosted)
			unboost(a, i, t);
	schedtrace_stop(a->trace, NULL);
	a->trace = NULL;
	a->vm = NULL;
}

void boost_agent_counters(struct policy *p, struct metric_set *out)
{
	struct agent *a = p->priv;
	double boosted = 0;

	if (!a)
		return;
	for (int i = 0; i < a->nr; i++) {
		metrics_add(out, "boosted_ms", "ms", i, a->v[i].boosted_ms);
		boosted += a->v[i].boosted_ms;
	}
	metrics_add(out, "boosted_ms", "ms", METRIC_CPU_ALL, boosted);
	metrics_add(out, "negotiated", "bool", METRIC_CPU_VM, a->negotiated);
	metrics_add(out, "boosts", "count", METRIC_CPU_VM, (double)a->boosts);
	metrics_add(out, "unboosts", "count", METRIC_CPU_VM, (double)a->unboosts);
	metrics_add(out, "kicks", "count", METRIC_CPU_VM, (double)a->kicks);
	if (a->doorbell)
		metrics_add(out, "doorbells_seen", "count", METRIC_CPU_VM, (double)a->doorbells);
	metrics_add(out, "cooldowns", "count", METRIC_CPU_VM, (double)a->cooldowns);
	metrics_add(out, "sched_errors", "count", METRIC_CPU_VM, (double)a->errors);
	metrics_add(out, "torn_reads", "count", METRIC_CPU_VM, (double)a->st.torn);
	metrics_add(out, "rejected_values", "count", METRIC_CPU_VM,
		    (double)(a->st.bad_class + a->st.prio_clamped + a->st.bad_flags + a->st.util_clamped +
			     a->st.rt_rejected));
	metrics_add(out, "agent_cpu", "ms", METRIC_CPU_VM, a->cpu_ms);
	if (a->negotiated) /* how far the guest's stamps tightened the TSC offset's bound after negotiation */
		metrics_add(out, "offset_tightened", "us", METRIC_CPU_VM, (double)(a->offset0 - a->offset) / a->khz * 1000);
	if (a->nreact) {
		metrics_add(out, "reaction_p50", "us", METRIC_CPU_VM, stats_median(a->react_us, a->nreact));
		metrics_add(out, "reaction_max", "us", METRIC_CPU_VM, stats_max(a->react_us, a->nreact));
	}
	if (a->nkick_react) {
		metrics_add(out, "kick_reaction_p50", "us", METRIC_CPU_VM, stats_median(a->kick_react_us, a->nkick_react));
		metrics_add(out, "kick_reaction_max", "us", METRIC_CPU_VM, stats_max(a->kick_react_us, a->nkick_react));
	}
}

void boost_agent_destroy(struct policy *p)
{
	struct agent *a = p->priv;
	if (a) {
		schedtrace_stop(a->trace, NULL);
		free(a->react_us);
		free(a->kick_react_us);
	}
	free(a);
	p->priv = NULL;
}
