/* SPDX-License-Identifier: MIT */
/* The guest type's Linux half (guest = linux): the guest's files, its job on the kernel command
 * line, and the metrics of the tools it runs (cyclictest, stress-ng, fio). */
#ifndef PVB_GUEST_LINUX_H
#define PVB_GUEST_LINUX_H

#include <stddef.h>
#include "engine.h"

struct guest_linux {
	char kernel[600], initrd[600];
	char disk[1100];             /* fio's image, "" when none */
};

/* Before the VM: refuses what this host cannot run (a skip or an error in out: -1), finds or
 * builds the kernel and initramfs, makes fio's disk, writes the job. */
int guest_linux_prepare(const struct run_spec *spec, const struct run_env *env, int tcg,
			struct guest_linux *g, char *job, size_t jobn, struct run_result *out);
/* After it: the tool's own output into metrics (when the run is ok), fio's disk removed. */
void guest_linux_finish(const struct run_spec *spec, const struct run_env *env, struct guest_linux *g,
			struct run_result *out);

/* The tools a Linux guest runs as its workload (cyclictest, stress-ng, fio): the i-th, NULL past
 * the last; and whether a name is one (its job_args are the tool's own options). */
const char *guest_linux_tool(int i);
int guest_linux_is_tool(const char *name);

/* What a Linux guest needs of a run (lx: guest = linux), and that its tools run only there: 0, or
 * -1 with "key: why". */
int guest_linux_check(const struct run_spec *r, int lx, char *err, size_t errlen);

#endif
