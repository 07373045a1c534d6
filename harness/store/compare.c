/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "compare.h"
#include "stats.h"

#define MAXV 32                      /* distinct values per key */
#define MAXK 32                      /* swept keys */

/* ---- input ---- */

struct cmp_run *cmp_add_run(struct cmp_input *in, long long id)
{
	struct cmp_run *r = realloc(in->runs, (in->n + 1) * sizeof(*r));
	if (!r)
		abort();
	in->runs = r;
	r = &in->runs[in->n++];
	memset(r, 0, sizeof(*r));
	r->id = id;
	return r;
}

void cmp_add_param(struct cmp_run *r, const char *key, const char *value)
{
	struct cmp_param *p = realloc(r->p, (r->np + 1) * sizeof(*p));
	if (!p)
		abort();
	r->p = p;
	snprintf(p[r->np].key, sizeof(p->key), "%s", key);
	snprintf(p[r->np].value, sizeof(p->value), "%s", value);
	r->np++;
}

void cmp_add_metric(struct cmp_run *r, const char *side, int cpu, const char *name, double v,
		    const char *unit, enum pvb_better better)
{
	struct cmp_metric *m = realloc(r->m, (r->nm + 1) * sizeof(*m));
	if (!m)
		abort();
	r->m = m;
	m = &m[r->nm++];
	snprintf(m->side, sizeof(m->side), "%s", side);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->cpu = cpu;
	m->value = v;
	m->better = better;
}

void cmp_input_free(struct cmp_input *in)
{
	for (size_t i = 0; i < in->n; i++) {
		free(in->runs[i].p);
		free(in->runs[i].m);
	}
	free(in->runs);
	free(in->notes);
	memset(in, 0, sizeof(*in));
}

static struct cmp_run *by_id(struct cmp_input *in, long long id)
{
	for (size_t i = in->n; i-- > 0;) /* rows arrive in id order: the last run is likeliest */
		if (in->runs[i].id == id)
			return &in->runs[i];
	return NULL;
}

static void v_defaults(void *a, const char *baseline, const char *rows, const char *columns,
		       const char *metrics)
{
	struct cmp_input *in = a;
	snprintf(in->def_baseline, sizeof(in->def_baseline), "%s", baseline ? baseline : "");
	snprintf(in->def_rows, sizeof(in->def_rows), "%s", rows ? rows : "");
	snprintf(in->def_columns, sizeof(in->def_columns), "%s", columns ? columns : "");
	snprintf(in->def_metrics, sizeof(in->def_metrics), "%s", metrics ? metrics : "");
}

static void v_run(void *a, const struct store_row *row)
{
	struct cmp_input *in = a;
	const char *variant = row->variant, *status = row->status, *reason = row->reason;
	if (!row->current) {
		in->stale += !strcmp(status, "ok");
		return;
	}
	if (!strcmp(status, "ok")) {
		struct cmp_run *r = cmp_add_run(in, row->id);
		r->rep = row->rep;
		/* its times say nothing of a KVM host's, and the tables must not pass for them */
		r->tcg = store_row_tcg(row);
		r->nested = store_row_nested(row);
		in->tcg += r->tcg;
		in->nested += r->nested;
		snprintf(r->variant, sizeof(r->variant), "%s", variant);
		if (!strncmp(variant, "job=", 4)) { /* the [section]: an axis when rows or columns ask for it */
			char job[128];
			snprintf(job, sizeof(job), "%.*s", (int)strcspn(variant + 4, " "), variant + 4);
			cmp_add_param(r, "job", job);
		}
		if (!reason || !*reason) /* an ok run with a note (a policy that had nothing to do) is */
			return;          /* in the tables, and its note under them */
	}
	for (size_t i = 0; i < in->nnotes; i++) /* one line per variant, status and reason */
		if (!strcmp(in->notes[i].variant, variant) && !strcmp(in->notes[i].status, status) &&
		    !strcmp(in->notes[i].reason, reason)) {
			in->notes[i].n++;
			return;
		}
	struct cmp_note *n = realloc(in->notes, (in->nnotes + 1) * sizeof(*n));
	if (!n)
		abort();
	in->notes = n;
	n = &n[in->nnotes++];
	snprintf(n->variant, sizeof(n->variant), "%s", variant);
	snprintf(n->status, sizeof(n->status), "%s", status);
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	n->n = 1;
}

static void v_param(void *a, long long id, const char *k, const char *v)
{
	struct cmp_run *r = by_id(a, id);
	if (r)
		cmp_add_param(r, k, v);
}

