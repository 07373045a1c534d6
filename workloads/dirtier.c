/* SPDX-License-Identifier: MIT */
/*
 * dirtier: seed 003's synthetic guest. size_mb of memory split over the vCPUs; the first
 * `writers` vCPUs each write their slice sequentially, one 8-byte store per 4 KiB page (so each
 * store dirties 4 KiB for the host's tracking, the unit every dirty rate here is in), pass after
 * pass, at rate_mbps each (0: flat out); the other vCPUs read their slice the same way (the
 * balanced and read-heavy guests). A write stores pvb_mt_value(page, pass) (pvb_memtouch.h; setup
 * writes pass 0 to every page, so that every page is data to a migration, not a zero page). At
 * the end every writer checks each page of its slice against the pass that last wrote it: a page
 * a migration lost or corrupted is counted (verify_errors) and fails the job.
 * Progress (bytes dirtied or read) goes to the progress page (pvb_progress.h) every 64 pages, so
 * a host sees the guest's own rate before, during and after a migration.
 *
 * It runs duration_ms, or until the host asks it to stop (the progress page's stop word).
 * Keys: size_mb (64), writers (1), rate_mbps (0), duration_ms (5000).
 */
#include "pvb.h"
#include "pvb_memtouch.h"
#include "pvb_record.h"

#define PAGE PVB_MT_PAGE
#define CHUNK 64

struct dt_cpu { uint64_t bytes, passes, errors, first, last; };

static uint8_t *mem;
static uint64_t size_mb, writers, rate_mbps, duration_ms, pages;
static struct dt_cpu *cpus;
static uint64_t t_begin, t_end;

static int dt_setup(unsigned nr_cpus)
{
	size_mb = pvb_key_u64("size_mb");
	writers = pvb_key_u64("writers");
	rate_mbps = pvb_key_u64("rate_mbps");
	duration_ms = pvb_key_u64("duration_ms");
	if (pvb_failed())
		return -1;
	if (size_mb < 1 || size_mb > 65536 || writers > nr_cpus) {
		pvb_fail("dirtier: size_mb 1..65536, writers 0..vCPUs");
		return -1;
	}
	pages = size_mb * 1024 * 1024 / PAGE;
	mem = pvb_alloc(pages * PAGE); /* touched: every page is present before the first pass */
	cpus = pvb_alloc(nr_cpus * sizeof(*cpus));
	/* pass 0: every page holds data (a migration sends it, not a zero page), readers' too */
	for (uint64_t pg = 0; mem && pg < pages; pg++)
		*(volatile uint64_t *)(mem + pg * PAGE) = pvb_mt_value(pg, 0);
	for (unsigned c = 0; c < nr_cpus; c++) {
		cpus[c].first = pages * c / nr_cpus;
		cpus[c].last = pages * (c + 1) / nr_cpus;
	}
	return mem ? 0 : -1;
}

static volatile uint64_t sink;

static int dt_run(const struct pvb_ctx *ctx)
{
	struct dt_cpu *c = &cpus[ctx->cpu];
	int writer = ctx->cpu < writers;
	uint64_t t0 = pvb_now(), end = t0 + pvb_ns_to_ticks(duration_ms * 1000000), done = 0, sum = 0;
	uint64_t per_chunk = rate_mbps ? pvb_ns_to_ticks(CHUNK * PAGE * 1000ull / rate_mbps) : 0;
	uint64_t pass = 0, pg = c->last; /* where the writes stopped: pass, and the page after */

	while (pvb_now() < end && !pvb_should_stop()) {
		if (pg == c->last) {
			pass++;
			pg = c->first;
		}
		uint64_t from = pg, stop = pg + CHUNK < c->last ? pg + CHUNK : c->last;
		for (; pg < stop; pg++) {
			volatile uint64_t *w = (volatile uint64_t *)(mem + pg * PAGE);
			if (writer)
				*w = pvb_mt_value(pg, pass);
			else
				sum += *w;
		}
		c->bytes += (stop - from) * PAGE;
		pvb_progress_add((stop - from) * PAGE);
		done++;
		if (per_chunk && t0 + done * per_chunk > pvb_now())
			pvb_sleep_until(t0 + done * per_chunk);
	}
	c->passes = pass;
	if (ctx->cpu == 0) {
		t_begin = t0;
		t_end = pvb_now();
	}
	sink = sum; /* the reads are the work: keep them */
	if (!writer || !pass)
		return 0;
	/* every page holds the pass that last wrote it: this pass before pg, the one before after */
	for (uint64_t i = c->first; i < c->last; i++) {
		uint64_t v = *(volatile uint64_t *)(mem + i * PAGE);
		uint64_t want = i < pg ? pvb_mt_value(i, pass) : pvb_mt_value(i, pass - 1);
		c->errors += v != want;
	}
	return 0;
}

static void dt_finish(unsigned nr_cpus)
{
	uint64_t errors = 0, wr = 0, rd = 0;
	for (unsigned i = 0; i < nr_cpus; i++) {
		pvb_metric(i, "bytes", "count", PVB_MORE, (int64_t)cpus[i].bytes);
		pvb_metric(i, "passes", "count", PVB_INFO, (int64_t)cpus[i].passes);
		errors += cpus[i].errors;
		if (i < writers)
			wr += cpus[i].bytes;
		else
			rd += cpus[i].bytes;
	}
	pvb_metric(PVB_CPU_VM, "verify_errors", "count", PVB_LESS, (int64_t)errors);
	uint64_t ms = pvb_ticks_to_ns(t_end - t_begin) / 1000000;
	pvb_metric(PVB_CPU_VM, "write_mbps", "MBps", PVB_MORE, (int64_t)(ms ? wr / 1000 / ms : 0));
	pvb_metric(PVB_CPU_VM, "read_mbps", "MBps", PVB_MORE, (int64_t)(ms ? rd / 1000 / ms : 0));
	if (errors)
		pvb_fail("dirtier: pages lost or corrupted (verify_errors)");
}

static const struct pvb_key dirtier_keys[] = {
	{ "size_mb", 1, 65536, NULL, "64", "the region the writers dirty, MiB" },
	{ "writers", 0, 64, NULL, "1", "CPUs writing (at most the vCPUs); the others read" },
	{ "rate_mbps", 0, 1000000, NULL, "0", "each writer's rate, MB/s (0: flat out)" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ 0 },
};

const struct pvb_workload pvb_wl_dirtier = {
	.keys = dirtier_keys,
	.name = "dirtier",
	.help = "seed 003's dirtier: writers write their slice page by page, the rest read; verifies every page "
		"at the end",
	.setup = dt_setup,
	.run = dt_run,
	.finish = dt_finish,
};
