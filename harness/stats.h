/* SPDX-License-Identifier: MIT */
/* Statistics over per-run values. Latency is heavy-tailed: runs are compared with a rank test
 * (Mann-Whitney U), never a t-test on raw latencies. */
#ifndef PVB_STATS_H
#define PVB_STATS_H

#include <stddef.h>

double stats_mean(const double *x, size_t n);
double stats_sd(const double *x, size_t n);        /* sample standard deviation; 0 if n < 2 */
double stats_median(const double *x, size_t n);    /* x is not modified */

/* Two-sided p-value of the Mann-Whitney U test. Exact (all rank arrangements) when both samples
 * have <= 20 values and no ties; otherwise the normal approximation with tie correction and
 * continuity correction. Returns NAN if a sample is empty. */
double stats_mann_whitney_p(const double *x, size_t nx, const double *y, size_t ny);

/* The smallest sample size per side at which compare marks significance. */
#define STATS_MIN_N 5

#endif
