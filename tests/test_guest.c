/* SPDX-License-Identifier: MIT */
/* The guest kernel under real QEMU on the real /dev/kvm (under TCG where there is none, but for
 * kvm_pvm's emulation failure): boots, runs cyclic, fails, crashes, hangs and is interrupted the
 * way pvbench promises. */
#include <elf.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>
#include "child.h"
#include "cli.h"
#include "hostinfo.h"
#include "metrics.h"
#include "policy.h"
#include "pvb_boost.h"
#include "pvb_record.h"
#include "testlib.h"
#include "vm.h"

static struct hostinfo host;
static char kernel[512], rundir[256];

static int run_guest(const char *job, int vcpus, int timeout_ms, struct vm_result *r)
{
	char err[256];

	assert_int_equal(test_dir(rundir, sizeof(rundir), "guest"), 0);
	struct vm_spec s = { .kernel = kernel, .vcpus = vcpus, .job = job, .timeout_ms = timeout_ms,
			     .run_dir = rundir, .tsc_khz = host.tsc_khz, .tcg = test_tcg };
	if (!host.tsc_khz) {
		int rc = hostinfo_read(&host, err, sizeof(err));
		assert_true(rc == 0 || test_tcg);
		s.tsc_khz = host.tsc_khz;
	}
	return vm_run("qemu", &s, NULL, r);
}

/* The histogram of one CPU, straight from the record. */
static const struct pvb_hist *hist_of(const void *rec, unsigned cpu)
{
	const struct pvb_sec *s = NULL;
	while ((s = pvb_rec_next(rec, s)))
		if (s->type == PVB_SEC_HIST && s->cpu == cpu)
			return (const void *)(s + 1);
	return NULL;
}

static void check_cyclic_cpu(const struct vm_result *r, const struct metric_set *ms, int cpu,
			     double periods)
{
	double samples = metrics_find(ms, "samples", cpu)->value;
	double early = metrics_find(ms, "early_wakes", cpu)->value;
	double over = metrics_find(ms, "overruns", cpu)->value;
	double mn = metrics_find(ms, "lat_min", cpu)->value, avg = metrics_find(ms, "lat_avg", cpu)->value;
	double mx = metrics_find(ms, "lat_max", cpu)->value;
	double p50 = metrics_find(ms, "lat_p50", cpu)->value, p99 = metrics_find(ms, "lat_p99", cpu)->value;
	const struct pvb_hist *h = hist_of(r->record, (unsigned)cpu);
	unsigned long long sum = 0;

	/* every period is a sample, an early wake or a skipped overrun; a slow wake past the end
	 * may skip a few periods beyond it */
	assert_true(samples + early + over >= periods);
	assert_true(samples + early + over <= periods + 50);
	/* ms-scale stalls of this host skip up to ~8% of 1 ms periods (seen in runs); a timer that
	 * fires at half the rate or worse is a bug */
	assert_true(samples >= 0.5 * periods);
	assert_true(avg > 0);
	assert_true(mx >= p99 && p99 >= p50 && p50 >= mn && mn >= 0);
	assert_true(avg >= mn && avg <= mx);
	assert_non_null(h);
	for (unsigned i = 0; i < h->nr_buckets; i++)
		sum += h->counts[i];
	assert_true(sum + h->overflow == (unsigned long long)samples);
}

static void cyclic_runs(int vcpus)
{
	struct vm_result r;
	struct metric_set ms;

	assert_int_equal(run_guest("workload=cyclic interval_us=1000 duration_ms=1000", vcpus, 30000, &r), 0);
	assert_int_equal(r.outcome, RUN_OK);
	assert_int_equal(r.nr_tids, vcpus);
	assert_true(r.boot_to_workload_ms > 0);
	metrics_from_record(r.record, &ms);
	for (int cpu = 0; cpu < vcpus; cpu++)
		check_cyclic_cpu(&r, &ms, cpu, 1000);
	assert_true(metrics_find(&ms, "samples", METRIC_CPU_ALL)->value ==
		    metrics_find(&ms, "samples", 0)->value +
			    (vcpus > 1 ? metrics_find(&ms, "samples", 1)->value : 0));
	assert_true(metrics_find(&ms, "r0.wake_path", METRIC_CPU_VM)->value > 0);
	metrics_free(&ms);
	vm_result_free(&r);
}

