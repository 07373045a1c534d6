/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "energy.h"

/* Linux arch/arm64/boot/dts/rockchip/rk3399.dtsi and rk3399-op1.dtsi (see energy.h) */
const struct em_domain em_rk3399_op1_a53 = {
	.name = "rk3399-op1 Cortex-A53", .dpc = 100, .dmips_mhz = 485, .nr = 7,
	.opp = { { 408000, 800 }, { 600000, 825 }, { 816000, 850 }, { 1008000, 900 }, { 1200000, 975 },
		 { 1416000, 1100 }, { 1512000, 1150 } },
};

const struct em_domain em_rk3399_op1_a72 = {
	.name = "rk3399-op1 Cortex-A72", .dpc = 436, .dmips_mhz = 1024, .nr = 9,
	.opp = { { 408000, 800 }, { 600000, 800 }, { 816000, 825 }, { 1008000, 850 }, { 1200000, 900 },
		 { 1416000, 975 }, { 1608000, 1050 }, { 1800000, 1150 }, { 2016000, 1250 } },
};

static const struct em_opp *opp_at(const struct em_domain *d, uint32_t khz)
{
	for (int i = 0; i < d->nr; i++)
		if (d->opp[i].khz >= khz)
			return &d->opp[i];
	return &d->opp[d->nr - 1];
}

uint64_t em_power_uw(const struct em_domain *d, uint32_t khz)
{
	const struct em_opp *o = opp_at(d, khz);
	/* drivers/opp/of.c: C * mV * mV * MHz / 10^6, in integers as the kernel computes it */
	return (uint64_t)d->dpc * o->mv * o->mv * (o->khz / 1000) / 1000000;
}

uint32_t em_capacity(const struct em_domain *d, const struct em_domain *biggest)
{
	uint64_t mine = (uint64_t)d->dmips_mhz * d->opp[d->nr - 1].khz,
		 top = (uint64_t)biggest->dmips_mhz * biggest->opp[biggest->nr - 1].khz;
	return (uint32_t)(mine * DVFS_SCALE / top);
}

double em_energy_uj(const struct em_domain *d, uint32_t khz, double busy_us, double idle_us)
{
	return ((double)em_power_uw(d, khz) * busy_us + (double)d->idle_uw * idle_us) / 1e6;
}

void em_to_dvfs(const struct em_domain *d, const struct em_domain *biggest, struct dvfs_domain *out)
{
	memset(out, 0, sizeof(*out));
	out->nr = d->nr;
	for (int i = 0; i < d->nr; i++)
		out->khz[i] = d->opp[i].khz;
	out->capacity = em_capacity(d, biggest);
	out->rate_limit_us = 1000; /* a transition latency of 40 us (the DT's): schedutil's floor, 1 ms here */
}
