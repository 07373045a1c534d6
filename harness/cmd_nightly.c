/* SPDX-License-Identifier: MIT */
/*
 * pvbench nightly SUITE: runs every experiment of a suite as one session (its start time), stored
 * with the host and what is under test, then compares each metric with its history and flags
 * change points (report/changepoint.h) with the range of what was under test where each
 * appeared. The store keeps one experiment per suite member, "NAME@SUITE", whose sessions are
 * the nights; `pvbench compare NAME@SUITE` shows the newest night.
 *
 * A suite file is INI:  [suite]  description = ...  experiment = ../configs/null.ini  (one line
 * per experiment, paths relative to the suite file).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "changepoint.h"
#include "nightly.h"
#include "child.h"
#include "cli.h"
#include "config.h"
#include "engine.h"
#include "hostinfo.h"
#include "store.h"

#define MAX_MEMBERS 16

struct suite {
	char path[512], name[64], description[256];
	char member[MAX_MEMBERS][512];
	int n;
	char err[600];
};

static int suite_key(void *arg, const char *key, const char *value, char *why, size_t whylen)
{
	struct suite *s = arg;
	const char *slash = strrchr(s->path, '/');

	if (!strcmp(key, "description"))
		snprintf(s->description, sizeof(s->description), "%s", value);
	else if (strcmp(key, "experiment"))
		snprintf(why, whylen, "unknown key (description, experiment)");
	else if (s->n == MAX_MEMBERS)
		snprintf(why, whylen, "more than %d", MAX_MEMBERS);
	else if (value[0] == '/' || !slash)
		snprintf(s->member[s->n++], sizeof(s->member[0]), "%s", value);
	else {
		char dir[512];
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - s->path), s->path);
		snprintf(s->member[s->n++], sizeof(s->member[0]), "%s/%s", dir, value);
	}
	return why[0] ? -1 : 0;
}

static int suite_load(const char *path, struct suite *s)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	const char *dot = strrchr(base, '.');
	snprintf(s->name, sizeof(s->name), "%.*s", (int)(dot && dot > base ? (size_t)(dot - base) : strlen(base)), base);
	if (cli_ini_options(path, "suite", suite_key, s, s->err, sizeof(s->err)))
		return -1;
	if (!s->n)
		snprintf(s->err, sizeof(s->err), "%s: no experiment in [suite]", path);
	return s->err[0] ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvbench nightly [options] SUITE.suite\n"
		"Runs every experiment of the suite as tonight's session (every run again, stored with\n"
		"the date, the host and what is under test), then flags change points in each metric's\n"
		"history: a windowed Mann-Whitney U over runs, Bonferroni over the splits tried, binary\n"
		"segmentation, and a minimum change (see README).\n"
		"\n"
		"  --under-test ID   what tonight tests: a guest or host kernel build id (default: the\n"
		"                    pvbench commit)\n"
		"  --set KEY=VALUE   set a key of every experiment (repeatable)\n"
		"  --judge           judge the stored history only, run nothing\n"
		"  --window N        nights either side of a split (default 5)\n"
		"  --min-change PCT  smallest change flagged, %% of the earlier median (default 5)\n"
		"  --metrics LIST    metrics to judge (default: each experiment's)\n"
		"  --db PATH         result store (default results/pvbench.db)\n"
		"  --format F        text (default) or json\n"
		"  --push CONNINFO   then push this host's store into a central one (pvbench push)\n"
		"Exit status: 0 no change at tonight's session, 3 a change for the better, 4 a change for\n"
		"the worse, 1 error, 2 runs failed, 130 interrupted.\n");
}

int cmd_nightly(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "under-test", 1, 0, 'u' }, { "set", 1, 0, 's' }, { "judge", 0, 0, 'J' },
		{ "window", 1, 0, 'w' }, { "min-change", 1, 0, 'c' }, { "metrics", 1, 0, 'm' },
		{ "db", 1, 0, 'd' }, { "format", 1, 0, 'F' }, { "push", 1, 0, 'p' }, { "help", 0, 0, 'h' }, { 0 },
	};
	static struct experiment e[MAX_MEMBERS];
	static struct suite su;
	struct engine_opts eo = { .db = "results/pvbench.db" };
	struct cp_params cp = CP_PARAMS_DEFAULT;
	const char *under_test = NULL, *metrics = NULL, *push_to = NULL;
	int json = 0, only_judge = 0, opt, failed = 0, total = 0, status = 0;
	struct run_spec *runs[MAX_MEMBERS] = { 0 };
	int nr[MAX_MEMBERS] = { 0 };
	char err[1024], session[32];
	long long v;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': under_test = optarg; break;
		case 's':
			if (engine_opts_set(&eo, "nightly", optarg))
				return EXIT_ERROR;
			break;
		case 'J': only_judge = 1; break;
		case 'w':
			if (parse_int("--window", optarg, 1, 365, &v))
				return EXIT_ERROR;
			cp.window = (int)v;
			break;
		case 'c':
			if (parse_int("--min-change", optarg, 0, 1000, &v))
				return EXIT_ERROR;
			cp.min_rel = (double)v / 100;
			break;
		case 'm': metrics = optarg; break;
		case 'd': eo.db = optarg; break;
		case 'p':
			if (!store_is_central(optarg)) {
				fprintf(stderr, "pvbench nightly: --push: \"%s\" is not postgresql://...\n", optarg);
				return EXIT_ERROR;
			}
			push_to = optarg;
			break;
		case 'F':
			if (cli_text_or_json("nightly", optarg, &json))
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
	if (suite_load(argv[optind], &su)) {
		fprintf(stderr, "pvbench nightly: %s\n", su.err);
		return EXIT_ERROR;
	}
	/* every member is read and checked before anything runs */
	for (int i = 0; i < su.n; i++) {
		char name[64];
		if (engine_load(su.member[i], &eo, &e[i], err, sizeof(err)) ||
		    experiment_matrix(&e[i], &runs[i], &nr[i], err, sizeof(err)))
			goto fail;
		snprintf(name, sizeof(name), "%.40s@%.20s", e[i].name, su.name);
		snprintf(e[i].name, sizeof(e[i].name), "%s", name);
		total += nr[i];
	}
	{ /* to the millisecond: two nights never share a session, and they sort by time */
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		size_t n = strftime(session, sizeof(session), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(session + n, sizeof(session) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	}
	if (!only_judge) {
		struct progress pg;
		int k = 0;
		fprintf(stderr, "pvbench nightly: %s: session %s, %d experiments, %d runs, under test: %s\n",
			su.name, session, su.n, total, under_test ? under_test : "pvbench's commit");
		progress_init(&pg, total);
		for (int i = 0; i < su.n && !pvb_interrupted; i++) {
			struct engine_session *s = engine_session_open(&e[i], runs[i], nr[i], eo.db, 0, err, sizeof(err));
			if (!s)
				goto fail;
			engine_session_nightly(s, session, under_test);
			for (int r = 0; r < nr[i] && !pvb_interrupted; r++, k++) {
				char what[400];
				snprintf(what, sizeof(what), "%s: %s rep %d", e[i].name, runs[i][r].variant, runs[i][r].rep);
				failed += run_status_failed(engine_session_step(s, &runs[i][r], &pg, k, what, NULL, 0));
			}
			engine_session_close(s);
		}
		progress_finish(&pg);
		if (pvb_interrupted) {
			fprintf(stderr, "pvbench nightly: interrupted: tonight's finished runs are stored (session %s)\n", session);
			for (int i = 0; i < su.n; i++)
				free(runs[i]);
			return EXIT_INTERRUPTED;
		}
	}
	struct store *st = store_open(eo.db, err, sizeof(err));
	if (!st)
		goto fail;
	cJSON *root = NULL, *arr = NULL;
	if (json) {
		root = cJSON_CreateObject();
		cJSON_AddStringToObject(root, "schema", "pvbench.nightly/1");
		cJSON_AddStringToObject(root, "suite", su.name);
		cJSON_AddNumberToObject(root, "window", cp.window);
		cJSON_AddNumberToObject(root, "min_change", cp.min_rel);
		cJSON_AddNumberToObject(root, "alpha", cp.alpha);
		arr = cJSON_AddArrayToObject(root, "experiments");
	} else {
		printf("nightly %s%s%s\n\n", su.name, su.description[0] ? ": " : "", su.description);
	}
	for (int i = 0; i < su.n; i++) {
		int rc = nightly_judge(st, e[i].name, &cp, metrics, stdout, arr, err, sizeof(err));
		if (rc < 0) {
			store_close(st);
			cJSON_Delete(root);
			goto fail;
		}
		status = rc == 4 || status == 4 ? 4 : rc ? rc : status;
	}
	store_close(st);
	if (json) {
		char *s = cJSON_Print(root);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(root);
	} else {
		printf("\nchange points: Mann-Whitney U over the runs of %d nights either side of each split,\n"
		       "Bonferroni over the splits tried (alpha %g), binary segmentation, at least %.0f%% change.\n",
		       cp.window, cp.alpha, cp.min_rel * 100);
	}
	for (int i = 0; i < su.n; i++)
		free(runs[i]);
	if (push_to) { /* tonight's runs join the fleet's: the change points above are this host's */
		struct hostinfo hi;
		struct push_stats ps;
		hostinfo_read(&hi, err, sizeof(err));
		if (store_push_paths(eo.db, push_to, hi.host, &ps, err, sizeof(err))) {
			fprintf(stderr, "pvbench nightly: --push: %s\n", err);
			return EXIT_ERROR;
		}
		fprintf(stderr, "pvbench nightly: pushed %d runs (%d already there) into %s\n", ps.pushed,
			ps.already, push_to);
	}
	return failed ? EXIT_FAILED : status;
fail:
	fprintf(stderr, "pvbench nightly: %s\n", err);
	for (int i = 0; i < su.n; i++)
		free(runs[i]);
	return EXIT_ERROR;
}
