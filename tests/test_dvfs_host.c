/* SPDX-License-Identifier: MIT */
/* The DVFS policies on the real host: the emulated frequency slows a real spinning process as asked; the
 * DVFS agent bounds a rogue guest's utilisation by the VM's cap; and a real guest (KVM, or TCG
 * where there is none) publishes its PELT utilisation, gets the hint back, and is governed. */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <pthread.h>
#include <cmocka.h>
#include "child.h"
#include "cli.h"
#include "config.h"
#include "freqemu.h"
#include "policy.h"
#include "pvb_boost.h"
#include "testlib.h"
#include "vm.h"

static int fifo_ok(void)
{
	char err[200];
	return sched_fifo_allowed(1, err, sizeof(err));
}

static pid_t spinner_on(int cpu)
{
	pid_t p = fork();
	if (p == 0) {
		cpu_set_t s;
		CPU_ZERO(&s);
		CPU_SET(cpu, &s);
		sched_setaffinity(0, sizeof(s), &s);
		for (volatile uint64_t x = 0;; x++)
			;
	}
	return p;
}

/* CPU time the spinner gets per wall second at a duty: a slow CPU gives it that share. The
 * tolerance is wide (this test is about the mechanism; `make bench` measures its fidelity). */
static double share_at(struct freqemu *e, pid_t p, uint32_t duty)
{
	freqemu_set(e, 0, duty);
	usleep(100000);
	int64_t c0 = thread_cpu_us(p);
	double t0 = mono_ms();
	usleep(400000);
	return (double)(thread_cpu_us(p) - c0) / ((mono_ms() - t0) * 1000);
}

