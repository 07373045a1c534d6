/* SPDX-License-Identifier: MIT */
/* pvbench run end to end on the real /dev/kvm (under TCG where there is none): quick.ini into a
 * temporary store, the static policy seen from outside, a hung guest, and Ctrl-C in the middle of
 * a run. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "child.h"
#include "cli.h"
#include "config.h"
#include "freqemu.h"
#include "hostinfo.h"
#include "policy.h"
#include "pvb_boost.h"
#include "testlib.h"
#include "vm.h"

static char tmp[256];

static int setup(void **state)
{
	return test_dir(tmp, sizeof(tmp), "harness");
}

static int pvbench(char **args, int timeout_ms, char *out_path)
{
	char bin[512], err[256];
	char *argv[16] = { bin };
	struct child c;
	struct child_io io = { .stdout_path = out_path, .stderr_path = NULL };

	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	int i = 0;
	for (; args[i] && i < 12; i++)
		argv[i + 1] = args[i];
	if (test_tcg && !strcmp(args[0], "run")) { /* no KVM here: the same runs under TCG */
		argv[++i] = "--set";
		argv[++i] = "accel=tcg";
	}
	assert_int_equal(child_spawn(&c, argv, &io, err, sizeof(err)), 0);
	assert_true(child_wait(&c, timeout_ms));
	return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

static int count_runs(const char *db, const char *where)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs WHERE %s", where);
	return (int)store_value(db, sql);
}

/* A run of a test's experiment that did not end ok, each with its reason, on stderr: when a test
 * fails on a run (a rare nested-KVM hang, say), its log says which and why. Returns how many. */
static int show_failed_runs(void *arg, int n, char **vals, char **names)
{
	(void)names;
	fprintf(stderr, "run not ok: %s rep %s: %s: %s\n", n > 0 && vals[0] ? vals[0] : "", n > 1 && vals[1] ? vals[1] : "",
		n > 2 && vals[2] ? vals[2] : "", n > 3 && vals[3] ? vals[3] : "");
	++*(int *)arg;
	return 0;
}

static int failed_runs(const char *db)
{
	sqlite3 *h;
	int n = 0;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		sqlite3_exec(h, "SELECT variant, rep, status, reason FROM runs WHERE status != 'ok'", show_failed_runs, &n,
			     NULL);
	sqlite3_close(h);
	return n;
}

static void quick_ini_end_to_end(void **state)
{
	char db[300], out[300], line[512];
	int tables = 0;
	FILE *f;

	REQUIRE_GUEST();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	snprintf(out, sizeof(out), "%s/out.txt", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "configs/quick.ini", NULL }, 300000, out), 0);
	assert_int_equal(count_runs(db, "experiment='quick' AND status='ok'"), 8);
	/* each run names the KVM that ran it: none under TCG; scripts/kvm-nested's VM has SVM and
	 * kvm_amd (a kernel may list kvm_pvm too, built in, without serving) */
	assert_int_equal(count_runs(db, test_tcg ? "kvm_backend = 'none'" :
					hostinfo_nested_tcg() ? "kvm_backend = 'kvm_amd, nested under TCG'" :
								"kvm_backend IN ('kvm_intel', 'kvm_amd', 'kvm_pvm')"), 8);
	/* the same tables come back from compare */
	snprintf(out, sizeof(out), "%s/compare.txt", tmp);
	assert_int_equal(pvbench((char *[]){ "compare", "--db", db, "quick", NULL }, 20000, out), 0);
	f = fopen(out, "r");
	while (fgets(line, sizeof(line), f))
		tables += !strncmp(line, "Avg Latency (us)", 16) || !strncmp(line, "Max Latency (us)", 16) ||
			  !strncmp(line, "p99 Latency (us)", 16);
	fclose(f);
	assert_int_equal(tables, 3);
	/* a second run finds everything stored and runs nothing */
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "configs/quick.ini", NULL }, 20000, NULL), 0);
	assert_int_equal(count_runs(db, "1"), 8);
}

struct watch {
	struct policy pol;
	int fifo_seen[VM_MAX_VCPUS], nr;
	int tids[VM_MAX_VCPUS];
};

/* A guest-type run's keys with static_prio = prio: what a policy reads its keys from. */
static const struct run_spec *spec_with_prio(const char *prio)
{
	return guest_spec("static_prio", prio, NULL);
}

static int w_started(void *arg, const struct vm_view *vm, char *err, size_t n)
{
	struct watch *w = arg;
	w->nr = vm->nr_vcpus;
	memcpy(w->tids, vm->tids, (size_t)vm->nr_vcpus * sizeof(int));
	/* the policy's view of guest memory is the guest's RAM, writable */
	if (!vm->mem || vm->mem_size < (16u << 20)) {
		snprintf(err, n, "no guest memory view");
		return -1;
	}
	vm->mem[0x7ff0] = vm->mem[0x7ff0];
	return w->pol.ops->start(&w->pol, vm, err, n);
}

static int w_tick(void *arg, char *err, size_t n)
{
	struct watch *w = arg;
	for (int i = 0; i < w->nr; i++) {
		int prio = 0;
		if (sched_policy_of(w->tids[i], &prio) == SCHED_FIFO && prio == 42)
			w->fifo_seen[i] = 1;
	}
	return 0;
}

/* On each VM backend: the policy sees the vCPU threads FIFO 42 during the run, restored after. */
static void static_policy_makes_vcpu_threads_fifo(void **state)
{
	struct hostinfo host;
	char err[256], kernel[512];

	REQUIRE_GUEST();
	assert_true(hostinfo_read(&host, err, sizeof(err)) == 0 || test_tcg);
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", build_dir());
	for (int b = 0; vm_backends[b]; b++) {
		if (test_tcg && strcmp(vm_backends[b]->name, "qemu")) {
			fprintf(stderr, "note: %s backend not tried: it needs KVM\n", vm_backends[b]->name);
			continue;
		}
		struct vm_result r;
		struct watch w = { .pol = { .ops = policy_find("static"), .spec = spec_with_prio("42") } };
		assert_int_equal(w.pol.ops->prepare(&w.pol, err, sizeof(err)), 0);
		struct vm_spec s = { .kernel = kernel, .vcpus = 2, .job = "workload=cyclic duration_ms=1000",
				     .timeout_ms = 20000, .run_dir = tmp, .tsc_khz = host.tsc_khz, .tcg = test_tcg };
		struct vm_hooks h = { .arg = &w, .started = w_started, .tick = w_tick };
		if (vm_backends[b]->run(&s, &h, &r))
			fail_msg("%s: %s", vm_backends[b]->name, r.reason);
		w.pol.ops->stop(&w.pol);
		assert_int_equal(w.nr, 2);
		if (!w.fifo_seen[0] || !w.fifo_seen[1])
			fail_msg("%s: vCPU threads not seen at FIFO 42", vm_backends[b]->name);
		vm_result_free(&r);
		struct metric_set ms = { 0 };
		w.pol.ops->counters(&w.pol, &ms);
		assert_true(metrics_find(&ms, "policy.boosted_vcpus", METRIC_CPU_VM)->value == 2);
		metrics_free(&ms);
		w.pol.ops->destroy(&w.pol);
	}
}

static volatile int stop_threads;
static void *sleeper(void *arg)
{
	*(int *)arg = (int)syscall(SYS_gettid);
	while (!stop_threads)
		usleep(1000);
	return NULL;
}

/* A vCPU thread whose guest runs and halts now and then: 5 ms on a CPU, 0.1 ms asleep */
static void *burster(void *arg)
{
	*(int *)arg = (int)syscall(SYS_gettid);
	while (!stop_threads) {
		uint64_t t = mono_ns() + 5000000;
		while (mono_ns() < t && !stop_threads)
			;
		usleep(100);
	}
	return NULL;
}

static void static_policy_restores_what_it_changed(void **state)
{
	pthread_t th[2];
	int tids[2] = { 0, 0 }, prio;
	char err[256];
	struct policy p = { .ops = policy_find("static"), .spec = spec_with_prio("33") };
	struct vm_view vm = { .tids = tids, .nr_vcpus = 2 };

	stop_threads = 0;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, sleeper, &tids[i]);
	while (!tids[0] || !tids[1])
		usleep(1000);
	if (p.ops->prepare(&p, err, sizeof(err)))
		skip(); /* no RT scheduling here: the policy refuses, as it should */
	assert_int_equal(p.ops->start(&p, &vm, err, sizeof(err)), 0);
	assert_int_equal(sched_policy_of(tids[1], &prio), SCHED_FIFO);
	assert_int_equal(prio, 33);
	p.ops->stop(&p);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sched_policy_of(tids[i], &prio), SCHED_OTHER);
		assert_int_equal(prio, 0);
	}
	struct metric_set ms = { 0 };
	p.ops->counters(&p, &ms);
	metrics_free(&ms);
	p.ops->destroy(&p);
	stop_threads = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}

/* A scripted guest's half of negotiation in a region the host offered (every feature, priorities
 * up to 50): what it accepts, then, once the agent runs (or at once), that it is ready, its TSC
 * stamped just before, which the agent bounds the TSC offset by. */
