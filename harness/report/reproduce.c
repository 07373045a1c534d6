/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "metrics.h"
#include "reproduce.h"
#include "stats.h"


static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *reproduce_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;
	cJSON *j = NULL;

	if (!f) {
		snprintf(err, errlen, "%s: cannot read it", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		j = cJSON_Parse(buf);
	fclose(f);
	free(buf);
	const char *need[] = { "id", "title", "experiment", "metric", "unit", "rows", "columns", "baseline" };
	if (!j) {
		snprintf(err, errlen, "%s: not JSON", path);
		return NULL;
	}
	if (!str(j, "schema") || strcmp(str(j, "schema"), "pvbench.reference/1")) {
		snprintf(err, errlen, "%s: schema: not pvbench.reference/1", path);
		cJSON_Delete(j);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!str(j, need[i])) {
			snprintf(err, errlen, "%s: %s: missing (a string)", path, need[i]);
			cJSON_Delete(j);
			return NULL;
		}
	if (!cJSON_IsArray(cJSON_GetObjectItem(j, "groups")) || !cJSON_IsObject(cJSON_GetObjectItem(j, "source"))) {
		snprintf(err, errlen, "%s: groups (an array) and source (an object) are required", path);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

void reproduce_experiment_name(const cJSON *ref, char *out, size_t n)
{
	const char *x = str(ref, "experiment"), *b;
	x = x ? x : "";
	b = strrchr(x, '/') ? strrchr(x, '/') + 1 : x;
	snprintf(out, n, "%.*s", (int)strcspn(b, "."), b);
}

/* a published label as our key's value */
static const char *mapped(const cJSON *ref, const char *label)
{
	const char *m = str(cJSON_GetObjectItem(ref, "map"), label);
	return m ? m : label;
}

static const char *param(const struct cmp_run *r, const char *key)
{
	for (size_t i = 0; i < r->np; i++)
		if (!strcmp(r->p[i].key, key))
			return r->p[i].value;
	return NULL;
}

static int matches(const struct cmp_run *r, const cJSON *where, const char *rk, const char *rv,
		   const char *ck, const char *cv)
{
	const cJSON *w;
	const char *v;
	cJSON_ArrayForEach(w, where)
		if (!cJSON_IsString(w) || !(v = param(r, w->string)) || strcmp(v, w->valuestring))
			return 0;
	return (v = param(r, rk)) && !strcmp(v, rv) && (v = param(r, ck)) && !strcmp(v, cv);
}

/* per-run values of the metric on side, of the runs in the cell; n returned */
static size_t cell_values(const struct cmp_input *in, const cJSON *where, const char *rk,
			  const char *rv, const char *ck, const char *cv, const char *side,
			  const char *metric, double *out, int *tcg)
{
	size_t n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const struct cmp_run *r = &in->runs[i];
		const struct cmp_metric *best = NULL;
		if (!matches(r, where, rk, rv, ck, cv))
			continue;
		for (size_t k = 0; k < r->nm; k++)
			if (!strcmp(r->m[k].side, side) && !strcmp(r->m[k].name, metric) &&
			    (r->m[k].cpu == METRIC_CPU_ALL || (!best && r->m[k].cpu == METRIC_CPU_VM)))
				best = &r->m[k];
		if (best) {
			out[n++] = best->value;
			*tcg |= r->tcg | r->nested << 1;
		}
	}
	return n;
}

/* why a cell has no runs: a stored run that is not ok, of a variant naming the cell's values */
static const char *why_missing(const struct cmp_input *in, const char *rk, const char *rv,
			       const char *ck, const char *cv, char *buf, size_t n)
{
	char a[200], b[200];
	snprintf(a, sizeof(a), "%s=%s", rk, rv);
	snprintf(b, sizeof(b), "%s=%s", ck, cv);
	for (size_t i = 0; i < in->nnotes; i++)
		if (strstr(in->notes[i].variant, b) && (strstr(in->notes[i].variant, a) || !strstr(in->notes[i].variant, rk))) {
			snprintf(buf, n, "%s: %s", in->notes[i].status, in->notes[i].reason);
			return buf;
		}
	snprintf(buf, n, "%s", in->n ? "no runs of this cell stored" : "no runs of the experiment stored: --run runs them");
	return buf;
}

struct cell {
	const char *group, *side, *row, *col;
	struct repro_cell j;
	const char *verdict;
	char why[300];
	int baseline;
	int conv;                        /* judged on convergence (the baseline never finished) */
	struct repro_conv cj;
};

/* runs of the cell that finished (conv_metric >= 0.5), of those with the metric; n returned */
static int finished(const struct cmp_input *in, const cJSON *where, const char *rk, const char *rv, const char *ck,
		    const char *cv, const char *side, const char *conv_metric, double *v, int *k, int *tcg)
{
	size_t n = cell_values(in, where, rk, rv, ck, cv, side, conv_metric, v, tcg);
	*k = 0;
	for (size_t i = 0; i < n; i++)
		*k += v[i] >= 0.5;
	return (int)n;
}

/* a cell of a row whose baseline never finished: its runs' metric (the finished ones) and the
 * convergence counts of both columns */
static void conv_cell(struct cell *c, const struct cmp_input *in, const cJSON *where, const char *rk, const char *rv,
		      const char *ck, const char *bv, const char *cv, const char *side, const char *metric,
		      const char *conv_metric, double *v, int *tcg)
{
	memset(c, 0, sizeof(*c));
	c->j.p = c->j.p_adj = c->j.lo = c->j.hi = c->j.effect = NAN;
	c->j.n = cell_values(in, where, rk, rv, ck, cv, side, metric, v, tcg);
	c->j.med = stats_median(v, c->j.n);
	c->cj.n = finished(in, where, rk, rv, ck, cv, side, conv_metric, v, &c->cj.k, tcg);
	c->cj.nb = finished(in, where, rk, rv, ck, bv, side, conv_metric, v, &c->cj.kb, tcg);
}

static double ratio_of(double a, double b)
{
	if (b == 0)
		return a == 0 ? 1 : INFINITY;
	return a / b;
}

/* One published table against the store: its cells, as read and then judged. */
struct table {
	const cJSON *ref;
	const char *metric, *rk, *ck, *base_label, *unit;
	const char *conv_metric;         /* a 0/1 metric: did the run finish ("unconverged" tables) */
	double scale;                    /* pvbench's stored unit into the published one */
	struct cell cells[256];
	double raw[256];                 /* each cell's raw p (NAN: not a rank test's) */
	size_t nc;
	int tcg;                         /* some run was under TCG (1), on a KVM nested under it (2) */
};

/* Every cell of every group: its published values, its runs and its baseline's, and for cells
 * the rank test judges, the raw p (adjusted together in judge()). */
static void gather(struct table *t, const struct cmp_input *in)
{
	const cJSON *g, *row, *col, *ref = t->ref;
	size_t cap = in->n + 1;
	double *v = malloc(cap * sizeof(double)), *vb = malloc(cap * sizeof(double));

	if (!v || !vb)
		abort();
	cJSON_ArrayForEach(g, cJSON_GetObjectItem(ref, "groups")) {
		const char *side = str(g, "side") ? str(g, "side") : "guest";
		/* a group may name its own metric (a table whose rows are a workload's subtests) */
		const char *gmetric = str(g, "metric") ? str(g, "metric") : t->metric;
		const cJSON *where = cJSON_GetObjectItem(g, "where");
		cJSON_ArrayForEach(row, cJSON_GetObjectItem(g, "cells")) {
			const cJSON *pb = cJSON_GetObjectItem(row, t->base_label);
			const char *rv = mapped(ref, row->string), *bv = mapped(ref, t->base_label);
			size_t nb = cell_values(in, where, t->rk, rv, t->ck, bv, side, gmetric, vb, &t->tcg);
			cJSON_ArrayForEach(col, row) {
				struct cell *c = &t->cells[t->nc];
				if (t->nc < 256 && t->conv_metric && cJSON_IsString(pb)) { /* published: never finished */
					conv_cell(c, in, where, t->rk, rv, t->ck, bv, mapped(ref, col->string), side, gmetric,
						  t->conv_metric, v, &t->tcg);
					c->group = str(g, "label"), c->side = side, c->row = row->string, c->col = col->string;
					c->baseline = !strcmp(col->string, t->base_label);
					c->conv = 1;
					c->j.pub = cJSON_IsNumber(col) ? col->valuedouble : NAN;
					c->j.pub_base = NAN;
					t->raw[t->nc++] = NAN;
					continue;
				}
				if (t->nc == 256 || !cJSON_IsNumber(col) || !cJSON_IsNumber(pb))
					continue;
				const char *cv = mapped(ref, col->string);
				memset(c, 0, sizeof(*c));
				*c = (struct cell){ .group = str(g, "label"), .side = side, .row = row->string,
						    .col = col->string, .baseline = !strcmp(col->string, t->base_label),
						    .j = { .pub = col->valuedouble, .pub_base = pb->valuedouble, .nb = nb,
							   .p = NAN, .p_adj = NAN, .lo = NAN, .hi = NAN, .effect = NAN } };
				c->j.n = cell_values(in, where, t->rk, rv, t->ck, cv, side, gmetric, v, &t->tcg);
				c->j.med = stats_median(v, c->j.n);
				c->j.med_base = stats_median(vb, nb);
				t->raw[t->nc] = NAN;
				if (!c->j.n) {
					c->verdict = "not measured";
					why_missing(in, t->rk, rv, t->ck, cv, c->why, sizeof(c->why));
				} else if (c->baseline) {
					c->verdict = "baseline";
				} else if (c->j.n < 2 || nb < 2) {
					c->verdict = "too few runs";
					snprintf(c->why, sizeof(c->why), "R1: %zu and %zu runs", c->j.n, nb);
				} else { /* judged once the table's p are adjusted together */
					double *cv_ = malloc(c->j.n * sizeof(double)), *cb_ = malloc(nb * sizeof(double));
					if (!cv_ || !cb_)
						abort();
					memcpy(cv_, v, c->j.n * sizeof(double));
					memcpy(cb_, vb, nb * sizeof(double));
					c->j.v = cv_, c->j.vb = cb_;
					t->raw[t->nc] = stats_mann_whitney_p(vb, nb, v, c->j.n);
				}
				t->nc++;
			}
		}
	}
	free(v);
	free(vb);
}

/* The verdict of every cell not decided while gathering (the table's p adjusted together), and
 * the summary's counts. */
static void judge(struct table *t, const struct cmp_input *in, struct repro_summary *sum)
{
	double adj[256];
	uint64_t rng = 1;

	stats_bh(t->raw, adj, t->nc);
	for (size_t i = 0; i < t->nc; i++) {
		struct cell *c = &t->cells[i];
		if (c->conv && c->baseline && !c->cj.nb) {
			c->verdict = "not measured";
			why_missing(in, t->rk, mapped(t->ref, c->row), t->ck, mapped(t->ref, c->col), c->why, sizeof(c->why));
		} else if (c->conv && c->baseline) {
			c->verdict = "baseline";
			snprintf(c->why, sizeof(c->why), "published: never finished; here %d of %d runs did", c->cj.kb, c->cj.nb);
		} else if (c->conv && !c->cj.n) {
			c->verdict = "not measured";
			why_missing(in, t->rk, mapped(t->ref, c->row), t->ck, mapped(t->ref, c->col), c->why, sizeof(c->why));
		} else if (c->conv) {
			reproduce_judge_convergence(&c->cj);
			c->verdict = c->cj.verdict;
			c->j.rule = c->cj.rule;
			c->j.p_adj = c->cj.p;
			snprintf(c->why, sizeof(c->why), "%s: %s", c->cj.rule, c->cj.why);
		}
		if (!c->verdict) {
			c->j.p_adj = adj[i];
			reproduce_judge(&c->j, &rng);
			c->verdict = c->j.verdict;
			snprintf(c->why, sizeof(c->why), "%s: %s", c->j.rule, c->j.why);
		}
		sum->cells += !c->baseline;
		sum->reproduced += !strcmp(c->verdict, "reproduced");
		sum->direction_only += !strcmp(c->verdict, "direction only");
		sum->not_reproduced += !strcmp(c->verdict, "not reproduced");
		sum->not_measured += !c->baseline && !strcmp(c->verdict, "not measured");
		sum->unjudged += !c->baseline && (!strcmp(c->verdict, "not measured") ||
						  !strcmp(c->verdict, "too few runs") || !strcmp(c->verdict, "inconclusive"));
	}
}

static const char *const modelled_note = "modelled: this energy is the kernel's energy model over measured busy time, "
					 "not a battery: every verdict here judges the model";
static const char *const tcg_note = "accel=tcg: QEMU's emulator ran these guests: the verdicts are functional, not a "
				    "latency result";
static const char *const nested_note = "KVM nested under TCG ran some of these runs: the verdicts are functional, no "
				       "timing is real";

static void table_json(const struct table *t, const char *origin, cJSON *json)
{
	const cJSON *ref = t->ref;
	cJSON *o = cJSON_CreateObject(), *arr;
	double scale = t->scale;

	cJSON_AddStringToObject(o, "id", str(ref, "id"));
	cJSON_AddStringToObject(o, "title", str(ref, "title"));
	cJSON_AddItemToObject(o, "source", cJSON_Duplicate(cJSON_GetObjectItem(ref, "source"), 1));
	cJSON_AddStringToObject(o, "experiment", str(ref, "experiment"));
	cJSON_AddStringToObject(o, "ours", origin);
	cJSON_AddStringToObject(o, "metric", t->metric);
	cJSON_AddStringToObject(o, "unit", t->unit);
	if (t->tcg)
		cJSON_AddStringToObject(o, "note", t->tcg & 1 ? tcg_note : nested_note);
	if (strstr(t->metric, "_modelled"))
		cJSON_AddStringToObject(o, "modelled", modelled_note);
	arr = cJSON_AddArrayToObject(o, "cells");
	for (size_t i = 0; i < t->nc; i++) {
		const struct cell *c = &t->cells[i];
		cJSON *x = cJSON_CreateObject();
#define NUM(k, val) cJSON_AddItemToObject(x, k, isfinite(val) ? cJSON_CreateNumber(val) : cJSON_CreateNull())
		cJSON_AddStringToObject(x, "group", c->group ? c->group : "");
		cJSON_AddStringToObject(x, "side", c->side);
		cJSON_AddStringToObject(x, "row", c->row);
		cJSON_AddStringToObject(x, "column", c->col);
		NUM("published", c->j.pub);
		NUM("published_ratio", c->baseline ? NAN : ratio_of(c->j.pub, c->j.pub_base));
		NUM("median", c->j.med * (c->j.n ? scale : NAN));
		cJSON_AddNumberToObject(x, "runs", (double)c->j.n);
		cJSON_AddStringToObject(x, "effect", c->j.diff ? "difference" : "ratio");
		NUM(c->j.diff ? "difference" : "ratio", c->j.diff ? c->j.effect * scale : c->j.effect);
		NUM(c->j.diff ? "difference_lo" : "ratio_lo", c->j.diff ? c->j.lo * scale : c->j.lo);
		NUM(c->j.diff ? "difference_hi" : "ratio_hi", c->j.diff ? c->j.hi * scale : c->j.hi);
		NUM("p_bh", c->j.p_adj);
		if (c->j.rule)
			cJSON_AddStringToObject(x, "rule", c->j.rule);
#undef NUM
		cJSON_AddStringToObject(x, "verdict", c->verdict);
		cJSON_AddStringToObject(x, "why", c->why);
		cJSON_AddItemToArray(arr, x);
	}
	cJSON_AddItemToArray(json, o);
}

static void table_text(const struct table *t, const char *origin, FILE *out)
{
	const cJSON *ref = t->ref, *src = cJSON_GetObjectItem(ref, "source"), *m;
	double scale = t->scale;
	int first = 1;

	fprintf(out, "%s: %s\n", str(ref, "id"), str(ref, "title"));
	fprintf(out, "published: %s, lines %s (%s)\n", str(src, "file") ? str(src, "file") : "?",
		str(src, "lines") ? str(src, "lines") : "?", str(src, "thread") ? str(src, "thread") : "");
	fprintf(out, "pvbench:   %s; %s %s, medians of per-run values\n", origin, t->metric, t->unit);
	fprintf(out, "\n%-8s %-10s %-14s %10s %8s  %14s %8s %-22s %8s  %s\n", "", t->rk, t->ck, "published", "ratio",
		"pvbench (n)", "ratio", "[95% CI]", "p (BH)", "verdict");
	for (size_t i = 0; i < t->nc; i++) {
		const struct cell *c = &t->cells[i];
		char ours[40] = "-", r[16] = "", ci[40] = "", rp[16] = "", p[16] = "";
		if (c->j.n)
			snprintf(ours, sizeof(ours), "%.4g (%zu)", c->j.med * scale, c->j.n);
		if (!c->baseline)
			snprintf(rp, sizeof(rp), "%.3gx", ratio_of(c->j.pub, c->j.pub_base));
		if (isfinite(c->j.effect) && !c->j.diff)
			snprintf(r, sizeof(r), "%.3gx", c->j.effect);
		else if (isfinite(c->j.effect))
			snprintf(r, sizeof(r), "%+.3g", c->j.effect * scale);
		if (isfinite(c->j.lo))
			snprintf(ci, sizeof(ci), "[%.3g, %.3g]", c->j.diff ? c->j.lo * scale : c->j.lo,
				 c->j.diff ? c->j.hi * scale : c->j.hi);
		if (isfinite(c->j.p_adj))
			snprintf(p, sizeof(p), "%.2g", c->j.p_adj);
		char pub[16];
		snprintf(pub, sizeof(pub), isfinite(c->j.pub) ? "%.4g" : "unconverged", c->j.pub);
		if (c->conv)
			rp[0] = 0;
		fprintf(out, "%-8s %-10s %-14s %10s %8s  %14s %8s %-22s %8s  %s%s%s%s\n", c->group ? c->group : "",
			c->row, c->col, pub, rp, ours, r, ci, p, c->verdict, c->why[0] ? " (" : "", c->why,
			c->why[0] ? ")" : "");
	}
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(ref, "map")) {
		fprintf(out, "%s%s = %s", first ? "\nmapping: " : "; ", m->string, cJSON_IsString(m) ? m->valuestring : "?");
		first = 0;
	}
	fprintf(out, "%s", first ? "" : "\n");
	if (str(ref, "notes"))
		fprintf(out, "notes: %s\n", str(ref, "notes"));
	fprintf(out, "Absolute values differ with hardware: cells are judged on direction and size (ratio, or difference "
		     "where a value is 0); the rules R1-R12 are in pvbench reproduce --help.\n");
	if (t->tcg & 1)
		fprintf(out, "%s\n", tcg_note);
	if (t->tcg & 2)
		fprintf(out, "%s\n", nested_note);
	if (strstr(t->metric, "_modelled"))
		fprintf(out, "%s\n", modelled_note);
	fprintf(out, "\n");
}

void reproduce_table(const cJSON *ref, const struct cmp_input *in, const char *origin, FILE *out,
		     cJSON *json, struct repro_summary *sum)
{
	static struct table t;
	const cJSON *sc = cJSON_GetObjectItem(ref, "scale");

	memset(&t, 0, sizeof(t));
	t.ref = ref;
	t.metric = str(ref, "metric"), t.rk = str(ref, "rows"), t.ck = str(ref, "columns");
	t.base_label = str(ref, "baseline"), t.unit = str(ref, "unit");
	t.conv_metric = str(ref, "unconverged");
	/* ns metrics are stored in ns; published tables are in their own unit (us here); a table may
	 * say its factor ("scale") */
	t.scale = !strcmp(t.unit, "us") ? 1e-3 : !strcmp(t.unit, "ms") ? 1e-6 : 1;
	if (cJSON_IsNumber(sc) && sc->valuedouble > 0)
		t.scale = sc->valuedouble;
	gather(&t, in);
	judge(&t, in, sum);
	if (json)
		table_json(&t, origin, json);
	else
		table_text(&t, origin, out);
	for (size_t i = 0; i < t.nc; i++) {
		free((double *)t.cells[i].j.v);
		free((double *)t.cells[i].j.vb);
	}
}

int reproduce_wants(const cJSON *ref, const struct run_spec *r)
{
	const char *rk = str(ref, "rows"), *ck = str(ref, "columns"), *base = str(ref, "baseline");
	const char *rv = spec_str_or(r, rk, NULL), *cv = spec_str_or(r, ck, NULL);
	const cJSON *g, *w, *row, *col;

	if (!rv || !cv) /* a key this experiment does not have: keep the run, the table says why */
		return 1;
	cJSON_ArrayForEach(g, cJSON_GetObjectItem(ref, "groups")) {
		int ok = 1;
		cJSON_ArrayForEach(w, cJSON_GetObjectItem(g, "where")) {
			const char *v = spec_str_or(r, w->string, NULL);
			ok &= !v || !cJSON_IsString(w) || !strcmp(v, w->valuestring);
		}
		if (!ok)
			continue;
		cJSON_ArrayForEach(row, cJSON_GetObjectItem(g, "cells")) {
			if (strcmp(mapped(ref, row->string), rv))
				continue;
			if (!strcmp(mapped(ref, base), cv))
				return 1;
			cJSON_ArrayForEach(col, row)
				if (!strcmp(mapped(ref, col->string), cv))
					return 1;
		}
	}
	return 0;
}
