/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "stats.h"

double stats_mean(const double *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return n ? s / (double)n : NAN;
}

double stats_sd(const double *x, size_t n)
{
	double m = stats_mean(x, n), s = 0;
	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		s += (x[i] - m) * (x[i] - m);
	return sqrt(s / (double)(n - 1));
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double stats_max(const double *x, size_t n)
{
	double m = n ? x[0] : NAN;
	for (size_t i = 1; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

double stats_median(const double *x, size_t n)
{
	double *c, m;
	if (!n)
		return NAN;
	c = malloc(n * sizeof(double));
	if (!c)
		return NAN;
	memcpy(c, x, n * sizeof(double));
	qsort(c, n, sizeof(double), cmpd);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

/* The exact two-sided p of the rank-sum test: every way of choosing which nx of the n pooled values
 * are x's is equally likely under the null, ties keep their mid-ranks. Counted by dynamic
 * programming over doubled ranks (mid-ranks are halves): ways[k][s] = number of k-subsets of the
 * ranks seen so far whose doubled sum is s. */
static double exact_p(const double *rank2, size_t n, size_t nx, double w2)
{
	size_t smax = 0;
	for (size_t i = 0; i < n; i++)
		smax += (size_t)rank2[i];
	double *ways = calloc((nx + 1) * (smax + 1), sizeof(double));
	if (!ways)
		return NAN;
#define W(k, s) ways[(k) * (smax + 1) + (s)]
	W(0, 0) = 1;
	for (size_t i = 0; i < n; i++) {
		size_t r = (size_t)rank2[i];
		for (size_t k = (i + 1 < nx ? i + 1 : nx); k >= 1; k--)
			for (size_t s = smax; s >= r; s--)
				if (W(k - 1, s - r) != 0)
					W(k, s) += W(k - 1, s - r);
	}
	double mean2 = (double)smax * (double)nx / (double)n, d = fabs(w2 - mean2), total = 0, tail = 0;
	for (size_t s = 0; s <= smax; s++) {
		total += W(nx, s);
		if (fabs((double)s - mean2) >= d - 1e-7)
			tail += W(nx, s);
	}
#undef W
	free(ways);
	double p = tail / total;
	return p > 1 ? 1 : p;
}

double stats_mann_whitney_p(const double *x, size_t nx, const double *y, size_t ny)
{
	size_t n = nx + ny;
	struct item { double v; int from_x; } *a;
	double rx = 0, u, tie = 0, *rank2, p;

	if (!nx || !ny)
		return NAN;
	a = malloc(n * sizeof(*a));
	rank2 = malloc(n * sizeof(double));
	if (!a || !rank2) {
		free(a);
		free(rank2);
		return NAN;
	}
	for (size_t i = 0; i < nx; i++)
		a[i] = (struct item){ x[i], 1 };
	for (size_t i = 0; i < ny; i++)
		a[nx + i] = (struct item){ y[i], 0 };
	qsort(a, n, sizeof(*a), cmpd); /* v is the first member */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && a[j + 1].v == a[i].v)
			j++;
		double t = (double)(j - i + 1);
		if (t > 1)
			tie += t * t * t - t;
		for (size_t k = i; k <= j; k++) {
			rank2[k] = (double)(i + j + 2); /* twice the mid-rank */
			if (a[k].from_x)
				rx += rank2[k] / 2;
		}
		i = j + 1;
	}
	free(a);
	if (n <= STATS_EXACT_MAX_N) {
		p = exact_p(rank2, n, nx, 2 * rx);
		free(rank2);
		return p;
	}
	free(rank2);
	u = rx - (double)nx * (double)(nx + 1) / 2;
	double mu = (double)nx * (double)ny / 2;
	double var = (double)nx * (double)ny / 12 * ((double)n + 1 - tie / ((double)n * (double)(n - 1)));
	if (var <= 0)
		return 1;
	double z = (fabs(u - mu) - 0.5) / sqrt(var);
	if (z < 0)
		z = 0;
	return erfc(z / sqrt(2));
}

/* By p, ascending, NANs left out; returns how many. */
static size_t order_by_p(const double *p, size_t n, size_t *idx)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(p[i]))
			idx[m++] = i;
	for (size_t i = 1; i < m; i++)
		for (size_t j = i; j > 0 && p[idx[j - 1]] > p[idx[j]]; j--) {
			size_t t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	return m;
}

void stats_holm(const double *p, double *adj, size_t n)
{
	size_t *idx = malloc((n ? n : 1) * sizeof(size_t)), m;
	double run = 0;

	if (!idx)
		abort();
	for (size_t i = 0; i < n; i++)
		adj[i] = NAN;
	m = order_by_p(p, n, idx);
	for (size_t k = 0; k < m; k++) {
		double a = p[idx[k]] * (double)(m - k);
		run = a > run ? a : run; /* adjusted p-values never decrease */
		adj[idx[k]] = run > 1 ? 1 : run;
	}
	free(idx);
}

void stats_bh(const double *p, double *adj, size_t n)
{
	size_t *idx = malloc((n ? n : 1) * sizeof(size_t)), m;
	double run = 1;

	if (!idx)
		abort();
	for (size_t i = 0; i < n; i++)
		adj[i] = NAN;
	m = order_by_p(p, n, idx);
	for (size_t k = m; k-- > 0;) { /* step-up: from the largest p down */
		double a = p[idx[k]] * (double)m / (double)(k + 1);
		run = a < run ? a : run;
		adj[idx[k]] = run;
	}
	free(idx);
}

static double quantile_sorted(const double *c, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)h;
	if (lo + 1 >= n)
		return c[n - 1];
	return c[lo] + (h - (double)lo) * (c[lo + 1] - c[lo]);
}

