/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include "config.h"
#include "util.h"

#define MAX_RUNS 100000                  /* runs of one experiment, all jobs */

/* ---- pass 2: entries against the type's keys ---- */

static int find_key(const struct experiment *e, const char *name)
{
	for (int k = 0; k < e->nkeys; k++)
		if (!strcmp(e->keys[k]->name, name))
			return k;
	return -1;
}

static const char *key_name(int i, const void *arg)
{
	const struct experiment *e = arg;
	return i < e->nkeys ? e->keys[i]->name : NULL;
}

static struct cfg_job *job_of(struct experiment *e, const char *section, int line)
{
	if (!strcmp(section, "global"))
		return &e->global;
	for (int i = 0; i < e->nr_jobs; i++)
		if (!strcmp(e->jobs[i].name, section))
			return &e->jobs[i];
	if (e->nr_jobs == CFG_MAX_JOBS)
		return NULL;
	struct cfg_job *j = &e->jobs[e->nr_jobs++];
	snprintf(j->name, sizeof(j->name), "%s", section);
	j->line = line;
	return j;
}

/* One key = value into a job; 0, or -1 with "where: key: why" in err. */
static int set_value(struct experiment *e, struct cfg_job *job, const char *where, int line,
		     const char *name, const char *value, char *err, size_t errlen)
{
	char buf[2048], why[300];
	int k = find_key(e, name);

#define FAIL(...) do { int o_ = snprintf(err, errlen, "%s: %s: ", where, name); \
		snprintf(err + o_, errlen - (size_t)o_, __VA_ARGS__); return -1; } while (0)
	if (k < 0) {
		const char *near = nearest_name(name, key_name, e);
		FAIL("unknown key for type %s%s%s%s (pvbench run --keys --type %s lists them)", e->type->name,
		     near ? ": did you mean " : "", near ? near : "", near ? "?" : "", e->type->name);
	}
	const struct key_def *d = e->keys[k];
	struct cfg_values *cv = &job->vals[k];
	if (!strcmp(name, "type") && job != &e->global)
		FAIL("set it in [global]: one experiment file is one type");
	if ((d->flags & KEY_GLOBAL) && job != &e->global)
		FAIL("set it in [global]: it belongs to the experiment, not a job");
	if (cv->n && line)
		FAIL("set twice in [%s] (first at line %d)", job->name, cv->line);
	cv->n = 0;
	cv->line = line;
	snprintf(buf, sizeof(buf), "%s", value);
	if (d->type == KT_STRING && !(d->flags & KEY_LIST)) { /* free text: no list */
		char *t = ini_trim(buf);
		if (strlen(t) >= CFG_VAL_LEN)
			FAIL("longer than %d characters", CFG_VAL_LEN - 1);
		snprintf(cv->v[0], CFG_VAL_LEN, "%s", t);
		cv->n = 1;
		return 0;
	}
	int empty = 0;
	for (char *rest = buf, *tok; (tok = strsep(&rest, ",")) != NULL;) {
		tok = ini_trim(tok);
		if (!*tok) {
			empty = 1;
			continue;
		}
		if (cv->n == CFG_MAX_VALUES)
			FAIL("more than %d values", CFG_MAX_VALUES);
		if (strlen(tok) >= CFG_VAL_LEN)
			FAIL("value longer than %d characters", CFG_VAL_LEN - 1);
		if (key_check(d, tok, why, sizeof(why)))
			FAIL("%s", why);
		for (int i = 0; i < cv->n; i++)
			if (!strcmp(cv->v[i], tok))
				FAIL("\"%s\" listed twice", tok);
		snprintf(cv->v[cv->n++], CFG_VAL_LEN, "%s", tok);
	}
	if (!cv->n || empty) {
		int had = cv->n;
		cv->n = 0;
		FAIL("empty value%s", had ? " in the list" : "");
	}
	if (cv->n > 1 && !(d->flags & KEY_LIST)) {
		cv->n = 0;
		FAIL("takes one value, not a list");
	}
#undef FAIL
	return 0;
}

static int init_keys(struct experiment *e, const char *type, char *err, size_t errlen)
{
	e->type = exp_type_find(type);
	if (!e->type) {
		snprintf(err, errlen, "unknown type \"%s\" (", type);
		for (int i = 0; exp_types[i]; i++)
			snprintf(err + strlen(err), errlen - strlen(err), "%s%s", i ? ", " : "",
				 exp_types[i]->name);
		snprintf(err + strlen(err), errlen - strlen(err), ")");
		return -1;
	}
	e->nkeys = engine_keys(e->type, e->keys, ENGINE_MAX_KEYS);
	if (e->nkeys < 0) {
		snprintf(err, errlen, "type %s: more than %d keys", type, ENGINE_MAX_KEYS);
		return -1;
	}
	return 0;
}