static void v_metric(void *a, long long id, const char *side, int cpu, const char *name, double v,
		     const char *unit, enum pvb_better better)
{
	struct cmp_run *r = by_id(a, id);
	if (r)
		cmp_add_metric(r, side, cpu, name, v, unit, better);
}

int compare_load(struct store *s, const char *experiment, struct cmp_input *in, char *err,
		 size_t errlen)
{
	struct store_visitor v = { .arg = in, .defaults = v_defaults, .run = v_run, .param = v_param,
				   .metric = v_metric };

	memset(in, 0, sizeof(*in));
	snprintf(in->experiment, sizeof(in->experiment), "%s", experiment);
	return store_visit(s, experiment, NULL, &v, err, errlen);
}

int compare_format_option(const char *s, enum cmp_format *f)
{
	static const char *const names[] = { "text", "md", "csv", "json" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*f = (enum cmp_format)i;
			return 0;
		}
	fprintf(stderr, "pvbench: --format: \"%s\" is not text, md, csv or json\n", s);
	return -1;
}

/* ---- analysis ---- */

static const char *param(const struct cmp_run *r, const char *key)
{
	for (size_t i = 0; i < r->np; i++)
		if (!strcmp(r->p[i].key, key))
			return r->p[i].value;
	return "";
}

/* the whole-VM value: all CPUs (-1), else the VM-level one (-2) */
static const struct cmp_metric *metric(const struct cmp_run *r, const char *side, const char *name)
{
	const struct cmp_metric *vm = NULL;
	for (size_t i = 0; i < r->nm; i++)
		if (!strcmp(r->m[i].side, side) && !strcmp(r->m[i].name, name)) {
			if (r->m[i].cpu == -1)
				return &r->m[i];
			vm = &r->m[i];
		}
	return vm;
}

struct axis {
	char key[32];
	char vals[MAXV][128];
	int n;
};

static int numeric(const char *s)
{
	char *end;
	strtod(s, &end);
	return *s && !*end;
}

static int find_val(const struct axis *a, const char *v)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->vals[i], v))
			return i;
	return -1;
}

static void sort_axis(struct axis *a)
{
	int all = 1;
	for (int i = 0; i < a->n; i++)
		all &= numeric(a->vals[i]);
	if (!all)
		return; /* order of first appearance */
	for (int i = 1; i < a->n; i++)
		for (int j = i; j > 0 && atof(a->vals[j - 1]) > atof(a->vals[j]); j--) {
			char t[128];
			memcpy(t, a->vals[j], 128);
			memcpy(a->vals[j], a->vals[j - 1], 128);
			memcpy(a->vals[j - 1], t, 128);
		}
}

struct cell { double mean, sd, delta, p, padj; int n; double *v; };

struct plan {
	struct axis axes[MAXK];
	int na;
	int col, row;                    /* axis indexes, -1 if none */
	int base;                        /* baseline index in the column axis */
	char metrics[16][40];
	int nm;
};

static const char *title_of(const char *name)
{
	static const char *const t[][2] = {
		{ "lat_avg", "Avg Latency" }, { "lat_max", "Max Latency" }, { "lat_min", "Min Latency" },
		{ "lat_p50", "Median Latency" }, { "lat_p99", "p99 Latency" }, { "lat_p99.9", "p99.9 Latency" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i][0], name))
			return t[i][1];
	return name;
}

static const char *or_default(const char *opt, const char *def)
{
	return opt ? opt : def && *def ? def : NULL;
}

/* Is key's value the same in every two runs of the same job? */
static int follows_job(const struct cmp_input *in, const char *key)
{
	for (size_t i = 0; i < in->n; i++)
		for (size_t j = i + 1; j < in->n; j++)
			if (!strcmp(param(&in->runs[i], "job"), param(&in->runs[j], "job")) &&
			    strcmp(param(&in->runs[i], key), param(&in->runs[j], key)))
				return 0;
	return 1;
}

/* The swept keys (more than one value across runs), each axis sorted; "job" (the file's
 * sections) is an axis only when rows or columns name it, and then the keys a section sets are
 * its, not axes of their own. */
