/* SPDX-License-Identifier: MIT */
/*
 * pvbench reproduce TABLE...: a seed's published table next to pvbench's runs, with a verdict per
 * cell (report/reproduce.h). TABLE is a file name in results/published/ without .json, or a
 * prefix of some ("001" for all of seed 001's, "001-cyclictest" for its four cyclictest tables).
 * The runs come from the store; --run runs what the store lacks of the matching experiment first.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "compare.h"
#include "engine.h"
#include "reproduce.h"
#include "reproduce_plan.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvbench reproduce [options] TABLE...\n"
		"       pvbench reproduce [options] --all\n"
		"       pvbench reproduce --list\n"
		"Prints each published table (results/published/TABLE.json; a prefix picks several) next to\n"
		"pvbench's runs of its experiment, with a verdict per cell on the direction and the ratio\n"
		"of each column against the baseline column.\n"
		"\n"
		"  --run             first run what the store lacks of the runs the tables judge (their\n"
		"                    rows, columns and groups; not the rest of each experiment)\n"
		"  --set KEY=VALUE   with --run: set a key of each experiment whose type has it (repeatable)\n"
		"  --db PATH         result store (default results/pvbench.db)\n"
		"  --published DIR   the published tables (default results/published)\n"
		"  --format F        text (default) or json\n"
		"  --list            list the published tables\n"
		"  --all             every published table, and a summary per seed\n"
		"  --host NAME       only this host's runs (a central store holds many)\n"
		"Exit status: 0 verdicts printed (whatever they are), 1 error, 2 runs failed, 130 interrupted.\n"
		"\n"
		"Verdicts (effect: the median ratio to the baseline column, or the difference where a value\n"
		"is 0; p: Mann-Whitney U, Benjamini-Hochberg over the table; intervals: 95%% bootstrap):\n"
		"  R1 too few runs    the exact test cannot reach p < 0.05 with these runs, ties counted\n"
		"  R2 reproduced      significant, same direction, measured/published effect (log ratios)\n"
		"                     inside [1/1.5, 1.5] with its interval\n"
		"  R3 direction only  significant, same direction, that interval not inside it\n"
		"  R4 not reproduced  significant, opposite direction\n"
		"  R5 not reproduced  a change published; here the interval lies inside +-10%% (no change)\n"
		"  R6 inconclusive    a change published; not significant, not shown to be no change\n"
		"  R7 reproduced      no change published (under 10%%); the interval here inside +-10%%\n"
		"  R8 not reproduced  no change published; a significant change here outside +-10%%\n"
		"  R9 inconclusive    no change published; the interval neither inside nor outside +-10%%\n"
		"A baseline published as never finishing (seed 003's \"Unconverged\") is judged on how many\n"
		"runs finished in each column (Fisher's exact test, one-sided):\n"
		"  R10 reproduced     the variant finished significantly more often (4 runs a side at least)\n"
		"  R11 not reproduced the baseline finished as often as the variant, or more\n"
		"  R12 inconclusive   more often, not significantly\n");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_table(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

/* per seed (a table id's prefix before '-'): what its tables came to */
struct seed_sum {
	char seed[16];
	int tables;
	struct repro_summary s;
};

static void seed_add(struct seed_sum *seeds, int *nseeds, const char *id, const struct repro_summary *before,
		     const struct repro_summary *after)
{
	char seed[16];
	int k = 0;
	snprintf(seed, sizeof(seed), "%.*s", (int)strcspn(id, "-"), id);
	while (k < *nseeds && strcmp(seeds[k].seed, seed))
		k++;
	if (k == *nseeds) {
		if (*nseeds == 32)
			return;
		memset(&seeds[k], 0, sizeof(seeds[k]));
		snprintf(seeds[k].seed, sizeof(seeds[k].seed), "%s", seed);
		(*nseeds)++;
	}
	struct repro_summary *z = &seeds[k].s;
	seeds[k].tables++;
	z->cells += after->cells - before->cells;
	z->reproduced += after->reproduced - before->reproduced;
	z->direction_only += after->direction_only - before->direction_only;
	z->not_reproduced += after->not_reproduced - before->not_reproduced;
	z->not_measured += after->not_measured - before->not_measured;
	z->unjudged += after->unjudged - before->unjudged;
}

