/* SPDX-License-Identifier: MIT */
/*
 * The emulated frequency's fidelity: a ring-3 loop's throughput at duty f/f_max
 * against its throughput unheld, on one host CPU, for slices of 250-2000 us. Duties and slices are
 * interleaved in a shuffled order and repeated; each cell prints the median error of the
 * throughput ratio against the duty, and its range. Run alone: the machine has 2 CPUs.
 */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "freqemu.h"
#include "policy.h"
#include "stats.h"
#include "testlib.h"
#include "util.h"

#define REPS 5
static const unsigned slices[] = { 250, 500, 1000, 2000 };
static const uint32_t duties[] = { 205, 410, 614, 819 }; /* 0.2 (408 of 2016 MHz) .. 0.8 */
#define NS (sizeof(slices) / sizeof(slices[0]))
#define ND (sizeof(duties) / sizeof(duties[0]))

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double min_of(const double *x, int n)
{
	double m = x[0];
	for (int i = 1; i < n; i++)
		m = x[i] < m ? x[i] : m;
	return m;
}

/* loop iterations per second of the spinner over ms */
static double rate(volatile uint64_t *cnt, int ms)
{
	uint64_t a = *cnt;
	double t = now_s();
	usleep((useconds_t)ms * 1000);
	return (double)(*cnt - a) / (now_s() - t);
}

int main(void)
{
	bench_refuse_nested("bench_dvfs");
	char err[200];
	if (!sched_fifo_allowed(1, err, sizeof(err)) || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("# bench_dvfs: skipped: %s\n", err[0] ? err : "fewer than 2 CPUs");
		return 0;
	}
	volatile uint64_t *cnt = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t p = fork();
	if (p == 0) {
		cpu_set_t s;
		CPU_ZERO(&s);
		CPU_SET(1, &s);
		sched_setaffinity(0, sizeof(s), &s);
		for (;;)
			(*cnt)++;
	}
	static double err_pct[NS][ND][REPS];
	int order[NS * ND * REPS], n = 0;
	for (int i = 0; i < (int)(NS * ND * REPS); i++)
		order[n++] = i;
	srand(42);
	for (int i = n - 1; i > 0; i--) {
		int j = rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	int cpus[1] = { 1 };
	struct progress pg;
	progress_init(&pg, n);
	for (int k = 0; k < n; k++) {
		int s = order[k] / (ND * REPS), d = order[k] / REPS % ND, r = order[k] % REPS;
		struct freqemu e;
		char what[64];
		snprintf(what, sizeof(what), "slice %u us, duty %u of 1024", slices[s], duties[d]);
		progress_begin(&pg, k, what);
		double full = rate(cnt, 200); /* unheld, right before: the machine's noise moves it */
		if (freqemu_start(&e, cpus, 1, slices[s], err, sizeof(err))) {
			printf("# bench_dvfs: %s\n", err);
			break;
		}
		freqemu_set(&e, 0, duties[d]);
		usleep(50000);
		double held = rate(cnt, 300);
		freqemu_stop(&e);
		err_pct[s][d][r] = (held / full / (duties[d] / 1024.0) - 1) * 100;
		progress_end(&pg, k, what, NULL);
	}
	progress_finish(&pg);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	printf("\n# emulated frequency: loop throughput / unheld throughput against f/f_max; error %%, median [min..max] of %d\n",
	       REPS);
	printf("%-10s", "slice");
	for (size_t d = 0; d < ND; d++)
		printf("  f/f_max %.1f           ", duties[d] / 1024.0);
	printf("\n");
	for (size_t s = 0; s < NS; s++) {
		printf("%5u us  ", slices[s]);
		for (size_t d = 0; d < ND; d++)
			printf("  %+6.1f [%+6.1f..%+6.1f]", stats_median(err_pct[s][d], REPS),
			       min_of(err_pct[s][d], REPS), stats_max(err_pct[s][d], REPS));
		printf("\n");
	}
	return 0;
}
