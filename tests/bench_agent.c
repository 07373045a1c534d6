/* SPDX-License-Identifier: MIT */
/*
 * make bench, the boost agents against this host's own scheduler, with no emulator between: what
 * each strategy costs the host and what it buys the guest. A vCPU here is a host thread that looks
 * to the host as a KVM vCPU thread does. In a busy guest it runs all the time (a normal hog in the
 * guest); in an idle one it sleeps (halts) until its next period. Every interval_us its RT task is
 * due. It publishes what the guest kernel publishes (user.c's sleep_common): the class it runs, a
 * request while its RT task runs, the next RT deadline, and a kick where that changes what the
 * host should do. It measures how late it got to its RT task, which is the host's share of what
 * the guest's cyclic would see.
 *
 * Host idle, or busy (a SCHED_OTHER spinner on every CPU, as stress-ng). 2 vCPUs, an RT period of 1000 us (interval_us= sets another).
 * vanilla, static and the three dynamic strategies are interleaved, REPS runs each. Printed: the
 * RT task's lateness p99, the agent's CPU (% of one CPU), its wake-ups per second by source (timer,
 * sched trace, doorbell) and its boosts per second, as median [min..max] of the runs. The targets from the boost work are under 2% of a CPU on an
 * idle host and under 5% on a busy one.
 *   bench_agent [reps=N] [secs=N] [host=idle|busy] [guest=idle|busy] [policies=NAME,NAME...] [doorbell=1]
 *               [interval_us=N] [gate_ms=N]
 * host=, guest= and policies= narrow the runs to one host, one guest or the policies named (an A/B
 * of two strategies, or one case looked at again); by default all of them. doorbell=1 gives the
 * region a doorbell (boost_device=ivshmem): each kick also signals the vCPU's eventfd, which wakes
 * the agent, as the guest's write to the doorbell register does through QEMU's ioeventfd.
 * gate_ms= sets predictive's boost_gate_ms (0: it boosts before every deadline, contended or not).
 */
#include <pthread.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "hostinfo.h"
#include "policy.h"
#include "pvb_boost.h"
#include "stats.h"
#include "testlib.h"
#include "util.h"

#define NV 2
#define RT_WORK_NS 20000ull
#define MAX_LATE 200000
#define MAX_REPS 20

static const char *const names[] = { "vanilla", "static", "dynamic-eager", "dynamic-lazy", "dynamic-predictive" };
#define NP (sizeof(names) / sizeof(names[0]))

static _Alignas(4096) unsigned char region[8192];
static volatile int stop, measuring;
static unsigned khz;
static int ncpu, doorbell, kick_fd[NV];
static uint64_t iv_ns = 1000000; /* interval_us= */
static char gate_ms[16] = "250"; /* gate_ms=: predictive's boost_gate_ms */

/* what the guest kernel does to tell the host (pvb_boost_tell): the slot's kick, then, where it
 * rings, the doorbell */
