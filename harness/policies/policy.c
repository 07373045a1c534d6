/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "policy.h"
#include "pvb_abi.h"
#include "pvb_record.h"

/* The kernel's struct sched_attr (uapi linux/sched/types.h clashes with glibc's sched.h). */
struct sched_attr {
	unsigned size, sched_policy;
	unsigned long long sched_flags;
	int sched_nice;
	unsigned sched_priority;
	unsigned long long sched_runtime, sched_deadline, sched_period;
	unsigned sched_util_min, sched_util_max;
};
#define SCHED_FLAG_RESET_ON_FORK 0x01ull

extern const struct policy_ops policy_vanilla, policy_static, policy_eager, policy_lazy,
	policy_predictive, policy_baseline, policy_util_guest, policy_uclamp_min, policy_performance,
	policy_powersave;

const struct policy_ops *const policies[] = {
	&policy_vanilla,
	&policy_static,
	&policy_eager,
	&policy_lazy,
	&policy_predictive,
	&policy_baseline,
	&policy_util_guest,
	&policy_uclamp_min,
	&policy_performance,
	&policy_powersave,
	NULL,
};

const struct policy_ops *policy_find(const char *name)
{
	for (int i = 0; policies[i]; i++)
		if (!strcmp(policies[i]->name, name))
			return policies[i];
	return NULL;
}

const char *policy_choice(int i)
{
	return policies[i] ? policies[i]->name : NULL;
}

static int getattr(int tid, struct sched_attr *a)
{
	memset(a, 0, sizeof(*a));
	return (int)syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0);
}

static int setattr(int tid, struct sched_attr *a)
{
	a->size = sizeof(*a);
	return (int)syscall(SYS_sched_setattr, tid, a, 0);
}

int sched_save_and_set_fifo(struct sched_saved *s, int tid, int prio, char *err, size_t errlen)
{
	struct sched_attr a;

	memset(s, 0, sizeof(*s));
	s->tid = tid;
	if (getattr(tid, &a) < 0) {
		snprintf(err, errlen, "sched_getattr(%d): %s", tid, strerror(errno));
		return -1;
	}
	s->policy = a.sched_policy;
	s->flags = a.sched_flags;
	s->nice = a.sched_nice;
	s->prio = (int)a.sched_priority;
	s->saved = 1;
	memset(&a, 0, sizeof(a));
	a.sched_policy = SCHED_FIFO;
	a.sched_priority = (unsigned)prio;
	if (setattr(tid, &a) < 0) {
		snprintf(err, errlen, "sched_setattr(%d, SCHED_FIFO %d): %s", tid, prio, strerror(errno));
		s->saved = 0;
		return -1;
	}
	return 0;
}

void sched_restore(struct sched_saved *s)
{
	struct sched_attr a;

	if (!s->saved)
		return;
	memset(&a, 0, sizeof(a));
	a.sched_policy = s->policy;
	a.sched_flags = s->flags & ~(unsigned long long)SCHED_FLAG_RESET_ON_FORK;
	a.sched_nice = s->nice;
	a.sched_priority = (unsigned)s->prio;
	setattr(s->tid, &a); /* ESRCH: the thread is gone, nothing to restore */
	s->saved = 0;
}

int sched_policy_of(int tid, int *prio)
{
	struct sched_attr a;

	if (getattr(tid, &a) < 0)
		return -1;
	if (prio)
		*prio = (int)a.sched_priority;
	return (int)a.sched_policy;
}

static void *probe_main(void *arg)
{
	int *tid = arg;
	*tid = (int)syscall(SYS_gettid);
	return NULL;
}

int sched_fifo_allowed(int prio, char *err, size_t errlen)
{
	pthread_t th;
	pthread_attr_t at;
	struct sched_param sp = { .sched_priority = prio };
	int tid = 0, e;

	/* A real thread started SCHED_FIFO: the answer includes rlimits, CAP_SYS_NICE and the RT
	 * group budget (a child cgroup starts with cpu.rt_runtime_us = 0). */
	pthread_attr_init(&at);
	pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&at, SCHED_FIFO);
	pthread_attr_setschedparam(&at, &sp);
	e = pthread_create(&th, &at, probe_main, &tid);
	pthread_attr_destroy(&at);
	if (e) {
		snprintf(err, errlen,
			 "SCHED_FIFO %d is not allowed here (%s): run as root or with CAP_SYS_NICE, "
			 "and give this cgroup an RT budget (cpu.rt_runtime_us)", prio, strerror(e));
		return 0;
	}
	pthread_join(th, NULL);
	return 1;
}

int policy_thread_start(struct policy_thread *th, const char *name, void *(*fn)(void *), void *arg, char *err,
			size_t errlen)
{
	th->stop = 0;
	th->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (th->wake_fd < 0) {
		snprintf(err, errlen, "policy thread: eventfd: %s", strerror(errno));
		return -1;
	}
	int e = pthread_create(&th->t, NULL, fn, arg);
	if (e) {
		snprintf(err, errlen, "policy thread: %s", strerror(e));
		close(th->wake_fd);
		return -1;
	}
	/* so top -H, perf and a trace tell the agent from pvbench's other threads (best effort) */
	pthread_setname_np(th->t, name);
	th->running = 1;
	return 0;
}

void policy_thread_stop(struct policy_thread *th)
{
	if (!th->running)
		return;
	th->stop = 1;
	if (eventfd_write(th->wake_fd, 1) < 0) /* cannot fail on a fresh counter; stop is set anyway */
		perror("policy thread: eventfd_write");
	pthread_join(th->t, NULL);
	close(th->wake_fd);
	th->running = 0;
}
