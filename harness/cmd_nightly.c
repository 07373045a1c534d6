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

/* What the command line asks. */
struct nightly_cli {
	struct engine_opts eo;
	struct cp_params cp;
	const char *under_test, *metrics, *push_to, *suite;
	int json, only_judge;
};

/* 0, 1 after --help, or -1 after a message on stderr */
static int parse(int argc, char **argv, struct nightly_cli *c)
{
	static const struct option opts[] = {
		{ "under-test", 1, 0, 'u' }, { "set", 1, 0, 's' }, { "judge", 0, 0, 'J' },
		{ "window", 1, 0, 'w' }, { "min-change", 1, 0, 'c' }, { "metrics", 1, 0, 'm' },
		{ "db", 1, 0, 'd' }, { "format", 1, 0, 'F' }, { "push", 1, 0, 'p' }, { "help", 0, 0, 'h' }, { 0 },
	};
	long long v;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': c->under_test = optarg; break;
		case 's':
			if (engine_opts_set(&c->eo, "nightly", optarg))
				return -1;
			break;
		case 'J': c->only_judge = 1; break;
		case 'w':
			if (parse_int("--window", optarg, 1, 365, &v))
				return -1;
			c->cp.window = (int)v;
			break;
		case 'c':
			if (parse_int("--min-change", optarg, 0, 1000, &v))
				return -1;
			c->cp.min_rel = (double)v / 100;
			break;
		case 'm': c->metrics = optarg; break;
		case 'd': c->eo.db = optarg; break;
		case 'p':
			if (!store_is_central(optarg)) {
				fprintf(stderr, "pvbench nightly: --push: \"%s\" is not postgresql://...\n", optarg);
				return -1;
			}
			c->push_to = optarg;
			break;
		case 'F':
			if (cli_text_or_json("nightly", optarg, &c->json))
				return -1;
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	c->suite = argv[optind];
	return 0;
}

/* Tonight's runs of every member, as one session: how many failed, or -1 (err) */
static int run_night(const struct nightly_cli *c, const struct suite *su, struct experiment *e,
		     struct run_spec **runs, const int *nr, int total, const char *session, char *err, size_t errlen)
{
	struct progress pg;
	struct hostinfo hi;
	int k = 0, failed = 0;
	double ms = 0;
	char t[32];

	/* what tonight takes, from what the nights before took here */
	hostinfo_read(&hi, err, errlen);
	struct store *st = store_open_existing(c->eo.db, err, errlen); /* none yet: no night before */
	for (int i = 0; i < su->n; i++) {
		double over = engine_overhead_ms(st, e[i].name, hi.host);
		for (int r = 0; r < nr[i]; r++)
			ms += engine_run_ms(&runs[i][r], over, !hi.no_kvm[0]);
	}
	store_close(st);
	fprintf(stderr, "pvbench nightly: %s: session %s, %d experiment%s, %d runs (%s), under test: %s\n", su->name,
		session, su->n, su->n == 1 ? "" : "s", total, engine_about(t, sizeof(t), ms),
		c->under_test ? c->under_test : "pvbench's commit");
	progress_init(&pg, total);
	for (int i = 0; i < su->n && !pvb_interrupted; i++) {
		struct engine_session *s = engine_session_open(&e[i], runs[i], nr[i], c->eo.db, 0, err, errlen);
		if (!s) {
			progress_finish(&pg);
			return -1;
		}
		engine_session_nightly(s, session, c->under_test);
		for (int r = 0; r < nr[i] && !pvb_interrupted; r++, k++) {
			char what[400];
			snprintf(what, sizeof(what), "%s: %s rep %d", e[i].name, runs[i][r].variant, runs[i][r].rep);
			failed += run_status_failed(engine_session_step(s, &runs[i][r], &pg, k, what, NULL, 0));
		}
		engine_session_close(s);
	}
	progress_finish(&pg);
	return failed;
}

/* Every member's history judged (change points), as text or JSON: 0, 3 a change, 4 one for the
 * worse, or -1 (err) */
