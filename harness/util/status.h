/* SPDX-License-Identifier: MIT */
/* How a run ends: one answer for a VM backend, an experiment type and the store. */
#ifndef PVB_STATUS_H
#define PVB_STATUS_H

enum run_status {
	RUN_OK,
	RUN_FAILED,          /* the workload failed: it said so */
	RUN_CRASHED,         /* guest exception, triple fault, emulation failure */
	RUN_TIMEOUT,         /* it outlived its watchdog ("hangs") and was killed */
	RUN_ERROR,           /* the host could not run it, or its result was rejected */
	RUN_SKIPPED,         /* this host lacks what it needs: reason says what */
	RUN_INTERRUPTED,     /* SIGINT/SIGTERM: never stored, the next run redoes it */
	RUN__COUNT
};
/* "ok", "failed", ...: the store's words */
const char *run_status_name(enum run_status s);

#endif
