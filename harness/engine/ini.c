/* SPDX-License-Identifier: MIT */
/* The INI reader of experiments and suites: libinih underneath, every line's number kept, and
 * what libinih would cut or merge silently refused (config.h's ini_doc). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include "config.h"

/* libinih (Debian's build) reads lines into INI_MAX_LINE bytes and section and key names into
 * 50: longer ones are cut and parsing carries on with the rest, so a long comment could turn
 * its tail into a key. pvbench refuses them instead. */
#define LINE_MAX_CHARS (INI_MAX_LINE - 2)
#define NAME_MAX_CHARS 49

char *ini_trim(char *s)
{
	char *end;
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return s;
}

/* ---- pass 1: the file into (section, key, value, line) entries ---- */

struct reader {
	struct ini_doc *d;
	FILE *f;
	int line;
	char *buf;
	size_t cap;
};

void ini_doc_error(struct ini_doc *d, int line, const char *fmt, ...)
{
	va_list ap;

	if (d->err[0] && d->err_line <= line)
		return;
	d->err_line = line;
	int n = snprintf(d->err, sizeof(d->err), "%s:%d: ", d->path, line);
	va_start(ap, fmt);
	vsnprintf(d->err + n, sizeof(d->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* inih's line source: whole lines are read here, so what inih would cut or stop at (an over-long
 * line or name, a NUL byte) is seen and refused, a byte-order mark is dropped, and a section met
 * twice is named. */
static char *read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	struct ini_doc *d = r->d;
	ssize_t len = getline(&r->buf, &r->cap, r->f);

	if (len < 0)
		return NULL;
	r->line++;
	if (len > 0 && r->buf[len - 1] == '\n')
		r->buf[--len] = 0;
	if (len > 0 && r->buf[len - 1] == '\r')
		r->buf[--len] = 0;
	if (r->line == 1 && len >= 3 && !memcmp(r->buf, "\xef\xbb\xbf", 3)) { /* UTF-8 BOM */
		memmove(r->buf, r->buf + 3, (size_t)len - 2);
		len -= 3;
	}
	if ((ssize_t)strlen(r->buf) != len) {
		ini_doc_error(d, r->line, "a NUL byte at column %zu: not a text file", strlen(r->buf) + 1);
		str[0] = 0;
		return str;
	}
	if (len > LINE_MAX_CHARS || len >= num) {
		ini_doc_error(d, r->line, "line is %zd characters long; at most %d are read", len, LINE_MAX_CHARS);
		str[0] = 0; /* the parse goes on, so that an earlier mistake still wins */
		return str;
	}
	char *t = ini_trim(r->buf);
	if (*t == '[') {
		size_t n = strcspn(t + 1, "]");
		if (n > NAME_MAX_CHARS) {
			ini_doc_error(d, r->line, "section name \"%s\" is longer than %d characters", t + 1,
				      NAME_MAX_CHARS);
		} else if (t[1 + n] == ']') {
			for (int i = 0; i < d->nsections; i++)
				if ((int)strlen(d->sections[i]) == (int)n && !strncmp(d->sections[i], t + 1, n))
					ini_doc_error(d, r->line, "[%.*s] again (first at line %d): one section "
						      "each", (int)n, t + 1, d->section_line[i]);
			if (d->nsections < INI_MAX_SECTIONS) {
				snprintf(d->sections[d->nsections], sizeof(d->sections[0]), "%.*s", (int)n, t + 1);
				d->section_line[d->nsections++] = r->line;
			} else {
				ini_doc_error(d, r->line, "more than %d sections", INI_MAX_SECTIONS);
			}
		}
	} else if (*t && *t != ';' && *t != '#') {
		size_t n = strcspn(t, "=:");
		while (n > 0 && isspace((unsigned char)t[n - 1]))
			n--;
		if (n > NAME_MAX_CHARS)
			ini_doc_error(d, r->line, "key \"%s\" is longer than %d characters", t, NAME_MAX_CHARS);
	}
	snprintf(str, (size_t)num, "%s", r->buf);
	return str;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct reader *r = user;
	struct ini_doc *d = r->d;

	if (!name)
		return 1;
	if (d->nent == d->cap_ent) {
		int cap = d->cap_ent ? d->cap_ent * 2 : 32;
		struct ini_entry *e = realloc(d->ent, (size_t)cap * sizeof(*e));
		if (!e)
			return 0;
		d->ent = e;
		d->cap_ent = cap;
	}
	struct ini_entry *e = &d->ent[d->nent++];
	snprintf(e->section, sizeof(e->section), "%s", section);
	snprintf(e->key, sizeof(e->key), "%s", name);
	e->value = strdup(value ? value : "");
	e->line = r->line;
	return 1;
}

int ini_doc_read(const char *path, struct ini_doc *d, char *err, size_t errlen)
{
	struct reader r = { .d = d };
	struct stat st;

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not an experiment file (%s)", path,
			 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		return -1;
	}
	r.f = fopen(path, "r");
	if (!r.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int syntax = ini_parse_stream(read_line, &r, on_entry, &r);
	fclose(r.f);
	free(r.buf);
	if (syntax > 0)
		ini_doc_error(d, syntax, "not INI syntax (expected [section] or key = value)");
	else if (syntax < 0)
		ini_doc_error(d, r.line, "out of memory");
	return 0;
}

void ini_doc_free(struct ini_doc *d)
{
	for (int i = 0; i < d->nent; i++)
		free(d->ent[i].value);
	free(d->ent);
	d->ent = NULL;
	d->nent = d->cap_ent = 0;
}

