/* SPDX-License-Identifier: MIT */
/*
 * frameloop: an FPS proxy (seed 000's Roblox rows). A render task draws a frame at each vsync:
 * frame work varies over time (a triangle between load_lo and load_hi % of the frame budget, at
 * full capacity, over period_ms), and the guest moves the render task every migrate_frames frames,
 * as a guest's load balancer does (0: it stays on CPU 0): to the next CPU (placement=rotate), or
 * to the CPU with the most capacity at its highest frequency as the host publishes it, as Linux
 * moves a misfit task (placement=capacity: only to a CPU with 25% more, the kernel's
 * fits_capacity() margin, so equal CPUs keep it where it is). Not by the capacity now: an idle
 * CPU runs slow, so that would keep a task on a busy little CPU. A frame starts
 * at the first vsync after the previous one is done (vsync-locked, double-buffered): a frame over
 * budget is a jank and costs the next vsync. The other CPUs halt until their turn.
 *
 * Keys: fps (60), duration_ms (5000), load_lo (20), load_hi (70), period_ms (2000),
 * migrate_frames (8), placement (rotate). Reports fps, frames, janks, moves, frame time
 * p50/p95/p99 (a 100 us histogram).
 */
#include "pvb.h"
#include "pvb_record.h"
#include "work.h"

#define FL_BUCKETS 1000 /* 100 us each: frames up to 100 ms */

static uint64_t fps, duration_ms, load_lo, load_hi, period_ms, migrate;
static struct pvb_task *render;
static uint32_t *hist;
static uint64_t overflow, frames, janks, moves, start_tick, end_tick, budget;
static volatile uint64_t frames_done, next_vsync; /* shared by the CPUs taking turns */
static int by_capacity;
static volatile unsigned block_owner;             /* placement=capacity: who draws block decided */
static volatile uint64_t decided;                 /* blocks whose owner is set, 1 + the last */
static volatile int stop;

static int fl_setup(unsigned nr_cpus)
{
	fps = pvb_key_u64("fps");
	duration_ms = pvb_key_u64("duration_ms");
	load_lo = pvb_key_u64("load_lo");
	load_hi = pvb_key_u64("load_hi");
	period_ms = pvb_key_u64("period_ms");
	migrate = pvb_key_u64("migrate_frames");
	const char *pl = pvb_key_str("placement");
	by_capacity = pl && pvb_streq(pl, "capacity");
	if (pl && !by_capacity && !pvb_streq(pl, "rotate")) {
		pvb_fail("frameloop: placement must be rotate or capacity");
		return -1;
	}
	if (pvb_failed())
		return -1;
	if (fps < 1 || fps > 1000 || load_lo > load_hi || load_hi > 400 || period_ms < 1) {
		pvb_fail("frameloop: fps 1..1000, load_lo <= load_hi <= 400 (% of a frame), period_ms >= 1");
		return -1;
	}
	render = pvb_alloc(sizeof(*render));
	hist = pvb_alloc(FL_BUCKETS * sizeof(uint32_t));
	return work_calibrate();
}

/* % of the budget this frame's work takes at full capacity: a triangle over period_ms */
static uint64_t load_at(uint64_t t)
{
	uint64_t ms = pvb_ticks_to_ns(t - start_tick) / 1000000 % period_ms, half = period_ms / 2;
	uint64_t up = ms < half ? ms : period_ms - ms;
	return load_lo + (load_hi - load_lo) * up / (half ? half : 1);
}

static unsigned owner(uint64_t frame, unsigned nr_cpus)
{
	return migrate ? (unsigned)(frame / migrate % nr_cpus) : 0;
}

/* placement=capacity, at the end of a block: the CPU with the most capacity, if it has 25% more
 * than this one (the kernel's fits_capacity() margin, 1280/1024); else this one. */
static unsigned pick(unsigned cpu, unsigned nr_cpus)
{
	unsigned best = cpu;
	uint32_t here = pvb_capacity_orig(cpu), most = here;
	for (unsigned c = 0; c < nr_cpus; c++) {
		uint32_t cap = pvb_capacity_orig(c);
		if (cap > most && (uint64_t)cap * 1024 > (uint64_t)here * 1280) {
			best = c;
			most = cap;
		}
	}
	return best;
}

