/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the host's side of pvb_boost.h: whatever a guest writes into its region
 * (the input, laid over the header and slots), and whatever limits the VM has (the input's first
 * bytes), the host's checks never read outside the region and every view it accepts lies within
 * the limits. `make fuzz` runs it long; `make check` runs a short smoke.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pvb_boost.h"

#define NV 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t cfg[16] = { 0 };
	size_t n = size < sizeof(cfg) ? size : sizeof(cfg);
	uint64_t region_size = pvb_boost_region_size(NV);
	uint8_t *region = malloc(region_size);   /* exact size: ASan catches any read past it */

	memcpy(cfg, data, n);
	data += n;
	size -= n;
	pvb_boost_host_init(region, region_size, NV, cfg[0], cfg[1]);
	/* the guest's writes: the rest of the input, over the whole region (header included) */
	memcpy(region, data, size < region_size ? size : region_size);

	struct pvb_boost_limits lim = {
		.max_prio = cfg[1] ? cfg[1] : 1,
		.features = cfg[2],
		.max_ahead_tsc = (uint64_t)cfg[3] << (cfg[4] & 63),
		.read_tries = cfg[5] & 7,
	};
	uint64_t now;
	memcpy(&now, cfg + 8, sizeof(now));
	uint32_t features;
	const char *why = pvb_boost_host_check((void *)region, region_size, NV, &features);
	if (!why && (features & ~PVB_BF_KNOWN))
		abort();
	struct pvb_boost_stats st = { 0 };
	for (unsigned i = 0; i < NV; i++) {
		struct pvb_boost_view v;
		int r = pvb_boost_read(pvb_boost_slot(region, i), &lim, now, &v, &st);
		if (r == PVB_BOOST_READ_TORN)
			continue;
		if (v.cls >= PVB_CLASS_COUNT || (v.flags & ~PVB_SF_KNOWN) || v.util > PVB_UTIL_MAX)
			abort();
		if (v.cls == PVB_CLASS_RT ? (v.prio < 1 || v.prio > lim.max_prio) : v.prio != 0)
			abort();
		if (v.next_rt_tsc && (v.next_rt_tsc > now ? v.next_rt_tsc - now : now - v.next_rt_tsc) > lim.max_ahead_tsc)
			abort();
		if (!(lim.features & PVB_BF_BOOST) && (v.cls != PVB_CLASS_NORMAL || v.flags))
			abort();
		if ((!(lim.features & PVB_BF_UTIL) && v.util) || (!(lim.features & PVB_BF_RT_DEADLINE) && v.next_rt_tsc))
			abort();
	}
	if (st.reads != NV)
		abort();
	free(region);
	return 0;
}