static void cyclic_on_one_vcpu(void **state)
{
	REQUIRE_GUEST();
	cyclic_runs(1);
}

static void cyclic_on_two_vcpus(void **state)
{
	REQUIRE_GUEST();
	cyclic_runs(2);
}

static void unknown_workload_is_a_failed_job(void **state)
{
	struct vm_result r;

	REQUIRE_GUEST();
	run_guest("workload=nope", 1, 20000, &r);
	if (r.outcome != RUN_FAILED)
		fail_msg("outcome %d: %s", r.outcome, r.reason);
	assert_non_null(strstr(r.reason, "workload= unknown"));
	vm_result_free(&r);
}

static void bad_value_names_its_key(void **state)
{
	struct vm_result r;

	REQUIRE_GUEST();
	run_guest("workload=cyclic interval_us=fast", 1, 20000, &r);
	assert_int_equal(r.outcome, RUN_FAILED);
	assert_non_null(strstr(r.reason, "interval_us"));
	vm_result_free(&r);
	/* the range is the workload's declared one (workloads/cyclic.c's key table), read in the guest */
	run_guest("workload=cyclic interval_us=10 duration_ms=100", 1, 20000, &r);
	assert_int_equal(r.outcome, RUN_FAILED);
	assert_non_null(strstr(r.reason, "job: interval_us must be 50..10000000"));
	vm_result_free(&r);
}

/* job crashes with #UD in ring (its reason says which) in the guest function named by sym (the
 * reason names it after the RIP, from the guest ELF's symbols) */
static void crash(const char *job, int vcpus, const char *ring, const char *sym)
{
	struct vm_result r;
	struct metric_set ms;

	run_guest(job, vcpus, 20000, &r);
	assert_int_equal(r.outcome, RUN_CRASHED);
	assert_non_null(strstr(r.reason, "#UD at RIP 0x"));
	assert_non_null(strstr(r.reason, ring));
	if (!strstr(r.reason, sym))
		fail_msg("no %s in: %s", sym, r.reason);
	assert_non_null(r.record);
	metrics_from_record(r.record, &ms);
	assert_true(metrics_find(&ms, "crash.vector", METRIC_CPU_VM)->value == 6);
	assert_true(metrics_find(&ms, "crash.rip", METRIC_CPU_VM)->value > 0x100000);
	assert_true(metrics_find(&ms, "crash.cpu", METRIC_CPU_VM)->value == vcpus - 1);
	metrics_free(&ms);
	vm_result_free(&r);
}

/* The guest ELF's symbols name addresses: its entry point is entry64 (the linker script's ENTRY),
 * an address inside it is entry64+0xN, and nothing is named outside its sections or in a file that
 * is no ELF; and names give addresses back. */
static void guest_symbols_name_addresses(void **state)
{
	char sym[96];
	Elf64_Ehdr eh;
	FILE *f = fopen(kernel, "rb");
	assert_non_null(f);
	assert_int_equal(fread(&eh, sizeof(eh), 1, f), 1);
	fclose(f);
	assert_int_equal(guest_symbol(kernel, eh.e_entry, sym, sizeof(sym)), 0);
	assert_string_equal(sym, "entry64");
	assert_int_equal(guest_symbol(kernel, eh.e_entry + 3, sym, sizeof(sym)), 0);
	assert_string_equal(sym, "entry64+0x3");
	assert_int_equal(guest_symbol(kernel, 0x1000, sym, sizeof(sym)), -1);
	assert_int_equal(guest_symbol(kernel, 0xffffffff00000000ull, sym, sizeof(sym)), -1);
	uint64_t at = 0;
	assert_int_equal(guest_symbol_addr(kernel, "entry64", &at), 0);
	assert_true(at == eh.e_entry);
	assert_int_equal(guest_symbol_addr(kernel, "no_such_symbol", &at), -1);
	assert_int_equal(guest_symbol("configs/quick.ini", eh.e_entry, sym, sizeof(sym)), -1);
	assert_int_equal(guest_symbol("/nonexistent", eh.e_entry, sym, sizeof(sym)), -1);
}

