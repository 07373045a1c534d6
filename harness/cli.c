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

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hms(char *b, size_t n, double s)
{
	int t = (int)(s + 0.5);
	snprintf(b, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
}

void progress_init(struct progress *p, int total)
{
	memset(p, 0, sizeof(*p));
	p->total = total;
	p->tty = isatty(2);
	p->t0 = mono_s();
}

static void line(const struct progress *p, int i, const char *what, const char *why, double took)
{
	char el[16], eta[16] = "?";

	hms(el, sizeof(el), mono_s() - p->t0);
	if (p->done)
		hms(eta, sizeof(eta), p->busy / p->done * (p->total - i - (took >= 0)));
	fprintf(stderr, "%s[%d/%d] %s", p->tty ? "\r\033[K" : "", i + 1, p->total, what);
	if (took >= 0)
		fprintf(stderr, ": %s (%.1f s)", why ? why : "ok", took);
	fprintf(stderr, "  elapsed %s  ETA %s%s", el, eta, p->tty && took < 0 ? "" : "\n");
}

void progress_begin(struct progress *p, int i, const char *what)
{
	p->item0 = mono_s();
	if (p->tty)
		line(p, i, what, NULL, -1);
}

void progress_end(struct progress *p, int i, const char *what, const char *why)
{
	double took = mono_s() - p->item0;

	p->busy += took;
	p->done++;
	if (!p->tty || why)
		line(p, i, what, why, took);
}

void progress_finish(struct progress *p)
{
	if (p->tty)
		fprintf(stderr, "\r\033[K");
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
