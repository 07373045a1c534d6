/* SPDX-License-Identifier: MIT */
/*
 * make bench, harness part: what pvbench itself costs while it watches a guest.
 *  1. pvbench's own CPU time per run (getrusage of this process: the watch loop, QMP status
 *     polls, reading the record) as a share of one CPU;
 *  2. host cyclictest with pvbench watching an idle guest (workload=hang: one wake-up a second)
 *     vs with nothing else running, interleaved and repeated, as a ratio of medians. That
 *     includes the idle QEMU too, so it bounds the harness's effect from above.
 *
 *   bench_harness [secs=10] [repeats=5]
 */
#include <pthread.h>
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
#include "hostinfo.h"
#include "metrics.h"
#include "stats.h"
#include "testlib.h"
#include "vm.h"

static struct hostinfo host;
static char kernel[512];
static int secs;

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct guest_arg { double cpu, wall; int ok; };

static void *watch_guest(void *p)
{
	struct guest_arg *g = p;
	struct vm_result r;
	struct timespec a, b;
	struct vm_spec s = { .kernel = kernel, .vcpus = 1, .job = "workload=hang",
			     .timeout_ms = secs * 1000 + 1500, .run_dir = "/tmp/pvbench-bench", .tsc_khz = host.tsc_khz };
	double c0 = cpu_s();

	clock_gettime(CLOCK_MONOTONIC, &a);
	vm_backend_qemu.run(&s, NULL, &r); /* ends at its timeout: that is the point */
	clock_gettime(CLOCK_MONOTONIC, &b);
	g->cpu = cpu_s() - c0;
	g->wall = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	g->ok = r.outcome == RUN_TIMEOUT;
	vm_result_free(&r);
	return NULL;
}

static int cyclictest(double *avg, double *p99)
{
	char *argv[20], bufs[5][32], err[256];
	struct child c;
	struct metric_set ms = { 0 };

	cyclictest_argv(argv, bufs, secs, 1000, 1, 0, "--json=/tmp/pvbench-bench/hct.json");
	if (child_spawn(&c, argv, NULL, err, sizeof(err)) < 0 || !child_wait(&c, secs * 1000 + 10000))
		return -1;
	if (cyclictest_read_json("/tmp/pvbench-bench/hct.json", &ms, err, sizeof(err)) < 0)
		return -1;
	*avg = metrics_find(&ms, "lat_avg", METRIC_CPU_ALL)->value / 1e3;
	*p99 = metrics_find(&ms, "lat_p99", METRIC_CPU_ALL)->value / 1e3;
	metrics_free(&ms);
	return 0;
}

int main(int argc, char **argv)
{
	bench_refuse_nested("bench_harness");
	int reps = 5;
	char err[256];
	double share[32], avg[2][32], p99[2][32];

	secs = 10;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "secs=", 5))
			secs = atoi(argv[i] + 5);
		if (!strncmp(argv[i], "repeats=", 8))
			reps = atoi(argv[i] + 8);
	}
	if (reps > 32)
		reps = 32;
	child_signals_install();
	mkdir_p("/tmp/pvbench-bench");
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", pvb_build_dir());
	if (hostinfo_read(&host, err, sizeof(err)) < 0) /* timings under TCG would mean nothing */
		return bench_skip_without_kvm(argv[0], err);
	struct progress pg;
	progress_init(&pg, 2 * reps);
	for (int r = 0; r < reps && !pvb_interrupted; r++) {
		for (int with = 0; with < 2; with++) { /* interleaved: alone, with pvbench, alone, ... */
			struct guest_arg g = { 0 };
			pthread_t th;
			const char *what = with ? "cyclictest with pvbench watching a guest" : "cyclictest alone";
			progress_begin(&pg, 2 * r + with, what);
			if (with)
				pthread_create(&th, NULL, watch_guest, &g);
			if (cyclictest(&avg[with][r], &p99[with][r]) < 0) {
				fprintf(stderr, "bench: cyclictest failed\n");
				return 1;
			}
			if (with) {
				pthread_join(th, NULL);
				if (!g.ok) {
					fprintf(stderr, "bench: the guest did not run to its timeout\n");
					return 1;
				}
				share[r] = g.cpu / g.wall * 100;
			}
			progress_end(&pg, 2 * r + with, what, NULL);
		}
	}
	progress_finish(&pg);
	printf("\n# harness benchmark: %d s per run, %d runs each, interleaved; median [min..max]\n", secs, reps);
	double m = stats_median(share, (size_t)reps);
	double lo = share[0], hi = share[0];
	for (int r = 1; r < reps; r++) {
		lo = share[r] < lo ? share[r] : lo;
		hi = share[r] > hi ? share[r] : hi;
	}
	printf("pvbench CPU while watching a guest       %6.3f %% of a CPU [%.3f..%.3f]   goal < 1 %%: %s\n",
	       m, lo, hi, m < 1 ? "met" : "NOT met");
	for (int k = 0; k < 2; k++) {
		double (*v)[32] = k ? p99 : avg;
		double a = stats_median(v[0], (size_t)reps), b = stats_median(v[1], (size_t)reps);
		printf("host cyclictest %-4s (us): alone %7.1f, with pvbench + idle guest %7.1f, ratio %.3f (Mann-Whitney p = %.3f)\n",
		       k ? "p99" : "avg", a, b, b / a, stats_mann_whitney_p(v[1], (size_t)reps, v[0], (size_t)reps));
	}
	return 0;
}
