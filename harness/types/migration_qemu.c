/* SPDX-License-Identifier: MIT */
/*
 * The migration type's QEMU reference (migration.h): two local QEMU processes, the source running
 * the dirtier and the destination started with -incoming on a unix socket and held paused (-S),
 * QMP's migrate with max-bandwidth = b, and a throttle: none, QEMU's auto-converge, or its per-vCPU
 * dirty limit (set-vcpu-dirty-limit over KVM's dirty ring: every vCPU an even part of the budget
 * the dirty quota gives the VM). Every 100 ms the run samples query-migrate and the guest's own
 * progress page (pvb_progress.h), from whichever QEMU holds the guest then, into the run
 * directory's migrate.csv. Once the migration completes and the destination is paused, every page
 * of the destination's RAM is compared with the source's final image; a page that differs fails
 * the run. Then the destination runs on, the guest's progress must advance there, and the guest is
 * asked to finish and checks its own pages. Not completed by `deadline`: cancelled, stored as ok
 * with converged = 0 (the seed's "unconverged"), its time left out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "freqemu.h"
#include "hostinfo.h"
#include "migration.h"
#include "qemu.h"
#include "qemu_migrate.h"
#include "store.h"
#include "vm.h"

static void sleep_ms(double ms)
{
	struct timespec t = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6) };
	nanosleep(&t, NULL);
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
	mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	if (x->csv)
		fprintf(x->csv, "%.0f,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f\n", mono_ms() - x->t_mig, s->status,
			s->transferred, s->remaining, s->dirty_pages_rate, s->dirty_syncs,
			s->throttle_pct < 0 ? 0 : s->throttle_pct, x->w, x->rd);
}

/* One migration, phase by phase: boot both ends, let the guest dirty, migrate under the
 * throttle, check the destination's memory page by page, resume it there. Each phase returns 0
 * to go on, or -1 with the run failed (out says why). */
struct mig_run {
	const struct run_spec *r;
	struct run_result *out;
	struct metric_set *m;            /* the VMM side: what the migration did */
	int tcg, vcpus, writers, tids[VM_MAX_VCPUS];
	char sock[600], uri[620], dst_dir[600], csv_path[600], job[512];
	struct vm_spec ss, ds;           /* the QEMU processes keep pointers to these: they live as long */
	struct qemu_vm src, dst;
	struct vm_result sr, dr;
	struct phase_rate before, during, after;
	double t_mig, w, rd, per[VM_MAX_VCPUS];
	int64_t cpu0[VM_MAX_VCPUS];
	struct qemu_migrate_sample ms;
	int converged;
};

