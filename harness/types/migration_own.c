/* SPDX-License-Identifier: MIT */
/*
 * The migration type on pvbench's own VMM: the same run as QEMU's reference (type_migration.c),
 * the engine being impl/migration's pre-copy. The source is a guest of the own VMM in this process;
 * the destination is a child process running the same VMM, created alike and not started, that
 * takes the stream from a unix socket (socketpair), restores the vCPUs and runs the guest on. A
 * migration thread in the source lets the guest dirty for migrate_after, then migrates under the
 * throttle; every page is checked by digest, both ends, once it completes. The destination
 * runs run_after, checks that the guest's progress moved there, asks the guest to finish, and
 * sends back its run's outcome and record, which are the run's. Unconverged (the deadline): the
 * guest finishes at the source, whose record is the run's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "freqemu.h"
#include "hostinfo.h"
#include "migration.h"
#include "precopy.h"
#include "vm.h"
#include "vmm.h"

#define RING_BYTES (4096 * 16)  /* 4096 entries a vCPU */

static void sleep_ms(double ms)
{
	struct timespec t = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6) };
	nanosleep(&t, NULL);
}

/* what the destination sends back once its guest is over */
struct dst_answer {
	uint32_t magic;
	int32_t status;
	char reason[400];
	struct phase_rate after;
	uint64_t record_len;     /* the record's bytes follow */
};
#define ANSWER_MAGIC 0x4e534e41u

struct own_run {
	const struct run_spec *r;
	struct run_result *out;
	struct metric_set *m;
	int vcpus, writers, sock[2];
	pid_t dst;
	struct vm_spec spec;
	char job[512], dst_dir[600], csv_path[600];
	struct vmm *v;                   /* the source, from the extras' start */
	unsigned char *mem;              /* its RAM, from the hooks' started */
	int tids[VM_MAX_VCPUS];
	pthread_t th;
	int th_on, rc;                   /* precopy_send's: 1 completed, 0 cancelled, -1 failed */
	char err[400];
	struct precopy_params pp;
	struct precopy_stats st;
	struct phase_rate before, during, after;
	FILE *csv;
	double w, rd, per[VM_MAX_VCPUS];
	/* the destination's side (in its process) */
	double t_started;
	int asked;
};

static void each_sample(void *arg, const struct precopy_stats *s)
{
	struct own_run *x = arg;
	mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	if (x->csv)
		fprintf(x->csv, "%.0f,%s,%llu,%llu,%d,%d,%.0f,%.0f\n", s->t_ms, s->status, (unsigned long long)s->bytes,
			(unsigned long long)s->remaining, s->passes, s->throttle_pct, x->w, x->rd);
}

/* the source's migration thread: the guest dirties for migrate_after, then the migration */
static void *migrate_main(void *arg)
{
	struct own_run *x = arg;
	double t_boot = mono_ms();
	int64_t cpu0[VM_MAX_VCPUS];

	x->rc = -1;
	while (mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per)) {
		if (x->v->state != VMM_RUNNING || mono_ms() - t_boot > 60000 || pvb_interrupted) {
			snprintf(x->err, sizeof(x->err), "the guest never started dirtying (see console.log)");
			goto stop;
		}
		sleep_ms(10);
	}
	rate_mark(&x->before, 0, mono_ms(), x->w, x->rd);
	for (double t_end = mono_ms() + (double)spec_int(x->r, "migrate_after"); mono_ms() < t_end;) {
		if (x->v->state != VMM_RUNNING || pvb_interrupted)
			goto stop;
		sleep_ms(10);
	}
	mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	double t_mig = mono_ms();
	rate_mark(&x->before, 1, t_mig, x->w, x->rd);
	rate_mark(&x->during, 0, t_mig, x->w, x->rd);
	for (int i = 0; i < x->vcpus; i++)
		cpu0[i] = thread_cpu_us(x->tids[i]);
	x->csv = fopen(x->csv_path, "w");
	if (x->csv)
		fprintf(x->csv, "t_ms,status,transferred,remaining_pages,passes,throttle_pct,guest_written,guest_read\n");
	x->rc = precopy_send(x->v, x->sock[0], &x->pp, &x->st, x->err, sizeof(x->err));
	if (x->csv)
		fclose(x->csv);
	mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	rate_mark(&x->during, 1, mono_ms(), x->w, x->rd);
	mig_runtime(x->m, x->tids, cpu0, x->vcpus, x->writers, mono_ms() - t_mig);
	if (x->rc == 1) { /* the guest lives at the destination now */
		vmm_stop(x->v, VMM_STOPPED, "migrated to the destination");
		return NULL;
	}
