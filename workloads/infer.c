/* SPDX-License-Identifier: MIT */
/*
 * infer: ms per inference (seed 000's ML rows). A fixed integer network: layers dense layers of
 * dim x dim int16 weights with a ReLU, run on one input; an inference arrives every period_ms
 * (not before the previous is done) and runs on the CPUs in turn. The sizes stand for the seed's:
 * dim=64 (8 KB of weights per layer: cached-small), 256 (128 KB: small), 1024 (2 MB: large,
 * memory-bound on most hosts). Weights are made once, in setup, from a fixed seed.
 *
 * Keys: dim (256), layers (4), period_ms (50), duration_ms (5000). Reports inf_avg and inf_max,
 * and the count.
 */
#include "pvb.h"
#include "pvb_record.h"
#include "work.h"

static uint64_t dim, layers, period_ms, duration_ms;
static int16_t *w;
static int32_t *a, *b;
static struct pvb_task *task;
static struct turns turns;
static uint64_t count, sum_ns, max_ns, checksum;

static int infer_setup(unsigned nr_cpus)
{
	dim = pvb_key_u64("dim");
	layers = pvb_key_u64("layers");
	period_ms = pvb_key_u64("period_ms");
	duration_ms = pvb_key_u64("duration_ms");
	if (pvb_failed())
		return -1;
	if (dim < 8 || dim > 2048 || layers < 1 || layers > 64 || period_ms < 1) {
		pvb_fail("infer: dim 8..2048, layers 1..64, period_ms >= 1");
		return -1;
	}
	w = pvb_alloc(dim * dim * layers * sizeof(*w));
	a = pvb_alloc(dim * sizeof(*a));
	b = pvb_alloc(dim * sizeof(*b));
	task = pvb_alloc(sizeof(*task));
	uint64_t x = 88172645463325252ull;
	for (uint64_t i = 0; i < dim * dim * layers; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		w[i] = (int16_t)((x & 0xff) - 128);
	}
	return 0;
}

static void inference(uint64_t k)
{
	for (uint64_t i = 0; i < dim; i++)
		a[i] = (int32_t)((i * 2654435761u + k) & 0xff);
	for (uint64_t l = 0; l < layers; l++) {
		const int16_t *m = w + l * dim * dim;
		for (uint64_t r = 0; r < dim; r++) {
			int64_t acc = 0;
			for (uint64_t c = 0; c < dim; c++)
				acc += (int64_t)m[r * dim + c] * a[c];
			b[r] = acc > 0 ? (int32_t)(acc >> 8) : 0; /* ReLU, rescaled */
		}
		if (l % 2 == 0 && l + 1 < layers) /* publish like a tick would, once per two layers */
			pvb_task_run(task);
		int32_t *t = a;
		a = b;
		b = t;
	}
	checksum += (uint64_t)a[k % dim];
}

static int infer_run(const struct pvb_ctx *ctx)
{
	static uint64_t t0;
	pvb_barrier();
	if (ctx->cpu == 0)
		t0 = pvb_now() + pvb_ns_to_ticks(1000000);
	pvb_barrier();
	uint64_t period = pvb_ns_to_ticks(period_ms * 1000000), end = t0 + pvb_ns_to_ticks(duration_ms * 1000000);
	for (uint64_t k = ctx->cpu;; k += ctx->nr_cpus) {
		if (!turn_wait(&turns, k, t0 + k * period))
			return 0;
		uint64_t start = t0 + k * period;
		if (start < turns.prev_end)
			start = turns.prev_end;
		if (start >= end) {
			turns.stop = 1;
			return 0;
		}
		pvb_sleep_until(start);
		uint64_t s = pvb_now();
		pvb_task_run(task);
		inference(k);
		uint64_t e = pvb_now(), ns = pvb_ticks_to_ns(e - s);
		count++;
		sum_ns += ns;
		if (ns > max_ns)
			max_ns = ns;
		turn_done(&turns, k, e);
	}
}

static void infer_finish(unsigned nr_cpus)
{
	pvb_metric(PVB_CPU_VM, "inferences", "count", PVB_MORE, (int64_t)count);
	pvb_metric(PVB_CPU_VM, "inf_avg", "ns", PVB_LESS, count ? (int64_t)(sum_ns / count) : 0);
	pvb_metric(PVB_CPU_VM, "inf_max", "ns", PVB_LESS, (int64_t)max_ns);
	pvb_metric(PVB_CPU_VM, "checksum", "count", PVB_INFO, (int64_t)(checksum & 0x7fffffff));
}

static const struct pvb_key infer_keys[] = {
	{ "dim", 8, 2048, NULL, "256", "layer width" },
	{ "layers", 1, 64, NULL, "4", "layers" },
	{ "period_ms", 1, 3600000, NULL, "50", "one inference every this long, ms" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ 0 },
};

const struct pvb_workload pvb_wl_infer = {
	.keys = infer_keys,
	.name = "infer",
	.help = "ms per inference of a fixed int16 network, one every period_ms, on the CPUs in turn",
	.setup = infer_setup,
	.run = infer_run,
	.finish = infer_finish,
};
