/* SPDX-License-Identifier: MIT */
/*
 * burst: a PCMark-like score (seed 000's PCMark rows). Four subtests in sequence, each a series of
 * bursts of work separated by idle gaps, in shapes of PCMark's work categories: web (3 ms of work,
 * 12 ms idle), writing (1 ms, 4 ms), photo (25 ms, 40 ms), video (8 ms, 8 ms); work in ms at full
 * capacity (work.h). The shapes are pvbench's, not PCMark's code or weights. Consecutive bursts run
 * on the CPUs in turn (the worker moves). A subtest's score is work done per second of burst time,
 * x1000 (1000: every burst ran at full capacity with no delay); the total is their geometric mean.
 *
 * Keys: duration_ms (5000, split evenly over the subtests), scale (100: % of the shapes' work).
 */
#include "pvb.h"
#include "pvb_record.h"
#include "work.h"

static const struct { const char *name; uint64_t work_us, gap_us; } shapes[] = {
	{ "web", 3000, 12000 }, { "writing", 1000, 4000 }, { "photo", 25000, 40000 }, { "video", 8000, 8000 },
};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

static uint64_t duration_ms, scale;
static struct pvb_task *worker;
static struct turns turns;
static uint64_t work_done[NSHAPES], busy_ns[NSHAPES], bursts[NSHAPES];

static int burst_setup(unsigned nr_cpus)
{
	duration_ms = pvb_key_u64("duration_ms");
	scale = pvb_key_u64("scale");
	if (pvb_failed())
		return -1;
	if (scale < 1 || scale > 1000) {
		pvb_fail("burst: scale must be 1..1000 (%)");
		return -1;
	}
	worker = pvb_alloc(sizeof(*worker));
	return work_calibrate();
}

static int burst_run(const struct pvb_ctx *ctx)
{
	static uint64_t t0;
	static volatile unsigned shape; /* the subtest now: the CPU that runs a burst decides */
	pvb_barrier();
	if (ctx->cpu == 0)
		t0 = pvb_now() + pvb_ns_to_ticks(1000000);
	pvb_barrier();
	uint64_t per = pvb_ns_to_ticks(duration_ms * 1000000 / NSHAPES);
	for (uint64_t k = ctx->cpu;; k += ctx->nr_cpus) {
		if (!turn_wait(&turns, k, t0))
			return 0;
		unsigned s = shape;
		uint64_t start = k ? turns.prev_end + pvb_ns_to_ticks(shapes[s].gap_us * 1000) : t0;
		while (s < NSHAPES && start >= t0 + per * (s + 1)) /* this subtest is over */
			start = t0 + per * ++s;
		if (s == NSHAPES) {
			turns.stop = 1;
			return 0;
		}
		shape = s;
		pvb_sleep_until(start);
		uint64_t b = pvb_now(), w = shapes[s].work_us * scale / 100;
		work_do(w, worker);
		uint64_t e = pvb_now();
		work_done[s] += w;
		busy_ns[s] += pvb_ticks_to_ns(e - b);
		bursts[s]++;
		turn_done(&turns, k, e);
	}
}

static void burst_finish(unsigned nr_cpus)
{
	uint64_t prod = 1, n = 0;
	char name[32];
	for (unsigned s = 0; s < NSHAPES; s++) {
		uint64_t sc = busy_ns[s] ? work_done[s] * 1000000 / busy_ns[s] : 0;
		unsigned i = 0;
		for (const char *p = "score_"; *p; p++)
			name[i++] = *p;
		for (const char *p = shapes[s].name; *p; p++)
			name[i++] = *p;
		name[i] = 0;
		pvb_metric(PVB_CPU_VM, name, "points", PVB_MORE, (int64_t)sc);
		if (sc) {
			prod *= sc;
			n++;
		}
	}
	pvb_metric(PVB_CPU_VM, "score", "points", PVB_MORE, (int64_t)(n == NSHAPES ? work_root(prod, NSHAPES) : 0));
	pvb_metric(PVB_CPU_VM, "work_per_us", "count", PVB_INFO, (int64_t)work_per_us);
}

static const struct pvb_key burst_keys[] = {
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ "scale", 1, 1000, NULL, "100", "work per burst, % of the calibrated size" },
	{ 0 },
};

const struct pvb_workload pvb_wl_burst = {
	.keys = burst_keys,
	.name = "burst",
	.help = "PCMark-like score: bursts and idle gaps in four shapes, worker moving between CPUs",
	.setup = burst_setup,
	.run = burst_run,
	.finish = burst_finish,
};
