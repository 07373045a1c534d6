/* SPDX-License-Identifier: MIT */
/* Shared by the integration tests: KVM preconditions and finding leftover processes. */
#ifndef PVB_TESTLIB_H
#define PVB_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sqlite3.h>
#include "config.h"
#include "hostinfo.h"
#include "stats.h"
#include "util.h"

/* A test whose point is KVM itself (an ioctl, pvbench's own VMM) is registered with kvm_test():
 * its name starts "kvm_". make check runs those in a pass of their own, through scripts/kvm-nested:
 * on this host's /dev/kvm where it works, else in a nested KVM under TCG, so they run (and can
 * fail) on every machine. tests/run picks them with PVBENCH_TESTS: "kvm" runs only them, "nokvm"
 * all others; unset runs everything. */
#define kvm_test(f) { "kvm_" #f, f, NULL, NULL, NULL }
#define kvm_test_setup(f, s) { "kvm_" #f, f, s, NULL, NULL }
#define kvm_test_setup_teardown(f, s, t) { "kvm_" #f, f, s, t, NULL }
#ifdef cmocka_unit_test /* the benchmarks include this file too, without cmocka */
__attribute__((constructor)) static void pvb_test_selection(void)
{
	const char *t = getenv("PVBENCH_TESTS");
	if (t && !strcmp(t, "kvm"))
		cmocka_set_test_filter("kvm_*");
	else if (t && !strcmp(t, "nokvm"))
		cmocka_set_skip_filter("kvm_*");
}

/* A text file's contents into buf, NUL-terminated (at most len - 1 bytes): the bytes read. The
 * test fails where it cannot be opened. */
static inline size_t read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return n;
}
#endif

/* Skips without /dev/kvm (and says why), unless PVBENCH_REQUIRE_KVM=1 (make check's KVM pass,
 * which runs where KVM works): then it fails. */
#define REQUIRE_KVM()                                                                     \
	do {                                                                              \
		if (access("/dev/kvm", R_OK | W_OK) != 0) {                               \
			if (getenv("PVBENCH_REQUIRE_KVM") &&                              \
			    !strcmp(getenv("PVBENCH_REQUIRE_KVM"), "1"))                  \
				fail_msg("/dev/kvm unusable but PVBENCH_REQUIRE_KVM=1");  \
			fprintf(stderr, "skip: /dev/kvm: %s (make check runs this test "  \
				"under nested KVM)\n", strerror(errno));                 \
			skip();                                                           \
		}                                                                         \
	} while (0)

/* For tests whose point is booting and handling a guest, not its timing: without /dev/kvm (and
 * unless PVBENCH_REQUIRE_KVM=1) the guest runs under QEMU's TCG instead, and test_tcg says so. */
static int test_tcg __attribute__((unused));
#define REQUIRE_GUEST()                                                                   \
	do {                                                                              \
		if (access("/dev/kvm", R_OK | W_OK) != 0) {                               \
			if (getenv("PVBENCH_REQUIRE_KVM") &&                              \
			    !strcmp(getenv("PVBENCH_REQUIRE_KVM"), "1"))                  \
				fail_msg("/dev/kvm unusable but PVBENCH_REQUIRE_KVM=1");  \
			if (!test_tcg)                                                    \
				fprintf(stderr, "note: /dev/kvm: %s: guests run under TCG\n", \
					strerror(errno));                                 \
			test_tcg = 1;                                                     \
		}                                                                         \
	} while (0)

/* Pins the calling thread to one CPU: 0, or an errno. */
static inline int pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* A benchmark's first call: timings measured in scripts/kvm-nested's VM (KVM under QEMU's TCG)
 * mean nothing, so a benchmark there refuses, with the reason. */
static inline void bench_refuse_nested(const char *name)
{
	if (hostinfo_nested_tcg()) {
		fprintf(stderr, "%s: refused: this host is scripts/kvm-nested's VM, a KVM under QEMU's TCG, "
				"where every instruction is emulated and no timing means anything. Run the "
				"benchmarks on a host with /dev/kvm.\n", name);
		exit(1);
	}
}

/* A benchmark that times guests, where there is no KVM: skipped, saying what it needs. Not the
 * hint hostinfo gives a run (scripts/kvm-nested): bench_refuse_nested refuses that. */
static inline int bench_skip_without_kvm(const char *name, const char *why)
{
	const char *hint = strstr(why, " (");
	printf("# %s: skipped: %.*s: its timings need a host with /dev/kvm\n", name,
	       hint ? (int)(hint - why) : (int)strlen(why), why);
	return 0;
}

/* A benchmark's arguments: reps=N (1..max_reps) and secs=N, over the defaults in *reps, *secs;
 * a usage line and exit(1) when out of range. */
static inline void bench_args(int argc, char **argv, const char *name, int *reps, int *secs, int max_reps)
{
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "reps=", 5))
			*reps = atoi(argv[i] + 5);
		if (!strncmp(argv[i], "secs=", 5))
			*secs = atoi(argv[i] + 5);
	}
	if (*reps < 1 || *reps > max_reps || *secs < 1) {
		fprintf(stderr, "usage: %s [reps=1..%d] [secs=N]\n", name, max_reps);
		exit(1);
	}
}

/* What a wake-up costs a thread like a boost agent on this host (SCHED_FIFO above the vCPUs,
 * asleep in ppoll until its timer): its own CPU time per wake-up, in us, over a second of
 * wake-ups every 500 us, with a normal spinner pinned to each CPU (busy) or none. An agent's
 * wake-ups per second times this is the least its CPU can be, whatever it does when awake: on a
 * host whose wake-ups are costly (one that is itself a VM) that floor, not the agent's work, is
 * what a CPU target meets. -1: no SCHED_FIFO here. */
