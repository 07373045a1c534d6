/* SPDX-License-Identifier: MIT */
/*
 * migration: a live pre-copy migration of a running guest-kernel guest under a dirtying load
 * (seed 003). This file is the type: its keys, what a host cannot do (a skip with the reason),
 * and what both engines measure alike (migration.h). The engines: QEMU's, the reference
 * (migration_qemu.c), and pvbench's own (migration_own.c over impl/migration), chosen by `vmm`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "freqemu.h"
#include "hostinfo.h"
#include "metrics.h"
#include "migration.h"
#include "vm.h"
#include "vmm.h"

static const char *throttle_choice(int i)
{
	static const char *const v[] = { "none", "auto-converge", "dirty-quota", "dirty-limit", NULL };
	return v[i];
}

static const char *track_choice(int i)
{
	static const char *const v[] = { "ring", "log", NULL };
	return v[i];
}

static const struct key_def keys[] = {
	{ "vmm", KT_CHOICE, 0, 0, KEY_LIST, "qemu", "qemu (the reference) or pvbench (its own engine: needs KVM)",
	  .choice = vm_backend_choice },
	{ "accel", KT_CHOICE, 0, 0, KEY_LIST, "kvm", "kvm, or tcg (QEMU's emulator: functional, no timing is real)",
	  .choice = vm_accel_choice },
	{ "vcpus", KT_INT, 1, 16, KEY_LIST, "2", "vCPUs (n of them write, the rest read)" },
	{ "size_mb", KT_INT, 1, 4096, KEY_LIST, "128", "m: memory the guest dirties, MiB" },
	{ "writers", KT_INT, 0, 16, KEY_LIST, "1", "n: writer vCPUs" },
	{ "rate_mbps", KT_INT, 0, 100000, KEY_LIST, "0", "l: each writer's dirty rate, MB/s of pages (0: flat out)" },
	{ "bandwidth_mbps", KT_INT, 1, 100000, KEY_LIST, "200", "b: the link, MB/s (QEMU's max-bandwidth)" },
	{ "downtime_ms", KT_INT, 1, 100000, KEY_LIST, "300", "the downtime target (QEMU's downtime-limit)" },
	{ "throttle", KT_CHOICE, 0, 0, KEY_LIST, "none",
	  "none, auto-converge (time-based, as QEMU's), dirty-quota (seed 003's per-vCPU budget: vmm = pvbench) "
	  "or dirty-limit (QEMU's per-vCPU limit)", .choice = throttle_choice },
	{ "throttle_initial", KT_INT, 1, 99, KEY_LIST, "20", "auto-converge: first throttle, %" },
	{ "throttle_increment", KT_INT, 1, 99, KEY_LIST, "10", "auto-converge: added each time, %" },
	{ "dirty_track", KT_CHOICE, 0, 0, KEY_LIST, "ring",
	  "vmm = pvbench: how the engine finds dirty pages: ring (KVM's per-vCPU dirty ring) or log "
	  "(KVM_GET_DIRTY_LOG); dirty-quota needs ring", .choice = track_choice },
	{ "quota_interval", KT_DURATION, 1, 1000, KEY_LIST, "10ms", "dirty-quota: how long a budget lasts" },
	{ "quota_share", KT_INT, 1, 100, KEY_LIST, "50",
	  "dirty-quota: the VM may dirty this % of what the link sends; dirty-limit: every vCPU gets its even part" },
	{ "migrate_after", KT_DURATION, 100, 600000, KEY_LIST, "1s", "the guest dirties this long before migration" },
	{ "deadline", KT_DURATION, 1000, 3600000, KEY_LIST, "20s", "not completed by then: cancelled, unconverged" },
	{ "run_after", KT_DURATION, 100, 600000, KEY_LIST, "1s", "the guest runs on at the destination this long" },
	{ 0 },
};

int mig_progress(const unsigned char *mem, int vcpus, int writers, double *wr, double *rd, double *per)
{
	if (vm_progress_read(mem, vcpus, per))
		return -1;
	*wr = *rd = 0;
	for (int i = 0; i < vcpus; i++)
		*(i < writers ? wr : rd) += per[i];
	return 0;
}

void rate_mark(struct phase_rate *p, int end, double t, double w, double r)
{
	if (!end) {
		p->t0 = t, p->w0 = w, p->r0 = r;
		p->have = 1;
	} else if (p->have) {
		p->t1 = t, p->w1 = w, p->r1 = r;
		p->have = 2;
	}
}

void rate_out(struct metric_set *m, const char *name, const struct phase_rate *p)
{
	char n[48];
	if (p->have != 2 || p->t1 <= p->t0)
		return;
	snprintf(n, sizeof(n), "guest_write_%s", name);
	metrics_add(m, n, "MB/s", PVB_MORE, METRIC_CPU_VM, (p->w1 - p->w0) / 1e3 / (p->t1 - p->t0));
	snprintf(n, sizeof(n), "guest_read_%s", name);
	metrics_add(m, n, "MB/s", PVB_MORE, METRIC_CPU_VM, (p->r1 - p->r0) / 1e3 / (p->t1 - p->t0));
}

void mig_runtime(struct metric_set *m, const int *tids, const int64_t *cpu0, int vcpus, int writers, double wall_ms)
{
	double rt[2] = { 0, 0 };
	int nrt[2] = { 0, 0 };
	for (int i = 0; i < vcpus && wall_ms > 0; i++) {
		int64_t c = thread_cpu_us(tids[i]);
		if (c < 0 || cpu0[i] < 0)
			continue;
		double pct = (double)(c - cpu0[i]) / 10 / wall_ms;
		metrics_add(m, "runtime_pct", "%", PVB_MORE, i, pct);
		rt[i >= writers] += pct; /* writers, then readers: seed 003's table B */
		nrt[i >= writers]++;
	}
	if (nrt[0])
		metrics_add(m, "runtime_pct_writers", "%", PVB_MORE, METRIC_CPU_VM, rt[0] / nrt[0]);
	if (nrt[1])
		metrics_add(m, "runtime_pct_readers", "%", PVB_MORE, METRIC_CPU_VM, rt[1] / nrt[1]);
	if (nrt[0] + nrt[1]) /* the seed's figure: every vCPU's, averaged */
		metrics_add(m, "runtime_pct_all", "%", PVB_MORE, METRIC_CPU_VM, (rt[0] + rt[1]) / (nrt[0] + nrt[1]));
}

