/* SPDX-License-Identifier: MIT */
/*
 * guest: one guest workload (cyclic, ...) under a host policy and a host load, with rt-tests'
 * cyclictest on the host over the same seconds: seed 001's setup. One run = host load, policy,
 * guest and host cyclictest together, then one record. The guest is pvbench's own kernel, or
 * Linux (guest = linux: Debian's kernel, or the user's, with an initramfs of Debian's tools and
 * pvbench's workloads; linux_guest.h), which also runs cyclictest and stress-ng inside.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"
#include "cyclictest.h"
#include "engine.h"
#include "hostinfo.h"
#include "hostload.h"
#include "guest_linux.h"
#include "policy.h"
#include "schedtrace.h"
#include "store.h"
#include "vm.h"
#include "workloads.h"

/* pvbench's workloads (workloads/list.h), then a Linux guest's tools (guest_linux.c) */
static const char *workload_choice(int i)
{
	static const char *const names[] = {
#define PVB_WORKLOAD(w) #w,
#include "list.h"
#undef PVB_WORKLOAD
	};
	int n = (int)(sizeof(names) / sizeof(names[0]));
	return i < n ? names[i] : guest_linux_tool(i - n);
}

static int needs_disk(const char *w)
{
	char err[256];
	const struct wl_info *i = guest_linux_is_tool(w) ? NULL : workload_info(w, err, sizeof(err));
	return i && i->needs_disk;
}

static const char *guest_choice(int i)
{
	static const char *const names[] = { "pvbench", "linux", NULL };
	return names[i];
}

static const char *guest_load_choice(int i)
{
	static const char *const names[] = { "idle", "busy", NULL };
	return names[i];
}

static const struct key_def keys[] = {
	{ "guest", KT_CHOICE, 0, 0, KEY_LIST, "pvbench",
	  "pvbench (its own kernel) or linux (Debian's kernel or $PVBENCH_LINUX_KERNEL, an initramfs of "
	  "Debian's tools; mem_mb >= 256)", .choice = guest_choice },
	{ "workload", KT_CHOICE, 0, 0, KEY_LIST, NULL, "guest workload (default: the catalogue's first)",
	  .choice = workload_choice },
	{ "vcpus", KT_INT, 1, 16, KEY_LIST, "1", "vCPUs of the guest" },
	{ "mem_mb", KT_INT, 16, 3072, KEY_LIST, "64", "guest memory, MiB" },
	{ "interval_us", KT_INT, 50, 10000000, KEY_LIST, "1000",
	  "cyclic (guest) and cyclictest (host) wake-up interval, us" },
	{ "duration", KT_DURATION, 1000, 86400000, KEY_LIST, "10s",
	  "workload run time (10s, 500ms, 2m; whole seconds when host_cyclictest=on)" },
	{ "policy", KT_CHOICE, 0, 0, KEY_LIST, NULL, "host policy (default: the list's first, the baseline)",
	  .choice = policy_choice },
	{ "host_load", KT_CHOICE, 0, 0, KEY_LIST, "idle",
	  "host load during the run: idle, busy (stress-ng --cpu <host CPUs>)", .choice = hostload_choice },
	{ "guest_load", KT_CHOICE, 0, 0, KEY_LIST, "idle",
	  "load in the guest: idle, or busy (a normal hog on every vCPU whenever the workload waits)",
	  .choice = guest_load_choice },
	{ "host_cyclictest", KT_BOOL, 0, 0, 0, "on", "run rt-tests' cyclictest on the host alongside the guest" },
	{ "host_cyclictest_prio", KT_INT, 0, 99, KEY_LIST, "0",
	  "its SCHED_FIFO priority; 0 = SCHED_OTHER (the seed's command line)" },
	{ "job_args", KT_STRING, 0, 0, KEY_LIST, "", "extra workload keys for the guest, \"key=value key=value\"" },
	{ "disk_mb", KT_INT, 1, 4096, KEY_LIST, "64",
	  "for a workload that needs the block device: its size, MiB (a RAM disk behind QEMU's "
	  "ivshmem-doorbell, pvb_io.h)" },
	{ "trace", KT_BOOL, 0, 0, KEY_LIST, "off",
	  "sched trace of the vCPU threads (perf tracepoints): runtime %, preemptions, wake-to-run" },
	{ "vmm", KT_CHOICE, 0, 0, KEY_LIST, "qemu", "VM backend: qemu (microvm) or pvbench (impl/vmm)",
	  .choice = vm_backend_choice },
	{ "accel", KT_CHOICE, 0, 0, KEY_LIST, "kvm",
	  "kvm, or tcg (QEMU's emulator: functional runs where KVM cannot, no timing is real)",
	  .choice = vm_accel_choice },
	{ 0 },
};

