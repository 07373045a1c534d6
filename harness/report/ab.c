/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "ab.h"
#include "compare.h"
#include "metrics.h"
#include "stats.h"

const char *ab_verdict_name(enum ab_verdict v)
{
	static const char *const n[] = { "no difference", "better", "worse", "too few runs", "changed" };
	return n[v];
}

void ab_analyse(struct ab_metric *m, size_t n, const struct ab_params *p)
{
	double *raw = calloc(n ? n : 1, sizeof(double)), *adj = calloc(n ? n : 1, sizeof(double));
	uint64_t rng = p->seed;

	if (!raw || !adj)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct ab_metric *x = &m[i];
		double lo, hi;
		x->med_a = stats_median(x->a, x->na);
		x->med_b = stats_median(x->b, x->nb);
		x->d = x->med_b - x->med_a;
		x->t = stats_quantile(x->b, x->nb, p->tail) - stats_quantile(x->a, x->na, p->tail);
		stats_bootstrap_diff(x->a, x->na, x->b, x->nb, 0.5, p->boot, p->conf, &rng, &x->d_lo, &x->d_hi);
		stats_bootstrap_diff(x->a, x->na, x->b, x->nb, p->tail, p->boot, p->conf, &rng, &x->t_lo, &x->t_hi);
		stats_bootstrap_diff(x->a, x->na, x->a2, x->na2, 0.5, p->boot, p->conf, &rng, &lo, &hi);
		/* the resolution of this many runs here, or the A/A difference itself if larger (drift) */
		x->floor = fmax((hi - lo) / 2, fabs(stats_median(x->a2, x->na2) - x->med_a));
		x->p = raw[i] = stats_mann_whitney_p(x->a, x->na, x->b, x->nb);
		x->p_aa = stats_mann_whitney_p(x->a, x->na, x->a2, x->na2);
	}
	stats_bh(raw, adj, n);
	for (size_t i = 0; i < n; i++) {
		struct ab_metric *x = &m[i];
		x->p_adj = adj[i];
		/* a pair too small to ever reach the level cannot say "no difference" either */
		if (x->na < 2 || x->na2 < 2 || x->nb < 2 || isnan(x->p_adj) || stats_mann_whitney_min_p(x->na, x->nb) >= p->fdr)
			x->verdict = AB_FEW;
		else if (x->p_adj < p->fdr && (x->d_lo > 0 || x->d_hi < 0) && fabs(x->d) > x->floor)
			x->verdict = x->better == PVB_INFO		      ? AB_CHANGED
				     : (x->d > 0) == (x->better == PVB_MORE) ? AB_BETTER
									      : AB_WORSE;
		else
			x->verdict = AB_SAME;
	}
	free(raw);
	free(adj);
}

int ab_precise(const struct ab_metric *m, size_t n, const struct ab_params *p)
{
	for (size_t i = 0; i < n; i++) {
		double half = (m[i].d_hi - m[i].d_lo) / 2, scale = fabs(m[i].med_a);
		if (isnan(half) || half > p->precision * scale)
			return 0;
	}
	return 1;
}

int ab_exit_status(const struct ab_metric *m, size_t n)
{
	int better = 0, judged = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i].verdict == AB_WORSE)
			return AB_EXIT_WORSE;
		better |= m[i].verdict == AB_BETTER;
		judged |= m[i].verdict != AB_FEW;
	}
	return better ? AB_EXIT_BETTER : judged ? 0 : AB_EXIT_NOT_JUDGED;
}

const char *ab_not_judged(const struct ab_metric *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].verdict != AB_FEW)
			return NULL;
	return n ? "not judged: too few runs for any metric to reach the test's level (see each metric)"
		 : "not judged: no metric to judge (every run skipped or failed, or --metrics named none the runs have)";
}

/* ns are shown as us, as compare does */
static double scale_of(const struct ab_metric *x, const char **unit)
{
	*unit = strcmp(x->unit, "ns") ? x->unit : "us";
	return strcmp(x->unit, "ns") ? 1 : 1e-3;
}

