/* SPDX-License-Identifier: MIT */
/* pvbench plot EXPERIMENT: the experiment's plots (report/plot.h) as PNG and SVG. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "plot.h"
#include "store.h"

int cmd_plot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", 1, 0, 'd' }, { "out", 1, 0, 'o' }, { "host", 1, 0, 'H' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *db = "results/pvbench.db", *dir = NULL, *host = NULL;
	char err[1024], def[600];
	struct plot_file files[128];
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'o': dir = optarg; break;
		case 'H': host = optarg; break;
		case 'h':
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: pvbench plot [--db PATH] [--out DIR] [--host NAME] EXPERIMENT\n"
				"Writes the experiment's plots as PNG and SVG, with their data files, into DIR\n"
				"(default plots/out/EXPERIMENT): latency histograms and CDFs per variant, bars with\n"
				"error bars for its table metrics, and for a nightly experiment (NAME@SUITE) the\n"
				"series with change points. --host: only that host's runs (a central store holds\n"
				"many). Templates: %s/*.gp.\n", plot_templates());
			return opt == 'h' ? EXIT_OK : EXIT_ERROR;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: pvbench plot [--db PATH] [--out DIR] EXPERIMENT\n");
		return EXIT_ERROR;
	}
	if (!dir) {
		snprintf(def, sizeof(def), "plots/out/%s", argv[optind]);
		dir = def;
	}
	struct store *st = store_open_existing(db, err, sizeof(err));
	char near[128];
	if (st && !store_experiment_known(st, argv[optind], near, sizeof(near))) {
		fprintf(stderr, "pvbench plot: no experiment \"%s\" in %s%s%s%s\n", argv[optind], db,
			*near ? ": did you mean " : "", near, *near ? "?" : "");
		store_close(st);
		return EXIT_ERROR;
	}
	if (st)
		store_only_host(st, host);
	int n = st ? plot_experiment(st, argv[optind], dir, files, 128, err, sizeof(err)) : -1;
	store_close(st);
	if (n < 0) {
		fprintf(stderr, "pvbench plot: %s\n", err);
		return EXIT_ERROR;
	}
	for (int i = 0; i < n; i++)
		printf("%s/%s.png  %s/%s.svg  %s\n", dir, files[i].name, dir, files[i].name, files[i].title);
	if (!n)
		fprintf(stderr, "pvbench plot: %s has no ok runs in %s: nothing to plot\n", argv[optind], db);
	return EXIT_OK;
}