static struct pvb_boost_hdr *guest_accepts(void *region, size_t size, unsigned nr, uint32_t features)
{
	struct pvb_boost_hdr *h = region;
	pvb_boost_host_init(region, size, nr, PVB_BF_KNOWN, 50);
	h->guest_features = features;
	h->guest_version = 1;
	return h;
}

static void guest_says_ready(struct pvb_boost_hdr *h)
{
	h->guest_tsc_ready = __builtin_ia32_rdtsc();
	__atomic_store_n(&h->guest_ready, 1, __ATOMIC_RELEASE);
}

/* A rogue guest: after an honest negotiation it writes random bytes over its slots as fast as it
 * can, then (greedy) claims to halt until an RT deadline due now, with priority 255, without pause,
 * while its vCPUs run: 5 ms, then a halt of 0.1 ms, so the host sees them sleep and the agent
 * parks them. The agent never crashes or stalls, never gives a priority above the VM's cap, never
 * keeps a vCPU that runs boosted past boost_max_ms without as long a cool-down (so no more CPU
 * than `static`, and in bounded stretches), and restores everything on stop. The random stamps
 * claim any TSC offset: the greedy claims that follow must still be read against the truth (an
 * offset that only ever went down, to the least bound claimed, left them all past due and
 * rejected: no boost). */
static volatile int rogue_stop, rogue_greedy;
static void *rogue(void *arg)
{
	uint8_t *region = arg;
	uint64_t x = 88172645463325252ull;
	while (!rogue_stop) {
		if (rogue_greedy) { /* a deadline due now, always, with maximal values everywhere */
			for (unsigned c = 0; c < 2; c++) {
				uint64_t now = __builtin_ia32_rdtsc();
				struct pvb_boost_slot *s = pvb_boost_slot(region, c);
				s->seq &= ~1u; /* a smart rogue: its writes read as consistent */
				pvb_boost_publish(s, PVB_CLASS_IDLE, 255, 0xff, now, 0xffffffffu, now);
			}
			usleep(50);
			continue;
		}
		for (unsigned i = PVB_BOOST_HDR_SIZE; i < pvb_boost_region_size(2); i += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: random bytes */
			memcpy(region + i, &x, 8);
		}
	}
	return NULL;
}

static void rogue_guest_gets_no_more_than_static(void **state)
{
	static uint8_t region[PVB_PV_SIZE];
	pthread_t th[2], rg;
	int tids[2] = { 0, 0 }, prio, over_cap = 0, boosted_seen = 0;
	char err[256];
	const struct policy_ops *ops = policy_find("dynamic-predictive");
	struct policy p = { .ops = ops, .spec = spec_with_prio("50") };

	stop_threads = rogue_stop = rogue_greedy = 0;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, burster, &tids[i]);
	while (!tids[0] || !tids[1])
		usleep(1000);
	struct pvb_boost_hdr *h = guest_accepts(region, sizeof(region), 2, PVB_BF_BOOST | PVB_BF_RT_DEADLINE);
	guest_says_ready(h);
	struct vm_view vm = { .tids = tids, .nr_vcpus = 2, .tsc_khz = 2000000, .boost = region,
			      .boost_size = sizeof(region) };
	if (ops->prepare(&p, err, sizeof(err)))
		skip(); /* no RT scheduling here */
	pthread_create(&rg, NULL, rogue, region);
	assert_int_equal(ops->start(&p, &vm, err, sizeof(err)), 0);
	/* 0.5 s random, 1.5 s greedy, looking every ms (by the clock: boosted vCPUs that run starve
	 * this thread for a while) */
	double t0 = mono_ms(), t, fifo_from[2] = { -1, -1 }, longest = 0; /* seen FIFO at every look */
	while ((t = mono_ms() - t0) < 2000) {
		rogue_greedy = t >= 500;
		for (int i = 0; i < 2; i++)
			if (sched_policy_of(tids[i], &prio) == SCHED_FIFO) {
				boosted_seen++;
				over_cap += prio > 50;
				fifo_from[i] = fifo_from[i] < 0 ? t : fifo_from[i];
				longest = t - fifo_from[i] > longest ? t - fifo_from[i] : longest;
			} else {
				fifo_from[i] = -1;
			}
		usleep(1000);
	}
	ops->stop(&p);
	rogue_stop = 1;
	pthread_join(rg, NULL);
	for (int i = 0; i < 2; i++)
		assert_int_equal(sched_policy_of(tids[i], &prio), SCHED_OTHER);
	struct metric_set ms = { 0 };
	ops->counters(&p, &ms);
	fprintf(stderr, "note: rogue guest: %.0f sched errors, %.0f boosts, %.0f parked, %.0f cool-downs, %.0f rejected values, "
		"%.0f torn reads, %.0f offset resets, boosted %.0f ms of 2 x 1500, longest seen %.0f ms\n",
		metrics_find(&ms, "sched_errors", METRIC_CPU_VM)->value,
		metrics_find(&ms, "boosts", METRIC_CPU_VM)->value, metrics_find(&ms, "parks", METRIC_CPU_VM)->value,
		metrics_find(&ms, "cooldowns", METRIC_CPU_VM)->value,
		metrics_find(&ms, "rejected_values", METRIC_CPU_VM)->value,
		metrics_find(&ms, "torn_reads", METRIC_CPU_VM)->value, metrics_find(&ms, "offset_resets", METRIC_CPU_VM)->value,
		metrics_find(&ms, "boosted_ms", METRIC_CPU_ALL)->value, longest);
	assert_int_equal(over_cap, 0);
	assert_true(metrics_find(&ms, "rejected_values", METRIC_CPU_VM)->value > 0);
	assert_true(metrics_find(&ms, "offset_resets", METRIC_CPU_VM)->value > 0); /* its random stamps */
	assert_true(metrics_find(&ms, "sched_errors", METRIC_CPU_VM)->value == 0);
	/* greedy: boosted, but in stretches of at most boost_max_ms (50) each followed by as long
	 * unboosted: about half of the 1.5 s per vCPU, never all of it */
	double boosts = metrics_find(&ms, "boosts", METRIC_CPU_VM)->value;
	assert_true(boosts > 0);
	assert_true(boosted_seen > 0);
	/* the host saw them halt, and the rogue said RT was next: parked, and still bounded */
	if (metrics_find(&ms, "host_trace", METRIC_CPU_VM)->value == 1)
		assert_true(metrics_find(&ms, "parks", METRIC_CPU_VM)->value > 0);
	/* no stretch much longer than 50 ms: each ends by the bound, or sooner by the agent's own
	 * unboost (the rogue's claims flip), and boosts that follow closely count as one */
	assert_true(longest <= 2 * 50);
	assert_true(metrics_find(&ms, "boosted_ms", METRIC_CPU_ALL)->value <= boosts * 50 * 1.5 + 10);
	assert_true(metrics_find(&ms, "boosted_ms", METRIC_CPU_ALL)->value <= 2 * 2000 * 0.6); /* static: 2 x 2000 */
	metrics_free(&ms);
	ops->destroy(&p);
	stop_threads = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}

/* An honest guest that halts until its next RT deadline, every ms (a cyclic task): predictive
 * boosts each vCPU at its first deadline and parks it there. It stays boosted while it halts and
 * runs its RT task, the agent hardly wakes (no wake-up per period), and the bound never cuts in
 * (it runs ~2% of the time). Then the VM powers off before the policy stops: the vCPU threads'
 * own trace events hang up, which must not wake the agent in a loop. */
static uint8_t halt_region[PVB_PV_SIZE];
static unsigned halt_khz;
struct halter { int idx, tid; };
static void *rt_halter(void *arg)
{
	struct halter *hl = arg;
	struct pvb_boost_slot *s = pvb_boost_slot(halt_region, (unsigned)hl->idx);
	__atomic_store_n(&hl->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!stop_threads) {
		uint64_t now = __builtin_ia32_rdtsc();
		pvb_boost_publish(s, PVB_CLASS_IDLE, 0, 0, now + halt_khz, 0, now);
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		pvb_boost_publish(s, PVB_CLASS_RT, 50, PVB_SF_BOOST_REQ, 0, 0, __builtin_ia32_rdtsc());
		uint64_t end = mono_ns() + 20000;
		while (mono_ns() < end)
			;
	}
	return NULL;
}

