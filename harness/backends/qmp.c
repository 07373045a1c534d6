/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util.h"
#include "qmp.h"

struct qmp {
	int fd, timeout_ms;
	unsigned next_id;
	char version[64];
	char buf[65536];
	size_t len;
};

static long long now_ms(void)
{
	return (long long)(mono_ns() / 1000000u);
}

/* One JSON object per line (QMP sends "\r\n"-terminated objects). Caller frees. */
static cJSON *read_msg(struct qmp *q, char *err, size_t errlen)
{
	long long end = now_ms() + q->timeout_ms;

	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			size_t n = (size_t)(nl - q->buf) + 1;
			cJSON *j;
			*nl = 0;
			j = cJSON_Parse(q->buf);
			memmove(q->buf, q->buf + n, q->len - n);
			q->len -= n;
			if (!j || !cJSON_IsObject(j)) {
				cJSON_Delete(j);
				snprintf(err, errlen, "QMP: malformed message from QEMU");
				return NULL;
			}
			return j;
		}
		if (q->len == sizeof(q->buf) - 1) {
			snprintf(err, errlen, "QMP: message longer than %zu bytes", sizeof(q->buf));
			return NULL;
		}
		long long left = end - now_ms();
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "QMP: no reply from QEMU within %d ms", q->timeout_ms);
			return NULL;
		}
		ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - 1 - q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "QMP: QEMU closed the monitor");
			return NULL;
		}
		q->len += (size_t)n;
	}
}

/* A QEMU that died closes its end: that is an error to report, never a SIGPIPE that kills the
 * process driving it (a test or a library user need not ignore SIGPIPE as pvbench does). */
static int send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

cJSON *qmp_call(struct qmp *q, const char *command, cJSON *args, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *reply, *ret;
	unsigned id = ++q->next_id;
	char *text;

	cJSON_AddStringToObject(req, "execute", command);
	if (args)
		cJSON_AddItemToObject(req, "arguments", args);
	cJSON_AddNumberToObject(req, "id", id);
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!text || send_all(q->fd, text) < 0 || send_all(q->fd, "\n") < 0) {
		free(text);
		snprintf(err, errlen, "QMP %s: cannot send: %s", command, strerror(errno));
		return NULL;
	}
	free(text);
	for (;;) {
		reply = read_msg(q, err, errlen);
		if (!reply)
			return NULL;
		cJSON *rid = cJSON_GetObjectItemCaseSensitive(reply, "id");
		if (cJSON_GetObjectItemCaseSensitive(reply, "event") || !cJSON_IsNumber(rid) ||
		    (unsigned)rid->valuedouble != id) {
			cJSON_Delete(reply); /* an event, or a stale reply */
			continue;
		}
		break;
	}
	ret = cJSON_DetachItemFromObjectCaseSensitive(reply, "return");
	if (!ret) {
		cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
		cJSON *cls = cJSON_GetObjectItemCaseSensitive(e, "class");
		cJSON *desc = cJSON_GetObjectItemCaseSensitive(e, "desc");
		if (cJSON_IsString(cls) && cJSON_IsString(desc))
			snprintf(err, errlen, "QMP %s: %s: %s", command, cls->valuestring,
				 desc->valuestring);
		else
			snprintf(err, errlen, "QMP %s: reply has neither return nor error", command);
	}
	cJSON_Delete(reply);
	return ret;
}

struct qmp *qmp_open_fd(int fd, int greet_ms, int timeout_ms, char *err, size_t errlen)
{
	struct qmp *q = calloc(1, sizeof(*q));
	cJSON *greet, *v, *ret;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	q->fd = fd;
	q->timeout_ms = greet_ms;
	greet = read_msg(q, err, errlen);
	q->timeout_ms = timeout_ms;
	if (!greet)
		goto fail;
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(greet, "QMP"),
					     "version");
	if (!v) {
		snprintf(err, errlen, "QMP: greeting has no version: not a QMP monitor?");
		cJSON_Delete(greet);
		goto fail;
	}
	{
		cJSON *qv = cJSON_GetObjectItemCaseSensitive(v, "qemu");
		cJSON *pkg = cJSON_GetObjectItemCaseSensitive(v, "package");
		int ma = cJSON_GetObjectItemCaseSensitive(qv, "major")
				 ? cJSON_GetObjectItemCaseSensitive(qv, "major")->valueint : -1;
		int mi = cJSON_GetObjectItemCaseSensitive(qv, "minor")
				 ? cJSON_GetObjectItemCaseSensitive(qv, "minor")->valueint : -1;
		int mc = cJSON_GetObjectItemCaseSensitive(qv, "micro")
				 ? cJSON_GetObjectItemCaseSensitive(qv, "micro")->valueint : -1;
		snprintf(q->version, sizeof(q->version), "%d.%d.%d%s%s", ma, mi, mc,
			 cJSON_IsString(pkg) && *pkg->valuestring ? " " : "",
			 cJSON_IsString(pkg) ? pkg->valuestring : "");
	}
	cJSON_Delete(greet);
	ret = qmp_call(q, "qmp_capabilities", NULL, err, errlen);
	if (!ret)
		goto fail;
	cJSON_Delete(ret);
	return q;
fail:
	qmp_close(q);
	return NULL;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q);
}

const char *qmp_version(const struct qmp *q)
{
	return q->version;
}

int qmp_vcpu_tids(struct qmp *q, int *tids, int max, char *err, size_t errlen)
{
	cJSON *r = qmp_call(q, "query-cpus-fast", NULL, err, errlen), *cpu;
	int n = 0;

	if (!r)
		return -1;
	if (!cJSON_IsArray(r)) {
		snprintf(err, errlen, "QMP query-cpus-fast: reply is not a list");
		cJSON_Delete(r);
		return -1;
	}
	cJSON_ArrayForEach(cpu, r) {
		cJSON *idx = cJSON_GetObjectItemCaseSensitive(cpu, "cpu-index");
		cJSON *tid = cJSON_GetObjectItemCaseSensitive(cpu, "thread-id");
		if (!cJSON_IsNumber(idx) || !cJSON_IsNumber(tid) || idx->valueint < 0 ||
		    idx->valueint >= max || tid->valueint <= 0) {
			snprintf(err, errlen, "QMP query-cpus-fast: bad cpu-index or thread-id");
			cJSON_Delete(r);
			return -1;
		}
		tids[idx->valueint] = tid->valueint;
		n++;
	}
	cJSON_Delete(r);
	return n;
}

int qmp_status(struct qmp *q, char *buf, size_t len, char *err, size_t errlen)
{
	cJSON *r = qmp_call(q, "query-status", NULL, err, errlen);
	cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "status");

	if (!r)
		return -1;
	if (!cJSON_IsString(s)) {
		snprintf(err, errlen, "QMP query-status: no status in the reply");
		cJSON_Delete(r);
		return -1;
	}
	snprintf(buf, len, "%s", s->valuestring);
	cJSON_Delete(r);
	return 0;
}
