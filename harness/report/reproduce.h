/* SPDX-License-Identifier: MIT */
/*
 * Reproduction verdicts: a seed's published table (one results/published/ file, schema
 * pvbench.reference/1) next to pvbench's runs of the matching experiment, cell by cell.
 * Absolute values differ with hardware, so a cell is judged on what can carry over: the
 * direction of each variant against the table's baseline column and the size of the change, a
 * ratio variant/baseline (medians; a 95% bootstrap interval on the log scale), or a difference
 * where a value is 0. Significance: Mann-Whitney U over per-run values, Benjamini-Hochberg over the
 * table's cells. Each verdict names the rule that decided it:
 *   R1 too few runs    the exact test cannot reach p < 0.05 with these runs, ties as they are
 *   R2 reproduced      significant, same direction, and the interval of the measured effect
 *                      over the published one inside [1/1.5, 1.5] (effects as log ratios, or
 *                      as differences)
 *   R3 direction only  significant, same direction, that interval not inside it
 *   R4 not reproduced  significant, opposite direction
 *   R5 not reproduced  a change published, and the interval here inside the no-change band
 *   R6 inconclusive    a change published, not significant, and not shown to be no change
 *   R7 reproduced      no change published (under 10%), and the interval here inside +-10%
 *   R8 not reproduced  no change published, a significant change here outside +-10%
 *   R9 inconclusive    no change published, the interval here neither inside nor outside
 * Where the baseline was published as never finishing (the migration seed's "Unconverged"), a
 * cell is judged on how many runs finished in each column (the table's "unconverged" names the
 * 0/1 metric), Fisher's exact test one-sided:
 *   R10 reproduced     the variant finished significantly more often than the baseline
 *   R11 not reproduced the baseline finished as often as the variant, or more
 *   R12 inconclusive   more often, not significantly (R1 when no outcome of these runs could be)
 *   not measured       no runs, with the stored reason (skipped, failed) or none stored
 * A simulation (tests/test_report.c) plants effects and measures how often each is right.
 */
#ifndef PVB_REPRODUCE_H
#define PVB_REPRODUCE_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "compare.h"

struct repro_summary { int cells, reproduced, direction_only, not_reproduced, unjudged, not_measured; };

#define REPRO_ALPHA 0.05
#define REPRO_NO_CHANGE 0.10     /* a change under 10% is "no change" (the band) */
#define REPRO_SIZE_TOL 1.5       /* "reproduced": measured / published effect (log ratio) within 1.5x */

/* One cell: the published pair and the measured runs in, the verdict out. */
struct repro_cell {
	double pub, pub_base;
	const double *v, *vb;            /* the variant's and the baseline's per-run values */
	size_t n, nb;
	double p_adj;                    /* adjusted over the table; NAN: the cell's own p */
	/* out */
	double med, med_base, p;
	double effect, pub_effect, lo, hi; /* ratios, or differences when diff */
	int diff;
	const char *verdict, *rule;
	char why[240];
};
void reproduce_judge(struct repro_cell *c, uint64_t *rng);

/* A cell whose baseline was published as never finishing: runs that finished, k of n and kb of nb. */
struct repro_conv {
	int k, n, kb, nb;
	double p;
	const char *verdict, *rule;
	char why[160];
};
void reproduce_judge_convergence(struct repro_conv *c);

/* Reads and checks a published table; NULL with "file: why" in err. */
cJSON *reproduce_load(const char *path, char *err, size_t errlen);

/* The experiment a published table is judged against, as the store names it: its file's base
 * name ("configs/boost-cyclictest.ini" -> "boost-cyclictest"). */
void reproduce_experiment_name(const cJSON *ref, char *out, size_t n);

/* Judges ref against in (the runs of its experiment; in may be empty). Text to out, or, with
 * json non-NULL, one object appended to that array. Adds to sum. */
void reproduce_table(const cJSON *ref, const struct cmp_input *in, const char *origin, FILE *out,
		     cJSON *json, struct repro_summary *sum);

/* Whether a run of the table's experiment is one the table judges (its group's where, a row
 * and a column it has, or the baseline column): what `reproduce --run` runs. */
struct run_spec;
int reproduce_wants(const cJSON *ref, const struct run_spec *r);

#endif
