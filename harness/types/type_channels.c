/* SPDX-License-Identifier: MIT */
/*
 * channels: the cost of one guest->host notification channel from one guest ring, on pvbench's
 * own VMM (seed 000's hypercall vs MMIO, seed 002's shared memory). One run = a fresh VM in its
 * own process (the engine's watchdog ends a vCPU that never returns), `count` notifications one
 * every `pace_us`. The guest times each (TSC around it); the host side counts deliveries and
 * when it saw each one (impl/vmm/channels.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channels.h"
#include "engine.h"
#include "hostinfo.h"
#include "pvb_channels.h"
#include "vm.h"
#include "vmm.h"

/* the channels are pvb_channels.h's table: a row each */
static const char *channel_choice(int i)
{
	const struct pvb_channel *k = chan_find(i);
	return k ? k->name : NULL;
}

static const char *mode_choice(int i)
{
	static const char *const m[] = { "paced", "back_to_back", NULL };
	return m[i];
}

static const struct key_def keys[] = {
	{ "channel", KT_CHOICE, 0, 0, KEY_LIST,
	  "none, hc_kvm, hc_exit, pio, mmio, ioeventfd_pio, ioeventfd_mmio, shm_busy, shm_poll, shm_doorbell",
	  "notification channel (pvbench channels --help says what each is)", .choice = channel_choice },
	{ "ring", KT_INT, 0, 3, KEY_LIST, "0, 3", "guest ring the notification is sent from (0 or 3)" },
	{ "count", KT_INT, 1, 100000, KEY_LIST, "1000", "notifications per run" },
	{ "pace_us", KT_INT, 1, 100000, KEY_LIST, "100", "the guest waits this long between notifications (paced)" },
	{ "mode", KT_CHOICE, 0, 0, KEY_LIST, "paced",
	  "paced: one notification every pace_us, a host thread waiting for each (when it was seen is "
	  "timed); back_to_back: notifications one after another and no host thread waiting or polling "
	  "(the notification's own cost, deliveries counted at the end)", .choice = mode_choice },
	{ "poll_us", KT_INT, 1, 1000000, KEY_LIST, "100", "shm_poll: the host thread's sleep between looks" },
	{ 0 },
};

