/* SPDX-License-Identifier: MIT */
/*
 * What a `pvbench reproduce` asks for before it judges anything: the published tables it picked,
 * the runs of an experiment those tables judge (not the whole matrix), the --set options each
 * experiment's type takes, and what running the missing runs will cost on this host.
 */
#ifndef PVB_REPRODUCE_PLAN_H
#define PVB_REPRODUCE_PLAN_H

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "engine.h"

/* The command line's choice of tables: every one (--all, --list), or those an argument prefixes. */
struct choice {
	int all;
	char **prefix;
	int n;
};

/* Whether the table in FILE (a NAME.json of the published directory) is chosen; its id (NAME)
 * goes to ID either way. */
int repro_chosen(const struct choice *c, const char *file, char *id, size_t idn);

/* The chosen tables that judge one experiment: a run is wanted when one of them judges it. */
struct judges { cJSON *ref[64]; int n; };

void repro_judges_of(struct judges *j, struct dirent **ents, int nents, const char *dir, const struct choice *c,
		     const char *experiment);
/* engine_opts.want: ARG is a struct judges */
int repro_judged(const struct run_spec *r, void *arg);
void repro_judges_free(struct judges *j);

/* EO's --set options that the experiment at PATH has keys for, into OUT; the others are said on
 * stderr and left out. */
void repro_sets_for(const struct engine_opts *eo, const char *path, struct engine_opts *out);

/* Before --run, on OUT: how many runs the chosen tables judge are missing from the store, and
 * about how long they take here, in all and per experiment. */
struct repro_cost {
	int runs, stored;        /* to run; judged and in the store already */
	int experiments, measured; /* experiments the tables name; those whose overhead the store gave */
	double ms;               /* the runs' durations and overheads */
};
struct repro_cost repro_estimate(struct dirent **ents, int nents, const char *dir, const struct choice *c,
				 const struct engine_opts *eo, FILE *out);

#endif
