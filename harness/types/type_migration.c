/* SPDX-License-Identifier: MIT */
/*
 * migration: a live pre-copy migration of a running guest-kernel guest under a dirtying load
 * (seed 003). This file is its QEMU reference: two local QEMU processes, the source running the
 * dirtier and the destination started with -incoming on a unix socket and held paused (-S), QMP's
 * migrate with max-bandwidth = b, and a throttle: none, or QEMU's auto-converge. Every 100 ms the
 * run samples query-migrate and the guest's own progress page (pvb_progress.h), from whichever
 * QEMU holds the guest then, into the run directory's migrate.csv. Once the migration completes
 * and the destination is paused, every page of the destination's RAM is compared with the
 * source's final image; a page that differs fails the run. Then the destination runs on, the
 * guest's progress must advance there, and the guest is asked to finish and checks its own pages.
 * A migration that has not completed by `deadline` is cancelled: the run is stored as ok with
 * converged = 0 (the seed's "unconverged"), its time left out.
 *
 * pvbench's own VMM and the dirty-quota strategy need KVM (dirty ring): vmm = pvbench and
 * throttle = dirty-limit are skipped with the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "engine.h"
#include "freqemu.h"
#include "hostinfo.h"
#include "metrics.h"
#include "qemu.h"
#include "qemu_migrate.h"
#include "vm.h"

static const char *throttle_choice(int i)
{
	static const char *const v[] = { "none", "auto-converge", "dirty-limit", NULL };
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
	  "none, auto-converge (QEMU's) or dirty-limit (QEMU's per-vCPU limit: needs KVM's dirty ring)",
	  .choice = throttle_choice },
	{ "throttle_initial", KT_INT, 1, 99, KEY_LIST, "20", "auto-converge: first throttle, %" },
	{ "throttle_increment", KT_INT, 1, 99, KEY_LIST, "10", "auto-converge: added each time, %" },
	{ "migrate_after", KT_DURATION, 100, 600000, KEY_LIST, "1s", "the guest dirties this long before migration" },
	{ "deadline", KT_DURATION, 1000, 3600000, KEY_LIST, "20s", "not completed by then: cancelled, unconverged" },
	{ "run_after", KT_DURATION, 100, 600000, KEY_LIST, "1s", "the guest runs on at the destination this long" },
	{ 0 },
};

static void sleep_ms(double ms)
{
	struct timespec t = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6) };
	nanosleep(&t, NULL);
}

/* the guest's progress (pvb_progress.h): totals of writers and readers, each vCPU's into per */
static int progress(const unsigned char *mem, int vcpus, int writers, double *wr, double *rd, double *per)
{
	if (vm_progress_read(mem, vcpus, per))
		return -1;
	*wr = *rd = 0;
	for (int i = 0; i < vcpus; i++)
		*(i < writers ? wr : rd) += per[i];
	return 0;
}

/* each migration sample: its line in migrate.csv, the highest throttle, the guest's progress */
struct watch {
	FILE *csv;
	double t_mig, max_throttle, w, rd, per[VM_MAX_VCPUS];
	const unsigned char *mem;
	int vcpus, writers;
};

static void each_sample(void *arg, const struct qemu_migrate_sample *s)
{
	struct watch *x = arg;
	x->max_throttle = s->throttle_pct > x->max_throttle ? s->throttle_pct : x->max_throttle;
	progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	if (x->csv)
		fprintf(x->csv, "%.0f,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f\n", mono_ms() - x->t_mig, s->status,
			s->transferred, s->remaining, s->dirty_pages_rate, s->dirty_syncs,
			s->throttle_pct < 0 ? 0 : s->throttle_pct, x->w, x->rd);
}

struct phase_rate { double t0, w0, r0, t1, w1, r1; int have; };

static void rate_mark(struct phase_rate *p, int end, double t, double w, double r)
{
	if (!end) {
		p->t0 = t, p->w0 = w, p->r0 = r;
		p->have = 1;
	} else if (p->have) {
		p->t1 = t, p->w1 = w, p->r1 = r;
		p->have = 2;
	}
}