static void ring3_fault_is_a_crash_with_rip(void **state)
{
	REQUIRE_GUEST();
	crash("workload=fault", 2, "(ring 3)", "<pvb_platform_fault+0x");
}

static void ring0_fault_is_a_crash_with_rip(void **state)
{
	REQUIRE_GUEST();
	crash("workload=fault where=kernel", 1, "(ring 0)", "<sys_r0fault+0x");
}

/* kvm_pvm cannot emulate lock cmpxchg16b in ring 0: QEMU stops in internal-error and stays up;
 * the host must notice, name the RIP and end it. Hardware KVM runs it and takes the ud2. */
static void emulation_failure_ends_the_run_with_rip(void **state)
{
	struct vm_result r;

	REQUIRE_KVM(); /* kvm_pvm's emulator fails where TCG does not */
	if (!hostinfo_kvm_pvm()) {
		crash("workload=fault where=emulation", 1, "(ring 0)", "<sys_r0fault+0x");
		return;
	}
	run_guest("workload=fault where=emulation", 1, 20000, &r);
	assert_int_equal(r.outcome, RUN_CRASHED);
	assert_non_null(strstr(r.reason, "emulation failure at RIP 0x"));
	assert_non_null(strstr(r.reason, "<sys_r0fault+0x"));
	assert_int_equal(procs_matching(rundir), 0);
	vm_result_free(&r);
}

static void hung_guest_is_killed_at_its_timeout(void **state)
{
	struct vm_result r;
	struct timespec a, b;

	REQUIRE_GUEST();
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_guest("workload=hang", 1, 2000, &r);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(r.outcome, RUN_TIMEOUT);
	assert_non_null(strstr(r.reason, "2000 ms timeout"));
	/* and where it hung */
	const char *at = strstr(r.reason, "registers.txt: vCPU 0 at 0x");
	assert_non_null(at);
	/* in a function of the guest's, by name: the 16 digits of the RIP, then its symbol */
	at += strlen("registers.txt: vCPU 0 at 0x");
	if (strspn(at, "0123456789abcdef") != 16 || strncmp(at + 16, " <", 2))
		fail_msg("no symbol after the RIP: %s", r.reason);
	char regs[600];
	snprintf(regs, sizeof(regs), "%s/registers.txt", rundir);
	assert_int_equal(access(regs, R_OK), 0);
	assert_true(b.tv_sec - a.tv_sec < 10);
	assert_int_equal(procs_matching(rundir), 0);
	vm_result_free(&r);
}

/* A hang in the TSC-deadline sleep (the nested KVM's lost timer looks like this) must say whether
 * the deadline had passed: the dump has the guest's TSC beside its registers. hang sleeps 1 s at a
 * time, so the halted vCPU's deadline (RDI at the sleep's hlt) lies within a second of that TSC:
 * a wrong offset or scaling puts it seconds or years away. */