static void tell(struct pvb_boost_slot *s, int idx, int wants, int halts_until_rt)
{
	int how = pvb_boost_tell((const struct pvb_boost_hdr *)region, pvb_boost_is_boosted(s), wants, halts_until_rt);
	if (how != PVB_TELL_NONE)
		pvb_boost_kick(s);
	if (how == PVB_TELL_RING && doorbell && write(kick_fd[idx], &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		perror("bench_agent: doorbell");
}

/* A CLOCK_MONOTONIC time near now in TSC ticks, from a pair read now: the TSC rate the kernel
 * reports is a little off, and over a run from a pair taken at its start the deadlines published
 * drifted hundreds of us from the ones kept */
static uint64_t tsc_of(uint64_t mono)
{
	uint64_t tsc = __builtin_ia32_rdtsc(), now = mono_ns();
	return tsc + (uint64_t)((double)((int64_t)(mono - now)) * khz / 1e6);
}

struct vcpu {
	int idx, idle_guest, tid;
	double *late; /* us */
	size_t n;
};

static void spin_until(uint64_t t)
{
	while (mono_ns() < t && !stop)
		;
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct pvb_boost_slot *s = pvb_boost_slot(region, (unsigned)v->idx);
	uint64_t t = mono_ns() + iv_ns;

	pin_self(v->idx % ncpu);
	v->tid = (int)syscall(SYS_gettid);
	while (!stop) {
		/* between periods: the guest's normal hog, or a halt, with the next RT deadline */
		pvb_boost_publish(s, v->idle_guest ? PVB_CLASS_IDLE : PVB_CLASS_NORMAL, 0, 0, tsc_of(t), 0,
				  __builtin_ia32_rdtsc());
		tell(s, v->idx, 0, v->idle_guest); /* a halt here is until the next RT deadline */
		if (v->idle_guest)
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
					&(struct timespec){ (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) }, NULL);
		else
			spin_until(t);
		uint64_t at = mono_ns();
		if (v->n < MAX_LATE && measuring)
			v->late[v->n++] = (double)(at - t) / 1e3;
		/* the RT task: asks for a boost while it runs */
		pvb_boost_publish(s, PVB_CLASS_RT, 50, PVB_SF_BOOST_REQ, 0, 0, __builtin_ia32_rdtsc());
		tell(s, v->idx, 1, 0);
		spin_until(at + RT_WORK_NS);
		t += iv_ns;
		if (t < mono_ns()) /* periods missed: the next one from now */
			t = mono_ns() + iv_ns - (mono_ns() - t) % iv_ns;
	}
	pvb_boost_publish(s, PVB_CLASS_IDLE, 0, 0, 0, 0, __builtin_ia32_rdtsc());
	return NULL;
}

static void *host_hog(void *arg)
{
	pin_self(*(int *)arg);
	while (!stop)
		;
	return NULL;
}

struct result { double late_p99, cpu, wakes[4]; int ok; };

static struct result one_run(const char *policy, int busy_host, int idle_guest, int secs)
{
	struct result r = { 0 };
	struct vcpu v[NV];
	pthread_t th[NV], hog[8];
	int tids[NV], cpus[8], nh = busy_host ? (ncpu < 8 ? ncpu : 8) : 0;
	char err[256];
	const struct policy_ops *ops = policy_find(policy);
	struct policy p = { .ops = ops, .spec = guest_spec("policy", policy, "static_prio", "50", "boost_gate_ms", gate_ms, NULL) };

	stop = 0;
	pvb_boost_host_init(region, sizeof(region), NV, PVB_BF_KNOWN, 50);
	struct pvb_boost_hdr *h = (void *)region;
	h->guest_features = PVB_BF_BOOST | PVB_BF_RT_DEADLINE;
	h->guest_version = 1;
	for (int i = 0; i < nh; i++) {
		cpus[i] = i;
		pthread_create(&hog[i], NULL, host_hog, &cpus[i]);
	}
	for (int i = 0; i < NV; i++) {
		v[i] = (struct vcpu){ .idx = i, .idle_guest = idle_guest, .late = calloc(MAX_LATE, sizeof(double)) };
		pthread_create(&th[i], NULL, vcpu_main, &v[i]);
	}
	for (int i = 0; i < NV; i++) {
		while (!__atomic_load_n(&v[i].tid, __ATOMIC_ACQUIRE))
			usleep(1000);
		tids[i] = v[i].tid;
	}
	struct vm_view vm = { .tids = tids, .nr_vcpus = NV, .tsc_khz = khz, .boost = region, .boost_size = sizeof(region),
			      .kick_fds = doorbell ? kick_fd : NULL };
	if ((ops->prepare && ops->prepare(&p, err, sizeof(err))) || (ops->start && ops->start(&p, &vm, err, sizeof(err)))) {
		fprintf(stderr, "bench_agent: %s: %s\n", policy, err);
	} else {
		/* as a guest does, once the agent runs: its TSC stamped just before it says it is
		 * ready. The agent takes the TSC offset's bound from how long it took to see that:
		 * with the agent started after, the bound was the agent's start-up, ~1 ms */
		h->guest_tsc_ready = __builtin_ia32_rdtsc();
		__atomic_store_n(&h->guest_ready, 1, __ATOMIC_RELEASE);
		r.ok = 1;
		/* from the policy's start to its stop: a stopping agent hands the threads back to
		 * SCHED_OTHER tens of ms before they end, and those periods were a busy host's
		 * vanilla ones (1% of a 3 s run, all of a dynamic policy's p99 tail) */
		measuring = 1;
		sleep((unsigned)secs);
		measuring = 0;
	}
	if (ops->stop)
		ops->stop(&p);
	stop = 1;
	for (int i = 0; i < NV; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < nh; i++)
		pthread_join(hog[i], NULL);
	struct metric_set ms = { 0 };
	if (ops->counters)
		ops->counters(&p, &ms);
	static const char *const by[4] = { "agent_wakeups_timer", "agent_wakeups_trace", "agent_wakeups_doorbell", "boosts" };
	const struct metric *m = metrics_find(&ms, "agent_cpu_pct", METRIC_CPU_VM);
	r.cpu = m ? m->value : 0;
	for (int k = 0; k < 4; k++)
		r.wakes[k] = (m = metrics_find(&ms, by[k], METRIC_CPU_VM)) ? m->value / secs : 0;
	metrics_free(&ms);
	if (ops->destroy)
		ops->destroy(&p);
	double all[2 * MAX_LATE];
	size_t n = 0;
	for (int i = 0; i < NV; i++) {
		memcpy(all + n, v[i].late, v[i].n * sizeof(double));
		n += v[i].n;
		free(v[i].late);
	}
	r.late_p99 = n ? stats_quantile(all, n, 0.99) : 0;
	r.ok &= n > 0;
	/* a second between runs: right after static's FIFO threads held both CPUs, this kernel
	 * starved the next run's normal threads for its whole length (1 period in 10 ran) */
	sleep(1);
	return r;
}

/* The arguments besides reps= and secs= (bench_args): which hosts, guests and policies to run
 * (WANT_*: 1 each by default), doorbell=, interval_us=. 0, or 1 with what is wrong said. */
static int narrow(int argc, char **argv, int want_host[2], int want_guest[2], int want[NP])
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int *w = !strncmp(a, "host=", 5) ? want_host : !strncmp(a, "guest=", 6) ? want_guest : NULL;
		if (w) {
			const char *v = strchr(a, '=') + 1;
			if (strcmp(v, "idle") && strcmp(v, "busy")) {
				fprintf(stderr, "bench_agent: %s: idle or busy\n", a);
				return 1;
			}
			w[0] = !strcmp(v, "idle"), w[1] = !w[0];
		} else if (!strncmp(a, "policies=", 9)) {
			char list[256];
			snprintf(list, sizeof(list), "%s", a + 9);
			memset(want, 0, NP * sizeof(want[0]));
			for (char *sp, *n = strtok_r(list, ",", &sp); n; n = strtok_r(NULL, ",", &sp)) {
				size_t p = 0;
				while (p < NP && strcmp(names[p], n))
					p++;
				if (p == NP) {
					fprintf(stderr, "bench_agent: policies: no %s (vanilla, static, dynamic-eager, "
						"dynamic-lazy, dynamic-predictive)\n", n);
					return 1;
				}
				want[p] = 1;
			}
		} else if (!strcmp(a, "doorbell=1") || !strcmp(a, "doorbell=0")) {
			doorbell = a[9] == '1';
		} else if (!strncmp(a, "interval_us=", 12)) {
			char *end;
			unsigned long us = strtoul(a + 12, &end, 10);
			if (*end || us < 100 || us > 100000) {
				fprintf(stderr, "bench_agent: %s: 100 to 100000\n", a);
				return 1;
			}
			iv_ns = us * 1000;
		} else if (!strncmp(a, "gate_ms=", 8)) {
			char *end;
			unsigned long ms = strtoul(a + 8, &end, 10);
			if (*end || end == a + 8 || ms > 100000) {
				fprintf(stderr, "bench_agent: %s: 0 (no gate) to 100000\n", a);
				return 1;
			}
			snprintf(gate_ms, sizeof(gate_ms), "%lu", ms);
		} else if (strncmp(a, "reps=", 5) && strncmp(a, "secs=", 5)) {
			fprintf(stderr, "bench_agent: %s: not an argument (reps=, secs=, host=, guest=, policies=, doorbell=, "
				"interval_us=, gate_ms=)\n", a);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	bench_refuse_nested("bench_agent");
	int reps = 3, secs = 3;
	char err[256];
	struct hostinfo host;

	bench_args(argc, argv, "bench_agent", &reps, &secs, MAX_REPS);
	int want_host[2] = { 1, 1 }, want_guest[2] = { 1, 1 }, want[NP];
	for (size_t p = 0; p < NP; p++)
		want[p] = 1;
	if (narrow(argc, argv, want_host, want_guest, want))
		return 1;
	hostinfo_read(&host, err, sizeof(err)); /* no KVM needed: only the TSC rate */
	if (!host.tsc_khz) {
		fprintf(stderr, "bench_agent: no TSC rate: %s\n", err);
		return 1;
	}
	khz = host.tsc_khz;
	for (int i = 0; i < NV && doorbell; i++)
		if ((kick_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
			perror("bench_agent: eventfd");
			return 1;
		}
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	static struct result res[2][2][NP][MAX_REPS];
	static double floor_us[2][MAX_REPS];
	int total = 0, done = 0;
	for (size_t p = 0; p < NP; p++)
		total += want[p] * (want_host[0] + want_host[1]) * (want_guest[0] + want_guest[1]) * reps;
	struct progress pg;
	progress_init(&pg, total);
	for (int rep = 0; rep < reps; rep++) /* interleaved: every variant once per round */
		for (int busy = 0; busy < 2; busy++) {
			if (want_host[busy])
				floor_us[busy][rep] = bench_wake_floor_us(busy);
			for (int ig = 0; ig < 2; ig++)
				for (size_t p = 0; p < NP; p++) {
					if (!want_host[busy] || !want_guest[!ig] || !want[p])
						continue;
					char what[96];
					snprintf(what, sizeof(what), "%s host, %s guest, %s", busy ? "busy" : "idle",
						 ig ? "idle" : "busy", names[p]);
					progress_begin(&pg, done, what);
					res[busy][ig][p][rep] = one_run(names[p], busy, ig, secs);
					progress_end(&pg, done++, what, NULL);
				}
		}
	progress_finish(&pg);
	printf("\n# boost agents on this host's scheduler: %d synthetic vCPU threads, RT task every %llu us "
	       "(20 us of work), %s, predictive's boost_gate_ms %s; median [min..max] of %d run%s of %d s\n", NV,
	       (unsigned long long)(iv_ns / 1000),
	       doorbell ? "kicks ring a doorbell (an eventfd per vCPU)" : "no doorbell (kicks seen at the agent's next look)",
	       gate_ms, reps, reps == 1 ? "" : "s", secs);
	for (int busy = 0; busy < 2; busy++)
		for (int ig = 0; ig < 2; ig++) {
			if (!want_host[busy] || !want_guest[!ig])
				continue;
			char fl[64];
			int nf = 0;
			double f[MAX_REPS];
			for (int r = 0; r < reps; r++)
				if (floor_us[busy][r] > 0)
					f[nf++] = floor_us[busy][r];
			printf("\n%s host, %s guest (a FIFO thread's timer wake-up costs it %s us here)\n%-19s %-22s %-20s "
			       "%-14s %-20s %-18s %-18s %-18s\n", busy ? "busy" : "idle", ig ? "idle (halts)" : "busy (a hog)",
			       bench_mmm(f, nf, 1, fl, sizeof(fl)), "policy", "RT lateness p99 us", "agent CPU %",
			       "wake floor %", "wake-ups/s: timer", "trace", "doorbell", "boosts/s");
			for (size_t p = 0; p < NP; p++) {
				if (!want[p])
					continue;
				double x[7][MAX_REPS];
				int n = 0;
				char b[7][64];
				for (int r = 0; r < reps; r++) {
					const struct result *q = &res[busy][ig][p][r];
					if (!q->ok)
						continue;
					x[0][n] = q->late_p99, x[1][n] = q->cpu;
					for (int k = 0; k < 4; k++)
						x[2 + k][n] = q->wakes[k];
					/* its wake-ups at the floor's cost, measured in the same round */
					x[6][n] = (q->wakes[0] + q->wakes[1] + q->wakes[2]) * (floor_us[busy][r] > 0 ? floor_us[busy][r] : 0) / 1e4;
					n++;
				}
				int dyn = p >= 2;
				printf("%-19s %-22s %-20s %-14s %-20s %-18s %-18s %-18s\n", names[p],
				       bench_mmm(x[0], n, 0, b[0], 64), dyn ? bench_mmm(x[1], n, 2, b[1], 64) : "",
				       dyn && nf ? bench_mmm(x[6], n, 1, b[6], 64) : "", dyn ? bench_mmm(x[2], n, 0, b[2], 64) : "",
				       dyn ? bench_mmm(x[3], n, 0, b[3], 64) : "", dyn ? bench_mmm(x[4], n, 0, b[4], 64) : "",
				       dyn ? bench_mmm(x[5], n, 0, b[5], 64) : "");
			}
		}
	printf("\nagent CPU targets: < 2%% of a CPU on an idle host, < 5%% on a busy one; wake floor: the agent's "
	       "wake-ups/s at what a bare timer wake-up of a FIFO thread costs here, the least its CPU can be\n");
	return 0;
}
