/* SPDX-License-Identifier: MIT */
/*
 * fault and hang: test jobs for the failure paths. fault raises an exception on the last CPU:
 * where=user: ud2 in the workload; where=kernel: ud2 in the guest kernel's ring 0;
 * where=emulation: lock cmpxchg16b in ring 0 first, which kvm_pvm cannot emulate (hardware KVM
 * runs it, then takes the ud2). Guest build only; on Linux fault dies by SIGILL.
 * hang sleeps forever: the host's timeout must end it; flood_kib=N first writes N KiB to the
 * console from CPU 0 (a guest that floods its console: the host must stop it).
 */
#include "pvb.h"

void pvb_platform_fault(int where); /* 0 user, 1 kernel, 2 emulation */

static int fault_run(const struct pvb_ctx *ctx)
{
	const char *where = pvb_key_str("where");

	if (ctx->cpu + 1 == ctx->nr_cpus)
		pvb_platform_fault(!where ? 0 : where[0] == 'k' ? 1 : where[0] == 'e' ? 2 : 0);
	return 0;
}

static void nothing(unsigned nr_cpus)
{
	(void)nr_cpus;
}

static int hang_run(const struct pvb_ctx *ctx)
{
	static const char line[64] = "flood flood flood flood flood flood flood flood flood flood...\n";
	uint64_t kib = pvb_key_u64("flood_kib");

	for (uint64_t i = 0; ctx->cpu == 0 && i < kib * 16; i++)
		pvb_console(line, sizeof(line));
	for (;;)
		pvb_sleep_until(pvb_now() + pvb_ns_to_ticks(1000000000));
	return 0;
}

static const struct pvb_key fault_keys[] = {
	{ "where", 0, 0, "user|kernel|emulation", "user", "where the exception is raised" },
	{ 0 },
};

const struct pvb_workload pvb_wl_fault = {
	.keys = fault_keys,
	.name = "fault",
	.help = "test job: an exception on the last CPU",
	.run = fault_run,
	.finish = nothing,
};

static const struct pvb_key hang_keys[] = {
	{ "flood_kib", 0, 1048576, NULL, "0", "KiB written to the console before sleeping" },
	{ 0 },
};

const struct pvb_workload pvb_wl_hang = {
	.keys = hang_keys,
	.name = "hang",
	.help = "test job: sleeps forever (the host's timeout must end it), after flooding the console if asked",
	.run = hang_run,
	.finish = nothing,
};
