/* SPDX-License-Identifier: MIT */
/* pvbench push --to CONNINFO: this host's runs into a central PostgreSQL store (store.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "hostinfo.h"
#include "store.h"

int cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", 1, 0, 'd' }, { "to", 1, 0, 't' }, { "host", 1, 0, 'H' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *db = "results/pvbench.db", *to = NULL, *host = NULL;
	char err[1024];
	struct hostinfo hi;
	struct push_stats ps;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 't': to = optarg; break;
		case 'H': host = optarg; break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: pvbench push [--db PATH] --to CONNINFO [--host NAME]\n"
				"Copies every run of this host's store (default results/pvbench.db) into a central\n"
				"PostgreSQL store (a libpq connection string, e.g. postgresql:///pvbench or\n"
				"\"postgresql://lab@db.example/pvbench\"), each run whole, keyed by host and run\n"
				"identity: a repeated or interrupted push never duplicates. --host names runs stored\n"
				"without a host name (default: $PVBENCH_HOST, else the hostname).\n");
			return opt == 'h' ? EXIT_OK : EXIT_ERROR;
		}
	}
	if (!to || optind != argc || !store_is_central(to)) {
		fprintf(stderr, "pvbench push: --to postgresql://... (a central store) is required\n");
		return EXIT_ERROR;
	}
	if (store_is_central(db)) {
		fprintf(stderr, "pvbench push: --db %s: push from a host's SQLite store\n", db);
		return EXIT_ERROR;
	}
	hostinfo_read(&hi, err, sizeof(err));
	if (store_push_paths(db, to, host ? host : hi.host, &ps, err, sizeof(err))) {
		fprintf(stderr, "pvbench push: %s\n", err);
		return EXIT_ERROR;
	}
	printf("pushed %d runs (%d already there) and %d experiment definitions from %s into %s\n",
	       ps.pushed, ps.already, ps.experiments, db, to);
	return EXIT_OK;
}