static void hang_dump_has_the_guests_tsc(void **state)
{
	struct vm_result r;
	char regs[600], text[16384];
	unsigned long long rdi = 0, tsc = 0;

	REQUIRE_KVM();
	/* the dump may catch the vCPU between its timer and its next sleep (under the nested KVM a
	 * wake-up takes milliseconds of each second): then again, up to three times */
	for (int tries = 0;; tries++) {
		run_guest("workload=hang", 1, 3000, &r);
		assert_int_equal(r.outcome, RUN_TIMEOUT);
		assert_non_null(strstr(r.reason, "vCPU 0 at 0x"));
		if (strstr(r.reason, "(halted") || tries == 2)
			break;
		fprintf(stderr, "note: caught awake, again: %s\n", r.reason);
		vm_result_free(&r);
	}
	assert_non_null(strstr(r.reason, "(halted"));
	snprintf(regs, sizeof(regs), "%s/registers.txt", rundir);
	read_text(regs, text, sizeof(text));
	const char *d = strstr(text, "RDI="), *g = strstr(text, "guest TSC now");
	assert_non_null(d);
	if (access("/sys/kernel/debug/kvm", F_OK)) { /* no debugfs here (the nested VM mounts it) */
		fprintf(stderr, "note: no /sys/kernel/debug/kvm: the dump cannot read the guest's TSC\n");
		assert_null(g);
		assert_non_null(strstr(text, "guest TSC: not read (no /sys/kernel/debug/kvm/"));
		vm_result_free(&r);
		return;
	}
	assert_non_null(g);
	g = strstr(g, "vCPU 0: ");
	assert_non_null(g);
	assert_int_equal(sscanf(d + 4, "%llx", &rdi), 1);
	assert_int_equal(sscanf(g + 8, "%llx", &tsc), 1);
	double ahead_s = ((double)rdi - (double)tsc) / (host.tsc_khz * 1000.0);
	fprintf(stderr, "note: hung guest's deadline %.3f s after its TSC at the dump (%.3f s since its reset)\n",
		ahead_s, tsc / (host.tsc_khz * 1000.0));
	assert_true(ahead_s > -1 && ahead_s <= 1.01);
	/* and the reason says as much: halted in the TSC-deadline sleep, its deadline that far off */
	const char *say = strstr(r.reason, "(halted, TSC deadline ");
	double said;
	char dir[8];
	if (!say || sscanf(say, "(halted, TSC deadline %7s %lf s)", dir, &said) != 2)
		fail_msg("no TSC deadline in: %s", r.reason);
	said = !strcmp(dir, "passed") ? -said : said;
	fprintf(stderr, "note: %s\n", r.reason);
	assert_true(said - ahead_s < 0.002 && ahead_s - said < 0.002);
	assert_int_equal(procs_matching(rundir), 0);
	vm_result_free(&r);
}

/* QEMU that refuses its command line exits at once: the run says QEMU's own words, at once (not
 * after the 30 s a slow start-up may take to greet), and leaves nothing running. */
