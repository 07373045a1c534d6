/* SPDX-License-Identifier: MIT */
/* What every part of the harness uses and none owns: the clock, folders, durations, progress. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "status.h"
#include "util.h"

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double mono_ms(void)
{
	return (double)mono_ns() / 1e6;
}

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
	if (mkdir(buf, 0755) == 0)
		return 0;
	struct stat st;
	if (errno != EEXIST)
		return -1;
	if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) { /* a file of that name: nothing goes in it */
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static double mono_s(void)
{
	return (double)mono_ns() / 1e9;
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

const char *run_status_name(enum run_status s)
{
	static const char *const n[RUN__COUNT] = { "ok", "failed", "crashed", "timeout", "error",
						   "skipped", "interrupted" };
	return s < RUN__COUNT ? n[s] : "?";
}

int fd_write_all(int fd, const void *p, size_t n)
{
	for (const char *c = p; n;) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int fd_read_all(int fd, void *p, size_t n, double deadline_ms, const volatile sig_atomic_t *stop)
{
	for (char *c = p; n;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		double left = deadline_ms - mono_ms();
		if (stop && *stop)
			return -2;
		if (left <= 0)
			return -1;
		int r = poll(&pf, 1, left > 100 ? 100 : (int)left + 1); /* wake for Ctrl-C */
		if (r <= 0)
			continue;
		ssize_t got = read(fd, c, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -3;
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Optimal string alignment distance: insertions, deletions, substitutions and a swap of two
 * neighbours cost one each -- the typos a hand makes. Names here are short: past 63 characters
 * a word is not a typo of anything. */
static int edits(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	int d[64][64];
	if (n > 63 || m > 63)
		return 64;
	for (size_t i = 0; i <= n; i++)
		for (size_t j = 0; j <= m; j++) {
			if (!i || !j) {
				d[i][j] = (int)(i + j);
				continue;
			}
			int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
			best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m];
}

const char *nearest_name(const char *word, const char *(*name)(int i, const void *arg), const void *arg)
{
	const char *best = NULL;
	int bestd = 3, len = (int)strlen(word);
	for (int i = 0; name(i, arg); i++) {
		int e = edits(word, name(i, arg));
		if (e < bestd && 2 * e < len) {
			bestd = e;
			best = name(i, arg);
		}
	}
	return best;
}
