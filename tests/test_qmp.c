/* SPDX-License-Identifier: MIT */
/* The QMP client against a scripted peer: greeting, negotiation, errors, events, bad replies. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "qmp.h"

struct peer {
	int fd;
	const char *const *script; /* lines to send, one after each received line ("" = none) */
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	char buf[4096];
	const char *const *line = p->script;

	/* the greeting goes first, unprompted */
	if (write(p->fd, *line, strlen(*line)) < 0)
		return NULL;
	line++;
	while (*line) {
		if (read(p->fd, buf, sizeof(buf)) <= 0)
			break;
		if (**line && write(p->fd, *line, strlen(*line)) < 0)
			break;
		line++;
	}
	return NULL;
}

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
		 "\"package\": \"Debian\"}, \"capabilities\": []}}\r\n"

static struct qmp *open_with(const char *const *script, pthread_t *th, struct peer *p, char *err)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->fd = sv[1];
	p->script = script;
	pthread_create(th, NULL, peer_main, p);
	return qmp_open_fd(sv[0], 1000, 1000, err, 256);
}

static void negotiates_and_reads_version(void **state)
{
	static const char *const script[] = {
		GREETING, "{\"return\": {}, \"id\": 1}\r\n",
		"{\"event\": \"STOP\", \"timestamp\": {}}\r\n{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 2}\r\n",
		NULL };
	struct peer p;
	pthread_t th;
	char err[256], st[32];
	struct qmp *q = open_with(script, &th, &p, err);

	assert_non_null(q);
	assert_string_equal(qmp_version(q), "7.2.22 Debian");
	assert_int_equal(qmp_status(q, st, sizeof(st), err, sizeof(err)), 0); /* event skipped */
	assert_string_equal(st, "running");
	qmp_close(q);
	pthread_join(th, NULL);
	close(p.fd);
}

static void error_reply_carries_class_and_description(void **state)
{
	static const char *const script[] = {
		GREETING, "{\"return\": {}, \"id\": 1}\r\n",
		"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}, \"id\": 2}\r\n",
		NULL };
	struct peer p;
	pthread_t th;
	char err[256];
	struct qmp *q = open_with(script, &th, &p, err);

	assert_non_null(q);
	assert_null(qmp_call(q, "nope", NULL, err, sizeof(err)));
	assert_string_equal(err, "QMP nope: CommandNotFound: The command nope has not been found");
	qmp_close(q);
	pthread_join(th, NULL);
	close(p.fd);
}

static void vcpu_tids_are_validated(void **state)
{
	static const char *const script[] = {
		GREETING, "{\"return\": {}, \"id\": 1}\r\n",
		"{\"return\": [{\"cpu-index\": 1, \"thread-id\": 101}, {\"cpu-index\": 0, \"thread-id\": 100}], \"id\": 2}\r\n",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": -5}], \"id\": 3}\r\n",
		NULL };
	struct peer p;
	pthread_t th;
	char err[256];
	int tids[4] = { 0 };
	struct qmp *q = open_with(script, &th, &p, err);

	assert_non_null(q);
	assert_int_equal(qmp_vcpu_tids(q, tids, 4, err, sizeof(err)), 2);
	assert_int_equal(tids[0], 100);
	assert_int_equal(tids[1], 101);
	assert_int_equal(qmp_vcpu_tids(q, tids, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "thread-id"));
	qmp_close(q);
	pthread_join(th, NULL);
	close(p.fd);
}

static void garbage_and_silence_are_errors(void **state)
{
	static const char *const garbage[] = { "this is not json\r\n", NULL };
	static const char *const silent[] = { GREETING, "", NULL };
	struct peer p;
	pthread_t th;
	char err[256];

	assert_null(open_with(garbage, &th, &p, err));
	assert_non_null(strstr(err, "malformed"));
	pthread_join(th, NULL);
	close(p.fd);

	assert_null(open_with(silent, &th, &p, err));
	assert_non_null(strstr(err, "no reply"));
	pthread_join(th, NULL);
	close(p.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(negotiates_and_reads_version),
		cmocka_unit_test(error_reply_carries_class_and_description),
		cmocka_unit_test(vcpu_tids_are_validated),
		cmocka_unit_test(garbage_and_silence_are_errors),
	};
	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