stop:
	if (x->rc < 0 && x->err[0])
		vmm_stop(x->v, VMM_STOPPED, x->err);
	else /* unconverged, or interrupted: the guest finishes here */
		vm_progress_stop(x->mem);
	return NULL;
}

static int src_start(void *arg, struct vmm *v, char *err, size_t errlen)
{
	((struct own_run *)arg)->v = v;
	return 0;
}

static void src_stop(void *arg, struct vmm *v)
{
	struct own_run *x = arg;
	if (x->th_on)
		pthread_join(x->th, NULL);
	x->th_on = 0;
}

static int src_started(void *arg, const struct vm_view *vm, char *err, size_t errlen)
{
	struct own_run *x = arg;
	x->mem = vm->mem;
	memcpy(x->tids, vm->tids, sizeof(int) * (size_t)vm->nr_vcpus);
	if (pthread_create(&x->th, NULL, migrate_main, x)) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		return -1;
	}
	x->th_on = 1;
	return 0;
}

/* ---- the destination, in its own process ---- */

static int dst_start(void *arg, struct vmm *v, char *err, size_t errlen)
{
	struct own_run *x = arg;
	int r = precopy_receive(v, x->sock[1], err, errlen);
	if (r == 0)
		snprintf(err, errlen, "the source cancelled the migration");
	return r == 1 ? 0 : r == 0 ? 1 : -1;
}

static int dst_started(void *arg, const struct vm_view *vm, char *err, size_t errlen)
{
	struct own_run *x = arg;
	x->mem = vm->mem;
	x->t_started = mono_ms();
	mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per);
	rate_mark(&x->after, 0, x->t_started, x->w, x->rd);
	return 0;
}

/* run_after at the destination, then the guest must have moved there, and is asked to finish */
static int dst_tick(void *arg, char *err, size_t errlen)
{
	struct own_run *x = arg;
	if (x->asked || mono_ms() - x->t_started < (double)spec_int(x->r, "run_after"))
		return 0;
	x->asked = 1;
	if (mig_progress(x->mem, x->vcpus, x->writers, &x->w, &x->rd, x->per) == 0)
		rate_mark(&x->after, 1, mono_ms(), x->w, x->rd);
	if (x->after.have != 2 || (x->after.w1 <= x->after.w0 && x->after.r1 <= x->after.r0)) {
		snprintf(err, errlen, "the guest made no progress at the destination");
		return -1;
	}
	vm_progress_stop(x->mem);
	return 0;
}

static void destination(struct own_run *x)
{
	struct vm_spec ds = x->spec;
	struct vmm_extras e = { .arg = x, .start = dst_start };
	struct vm_hooks h = { .arg = x, .started = dst_started, .tick = dst_tick };
	struct vm_result res;
	struct dst_answer a = { .magic = ANSWER_MAGIC };

	ds.run_dir = x->dst_dir;
	ds.extras = &e;
	vm_run("pvbench", &ds, &h, &res);
	a.status = res.outcome;
	snprintf(a.reason, sizeof(a.reason), "%s", res.reason);
	a.after = x->after;
	a.record_len = res.record ? res.record_len : 0;
	_exit(fd_write_all(x->sock[1], &a, sizeof(a)) || (a.record_len && fd_write_all(x->sock[1], res.record, a.record_len)));
}

