/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include "child.h"
#include "util.h"
#include "hostinfo.h"
#include "metrics.h"
#include "nightly.h"
#include "plot.h"
#include "stats.h"
#include "store.h"

struct prun { long long id; char variant[256]; };
struct pmet { int run; char side[12], name[40], unit[8]; double v; };
struct phist { int run; char side[12], name[40]; int cpu; unsigned bucket_ns; unsigned long long over; char *counts; };
struct pdata {
	struct prun *r;
	int nr;
	struct pmet *m;
	size_t nm;
	struct phist *h;
	size_t nh;
	char metrics[256];
	char variants[64][256];
	int nv;
	int tcg, nested;                 /* some runs were emulated: their times are not real */
};

#define GROW(p, n) do { void *g_ = realloc((p), ((n) + 1) * sizeof(*(p))); if (!g_) abort(); (p) = g_; } while (0)

static void v_defaults(void *a, const char *b, const char *rows, const char *cols, const char *metrics)
{
	struct pdata *d = a;
	snprintf(d->metrics, sizeof(d->metrics), "%s", metrics ? metrics : "");
}

static void v_run(void *a, const struct store_row *row)
{
	struct pdata *d = a;
	int v;
	if (strcmp(row->status, "ok") || !row->current)
		return;
	GROW(d->r, d->nr);
	d->r[d->nr].id = row->id;
	snprintf(d->r[d->nr].variant, sizeof(d->r[0].variant), "%s", row->variant[0] ? row->variant : "all");
	for (v = 0; v < d->nv && strcmp(d->variants[v], d->r[d->nr].variant); v++)
		;
	if (v == d->nv && d->nv < 64)
		snprintf(d->variants[d->nv++], sizeof(d->variants[0]), "%s", d->r[d->nr].variant);
	d->nr++;
	d->tcg |= store_row_tcg(row);
	d->nested |= store_row_nested(row);
}

/* A plot of emulated runs says so, as their tables do: a picture travels without its footer. */
static const char *caveat(const struct pdata *d)
{
	return d->tcg ? "accel=tcg: QEMU's emulator ran these guests: functional, not a latency measurement" :
	       d->nested ? "KVM nested under TCG: functional runs, no timing is real" : NULL;
}

static int run_of(const struct pdata *d, long long id)
{
	for (int i = d->nr - 1; i >= 0; i--)
		if (d->r[i].id == id)
			return i;
	return -1;
}

static void v_metric(void *a, long long id, const char *side, int cpu, const char *name, double value,
		     const char *unit, enum pvb_better better)
{
	struct pdata *d = a;
	(void)better;
	int r = run_of(d, id);
	/* a run's figure: over all its CPUs, or of the VM as a whole (a type's own, the null type's) */
	if (r < 0 || (cpu != METRIC_CPU_ALL && cpu != METRIC_CPU_VM) || !strcmp(side, "harness"))
		return;
	GROW(d->m, d->nm);
	struct pmet *m = &d->m[d->nm++];
	m->run = r;
	snprintf(m->side, sizeof(m->side), "%s", side);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->v = value;
}

static void v_hist(void *a, long long id, const char *side, int cpu, const char *name, unsigned bucket_ns,
		   unsigned long long over, const char *counts)
{
	struct pdata *d = a;
	int r = run_of(d, id);
	if (r < 0 || !bucket_ns)
		return;
	GROW(d->h, d->nh);
	struct phist *h = &d->h[d->nh++];
	*h = (struct phist){ .run = r, .cpu = cpu, .bucket_ns = bucket_ns, .over = over, .counts = strdup(counts) };
	snprintf(h->side, sizeof(h->side), "%s", side);
	snprintf(h->name, sizeof(h->name), "%s", name);
}

static void pdata_free(struct pdata *d)
{
	for (size_t i = 0; i < d->nh; i++)
		free(d->h[i].counts);
	free(d->h);
	free(d->m);
	free(d->r);
}

const char *plot_templates(void)
{
	static char dir[1100];
	const char *env = getenv("PVBENCH_PLOTS"), *b = pvb_build_dir(), *slash = strrchr(b, '/');
	if (env && *env)
		return env;
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s/plots", (int)(slash - b), b);
	else
		snprintf(dir, sizeof(dir), "plots");
	return dir;
}

/* gnuplot -e "set terminal T" -c TEMPLATE DATA OUT TITLE YLABEL NCOL, once per terminal. What
 * comes from the store (an experiment's name, a metric's, a path) travels as an argument that the
 * template reads as a string (ARG1..ARG5), never as gnuplot source: a name with a quote or a
 * newline in it is text, not a command. */
