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

int cmd_reproduce(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", 0, 0, 'r' }, { "set", 1, 0, 's' }, { "db", 1, 0, 'd' },
		{ "published", 1, 0, 'P' }, { "format", 1, 0, 'F' }, { "list", 0, 0, 'l' },
		{ "host", 1, 0, 'H' }, { "all", 0, 0, 'a' }, { "help", 0, 0, 'h' }, { 0 },
	};
	struct seed_sum seeds[32];
	int nseeds = 0, all = 0;
	struct engine_opts eo = { .db = "results/pvbench.db", .no_tables = 1 };
	const char *dir = "results/published", *host = NULL;
	int run = 0, json = 0, list = 0, opt, rc = EXIT_OK, matched = 0;
	struct dirent **ents = NULL;
	struct repro_summary sum = { 0 };
	char err[1024], ran[16][128];
	int nran = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': run = 1; break;
		case 's':
			if (engine_opts_set(&eo, "reproduce", optarg))
				return EXIT_ERROR;
			break;
		case 'd': eo.db = optarg; break;
		case 'P': dir = optarg; break;
		case 'H': host = optarg; break;
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
	int n = scandir(dir, &ents, is_table, by_name);
	if (n < 0) {
		fprintf(stderr, "pvbench reproduce: %s: cannot list it (--published DIR)\n", dir);
		return EXIT_ERROR;
	}
	cJSON *root = json ? cJSON_CreateObject() : NULL, *arr = NULL;
	if (root) {
		cJSON_AddStringToObject(root, "schema", "pvbench.reproduce/1");
		arr = cJSON_AddArrayToObject(root, "tables");
	}
	const struct choice pick = { .all = all || list, .prefix = argv + optind, .n = argc - optind };
	if (run)
		repro_estimate(ents, n, dir, &pick, &eo, stderr);
	struct store *st = NULL;
	for (int i = 0; i < n && rc != EXIT_ERROR; i++) {
		char path[1024], id[256], exp_name[128];
		if (!repro_chosen(&pick, ents[i]->d_name, id, sizeof(id)))
			continue;
		matched++;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		cJSON *ref = reproduce_load(path, err, sizeof(err));
		if (!ref) {
			fprintf(stderr, "pvbench reproduce: %s\n", err);
			rc = EXIT_ERROR;
			break;
		}
		const char *exp = cJSON_GetObjectItem(ref, "experiment")->valuestring;
		reproduce_experiment_name(ref, exp_name, sizeof(exp_name));
		if (list) {
			printf("%-28s %-24s %s\n", id, exp, cJSON_GetObjectItem(ref, "title")->valuestring);
			cJSON_Delete(ref);
			continue;
		}
		int done = 0;
		for (int k = 0; k < nran; k++)
			done |= !strcmp(ran[k], exp_name);
		if (run && !done && nran < 16) {
			snprintf(ran[nran++], sizeof(ran[0]), "%s", exp_name);
			store_close(st); /* engine_run opens the store itself */
			st = NULL;
			static struct judges jd; /* the runs the chosen tables judge, not the whole matrix */
			struct engine_opts here;
			repro_judges_of(&jd, ents, n, dir, &pick, exp);
			repro_sets_for(&eo, exp, &here);
			here.want = repro_judged;
			here.want_arg = &jd;
			int r = engine_run(exp, &here);
			repro_judges_free(&jd);
			if (r == EXIT_INTERRUPTED || r == EXIT_ERROR) {
				cJSON_Delete(ref);
				rc = r;
				break;
			}
			if (r == EXIT_FAILED)
				rc = EXIT_FAILED;
		}
		if (!st && !(st = store_open_existing(eo.db, err, sizeof(err)))) {
			fprintf(stderr, "pvbench reproduce: %s\n", err);
			cJSON_Delete(ref);
			rc = EXIT_ERROR;
			break;
		}
		store_only_host(st, host);
		struct cmp_input in;
		char origin[600];
		if (compare_load(st, exp_name, &in, err, sizeof(err))) {
			fprintf(stderr, "pvbench reproduce: %s\n", err);
			cJSON_Delete(ref);
			rc = EXIT_ERROR;
			break;
		}
		snprintf(origin, sizeof(origin), "experiment %s in %s (%zu ok runs)", exp_name, eo.db, in.n);
		struct repro_summary before = sum;
		reproduce_table(ref, &in, origin, stdout, arr, &sum);
		seed_add(seeds, &nseeds, id, &before, &sum);
		cmp_input_free(&in);
		cJSON_Delete(ref);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	store_close(st);
	if (rc != EXIT_ERROR && rc != EXIT_INTERRUPTED && !list && !matched) {
		fprintf(stderr, "pvbench reproduce: no published table matches (pvbench reproduce --list)\n");
		rc = EXIT_ERROR;
	}
	if (root) {
		json_summary(root, &sum, seeds, nseeds);
		if (rc != EXIT_ERROR) {
			char *t = cJSON_Print(root);
			printf("%s\n", t);
			free(t);
		}
		cJSON_Delete(root);
	} else if (!list && rc != EXIT_ERROR) {
		print_summary(&sum, seeds, nseeds, all || nseeds > 1);
	}
	return rc;
}
