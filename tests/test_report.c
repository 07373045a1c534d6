/* SPDX-License-Identifier: MIT */
/* pvbench's reports end to end with the null type (no VM, no KVM): `ab` runs its session and
 * judges it, from the runs and again from the store. Asserts on exit statuses, the store and
 * the JSON reports (parsed), not on scraped text. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include "child.h"
#include "cli.h"
#include "compare.h"
#include "config.h"
#include "engine.h"
#include "stats.h"
#include "reproduce.h"
#include "reproduce_plan.h"
#include "testlib.h"

static char tmp[256], db[300], out[300];

static int setup(void **state)
{
	if (test_dir(tmp, sizeof(tmp), "report"))
		return -1;
	snprintf(db, sizeof(db), "%s/pv.db", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	return 0;
}

/* pvbench ARGS... --db DB, stdout to `out`; the exit status */
static int pvbench(const char *first, ...)
{
	char bin[512], err[256], *argv[40];
	int n = 0;
	va_list ap;
	struct child c;
	struct child_io io = { .stdout_path = out, .stderr_path = NULL };

	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	argv[n++] = bin;
	argv[n++] = (char *)first;
	va_start(ap, first);
	for (char *a; (a = va_arg(ap, char *)) && n < 36;)
		argv[n++] = a;
	va_end(ap);
	argv[n++] = "--db";
	argv[n++] = db;
	argv[n] = NULL;
	assert_int_equal(child_spawn(&c, argv, &io, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 120000));
	return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

static cJSON *out_json(void)
{
	static char buf[1 << 20];
	read_text(out, buf, sizeof(buf));
	cJSON *j = cJSON_Parse(buf);
	assert_non_null(j);
	return j;
}

static int sql_int(const char *sql)
{
	return (int)store_value(db, sql);
}

static const char *verdict_of(cJSON *j, const char *metric)
{
	cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "metrics"))
		if (!strcmp(cJSON_GetObjectItem(m, "name")->valuestring, metric))
			return cJSON_GetObjectItem(m, "verdict")->valuestring;
	fail_msg("no metric %s", metric);
	return NULL;
}

/* A planted 50% slowdown: B is worse (exit 4), the session is in the store (A's runs and its
 * A/A twin as odd and even reps), and --stored judges it the same way again. */
static void ab_finds_a_planted_slowdown(void **state)
{
	char ini[400], seq[64];
	snprintf(ini, sizeof(ini), "%s/configs/null.ini", getenv("PVBENCH_SRC") ? getenv("PVBENCH_SRC") : ".");
	assert_int_equal(pvbench("ab", ini, "-a", "work_us=100", "-b", "work_us=150", "--set", "ops=50",
				 "--min-runs", "4", "--max-runs", "6", "--seed", "7", "--format", "json", NULL), 4);
	cJSON *j = out_json();
	assert_string_equal(verdict_of(j, "op_p50"), "worse");
	assert_string_equal(cJSON_GetObjectItem(j, "a")->valuestring, "work_us=100");
	int na = cJSON_GetObjectItem(j, "runs_a")->valueint, nb = cJSON_GetObjectItem(j, "runs_b")->valueint;
	assert_in_range(na, 4, 6);
	assert_int_equal(cJSON_GetObjectItem(j, "runs_aa")->valueint, na);
	assert_int_equal(nb, na);
	snprintf(seq, sizeof(seq), "%s", cJSON_GetObjectItem(j, "experiment")->valuestring);
	cJSON_Delete(j);
	assert_int_equal(sql_int("SELECT count(*) FROM runs WHERE variant = 'work_us=100' AND status = 'ok'"), 2 * na);
	assert_int_equal(sql_int("SELECT count(*) FROM runs WHERE variant = 'work_us=150' AND status = 'ok'"), nb);
	assert_int_equal(pvbench("ab", "--stored", seq, "--format", "json", NULL), 4);
	j = out_json();
	assert_string_equal(verdict_of(j, "op_p50"), "worse");
	cJSON_Delete(j);
	assert_int_equal(pvbench("compare", seq, NULL), 0);
}

/* What cannot make an A/B pair is refused before anything runs. */
static void ab_refuses_what_is_not_a_pair(void **state)
{
	char ini[400];
	snprintf(ini, sizeof(ini), "%s/configs/null.ini", getenv("PVBENCH_SRC") ? getenv("PVBENCH_SRC") : ".");
	assert_int_equal(pvbench("ab", ini, "-a", "ops=10", "-b", "ops=20", NULL), 1);     /* work_us is still a list */
	assert_int_equal(pvbench("ab", ini, "-a", "work_us=10", "-b", "work_us=10", NULL), 1);
	assert_int_equal(pvbench("ab", ini, "-a", "work_us=10", "-b", "nosuchkey=1", NULL), 1);
	assert_int_equal(pvbench("ab", "--stored", "nosuch-ab-1", NULL), 1);
	assert_int_equal(access(db, F_OK), -1); /* nothing ran: not even a store was made */
}

static void write_file(const char *name, const char *text)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s", tmp, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* the newest change of the one series, or NULL */
static cJSON *newest_change(cJSON *j, int *nights)
{
	cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "experiments"), 0);
	cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "series"), 0);
	*nights = cJSON_GetArraySize(cJSON_GetObjectItem(s, "points"));
	cJSON *ch = cJSON_GetObjectItem(s, "changes");
	return cJSON_GetArraySize(ch) ? cJSON_GetArrayItem(ch, cJSON_GetArraySize(ch) - 1) : NULL;
}