static void predictive_parks_a_halting_rt_vcpu(void **state)
{
	pthread_t th[2];
	struct halter hl[2] = { { 0, 0 }, { 1, 0 } };
	int tids[2], fifo = 0, looks = 0, prio;
	char err[256];
	struct hostinfo host;
	const struct policy_ops *ops = policy_find("dynamic-predictive");
	struct policy p = { .ops = ops, .spec = spec_with_prio("50") };

	hostinfo_read(&host, err, sizeof(err)); /* no KVM needed: only the TSC rate */
	if (!host.tsc_khz)
		skip(); /* no TSC rate to publish deadlines in */
	halt_khz = host.tsc_khz;
	if (ops->prepare(&p, err, sizeof(err)))
		skip(); /* no RT scheduling here */
	stop_threads = 0;
	struct pvb_boost_hdr *h = guest_accepts(halt_region, sizeof(halt_region), 2, PVB_BF_BOOST | PVB_BF_RT_DEADLINE);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, rt_halter, &hl[i]);
	for (int i = 0; i < 2; i++) {
		while (!__atomic_load_n(&hl[i].tid, __ATOMIC_ACQUIRE))
			usleep(1000);
		tids[i] = hl[i].tid;
	}
	struct vm_view vm = { .tids = tids, .nr_vcpus = 2, .tsc_khz = halt_khz, .boost = halt_region,
			      .boost_size = sizeof(halt_region) };
	assert_int_equal(ops->start(&p, &vm, err, sizeof(err)), 0);
	guest_says_ready(h);
	usleep(100000); /* the first deadlines */
	double t0 = mono_ms();
	while (mono_ms() - t0 < 500) {
		for (int i = 0; i < 2; i++, looks++)
			fifo += sched_policy_of(tids[i], &prio) == SCHED_FIFO;
		usleep(1000);
	}
	stop_threads = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	usleep(300000);
	ops->stop(&p);
	struct metric_set ms = { 0 };
	ops->counters(&p, &ms);
	double cpu = metrics_find(&ms, "agent_cpu_pct", METRIC_CPU_VM)->value;
	double boosts = metrics_find(&ms, "boosts", METRIC_CPU_VM)->value,
	       parks = metrics_find(&ms, "parks", METRIC_CPU_VM)->value,
	       wakeups = metrics_find(&ms, "agent_wakeups", METRIC_CPU_VM)->value,
	       cooldowns = metrics_find(&ms, "cooldowns", METRIC_CPU_VM)->value;
	int traced = metrics_find(&ms, "host_trace", METRIC_CPU_VM)->value == 1;
	fprintf(stderr, "note: halting RT vCPUs, predictive: boosted at %d of %d looks; %.0f boosts, %.0f parked, "
		"%.0f cool-downs, %.0f agent wake-ups (%.0f timer, %.0f trace) in ~0.6 s (~1200 periods); agent %.2f%% "
		"of a CPU with 0.3 s after the threads ended\n", fifo, looks, boosts, parks, cooldowns, wakeups,
		metrics_find(&ms, "agent_wakeups_timer", METRIC_CPU_VM)->value,
		metrics_find(&ms, "agent_wakeups_trace", METRIC_CPU_VM)->value, cpu);
	metrics_free(&ms);
	ops->destroy(&p);
	if (!traced)
		skip(); /* without the host's view of its halts nothing is parked */
	assert_true(parks >= 2);
	assert_true(cooldowns == 0);
	assert_true(fifo >= looks * 9 / 10);
	assert_true(boosts <= 20);
	assert_true(wakeups <= 200);
	assert_true(cpu < 10); /* a loop on the hung-up events: ~30% */
}

/* dynamic-predictive and a vCPU that never halts (a busy guest) and has no doorbell: its RT task
 * starts after the agent's first look, so the first deadline it publishes comes with nothing that
 * wakes the agent. The agent must still find it, and boost it before its deadlines from then. */
