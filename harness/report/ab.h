/* SPDX-License-Identifier: MIT */
/*
 * A/B verdicts. Each metric has three samples of per-run values: A, A' (more runs of A, run
 * interleaved with the others: the A/A pair) and B. For each metric:
 *   - the difference of medians, median(B) - median(A), and of a tail quantile (p90 over runs),
 *     each with a percentile-bootstrap confidence interval;
 *   - the noise floor, from the A/A pair: the half-width of the same interval for
 *     median(A') - median(A) -- the smallest difference this many runs resolve on this machine at
 *     this moment -- or the A/A difference itself where that is larger (the machine drifted);
 *   - Mann-Whitney U for B vs A, its p adjusted with Benjamini-Hochberg over the metrics compared.
 * The verdict is "better" or "worse" only when the adjusted p is below the FDR level, the
 * interval of the median difference excludes 0 and the difference exceeds the floor; otherwise
 * "no difference" (above the floor), or "too few runs". Which way is better is the metric's own
 * declaration (enum pvb_better); a metric that only describes the run is "changed", not judged.
 */
#ifndef PVB_AB_H
#define PVB_AB_H

#include <stdint.h>
#include <stdio.h>
#include "pvb_record.h"

/* AB_CHANGED: a real difference in a metric that describes the run (PVB_INFO), never judged */
enum ab_verdict { AB_SAME, AB_BETTER, AB_WORSE, AB_FEW, AB_CHANGED };

struct ab_params {
	double fdr;          /* Benjamini-Hochberg level, 0.05 */
	double conf;         /* confidence of the intervals, 0.95 */
	double tail;         /* the tail quantile over runs, 0.9 */
	double precision;    /* stop when every half-width <= precision x |median(A)| */
	int boot;            /* bootstrap resamplings, 2000 */
	uint64_t seed;
};
#define AB_PARAMS_DEFAULT { .fdr = 0.05, .conf = 0.95, .tail = 0.9, .precision = 0.05, .boot = 2000, .seed = 1 }

struct ab_metric {
	char side[12], name[40], unit[8];
	enum pvb_better better;          /* as its maker declared it */
	double *a, *a2, *b;              /* per-run values, owned by the caller */
	size_t na, na2, nb;
	/* out */
	double med_a, med_b;
	double d, d_lo, d_hi;            /* median(B) - median(A) */
	double t, t_lo, t_hi;            /* tail quantile(B) - tail quantile(A) */
	double floor;                    /* A/A: see above */
	double p, p_adj, p_aa;           /* B vs A (raw, BH-adjusted); A' vs A */
	enum ab_verdict verdict;
};

void ab_analyse(struct ab_metric *m, size_t n, const struct ab_params *p);
/* 1 when every metric's median-difference interval is within precision of median(A) */
int ab_precise(const struct ab_metric *m, size_t n, const struct ab_params *p);
const char *ab_verdict_name(enum ab_verdict v);

/* The report: one row per metric. stop says why the runs ended. */
struct ab_report {
	const char *experiment, *a, *b, *stop, *test, *note;
	int runs_a, runs_a2, runs_b;
};
void ab_render(FILE *f, const struct ab_report *r, const struct ab_metric *m, size_t n,
	       const struct ab_params *p, int json);

/* A session's runs from the store: A (odd reps of A's variant), A' (even reps) and B, one
 * ab_metric per metric asked (NULL: the experiment's) and side that has it. a_label NULL: the
 * session's baseline (A). */
struct store;
struct ab_arms {
	struct ab_metric *m;
	size_t n;
	int runs[3];                     /* A, A', B */
	int tcg;                         /* some ran under QEMU's emulator */
	int nested;                      /* some ran on a KVM nested under it */
	char a[256], b[256];             /* the variants */
};
int ab_load(struct store *st, const char *name, const char *a_label, const char *metrics,
	    struct ab_arms *out, char *err, size_t errlen);
void ab_arms_free(struct ab_arms *a);

/* For scripts: 4 if B is worse in any metric, else 3 if better in any, else 0. */
int ab_exit_status(const struct ab_metric *m, size_t n);
#define AB_EXIT_BETTER 3
#define AB_EXIT_WORSE 4
#define AB_EXIT_NOT_JUDGED 5
/* Why nothing was judged (no metric, or none with enough runs), or NULL when something was. */
const char *ab_not_judged(const struct ab_metric *m, size_t n);

#endif
