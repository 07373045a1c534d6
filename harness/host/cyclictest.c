/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <sys/wait.h>
#include "child.h"
#include "cyclictest.h"

void cyclictest_argv(char **argv, char bufs[][32], int duration_s, int interval_us, int threads,
		     int prio, const char *json_path)
{
	int n = 0;

	snprintf(bufs[0], 32, "%d", duration_s);
	snprintf(bufs[1], 32, "%d", interval_us);
	snprintf(bufs[2], 32, "%d", threads);
	snprintf(bufs[3], 32, "%d", prio);
	snprintf(bufs[4], 32, "%d", CYCLICTEST_HIST_US);
	argv[n++] = "cyclictest";
	argv[n++] = "-q";
	argv[n++] = "-D";
	argv[n++] = bufs[0];
	argv[n++] = "-i";
	argv[n++] = bufs[1];
	argv[n++] = "-t";
	argv[n++] = bufs[2];
	if (prio > 0) {
		argv[n++] = "-p";
		argv[n++] = bufs[3];
	}
	argv[n++] = "-h";
	argv[n++] = bufs[4];
	argv[n++] = (char *)json_path; /* "--json=PATH", built by the caller */
	argv[n] = NULL;
}

struct acc {
	unsigned *hist;
	double samples, sum_us, min_us, max_us;
};

static void emit(struct metric_set *out, int cpu, const struct acc *a)
{
	unsigned long long inhist = 0, over;

	for (int i = 0; i < CYCLICTEST_HIST_US; i++)
		inhist += a->hist[i];
	over = a->samples > (double)inhist ? (unsigned long long)a->samples - inhist : 0;
	metrics_add(out, "samples", "count", PVB_INFO, cpu, a->samples);
	if (cpu == METRIC_CPU_ALL)
		metrics_add_hist(out, "lat", cpu, 1000, a->hist, CYCLICTEST_HIST_US, over);
	metrics_add(out, "lat_min", "ns", PVB_LESS, cpu, a->min_us * 1000);
	metrics_add(out, "lat_avg", "ns", PVB_LESS, cpu, a->samples ? a->sum_us / a->samples * 1000 : 0);
	metrics_add(out, "lat_max", "ns", PVB_LESS, cpu, a->max_us * 1000);
	static const struct { const char *n; double q; } qs[] = {
		{ "lat_p50", 0.5 }, { "lat_p99", 0.99 }, { "lat_p99.9", 0.999 } };
	for (int i = 0; i < 3; i++) {
		double v = hist_quantile_ns(a->hist, CYCLICTEST_HIST_US, over, 1000, qs[i].q);
		if (v < 0)
			continue;
		if (v < a->min_us * 1000)
			v = a->min_us * 1000;
		if (v > a->max_us * 1000)
			v = a->max_us * 1000;
		metrics_add(out, qs[i].n, "ns", PVB_LESS, cpu, v);
	}
}

int cyclictest_read_json(const char *path, struct metric_set *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;
	cJSON *root, *threads, *t;
	struct acc all = { 0 };
	int nt = 0, rc = -1;

	if (!f) {
		snprintf(err, errlen, "cyclictest wrote no JSON (%s)", path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n + 1);
	if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(text);
		snprintf(err, errlen, "%s: cannot read", path);
		return -1;
	}
	fclose(f);
	text[n] = 0;
	root = cJSON_Parse(text);
	free(text);
	threads = cJSON_GetObjectItemCaseSensitive(root, "thread");
	if (!cJSON_IsObject(threads)) {
		snprintf(err, errlen, "%s: not cyclictest JSON (no \"thread\" object)", path);
		goto out;
	}
	all.hist = calloc(CYCLICTEST_HIST_US, sizeof(unsigned));
	all.min_us = 1e18;
	cJSON_ArrayForEach(t, threads) {
		struct acc a = { .hist = calloc(CYCLICTEST_HIST_US, sizeof(unsigned)) };
		cJSON *cy = cJSON_GetObjectItemCaseSensitive(t, "cycles");
		cJSON *mn = cJSON_GetObjectItemCaseSensitive(t, "min");
		cJSON *mx = cJSON_GetObjectItemCaseSensitive(t, "max");
		cJSON *av = cJSON_GetObjectItemCaseSensitive(t, "avg");
		cJSON *h = cJSON_GetObjectItemCaseSensitive(t, "histogram"), *b;
		char *end;
		long idx = strtol(t->string ? t->string : "", &end, 10);

		if (!a.hist || !cJSON_IsNumber(cy) || !cJSON_IsNumber(mn) || !cJSON_IsNumber(mx) ||
		    !cJSON_IsNumber(av) || !cJSON_IsObject(h) || *end || idx < 0 || idx > 4095) {
			free(a.hist);
			snprintf(err, errlen, "%s: thread %s lacks cycles/min/max/avg/histogram", path,
				 t->string ? t->string : "?");
			goto out;
		}
		cJSON_ArrayForEach(b, h) {
			long us = strtol(b->string, &end, 10);
			if (*end || us < 0 || !cJSON_IsNumber(b) || b->valuedouble < 0)
				continue;
			if (us < CYCLICTEST_HIST_US) {
				a.hist[us] += (unsigned)b->valuedouble;
				all.hist[us] += (unsigned)b->valuedouble;
			}
		}
		a.samples = cy->valuedouble;
		a.sum_us = av->valuedouble * cy->valuedouble;
		a.min_us = mn->valuedouble;
		a.max_us = mx->valuedouble;
		emit(out, (int)idx, &a);
		all.samples += a.samples;
		all.sum_us += a.sum_us;
		if (a.min_us < all.min_us)
			all.min_us = a.min_us;
		if (a.max_us > all.max_us)
			all.max_us = a.max_us;
		free(a.hist);
		nt++;
	}
	if (!nt) {
		snprintf(err, errlen, "%s: no threads", path);
		goto out;
	}
	emit(out, METRIC_CPU_ALL, &all);
	rc = 0;
out:
	free(all.hist);
	cJSON_Delete(root);
	if (rc)
		metrics_free(out);
	return rc;
}

int cyclictest_collect(struct child *c, const char *json_path, struct metric_set *out, char *err,
		       size_t errlen)
{
	if (!child_wait(c, 10000)) {
		child_kill(c);
		snprintf(err, errlen, "still running 10 s after the guest: killed");
		return -1;
	}
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status)) {
		snprintf(err, errlen, "exited with status %d", WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
		return -1;
	}
	return cyclictest_read_json(json_path, out, err, errlen);
}
