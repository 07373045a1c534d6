/* SPDX-License-Identifier: MIT */
/*
 * cyclic: cyclictest's method on every CPU. Absolute deadlines every interval; latency = wake
 * time - deadline; a 1 us histogram with an overflow count. A wake before its deadline (seen with
 * TSC-deadline timers under KVM) is counted as early_wakes, not put in the histogram. A wake past
 * the next deadline skips the missed periods (counted as overruns), as cyclictest does.
 *
 * Keys: interval_us (1000), duration_ms (5000), hist_us (10000 buckets of 1 us).
 */
#include "pvb.h"
#include "pvb_record.h"

struct cyc_cpu {
	uint64_t samples, early, overruns, sum_ns, min_ns, max_ns, overflow;
	uint32_t *hist;
};

static struct cyc_cpu *cpus;
static uint64_t interval_us, duration_ms, hist_us;

static int cyclic_setup(unsigned nr_cpus)
{
	interval_us = pvb_key_u64("interval_us");
	duration_ms = pvb_key_u64("duration_ms");
	hist_us = pvb_key_u64("hist_us");
	if (pvb_failed())
		return -1;
	if (interval_us < 50 || interval_us > 10000000) {
		pvb_fail("cyclic: interval_us must be in [50, 10000000]");
		return -1;
	}
	if (hist_us < 1 || hist_us > 100000) {
		pvb_fail("cyclic: hist_us must be in [1, 100000]");
		return -1;
	}
	cpus = pvb_alloc(nr_cpus * sizeof(*cpus));
	for (unsigned i = 0; i < nr_cpus; i++) {
		cpus[i].hist = pvb_alloc(hist_us * sizeof(uint32_t));
		cpus[i].min_ns = UINT64_MAX;
	}
	return 0;
}

static int cyclic_run(const struct pvb_ctx *ctx)
{
	struct cyc_cpu *c = &cpus[ctx->cpu];
	uint64_t interval = pvb_ns_to_ticks(interval_us * 1000);
	uint64_t next = pvb_now() + interval;
	uint64_t end = next + pvb_ns_to_ticks(duration_ms * 1000000);

	for (; next < end; next += interval) {
		uint64_t now, ns;

		pvb_sleep_until(next);
		now = pvb_now();
		if (now < next) {
			c->early++;
			continue;
		}
		ns = pvb_ticks_to_ns(now - next);
		c->samples++;
		c->sum_ns += ns;
		if (ns < c->min_ns)
			c->min_ns = ns;
		if (ns > c->max_ns)
			c->max_ns = ns;
		if (ns / 1000 < hist_us)
			c->hist[ns / 1000]++;
		else
			c->overflow++;
		while (next + interval <= now) { /* missed periods: do not pile up wake-ups */
			next += interval;
			c->overruns++;
		}
	}
	return 0;
}

static void emit(unsigned cpu, const struct cyc_cpu *c)
{
	pvb_metric(cpu, "samples", "count", PVB_INFO, (int64_t)c->samples);
	pvb_metric(cpu, "early_wakes", "count", PVB_LESS, (int64_t)c->early);
	pvb_metric(cpu, "overruns", "count", PVB_LESS, (int64_t)c->overruns);
	pvb_metric(cpu, "lat_min", "ns", PVB_LESS, c->samples ? (int64_t)c->min_ns : 0);
	pvb_metric(cpu, "lat_avg", "ns", PVB_LESS, c->samples ? (int64_t)(c->sum_ns / c->samples) : 0);
	pvb_metric(cpu, "lat_max", "ns", PVB_LESS, (int64_t)c->max_ns);
	pvb_hist(cpu, "lat", 1000, c->hist, (uint32_t)hist_us, c->overflow);
}

static void cyclic_finish(unsigned nr_cpus)
{
	struct cyc_cpu all = { .min_ns = UINT64_MAX, .hist = cpus[0].hist };

	for (unsigned i = 0; i < nr_cpus; i++)
		emit(i, &cpus[i]);
	/* the total reuses CPU 0's histogram buffer: it has been emitted already */
	for (unsigned i = 1; i < nr_cpus; i++)
		for (uint64_t b = 0; b < hist_us; b++)
			all.hist[b] += cpus[i].hist[b];
	for (unsigned i = 0; i < nr_cpus; i++) {
		const struct cyc_cpu *c = &cpus[i];
		all.samples += c->samples;
		all.early += c->early;
		all.overruns += c->overruns;
		all.sum_ns += c->sum_ns;
		all.overflow += c->overflow;
		if (c->samples && c->min_ns < all.min_ns)
			all.min_ns = c->min_ns;
		if (c->max_ns > all.max_ns)
			all.max_ns = c->max_ns;
	}
	emit(PVB_CPU_ALL, &all);
	pvb_metric(PVB_CPU_VM, "interval", "ns", PVB_INFO, (int64_t)(interval_us * 1000));
	pvb_metric(PVB_CPU_VM, "duration", "ns", PVB_INFO, (int64_t)(duration_ms * 1000000));
}

static const struct pvb_key cyclic_keys[] = {
	{ "interval_us", 50, 10000000, NULL, "1000", "the period, us" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ "hist_us", 1, 100000, NULL, "10000", "histogram buckets of 1 us" },
	{ 0 },
};

const struct pvb_workload pvb_wl_cyclic = {
	.keys = cyclic_keys,
	.name = "cyclic",
	.help = "cyclictest's method per CPU",
	.setup = cyclic_setup,
	.run = cyclic_run,
	.finish = cyclic_finish,
};
