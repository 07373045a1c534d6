/* SPDX-License-Identifier: MIT */
/*
 * make bench, guest kernel part: boot-to-workload over N boots, the ring-0 cost of a wake-up,
 * and cyclic in the guest next to rt-tests' cyclictest on the host, idle and busy host
 * (stress-ng --cpu <CPUs>), interleaved and repeated. Medians and spread, never one run.
 *
 *   bench_guest [boots=20] [secs=5] [repeats=3] [interval_us=1000]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"
#include "cli.h"
#include "cyclictest.h"
#include "hostinfo.h"
#include "hostload.h"
#include "metrics.h"
#include "vm.h"
#include "testlib.h"

static struct hostinfo host;
static char kernel[512];

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* median [p10 .. p90] of v (sorted in place) */
static void spread(double *v, int n, double *med, double *lo, double *hi)
{
	qsort(v, (size_t)n, sizeof(double), cmpd);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[(int)floor(0.1 * (n - 1))];
	*hi = v[(int)ceil(0.9 * (n - 1))];
}

static int guest_cyclic(int secs, int interval_us, int duration_ms, struct metric_set *ms,
			double *boot_ms)
{
	char job[128], err[256];
	struct vm_result r;
	struct vm_spec s = { .kernel = kernel, .vcpus = 1, .job = job, .timeout_ms = secs * 1000 + 30000,
			     .run_dir = "/tmp/pvbench-bench", .tsc_khz = host.tsc_khz };

	(void)err;
	snprintf(job, sizeof(job), "workload=cyclic interval_us=%d duration_ms=%d", interval_us,
		 duration_ms ? duration_ms : secs * 1000);
	mkdir_p(s.run_dir);
	if (vm_backend_qemu.run(&s, NULL, &r) < 0) {
		fprintf(stderr, "bench: guest run %s: %s\n", run_status_name(r.outcome), r.reason);
		vm_result_free(&r);
		return -1;
	}
	metrics_from_record(r.record, ms);
	if (boot_ms)
		*boot_ms = r.boot_to_workload_ms;
	vm_result_free(&r);
	return 0;
}

static int host_cyclictest(int secs, int interval_us, struct metric_set *ms)
{
	char *argv[20], bufs[5][32], err[256];
	struct child c;

	cyclictest_argv(argv, bufs, secs, interval_us, 1, 0, "--json=/tmp/pvbench-bench/ct.json");
	if (child_spawn(&c, argv, NULL, err, sizeof(err)) < 0 || !child_wait(&c, secs * 1000 + 10000) ||
	    WEXITSTATUS(c.status) != 0) {
		fprintf(stderr, "bench: cyclictest failed: %s\n", err);
		child_kill(&c);
		return -1;
	}
	return cyclictest_read_json("/tmp/pvbench-bench/ct.json", ms, err, sizeof(err));
}

static long arg(int argc, char **argv, const char *key, long def)
{
	size_t n = strlen(key);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
			return atol(argv[i] + n + 1);
	return def;
}

