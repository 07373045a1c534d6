/* SPDX-License-Identifier: MIT */
/* pvbench compare EXPERIMENT: the stored runs of an experiment as seed-style tables. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "compare.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvbench compare [options] EXPERIMENT\n"
		"EXPERIMENT is the experiment file's name without .ini (configs/quick.ini -> quick).\n\n"
		"  --db PATH          result store (default results/pvbench.db)\n"
		"  --baseline VALUE   baseline column (a value of the column key, or KEY=VALUE)\n"
		"  --columns KEY      key across the columns (default policy)\n"
		"  --rows KEY         key down the rows (default interval_us)\n"
		"  --metric A,B       metrics (default lat_avg,lat_max,lat_p99)\n"
		"  --format F         text (default), md, csv, json (schema pvbench.compare/2)\n"
		"  --host NAME        only this host's runs (a central store holds many)\n");
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", 1, 0, 'd' }, { "baseline", 1, 0, 'b' }, { "columns", 1, 0, 'c' },
		{ "rows", 1, 0, 'r' }, { "metric", 1, 0, 'm' }, { "format", 1, 0, 'F' },
		{ "host", 1, 0, 'H' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *db = "results/pvbench.db", *host = NULL;
	struct cmp_opts co = { .format = CMP_TEXT };
	struct cmp_input in;
	struct store *st;
	char err[512];
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'b': co.baseline = optarg; break;
		case 'c': co.columns = optarg; break;
		case 'r': co.rows = optarg; break;
		case 'm': co.metrics = optarg; break;
		case 'H': host = optarg; break;
		case 'F':
			if (compare_format_option(optarg, &co.format))
				return EXIT_ERROR;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_ERROR;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (!store_is_central(db) && access(db, R_OK) != 0) {
		fprintf(stderr, "pvbench: %s: no result store (run an experiment first)\n", db);
		return EXIT_ERROR;
	}
	st = store_open_existing(db, err, sizeof(err));
	if (st)
		store_only_host(st, host);
	if (!st) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	char near[128];
	if (!store_experiment_known(st, argv[optind], near, sizeof(near))) {
		fprintf(stderr, "pvbench: no experiment \"%s\" in %s%s%s%s\n", argv[optind], db,
			*near ? ": did you mean " : "", near, *near ? "?" : "");
		store_close(st);
		return EXIT_ERROR;
	}
	rc = compare_load(st, argv[optind], &in, err, sizeof(err));
	if (rc == 0)
		rc = compare_render(&in, &co, stdout, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "pvbench: %s\n", err);
	cmp_input_free(&in);
	store_close(st);
	return rc < 0 ? EXIT_ERROR : EXIT_OK;
}