static void print_summary(const struct repro_summary *sum, const struct seed_sum *seeds, int nseeds, int per_seed)
{
	if (per_seed) {
		printf("%-6s %6s %6s %10s %9s %14s %12s %14s\n", "seed", "tables", "cells", "reproduced", "direction",
		       "not reproduced", "not measured", "too few/incon.");
		for (int k = 0; k < nseeds; k++) {
			const struct repro_summary *z = &seeds[k].s;
			printf("%-6s %6d %6d %10d %9d %14d %12d %14d\n", seeds[k].seed, seeds[k].tables, z->cells,
			       z->reproduced, z->direction_only, z->not_reproduced, z->not_measured,
			       z->unjudged - z->not_measured);
		}
		printf("\n");
	}
	printf("%d cells judged against published tables: %d reproduced, %d direction only, %d not "
	       "reproduced, %d not judged (%d not measured, the rest too few runs or inconclusive)\n", sum->cells,
	       sum->reproduced, sum->direction_only, sum->not_reproduced, sum->unjudged, sum->not_measured);
}

static void json_counts(cJSON *o, const struct repro_summary *z)
{
	cJSON_AddNumberToObject(o, "cells", z->cells);
	cJSON_AddNumberToObject(o, "reproduced", z->reproduced);
	cJSON_AddNumberToObject(o, "direction_only", z->direction_only);
	cJSON_AddNumberToObject(o, "not_reproduced", z->not_reproduced);
	cJSON_AddNumberToObject(o, "not_judged", z->unjudged);
	cJSON_AddNumberToObject(o, "not_measured", z->not_measured);
}

static void json_summary(cJSON *root, const struct repro_summary *sum, const struct seed_sum *seeds, int nseeds)
{
	json_counts(cJSON_AddObjectToObject(root, "summary"), sum);
	cJSON *per = cJSON_AddArrayToObject(root, "seeds");
	for (int k = 0; k < nseeds; k++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "seed", seeds[k].seed);
		cJSON_AddNumberToObject(o, "tables", seeds[k].tables);
		json_counts(o, &seeds[k].s);
		cJSON_AddItemToArray(per, o);
	}
}

/* One `reproduce`: the tables picked, the experiments already run for them, the store, and what
 * the verdicts came to. */
struct session {
	struct engine_opts eo;
	const char *dir, *host;
	struct dirent **ents;
	int n, run;
	struct choice pick;
	char ran[16][128];
	int nran;
	struct store *st;
	cJSON *arr;                      /* --format json: the tables */
	struct repro_summary sum;
	struct seed_sum seeds[32];
	int nseeds;
};

/* --run: the runs the chosen tables judge of EXP that the store lacks, once per experiment.
 * The store is closed first: the engine opens it itself. */
static int run_missing(struct session *z, const char *exp, const char *exp_name)
{
	for (int k = 0; k < z->nran; k++)
		if (!strcmp(z->ran[k], exp_name))
			return EXIT_OK;
	if (z->nran == 16)
		return EXIT_OK;
	snprintf(z->ran[z->nran++], sizeof(z->ran[0]), "%s", exp_name);
	store_close(z->st);
	z->st = NULL;
	static struct judges jd; /* the runs the chosen tables judge, not the whole matrix */
	struct engine_opts here;
	repro_judges_of(&jd, z->ents, z->n, z->dir, &z->pick, exp);
	repro_sets_for(&z->eo, exp, &here);
	here.want = repro_judged;
	here.want_arg = &jd;
	int r = engine_run(exp, &here);
	repro_judges_free(&jd);
	return r;
}

/* The i-th published table: listed, or (its runs run first with --run) judged against the store.
 * Returns an exit status; EXIT_FAILED (runs failed) still judges the table. */
