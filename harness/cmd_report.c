/* SPDX-License-Identifier: MIT */
/* pvbench report --html DIR: the static dashboard (report/html.c). */
#include <getopt.h>
#include <stdio.h>
#include "cli.h"
#include "html.h"
#include "store.h"

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", 1, 0, 'd' }, { "html", 1, 0, 'o' }, { "published", 1, 0, 'P' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *db = "results/pvbench.db", *dir = NULL, *published = "results/published";
	char err[1024];
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'o': dir = optarg; break;
		case 'P': published = optarg; break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: pvbench report --html DIR [--db PATH|CONNINFO] [--published DIR]\n"
				"Writes a static dashboard into DIR (open DIR/index.html from the file system): hosts,\n"
				"experiments, nightly suites, A/B sessions and published tables, with a page per\n"
				"experiment (per host: machine facts, tables, verdicts, plots, raw outputs). The store\n"
				"is a host's SQLite file or a central PostgreSQL one (postgresql://...).\n");
			return opt == 'h' ? EXIT_OK : EXIT_ERROR;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, "usage: pvbench report --html DIR [--db PATH|CONNINFO]\n");
		return EXIT_ERROR;
	}
	struct store *st = store_open_existing(db, err, sizeof(err));
	int rc = st ? report_html(st, db, dir, published, err, sizeof(err)) : -1;
	store_close(st);
	if (rc) {
		fprintf(stderr, "pvbench report: %s\n", err);
		return EXIT_ERROR;
	}
	printf("%s/index.html\n", dir);
	return EXIT_OK;
}
