/* SPDX-License-Identifier: MIT */
/*
 * pvbench ab FILE -a KEY=VALUE -b KEY=VALUE: two variants of one job of any experiment, run
 * interleaved in a random order together with an A/A twin (A run again) that measures the noise
 * floor here and now, round after round until the difference is known precisely enough or the
 * budget is spent; then a verdict per metric (report/ab.h). Each A/B session is an experiment of
 * its own in the store, "NAME-ab-DATE": A's runs are its odd repetitions, the A/A twin's the even
 * ones, B's all of its own; `pvbench compare` shows it, `pvbench ab --stored` judges it again.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ab.h"
#include "child.h"
#include "cli.h"
#include "config.h"
#include "engine.h"
#include "metrics.h"
#include "stats.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvbench ab [options] EXPERIMENT.ini -a KEY=VALUE -b KEY=VALUE\n"
		"       pvbench ab [options] --stored NAME-ab-DATE\n"
		"Runs variant A and variant B of one job of the experiment, and A once more (the A/A\n"
		"pair: the noise floor), interleaved in a random order, round after round, until every\n"
		"metric's difference is known within --precision or --max-runs is spent; then prints,\n"
		"per metric, A, B, their difference of medians and of p90 with bootstrap intervals, the\n"
		"A/A floor and a verdict (Mann-Whitney U, Benjamini-Hochberg over the metrics).\n"
		"\n"
		"  -a, -b KEY=VALUE  what makes A and B (repeatable); every list key must end with one value\n"
		"  --set KEY=VALUE   set a key for both (repeatable)\n"
		"  --job NAME        the file's job (needed when it has several)\n"
		"  --metrics LIST    metrics to judge (default: the experiment's)\n"
		"  --min-runs N      runs per variant before stopping is considered (default 5)\n"
		"  --max-runs N      runs per variant at most: the budget (default 20)\n"
		"  --precision PCT   stop when every 95%% interval of the median difference is within\n"
		"                    PCT%% of A's median (default 5)\n"
		"  --fdr Q           false discovery rate over the metrics (default 0.05)\n"
		"  --seed N          the run order and the bootstrap (default: from the clock; printed)\n"
		"  --db PATH         result store (default results/pvbench.db)\n"
		"  --format F        text (default) or json\n"
		"  --host NAME       with --stored: only this host's runs (a central store holds many)\n"
		"Exit status: 0 no difference above the floor, 3 B better in some metric and worse in\n"
		"none, 4 B worse in some metric, 5 not judged (no metric had enough runs to reach the\n"
		"test's level, or none to judge), 1 error, 2 runs failed, 130 interrupted.\n");
}

struct kv { const char *key, *val; };

/* A or B: the job with the settings, one run of exactly one variant. */
static int make_arm(const struct experiment *base, struct experiment *e, const char *arm,
		    const struct kv *s, int n, struct run_spec *spec, char *label, size_t ll, char *err,
		    size_t errlen)
{
	struct run_spec *runs;
	int nr;
	char origin[8];

	*e = *base;
	snprintf(origin, sizeof(origin), "-%s", arm);
	label[0] = 0;
	for (int i = 0; i < n; i++) {
		if (experiment_set(e, origin, s[i].key, s[i].val, err, errlen))
			return -1;
		snprintf(label + strlen(label), ll - strlen(label), "%s%s=%s", i ? " " : "", s[i].key, s[i].val);
	}
	if (experiment_check(e, err, errlen) || experiment_matrix(e, &runs, &nr, err, errlen))
		return -1;
	if (nr != 1) {
		snprintf(err, errlen, "%s: %s is %d variants (%s, %s%s): give every list key one value with -%s or --set",
			 base->path, arm[0] == 'a' ? "A" : "B", nr, runs[0].variant, runs[1].variant, nr > 2 ? ", ..." : "", arm);
		free(runs);
		return -1;
	}
	*spec = runs[0];
	snprintf(spec->variant, sizeof(spec->variant), "%s", label);
	free(runs);
	return 0;
}