static void swept_axes(const struct cmp_input *in, const struct cmp_opts *o, struct plan *pl)
{
	for (size_t r = 0; r < in->n; r++)
		for (size_t i = 0; i < in->runs[r].np; i++) {
			const struct cmp_param *p = &in->runs[r].p[i];
			int a;
			for (a = 0; a < pl->na && strcmp(pl->axes[a].key, p->key); a++)
				;
			if (a == pl->na) {
				if (pl->na == MAXK)
					continue;
				snprintf(pl->axes[pl->na++].key, 32, "%s", p->key);
			}
			if (find_val(&pl->axes[a], p->value) < 0 && pl->axes[a].n < MAXV)
				snprintf(pl->axes[a].vals[pl->axes[a].n++], 128, "%s", p->value);
		}
	int by_job = (o->rows && !strcmp(o->rows, "job")) || (o->columns && !strcmp(o->columns, "job"));
	for (int a = 0; a < pl->na; a++)
		if (by_job ? strcmp(pl->axes[a].key, "job") && strcmp(pl->axes[a].key, o->columns ? o->columns : "") &&
				     follows_job(in, pl->axes[a].key)
			   : !strcmp(pl->axes[a].key, "job"))
			pl->axes[a].n = 1; /* dropped below */
	for (int a = 0; a < pl->na;) {
		if (pl->axes[a].n < 2) {
			memmove(&pl->axes[a], &pl->axes[a + 1], (size_t)(pl->na - a - 1) * sizeof(struct axis));
			pl->na--;
		} else {
			sort_axis(&pl->axes[a++]);
		}
	}
}

/* The columns (--columns, else the experiment's, else the first axis) and the rows (likewise,
 * else the next axis); one the user named that is not swept is an error. */
static int pick_axes(const struct cmp_opts *user, const struct cmp_opts *o, struct plan *pl, char *err,
		     size_t errlen)
{
	for (int a = 0; a < pl->na; a++)
		if (o->columns && !strcmp(pl->axes[a].key, o->columns))
			pl->col = a;
	if (user->columns && pl->col < 0) {
		snprintf(err, errlen, "--columns %s: not a swept key of this experiment", o->columns);
		return -1;
	}
	if (pl->col < 0 && pl->na)
		pl->col = 0;
	for (int a = 0; a < pl->na; a++)
		if (a != pl->col && o->rows && !strcmp(pl->axes[a].key, o->rows))
			pl->row = a;
	if (user->rows && pl->row < 0) {
		snprintf(err, errlen, "--rows %s: not a swept key (other than the columns)", o->rows);
		return -1;
	}
	for (int a = 0; a < pl->na && pl->row < 0; a++)
		if (a != pl->col)
			pl->row = a;
	return 0;
}

/* The baseline column, moved first: --baseline, else the experiment's, else (stores of schema 1)
 * the runs' own "baseline" key, else the first value; an experiment's own baseline on a key that
 * is not the columns (after --columns) is ignored. */
static int pick_baseline(const struct cmp_input *in, const struct cmp_opts *user, const struct cmp_opts *o,
			 struct plan *pl, char *err, size_t errlen)
{
	const char *b = o->baseline;
	if (!b && in->n && *param(&in->runs[0], "baseline"))
		b = param(&in->runs[0], "baseline");
	if (b && !user->baseline && pl->col >= 0 && strchr(b, '=') &&
	    strncmp(b, pl->axes[pl->col].key, strlen(pl->axes[pl->col].key)))
		b = NULL;
	if (!b || pl->col < 0)
		return 0;
	struct axis *c = &pl->axes[pl->col];
	const char *eq = strchr(b, '=');
	if (eq && (strncmp(b, c->key, (size_t)(eq - b)) || strlen(c->key) != (size_t)(eq - b))) {
		snprintf(err, errlen, "--baseline %s: the columns are %s", b, c->key);
		return -1;
	}
	pl->base = find_val(c, eq ? eq + 1 : b);
	if (pl->base < 0) {
		snprintf(err, errlen, "baseline %s: no such %s", b, c->key);
		return -1;
	}
	char t[128];
	memcpy(t, c->vals[pl->base], 128);
	memmove(c->vals[1], c->vals[0], (size_t)pl->base * 128);
	memcpy(c->vals[0], t, 128);
	pl->base = 0;
	return 0;
}

/* The metrics: those asked for, else (no table defined: a store from before definitions) the
 * guest's whole-VM figures. */
static int pick_metrics(const struct cmp_input *in, const struct cmp_opts *o, struct plan *pl, char *err,
			size_t errlen)
{
	if (o->metrics) {
		char buf[512], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", o->metrics);
		for (char *t = strtok_r(buf, ",", &save); t && pl->nm < 16; t = strtok_r(NULL, ",", &save))
			snprintf(pl->metrics[pl->nm++], 40, "%s", t);
	} else {
		for (size_t r = 0; r < in->n; r++)
			for (size_t i = 0; i < in->runs[r].nm && pl->nm < 16; i++) {
				const struct cmp_metric *m = &in->runs[r].m[i];
				int seen = 0;
				if (strcmp(m->side, "guest") || m->cpu != -1)
					continue;
				for (int k = 0; k < pl->nm; k++)
					seen |= !strcmp(pl->metrics[k], m->name);
				if (!seen)
					snprintf(pl->metrics[pl->nm++], 40, "%s", m->name);
			}
	}
	if (!pl->nm) {
		snprintf(err, errlen, "no metrics to compare");
		return -1;
	}
	return 0;
}

