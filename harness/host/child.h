/* SPDX-License-Identifier: MIT */
/* Child processes (QEMU, stress-ng, cyclictest) that never outlive pvbench. */
#ifndef PVB_CHILD_H
#define PVB_CHILD_H

#include <signal.h>
#include <sys/types.h>

struct child {
	pid_t pid;               /* also its process group id; 0 when not running */
	int status;              /* waitpid status once exited */
	int exited;
};

struct child_io {
	const char *stdout_path; /* NULL: /dev/null */
	const char *stderr_path; /* NULL: /dev/null; may equal stdout_path */
	const int *keep_fds;     /* inherited by the child (CLOEXEC cleared there) */
	int nr_keep_fds;
};

/* Set by SIGINT/SIGTERM once child_signals_install() ran; long loops poll it. */
extern volatile sig_atomic_t pvb_interrupted;

/* SIGINT/SIGTERM set pvb_interrupted (a second one kills every child and exits at once);
 * atexit kills every child still running. */
void child_signals_install(void);

/* Starts argv in its own process group with PR_SET_PDEATHSIG(SIGKILL): if pvbench dies, so
 * does the child. Returns 0, or -1 with a sentence in err. */
int child_spawn(struct child *c, char *const argv[], const struct child_io *io, char *err,
		size_t errlen);
int child_poll(struct child *c);            /* 1 if it has exited (reaped), else 0 */
int child_wait(struct child *c, int timeout_ms); /* 1 if exited in time */
void child_kill(struct child *c);           /* SIGKILL to the whole group, then reap */
/* SIGTERM to the group, so a parent (stress-ng) reaps its own workers; SIGKILL after grace_ms. */
void child_terminate(struct child *c, int grace_ms);
void child_kill_all(void);                  /* every running child: for exit paths */
/* A child forked elsewhere (an isolated run) joins the set child_kill_all() kills. */
void child_track(pid_t pid);
void child_untrack(pid_t pid);

/* From /proc/PID/stat: state ('R', 'S', 'Z', ...), parent, process group and command name.
 * 0, or -1 if there is no such process. */
int proc_stat(int pid, char *state, int *ppid, int *pgid, char *comm, size_t commlen);

#endif
