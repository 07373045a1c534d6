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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "changepoint.h"
#include "child.h"
#include "cli.h"
#include "compare.h"
#include "config.h"
#include "engine.h"
#include "metrics.h"
#include "stats.h"
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
	snprintf(s->name, sizeof(s->name), "%.*s", (int)strcspn(base, "."), base);
	if (cli_ini_options(path, "suite", suite_key, s, s->err, sizeof(s->err)))
		return -1;
	if (!s->n)
		snprintf(s->err, sizeof(s->err), "%s: no experiment in [suite]", path);
	return s->err[0] ? -1 : 0;
}

/* ---- history ---- */

struct hrun { long long id; int session; };
struct hval { int run; char key[128]; double value; char unit[8]; };
struct history {
	char (*session)[32];
	char (*under_test)[128];
	int nsess;
	struct hrun *runs;
	int nruns;
	struct hval *vals;
	size_t nvals;
	char metrics[256];
};

struct hctx { struct history *h; char (*variant)[256]; };

static void h_defaults(void *a, const char *baseline, const char *rows, const char *columns,
		       const char *metrics)
{
	struct hctx *c = a;
	snprintf(c->h->metrics, sizeof(c->h->metrics), "%s", metrics ? metrics : "");
}

static void h_run(void *a, const struct store_row *r)
{
	struct hctx *c = a;
	struct history *h = c->h;
	int s;
	if (strcmp(r->status, "ok"))
		return;
	for (s = 0; s < h->nsess && strcmp(h->session[s], r->session); s++)
		;
	if (s == h->nsess) {
		h->session = realloc(h->session, (size_t)(s + 1) * sizeof(*h->session));
		h->under_test = realloc(h->under_test, (size_t)(s + 1) * sizeof(*h->under_test));
		if (!h->session || !h->under_test)
			abort();
		snprintf(h->session[s], sizeof(h->session[s]), "%s", r->session);
		snprintf(h->under_test[s], sizeof(h->under_test[s]), "%s", r->under_test);
		h->nsess++;
	}
	h->runs = realloc(h->runs, (size_t)(h->nruns + 1) * sizeof(*h->runs));
	c->variant = realloc(c->variant, (size_t)(h->nruns + 1) * sizeof(*c->variant));
	if (!h->runs || !c->variant)
		abort();
	h->runs[h->nruns] = (struct hrun){ .id = r->id, .session = s };
	snprintf(c->variant[h->nruns], sizeof(c->variant[0]), "%s", r->variant);
	h->nruns++;
}

static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',' || p[-1] == ' ') && (!p[n] || p[n] == ','))
			return 1;
	return 0;
}

static void h_metric(void *a, long long id, const char *side, int cpu, const char *name,
		     double value, const char *unit)
{
	struct hctx *c = a;
	struct history *h = c->h;
	int r;
	if (cpu != METRIC_CPU_ALL && cpu != METRIC_CPU_VM)
		return;
	if (!strcmp(side, "harness") || (h->metrics[0] && !in_list(h->metrics, name)))
		return;
	for (r = h->nruns - 1; r >= 0 && h->runs[r].id != id; r--)
		;
	if (r < 0)
		return;
	h->vals = realloc(h->vals, (h->nvals + 1) * sizeof(*h->vals));
	if (!h->vals)
		abort();
	struct hval *v = &h->vals[h->nvals++];
	v->run = r;
	snprintf(v->key, sizeof(v->key), "%.80s\t%s\t%s", c->variant[r], name, side);
	v->value = value;
	snprintf(v->unit, sizeof(v->unit), "%s", unit);
}

static void history_free(struct history *h)
{
	free(h->session);
	free(h->under_test);
	free(h->runs);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}

static const struct history *sort_h;
static int by_session_then_key(const void *a, const void *b)
{
	const struct hval *x = a, *y = b;
	int k = strcmp(x->key, y->key);
	if (k)
		return k;
	int sx = sort_h->runs[x->run].session, sy = sort_h->runs[y->run].session;
	return strcmp(sort_h->session[sx], sort_h->session[sy]);
}

/* Flags change points of every series of one experiment; prints them (text) or adds them to
 * json. Returns AB-style status: 4 a change for the worse at the newest session, 3 for the
 * better, else 0. */
