/* SPDX-License-Identifier: MIT */
/* performance: every emulated CPU at its highest frequency (a bound). The agent is dvfs_agent.c; dvfs_cpu_util() says what this mode means. */
#include "dvfs_agent.h"

DVFS_POLICY(policy_performance, "performance", "DVFS: every emulated CPU at its highest frequency (a bound)", DVFS_PERFORMANCE);
