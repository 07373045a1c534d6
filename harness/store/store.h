/* SPDX-License-Identifier: MIT */
/*
 * The result store: SQLite (results/pvbench.db by default). One row per run in `runs`, keyed by
 * (experiment, session, identity, rep) where the identity names every key that can change the
 * result and the session is '' for `run` and `ab`, a nightly's start time for `nightly`;
 * its keys in `run_params`, its numbers in `metrics`, its latency distributions in `histograms`.
 * `experiments` and `experiment_variants` hold each experiment's current definition (the
 * identities it runs now, its default table), so that runs stored under an older definition stay
 * in the store but out of the tables. A run is written in one transaction: a killed pvbench
 * leaves whole runs or none. The schema is versioned with PRAGMA user_version and migrated
 * forward on open; a newer one is refused before anything is written. Every error names the
 * store's file.
 */
#ifndef PVB_STORE_H
#define PVB_STORE_H

#include <string.h>
#include "metrics.h"

#define STORE_SCHEMA_VERSION 5

struct store;

struct store_run {
	const char *experiment, *variant, *identity;
	int rep;
	int nr_params;
	const char *const *param_keys, *const *param_values;
	const char *status, *reason;             /* run_status_name(), why */
	const char *started_at, *ended_at;       /* ISO 8601 UTC */
	const char *host_kernel, *kvm_backend, *vmm, *guest_build, *pvbench_commit;
	unsigned tsc_khz;
	const char *run_dir, *loadavg;
	const char *session;                     /* "" or NULL: none (run, ab) */
	const char *host;                        /* the host's name */
	const char *under_test;                  /* what a nightly tests: a commit, a kernel build */
	const struct metric_set *sets[NR_SIDES]; /* by enum side */
};

/* What an experiment runs now, and how its tables look by default. */
struct store_definition {
	const char *experiment, *type, *path, *description;
	const char *baseline, *rows, *columns, *metrics;
	int n;
	const char *const *identity, *const *variant;
};

/* path: a SQLite file, or a central PostgreSQL store ("postgresql://..." or "postgres:...",
 * libpq's connection strings), which is read like a file and written by store_push only. */
struct store *store_open(const char *path, char *err, size_t errlen);
/* For commands that only read (compare, plot, report, reproduce, ab --stored): a missing file is
 * an error, not a new empty store, and a file that is not pvbench's is refused untouched. */
struct store *store_open_existing(const char *path, char *err, size_t errlen);
int store_is_central(const char *path);
void store_close(struct store *s);
const char *store_path(const struct store *s);

/* Replaces the experiment's definition. */
int store_define(struct store *s, const struct store_definition *d, char *err, size_t errlen);

/* The one place that answers "is this run done?": a stored run with status ok. */
/* Has the store a definition or runs of this experiment? */
int store_has_experiment(struct store *s, const char *experiment);
int store_run_done(struct store *s, const char *experiment, const char *session,
		   const char *identity, int rep);

/* Stores a run, replacing any earlier run with the same (experiment, identity, rep). */
int store_put_run(struct store *s, const struct store_run *r, char *err, size_t errlen);

/* For compare: the definition's table defaults (empty strings when the experiment has none),
 * then every run of the experiment's session with its status and whether the current definition
 * has it (every run counts as current when no definition is stored), its params and whole-VM
 * metrics. session: NULL the newest (the only one of a `run` experiment), "*" every session. */
struct store_row {
	long long id;
	const char *variant, *status, *reason, *session, *started_at, *under_test, *host;
	const char *host_kernel, *kvm_backend, *vmm, *guest_build, *pvbench_commit, *run_dir;
	int rep, current;
};

/* A run whose times are not a KVM host's says so in its labels, for every table, verdict and plot
 * made of it: QEMU's emulator ran it (its vmm ends STORE_TCG_MARK), or a KVM nested under TCG
 * (its kvm_backend ends STORE_NESTED_MARK). */
#define STORE_TCG_MARK ": not a latency measurement"
#define STORE_NESTED_MARK ", nested under TCG"
static inline int store_row_tcg(const struct store_row *r)
{
	return r->vmm && strstr(r->vmm, STORE_TCG_MARK) != NULL;
}
static inline int store_row_nested(const struct store_row *r)
{
	return r->kvm_backend && strstr(r->kvm_backend, STORE_NESTED_MARK) != NULL;
}
struct store_visitor {
	void *arg;
	void (*defaults)(void *arg, const char *baseline, const char *rows, const char *columns,
			 const char *metrics);
	void (*run)(void *arg, const struct store_row *r);
	void (*param)(void *arg, long long id, const char *key, const char *value);
	void (*metric)(void *arg, long long id, const char *side, int cpu, const char *name,
		       double value, const char *unit, enum pvb_better better);
	/* optional: histograms, counts as "bucket:count,..." of the non-empty buckets */
	void (*hist)(void *arg, long long id, const char *side, int cpu, const char *name,
		     unsigned bucket_ns, unsigned long long overflow, const char *counts);
};
int store_visit(struct store *s, const char *experiment, const char *session,
		const struct store_visitor *v, char *err, size_t errlen);
/* Visits (and store_query sees) only this host's runs from now on; NULL or "": every host's. */
void store_only_host(struct store *s, const char *host);

/* A read-only query for listings (reports): row() gets each row's columns as text (NULL for
 * SQL NULL). Parameters are $1, $2, ...: the same text runs on both backends. */
int store_query(struct store *s, const char *sql, int n, const char *const *params,
		void (*row)(void *arg, int ncols, const char *const *vals), void *arg, char *err,
		size_t errlen);

/* 1 when the store has NAME (defined or with runs); else 0, and in near the stored experiment a
 * typo of NAME most likely meant (util.h's nearest_name), or "". */
int store_experiment_known(struct store *s, const char *name, char *near, size_t n);

/* pvbench push: copies every run of the host's store into a central one, whole runs in one
 * transaction each, skipping those it has already (same key, same start, end and status), so
 * that a push repeated, or resumed after a crash, ends in the same state. Runs stored before
 * hosts were named take default_host. */
struct push_stats { int pushed, already, experiments; };
int store_push(struct store *local, struct store *central, const char *default_host,
	       struct push_stats *ps, char *err, size_t errlen);
/* The same from a host store's path to a central one's connection string. */
int store_push_paths(const char *db, const char *to, const char *default_host, struct push_stats *ps,
		     char *err, size_t errlen);

#endif
