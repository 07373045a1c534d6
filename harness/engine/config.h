/* SPDX-License-Identifier: MIT */
/*
 * Experiment files: fio-style INI. [global] sets defaults and the experiment's `type`; every
 * other [section] is a job that inherits them. A key marked KEY_LIST takes a comma list, which
 * makes it an axis: the job runs once per combination (its variants), `repeat` times,
 * interleaved. The keys are the engine's and the type's (engine_keys); `pvbench run --keys`
 * prints them. A file is read whole before anything is checked, and the first mistake in it is
 * the one reported, as "file:line: key: why".
 */
#ifndef PVB_CONFIG_H
#define PVB_CONFIG_H

#include <stddef.h>
#include "engine.h"

#define CFG_MAX_VALUES 16
#define CFG_MAX_JOBS 16
#define CFG_VAL_LEN 128

struct cfg_values {
	char v[CFG_MAX_VALUES][CFG_VAL_LEN];
	int n;                   /* 0: not set here */
	int line;
};

struct cfg_job {
	char name[64];
	int line;
	struct cfg_values vals[ENGINE_MAX_KEYS];  /* by index into experiment.keys */
};

struct experiment {
	char name[64];           /* file name without directory and .ini */
	char path[512];
	const struct exp_type *type;
	int nkeys;
	const struct key_def *keys[ENGINE_MAX_KEYS];
	struct cfg_job global;
	struct cfg_job jobs[CFG_MAX_JOBS];
	int nr_jobs;
};

/* Parses and validates the file. 0, or -1 with "file:line: key: why" in err. */
int experiment_load(const char *path, struct experiment *e, char *err, size_t errlen);
/* Parses it, each value against its key, without the whole-experiment check: for a caller that
 * sets keys next (--set) and then calls experiment_check, so that what it sets is what is checked. */
int experiment_parse(const char *path, struct experiment *e, char *err, size_t errlen);

/* An INI file read whole, the way every pvbench file is read (experiments, suites): libinih
 * parses, and what it would cut or stop at silently -- a line over 198 characters, a section or
 * key name over 49, a NUL byte -- is a mistake, as is a section met twice; a UTF-8 BOM is dropped.
 * Entries come in line order; err holds the first mistake ("file:line: why"), err_line its line
 * (0: none), and ini_doc_error() keeps whichever of two mistakes comes first in the file. */
#define INI_MAX_SECTIONS (CFG_MAX_JOBS + 1)
struct ini_entry { char section[64], key[64]; char *value; int line; };
struct ini_doc {
	char path[512];
	struct ini_entry *ent;
	int nent, cap_ent;
	char sections[INI_MAX_SECTIONS][64];
	int section_line[INI_MAX_SECTIONS], nsections;
	char err[512];
	int err_line;
};
/* -1 (err says why) when the file cannot be read at all; else 0, mistakes in d->err */
int ini_doc_read(const char *path, struct ini_doc *d, char *err, size_t errlen);
void ini_doc_error(struct ini_doc *d, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ini_doc_free(struct ini_doc *d);
/* s without leading and trailing white space (in place) */
char *ini_trim(char *s);
/* An experiment with no file: [global] only, of type `type`, named name. */
int experiment_empty(const char *name, const char *type, struct experiment *e, char *err,
		     size_t errlen);
/* Sets a [global] key after the file (a command-line option); "origin" names it in errors. The
 * value is checked against its key; the whole experiment is checked by experiment_check, once
 * every setting is in (one setting may need another: guest = linux and mem_mb). */
int experiment_set(struct experiment *e, const char *origin, const char *key, const char *value,
		   char *err, size_t errlen);
/* The type's check of every run of the matrix: 0, or -1 with "file: [job]: why". */
int experiment_check(const struct experiment *e, char *err, size_t errlen);

/* Keeps one job (by name; NULL: the only one, an error naming them if there are several), its own
 * values moved to [global] so that experiment_set overrides them as well (pvbench ab). */
int experiment_only_job(struct experiment *e, const char *name, char *err, size_t errlen);

/* Expands every job into variants x repeat, interleaved: repetition r runs every variant once,
 * starting one variant later than repetition r-1. *runs is malloc'd. 0 or -1 (err). */
int experiment_matrix(const struct experiment *e, struct run_spec **runs, int *nr, char *err,
		      size_t errlen);

/* The value of a [global]-only bookkeeping key (description, baseline), resolved. */
const char *experiment_global(const struct experiment *e, const char *key);

/* Checks one value against its key; NULL if fine, else why (in why). */
const char *key_check(const struct key_def *d, const char *v, char *why, size_t n);
long long key_int(const struct key_def *d, const char *v);

#endif
