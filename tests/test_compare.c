/* SPDX-License-Identifier: MIT */
/* Comparison tables from a fixed synthetic data set: all four formats against golden files
 * (tests/golden/compare.*; PVBENCH_UPDATE_GOLDEN=1 rewrites them), and the statistics marks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>
#include "compare.h"
#include "store.h"
#include "testlib.h"

/* policy x interval_us x host_load, n runs each; static halves the guest's latency on a busy
 * host and costs the host 10%; vanilla and static are equal on an idle host */
static void make_input(struct cmp_input *in, int n)
{
	static const char *const pol[] = { "vanilla", "static" }, *const iv[] = { "500", "1000" },
			  *const load[] = { "idle", "busy" };
	long long id = 1;

	memset(in, 0, sizeof(*in));
	snprintf(in->experiment, sizeof(in->experiment), "synthetic");
	/* the guest type's table, as a stored definition gives it */
	snprintf(in->def_columns, sizeof(in->def_columns), "policy");
	snprintf(in->def_rows, sizeof(in->def_rows), "interval_us");
	for (int rep = 0; rep < n; rep++)
		for (int p = 0; p < 2; p++)
			for (int i = 0; i < 2; i++)
				for (int l = 0; l < 2; l++) {
					struct cmp_run *r = cmp_add_run(in, id++);
					double g = (l ? 200.0 : 100.0) * (p && l ? 0.5 : 1) + 3 * rep + 10 * i;
					double h = 50.0 * (p ? 1.1 : 1) + 2 * rep + (i ? 1 : 0);
					cmp_add_param(r, "workload", "cyclic");
					cmp_add_param(r, "policy", pol[p]);
					cmp_add_param(r, "interval_us", iv[i]);
					cmp_add_param(r, "host_load", load[l]);
					cmp_add_param(r, "baseline", "policy=vanilla");
					cmp_add_metric(r, "guest", -1, "lat_avg", g * 1000, "ns", PVB_LESS);
					cmp_add_metric(r, "guest", -1, "lat_max", g * 20000, "ns", PVB_LESS);
					cmp_add_metric(r, "host", -1, "lat_avg", h * 1000, "ns", PVB_LESS);
					cmp_add_metric(r, "host", -1, "lat_max", h * 30000, "ns", PVB_LESS);
					cmp_add_metric(r, "guest", 0, "lat_avg", 1, "ns", PVB_LESS); /* per-CPU: not shown */
				}
}

