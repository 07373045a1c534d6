/* SPDX-License-Identifier: MIT */
/*
 * dynamic-predictive: the guest publishes, before each vCPU halts, the TSC deadline of its next
 * RT wake-up (pvb_boost.h). An agent thread boosts the sleeping vCPU thread boost_lead_us before
 * that deadline, so it wakes already boosted (a user-space stand-in for the seed's in-kernel
 * "boost on interrupt injection"), and unboosts it once the vCPU is idle again with its next
 * deadline further away. Continuous boost is bounded (boost_max_ms, then as long again unboosted),
 * priorities are clamped to the VM's cap, and every guest value goes through the decoder: a guest
 * that writes garbage as fast as it can gets no more CPU than `static`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "policy.h"
#include "pvb_boost.h"
#include "stats.h"
#include "vm.h"

static const struct key_def keys[] = {
	{ "boost_prio", KT_INT, 1, 98, KEY_LIST, "50", "dynamic policies: SCHED_FIFO priority of a boosted vCPU thread (the VM's cap)" },
	{ "boost_lead_us", KT_INT, 0, 100000, KEY_LIST, "200", "dynamic-predictive: boost this long before the guest's RT deadline" },
	{ "boost_max_ms", KT_INT, 1, 100000, KEY_LIST, "50", "dynamic policies: longest continuous boost; then unboosted as long" },
	{ "agent_poll_us", KT_INT, 20, 100000, KEY_LIST, "100", "dynamic policies: how often the agent looks at the region" },
	{ 0 },
};

#define MAX_REACT 65536

struct vcpu_agent {
	struct sched_saved saved;
	int boosted;
	double since_ms, cooldown_until_ms, boosted_ms;
	uint64_t deadline;               /* the guest deadline the current boost is for */
};

