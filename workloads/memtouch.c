/* SPDX-License-Identifier: MIT */
/*
 * memtouch: the m/n workload of seeds 003 and 004. N CPUs each write every 4 KiB page of their
 * slice of an M-byte region (the first 8 bytes of each page, a value the host can check), pass
 * after pass. Timed per CPU and from a common start to the last CPU done ("wall").
 *
 * Keys: passes (2), prepass (0; 1 = CPU 0 writes the whole region first, timed apart, before the
 * others start: what a VMM without KVM_PRE_FAULT_MEMORY can do), sync (0; 1 = after each pass,
 * wait for the host at the control word in the channel slot page: it harvests dirty logs there).
 * The region: region=ADDR,SIZE in the guest, size=SIZE on Linux.
 */
#include "pvb.h"
#include "pvb_channels.h"
#include "pvb_memtouch.h"
#include "pvb_record.h"

#define PAGE PVB_MT_PAGE
#define MAX_PASSES 8

struct mt_cpu { uint64_t pass_ns[MAX_PASSES]; };

static uint8_t *region;
static uint64_t size, passes, prepass, sync_host, prepass_ns, t_start[MAX_PASSES], t_end[MAX_PASSES];
static struct mt_cpu *cpus;
static volatile struct pvb_chan_slot *ctl; /* seq: passes done (guest), tsc: passes released (host) */

static void touch(uint64_t first, uint64_t last, uint64_t pass)
{
	for (uint64_t pg = first; pg < last; pg++)
		*(volatile uint64_t *)(region + pg * PAGE) = pvb_mt_value(pg, pass);
}

static int mt_setup(unsigned nr_cpus)
{
	passes = pvb_key_u64("passes");
	prepass = pvb_key_u64("prepass");
	sync_host = pvb_key_u64("sync");
	region = pvb_platform_region(&size);
	if (pvb_failed())
		return -1;
	if (!region || size < PAGE * nr_cpus || passes < 1 || passes >= MAX_PASSES) {
		pvb_fail("memtouch: needs a region of at least a page per CPU and 1..7 passes");
		return -1;
	}
	cpus = pvb_alloc(nr_cpus * sizeof(*cpus));
	ctl = (volatile struct pvb_chan_slot *)(uintptr_t)PVB_CH_SLOT_GPA;
	if (prepass) {
		uint64_t t = pvb_now();
		touch(0, size / PAGE, 0);
		prepass_ns = pvb_ticks_to_ns(pvb_now() - t);
	}
	return cpus ? 0 : -1;
}

static int mt_run(const struct pvb_ctx *ctx)
{
	uint64_t pages = size / PAGE, per = pages / ctx->nr_cpus;
	uint64_t first = per * ctx->cpu, last = ctx->cpu + 1 == ctx->nr_cpus ? pages : first + per;

	for (uint64_t p = 1; p <= passes; p++) {
		pvb_barrier();
		if (ctx->cpu == 0)
			t_start[p - 1] = pvb_now();
		uint64_t t = pvb_now();
		touch(first, last, p);
		cpus[ctx->cpu].pass_ns[p - 1] = pvb_ticks_to_ns(pvb_now() - t);
		pvb_barrier();
		if (ctx->cpu == 0) {
			t_end[p - 1] = pvb_now();
			if (sync_host && ctl) { /* the host harvests, then releases the next pass */
				ctl->seq = p;
				while (ctl->tsc < p)
					__builtin_ia32_pause();
			}
		}
	}
	return 0;
}

static void mt_finish(unsigned nr_cpus)
{
	static const char *const names[MAX_PASSES] = { "pass1", "pass2", "pass3", "pass4", "pass5",
						       "pass6", "pass7", "pass8" };
	static const char *const walls[MAX_PASSES] = { "pass1_wall", "pass2_wall", "pass3_wall",
						       "pass4_wall", "pass5_wall", "pass6_wall",
						       "pass7_wall", "pass8_wall" };
	for (unsigned c = 0; c < nr_cpus; c++)
		for (uint64_t p = 0; p < passes; p++)
			pvb_metric(c, names[p], "ns", PVB_LESS, (int64_t)cpus[c].pass_ns[p]);
	for (uint64_t p = 0; p < passes; p++)
		pvb_metric(PVB_CPU_VM, walls[p], "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(t_end[p] - t_start[p]));
	pvb_metric(PVB_CPU_VM, "prepass", "ns", PVB_LESS, (int64_t)prepass_ns);
	pvb_metric(PVB_CPU_VM, "pages", "count", PVB_INFO, (int64_t)(size / PAGE));
}

static const struct pvb_key memtouch_keys[] = {
	{ "passes", 1, 7, NULL, "2", "write passes over the region" },
	{ "prepass", 0, 1, NULL, "0", "1: touch every page once before the timed passes" },
	{ "sync", 0, 1, NULL, "0", "1: the CPUs tell the host between passes (the memory type's dirty-log tick)" },
	{ 0 },
};

const struct pvb_workload pvb_wl_memtouch = {
	.keys = memtouch_keys,
	.name = "memtouch",
	.help = "N CPUs write every page of their slice of a region",
	.setup = mt_setup,
	.run = mt_run,
	.finish = mt_finish,
};