static volatile int bench_floor_stop;
static inline void *bench_floor_hog(void *arg)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((int)(intptr_t)arg, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!bench_floor_stop)
		;
	return NULL;
}

static inline void *bench_floor_main(void *arg)
{
	double *us = arg;
	struct sched_param sp = { .sched_priority = 51 };
	struct timespec c0, c1, ts = { 0, 500000 };
	long n = 0;

	*us = -1;
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		return NULL;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* as the agent */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (uint64_t end = mono_ns() + 1000000000ull; mono_ns() < end; n++)
		ppoll(NULL, 0, &ts, NULL);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	sp.sched_priority = 0;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp); /* the thread ends next anyway */
	*us = ((double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec)) / 1e3 / (double)n;
	return NULL;
}

static inline double bench_wake_floor_us(int busy_host)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nh = busy_host ? (int)(ncpu < 8 ? ncpu : 8) : 0;
	pthread_t hog[8], th;
	double us;

	bench_floor_stop = 0;
	for (int i = 0; i < nh; i++)
		pthread_create(&hog[i], NULL, bench_floor_hog, (void *)(intptr_t)i);
	pthread_create(&th, NULL, bench_floor_main, &us);
	pthread_join(th, NULL);
	bench_floor_stop = 1;
	for (int i = 0; i < nh; i++)
		pthread_join(hog[i], NULL);
	sleep(1); /* a second between, as between the benchmarks' runs */
	return us;
}

/* "median [min..max]" of n values with d decimals into buf, or "-" for none. */
static inline const char *bench_mmm(const double *v, int n, int d, char *buf, size_t len)
{
	double lo = n ? v[0] : 0, hi = lo;
	for (int i = 1; i < n; i++)
		lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
	if (!n)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f [%.*f..%.*f]", d, stats_median(v, (size_t)n), d, lo, d, hi);
	return buf;
}

static inline const char *build_dir(void)
{
	const char *b = getenv("PVBENCH_BUILD");
	return b && *b ? b : "build";
}

/* A fresh, empty directory for a test, /tmp/pvbench-test-NAME-XXXXXX, into buf (at least 64
 * bytes): never one named by the pid. /tmp outlives a run and pids come round again: a test that
 * found the store an earlier run left in "its" directory counted that run's rows too (8 runs where
 * it made 4). Removed, with what the test left in it, when the program that made it ends, unless
 * PVBENCH_KEEP_TMP=1 (to read what a failing test left). -1 and errno where mkdtemp fails. */
#define TEST_DIRS_MAX 256
static char test_dirs[TEST_DIRS_MAX][64];
static int ntest_dirs;
static pid_t test_dirs_pid;

static inline int test_dirs_rm(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	remove(path);
	return 0;
}

static inline void test_dirs_remove(void)
{
	const char *keep = getenv("PVBENCH_KEEP_TMP");
	if (getpid() != test_dirs_pid || (keep && !strcmp(keep, "1"))) /* a forked child's exit */
		return;
	for (int i = 0; i < ntest_dirs; i++)
		nftw(test_dirs[i], test_dirs_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int test_dir(char *buf, size_t n, const char *name)
{
	if (snprintf(buf, n, "/tmp/pvbench-test-%s-XXXXXX", name) >= (int)n || !mkdtemp(buf))
		return -1;
	if (!test_dirs_pid) {
		test_dirs_pid = getpid();
		atexit(test_dirs_remove);
	}
	if (ntest_dirs < TEST_DIRS_MAX && strlen(buf) < sizeof(test_dirs[0]))
		memcpy(test_dirs[ntest_dirs++], buf, strlen(buf) + 1);
	return 0;
}

/* A file of this program's, NAME in a test directory made on first use and shared by all its
 * tests (removed at exit as test_dir's): its path into buf. -1 where the directory cannot be made. */
static inline int test_file(char *buf, size_t n, const char *name)
{
	static char dir[64];
	if (!dir[0] && test_dir(dir, sizeof(dir), program_invocation_short_name) < 0) {
		dir[0] = 0;
		return -1;
	}
	return snprintf(buf, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

/* Number of live processes whose command line contains needle (a test's unique run dir). */
static inline int procs_matching(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[8192];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0) /* zombies and kernel threads have no command line */
			continue;
		for (ssize_t i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[len] = 0;
		if (strstr(buf, needle) && atoi(e->d_name) != getpid())
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The first column of the first row of a query on a store file, as a number; -1 if none. */
static inline double store_value(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	double v = -1;
	if (sqlite3_open(db, &h) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* A guest-type run's keys with these KEY, VALUE pairs set (NULL after the last): what a policy
 * reads its keys from. Static storage: valid until the next call. */
static inline const struct run_spec *guest_spec(const char *key, ...)
{
	static struct experiment e;
	static struct run_spec spec;
	struct run_spec *r = NULL;
	char err[256] = "";
	int n, bad;
	va_list ap;

	bad = experiment_empty("t", "guest", &e, err, sizeof(err));
	va_start(ap, key);
	for (const char *k = key; k && !bad; k = va_arg(ap, const char *))
		bad = experiment_set(&e, "test", k, va_arg(ap, const char *), err, sizeof(err));
	va_end(ap);
	if (bad || experiment_matrix(&e, &r, &n, err, sizeof(err))) {
		fprintf(stderr, "guest_spec: %s\n", err);
		abort();
	}
	spec = r[0];
	free(r);
	return &spec;
}

#endif
