/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"

#define MAX_CHILDREN 32

volatile sig_atomic_t pvb_interrupted;
static volatile pid_t running[MAX_CHILDREN]; /* read from the signal handler */

static void track(pid_t pid, int on)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (running[i] == (on ? 0 : pid)) {
			running[i] = on ? pid : 0;
			return;
		}
}

void child_track(pid_t pid) { track(pid, 1); }
void child_untrack(pid_t pid) { track(pid, 0); }

void child_kill_all(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (running[i] > 0)
			kill(-running[i], SIGKILL);
}

static void on_signal(int sig)
{
	if (pvb_interrupted) { /* second Ctrl-C: no more waiting */
		child_kill_all();
		_exit(128 + sig);
	}
	pvb_interrupted = sig;
}

static void at_exit(void)
{
	child_kill_all();
}

void child_signals_install(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
}

static int open_out(const char *path)
{
	return open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

int child_spawn(struct child *c, char *const argv[], const struct child_io *io, char *err,
		size_t errlen)
{
	static const struct child_io none;
	int ofd, efd, pfd[2];
	pid_t parent = getpid();

	if (!io)
		io = &none;
	memset(c, 0, sizeof(*c));
	ofd = open_out(io->stdout_path);
	efd = (io->stderr_path && io->stdout_path && !strcmp(io->stderr_path, io->stdout_path))
		      ? dup(ofd) : open_out(io->stderr_path);
	if (ofd < 0 || efd < 0) {
		snprintf(err, errlen, "%s: %s", io->stdout_path ? io->stdout_path : "/dev/null",
			 strerror(errno));
		goto fail_fds;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) { /* carries exec's errno back */
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail_fds;
	}
	c->pid = fork();
	if (c->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		goto fail_fds;
	}
	if (c->pid == 0) {
		int e;
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* pvbench died before prctl */
			_exit(127);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGHUP, &dfl, NULL);
		signal(SIGPIPE, SIG_DFL);
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		for (int i = 0; i < io->nr_keep_fds; i++)
			fcntl(io->keep_fds[i], F_SETFD, 0);
		execvp(argv[0], argv);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	setpgid(c->pid, c->pid); /* both sides, so kill(-pid) works at once */
	track(c->pid, 1);
	close(pfd[1]);
	close(ofd);
	close(efd);
	{
		int e;
		ssize_t n = read(pfd[0], &e, sizeof(e));
		close(pfd[0]);
		if (n == sizeof(e)) {
			snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
			child_kill(c);
			return -1;
		}
	}
	return 0;
fail_fds:
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	c->pid = 0;
	return -1;
}

int child_poll(struct child *c)
{
	if (c->exited || c->pid <= 0)
		return 1;
	if (waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
		c->exited = 1;
		kill(-c->pid, SIGKILL); /* anything it left in its group */
		track(c->pid, 0);
		return 1;
	}
	return 0;
}

int child_wait(struct child *c, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 5) {
		if (child_poll(c))
			return 1;
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
	return child_poll(c);
}

void child_kill(struct child *c)
{
	if (c->pid <= 0 || c->exited)
		return;
	kill(-c->pid, SIGKILL);
	while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
		;
	c->exited = 1;
	track(c->pid, 0);
}

void child_terminate(struct child *c, int grace_ms)
{
	if (c->pid <= 0 || c->exited)
		return;
	kill(-c->pid, SIGTERM);
	if (!child_wait(c, grace_ms))
		child_kill(c);
}

int proc_stat(int pid, char *state, int *ppid, int *pgid, char *comm, size_t commlen)
{
	char path[64], buf[512];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (l && r && sscanf(r + 2, "%c %d %d", state, ppid, pgid) == 3) {
			snprintf(comm, commlen, "%.*s", (int)(r - l - 1), l + 1);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}