/* A nightly made twice, the second with a regression planted by a config switch: the second
 * flags it (exit 4), at its own session, between the two builds under test. */
static void nightly_flags_a_planted_regression(void **state)
{
	char suite[400];
	int nights;
	write_file("n.ini", "[global]\ntype = null\nwork_us = 100\nops = 50\nrepeat = 5\n");
	write_file("smoke.suite", "[suite]\ndescription = test\nexperiment = n.ini\n");
	snprintf(suite, sizeof(suite), "%s/smoke.suite", tmp);

	assert_int_equal(pvbench("nightly", suite, "--under-test", "build-1", "--format", "json", NULL), 0);
	cJSON *j = out_json();
	assert_null(newest_change(j, &nights));
	assert_int_equal(nights, 1);
	cJSON_Delete(j);
	assert_int_equal(pvbench("nightly", suite, "--under-test", "build-2", "--set", "slowdown_pct=50",
				 "--format", "json", NULL), 4);
	j = out_json();
	cJSON *c = newest_change(j, &nights);
	assert_int_equal(nights, 2);
	assert_non_null(c);
	assert_string_equal(cJSON_GetObjectItem(c, "direction")->valuestring, "worse");
	assert_string_equal(cJSON_GetObjectItem(c, "after_under_test")->valuestring, "build-1");
	assert_string_equal(cJSON_GetObjectItem(c, "under_test")->valuestring, "build-2");
	/* 50% planted; a noisy host moved it to 64% once (CI beside other work): the size, roughly */
	assert_in_range((long)cJSON_GetObjectItem(c, "change_pct")->valuedouble, 25, 100);
	cJSON_Delete(j);
	/* the store has both nights, each with its host and what was under test */
	assert_int_equal(sql_int("SELECT count(DISTINCT session) FROM runs WHERE experiment = 'n@smoke'"), 2);
	assert_int_equal(sql_int("SELECT count(*) FROM runs WHERE under_test = 'build-2' AND host != ''"), 5);
	/* judged again without running: the same verdict */
	assert_int_equal(pvbench("nightly", suite, "--judge", NULL), 4);
	assert_int_equal(sql_int("SELECT count(*) FROM runs"), 10);
	/* which way is worse is the metric's declaration, not its name: the rate fell, and that is
	 * worse (read from the name, op_rate was taken for a cost, and its fall for "better") */
	assert_int_equal(pvbench("nightly", suite, "--judge", "--metrics", "op_rate", "--format", "json", NULL), 4);
	j = out_json();
	c = newest_change(j, &nights);
	assert_non_null(c);
	assert_string_equal(cJSON_GetObjectItem(c, "direction")->valuestring, "worse");
	assert_true(cJSON_GetObjectItem(c, "change_pct")->valuedouble < 0);
	cJSON_Delete(j);
	/* --metrics picks what is judged: only ops here, a count the slowdown leaves alone */
	assert_int_equal(pvbench("nightly", suite, "--judge", "--metrics", "ops", "--format", "json", NULL), 0);
	j = out_json();
	cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "experiments"), 0), *sr;
	int nseries = 0;
	cJSON_ArrayForEach(sr, cJSON_GetObjectItem(e, "series")) {
		assert_string_equal(cJSON_GetObjectItem(sr, "metric")->valuestring, "ops");
		nseries++;
	}
	assert_true(nseries > 0);
	cJSON_Delete(j);
	/* a bad suite names file, line and key */
	write_file("bad.suite", "[suite]\nexperiments = n.ini\n");
	snprintf(suite, sizeof(suite), "%s/bad.suite", tmp);
	assert_int_equal(pvbench("nightly", suite, NULL), 1);
	/* read as experiment files are: a long comment is refused whole, its tail never a member */
	char text[600];
	snprintf(text, sizeof(text), "[suite]\nexperiment = n.ini\n; %0190d experiment = n.ini\n", 0);
	write_file("long.suite", text);
	snprintf(suite, sizeof(suite), "%s/long.suite", tmp);
	assert_int_equal(pvbench("nightly", suite, NULL), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM runs"), 10);
}

/* A member with nothing to judge says why: nothing stored yet, or every run skipped (a host
 * without KVM) with the reason; and every suite pvbench ships loads with its members. */
static void nightly_says_why_it_has_nothing_to_judge(void **state)
{
	char suite[400], text[4096];
	write_file("skip.ini", "[global]\ntype = null\nops = 5\nwork_us = 1, 2\noutcome = skipped\nrepeat = 2\n");
	write_file("skip.suite", "[suite]\nexperiment = skip.ini\n");
	snprintf(suite, sizeof(suite), "%s/skip.suite", tmp);
	assert_int_equal(pvbench("nightly", suite, "--judge", NULL), 0);
	read_text(out, text, sizeof(text));
	assert_non_null(strstr(text, "skip@skip: 0 nights\n  nothing to judge: no run of it is stored yet\n"));
	assert_int_equal(pvbench("nightly", suite, NULL), 0);
	read_text(out, text, sizeof(text));
	assert_non_null(strstr(text, "  nothing to judge: every variant: 4 skipped in all: unavailable: "
				     "the null type was asked to skip\n"));
	assert_null(strstr(text, "newest median")); /* no empty table head */

	DIR *d = opendir("configs");
	struct dirent *de;
	int suites = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 6, ".suite"))
			continue;
		snprintf(suite, sizeof(suite), "configs/%s", de->d_name);
		if (pvbench("nightly", suite, "--judge", NULL))
			fail_msg("%s does not load", suite);
		suites++;
	}
	closedir(d);
	assert_true(suites >= 2);
}