static volatile int late_rt; /* the RT task has started: publish deadlines */
static unsigned long rt_periods; /* RT task starts the spinner published */
static void *late_rt_spinner(void *arg)
{
	struct halter *hl = arg;
	struct pvb_boost_slot *s = pvb_boost_slot(halt_region, (unsigned)hl->idx);
	__atomic_store_n(&hl->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	uint64_t next = mono_ns();
	while (!stop_threads) {
		next += 1000000;
		uint64_t now = __builtin_ia32_rdtsc(), m = mono_ns();
		if (next <= m) /* periods missed (the thread was held off): the next one from now, not a
				  deadline in the past read as one 2^64 ns ahead */
			next = m + 1000000 - (m - next) % 1000000;
		pvb_boost_publish(s, PVB_CLASS_NORMAL, 0, 0, late_rt ? now + (next - m) * halt_khz / 1000000 : 0, 0, now);
		while (mono_ns() < next && !stop_threads)
			;
		if (late_rt) {
			pvb_boost_publish(s, PVB_CLASS_RT, 50, PVB_SF_BOOST_REQ, 0, 0, __builtin_ia32_rdtsc());
			__atomic_add_fetch(&rt_periods, 1, __ATOMIC_RELAXED);
		}
		uint64_t end = mono_ns() + 20000;
		while (mono_ns() < end)
			;
	}
	return NULL;
}

/* dynamic-predictive on one busy vCPU (the thread vcpu, e.g. late_rt_spinner), started and
 * negotiated, with boost_gate_ms gate ("0": it boosts whether the host holds the vCPU off or not,
 * as the tests of other mechanisms on an idle host need). The guest says it is ready once the
 * agent runs, or (ready_first_ms > 0) that long before the agent starts, as a guest that booted
 * faster than the host started its policy. 1: this host cannot run it (no TSC rate, no RT
 * scheduling). */
static struct vm_view busy_vm; /* valid from the policy's start to its stop */
static int predictive_on_a_busy_vcpu(struct policy *p, struct halter *hl, pthread_t *th, void *(*vcpu)(void *),
				     const char *gate, int ready_first_ms)
{
	char err[256];
	struct hostinfo host;

	hostinfo_read(&host, err, sizeof(err));
	if (!host.tsc_khz)
		return 1;
	halt_khz = host.tsc_khz;
	*p = (struct policy){ .ops = policy_find("dynamic-predictive"),
			      .spec = guest_spec("static_prio", "50", "boost_gate_ms", gate, NULL) };
	if (p->ops->prepare(p, err, sizeof(err))) {
		p->ops->destroy(p);
		return 1;
	}
	stop_threads = 0;
	struct pvb_boost_hdr *h = guest_accepts(halt_region, sizeof(halt_region), 1, PVB_BF_BOOST | PVB_BF_RT_DEADLINE);
	pthread_create(th, NULL, vcpu, hl);
	while (!__atomic_load_n(&hl->tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	busy_vm = (struct vm_view){ .tids = &hl->tid, .nr_vcpus = 1, .tsc_khz = halt_khz, .boost = halt_region,
				    .boost_size = sizeof(halt_region) };
	if (ready_first_ms > 0) {
		guest_says_ready(h);
		usleep((useconds_t)ready_first_ms * 1000);
	}
	assert_int_equal(p->ops->start(p, &busy_vm, err, sizeof(err)), 0);
	if (ready_first_ms <= 0)
		guest_says_ready(h);
	return 0;
}

/* Ends it: the vCPU thread, then the agent, whose counters go to MS. */
static void predictive_stop(struct policy *p, pthread_t th, struct metric_set *ms)
{
	stop_threads = 1;
	pthread_join(th, NULL);
	p->ops->stop(p);
	p->ops->counters(p, ms);
	p->ops->destroy(p);
}

/* A vCPU thread that ends as a VM powers off mid-boost: its RT task's deadline, 60 ms on, then the
 * task itself for 2 ms, and the thread exits with RT still published. */
static void *ends_in_rt(void *arg)
{
	struct halter *hl = arg;
	struct pvb_boost_slot *s = pvb_boost_slot(halt_region, (unsigned)hl->idx);
	/* published before the agent starts: its first look arms the boost */
	uint64_t now = __builtin_ia32_rdtsc(), due = mono_ns() + 60000000;
	pvb_boost_publish(s, PVB_CLASS_NORMAL, 0, 0, now + 60 * (uint64_t)halt_khz, 0, now);
	__atomic_store_n(&hl->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (mono_ns() < due)
		;
	pvb_boost_publish(s, PVB_CLASS_RT, 50, PVB_SF_BOOST_REQ, 0, 0, __builtin_ia32_rdtsc());
	while (mono_ns() < due + 2000000)
		;
	__atomic_store_n(&hl->idx, -1, __ATOMIC_RELEASE); /* done: it exits now */
	return NULL;
}

/* A boosted vCPU whose thread exits (its VM powered off before the policy stopped) is let go at
 * once: its own trace event hangs up. Kept, a vCPU last seen running its RT task had the agent
 * looking every agent_poll_us until the boost's bound, 50 ms on: ~400 wake-ups. */
static void predictive_lets_an_ended_vcpu_go(void **state)
{
	struct policy p;
	struct halter hl = { 0, 0 };
	pthread_t th;
	struct metric_set ms = { 0 };

	if (predictive_on_a_busy_vcpu(&p, &hl, &th, ends_in_rt, "0", 0))
		skip();
	while (__atomic_load_n(&hl.idx, __ATOMIC_ACQUIRE) != -1)
		usleep(1000);
	usleep(200000);
	predictive_stop(&p, th, &ms);
	double boosts = metrics_find(&ms, "boosts", METRIC_CPU_VM)->value,
	       wakeups = metrics_find(&ms, "agent_wakeups", METRIC_CPU_VM)->value;
	int traced = metrics_find(&ms, "host_trace", METRIC_CPU_VM)->value == 1;
	fprintf(stderr, "note: a vCPU thread that ended boosted: %.0f boosts, %.0f agent wake-ups in all\n", boosts,
		wakeups);
	metrics_free(&ms);
	if (!traced)
		skip(); /* without its own trace event nothing says the thread ended */
	assert_true(boosts >= 1);
	assert_true(wakeups < 150);
}

static int fifo_now(int tid)
{
	int prio;
	return sched_policy_of(tid, &prio) == SCHED_FIFO;
}

/* Watches the thread's policy until it is (fifo) SCHED_FIFO or not, for at most ms: 1 if it came.
 * No sleep between looks: a boost before a busy vCPU's deadline lasts about 100 us. */
/* The test's looks at a vCPU thread pinned to CPU 0 run on CPU 1 until looks_back(): on CPU 0 a
 * look woken behind the boosted thread waits until its boost ends, and one that spins there holds
 * the thread off itself. 0: one CPU only, or the affinity could not be set (the looks stay). */
static cpu_set_t looks_were;
static int looks_moved;
static void looks_off_cpu0(void)
{
	looks_moved = sysconf(_SC_NPROCESSORS_ONLN) > 1 && !sched_getaffinity(0, sizeof(looks_were), &looks_were) &&
		      !pin_self(1);
}

static void looks_back(void)
{
	if (looks_moved)
		sched_setaffinity(0, sizeof(looks_were), &looks_were);
	looks_moved = 0;
}

static int fifo_within(int tid, int fifo, int ms)
{
	for (double t0 = mono_ms(); mono_ms() - t0 < ms;)
		if (fifo_now(tid) == fifo)
			return 1;
	return 0;
}

static void predictive_finds_a_busy_vcpus_first_deadline(void **state)
{
	pthread_t th;
	struct halter hl = { 0, 0 };
	struct policy p;
	struct metric_set ms = { 0 };

	late_rt = 0;
	if (predictive_on_a_busy_vcpu(&p, &hl, &th, late_rt_spinner, "0", 0))
		skip();
	usleep(100000); /* the agent has looked, and seen no deadline */
	late_rt = 1;
	int fifo = fifo_within(hl.tid, 1, 500);
	predictive_stop(&p, th, &ms);
	double boosts = metrics_find(&ms, "boosts", METRIC_CPU_VM)->value;
	fprintf(stderr, "note: busy vCPU whose RT task starts late, predictive: %s within 0.5 s; %.0f boosts\n",
		fifo ? "boosted" : "never boosted", boosts);
	metrics_free(&ms);
	assert_true(fifo);
	assert_true(boosts > 0);
}

/* predictive on a busy vCPU with RT work every ms from the start, for us microseconds: its
 * counters into ms. 1: this host cannot run it. */
static int predictive_on_busy_rt(int ready_first_ms, useconds_t us, struct metric_set *ms)
{
	pthread_t th;
	struct halter hl = { 0, 0 };
	struct policy p;

	late_rt = 1;
	rt_periods = 0;
	if (predictive_on_a_busy_vcpu(&p, &hl, &th, late_rt_spinner, "0", ready_first_ms))
		return 1;
	usleep(us);
	predictive_stop(&p, th, ms);
	return 0;
}

/* The agent arms a time a strategy asks for early by how late it gets to its own timer: with a busy
 * vCPU publishing a deadline every 1 ms, predictive arms a timer for each, and after 1 s the
 * lead it took from those (agent_early_us) is some lateness, never more than boost_lead_us. */
static void agent_arms_its_timers_early_by_its_own_lateness(void **state)
{
	struct metric_set ms = { 0 };

	/* 1 s: it needs 32 timer wake-ups, and 0.3 s gave 20-490 after test_host_cyclic */
	if (predictive_on_busy_rt(0, 1000000, &ms))
		skip();
	const struct metric *early = metrics_find(&ms, "agent_early_us", METRIC_CPU_VM);
	double timer = metrics_find(&ms, "agent_wakeups_timer", METRIC_CPU_VM)->value;
	fprintf(stderr, "note: predictive, a busy vCPU, 1 s: %lu RT periods, %.0f timer wake-ups (of %.0f), %.0f boosts, "
		"%.0f parks, %.0f cool-downs, negotiated %.0f, %.0f sched errors, unboosts %.0f, armed %.1f us early\n",
		rt_periods, timer,
		metrics_find(&ms, "agent_wakeups", METRIC_CPU_VM)->value, metrics_find(&ms, "boosts", METRIC_CPU_VM)->value,
		metrics_find(&ms, "parks", METRIC_CPU_VM)->value, metrics_find(&ms, "cooldowns", METRIC_CPU_VM)->value,
		metrics_find(&ms, "negotiated", METRIC_CPU_VM)->value, metrics_find(&ms, "sched_errors", METRIC_CPU_VM)->value,
		metrics_find(&ms, "unboosts", METRIC_CPU_VM)->value, early ? early->value : -1);
	double e = early ? early->value : -1;
	metrics_free(&ms);
	assert_true(e > 0);
	assert_true(e <= 50); /* boost_lead_us */
}

/* A guest that said it was ready 30 ms before the agent started (it booted while the host set up
 * its policy, as a guest under QEMU may): the first bound on the TSC offset is 30 ms loose. Its
 * stamps tighten it, and predictive boosts before its deadlines from the start. (With the bound's
 * floor 10 ms under the first, every stamp was refused and the guest's clock stayed 30 ms behind:
 * no deadline ever came due, 0 boosts.) */
static void predictive_finds_the_clock_of_a_guest_ready_before_it(void **state)
{
	struct metric_set ms = { 0 };

	if (predictive_on_busy_rt(30, 500000, &ms))
		skip();
	double due = metrics_find(&ms, "boosts_on_due", METRIC_CPU_VM)->value;
	double tightened = metrics_find(&ms, "offset_tightened", METRIC_CPU_VM)->value;
	double resets = metrics_find(&ms, "offset_resets", METRIC_CPU_VM)->value;
	fprintf(stderr, "note: guest ready 30 ms before the agent: offset bound tightened by %.1f ms, %.0f resets; %.0f boosts "
		"before a deadline, of %lu RT periods\n", tightened / 1e3, resets, due, rt_periods);
	metrics_free(&ms);
	assert_true(tightened >= 20000); /* us: more than the 10 ms a stamp could claim before */
	assert_true(resets == 0); /* honest stamps, each read just before its publish */
	assert_true(due >= (double)rt_periods / 2);
}

/* dynamic-predictive, late: its look comes after the deadline, while the RT task runs unboosted
 * on a busy vCPU (no halt, no doorbell: nothing else wakes the agent). It boosts the task then,
 * and from that boost's end it finds the next deadline and boosts before it. (It used to keep
 * its hands off, and looked again only at boost_max_ms: the vCPU went unboosted for good here.) */
static volatile int late_phase; /* 0: the RT task runs; 1: it ended, the next deadline is published */
static void *late_look_vcpu(void *arg)
{
	struct halter *hl = arg;
	struct pvb_boost_slot *s = pvb_boost_slot(halt_region, (unsigned)hl->idx);
	int seen = -1;
	__atomic_store_n(&hl->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!stop_threads) {
		int ph = late_phase;
		uint64_t now = __builtin_ia32_rdtsc();
		if (ph != seen && ph == 0)
			pvb_boost_publish(s, PVB_CLASS_RT, 50, PVB_SF_BOOST_REQ, 0, 0, now);
		else if (ph != seen) /* 300 ms ahead: within the second the agent believes */
			pvb_boost_publish(s, PVB_CLASS_NORMAL, 0, 0, now + (uint64_t)halt_khz * 300, 0, now);
		seen = ph;
	}
	return NULL;
}

static void predictive_boosts_an_rt_task_it_is_late_for(void **state)
{
	pthread_t th;
	struct halter hl = { 0, 0 };
	struct policy p;
	struct metric_set ms = { 0 };

	late_phase = 0;
	if (predictive_on_a_busy_vcpu(&p, &hl, &th, late_look_vcpu, "0", 0))
		skip();
	int late = fifo_within(hl.tid, 1, 500);
	late_phase = 1;
	int ended = fifo_within(hl.tid, 0, 500), next = fifo_within(hl.tid, 1, 1000);
	predictive_stop(&p, th, &ms);
	fprintf(stderr, "note: predictive, late: %s the running RT task, %s at its end, %s before the next deadline; "
		"%.0f boosts (%.0f on request, %.0f due)\n", late ? "boosted" : "never boosted",
		ended ? "unboosted" : "not unboosted", next ? "boosted" : "not boosted",
		metrics_find(&ms, "boosts", METRIC_CPU_VM)->value,
		metrics_find(&ms, "boosts_on_request", METRIC_CPU_VM)->value,
		metrics_find(&ms, "boosts_on_due", METRIC_CPU_VM)->value);
	metrics_free(&ms);
	assert_true(late);
	assert_true(ended);
	assert_true(next);
}

/* dynamic-predictive's gate (boost_gate_ms 100) on a busy vCPU pinned to CPU 0: alone there, the
 * host never holds it off, and its deadlines go unboosted (a boost per period would cost the
 * agent and win nothing); with a normal spinner sharing CPU 0 (as stress-ng) it is held off half
 * of the time, and the boosts come. */
static volatile int competing;
static void *pinned_rt_spinner(void *arg)
{
	pin_self(0);
	return late_rt_spinner(arg);
}

static void *competitor(void *arg)
{
	pin_self(0);
	while (competing)
		;
	return NULL;
}

static void predictive_boosts_only_against_contention(void **state)
{
	pthread_t th, comp;
	struct halter hl = { 0, 0 };
	struct policy p;
	struct metric_set ms = { 0 };

	late_rt = 1;
	if (predictive_on_a_busy_vcpu(&p, &hl, &th, pinned_rt_spinner, "100", 0))
		skip();
	looks_off_cpu0();
	/* alone for 900 ms: the vCPU's CPU time every 10 ms, for the least it ran of any of the gate's
	 * 100 ms windows (a busy machine may run something else on CPU 0, and then the gate is right
	 * to open), and a look for a boost all through the last 300 ms */
	int64_t run[91];
	uint64_t at[91];
	double least = 1;
	int alone = 0;
	for (int i = 0; i <= 90; i++) {
		at[i] = mono_ns();
		run[i] = thread_cpu_us(hl.tid);
		double share = i >= 10 ? (double)(run[i] - run[i - 10]) * 1e3 / (double)(at[i] - at[i - 10]) : 1;
		least = share < least ? share : least;
		if (i >= 60 && !alone) /* a look of 10 ms, which ends early at a boost */
			alone = fifo_within(hl.tid, 1, 10);
		else
			usleep(10000);
	}
	competing = 1;
	pthread_create(&comp, NULL, competitor, NULL);
	int shared = fifo_within(hl.tid, 1, 1000);
	usleep(300000); /* open: the gate's share of the run */
	competing = 0;
	pthread_join(comp, NULL);
	looks_back();
	predictive_stop(&p, th, &ms);
	double closed = metrics_find(&ms, "gate_closed_pct", METRIC_CPU_VM)->value;
	fprintf(stderr, "note: predictive's gate: %s alone on its CPU (ran at least %.0f%% of each 100 ms), %s "
		"sharing it; closed %.0f%% of the run, %.0f boosts\n", alone ? "boosted" : "not boosted", least * 100,
		shared ? "boosted" : "not boosted", closed, metrics_find(&ms, "boosts", METRIC_CPU_VM)->value);
	metrics_free(&ms);
	if (alone && least < 0.9) {
		fprintf(stderr, "skip: CPU 0 was not the vCPU's alone: it ran %.0f%% of a 100 ms window\n", least * 100);
		skip();
	}
	assert_false(alone);
	assert_true(shared);
	assert_true(closed > 10 && closed < 95);
}

/* A scripted guest in host memory, for the kick-driven agents: one negotiated region of 1 slot,
 * a thread standing in for the vCPU thread, and sched_getattr to see what the agent did. */
static uint8_t script_region[PVB_PV_SIZE];

static void script_negotiate(uint32_t features)
{
	guest_says_ready(guest_accepts(script_region, sizeof(script_region), 1, features));
}

/* dynamic-eager: boosts on a request kick while the guest says RT, unboosts on the kick that says it
 * runs a normal task. */
static void eager_policy_follows_kicks(void **state)
{
	pthread_t th;
	int tid = 0, boosted_when_rt = 0, unboosted_when_idle = 0;
	char err[256];
	const struct policy_ops *ops = policy_find("dynamic-eager");
	struct policy p = { .ops = ops, .spec = spec_with_prio("50") };
	struct pvb_boost_slot *s = pvb_boost_slot(script_region, 0);

	stop_threads = 0;
	pthread_create(&th, NULL, sleeper, &tid);
	while (!tid)
		usleep(1000);
	script_negotiate(PVB_BF_BOOST);
	struct vm_view vm = { .tids = &tid, .nr_vcpus = 1, .tsc_khz = 2000000, .boost = script_region,
			      .boost_size = sizeof(script_region) };
	if (ops->prepare(&p, err, sizeof(err)))
		skip();
	assert_int_equal(ops->start(&p, &vm, err, sizeof(err)), 0);
	for (int cycle = 0; cycle < 10; cycle++) {
		uint64_t now = __builtin_ia32_rdtsc();
		pvb_boost_publish(s, PVB_CLASS_RT, 40, PVB_SF_BOOST_REQ, 0, 0, now);
		pvb_boost_kick(s);
		usleep(20000);
		boosted_when_rt += fifo_now(tid) && pvb_boost_is_boosted(s);
		pvb_boost_publish(s, PVB_CLASS_NORMAL, 0, 0, 0, 0, __builtin_ia32_rdtsc());
		pvb_boost_kick(s);
		usleep(20000);
		unboosted_when_idle += !fifo_now(tid) && !pvb_boost_is_boosted(s);
	}
	ops->stop(&p);
	assert_false(fifo_now(tid));
	struct metric_set ms = { 0 };
	ops->counters(&p, &ms);
	assert_true(metrics_find(&ms, "kicks", METRIC_CPU_VM)->value >= 18);
	metrics_free(&ms);
	ops->destroy(&p);
	stop_threads = 1;
	pthread_join(th, NULL);
	assert_true(boosted_when_rt >= 8);
	assert_true(unboosted_when_idle >= 8);
}

/* dynamic-eager and an interrupt's injection: a "vCPU thread" halted (blocked, its slot IDLE) is
 * woken while the host keeps its CPU busy (a SCHED_FIFO 10 hog on it), as a busy host delays a
 * vCPU it wakes for an interrupt. The agent boosts it at the wake-up, so it runs; it then says
 * it runs a normal task (the interrupt is handled) and is unboosted. */
static volatile int inj_stop;
static int inj_efd, inj_runs, inj_boosted;

static int hog_cpu; /* the first CPU this process may use: the hog's and the vCPU thread's */

static void *halted_vcpu(void *arg)
{
	struct pvb_boost_slot *s = pvb_boost_slot(script_region, 0);
	uint64_t n;
	pin_self(hog_cpu);
	*(int *)arg = (int)syscall(SYS_gettid);
	for (;;) {
		pvb_boost_publish(s, PVB_CLASS_IDLE, 0, 0, 0, 0, __builtin_ia32_rdtsc());
		if (read(inj_efd, &n, sizeof(n)) != (ssize_t)sizeof(n) || inj_stop)
			return NULL;
		inj_runs++;
		inj_boosted += fifo_now(*(int *)arg);
		pvb_boost_publish(s, PVB_CLASS_NORMAL, 0, 0, 0, 0, __builtin_ia32_rdtsc());
		pvb_boost_kick(s);
	}
}

static void *fifo_hog(void *arg)
{
	struct sched_param sp = { .sched_priority = 10 };
	*(int *)arg = pin_self(hog_cpu) || pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) ? -1 : 1;
	while (!inj_stop)
		;
	return NULL;
}

static void eager_policy_boosts_an_injection_the_host_delays(void **state)
{
	pthread_t vc, hog;
	int tid = 0, hog_ok = 0;
	char err[256];
	const struct policy_ops *ops = policy_find("dynamic-eager");
	struct policy p = { .ops = ops, .spec = spec_with_prio("50") };
	cpu_set_t was, rest;

	sched_getaffinity(0, sizeof(was), &was);
	if (CPU_COUNT(&was) < 2)
		skip(); /* the hog takes one CPU; the test and the agent need another */
	if (ops->prepare(&p, err, sizeof(err)))
		skip();
	rest = was;
	for (hog_cpu = 0; !CPU_ISSET(hog_cpu, &was); hog_cpu++)
		;
	CPU_CLR(hog_cpu, &rest);
	sched_setaffinity(0, sizeof(rest), &rest); /* this thread, and the agent it starts, off the hog's CPU */
	inj_stop = 0, inj_runs = 0, inj_boosted = 0;
	inj_efd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&vc, NULL, halted_vcpu, &tid);
	while (!tid)
		usleep(1000);
	script_negotiate(PVB_BF_BOOST);
	struct vm_view vm = { .tids = &tid, .nr_vcpus = 1, .tsc_khz = 2000000, .boost = script_region,
			      .boost_size = sizeof(script_region) };
	assert_int_equal(ops->start(&p, &vm, err, sizeof(err)), 0);
	pthread_create(&hog, NULL, fifo_hog, &hog_ok);
	while (!hog_ok)
		usleep(1000);
	usleep(20000);
	for (int i = 0; i < 20; i++) { /* an interrupt every 10 ms */
		uint64_t one = 1;
		assert_int_equal(write(inj_efd, &one, sizeof(one)), (ssize_t)sizeof(one));
		usleep(10000);
	}
	int runs_busy = inj_runs, boosted_busy = inj_boosted;
	inj_stop = 1; /* the hog ends; the vCPU thread runs and sees stop */
	pthread_join(hog, NULL);
	uint64_t one = 1;
	assert_int_equal(write(inj_efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_join(vc, NULL);
	ops->stop(&p);
	sched_setaffinity(0, sizeof(was), &was);
	close(inj_efd);
	struct metric_set ms = { 0 };
	ops->counters(&p, &ms);
	double on_wake = metrics_find(&ms, "boosts_on_wake", METRIC_CPU_VM)->value;
	double boosts = metrics_find(&ms, "boosts", METRIC_CPU_VM)->value;
	double unboosts = metrics_find(&ms, "unboosts", METRIC_CPU_VM)->value;
	int traced = metrics_find(&ms, "host_trace", METRIC_CPU_VM)->value == 1;
	metrics_free(&ms);
	ops->destroy(&p);
	fprintf(stderr, "note: eager, injections behind a FIFO hog: %d of 20 ran (hog %s), %d of them boosted; "
		"%.0f boosts on wake, %.0f unboosts\n", runs_busy, hog_ok > 0 ? "FIFO" : "not FIFO", boosted_busy,
		on_wake, unboosts);
	if (!traced || hog_ok < 0)
		skip(); /* no tracepoints, or no RT for the hog: nothing delays the wake-up */
	assert_true(runs_busy >= 10);
	assert_true(boosted_busy >= runs_busy / 2);
	assert_true(on_wake >= 10);
	assert_true(unboosts == boosts);
	assert_false(fifo_now(tid));
}

/* The kick-less dynamic strategies on a runnable "vCPU thread" that shares CPU 0 with a competitor,
 * so the host preempts it: while its slot says quiet (nothing to boost for) it stays as it is;
 * while it says busy (what the strategy acts on, and no kick) the agent boosts it at a
 * preemption; the guest's kick when done unboosts it. */
static volatile int spin_stop;
static void *pinned_spinner(void *arg)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	*(int *)arg = (int)syscall(SYS_gettid);
	while (!spin_stop)
		;
	return NULL;
}

struct preempt_script {
	const char *policy;
	uint8_t quiet, busy, busy_prio, busy_flags; /* classes, and the busy slot's priority and flags */
	int needs_trace;                            /* the policy cannot start without the sched trace */
};

/* Runs the script; the policy's counters into ms, whether the thread was at FIFO after the done
 * kick into after; returns in how many of 40 looks while busy it was at FIFO. Skips where the
 * host gives the agent no sched trace. */
static int preempted_thread(const struct preempt_script *ps, struct metric_set *ms, int *after)
{
	pthread_t th[2];
	int tid[2] = { 0, 0 }, seen_boosted = 0;
	char err[256];
	const struct policy_ops *ops = policy_find(ps->policy);
	struct policy p = { .ops = ops, .spec = spec_with_prio("50") };
	struct pvb_boost_slot *s = pvb_boost_slot(script_region, 0);

	spin_stop = 0;
	for (int i = 0; i < 2; i++) /* the "vCPU thread" and a competitor, both on CPU 0 */
		pthread_create(&th[i], NULL, pinned_spinner, &tid[i]);
	while (!tid[0] || !tid[1])
		usleep(1000);
	script_negotiate(PVB_BF_BOOST);
	pvb_boost_publish(s, ps->quiet, 0, 0, 0, 0, __builtin_ia32_rdtsc());
	struct vm_view vm = { .tids = &tid[0], .nr_vcpus = 1, .tsc_khz = 2000000, .boost = script_region,
			      .boost_size = sizeof(script_region) };
	if (ops->prepare(&p, err, sizeof(err)))
		skip();
	if (ops->start(&p, &vm, err, sizeof(err))) {
		spin_stop = 1;
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		ops->destroy(&p);
		if (!ps->needs_trace)
			fail_msg("%s: %s", ps->policy, err);
		fprintf(stderr, "skip: %s\n", err); /* no tracepoints on this host */
		skip();
	}
	looks_off_cpu0(); /* under stress-ng from CPU 0, 4 of 25 runs saw 0 of 40 looks boosted */
	usleep(100000);
	assert_false(fifo_now(tid[0])); /* preempted, but nothing to boost for */
	pvb_boost_publish(s, ps->busy, ps->busy_prio, ps->busy_flags, 0, 0, __builtin_ia32_rdtsc()); /* no kick */
	for (int t = 0; t < 40; t++) {
		usleep(5000);
		seen_boosted += fifo_now(tid[0]);
	}
	pvb_boost_publish(s, ps->quiet, 0, 0, 0, 0, __builtin_ia32_rdtsc());
	pvb_boost_kick(s);
	usleep(30000);
	*after = fifo_now(tid[0]);
	looks_back();
	ops->stop(&p);
	spin_stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	memset(ms, 0, sizeof(*ms));
	ops->counters(&p, ms);
	ops->destroy(&p);
	if (metrics_find(ms, "host_trace", METRIC_CPU_VM)->value == 0) {
		metrics_free(ms);
		skip(); /* no tracepoints on this host: only kicks wake the agent */
	}
	return seen_boosted;
}

/* dynamic-lazy: no kick to boost. While the slot says RT the agent boosts the preempted thread. */
static void lazy_policy_boosts_preempted_rt_work(void **state)
{
	static const struct preempt_script ps = { "dynamic-lazy", PVB_CLASS_IDLE, PVB_CLASS_RT, 40, 0, 1 };
	struct metric_set ms;
	int after, seen_boosted = preempted_thread(&ps, &ms, &after);

	fprintf(stderr, "note: lazy: %.0f boosts, boosted in %d of 40 looks\n",
		metrics_find(&ms, "boosts", METRIC_CPU_VM)->value, seen_boosted);
	assert_true(metrics_find(&ms, "boosts", METRIC_CPU_VM)->value >= 1);
	metrics_free(&ms);
	assert_true(seen_boosted > 0);
	assert_false(after);
}

/* dynamic-eager and a critical section: while the slot says CRIT with a request (a lock holder)
 * the agent boosts the thread at its preemption; the guest's kick at the section's end unboosts it. */
static void eager_policy_boosts_a_preempted_lock_holder(void **state)
{
	static const struct preempt_script ps = { "dynamic-eager", PVB_CLASS_NORMAL, PVB_CLASS_NORMAL, 0,
						  PVB_SF_CRIT | PVB_SF_BOOST_REQ, 0 };
	struct metric_set ms;
	int after, seen_boosted = preempted_thread(&ps, &ms, &after);

	fprintf(stderr, "note: eager, critical section: %.0f boosts (%.0f on preemption, %.0f in CRIT), boosted in %d of 40 looks\n",
		metrics_find(&ms, "boosts", METRIC_CPU_VM)->value, metrics_find(&ms, "boosts_on_preempt", METRIC_CPU_VM)->value,
		metrics_find(&ms, "boosts_in_crit", METRIC_CPU_VM)->value, seen_boosted);
	assert_true(metrics_find(&ms, "boosts_on_preempt", METRIC_CPU_VM)->value >= 1);
	assert_true(metrics_find(&ms, "boosts_in_crit", METRIC_CPU_VM)->value ==
		    metrics_find(&ms, "boosts", METRIC_CPU_VM)->value);
	metrics_free(&ms);
	assert_true(seen_boosted > 0);
	assert_false(after);
}

/* A VM-wide or all-vCPU figure of the lockhold run of one policy. */
static double lh_metric(const char *db, const char *policy, const char *name)
{
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE"
		 " r.status = 'ok' AND r.variant = 'policy=%s' AND m.cpu IN (-1, -2) AND m.name = '%s'", policy, name);
	return store_value(db, sql);
}

/* A lock holder the host preempts, in a real guest: pvbench's kernel marks the holder's slot CRIT,
 * eager and lazy boost it at the preemption. Vanilla offers no region. */
static void dynamic_policies_boost_preempted_lock_holders(void **state)
{
	static const char *const pol[] = { "dynamic-eager", "dynamic-lazy" };
	char db[300];

	REQUIRE_KVM();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "tests/configs/lockhold.ini", NULL }, 300000, NULL), 0);
	assert_int_equal(count_runs(db, "status = 'ok'"), 4);
	assert_int_equal(count_runs(db, "variant = 'policy=dynamic-predictive' AND reason LIKE '%no RT deadline published%'"), 1);
	assert_int_equal(lh_metric(db, "dynamic-predictive", "boosts"), 0);
	fprintf(stderr, "note: lockhold, vanilla: wait avg %.1f us, max %.1f us; section max %.1f us\n",
		lh_metric(db, "vanilla", "wait_avg") / 1e3, lh_metric(db, "vanilla", "wait_max") / 1e3,
		lh_metric(db, "vanilla", "section_max") / 1e3);
	for (int i = 0; i < 2; i++) {
		double boosts = lh_metric(db, pol[i], "boosts");
		fprintf(stderr, "note: lockhold, %s: %.0f boosts (%.0f in CRIT, %.0f on preemption), %.0f sections, "
			"%.2f%% ended boosted; wait avg %.1f us, max %.1f us; section max %.1f us\n", pol[i], boosts,
			lh_metric(db, pol[i], "boosts_in_crit"), lh_metric(db, pol[i], "boosts_on_preempt"),
			lh_metric(db, pol[i], "crit_sections"), lh_metric(db, pol[i], "crit_boosted_pct"),
			lh_metric(db, pol[i], "wait_avg") / 1e3, lh_metric(db, pol[i], "wait_max") / 1e3,
			lh_metric(db, pol[i], "section_max") / 1e3);
		assert_true(boosts > 0);
		/* the rest: eager's boosts of a wake-up out of a halt (at the start and end barriers) */
		assert_true(lh_metric(db, pol[i], "boosts_in_crit") > 0);
		assert_true(lh_metric(db, pol[i], "boosts_on_preempt") == lh_metric(db, pol[i], "boosts_in_crit"));
		assert_true(lh_metric(db, pol[i], "boosts_in_crit") + lh_metric(db, pol[i], "boosts_on_wake") == boosts);
		assert_true(lh_metric(db, pol[i], "unboosts") == boosts);
		assert_true(lh_metric(db, pol[i], "crit_sections") == lh_metric(db, pol[i], "acquisitions"));
		assert_true(lh_metric(db, pol[i], "crit_boosted_pct") > 0);
		assert_int_equal(lh_metric(db, pol[i], "sched_errors"), 0);
	}
	assert_true(lh_metric(db, "vanilla", "acquisitions") > 0);
	assert_true(lh_metric(db, "vanilla", "crit_sections") < 0); /* absent: no region */
}

