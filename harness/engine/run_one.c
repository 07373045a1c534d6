/* SPDX-License-Identifier: MIT */
/* One run: in this process, or in a child process under a watchdog (exp_type.isolate) that
 * reports its result on a pipe, dies with pvbench and is killed when it hangs or on Ctrl-C. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "engine.h"
#include "hostinfo.h"

void run_fail(struct run_result *r, enum run_status s, const char *fmt, ...)
{
	va_list ap;

	if (r->status != RUN_OK)
		return;
	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

void run_result_free(struct run_result *r)
{
	for (int s = 0; s < NR_SIDES; s++)
		metrics_free(&r->m[s]);
}

/* ---- isolated runs: a child process under a watchdog ---- */

/* The child's result on a pipe: the fixed part, then each side's metrics, then each side's
 * histograms (a head and its counts each). */
struct wire_head {
	int status;
	char reason[512], vmm[80];
	unsigned n[NR_SIDES], nh[NR_SIDES];
	char text[NR_SIDES][512];
};

struct wire_hist {
	char name[40];
	int cpu;
	unsigned bucket_ns, nr;
	unsigned long long overflow;
};

/* what a child may send: more is a broken child, not a result */
#define WIRE_MAX_METRICS 100000u
#define WIRE_MAX_HISTS 1024u
#define WIRE_MAX_BUCKETS (1u << 20)

/* The child's side: its result down the pipe. 0, or 1 where the pipe broke. */
static int send_result(int fd, const struct run_result *out)
{
	struct wire_head h = { 0 };
	h.status = out->status;
	memcpy(h.reason, out->reason, sizeof(h.reason));
	memcpy(h.vmm, out->vmm, sizeof(h.vmm));
	for (int s = 0; s < NR_SIDES; s++) {
		h.n[s] = (unsigned)out->m[s].n;
		h.nh[s] = (unsigned)out->m[s].nh;
		memcpy(h.text[s], out->m[s].text, sizeof(h.text[s]));
	}
	int bad = fd_write_all(fd, &h, sizeof(h));
	for (int s = 0; s < NR_SIDES && !bad; s++)
		bad = fd_write_all(fd, out->m[s].m, out->m[s].n * sizeof(struct metric));
	for (int s = 0; s < NR_SIDES; s++)
		for (size_t i = 0; i < out->m[s].nh && !bad; i++) {
			const struct metric_hist *mh = &out->m[s].h[i];
			struct wire_hist wh = { .cpu = mh->cpu, .bucket_ns = mh->bucket_ns, .nr = mh->nr,
						.overflow = mh->overflow };
			snprintf(wh.name, sizeof(wh.name), "%s", mh->name);
			bad = fd_write_all(fd, &wh, sizeof(wh)) || fd_write_all(fd, mh->counts, mh->nr * sizeof(*mh->counts));
		}
	return bad ? 1 : 0;
}

/* The parent's side: the child's head into h and its metrics and histograms into out, each
 * checked against what a child may send, by the deadline. 0; -1 timed out; -2 interrupted;
 * -3 the child died without a whole answer, or sent one that is not. */
