/* SPDX-License-Identifier: MIT */
/*
 * Change points in a nightly series: per session (night), the per-run values of one metric of
 * one variant. Method: binary segmentation with a windowed rank test. In a segment, every split
 * k is scored by Mann-Whitney U between the runs of the `window` sessions before k and the
 * `window` sessions from k on; the best split counts when its p, times the number of splits
 * tried (Bonferroni), is below alpha and the medians of the two windows differ by at least
 * min_rel; then both halves are searched the same way.
 * Why this: latency is skewed and heavy-tailed, and this machine is noisy, so a rank test (no
 * distribution assumed, an outlier is one rank) on every run, not on nightly means; the window
 * keeps slow drift from adding up to a "change"; Bonferroni over the splits keeps a series of pure
 * noise quiet at the stated rate; min_rel keeps a tiny but consistent shift (many runs make any
 * shift significant) from being flagged.
 */
#ifndef PVB_CHANGEPOINT_H
#define PVB_CHANGEPOINT_H

#include <stddef.h>

struct cp_params {
	int window;          /* sessions each side of a split, 5 */
	double alpha;        /* 0.05 */
	double min_rel;      /* 0.05: 5% of the earlier median */
};
#define CP_PARAMS_DEFAULT { .window = 5, .alpha = 0.05, .min_rel = 0.05 }

struct cp_change {
	size_t at;           /* the first session after the change */
	double before, after;/* medians of the runs in the windows either side */
	double p;            /* Bonferroni-adjusted */
};

/* v: every run's value, session after session; start[i] the index of session i's first run
 * (start[nsess] = the number of values). Returns how many changes (at most max) went to out,
 * ordered by session. */
size_t cp_detect(const double *v, const size_t *start, size_t nsess, const struct cp_params *p,
		 struct cp_change *out, size_t max);
/* The smallest corrected p the first split of a series could reach with these run counts per
 * session, whatever the values: at or above alpha, cp_detect can never flag a change in it (one
 * run a night over many nights cannot). */
double cp_best_p(const size_t *start, size_t nsess, const struct cp_params *p);

#endif