/* both ends up (the destination waiting for the stream), the guest dirtying for migrate_after */
static int boot(struct mig_run *x, const struct run_env *env)
{
	char err[300];
	long long size_mb = spec_int(x->r, "size_mb");
	snprintf(x->job, sizeof(x->job), "workload=dirtier size_mb=%lld writers=%d rate_mbps=%lld duration_ms=%lld",
		 size_mb, x->writers, spec_int(x->r, "rate_mbps"), 3600000LL);
	double budget = (double)(spec_int(x->r, "deadline") + spec_int(x->r, "migrate_after") +
				 spec_int(x->r, "run_after") + 60000);
	x->ss = (struct vm_spec){ .kernel = env->kernel, .vcpus = x->vcpus, .mem_mb = (int)(size_mb + 64), .job = x->job,
				  .timeout_ms = (int)budget, .run_dir = env->run_dir, .tsc_khz = env->host->tsc_khz,
				  .tcg = x->tcg };
	x->ds = x->ss;
	x->ds.run_dir = x->dst_dir;
	if (!strcmp(spec_str(x->r, "throttle"), "dirty-limit"))
		x->ss.dirty_ring = 1024; /* the source's: QEMU holds a vCPU over its limit when its ring fills,
					    so a ring smaller than a writer's slice (QEMU's least) */
	if (qemu_vm_start(&x->dst, &x->ds, x->uri, &x->dr) || qemu_vm_start(&x->src, &x->ss, NULL, &x->sr)) {
		run_fail(x->out, RUN_ERROR, "%s", x->dr.outcome ? x->dr.reason : x->sr.reason);
		return -1;
	}
	snprintf(x->out->vmm, sizeof(x->out->vmm), "%s%s", x->sr.vmm, x->tcg ? STORE_TCG_MARK : "");
	if (qmp_vcpu_tids(x->src.q, x->tids, VM_MAX_VCPUS, err, sizeof(err)) != x->vcpus) {
		run_fail(x->out, RUN_ERROR, "source vCPU threads: %s", err);
		return -1;
	}
	/* the guest boots and dirties for migrate_after, from its first progress */
	double t_boot = mono_ms();
	while (mig_progress(x->src.mem, x->vcpus, x->writers, &x->w, &x->rd, x->per)) {
		if (child_poll(&x->src.c) || mono_ms() - t_boot > 60000 || pvb_interrupted) {
			run_fail(x->out, pvb_interrupted ? RUN_INTERRUPTED : RUN_ERROR,
				 "the guest never started dirtying (see console.log)");
			return -1;
		}
		sleep_ms(10);
	}
	rate_mark(&x->before, 0, mono_ms(), x->w, x->rd);
	sleep_ms((double)spec_int(x->r, "migrate_after"));
	return 0;
}

/* what the migration cost: each vCPU thread's share of the wall time, throttle, passes, bytes */
static void measure(struct mig_run *x, double max_throttle, double t_done)
{
	struct metric_set *m = x->m;
	mig_runtime(m, x->tids, x->cpu0, x->vcpus, x->writers, mono_ms() - x->t_mig);
	metrics_add(m, "converged", "bool", PVB_MORE, METRIC_CPU_VM, x->converged);
	metrics_add(m, "throttle_max", "%", PVB_LESS, METRIC_CPU_VM, max_throttle);
	metrics_add(m, "passes", "count", PVB_INFO, METRIC_CPU_VM, x->ms.dirty_syncs);
	metrics_add(m, "transferred", "MB", PVB_LESS, METRIC_CPU_VM, x->ms.transferred / 1e6);
	metrics_add(m, "pages_sent", "count", PVB_LESS, METRIC_CPU_VM, x->ms.normal_pages);
	metrics_add(m, "pages_zero", "count", PVB_INFO, METRIC_CPU_VM, x->ms.zero_pages);
	if (!x->converged) {
		metrics_add(m, "unconverged", "count", PVB_LESS, METRIC_CPU_VM, 1);
		return;
	}
	metrics_add(m, "total_time", "ms", PVB_LESS, METRIC_CPU_VM, x->ms.total_ms);
	metrics_add(m, "downtime", "ms", PVB_LESS, METRIC_CPU_VM, x->ms.downtime_ms);
	metrics_add(m, "setup_time", "ms", PVB_LESS, METRIC_CPU_VM, x->ms.setup_ms);
	metrics_add(m, "harness_time", "ms", PVB_LESS, METRIC_CPU_VM, t_done - x->t_mig);
	if (x->ms.total_ms > 0)
		metrics_add(m, "link_mbps", "MB/s", PVB_MORE, METRIC_CPU_VM, x->ms.transferred / 1e3 / x->ms.total_ms);
}

