/* SPDX-License-Identifier: MIT */
/*
 * pvbench report --html DIR: a static dashboard that opens from a file, no server and no script.
 * index.html lists hosts, experiments, nightly suites, A/B sessions and the published tables
 * with their verdict counts; one page per experiment has, per host, the machine facts, the
 * comparison tables, the verdicts (A/B, nightly change points, published tables), the plots and
 * links to each run's raw outputs. Everything is read from one store, a host's or a central one.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ab.h"
#include "util.h"
#include "compare.h"
#include "html.h"
#include "nightly.h"
#include "plot.h"
#include "reproduce.h"
#include "store.h"

struct rows {
	char (*v)[8][256];
	int n;
};

static void collect(void *arg, int ncols, const char *const *vals)
{
	struct rows *r = arg;
	void *g = realloc(r->v, (size_t)(r->n + 1) * sizeof(*r->v));
	if (!g)
		abort();
	r->v = g;
	for (int i = 0; i < 8; i++)
		snprintf(r->v[r->n][i], sizeof(r->v[0][0]), "%s", i < ncols && vals[i] ? vals[i] : "");
	r->n++;
}

static int query(struct store *st, const char *sql, int n, const char *const *p, struct rows *out,
		 char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return store_query(st, sql, n, p, collect, out, err, errlen);
}

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A file name (and anchor) for an experiment, host or table: [A-Za-z0-9._-], the rest as '_'.
 * Two names that differ only where '_' stands would share a page: a name that needed a '_' also
 * gets its own hash (FNV-1a), so every name has a file of its own. */
