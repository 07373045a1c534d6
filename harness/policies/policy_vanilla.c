/* SPDX-License-Identifier: MIT */
/* vanilla: the host does nothing. The baseline, and the policy to copy for a new one. */
#include "policy.h"

const struct policy_ops policy_vanilla = {
	.name = "vanilla",
	.help = "the host leaves vCPU threads alone (baseline)",
};
