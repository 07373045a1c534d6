/* SPDX-License-Identifier: MIT */
/*
 * The Linux user-space build of the workload API: ticks are CLOCK_MONOTONIC ns, sleeps are
 * clock_nanosleep(TIMER_ABSTIME) (cyclictest's method), one thread per "CPU", each pinned to
 * host CPU (i mod online CPUs). The result record is the guest's, written to out=FILE.
 *
 *   pvb-linux workload=cyclic cpus=1 prio=0 interval_us=1000 duration_ms=5000 out=rec.bin
 *
 * prio=N > 0 runs the threads SCHED_FIFO N (as cyclictest -p N); 0 keeps SCHED_OTHER.
 * dma_latency_us=N (default 0) holds /dev/cpu_dma_latency at N while running, as cyclictest does
 * unless --laptop: with a polling cpuidle driver (haltpoll in KVM guests) it halves wake-up
 * latency, so leaving it out would measure a different thing. -1 leaves it alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "pvb.h"
#include "pvb_record.h"

#define MAX_ARGS 48
#define MAX_THREADS 64

static const char *keys[MAX_ARGS], *vals[MAX_ARGS];
static int nr_args;
static char fail_msg[256];
static int failed;
static struct pvb_rec_writer rec;
static const struct pvb_workload *wl;
static pthread_barrier_t start_barrier, run_barrier;
static int prio;

uint64_t pvb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void pvb_sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

uint64_t pvb_ns_to_ticks(uint64_t ns) { return ns; }
uint64_t pvb_ticks_to_ns(uint64_t t) { return t; }

const char *pvb_arg(const char *key)
{
	for (int i = 0; i < nr_args; i++)
		if (!strcmp(keys[i], key))
			return vals[i];
	return NULL;
}

uint64_t pvb_arg_u64(const char *key, uint64_t def)
{
	const char *s = pvb_arg(key);
	char *end;
	unsigned long long v;

	if (!s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-') {
		char msg[128];
		snprintf(msg, sizeof(msg), "job: %s: not a number", key);
		pvb_fail(msg);
		return def;
	}
	return v;
}

void *pvb_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		pvb_fail("out of memory");
	else
		memset(p, 0, n); /* touch, as the guest does */
	return p;
}

void pvb_console(const char *s, size_t n)
{
	fwrite(s, 1, n, stderr);
}

void pvb_fail(const char *why)
{
	if (!failed++)
		snprintf(fail_msg, sizeof(fail_msg), "%s", why);
}

int pvb_failed(void) { return failed; }

