/* SPDX-License-Identifier: MIT */
/* What every part of the harness uses and none owns: the bottom of its include graph (it
 * includes no other harness header). */
#ifndef PVB_UTIL_H
#define PVB_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC: the one clock for intervals and deadlines in the harness. */
uint64_t mono_ns(void);
double mono_ms(void);

/* "5s", "500ms", "2m", "90" (seconds) -> ms; -1 if malformed. */
long long parse_duration_ms(const char *s);

/* mkdir -p; 0 or -1 (errno set). */
int mkdir_p(const char *path);

/* n bytes to fd, resumed after short writes and EINTR: 0, or -1. */
int fd_write_all(int fd, const void *p, size_t n);
/* n bytes from fd by deadline_ms (mono_ms()), looking at *stop (a signal's flag) every 100 ms:
 * 0; -1 the deadline passed; -2 *stop was set; -3 end of file or an error. */
int fd_read_all(int fd, void *p, size_t n, double deadline_ms, const volatile sig_atomic_t *stop);

/* Of the names name(0, arg), name(1, arg), ... up to NULL, the one a typo of word most likely
 * meant: the nearest in edits (a swap of neighbours is one), at most 2 and fewer than half of
 * word's letters. NULL when none is that near. For "did you mean" in errors. */
const char *nearest_name(const char *word, const char *(*name)(int i, const void *arg), const void *arg);

/* Progress of a long loop on stderr: "[i/N] what  elapsed h:mm:ss  ETA h:mm:ss" -- a live line on a
 * terminal, one line per item otherwise (nightly logs), and always a line for a failure.
 * The ETA is the mean time of the items done so far times the items left. */
struct progress {
	int total, done, tty;
	double t0, busy, item0;
};
void progress_init(struct progress *p, int total);
void progress_begin(struct progress *p, int i, const char *what);
/* why: NULL when the item went fine, else the outcome and reason to print */
void progress_end(struct progress *p, int i, const char *what, const char *why);
void progress_finish(struct progress *p);

#endif
