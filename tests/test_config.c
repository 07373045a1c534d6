/* SPDX-License-Identifier: MIT */
/* Experiment files: every error names file:line: key: why (the first one in the file); matrices
 * expand and interleave; a run's identity holds every key that can change its result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"
#include "testlib.h"

static const char *write_ini(const char *text)
{
	static char dir[64], path[96];
	FILE *f;

	if (!dir[0])
		assert_int_equal(test_dir(dir, sizeof(dir), "config"), 0);
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

#define LONG50 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
#define LONG200 LONG50 LONG50 LONG50 LONG50
#define LONG40 "abcdefghijabcdefghijabcdefghijabcdefghij"

static const struct {
	const char *text, *error; /* error: expected after "<path>:" */
} bad[] = {
	{ "[global]\nvcpus = 2\nfrobnicate = 1\n", ":3: frobnicate: unknown key for type guest (pvbench run --keys" },
	/* a typo (a letter dropped, two swapped) names the key or value it was most likely meant as */
	{ "[global]\nintervl_us = 500\n", ":2: intervl_us: unknown key for type guest: did you mean interval_us? (" },
	{ "[global]\nvpcus = 2\n", ":2: vpcus: unknown key for type guest: did you mean vcpus? (" },
	{ "[global]\npolicy = dynamic-eagr\n", ":2: policy: unknown policy \"dynamic-eagr\": did you mean dynamic-eager? (vanilla," },
	{ "[global]\nvcpus = two\n", ":2: vcpus: \"two\" is not a number" },
	{ "[global]\nvcpus = 0\n", ":2: vcpus: 0 is outside [1, 16]" },
	{ "[global]\nduration = 5 parsecs\n", ":2: duration: \"5 parsecs\" is not a duration" },
	{ "[global]\npolicy = vanilla, turbo\n", ":2: policy: unknown policy \"turbo\" (vanilla, static, dynamic-eager, dynamic-lazy, dynamic-predictive, baseline, util_guest, uclamp_min, performance, powersave)" },
	{ "[global]\nworkload = nosuch\n", ":2: workload: unknown workload \"nosuch\"" },
	{ "[global]\nhost_load = medium\n", ":2: host_load: unknown host_load \"medium\" (idle, busy)" },
	{ "[global]\ntype = fio\n", ":2: type: unknown type \"fio\"" },
	{ "[global]\ntype = null\npolicy = static\n", ":3: policy: unknown key for type null" },
	{ "[global]\n[a]\ntype = null\n", ":3: type: set it in [global]" },
	{ "[global]\n[a]\ndescription = x\n", ":3: description: set it in [global]" },
	/* several mistakes: the first is the one reported */
	{ "[global]\nvcpus = x\npolicy = turbo\nfoo = 1\n", ":2: vcpus: \"x\" is not a number" },
	{ "[global]\nthis line is not ini\nvcpus = x\n", ":2: not INI syntax" },
	/* libinih cuts lines at 199 characters and section names at 49: refused, not cut */
	{ "[global]\n; " LONG200 "\nvcpus = 1\n", ":2: line is 202 characters long" },
	{ "[global]\ndescription = " LONG200 "\n", ":2: line is 214 characters long" },
	{ "[global]\n[" LONG50 "a]\nvcpus = 1\n[" LONG50 "b]\nvcpus = 2\n", ":2: section name" },
	{ "", ": no [global] or job section: nothing to run" },
	{ "; only a comment\n", ": no [global] or job section: nothing to run" },
	{ "[global]\npolicy =\n", ":2: policy: empty value" },
	{ "[global]\npolicy = vanilla,,static\n", ":2: policy: empty value in the list" },
	{ "[global]\npolicy = vanilla, vanilla\n", ":2: policy: \"vanilla\" listed twice" },
	{ "[global]\nrepeat = 2, 3\n", ":2: repeat: takes one value, not a list" },
	{ "[global]\nvcpus = 1\nvcpus = 2\n", ":3: vcpus: set twice in [global] (first at line 2)" },
	{ "vcpus = 1\n", ":1: vcpus: set outside a section" },
	{ "[global]\n; fine\nthis line is not ini\n", ":3: not INI syntax" },
	{ "[global]\nhost_cyclictest = maybe\n", ":2: host_cyclictest: \"maybe\" is not on/off" },
	{ "[global]\nduration = 1500ms\n", ":2: duration: must be whole seconds while host_cyclictest=on" },
	/* a section met twice is a mistake, not two halves merged */
	{ "[global]\nvcpus = 1\n[global]\nrepeat = 2\n", ":3: [global] again (first at line 1)" },
	{ "[global]\n[a]\nvcpus = 1\n[b]\n[a]\nrepeat = 2\n", ":5: [a] again (first at line 2)" },
	/* a matrix too big is refused before it is built, across jobs too (it once wrapped past the
	 * limit and grew until memory ran out) */
	{ "[global]\ntype = null\nwork_us = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
	  "ops = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
	  "slowdown_pct = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\nrepeat = 25\n",
	  ": [t]: more than 100000 runs in all (4096 variants x 25 repeats)" },
	{ "[global]\ntype = null\nwork_us = 1,2,3,4,5,6,7,8,9,10\nops = 1,2,3,4,5,6,7,8,9,10\nrepeat = 600\n"
	  "[j1]\n[j2]\n", ": [j2]: more than 100000 runs in all" },
	/* a variant that does not fit is refused: cut, two variants would be one run */
	{ "[global]\njob_args = x=" LONG50 LONG40 ", y=" LONG50 LONG40 "\n"
	  "dvfs_cpus = " LONG50 LONG40 ", b" LONG50 LONG40 "\n"
	  "policy = vanilla, dynamic-predictive\nhost_load = idle, busy\nguest_load = idle, busy\n",
	  ": [t]: a run's variant is longer than 254 characters" },
};