/* What the command line asks. */
struct ab_cli {
	struct engine_opts eo;
	struct ab_params p;
	struct kv sa[16], sb[16];
	int na, nb, json, seeded;
	long long min_runs, max_runs;
	const char *job, *metrics, *stored, *host, *file;
};

/* 0, 1 after --help, or -1 after a message on stderr */
static int parse(int argc, char **argv, struct ab_cli *c)
{
	static const struct option opts[] = {
		{ "set", 1, 0, 's' }, { "job", 1, 0, 'j' }, { "metrics", 1, 0, 'm' },
		{ "min-runs", 1, 0, 'n' }, { "max-runs", 1, 0, 'N' }, { "precision", 1, 0, 'p' },
		{ "fdr", 1, 0, 'q' }, { "seed", 1, 0, 'S' }, { "db", 1, 0, 'd' }, { "format", 1, 0, 'F' },
		{ "stored", 1, 0, 'R' }, { "host", 1, 0, 'H' }, { "help", 0, 0, 'h' }, { 0 },
	};
	long long v;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "a:b:h", opts, NULL)) != -1) {
		char *eq = optarg ? strchr(optarg, '=') : NULL;
		switch (opt) {
		case 's':
			if (engine_opts_set(&c->eo, "ab", optarg))
				return -1;
			break;
		case 'a': case 'b':
			if (!eq || eq == optarg) {
				fprintf(stderr, "pvbench ab: -%c: \"%s\" is not KEY=VALUE\n", opt, optarg);
				return -1;
			}
			if ((opt == 'a' && c->na == 16) || (opt == 'b' && c->nb == 16)) {
				fprintf(stderr, "pvbench ab: too many settings\n");
				return -1;
			}
			*eq = 0;
			if (opt == 'a')
				c->sa[c->na++] = (struct kv){ optarg, eq + 1 };
			else
				c->sb[c->nb++] = (struct kv){ optarg, eq + 1 };
			break;
		case 'j': c->job = optarg; break;
		case 'm': c->metrics = optarg; break;
		case 'n':
			if (parse_int("--min-runs", optarg, 2, 1000, &c->min_runs))
				return -1;
			break;
		case 'N':
			if (parse_int("--max-runs", optarg, 2, 1000, &c->max_runs))
				return -1;
			break;
		case 'p':
			if (parse_int("--precision", optarg, 1, 1000, &v))
				return -1;
			c->p.precision = (double)v / 100;
			break;
		case 'q':
			c->p.fdr = atof(optarg);
			if (!(c->p.fdr > 0 && c->p.fdr < 0.5)) {
				fprintf(stderr, "pvbench ab: --fdr: \"%s\" is not in (0, 0.5)\n", optarg);
				return -1;
			}
			break;
		case 'S':
			if (parse_int("--seed", optarg, 0, 1LL << 62, &v))
				return -1;
			c->p.seed = (uint64_t)v;
			c->seeded = 1;
			break;
		case 'd': c->eo.db = optarg; break;
		case 'F':
			if (cli_text_or_json("ab", optarg, &c->json))
				return -1;
			break;
		case 'R': c->stored = optarg; break;
		case 'H': c->host = optarg; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (c->stored ? optind != argc || c->na || c->nb : optind != argc - 1 || !c->na || !c->nb) {
		usage(stderr);
		return -1;
	}
	c->file = c->stored ? NULL : argv[optind];
	if (c->min_runs > c->max_runs)
		c->min_runs = c->max_runs;
	if (!c->seeded)
		c->p.seed = (uint64_t)time(NULL);
	return 0;
}

/* The session: an experiment of its own, A its baseline; one started in the same second takes
 * the next number. NULL with err. */
static struct engine_session *open_session(const struct ab_cli *c, const struct experiment *base,
					   const struct experiment *ea, const struct run_spec *spec, const char *la,
					   char *name, size_t nl, char *err, size_t errlen)
{
	static struct experiment es;
	struct engine_session *s = NULL;
	char date[32];
	time_t t = time(NULL);

	strftime(date, sizeof(date), "%Y%m%dT%H%M%S", gmtime(&t));
	es = *ea;
	if (experiment_set(&es, "ab", "baseline", la, err, errlen))
		return NULL;
	struct run_spec def[2] = { spec[0], spec[2] };
	for (int k = 1; k <= 100 && !s; k++) {
		snprintf(es.name, sizeof(es.name), k == 1 ? "%.40s-ab-%s" : "%.40s-ab-%s-%d", base->name, date, k);
		snprintf(name, nl, "%s", es.name);
		s = engine_session_open(&es, def, 2, c->eo.db, ENGINE_SESSION_NEW, err, errlen);
		if (!s && errno != EEXIST)
			return NULL;
	}
	return s;
}

/* Rounds of A, A' and B in a seeded random order until the verdicts are precise enough, the
 * budget is spent, the host cannot run it or too many runs failed; stop says which. 0, or -1
 * with err (the store could not be read). */
static int rounds(const struct ab_cli *c, struct engine_session *s, const struct run_spec *spec, const char *name,
		  const char *la, struct ab_arms *arms, char *stop, size_t stopn, int *failed, char *err,
		  size_t errlen)
{
	struct progress pg;
	uint64_t order_rng = c->p.seed ^ 0x5eedull;

	progress_init(&pg, (int)(3 * c->max_runs));
	for (int round = 1; round <= c->max_runs && !pvb_interrupted && !stop[0]; round++) {
		int order[3] = { 0, 1, 2 };
		for (int i = 2; i > 0; i--) { /* Fisher-Yates */
			int j = (int)(stats_rand(&order_rng) % (uint64_t)(i + 1)), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < 3 && !pvb_interrupted; i++) {
			static const char *const arm[] = { "A", "A'", "B" };
			struct run_spec r = spec[order[i]];
			char what[300], reason[512];
			r.rep = order[i] == 2 ? round : order[i] == 0 ? 2 * round - 1 : 2 * round;
			snprintf(what, sizeof(what), "%s (%s) round %d", arm[order[i]], r.variant, round);
			enum run_status st = engine_session_step(s, &r, &pg, 3 * (round - 1) + i, what, reason,
								 sizeof(reason));
			if (st == RUN_SKIPPED)
				snprintf(stop, stopn, "the host cannot run it: %.480s", reason);
			*failed += run_status_failed(st);
		}
		if (*failed > c->max_runs / 2 + 1)
			snprintf(stop, stopn, "%d runs failed (listed in `pvbench compare %s`)", *failed, name);
		if (stop[0] || round < c->min_runs || pvb_interrupted)
			continue;
		ab_arms_free(arms);
		if (ab_load(engine_session_store(s), name, la, c->metrics, arms, err, errlen)) {
			progress_finish(&pg);
			return -1;
		}
		ab_analyse(arms->m, arms->n, &c->p);
		if (!arms->n)
			snprintf(stop, stopn, "no metric to judge (--metrics %s)", c->metrics ? c->metrics : "");
		else if (ab_precise(arms->m, arms->n, &c->p))
			snprintf(stop, stopn, "precise enough after %d rounds: every interval of the median difference "
				 "is within %.0f%% of A's median", round, c->p.precision * 100);
		else if (round == c->max_runs)
			snprintf(stop, stopn, "run budget spent (%lld runs per variant): some intervals are still "
				 "wider than %.0f%% of A's median", c->max_runs, c->p.precision * 100);
	}
	progress_finish(&pg);
	return 0;
}

int cmd_ab(int argc, char **argv)
{
	static struct ab_cli c = { .eo = { .db = "results/pvbench.db" }, .p = AB_PARAMS_DEFAULT, .min_runs = 5,
				   .max_runs = 20 };
	static struct experiment base, ea, eb;
	int rc = EXIT_ERROR, failed = 0;
	char err[1024], la[256], lb[256], stop[512] = "", name[64], test[400];
	struct run_spec spec[3];
	struct engine_session *s = NULL;
	struct store *st = NULL;
	struct ab_arms arms = { 0 };

	rc = parse(argc, argv, &c);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	snprintf(test, sizeof(test),
		 "verdict: Mann-Whitney U (exact up to %d values) of B vs A, Benjamini-Hochberg at q = %g "
		 "over the metrics; %.0f%% percentile-bootstrap intervals (%d resamplings, seed %llu); "
		 "better/worse only above the A/A floor.", STATS_EXACT_MAX_N, c.p.fdr, c.p.conf * 100, c.p.boot,
		 (unsigned long long)c.p.seed);

	if (c.stored) {
		if ((st = store_open_existing(c.eo.db, err, sizeof(err))))
			store_only_host(st, c.host);
		if (!st || ab_load(st, c.stored, NULL, c.metrics, &arms, err, sizeof(err)))
			goto fail;
		snprintf(la, sizeof(la), "%s", arms.a);
		snprintf(lb, sizeof(lb), "%s", arms.b);
		if (!la[0] || !lb[0] || !arms.runs[0]) {
			snprintf(err, sizeof(err), "%s: not an A/B session of %s (no A and B runs)", c.stored, c.eo.db);
			goto fail;
		}
		snprintf(name, sizeof(name), "%s", c.stored);
		snprintf(stop, sizeof(stop), "judged again from the store");
		goto judge;
	}
	if (engine_load(c.file, &c.eo, &base, err, sizeof(err)) ||
	    experiment_only_job(&base, c.job, err, sizeof(err)) ||
	    experiment_set(&base, "ab", "repeat", "1", err, sizeof(err)) ||
	    make_arm(&base, &ea, "a", c.sa, c.na, &spec[0], la, sizeof(la), err, sizeof(err)) ||
	    make_arm(&base, &eb, "b", c.sb, c.nb, &spec[2], lb, sizeof(lb), err, sizeof(err)))
		goto fail;
	if (!strcmp(spec[0].identity, spec[2].identity)) {
		snprintf(err, sizeof(err), "A (%s) and B (%s) are the same variant", la, lb);
		goto fail;
	}
	spec[1] = spec[0];
	if (!(s = open_session(&c, &base, &ea, spec, la, name, sizeof(name), err, sizeof(err))))
		goto fail;
	st = engine_session_store(s);
	fprintf(stderr, "pvbench ab: %s: A = %s, B = %s; %lld to %lld runs each, and as many of A again; "
			"seed %llu\n", name, la, lb, c.min_runs, c.max_runs, (unsigned long long)c.p.seed);
	if (rounds(&c, s, spec, name, la, &arms, stop, sizeof(stop), &failed, err, sizeof(err)))
		goto fail;
	if (pvb_interrupted) {
		fprintf(stderr, "pvbench ab: interrupted: the runs done are stored in %s\n", name);
		engine_session_close(s);
		ab_arms_free(&arms);
		return EXIT_INTERRUPTED;
	}
judge:
	ab_arms_free(&arms);
	if (ab_load(st, name, la, c.metrics, &arms, err, sizeof(err)))
		goto fail;
	ab_analyse(arms.m, arms.n, &c.p);
	{
		struct ab_report rep = { .experiment = name, .a = la, .b = lb, .stop = stop, .test = test,
					 .note = arms.tcg ? "accel=tcg: QEMU's emulator ran these guests: functional, not a latency measurement" :
						 arms.nested ? "KVM nested under TCG ran these runs: functional, no timing is real" : NULL,
					 .runs_a = arms.runs[0],
					 .runs_a2 = arms.runs[1], .runs_b = arms.runs[2] };
		ab_render(stdout, &rep, arms.m, arms.n, &c.p, c.json);
	}
	rc = failed ? EXIT_FAILED : ab_exit_status(arms.m, arms.n);
	goto out;
fail:
	fprintf(stderr, "pvbench ab: %s\n", err);
	rc = EXIT_ERROR;
out:
	ab_arms_free(&arms);
	if (s)
		engine_session_close(s);
	else
		store_close(st);
	return rc;
}
