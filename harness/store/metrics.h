/* SPDX-License-Identifier: MIT */
/* A validated result record flattened into metrics: what the store keeps and tables show. */
#ifndef PVB_METRICS_H
#define PVB_METRICS_H

#include <stddef.h>
#include "pvb_record.h" /* enum pvb_better: PVB_LESS, PVB_MORE, PVB_INFO */

/* Where a metric comes from. harness = pvbench's own cost; vmm = what the VMM saw (exits). */
enum side { SIDE_GUEST, SIDE_HOST, SIDE_POLICY, SIDE_VMM, SIDE_HARNESS, NR_SIDES };
extern const char *const side_names[NR_SIDES];

#define METRIC_CPU_ALL -1
#define METRIC_CPU_VM  -2

struct metric {
	char name[40];           /* "lat_avg", "lat_p99", "boot.to_workload" */
	char unit[8];            /* "ns", "count", ... */
	int cpu;                 /* vCPU, METRIC_CPU_ALL or METRIC_CPU_VM */
	int better;              /* enum pvb_better, as its maker declared */
	double value;
};

/* A latency distribution as measured (guest record, host cyclictest): what plots draw. */
struct metric_hist {
	char name[40];           /* "lat" */
	int cpu;
	unsigned bucket_ns, nr;
	unsigned long long overflow;
	unsigned *counts;
};

struct metric_set {
	struct metric *m;
	size_t n, cap;
	struct metric_hist *h;
	size_t nh;
	char text[512];          /* the record's message, if any */
};

/* A guest's result record as a set: out is emptied first (it need not be initialised; one that
 * holds metrics would leak them), then filled. Percentiles derived from every histogram:
 * <hist>_p50, _p99, _p99.9 (ns), clamped into the exact [<hist>_min, <hist>_max] when the record
 * has them. */
int metrics_from_record(const void *rec, struct metric_set *out);
/* Adds a metric, with which way it improves (better: PVB_LESS, PVB_MORE or PVB_INFO); a value
 * that is not finite (a NaN from a missing guest figure) is refused with -1, so that nothing
 * downstream stores or averages it. */
int metrics_add(struct metric_set *s, const char *name, const char *unit, enum pvb_better better, int cpu,
		double v);
/* Adds a copy of a histogram. 0, or -1 (out of memory). */
int metrics_add_hist(struct metric_set *s, const char *name, int cpu, unsigned bucket_ns,
		     const unsigned *counts, unsigned nr, unsigned long long overflow);
const struct metric *metrics_find(const struct metric_set *s, const char *name, int cpu);
void metrics_free(struct metric_set *s);

/* The value at quantile q (0..1) of a 1-bucket-per-bucket_ns histogram, in ns: the lower edge of
 * the bucket holding the ceil(q * n)-th value (as cyclictest's histogram reads). Overflowed
 * values count as the histogram's upper edge. Returns -1 for an empty histogram. */
double hist_quantile_ns(const unsigned *counts, unsigned nr, unsigned long long overflow,
			unsigned bucket_ns, double q);

/* The direction of a metric stored before directions were declared (a store's older rows):
 * read from its name as pvbench did then. Every metric made since carries its own. */
enum pvb_better metric_better_by_name(const char *name);
/* "less", "more", "info"; and back (-1: none of them) */
const char *metric_better_name(int better);
int metric_better_parse(const char *s);

#endif
