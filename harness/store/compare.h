/* SPDX-License-Identifier: MIT */
/*
 * Seed-style comparison tables: one table per metric (and per value of any axis that is neither
 * rows nor columns), rows = one swept key, column groups = side (guest | host), columns = another
 * swept key (policy by default), each cell mean ± sd (n) over runs, a %delta against the
 * baseline column, and a mark where a Mann-Whitney U test over per-run values (exact at these
 * sizes, ties included) says p < 0.05 after Holm's correction for the table's comparisons.
 * Only runs of the experiment's current definition count; the others are counted in one line.
 */
#ifndef PVB_COMPARE_H
#define PVB_COMPARE_H

#include <stdio.h>
#include "store.h"

#define COMPARE_JSON_SCHEMA "pvbench.compare/2"

struct cmp_metric { char side[12], name[40], unit[8]; double value; int cpu; enum pvb_better better; };
struct cmp_param { char key[32], value[128]; };

struct cmp_run {
	long long id;
	int rep;
	int tcg, nested;                 /* made under QEMU's emulator / on a KVM nested under it */
	char variant[256];
	struct cmp_param *p;
	size_t np;
	struct cmp_metric *m;
	size_t nm;
};

/* Runs of the current definition that are not in the tables: one line per variant and status */
struct cmp_note { char variant[256], status[16], reason[256]; int n; };

struct cmp_input {
	char experiment[64];
	struct cmp_run *runs;            /* ok runs of the current definition */
	size_t n;
	int stale;                       /* ok runs stored under an older definition: left out */
	int tcg, nested;                 /* runs made under QEMU's emulator (accel=tcg), on a KVM nested
					    under it: no timing is real */
	struct cmp_note *notes;
	size_t nnotes;
	/* the experiment's default table (its type's, and the file's baseline) */
	char def_baseline[128], def_rows[64], def_columns[64], def_metrics[256];
};

enum cmp_format { CMP_TEXT, CMP_MD, CMP_CSV, CMP_JSON };

struct cmp_opts {
	/* NULL: the experiment's defaults (its type's table), else: */
	const char *baseline;    /* a value of the column key, or KEY=VALUE; else the first value */
	const char *columns;     /* else the first swept key */
	const char *rows;        /* else the next swept key */
	const char *metrics;     /* comma list; else the guest's whole-VM metrics */
	enum cmp_format format;
};

int compare_load(struct store *s, const char *experiment, struct cmp_input *in, char *err,
		 size_t errlen);
void cmp_input_free(struct cmp_input *in);
/* cmp_add_* build an input by hand (tests) */
struct cmp_run *cmp_add_run(struct cmp_input *in, long long id);
void cmp_add_param(struct cmp_run *r, const char *key, const char *value);
void cmp_add_metric(struct cmp_run *r, const char *side, int cpu, const char *name, double v,
		    const char *unit, enum pvb_better better);

/* The runs not in the tables (skipped, failed: their status and reason, variants that share them
 * on one line), each line led by lead ("not in the tables: "); ok runs' notes as "note on ..." */
void compare_print_notes(const struct cmp_input *in, const char *lead, FILE *f);
int compare_render(const struct cmp_input *in, const struct cmp_opts *o, FILE *out, char *err,
		   size_t errlen);
/* --format's value: 0, or -1 after "pvbench: --format: ..." on stderr. */
int compare_format_option(const char *s, enum cmp_format *f);

#endif
