/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "nightly.h"
#include "stats.h"
#include "compare.h"
#include "store.h"

/* ---- history ---- */

struct hrun { long long id; int session; char host[64]; };
struct hval { int run; char key[200]; double value; char unit[8]; enum pvb_better better; };
struct history {
	char (*session)[32];
	char (*under_test)[128];
	int nsess;
	struct hrun *runs;
	int nruns;
	struct hval *vals;
	size_t nvals;
	char metrics[256];
};

struct hctx { struct history *h; char (*variant)[256]; int asked; };

static void h_defaults(void *a, const char *baseline, const char *rows, const char *columns,
		       const char *metrics)
{
	struct hctx *c = a;
	if (!c->asked)
		snprintf(c->h->metrics, sizeof(c->h->metrics), "%s", metrics ? metrics : "");
}

static void h_run(void *a, const struct store_row *r)
{
	struct hctx *c = a;
	struct history *h = c->h;
	int s;
	if (strcmp(r->status, "ok"))
		return;
	for (s = 0; s < h->nsess && strcmp(h->session[s], r->session); s++)
		;
	if (s == h->nsess) {
		h->session = realloc(h->session, (size_t)(s + 1) * sizeof(*h->session));
		h->under_test = realloc(h->under_test, (size_t)(s + 1) * sizeof(*h->under_test));
		if (!h->session || !h->under_test)
			abort();
		snprintf(h->session[s], sizeof(h->session[s]), "%s", r->session);
		snprintf(h->under_test[s], sizeof(h->under_test[s]), "%s", r->under_test);
		h->nsess++;
	}
	h->runs = realloc(h->runs, (size_t)(h->nruns + 1) * sizeof(*h->runs));
	c->variant = realloc(c->variant, (size_t)(h->nruns + 1) * sizeof(*c->variant));
	if (!h->runs || !c->variant)
		abort();
	h->runs[h->nruns] = (struct hrun){ .id = r->id, .session = s };
	snprintf(h->runs[h->nruns].host, sizeof(h->runs[0].host), "%s", r->host ? r->host : "");
	snprintf(c->variant[h->nruns], sizeof(c->variant[0]), "%s", r->variant);
	h->nruns++;
}

static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',' || p[-1] == ' ') && (!p[n] || p[n] == ','))
			return 1;
	return 0;
}

static void h_metric(void *a, long long id, const char *side, int cpu, const char *name,
		     double value, const char *unit, enum pvb_better better)
{
	struct hctx *c = a;
	struct history *h = c->h;
	int r;
	if (cpu != METRIC_CPU_ALL && cpu != METRIC_CPU_VM)
		return;
	if (!strcmp(side, "harness") || (h->metrics[0] && !in_list(h->metrics, name)))
		return;
	for (r = h->nruns - 1; r >= 0 && h->runs[r].id != id; r--)
		;
	if (r < 0)
		return;
	h->vals = realloc(h->vals, (h->nvals + 1) * sizeof(*h->vals));
	if (!h->vals)
		abort();
	struct hval *v = &h->vals[h->nvals++];
	v->run = r;
	/* one series per host: a central store holds many hosts' nights */
	snprintf(v->key, sizeof(v->key), "%.40s\t%.80s\t%s\t%s", h->runs[r].host, c->variant[r], name, side);
	v->value = value;
	snprintf(v->unit, sizeof(v->unit), "%s", unit);
	v->better = better;
}

static void history_free(struct history *h)
{
	free(h->session);
	free(h->under_test);
	free(h->runs);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}

static const struct history *sort_h;
static int by_session_then_key(const void *a, const void *b)
{
	const struct hval *x = a, *y = b;
	int k = strcmp(x->key, y->key);
	if (k)
		return k;
	int sx = sort_h->runs[x->run].session, sy = sort_h->runs[y->run].session;
	return strcmp(sort_h->session[sx], sort_h->session[sy]);
}

/* The series' key ("host\tvariant\tmetric\tside") in its four parts. */
static void split_key(const char *k, char *host, size_t hn, char *variant, size_t vn, char *name, size_t nn,
		      char *side, size_t sn)
{
	snprintf(host, hn, "%.*s", (int)strcspn(k, "\t"), k);
	k += strcspn(k, "\t") + 1;
	snprintf(variant, vn, "%.*s", (int)strcspn(k, "\t"), k);
	k += strcspn(k, "\t") + 1;
	snprintf(name, nn, "%.*s", (int)strcspn(k, "\t"), k);
	snprintf(side, sn, "%s", k + strcspn(k, "\t") + 1);
}

