/* SPDX-License-Identifier: MIT */
/*
 * channel: the guest side of `pvbench channels`. CPU 0 sends count notifications on one channel
 * (pvb_channels.h) from ring 0 or ring 3, one every pace_us so the host sees each on its own, and
 * reports the cost of each as the guest sees it, in TSC cycles (min, p50, p99, p99.9). Guest
 * kernel only.
 *
 * Keys: channel (0..8, + 16 for vmmcall), ring (0 or 3), count (2000), pace_us (50).
 */
#include "pvb.h"
#include "pvb_channels.h"
#include "pvb_record.h"

uint64_t pvb_platform_notify(int ch, int ring, void *slot);

static uint64_t *cost, count, channel, ring, pace_us;

static int channel_setup(unsigned nr_cpus)
{
	(void)nr_cpus;
	channel = pvb_key_u64("channel");
	ring = pvb_key_u64("ring");
	count = pvb_key_u64("count");
	pace_us = pvb_key_u64("pace_us");
	if (pvb_failed())
		return -1;
	if ((channel & ~(uint64_t)PVB_CH_AMD) >= PVB_CH_COUNT || (ring != 0 && ring != 3) ||
	    count < 1 || count > 100000) {
		pvb_fail("channel: channel 0..8 (+16), ring 0 or 3, count 1..100000");
		return -1;
	}
	cost = pvb_alloc(count * sizeof(uint64_t));
	return cost ? 0 : -1;
}

static int channel_run(const struct pvb_ctx *ctx)
{
	uint64_t pace = pvb_ns_to_ticks(pace_us * 1000), next = pvb_now();

	if (ctx->cpu != 0)
		return 0;
	for (uint64_t i = 0; i < count; i++) {
		while (pvb_now() < next) /* ring 3: a native spin */
			__builtin_ia32_pause();
		cost[i] = pvb_platform_notify((int)channel, (int)ring, (void *)(uintptr_t)PVB_CH_SLOT_GPA);
		next = pvb_now() + pace;
	}
	return 0;
}

static void channel_finish(unsigned nr_cpus)
{
	(void)nr_cpus;
	/* shell sort: count is small, this runs natively */
	for (uint64_t gap = count / 2; gap > 0; gap /= 2)
		for (uint64_t i = gap; i < count; i++)
			for (uint64_t j = i; j >= gap && cost[j - gap] > cost[j]; j -= gap) {
				uint64_t t = cost[j];
				cost[j] = cost[j - gap];
				cost[j - gap] = t;
			}
	pvb_metric(PVB_CPU_VM, "notifications", "count", PVB_MORE, (int64_t)count);
	pvb_metric(PVB_CPU_VM, "cost_min", "cycles", PVB_LESS, (int64_t)cost[0]);
	pvb_metric(PVB_CPU_VM, "cost_p50", "cycles", PVB_LESS, (int64_t)cost[count / 2]);
	pvb_metric(PVB_CPU_VM, "cost_p99", "cycles", PVB_LESS, (int64_t)cost[count * 99 / 100]);
	pvb_metric(PVB_CPU_VM, "cost_p99.9", "cycles", PVB_LESS, (int64_t)cost[count * 999 / 1000]);
}

static const struct pvb_key channel_keys[] = {
	{ "channel", 0, 24, NULL, "0", "the channel (pvb_channels.h; +16: AMD's vmmcall)" },
	{ "ring", 0, 3, NULL, "3", "the ring it notifies from: 0 or 3" },
	{ "count", 1, 100000, NULL, "2000", "notifications" },
	{ "pace_us", 0, 1000000, NULL, "50", "gap between notifications, us" },
	{ 0 },
};

const struct pvb_workload pvb_wl_channel = {
	.keys = channel_keys,
	.name = "channel",
	.help = "guest-to-host notifications for pvbench channels",
	.setup = channel_setup,
	.run = channel_run,
	.finish = channel_finish,
};
