/* SPDX-License-Identifier: MIT */
/*
 * The result store: SQLite (results/pvbench.db by default). One row per run in `runs`, its
 * resolved experiment keys in `run_params`, its numbers in `metrics`. A run is written in one
 * transaction, so a killed pvbench leaves whole runs or none. The schema is versioned with
 * PRAGMA user_version and migrated forward on open.
 */
#ifndef PVB_STORE_H
#define PVB_STORE_H

#include "metrics.h"

#define STORE_SCHEMA_VERSION 1

struct store;

struct store_run {
	const char *experiment, *variant;
	int rep;
	int nr_params;
	const char *const *param_keys, *const *param_values;
	const char *status, *reason;             /* vm_outcome_name(), why */
	const char *started_at, *ended_at;       /* ISO 8601 UTC */
	const char *host_kernel, *kvm_backend, *qemu_version, *guest_build, *pvbench_commit;
	unsigned tsc_khz;
	const char *run_dir, *loadavg;
	/* metrics by side: "guest", "host", "policy", "harness" */
	const struct metric_set *sets[4];
};

extern const char *const store_sides[4];

struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *s);

/* The one place that answers "is this run done?": a stored run with status ok. */
int store_run_done(struct store *s, const char *experiment, const char *variant, int rep);

/* Stores a run, replacing any earlier run with the same (experiment, variant, rep). */
int store_put_run(struct store *s, const struct store_run *r, char *err, size_t errlen);

/* For compare: visit every ok run of an experiment. params/metrics callbacks get one row each. */
struct store_visitor {
	void *arg;
	void (*run)(void *arg, long long id, const char *variant, int rep);
	void (*param)(void *arg, long long id, const char *key, const char *value);
	void (*metric)(void *arg, long long id, const char *side, int cpu, const char *name,
		       double value, const char *unit);
};
int store_visit(struct store *s, const char *experiment, const struct store_visitor *v,
		char *err, size_t errlen);

/* Counts of stored runs by status, for messages. */
int store_count(struct store *s, const char *experiment, int *ok, int *failed);

#endif
