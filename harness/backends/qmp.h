/* SPDX-License-Identifier: MIT */
/* A QMP client: capabilities negotiation, commands with validated replies, events skipped. */
#ifndef PVB_QMP_H
#define PVB_QMP_H

#include <cjson/cJSON.h>

struct qmp;

/* Takes a connected stream socket (QEMU's monitor), reads the greeting (waiting up to greet_ms:
 * QEMU's start-up), negotiates; then waits up to timeout_ms for each reply. NULL with a sentence
 * in err on failure. The fd is owned by the returned handle. */
struct qmp *qmp_open_fd(int fd, int greet_ms, int timeout_ms, char *err, size_t errlen);
void qmp_close(struct qmp *q);

/* QEMU's version from the greeting, "major.minor.micro" plus package. */
const char *qmp_version(const struct qmp *q);

/* Runs one command. args may be NULL; it is consumed. Returns the "return" member (the caller
 * frees it) or NULL: then err holds "CLASS: description" for a QMP error, or why the reply was
 * missing or malformed. */
cJSON *qmp_call(struct qmp *q, const char *command, cJSON *args, char *err, size_t errlen);

/* The vCPU host thread ids (query-cpus-fast), in CPU index order. Returns the count or -1. */
int qmp_vcpu_tids(struct qmp *q, int *tids, int max, char *err, size_t errlen);

/* query-status "status" ("running", "internal-error", "shutdown", ...) into buf; 0 or -1. */
int qmp_status(struct qmp *q, char *buf, size_t len, char *err, size_t errlen);

#endif
