/* SPDX-License-Identifier: MIT */
/*
 * null: the smallest whole experiment type, and the one to copy (as fio's null engine). It boots
 * nothing: each run spins `work_us` of CPU time (its thread's, not wall time), `ops` times, and
 * reports the median per operation. `slowdown_pct` plants a regression; `outcome` makes a run end
 * in any status, so that the engine's handling of each (statuses, skips, the watchdog,
 * interrupts, the store) is tested without KVM.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "engine.h"
#include "stats.h"

static const char *outcome_choice(int i)
{
	static const char *const v[] = { "ok", "failed", "skipped", "hang", "crash", NULL };
	return v[i];
}

static const struct key_def keys[] = {
	{ "work_us", KT_INT, 0, 1000000, KEY_LIST, "100", "host busy-loop per operation, us" },
	{ "ops", KT_INT, 1, 100000, KEY_LIST, "100", "operations per run" },
	{ "slowdown_pct", KT_INT, 0, 1000, KEY_LIST, "0",
	  "makes every operation this much slower: a planted regression (tests of ab and nightly)" },
	{ "outcome", KT_CHOICE, 0, 0, KEY_LIST, "ok", "how the run ends (for tests of the engine)",
	  .choice = outcome_choice },
	{ 0 },
};

/* this thread's CPU time: an operation costs the same however loaded the host is, so the engine's
 * tests (and ab's and nightly's planted differences) stay exact on a busy machine */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The operations' distribution as plots draw it: 1 us buckets up to twice the work. */
static void add_histogram(struct metric_set *m, const double *took, long long ops, long long work_ns)
{
	unsigned nr = (unsigned)(2 * work_ns / 1000 + 10);
	unsigned long long over = 0;
	unsigned *counts = calloc(nr, sizeof(*counts));

	if (!counts)
		return;
	for (long long i = 0; i < ops; i++) {
		double b = took[i] / 1000;
		if (b < nr)
			counts[(unsigned)b]++;
		else
			over++;
	}
	metrics_add_hist(m, "op", METRIC_CPU_VM, 1000, counts, nr, over);
	free(counts);
}

static void run(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	const char *how = spec_str(r, "outcome");
	long long work_ns = spec_int(r, "work_us") * 10 * (100 + spec_int(r, "slowdown_pct")),
		  ops = spec_int(r, "ops");
	double *took;

	(void)env;
	if (!strcmp(how, "skipped")) {
		run_fail(out, RUN_SKIPPED, "unavailable: the null type was asked to skip");
		return;
	}
	took = calloc((size_t)ops, sizeof(double));
	if (!took) {
		run_fail(out, RUN_ERROR, "out of memory");
		return;
	}
	for (long long i = 0; i < ops && !pvb_interrupted; i++) {
		double t0 = now_ns();
		while (now_ns() - t0 < (double)work_ns)
			;
		took[i] = now_ns() - t0;
	}
	while (!strcmp(how, "hang") && !pvb_interrupted)
		pause(); /* the engine's watchdog ends it */
	if (!strcmp(how, "crash"))
		_exit(3); /* dies without a result */
	double p50 = stats_median(took, (size_t)ops);
	metrics_add(&out->m[SIDE_GUEST], "op_p50", "ns", PVB_LESS, METRIC_CPU_VM, p50);
	metrics_add(&out->m[SIDE_GUEST], "ops", "count", PVB_INFO, METRIC_CPU_VM, (double)ops);
	/* the same work as a rate: a metric where more is better, declared so. Of the median op: a
	 * thread's CPU time in a VM counts the outer host's steal, and one op stretched by 100 ms
	 * halved a mean-based rate (a nightly test missed its planted 50% once) */
	metrics_add(&out->m[SIDE_GUEST], "op_rate", "op/s", PVB_MORE, METRIC_CPU_VM, p50 > 0 ? 1e9 / p50 : 0);
	add_histogram(&out->m[SIDE_GUEST], took, ops, work_ns);
	free(took);
	if (!strcmp(how, "failed"))
		run_fail(out, RUN_FAILED, "the null type was asked to fail");
}

/* The work is CPU time and the watchdog wall time: on a loaded host (a 2-CPU machine running the
 * tests beside other work) a run gets a small share of a CPU, so the watchdog allows ten times the
 * work plus a margin; only a run that hangs reaches it. */
static long long timeout_ms(const struct run_spec *r)
{
	return spec_int(r, "work_us") * spec_int(r, "ops") * (100 + spec_int(r, "slowdown_pct")) / 10000 + 5000;
}

const struct exp_type type_null = {
	.name = "null",
	.help = "host busy-loop, no VM: the smallest type, for tests of the engine and to copy",
	.keys = keys,
	.isolate = 1,
	.columns = "work_us",
	.metrics = "op_p50",
	.timeout_ms = timeout_ms,
	.run = run,
};