static int build_plan(const struct cmp_input *in, const struct cmp_opts *user, struct plan *pl,
		      char *err, size_t errlen)
{
	struct cmp_opts opts = *user, *o = &opts;

	o->columns = or_default(user->columns, in->def_columns);
	o->rows = or_default(user->rows, in->def_rows);
	o->metrics = or_default(user->metrics, in->def_metrics);
	o->baseline = or_default(user->baseline, in->def_baseline);
	memset(pl, 0, sizeof(*pl));
	pl->col = pl->row = -1;
	swept_axes(in, o, pl);
	if (pick_axes(user, o, pl, err, errlen) || pick_baseline(in, user, o, pl, err, errlen) ||
	    pick_metrics(in, o, pl, err, errlen))
		return -1;
	if (!pl->na) /* one column: nothing to compare against */
		pl->col = -1;
	return 0;
}

static const char *axis_val(const struct plan *pl, int a, int i)
{
	return a < 0 ? "" : pl->axes[a].vals[i];
}

static int axis_n(const struct plan *pl, int a)
{
	return a < 0 ? 1 : pl->axes[a].n;
}

/* Runs matching the split values (every axis but rows and columns), the row and the column. */
static int matches(const struct plan *pl, const struct cmp_run *r, const int *split, int row, int col)
{
	for (int a = 0; a < pl->na; a++) {
		int want = a == pl->row ? row : a == pl->col ? col : split[a];
		if (strcmp(param(r, pl->axes[a].key), pl->axes[a].vals[want]))
			return 0;
	}
	return 1;
}

#define CMP_UNIT_LEN 8 /* as stored (struct metric) */

static void fill(const struct cmp_input *in, const struct plan *pl, const int *split, int row,
		 int col, const char *side, const char *name, struct cell *c, char *unit)
{
	memset(c, 0, sizeof(*c));
	c->v = calloc(in->n ? in->n : 1, sizeof(double));
	for (size_t r = 0; r < in->n; r++) {
		const struct cmp_metric *m;
		if (!matches(pl, &in->runs[r], split, row, col))
			continue;
		m = metric(&in->runs[r], side, name);
		if (!m)
			continue;
		c->v[c->n++] = !strcmp(m->unit, "ns") ? m->value / 1000 : m->value;
		snprintf(unit, CMP_UNIT_LEN, "%s", !strcmp(m->unit, "ns") ? "us" : m->unit);
	}
	c->mean = stats_mean(c->v, (size_t)c->n);
	c->sd = stats_sd(c->v, (size_t)c->n);
	c->delta = c->p = c->padj = NAN;
}

static int significant(const struct cell *c)
{
	return !isnan(c->padj) && c->padj < 0.05;
}

/* ---- output ---- */

static void cell_text(char *buf, size_t n, const struct cell *c)
{
	if (!c->n)
		snprintf(buf, n, "-");
	else if (c->n == 1) /* one run has no spread: "±0.0" would claim one */
		snprintf(buf, n, "%.1f (1)", c->mean);
	else
		snprintf(buf, n, "%.1f±%.1f (%d)", c->mean, c->sd, c->n);
}

static void delta_text(char *buf, size_t n, const struct cell *c)
{
	if (isnan(c->delta))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%+.1f%%%s", c->delta, significant(c) ? "*" : "");
}

/* The runs not in the tables, one line per status and reason: variants that share them (every
 * dirty-limit cell skipped for the same reason) are listed on one line, and all of them, say a
 * host without KVM, as "every variant". */
static int seen(const char *v, const struct cmp_input *in, size_t runs, size_t notes)
{
	for (size_t k = 0; k < runs; k++)
		if (!strcmp(in->runs[k].variant, v))
			return 1;
	for (size_t k = 0; k < notes; k++)
		if (!strcmp(in->notes[k].variant, v))
			return 1;
	return 0;
}

static int variants(const struct cmp_input *in, int with_notes)
{
	int n = 0;
	for (size_t r = 0; r < in->n; r++)
		n += !seen(in->runs[r].variant, in, r, 0);
	for (size_t k = 0; with_notes && k < in->nnotes; k++)
		n += !seen(in->notes[k].variant, in, in->n, k);
	return n;
}