static int draw(const char *dir, const char *name, const char *tmpl, const char *ttl, const char *warn,
		const char *ylab, int ncol, char *err, size_t errlen)
{
	char full[600];
	snprintf(full, sizeof(full), "%s%s%s", ttl, warn ? "\n" : "", warn ? warn : ""); /* a second line */
	static const struct { const char *term, *ext; } terms[] = {
		{ "pngcairo size 900,540 font ',10'", "png" }, { "svg size 900,540 dynamic font ',10'", "svg" } };
	for (int t = 0; t < 2; t++) {
		char e[128], tp[1200], log[1200], out[1200], data[1200], nc[16];
		struct child c;
		struct stat st;
		snprintf(out, sizeof(out), "%s/%s.%s", dir, name, terms[t].ext);
		snprintf(data, sizeof(data), "%s/%s.dat", dir, name);
		snprintf(e, sizeof(e), "set terminal %s", terms[t].term);
		snprintf(tp, sizeof(tp), "%s/%s.gp", plot_templates(), tmpl);
		snprintf(log, sizeof(log), "%s/%s.log", dir, name);
		snprintf(nc, sizeof(nc), "%d", ncol);
		char *argv[] = { "gnuplot", "-e", e, "-c", tp, data, out, full, (char *)ylab, nc, NULL };
		struct child_io io = { .stdout_path = log, .stderr_path = log };
		if (child_spawn(&c, argv, &io, err, errlen) < 0)
			return -1;
		if (!child_wait(&c, 30000)) {
			child_kill(&c);
			snprintf(err, errlen, "gnuplot %s: hung (killed after 30 s)", tp);
			return -1;
		}
		if (!WIFEXITED(c.status) || WEXITSTATUS(c.status)) {
			snprintf(err, errlen, "gnuplot %s for %s failed (exit %d): see %s", tp, out,
				 WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1, log);
			return -1;
		}
		if (stat(out, &st) < 0 || st.st_size == 0) {
			snprintf(err, errlen, "gnuplot %s wrote no %s: see %s", tp, out, log);
			return -1;
		}
	}
	return 0;
}

static void add(struct plot_file *out, int max, int *n, const char *name, const char *title, const char *warn)
{
	if (*n >= max)
		return;
	snprintf(out[*n].name, sizeof(out[0].name), "%s", name);
	snprintf(out[*n].title, sizeof(out[0].title), "%s%s%s%s", title, warn ? " (" : "", warn ? warn : "", warn ? ")" : "");
	(*n)++;
}

/* The histograms of one side and name: counts per variant (runs summed; a run's all-CPU histogram
 * when it has one, else its per-CPU ones summed), then the histogram and CDF plots. */