/* Checks that every run can work at all (the type's own rule), before anything starts. */
int experiment_check(const struct experiment *e, char *err, size_t errlen)
{
	struct run_spec *runs;
	int nr;
	char why[512];

	if (experiment_matrix(e, &runs, &nr, err, errlen))
		return -1;
	for (int i = 0; i < nr && e->type->check; i++)
		if (e->type->check(&runs[i], why, sizeof(why))) {
			/* why starts with the key it is about: point at the line that set it */
			int line = 0;
			size_t kl = strcspn(why, ":= ");
			for (int k = 0; k < e->nkeys; k++)
				if (strlen(e->keys[k]->name) == kl && !strncmp(e->keys[k]->name, why, kl)) {
					const struct cfg_values *v = e->nr_jobs ? &e->jobs[runs[i].job].vals[k] : NULL;
					line = v && v->n && v->line ? v->line : e->global.vals[k].line;
				}
			snprintf(err, errlen, "%s", e->path);
			if (line > 0)
				snprintf(err + strlen(err), errlen - strlen(err), ":%d", line);
			snprintf(err + strlen(err), errlen - strlen(err), ": %s%s%s", e->nr_jobs > 1 ? "[" : "",
				 e->nr_jobs > 1 ? e->jobs[runs[i].job].name : "", e->nr_jobs > 1 ? "]: " : "");
			snprintf(err + strlen(err), errlen - strlen(err), "%s", why);
			free(runs);
			return -1;
		}
	free(runs);
	return 0;
}

/* Every key the file leaves unset gets its default in [global] (line 0: a --set may replace it),
 * so a default may be a list too, and every value lives in the experiment. */
static int fill_defaults(struct experiment *e, char *err, size_t errlen)
{
	for (int k = 0; k < e->nkeys; k++)
		if (!e->global.vals[k].n &&
		    set_value(e, &e->global, "default", 0, e->keys[k]->name,
			      !strcmp(e->keys[k]->name, "type") ? e->type->name :
			      key_default(e->keys[k]), err, errlen) &&
		    e->keys[k]->type != KT_STRING)
			return -1;
	return 0;
}

int experiment_empty(const char *name, const char *type, struct experiment *e, char *err,
		     size_t errlen)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->path, sizeof(e->path), "(command line)");
	snprintf(e->global.name, sizeof(e->global.name), "global");
	if (init_keys(e, type, err, errlen) || fill_defaults(e, err, errlen))
		return -1;
	e->jobs[0] = e->global;
	snprintf(e->jobs[0].name, sizeof(e->jobs[0].name), "%s", name);
	e->nr_jobs = 1;
	return 0;
}

int experiment_set(struct experiment *e, const char *origin, const char *key, const char *value,
		   char *err, size_t errlen)
{
	if (!strcmp(key, "type")) {
		if (strcmp(value, e->type->name)) {
			snprintf(err, errlen, "%s: type: this experiment is of type %s", origin, e->type->name);
			return -1;
		}
		return 0;
	}
	if (set_value(e, &e->global, origin, 0, key, value, err, errlen))
		return -1;
	/* a job that set the key itself keeps its own value; one that inherits gets this one */
	int k = find_key(e, key);
	for (int j = 0; j < e->nr_jobs; j++)
		if (!e->jobs[j].vals[k].line)
			e->jobs[j].vals[k] = e->global.vals[k];
	return 0;
}

int experiment_only_job(struct experiment *e, const char *name, char *err, size_t errlen)
{
	int j = -1;

	for (int i = 0; i < e->nr_jobs; i++)
		if (name ? !strcmp(e->jobs[i].name, name) : e->nr_jobs == 1)
			j = i;
	if (j < 0) {
		int n = snprintf(err, errlen, "%s: %s: the jobs are", e->path,
				 name ? "no such job" : "several jobs: pick one with --job");
		for (int i = 0; i < e->nr_jobs && n > 0 && (size_t)n < errlen; i++)
			n += snprintf(err + n, errlen - (size_t)n, " %s", e->jobs[i].name);
		return -1;
	}
	/* the job's own values become [global]'s: a later experiment_set overrides them too */
	for (int k = 0; k < e->nkeys; k++)
		if (e->jobs[j].vals[k].n && e->jobs[j].vals[k].line) {
			e->global.vals[k] = e->jobs[j].vals[k];
			e->jobs[j].vals[k].line = 0;
		}
	if (j)
		e->jobs[0] = e->jobs[j];
	e->nr_jobs = 1;
	return 0;
}