void compare_print_notes(const struct cmp_input *in, const char *lead, FILE *f)
{
	for (size_t i = 0; i < in->nnotes; i++) {
		const struct cmp_note *a = &in->notes[i];
		size_t j;
		int n = 0, runs = 0;
		for (j = 0; j < i; j++) /* printed with an earlier one */
			if (!strcmp(in->notes[j].status, a->status) && !strcmp(in->notes[j].reason, a->reason))
				break;
		if (j < i)
			continue;
		for (j = i; j < in->nnotes; j++)
			if (!strcmp(in->notes[j].status, a->status) && !strcmp(in->notes[j].reason, a->reason))
				n++, runs += in->notes[j].n;
		int ok = !strcmp(a->status, "ok");
		fprintf(f, "%s", ok ? "note on " : lead);
		if (n > 1 && n == variants(in, !ok)) /* every ok run's (a policy with nothing to do), or all */
			fprintf(f, "every variant");
		else
			for (j = i; j < in->nnotes; j++)
				if (!strcmp(in->notes[j].status, a->status) && !strcmp(in->notes[j].reason, a->reason))
					fprintf(f, "%s%s", j == i ? "" : "; ", in->notes[j].variant);
		if (ok)
			fprintf(f, ": %d ok run%s: %s\n", runs, runs == 1 ? "" : "s", a->reason);
		else
			fprintf(f, ": %d %s%s: %s\n", runs, a->status, n > 1 ? " in all" : "", a->reason);
	}
}

/* ---- the table model: one table per metric and split, its cells with their statistics ---- */

struct table {
	const char *metric;
	char unit[CMP_UNIT_LEN], title[128], splitdesc[256];
	const char *sides[NR_SIDES];     /* the sides with data for this metric */
	int ns, nrow, ncol, ncmp;
	struct cell *cells;              /* nrow x NR_SIDES x ncol */
};
#define CELL(t, r, s, c) (t)->cells[((r) * NR_SIDES + (s)) * (t)->ncol + (c)]

static void table_free(struct table *t)
{
	for (int i = 0; t->cells && i < t->nrow * NR_SIDES * t->ncol; i++)
		free(t->cells[i].v);
	free(t->cells);
	t->cells = NULL;
}

/* The table of metric `name` in this split: cells, deltas against the baseline column, and
 * Mann-Whitney p with Holm's correction over the table (one family). 0, or 1 when no run of the
 * split has the metric (another job's): no table. */
static int table_make(const struct cmp_input *in, const struct plan *pl, const int *split, const char *name,
		      struct table *t)
{
	memset(t, 0, sizeof(*t));
	t->metric = name;
	t->nrow = axis_n(pl, pl->row);
	t->ncol = axis_n(pl, pl->col);
	int size = t->nrow * NR_SIDES * t->ncol;
	t->cells = calloc((size_t)size, sizeof(struct cell));
	if (!t->cells)
		abort();
	for (int i = 0; i < size; i++)
		t->cells[i].p = t->cells[i].padj = t->cells[i].delta = NAN;
	for (int a = 0; a < pl->na; a++)
		if (a != pl->row && a != pl->col)
			snprintf(t->splitdesc + strlen(t->splitdesc), sizeof(t->splitdesc) - strlen(t->splitdesc),
				 "%s%s=%s", t->splitdesc[0] ? " " : "", pl->axes[a].key, pl->axes[a].vals[split[a]]);
	for (int s = 0; s < NR_SIDES; s++) {
		int any = 0;
		for (int r = 0; r < t->nrow; r++)
			for (int c = 0; c < t->ncol; c++) {
				fill(in, pl, split, r, c, side_names[s], name, &CELL(t, r, t->ns, c), t->unit);
				any |= CELL(t, r, t->ns, c).n > 0;
			}
		if (any)
			t->sides[t->ns++] = side_names[s];
		else
			for (int r = 0; r < t->nrow; r++)
				for (int c = 0; c < t->ncol; c++) {
					free(CELL(t, r, t->ns, c).v);
					CELL(t, r, t->ns, c).v = NULL;
					CELL(t, r, t->ns, c).n = 0;
				}
	}
	if (!t->ns) {
		table_free(t);
		return 1;
	}
	for (int r = 0; r < t->nrow; r++)
		for (int s = 0; s < t->ns; s++)
			for (int c = 1; c < t->ncol; c++) {
				struct cell *b = &CELL(t, r, s, 0), *x = &CELL(t, r, s, c);
				if (b->n && x->n && b->mean != 0)
					x->delta = (x->mean - b->mean) / fabs(b->mean) * 100;
				if (b->n && x->n)
					x->p = stats_mann_whitney_p(x->v, (size_t)x->n, b->v, (size_t)b->n);
			}
	double *raw = calloc((size_t)size, sizeof(double)), *adj = calloc((size_t)size, sizeof(double));
	if (!raw || !adj)
		abort();
	for (int i = 0; i < size; i++) {
		raw[i] = t->cells[i].p;
		t->ncmp += !isnan(raw[i]);
	}
	stats_holm(raw, adj, (size_t)size);
	for (int i = 0; i < size; i++)
		t->cells[i].padj = adj[i];
	free(raw);
	free(adj);
	snprintf(t->title, sizeof(t->title), "%s (%s)", title_of(name), t->unit[0] ? t->unit : "?");
	return 0;
}

