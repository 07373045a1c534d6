/* SPDX-License-Identifier: MIT */
/* util_guest: the guest's run-queue utilisation as the vCPU thread's util_est, summed per CPU (seed 000). The agent is dvfs_agent.c; dvfs_cpu_util() says what this mode means. */
#include "dvfs_agent.h"

DVFS_POLICY(policy_util_guest, "util_guest", "DVFS: the guest's run-queue utilisation as the vCPU thread's util_est, summed per CPU (seed 000)", DVFS_UTIL_GUEST);
