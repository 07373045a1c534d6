/* SPDX-License-Identifier: MIT */
/* The guest workloads' catalogue as their own files declare it (workloads/NAME.c: help, keys,
 * needs), read from `pvb-linux --keys`: pvb-linux is built from the same files as the guest's
 * workloads, so the host checks a job's keys against what the guest will read. */
#ifndef PVB_WORKLOADS_H
#define PVB_WORKLOADS_H

#include <stddef.h>
#include <stdio.h>

struct wl_key {
	char name[32], choices[96], def[32], help[160];
	unsigned long long lo, hi;
};

struct wl_info {
	char name[32], help[200];
	int needs_disk;
	struct wl_key *keys;
	int nkeys;
};

/* The workload of that name, NULL when there is none; err says why when the catalogue itself
 * could not be read. "*" is the keys of every job (rt_prio). */
const struct wl_info *workload_info(const char *name, char *err, size_t errlen);
/* Checks "k=v k=v" against the workload's keys and every job's: 0, or -1 with "k: why" in why.
 * own[] (NULL-terminated) are keys the experiment sets itself: job_args must not. */
int workload_check_args(const struct wl_info *w, const char *args, const char *const *own, char *why,
			size_t whylen);
/* Every workload and its keys, for `pvbench run --keys`. */
void workloads_describe(FILE *f);

#endif