/* ---- one emitter per format ---- */

/* text and Markdown: the grid of strings, then widths; a row no run has (another job's) is left out */
static void emit_grid(FILE *f, const struct plan *pl, const struct table *t, int md, int first)
{
	const char *colkey = pl->col >= 0 ? pl->axes[pl->col].key : "";
	const char *rowkey = pl->row >= 0 ? pl->axes[pl->row].key : "";
	int ncol = t->ncol, ncols = 1 + t->ns * (2 * ncol - 1), nkeep = 0;
	int *keep = calloc((size_t)t->nrow + 1, sizeof(int));
	for (int r = 0; r < t->nrow; r++) {
		int any = 0;
		for (int s = 0; s < t->ns; s++)
			for (int c = 0; c < ncol; c++)
				any |= CELL(t, r, s, c).n > 0;
		if (any)
			keep[nkeep++] = r;
	}
	char (*g)[48] = calloc((size_t)((nkeep + 2) * ncols), 48);
	int *w = calloc((size_t)ncols, sizeof(int));
	if (!keep || !g || !w)
		abort();
#define G(r, c) g[(r) * ncols + (c)]
	snprintf(G(1, 0), 48, "%s", rowkey);
	for (int s = 0; s < t->ns; s++)
		for (int c = 0; c < ncol; c++) {
			int k = 1 + s * (2 * ncol - 1) + (c ? 2 * c - 1 : 0);
			snprintf(G(0, k), 48, "%s", c == 0 ? t->sides[s] : "");
			/* a number alone does not say what it counts: "vcpus=2", but "static" */
			const char *v = *colkey ? axis_val(pl, pl->col, c) : t->sides[s];
			snprintf(G(1, k), 48, "%s%s%s", *colkey && numeric(v) ? colkey : "",
				 *colkey && numeric(v) ? "=" : "", v);
			if (c)
				snprintf(G(1, k + 1), 48, "Δ%%");
		}
	for (int i = 0; i < nkeep; i++) {
		int r = keep[i];
		snprintf(G(i + 2, 0), 48, "%s", *rowkey ? axis_val(pl, pl->row, r) : "all");
		for (int s = 0; s < t->ns; s++)
			for (int c = 0; c < ncol; c++) {
				int k = 1 + s * (2 * ncol - 1) + (c ? 2 * c - 1 : 0);
				cell_text(G(i + 2, k), 48, &CELL(t, r, s, c));
				if (c)
					delta_text(G(i + 2, k + 1), 48, &CELL(t, r, s, c));
			}
	}
	for (int r = 0; r < nkeep + 2; r++)
		for (int c = 0; c < ncols; c++) {
			int len = 0;
			for (const unsigned char *p = (const unsigned char *)G(r, c); *p; p++)
				len += (*p & 0xc0) != 0x80; /* count UTF-8 characters */
			if (len > w[c])
				w[c] = len;
		}
	if (!md) {
		fprintf(f, "%s%s%s%s\n", first ? "" : "\n", t->title, t->splitdesc[0] ? ", " : "", t->splitdesc);
		for (int r = 0; r < nkeep + 2; r++) {
			char line[2048];
			size_t at = 0;
			for (int c = 0; c < ncols && at < sizeof(line); c++) {
				int len = 0;
				for (const unsigned char *p = (const unsigned char *)G(r, c); *p; p++)
					len += (*p & 0xc0) != 0x80;
				int sep = c > 0 && (c - 1) % (2 * ncol - 1) == 0;
				at += (size_t)snprintf(line + at, sizeof(line) - at, "%s%s%*s", c ? (sep ? "  | " : "  ") : "",
						      G(r, c), w[c] - len, "");
			}
			while (at > 0 && at <= sizeof(line) && line[at - 1] == ' ')
				at--;
			fprintf(f, "%.*s\n", (int)(at < sizeof(line) ? at : sizeof(line) - 1), line);
		}
	} else {
		fprintf(f, "%s**%s**%s%s\n\n", first ? "" : "\n", t->title, t->splitdesc[0] ? ", " : "", t->splitdesc);
		for (int r = 1; r < nkeep + 2; r++) {
			fprintf(f, "|");
			for (int c = 0; c < ncols; c++) {
				char h[100];
				if (r == 1 && c > 0)
					snprintf(h, sizeof(h), "%s %s", t->sides[(c - 1) / (2 * ncol - 1)], G(1, c));
				else
					snprintf(h, sizeof(h), "%s", G(r, c));
				fprintf(f, " %s |", h);
			}
			fprintf(f, "\n");
			if (r == 1) {
				fprintf(f, "|");
				for (int c = 0; c < ncols; c++)
					fprintf(f, "%s|", c ? "---:" : "---");
				fprintf(f, "\n");
			}
		}
	}
#undef G
	free(g);
	free(w);
	free(keep);
}