int experiment_parse(const char *path, struct experiment *e, char *err, size_t errlen)
{
	struct ini_doc r;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *dot = strrchr(base, '.');
	int rc = -1;

	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s", path);
	/* the name is the file's, without its extension: ".x.ini" is ".x", not "" */
	snprintf(e->name, sizeof(e->name), "%.*s", (int)(dot && dot > base ? (size_t)(dot - base) : strlen(base)), base);
	snprintf(e->global.name, sizeof(e->global.name), "global");
	if (!e->name[0]) {
		snprintf(err, errlen, "%s: the file's name gives no experiment name", path);
		return -1;
	}
	if (ini_doc_read(path, &r, err, errlen))
		return -1;

	/* the type first: it decides which keys exist */
	const char *type = exp_types[0]->name; /* a file without `type` is of the first type */
	int type_line = 0;
	for (int i = 0; i < r.nent; i++)
		if (!strcmp(r.ent[i].key, "type") && !strcmp(r.ent[i].section, "global")) {
			type = ini_trim(r.ent[i].value);
			type_line = r.ent[i].line;
		}
	char why[512];
	if (init_keys(e, type, why, sizeof(why))) {
		ini_doc_error(&r, type_line, "type: %s", why);
		snprintf(err, errlen, "%s", r.err);
		goto out;
	}
	for (int s = 0; s < r.nsections; s++)
		if (strcmp(r.sections[s], "global") && !job_of(e, r.sections[s], r.section_line[s]))
			ini_doc_error(&r, r.section_line[s], "[%s]: more than %d jobs", r.sections[s], CFG_MAX_JOBS);
	for (int i = 0; i < r.nent; i++) {
		struct ini_entry *x = &r.ent[i];
		char where[600];
		if (r.err[0] && r.err_line <= x->line)
			break; /* entries come in line order: nothing later can be first */
		snprintf(where, sizeof(where), "%s:%d", path, x->line);
		if (!x->section[0]) {
			ini_doc_error(&r, x->line, "%s: set outside a section (start with [global])", x->key);
			break;
		}
		struct cfg_job *job = job_of(e, x->section, x->line);
		if (!job) {
			ini_doc_error(&r, x->line, "[%s]: more than %d jobs", x->section, CFG_MAX_JOBS);
			break;
		}
		if (set_value(e, job, where, x->line, x->key, x->value, why, sizeof(why))) {
			ini_doc_error(&r, x->line, "%s", why + strlen(where) + 2);
			break;
		}
	}
	if (r.err[0]) {
		snprintf(err, errlen, "%s", r.err);
		goto out;
	}
	if (!r.nsections) {
		snprintf(err, errlen, "%s: no [global] or job section: nothing to run", path);
		goto out;
	}
	if (fill_defaults(e, err, errlen))
		goto out;
	if (!e->nr_jobs) { /* a file with only [global] is one job */
		e->jobs[0] = e->global;
		snprintf(e->jobs[0].name, sizeof(e->jobs[0].name), "%s", e->name);
		e->jobs[0].line = 0;
		for (int k = 0; k < e->nkeys; k++)
			e->jobs[0].vals[k].line = 0; /* inherited: a later --set may replace it */
		e->nr_jobs = 1;
	}
	rc = 0;
out:
	ini_doc_free(&r);
	return rc;
}

int experiment_load(const char *path, struct experiment *e, char *err, size_t errlen)
{
	return experiment_parse(path, e, err, errlen) || experiment_check(e, err, errlen) ? -1 : 0;
}

/* The job's values for key k, else [global]'s; NULL: the key's default */
static const struct cfg_values *resolved(const struct experiment *e, const struct cfg_job *j, int k)
{
	if (j->vals[k].n)
		return &j->vals[k];
	if (e->global.vals[k].n)
		return &e->global.vals[k];
	return NULL;
}

const char *experiment_global(const struct experiment *e, const char *key)
{
	int k = find_key(e, key);
	if (k < 0)
		return "";
	return e->global.vals[k].n ? e->global.vals[k].v[0] : key_default(e->keys[k]);
}

static int cmp_keyname(const void *a, const void *b)
{
	return strcmp((*(const struct key_def *const *)a)->name, (*(const struct key_def *const *)b)->name);
}

/* "type=guest duration=10s interval_us=500 ...": every key that can change the result, sorted.
 * -1 if it does not fit: a cut identity would make two variants one run. */
