/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hostload.h"

const char *hostload_choice(int i)
{
	static const char *const names[] = { "idle", "busy", NULL };
	return names[i];
}

/* stress-ng forks its workers: count processes in its group that use CPU. */
static int busy_workers(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char state, comm[32];
		int ppid, pg;
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
		    proc_stat(atoi(e->d_name), &state, &ppid, &pg, comm, sizeof(comm)) == 0 &&
		    pg == pgid && state == 'R')
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

int hostload_start(struct hostload *l, const char *name, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	if (!strcmp(name, "idle"))
		return 0;
	if (strcmp(name, "busy")) {
		snprintf(err, errlen, "unknown host load \"%s\" (idle, busy)", name);
		return -1;
	}
	char ncpu[16];
	snprintf(ncpu, sizeof(ncpu), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	char *argv[] = { "stress-ng", "--cpu", ncpu, "--quiet", NULL };
	if (child_spawn(&l->c, argv, NULL, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 100; i++) { /* up to 2 s for its workers to spin */
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		if (child_poll(&l->c)) {
			snprintf(err, errlen, "stress-ng exited at once (status %d)", l->c.status);
			return -1;
		}
		if (busy_workers(l->c.pid) >= 1 && i >= 5)
			return 0;
	}
	hostload_stop(l);
	snprintf(err, errlen, "stress-ng started but none of its workers runs");
	return -1;
}

void hostload_stop(struct hostload *l)
{
	if (l->c.pid > 0)
		child_terminate(&l->c, 2000);
	l->c.pid = 0;
}