/* A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void csv_field(FILE *f, const char *s, const char *after)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(after, f);
}

static void emit_csv(FILE *f, const struct cmp_input *in, const struct plan *pl, const struct table *t)
{
	for (int r = 0; r < t->nrow; r++)
		for (int s = 0; s < t->ns; s++)
			for (int c = 0; c < t->ncol; c++) {
				const struct cell *x = &CELL(t, r, s, c);
				csv_field(f, in->experiment, ",");
				csv_field(f, t->metric, ",");
				csv_field(f, t->unit, ",");
				csv_field(f, t->splitdesc, ",");
				csv_field(f, axis_val(pl, pl->row, r), ",");
				csv_field(f, t->sides[s], ",");
				csv_field(f, axis_val(pl, pl->col, c), ",");
				if (x->n)
					fprintf(f, "%.6g,%.6g,%d,", x->mean, x->sd, x->n);
				else
					fprintf(f, ",,0,");
				if (isnan(x->delta))
					fprintf(f, ",");
				else
					fprintf(f, "%.6g,", x->delta);
				if (isnan(x->p))
					fprintf(f, ",,");
				else
					fprintf(f, "%.6g,%.6g,", x->p, x->padj);
				fprintf(f, "%d\n", c ? significant(x) : 0);
			}
}

static cJSON *json_number(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static cJSON *table_json(const struct plan *pl, const int *split, const struct table *t)
{
	cJSON *o = cJSON_CreateObject(), *sp, *rows;
	cJSON_AddStringToObject(o, "metric", t->metric);
	cJSON_AddStringToObject(o, "title", title_of(t->metric));
	cJSON_AddStringToObject(o, "unit", t->unit);
	sp = cJSON_AddObjectToObject(o, "split");
	for (int a = 0; a < pl->na; a++)
		if (a != pl->row && a != pl->col)
			cJSON_AddStringToObject(sp, pl->axes[a].key, pl->axes[a].vals[split[a]]);
	rows = cJSON_AddArrayToObject(o, "rows");
	for (int r = 0; r < t->nrow; r++) {
		cJSON *row = cJSON_CreateObject(), *cells;
		cJSON_AddStringToObject(row, "row", axis_val(pl, pl->row, r));
		cells = cJSON_AddArrayToObject(row, "cells");
		for (int s = 0; s < t->ns; s++)
			for (int c = 0; c < t->ncol; c++) {
				const struct cell *x = &CELL(t, r, s, c);
				cJSON *j = cJSON_CreateObject();
				cJSON_AddStringToObject(j, "side", t->sides[s]);
				cJSON_AddStringToObject(j, "column", axis_val(pl, pl->col, c));
				cJSON_AddNumberToObject(j, "n", x->n);
				cJSON_AddItemToObject(j, "mean", json_number(x->n ? x->mean : NAN));
				cJSON_AddItemToObject(j, "sd", json_number(x->n ? x->sd : NAN));
				cJSON_AddItemToObject(j, "delta_pct", json_number(x->delta));
				cJSON_AddItemToObject(j, "p_value", json_number(x->p));
				cJSON_AddItemToObject(j, "p_holm", json_number(x->padj));
				cJSON_AddBoolToObject(j, "significant", c && significant(x));
				cJSON_AddItemToArray(cells, j);
			}
		cJSON_AddItemToArray(rows, row);
	}
	return o;
}

static cJSON *json_head(const struct cmp_input *in, const struct plan *pl)
{
	char test[256];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "schema", COMPARE_JSON_SCHEMA);
	cJSON_AddStringToObject(o, "experiment", in->experiment);
	cJSON_AddStringToObject(o, "columns", pl->col >= 0 ? pl->axes[pl->col].key : "");
	cJSON_AddStringToObject(o, "rows", pl->row >= 0 ? pl->axes[pl->row].key : "");
	cJSON_AddStringToObject(o, "baseline", axis_val(pl, pl->col, 0));
	snprintf(test, sizeof(test), "mann-whitney-u, two-sided, exact at up to %d runs per pair (ties at mid-ranks), "
		 "per-run values; significant if the Holm-adjusted p over the table's comparisons is < 0.05",
		 STATS_EXACT_MAX_N);
	cJSON_AddStringToObject(o, "test", test);
	cJSON_AddNumberToObject(o, "stale_runs", in->stale);
	cJSON_AddNumberToObject(o, "tcg_runs", in->tcg);
	cJSON_AddNumberToObject(o, "nested_kvm_runs", in->nested);
	cJSON_AddArrayToObject(o, "tables");
	return o;
}

static void json_finish(FILE *f, const struct cmp_input *in, cJSON *o)
{
	cJSON *notes = cJSON_AddArrayToObject(o, "not_in_tables");
	for (size_t i = 0; i < in->nnotes; i++) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "variant", in->notes[i].variant);
		cJSON_AddStringToObject(n, "status", in->notes[i].status);
		cJSON_AddNumberToObject(n, "runs", in->notes[i].n);
		cJSON_AddStringToObject(n, "reason", in->notes[i].reason);
		cJSON_AddItemToArray(notes, n);
	}
	char *text = cJSON_Print(o);
	fprintf(f, "%s\n", text ? text : "{}");
	free(text);
	cJSON_Delete(o);
}

/* The next combination of the split keys' values; 0 after the last. */
static int next_split(const struct plan *pl, int *split)
{
	for (int a = pl->na - 1; a >= 0; a--) {
		if (a == pl->row || a == pl->col)
			continue;
		if (++split[a] < pl->axes[a].n)
			return 1;
		split[a] = 0;
	}
	return 0;
}