/* the destination's word on the guest it ran: its outcome and record become the run's */
static void take_answer(struct own_run *x)
{
	struct dst_answer a;
	double deadline = mono_ms() + (double)spec_int(x->r, "run_after") + 60000;
	if (fd_read_all(x->sock[0], &a, sizeof(a), deadline, &pvb_interrupted) || a.magic != ANSWER_MAGIC || a.record_len > (16u << 20)) {
		run_fail(x->out, pvb_interrupted ? RUN_INTERRUPTED : RUN_ERROR, "%s",
			 pvb_interrupted ? "by a signal" : "the destination gave no answer (see destination/console.log)");
		return;
	}
	a.reason[sizeof(a.reason) - 1] = 0;
	x->after = a.after;
	void *rec = a.record_len ? malloc(a.record_len) : NULL;
	if (rec && fd_read_all(x->sock[0], rec, a.record_len, deadline + 5000, &pvb_interrupted) == 0)
		metrics_from_record(rec, &x->out->m[SIDE_GUEST]);
	free(rec);
	if (a.status != RUN_OK)
		run_fail(x->out, a.status > RUN_OK && a.status < RUN__COUNT ? (enum run_status)a.status : RUN_ERROR,
			 "destination: %s", a.reason);
}

static void measure(struct own_run *x)
{
	struct metric_set *m = x->m;
	const struct precopy_stats *s = &x->st;
	metrics_add(m, "converged", "bool", PVB_MORE, METRIC_CPU_VM, s->converged);
	metrics_add(m, "throttle_max", "%", PVB_LESS, METRIC_CPU_VM, s->max_throttle_pct);
	metrics_add(m, "passes", "count", PVB_INFO, METRIC_CPU_VM, s->passes);
	metrics_add(m, "transferred", "MB", PVB_LESS, METRIC_CPU_VM, (double)s->bytes / 1e6);
	metrics_add(m, "pages_sent", "count", PVB_LESS, METRIC_CPU_VM, (double)s->pages);
	metrics_add(m, "pages_zero", "count", PVB_INFO, METRIC_CPU_VM, (double)s->zero_pages);
	metrics_add(m, "pages_redirtied", "count", PVB_LESS, METRIC_CPU_VM, (double)s->dirtied);
	for (int i = 0; i < x->vcpus; i++) {
		metrics_add(m, "held_ms", "ms", PVB_LESS, i, s->held_ms[i]);
		metrics_add(m, "holds", "count", PVB_INFO, i, (double)s->holds[i]);
	}
	if (!s->converged) {
		metrics_add(m, "unconverged", "count", PVB_LESS, METRIC_CPU_VM, 1);
		return;
	}
	metrics_add(m, "total_time", "ms", PVB_LESS, METRIC_CPU_VM, s->total_ms);
	metrics_add(m, "downtime", "ms", PVB_LESS, METRIC_CPU_VM, s->downtime_ms);
	metrics_add(m, "setup_time", "ms", PVB_LESS, METRIC_CPU_VM, s->setup_ms);
	metrics_add(m, "restore_time", "ms", PVB_LESS, METRIC_CPU_VM, s->restore_ms);
	metrics_add(m, "verify_ms", "ms", PVB_LESS, METRIC_CPU_VM, s->verify_ms);
	metrics_add(m, "pages_differ", "count", PVB_LESS, METRIC_CPU_VM, (double)s->pages_differ);
	if (s->total_ms > 0)
		metrics_add(m, "link_mbps", "MB/s", PVB_MORE, METRIC_CPU_VM, (double)s->bytes / 1e3 / s->total_ms);
}

