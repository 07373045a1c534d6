/* SPDX-License-Identifier: MIT */
/*
 * The host side of the paravirt DVFS policies (policy_baseline.c, policy_util_guest.c,
 * policy_uclamp_min.c, policy_performance.c, policy_powersave.c): every host CPU in dvfs_cpus is
 * a frequency domain of a published device's energy model (impl/dvfs/energy.h), slowed to its
 * frequency by the emulated backend (impl/dvfs/freqemu.h); vCPU i is pinned to CPU i mod n. Every
 * dvfs_tick_us a thread takes each vCPU thread's CPU time (the held-back share counted as running,
 * as a slow CPU shows it), runs PELT over it, reads the guest's published utilisation (validated,
 * capped to util_guest_cap), lets the policy make each CPU's utilisation (dvfs_cpu_util()), runs
 * schedutil, sets the frequency, hints capacity and frequency back to the guest, and integrates
 * the energy model over each CPU's busy time. Everything it reports about power is modelled.
 */
#ifndef PVB_DVFS_AGENT_H
#define PVB_DVFS_AGENT_H

#include "dvfs.h"
#include "policy.h"

extern const struct key_def dvfs_agent_keys[];

int dvfs_agent_prepare(struct policy *p, enum dvfs_mode mode, char *err, size_t errlen);
int dvfs_agent_start(struct policy *p, const struct vm_view *vm, char *err, size_t errlen);
void dvfs_agent_stop(struct policy *p);
void dvfs_agent_counters(struct policy *p, struct metric_set *out);
void dvfs_agent_destroy(struct policy *p);
/* What every table of a DVFS run must say under it: the frequency is emulated, energy modelled. */
const char *dvfs_agent_note(struct policy *p);
void dvfs_agent_vm_spec(const struct policy *p, struct vm_spec *vs);

#define DVFS_POLICY(var, pname, phelp, mode)                                                      \
	static int var##_prepare(struct policy *p, char *err, size_t errlen)                      \
	{                                                                                         \
		return dvfs_agent_prepare(p, mode, err, errlen);                                  \
	}                                                                                         \
	const struct policy_ops var = {                                                           \
		.name = pname, .help = phelp, .keys = dvfs_agent_keys, .vm_spec = dvfs_agent_vm_spec, \
		.prepare = var##_prepare, .start = dvfs_agent_start, .stop = dvfs_agent_stop,     \
		.counters = dvfs_agent_counters, .note = dvfs_agent_note,                         \
		.destroy = dvfs_agent_destroy,                                                    \
	}

#endif