static void check_golden(enum cmp_format fmt, const char *name)
{
	struct cmp_input in;
	struct cmp_opts o = { .format = fmt, .metrics = "lat_avg,lat_max" };
	char *buf = NULL, path[256], err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	make_input(&in, 5);
	assert_int_equal(compare_render(&in, &o, f, err, sizeof(err)), 0);
	fclose(f);
	cmp_input_free(&in);
	snprintf(path, sizeof(path), "tests/golden/%s", name);
	if (getenv("PVBENCH_UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		fwrite(buf, 1, len, f);
		fclose(f);
	}
	f = fopen(path, "r");
	assert_non_null(f);
	char *want = calloc(1, len + 2);
	size_t n = fread(want, 1, len + 1, f);
	fclose(f);
	if (n != len || memcmp(want, buf, len))
		fail_msg("%s differs from the output:\n%s", path, buf);
	free(want);
	free(buf);
}

static void text_matches_golden(void **state) { check_golden(CMP_TEXT, "compare.txt"); }
static void markdown_matches_golden(void **state) { check_golden(CMP_MD, "compare.md"); }
static void csv_matches_golden(void **state) { check_golden(CMP_CSV, "compare.csv"); }
static void json_matches_golden(void **state) { check_golden(CMP_JSON, "compare.json"); }

static char *render(int n, const struct cmp_opts *o, int *rc)
{
	struct cmp_input in;
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	make_input(&in, n);
	*rc = compare_render(&in, o, f, err, sizeof(err));
	if (*rc)
		fprintf(f, "%s", err);
	fclose(f);
	cmp_input_free(&in);
	return buf;
}

/* The mark follows the exact test after Holm: 5 vs 5 complete separation (p = 0.0079) survives
 * the table's comparisons; 3 vs 3 (p >= 0.1) cannot. */
static void significance_follows_the_exact_test(void **state)
{
	struct cmp_opts o = { .format = CMP_CSV, .metrics = "lat_avg" };
	int rc;
	char *five = render(5, &o, &rc), *three;

	/* busy host, guest side: static is 50% lower in every run */
	assert_non_null(strstr(five, "synthetic,lat_avg,us,host_load=busy,500,guest,static,"));
	assert_non_null(strstr(five, ",-48.5437,0.00793651,0.031746,1\n"));
	three = render(3, &o, &rc);
	assert_null(strstr(three, ",1\n"));
	free(five);
	free(three);
}

/* A CSV field holding a comma or a quote (a job_args list value, an experiment's name) is quoted,
 * so that a reader gets the same columns on every line. */
static void csv_quotes_what_holds_a_comma(void **state)
{
	struct cmp_input in = { 0 };
	struct cmp_opts o = { .format = CMP_CSV, .metrics = "lat_avg" };
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	snprintf(in.experiment, sizeof(in.experiment), "odd,\"name\"");
	for (int rep = 0; rep < 2; rep++)
		for (int v = 0; v < 2; v++) {
			struct cmp_run *r = cmp_add_run(&in, 2 * rep + v + 1);
			cmp_add_param(r, "job_args", v ? "a=1, b=2" : "a=1");
			cmp_add_metric(r, "guest", -1, "lat_avg", 1000.0 * (v + 1) + rep, "ns", PVB_LESS);
		}
	assert_int_equal(compare_render(&in, &o, f, err, sizeof(err)), 0);
	fclose(f);
	cmp_input_free(&in);
	assert_non_null(strstr(buf, "\n\"odd,\"\"name\"\"\",lat_avg,us,,,guest,\"a=1, b=2\","));
	for (char *l = buf; *l; l = strchr(l, '\n') + 1) { /* every line has the header's 14 fields */
		int fields = 1, quoted = 0;
		for (char *c = l; *c && *c != '\n'; c++) {
			quoted ^= *c == '"';
			fields += !quoted && *c == ',';
		}
		assert_int_equal(fields, 14);
	}
	free(buf);
}

/* A new store in a directory of the test's own (path: its file) with experiment x of the null type
 * defined as two variants, work_us=1 and work_us=2, of the identities IDS. */
static const char *const vars[] = { "work_us=1", "work_us=2" };
static struct store *two_variants(char *path, size_t n, const char *name, const char *const ids[2])
{
	char dir[64], err[256];
	assert_int_equal(test_dir(dir, sizeof(dir), name), 0);
	snprintf(path, n, "%s/pvbench.db", dir);
	struct store *s = store_open(path, err, sizeof(err));
	assert_non_null(s);
	struct store_definition d = { .experiment = "x", .type = "null", .columns = "work_us",
				      .metrics = "op_p50", .n = 2, .identity = ids, .variant = vars };
	assert_int_equal(store_define(s, &d, err, sizeof(err)), 0);
	return s;
}

/* x's tables as text, from the store (in is kept for its counts) */
static char *tables_of(struct store *s, struct cmp_input *in)
{
	char err[256], *buf = NULL;
	size_t len = 0;
	struct cmp_opts o = { .format = CMP_TEXT };
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(compare_load(s, "x", in, err, sizeof(err)), 0);
	assert_int_equal(compare_render(in, &o, f, err, sizeof(err)), 0);
	fclose(f);
	return buf;
}

/* From a real store: only the current definition's runs are in the tables; runs under an older
 * definition are counted in one line, and what was skipped or failed says why; a numeric column
 * is headed with its key. */
static void compare_from_a_real_store(void **state)
{
	char path[128], err[256];
	static const char *const ids[] = { "type=null ops=1 work_us=1", "type=null ops=1 work_us=2" };
	struct store *s = two_variants(path, sizeof(path), "compare", ids);
	for (int i = 0; i < 8; i++) {
		struct metric_set m = { 0 };
		const char *k[] = { "work_us" }, *v[] = { i % 2 ? "2" : "1" };
		const char *id = i < 6 ? ids[i % 2] : "type=null ops=5 work_us=1";
		metrics_add(&m, "op_p50", "ns", PVB_LESS, -2, (i % 2 + 1) * 1000.0 + i);
		struct store_run r = { .experiment = "x", .variant = vars[i % 2], .identity = id,
				       .rep = i < 6 ? i / 2 + 1 : i, .nr_params = 1, .param_keys = k, .param_values = v,
				       .status = i == 5 ? "skipped" : "ok",
				       .reason = i == 5 ? "unavailable: no reason at all" : "",
				       .sets = { &m } };
		assert_int_equal(store_put_run(s, &r, err, sizeof(err)), 0);
		metrics_free(&m);
	}
	struct cmp_input in;
	char *buf = tables_of(s, &in);
	assert_int_equal(in.n, 5);          /* 6 current, one of them skipped */
	assert_int_equal(in.stale, 2);
	assert_non_null(strstr(buf, "1.0±0.0 (3)"));
	assert_non_null(strstr(buf, "(2)"));
	/* numbers as column heads say what they count */
	assert_non_null(strstr(buf, "     | work_us=1    work_us=2    Δ%\n"));
	assert_non_null(strstr(buf, "2 ok runs stored under an older definition of x are left out"));
	assert_non_null(strstr(buf, "not in the tables: work_us=2: 1 skipped: unavailable: no reason at all"));
	free(buf);
	cmp_input_free(&in);
	store_close(s);
	unlink(path);
}

/* One run has no spread: its cell shows the value and its count, no "±0.0". Runs made under TCG
 * or on a nested KVM are counted under the tables: their times are not a KVM host's. */
static void a_single_run_shows_no_spread(void **state)
{
	char path[128], err[256];
	static const char *const ids[] = { "type=null work_us=1", "type=null work_us=2" };
	struct store *s = two_variants(path, sizeof(path), "single", ids);
	for (int i = 0; i < 3; i++) { /* work_us=1 twice, work_us=2 once */
		struct metric_set m = { 0 };
		const char *k[] = { "work_us" }, *v[] = { i == 2 ? "2" : "1" };
		metrics_add(&m, "op_p50", "ns", PVB_LESS, -2, i == 2 ? 2500.0 : 1000.0 + i);
		struct store_run r = { .experiment = "x", .variant = vars[i == 2], .identity = ids[i == 2],
				       .rep = i == 2 ? 1 : i + 1, .nr_params = 1, .param_keys = k, .param_values = v,
				       .status = "ok", .reason = "", .sets = { &m },
				       .kvm_backend = i == 1 ? "kvm_amd, nested under TCG" : i ? "kvm_intel" : "none",
				       .vmm = i ? "QEMU 7.2" : "QEMU 7.2 (tcg): not a latency measurement" };
		assert_int_equal(store_put_run(s, &r, err, sizeof(err)), 0);
		metrics_free(&m);
	}
	struct cmp_input in;
	char *buf = tables_of(s, &in);
	assert_non_null(strstr(buf, "±"));     /* the two-run cell has its spread */
	assert_non_null(strstr(buf, " (1)")); /* the one-run cell its count */
	for (const char *p = strstr(buf, " (1)"); p; p = strstr(p + 1, " (1)")) {
		const char *c = p;
		while (c > buf && c[-1] != ' ' && c[-1] != '|')
			c--;
		assert_null(memmem(c, (size_t)(p - c), "±", strlen("±")));
	}
	/* one of the three was made under TCG, one on a nested KVM: the tables say so */
	assert_non_null(strstr(buf, "\naccel=tcg: QEMU's emulator ran 1 of these 3 runs: functional only, not a latency measurement\n"));
	assert_non_null(strstr(buf, "\nKVM nested under TCG ran 1 of these 3 runs: functional only, no timing is real\n"));
	free(buf);
	cmp_input_free(&in);
	store_close(s);
	unlink(path);
}

/* Variants left out for the same status and reason share one line; others keep their own; all
 * of them are "every variant". */
static void left_out_runs_are_grouped_by_reason(void **state)
{
	struct cmp_note notes[] = {
		{ "t=a", "skipped", "needs KVM", 2 }, { "t=b", "failed", "the guest crashed", 1 },
		{ "t=c", "skipped", "needs KVM", 2 },
	};
	struct cmp_input in = { .experiment = "y", .notes = notes, .nnotes = 3 };
	struct cmp_opts o = { .format = CMP_TEXT };
	char err[200], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(compare_render(&in, &o, f, err, sizeof(err)), -1); /* no ok runs at all */
	fclose(f);
	assert_string_equal(buf, "not in the tables: t=a; t=c: 4 skipped in all: needs KVM\n"
				 "not in the tables: t=b: 1 failed: the guest crashed\n");
	free(buf);
	/* all of them skipped for one reason (a host without KVM): one short line, not a list */
	snprintf(notes[1].status, sizeof(notes[1].status), "skipped");
	snprintf(notes[1].reason, sizeof(notes[1].reason), "needs KVM");
	f = open_memstream(&buf, &len);
	assert_int_equal(compare_render(&in, &o, f, err, sizeof(err)), -1);
	fclose(f);
	assert_string_equal(buf, "not in the tables: every variant: 5 skipped in all: needs KVM\n");
	free(buf);
}

static void bad_options_are_explained(void **state)
{
	struct cmp_opts o = { .format = CMP_TEXT, .columns = "nosuch" };
	int rc;
	char *out = render(2, &o, &rc);

	assert_int_equal(rc, -1);
	assert_non_null(strstr(out, "--columns nosuch: not a swept key"));
	free(out);
	o = (struct cmp_opts){ .format = CMP_TEXT, .baseline = "turbo" };
	out = render(2, &o, &rc);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(out, "baseline turbo: no such policy"));
	free(out);
	o = (struct cmp_opts){ .format = CMP_TEXT, .baseline = "static", .rows = "host_load" };
	out = render(2, &o, &rc); /* static as the baseline, rows swapped */
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "Δ% against policy=static"));
	assert_non_null(strstr(out, ", interval_us=500"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_matches_golden),
		cmocka_unit_test(markdown_matches_golden),
		cmocka_unit_test(csv_matches_golden),
		cmocka_unit_test(json_matches_golden),
		cmocka_unit_test(significance_follows_the_exact_test),
		cmocka_unit_test(csv_quotes_what_holds_a_comma),
		cmocka_unit_test(compare_from_a_real_store),
		cmocka_unit_test(a_single_run_shows_no_spread),
		cmocka_unit_test(left_out_runs_are_grouped_by_reason),
		cmocka_unit_test(bad_options_are_explained),
	};
	return cmocka_run_group_tests_name("compare", tests, NULL, NULL);
}