/* Verdicts on fixture runs: each rule of report/reproduce.h once, from a published table and
 * runs made by hand. */
/* The verdict rules' error rates, measured: runs with a planted effect (log-normal noise, 10%
 * per run) against a published table, n runs a side, many trials. "reproduced" must be rare
 * where the planted effect is not the published one (2x it, or none), and common where it is. */
static double normal(uint64_t *rng)
{
	double u = stats_rand_unit(rng), v = stats_rand_unit(rng);
	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static void reproduce_verdicts_are_right_often_enough(void **state)
{
	/* equivalence: "no change" needs the interval inside +-10%, which a 10%-noisy metric does
	 * not give at 10 runs (inconclusive, rightly); a 3%-noisy one does */
	static const struct { double pub, planted; const char *right, *name; int needs_precision; } plant[] = {
		{ 0.5, 0.5, "reproduced", "published -50%, planted the same", 0 },
		{ 0.5, 0.25, "direction only", "published -50%, planted 2x it (-75%)", 0 },
		{ 0.5, 1.0, "not reproduced", "published -50%, planted none", 1 },
		{ 1.0, 1.0, "reproduced", "published no change, planted none", 1 },
		{ 1.0, 0.5, "not reproduced", "published no change, planted -50%", 0 },
	};
	uint64_t rng = 7, brng = 11;
	double v[10], vb[10];

	for (int si = 0; si < 4; si++) {
		int n = si & 1 ? 10 : 5;
		double sd = si & 2 ? 0.03 : 0.10; /* per-run noise: a steady metric, and a noisy one */
		for (size_t k = 0; k < sizeof(plant) / sizeof(plant[0]); k++) {
			int right = 0, wrong_repro = 0, trials = 200;
			for (int t = 0; t < trials; t++) {
				for (int i = 0; i < n; i++) {
					vb[i] = 100 * exp(sd * normal(&rng));
					v[i] = 100 * plant[k].planted * exp(sd * normal(&rng));
				}
				struct repro_cell c = { .pub = 10 * plant[k].pub, .pub_base = 10, .v = v, .vb = vb, .n = (size_t)n,
							.nb = (size_t)n, .p_adj = NAN };
				reproduce_judge(&c, &brng);
				right += !strcmp(c.verdict, plant[k].right);
				wrong_repro += !strcmp(c.verdict, "reproduced") && strcmp(plant[k].right, "reproduced");
			}
			print_message("noise %2.0f%%, n = %2d  %-40s %3d%% %s, %d%% wrongly \"reproduced\"\n", sd * 100, n,
				      plant[k].name, 100 * right / trials, plant[k].right, 100 * wrong_repro / trials);
			assert_true(wrong_repro * 100 < 5 * trials);
			if (n == 10 && (sd < 0.05 || !plant[k].needs_precision)) /* the rules can say it */
				assert_true(right * 100 >= 50 * trials);
		}
	}
	/* a published +18% is not reproduced by a significant +1%: the size counts */
	for (int i = 0; i < 10; i++) {
		vb[i] = 6136 * (1 + 0.001 * (i % 3));
		v[i] = 6136 * 1.01 * (1 + 0.001 * (i % 3));
	}
	struct repro_cell small = { .pub = 7274, .pub_base = 6136, .v = v, .vb = vb, .n = 10, .nb = 10, .p_adj = NAN };
	reproduce_judge(&small, &brng);
	assert_string_equal(small.verdict, "direction only");
	/* a zero baseline is judged on differences: published 0 -> 0 with noisy runs is not "no change" */
	double z[5] = { 0, 0, 0, 0, 0 }, noisy[5] = { 0, 3, 0, 5, 1 };
	struct repro_cell c = { .pub = 0, .pub_base = 0, .v = noisy, .vb = z, .n = 5, .nb = 5, .p_adj = NAN };
	reproduce_judge(&c, &brng);
	assert_true(c.diff);
	assert_string_not_equal(c.verdict, "reproduced");
	struct repro_cell q = { .pub = 0, .pub_base = 0, .v = z, .vb = z, .n = 5, .nb = 5, .p_adj = NAN };
	reproduce_judge(&q, &brng);
	assert_string_equal(q.rule, "R1"); /* all ties: the test cannot say anything */
}

static void reproduce_verdicts_on_fixture_runs(void **state)
{
	char path[400], err[256];
	struct cmp_input in = { 0 };
	/* per column: our values are base x factor (+-2%); published ratio in the table */
	static const struct { const char *col; double factor; } ours[] = {
		{ "a", 1 }, { "b", 0.55 }, { "c", 5 }, { "d", 1 }, { "e", 2 },
	};
	write_file("t.json",
		   "{\"schema\": \"pvbench.reference/1\", \"id\": \"t\", \"title\": \"fixture\","
		   " \"source\": {\"file\": \"x\", \"lines\": \"1-2\"}, \"experiment\": \"configs/x.ini\","
		   " \"metric\": \"lat_avg\", \"unit\": \"us\", \"rows\": \"interval_us\", \"columns\": \"policy\","
		   " \"baseline\": \"A\", \"map\": {\"A\": \"a\", \"B\": \"b\", \"C\": \"c\", \"D\": \"d\", \"E\": \"e\", \"F\": \"f\"},"
		   " \"groups\": [{\"label\": \"G\", \"side\": \"guest\", \"where\": {\"host_load\": \"idle\"},"
		   " \"cells\": {\"500\": {\"A\": 10, \"B\": 5, \"C\": 20, \"D\": 10.5, \"E\": 5, \"F\": 3}}}]}");
	snprintf(path, sizeof(path), "%s/t.json", tmp);
	cJSON *ref = reproduce_load(path, err, sizeof(err));
	assert_non_null(ref);
	long long id = 1;
	for (size_t c = 0; c < sizeof(ours) / sizeof(ours[0]); c++)
		for (int r = 0; r < 6; r++) {
			struct cmp_run *run = cmp_add_run(&in, id++);
			cmp_add_param(run, "policy", ours[c].col);
			cmp_add_param(run, "interval_us", "500");
			cmp_add_param(run, "host_load", "idle");
			cmp_add_metric(run, "guest", -1, "lat_avg", 20000 * ours[c].factor * (0.98 + 0.008 * r), "ns", PVB_LESS);
			run->nested = c == 1 && r == 0; /* one run made on a nested KVM: the table says so */
		}
	/* the other host load must not count */
	struct cmp_run *other = cmp_add_run(&in, id++);
	cmp_add_param(other, "policy", "a");
	cmp_add_param(other, "interval_us", "500");
	cmp_add_param(other, "host_load", "busy");
	cmp_add_metric(other, "guest", -1, "lat_avg", 1e9, "ns", PVB_LESS);
	in.notes = calloc(1, sizeof(*in.notes));
	in.nnotes = 1;
	snprintf(in.notes[0].variant, sizeof(in.notes[0].variant), "interval_us=500 policy=f");
	snprintf(in.notes[0].status, sizeof(in.notes[0].status), "skipped");
	snprintf(in.notes[0].reason, sizeof(in.notes[0].reason), "unavailable: no ring-0 hypercall here");

	cJSON *arr = cJSON_CreateArray();
	struct repro_summary sum = { 0 };
	reproduce_table(ref, &in, "fixture", stdout, arr, &sum);
	cJSON *cells = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "cells"), *c;
	static const char *const want[][2] = {
		{ "A", "baseline" }, { "B", "reproduced" }, { "C", "direction only" }, { "D", "reproduced" },
		{ "E", "not reproduced" }, { "F", "not measured" },
	};
	int seen = 0;
	cJSON_ArrayForEach(c, cells) {
		const char *col = cJSON_GetObjectItem(c, "column")->valuestring;
		for (size_t w = 0; w < 6; w++)
			if (!strcmp(col, want[w][0])) {
				assert_string_equal(cJSON_GetObjectItem(c, "verdict")->valuestring, want[w][1]);
				seen++;
			}
		if (!strcmp(col, "A"))
			assert_in_range((long)cJSON_GetObjectItem(c, "median")->valuedouble, 19, 21);
		if (!strcmp(col, "F"))
			assert_non_null(strstr(cJSON_GetObjectItem(c, "why")->valuestring, "ring-0 hypercall"));
	}
	assert_int_equal(seen, 6);
	assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "note")->valuestring,
			       "KVM nested under TCG ran some of these runs"));
	assert_int_equal(sum.cells, 5);
	assert_int_equal(sum.reproduced, 2);
	assert_int_equal(sum.direction_only, 1);
	assert_int_equal(sum.not_reproduced, 1);
	assert_int_equal(sum.unjudged, 1);
	cJSON_Delete(arr);
	cJSON_Delete(ref);
	cmp_input_free(&in);
	/* a file that is not a published table says why */
	write_file("bad.json", "{\"schema\": \"pvbench.reference/1\", \"id\": \"x\"}");
	snprintf(path, sizeof(path), "%s/bad.json", tmp);
	assert_null(reproduce_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "title: missing"));
}