/* dynamic-predictive on a real guest that publishes its RT deadlines: during the run each vCPU
 * thread is seen boosted (FIFO at boost_prio) and not; after it, none is; the counters add up. */
static void predictive_policy_boosts_and_unboosts(void **state)
{
	char db[300];

	REQUIRE_GUEST();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "tests/configs/predictive.ini", NULL }, 120000, NULL), 0);
	assert_int_equal(count_runs(db, "status='ok'"), 1);
	/* each deadline boosted, or (with the host's sched trace) the vCPUs parked boosted while they
	 * halt until their next deadline */
	assert_int_equal(count_runs(db, "EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=runs.id AND"
				   " ((m.name='boosts' AND m.value > 100) OR (m.name='parks' AND m.value > 0)))"), 1);
	assert_int_equal(count_runs(db, "EXISTS (SELECT 1 FROM metrics m, metrics u WHERE m.run_id=runs.id AND"
				   " u.run_id=runs.id AND m.name='boosts' AND u.name='unboosts' AND m.value = u.value)"), 1);
	assert_int_equal(count_runs(db, "EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=runs.id AND"
				   " m.name='boosted_ms' AND m.cpu = -1 AND m.value > 0)"), 1);
}

/* The event-driven agents on real vCPU threads (KVM: QEMU's threads, the host's sched trace of
 * them): with RT work in the guest every dynamic policy boosts and unboosts as often, reacts, and
 * the guest saw the boost at its wake-ups; with none, each run says why it did nothing. */
