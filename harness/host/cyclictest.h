/* SPDX-License-Identifier: MIT */
/* rt-tests' cyclictest on the host: its command line and its JSON output, read into the same
 * metric names as pvbench's own cyclic (samples, lat_min/avg/max, lat_p50/p99/p99.9 in ns). */
#ifndef PVB_CYCLICTEST_H
#define PVB_CYCLICTEST_H

#include "metrics.h"

#define CYCLICTEST_HIST_US 10000

/* argv for: cyclictest -q -D <s> -i <us> -t <threads> [-p <prio>] -h 10000 --json=<path>.
 * prio 0 leaves SCHED_OTHER (cyclictest's default, and the seed's command line). */
void cyclictest_argv(char **argv, char bufs[][32], int duration_s, int interval_us, int threads,
		     int prio, const char *json_path);

/* Parses cyclictest's --json file into out, added to what it holds (an initialised set). Thread
 * i -> cpu i, the total -> METRIC_CPU_ALL. Returns 0, or -1 with a sentence in err. */
int cyclictest_read_json(const char *path, struct metric_set *out, char *err, size_t errlen);

struct child;
/* The end of a cyclictest started beside a run, which ends on its own a little after it: waits
 * up to 10 s (then kills it: a failure, not fewer numbers), checks its exit status, reads its
 * JSON into out. 0, or -1 with a sentence in err. */
int cyclictest_collect(struct child *c, const char *json_path, struct metric_set *out, char *err,
		       size_t errlen);

#endif