/* What this host or this pvbench cannot do is a skip with its reason; NULL if it can. */
static const char *unavailable(const struct run_spec *r, const struct run_env *env, int tcg)
{
	static char why[320];
	const char *throttle = spec_str(r, "throttle");
	int own = !strcmp(spec_str(r, "vmm"), "pvbench");
	if (own && tcg)
		return "unavailable: pvbench's own VMM runs under KVM only (no TCG)";
	if (!tcg && env->host->no_kvm[0]) {
		snprintf(why, sizeof(why), "%s%s", env->host->no_kvm,
			 own ? "" : "; accel = tcg runs it under QEMU's emulator (functional, no real timing)");
		return why;
	}
	if (!own && !strcmp(throttle, "dirty-quota"))
		return "unavailable: the dirty quota is pvbench's own engine's (vmm = pvbench); QEMU has no such throttle";
	if (own && !strcmp(throttle, "dirty-limit"))
		return "unavailable: the dirty limit is QEMU's (vmm = qemu)";
	if (!own && !strcmp(throttle, "dirty-limit") && tcg)
		return "unavailable: QEMU's dirty limit needs KVM's dirty ring; TCG has none";
	if ((own && !strcmp(spec_str(r, "dirty_track"), "ring")) || (!own && !strcmp(throttle, "dirty-limit"))) {
		char err[200];
		int max = vmm_check_cap(KVM_CAP_DIRTY_LOG_RING, err, sizeof(err));
		if (max < 65536) {
			snprintf(why, sizeof(why), "unavailable: KVM's dirty ring (KVM_CAP_DIRTY_LOG_RING = %d bytes, "
				 "64 KiB needed)%s", max, own && !strcmp(throttle, "none") ? "; dirty_track = log works" : "");
			return why;
		}
	}
	return NULL;
}

static void run(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	const char *why = unavailable(r, env, !strcmp(spec_str(r, "accel"), "tcg"));
	if (why)
		run_fail(out, RUN_SKIPPED, "%s%s", strncmp(why, "unavailable:", 12) ? "unavailable: " : "", why);
	else if (!strcmp(spec_str(r, "vmm"), "pvbench"))
		migration_run_own(r, env, out);
	else
		migration_run_qemu(r, env, out);
}

static long long timeout_ms(const struct run_spec *r)
{
	return spec_int(r, "deadline") + spec_int(r, "migrate_after") + spec_int(r, "run_after") + 120000;
}

static int check(const struct run_spec *r, char *err, size_t errlen)
{
	if (spec_int(r, "writers") > spec_int(r, "vcpus")) {
		snprintf(err, errlen, "writers: at most vcpus (%lld)", spec_int(r, "vcpus"));
		return -1;
	}
	if (!strcmp(spec_str(r, "throttle"), "dirty-quota") && !strcmp(spec_str(r, "dirty_track"), "log")) {
		snprintf(err, errlen, "throttle = dirty-quota counts each vCPU's pages: it needs dirty_track = ring");
		return -1;
	}
	return 0;
}

const struct exp_type type_migration = {
	.name = "migration",
	.help = "live migration of a dirtying guest: QEMU's pre-copy or pvbench's own (none, auto-converge, "
		"dirty-quota), every page verified",
	.keys = keys,
	.isolate = 1,
	.timeout_ms = timeout_ms,
	.rows = "size_mb",
	.columns = "throttle",
	.metrics = "total_time,downtime,passes,transferred,throttle_max,runtime_pct,converged",
	.baseline = "throttle=none",
	.check = check,
	.run = run,
};