static int hist_plots(const struct pdata *d, const char *exp, const char *dir, const char *side,
		      const char *name, struct plot_file *out, int max, int *n, char *err, size_t errlen)
{
	unsigned bucket = 0;
	size_t nb = 0;
	for (size_t i = 0; i < d->nh; i++)
		if (!strcmp(d->h[i].side, side) && !strcmp(d->h[i].name, name)) {
			bucket = d->h[i].bucket_ns;
			for (const char *p = d->h[i].counts; *p;) {
				size_t idx = strtoul(p, NULL, 10);
				nb = idx + 1 > nb ? idx + 1 : nb;
				p += strcspn(p, ",");
				p += *p == ',';
			}
		}
	if (!nb)
		return 0;
	double *cnt = calloc(nb * (size_t)d->nv, sizeof(double)), *over = calloc((size_t)d->nv, sizeof(double));
	if (!cnt || !over)
		abort();
	for (size_t i = 0; i < d->nh; i++) {
		const struct phist *h = &d->h[i];
		int v, has_all = 0;
		if (strcmp(h->side, side) || strcmp(h->name, name) || h->bucket_ns != bucket)
			continue;
		for (size_t j = 0; j < d->nh; j++)
			has_all |= d->h[j].run == h->run && d->h[j].cpu == METRIC_CPU_ALL &&
				   !strcmp(d->h[j].side, side) && !strcmp(d->h[j].name, name);
		if (has_all && h->cpu != METRIC_CPU_ALL)
			continue;
		for (v = 0; v < d->nv && strcmp(d->variants[v], d->r[h->run].variant); v++)
			;
		for (const char *p = h->counts; *p;) {
			char *e;
			size_t idx = strtoul(p, &e, 10);
			double c = *e == ':' ? strtod(e + 1, &e) : 0;
			if (idx < nb)
				cnt[(size_t)v * nb + idx] += c;
			p = e + strcspn(e, ",");
			p += *p == ',';
		}
		over[v] += (double)h->over;
	}
	char base[96], path[1200], ttl[300];
	for (int kind = 0; kind < 2; kind++) {
		snprintf(base, sizeof(base), "%s-%s-%s", kind ? "cdf" : "hist", side, name);
		snprintf(path, sizeof(path), "%s/%s.dat", dir, base);
		FILE *f = fopen(path, "w");
		if (!f) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(cnt);
			free(over);
			return -1;
		}
		fprintf(f, "# %s: %s %s latency, %s per variant; bucket %u ns\nbucket_us", exp, side, name,
			kind ? "cumulative fraction (overflow counted)" : "samples (runs summed)", bucket);
		for (int v = 0; v < d->nv; v++)
			fprintf(f, " \"%s\"", d->variants[v]);
		fprintf(f, "\n");
		double *acc = calloc((size_t)d->nv, sizeof(double)), *tot = calloc((size_t)d->nv, sizeof(double));
		if (!acc || !tot)
			abort();
		for (int v = 0; v < d->nv; v++) {
			tot[v] = over[v];
			for (size_t b = 0; b < nb; b++)
				tot[v] += cnt[(size_t)v * nb + b];
		}
		for (size_t b = 0; b < nb; b++) {
			int any = 0;
			for (int v = 0; v < d->nv; v++)
				any |= cnt[(size_t)v * nb + b] > 0;
			if (!any)
				continue;
			fprintf(f, "%g", (double)b * bucket / 1000);
			for (int v = 0; v < d->nv; v++) {
				double c = cnt[(size_t)v * nb + b];
				acc[v] += c;
				if (kind)
					fprintf(f, " %.6g", tot[v] ? acc[v] / tot[v] : NAN);
				else
					fprintf(f, c > 0 ? " %.0f" : " NaN", c);
			}
			fprintf(f, "\n");
		}
		free(acc);
		free(tot);
		fclose(f);
		snprintf(ttl, sizeof(ttl), "%s: %s %s latency %s", exp, side, name, kind ? "CDF" : "histogram");
		if (draw(dir, base, kind ? "cdf" : "hist", ttl, caveat(d), "", d->nv + 1, err, errlen)) {
			free(cnt);
			free(over);
			return -1;
		}
		add(out, max, n, base, ttl, caveat(d));
	}
	free(cnt);
	free(over);
	return 0;
}

static int bar_plot(const struct pdata *d, const char *exp, const char *dir, const char *side,
		    const char *name, struct plot_file *out, int max, int *n, char *err, size_t errlen)
{
	char base[96], path[1200], ttl[300], unit[8] = "";
	double *v = malloc(((size_t)d->nr + 1) * sizeof(double));
	int rows = 0;
	if (!v)
		abort();
	snprintf(base, sizeof(base), "bars-%s-%s", side, name);
	snprintf(path, sizeof(path), "%s/%s.dat", dir, base);
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(v);
		return -1;
	}
	fprintf(f, "# %s: %s %s per variant: median, 25th and 75th percentile over runs, runs\n", exp, side, name);
	for (int k = 0; k < d->nv; k++) {
		size_t c = 0;
		double scale = 1;
		for (size_t i = 0; i < d->nm; i++)
			if (!strcmp(d->m[i].side, side) && !strcmp(d->m[i].name, name) &&
			    !strcmp(d->r[d->m[i].run].variant, d->variants[k])) {
				scale = strcmp(d->m[i].unit, "ns") ? 1 : 1e-3;
				snprintf(unit, sizeof(unit), "%s", scale == 1 ? d->m[i].unit : "us");
				v[c++] = d->m[i].v * scale;
			}
		if (!c)
			continue;
		fprintf(f, "\"%s\" %.6g %.6g %.6g %zu\n", d->variants[k], stats_median(v, c),
			stats_quantile(v, c, 0.25), stats_quantile(v, c, 0.75), c);
		rows++;
	}
	fclose(f);
	free(v);
	if (!rows)
		return 0;
	snprintf(ttl, sizeof(ttl), "%s: %s %s (%s), median and interquartile range over runs", exp, side, name, unit);
	char ylab[200];
	snprintf(ylab, sizeof(ylab), "%s (%s)", name, unit);
	if (draw(dir, base, "bars", ttl, caveat(d), ylab, 0, err, errlen))
		return -1;
	add(out, max, n, base, ttl, caveat(d));
	return 0;
}

