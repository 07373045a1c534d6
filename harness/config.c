/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>
#include "cli.h"
#include "config.h"
#include "hostload.h"
#include "policy.h"

enum type { T_STRING, T_INT, T_DURATION, T_BOOL, T_WORKLOAD, T_POLICY, T_LOAD, T_TIMEOUT, T_VMM };

static const struct keydef {
	const char *name;
	enum type type;
	long long lo, hi;
	int axis;
	const char *def;
	const char *help;
} keys[K__COUNT] = {
	[K_DESCRIPTION] = { "description", T_STRING, 0, 0, 0, "", "what the experiment reproduces" },
	[K_WORKLOAD] = { "workload", T_WORKLOAD, 0, 0, 1, "cyclic", "guest workload (cyclic, ...)" },
	[K_VCPUS] = { "vcpus", T_INT, 1, 16, 1, "1", "vCPUs of the guest" },
	[K_MEM_MB] = { "mem_mb", T_INT, 16, 3072, 1, "64", "guest memory, MiB" },
	[K_INTERVAL_US] = { "interval_us", T_INT, 50, 10000000, 1, "1000",
			    "cyclic (guest) and cyclictest (host) wake-up interval, us" },
	[K_DURATION] = { "duration", T_DURATION, 1000, 86400000, 1, "10s",
			 "workload run time (10s, 500ms, 2m; whole seconds when host_cyclictest=on)" },
	[K_POLICY] = { "policy", T_POLICY, 0, 0, 1, "vanilla", "host policy (vanilla, static)" },
	[K_STATIC_PRIO] = { "static_prio", T_INT, 1, 98, 1, "50", "SCHED_FIFO priority of policy=static" },
	[K_HOST_LOAD] = { "host_load", T_LOAD, 0, 0, 1, "idle",
			  "host load during the run: idle, busy (stress-ng --cpu <host CPUs>)" },
	[K_HOST_CYCLICTEST] = { "host_cyclictest", T_BOOL, 0, 0, 0, "on",
				"run rt-tests' cyclictest on the host alongside the guest" },
	[K_HOST_CYCLICTEST_PRIO] = { "host_cyclictest_prio", T_INT, 0, 99, 1, "0",
				     "its SCHED_FIFO priority; 0 = SCHED_OTHER (the seed's command line)" },
	[K_REPEAT] = { "repeat", T_INT, 1, 1000, 0, "1", "runs per variant" },
	[K_TIMEOUT] = { "timeout", T_TIMEOUT, 0, 86400000, 0, "auto",
			"kill a guest after this long (auto: duration + 30s)" },
	[K_BASELINE] = { "baseline", T_STRING, 0, 0, 0, "",
			 "compare's default baseline column, e.g. policy=vanilla" },
	[K_JOB_ARGS] = { "job_args", T_STRING, 0, 0, 1, "",
			 "extra workload keys passed to the guest, \"key=value key=value\"" },
	[K_VMM] = { "vmm", T_VMM, 0, 0, 1, "qemu",
		    "qemu (microvm) or pvbench (pvbench's own VMM, impl/vmm)" },
};

const char *cfg_key_name(enum cfg_key k) { return keys[k].name; }
int cfg_key_is_axis(enum cfg_key k) { return keys[k].axis; }

void cfg_print_keys(void)
{
	printf("%-22s %-6s %-9s %s\n", "key", "list?", "default", "meaning");
	for (int k = 0; k < K__COUNT; k++)
		printf("%-22s %-6s %-9s %s\n", keys[k].name, keys[k].axis ? "yes" : "no",
		       *keys[k].def ? keys[k].def : "-", keys[k].help);
}

static int find_key(const char *name)
{
	for (int k = 0; k < K__COUNT; k++)
		if (!strcmp(keys[k].name, name))
			return k;
	return -1;
}