struct predictive {
	const struct vm_view *vm;        /* valid from start to stop */
	struct vcpu_agent v[VM_MAX_VCPUS];
	int nr, prio, lead_us, max_ms, poll_us;
	unsigned khz;
	pthread_t thread;
	volatile int stop, running;
	int64_t offset, offset0;         /* host TSC - guest TSC: the bound now, and the first one */
	int negotiated;
	uint32_t features;
	char why_not[96];
	struct pvb_boost_stats st;
	uint64_t boosts, unboosts, cooldowns, errors;
	double *react_us;                /* deadline - lead -> boost applied, host clock */
	size_t nreact;
	double cpu_ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void boost(struct predictive *p, int i, double t)
{
	char err[200];
	if (sched_save_and_set_fifo(&p->v[i].saved, p->vm->tids[i], p->prio, err, sizeof(err))) {
		p->errors++;
		return;
	}
	p->v[i].boosted = 1;
	p->v[i].since_ms = t;
	p->boosts++;
}

static void unboost(struct predictive *p, int i, double t)
{
	sched_restore(&p->v[i].saved);
	p->v[i].boosted = 0;
	p->v[i].boosted_ms += t - p->v[i].since_ms;
	p->unboosts++;
}

/* One look at every slot. */
static void step(struct predictive *p)
{
	double t = now_ms();
	uint64_t host = __builtin_ia32_rdtsc(), guest_now = host - (uint64_t)p->offset;
	uint64_t lead = (uint64_t)p->lead_us * p->khz / 1000;
	struct pvb_boost_limits lim = { .max_prio = (uint8_t)p->prio, .features = p->features,
					.max_ahead_tsc = (uint64_t)p->khz * 1000, .read_tries = 3 };

	for (int i = 0; i < p->nr; i++) {
		struct vcpu_agent *a = &p->v[i];
		struct pvb_boost_view v;
		uint64_t before = __builtin_ia32_rdtsc();
		if (a->boosted && t - a->since_ms > p->max_ms) { /* bounded: then as long unboosted */
			unboost(p, i, t);
			a->cooldown_until_ms = t + p->max_ms;
			p->cooldowns++;
			continue;
		}
		if (pvb_boost_read(pvb_boost_slot(p->vm->boost, (unsigned)i), &lim, guest_now, &v, &p->st) ==
		    PVB_BOOST_READ_TORN)
			continue;
		/* the guest stamped before we read: host - guest is at most before - stamp. The first
		 * bound (guest_tsc_ready) was taken within a poll of the truth, so a stamp that claims
		 * more than 10 ms better is a lie: a guest cannot move the offset further than that */
		int64_t bound = (int64_t)(before - v.stamp_tsc);
		if (bound < p->offset && bound >= p->offset0 - (int64_t)p->khz * 10) {
			p->offset = bound;
			guest_now = host - (uint64_t)p->offset;
		}
		int due = v.cls == PVB_CLASS_IDLE && v.next_rt_tsc && guest_now + lead >= v.next_rt_tsc;
		int running_rt = v.cls == PVB_CLASS_RT;
		if (!a->boosted && due && t >= a->cooldown_until_ms) {
			boost(p, i, t);
			a->deadline = v.next_rt_tsc;
			if (p->nreact < MAX_REACT) { /* late by how much against deadline - lead */
				double late = ((double)(int64_t)(guest_now - (v.next_rt_tsc - lead))) / p->khz * 1000;
				p->react_us[p->nreact++] = late > 0 ? late : 0;
			}
		} else if (a->boosted && !running_rt && !(due || (v.cls == PVB_CLASS_IDLE && v.next_rt_tsc == a->deadline))) {
			unboost(p, i, t); /* idle again, its next deadline not due: the wake-up is over */
		}
	}
}

static void *agent(void *arg)
{
	struct predictive *p = arg;
	struct pvb_boost_hdr *h = p->vm->boost;
	struct timespec c0, c1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	while (!p->stop) {
		if (!p->negotiated) {
			const char *why = pvb_boost_host_check(h, p->vm->boost_size, (unsigned)p->nr, &p->features);
			if (!why) {
				p->negotiated = 1;
				/* the guest stamped its TSC just before guest_ready: host - guest, at most */
				p->offset = p->offset0 = (int64_t)(__builtin_ia32_rdtsc() - h->guest_tsc_ready);
			} else {
				snprintf(p->why_not, sizeof(p->why_not), "%s", why);
			}
		}
		if (p->negotiated && (p->features & PVB_BF_RT_DEADLINE))
			step(p);
		nanosleep(&(struct timespec){ 0, p->poll_us * 1000L }, NULL);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	p->cpu_ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
	return NULL;
}

static int prepare(struct policy *pol, char *err, size_t errlen)
{
	struct predictive *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	pol->priv = p;
	p->prio = (int)spec_int(pol->spec, "boost_prio");
	p->lead_us = (int)spec_int(pol->spec, "boost_lead_us");
	p->max_ms = (int)spec_int(pol->spec, "boost_max_ms");
	p->poll_us = (int)spec_int(pol->spec, "agent_poll_us");
	p->react_us = calloc(MAX_REACT, sizeof(double));
	if (!p->react_us)
		return -1;
	return sched_fifo_allowed(p->prio, err, errlen) ? 0 : -1;
}

static int start(struct policy *pol, const struct vm_view *vm, char *err, size_t errlen)
{
	struct predictive *p = pol->priv;

	if (!vm->boost) {
		snprintf(err, errlen, "no boost region offered");
		return -1;
	}
	p->vm = vm;
	p->nr = vm->nr_vcpus < VM_MAX_VCPUS ? vm->nr_vcpus : VM_MAX_VCPUS;
	p->khz = vm->tsc_khz;
	int e = pthread_create(&p->thread, NULL, agent, p);
	if (e) {
		snprintf(err, errlen, "agent thread: %s", strerror(e));
		return -1;
	}
	p->running = 1;
	return 0;
}

static void stop(struct policy *pol)
{
	struct predictive *p = pol->priv;
	double t = now_ms();

	if (!p)
		return;
	if (p->running) {
		p->stop = 1;
		pthread_join(p->thread, NULL);
		p->running = 0;
	}
	for (int i = 0; i < p->nr; i++) /* every path: nothing stays boosted */
		if (p->v[i].boosted)
			unboost(p, i, t);
}

static void counters(struct policy *pol, struct metric_set *out)
{
	struct predictive *p = pol->priv;
	double boosted = 0;

	if (!p)
		return;
	for (int i = 0; i < p->nr; i++) {
		metrics_add(out, "boosted_ms", "ms", i, p->v[i].boosted_ms);
		boosted += p->v[i].boosted_ms;
	}
	metrics_add(out, "boosted_ms", "ms", METRIC_CPU_ALL, boosted);
	metrics_add(out, "negotiated", "bool", METRIC_CPU_VM, p->negotiated);
	metrics_add(out, "boosts", "count", METRIC_CPU_VM, (double)p->boosts);
	metrics_add(out, "unboosts", "count", METRIC_CPU_VM, (double)p->unboosts);
	metrics_add(out, "cooldowns", "count", METRIC_CPU_VM, (double)p->cooldowns);
	metrics_add(out, "sched_errors", "count", METRIC_CPU_VM, (double)p->errors);
	metrics_add(out, "torn_reads", "count", METRIC_CPU_VM, (double)p->st.torn);
	metrics_add(out, "rejected_values", "count", METRIC_CPU_VM,
		    (double)(p->st.bad_class + p->st.prio_clamped + p->st.bad_flags + p->st.util_clamped +
			     p->st.rt_rejected));
	metrics_add(out, "agent_cpu", "ms", METRIC_CPU_VM, p->cpu_ms);
	if (p->nreact) {
		metrics_add(out, "reaction_p50", "us", METRIC_CPU_VM, stats_median(p->react_us, p->nreact));
		metrics_add(out, "reaction_max", "us", METRIC_CPU_VM, stats_max(p->react_us, p->nreact));
	}
}

static void destroy(struct policy *pol)
{
	struct predictive *p = pol->priv;
	if (p)
		free(p->react_us);
	free(p);
	pol->priv = NULL;
}

const struct policy_ops policy_predictive = {
	.name = "dynamic-predictive",
	.help = "boost each vCPU thread just before the guest's published RT deadline, unboost after",
	.keys = keys,
	.boost_region = 1,
	.prepare = prepare,
	.start = start,
	.stop = stop,
	.counters = counters,
	.destroy = destroy,
};