/* the migration under its throttle, sampled into migrate.csv, until done or the deadline */
static int migrate(struct mig_run *x)
{
	char err[300];
	mig_progress(x->src.mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	x->t_mig = mono_ms();
	rate_mark(&x->before, 1, x->t_mig, x->w, x->rd);
	rate_mark(&x->during, 0, x->t_mig, x->w, x->rd);
	for (int i = 0; i < x->vcpus; i++)
		x->cpu0[i] = thread_cpu_us(x->tids[i]);
	struct qemu_migrate_params mp = {
		.bandwidth_bps = (double)spec_int(x->r, "bandwidth_mbps") * 1e6,
		.downtime_ms = (int)spec_int(x->r, "downtime_ms"),
		.auto_converge = !strcmp(spec_str(x->r, "throttle"), "auto-converge"),
		.throttle_initial = (int)spec_int(x->r, "throttle_initial"),
		.throttle_increment = (int)spec_int(x->r, "throttle_increment"),
	};
	/* QEMU's dirty limit is the same for every vCPU: the budget the dirty quota gives the VM
	 * (quota_share of the link), split evenly */
	if (!strcmp(spec_str(x->r, "throttle"), "dirty-limit")) {
		mp.vcpu_dirty_limit_mbps = (double)(spec_int(x->r, "bandwidth_mbps") * spec_int(x->r, "quota_share") /
						    100 / x->vcpus); /* QEMU takes whole MB/s */
		if (mp.vcpu_dirty_limit_mbps < 1)
			mp.vcpu_dirty_limit_mbps = 1;
	}
	double limit = 0;
	if (qemu_migrate_start(&x->src, x->uri, &mp, &limit, err, sizeof(err))) {
		run_fail(x->out, RUN_ERROR, "source: %s", err);
		return -1;
	}
	struct watch wa = { .csv = fopen(x->csv_path, "w"), .t_mig = x->t_mig, .mem = x->src.mem, .vcpus = x->vcpus,
			    .writers = x->writers };
	if (wa.csv)
		fprintf(wa.csv, "t_ms,status,transferred,remaining,dirty_pages_rate,dirty_sync_count,throttle_pct,"
				"guest_written,guest_read\n");
	x->ms = (struct qemu_migrate_sample){ .status = "" };
	if (mp.vcpu_dirty_limit_mbps > 0) /* as QEMU has it: the lowest vCPU limit it reports */
		metrics_add(x->m, "dirty_limit", "MB/s", PVB_INFO, METRIC_CPU_VM, limit);
	enum qemu_migrate_end end = qemu_migrate_watch(&x->src, &x->dst, vm_now_ms() + (double)spec_int(x->r, "deadline"),
						       each_sample, &wa, &x->ms, err, sizeof(err));
	if (wa.csv)
		fclose(wa.csv);
	if (end == QM_FAILED || end == QM_INTERRUPTED) {
		run_fail(x->out, end == QM_FAILED ? RUN_ERROR : RUN_INTERRUPTED, "%s",
			 end == QM_FAILED ? err : "by a signal");
		return -1;
	}
	double t_done = end == QM_COMPLETED ? mono_ms() : 0;
	x->w = wa.w, x->rd = wa.rd;
	rate_mark(&x->during, 1, mono_ms(), x->w, x->rd);
	x->converged = t_done > 0;
	measure(x, wa.max_throttle, t_done);
	return 0;
}

/* the destination holds the source's final image, page by page (paused: -S) */
static int verify(struct mig_run *x)
{
	char st[32], where[200] = "";
	if (qemu_wait_state_not(&x->dst, "inmigrate", 30000, st, sizeof(st)) || strcmp(st, "paused")) {
		run_fail(x->out, RUN_ERROR, "destination: status %s after the migration, not paused", st);
		return -1;
	}
	double t_v = mono_ms();
	long long differ = qemu_ram_pages_differ(&x->src, &x->dst, where, sizeof(where));
	metrics_add(x->m, "verify_ms", "ms", PVB_LESS, METRIC_CPU_VM, mono_ms() - t_v);
	metrics_add(x->m, "pages_differ", "count", PVB_LESS, METRIC_CPU_VM, (double)differ);
	if (differ) /* a failed run; the guest still runs on and checks its own pages: its word is stored too */
		run_fail(x->out, RUN_FAILED, "%lld of %zu pages differ between the source's final image and the "
			 "destination, %s", differ, x->src.mem_size / 4096, where);
	return 0;
}

/* the guest goes on at the destination for run_after, then finishes and gives its record */
static int resume(struct mig_run *x)
{
	char err[300];
	qemu_vm_stop(&x->src); /* the source is done: the guest lives at the destination now */
	cJSON *c = qmp_call(x->dst.q, "cont", NULL, err, sizeof(err));
	if (!c) {
		run_fail(x->out, RUN_ERROR, "destination: cont: %s", err);
		return -1;
	}
	cJSON_Delete(c);
	mig_progress(x->dst.mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	rate_mark(&x->after, 0, mono_ms(), x->w, x->rd);
	sleep_ms((double)spec_int(x->r, "run_after"));
	if (mig_progress(x->dst.mem, x->vcpus, x->writers, &x->w, &x->rd, x->per) == 0)
		rate_mark(&x->after, 1, mono_ms(), x->w, x->rd);
	if (x->after.have != 2 || (x->after.w1 <= x->after.w0 && x->after.r1 <= x->after.r0)) {
		run_fail(x->out, RUN_FAILED, "the guest made no progress at the destination");
		return -1;
	}
	vm_progress_stop(x->dst.mem);
	if (!child_wait(&x->dst.c, 30000)) {
		run_fail(x->out, RUN_TIMEOUT, "the guest did not finish at the destination 30 s after it was asked");
		return -1;
	}
	qemu_vm_outcome(&x->dst, 0, &x->dr);
	if (x->dr.outcome != RUN_OK)
		run_fail(x->out, x->dr.outcome == RUN_FAILED || x->dr.outcome == RUN_CRASHED ? x->dr.outcome : RUN_ERROR,
			 "destination: %s", x->dr.reason);
	if (x->dr.record)
		metrics_from_record(x->dr.record, &x->out->m[SIDE_GUEST]);
	return 0;
}

/* unconverged: the source finishes the guest, and its record is the run's */
static void finish_at_source(struct mig_run *x)
{
	vm_progress_stop(x->src.mem);
	child_wait(&x->src.c, 30000);
	qemu_vm_outcome(&x->src, !x->src.c.exited, &x->sr);
	if (x->sr.record)
		metrics_from_record(x->sr.record, &x->out->m[SIDE_GUEST]);
}

void migration_run_qemu(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	static struct mig_run x;

	memset(&x, 0, sizeof(x));
	x.r = r, x.out = out, x.m = &out->m[SIDE_VMM];
	x.tcg = !strcmp(spec_str(r, "accel"), "tcg");
	x.vcpus = (int)spec_int(r, "vcpus"), x.writers = (int)spec_int(r, "writers");
	x.src = (struct qemu_vm){ .memfd = -1, .mem = MAP_FAILED };
	x.dst = x.src;
	snprintf(x.sock, sizeof(x.sock), "%s/migrate.sock", env->run_dir);
	snprintf(x.uri, sizeof(x.uri), "unix:%s", x.sock);
	snprintf(x.dst_dir, sizeof(x.dst_dir), "%s/destination", env->run_dir);
	snprintf(x.csv_path, sizeof(x.csv_path), "%s/migrate.csv", env->run_dir);
	unlink(x.sock);
	mkdir(x.dst_dir, 0755);
	if (!boot(&x, env) && !migrate(&x)) {
		if (!x.converged)
			finish_at_source(&x);
		else if (!verify(&x))
			resume(&x);
	}
	rate_out(x.m, "before", &x.before);
	rate_out(x.m, "during", &x.during);
	rate_out(x.m, "after", &x.after);
	qemu_vm_stop(&x.src);
	qemu_vm_stop(&x.dst);
	vm_result_free(&x.sr);
	vm_result_free(&x.dr);
	unlink(x.sock);
}