static void render_json(FILE *f, const struct ab_report *r, const struct ab_metric *m, size_t n,
			const struct ab_params *p)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "metrics");
	cJSON_AddStringToObject(o, "schema", "pvbench.ab/1");
	cJSON_AddStringToObject(o, "experiment", r->experiment);
	cJSON_AddStringToObject(o, "a", r->a);
	cJSON_AddStringToObject(o, "b", r->b);
	cJSON_AddNumberToObject(o, "runs_a", r->runs_a);
	cJSON_AddNumberToObject(o, "runs_aa", r->runs_a2);
	cJSON_AddNumberToObject(o, "runs_b", r->runs_b);
	cJSON_AddStringToObject(o, "stopped", r->stop);
	cJSON_AddStringToObject(o, "test", r->test);
	cJSON_AddNumberToObject(o, "fdr", p->fdr);
	cJSON_AddNumberToObject(o, "confidence", p->conf);
	cJSON_AddNumberToObject(o, "tail_quantile", p->tail);
	if (r->note)
		cJSON_AddStringToObject(o, "note", r->note);
	if (ab_not_judged(m, n))
		cJSON_AddStringToObject(o, "not_judged", ab_not_judged(m, n));
	for (size_t i = 0; i < n; i++) {
		const struct ab_metric *x = &m[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "side", x->side);
		cJSON_AddStringToObject(j, "name", x->name);
		cJSON_AddStringToObject(j, "unit", x->unit);
		cJSON_AddBoolToObject(j, "higher_is_better", x->better == PVB_MORE);
		cJSON_AddStringToObject(j, "better", metric_better_name(x->better));
#define NUM(k, v) cJSON_AddItemToObject(j, k, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull())
		NUM("median_a", x->med_a);
		NUM("median_b", x->med_b);
		NUM("diff_median", x->d);
		NUM("diff_median_lo", x->d_lo);
		NUM("diff_median_hi", x->d_hi);
		NUM("diff_tail", x->t);
		NUM("diff_tail_lo", x->t_lo);
		NUM("diff_tail_hi", x->t_hi);
		NUM("aa_floor", x->floor);
		NUM("p", x->p);
		NUM("p_bh", x->p_adj);
		NUM("p_aa", x->p_aa);
#undef NUM
		cJSON_AddStringToObject(j, "verdict", ab_verdict_name(x->verdict));
		cJSON_AddItemToArray(arr, j);
	}
	char *s = cJSON_Print(o);
	fprintf(f, "%s\n", s);
	free(s);
	cJSON_Delete(o);
}

void ab_render(FILE *f, const struct ab_report *r, const struct ab_metric *m, size_t n,
	       const struct ab_params *p, int json)
{
	int unstable = 0;

	if (json) {
		render_json(f, r, m, n, p);
		return;
	}
	fprintf(f, "%s: A = %s (%d runs, and %d more for the A/A floor), B = %s (%d runs)\n",
		r->experiment, r->a, r->runs_a, r->runs_a2, r->b, r->runs_b);
	fprintf(f, "stopped: %s\n\n", r->stop);
	fprintf(f, "%-26s %-6s %10s %10s  %-36s %-28s %9s %8s  %s\n", "metric", "side", "A median",
		"B median", "B-A median [CI]", "B-A p90 [CI]", "A/A floor", "p (BH)", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct ab_metric *x = &m[i];
		const char *u;
		double k = scale_of(x, &u);
		char name[64], dm[64], dt[64];
		snprintf(name, sizeof(name), "%s (%s)", x->name, u);
		snprintf(dm, sizeof(dm), "%+.4g (%+.1f%%) [%.4g, %.4g]", x->d * k,
			 x->med_a ? 100 * x->d / fabs(x->med_a) : NAN, x->d_lo * k, x->d_hi * k);
		snprintf(dt, sizeof(dt), "%+.4g [%.4g, %.4g]", x->t * k, x->t_lo * k, x->t_hi * k);
		fprintf(f, "%-26s %-6s %10.4g %10.4g  %-36s %-28s %9.3g %8.2g  %s%s\n", name, x->side,
			x->med_a * k, x->med_b * k, dm, dt, x->floor * k, x->p_adj,
			ab_verdict_name(x->verdict), x->p_aa < p->fdr ? " (A/A differs!)" : "");
		unstable |= x->p_aa < p->fdr;
	}
	if (ab_not_judged(m, n))
		fprintf(f, "%s%s\n", n ? "\n" : "", ab_not_judged(m, n));
	fprintf(f, "\n%s\n", r->test);
	if (unstable)
		fprintf(f, "A/A differs: two samples of A disagree (raw p < %g) in a metric marked so: this "
			   "machine's noise moved during the runs; treat its verdicts with care.\n", p->fdr);
	if (r->note)
		fprintf(f, "%s\n", r->note);
}

