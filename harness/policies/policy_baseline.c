/* SPDX-License-Identifier: MIT */
/* baseline: the host's own view of each vCPU thread (schedutil on its PELT). The agent is dvfs_agent.c; dvfs_cpu_util() says what this mode means. */
#include "dvfs_agent.h"

DVFS_POLICY(policy_baseline, "baseline", "DVFS: the host's own view of each vCPU thread (schedutil on its PELT)", DVFS_BASELINE);