/* One series, h->vals[i..j) (one host, variant, metric and side, night by night): its change
 * points, as text on out or into jseries. Returns what it makes of tonight: 4, a change for the
 * worse at the host's newest night; 3, a change there, none worse; 0, none. */
static int judge_series(const struct history *h, size_t i, size_t j, int hosts, const struct cp_params *cp,
			FILE *out, cJSON *jseries)
{
	size_t n = j - i, nsess = 0, *start = malloc((n + 1) * sizeof(size_t));
	double *vals = malloc((n + 1) * sizeof(double));
	int *sess = malloc((n + 1) * sizeof(int)), status = 0;
	if (!start || !vals || !sess)
		abort();
	for (size_t k = i; k < j; k++) {
		int s = h->runs[h->vals[k].run].session;
		if (!nsess || sess[nsess - 1] != s) {
			sess[nsess] = s;
			start[nsess++] = k - i;
		}
		vals[k - i] = h->vals[k].value;
	}
	start[nsess] = n;
	struct cp_change ch[16];
	size_t nch = cp_detect(vals, start, nsess, cp, ch, 16);
	double best_p = cp_best_p(start, nsess, cp);
	char never[160] = ""; /* a series that cannot flag a change says so, not "none" */
	if (nsess > 1 && best_p >= cp->alpha)
		snprintf(never, sizeof(never), "cannot flag any: at best p = %.2g (corrected) with these "
			 "runs per night; repeat more per night or widen --window", best_p);
	char variant[128], name[48], side[16], unit[8], host[64];
	split_key(h->vals[i].key, host, sizeof(host), variant, sizeof(variant), name, sizeof(name), side, sizeof(side));
	double scale = strcmp(h->vals[i].unit, "ns") ? 1 : 1e-3;
	snprintf(unit, sizeof(unit), "%s", scale == 1 ? h->vals[i].unit : "us");
	double last = stats_median(vals + start[nsess - 1], start[nsess] - start[nsess - 1]);
	cJSON *jch = NULL;
	if (jseries) {
		cJSON *js = cJSON_CreateObject();
		cJSON_AddStringToObject(js, "host", host);
		cJSON_AddStringToObject(js, "variant", variant);
		cJSON_AddStringToObject(js, "metric", name);
		cJSON_AddStringToObject(js, "side", side);
		cJSON_AddStringToObject(js, "unit", h->vals[i].unit);
		cJSON *pts = cJSON_AddArrayToObject(js, "points");
		for (size_t s = 0; s < nsess; s++) {
			cJSON *pt = cJSON_CreateObject();
			cJSON_AddStringToObject(pt, "session", h->session[sess[s]]);
			cJSON_AddStringToObject(pt, "under_test", h->under_test[sess[s]]);
			cJSON_AddNumberToObject(pt, "median", stats_median(vals + start[s], start[s + 1] - start[s]));
			cJSON_AddNumberToObject(pt, "runs", (double)(start[s + 1] - start[s]));
			cJSON_AddItemToArray(pts, pt);
		}
		cJSON_AddBoolToObject(js, "can_flag", !never[0]);
		cJSON_AddNumberToObject(js, "best_p", best_p);
		jch = cJSON_AddArrayToObject(js, "changes");
		cJSON_AddItemToArray(jseries, js);
	} else {
		char label[64], vl[200];
		snprintf(label, sizeof(label), "%s (%s)", name, unit);
		snprintf(vl, sizeof(vl), "%s%s%s", variant[0] ? variant : "(one variant)", hosts > 1 ? " on " : "",
			 hosts > 1 ? host : "");
		fprintf(out, "  %-28s %-24s %-6s %6zu %12.4g  %s\n", vl, label, side, nsess, last * scale,
			nch ? "" : never[0] ? never : "none");
	}
	for (size_t x = 0; x < nch; x++) {
		/* which way is worse is the metric's own declaration; one that describes the run
		 * (PVB_INFO) changed, and is reported without a verdict */
		enum pvb_better better = h->vals[i].better;
		int worse = better != PVB_INFO && (ch[x].after > ch[x].before) != (better == PVB_MORE);
		const char *dir = better == PVB_INFO ? "changed" : worse ? "worse" : "better";
		const char *from = h->under_test[sess[ch[x].at - 1]], *to = h->under_test[sess[ch[x].at]];
		const char *night = h->session[sess[ch[x].at]];
		double rel = 100 * (ch[x].after - ch[x].before) / fabs(ch[x].before);
		/* tonight: the change is at the newest night this host has */
		int newest = 1;
		for (int r = 0; r < h->nruns; r++)
			newest &= strcmp(h->runs[r].host, host) || strcmp(h->session[h->runs[r].session], night) <= 0;
		if (newest && (worse ? 4 : 3) > status)
			status = worse ? 4 : 3;
		if (jch) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "session", night);
			cJSON_AddStringToObject(o, "after_under_test", from);
			cJSON_AddStringToObject(o, "under_test", to);
			cJSON_AddNumberToObject(o, "before", ch[x].before);
			cJSON_AddNumberToObject(o, "after", ch[x].after);
			cJSON_AddNumberToObject(o, "change_pct", rel);
			cJSON_AddNumberToObject(o, "p", ch[x].p);
			cJSON_AddStringToObject(o, "direction", dir);
			cJSON_AddItemToArray(jch, o);
		} else {
			fprintf(out, "      %s at %s: %.4g -> %.4g %s (%+.1f%%), p = %.2g; between %s (%s) and %s (%s)\n",
				worse ? "WORSE" : dir, night, ch[x].before * scale, ch[x].after * scale, unit, rel, ch[x].p,
				from, h->session[sess[ch[x].at - 1]], to, night);
		}
	}
	free(start);
	free(vals);
	free(sess);
	return status;
}

