/* SPDX-License-Identifier: MIT */
/* One run of an experiment's matrix: host load, policy, guest and host cyclictest together,
 * then one record for the store. */
#ifndef PVB_RUNNER_H
#define PVB_RUNNER_H

#include "config.h"
#include "hostinfo.h"
#include "store.h"
#include "vm.h"

struct runner_env {
	const struct hostinfo *host;
	const struct guestinfo *guest;
	const char *kernel;
	const char *runs_root;   /* per-run directories go under it */
};

/* Runs spec and stores it (unless interrupted). Returns the outcome; err says why on failure. */
enum vm_outcome runner_run(const struct runner_env *env, const struct experiment *e,
			   const struct run_spec *spec, struct store *st, char *err, size_t errlen);

#endif
