/* SPDX-License-Identifier: MIT */
/*
 * Reproduction verdicts: a seed's published table (one results/published/ file, schema
 * pvbench.reference/1) next to pvbench's runs of the matching experiment, cell by cell.
 * Absolute values differ with hardware, so a cell is judged on what can carry over: the
 * direction of each variant against the table's baseline column (Mann-Whitney U over per-run
 * values, Benjamini-Hochberg over the table's cells; a published change under 10% counts as
 * none) and the ratio variant/baseline (medians; a bootstrap interval on the log scale).
 *   reproduced      same direction, and the published ratio inside the interval or within 2x
 *   direction only  same direction, the ratio further off
 *   not reproduced  opposite, or a published change not significant here (or the reverse)
 *   too few runs    the rank test cannot reach significance with so few runs
 *   inconclusive    not significant, yet the ratio's interval lies away from 1 (no "no change")
 *   not measured    no runs, with the stored reason (skipped, failed) or none stored
 */
#ifndef PVB_REPRODUCE_H
#define PVB_REPRODUCE_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "compare.h"

struct repro_summary { int cells, reproduced, direction_only, not_reproduced, unjudged; };

/* Reads and checks a published table; NULL with "file: why" in err. */
cJSON *reproduce_load(const char *path, char *err, size_t errlen);

/* The experiment a published table is judged against, as the store names it: its file's base
 * name ("configs/boost-cyclictest.ini" -> "boost-cyclictest"). */
void reproduce_experiment_name(const cJSON *ref, char *out, size_t n);

/* Judges ref against in (the runs of its experiment; in may be empty). Text to out, or, with
 * json non-NULL, one object appended to that array. Adds to sum. */
void reproduce_table(const cJSON *ref, const struct cmp_input *in, const char *origin, FILE *out,
		     cJSON *json, struct repro_summary *sum);

#endif