void migration_run_own(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	static struct own_run x;
	const char *throttle = spec_str(r, "throttle");
	struct vm_result res;

	memset(&x, 0, sizeof(x));
	x.r = r, x.out = out, x.m = &out->m[SIDE_VMM];
	x.vcpus = (int)spec_int(r, "vcpus"), x.writers = (int)spec_int(r, "writers");
	x.dst = -1;
	long long size_mb = spec_int(r, "size_mb");
	snprintf(x.job, sizeof(x.job), "workload=dirtier size_mb=%lld writers=%d rate_mbps=%lld duration_ms=%lld",
		 size_mb, x.writers, spec_int(r, "rate_mbps"), 3600000LL);
	snprintf(x.dst_dir, sizeof(x.dst_dir), "%s/destination", env->run_dir);
	snprintf(x.csv_path, sizeof(x.csv_path), "%s/migrate.csv", env->run_dir);
	mkdir(x.dst_dir, 0755);
	int ring = !strcmp(spec_str(r, "dirty_track"), "ring");
	struct vmm_extras e = { .arg = &x, .dirty_ring_bytes = ring ? RING_BYTES : 0, .start = src_start,
				.stop = src_stop };
	x.spec = (struct vm_spec){ .kernel = env->kernel, .vcpus = x.vcpus, .mem_mb = (int)(size_mb + 64), .job = x.job,
				   .timeout_ms = (int)(spec_int(r, "deadline") + spec_int(r, "migrate_after") +
						       spec_int(r, "run_after") + 60000),
				   .run_dir = env->run_dir, .tsc_khz = env->host->tsc_khz };
	x.pp = (struct precopy_params){
		.bandwidth_bps = (double)spec_int(r, "bandwidth_mbps") * 1e6,
		.downtime_ms = (int)spec_int(r, "downtime_ms"),
		.deadline_ms = (int)spec_int(r, "deadline"),
		.dirty_ring = ring,
		.throttle = !strcmp(throttle, "auto-converge") ? PRECOPY_AUTO_CONVERGE :
			    !strcmp(throttle, "dirty-quota")   ? PRECOPY_DIRTY_QUOTA : PRECOPY_NONE,
		.ac_initial = (int)spec_int(r, "throttle_initial"),
		.ac_increment = (int)spec_int(r, "throttle_increment"),
		.quota_interval_ms = (int)spec_int(r, "quota_interval"),
		.quota_share_pct = (int)spec_int(r, "quota_share"),
		.cancel = &pvb_interrupted,
		.sample = each_sample,
		.arg = &x,
	};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x.sock)) {
		run_fail(out, RUN_ERROR, "socketpair: %s", strerror(errno));
		return;
	}
	pid_t parent = getpid();
	x.dst = fork();
	if (x.dst == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		close(x.sock[0]);
		destination(&x);
	}
	close(x.sock[1]);
	if (x.dst < 0) {
		run_fail(out, RUN_ERROR, "fork: %s", strerror(errno));
		close(x.sock[0]);
		return;
	}
	child_track(x.dst);
	struct vm_hooks h = { .arg = &x, .started = src_started };
	x.spec.extras = &e;
	vm_run("pvbench", &x.spec, &h, &res);
	snprintf(out->vmm, sizeof(out->vmm), "%s", res.vmm);
	if (x.rc == 1) {
		take_answer(&x);
		if (x.st.pages_differ)
			run_fail(out, RUN_FAILED, "%llu of %llu pages differ between the source's final image and the "
				 "destination, the first page %llu", (unsigned long long)x.st.pages_differ,
				 (unsigned long long)x.spec.mem_mb * 256, (unsigned long long)x.st.first_differ);
	} else {
		if (x.rc < 0 && x.err[0])
			run_fail(out, pvb_interrupted ? RUN_INTERRUPTED : RUN_ERROR, "%s", x.err);
		else if (res.outcome != RUN_OK)
			run_fail(out, res.outcome, "%s", res.reason);
		if (res.record)
			metrics_from_record(res.record, &out->m[SIDE_GUEST]);
	}
	if (x.rc >= 0)
		measure(&x);
	rate_out(x.m, "before", &x.before);
	rate_out(x.m, "during", &x.during);
	rate_out(x.m, "after", &x.after);
	close(x.sock[0]);
	kill(x.dst, SIGKILL);
	while (waitpid(x.dst, NULL, 0) < 0 && errno == EINTR)
		;
	child_untrack(x.dst);
	vm_result_free(&res);
}
