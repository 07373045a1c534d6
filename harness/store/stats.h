/* SPDX-License-Identifier: MIT */
/* Statistics over per-run values. Latency is heavy-tailed: runs are compared with a rank test
 * (Mann-Whitney U), never a t-test on raw latencies. */
#ifndef PVB_STATS_H
#define PVB_STATS_H

#include <stddef.h>
#include <stdint.h>

double stats_mean(const double *x, size_t n);
double stats_sd(const double *x, size_t n);        /* sample standard deviation; 0 if n < 2 */
double stats_median(const double *x, size_t n);    /* x is not modified */
double stats_max(const double *x, size_t n);       /* NAN if n == 0 */

/* Two-sided p-value of the Mann-Whitney U (Wilcoxon rank-sum) test. Exact -- every assignment of
 * the pooled values to the two samples, ties at their mid-ranks -- when there are at most
 * STATS_EXACT_MAX_N values in all; beyond, the normal approximation with tie and continuity
 * correction. No minimum n: with few runs the exact p simply cannot get small (3 vs 3 is never
 * below 0.1; 4 vs 4 reaches 0.029). Returns NAN if a sample is empty. */
double stats_mann_whitney_p(const double *x, size_t nx, const double *y, size_t ny);
/* The smallest two-sided p that test can give for nx against ny values (no ties, every y above
 * every x): 2 / C(nx + ny, nx). 3 against 3 cannot go below 0.1, 4 against 4 reaches 0.029. */
double stats_mann_whitney_min_p(size_t nx, size_t ny);
#define STATS_EXACT_MAX_N 60

/* Holm's step-down adjustment of n p-values for n comparisons (NAN entries are not counted):
 * controls the family-wise error rate at the level the adjusted values are compared with. */
void stats_holm(const double *p, double *adj, size_t n);

/* Benjamini-Hochberg's step-up adjustment (NAN entries not counted): controls the false
 * discovery rate, the expected share of false "differences" among those reported, at the level the
 * adjusted values are compared with. Less strict than Holm where many metrics are compared. */
void stats_bh(const double *p, double *adj, size_t n);

/* The q-quantile (0..1) by linear interpolation between order statistics (R's type 7); NAN if
 * n == 0. x is not modified. */
double stats_quantile(const double *x, size_t n, double q);

/* A seeded generator (splitmix64): the same numbers for the same seed on every machine. */
uint64_t stats_rand(uint64_t *state);
double stats_rand_unit(uint64_t *state);     /* [0, 1) */

/* Percentile bootstrap confidence interval (level conf, e.g. 0.95) of
 * quantile_q(b) - quantile_q(a) over reps resamplings of each sample: no assumption about the
 * shape of either distribution, which for latency is skewed and heavy-tailed. 0, or -1 (and NANs)
 * when a sample is empty or the arguments are off. */
int stats_bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, double q,
			 int reps, double conf, uint64_t *rng, double *lo, double *hi);

#endif
