/* SPDX-License-Identifier: MIT */
/*
 * lockhold: lock-holder preemption, the critical-section half of double scheduling (seed 001 boosts
 * "critical sections" besides RT tasks). Every CPU takes one shared spinlock, stays in it hold_us,
 * lets go and works think_us outside, until duration_ms has passed. A vCPU the host preempts while
 * it holds the lock stalls every vCPU that wants it for the host's time slice, not for hold_us:
 * the waiters' wait and the holder's section grow by it. The guest marks the holder's slot CRIT
 * (pvb_lock), so a dynamic policy can boost a preempted holder.
 *
 * Times are wall times (a section ends hold_us after it began, preempted or not): the wait is the
 * time from wanting the lock to holding it, the section the time from taking it to letting go.
 *
 * Keys: hold_us (20), think_us (100), duration_ms (5000), hist_us (10000 buckets of 1 us).
 */
#include "pvb.h"
#include "pvb_record.h"

struct lh_cpu {
	uint64_t taken, wait_sum_ns, wait_max_ns, hold_max_ns, over, hold_over;
	uint32_t *wait_hist, *hold_hist;
};

static struct lh_cpu *cpus;
static struct pvb_lock lock;
static uint64_t hold_us, think_us, duration_ms, hist_us;

static int lockhold_setup(unsigned nr_cpus)
{
	hold_us = pvb_key_u64("hold_us");
	think_us = pvb_key_u64("think_us");
	duration_ms = pvb_key_u64("duration_ms");
	hist_us = pvb_key_u64("hist_us");
	if (pvb_failed())
		return -1;
	cpus = pvb_alloc(nr_cpus * sizeof(*cpus));
	for (unsigned i = 0; i < nr_cpus; i++) {
		cpus[i].wait_hist = pvb_alloc(hist_us * sizeof(uint32_t));
		cpus[i].hold_hist = pvb_alloc(hist_us * sizeof(uint32_t));
	}
	return 0;
}

static void spin_until(uint64_t t)
{
	while (pvb_now() < t)
		__builtin_ia32_pause();
}

static void count(uint32_t *hist, uint64_t *over, uint64_t *max, uint64_t ns)
{
	if (ns / 1000 < hist_us)
		hist[ns / 1000]++;
	else
		(*over)++;
	if (ns > *max)
		*max = ns;
}

static int lockhold_run(const struct pvb_ctx *ctx)
{
	struct lh_cpu *c = &cpus[ctx->cpu];
	uint64_t hold = pvb_ns_to_ticks(hold_us * 1000), think = pvb_ns_to_ticks(think_us * 1000);
	uint64_t end = pvb_now() + pvb_ns_to_ticks(duration_ms * 1000000);

	pvb_barrier(); /* every CPU contends from the same moment */
	for (uint64_t now = pvb_now(); now < end; now = pvb_now()) {
		pvb_lock(&lock);
		uint64_t in = pvb_now();
		spin_until(in + hold);
		uint64_t out = pvb_now();
		pvb_unlock(&lock);
		uint64_t wait = pvb_ticks_to_ns(in - now);
		c->taken++;
		c->wait_sum_ns += wait;
		count(c->wait_hist, &c->over, &c->wait_max_ns, wait);
		count(c->hold_hist, &c->hold_over, &c->hold_max_ns, pvb_ticks_to_ns(out - in));
		spin_until(out + think);
	}
	return 0;
}

static void emit(unsigned cpu, const struct lh_cpu *c)
{
	pvb_metric(cpu, "acquisitions", "count", PVB_MORE, (int64_t)c->taken);
	pvb_metric(cpu, "acquisitions_per_s", "count", PVB_MORE, (int64_t)(c->taken * 1000 / duration_ms));
	pvb_metric(cpu, "wait_avg", "ns", PVB_LESS, c->taken ? (int64_t)(c->wait_sum_ns / c->taken) : 0);
	pvb_metric(cpu, "wait_max", "ns", PVB_LESS, (int64_t)c->wait_max_ns);
	pvb_metric(cpu, "section_max", "ns", PVB_LESS, (int64_t)c->hold_max_ns);
	pvb_hist(cpu, "wait", 1000, c->wait_hist, (uint32_t)hist_us, c->over);
	pvb_hist(cpu, "section", 1000, c->hold_hist, (uint32_t)hist_us, c->hold_over);
}

static void lockhold_finish(unsigned nr_cpus)
{
	struct lh_cpu all = { .wait_hist = cpus[0].wait_hist, .hold_hist = cpus[0].hold_hist };

	for (unsigned i = 0; i < nr_cpus; i++)
		emit(i, &cpus[i]);
	/* the total reuses CPU 0's histograms: they have been emitted already */
	for (unsigned i = 0; i < nr_cpus; i++) {
		const struct lh_cpu *c = &cpus[i];
		for (uint64_t b = 0; i && b < hist_us; b++) {
			all.wait_hist[b] += c->wait_hist[b];
			all.hold_hist[b] += c->hold_hist[b];
		}
		all.taken += c->taken;
		all.wait_sum_ns += c->wait_sum_ns;
		all.over += c->over;
		all.hold_over += c->hold_over;
		all.wait_max_ns = c->wait_max_ns > all.wait_max_ns ? c->wait_max_ns : all.wait_max_ns;
		all.hold_max_ns = c->hold_max_ns > all.hold_max_ns ? c->hold_max_ns : all.hold_max_ns;
	}
	emit(PVB_CPU_ALL, &all);
	pvb_metric(PVB_CPU_VM, "hold", "ns", PVB_INFO, (int64_t)(hold_us * 1000));
}

static const struct pvb_key lockhold_keys[] = {
	{ "hold_us", 1, 100000, NULL, "20", "time in the critical section, us" },
	{ "think_us", 0, 10000000, NULL, "100", "work outside it between sections, us" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ "hist_us", 1, 100000, NULL, "10000", "histogram buckets of 1 us" },
	{ 0 },
};

const struct pvb_workload pvb_wl_lockhold = {
	.keys = lockhold_keys,
	.name = "lockhold",
	.help = "every CPU takes one spinlock in turn: lock-holder preemption (wait, section)",
	.setup = lockhold_setup,
	.run = lockhold_run,
	.finish = lockhold_finish,
};