static int judge_all(const struct nightly_cli *c, const struct suite *su, const struct experiment *e, char *err,
		     size_t errlen)
{
	struct store *st = store_open(c->eo.db, err, errlen);
	cJSON *root = NULL, *arr = NULL;
	int status = 0;

	if (!st)
		return -1;
	if (c->json) {
		root = cJSON_CreateObject();
		cJSON_AddStringToObject(root, "schema", "pvbench.nightly/1");
		cJSON_AddStringToObject(root, "suite", su->name);
		cJSON_AddNumberToObject(root, "window", c->cp.window);
		cJSON_AddNumberToObject(root, "min_change", c->cp.min_rel);
		cJSON_AddNumberToObject(root, "alpha", c->cp.alpha);
		arr = cJSON_AddArrayToObject(root, "experiments");
	} else {
		printf("nightly %s%s%s\n\n", su->name, su->description[0] ? ": " : "", su->description);
	}
	for (int i = 0; i < su->n; i++) {
		int rc = nightly_judge(st, e[i].name, &c->cp, c->metrics, stdout, arr, err, errlen);
		if (rc < 0) {
			store_close(st);
			cJSON_Delete(root);
			return -1;
		}
		status = rc == 4 || status == 4 ? 4 : rc ? rc : status;
	}
	store_close(st);
	if (c->json) {
		char *t = cJSON_Print(root);
		printf("%s\n", t);
		free(t);
		cJSON_Delete(root);
	} else {
		printf("\nchange points: Mann-Whitney U over the runs of %d nights either side of each split,\n"
		       "Bonferroni over the splits tried (alpha %g), binary segmentation, at least %.0f%% change.\n",
		       c->cp.window, c->cp.alpha, c->cp.min_rel * 100);
	}
	return status;
}

/* tonight's runs join the fleet's: the change points above are this host's */
static int push(const char *db, const char *to)
{
	struct hostinfo hi;
	struct push_stats ps;
	char err[1024];

	hostinfo_read(&hi, err, sizeof(err));
	if (store_push_paths(db, to, hi.host, &ps, err, sizeof(err))) {
		fprintf(stderr, "pvbench nightly: --push: %s\n", err);
		return -1;
	}
	fprintf(stderr, "pvbench nightly: pushed %d runs (%d already there) into %s\n", ps.pushed, ps.already, to);
	return 0;
}

int cmd_nightly(int argc, char **argv)
{
	static struct nightly_cli c = { .eo = { .db = "results/pvbench.db" }, .cp = CP_PARAMS_DEFAULT };
	static struct experiment e[MAX_MEMBERS];
	static struct suite su;
	struct run_spec *runs[MAX_MEMBERS] = { 0 };
	int nr[MAX_MEMBERS] = { 0 }, failed = 0, total = 0, status = EXIT_ERROR;
	char err[1024], session[32];

	int rc = parse(argc, argv, &c);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	if (suite_load(c.suite, &su)) {
		fprintf(stderr, "pvbench nightly: %s\n", su.err);
		return EXIT_ERROR;
	}
	/* every member is read and checked before anything runs */
	for (int i = 0; i < su.n; i++) {
		char name[64];
		if (engine_load(su.member[i], &c.eo, &e[i], err, sizeof(err)) ||
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
	if (!c.only_judge && (failed = run_night(&c, &su, e, runs, nr, total, session, err, sizeof(err))) < 0)
		goto fail;
	if (pvb_interrupted) {
		fprintf(stderr, "pvbench nightly: interrupted: tonight's finished runs are stored (session %s)\n", session);
		status = EXIT_INTERRUPTED;
		goto out;
	}
	if ((status = judge_all(&c, &su, e, err, sizeof(err))) < 0)
		goto fail;
	if (failed)
		status = EXIT_FAILED;
	if (c.push_to && push(c.eo.db, c.push_to))
		status = EXIT_ERROR;
	goto out;
fail:
	fprintf(stderr, "pvbench nightly: %s\n", err);
	status = EXIT_ERROR;
out:
	for (int i = 0; i < su.n; i++)
		free(runs[i]);
	return status;
}