static int cmpu(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int back_to_back(const struct run_spec *r)
{
	return !strcmp(spec_str(r, "mode"), "back_to_back");
}

/* what the guest may take: its notifications and a margin for boot */
static long long budget_ms(const struct run_spec *r)
{
	return 5000 + (back_to_back(r) ? 0 : spec_int(r, "count") * spec_int(r, "pace_us") / 1000 * 2);
}

static long long timeout_ms(const struct run_spec *r)
{
	return budget_ms(r) + 3000; /* the engine's watchdog: past the VMM's own */
}

static int check(const struct run_spec *r, char *err, size_t errlen)
{
	if (spec_int(r, "ring") != 0 && spec_int(r, "ring") != 3) {
		snprintf(err, errlen, "ring: the guest kernel sends from ring 0 or ring 3, not %lld",
			 spec_int(r, "ring"));
		return -1;
	}
	return 0;
}

static double ns(double cycles, unsigned khz)
{
	return cycles * 1e6 / khz;
}

/* The channel's host side lives as long as the vCPUs run; what the VMM counted is read before
 * the VM goes. */
struct chan_run {
	const struct pvb_channel *k;
	int ch;
	int poll_us, count, back_to_back;
	unsigned khz;
	struct chan_host h;
	struct run_result *out;
};

static int chan_prepare(void *arg, struct vmm *v, char *err, size_t errlen)
{
	struct chan_run *c = arg;
	if (c->k->how == PVB_HOW_HCALL && c->k->host == PVB_HOST_EXIT && chan_enable_exit_hypercall(v, err, errlen))
		return 1; /* this KVM cannot: a skip */
	return 0;
}

static int chan_start(void *arg, struct vmm *v, char *err, size_t errlen)
{
	struct chan_run *c = arg;
	return chan_host_start(&c->h, v, c->ch, c->poll_us, c->back_to_back, err, errlen);
}

static void chan_stop(void *arg, struct vmm *v)
{
	(void)v;
	chan_host_stop(&((struct chan_run *)arg)->h);
}

static void chan_ended(void *arg, struct vmm *v, struct vm_result *res)
{
	struct chan_run *c = arg;
	struct metric_set *vmm = &c->out->m[SIDE_VMM];
	uint64_t x;

	(void)res;
	metrics_add(&c->out->m[SIDE_HOST], "tsc_offset_window", "ns", PVB_LESS, METRIC_CPU_VM,
		    ns((double)v->tsc_offset_window, c->khz));
	metrics_add(vmm, "vmm_exits_per_op", "count", PVB_LESS, METRIC_CPU_VM, (double)v->vcpu[0].kvm_runs / c->count);
	if (vmm_vcpu_stat(&v->vcpu[0], "exits", &x) == 0)
		metrics_add(vmm, "kvm_exits_per_op", "count", PVB_LESS, METRIC_CPU_VM, (double)x / c->count);
	if (vmm_vcpu_stat(&v->vcpu[0], "hypercalls", &x) == 0)
		metrics_add(vmm, "kvm_hypercalls", "count", PVB_INFO, METRIC_CPU_VM, (double)x);
}

static void run(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	struct chan_run c = { .count = (int)spec_int(r, "count"), .khz = env->host->tsc_khz, .out = out };
	struct metric_set ms = { 0 };
	struct vm_result res;
	char job[256];

	while (strcmp(chan_find(c.ch)->name, spec_str(r, "channel"))) /* the key's choice: it is there */
		c.ch++;
	c.k = chan_find(c.ch);
	c.poll_us = c.k->poll ? (int)spec_int(r, "poll_us") : 0;
	c.back_to_back = back_to_back(r);
	int hc = c.k->how == PVB_HOW_HCALL;
	snprintf(job, sizeof(job), "workload=channel channel=%d ring=%lld count=%d pace_us=%lld",
		 c.ch | (hc && x86_cpu_is_amd() ? PVB_CH_AMD : 0), spec_int(r, "ring"), c.count,
		 c.back_to_back ? 0 : spec_int(r, "pace_us"));
	const struct vmm_extras ex = { .arg = &c, .prepare = chan_prepare, .start = chan_start, .stop = chan_stop,
				       .ended = chan_ended };
	const struct vm_spec s = { .kernel = env->kernel, .vcpus = 1, .mem_mb = 64, .job = job,
				   .timeout_ms = (int)budget_ms(r), .run_dir = env->run_dir,
				   .tsc_khz = c.khz, .extras = &ex };
	vm_run("pvbench", &s, NULL, &res);
	snprintf(out->vmm, sizeof(out->vmm), "%s", res.vmm);
	if (res.outcome != RUN_OK) {
		run_fail(out, res.outcome, "%s", res.reason);
		goto out;
	}
	metrics_from_record(res.record, &ms);
	/* the guest's figures: untrusted, each must be there */
	static const char *const cost[] = { "cost_p50", "cost_p99", "cost_p99.9", "notifications" };
	for (int i = 0; i < 4; i++) {
		const struct metric *m = metrics_find(&ms, cost[i], METRIC_CPU_VM);
		if (!m || m->value < 0) {
			run_fail(out, RUN_ERROR, "the guest's record lacks %s", cost[i]);
			goto out;
		}
		if (i == 3)
			metrics_add(&out->m[SIDE_GUEST], "notifications", "count", PVB_MORE, METRIC_CPU_VM, m->value);
		else
			metrics_add(&out->m[SIDE_GUEST], cost[i], "ns", PVB_LESS, METRIC_CPU_VM, ns(m->value, c.khz));
		if (i == 0)
			metrics_add(&out->m[SIDE_GUEST], "cost_p50_cycles", "cycles", PVB_LESS, METRIC_CPU_VM, m->value);
	}
	metrics_add(&out->m[SIDE_HOST], "delivered", "count", PVB_MORE, METRIC_CPU_VM, (double)c.h.delivered);
	if (c.h.nlat) {
		qsort(c.h.lat, c.h.nlat, sizeof(uint64_t), cmpu);
		metrics_add(&out->m[SIDE_HOST], "seen_after_p50", "ns", PVB_LESS, METRIC_CPU_VM,
			    ns((double)c.h.lat[c.h.nlat / 2], c.khz));
		metrics_add(&out->m[SIDE_HOST], "seen_after_p99", "ns", PVB_LESS, METRIC_CPU_VM,
			    ns((double)c.h.lat[c.h.nlat * 99 / 100], c.khz));
	}
out:
	free(c.h.lat);
	metrics_free(&ms);
	vm_result_free(&res);
}

/* for pvbench channels --help */
static void describe(FILE *f)
{
	const struct pvb_channel *k;
	for (int i = 0; (k = chan_find(i)); i++)
		fprintf(f, "  %-16s %s\n", k->name, k->help);
}

const struct exp_type type_channels = {
	.name = "channels",
	.help = "cost of one guest->host notification channel from one guest ring (own VMM)",
	.keys = keys,
	.needs_kvm = 1,
	.isolate = 1,
	.describe = describe,
	.rows = "channel",
	.columns = "ring",
	.metrics = "cost_p50,cost_p99,seen_after_p50,vmm_exits_per_op,kvm_exits_per_op,delivered",
	.check = check,
	.timeout_ms = timeout_ms,
	.run = run,
};