static void qemu_that_cannot_start_says_why(void **state)
{
	struct vm_result r;
	struct timespec a, b;

	REQUIRE_GUEST();
	setenv("PVBENCH_QEMU_CPU", "no-such-cpu", 1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(run_guest("workload=cyclic", 1, 20000, &r), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	unsetenv("PVBENCH_QEMU_CPU");
	fprintf(stderr, "note: %s\n", r.reason);
	assert_int_equal(r.outcome, RUN_ERROR);
	assert_non_null(strstr(r.reason, "QEMU did not start: "));
	assert_non_null(strstr(r.reason, "no-such-cpu"));
	assert_null(strstr(r.reason, "it still ran"));
	assert_true(b.tv_sec - a.tv_sec < 20);
	assert_int_equal(procs_matching(rundir), 0);
	vm_result_free(&r);
}

static void sigint_leaves_no_qemu(void **state)
{
	char bin[512], dir[256];
	struct child pv;
	char err[256];
	int qemu_seen = 0;

	REQUIRE_GUEST();
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	assert_int_equal(test_dir(dir, sizeof(dir), "sigint"), 0);
	char *argv[] = { bin, "guest", "run", "--duration", "60s", "--run-dir", dir, "--accel",
			 test_tcg ? "tcg" : "kvm", NULL };
	assert_int_equal(child_spawn(&pv, argv, NULL, err, sizeof(err)), 0);
	for (int i = 0; i < 100 && !qemu_seen; i++) {
		usleep(50000);
		qemu_seen = procs_matching("console.log") && procs_matching(dir) > 1;
	}
	assert_true(qemu_seen);
	usleep(300000); /* let the guest reach its workload */
	kill(pv.pid, SIGINT);
	assert_true(child_wait(&pv, 5000));
	assert_true(WIFEXITED(pv.status));
	assert_int_equal(WEXITSTATUS(pv.status), EXIT_INTERRUPTED);
	assert_int_equal(procs_matching(dir), 0);
}

/* A valid record with no per-vCPU metric (the channel workload reports VM-level figures only):
 * the one-guest command prints its summary and says so, instead of reading a column it never
 * found. Run from the normal build; the ASan build runs the same code in-process elsewhere. */
static void record_without_vcpu_metrics_is_reported(void **state)
{
	char bin[512], dir[256], out[300], err[256], line[256];
	struct child c;
	int said = 0;

	REQUIRE_GUEST();
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	assert_int_equal(test_dir(dir, sizeof(dir), "novcpu"), 0);
	snprintf(out, sizeof(out), "%s/out", dir);
	char *argv[] = { bin, "guest", "run", "--workload", "channel", "--set", "channel=0", "--set",
			 "ring=3", "--set", "count=10", "--duration", "1s", "--run-dir", dir, "--accel",
			 test_tcg ? "tcg" : "kvm", NULL };
	struct child_io io = { .stdout_path = out };
	assert_int_equal(child_spawn(&c, argv, &io, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 30000));
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), EXIT_OK);
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		said |= !strcmp(line, "(the record has no per-vCPU metrics)\n");
	fclose(f);
	assert_true(said);
}

/* Without /dev/kvm the one-guest command says how it would run anyway, in its own option's
 * spelling; with KVM it just runs. */
static void guest_run_without_kvm_names_its_option(void **state)
{
	char bin[512], dir[256], errp[300], err[256];
	static char buf[8192];
	struct child c;

	REQUIRE_GUEST();
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	assert_int_equal(test_dir(dir, sizeof(dir), "nokvm"), 0);
	snprintf(errp, sizeof(errp), "%s/err", dir);
	char *argv[] = { bin, "guest", "run", "--duration", "1s", "--run-dir", dir, NULL };
	struct child_io io = { .stdout_path = "/dev/null", .stderr_path = errp };
	assert_int_equal(child_spawn(&c, argv, &io, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 30000));
	assert_true(WIFEXITED(c.status));
	read_text(errp, buf, sizeof(buf));
	if (!test_tcg) {
		assert_int_equal(WEXITSTATUS(c.status), EXIT_OK);
		return;
	}
	assert_int_equal(WEXITSTATUS(c.status), EXIT_ERROR); /* skipped: it did not run */
	assert_non_null(strstr(buf, "pvbench: guest skipped: unavailable: /dev/kvm: "));
	assert_non_null(strstr(buf, "\npvbench: --accel tcg runs it under QEMU's emulator"));
}

/* A guest that floods its console is stopped (an error, not a crash), well before its timeout,
 * and leaves no process; the limit is the spec's (16 KiB here, 1 MiB by default). */
static void console_flood_is_stopped(void **state)
{
	struct vm_result r;
	struct timespec a, b;
	char err[256];

	REQUIRE_GUEST();
	assert_int_equal(test_dir(rundir, sizeof(rundir), "flood"), 0);
	if (!host.tsc_khz)
		assert_true(hostinfo_read(&host, err, sizeof(err)) == 0 || test_tcg);
	struct vm_spec s = { .kernel = kernel, .vcpus = 1, .job = "workload=hang flood_kib=256",
			     .timeout_ms = 30000, .run_dir = rundir, .tsc_khz = host.tsc_khz,
			     .tcg = test_tcg, .console_max = 16 << 10 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; vm_backends[i]; i++) {
		if (test_tcg && strcmp(vm_backends[i]->name, "qemu"))
			continue;
		assert_int_not_equal(vm_backends[i]->run(&s, NULL, &r), 0);
		assert_int_equal(r.outcome, RUN_ERROR);
		assert_non_null(strstr(r.reason, "flooded its console"));
		vm_result_free(&r);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 25);
	assert_int_equal(procs_matching(rundir), 0);
}