static void slug(char *dst, size_t n, const char *s)
{
	size_t i = 0;
	uint32_t h = 2166136261u;
	int changed = 0;
	for (const char *p = s; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (; *s && i + 10 < n; s++) {
		int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			 *s == '.' || *s == '-';
		dst[i++] = ok ? *s : '_';
		changed |= !ok;
	}
	if (changed || *s) /* cut or changed */
		i += (size_t)snprintf(dst + i, n - i, "-%08x", h);
	dst[i < n ? i : n - 1] = 0;
}

static void head(FILE *f, const char *title)
{
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
	esc(f, title);
	fprintf(f, "</title>\n<style>\n"
		   "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}\n"
		   "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
		   "th{background:#f0f0f0}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:12px}\n"
		   ".plots figure{display:inline-block;margin:4px}.plots img{width:440px;border:1px solid #ddd}.ok{color:#060}.bad{color:#a00}\n"
		   "h2{border-bottom:1px solid #ccc;margin-top:1.6em}.note{color:#666}td.t{white-space:nowrap}\n"
		   "</style></head><body>\n<h1>");
	esc(f, title);
	fprintf(f, "</h1>\n");
}

/* what a renderer prints, into a <pre> */
static FILE *pre_begin(char **buf, size_t *len)
{
	FILE *m = open_memstream(buf, len);
	if (!m)
		abort();
	return m;
}

static void pre_end(FILE *f, FILE *m, char **buf)
{
	fclose(m);
	fputs("<pre>", f);
	esc(f, *buf);
	fputs("</pre>\n", f);
	free(*buf);
	*buf = NULL;
}

/* DIR-relative link to a path on this machine, or "" when it is not here */
static void rel_link(char *out, size_t n, const char *dir_abs, const char *path)
{
	char abs[PATH_MAX];
	out[0] = 0;
	if (!path || !*path || !realpath(path, abs))
		return;
	/* common prefix by whole components, then one ../ per remaining component of dir */
	size_t i = 0, last = 0;
	while (dir_abs[i] && abs[i] && dir_abs[i] == abs[i]) {
		if (abs[i] == '/')
			last = i;
		i++;
	}
	if (!dir_abs[i] && (abs[i] == '/' || !abs[i]))
		last = i;
	size_t o = 0;
	for (const char *p = dir_abs + last; *p; p++)
		if (*p == '/' && o + 4 < n)
			o += (size_t)snprintf(out + o, n - o, "../");
	snprintf(out + o, n - o, "%s", abs[last] == '/' ? abs + last + 1 : abs + last);
}

/* a published table, read once for the whole report */
struct pub {
	char id[128], exp[128];
	cJSON *ref;
	int shown;                   /* its experiment has runs here */
};

struct ctx {
	struct store *st;
	const char *dir, *published;
	struct pub pubs[64];
	int npubs;
	char dir_abs[PATH_MAX];
	struct repro_summary total;
	FILE *index_tables;      /* rows of the published-tables table, for the index */
	char *itab;
	size_t itab_len;
};

/* the published tables whose experiment is exp: judged against this host's runs */
static void published(struct ctx *c, FILE *f, const char *exp, const char *host)
{
	for (int i = 0; i < c->npubs; i++) {
		struct pub *p = &c->pubs[i];
		struct cmp_input in;
		char err[300];
		if (strcmp(p->exp, exp) || compare_load(c->st, exp, &in, err, sizeof(err)))
			continue;
		struct repro_summary s = { 0 };
		char *buf, origin[300], sl[200];
		size_t blen;
		p->shown = 1;
		snprintf(origin, sizeof(origin), "experiment %s, host %s", exp, host);
		FILE *m = pre_begin(&buf, &blen);
		reproduce_table(p->ref, &in, origin, m, NULL, &s);
		char idsl[200];
		slug(idsl, sizeof(idsl), p->id); /* a file's name: text where shown, a slug in anchors */
		fprintf(f, "<h4 id=\"pub-%s\">Published table ", idsl);
		esc(f, p->id);
		fprintf(f, "</h4>\n");
		pre_end(f, m, &buf);
		slug(sl, sizeof(sl), exp);
		fprintf(c->index_tables, "<tr><td>");
		esc(c->index_tables, p->id);
		fprintf(c->index_tables, "</td><td>");
		esc(c->index_tables, cJSON_GetObjectItem(p->ref, "title")->valuestring);
		fprintf(c->index_tables, "</td><td><a href=\"exp-%s.html#pub-%s\">", sl, idsl);
		esc(c->index_tables, exp);
		fprintf(c->index_tables, "</a></td><td>");
		esc(c->index_tables, host);
		fprintf(c->index_tables, "</td><td class=\"ok\">%d</td><td>%d</td><td class=\"bad\">%d</td><td>%d</td></tr>\n",
			s.reproduced, s.direction_only, s.not_reproduced, s.unjudged);
		c->total.cells += s.cells;
		c->total.reproduced += s.reproduced;
		c->total.direction_only += s.direction_only;
		c->total.not_reproduced += s.not_reproduced;
		c->total.unjudged += s.unjudged;
		cmp_input_free(&in);
	}
}

/* every published table, once (a file that is not one is left out here: reproduce says why) */
static void load_pubs(struct ctx *c)
{
	struct dirent **ents;
	int n = scandir(c->published, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char path[1200], err[300];
		size_t len = strlen(ents[i]->d_name);
		cJSON *ref = NULL;
		if (len > 5 && !strcmp(ents[i]->d_name + len - 5, ".json") && c->npubs < 64) {
			snprintf(path, sizeof(path), "%s/%s", c->published, ents[i]->d_name);
			ref = reproduce_load(path, err, sizeof(err));
		}
		if (ref) {
			struct pub *p = &c->pubs[c->npubs++];
			snprintf(p->id, sizeof(p->id), "%.*s", (int)(len - 5), ents[i]->d_name);
			reproduce_experiment_name(ref, p->exp, sizeof(p->exp));
			p->ref = ref;
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

/* What the host's runs ran on: one row per KVM backend, kernel, VMM, guest and pvbench build. */
static int host_facts(struct ctx *c, FILE *f, const char *exp, const char *host, char *err, size_t errlen)
{
	const char *p2[] = { exp, host };
	struct rows facts;
	fprintf(f, "<h2>Host ");
	esc(f, host[0] ? host : "(unnamed)");
	fprintf(f, "</h2>\n<table><tr><th>KVM backend</th><th>host kernel</th><th>VMM</th><th>guest build</th>"
		   "<th>pvbench</th><th>runs</th></tr>\n");
	if (query(c->st, "SELECT kvm_backend, host_kernel, vmm, guest_build, pvbench_commit, count(*) FROM runs"
			 " WHERE experiment=$1 AND host=$2 GROUP BY 1,2,3,4,5 ORDER BY 6 DESC", 2, p2, &facts, err, errlen))
		return -1;
	for (int i = 0; i < facts.n; i++) {
		fprintf(f, "<tr>");
		for (int k = 0; k < 6; k++) {
			fprintf(f, k == 5 ? "<td class=\"t\">" : "<td>");
			esc(f, facts.v[i][k]);
			fprintf(f, "</td>");
		}
		fprintf(f, "</tr>\n");
	}
	free(facts.v);
	fprintf(f, "</table>\n");
	return 0;
}

/* The experiment's tables as `compare` prints them; an A/B session's verdict (its name has
 * "-ab-") and a nightly series' change points (its name has '@'), as `ab --stored` and
 * `nightly` give them. */
static int host_tables(struct ctx *c, FILE *f, const char *exp, char *err, size_t errlen)
{
	struct cmp_input in;
	struct cmp_opts co = { .format = CMP_TEXT };
	char *buf;
	size_t blen;
	fprintf(f, "<h3>Tables</h3>\n");
	if (compare_load(c->st, exp, &in, err, errlen))
		return -1;
	FILE *m = pre_begin(&buf, &blen);
	if (compare_render(&in, &co, m, err, errlen) < 0)
		fprintf(m, "%s\n", err);
	cmp_input_free(&in);
	pre_end(f, m, &buf);
	if (strstr(exp, "-ab-")) {
		struct ab_params p = AB_PARAMS_DEFAULT;
		struct ab_arms arms;
		if (!ab_load(c->st, exp, NULL, NULL, &arms, err, errlen) && arms.runs[0] && arms.b[0]) {
			struct ab_report rep = { .experiment = exp, .a = arms.a, .b = arms.b,
						 .stop = "from the store", .test = "verdicts as pvbench ab --stored gives them",
						 .runs_a = arms.runs[0], .runs_a2 = arms.runs[1], .runs_b = arms.runs[2] };
			ab_analyse(arms.m, arms.n, &p);
			fprintf(f, "<h3>A/B verdict</h3>\n");
			m = pre_begin(&buf, &blen);
			ab_render(m, &rep, arms.m, arms.n, &p, 0);
			pre_end(f, m, &buf);
		}
		ab_arms_free(&arms);
	}
	if (strchr(exp, '@')) {
		struct cp_params cp = CP_PARAMS_DEFAULT;
		fprintf(f, "<h3>Nightly change points</h3>\n");
		m = pre_begin(&buf, &blen);
		if (nightly_judge(c->st, exp, &cp, NULL, m, NULL, err, errlen) < 0)
			fprintf(m, "%s\n", err);
		pre_end(f, m, &buf);
	}
	return 0;
}

/* The host's plots, drawn into plots/EXP/HOST/ beside the page: PNG shown, SVG and data linked. */
static int host_plots(struct ctx *c, FILE *f, const char *exp, const char *sl, const char *host, char *err,
		      size_t errlen)
{
	struct plot_file pf[128];
	char hsl[100], pdir[1600];
	slug(hsl, sizeof(hsl), host[0] ? host : "unnamed");
	snprintf(pdir, sizeof(pdir), "%s/plots/%s/%s", c->dir, sl, hsl);
	int np = plot_experiment(c->st, exp, pdir, pf, 128, err, errlen);
	if (np < 0)
		return -1;
	fprintf(f, "<h3>Plots</h3>\n<div class=\"plots\">\n");
	for (int i = 0; i < np; i++) {
		fprintf(f, "<figure><a href=\"plots/%s/%s/%s.svg\"><img src=\"plots/%s/%s/%s.png\" alt=\"", sl, hsl,
			pf[i].name, sl, hsl, pf[i].name);
		esc(f, pf[i].title);
		fprintf(f, "\"></a><figcaption><a href=\"plots/%s/%s/%s.dat\">data</a></figcaption></figure>\n", sl, hsl,
			pf[i].name);
	}
	fprintf(f, "%s</div>\n", np ? "" : "<p class=\"note\">no runs to plot</p>");
	return 0;
}

/* The host's newest 200 runs: status, why, and a link to each one's raw outputs where this host
 * has them (a central store's runs of other hosts say where they are). */
static int host_runs(struct ctx *c, FILE *f, const char *exp, const char *host, char *err, size_t errlen)
{
	const char *p2[] = { exp, host };
	struct rows runs;
	if (query(c->st, "SELECT variant, rep, status, reason, run_dir, session FROM runs WHERE experiment=$1"
			 " AND host=$2 ORDER BY id DESC LIMIT 200", 2, p2, &runs, err, errlen))
		return -1;
	fprintf(f, "<h3>Runs (newest 200) and their raw outputs</h3>\n<table><tr><th>variant</th><th>rep</th>"
		   "<th>session</th><th>status</th><th>output</th></tr>\n");
	for (int i = 0; i < runs.n; i++) {
		char link[PATH_MAX];
		rel_link(link, sizeof(link), c->dir_abs, runs.v[i][4]);
		fprintf(f, "<tr><td>");
		esc(f, runs.v[i][0]);
		fprintf(f, "</td><td>%s</td><td>", runs.v[i][1]);
		esc(f, runs.v[i][5]);
		fprintf(f, "</td><td class=\"%s\">", strcmp(runs.v[i][2], "ok") ? "bad" : "ok");
		esc(f, runs.v[i][2]);
		if (runs.v[i][3][0]) {
			fprintf(f, ": ");
			esc(f, runs.v[i][3]);
		}
		fprintf(f, "</td><td>");
		if (link[0]) {
			fprintf(f, "<a href=\"");
			esc(f, link);
			fprintf(f, "/\">run directory</a>");
		} else {
			fprintf(f, "<span class=\"note\">on host ");
			esc(f, host);
			fprintf(f, "</span>");
		}
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
	free(runs.v);
	return 0;
}

/* An experiment's page: per host that ran it, its facts, tables, verdicts, published tables,
 * plots and runs, each from that host's runs only. */
static int experiment_page(struct ctx *c, const char *exp, const char *description, char *err, size_t errlen)
{
	char sl[200], path[1400];
	struct rows hosts;
	const char *p1[] = { exp };
	int rc = 0;

	slug(sl, sizeof(sl), exp);
	snprintf(path, sizeof(path), "%s/exp-%s.html", c->dir, sl);
	if (query(c->st, "SELECT DISTINCT host FROM runs WHERE experiment=$1 ORDER BY host", 1, p1, &hosts, err, errlen))
		return -1;
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(hosts.v);
		return -1;
	}
	head(f, exp);
	fprintf(f, "<p><a href=\"index.html\">index</a>%s", description && *description ? " &middot; " : "");
	esc(f, description);
	fprintf(f, "</p>\n");
	for (int h = 0; h < hosts.n && !rc; h++) {
		const char *host = hosts.v[h][0];
		store_only_host(c->st, host);
		rc = host_facts(c, f, exp, host, err, errlen) || host_tables(c, f, exp, err, errlen);
		if (!rc)
			published(c, f, exp, host);
		rc = rc || host_plots(c, f, exp, sl, host, err, errlen) || host_runs(c, f, exp, host, err, errlen);
	}
	store_only_host(c->st, NULL);
	free(hosts.v);
	if (rc) {
		fclose(f);
		return -1;
	}
	fprintf(f, "</body></html>\n");
	return fclose(f) ? -1 : 0;
}

/* published tables whose experiment has no runs in this store: listed, never dropped */
static void unmatched(struct ctx *c)
{
	for (int i = 0; i < c->npubs; i++) {
		struct pub *p = &c->pubs[i];
		if (p->shown)
			continue;
		fprintf(c->index_tables, "<tr><td>");
		esc(c->index_tables, p->id);
		fprintf(c->index_tables, "</td><td>");
		esc(c->index_tables, cJSON_GetObjectItem(p->ref, "title")->valuestring);
		fprintf(c->index_tables, "</td><td>");
		esc(c->index_tables, cJSON_GetObjectItem(p->ref, "experiment")->valuestring);
		fprintf(c->index_tables, "</td><td colspan=\"5\" class=\"note\">not measured: no runs of ");
		esc(c->index_tables, p->exp);
		fprintf(c->index_tables, " in this store (pvbench reproduce --run ");
		esc(c->index_tables, p->id);
		fprintf(c->index_tables, ")</td></tr>\n");
	}
}

int report_html(struct store *st, const char *store_label, const char *dir, const char *published_dir,
		char *err, size_t errlen)
{
	struct ctx c = { .st = st, .dir = dir, .published = published_dir };
	struct rows hosts, exps;
	char path[1200], now[32];
	time_t t = time(NULL);
	int rc = -1;

	if (mkdir_p(dir) < 0 || !realpath(dir, c.dir_abs)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	if (query(st, "SELECT host, max(host_kernel), max(kvm_backend), max(vmm), count(*), max(ended_at)"
		      " FROM runs GROUP BY host ORDER BY host", 0, NULL, &hosts, err, errlen))
		return -1;
	if (query(st, "SELECT r.experiment, coalesce(max(e.type), ''), coalesce(max(e.description), ''),"
		      " count(*), sum(CASE WHEN r.status = 'ok' THEN 1 ELSE 0 END), max(r.ended_at),"
		      " count(DISTINCT r.host), sum(CASE WHEN r.status = 'skipped' THEN 1 ELSE 0 END)"
		      " FROM runs r LEFT JOIN experiments e ON e.name = r.experiment"
		      " GROUP BY r.experiment ORDER BY r.experiment", 0, NULL, &exps, err, errlen)) {
		free(hosts.v);
		return -1;
	}
	load_pubs(&c);
	c.index_tables = open_memstream(&c.itab, &c.itab_len);
	if (!c.index_tables)
		abort();
	for (int i = 0; i < exps.n; i++) {
		fprintf(stderr, "[%d/%d] %s\n", i + 1, exps.n, exps.v[i][0]);
		if (experiment_page(&c, exps.v[i][0], exps.v[i][2], err, errlen))
			goto out;
	}
	unmatched(&c);
	fclose(c.index_tables);
	c.index_tables = NULL;

	snprintf(path, sizeof(path), "%s/index.html", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	head(f, "pvbench dashboard");
	fprintf(f, "<p class=\"note\">Store ");
	esc(f, store_label);
	fprintf(f, ", made %s. Values measured on these hosts; under accel=tcg (QEMU's emulator) runs are "
		   "functional only, not latency measurements.</p>\n", now);
	fprintf(f, "<h2>Hosts</h2>\n<table><tr><th>host</th><th>kernel</th><th>KVM backend</th><th>VMM</th>"
		   "<th>runs</th><th>last run</th></tr>\n");
	for (int i = 0; i < hosts.n; i++) {
		fprintf(f, "<tr>");
		for (int k = 0; k < 6; k++) {
			fprintf(f, "<td>");
			esc(f, k == 0 && !hosts.v[i][0][0] ? "(unnamed)" : hosts.v[i][k]);
			fprintf(f, "</td>");
		}
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n");
	static const char *const sections[] = { "Experiments", "Nightly suites", "A/B sessions" };
	/* an empty section says what would fill it, not a bare header */
	static const char *const none[] = { "pvbench run EXPERIMENT.ini", "pvbench nightly SUITE",
					    "pvbench ab EXPERIMENT.ini -a ... -b ..." };
	for (int s = 0; s < 3; s++) {
		int any = 0;
		for (int i = 0; i < exps.n; i++)
			any |= (strchr(exps.v[i][0], '@') ? 1 : strstr(exps.v[i][0], "-ab-") ? 2 : 0) == s;
		if (!any) {
			fprintf(f, "<h2>%s</h2>\n<p class=\"none\">None in this store (<code>%s</code> makes them).</p>\n",
				sections[s], none[s]);
			continue;
		}
		fprintf(f, "<h2>%s</h2>\n<table><tr><th>%s</th><th>type</th><th>description</th><th>hosts</th>"
			   "<th>runs ok / all</th><th>last run</th></tr>\n", sections[s], s == 1 ? "experiment@suite" : "name");
		for (int i = 0; i < exps.n; i++) {
			const char *n = exps.v[i][0];
			int kind = strchr(n, '@') ? 1 : strstr(n, "-ab-") ? 2 : 0;
			char sl[200];
			if (kind != s)
				continue;
			slug(sl, sizeof(sl), n);
			fprintf(f, "<tr><td><a href=\"exp-%s.html\">", sl);
			esc(f, n);
			fprintf(f, "</a></td><td>");
			esc(f, exps.v[i][1]);
			fprintf(f, "</td><td>");
			esc(f, exps.v[i][2]);
			fprintf(f, "</td><td>");
			esc(f, exps.v[i][6]); /* host names: a lab's labels, text like any other */
			/* skipped runs are the host's lack (no KVM), not the experiment's failures */
			fprintf(f, "</td><td class=\"t\">%s / %s%s%s%s</td><td class=\"t\">", exps.v[i][4], exps.v[i][3],
				atoi(exps.v[i][7]) ? " (" : "", atoi(exps.v[i][7]) ? exps.v[i][7] : "",
				atoi(exps.v[i][7]) ? " skipped)" : "");
			esc(f, exps.v[i][5]);
			fprintf(f, "</td></tr>\n");
		}
		fprintf(f, "</table>\n");
	}
	fprintf(f, "<h2>Published tables</h2>\n<p>%d cells judged: %d reproduced, %d direction only, %d not "
		   "reproduced, %d not judged (not measured, too few runs, inconclusive). Absolute values differ "
		   "with hardware: cells are judged on direction and ratio.</p>\n<table><tr><th>table</th><th>title</th>"
		   "<th>experiment</th><th>host</th><th>reproduced</th><th>direction only</th><th>not reproduced</th>"
		   "<th>not judged</th></tr>\n%s</table>\n</body></html>\n", c.total.cells, c.total.reproduced,
		c.total.direction_only, c.total.not_reproduced, c.total.unjudged, c.itab ? c.itab : "");
	rc = fclose(f) ? -1 : 0;
out:
	for (int i = 0; i < c.npubs; i++)
		cJSON_Delete(c.pubs[i].ref);
	if (c.index_tables)
		fclose(c.index_tables);
	free(c.itab);
	free(hosts.v);
	free(exps.v);
	return rc;
}