static void rate_out(struct metric_set *m, const char *name, const struct phase_rate *p)
{
	char n[48];
	if (p->have != 2 || p->t1 <= p->t0)
		return;
	snprintf(n, sizeof(n), "guest_write_%s", name);
	metrics_add(m, n, "MB/s", PVB_MORE, METRIC_CPU_VM, (p->w1 - p->w0) / 1e3 / (p->t1 - p->t0));
	snprintf(n, sizeof(n), "guest_read_%s", name);
	metrics_add(m, n, "MB/s", PVB_MORE, METRIC_CPU_VM, (p->r1 - p->r0) / 1e3 / (p->t1 - p->t0));
}

static void run(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	int tcg = !strcmp(spec_str(r, "accel"), "tcg"), vcpus = (int)spec_int(r, "vcpus"),
	    writers = (int)spec_int(r, "writers");
	char job[512], sock[600], uri[620], dst_dir[600], csv_path[600], st[32];
	struct qemu_vm src = { .memfd = -1, .mem = MAP_FAILED }, dst = { .memfd = -1, .mem = MAP_FAILED };
	struct vm_result sr, dr;
	struct metric_set *m = &out->m[SIDE_VMM];
	FILE *csv = NULL;
	struct phase_rate before = { 0 }, during = { 0 }, after = { 0 };

	memset(&sr, 0, sizeof(sr));
	memset(&dr, 0, sizeof(dr));
	if (strcmp(spec_str(r, "vmm"), "qemu")) {
		run_fail(out, RUN_SKIPPED, "unavailable: pvbench's own migration engine is not built yet (it needs KVM's dirty ring, absent here)");
		return;
	}
	if (!tcg && env->host->no_kvm[0]) {
		run_fail(out, RUN_SKIPPED, "unavailable: %s", env->host->no_kvm);
		return;
	}
	if (!strcmp(spec_str(r, "throttle"), "dirty-limit")) {
		run_fail(out, RUN_SKIPPED, "unavailable: QEMU's dirty limit (set-vcpu-dirty-limit) needs KVM's dirty ring "
			 "(-accel kvm,dirty-ring-size=N); pvbench does not drive it yet");
		return;
	}
	long long size_mb = spec_int(r, "size_mb");
	int mem_mb = (int)(size_mb + 64);
	snprintf(job, sizeof(job), "workload=dirtier size_mb=%lld writers=%d rate_mbps=%lld duration_ms=%lld",
		 size_mb, writers, spec_int(r, "rate_mbps"), 3600000LL);
	snprintf(sock, sizeof(sock), "%s/migrate.sock", env->run_dir);
	snprintf(uri, sizeof(uri), "unix:%s", sock);
	snprintf(dst_dir, sizeof(dst_dir), "%s/destination", env->run_dir);
	snprintf(csv_path, sizeof(csv_path), "%s/migrate.csv", env->run_dir);
	unlink(sock);
	mkdir(dst_dir, 0755);
	double deadline = (double)spec_int(r, "deadline"), budget = deadline + (double)spec_int(r, "migrate_after") +
									 (double)spec_int(r, "run_after") + 60000;
	struct vm_spec ss = { .kernel = env->kernel, .vcpus = vcpus, .mem_mb = mem_mb, .job = job,
			      .timeout_ms = (int)budget, .run_dir = env->run_dir, .tsc_khz = env->host->tsc_khz,
			      .tcg = tcg };
	struct vm_spec ds = ss;
	ds.run_dir = dst_dir;

	if (qemu_vm_start(&dst, &ds, uri, &dr) || qemu_vm_start(&src, &ss, NULL, &sr)) {
		run_fail(out, RUN_ERROR, "%s", dr.outcome ? dr.reason : sr.reason);
		goto done;
	}
	snprintf(out->vmm, sizeof(out->vmm), "%s%s", sr.vmm, tcg ? ": not a latency measurement" : "");
	int tids[VM_MAX_VCPUS];
	char err[300];
	if (qmp_vcpu_tids(src.q, tids, VM_MAX_VCPUS, err, sizeof(err)) != vcpus) {
		run_fail(out, RUN_ERROR, "source vCPU threads: %s", err);
		goto done;
	}
	/* the guest boots and dirties for migrate_after, from its first progress */
	double t_boot = mono_ms(), w, rd, per[VM_MAX_VCPUS];
	while (progress(src.mem, vcpus, writers, &w, &rd, per)) {
		if (child_poll(&src.c) || mono_ms() - t_boot > 60000 || pvb_interrupted) {
			run_fail(out, pvb_interrupted ? RUN_INTERRUPTED : RUN_ERROR,
				 "the guest never started dirtying (see console.log)");
			goto done;
		}
		sleep_ms(10);
	}
	rate_mark(&before, 0, mono_ms(), w, rd);
	sleep_ms((double)spec_int(r, "migrate_after"));
	progress(src.mem, vcpus, writers, &w, &rd, per);
	double t_mig = mono_ms();
	rate_mark(&before, 1, t_mig, w, rd);
	rate_mark(&during, 0, t_mig, w, rd);
	int64_t cpu0[VM_MAX_VCPUS];
	for (int i = 0; i < vcpus; i++)
		cpu0[i] = thread_cpu_us(tids[i]);
	struct qemu_migrate_params mp = {
		.bandwidth_bps = (double)spec_int(r, "bandwidth_mbps") * 1e6, .downtime_ms = (int)spec_int(r, "downtime_ms"),
		.auto_converge = !strcmp(spec_str(r, "throttle"), "auto-converge"),
		.throttle_initial = (int)spec_int(r, "throttle_initial"),
		.throttle_increment = (int)spec_int(r, "throttle_increment"),
	};
	if (qemu_migrate_start(&src, uri, &mp, err, sizeof(err))) {
		run_fail(out, RUN_ERROR, "source: %s", err);
		goto done;
	}

	struct watch wa = { .csv = fopen(csv_path, "w"), .t_mig = t_mig, .mem = src.mem, .vcpus = vcpus, .writers = writers };
	csv = wa.csv;
	if (csv)
		fprintf(csv, "t_ms,status,transferred,remaining,dirty_pages_rate,dirty_sync_count,throttle_pct,guest_written,guest_read\n");
	struct qemu_migrate_sample ms = { .status = "" };
	enum qemu_migrate_end end = qemu_migrate_watch(&src, &dst, vm_now_ms() + deadline, each_sample, &wa, &ms, err,
							sizeof(err));
	if (end == QM_FAILED || end == QM_INTERRUPTED) {
		run_fail(out, end == QM_FAILED ? RUN_ERROR : RUN_INTERRUPTED, "%s",
			 end == QM_FAILED ? err : "interrupted (signal)");
		goto done;
	}
	double t_done = end == QM_COMPLETED ? mono_ms() : 0, max_throttle = wa.max_throttle;
	w = wa.w, rd = wa.rd;
	rate_mark(&during, 1, mono_ms(), w, rd);
	int converged = t_done > 0;
	double rt[2] = { 0, 0 };
	int nrt[2] = { 0, 0 };
	for (int i = 0; i < vcpus; i++) { /* the share of wall time each vCPU thread really ran */
		int64_t c = thread_cpu_us(tids[i]);
		if (c < 0 || cpu0[i] < 0)
			continue;
		double pct = (double)(c - cpu0[i]) / 10 / (mono_ms() - t_mig);
		metrics_add(m, "runtime_pct", "%", PVB_MORE, i, pct);
		rt[i >= writers] += pct; /* writers, then readers: seed 003's table B */
		nrt[i >= writers]++;
	}
	if (nrt[0])
		metrics_add(m, "runtime_pct_writers", "%", PVB_MORE, METRIC_CPU_VM, rt[0] / nrt[0]);
	if (nrt[1])
		metrics_add(m, "runtime_pct_readers", "%", PVB_MORE, METRIC_CPU_VM, rt[1] / nrt[1]);
	metrics_add(m, "converged", "bool", PVB_MORE, METRIC_CPU_VM, converged);
	metrics_add(m, "throttle_max", "%", PVB_LESS, METRIC_CPU_VM, max_throttle);
	metrics_add(m, "passes", "count", PVB_INFO, METRIC_CPU_VM, ms.dirty_syncs);
	metrics_add(m, "transferred", "MB", PVB_LESS, METRIC_CPU_VM, ms.transferred / 1e6);
	metrics_add(m, "pages_sent", "count", PVB_LESS, METRIC_CPU_VM, ms.normal_pages);
	metrics_add(m, "pages_zero", "count", PVB_INFO, METRIC_CPU_VM, ms.zero_pages);
	if (!converged) {
		metrics_add(m, "unconverged", "count", PVB_LESS, METRIC_CPU_VM, 1);
		vm_progress_stop(src.mem); /* the source finishes */
		child_wait(&src.c, 30000);
		qemu_vm_outcome(&src, !src.c.exited, &sr);
		if (sr.record)
			metrics_from_record(sr.record, &out->m[SIDE_GUEST]);
		goto done;
	}
	metrics_add(m, "total_time", "ms", PVB_LESS, METRIC_CPU_VM, ms.total_ms);
	metrics_add(m, "downtime", "ms", PVB_LESS, METRIC_CPU_VM, ms.downtime_ms);
	metrics_add(m, "setup_time", "ms", PVB_LESS, METRIC_CPU_VM, ms.setup_ms);
	metrics_add(m, "harness_time", "ms", PVB_LESS, METRIC_CPU_VM, t_done - t_mig);
	if (ms.total_ms > 0)
		metrics_add(m, "link_mbps", "MB/s", PVB_MORE, METRIC_CPU_VM, ms.transferred / 1e3 / ms.total_ms);

	/* the destination has the whole state once it leaves inmigrate (paused: -S) */
	if (qemu_wait_state_not(&dst, "inmigrate", 30000, st, sizeof(st)) || strcmp(st, "paused")) {
		run_fail(out, RUN_ERROR, "destination: status %s after the migration, not paused", st);
		goto done;
	}
	double t_v = mono_ms();
	char where[200] = "";
	long long differ = qemu_ram_pages_differ(&src, &dst, where, sizeof(where));
	metrics_add(m, "verify_ms", "ms", PVB_LESS, METRIC_CPU_VM, mono_ms() - t_v);
	metrics_add(m, "pages_differ", "count", PVB_LESS, METRIC_CPU_VM, (double)differ);
	if (differ) {
		/* a failed run; the guest still runs on and checks its own pages: its word is stored too */
		run_fail(out, RUN_FAILED, "%lld of %zu pages differ between the source's final image and the destination, %s",
			 differ, src.mem_size / 4096, where);
	}
	qemu_vm_stop(&src); /* the source is done: the guest lives at the destination now */
	cJSON *x = qmp_call(dst.q, "cont", NULL, err, sizeof(err));
	if (!x) {
		run_fail(out, RUN_ERROR, "destination: cont: %s", err);
		goto done;
	}
	cJSON_Delete(x);
	progress(dst.mem, vcpus, writers, &w, &rd, per);
	rate_mark(&after, 0, mono_ms(), w, rd);
	sleep_ms((double)spec_int(r, "run_after"));
	if (progress(dst.mem, vcpus, writers, &w, &rd, per) == 0)
		rate_mark(&after, 1, mono_ms(), w, rd);
	if (after.have != 2 || (after.w1 <= after.w0 && after.r1 <= after.r0)) {
		run_fail(out, RUN_FAILED, "the guest made no progress at the destination");
		goto done;
	}
	vm_progress_stop(dst.mem);
	if (!child_wait(&dst.c, 30000)) {
		run_fail(out, RUN_TIMEOUT, "the guest did not finish at the destination 30 s after it was asked");
		goto done;
	}
	qemu_vm_outcome(&dst, 0, &dr);
	if (dr.outcome != RUN_OK)
		run_fail(out, dr.outcome == RUN_FAILED ? RUN_FAILED : dr.outcome == RUN_CRASHED ? RUN_CRASHED : RUN_ERROR,
			 "destination: %s", dr.reason);
	if (dr.record)
		metrics_from_record(dr.record, &out->m[SIDE_GUEST]);
done:
	rate_out(m, "before", &before);
	rate_out(m, "during", &during);
	rate_out(m, "after", &after);
	if (csv)
		fclose(csv);
	qemu_vm_stop(&src);
	qemu_vm_stop(&dst);
	vm_result_free(&sr);
	vm_result_free(&dr);
	unlink(sock);
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
	return 0;
}

const struct exp_type type_migration = {
	.name = "migration",
	.help = "live migration of a dirtying guest: QEMU's pre-copy (none, auto-converge), every page verified",
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