/* The boost region end to end: the host offers it, the guest accepts, and while cyclic runs the
 * host reads (with the decoder, as an agent would) idle slots carrying the next RT deadline and
 * running slots at the workload's RT priority, on every vCPU. */
struct boost_watch {
	struct pvb_boost_hdr *h;
	struct pvb_boost_stats st;
	int idle_with_deadline[2], running_rt[2], negotiated;
	uint32_t features, seq[2];
	int64_t offset;          /* host TSC - guest TSC, at most (from guest_tsc_ready) */
};

static int bw_started(void *arg, const struct vm_view *vm, char *err, size_t n)
{
	struct boost_watch *w = arg;
	w->h = vm->boost;
	return vm->boost ? 0 : (snprintf(err, n, "no boost region in the view"), -1);
}

static int bw_tick(void *arg, char *err, size_t n)
{
	struct boost_watch *w = arg;
	/* a deadline within 50 ms of now, in the guest's TSC */
	struct pvb_boost_limits lim = { .max_prio = 50, .features = PVB_BF_BOOST | PVB_BF_RT_DEADLINE,
					.max_ahead_tsc = host.tsc_khz * 50ull, .read_tries = 4 };
	/* guest memory is gone after the run: everything is read while it runs */
	if (!w->negotiated && !pvb_boost_host_check(w->h, PVB_PV_SIZE, 2, &w->features)) {
		w->negotiated = 1;
		w->offset = (int64_t)(__builtin_ia32_rdtsc() - w->h->guest_tsc_ready);
	}
	if (!w->negotiated)
		return 0;
	for (unsigned c = 0; c < 2; c++) {
		struct pvb_boost_view v;
		w->seq[c] = pvb_boost_slot(w->h, c)->seq;
		if (pvb_boost_read(pvb_boost_slot(w->h, c), &lim, __builtin_ia32_rdtsc() - (uint64_t)w->offset, &v,
				   &w->st) >= PVB_BOOST_READ_TORN)
			continue;
		w->idle_with_deadline[c] += v.cls == PVB_CLASS_IDLE && v.next_rt_tsc;
		w->running_rt[c] += v.cls == PVB_CLASS_RT && v.prio == 40;
	}
	return 0;
}

static void boost_region_is_negotiated_and_published(void **state)
{
	struct vm_result r;
	struct boost_watch w = { 0 };
	char err[256];

	REQUIRE_GUEST();
	assert_int_equal(test_dir(rundir, sizeof(rundir), "boost"), 0);
	if (!host.tsc_khz)
		assert_true(hostinfo_read(&host, err, sizeof(err)) == 0 || test_tcg);
	struct vm_spec s = { .kernel = kernel, .vcpus = 2, .job = "workload=cyclic duration_ms=1500 rt_prio=40",
			     .timeout_ms = 30000, .run_dir = rundir, .tsc_khz = host.tsc_khz,
			     .tcg = test_tcg, .boost = 1 };
	struct vm_hooks h = { .arg = &w, .tick_ms = 1, .started = bw_started, .tick = bw_tick };
	if (vm_backend_qemu.run(&s, &h, &r))
		fail_msg("%s", r.reason);
	assert_true(w.negotiated);
	assert_int_equal(w.features, PVB_BF_BOOST | PVB_BF_RT_DEADLINE | PVB_BF_UTIL | PVB_BF_HINT | PVB_BF_CAPACITY_ORIG);
	for (int c = 0; c < 2; c++) {
		assert_true(w.seq[c] > 1000); /* 2 publishes per 1 ms period, 4 to the seqcount */
		assert_true(w.idle_with_deadline[c] > 0);
		assert_true(w.running_rt[c] + w.idle_with_deadline[c] > 10);
	}
	struct metric_set ms;
	metrics_from_record(r.record, &ms);
	assert_true(metrics_find(&ms, "boost_region", METRIC_CPU_VM)->value == 1);
	metrics_free(&ms);
	vm_result_free(&r);
}

