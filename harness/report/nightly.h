/* SPDX-License-Identifier: MIT */
/* A nightly experiment's history (every session in the store) judged for change points
 * (changepoint.h), per variant, side and metric; for `pvbench nightly`, plots and the dashboard. */
#ifndef PVB_NIGHTLY_H
#define PVB_NIGHTLY_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "changepoint.h"

struct store;

/* Text to out, or with json non-NULL one object per experiment appended to that array (schema
 * of `pvbench nightly --format json`). metrics NULL: the experiment's. Returns 4 when the newest
 * session changed for the worse, 3 for the better, else 0; -1 with err. */
int nightly_judge(struct store *st, const char *exp, const struct cp_params *cp, const char *metrics,
		  FILE *out, cJSON *json, char *err, size_t errlen);

#endif