/* ---- a session from the store ---- */

void ab_arms_free(struct ab_arms *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->m[i].a);
		free(a->m[i].a2);
		free(a->m[i].b);
	}
	free(a->m);
	memset(a, 0, sizeof(*a));
}

static void push(double **v, size_t *n, double x)
{
	double *g = realloc(*v, (*n + 1) * sizeof(double));
	if (!g)
		abort();
	g[(*n)++] = x;
	*v = g;
}

/* a metric with a value over all CPUs (-1) is judged by that, not by its VM-level one (-2) */
static int has_all_cpus(const struct cmp_run *run, const struct cmp_metric *cm)
{
	for (size_t i = 0; i < run->nm; i++)
		if (run->m[i].cpu == -1 && !strcmp(run->m[i].side, cm->side) && !strcmp(run->m[i].name, cm->name))
			return 1;
	return 0;
}

/* The session's runs, split into A (odd reps of A's variant), A' (even reps) and B; one
 * ab_metric per metric asked and side that has it (the harness's own cost is not judged). */
int ab_load(struct store *st, const char *name, const char *a_label, const char *metrics,
	    struct ab_arms *out, char *err, size_t errlen)
{
	struct cmp_input in;
	char list[256], *save, *tok;

	memset(out, 0, sizeof(*out));
	if (compare_load(st, name, &in, err, errlen))
		return -1;
	snprintf(list, sizeof(list), "%s", metrics && *metrics ? metrics : in.def_metrics);
	snprintf(out->a, sizeof(out->a), "%s", a_label ? a_label : in.def_baseline);
	for (size_t r = 0; r < in.n; r++) {
		const struct cmp_run *run = &in.runs[r];
		int arm = strcmp(run->variant, out->a) ? 2 : run->rep % 2 ? 0 : 1;
		if (arm == 2)
			snprintf(out->b, sizeof(out->b), "%s", run->variant);
		out->runs[arm]++;
		out->tcg |= run->tcg;
		out->nested |= run->nested;
		for (size_t i = 0; i < run->nm; i++) {
			const struct cmp_metric *cm = &run->m[i];
			int wanted = 0;
			char l2[256];
			if (cm->cpu >= 0 || !strcmp(cm->side, "harness") || (cm->cpu != -1 && has_all_cpus(run, cm)))
				continue;
			snprintf(l2, sizeof(l2), "%s", list);
			for (tok = strtok_r(l2, ",", &save); tok && !wanted; tok = strtok_r(NULL, ",", &save))
				wanted = !strcmp(tok + strspn(tok, " "), cm->name);
			if (!wanted)
				continue;
			size_t k;
			for (k = 0; k < out->n; k++)
				if (!strcmp(out->m[k].name, cm->name) && !strcmp(out->m[k].side, cm->side))
					break;
			if (k == out->n) {
				struct ab_metric *g = realloc(out->m, (out->n + 1) * sizeof(*g));
				if (!g)
					abort();
				out->m = g;
				memset(&g[k], 0, sizeof(g[k]));
				snprintf(g[k].side, sizeof(g[k].side), "%s", cm->side);
				snprintf(g[k].name, sizeof(g[k].name), "%s", cm->name);
				snprintf(g[k].unit, sizeof(g[k].unit), "%s", cm->unit);
				g[k].better = cm->better;
				out->n++;
			}
			struct ab_metric *x = &out->m[k];
			if (arm == 0)
				push(&x->a, &x->na, cm->value);
			else if (arm == 1)
				push(&x->a2, &x->na2, cm->value);
			else
				push(&x->b, &x->nb, cm->value);
		}
	}
	cmp_input_free(&in);
	return 0;
}

