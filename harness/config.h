/* SPDX-License-Identifier: MIT */
/*
 * Experiment files: fio-style INI. [global] sets defaults; every other [section] is a job that
 * inherits them. A value may be a comma list on keys marked "axis": the job then runs once per
 * combination (its variants), repeat times, interleaved. Every key is in config.c's table, which
 * `pvbench run --keys` prints.
 */
#ifndef PVB_CONFIG_H
#define PVB_CONFIG_H

#include <stddef.h>

enum cfg_key {
	K_DESCRIPTION, K_WORKLOAD, K_VCPUS, K_MEM_MB, K_INTERVAL_US, K_DURATION, K_POLICY,
	K_STATIC_PRIO, K_HOST_LOAD, K_HOST_CYCLICTEST, K_HOST_CYCLICTEST_PRIO, K_REPEAT, K_TIMEOUT,
	K_BASELINE, K_JOB_ARGS, K_VMM,
	K__COUNT
};

#define CFG_MAX_VALUES 16
#define CFG_MAX_JOBS 16
#define CFG_VAL_LEN 128

struct cfg_values {
	char v[CFG_MAX_VALUES][CFG_VAL_LEN];
	int n;                   /* 0: not set here */
	int line;
};

struct cfg_job {
	char name[64];
	int line;
	struct cfg_values keys[K__COUNT];
};

struct experiment {
	char name[64];           /* file name without directory and .ini */
	char path[512];
	struct cfg_job global;
	struct cfg_job jobs[CFG_MAX_JOBS];
	int nr_jobs;
};

/* One run of the matrix. Values are the job's resolved ones (job, else global, else default). */
struct run_spec {
	int job;
	int rep;                 /* 1..repeat */
	int variant_idx;         /* index of the variant within its job */
	const char *val[K__COUNT];
	char variant[256];       /* canonical: "host_load=idle interval_us=500 policy=static" */
};

const char *cfg_key_name(enum cfg_key k);
int cfg_key_is_axis(enum cfg_key k);
void cfg_print_keys(void);

/* Parses and validates the file. 0, or -1 with "file:line: key: why" in err. */
int experiment_load(const char *path, struct experiment *e, char *err, size_t errlen);

/* Expands every job into variants x repeat, interleaved: repetition r runs every variant once,
 * starting one variant later than repetition r-1. *runs is malloc'd. 0 or -1 (err). */
int experiment_matrix(const struct experiment *e, struct run_spec **runs, int *nr, char *err,
		      size_t errlen);

/* A resolved value as a number (already validated at load). Durations in ms. */
long long run_int(const struct run_spec *r, enum cfg_key k);

#endif
