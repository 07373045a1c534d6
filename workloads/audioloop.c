/* SPDX-License-Identifier: MIT */
/*
 * audioloop: an audio-like RT task on every CPU (seed 001's glitch table). Every buffer period
 * (buffer_frames at rate_hz) it wakes at the period's start and does a fixed amount of work --
 * load_pct of the period on an undisturbed CPU, calibrated at setup -- which must be done by the
 * period's end, when the buffer is due. A glitch is a period whose work finishes late; periods
 * skipped because the task woke too late are glitches too.
 *
 * Keys: buffer_frames (256; the seed's 96, 256, 512), rate_hz (48000), load_pct (25),
 * duration_ms (5000).
 */
#include "pvb.h"
#include "pvb_record.h"

struct audio_cpu { uint64_t periods, glitches, late_max_ns, work_max_ns; };

static struct audio_cpu *cpus;
static uint64_t frames, rate, load_pct, duration_ms, iters; /* iters: loop rounds of the work */

/* The work: a dependent chain the compiler cannot fold or the CPU run ahead of. */
static uint64_t work(uint64_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

static volatile uint64_t sink;

static int audio_setup(unsigned nr_cpus)
{
	frames = pvb_key_u64("buffer_frames");
	rate = pvb_key_u64("rate_hz");
	load_pct = pvb_key_u64("load_pct");
	duration_ms = pvb_key_u64("duration_ms");
	if (pvb_failed())
		return -1;
	if (frames < 16 || frames > 65536 || rate < 8000 || rate > 384000 || load_pct < 1 || load_pct > 90) {
		pvb_fail("audioloop: buffer_frames 16..65536, rate_hz 8000..384000, load_pct 1..90");
		return -1;
	}
	/* calibrate: the fastest of a few rounds of a fixed chain, scaled to the share of a period */
	uint64_t best = ~0ull, n = 100000;
	for (int r = 0; r < 5; r++) {
		uint64_t t0 = pvb_now();
		sink = work(n);
		uint64_t t = pvb_now() - t0;
		best = t < best ? t : best;
	}
	uint64_t period_ns = frames * 1000000000ull / rate, want_ns = period_ns * load_pct / 100;
	iters = n * want_ns / (pvb_ticks_to_ns(best) ? pvb_ticks_to_ns(best) : 1);
	cpus = pvb_alloc(nr_cpus * sizeof(*cpus));
	return 0;
}

static int audio_run(const struct pvb_ctx *ctx)
{
	struct audio_cpu *c = &cpus[ctx->cpu];
	uint64_t period = pvb_ns_to_ticks(frames * 1000000000ull / rate);
	uint64_t start = pvb_now() + period, end = start + pvb_ns_to_ticks(duration_ms * 1000000);

	for (uint64_t at = start; at < end; at += period) {
		pvb_sleep_until(at);
		uint64_t t0 = pvb_now();
		sink = work(iters);
		uint64_t done = pvb_now();
		c->periods++;
		if (done - t0 > c->work_max_ns)
			c->work_max_ns = done - t0;
		if (done > at + period) { /* the buffer was due at the period's end */
			uint64_t late = pvb_ticks_to_ns(done - at - period);
			c->glitches++;
			c->late_max_ns = late > c->late_max_ns ? late : c->late_max_ns;
			while (at + 2 * period <= done) { /* whole periods missed: each a glitch */
				at += period;
				c->periods++;
				c->glitches++;
			}
		}
	}
	c->work_max_ns = pvb_ticks_to_ns(c->work_max_ns);
	return 0;
}

static void emit(unsigned cpu, const struct audio_cpu *c)
{
	pvb_metric(cpu, "periods", "count", PVB_INFO, (int64_t)c->periods);
	pvb_metric(cpu, "glitches", "count", PVB_LESS, (int64_t)c->glitches);
	pvb_metric(cpu, "glitches_per_min", "per_min", PVB_LESS,
		   (int64_t)(c->glitches * 60000 / (duration_ms ? duration_ms : 1)));
	pvb_metric(cpu, "late_max", "ns", PVB_LESS, (int64_t)c->late_max_ns);
	pvb_metric(cpu, "work_max", "ns", PVB_LESS, (int64_t)c->work_max_ns);
}

static void audio_finish(unsigned nr_cpus)
{
	struct audio_cpu all = { 0 };
	for (unsigned i = 0; i < nr_cpus; i++) {
		emit(i, &cpus[i]);
		all.periods += cpus[i].periods;
		all.glitches += cpus[i].glitches;
		all.late_max_ns = cpus[i].late_max_ns > all.late_max_ns ? cpus[i].late_max_ns : all.late_max_ns;
		all.work_max_ns = cpus[i].work_max_ns > all.work_max_ns ? cpus[i].work_max_ns : all.work_max_ns;
	}
	emit(PVB_CPU_ALL, &all);
	pvb_metric(PVB_CPU_VM, "period", "ns", PVB_INFO, (int64_t)(frames * 1000000000ull / rate));
	pvb_metric(PVB_CPU_VM, "work_iters", "count", PVB_INFO, (int64_t)iters);
}

static const struct pvb_key audioloop_keys[] = {
	{ "buffer_frames", 16, 65536, NULL, "256", "frames per period" },
	{ "rate_hz", 8000, 384000, NULL, "48000", "sample rate" },
	{ "load_pct", 1, 90, NULL, "25", "work per period, % of the period" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ 0 },
};

const struct pvb_workload pvb_wl_audioloop = {
	.keys = audioloop_keys,
	.name = "audioloop",
	.help = "an audio-like RT task per CPU",
	.setup = audio_setup,
	.run = audio_run,
	.finish = audio_finish,
};
