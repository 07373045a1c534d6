/* SPDX-License-Identifier: MIT */
/*
 * The experiment engine. An experiment type (harness/types/type_*.c) is one small struct: its
 * keys, a function that runs one run, and its default table. The engine owns everything around
 * it: experiment files and command-line options (one key table for both), the matrix and its
 * interleaving, progress, signals, a watchdog for types that run in a child process, run
 * identity, the store and the comparison tables. types/type_null.c is the smallest whole type.
 */
#ifndef PVB_ENGINE_H
#define PVB_ENGINE_H

#include <stddef.h>
#include <stdio.h>
#include "metrics.h"
#include "status.h"
#include "util.h"

/* Process exit codes of the commands that run experiments and guests. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,          /* usage, host error, rejected record */
	EXIT_FAILED = 2,         /* the workload failed */
	EXIT_CRASHED = 3,        /* the guest crashed */
	EXIT_TIMEOUT = 4,        /* the guest hung and was killed */
	EXIT_INTERRUPTED = 130,
};


/* ---- keys ---- */
enum key_type { KT_STRING, KT_INT, KT_DURATION, KT_BOOL, KT_CHOICE };

#define KEY_LIST        1u  /* a comma list makes the key an axis of the matrix */
#define KEY_BOOKKEEPING 2u  /* cannot change a result: never in a run's identity, never an axis */
#define KEY_AUTO        4u  /* "auto" is a value too (the type decides) */
#define KEY_GLOBAL      8u  /* belongs to the experiment: [global] only */

struct key_def {
	const char *name;
	enum key_type type;
	long long lo, hi;                /* KT_INT; KT_DURATION in ms */
	unsigned flags;
	const char *def;                 /* default, as a file would write it; NULL for a choice: its first */
	const char *help;
	const char *(*choice)(int i);    /* KT_CHOICE: the i-th accepted value, NULL past the last */
};

/* ---- one run ---- */
#define ENGINE_MAX_KEYS 48

struct exp_type;
struct run_spec {
	const struct exp_type *type;
	int job;
	int rep;                         /* 1..repeat */
	int variant_idx;                 /* within its job */
	int nkeys;
	const struct key_def *keys[ENGINE_MAX_KEYS];
	const char *val[ENGINE_MAX_KEYS];
	char variant[256];               /* the swept keys: "host_load=idle policy=static" */
	char job_name[64];               /* its section, when the experiment has several ("" else) */
	char identity[1024];             /* every key that can change the result: the store's key */
};

/* A key's resolved value. Asking for a key the type does not declare is a bug: it aborts. */
const char *spec_str(const struct run_spec *r, const char *key);
/* The same for a key another part declares (a policy asking for the type's): def where it is not.
 * "job" is the run's section. */
const char *spec_str_or(const struct run_spec *r, const char *key, const char *def);
/* As a number: durations in ms, bools 0/1, "auto" -1. */
/* A key's default as a file would write it: def, or a choice key's first choice ("" for none). */
const char *key_default(const struct key_def *d);
long long spec_int(const struct run_spec *r, const char *key);


