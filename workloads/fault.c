/* SPDX-License-Identifier: MIT */
/*
 * fault and hang: test jobs for the failure paths. fault raises an exception on the last CPU
 * (where=user: ud2 in the workload; where=kernel: the guest kernel's ud2 in ring 0, guest build
 * only); hang never returns. On Linux fault dies by SIGILL and hang spins: the host must cope.
 */
#include "pvb.h"

void pvb_platform_fault(int in_kernel);

static int fault_run(const struct pvb_ctx *ctx)
{
	const char *where = pvb_arg("where");

	if (ctx->cpu + 1 == ctx->nr_cpus)
		pvb_platform_fault(where && where[0] == 'k');
	return 0;
}

static void nothing(unsigned nr_cpus)
{
	(void)nr_cpus;
}

static int hang_run(const struct pvb_ctx *ctx)
{
	(void)ctx;
	for (;;)
		pvb_sleep_until(pvb_now() + pvb_ns_to_ticks(1000000000));
	return 0;
}

const struct pvb_workload pvb_wl_fault = {
	.name = "fault",
	.help = "test job: an exception on the last CPU; where=user|kernel",
	.run = fault_run,
	.finish = nothing,
};

const struct pvb_workload pvb_wl_hang = {
	.name = "hang",
	.help = "test job: sleeps forever (the host's timeout must end it)",
	.run = hang_run,
	.finish = nothing,
};
