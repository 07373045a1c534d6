/* SPDX-License-Identifier: MIT */
/* powersave: every emulated CPU at its lowest frequency (a bound). The agent is dvfs_agent.c; dvfs_cpu_util() says what this mode means. */
#include "dvfs_agent.h"

DVFS_POLICY(policy_powersave, "powersave", "DVFS: every emulated CPU at its lowest frequency (a bound)", DVFS_POWERSAVE);
