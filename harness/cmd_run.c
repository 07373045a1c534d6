/* SPDX-License-Identifier: MIT */
/* pvbench run FILE: expand the experiment, run what the store does not have yet, print tables. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "child.h"
#include "cli.h"
#include "compare.h"
#include "config.h"
#include "policy.h"
#include "runner.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvbench run [options] EXPERIMENT.ini\n"
		"Runs every variant x repeat of the experiment (interleaved), skipping runs the store\n"
		"already has (status ok), stores each run, then prints the comparison tables.\n\n"
		"  --db PATH      result store (default results/pvbench.db)\n"
		"  --force        run again what is stored already\n"
		"  --dry-run      print the run order and exit\n"
		"  --keys         print every experiment key and exit\n"
		"  --format F     tables as text (default), md, csv or json\n"
		"Exit status: 0 every run ok, 1 error before running, 2 some runs failed (stored as such),\n"
		"130 interrupted (completed runs are stored).\n");
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", 1, 0, 'd' }, { "force", 0, 0, 'f' }, { "dry-run", 0, 0, 'n' },
		{ "keys", 0, 0, 'k' }, { "format", 1, 0, 'F' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *db = "results/pvbench.db";
	int force = 0, dry = 0, opt, nr, failed = 0, done = 0, skipped = 0;
	struct cmp_opts co = { .format = CMP_TEXT };
	static struct experiment e;
	struct run_spec *runs;
	char err[1024], kernel[1024];
	struct hostinfo host;
	struct guestinfo gi;
	struct store *st;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'f': force = 1; break;
		case 'n': dry = 1; break;
		case 'k': cfg_print_keys(); return EXIT_OK;
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
	if (experiment_load(argv[optind], &e, err, sizeof(err)) < 0 ||
	    experiment_matrix(&e, &runs, &nr, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	if (dry) {
		for (int i = 0; i < nr; i++)
			printf("%3d  %s  rep %d\n", i + 1, runs[i].variant, runs[i].rep);
		free(runs);
		return EXIT_OK;
	}
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", pvb_build_dir());
	if (hostinfo_read(&host, err, sizeof(err)) < 0 || guestinfo_read(kernel, &gi, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvbench: %s\n", err);
		free(runs);
		return EXIT_ERROR;
	}
	/* refuse up front what a policy cannot do here (e.g. no RT scheduling) */
	for (int i = 0; i < nr; i++) {
		const struct policy_ops *ops = policy_find(runs[i].val[K_POLICY]);
		struct policy p = { .ops = ops, .params.static_prio = (int)run_int(&runs[i], K_STATIC_PRIO) };
		if (ops->prepare && ops->prepare(&p, err, sizeof(err))) {
			fprintf(stderr, "pvbench: %s: policy %s refused: %s\n", e.path, ops->name, err);
			free(runs);
			return EXIT_ERROR;
		}
		if (ops->stop)
			ops->stop(&p);
		if (ops->counters) { /* frees its state */
			struct metric_set ms = { 0 };
			ops->counters(&p, &ms);
			metrics_free(&ms);
		}
	}
	/* run directories live next to the store: results/pvbench.db -> results/runs/ */
	char dbdir[1024], runs_root[1100];
	snprintf(dbdir, sizeof(dbdir), "%s", db);
	if (strrchr(dbdir, '/'))
		*strrchr(dbdir, '/') = 0;
	else
		snprintf(dbdir, sizeof(dbdir), ".");
	snprintf(runs_root, sizeof(runs_root), "%s/runs", dbdir);
	mkdir_p(dbdir);
	st = store_open(db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "pvbench: %s\n", err);
		free(runs);
		return EXIT_ERROR;
	}
	struct runner_env env = { .host = &host, .guest = &gi, .kernel = kernel, .runs_root = runs_root };
	struct progress pg;
	progress_init(&pg, nr);
	fprintf(stderr, "pvbench: %s: %d runs (%s, guest %s) into %s\n", e.name, nr, host.kvm_backend,
		gi.build_id, db);
	for (int i = 0; i < nr && !pvb_interrupted; i++) {
		char what[300], why[600];
		if (!force && store_run_done(st, e.name, runs[i].variant, runs[i].rep)) {
			skipped++;
			continue;
		}
		snprintf(what, sizeof(what), "%s rep %d", runs[i].variant, runs[i].rep);
		progress_begin(&pg, i, what);
		enum vm_outcome o = runner_run(&env, &e, &runs[i], st, err, sizeof(err));
		done++;
		if (o != VM_OK && o != VM_INTERRUPTED)
			failed++;
		snprintf(why, sizeof(why), "%s: %s", vm_outcome_name(o), err);
		progress_end(&pg, i, what, o == VM_OK ? NULL : why);
	}
	progress_finish(&pg);
	fprintf(stderr, "pvbench: %d runs done (%d failed), %d already stored%s\n", done, failed,
		skipped, pvb_interrupted ? ", interrupted" : "");
	free(runs);

	struct cmp_input in;
	if (compare_load(st, e.name, &in, err, sizeof(err)) == 0) {
		if (compare_render(&in, &co, stdout, err, sizeof(err)) < 0)
			fprintf(stderr, "pvbench: compare: %s\n", err);
		cmp_input_free(&in);
	}
	store_close(st);
	if (pvb_interrupted)
		return EXIT_INTERRUPTED;
	return failed ? EXIT_FAILED : EXIT_OK;
}