static void emulated_frequency_slows_a_real_process(void **state)
{
	struct freqemu e;
	char err[200];
	int cpus[1] = { 1 };
	if (!fifo_ok() || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	pid_t p = spinner_on(1);
	assert_int_equal(freqemu_start(&e, cpus, 1, 1000, err, sizeof(err)), 0);
	double full = share_at(&e, p, 1024), half = share_at(&e, p, 512), quarter = share_at(&e, p, 256);
	freqemu_stop(&e);
	double after = share_at(&e, p, 1024); /* stopped: nothing holds it any more */
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	fprintf(stderr, "note: share of the CPU at duty 1, 1/2, 1/4, after stop: %.2f %.2f %.2f %.2f (slice 1000 us)\n",
		full, half, quarter, after);
	assert_true(full > 0.8);
	assert_true(half > 0.3 && half < 0.7);
	assert_true(quarter > 0.1 && quarter < 0.45);
	assert_true(quarter < half && half < full);
	assert_true(after > 0.8);
	assert_true(e.c[0].slices > 500);
}

/* A thread standing in for a vCPU thread: runs ~20% of each ms, so it is enqueued every tick. */
static volatile int stop_threads;
static void *worker(void *arg)
{
	*(int *)arg = (int)gettid();
	while (!stop_threads) {
		double t = mono_ms();
		while (mono_ms() - t < 0.2)
			;
		usleep(800);
	}
	return NULL;
}

/* A guest that writes the largest utilisation it can into its slots, all the time. */
static volatile int rogue_stop;
static void *rogue(void *arg)
{
	uint8_t *region = arg;
	while (!rogue_stop) {
		for (unsigned c = 0; c < 2; c++)
			pvb_boost_publish(pvb_boost_slot(region, c), PVB_CLASS_NORMAL, 0, 0, 0, 0xffffffffu, 0);
		usleep(100);
	}
	return NULL;
}

static double freq_with_rogue(const char *cap, double *clamped)
{
	static uint8_t region[PVB_PV_SIZE];
	pthread_t th[2], rg;
	int tids[2] = { 0, 0 };
	char err[256];
	const struct policy_ops *ops = policy_find("util_guest");
	static struct experiment e;
	struct run_spec *r;
	int n;
	assert_int_equal(experiment_empty("t", "guest", &e, err, sizeof(err)), 0);
	assert_int_equal(experiment_set(&e, "test", "util_guest_cap", cap, err, sizeof(err)), 0);
	assert_int_equal(experiment_matrix(&e, &r, &n, err, sizeof(err)), 0);
	struct policy p = { .ops = ops, .spec = r };

	stop_threads = rogue_stop = 0;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, &tids[i]);
	while (!tids[0] || !tids[1])
		usleep(1000);
	pvb_boost_host_init(region, sizeof(region), 2, PVB_BF_KNOWN, 1);
	struct pvb_boost_hdr *h = (void *)region;
	h->guest_features = PVB_BF_UTIL | PVB_BF_HINT;
	h->guest_version = 1;
	h->guest_ready = 1;
	struct vm_view vm = { .tids = tids, .nr_vcpus = 2, .tsc_khz = 2000000, .boost = region,
			      .boost_size = sizeof(region) };
	assert_int_equal(ops->prepare(&p, err, sizeof(err)), 0);
	pthread_create(&rg, NULL, rogue, region);
	assert_int_equal(ops->start(&p, &vm, err, sizeof(err)), 0);
	usleep(1500000);
	ops->stop(&p);
	rogue_stop = stop_threads = 1;
	pthread_join(rg, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	struct metric_set ms = { 0 };
	ops->counters(&p, &ms);
	double f = metrics_find(&ms, "freq_avg", METRIC_CPU_VM)->value;
	*clamped = metrics_find(&ms, "util_clamped", METRIC_CPU_VM)->value;
	metrics_free(&ms);
	ops->destroy(&p);
	free(r);
	return f;
}

static void a_rogue_guest_gets_no_more_than_its_cap(void **state)
{
	double clamped_low, clamped_all;
	if (!fifo_ok() || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	/* cap 0: the guest's values stand for nothing; its threads' own ~20% asks for ~600 MHz */
	double low = freq_with_rogue("0", &clamped_low);
	/* cap 1024: the same garbage, taken for the most a vCPU can ask: f_max */
	double all = freq_with_rogue("1024", &clamped_all);
	fprintf(stderr, "note: rogue guest: %.0f MHz with util_guest_cap 0, %.0f MHz with 1024; %.0f and %.0f values clamped\n",
		low, all, clamped_low, clamped_all);
	assert_true(low < 1100);      /* 20% busy: schedutil's 1.25 x 0.2 x 2016 MHz, and some */
	assert_true(all > 1200 && all > 2 * low);
	assert_true(clamped_low > 100 && clamped_all > 100);
}

static void *spinner(void *arg)
{
	*(int *)arg = (int)gettid();
	while (!stop_threads)
		;
	return NULL;
}

/* A vCPU thread that never stops running, at f_max (performance; a 20 ms slice, so the stealer,
 * which switches it out, wakes rarely): the kernel reports its CPU time only at its 4 ms tick, in
 * lumps. The agent must still see it busy as long as it ran: once, it capped each lump to its 1 ms
 * interval and saw a quarter of it (25.3% here). */
static void a_busy_vcpu_at_fmax_is_seen_busy(void **state)
{
	pthread_t th;
	int tid = 0;
	char err[256];
	const struct policy_ops *ops = policy_find("performance");
	if (!fifo_ok())
		skip();
	struct policy p = { .ops = ops, .spec = guest_spec("dvfs_cpus", "a72", "dvfs_slice_us", "20000", NULL) };
	stop_threads = 0;
	pthread_create(&th, NULL, spinner, &tid);
	while (!tid)
		usleep(1000);
	/* a negotiated region with one publication: the agent counts from the workload's start */
	static uint8_t region[PVB_PV_SIZE];
	pvb_boost_host_init(region, sizeof(region), 1, PVB_BF_KNOWN, 1);
	struct pvb_boost_hdr *h = (void *)region;
	h->guest_features = PVB_BF_UTIL;
	h->guest_version = 1;
	h->guest_ready = 1;
	pvb_boost_publish(pvb_boost_slot(region, 0), PVB_CLASS_NORMAL, 0, 0, 0, 0, 0);
	struct vm_view vm = { .tids = &tid, .nr_vcpus = 1, .tsc_khz = 2000000, .boost = region,
			      .boost_size = sizeof(region) };
	assert_int_equal(ops->prepare(&p, err, sizeof(err)), 0);
	/* what it really ran: all of the time alone, less where the machine has other work (a CPU
	 * shared with one hog: ~50-70%) */
	clockid_t cid;
	struct timespec c0, c1;
	assert_int_equal(pthread_getcpuclockid(th, &cid), 0);
	assert_int_equal(ops->start(&p, &vm, err, sizeof(err)), 0);
	double t0 = mono_ms();
	clock_gettime(cid, &c0);
	usleep(1000000);
	clock_gettime(cid, &c1);
	double ran = ((c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6) / (mono_ms() - t0) * 100;
	ops->stop(&p);
	stop_threads = 1;
	pthread_join(th, NULL);
	struct metric_set ms = { 0 };
	ops->counters(&p, &ms);
	const struct metric *b = metrics_find(&ms, "busy_pct", 0);
	fprintf(stderr, "note: a thread spinning at f_max: %.1f%% busy as the agent saw it, %.1f%% of the time on a CPU\n",
		b ? b->value : -1, ran);
	assert_non_null(b);
	assert_true(b->value > ran - 10 && b->value < ran + 10);
	metrics_free(&ms);
	ops->destroy(&p);
}

/* The backend is chosen per run: cpufreq where the host has none is a skip that says why. */
static void cpufreq_backend_says_why_it_cannot_run(void **state)
{
	static struct experiment e;
	struct run_spec *r;
	char err[256];
	int n;
	const struct policy_ops *ops = policy_find("baseline");
	assert_int_equal(experiment_empty("t", "guest", &e, err, sizeof(err)), 0);
	assert_int_equal(experiment_set(&e, "test", "freq_backend", "cpufreq", err, sizeof(err)), 0);
	assert_int_equal(experiment_matrix(&e, &r, &n, err, sizeof(err)), 0);
	struct policy p = { .ops = ops, .spec = r };
	assert_int_equal(ops->prepare(&p, err, sizeof(err)), 1); /* 1: skipped, not refused */
	fprintf(stderr, "note: %s\n", err);
	assert_non_null(strstr(err, "unavailable"));
	ops->destroy(&p);
	free(r);
	assert_int_equal(experiment_empty("t", "guest", &e, err, sizeof(err)), 0);
	assert_int_equal(experiment_set(&e, "test", "dvfs_cpus", "a72+x86", err, sizeof(err)), 0);
	assert_int_equal(experiment_matrix(&e, &r, &n, err, sizeof(err)), 0);
	p.spec = r;
	assert_int_equal(ops->prepare(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x86"));
	ops->destroy(&p);
	free(r);
}

/* Runs a 2-vCPU frameloop experiment of these [global] lines (under TCG where there is no KVM)
 * in dir, into dir/t.db (its path in db); every run must end ok. */
static void run_frameloop(const char *dir, const char *lines, char *db, size_t dblen)
{
	char ini[300], bin[512], errb[256];
	snprintf(db, dblen, "%s/t.db", dir);
	snprintf(ini, sizeof(ini), "%s/t.ini", dir);
	FILE *f = fopen(ini, "w");
	fprintf(f, "[global]\nworkload = frameloop\nvcpus = 2\nduration = 2s\nhost_cyclictest = off\n%s%s", lines,
		test_tcg ? "accel = tcg\n" : "");
	fclose(f);
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	char *argv[] = { bin, "run", ini, "--db", db, NULL };
	struct child c;
	assert_int_equal(child_spawn(&c, argv, NULL, errb, sizeof(errb)), 0);
	assert_true(child_wait(&c, 120000));
	assert_int_equal(WEXITSTATUS(c.status), 0);
}

/* A real guest: frameloop under util_guest and powersave, into a temporary store. */
static void a_guest_publishes_its_utilisation_and_is_governed(void **state)
{
	char dir[64], db[300];
	REQUIRE_GUEST();
	if (!fifo_ok())
		skip();
	assert_int_equal(test_dir(dir, sizeof(dir), "dvfs"), 0);
	run_frameloop(dir, "policy = util_guest, powersave\nbaseline = policy=powersave\n"
		      "metrics = fps,energy_modelled,freq_avg\n", db, sizeof(db));
	/* util_guest: negotiated, the guest published (a mean utilisation above nothing), got the
	 * hint, drew frames; powersave: every CPU at 408 MHz the whole time */
	assert_int_equal(store_value(db, "SELECT count(*) FROM runs WHERE status = 'ok'"), 2);
	double published = store_value(db, "SELECT max(m.value) FROM metrics m JOIN runs r ON r.id = m.run_id "
					   "JOIN run_params p ON p.run_id = r.id AND p.key = 'policy' AND p.value = 'util_guest' "
					   "WHERE m.name = 'util_guest_avg'");
	double ps = store_value(db, "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
				    "JOIN run_params p ON p.run_id = r.id AND p.key = 'policy' AND p.value = 'powersave' "
				    "WHERE m.name = 'freq_avg' AND m.cpu = -2");
	double frames = store_value(db, "SELECT min(value) FROM metrics WHERE name = 'frames'");
	fprintf(stderr, "note: guest published utilisation %.0f (mean, busiest vCPU); powersave %.1f MHz; frames >= %.0f\n",
		published, ps, frames);
	assert_true(published > 20 && published <= 1024);
	assert_true(ps > 407.9 && ps < 408.1);
	assert_true(frames > 0);
}

/* host_coload: pvbench's thread on each emulated CPU runs, and the governor counts it as the CPU's
 * other work (a busier CPU: higher frequency under baseline, which sees no guest utilisation). */
static void host_coload_is_host_work_the_governor_counts(void **state)
{
	char dir[64], db[300];
	REQUIRE_GUEST();
	if (!fifo_ok())
		skip();
	assert_int_equal(test_dir(dir, sizeof(dir), "dvfs"), 0);
	run_frameloop(dir, "policy = baseline\nhost_coload = 0, 60\nbaseline = host_coload=0\n", db, sizeof(db));
	const char *q = "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id JOIN run_params p ON p.run_id = r.id "
			"AND p.key = 'host_coload' AND p.value = '%s' WHERE m.name = '%s' AND m.cpu = -2";
	char sql[400];
	snprintf(sql, sizeof(sql), q, "60", "host_coload_pct");
	double co = store_value(db, sql);
	snprintf(sql, sizeof(sql), q, "0", "host_coload_pct");
	double none = store_value(db, sql);
	snprintf(sql, sizeof(sql), q, "60", "freq_avg");
	double f60 = store_value(db, sql);
	snprintf(sql, sizeof(sql), q, "0", "freq_avg");
	double f0 = store_value(db, sql);
	fprintf(stderr, "note: host_coload 60: ran %.1f%% of each CPU; baseline's frequency %.0f MHz, %.0f without\n", co, f60,
		f0);
	assert_true(co > 10 && co <= 70);   /* it ran (the vCPUs and the stealer share its CPU) */
	assert_true(none < 0);              /* no co-load, no figure */
	assert_true(f60 > f0);              /* the governor saw it */
}

/* placement=capacity: the guest moves its render task to the CPU the host publishes as the
 * biggest (an A72; CPU 0 is an A53) and keeps it there; rotate moves it every block. Under
 * baseline the idle A72 runs slow, so a guest that placed by the capacity now would stay on the
 * busy A53: this tells the two apart. */
static void the_guest_places_its_task_by_the_hinted_capacity(void **state)
{
	char dir[64], db[300];
	REQUIRE_GUEST();
	if (!fifo_ok())
		skip();
	assert_int_equal(test_dir(dir, sizeof(dir), "place"), 0);
	run_frameloop(dir, "policy = baseline\ndvfs_cpus = a53+a72\n"
		      "job_args = migrate_frames=8 placement=capacity, migrate_frames=8 placement=rotate\n", db, sizeof(db));
	const char *q = "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id JOIN run_params p ON "
			"p.run_id = r.id AND p.key = 'job_args' AND p.value LIKE '%%placement=%s' WHERE m.name = '%s'";
	char sql[400];
	snprintf(sql, sizeof(sql), q, "capacity", "moves");
	double cap_moves = store_value(db, sql);
	snprintf(sql, sizeof(sql), q, "rotate", "moves");
	double rot_moves = store_value(db, sql);
	snprintf(sql, sizeof(sql), q, "rotate", "frames");
	double rot_frames = store_value(db, sql);
	fprintf(stderr, "note: render task moves: %.0f by capacity, %.0f rotating (%.0f frames)\n", cap_moves,
		rot_moves, rot_frames);
	assert_true(cap_moves == 1); /* off the A53 after the first block, then it stays */
	assert_true(rot_frames > 16 && rot_moves >= rot_frames / 8 - 1 && rot_moves <= rot_frames / 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emulated_frequency_slows_a_real_process),
		cmocka_unit_test(a_rogue_guest_gets_no_more_than_its_cap),
		cmocka_unit_test(a_busy_vcpu_at_fmax_is_seen_busy),
		cmocka_unit_test(cpufreq_backend_says_why_it_cannot_run),
		cmocka_unit_test(a_guest_publishes_its_utilisation_and_is_governed),
		cmocka_unit_test(host_coload_is_host_work_the_governor_counts),
		cmocka_unit_test(the_guest_places_its_task_by_the_hinted_capacity),
	};
	child_signals_install();
	return cmocka_run_group_tests_name("dvfs_host", tests, NULL, NULL);
}
