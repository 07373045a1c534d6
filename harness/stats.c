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

/* Number of arrangements of nx x-values among nx+ny with U = u, for every u: the recurrence
 * f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u), tabulated by n for each m. */
static double exact_p(size_t nx, size_t ny, double u)
{
	size_t umax = nx * ny;
	double *f = calloc((nx + 1) * (ny + 1) * (umax + 1), sizeof(double)), total = 0, tail = 0;
	double p;
#define F(m, n, k) f[((m) * (ny + 1) + (n)) * (umax + 1) + (k)]
	if (!f)
		return NAN;
	for (size_t m = 0; m <= nx; m++)
		for (size_t n = 0; n <= ny; n++)
			for (size_t k = 0; k <= m * n; k++) {
				if (m == 0 || n == 0) {
					F(m, n, k) = k == 0;
					continue;
				}
				F(m, n, k) = (k >= n ? F(m - 1, n, k - n) : 0) + F(m, n - 1, k);
			}
	/* two-sided: the probability of a U at least as far from the mean as u */
	double mean = (double)umax / 2, d = fabs(u - mean);
	for (size_t k = 0; k <= umax; k++) {
		total += F(nx, ny, k);
		if (fabs((double)k - mean) >= d - 1e-9)
			tail += F(nx, ny, k);
	}
#undef F
	free(f);
	p = tail / total;
	return p > 1 ? 1 : p;
}

double stats_mann_whitney_p(const double *x, size_t nx, const double *y, size_t ny)
{
	size_t n = nx + ny;
	struct item { double v; int from_x; } *a;
	double rx = 0, u, tie = 0;
	int ties = 0;

	if (!nx || !ny)
		return NAN;
	a = malloc(n * sizeof(*a));
	if (!a)
		return NAN;
	for (size_t i = 0; i < nx; i++)
		a[i] = (struct item){ x[i], 1 };
	for (size_t i = 0; i < ny; i++)
		a[nx + i] = (struct item){ y[i], 0 };
	qsort(a, n, sizeof(*a), cmpd); /* v is the first member */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && a[j + 1].v == a[i].v)
			j++;
		double rank = (double)(i + j) / 2 + 1, t = (double)(j - i + 1);
		if (t > 1) {
			ties = 1;
			tie += t * t * t - t;
		}
		for (size_t k = i; k <= j; k++)
			if (a[k].from_x)
				rx += rank;
		i = j + 1;
	}
	free(a);
	u = rx - (double)nx * (double)(nx + 1) / 2;
	if (!ties && nx <= 20 && ny <= 20)
		return exact_p(nx, ny, u);
	double mu = (double)nx * (double)ny / 2;
	double var = (double)nx * (double)ny / 12 * ((double)n + 1 - tie / ((double)n * (double)(n - 1)));
	if (var <= 0)
		return 1;
	double z = (fabs(u - mu) - 0.5) / sqrt(var);
	if (z < 0)
		z = 0;
	return erfc(z / sqrt(2));
}