static int receive_result(int fd, struct wire_head *h, struct run_result *out, double deadline)
{
	int rc = fd_read_all(fd, h, sizeof(*h), deadline, &pvb_interrupted);
	for (int s = 0; s < NR_SIDES && rc == 0; s++) {
		if (h->n[s] > WIRE_MAX_METRICS || h->nh[s] > WIRE_MAX_HISTS)
			return -3;
		h->text[s][sizeof(h->text[s]) - 1] = 0;
		memcpy(out->m[s].text, h->text[s], sizeof(out->m[s].text));
		struct metric *m = calloc(h->n[s] ? h->n[s] : 1, sizeof(*m));
		rc = m ? fd_read_all(fd, m, h->n[s] * sizeof(*m), deadline + 1000, &pvb_interrupted) : -3;
		for (unsigned i = 0; m && rc == 0 && i < h->n[s]; i++) {
			m[i].name[sizeof(m[i].name) - 1] = m[i].unit[sizeof(m[i].unit) - 1] = 0;
			metrics_add(&out->m[s], m[i].name, m[i].unit, m[i].better, m[i].cpu, m[i].value);
		}
		free(m);
	}
	for (int s = 0; s < NR_SIDES && rc == 0; s++)
		for (unsigned i = 0; i < h->nh[s] && rc == 0; i++) {
			struct wire_hist wh;
			rc = fd_read_all(fd, &wh, sizeof(wh), deadline + 1000, &pvb_interrupted);
			if (rc == 0 && wh.nr > WIRE_MAX_BUCKETS)
				rc = -3;
			unsigned *counts = rc == 0 ? malloc((wh.nr ? wh.nr : 1) * sizeof(*counts)) : NULL;
			if (rc == 0)
				rc = counts ? fd_read_all(fd, counts, wh.nr * sizeof(*counts), deadline + 1000, &pvb_interrupted) : -3;
			wh.name[sizeof(wh.name) - 1] = 0;
			if (rc == 0 && metrics_add_hist(&out->m[s], wh.name, wh.cpu, wh.bucket_ns, counts, wh.nr, wh.overflow))
				rc = -3;
			free(counts);
		}
	return rc;
}

/* A run in a child process of its own: a type that hangs or crashes takes only the child. */
static void run_isolated(const struct run_spec *r, const struct run_env *env, long long timeout_ms,
			 struct run_result *out)
{
	int fds[2];
	pid_t parent = getpid();

	if (pipe2(fds, O_CLOEXEC) < 0) {
		run_fail(out, RUN_ERROR, "pipe: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		run_fail(out, RUN_ERROR, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) { /* the child: dies with pvbench, answers once */
		setpgid(0, 0); /* its own group, as every child: child_kill_all() kills groups */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		close(fds[0]);
		r->type->run(r, env, out);
		_exit(send_result(fds[1], out));
	}
	close(fds[1]);
	setpgid(pid, pid);
	child_track(pid);
	struct wire_head h;
	int rc = receive_result(fds[0], &h, out, mono_ms() + (double)timeout_ms);
	kill(pid, SIGKILL); /* a vCPU stuck in KVM_RUN never lets it exit by itself */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	child_untrack(pid);
	close(fds[0]);
	if (pvb_interrupted || rc == -2) {
		out->status = RUN_INTERRUPTED;
		snprintf(out->reason, sizeof(out->reason), "by a signal");
	} else if (rc == -1) {
		run_fail(out, RUN_TIMEOUT, "hangs: no result within the %lld ms watchdog; killed", timeout_ms);
	} else if (rc != 0) {
		run_fail(out, RUN_CRASHED, "the run's process died without a result");
	} else {
		h.reason[sizeof(h.reason) - 1] = h.vmm[sizeof(h.vmm) - 1] = 0;
		out->status = h.status >= 0 && h.status < RUN__COUNT ? (enum run_status)h.status : RUN_ERROR;
		memcpy(out->reason, h.reason, sizeof(out->reason));
		memcpy(out->vmm, h.vmm, sizeof(out->vmm));
	}
}

void engine_run_one(const struct run_spec *r, const struct run_env *env, long long timeout_ms,
		    struct run_result *out)
{
	memset(out, 0, sizeof(*out));
	if (r->type->needs_kvm && env->host->no_kvm[0])
		run_fail(out, RUN_SKIPPED, "unavailable: %s", env->host->no_kvm);
	else if (r->type->isolate)
		run_isolated(r, env, timeout_ms, out);
	else
		r->type->run(r, env, out);
	if (pvb_interrupted && out->status != RUN_INTERRUPTED) {
		out->status = RUN_INTERRUPTED; /* whatever it measured, it was cut short */
		snprintf(out->reason, sizeof(out->reason), "by a signal");
	}
}

