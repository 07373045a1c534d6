/* SPDX-License-Identifier: MIT */
/* uclamp_min: the guest's utilisation as a floor on its CPU (uclamp_min; not additive). The agent is dvfs_agent.c; dvfs_cpu_util() says what this mode means. */
#include "dvfs_agent.h"

DVFS_POLICY(policy_uclamp_min, "uclamp_min", "DVFS: the guest's utilisation as a floor on its CPU (uclamp_min; not additive)", DVFS_UCLAMP_MIN);