int compare_render(const struct cmp_input *in, const struct cmp_opts *o, FILE *f, char *err,
		   size_t errlen)
{
	struct plan pl;
	int split[MAXK] = { 0 }, first = 1, total_cmp = 0, max_cmp = 0;
	cJSON *json = NULL;

	if (!in->n) {
		compare_print_notes(in, "not in the tables: ", f);
		snprintf(err, errlen, "experiment \"%s\": no successful runs stored%s", in->experiment,
			 in->stale ? " under its current definition" : "");
		return -1;
	}
	if (build_plan(in, o, &pl, err, errlen))
		return -1;
	const char *colkey = pl.col >= 0 ? pl.axes[pl.col].key : "";
	const char *rowkey = pl.row >= 0 ? pl.axes[pl.row].key : "";
	if (o->format == CMP_JSON)
		json = json_head(in, &pl);
	else if (o->format == CMP_CSV)
		fprintf(f, "experiment,metric,unit,split,%s,side,%s,mean,sd,n,delta_pct,p_value,p_holm,significant\n",
			*rowkey ? rowkey : "row", *colkey ? colkey : "column");
	do {
		for (int mi = 0; mi < pl.nm; mi++) {
			struct table t;
			if (table_make(in, &pl, split, pl.metrics[mi], &t))
				continue;
			total_cmp += t.ncmp;
			max_cmp = t.ncmp > max_cmp ? t.ncmp : max_cmp;
			if (o->format == CMP_TEXT || o->format == CMP_MD)
				emit_grid(f, &pl, &t, o->format == CMP_MD, first);
			else if (o->format == CMP_CSV)
				emit_csv(f, in, &pl, &t);
			else
				cJSON_AddItemToArray(cJSON_GetObjectItem(json, "tables"), table_json(&pl, split, &t));
			first = 0;
			table_free(&t);
		}
	} while (next_split(&pl, split));
	if (json) {
		json_finish(f, in, json);
		return 0;
	}
	if (o->format == CMP_CSV)
		return 0;
	if (axis_n(&pl, pl.col) > 1)
		fprintf(f, "\nmean±sd (n runs); Δ%% against %s=%s; * Mann-Whitney U (exact, two-sided) over "
			"per-run values, p < 0.05 after Holm's correction for the table's comparisons "
			"(up to %d per table, %d in all)\n", colkey, axis_val(&pl, pl.col, 0), max_cmp, total_cmp);
	else
		fprintf(f, "\nmean±sd (n runs)\n");
	if (in->tcg)
		fprintf(f, "accel=tcg: QEMU's emulator ran %d of these %zu runs: functional only, not a latency "
			"measurement\n", in->tcg, in->n);
	if (in->nested)
		fprintf(f, "KVM nested under TCG ran %d of these %zu runs: functional only, no timing is real\n",
			in->nested, in->n);
	if (in->stale)
		fprintf(f, "%d ok run%s stored under an older definition of %s %s left out\n", in->stale,
			in->stale == 1 ? "" : "s", in->experiment, in->stale == 1 ? "is" : "are");
	compare_print_notes(in, "not in the tables: ", f);
	return 0;
}