static void every_bad_input_names_place_and_cause(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	char err[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_ini(bad[i].text);
		char want[512];
		snprintf(want, sizeof(want), "%s%s", path, bad[i].error);
		if (experiment_load(path, e, err, sizeof(err)) != -1)
			fail_msg("case %zu was accepted: %s", i, bad[i].text);
		if (strncmp(err, want, strlen(want)))
			fail_msg("case %zu:\n got: %s\nwant: %s...", i, err, want);
	}
	assert_int_equal(experiment_load("/nonexistent/x.ini", e, err, sizeof(err)), -1);
	/* a NUL byte would end the line where it is, silently: refused */
	const char *path = write_ini("[global]\nvcpus = 2\n");
	FILE *f = fopen(path, "a");
	fwrite("repeat = 2\0\nvcpus = 3\n", 1, 22, f);
	fclose(f);
	assert_int_equal(experiment_load(path, e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3: a NUL byte at column 11"));
	/* a file named ".ini" gives no name: said, not an empty experiment name */
	assert_int_equal(experiment_load("/tmp/.ini", e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(experiment_load("configs", e, err, sizeof(err)), -1);
	assert_string_equal(err, "configs: not an experiment file (a directory)");
	free(e);
}

/* Editing any key that can change a result makes a new identity; bookkeeping keys never do. */
/* What editors and users write is read as meant: a UTF-8 byte-order mark, a name with dots. */
static void bom_and_dotted_names_are_read(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	char err[1024], dir[64], path[128];

	assert_int_equal(test_dir(dir, sizeof(dir), "config-names"), 0);
	snprintf(path, sizeof(path), "%s/.dotted.v2.ini", dir);
	FILE *f = fopen(path, "w");
	fputs("\xef\xbb\xbf[global]\nvcpus = 2\n", f);
	fclose(f);
	if (experiment_load(path, e, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(experiment_global(e, "vcpus"), "2");
	assert_string_equal(e->name, ".dotted.v2");
	unlink(path);
	free(e);
}

static void identity_holds_every_result_key(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	struct run_spec *r;
	char err[512], first[1024];
	int n;
	static const char *const edits[] = { "duration = 3s", "vcpus = 2", "mem_mb = 128",
					     "job_args = hist_us=20000", "static_prio = 60", "vmm = pvbench" };
	static const char *const bookkeeping[] = { "repeat = 5", "timeout = 90s",
						   "description = other words", "baseline = policy=static" };

	assert_int_equal(experiment_load(write_ini("[global]\nduration = 2s\n"), e, err, sizeof(err)), 0);
	assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
	snprintf(first, sizeof(first), "%s", r[0].identity);
	assert_non_null(strstr(first, "duration=2s"));
	free(r);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[global]\nduration = 2s\n%s\n", edits[i]);
		if (!strncmp(edits[i], "duration", 8))
			snprintf(text, sizeof(text), "[global]\n%s\n", edits[i]);
		assert_int_equal(experiment_load(write_ini(text), e, err, sizeof(err)), 0);
		assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
		if (!strcmp(r[0].identity, first))
			fail_msg("editing \"%s\" kept the identity", edits[i]);
		free(r);
	}
	for (size_t i = 0; i < sizeof(bookkeeping) / sizeof(bookkeeping[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[global]\nduration = 2s\n%s\n", bookkeeping[i]);
		assert_int_equal(experiment_load(write_ini(text), e, err, sizeof(err)), 0);
		assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
		assert_string_equal(r[0].identity, first);
		assert_string_equal(r[0].variant, "default"); /* never an axis */
		free(r);
	}
	free(e);
}

/* Command-line settings go through the same key table as the file. */
static void settings_after_the_file(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	struct run_spec *r;
	char err[512];
	int n;

	assert_int_equal(experiment_load(write_ini("[global]\ntype = null\nops = 10\n"), e, err, sizeof(err)), 0);
	assert_int_equal(experiment_set(e, "--ops", "ops", "20", err, sizeof(err)), 0);
	assert_int_equal(experiment_set(e, "--work-us", "work_us", "1, 2", err, sizeof(err)), 0);
	assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(spec_int(&r[0], "ops"), 20);
	free(r);
	assert_int_equal(experiment_set(e, "--ops", "ops", "zero", err, sizeof(err)), -1);
	assert_string_equal(err, "--ops: ops: \"zero\" is not a number");
	assert_int_equal(experiment_set(e, "--type", "type", "guest", err, sizeof(err)), -1);
	assert_int_equal(experiment_empty("memory", "memory", e, err, sizeof(err)), 0);
	assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 16); /* the defaults are lists: 8 backings x 2 vCPU counts */
	free(r);
	free(e);
}

static void matrix_expands_and_interleaves(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	struct run_spec *r;
	char err[512];
	int n;

	assert_int_equal(experiment_load(write_ini("[global]\npolicy = vanilla, static\n"
						   "interval_us = 500, 1000\nrepeat = 3\nduration = 2s\n"),
					 e, err, sizeof(err)), 0);
	assert_int_equal(e->nr_jobs, 1); /* only [global]: one job */
	assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 12);
	/* every variant once per repetition; repetition 2 starts one variant later */
	assert_string_equal(r[0].variant, "interval_us=500 policy=vanilla");
	assert_string_equal(r[1].variant, "interval_us=500 policy=static");
	assert_string_equal(r[2].variant, "interval_us=1000 policy=vanilla");
	assert_string_equal(r[3].variant, "interval_us=1000 policy=static");
	assert_string_equal(r[4].variant, "interval_us=500 policy=static");
	assert_int_equal(r[4].rep, 2);
	assert_string_equal(r[7].variant, "interval_us=500 policy=vanilla");
	for (int rep = 0; rep < 3; rep++) /* no variant twice within a repetition */
		for (int i = 0; i < 4; i++)
			for (int j = i + 1; j < 4; j++)
				assert_string_not_equal(r[rep * 4 + i].variant, r[rep * 4 + j].variant);
	assert_int_equal(spec_int(&r[0], "duration"), 2000);
	assert_int_equal(spec_int(&r[0], "vcpus"), 1); /* the default */
	assert_string_equal(spec_str(&r[0], "host_load"), "idle");
	free(r);
	free(e);
}

static void jobs_inherit_global_and_override(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	struct run_spec *r;
	char err[512];
	int n;

	assert_int_equal(experiment_load(write_ini("[global]\nvcpus = 2\nhost_load = idle, busy\n"
						   "[a]\npolicy = static\n[b]\nvcpus = 1\n"),
					 e, err, sizeof(err)), 0);
	assert_int_equal(e->nr_jobs, 2);
	assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_string_equal(r[0].variant, "job=a host_load=idle");
	assert_string_equal(spec_str(&r[0], "policy"), "static");
	assert_int_equal(spec_int(&r[0], "vcpus"), 2);
	assert_string_equal(r[2].variant, "job=b host_load=idle");
	assert_int_equal(spec_int(&r[2], "vcpus"), 1);
	assert_string_equal(spec_str(&r[2], "policy"), "vanilla");
	assert_string_not_equal(r[0].identity, r[2].identity);
	free(r);
	free(e);
}

/* Every file in configs/ loads and expands. */
static void shipped_configs_load(void **state)
{
	struct experiment *e = malloc(sizeof(*e));
	struct run_spec *r;
	char err[512], path[600];
	int n, files = 0;
	DIR *d = opendir("configs");
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strstr(de->d_name, ".ini"))
			continue;
		snprintf(path, sizeof(path), "configs/%s", de->d_name);
		if (experiment_load(path, e, err, sizeof(err)) && !strstr(err, "refused"))
			fail_msg("%s", err);
		if (strstr(err, "refused")) /* a policy this host cannot apply: still parsed */
			continue;
		assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
		assert_true(n >= 4);
		free(r);
		files++;
	}
	closedir(d);
	assert_true(files >= 5);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_bad_input_names_place_and_cause),
		cmocka_unit_test(bom_and_dotted_names_are_read),
		cmocka_unit_test(matrix_expands_and_interleaves),
		cmocka_unit_test(jobs_inherit_global_and_override),
		cmocka_unit_test(identity_holds_every_result_key),
		cmocka_unit_test(settings_after_the_file),
		cmocka_unit_test(shipped_configs_load),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
