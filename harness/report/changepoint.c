/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include "changepoint.h"
#include "stats.h"

static void segment(const double *v, const size_t *start, size_t lo, size_t hi,
		    const struct cp_params *p, struct cp_change *out, size_t max, size_t *n)
{
	struct cp_change best = { .p = INFINITY };
	size_t tried = 0;

	if (hi - lo < 2 || *n >= max)
		return;
	for (size_t k = lo + 1; k < hi; k++) {
		size_t b0 = k - lo > (size_t)p->window ? k - (size_t)p->window : lo;
		size_t a1 = hi - k > (size_t)p->window ? k + (size_t)p->window : hi;
		const double *x = v + start[b0], *y = v + start[k];
		size_t nx = start[k] - start[b0], ny = start[a1] - start[k];
		if (!nx || !ny)
			continue;
		tried++;
		double pv = stats_mann_whitney_p(x, nx, y, ny), mb = stats_median(x, nx), ma = stats_median(y, ny);
		if (fabs(ma - mb) < p->min_rel * fabs(mb))
			continue;
		if (pv < best.p)
			best = (struct cp_change){ .at = k, .before = mb, .after = ma, .p = pv };
	}
	best.p *= (double)tried;
	if (!(best.p < p->alpha))
		return;
	best.p = fmin(best.p, 1);
	segment(v, start, lo, best.at, p, out, max, n);
	if (*n < max)
		out[(*n)++] = best;
	segment(v, start, best.at, hi, p, out, max, n);
}

size_t cp_detect(const double *v, const size_t *start, size_t nsess, const struct cp_params *p,
		 struct cp_change *out, size_t max)
{
	size_t n = 0;
	segment(v, start, 0, nsess, p, out, max, &n);
	return n;
}

double cp_best_p(const size_t *start, size_t nsess, const struct cp_params *p)
{
	double best = INFINITY;
	size_t tried = 0;
	for (size_t k = 1; k < nsess; k++) { /* the same windows as segment() over the whole series */
		size_t b0 = k > (size_t)p->window ? k - (size_t)p->window : 0;
		size_t a1 = nsess - k > (size_t)p->window ? k + (size_t)p->window : nsess;
		size_t nx = start[k] - start[b0], ny = start[a1] - start[k];
		if (!nx || !ny)
			continue;
		tried++;
		best = fmin(best, stats_mann_whitney_min_p(nx, ny));
	}
	return tried ? fmin(1, best * (double)tried) : 1;
}