/* Validates one value; NULL if fine, else why. */
static const char *check_value(const struct keydef *d, const char *v, char *why, size_t n)
{
	long long x;
	char *end;

	switch (d->type) {
	case T_STRING:
		return NULL;
	case T_INT:
		errno = 0;
		x = strtoll(v, &end, 10);
		if (errno || end == v || *end) {
			snprintf(why, n, "\"%s\" is not a number", v);
			return why;
		}
		if (x < d->lo || x > d->hi) {
			snprintf(why, n, "%lld is outside [%lld, %lld]", x, d->lo, d->hi);
			return why;
		}
		return NULL;
	case T_TIMEOUT:
		if (!strcmp(v, "auto"))
			return NULL;
		/* fall through */
	case T_DURATION:
		x = parse_duration_ms(v);
		if (x < 0) {
			snprintf(why, n, "\"%s\" is not a duration (10s, 500ms, 2m)", v);
			return why;
		}
		if (x < d->lo || x > d->hi) {
			snprintf(why, n, "%s is outside [%llds, %llds]", v, d->lo / 1000, d->hi / 1000);
			return why;
		}
		return NULL;
	case T_BOOL:
		if (strcmp(v, "on") && strcmp(v, "off") && strcmp(v, "1") && strcmp(v, "0")) {
			snprintf(why, n, "\"%s\" is not on/off", v);
			return why;
		}
		return NULL;
	case T_WORKLOAD: {
		static const char *const names[] = {
#define PVB_WORKLOAD(w) #w,
#include "list.h"
#undef PVB_WORKLOAD
		};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(names[i], v))
				return NULL;
		snprintf(why, n, "unknown workload \"%s\"", v);
		return why;
	}
	case T_POLICY:
		if (policy_find(v))
			return NULL;
		snprintf(why, n, "unknown policy \"%s\" (", v);
		for (int i = 0; policies[i]; i++)
			snprintf(why + strlen(why), n - strlen(why), "%s%s", i ? ", " : "", policies[i]->name);
		snprintf(why + strlen(why), n - strlen(why), ")");
		return why;
	case T_VMM:
		if (!strcmp(v, "qemu") || !strcmp(v, "pvbench"))
			return NULL;
		snprintf(why, n, "unknown VMM \"%s\" (qemu, pvbench)", v);
		return why;
	case T_LOAD:
		if (hostload_known(v))
			return NULL;
		snprintf(why, n, "unknown host load \"%s\" (idle, busy)", v);
		return why;
	}
	return NULL;
}

struct parse_ctx {
	struct experiment *e;
	FILE *f;
	int line;
	char err[512];
};

static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	char *r = fgets(str, num, c->f);
	if (r)
		c->line++;
	return r;
}

static char *trim(char *s)
{
	char *end;
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return s;
}

#define PFAIL(...) do { snprintf(c->err, sizeof(c->err), __VA_ARGS__); return 0; } while (0)

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	struct experiment *e = c->e;
	struct cfg_job *job;
	struct cfg_values *cv;
	char buf[2048], why[200];
	int k;

	if (!name) /* a section header alone */
		return 1;
	if (!*section)
		PFAIL("%s:%d: %s: set outside a section (start with [global])", e->path, c->line, name);
	if (!strcmp(section, "global")) {
		job = &e->global;
	} else {
		job = NULL;
		for (int i = 0; i < e->nr_jobs; i++)
			if (!strcmp(e->jobs[i].name, section))
				job = &e->jobs[i];
		if (!job) {
			if (e->nr_jobs == CFG_MAX_JOBS)
				PFAIL("%s:%d: [%s]: more than %d jobs", e->path, c->line, section, CFG_MAX_JOBS);
			job = &e->jobs[e->nr_jobs++];
			snprintf(job->name, sizeof(job->name), "%s", section);
			job->line = c->line;
		}
	}
	k = find_key(name);
	if (k < 0)
		PFAIL("%s:%d: %s: unknown key (pvbench run --keys lists them)", e->path, c->line, name);
	cv = &job->keys[k];
	if (cv->n)
		PFAIL("%s:%d: %s: set twice in [%s] (first at line %d)", e->path, c->line, name, section,
		      cv->line);
	cv->line = c->line;
	snprintf(buf, sizeof(buf), "%s", value);
	if (keys[k].type == T_STRING && !keys[k].axis) { /* free text: no list */
		snprintf(cv->v[0], CFG_VAL_LEN, "%s", trim(buf));
		cv->n = 1;
		return 1;
	}
	int empty = 0;
	for (char *rest = buf, *tok; (tok = strsep(&rest, ",")) != NULL;) {
		tok = trim(tok);
		if (!*tok) {
			empty = 1;
			continue;
		}
		if (cv->n == CFG_MAX_VALUES)
			PFAIL("%s:%d: %s: more than %d values", e->path, c->line, name, CFG_MAX_VALUES);
		if (strlen(tok) >= CFG_VAL_LEN)
			PFAIL("%s:%d: %s: value longer than %d characters", e->path, c->line, name, CFG_VAL_LEN - 1);
		if (check_value(&keys[k], tok, why, sizeof(why)))
			PFAIL("%s:%d: %s: %s", e->path, c->line, name, why);
		for (int i = 0; i < cv->n; i++)
			if (!strcmp(cv->v[i], tok))
				PFAIL("%s:%d: %s: \"%s\" listed twice", e->path, c->line, name, tok);
		snprintf(cv->v[cv->n++], CFG_VAL_LEN, "%s", tok);
	}
	if (!cv->n || (empty && keys[k].type != T_STRING))
		PFAIL("%s:%d: %s: empty value%s", e->path, c->line, name, cv->n ? " in the list" : "");
	if (cv->n > 1 && !keys[k].axis)
		PFAIL("%s:%d: %s: takes one value, not a list", e->path, c->line, name);
	return 1;
}