static int fl_run(const struct pvb_ctx *ctx)
{
	pvb_barrier();
	if (ctx->cpu == 0) {
		budget = pvb_ns_to_ticks(1000000000 / fps);
		block_owner = 0;
		decided = 1;
		start_tick = pvb_now() + pvb_ns_to_ticks(1000000);
		end_tick = start_tick + pvb_ns_to_ticks(duration_ms * 1000000);
		next_vsync = start_tick;
	}
	pvb_barrier();
	for (uint64_t k = 0; !stop; k++) {
		/* halt until this frame could start at the earliest, then until the previous is done */
		uint64_t earliest = start_tick + k * budget;
		if (earliest >= end_tick)
			break;
		if (!by_capacity || !migrate) {
			if (owner(k, ctx->nr_cpus) != ctx->cpu)
				continue;
		} else if (k % migrate == 0) { /* a block begins: its owner is decided as the last ends */
			pvb_sleep_until(earliest);
			while (__atomic_load_n(&decided, __ATOMIC_ACQUIRE) <= k / migrate && !stop)
				pvb_sleep_until(pvb_now() + pvb_ns_to_ticks(200000));
			if (stop)
				break;
			if (block_owner != ctx->cpu) {
				k += migrate - 1;
				continue;
			}
		}
		pvb_sleep_until(earliest);
		while (__atomic_load_n(&frames_done, __ATOMIC_ACQUIRE) != k && !stop)
			pvb_sleep_until(pvb_now() + pvb_ns_to_ticks(200000));
		if (stop)
			break;
		uint64_t vs = next_vsync;
		if (vs >= end_tick) {
			stop = 1;
			break;
		}
		pvb_sleep_until(vs);
		work_do(load_at(vs) * pvb_ticks_to_ns(budget) / 100000, render);
		uint64_t end = pvb_now(), ft = pvb_ticks_to_ns(end - vs);
		frames++;
		janks += end > vs + budget;
		if (ft / 100000 < FL_BUCKETS)
			hist[ft / 100000]++;
		else
			overflow++;
		/* the next frame starts at the first vsync at or after this one's end */
		next_vsync = vs + ((end - vs + budget - 1) / budget) * budget;
		if (next_vsync == vs)
			next_vsync += budget;
		if (migrate && (k + 1) % migrate == 0) { /* the block ends: where does the task go? */
			unsigned next = by_capacity ? pick(ctx->cpu, ctx->nr_cpus) : owner(k + 1, ctx->nr_cpus);
			moves += next != ctx->cpu;
			block_owner = next;
			__atomic_store_n(&decided, (k + 1) / migrate + 1, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&frames_done, k + 1, __ATOMIC_RELEASE);
	}
	return 0;
}

static void fl_finish(unsigned nr_cpus)
{
	uint64_t seen = 0, p95 = 0, n = frames;
	for (unsigned b = 0; b < FL_BUCKETS; b++) {
		seen += hist[b];
		if (!p95 && seen * 100 >= n * 95)
			p95 = (b + 1) * 100000ull;
	}
	if (!p95 && n)
		p95 = FL_BUCKETS * 100000ull;
	pvb_metric(PVB_CPU_VM, "fps", "FPS_e3", PVB_MORE, (int64_t)(frames * 1000000 / duration_ms));
	pvb_metric(PVB_CPU_VM, "frames", "count", PVB_MORE, (int64_t)frames);
	pvb_metric(PVB_CPU_VM, "janks", "count", PVB_LESS, (int64_t)janks);
	pvb_metric(PVB_CPU_VM, "moves", "count", PVB_INFO, (int64_t)moves); /* the render task changed CPU */
	pvb_metric(PVB_CPU_VM, "frame_p95", "ns", PVB_LESS, (int64_t)p95);
	pvb_metric(PVB_CPU_VM, "work_per_us", "count", PVB_INFO, (int64_t)work_per_us);
	pvb_hist(PVB_CPU_VM, "frame", 100000, hist, FL_BUCKETS, overflow);
}

static const struct pvb_key frameloop_keys[] = {
	{ "fps", 1, 1000, NULL, "60", "frames per second (vsync)" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ "load_lo", 0, 400, NULL, "20", "the lightest frame's work, % of a frame" },
	{ "load_hi", 0, 400, NULL, "70", "the heaviest frame's work, % of a frame (>= load_lo)" },
	{ "period_ms", 1, 3600000, NULL, "2000", "the load's cycle from light to heavy, ms" },
	{ "migrate_frames", 0, 1000000, NULL, "8", "the render task moves every this many frames (0: never)" },
	{ "placement", 0, 0, "rotate|capacity", "rotate", "where it moves: the next vCPU, or the vCPU of most capacity" },
	{ 0 },
};

const struct pvb_workload pvb_wl_frameloop = {
	.keys = frameloop_keys,
	.name = "frameloop",
	.help = "FPS proxy: vsync-locked frames of varying work, render task moving between CPUs",
	.setup = fl_setup,
	.run = fl_run,
	.finish = fl_finish,
};