/* audioloop: every buffer period of 1 s is counted, as played or as a glitch. */
static void audioloop_accounts_for_every_period(void **state)
{
	struct vm_result r;
	struct metric_set ms;

	REQUIRE_GUEST();
	assert_int_equal(run_guest("workload=audioloop buffer_frames=480 rate_hz=48000 load_pct=20 duration_ms=1000",
				   2, 30000, &r), 0);
	metrics_from_record(r.record, &ms);
	for (int cpu = 0; cpu < 2; cpu++) {
		double periods = metrics_find(&ms, "periods", cpu)->value; /* 10 ms each */
		assert_true(periods >= 95 && periods <= 101);
		assert_true(metrics_find(&ms, "glitches", cpu)->value <= periods);
	}
	assert_true(metrics_find(&ms, "glitches_per_min", METRIC_CPU_ALL) != NULL);
	assert_true(metrics_find(&ms, "period", METRIC_CPU_VM)->value == 10000000);
	metrics_free(&ms);
	vm_result_free(&r);
}

/* guest_load=busy: a hog runs on the vCPU whenever cyclic waits, and the timer preempts it back
 * to cyclic (the redirect in the timer handler); every period is still accounted for. */
static void busy_guest_preempts_its_hog(void **state)
{
	struct vm_result r;
	struct metric_set ms;

	REQUIRE_GUEST();
	assert_int_equal(run_guest("workload=cyclic interval_us=2000 duration_ms=1000 guest_load=busy", 1, 30000, &r), 0);
	metrics_from_record(r.record, &ms);
	double samples = metrics_find(&ms, "samples", 0)->value, over = metrics_find(&ms, "overruns", 0)->value;
	fprintf(stderr, "note: busy guest, 500 periods: %.0f samples, %.0f overruns, hog gave up %.0f times\n", samples,
		over, metrics_find(&ms, "hog_gave_up", 0)->value);
	assert_true(samples + over + metrics_find(&ms, "early_wakes", 0)->value >= 490);
	assert_true(samples > 250);
	assert_true(metrics_find(&ms, "hog_work", 0)->value > 1000);
	assert_true(metrics_find(&ms, "hog_gave_up", 0)->value < samples / 2); /* mostly the timer */
	assert_true(metrics_find(&ms, "guest_load_busy", METRIC_CPU_VM)->value == 1);
	metrics_free(&ms);
	vm_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cyclic_on_one_vcpu),
		cmocka_unit_test(cyclic_on_two_vcpus),
		cmocka_unit_test(unknown_workload_is_a_failed_job),
		cmocka_unit_test(bad_value_names_its_key),
		cmocka_unit_test(ring3_fault_is_a_crash_with_rip),
		cmocka_unit_test(ring0_fault_is_a_crash_with_rip),
		kvm_test(emulation_failure_ends_the_run_with_rip),
		cmocka_unit_test(guest_symbols_name_addresses),
		cmocka_unit_test(hung_guest_is_killed_at_its_timeout),
		kvm_test(hang_dump_has_the_guests_tsc),
		cmocka_unit_test(qemu_that_cannot_start_says_why),
		cmocka_unit_test(sigint_leaves_no_qemu),
		cmocka_unit_test(record_without_vcpu_metrics_is_reported),
		cmocka_unit_test(guest_run_without_kvm_names_its_option),
		cmocka_unit_test(console_flood_is_stopped),
		cmocka_unit_test(boost_region_is_negotiated_and_published),
		cmocka_unit_test(audioloop_accounts_for_every_period),
		cmocka_unit_test(busy_guest_preempts_its_hog),
	};
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", build_dir());
	child_signals_install();
	return cmocka_run_group_tests_name("guest", tests, NULL, NULL);
}
