/* SPDX-License-Identifier: MIT */
/*
 * pvb_progress.h, version 1: a workload's running totals, for a host that watches a guest while
 * it runs (the migration type: the guest's own view of a migration, next to the host's). One page
 * at PVB_GPA_PROGRESS (pvb_abi.h).
 *
 * Owner: the guest writes every field but stop; the host reads, at any time, from whichever process
 * holds the guest's RAM then (the source or the destination of a migration). Untrusted: the host
 * validates magic and nr_cpus and treats a counter that goes back as not moving.
 * Ordering: each counter is a naturally aligned uint64_t written with one relaxed store by its own
 * vCPU only: a reader sees the old or the new value, never a torn one. magic is stored last
 * (release) once the page is set up.
 */
#ifndef PVB_PROGRESS_H
#define PVB_PROGRESS_H

#include <stdint.h>

#define PVB_PROGRESS_MAGIC    0x47525042u  /* "BPRG" */
#define PVB_PROGRESS_MAX_CPUS 16

struct pvb_progress {
	uint32_t magic;                          /* guest: PVB_PROGRESS_MAGIC once valid */
	uint32_t nr_cpus;                        /* guest: vCPUs counting, 1..PVB_PROGRESS_MAX_CPUS */
	uint32_t stop;                           /* host: 1 asks the workload to finish now (the guest
						    reads it with acquire; the only host-owned field) */
	uint32_t reserved;                       /* 0 */
	uint64_t bytes[PVB_PROGRESS_MAX_CPUS];   /* guest: bytes this vCPU's workload has done (written
						    or read, as the workload defines), only growing */
};

#endif