struct run_ctx {
	const struct run_spec *spec;
	struct policy pol;
	struct hostload load;
	struct child ct;
	char ct_json[1100];
	int ct_on;
	struct schedtrace *trace;
	struct metric_set *trace_out;
};

static int on_started(void *arg, const struct vm_view *vm, char *err, size_t errlen)
{
	struct run_ctx *c = arg;

	if (c->pol.ops->start && c->pol.ops->start(&c->pol, vm, err, errlen))
		return -1; /* run() calls stop() on every path */
	if (spec_int(c->spec, "trace") && schedtrace_start(&c->trace, vm->tids, vm->nr_vcpus, SCHEDTRACE_ALL, 0, err, errlen))
		return -1;
	if (c->ct_on) { /* host cyclictest over the same seconds as the guest's workload */
		char *argv[20], bufs[5][32];
		cyclictest_argv(argv, bufs, (int)(spec_int(c->spec, "duration") / 1000),
				(int)spec_int(c->spec, "interval_us"), 1,
				(int)spec_int(c->spec, "host_cyclictest_prio"), c->ct_json);
		if (child_spawn(&c->ct, argv, NULL, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int on_tick(void *arg, char *err, size_t errlen)
{
	struct run_ctx *c = arg;

	if (c->trace)
		schedtrace_poll(c->trace);
	if (c->load.c.pid > 0 && child_poll(&c->load.c)) {
		snprintf(err, errlen, "host load %s (stress-ng) stopped during the run", c->load.name);
		return -1;
	}
	return c->pol.ops->tick ? c->pol.ops->tick(&c->pol, err, errlen) : 0;
}

/* the guest is over, its memory still mapped: the policy stops touching it now */
static void on_ended(void *arg)
{
	struct run_ctx *c = arg;
	if (c->pol.ops->stop)
		c->pol.ops->stop(&c->pol);
	schedtrace_stop(c->trace, c->trace_out); /* while the threads exist */
	c->trace = NULL;
}

/* seed 000's efficiency rows: the guest's figure per joule of the policy's (modelled) energy */
static void efficiency(struct run_result *out)
{
	const struct metric *e = metrics_find(&out->m[SIDE_POLICY], "energy_modelled", METRIC_CPU_VM);
	static const char *const per[][2] = { { "frames", "frames_per_j_modelled" },
					      { "score", "score_per_j_modelled" } };
	if (!e || e->value <= 0)
		return;
	for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
		const struct metric *m = metrics_find(&out->m[SIDE_GUEST], per[i][0], METRIC_CPU_VM);
		if (m)
			metrics_add(&out->m[SIDE_POLICY], per[i][1], "1/J", PVB_MORE, METRIC_CPU_VM,
				    m->value / (e->value / 1e3));
	}
}

/* The raw result record beside the console log: what the tables were made from. */
static void keep_record(const char *run_dir, const struct vm_result *res)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/record.bin", run_dir);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(res->record, 1, res->record_len, f);
		fclose(f);
	}
}

static void run(const struct run_spec *spec, const struct run_env *env, struct run_result *out)
{
	struct run_ctx c = { .spec = spec, .trace_out = &out->m[SIDE_HOST] };
	struct vm_result res;
	char job[1024], err[512];
	struct guest_linux lf = { 0 };
	long long duration_ms = spec_int(spec, "duration"), timeout_ms = spec_int(spec, "timeout");

	memset(&res, 0, sizeof(res));
	int tcg = !strcmp(spec_str(spec, "accel"), "tcg");
	if (tcg && strcmp(spec_str(spec, "vmm"), "qemu")) { /* a sweep's other VMM, not a mistake */
		run_fail(out, RUN_SKIPPED, "unavailable: accel = tcg is QEMU's emulator; %s's VMM runs under KVM only",
			 spec_str(spec, "vmm"));
		return;
	}
	if (!tcg && env->host->no_kvm[0]) {
		/* QEMU can still run it, emulated: say how, as a user without KVM asks next */
		run_fail(out, RUN_SKIPPED, "unavailable: %s%s", env->host->no_kvm,
			 strcmp(spec_str(spec, "vmm"), "qemu") ? "" : "; accel = tcg runs it under QEMU's emulator (functional, no real timing)");
		return;
	}
	c.pol.ops = policy_find(spec_str(spec, "policy"));
	c.pol.spec = spec;
	c.ct_on = (int)spec_int(spec, "host_cyclictest");
	snprintf(c.ct_json, sizeof(c.ct_json), "--json=%s/cyclictest.json", env->run_dir);
	unlink(c.ct_json + 7);
	int lx = !strcmp(spec_str(spec, "guest"), "linux");
	if (lx) {
		if (guest_linux_prepare(spec, env, tcg, &lf, job, sizeof(job), out))
			return;
	} else {
		snprintf(job, sizeof(job), "workload=%s interval_us=%s duration_ms=%lld guest_load=%s %s",
			 spec_str(spec, "workload"), spec_str(spec, "interval_us"), duration_ms,
			 spec_str(spec, "guest_load"), spec_str(spec, "job_args"));
	}

	if (hostload_start(&c.load, spec_str(spec, "host_load"), err, sizeof(err)) < 0) {
		run_fail(out, RUN_ERROR, "%s", err);
		goto destroy;
	}
	int prc = c.pol.ops->prepare ? c.pol.ops->prepare(&c.pol, err, sizeof(err)) : 0;
	if (prc) {
		run_fail(out, prc > 0 ? RUN_SKIPPED : RUN_ERROR, "policy %s: %s", c.pol.ops->name, err);
		goto stop;
	}
	struct vm_spec vs = {
		.kernel = lx ? lf.kernel : env->kernel, .initrd = lx ? lf.initrd : NULL,
		.disk = lf.disk[0] ? lf.disk : NULL,
		.vcpus = (int)spec_int(spec, "vcpus"),
		.mem_mb = (int)spec_int(spec, "mem_mb"), .job = job,
		.timeout_ms = (int)(timeout_ms > 0 ? timeout_ms : duration_ms + (lx ? 60000 : 30000)),
		.run_dir = env->run_dir, .tsc_khz = env->host->tsc_khz, .tcg = tcg,
		.iodev_mb = !lx && needs_disk(spec_str(spec, "workload")) ? (int)spec_int(spec, "disk_mb") : 0,
	};
	if (c.pol.ops->vm_spec)
		c.pol.ops->vm_spec(&c.pol, &vs);
	struct vm_hooks hooks = { .arg = &c, .tick_ms = c.pol.ops->tick_ms, .started = on_started,
				  .tick = on_tick, .ended = on_ended };
	vm_run(spec_str(spec, "vmm"), &vs, &hooks, &res);
	snprintf(out->vmm, sizeof(out->vmm), "%s%s", res.vmm, tcg ? STORE_TCG_MARK : "");
	if (res.outcome != RUN_OK)
		run_fail(out, res.outcome, "%s", res.reason);
stop:
	if (c.pol.ops->stop)
		c.pol.ops->stop(&c.pol); /* every path: also after a failed start */
	schedtrace_stop(c.trace, NULL);
	if (c.pol.ops->counters)
		c.pol.ops->counters(&c.pol, &out->m[SIDE_POLICY]);
	/* an ok run keeps its policy's note as its reason, printed under its tables (its variant names
	 * the policy); a later failure replaces it. That TCG ran it is in its vmm, and the tables
	 * count such runs under them */
	const char *note = c.pol.ops->note && out->status == RUN_OK ? c.pol.ops->note(&c.pol) : NULL;
	if (out->status == RUN_OK)
		snprintf(out->reason, sizeof(out->reason), "%s", note ? note : "");
	if (c.ct.pid > 0 && out->status != RUN_OK)
		child_kill(&c.ct);
	else if (c.ct.pid > 0 && cyclictest_collect(&c.ct, c.ct_json + 7, &out->m[SIDE_HOST], err, sizeof(err)))
		run_fail(out, RUN_ERROR, "host cyclictest: %s", err); /* beside the trace's figures, if any */
	hostload_stop(&c.load);
destroy:
	if (c.pol.ops->destroy)
		c.pol.ops->destroy(&c.pol);
	if (res.record) {
		metrics_from_record(res.record, &out->m[SIDE_GUEST]);
		keep_record(env->run_dir, &res);
	}
	efficiency(out);
	if (lx)
		guest_linux_finish(spec, env, &lf, out);
	metrics_add(&out->m[SIDE_HARNESS], "boot_to_workload", "ns", PVB_LESS, METRIC_CPU_VM, res.boot_to_workload_ms * 1e6);
	metrics_add(&out->m[SIDE_HARNESS], "r0_wake_path_insn", "insn", PVB_LESS, METRIC_CPU_VM, env->guest->wake_path_insn);
	metrics_add(&out->m[SIDE_HARNESS], "r0_preempt_path_insn", "insn", PVB_LESS, METRIC_CPU_VM,
		    env->guest->preempt_path_insn);
	vm_result_free(&res);
}

/* Before anything starts: cyclictest counts whole seconds, and a policy that this host cannot
 * apply (no RT scheduling) refuses the whole experiment rather than failing every run. */
static int check(const struct run_spec *r, char *err, size_t errlen)
{
	const struct policy_ops *ops = policy_find(spec_str(r, "policy"));
	struct policy p = { .ops = ops, .spec = r };
	int rc = 0;

	int lx = !strcmp(spec_str(r, "guest"), "linux");
	struct vm_spec vs = { 0 };
	if (ops->vm_spec)
		ops->vm_spec(&p, &vs);
	if (vs.boost && vs.boost_device == VM_BOOST_IVSHMEM && lx) {
		snprintf(err, errlen, "policy %s: its keys ask for the doorbell, for pvbench's guest (QEMU's "
			 "ivshmem-doorbell, or pvbench's VMM's own register); a Linux guest's module finds the region "
			 "in RAM", ops->name);
		return -1;
	}
	const char *wname = spec_str(r, "workload");
	if (!guest_linux_is_tool(wname)) { /* a tool's job_args are its own options; a workload's, its keys */
		static const char *const own[] = { "workload", "interval_us", "duration_ms", "guest_load", NULL };
		const struct wl_info *w = workload_info(wname, err, errlen);
		if (!w || workload_check_args(w, spec_str(r, "job_args"), own, err, errlen))
			return -1;
		if (!lx && w->needs_disk && strcmp(spec_str(r, "vmm"), "qemu")) {
			snprintf(err, errlen, "workload: %s's block device is behind QEMU's ivshmem-doorbell (vmm = qemu)",
				 wname);
			return -1;
		}
	}
	if (guest_linux_check(r, lx, err, errlen))
		return -1;
	if ((lx || spec_int(r, "host_cyclictest")) && spec_int(r, "duration") % 1000) {
		snprintf(err, errlen, "duration: must be whole seconds while host_cyclictest=on or "
			 "guest = linux (cyclictest -D and stress-ng --timeout count seconds)");
		return -1;
	}
	if (ops->prepare && ops->prepare(&p, err, errlen) < 0) { /* 1: a skip, at run time */
		char why[400];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "policy %s refused: %s", ops->name, why);
		rc = -1;
	}
	if (ops->destroy)
		ops->destroy(&p);
	return rc;
}

/* what `workload` and `policy` may name, under `pvbench run --keys` */
static void describe(FILE *f)
{
	workloads_describe(f);
	fprintf(f, "  (on guest = linux also: cyclictest, stress-ng, fio; their job_args are the tool's options)\n\n"
		   "policies (policy = NAME):\n");
	for (int i = 0; policies[i]; i++)
		fprintf(f, "  %-20s %s\n", policies[i]->name, policies[i]->help);
}

/* every host policy's keys (a policy without keys gives an empty table) */
static const struct key_def *policy_keys(int i)
{
	static const struct key_def none[] = { { 0 } };
	return policies[i] ? policies[i]->keys ? policies[i]->keys : none : NULL;
}

const struct exp_type type_guest = {
	.name = "guest",
	.help = "a guest workload (cyclic, ...; pvbench's kernel or Linux) under a host policy and host load, with host cyclictest",
	.keys = keys,
	.more_keys = policy_keys,
	.describe = describe,
	.rows = "interval_us",
	.columns = "policy",
	.metrics = "lat_avg,lat_max,lat_p99",
	.check = check,
	.run = run,
};