int nightly_judge(struct store *st, const char *exp, const struct cp_params *cp, const char *metrics,
		  FILE *out, cJSON *json, char *err, size_t errlen)
{
	struct history h = { 0 };
	struct hctx c = { .h = &h };
	struct store_visitor v = { .arg = &c, .defaults = h_defaults, .run = h_run, .metric = h_metric };
	int status = 0;

	/* the metrics asked for filter the read (h_defaults keeps them over the experiment's) */
	if (metrics)
		snprintf(h.metrics, sizeof(h.metrics), "%s", metrics);
	c.asked = metrics != NULL;
	if (store_visit(st, exp, "*", &v, err, errlen)) {
		free(c.variant);
		return -1;
	}
	int hosts = 0;
	for (int r = 0; r < h.nruns; r++)
		hosts += r == 0 || strcmp(h.runs[r].host, h.runs[0].host);
	sort_h = &h;
	qsort(h.vals, h.nvals, sizeof(*h.vals), by_session_then_key);
	cJSON *jseries = NULL;
	if (json) {
		cJSON *jexp = cJSON_CreateObject();
		cJSON_AddStringToObject(jexp, "experiment", exp);
		cJSON_AddNumberToObject(jexp, "sessions", h.nsess);
		jseries = cJSON_AddArrayToObject(jexp, "series");
		cJSON_AddItemToArray(json, jexp);
	} else {
		fprintf(out, "%s: %d night%s\n", exp, h.nsess, h.nsess == 1 ? "" : "s");
		if (h.nvals)
			fprintf(out, "  %-28s %-24s %-6s %6s %12s  %s\n", "variant", "metric", "side", "nights",
				"newest median", "change points");
	}
	for (size_t i = 0, j; i < h.nvals; i = j) {
		for (j = i; j < h.nvals && !strcmp(h.vals[j].key, h.vals[i].key); j++)
			;
		int s = judge_series(&h, i, j, hosts, cp, out, jseries);
		status = s > status ? s : status;
	}
	struct cmp_input in;
	char why[256];
	if (!h.nvals && !json) { /* why there is nothing to judge */
		if (compare_load(st, exp, &in, why, sizeof(why)) || (!in.n && !in.nnotes && !in.stale))
			fprintf(out, "  nothing to judge: no run of it is stored yet\n");
		else if (!in.n && in.nnotes) /* skipped or failed, all of them: say why */
			compare_print_notes(&in, "  nothing to judge: ", out);
		else
			fprintf(out, "  nothing to judge: no stored run of it has a metric to follow (or --metrics named none)\n");
		cmp_input_free(&in);
	}
	free(c.variant);
	history_free(&h);
	return status;
}