static int make_identity(const struct experiment *e, struct run_spec *s)
{
	const struct key_def *sorted[ENGINE_MAX_KEYS];
	size_t at;

	memcpy(sorted, e->keys, (size_t)e->nkeys * sizeof(sorted[0]));
	qsort(sorted, (size_t)e->nkeys, sizeof(sorted[0]), cmp_keyname);
	at = (size_t)snprintf(s->identity, sizeof(s->identity), "type=%s", e->type->name);
	if (e->nr_jobs > 1)
		at += (size_t)snprintf(s->identity + at, sizeof(s->identity) - at, " job=%s",
				       e->jobs[s->job].name);
	for (int i = 0; i < e->nkeys && at < sizeof(s->identity); i++) {
		if (sorted[i]->flags & KEY_BOOKKEEPING || !strcmp(sorted[i]->name, "type"))
			continue;
		at += (size_t)snprintf(s->identity + at, sizeof(s->identity) - at, " %s=%s",
				       sorted[i]->name, spec_str(s, sorted[i]->name));
	}
	return at < sizeof(s->identity) ? 0 : -1;
}

int experiment_matrix(const struct experiment *e, struct run_spec **out, int *nr, char *err,
		      size_t errlen)
{
	size_t cap = 64, n = 0;
	struct run_spec *runs = malloc(cap * sizeof(*runs));

	if (!runs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int j = 0; j < e->nr_jobs; j++) {
		const struct cfg_job *job = &e->jobs[j];
		const struct cfg_values *v[ENGINE_MAX_KEYS];
		long long nv = 1, reps = 1;
		for (int k = 0; k < e->nkeys; k++) {
			v[k] = resolved(e, job, k);
			/* capped as it grows: a product of many lists would wrap around */
			nv = nv > MAX_RUNS ? nv : nv * (v[k] ? v[k]->n : 1);
			if (!strcmp(e->keys[k]->name, "repeat"))
				reps = atoll(v[k] ? v[k]->v[0] : key_default(e->keys[k]));
		}
		if (nv > MAX_RUNS || reps > MAX_RUNS || (long long)n + nv * reps > MAX_RUNS) {
			snprintf(err, errlen, "%s: [%s]: more than %d runs in all (%s%lld variants x %lld repeats): "
				 "too many", e->path, job->name, MAX_RUNS, nv > MAX_RUNS ? "over " : "",
				 nv > MAX_RUNS ? (long long)MAX_RUNS : nv, reps);
			free(runs);
			return -1;
		}
		for (long long r = 0; r < reps; r++) {
			for (long long i = 0; i < nv; i++) {
				long long idx = (i + r) % nv, rest = idx; /* rotate per repetition */
				struct run_spec *s;
				if (n == cap) {
					struct run_spec *bigger = realloc(runs, (cap *= 2) * sizeof(*runs));
					if (!bigger) {
						free(runs);
						snprintf(err, errlen, "out of memory");
						return -1;
					}
					runs = bigger;
				}
				s = &runs[n++];
				memset(s, 0, sizeof(*s));
				s->type = e->type;
				s->job = j;
				s->rep = (int)r + 1;
				s->variant_idx = (int)idx;
				s->nkeys = e->nkeys;
				memcpy(s->keys, e->keys, (size_t)e->nkeys * sizeof(s->keys[0]));
				if (e->nr_jobs > 1) {
					snprintf(s->variant, sizeof(s->variant), "job=%s", job->name);
					snprintf(s->job_name, sizeof(s->job_name), "%s", job->name);
				}
				for (int k = e->nkeys - 1; k >= 0; k--) { /* last key varies fastest */
					if (!v[k]) {
						s->val[k] = key_default(e->keys[k]);
						continue;
					}
					s->val[k] = v[k]->v[rest % v[k]->n];
					rest /= v[k]->n;
				}
				for (int k = 0; k < e->nkeys; k++)
					if (v[k] && v[k]->n > 1)
						snprintf(s->variant + strlen(s->variant),
							 sizeof(s->variant) - strlen(s->variant), "%s%s=%s",
							 s->variant[0] ? " " : "", e->keys[k]->name, s->val[k]);
				if (!s->variant[0])
					snprintf(s->variant, sizeof(s->variant), "default");
				if (strlen(s->variant) + 1 >= sizeof(s->variant) || make_identity(e, s)) {
					snprintf(err, errlen, "%s: [%s]: a run's %s is longer than %zu characters: "
						 "shorten the values of its keys", e->path, job->name,
						 strlen(s->variant) + 1 >= sizeof(s->variant) ? "variant" : "identity",
						 strlen(s->variant) + 1 >= sizeof(s->variant) ? sizeof(s->variant) - 2
											       : sizeof(s->identity) - 1);
					free(runs);
					return -1;
				}
			}
		}
	}
	if (!n) {
		snprintf(err, errlen, "%s: the matrix is empty", e->path);
		free(runs);
		return -1;
	}
	*out = runs;
	*nr = (int)n;
	return 0;
}
