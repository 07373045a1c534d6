/* SPDX-License-Identifier: MIT */
/*
 * The energy model in the kernel's form (kernel/power/energy_model.c): per performance domain,
 * a table of OPPs with their power; a CPU's energy is that power over its busy time at that OPP.
 * Power comes from the device tree's dynamic-power-coefficient as the kernel derives it for an
 * OPP (drivers/opp/of.c): P[uW] = C * V[mV]^2 * f[MHz] / 10^6.
 *
 * The data is a published device's: Rockchip RK3399 in its OP1 variant (the Chromebooks' SoC),
 * from Linux's arch/arm64/boot/dts/rockchip/rk3399.dtsi (dynamic-power-coefficient 100 for the
 * Cortex-A53 cluster, 436 for the Cortex-A72; capacity-dmips-mhz 485 and 1024) and
 * arch/arm64/boot/dts/rockchip/rk3399-op1.dtsi (the OPP frequencies and their nominal voltages).
 * The kernel's model has no idle power (energy-aware scheduling ignores it); idle_uw is 0 here
 * too, so that every "modelled" energy figure is the kernel's own estimate.
 */
#ifndef PVB_ENERGY_H
#define PVB_ENERGY_H

#include <stdint.h>
#include "dvfs.h"

struct em_opp { uint32_t khz, mv; };

struct em_domain {
	const char *name;
	uint32_t dpc;              /* dynamic-power-coefficient, uW / MHz / V^2 (the DT's unit) */
	uint32_t dmips_mhz;        /* capacity-dmips-mhz: capacity at f_max is this, scaled */
	uint32_t idle_uw;
	int nr;
	struct em_opp opp[DVFS_MAX_OPPS];  /* ascending */
};

extern const struct em_domain em_rk3399_op1_a53, em_rk3399_op1_a72;

/* The kernel's power at an OPP, uW (the lowest OPP at or above khz). */
uint64_t em_power_uw(const struct em_domain *d, uint32_t khz);
/* The capacity at f_max of each domain of a system, 0..1024, the biggest 1024 (as the kernel
 * normalises capacity-dmips-mhz times f_max). */
uint32_t em_capacity(const struct em_domain *d, const struct em_domain *biggest);
/* Energy over busy_us at khz and idle_us, uJ. */
double em_energy_uj(const struct em_domain *d, uint32_t khz, double busy_us, double idle_us);
/* A governor domain with this device's OPPs and capacity. */
void em_to_dvfs(const struct em_domain *d, const struct em_domain *biggest, struct dvfs_domain *out);

#endif