static double run_metric(const char *db, const char *job, const char *policy, const char *name)
{
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE"
		 " r.status = 'ok' AND r.variant = 'job=%s policy=%s' AND m.cpu = -2 AND m.name = '%s'", job,
		 policy, name);
	return store_value(db, sql);
}

static void dynamic_policies_act_on_real_vcpu_threads(void **state)
{
	static const char *const pol[] = { "dynamic-eager", "dynamic-lazy", "dynamic-predictive" };
	char db[300], out[300], line[512], where[300];
	int notes = 0;

	REQUIRE_KVM();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	snprintf(out, sizeof(out), "%s/out.txt", tmp);
	int rc = pvbench((char *[]){ "run", "--db", db, "tests/configs/dynamic.ini", NULL }, 300000, out);
	assert_int_equal(failed_runs(db), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(count_runs(db, "status = 'ok'"), 6);
	for (int i = 0; i < 3; i++) {
		double boosts = run_metric(db, "rt", pol[i], "boosts");
		fprintf(stderr, "note: %s: %.0f boosts (wake %.0f, preempt %.0f, due %.0f, request %.0f), reaction p50 "
			"%.1f us, agent %.1f%% of a CPU, %.0f wake-ups; guest boosted at %.1f%% of its wake-ups; %.0f too late, %.0f failed; "
			"offset bound tightened %.1f ms\n",
			pol[i], boosts, run_metric(db, "rt", pol[i], "boosts_on_wake"),
			run_metric(db, "rt", pol[i], "boosts_on_preempt"), run_metric(db, "rt", pol[i], "boosts_on_due"),
			run_metric(db, "rt", pol[i], "boosts_on_request"), run_metric(db, "rt", pol[i], "reaction_p50"),
			run_metric(db, "rt", pol[i], "agent_cpu_pct"), run_metric(db, "rt", pol[i], "agent_wakeups"),
			run_metric(db, "rt", pol[i], "boosted_at_wake_pct"), run_metric(db, "rt", pol[i], "boosts_too_late"),
			run_metric(db, "rt", pol[i], "sched_errors"), run_metric(db, "rt", pol[i], "offset_tightened") / 1e3);
		assert_true(boosts > 0);
		assert_true(run_metric(db, "rt", pol[i], "unboosts") == boosts);
		assert_true(run_metric(db, "rt", pol[i], "reaction_p50") >= 0);
		assert_true(run_metric(db, "rt", pol[i], "agent_cpu_pct") >= 0);
		assert_true(run_metric(db, "rt", pol[i], "boosted_at_wake_pct") > 0);
		assert_int_equal(run_metric(db, "rt", pol[i], "sched_errors"), 0);
		snprintf(where, sizeof(where), "variant = 'job=normal policy=%s' AND reason LIKE '%%no boost requests%%'", pol[i]);
		if (i == 0) { /* eager boosts an interrupt's injection whatever runs after it, as seed 001's v1 */
			fprintf(stderr, "note: dynamic-eager, normal priority: %.0f boosts on wake, guest boosted at %.1f%% of its wake-ups\n",
				run_metric(db, "normal", pol[i], "boosts_on_wake"),
				run_metric(db, "normal", pol[i], "boosted_at_wake_pct"));
			assert_true(run_metric(db, "normal", pol[i], "boosts_on_wake") > 0);
			assert_true(run_metric(db, "normal", pol[i], "unboosts") == run_metric(db, "normal", pol[i], "boosts"));
			assert_int_equal(count_runs(db, where), 0);
			continue;
		}
		assert_int_equal(run_metric(db, "normal", pol[i], "boosts"), 0);
		assert_int_equal(count_runs(db, where), 1);
	}
	FILE *f = fopen(out, "r"); /* and the tables say so under them */
	while (f && fgets(line, sizeof(line), f))
		notes += !strncmp(line, "note on ", 8) && strstr(line, "no boost requests: the workload ran no RT task");
	if (f)
		fclose(f);
	assert_int_equal(notes, 1);
}

/* pvbench's own VMM has a doorbell of its own: the guest finds it on its command line, rings it
 * (one ioeventfd per vCPU's value) and the agent wakes on it, as with QEMU's ivshmem-doorbell. */
static double vm_metric(const char *db, const char *side, const char *name)
{
	char sql[300];
	snprintf(sql, sizeof(sql), "SELECT value FROM metrics WHERE side = '%s' AND name = '%s' AND cpu = -2", side, name);
	return store_value(db, sql);
}

static void own_vmm_doorbell_wakes_the_agent(void **state)
{
	char db[300];

	REQUIRE_KVM();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "tests/configs/doorbell-own.ini", NULL }, 120000, NULL), 0);
	assert_int_equal(count_runs(db, "status = 'ok'"), 1);
	fprintf(stderr, "note: own VMM doorbell: %.0f kicks rung, %.0f seen by the agent, %.0f boosts\n",
		vm_metric(db, "guest", "doorbells"), vm_metric(db, "policy", "doorbells_seen"),
		vm_metric(db, "policy", "boosts"));
	assert_int_equal(vm_metric(db, "guest", "boost_doorbell"), 1);
	assert_true(vm_metric(db, "guest", "doorbells") > 0);
	assert_true(vm_metric(db, "policy", "doorbells_seen") > 0);
	assert_true(vm_metric(db, "policy", "boosts") > 0);
}

