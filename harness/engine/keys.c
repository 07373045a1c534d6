/* SPDX-License-Identifier: MIT */
/* Keys: the engine's own, a type's and its policies'; checking a value; reading a run's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "util.h"
#include "engine.h"

static const char *choice_at(int i, const void *arg)
{
	return ((const struct key_def *)arg)->choice(i);
}

const char *key_check(const struct key_def *d, const char *v, char *why, size_t n)
{
	long long x;
	char *end;

	if ((d->flags & KEY_AUTO) && !strcmp(v, "auto"))
		return NULL;
	switch (d->type) {
	case KT_STRING:
		return NULL;
	case KT_INT:
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
	case KT_DURATION:
		x = parse_duration_ms(v);
		if (x < 0) {
			snprintf(why, n, "\"%s\" is not a duration (10s, 500ms, 2m)", v);
			return why;
		}
		if (x < d->lo || x > d->hi) {
			snprintf(why, n, "%s is outside [%gs, %gs]", v, d->lo / 1000.0, d->hi / 1000.0);
			return why;
		}
		return NULL;
	case KT_BOOL:
		if (strcmp(v, "on") && strcmp(v, "off") && strcmp(v, "1") && strcmp(v, "0")) {
			snprintf(why, n, "\"%s\" is not on/off", v);
			return why;
		}
		return NULL;
	case KT_CHOICE:
		for (int i = 0; d->choice(i); i++)
			if (!strcmp(d->choice(i), v))
				return NULL;
		const char *near = nearest_name(v, choice_at, d);
		snprintf(why, n, "unknown %s \"%s\"%s%s%s (", d->name, v, near ? ": did you mean " : "",
			 near ? near : "", near ? "?" : "");
		for (int i = 0; d->choice(i); i++)
			snprintf(why + strlen(why), n - strlen(why), "%s%s", i ? ", " : "", d->choice(i));
		snprintf(why + strlen(why), n - strlen(why), ")");
		return why;
	}
	return NULL;
}

const char *key_default(const struct key_def *d)
{
	if (d->def)
		return d->def;
	return d->type == KT_CHOICE && d->choice && d->choice(0) ? d->choice(0) : "";
}

long long key_int(const struct key_def *d, const char *v)
{
	if ((d->flags & KEY_AUTO) && !strcmp(v, "auto"))
		return -1;
	if (d->type == KT_DURATION)
		return parse_duration_ms(v);
	if (d->type == KT_BOOL)
		return !strcmp(v, "on") || !strcmp(v, "1");
	return atoll(v);
}

/* ---- keys every type has ---- */
static const char *type_choice(int i)
{
	return exp_types[i] ? exp_types[i]->name : NULL;
}

static const struct key_def engine_common[] = {
	{ "type", KT_CHOICE, 0, 0, KEY_GLOBAL, "guest", "experiment type (pvbench run --types)",
	  .choice = type_choice },
	{ "description", KT_STRING, 0, 0, KEY_BOOKKEEPING | KEY_GLOBAL, "", "what the experiment reproduces" },
	{ "baseline", KT_STRING, 0, 0, KEY_BOOKKEEPING | KEY_GLOBAL, "",
	  "compare's baseline column, e.g. policy=vanilla (default: the type's)" },
	{ "rows", KT_STRING, 0, 0, KEY_BOOKKEEPING | KEY_GLOBAL, "", "compare's row key (default: the type's)" },
	{ "columns", KT_STRING, 0, 0, KEY_BOOKKEEPING | KEY_GLOBAL, "", "compare's column key (default: the type's)" },
	{ "metrics", KT_STRING, 0, 0, KEY_BOOKKEEPING | KEY_GLOBAL, "", "compare's metrics, a comma list in one value (default: the type's)" },
	{ "repeat", KT_INT, 1, 1000, KEY_BOOKKEEPING, "1", "runs per variant, interleaved" },
	{ "timeout", KT_DURATION, 100, 86400000, KEY_BOOKKEEPING | KEY_AUTO, "auto",
	  "kill a run after this long (auto: the type's own bound)" },
	{ 0 },
};

int engine_keys(const struct exp_type *t, const struct key_def **out, int max)
{
	int n = 0;
	/* a key several policies share (the dynamic ones') is listed once */
#define ADD(d) do {                                                                \
		int dup_ = 0;                                                      \
		for (int k_ = 0; k_ < n; k_++)                                     \
			dup_ |= !strcmp(out[k_]->name, (d)->name);                 \
		if (!dup_ && n == max)                                             \
			return -1;                                                 \
		if (!dup_)                                                         \
			out[n++] = (d);                                            \
	} while (0)
	for (const struct key_def *d = engine_common; d->name; d++)
		ADD(d);
	for (const struct key_def *d = t->keys; d && d->name; d++)
		ADD(d);
	const struct key_def *more;
	for (int i = 0; t->more_keys && (more = t->more_keys(i)); i++)
		for (const struct key_def *d = more; d->name; d++)
			ADD(d);
#undef ADD
	return n;
}

void engine_print_keys(const struct exp_type *t)
{
	const struct key_def *k[ENGINE_MAX_KEYS];
	int n = engine_keys(t, k, ENGINE_MAX_KEYS);

	printf("type %s: %s\n\n%-22s %-5s %-9s %s\n", t->name, t->help, "key", "list", "default", "meaning");
	for (int i = 0; i < n; i++)
		printf("%-22s %-5s %-9s %s%s\n", k[i]->name, k[i]->flags & KEY_LIST ? "yes" : "no",
		       *key_default(k[i]) ? key_default(k[i]) : "-", k[i]->help,
		       k[i]->flags & KEY_BOOKKEEPING ? " [bookkeeping: not part of a run's identity]" : "");
}

const struct exp_type *exp_type_find(const char *name)
{
	for (int i = 0; exp_types[i]; i++)
		if (!strcmp(exp_types[i]->name, name))
			return exp_types[i];
	return NULL;
}

static int spec_index(const struct run_spec *r, const char *key)
{
	for (int k = 0; k < r->nkeys; k++)
		if (!strcmp(r->keys[k]->name, key))
			return k;
	fprintf(stderr, "pvbench: bug: type %s asked for key \"%s\", which it does not declare\n",
		r->type ? r->type->name : "?", key);
	abort();
}

const char *spec_str(const struct run_spec *r, const char *key)
{
	return r->val[spec_index(r, key)];
}

const char *spec_str_or(const struct run_spec *r, const char *key, const char *def)
{
	if (!strcmp(key, "job")) /* the section: the variant names it ("job=NAME ...") when there are several */
		return r->job_name[0] ? r->job_name : def;
	for (int k = 0; k < r->nkeys; k++)
		if (!strcmp(r->keys[k]->name, key))
			return r->val[k];
	return def;
}

long long spec_int(const struct run_spec *r, const char *key)
{
	int k = spec_index(r, key);
	return key_int(r->keys[k], r->val[k]);
}