static int judge(struct store *st, const char *exp, const struct cp_params *cp, const char *metrics,
		 cJSON *json, char *err, size_t errlen)
{
	struct history h = { 0 };
	struct hctx c = { .h = &h };
	struct store_visitor v = { .arg = &c, .defaults = h_defaults, .run = h_run, .metric = h_metric };
	int status = 0;
	char newest[32] = "";

	if (store_visit(st, exp, "*", &v, err, errlen)) {
		free(c.variant);
		return -1;
	}
	if (metrics)
		snprintf(h.metrics, sizeof(h.metrics), "%s", metrics);
	for (int s = 0; s < h.nsess; s++)
		if (strcmp(h.session[s], newest) > 0)
			snprintf(newest, sizeof(newest), "%s", h.session[s]);
	sort_h = &h;
	qsort(h.vals, h.nvals, sizeof(*h.vals), by_session_then_key);
	cJSON *jexp = NULL, *jseries = NULL;
	if (json) {
		jexp = cJSON_CreateObject();
		cJSON_AddStringToObject(jexp, "experiment", exp);
		cJSON_AddNumberToObject(jexp, "sessions", h.nsess);
		jseries = cJSON_AddArrayToObject(jexp, "series");
		cJSON_AddItemToArray(json, jexp);
	} else {
		printf("%s: %d nights\n", exp, h.nsess);
		printf("  %-28s %-24s %-6s %6s %12s  %s\n", "variant", "metric", "side", "nights", "newest median", "change points");
	}
	for (size_t i = 0; i < h.nvals;) {
		size_t j = i, nsess = 0;
		size_t *start = malloc((h.nvals + 1) * sizeof(size_t));
		double *vals = malloc((h.nvals + 1) * sizeof(double));
		int *sess = malloc((h.nvals + 1) * sizeof(int));
		if (!start || !vals || !sess)
			abort();
		for (; j < h.nvals && !strcmp(h.vals[j].key, h.vals[i].key); j++) {
			int s = h.runs[h.vals[j].run].session;
			if (!nsess || sess[nsess - 1] != s) {
				sess[nsess] = s;
				start[nsess++] = j - i;
			}
			vals[j - i] = h.vals[j].value;
		}
		start[nsess] = j - i;
		struct cp_change ch[16];
		size_t nch = cp_detect(vals, start, nsess, cp, ch, 16);
		char variant[128], name[48], side[16], unit[8];
		const char *k = h.vals[i].key;
		snprintf(variant, sizeof(variant), "%.*s", (int)strcspn(k, "\t"), k);
		k += strcspn(k, "\t") + 1;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(k, "\t"), k);
		snprintf(side, sizeof(side), "%s", k + strcspn(k, "\t") + 1);
		double scale = strcmp(h.vals[i].unit, "ns") ? 1 : 1e-3;
		snprintf(unit, sizeof(unit), "%s", scale == 1 ? h.vals[i].unit : "us");
		double last = stats_median(vals + start[nsess - 1], start[nsess] - start[nsess - 1]);
		cJSON *js = NULL, *jch = NULL;
		if (json) {
			js = cJSON_CreateObject();
			cJSON_AddStringToObject(js, "variant", variant);
			cJSON_AddStringToObject(js, "metric", name);
			cJSON_AddStringToObject(js, "side", side);
			cJSON_AddStringToObject(js, "unit", h.vals[i].unit);
			cJSON *pts = cJSON_AddArrayToObject(js, "points");
			for (size_t s = 0; s < nsess; s++) {
				cJSON *pt = cJSON_CreateObject();
				cJSON_AddStringToObject(pt, "session", h.session[sess[s]]);
				cJSON_AddStringToObject(pt, "under_test", h.under_test[sess[s]]);
				cJSON_AddNumberToObject(pt, "median", stats_median(vals + start[s], start[s + 1] - start[s]));
				cJSON_AddNumberToObject(pt, "runs", (double)(start[s + 1] - start[s]));
				cJSON_AddItemToArray(pts, pt);
			}
			jch = cJSON_AddArrayToObject(js, "changes");
			cJSON_AddItemToArray(jseries, js);
		} else {
			char label[64];
			snprintf(label, sizeof(label), "%s (%s)", name, unit);
			printf("  %-28s %-24s %-6s %6zu %12.4g  %s\n", variant[0] ? variant : "(one variant)", label,
			       side, nsess, last * scale, nch ? "" : "none");
		}
		for (size_t x = 0; x < nch; x++) {
			int worse = (ch[x].after > ch[x].before) != metric_higher_is_better(name);
			const char *from = h.under_test[sess[ch[x].at - 1]], *to = h.under_test[sess[ch[x].at]];
			double rel = 100 * (ch[x].after - ch[x].before) / fabs(ch[x].before);
			if (!strcmp(h.session[sess[ch[x].at]], newest))
				status = worse ? 4 : status ? status : 3;
			if (json) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "session", h.session[sess[ch[x].at]]);
				cJSON_AddStringToObject(o, "after_under_test", from);
				cJSON_AddStringToObject(o, "under_test", to);
				cJSON_AddNumberToObject(o, "before", ch[x].before);
				cJSON_AddNumberToObject(o, "after", ch[x].after);
				cJSON_AddNumberToObject(o, "change_pct", rel);
				cJSON_AddNumberToObject(o, "p", ch[x].p);
				cJSON_AddStringToObject(o, "direction", worse ? "worse" : "better");
				cJSON_AddItemToArray(jch, o);
			} else {
				printf("      %s at %s: %.4g -> %.4g %s (%+.1f%%), p = %.2g; between %s (%s) and %s (%s)\n",
				       worse ? "WORSE" : "better", h.session[sess[ch[x].at]], ch[x].before * scale,
				       ch[x].after * scale, unit, rel, ch[x].p, from, h.session[sess[ch[x].at - 1]],
				       to, h.session[sess[ch[x].at]]);
			}
		}
		free(start);
		free(vals);
		free(sess);
		i = j;
	}
	free(c.variant);
	history_free(&h);
	return status;
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
		"Exit status: 0 no change at tonight's session, 3 a change for the better, 4 a change for\n"
		"the worse, 1 error, 2 runs failed, 130 interrupted.\n");
}