static double variant_metric(const char *db, const char *variant, const char *side, const char *name)
{
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.variant = '%s' "
		 "AND m.side = '%s' AND m.name = '%s' AND m.cpu = -2", variant, side, name);
	return store_value(db, sql);
}

/* The own VMM's paravirt device: the guest finds the region through the discovery window, sends
 * its utilisation through the virtual cpufreq registers or the hypercall (one exit each, carrying
 * the value), and the DVFS agent wakes on each and governs with it; with none, it gets nothing. */
static void own_vmm_util_channels_carry_the_utilisation(void **state)
{
	static const struct { const char *variant; int id; } ch[] = {
		{ "util_channel=mmio", 2 }, { "util_channel=hypercall", 3 },
	};
	char db[300];

	REQUIRE_KVM();
	/* kvm_pvm never returns from a ring-0 VMCALL: there the hypercall's run is skipped, saying so */
	int pvm = hostinfo_kvm_pvm();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "tests/configs/dvfs-own.ini", NULL }, 180000, NULL), 0);
	assert_int_equal(count_runs(db, "status = 'ok'"), 3 - pvm);
	assert_int_equal(count_runs(db, "status = 'skipped' AND variant = 'util_channel=hypercall' AND reason LIKE "
				    "'%kvm_pvm hangs on a ring-0 VMCALL%'"), pvm);
	for (int i = 0; i < 2 - pvm; i++) {
		const char *v = ch[i].variant;
		fprintf(stderr, "note: %s: %.0f updates sent at %.0f ns each (guest), %.0f seen by the agent, %.1f/s\n", v,
			variant_metric(db, v, "guest", "util_kicks"), variant_metric(db, v, "guest", "util_cost"),
			variant_metric(db, v, "policy", "doorbells_seen"), variant_metric(db, v, "policy", "util_updates_per_s"));
		assert_int_equal(variant_metric(db, v, "guest", "boost_region"), 1); /* found without a command line */
		assert_int_equal(variant_metric(db, v, "guest", "util_channel"), ch[i].id);
		assert_true(variant_metric(db, v, "guest", "util_kicks") > 0);
		assert_true(variant_metric(db, v, "guest", "util_cost") > 0);
		assert_true(variant_metric(db, v, "policy", "doorbells_seen") > 0);
		assert_true(variant_metric(db, v, "policy", "util_updates_per_s") > 0);
	}
	/* none: the region, with no utilisation in it; the agent governs on the host's view alone */
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.variant = "
		 "'util_channel=%%s' AND m.side = 'policy' AND m.name = 'util_guest_avg'");
	char q[400];
	snprintf(q, sizeof(q), sql, "mmio");
	assert_true(store_value(db, q) > 0);
	snprintf(q, sizeof(q), sql, "none");
	assert_int_equal(store_value(db, q), 0);
	assert_int_equal(variant_metric(db, "util_channel=none", "guest", "boost_region"), 1);
	assert_int_equal(variant_metric(db, "util_channel=none", "guest", "util_channel"), 0);
}