/* Linux tracks its tasks' utilisation itself; its cpufreq driver scales the work */
void pvb_task_run(struct pvb_task *t) { (void)t; }
uint32_t pvb_capacity(void) { return 1024; }
uint32_t pvb_capacity_orig(unsigned cpu) { (void)cpu; return 1024; }
void pvb_lock(struct pvb_lock *l)
{
	while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->held, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

void pvb_unlock(struct pvb_lock *l)
{
	__atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

void pvb_progress_add(uint64_t bytes) { (void)bytes; }
int pvb_should_stop(void) { return 0; }

/* Block I/O: the guest's disk (/dev/vda, or $PVB_IO_FILE), pread/pwrite, done at submit: a
 * synchronous queue whose reap finds what submit did. */
static int io_fd = -1;
static __thread unsigned io_done, io_errors;

int pvb_io_open(uint64_t *disk_bytes)
{
	const char *path = getenv("PVB_IO_FILE") ? getenv("PVB_IO_FILE") : "/dev/vda";
	io_fd = open(path, O_RDWR | O_CLOEXEC);
	off_t end = io_fd >= 0 ? lseek(io_fd, 0, SEEK_END) : -1;
	if (end <= 0) {
		pvb_fail("io: no block device (/dev/vda or $PVB_IO_FILE)");
		return -1;
	}
	*disk_bytes = (uint64_t)end;
	return 0;
}

int pvb_io_submit(void *buf, uint64_t off, uint32_t len, int write)
{
	ssize_t n = write ? pwrite(io_fd, buf, len, (off_t)off) : pread(io_fd, buf, len, (off_t)off);
	io_errors += n != (ssize_t)len;
	io_done++;
	return 0;
}

void pvb_io_kick(void) { }

unsigned pvb_io_reap(uint64_t deadline, unsigned *errors)
{
	unsigned n = io_done;
	(void)deadline;
	*errors += io_errors;
	io_done = io_errors = 0;
	return n;
}

void pvb_metric(unsigned cpu, const char *name, const char *unit, enum pvb_better better, int64_t value)
{
	pvb_rec_metric(&rec, (uint16_t)cpu, name, unit, better, value);
}

void pvb_hist(unsigned cpu, const char *name, uint32_t bucket_ns, const uint32_t *counts,
	      uint32_t nr_buckets, uint64_t overflow)
{
	pvb_rec_hist(&rec, (uint16_t)cpu, name, bucket_ns, counts, nr_buckets, overflow);
}

void pvb_platform_fault(int where)
{
	(void)where;
	__builtin_trap();
}

uint64_t pvb_platform_notify(int ch, int ring, void *slot)
{
	(void)ch, (void)ring, (void)slot;
	pvb_fail("the channel workload runs in the guest kernel only");
	return 0;
}

void pvb_barrier(void)
{
	pthread_barrier_wait(&run_barrier);
}

void *pvb_platform_region(uint64_t *size)
{
	uint64_t sz = pvb_arg_u64("size", 0);
	void *p;

	if (!sz)
		return NULL;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*size = sz;
	return p;
}

/* The boost module's own counts, when it is loaded (impl/guest-linux): what this guest told the
 * host over the run and before it. Linux's side of the guest kernel's metrics of the same kind. */
static void module_counts(void)
{
	static const char *const p[][2] = {
		{ "published", "boost_published" }, { "kicked", "boost_kicks" }, { "irq_sections", "irq_sections" },
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		char path[96];
		unsigned long long v;
		snprintf(path, sizeof(path), "/sys/module/pvb_boost/parameters/%s", p[i][0]);
		FILE *f = fopen(path, "r");
		if (!f)
			return; /* not loaded: no region offered, or a kernel of the user's */
		if (fscanf(f, "%llu", &v) == 1)
			pvb_metric(PVB_CPU_VM, p[i][1], "count", PVB_INFO, (int64_t)v);
		fclose(f);
	}
}

static void *thread_main(void *arg)
{
	struct pvb_ctx *ctx = arg;
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	CPU_SET((int)(ctx->cpu % (unsigned)(ncpu > 0 ? ncpu : 1)), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (prio > 0) {
		struct sched_param sp = { .sched_priority = prio };
		int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		if (e) {
			char msg[128];
			snprintf(msg, sizeof(msg), "SCHED_FIFO %d: %s", prio, strerror(e));
			pvb_fail(msg);
		}
	}
	pthread_barrier_wait(&start_barrier);
	if (!failed && wl->run(ctx))
		pvb_fail("workload run failed");
	return NULL;
}

/* The catalogue for a host that checks jobs before it boots them: one line per workload
 * ("W name needs help") and per key ("K workload key lo hi choices default help"; workload "*":
 * a key of every job), tab-separated, "-" for none. */
static void print_keys(void)
{
	for (int i = 0; pvb_workloads[i]; i++) {
		const struct pvb_workload *w = pvb_workloads[i];
		printf("W\t%s\t%s\t%s\n", w->name, w->needs & PVB_NEEDS_DISK ? "disk" : "-", w->help);
		for (const struct pvb_key *k = w->keys; k && k->name; k++)
			printf("K\t%s\t%s\t%llu\t%llu\t%s\t%s\t%s\n", w->name, k->name, (unsigned long long)k->lo,
			       (unsigned long long)k->hi, k->choices ? k->choices : "-", k->def, k->help);
	}
	for (const struct pvb_key *k = pvb_job_keys; k->name; k++)
		printf("K\t*\t%s\t%llu\t%llu\t%s\t%s\t%s\n", k->name, (unsigned long long)k->lo,
		       (unsigned long long)k->hi, k->choices ? k->choices : "-", k->def, k->help);
}

int main(int argc, char **argv)
{
	static uint8_t buf[4 << 20];
	pthread_t th[MAX_THREADS];
	struct pvb_ctx ctx[MAX_THREADS];
	const char *out, *name;
	unsigned nr;
	uint32_t status = PVB_STATUS_OK;
	FILE *f;

	if (argc == 2 && !strcmp(argv[1], "--keys")) {
		print_keys();
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || nr_args == MAX_ARGS || !strcmp(argv[i], "--help")) {
			fprintf(stderr, "usage: pvb-linux workload=NAME [cpus=N] [prio=P] out=FILE [KEY=VALUE...]\n"
					"       pvb-linux --keys   (every workload's keys, tab-separated)\n");
			for (int w = 0; pvb_workloads[w]; w++)
				fprintf(stderr, "  %-8s %s\n", pvb_workloads[w]->name, pvb_workloads[w]->help);
			return eq ? 0 : 1;
		}
		*eq = 0;
		keys[nr_args] = argv[i];
		vals[nr_args++] = eq + 1;
	}
	out = pvb_arg("out");
	name = pvb_arg("workload");
	if (!out || !name) {
		fprintf(stderr, "pvb-linux: workload= and out= are required\n");
		return 1;
	}
	wl = pvb_find_workload(name);
	if (!wl) {
		fprintf(stderr, "pvb-linux: unknown workload \"%s\"\n", name);
		return 1;
	}
	nr = (unsigned)pvb_arg_u64("cpus", 1);
	prio = (int)pvb_arg_u64("prio", 0);
	if (nr < 1 || nr > MAX_THREADS || prio < 0 || prio > 99)
		pvb_fail("job: cpus must be 1..64 and prio 0..99");
	pvb_rec_begin(&rec, buf, sizeof(buf));
	if (pvb_arg("dma_latency_us") && !strcmp(pvb_arg("dma_latency_us"), "-1")) {
		/* left alone */
	} else {
		int32_t lat = (int32_t)pvb_arg_u64("dma_latency_us", 0);
		int fd = open("/dev/cpu_dma_latency", O_RDWR | O_CLOEXEC); /* held until exit */
		if (fd < 0 || write(fd, &lat, sizeof(lat)) != sizeof(lat))
			fprintf(stderr, "pvb-linux: warning: /dev/cpu_dma_latency: %s\n", strerror(errno));
		pvb_metric(PVB_CPU_VM, "dma_latency", "us", PVB_LESS, fd < 0 ? -1 : lat);
	}
	if (!failed && wl->setup && wl->setup(nr) && !failed)
		pvb_fail("workload setup failed");
	if (!failed) {
		pthread_barrier_init(&start_barrier, NULL, nr);
		pthread_barrier_init(&run_barrier, NULL, nr);
		for (unsigned i = 0; i < nr; i++) {
			ctx[i] = (struct pvb_ctx){ .cpu = i, .nr_cpus = nr };
			pthread_create(&th[i], NULL, thread_main, &ctx[i]);
		}
		for (unsigned i = 0; i < nr; i++)
			pthread_join(th[i], NULL);
		if (!failed)
			wl->finish(nr);
	}
	module_counts();
	if (failed) {
		status = PVB_STATUS_FAILED;
		pvb_rec_text(&rec, PVB_CPU_VM, fail_msg);
		fprintf(stderr, "pvb-linux: %s\n", fail_msg);
	}
	uint32_t len = pvb_rec_seal(&rec, status, nr);
	f = fopen(out, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(out);
		return 1;
	}
	return failed ? 2 : 0;
}