/* A row whose baseline was published as never finishing is judged on how often each column
 * finished: all against none, with enough runs, reproduces (R10); the baseline finishing as often
 * does not (R11); two runs a side cannot decide (R1). The finished runs' times are still shown. */
static void reproduce_judges_unconverged_cells_on_convergence(void **state)
{
	char path[400], err[256];
	write_file("u.json",
		   "{\"schema\": \"pvbench.reference/1\", \"id\": \"u\", \"title\": \"fixture\","
		   " \"source\": {\"file\": \"x\", \"lines\": \"1-2\"}, \"experiment\": \"configs/x.ini\","
		   " \"metric\": \"total_time\", \"unit\": \"s\", \"scale\": 0.001, \"rows\": \"job\","
		   " \"columns\": \"throttle\", \"baseline\": \"ac\", \"unconverged\": \"converged\","
		   " \"groups\": [{\"label\": \"A\", \"side\": \"vmm\", \"where\": {},"
		   " \"cells\": {\"r1\": {\"ac\": \"unconverged\", \"dq\": 400},"
		   " \"r2\": {\"ac\": \"unconverged\", \"dq\": 400},"
		   " \"r3\": {\"ac\": \"unconverged\", \"dq\": 400}}}]}");
	snprintf(path, sizeof(path), "%s/u.json", tmp);
	cJSON *ref = reproduce_load(path, err, sizeof(err));
	assert_non_null(ref);
	struct cmp_input in = { 0 };
	/* row: runs a side; how many of ac's and of dq's finished */
	static const struct { const char *row; int runs, ac, dq; const char *verdict; } rows[] = {
		{ "r1", 4, 0, 4, "reproduced" }, { "r2", 4, 3, 3, "not reproduced" }, { "r3", 2, 0, 2, "too few runs" },
	};
	long long id = 1;
	for (size_t k = 0; k < 3; k++)
		for (int col = 0; col < 2; col++)
			for (int r = 0; r < rows[k].runs; r++) {
				struct cmp_run *run = cmp_add_run(&in, id++);
				int done = r < (col ? rows[k].dq : rows[k].ac);
				cmp_add_param(run, "job", rows[k].row);
				cmp_add_param(run, "throttle", col ? "dq" : "ac");
				cmp_add_metric(run, "vmm", -2, "converged", done, "bool", PVB_MORE);
				if (done)
					cmp_add_metric(run, "vmm", -2, "total_time", 5000 + r, "ms", PVB_LESS);
			}
	cJSON *arr = cJSON_CreateArray();
	struct repro_summary sum = { 0 };
	reproduce_table(ref, &in, "fixture", stdout, arr, &sum);
	cJSON *c;
	int seen = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "cells")) {
		const char *row = cJSON_GetObjectItem(c, "row")->valuestring;
		if (strcmp(cJSON_GetObjectItem(c, "column")->valuestring, "dq"))
			continue;
		for (size_t k = 0; k < 3; k++)
			if (!strcmp(row, rows[k].row)) {
				assert_string_equal(cJSON_GetObjectItem(c, "verdict")->valuestring, rows[k].verdict);
				seen++;
			}
		if (!strcmp(row, "r1")) {
			assert_string_equal(cJSON_GetObjectItem(c, "rule")->valuestring, "R10");
			assert_in_range((long)cJSON_GetObjectItem(c, "median")->valuedouble, 5, 5); /* 5 s: ms scaled */
		}
	}
	assert_int_equal(seen, 3);
	assert_int_equal(sum.reproduced, 1);
	assert_int_equal(sum.not_reproduced, 1);
	cJSON_Delete(arr);
	cJSON_Delete(ref);
	cmp_input_free(&in);
}