static int one_table(struct session *z, int i, int list)
{
	char path[1024], id[256], exp_name[128], err[1024];
	int rc = EXIT_OK;
	snprintf(path, sizeof(path), "%s/%s", z->dir, z->ents[i]->d_name);
	repro_chosen(&z->pick, z->ents[i]->d_name, id, sizeof(id));
	cJSON *ref = reproduce_load(path, err, sizeof(err));
	if (!ref) {
		fprintf(stderr, "pvbench reproduce: %s\n", err);
		return EXIT_ERROR;
	}
	const char *exp = cJSON_GetObjectItem(ref, "experiment")->valuestring;
	reproduce_experiment_name(ref, exp_name, sizeof(exp_name));
	if (list) {
		printf("%-26s %-29s %s\n", id, exp, cJSON_GetObjectItem(ref, "title")->valuestring);
		goto out;
	}
	if (z->run) {
		rc = run_missing(z, exp, exp_name);
		if (rc == EXIT_INTERRUPTED || rc == EXIT_ERROR)
			goto out;
	}
	if (!z->st && !(z->st = store_open_existing(z->eo.db, err, sizeof(err)))) {
		fprintf(stderr, "pvbench reproduce: %s\n", err);
		rc = EXIT_ERROR;
		goto out;
	}
	store_only_host(z->st, z->host);
	struct cmp_input in;
	char origin[600];
	if (compare_load(z->st, exp_name, &in, err, sizeof(err))) {
		fprintf(stderr, "pvbench reproduce: %s\n", err);
		rc = EXIT_ERROR;
		goto out;
	}
	snprintf(origin, sizeof(origin), "experiment %s in %s (%zu ok runs)", exp_name, z->eo.db, in.n);
	struct repro_summary before = z->sum;
	reproduce_table(ref, &in, origin, stdout, z->arr, &z->sum);
	seed_add(z->seeds, &z->nseeds, id, &before, &z->sum);
	cmp_input_free(&in);
out:
	cJSON_Delete(ref);
	return rc;
}

int cmd_reproduce(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", 0, 0, 'r' }, { "set", 1, 0, 's' }, { "db", 1, 0, 'd' },
		{ "published", 1, 0, 'P' }, { "format", 1, 0, 'F' }, { "list", 0, 0, 'l' },
		{ "host", 1, 0, 'H' }, { "all", 0, 0, 'a' }, { "help", 0, 0, 'h' }, { 0 },
	};
	static struct session z; /* large (its seeds); one per process */
	int all = 0, json = 0, list = 0, opt, rc = EXIT_OK, matched = 0;

	memset(&z, 0, sizeof(z));
	z.eo = (struct engine_opts){ .db = "results/pvbench.db", .no_tables = 1 };
	z.dir = "results/published";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': z.run = 1; break;
		case 's':
			if (engine_opts_set(&z.eo, "reproduce", optarg))
				return EXIT_ERROR;
			break;
		case 'd': z.eo.db = optarg; break;
		case 'P': z.dir = optarg; break;
		case 'H': z.host = optarg; break;
		case 'F':
			if (cli_text_or_json("reproduce", optarg, &json))
				return EXIT_ERROR;
			break;
		case 'l': list = 1; break;
		case 'a': all = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_ERROR;
		}
	}
	if (!list && !all && optind == argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	z.n = scandir(z.dir, &z.ents, is_table, by_name);
	if (z.n < 0) {
		fprintf(stderr, "pvbench reproduce: %s: cannot list it (--published DIR)\n", z.dir);
		return EXIT_ERROR;
	}
	cJSON *root = json ? cJSON_CreateObject() : NULL;
	if (root) {
		cJSON_AddStringToObject(root, "schema", "pvbench.reproduce/1");
		z.arr = cJSON_AddArrayToObject(root, "tables");
	}
	z.pick = (struct choice){ .all = all || list, .prefix = argv + optind, .n = argc - optind };
	if (z.run)
		repro_estimate(z.ents, z.n, z.dir, &z.pick, &z.eo, stderr);
	for (int i = 0; i < z.n; i++) {
		char id[256];
		if (!repro_chosen(&z.pick, z.ents[i]->d_name, id, sizeof(id)))
			continue;
		matched++;
		int r = one_table(&z, i, list);
		if (r != EXIT_OK)
			rc = r;
		if (r == EXIT_ERROR || r == EXIT_INTERRUPTED)
			break;
	}
	for (int i = 0; i < z.n; i++)
		free(z.ents[i]);
	free(z.ents);
	store_close(z.st);
	if (rc != EXIT_ERROR && rc != EXIT_INTERRUPTED && !list && !matched) {
		fprintf(stderr, "pvbench reproduce: no published table matches (pvbench reproduce --list)\n");
		rc = EXIT_ERROR;
	}
	if (root) {
		json_summary(root, &z.sum, z.seeds, z.nseeds);
		if (rc != EXIT_ERROR) {
			char *t = cJSON_Print(root);
			printf("%s\n", t);
			free(t);
		}
		cJSON_Delete(root);
	} else if (!list && rc != EXIT_ERROR) {
		print_summary(&z.sum, z.seeds, z.nseeds, all || z.nseeds > 1);
	}
	return rc;
}
