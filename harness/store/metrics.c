/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "pvb_record.h"

const char *const side_names[NR_SIDES] = { "guest", "host", "policy", "vmm", "harness" };

int metrics_add(struct metric_set *s, const char *name, const char *unit, enum pvb_better better, int cpu,
		double v)
{
	if (!isfinite(v))
		return -1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct metric *m = realloc(s->m, cap * sizeof(*m));
		if (!m)
			return -1;
		s->m = m;
		s->cap = cap;
	}
	struct metric *m = &s->m[s->n++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->cpu = cpu;
	m->better = better <= PVB_BETTER__MAX ? (int)better : PVB_INFO;
	m->value = v;
	return 0;
}

const struct metric *metrics_find(const struct metric_set *s, const char *name, int cpu)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->m[i].cpu == cpu && !strcmp(s->m[i].name, name))
			return &s->m[i];
	return NULL;
}

int metrics_add_hist(struct metric_set *s, const char *name, int cpu, unsigned bucket_ns,
		     const unsigned *counts, unsigned nr, unsigned long long overflow)
{
	struct metric_hist *h = realloc(s->h, (s->nh + 1) * sizeof(*h));
	if (!h)
		return -1;
	s->h = h;
	h = &h[s->nh];
	memset(h, 0, sizeof(*h));
	if (!(h->counts = malloc((nr ? nr : 1) * sizeof(unsigned))))
		return -1;
	memcpy(h->counts, counts, nr * sizeof(unsigned));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->cpu = cpu;
	h->bucket_ns = bucket_ns;
	h->nr = nr;
	h->overflow = overflow;
	s->nh++;
	return 0;
}

void metrics_free(struct metric_set *s)
{
	for (size_t i = 0; i < s->nh; i++)
		free(s->h[i].counts);
	free(s->h);
	free(s->m);
	memset(s, 0, sizeof(*s));
}

double hist_quantile_ns(const unsigned *counts, unsigned nr, unsigned long long overflow,
			unsigned bucket_ns, double q)
{
	unsigned long long total = overflow, rank, acc = 0;

	for (unsigned i = 0; i < nr; i++)
		total += counts[i];
	if (!total)
		return -1;
	rank = (unsigned long long)ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < nr; i++) {
		acc += counts[i];
		if (acc >= rank)
			return (double)i * bucket_ns;
	}
	return (double)nr * bucket_ns;
}

static int sec_cpu(const struct pvb_sec *s)
{
	return s->cpu == PVB_CPU_ALL ? METRIC_CPU_ALL : s->cpu == PVB_CPU_VM ? METRIC_CPU_VM : s->cpu;
}

int metrics_from_record(const void *rec, struct metric_set *out)
{
	const struct pvb_sec *s = NULL;
	static const struct { const char *suffix; double q; } qs[] = {
		{ "p50", 0.50 }, { "p99", 0.99 }, { "p99.9", 0.999 },
	};

	memset(out, 0, sizeof(*out));
	while ((s = pvb_rec_next(rec, s))) {
		if (s->type == PVB_SEC_METRIC) {
			const struct pvb_metric *m = (const void *)(s + 1);
			/* integers only in a record: "FPS_e3" carries FPS to three decimals */
			char unit[sizeof(m->unit) + 1];
			size_t ul = strnlen(m->unit, sizeof(m->unit));
			memcpy(unit, m->unit, ul);
			unit[ul] = 0;
			double v = (double)m->value;
			if (ul > 3 && !strcmp(unit + ul - 3, "_e3")) {
				unit[ul - 3] = 0;
				v /= 1000;
			}
			metrics_add(out, m->name, unit, (enum pvb_better)m->better, sec_cpu(s), v);
		} else if (s->type == PVB_SEC_TEXT) {
			snprintf(out->text, sizeof(out->text), "%s", (const char *)(s + 1));
		}
	}
	/* histograms after metrics so the exact min/max are known for clamping */
	s = NULL;
	while ((s = pvb_rec_next(rec, s))) {
		if (s->type != PVB_SEC_HIST)
			continue;
		const struct pvb_hist *h = (const void *)(s + 1);
		char name[64], mn[48];
		metrics_add_hist(out, h->name, sec_cpu(s), h->bucket_ns, h->counts, h->nr_buckets, h->overflow);
		const struct metric *lo, *hi;
		snprintf(mn, sizeof(mn), "%s_min", h->name);
		lo = metrics_find(out, mn, sec_cpu(s));
		snprintf(mn, sizeof(mn), "%s_max", h->name);
		hi = metrics_find(out, mn, sec_cpu(s));
		double lov = lo ? lo->value : -INFINITY, hiv = hi ? hi->value : INFINITY;
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
			double v = hist_quantile_ns(h->counts, h->nr_buckets, h->overflow, h->bucket_ns,
						    qs[i].q);
			if (v < 0)
				continue;
			v = v < lov ? lov : v > hiv ? hiv : v;
			snprintf(name, sizeof(name), "%s_%s", h->name, qs[i].suffix);
			metrics_add(out, name, "ns", PVB_LESS, sec_cpu(s), v); /* a latency distribution */
		}
	}
	return 0;
}

enum pvb_better metric_better_by_name(const char *name)
{
	static const char *const higher[] = { "fps", "throughput", "delivered", "score", NULL };
	size_t n = strlen(name);
	for (int i = 0; higher[i]; i++)
		if (!strncmp(name, higher[i], strlen(higher[i])))
			return PVB_MORE;
	return (n > 6 && !strcmp(name + n - 6, "_per_s")) || strstr(name, "_per_j") ? PVB_MORE : PVB_LESS;
}

static const char *const better_names[] = { "less", "more", "info" };

const char *metric_better_name(int better)
{
	return better >= 0 && better <= PVB_BETTER__MAX ? better_names[better] : "?";
}

int metric_better_parse(const char *s)
{
	for (int i = 0; s && i <= PVB_BETTER__MAX; i++)
		if (!strcmp(s, better_names[i]))
			return i;
	return -1;
}