/* reproduce --run runs what the tables judge: of a 12-variant experiment, the table's group
 * (busy host), its row (500 us) and its two columns (the baseline and the mapped "dynamic"). */
static void reproduce_runs_only_what_its_tables_judge(void **state)
{
	static struct experiment e;
	struct run_spec *runs;
	int nr, wanted = 0;
	char path[400], err[512];
	write_file("w.ini", "[global]\nworkload = cyclic\npolicy = vanilla, static, dynamic-eager\n"
			    "host_load = idle, busy\ninterval_us = 500, 1000\nrepeat = 2\n");
	write_file("w.json",
		   "{\"schema\": \"pvbench.reference/1\", \"id\": \"w\", \"title\": \"fixture\","
		   " \"source\": {\"file\": \"x\", \"lines\": \"1\"}, \"experiment\": \"w.ini\","
		   " \"metric\": \"lat_avg\", \"unit\": \"us\", \"rows\": \"interval_us\", \"columns\": \"policy\","
		   " \"baseline\": \"vanilla\", \"map\": {\"dynamic\": \"dynamic-eager\"},"
		   " \"groups\": [{\"label\": \"G\", \"where\": {\"host_load\": \"busy\"},"
		   " \"cells\": {\"500\": {\"vanilla\": 10, \"dynamic\": 5}}}]}");
	snprintf(path, sizeof(path), "%s/w.ini", tmp);
	if (experiment_load(path, &e, err, sizeof(err)) || experiment_matrix(&e, &runs, &nr, err, sizeof(err)))
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "%s/w.json", tmp);
	cJSON *ref = reproduce_load(path, err, sizeof(err));
	assert_non_null(ref);
	for (int i = 0; i < nr; i++)
		if (reproduce_wants(ref, &runs[i])) {
			wanted++;
			assert_string_equal(spec_str(&runs[i], "host_load"), "busy");
			assert_string_equal(spec_str(&runs[i], "interval_us"), "500");
			assert_string_not_equal(spec_str(&runs[i], "policy"), "static");
		}
	assert_int_equal(nr, 24);
	assert_int_equal(wanted, 4); /* 2 variants x 2 repeats */
	free(runs);
	cJSON_Delete(ref);
}

static int is_json(const struct dirent *e)
{
	return strstr(e->d_name, ".json") != NULL;
}

/* The estimate before `reproduce --run`: runs the tables judge that the store lacks, 5 s each
 * where nothing of the experiment is stored; after they ran, none to run, and a repeat more is
 * costed at the overhead the stored runs measured (whole seconds: far under 5 s), not at 5 s. */