static const struct cfg_values *resolved(const struct experiment *e, const struct cfg_job *j, int k)
{
	static struct cfg_values defs[K__COUNT];

	if (j->keys[k].n)
		return &j->keys[k];
	if (e->global.keys[k].n)
		return &e->global.keys[k];
	if (!defs[k].n) {
		snprintf(defs[k].v[0], CFG_VAL_LEN, "%s", keys[k].def);
		defs[k].n = 1;
	}
	return &defs[k];
}

int experiment_load(const char *path, struct experiment *e, char *err, size_t errlen)
{
	struct parse_ctx c = { .e = e };
	const char *base;
	int rc;

	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s", path);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(e->name, sizeof(e->name), "%.*s", (int)strcspn(base, "."), base);
	snprintf(e->global.name, sizeof(e->global.name), "global");
	c.f = fopen(path, "r");
	if (!c.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(reader, &c, handler, &c);
	fclose(c.f);
	if (rc != 0) {
		if (c.err[0])
			snprintf(err, errlen, "%s", c.err);
		else
			snprintf(err, errlen, "%s:%d: not INI syntax (expected [section] or key = value)",
				 path, rc > 0 ? rc : c.line);
		return -1;
	}
	if (!e->nr_jobs) { /* a file with only [global] is one job */
		e->jobs[0] = e->global;
		snprintf(e->jobs[0].name, sizeof(e->jobs[0].name), "%s", e->name);
		memset(&e->global.keys, 0, sizeof(e->global.keys));
		e->nr_jobs = 1;
	}
	for (int j = 0; j < e->nr_jobs; j++) {
		const struct cfg_job *job = &e->jobs[j];
		const struct cfg_values *d = resolved(e, job, K_DURATION);
		const struct cfg_values *ct = resolved(e, job, K_HOST_CYCLICTEST);
		if (strcmp(ct->v[0], "on") && strcmp(ct->v[0], "1"))
			continue;
		for (int i = 0; i < d->n; i++)
			if (parse_duration_ms(d->v[i]) % 1000)
				goto whole;
	}
	return 0;
whole:
	snprintf(err, errlen, "%s: duration: must be whole seconds while host_cyclictest=on "
		 "(cyclictest -D counts seconds)", path);
	return -1;
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
		const struct cfg_values *v[K__COUNT];
		long long nv = 1, reps;
		for (int k = 0; k < K__COUNT; k++) {
			v[k] = resolved(e, job, k);
			nv *= v[k]->n;
		}
		reps = atoll(v[K_REPEAT]->v[0]);
		if (nv * reps > 100000) {
			snprintf(err, errlen, "%s: [%s]: %lld runs: too many", e->path, job->name, nv * reps);
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
				s->job = j;
				s->rep = (int)r + 1;
				s->variant_idx = (int)idx;
				if (e->nr_jobs > 1)
					snprintf(s->variant, sizeof(s->variant), "job=%s", job->name);
				/* last key varies fastest */
				for (int k = K__COUNT - 1; k >= 0; k--) {
					s->val[k] = v[k]->v[rest % v[k]->n];
					rest /= v[k]->n;
				}
				for (int k = 0; k < K__COUNT; k++)
					if (v[k]->n > 1)
						snprintf(s->variant + strlen(s->variant),
							 sizeof(s->variant) - strlen(s->variant), "%s%s=%s",
							 s->variant[0] ? " " : "", keys[k].name, s->val[k]);
				if (!s->variant[0])
					snprintf(s->variant, sizeof(s->variant), "default");
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

long long run_int(const struct run_spec *r, enum cfg_key k)
{
	if (keys[k].type == T_DURATION || keys[k].type == T_TIMEOUT)
		return strcmp(r->val[k], "auto") ? parse_duration_ms(r->val[k]) : -1;
	if (keys[k].type == T_BOOL)
		return !strcmp(r->val[k], "on") || !strcmp(r->val[k], "1");
	return atoll(r->val[k]);
}
