/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include "cli.h"

long long parse_duration_ms(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "ms"))
		;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		v *= 60000;
	else if (!strcmp(end, "h"))
		v *= 3600000;
	else
		return -1;
	return v > 1e12 ? -1 : (long long)v;
}

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

int mkdir_p(const char *path)
{
	char buf[1024];
	size_t n = strlen(path);

	if (n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

struct ini_opts {
	int (*set)(void *arg, const char *key, const char *value, char *why, size_t whylen);
	void *arg;
	char why[256], key[64];
};

static int ini_opt(void *user, const char *section, const char *name, const char *value)
{
	struct ini_opts *c = user;

	if (!name)
		return 1;
	snprintf(c->key, sizeof(c->key), "%s", name);
	if (strcmp(section, "global")) {
		snprintf(c->why, sizeof(c->why), "in [%s]: only [global] is read", section);
		return 0;
	}
	if (!strcmp(name, "description"))
		return 1;
	return c->set(c->arg, name, value, c->why, sizeof(c->why)) == 0;
}

int cli_ini_options(const char *path, int (*set)(void *arg, const char *key, const char *value,
						 char *why, size_t whylen),
		    void *arg, char *err, size_t errlen)
{
	struct ini_opts c = { .set = set, .arg = arg };
	int line = ini_parse(path, ini_opt, &c);

	if (line == 0)
		return 0;
	if (line < 0)
		snprintf(err, errlen, "%s: %s", path, line == -1 ? strerror(errno) : "out of memory");
	else if (c.why[0])
		snprintf(err, errlen, "%s:%d: %s: %s", path, line, c.key, c.why);
	else
		snprintf(err, errlen, "%s:%d: not INI syntax", path, line);
	return -1;
}
