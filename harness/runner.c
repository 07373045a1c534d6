/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "cli.h"
#include "cyclictest.h"
#include "hostload.h"
#include "policy.h"
#include "runner.h"

struct run_ctx {
	const struct run_spec *spec;
	struct policy pol;
	struct hostload *load;
	struct child ct;
	char ct_json[600];
	int ct_on;
};

static int on_started(void *arg, const int *tids, int nr, char *err, size_t errlen)
{
	struct run_ctx *c = arg;

	if (c->pol.ops->start && c->pol.ops->start(&c->pol, tids, nr, err, errlen))
		return -1; /* runner_run() calls stop() on every path */
	if (c->ct_on) { /* host cyclictest over the same seconds as the guest's workload */
		char *argv[20], bufs[5][32];
		cyclictest_argv(argv, bufs, (int)(run_int(c->spec, K_DURATION) / 1000),
				(int)run_int(c->spec, K_INTERVAL_US), 1,
				(int)run_int(c->spec, K_HOST_CYCLICTEST_PRIO), c->ct_json);
		if (child_spawn(&c->ct, argv, NULL, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int on_tick(void *arg, char *err, size_t errlen)
{
	struct run_ctx *c = arg;

	if (c->load->c.pid > 0 && child_poll(&c->load->c)) {
		snprintf(err, errlen, "host load %s (stress-ng) stopped during the run", c->load->name);
		return -1;
	}
	if (c->pol.ops->tick)
		return c->pol.ops->tick(&c->pol, err, errlen);
	return 0;
}

static void iso_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

static void read_loadavg(char *buf, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");
	buf[0] = 0;
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

enum vm_outcome runner_run(const struct runner_env *env, const struct experiment *e,
			   const struct run_spec *spec, struct store *st, char *err, size_t errlen)
{
	struct run_ctx c = { .spec = spec };
	struct hostload load;
	struct vm_result res;
	struct metric_set guest = { 0 }, host = { 0 }, pol = { 0 }, harness = { 0 };
	char dir[1024], job[1024], started[32], ended[32], loadavg[128], variant_dir[256];
	long long duration_ms = run_int(spec, K_DURATION), timeout_ms = run_int(spec, K_TIMEOUT);
	double cpu0 = cpu_ms();
	enum vm_outcome outcome;

	memset(&res, 0, sizeof(res));
	c.load = &load;
	c.pol.ops = policy_find(spec->val[K_POLICY]);
	c.pol.params.static_prio = (int)run_int(spec, K_STATIC_PRIO);
	c.ct_on = (int)run_int(spec, K_HOST_CYCLICTEST);

	snprintf(variant_dir, sizeof(variant_dir), "%s", spec->variant);
	for (char *p = variant_dir; *p; p++)
		if (*p == ' ' || *p == '/')
			*p = *p == ' ' ? '+' : '_';
	snprintf(dir, sizeof(dir), "%s/%s/%s/rep%d", env->runs_root, e->name, variant_dir, spec->rep);
	if (mkdir_p(dir) < 0) {
		snprintf(err, errlen, "%s: cannot create", dir);
		return VM_ERROR;
	}
	snprintf(c.ct_json, sizeof(c.ct_json), "--json=%s/cyclictest.json", dir);
	unlink(c.ct_json + 7);
	snprintf(job, sizeof(job), "workload=%s interval_us=%s duration_ms=%lld %s", spec->val[K_WORKLOAD],
		 spec->val[K_INTERVAL_US], duration_ms, spec->val[K_JOB_ARGS]);
	read_loadavg(loadavg, sizeof(loadavg));
	iso_now(started, sizeof(started));

	memset(&load, 0, sizeof(load));
	if (hostload_start(&load, spec->val[K_HOST_LOAD], err, errlen) < 0) {
		outcome = VM_ERROR;
		snprintf(res.reason, sizeof(res.reason), "%s", err);
		goto store;
	}
	if (c.pol.ops->prepare && c.pol.ops->prepare(&c.pol, err, errlen)) {
		outcome = VM_ERROR;
		snprintf(res.reason, sizeof(res.reason), "policy %s: %s", c.pol.ops->name, err);
		goto stop;
	}
	struct vm_spec vs = {
		.kernel = env->kernel, .vcpus = (int)run_int(spec, K_VCPUS), .mem_mb = (int)run_int(spec, K_MEM_MB),
		.job = job, .timeout_ms = (int)(timeout_ms > 0 ? timeout_ms : duration_ms + 30000),
		.run_dir = dir, .tsc_khz = env->host->tsc_khz,
	};
	struct vm_hooks hooks = { .arg = &c, .started = on_started, .tick = on_tick };
	vm_run(spec->val[K_VMM], &vs, &hooks, &res);
	outcome = res.outcome;
stop:
	if (c.pol.ops->stop)
		c.pol.ops->stop(&c.pol); /* every path: also after a failed start */
	if (c.pol.ops->counters)
		c.pol.ops->counters(&c.pol, &pol);
	if (c.ct.pid > 0) {
		/* cyclictest ends on its own a little after the guest; a stuck one is killed */
		if (outcome != VM_OK || !child_wait(&c.ct, 10000)) {
			child_kill(&c.ct);
		} else if (WIFEXITED(c.ct.status) && WEXITSTATUS(c.ct.status) == 0) {
			if (cyclictest_read_json(c.ct_json + 7, &host, err, errlen) < 0) {
				outcome = VM_ERROR;
				snprintf(res.reason, sizeof(res.reason), "host cyclictest: %s", err);
			}
		} else {
			outcome = VM_ERROR;
			snprintf(res.reason, sizeof(res.reason), "host cyclictest exited with status %d",
				 WIFEXITED(c.ct.status) ? WEXITSTATUS(c.ct.status) : -1);
		}
	}
	hostload_stop(&load);
store:
	iso_now(ended, sizeof(ended));
	if (res.record)
		metrics_from_record(res.record, &guest);
	metrics_add(&harness, "boot_to_workload", "ns", METRIC_CPU_VM, res.boot_to_workload_ms * 1e6);
	metrics_add(&harness, "wall", "ns", METRIC_CPU_VM, res.wall_ms * 1e6);
	metrics_add(&harness, "harness_cpu", "ns", METRIC_CPU_VM, (cpu_ms() - cpu0) * 1e6);
	metrics_add(&harness, "r0_wake_path_insn", "insn", METRIC_CPU_VM, env->guest->wake_path_insn);
	snprintf(err, errlen, "%s", res.reason);

	if (outcome != VM_INTERRUPTED && st) { /* an interrupted run is not a result: redo it */
		const char *keys[K__COUNT], *vals[K__COUNT];
		for (int k = 0; k < K__COUNT; k++) {
			keys[k] = cfg_key_name(k);
			vals[k] = spec->val[k];
		}
		struct store_run sr = {
			.experiment = e->name, .variant = spec->variant, .rep = spec->rep,
			.nr_params = K__COUNT, .param_keys = keys, .param_values = vals,
			.status = vm_outcome_name(outcome), .reason = res.reason,
			.started_at = started, .ended_at = ended,
			.host_kernel = env->host->host_kernel, .kvm_backend = env->host->kvm_backend,
			.qemu_version = res.qemu_version, .guest_build = env->guest->build_id,
			.pvbench_commit = env->host->pvbench_commit, .tsc_khz = env->host->tsc_khz,
			.run_dir = dir, .loadavg = loadavg,
			.sets = { &guest, &host, &pol, &harness },
		};
		char serr[256];
		if (store_put_run(st, &sr, serr, sizeof(serr)) < 0) {
			snprintf(err, errlen, "%s", serr);
			outcome = VM_ERROR;
		}
	}
	vm_result_free(&res);
	metrics_free(&guest);
	metrics_free(&host);
	metrics_free(&pol);
	metrics_free(&harness);
	return outcome;
}