static void reproduce_estimates_what_it_will_run(void **state)
{
	char ini[400], table[800];
	struct dirent **ents;
	FILE *devnull = fopen("/dev/null", "w");
	snprintf(ini, sizeof(ini), "%s/n.ini", tmp);
	write_file("n.ini", "[global]\ntype = null\nwork_us = 100, 200, 300\nops = 10, 20\nrepeat = 2\n");
	snprintf(table, sizeof(table),
		 "{\"schema\": \"pvbench.reference/1\", \"id\": \"n\", \"title\": \"fixture\","
		 " \"source\": {\"file\": \"x\", \"lines\": \"1\"}, \"experiment\": \"%s\","
		 " \"metric\": \"op_p50\", \"unit\": \"us\", \"rows\": \"ops\", \"columns\": \"work_us\","
		 " \"baseline\": \"100\", \"groups\": [{\"label\": \"G\", \"cells\": {\"10\": {\"100\": 1, \"200\": 2}}}]}",
		 ini);
	write_file("n.json", table);
	int n = scandir(tmp, &ents, is_json, alphasort);
	assert_int_equal(n, 1);
	const struct choice all = { .all = 1 };
	struct engine_opts eo = { .db = db };

	struct repro_cost c = repro_estimate(ents, n, tmp, &all, &eo, devnull);
	assert_int_equal(c.experiments, 1);
	assert_int_equal(c.runs, 4); /* 2 columns x 2 repeats of row 10; not work_us 300, not ops 20 */
	assert_int_equal(c.stored, 0);
	assert_int_equal(c.measured, 0);
	assert_true(c.ms == 4 * ENGINE_UNMEASURED_MS);

	assert_int_equal(pvbench("reproduce", "--published", tmp, "--run", "n", NULL), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM runs WHERE status = 'ok'"), 4);
	c = repro_estimate(ents, n, tmp, &all, &eo, devnull);
	assert_int_equal(c.runs, 0);
	assert_int_equal(c.stored, 4);

	char kv[] = "repeat=3";
	assert_int_equal(engine_opts_set(&eo, "reproduce", kv), 0);
	c = repro_estimate(ents, n, tmp, &all, &eo, devnull);
	assert_int_equal(c.runs, 2);
	assert_int_equal(c.stored, 4);
	assert_int_equal(c.measured, 1);
	assert_true(c.ms > 0 && c.ms <= 2 * 2000.0);
	/* another host's runs of it (an hour each, in a store pulled from the lab) are not this
	 * host's cost */
	sqlite3 *h;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "INSERT INTO runs(experiment, variant, rep, status, started_at, ended_at,"
				      " identity, host) SELECT experiment, variant, rep + 100, 'ok', '2026-01-01T00:00:00Z',"
				      " '2026-01-01T01:00:00Z', identity, 'elsewhere' FROM runs", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	c = repro_estimate(ents, n, tmp, &all, &eo, devnull);
	assert_true(c.ms > 0 && c.ms <= 2 * 2000.0);
	free(ents[0]);
	free(ents);
	fclose(devnull);
}

/* Every table in results/published loads, names an experiment file that exists, and each of its
 * cells has a row and a column. A table that would not load is found here, not by a user. */
static void every_published_table_loads(void **state)
{
	DIR *d = opendir("results/published");
	struct dirent *e;
	char path[600], err[300];
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "results/published/%s", e->d_name);
		cJSON *ref = reproduce_load(path, err, sizeof(err));
		if (!ref)
			fail_msg("%s", err);
		const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(ref, "experiment"));
		if (access(x, R_OK))
			fail_msg("%s: experiment %s: no such file", path, x);
		const cJSON *g, *row;
		int cells = 0;
		cJSON_ArrayForEach(g, cJSON_GetObjectItem(ref, "groups"))
			cJSON_ArrayForEach(row, cJSON_GetObjectItem(g, "cells"))
				cells += cJSON_GetArraySize(row);
		if (!cells)
			fail_msg("%s: no cells", path);
		cJSON_Delete(ref);
		n++;
	}
	closedir(d);
	assert_true(n >= 12); /* seed 001's five, seed 000's four, 003's two, 004's one */
}

/* Two A/B sessions of the same experiment started in the same second are two sessions: the
 * second takes the next number (it once shared the first's NAME-ab-DATE, and their runs merged). */
