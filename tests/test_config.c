/* SPDX-License-Identifier: MIT */
/* Experiment files: every error names file:line: key: why; matrices expand and interleave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"

static const char *write_ini(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/pvbench-test-%d.ini", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static const struct {
	const char *text, *error; /* error: expected after "<path>:" */
} bad[] = {
	{ "[global]\nvcpus = 2\nfrobnicate = 1\n", ":3: frobnicate: unknown key" },
	{ "[global]\nvcpus = two\n", ":2: vcpus: \"two\" is not a number" },
	{ "[global]\nvcpus = 0\n", ":2: vcpus: 0 is outside [1, 16]" },
	{ "[global]\nduration = 5 parsecs\n", ":2: duration: \"5 parsecs\" is not a duration" },
	{ "[global]\npolicy = vanilla, turbo\n", ":2: policy: unknown policy \"turbo\" (vanilla, static)" },
	{ "[global]\nworkload = nosuch\n", ":2: workload: unknown workload \"nosuch\"" },
	{ "[global]\nhost_load = medium\n", ":2: host_load: unknown host load \"medium\"" },
	{ "[global]\npolicy =\n", ":2: policy: empty value" },
	{ "[global]\npolicy = vanilla,,static\n", ":2: policy: empty value in the list" },
	{ "[global]\npolicy = vanilla, vanilla\n", ":2: policy: \"vanilla\" listed twice" },
	{ "[global]\nrepeat = 2, 3\n", ":2: repeat: takes one value, not a list" },
	{ "[global]\nvcpus = 1\nvcpus = 2\n", ":3: vcpus: set twice in [global] (first at line 2)" },
	{ "vcpus = 1\n", ":1: vcpus: set outside a section" },
	{ "[global]\n; fine\nthis line is not ini\n", ":3: not INI syntax" },
	{ "[global]\nhost_cyclictest = maybe\n", ":2: host_cyclictest: \"maybe\" is not on/off" },
	{ "[global]\nduration = 1500ms\n", ": duration: must be whole seconds while host_cyclictest=on" },
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
	assert_non_null(strstr(err, "No such file"));
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
	assert_int_equal(run_int(&r[0], K_DURATION), 2000);
	assert_int_equal(run_int(&r[0], K_VCPUS), 1); /* the default */
	assert_string_equal(r[0].val[K_HOST_LOAD], "idle");
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
	assert_string_equal(r[0].val[K_POLICY], "static");
	assert_int_equal(run_int(&r[0], K_VCPUS), 2);
	assert_string_equal(r[2].variant, "job=b host_load=idle");
	assert_int_equal(run_int(&r[2], K_VCPUS), 1);
	assert_string_equal(r[2].val[K_POLICY], "vanilla");
	free(r);
	free(e);
}

static void shipped_configs_load(void **state)
{
	static const char *const files[] = { "configs/quick.ini", "configs/boost-cyclictest.ini" };
	struct experiment *e = malloc(sizeof(*e));
	struct run_spec *r;
	char err[512];
	int n;

	for (size_t i = 0; i < 2; i++) {
		if (experiment_load(files[i], e, err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(experiment_matrix(e, &r, &n, err, sizeof(err)), 0);
		assert_true(n >= 4);
		free(r);
	}
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_bad_input_names_place_and_cause),
		cmocka_unit_test(matrix_expands_and_interleaves),
		cmocka_unit_test(jobs_inherit_global_and_override),
		cmocka_unit_test(shipped_configs_load),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