/* A nightly experiment: its judged history (nightly.h), one plot per series. */
static int series_plots(struct store *st, const char *exp, const char *dir, const char *warn, struct plot_file *out,
			int max, int *n, char *err, size_t errlen)
{
	struct cp_params cp = CP_PARAMS_DEFAULT;
	cJSON *arr = cJSON_CreateArray(), *s;
	int k = 0, rc = 0;
	if (nightly_judge(st, exp, &cp, NULL, NULL, arr, err, errlen) < 0) {
		cJSON_Delete(arr);
		return -1;
	}
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "series")) {
		char base[96], path[1200], ttl[300];
		const char *unit = cJSON_GetObjectItem(s, "unit")->valuestring;
		double scale = strcmp(unit, "ns") ? 1 : 1e-3;
		cJSON *p, *c;
		int i = 0;
		snprintf(base, sizeof(base), "series-%d", ++k);
		snprintf(path, sizeof(path), "%s/%s.dat", dir, base);
		FILE *f = fopen(path, "w");
		if (!f) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
			break;
		}
		fprintf(f, "# night, median, change point (the new median, else NaN), session, under test\n");
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(s, "points")) {
			const char *sess = cJSON_GetObjectItem(p, "session")->valuestring;
			double cpv = NAN;
			cJSON_ArrayForEach(c, cJSON_GetObjectItem(s, "changes"))
				if (!strcmp(cJSON_GetObjectItem(c, "session")->valuestring, sess))
					cpv = cJSON_GetObjectItem(p, "median")->valuedouble * scale;
			fprintf(f, "%d %.6g %.6g \"%.10s\" \"%s\"\n", i++,
				cJSON_GetObjectItem(p, "median")->valuedouble * scale, cpv, sess,
				cJSON_GetObjectItem(p, "under_test")->valuestring);
		}
		fclose(f);
		snprintf(ttl, sizeof(ttl), "%s: %s %s (%s) of %s, median per night, change points marked", exp,
			 cJSON_GetObjectItem(s, "side")->valuestring, cJSON_GetObjectItem(s, "metric")->valuestring,
			 scale == 1 ? unit : "us", cJSON_GetObjectItem(s, "variant")->valuestring);
		if ((rc = draw(dir, base, "series", ttl, warn, "", 0, err, errlen)))
			break;
		add(out, max, n, base, ttl, warn);
	}
	cJSON_Delete(arr);
	return rc;
}

int plot_experiment(struct store *st, const char *exp, const char *dir, struct plot_file *out,
		    int max, char *err, size_t errlen)
{
	struct pdata d = { 0 };
	struct store_visitor v = { .arg = &d, .defaults = v_defaults, .run = v_run, .metric = v_metric, .hist = v_hist };
	int n = 0, rc = -1, sessions = 0;
	char seen[64][96];
	int nseen = 0;

	if (mkdir_p(dir) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (store_visit(st, exp, NULL, &v, err, errlen))
		goto out;
	/* histograms and CDFs, one per side and histogram name */
	for (size_t i = 0; i < d.nh; i++) {
		char key[96];
		int dup = 0;
		snprintf(key, sizeof(key), "%s/%s", d.h[i].side, d.h[i].name);
		for (int j = 0; j < nseen; j++)
			dup |= !strcmp(seen[j], key);
		if (dup || nseen == 64)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
		if (hist_plots(&d, exp, dir, d.h[i].side, d.h[i].name, out, max, &n, err, errlen))
			goto out;
	}
	/* bars: the experiment's metrics on every side that has them */
	nseen = 0;
	for (size_t i = 0; i < d.nm; i++) {
		char key[96], list[300];
		int dup = 0;
		snprintf(list, sizeof(list), ",%s,", d.metrics);
		snprintf(key, sizeof(key), ",%s,", d.m[i].name);
		if (d.metrics[0] && !strstr(list, key))
			continue;
		snprintf(key, sizeof(key), "%s/%s", d.m[i].side, d.m[i].name);
		for (int j = 0; j < nseen; j++)
			dup |= !strcmp(seen[j], key);
		if (dup || nseen == 64)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
		if (bar_plot(&d, exp, dir, d.m[i].side, d.m[i].name, out, max, &n, err, errlen))
			goto out;
	}
	/* a nightly experiment's history ("NAME@SUITE") */
	sessions = strchr(exp, '@') != NULL;
	if (sessions && series_plots(st, exp, dir, caveat(&d), out, max, &n, err, errlen))
		goto out;
	rc = n;
out:
	pdata_free(&d);
	return rc;
}
