/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "config.h"

int parse_int(const char *what, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "pvbench: %s: \"%s\" is not a number\n", what, s);
		return -1;
	}
	if (v < lo || v > hi) {
		fprintf(stderr, "pvbench: %s: %lld is outside [%lld, %lld]\n", what, v, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_ini_options(const char *path, const char *section,
		    int (*set)(void *arg, const char *key, const char *value, char *why, size_t whylen),
		    void *arg, char *err, size_t errlen)
{
	struct ini_doc d;
	char why[256];

	/* read as experiment files are: a long comment's tail is a mistake, not a key */
	if (ini_doc_read(path, &d, err, errlen))
		return -1;
	for (int i = 0; i < d.nent; i++) {
		const struct ini_entry *x = &d.ent[i];
		if (d.err[0] && d.err_line <= x->line)
			break;
		why[0] = 0;
		if (strcmp(x->section, section))
			ini_doc_error(&d, x->line, "%s: in [%s]: only [%s] is read", x->key, x->section, section);
		else if (set(arg, x->key, x->value, why, sizeof(why)))
			ini_doc_error(&d, x->line, "%s: %s", x->key, why);
		else
			continue;
		break;
	}
	ini_doc_free(&d);
	if (!d.err[0])
		return 0;
	snprintf(err, errlen, "%s", d.err);
	return -1;
}

int cli_set_option(const char *longname, const char *value,
		   int (*set)(void *arg, const char *key, const char *value, char *why, size_t whylen),
		   void *arg)
{
	char key[64], why[256] = "";
	size_t i;

	for (i = 0; longname[i] && i + 1 < sizeof(key); i++)
		key[i] = longname[i] == '-' ? '_' : longname[i];
	key[i] = 0;
	if (set(arg, key, value, why, sizeof(why)) == 0)
		return 0;
	fprintf(stderr, "pvbench: --%s: %s\n", longname, why);
	return -1;
}

int cli_text_or_json(const char *cmd, const char *value, int *json)
{
	if (strcmp(value, "text") && strcmp(value, "json")) {
		fprintf(stderr, "pvbench %s: --format: \"%s\" is not text or json\n", cmd, value);
		return -1;
	}
	*json = !strcmp(value, "json");
	return 0;
}