struct run_result {
	enum run_status status;
	char reason[512];
	struct metric_set m[NR_SIDES];
	char vmm[80];                    /* what ran the guest: "QEMU 7.2.22 ...", "pvbench-vmm" */
};
/* Sets status and reason unless a failure is set already: the first cause wins. */
void run_fail(struct run_result *r, enum run_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct hostinfo;
struct guestinfo;
struct run_env {
	const struct hostinfo *host;
	const struct guestinfo *guest;
	const char *kernel;              /* the guest kernel ELF */
	const char *run_dir;             /* this run's files (console, logs) */
};

/* ---- experiment types ---- */
struct exp_type {
	const char *name;
	const char *help;                /* one line */
	const struct key_def *keys;      /* this type's keys, ending with { 0 } */
	/* more key tables that are this type's keys too (the guest type: every host policy's): the
	 * i-th, NULL past the last */
	const struct key_def *(*more_keys)(int i);
	/* optional: more help under the type's shorthand's usage (the channels it measures) */
	void (*describe)(FILE *f);
	int isolate;                     /* run each run in a child process under a watchdog */
	int needs_kvm;                   /* without a usable /dev/kvm its runs are skipped, with why */
	/* the default table: row key, column key, metrics (comma list), baseline column value */
	const char *rows, *columns, *metrics, *baseline;
	/* Optional, before anything starts, once per run of the matrix: refuse what can never work
	 * (0, or -1 with "key: why"). Host capabilities that are missing are skips, not refusals. */
	int (*check)(const struct run_spec *r, char *err, size_t errlen);
	/* The watchdog for isolated runs when timeout = auto. */
	long long (*timeout_ms)(const struct run_spec *r);
	/* Runs one. out starts zeroed with status RUN_OK. */
	void (*run)(const struct run_spec *r, const struct run_env *env, struct run_result *out);
};

extern const struct exp_type *const exp_types[];   /* NULL-terminated (types/types.c) */
const struct exp_type *exp_type_find(const char *name);

/* The keys of a type: the engine's own (type, description, repeat, timeout, baseline), then the
 * type's, then the policies' when it takes them. */
int engine_keys(const struct exp_type *t, const struct key_def **out, int max);
void engine_print_keys(const struct exp_type *t);

/* ---- running ---- */
struct engine_opts {
	const char *db;                  /* results/pvbench.db */
	int force, dry_run;
	int format;                      /* enum cmp_format */
	int no_tables;                   /* run only: the caller prints its own report */
	const char *name;                /* experiment name when not from a file (shorthands) */
	/* command-line KEY=VALUE settings, applied to [global] after the file */
	int nsets;
	const char *set_key[ENGINE_MAX_KEYS], *set_val[ENGINE_MAX_KEYS];
	/* run only the runs this says yes to (NULL: all); the rest stay unrun, as an interrupted
	 * experiment's would: a later full run completes them */
	int (*want)(const struct run_spec *r, void *arg);
	void *want_arg;
};

/* A --set KEY=VALUE option (kv is modified): 0, or -1 after "pvbench CMD: --set: why" on stderr. */
int engine_opts_set(struct engine_opts *o, const char *cmd, char *kv);

/* pvbench run: load (path may be NULL with o->name and a type from the sets), expand, run what
 * the store lacks, print the tables. Returns the process exit status. --dry-run: the run order,
 * what the store has already, and about how long the rest takes here. */
int engine_run(const char *path, const struct engine_opts *o);

/* What a run of EXPERIMENT costs this host besides its duration (booting, the host load, the
 * store): the median over its ok runs from HOST that ST holds, in ms; 0: none (or no store). */
struct store;
double engine_overhead_ms(struct store *st, const char *experiment, const char *host);
/* About how long run R takes: its duration (a migration: half its deadline, at most that) and
 * OVERHEAD_MS, or ENGINE_UNMEASURED_MS where that is 0. On a host without KVM (kvm 0), a run that
 * needs it (its type does, or its accel is not tcg) is skipped at once: 0. */
double engine_run_ms(const struct run_spec *r, double overhead_ms, int kvm);
int engine_run_needs_kvm(const struct run_spec *r);
/* A run's overhead where the store has none of its experiment from this host: guest runs took
 * 0.2-0.5 s more than their duration under TCG on a 2-core host (QEMU's boot of the guest kernel
 * takes ~70 ms under KVM). */
#define ENGINE_UNMEASURED_MS 1000.0
/* ms as people say it: "under a second", "about 40 s" under two minutes, "about 8.2 min" above;
 * returns buf */
const char *engine_about(char *buf, size_t n, double ms);

/* One run of spec, with the watchdog and child process when the type wants them; for tests and
 * for the engine. */
/* One run of an experiment of one variant and one repeat, with no store (pvbench guest run): the
 * type's check, then engine_run_one under the type's watchdog. 0 (out says how it ended), or -1
 * with err when it could not start. */
struct experiment;
int engine_run_alone(const struct experiment *e, const struct run_env *env, struct run_result *out, char *err,
		     size_t errlen);
void engine_run_one(const struct run_spec *r, const struct run_env *env, long long timeout_ms,
		    struct run_result *out);
void run_result_free(struct run_result *r);

/* ---- a session: what `run`, `ab` and `nightly` share around their runs ---- */
struct experiment;
struct store;
struct engine_session;
/* Loads the file (or an empty experiment of o->name) and applies o's settings. */
int engine_load(const char *path, const struct engine_opts *o, struct experiment *e, char *err,
		size_t errlen);
/* Reads the host's and guest's facts, locks the experiment, opens the store and records runs[]
 * as the experiment's definition. e and runs must outlive the session. With ENGINE_SESSION_NEW an
 * experiment the store has already is refused (NULL, errno EEXIST): checked under the lock, so
 * two sessions can never share a name. */
#define ENGINE_SESSION_NEW 1u
struct engine_session *engine_session_open(const struct experiment *e, const struct run_spec *runs,
					   int nr, const char *db, unsigned flags, char *err, size_t errlen);
/* A nightly's session: its runs are stored under it (not as the experiment's only runs), with
 * what is under test (NULL or "": pvbench's commit). Before the first run. */
void engine_session_nightly(struct engine_session *s, const char *session, const char *under_test);
/* One run: its directory, the run (engine_run_one), the harness's own cost, the store. */
void engine_session_run(struct engine_session *s, const struct run_spec *r, struct run_result *res);
/* One run of a session with its progress line (item k of pg, named what): its status, and its
 * reason in reason when given. */
enum run_status engine_session_step(struct engine_session *s, const struct run_spec *r, struct progress *pg, int k,
				    const char *what, char *reason, size_t n);
/* A run that failed (not ok, not skipped by the host, not interrupted): what exit status 2 counts. */
static inline int run_status_failed(enum run_status s)
{
	return s != RUN_OK && s != RUN_SKIPPED && s != RUN_INTERRUPTED;
}

struct store *engine_session_store(struct engine_session *s);
void engine_session_close(struct engine_session *s);

#endif