static void ab_sessions_started_together_stay_apart(void **state)
{
	char bin[512], err[256], ini[400];
	struct child c[2];

	write_file("s.ini", "[global]\ntype = null\nwork_us = 10, 20\nops = 20\n");
	snprintf(ini, sizeof(ini), "%s/s.ini", tmp);
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	char *argv[] = { bin, "ab", ini, "-a", "work_us=10", "-b", "work_us=20", "--min-runs", "4", "--max-runs", "4",
			 "--seed", "1", "--db", db, NULL };
	struct child_io io = { .stdout_path = "/dev/null", .stderr_path = "/dev/null" };
	for (int i = 0; i < 2; i++)
		assert_int_equal(child_spawn(&c[i], argv, &io, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		assert_true(child_wait(&c[i], 120000));
		assert_true(WIFEXITED(c[i].status) && WEXITSTATUS(c[i].status) != 1); /* each judged its own */
	}
	assert_int_equal(sql_int("SELECT count(DISTINCT experiment) FROM runs WHERE experiment LIKE 's-ab-%'"), 2);
	/* each session has its own 4 + 4 + 4 runs, not the other's too */
	assert_int_equal(sql_int("SELECT max(n) FROM (SELECT count(*) AS n FROM runs GROUP BY experiment)"), 12);
}

/* Names come from users and stores: an experiment named like gnuplot source is drawn, not run
 * (plot once built gnuplot commands from it; a name with a quote ran system()). */
static void plot_draws_a_hostile_name_and_runs_nothing(void **state)
{
	static const char name[] = "q'; system(\"touch PWNED-by-a-name\"); y='";
	char ini[600], dir[600], png[900];

	snprintf(ini, sizeof(ini), "%s.ini", name);
	write_file(ini, "[global]\ntype = null\nwork_us = 10, 20\nops = 50\nrepeat = 2\n");
	snprintf(ini, sizeof(ini), "%s/%s.ini", tmp, name);
	snprintf(dir, sizeof(dir), "%s/out %s", tmp, name);
	assert_int_equal(pvbench("run", ini, NULL), 0);
	unlink("PWNED-by-a-name");
	int plot = pvbench("plot", "--out", dir, name, NULL);
	int ran = access("PWNED-by-a-name", F_OK) == 0; /* in the working directory gnuplot inherits */
	unlink("PWNED-by-a-name");
	assert_false(ran);
	assert_int_equal(plot, 0);
	snprintf(png, sizeof(png), "%s/bars-guest-op_p50.png", dir);
	assert_int_equal(access(png, R_OK), 0);
}

/* A plot of emulated runs says so in its title, as their tables do under them: a picture travels
 * without its footer. Plots of real runs carry no such line. */
static void plots_of_emulated_runs_say_so(void **state)
{
	static char buf[1 << 16];
	char ini[400], dir[400];
	sqlite3 *h;

	write_file("e.ini", "[global]\ntype = null\nwork_us = 10, 20\nops = 20\n");
	snprintf(ini, sizeof(ini), "%s/e.ini", tmp);
	snprintf(dir, sizeof(dir), "%s/plots", tmp);
	assert_int_equal(pvbench("run", ini, NULL), 0);
	assert_int_equal(pvbench("plot", "--out", dir, "e", NULL), 0);
	read_text(out, buf, sizeof(buf));
	assert_non_null(strstr(buf, "bars-guest-op_p50"));
	assert_null(strstr(buf, "not a latency measurement"));
	assert_null(strstr(buf, "nested under TCG"));
	/* the runs as a TCG run, then a nested KVM's, stores them */
	static const char *const as[] = {
		"UPDATE runs SET vmm = 'QEMU 7.2 (tcg): not a latency measurement'",
		"UPDATE runs SET vmm = 'QEMU 7.2', kvm_backend = 'kvm_amd, nested under TCG'",
	};
	static const char *const says[] = { "accel=tcg: QEMU's emulator ran these guests", "KVM nested under TCG" };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		assert_int_equal(sqlite3_exec(h, as[i], NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(h);
		assert_int_equal(pvbench("plot", "--out", dir, "e", NULL), 0);
		read_text(out, buf, sizeof(buf));
		for (char *l = buf; *l; l += strcspn(l, "\n"), l += *l == '\n') /* on every plot's line */
			assert_true(strstr(l, says[i]) && strstr(l, says[i]) < l + strcspn(l, "\n"));
	}
}

/* The dashboard writes names as text and gives each its own page: a published table whose file
 * name is markup is shown escaped, and two experiments whose names differ only where a file name
 * cannot (a space and an underscore) get two pages, not one overwritten by the other. */
static void dashboard_escapes_names_and_keeps_their_pages_apart(void **state)
{
	static const char hostile[] = "<img src=x onerror=alert(1)>";
	char pub[400], cmd[1200], html[400], ini[400];
	static char buf[1 << 20];

	snprintf(pub, sizeof(pub), "%s/pub", tmp);
	assert_int_equal(mkdir_p(pub), 0);
	snprintf(cmd, sizeof(cmd), "cp results/published/001-cyclictest-idle-avg.json '%s/%s.json'", pub, hostile);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 2; i++) {
		write_file(i ? "a b.ini" : "a_b.ini", i ? "[global]\ntype = null\nops = 20\nwork_us = 10, 20\n"
						: "[global]\ntype = null\nops = 30\nwork_us = 10, 20\n");
		snprintf(ini, sizeof(ini), "%s/%s", tmp, i ? "a b.ini" : "a_b.ini");
		assert_int_equal(pvbench("run", ini, NULL), 0);
	}
	snprintf(html, sizeof(html), "%s/html", tmp);
	assert_int_equal(pvbench("report", "--html", html, "--published", pub, NULL), 0);
	snprintf(cmd, sizeof(cmd), "%s/index.html", html);
	read_text(cmd, buf, sizeof(buf));
	assert_null(strstr(buf, hostile));
	assert_non_null(strstr(buf, "&lt;img src=x onerror=alert(1)&gt;"));
	/* two experiments, two pages, each linked from the index */
	int pages = 0;
	for (char *p = strstr(buf, "href=\"exp-a"); p; p = strstr(p + 1, "href=\"exp-a")) {
		char name[200], path[700];
		assert_int_equal(sscanf(p, "href=\"%199[^\"]\"", name), 1);
		snprintf(path, sizeof(path), "%s/%s", html, name);
		assert_int_equal(access(path, R_OK), 0);
		pages++;
	}
	assert_int_equal(pages, 2);
	snprintf(cmd, sizeof(cmd), "test \"$(ls '%s' | grep -c '^exp-a')\" = 2", html);
	assert_int_equal(system(cmd), 0);
	/* no nightly suite, no A/B session: each section says what would make one; experiments
	 * are there, so theirs is a table */
	assert_non_null(strstr(buf, "<h2>Nightly suites</h2>\n<p class=\"none\">None in this store (<code>pvbench nightly"));
	assert_non_null(strstr(buf, "<h2>A/B sessions</h2>\n<p class=\"none\">None in this store (<code>pvbench ab"));
	assert_non_null(strstr(buf, "<h2>Experiments</h2>\n<table>"));
}

/* Commands that only read leave what they were pointed at as it was: no store made where there
 * was none, no pvbench tables added to another program's SQLite file. */
static void readers_write_nothing(void **state)
{
	char foreign[400], html[400], cmd[600];

	snprintf(html, sizeof(html), "%s/html", tmp);
	assert_int_equal(pvbench("plot", "--out", html, "x", NULL), 1);
	assert_int_equal(pvbench("report", "--html", html, NULL), 1);
	assert_int_equal(pvbench("reproduce", "--published", "results/published", "001-cyclictest-idle-avg", NULL), 1);
	assert_int_equal(pvbench("compare", "x", NULL), 1);
	assert_int_equal(pvbench("ab", "--stored", "x-ab-1", NULL), 1);
	assert_int_equal(access(db, F_OK), -1);
	snprintf(foreign, sizeof(foreign), "%s/other.sqlite", tmp);
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'CREATE TABLE notes(t); PRAGMA user_version = 2;'", foreign);
	assert_int_equal(system(cmd), 0);
	snprintf(db, sizeof(db), "%s", foreign);
	assert_int_equal(pvbench("compare", "x", NULL), 1);
	assert_int_equal(pvbench("plot", "--out", html, "x", NULL), 1);
	assert_int_equal(pvbench("run", "configs/null.ini", NULL), 1); /* a writer refuses it too */
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_master"), 1);
}

/* `pvbench CMD --db DB ARGS`, which must fail: what it said on stderr */
static const char *failed_saying(const char *cmd, const char *args)
{
	static char said[1024];
	char sh[1500], path[400];
	snprintf(path, sizeof(path), "%s/said.txt", tmp);
	snprintf(sh, sizeof(sh), "%s/pvbench %s --db %s %s 2>%s", build_dir(), cmd, db, args, path);
	assert_int_not_equal(system(sh), 0);
	read_text(path, said, sizeof(said));
	return said;
}

/* --html or --out naming a file, not a folder (a store, say, by a slip of the hand): refused
 * before anything is written, the file as it was. A mistyped experiment is named too. */
static void output_onto_a_file_is_refused(void **state)
{
	char file[400], text[600], want[600];
	write_file("smoke.ini", "[global]\ntype = null\nops = 5\nrepeat = 2\n");
	snprintf(file, sizeof(file), "%s/smoke.ini", tmp);
	assert_int_equal(pvbench("run", file, NULL), 0);
	snprintf(file, sizeof(file), "%s/keep.txt", tmp);
	write_file("keep.txt", "mine\n");
	assert_int_equal(pvbench("plot", "--out", file, "smoke", NULL), 1);
	/* said at once, as the folder's fault: no page attempted inside a file */
	snprintf(text, sizeof(text), "--html %s", file);
	snprintf(want, sizeof(want), "pvbench report: %s: Not a directory\n", file);
	assert_string_equal(failed_saying("report", text), want);
	read_text(file, text, sizeof(text));
	assert_string_equal(text, "mine\n");
	assert_int_equal(sql_int("SELECT count(*) FROM runs"), 2);
	/* an experiment the store does not have is an error that names the one meant, not an
	 * empty plot */
	for (int i = 0; i < 2; i++) {
		const char *said = failed_saying(i ? "plot" : "compare", "fio");
		assert_non_null(strstr(said, ": no experiment \"fio\" in "));
		assert_null(strstr(said, "did you mean")); /* nothing like it stored */
		said = failed_saying(i ? "plot" : "compare", "smoek");
		assert_non_null(strstr(said, ": no experiment \"smoek\" in "));
		assert_non_null(strstr(said, ": did you mean smoke?\n"));
	}
	/* a lab's store holds hundreds (nightly members, A/B sessions): each is still found, and
	 * still guessed */
	sqlite3 *h;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400)"
				      " INSERT INTO experiments(name, type) SELECT 'a' || i, 'null' FROM c", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(pvbench("compare", "smoke", NULL), 0);
	assert_non_null(strstr(failed_saying("compare", "smoek"), ": did you mean smoke?\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(ab_finds_a_planted_slowdown, setup),
		cmocka_unit_test_setup(ab_refuses_what_is_not_a_pair, setup),
		cmocka_unit_test_setup(nightly_flags_a_planted_regression, setup),
		cmocka_unit_test_setup(nightly_says_why_it_has_nothing_to_judge, setup),
		cmocka_unit_test_setup(reproduce_verdicts_on_fixture_runs, setup),
		cmocka_unit_test(reproduce_verdicts_are_right_often_enough),
		cmocka_unit_test(reproduce_judges_unconverged_cells_on_convergence),
		cmocka_unit_test_setup(reproduce_runs_only_what_its_tables_judge, setup),
		cmocka_unit_test_setup(reproduce_estimates_what_it_will_run, setup),
		cmocka_unit_test(every_published_table_loads),
		cmocka_unit_test_setup(plot_draws_a_hostile_name_and_runs_nothing, setup),
		cmocka_unit_test_setup(plots_of_emulated_runs_say_so, setup),
		cmocka_unit_test_setup(dashboard_escapes_names_and_keeps_their_pages_apart, setup),
		cmocka_unit_test_setup(readers_write_nothing, setup),
		cmocka_unit_test_setup(output_onto_a_file_is_refused, setup),
		cmocka_unit_test_setup(ab_sessions_started_together_stay_apart, setup),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