/* trace = on: the host's own accounting of the vCPU threads is stored with each run. On a busy
 * host a SCHED_OTHER vCPU thread waits behind stress-ng (preempted, run delay); a SCHED_FIFO one
 * does not: an explanation of where a latency spike comes from, from the host's side. */
static double host_metric(const char *db, const char *policy, const char *name)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	char sql[400];
	double v = -1;

	snprintf(sql, sizeof(sql), "SELECT m.value FROM metrics m JOIN runs r ON r.id=m.run_id WHERE r.status='ok'"
		 " AND r.variant='policy=%s' AND m.side='host' AND m.cpu<0 AND m.name='%s'", policy, name);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void trace_explains_waiting_vcpu_threads(void **state)
{
	char db[300];

	REQUIRE_GUEST();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "tests/configs/trace.ini", NULL }, 120000, NULL), 0);
	double rv = host_metric(db, "vanilla", "run_delay_avg"), rs = host_metric(db, "static", "run_delay_avg");
	double pv = host_metric(db, "vanilla", "preemptions"), ps = host_metric(db, "static", "preemptions");
	fprintf(stderr, "note: busy host: run delay %.1f us vanilla, %.1f us static; preemptions %.0f vs %.0f\n",
		rv / 1e3, rs / 1e3, pv, ps);
	assert_true(rv >= 0 && rs >= 0 && pv >= 0 && ps >= 0);
	assert_true(host_metric(db, "vanilla", "vcpu_runtime_pct") > 0);
	assert_true(rs < rv);
	assert_true(ps < pv);
	assert_true(host_metric(db, "vanilla", "trace_lost") == 0);
}

static void hung_guest_is_stored_as_failed_and_the_matrix_goes_on(void **state)
{
	char db[300];

	REQUIRE_GUEST();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	assert_int_equal(pvbench((char *[]){ "run", "--db", db, "tests/configs/hang.ini", NULL }, 60000, NULL),
			 EXIT_FAILED);
	assert_int_equal(count_runs(db, "variant='workload=hang' AND status='timeout'"), 1);
	assert_int_equal(count_runs(db, "variant='workload=cyclic' AND status='ok'"), 1);
	assert_int_equal(count_runs(db, "reason LIKE '%4000 ms timeout%'"), 1);
}

/* Without KVM a guest run is skipped, and its reason says how QEMU can run it anyway (emulated);
 * the own VMM's, which runs under KVM only, does not offer that; both name the nested KVM where
 * the kernel has none. With KVM neither is skipped so. */
static void a_run_without_kvm_says_how_to_run_it_anyway(void **state)
{
	char db[300], ini[300], bin[512], err[256];
	struct child c;

	REQUIRE_GUEST();
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	snprintf(ini, sizeof(ini), "%s/nokvm.ini", tmp);
	FILE *f = fopen(ini, "w");
	assert_non_null(f);
	fputs("[global]\ntype = guest\nworkload = cyclic\nduration = 1s\nvmm = qemu, pvbench\n[j]\n", f);
	fclose(f);
	/* not through pvbench(), which would set accel=tcg */
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	char *argv[] = { bin, "run", "--db", db, ini, NULL };
	assert_int_equal(child_spawn(&c, argv, &(struct child_io){ .stdout_path = "/dev/null" }, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 60000));
	if (!test_tcg) { /* what else a run here may meet is other tests' business */
		assert_int_equal(count_runs(db, "1"), 2);
		assert_int_equal(count_runs(db, "reason LIKE '%/dev/kvm%'"), 0);
		return;
	}
	assert_int_equal(count_runs(db, "variant = 'vmm=qemu' AND status = 'skipped' AND reason LIKE "
				       "'unavailable: /dev/kvm: %; accel = tcg runs it under QEMU''s emulator%'"), 1);
	assert_int_equal(count_runs(db, "variant = 'vmm=pvbench' AND status = 'skipped' AND reason LIKE "
				       "'unavailable: /dev/kvm: %' AND reason NOT LIKE '%accel = tcg%'"), 1);
	/* a kernel without KVM: both point at the nested one */
	if (access("/dev/kvm", F_OK) != 0)
		assert_int_equal(count_runs(db, "reason LIKE '%scripts/kvm-nested CMD runs CMD on a KVM nested under TCG%'"), 2);
}

/* processes of a process group that are not zombies (a zombie runs nothing), or children of a
 * process by command name (group = 0) */
static int procs_where(pid_t group, pid_t parent, const char *comm, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char state, name[64];
		int ppid, pg, pid = atoi(e->d_name);
		if (pid <= 0 || proc_stat(pid, &state, &ppid, &pg, name, sizeof(name)))
			continue;
		if (group ? (pg == group && state != 'Z') : (ppid == parent && !strncmp(name, comm, strlen(comm)))) {
			if (out && n < max)
				out[n] = pid;
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static void sigint_mid_run_leaves_nothing_behind(void **state)
{
	char bin[512], db[300], err[256];
	struct child pv;
	pid_t qemu[4], stress[4], ct[4];
	int nq = 0, ns = 0, nc = 0;

	REQUIRE_GUEST();
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	snprintf(db, sizeof(db), "%s/pvbench.db", tmp);
	char *argv[] = { bin, "run", "--db", db, "tests/configs/sigint.ini", "--set",
			 test_tcg ? "accel=tcg" : "accel=kvm", NULL };
	assert_int_equal(child_spawn(&pv, argv, NULL, err, sizeof(err)), 0);
	for (int i = 0; i < 200 && !(nq && ns && nc); i++) {
		usleep(50000);
		nq = procs_where(0, pv.pid, "qemu-system", qemu, 4);
		ns = procs_where(0, pv.pid, "stress-ng", stress, 4);
		nc = procs_where(0, pv.pid, "cyclictest", ct, 4);
	}
	assert_true(nq == 1 && ns == 1 && nc == 1);
	usleep(500000); /* the policy has boosted the vCPUs by now */
	kill(pv.pid, SIGINT);
	assert_true(child_wait(&pv, 10000));
	assert_int_equal(WEXITSTATUS(pv.status), EXIT_INTERRUPTED);
	usleep(100000);
	/* gone: QEMU (and with it its SCHED_FIFO vCPU threads), stress-ng and its workers, cyclictest */
	assert_int_equal(kill(qemu[0], 0), -1);
	assert_int_equal(procs_where(stress[0], 0, NULL, NULL, 0), 0);
	assert_int_equal(kill(ct[0], 0), -1);
	/* the store is intact and holds no half or interrupted run */
	assert_int_equal(count_runs(db, "1"), 0);
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(static_policy_restores_what_it_changed, setup),
		cmocka_unit_test_setup(static_policy_makes_vcpu_threads_fifo, setup),
		cmocka_unit_test_setup(rogue_guest_gets_no_more_than_static, setup),
		cmocka_unit_test(predictive_parks_a_halting_rt_vcpu),
		cmocka_unit_test(predictive_lets_an_ended_vcpu_go),
		cmocka_unit_test(predictive_finds_a_busy_vcpus_first_deadline),
		cmocka_unit_test(agent_arms_its_timers_early_by_its_own_lateness),
		cmocka_unit_test(predictive_finds_the_clock_of_a_guest_ready_before_it),
		cmocka_unit_test(predictive_boosts_an_rt_task_it_is_late_for),
		cmocka_unit_test(predictive_boosts_only_against_contention),
		cmocka_unit_test_setup(eager_policy_follows_kicks, setup),
		cmocka_unit_test_setup(lazy_policy_boosts_preempted_rt_work, setup),
		cmocka_unit_test_setup(eager_policy_boosts_a_preempted_lock_holder, setup),
		cmocka_unit_test_setup(eager_policy_boosts_an_injection_the_host_delays, setup),
		cmocka_unit_test_setup(predictive_policy_boosts_and_unboosts, setup),
		kvm_test_setup(dynamic_policies_act_on_real_vcpu_threads, setup),
		kvm_test_setup(dynamic_policies_boost_preempted_lock_holders, setup),
		kvm_test_setup(own_vmm_doorbell_wakes_the_agent, setup),
		kvm_test_setup(own_vmm_util_channels_carry_the_utilisation, setup),
		cmocka_unit_test_setup(trace_explains_waiting_vcpu_threads, setup),
		cmocka_unit_test_setup(hung_guest_is_stored_as_failed_and_the_matrix_goes_on, setup),
		cmocka_unit_test_setup(a_run_without_kvm_says_how_to_run_it_anyway, setup),
		cmocka_unit_test_setup(sigint_mid_run_leaves_nothing_behind, setup),
		cmocka_unit_test_setup(quick_ini_end_to_end, setup),
	};
	child_signals_install();
	return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}