int main(int argc, char **argv)
{
	bench_refuse_nested("bench_guest");
	int boots = (int)arg(argc, argv, "boots", 20), secs = (int)arg(argc, argv, "secs", 5);
	int reps = (int)arg(argc, argv, "repeats", 3), iv = (int)arg(argc, argv, "interval_us", 1000);
	static const char *const stats[] = { "lat_avg", "lat_p50", "lat_p99", "lat_max" };
	char err[256];
	struct guestinfo gi;

	child_signals_install();
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", pvb_build_dir());
	if (hostinfo_read(&host, err, sizeof(err)) < 0) /* timings under TCG would mean nothing */
		return bench_skip_without_kvm(argv[0], err);
	if (guestinfo_read(kernel, &gi, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	printf("# guest kernel benchmark: %s, host %s, TSC %u kHz, guest %s\n", host.kvm_backend,
	       host.host_kernel, host.tsc_khz, gi.build_id);

	/* 1. boot-to-workload */
	double *boot = calloc((size_t)boots, sizeof(double)), *inner = calloc((size_t)boots, sizeof(double));
	double *wake = calloc((size_t)boots, sizeof(double)), *nul = calloc((size_t)boots, sizeof(double));
	struct progress pg;
	progress_init(&pg, boots);
	for (int i = 0; i < boots && !pvb_interrupted; i++) {
		struct metric_set ms;
		progress_begin(&pg, i, "boot");
		if (guest_cyclic(1, iv, 20, &ms, &boot[i]) < 0)
			return 1;
		progress_end(&pg, i, "boot", NULL);
		inner[i] = metrics_find(&ms, "boot.to_workload", METRIC_CPU_VM)->value / 1e6;
		wake[i] = metrics_find(&ms, "r0.wake_path", METRIC_CPU_VM)->value / 1e3;
		nul[i] = metrics_find(&ms, "r0.null_syscall", METRIC_CPU_VM)->value / 1e3;
		metrics_free(&ms);
	}
	progress_finish(&pg);
	double m, lo, hi;
	printf("\n%-40s %10s %10s %10s   (n=%d, 1 vCPU, microvm)\n", "", "median", "p10", "p90", boots);
	spread(boot, boots, &m, &lo, &hi);
	printf("%-40s %10.1f %10.1f %10.1f   goal <= 100 ms: %s\n", "boot-to-workload, host clock (ms)", m, lo, hi,
	       m <= 100 ? "met" : "NOT met");
	spread(inner, boots, &m, &lo, &hi);
	printf("%-40s %10.2f %10.2f %10.2f\n", "  of which in the guest (ms)", m, lo, hi);
	spread(wake, boots, &m, &lo, &hi);
	printf("%-40s %10.1f %10.1f %10.1f   %d ring-0 instructions\n", "ring-0 wake-up path (us)", m, lo, hi,
	       gi.wake_path_insn);
	spread(nul, boots, &m, &lo, &hi);
	printf("%-40s %10.1f %10.1f %10.1f\n", "null system call, int3 + iretq (us)", m, lo, hi);

	/* 2. guest cyclic vs host cyclictest, idle and busy, interleaved */
	printf("\n# latency (us), interval %d us, %d s per run, %d runs per cell; median of per-run values [min..max]\n",
	       iv, secs, reps);
	printf("# guest: cyclic in a 1-vCPU guest (vCPU SCHED_OTHER); host: cyclictest -t 1 (SCHED_OTHER)\n");
	printf("%-6s %-6s", "host", "side");
	for (size_t k = 0; k < 4; k++)
		printf(" %22s", stats[k]);
	printf("\n");
	for (int load = 0; load < 2 && !pvb_interrupted; load++) {
		struct hostload hl;
		double v[2][4][16];
		if (hostload_start(&hl, load ? "busy" : "idle", err, sizeof(err)) < 0) {
			fprintf(stderr, "bench: %s\n", err);
			return 1;
		}
		progress_init(&pg, 2 * (reps < 16 ? reps : 16));
		for (int r = 0; r < reps && r < 16 && !pvb_interrupted; r++) {
			for (int side = 0; side < 2; side++) {
				struct metric_set ms = { 0 };
				char what[64];
				snprintf(what, sizeof(what), "%s host, %s", hl.name, side ? "host cyclictest" : "guest cyclic");
				progress_begin(&pg, 2 * r + side, what);
				if ((side ? host_cyclictest(secs, iv, &ms) : guest_cyclic(secs, iv, 0, &ms, NULL)) < 0) {
					hostload_stop(&hl);
					return 1;
				}
				progress_end(&pg, 2 * r + side, what, NULL);
				for (int k = 0; k < 4; k++)
					v[side][k][r] = metrics_find(&ms, stats[k], METRIC_CPU_ALL)->value / 1e3;
				metrics_free(&ms);
			}
		}
		hostload_stop(&hl);
		progress_finish(&pg);
		for (int side = 0; side < 2; side++) {
			printf("%-6s %-6s", hl.name, side ? "host" : "guest");
			for (int k = 0; k < 4; k++) {
				spread(v[side][k], reps, &m, &lo, &hi);
				printf("   %7.1f [%5.0f..%5.0f]", m, v[side][k][0], v[side][k][reps - 1]);
			}
			printf("\n");
		}
	}
	return 0;
}
