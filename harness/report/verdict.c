/* SPDX-License-Identifier: MIT */
/* One cell's reproduction verdict, by the rules reproduce.h states (R1-R9). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "reproduce.h"
#include "stats.h"

static int sign(double x)
{
	return (x > 0) - (x < 0);
}

/* The smallest p the exact rank test can give these runs, ties as they are: the most extreme
 * split of the pooled values (the n smallest on one side). */
static double min_p_with_ties(const double *a, size_t na, const double *b, size_t nb)
{
	double *all = malloc((na + nb) * sizeof(double));
	if (!all)
		abort();
	memcpy(all, a, na * sizeof(double));
	memcpy(all + na, b, nb * sizeof(double));
	for (size_t i = 1; i < na + nb; i++) /* insertion sort: a table's cells have few runs */
		for (size_t j = i; j > 0 && all[j - 1] > all[j]; j--) {
			double t = all[j];
			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	double p = stats_mann_whitney_p(all, nb, all + nb, na);
	free(all);
	return p;
}

void reproduce_judge(struct repro_cell *c, uint64_t *rng)
{
	int pos = c->pub > 0 && c->pub_base > 0;
	double *la = malloc((c->nb + 1) * sizeof(double)), *lb = malloc((c->n + 1) * sizeof(double));

	if (!la || !lb)
		abort();
	c->med = stats_median(c->v, c->n);
	c->med_base = stats_median(c->vb, c->nb);
	c->p = stats_mann_whitney_p(c->vb, c->nb, c->v, c->n);
	for (size_t i = 0; i < c->nb; i++)
		pos &= c->vb[i] > 0;
	for (size_t i = 0; i < c->n; i++)
		pos &= c->v[i] > 0;
	/* ratios where every value is positive (on the log scale); differences where a value is 0 */
	c->diff = !pos;
	for (size_t i = 0; i < c->nb; i++)
		la[i] = c->diff ? c->vb[i] : log(c->vb[i]);
	for (size_t i = 0; i < c->n; i++)
		lb[i] = c->diff ? c->v[i] : log(c->v[i]);
	c->lo = c->hi = NAN;
	stats_bootstrap_diff(la, c->nb, lb, c->n, 0.5, 2000, 0.95, rng, &c->lo, &c->hi);
	free(la);
	free(lb);
	if (!c->diff)
		c->lo = exp(c->lo), c->hi = exp(c->hi);
	c->effect = c->diff ? c->med - c->med_base : c->med / c->med_base;
	double pub = c->diff ? c->pub - c->pub_base : c->pub / c->pub_base;
	c->pub_effect = pub;

	/* the "no change" band, each side in its own scale: +-10% of a ratio, or of the larger value */
	double band_pub = c->diff ? REPRO_NO_CHANGE * fmax(fabs(c->pub), fabs(c->pub_base)) : 0;
	double band = c->diff ? REPRO_NO_CHANGE * fmax(fabs(c->med), fabs(c->med_base)) : 0;
	int dp = c->diff ? (fabs(pub) > band_pub ? sign(pub) : 0)
			 : pub > 1 + REPRO_NO_CHANGE ? 1 : pub < 1 / (1 + REPRO_NO_CHANGE) ? -1 : 0;
	int equivalent = c->diff ? c->lo >= -band && c->hi <= band
				 : c->lo >= 1 / (1 + REPRO_NO_CHANGE) && c->hi <= 1 + REPRO_NO_CHANGE;
	int outside = c->diff ? c->hi < -band || c->lo > band
			      : c->hi < 1 / (1 + REPRO_NO_CHANGE) || c->lo > 1 + REPRO_NO_CHANGE;
	double p = isnan(c->p_adj) ? c->p : c->p_adj;
	int sig = p < REPRO_ALPHA, dn = sig ? sign(c->med - c->med_base) : 0;
	/* the measured effect over the published effect, with its interval, both ends inside
	 * [1/1.5, 1.5]: effects as differences, or as log ratios (+1% against a published +18% is a
	 * sixteenth of the effect, though the ratios 1.01 and 1.18 look close) */
	double s_lo = NAN, s_hi = NAN, s = NAN;
	if (dp) {
		double e = c->diff ? pub : log(pub);
		s_lo = (c->diff ? c->lo : log(c->lo)) / e;
		s_hi = (c->diff ? c->hi : log(c->hi)) / e;
		s = (c->diff ? c->effect : log(c->effect)) / e;
		if (s_lo > s_hi) {
			double t = s_lo;
			s_lo = s_hi;
			s_hi = t;
		}
	}
	int within = dp && s_lo >= 1 / REPRO_SIZE_TOL && s_hi <= REPRO_SIZE_TOL;

#define SAY(v, r, ...) (c->verdict = (v), c->rule = (r), snprintf(c->why, sizeof(c->why), __VA_ARGS__))
	if (min_p_with_ties(c->vb, c->nb, c->v, c->n) >= REPRO_ALPHA)
		SAY("too few runs", "R1", "%zu and %zu runs, ties as they are: the rank test cannot reach p < %g",
		    c->n, c->nb, REPRO_ALPHA);
	else if (dp && sig && dn == dp && within)
		SAY("reproduced", "R2", "same direction; %.3g of the published effect, interval [%.3g, %.3g] within %gx",
		    s, s_lo, s_hi, REPRO_SIZE_TOL);
	else if (dp && sig && dn == dp)
		SAY("direction only", "R3", "same direction; %.3g of the published effect, interval [%.3g, %.3g] not within %gx",
		    s, s_lo, s_hi, REPRO_SIZE_TOL);
	else if (dp && sig)
		SAY("not reproduced", "R4", "opposite direction");
	else if (dp && equivalent)
		SAY("not reproduced", "R5", "no change here (interval inside +-%.0f%%); a change was published",
		    REPRO_NO_CHANGE * 100);
	else if (dp)
		SAY("inconclusive", "R6", "not significant (p %.2g), and the interval shows no change neither", p);
	else if (equivalent)
		SAY("reproduced", "R7", "no change, as published: the interval inside +-%.0f%%", REPRO_NO_CHANGE * 100);
	else if (sig && outside)
		SAY("not reproduced", "R8", "a change here (interval outside +-%.0f%%); none published",
		    REPRO_NO_CHANGE * 100);
	else
		SAY("inconclusive", "R9", "no change published; the interval here is neither inside nor outside +-%.0f%%",
		    REPRO_NO_CHANGE * 100);
#undef SAY
}


/* log of n choose k */
static double lchoose(int n, int k)
{
	return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}

/* Fisher's exact test, one-sided: the chance that the variant's n runs hold k or more of the
 * K = k + kb converged runs among all n + nb, were convergence independent of the column */
static double fisher_more(int k, int n, int kb, int nb)
{
	int all = n + nb, conv = k + kb;
	double p = 0;
	for (int x = k; x <= n && x <= conv; x++)
		if (conv - x <= nb)
			p += exp(lchoose(conv, x) + lchoose(all - conv, n - x) - lchoose(all, n));
	return p > 1 ? 1 : p;
}

void reproduce_judge_convergence(struct repro_conv *c)
{
	double best = fisher_more(c->n, c->n, 0, c->nb); /* every variant run converged, no baseline run */
	c->p = fisher_more(c->k, c->n, c->kb, c->nb);
	snprintf(c->why, sizeof(c->why), "converged in %d of %d runs, the baseline in %d of %d (Fisher one-sided p %.2g)",
		 c->k, c->n, c->kb, c->nb, c->p);
	if (best >= REPRO_ALPHA) {
		c->verdict = "too few runs", c->rule = "R1";
	} else if (c->k * c->nb <= c->kb * c->n) {
		c->verdict = "not reproduced", c->rule = "R11";
	} else if (c->p < REPRO_ALPHA) {
		c->verdict = "reproduced", c->rule = "R10";
	} else {
		c->verdict = "inconclusive", c->rule = "R12";
	}
}
