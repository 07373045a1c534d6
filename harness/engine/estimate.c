/* SPDX-License-Identifier: MIT */
/* What runs cost this host, before they run: each run's duration and what a run of its experiment
 * cost besides (booting, the host load, the store), from the runs the store holds. `run` and
 * `run --dry-run` say it before they start; `reproduce` before it runs what its tables lack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config.h"
#include "engine.h"
#include "stats.h"
#include "store.h"
#include "util.h"

struct overheads { double v[4096]; int n; };

static double iso_s(const char *t)
{
	struct tm tm = { 0 };
	const char *end = t ? strptime(t, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	return end && !*end ? (double)timegm(&tm) : -1;
}

static void overhead_row(void *arg, int ncols, const char *const *vals)
{
	struct overheads *o = arg;
	double a = ncols > 2 ? iso_s(vals[0]) : -1, b = ncols > 2 ? iso_s(vals[1]) : -1;
	long long d = ncols > 2 && vals[2] ? parse_duration_ms(vals[2]) : 0; /* a type without duration: 0 */
	if (a >= 0 && b >= a && d >= 0 && o->n < (int)(sizeof(o->v) / sizeof(o->v[0])))
		o->v[o->n++] = (b - a) * 1000 - (double)d;
}

double engine_overhead_ms(struct store *st, const char *experiment, const char *host)
{
	static struct overheads o;
	const char *p[] = { experiment, host };
	char err[256];
	o.n = 0;
	if (!st || store_query(st, "SELECT r.started_at, r.ended_at, p.value FROM runs r LEFT JOIN run_params p ON"
			       " p.run_id = r.id AND p.key = 'duration' WHERE r.experiment = $1 AND r.host = $2"
			       " AND r.status = 'ok'", 2, p, overhead_row, &o, err, sizeof(err)) || !o.n)
		return 0;
	double m = stats_median(o.v, (size_t)o.n);
	return m > 0 ? m : 1; /* timestamps are whole seconds: a fast host reads as none */
}

int engine_run_needs_kvm(const struct run_spec *r)
{
	int needs = r->type->needs_kvm;
	for (int j = 0; j < r->nkeys; j++)
		needs |= !strcmp(r->keys[j]->name, "accel") && strcmp(spec_str(r, "accel"), "tcg");
	return needs;
}

double engine_run_ms(const struct run_spec *r, double overhead_ms, int kvm)
{
	double ms = overhead_ms > 0 ? overhead_ms : ENGINE_UNMEASURED_MS;
	if (!kvm && engine_run_needs_kvm(r))
		return 0;
	for (int j = 0; j < r->nkeys; j++)
		if (!strcmp(r->keys[j]->name, "duration"))
			ms += (double)spec_int(r, "duration");
		else if (!strcmp(r->keys[j]->name, "deadline")) /* a migration: at most that */
			ms += (double)spec_int(r, "deadline") / 2;
	return ms;
}

const char *engine_about(char *buf, size_t n, double ms)
{
	if (ms < 1000)
		snprintf(buf, n, "under a second");
	else if (ms < 120000)
		snprintf(buf, n, "about %.0f s", ms / 1000);
	else
		snprintf(buf, n, "about %.1f min", ms / 60000);
	return buf;
}