int cmd_nightly(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "under-test", 1, 0, 'u' }, { "set", 1, 0, 's' }, { "judge", 0, 0, 'J' },
		{ "window", 1, 0, 'w' }, { "min-change", 1, 0, 'c' }, { "metrics", 1, 0, 'm' },
		{ "db", 1, 0, 'd' }, { "format", 1, 0, 'F' }, { "help", 0, 0, 'h' }, { 0 },
	};
	static struct experiment e[MAX_MEMBERS];
	static struct suite su;
	struct engine_opts eo = { .db = "results/pvbench.db" };
	struct cp_params cp = CP_PARAMS_DEFAULT;
	const char *under_test = NULL, *metrics = NULL;
	int json = 0, only_judge = 0, opt, failed = 0, total = 0, status = 0;
	struct run_spec *runs[MAX_MEMBERS] = { 0 };
	int nr[MAX_MEMBERS] = { 0 };
	char err[1024], session[32];
	long long v;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': under_test = optarg; break;
		case 's': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || eo.nsets == ENGINE_MAX_KEYS) {
				fprintf(stderr, "pvbench nightly: --set: \"%s\" is not KEY=VALUE\n", optarg);
				return EXIT_ERROR;
			}
			*eq = 0;
			eo.set_key[eo.nsets] = optarg;
			eo.set_val[eo.nsets++] = eq + 1;
			break;
		}
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
		case 'F':
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				fprintf(stderr, "pvbench nightly: --format: \"%s\" is not text or json\n", optarg);
				return EXIT_ERROR;
			}
			json = !strcmp(optarg, "json");
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
			struct engine_session *s = engine_session_open(&e[i], runs[i], nr[i], eo.db, err, sizeof(err));
			if (!s)
				goto fail;
			engine_session_nightly(s, session, under_test);
			for (int r = 0; r < nr[i] && !pvb_interrupted; r++, k++) {
				struct run_result res;
				char what[400], why[700];
				snprintf(what, sizeof(what), "%s: %s rep %d", e[i].name, runs[i][r].variant, runs[i][r].rep);
				progress_begin(&pg, k, what);
				engine_session_run(s, &runs[i][r], &res);
				failed += res.status != RUN_OK && res.status != RUN_SKIPPED && res.status != RUN_INTERRUPTED;
				snprintf(why, sizeof(why), "%s: %s", run_status_name(res.status), res.reason);
				progress_end(&pg, k, what, res.status == RUN_OK ? NULL : why);
				run_result_free(&res);
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
		int rc = judge(st, e[i].name, &cp, metrics, arr, err, sizeof(err));
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
	return failed ? EXIT_FAILED : status;
fail:
	fprintf(stderr, "pvbench nightly: %s\n", err);
	for (int i = 0; i < su.n; i++)
		free(runs[i]);
	return EXIT_ERROR;
}