double stats_quantile(const double *x, size_t n, double q)
{
	double *c, v;
	if (!n || q < 0 || q > 1)
		return NAN;
	c = malloc(n * sizeof(double));
	if (!c)
		abort();
	memcpy(c, x, n * sizeof(double));
	qsort(c, n, sizeof(double), cmpd);
	v = quantile_sorted(c, n, q);
	free(c);
	return v;
}

/* splitmix64: small, fast, and the same sequence on every machine for a seed */
uint64_t stats_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double stats_rand_unit(uint64_t *state)
{
	return (double)(stats_rand(state) >> 11) * 0x1.0p-53;
}

static void resample(const double *x, size_t n, double *out, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		out[i] = x[stats_rand(rng) % n];
	qsort(out, n, sizeof(double), cmpd);
}

int stats_bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, double q,
			 int reps, double conf, uint64_t *rng, double *lo, double *hi)
{
	double *ra, *rb, *d;
	*lo = *hi = NAN;
	if (!na || !nb || reps < 10 || conf <= 0 || conf >= 1)
		return -1;
	ra = malloc(na * sizeof(double));
	rb = malloc(nb * sizeof(double));
	d = malloc((size_t)reps * sizeof(double));
	if (!ra || !rb || !d)
		abort();
	for (int i = 0; i < reps; i++) {
		resample(a, na, ra, rng);
		resample(b, nb, rb, rng);
		d[i] = quantile_sorted(rb, nb, q) - quantile_sorted(ra, na, q);
	}
	qsort(d, (size_t)reps, sizeof(double), cmpd);
	*lo = quantile_sorted(d, (size_t)reps, (1 - conf) / 2);
	*hi = quantile_sorted(d, (size_t)reps, 1 - (1 - conf) / 2);
	free(ra);
	free(rb);
	free(d);
	return 0;
}

double stats_mann_whitney_min_p(size_t nx, size_t ny)
{
	double c = 1;
	for (size_t k = 1; k <= nx; k++)
		c = c * (double)(ny + k) / (double)k;
	return fmin(1, 2 / c);
}
