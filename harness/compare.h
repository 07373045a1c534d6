/* SPDX-License-Identifier: MIT */
/*
 * Seed-style comparison tables: one table per metric (and per value of any axis that is neither
 * rows nor columns), rows = one swept key, column groups = side (guest | host), columns = another
 * swept key (policy by default), each cell mean ± sd (n) over runs, a %delta against the
 * baseline column, and a mark where a Mann-Whitney U test over per-run values says p < 0.05
 * (only with >= 5 runs on both sides).
 */
#ifndef PVB_COMPARE_H
#define PVB_COMPARE_H

#include <stdio.h>
#include "store.h"

#define COMPARE_JSON_SCHEMA "pvbench.compare/1"

struct cmp_metric { char side[12], name[40], unit[8]; double value; int cpu; };
struct cmp_param { char key[32], value[128]; };

struct cmp_run {
	long long id;
	struct cmp_param *p;
	size_t np;
	struct cmp_metric *m;
	size_t nm;
};

struct cmp_input {
	char experiment[64];
	struct cmp_run *runs;
	size_t n;
};

enum cmp_format { CMP_TEXT, CMP_MD, CMP_CSV, CMP_JSON };

struct cmp_opts {
	const char *baseline;    /* a value of the column key, or KEY=VALUE; NULL: the runs' own
				    baseline key, else the first value */
	const char *columns;     /* NULL: policy if swept, else the first swept key */
	const char *rows;        /* NULL: interval_us if swept, else the next swept key */
	const char *metrics;     /* comma list; NULL: lat_avg,lat_max,lat_p99 when present */
	enum cmp_format format;
};

int compare_load(struct store *s, const char *experiment, struct cmp_input *in, char *err,
		 size_t errlen);
void cmp_input_free(struct cmp_input *in);
/* cmp_add_* build an input by hand (tests) */
struct cmp_run *cmp_add_run(struct cmp_input *in, long long id);
void cmp_add_param(struct cmp_run *r, const char *key, const char *value);
void cmp_add_metric(struct cmp_run *r, const char *side, int cpu, const char *name, double v,
		    const char *unit);

int compare_render(const struct cmp_input *in, const struct cmp_opts *o, FILE *out, char *err,
		   size_t errlen);
/* --format's value: 0, or -1 after "pvbench: --format: ..." on stderr. */
int compare_format_option(const char *s, enum cmp_format *f);

#endif
