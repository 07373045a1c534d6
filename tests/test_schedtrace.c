/* SPDX-License-Identifier: MIT */
/* The host sched trace on real threads: a sleeper shows little runtime; a spinner sharing one CPU
 * with another spinner shows involuntary preemptions, about half a CPU and a wait of about a
 * slice after each preemption; the ring buffers lose nothing. A switch-in is recorded but wakes
 * no reader; a switch-out does where asked to, and is recorded anyway. A thread's sleeps wake the
 * reader only while it asks, and its wake-ups only while it is not RT. A reader does not see its own preemption of a thread, but does
 * see the host give the thread's CPU to another task when it sleeps. */
#include <poll.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "policy.h"
#include "schedtrace.h"
#include "testlib.h"
#include "util.h"

static volatile int stop;

static void *sleeper(void *arg)
{
	*(int *)arg = (int)syscall(SYS_gettid);
	while (!stop)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return NULL;
}

static void *spinner(void *arg)
{
	pin_self(0);
	*(int *)arg = (int)syscall(SYS_gettid);
	while (!stop)
		;
	return NULL;
}

static void sleeper_and_spinner(void **state)
{
	pthread_t th[3];
	int tid[3] = { 0, 0, 0 };
	char err[256];
	struct schedtrace *t;
	struct metric_set ms = { 0 };

	pthread_create(&th[0], NULL, sleeper, &tid[0]);
	pthread_create(&th[1], NULL, spinner, &tid[1]);
	pthread_create(&th[2], NULL, spinner, &tid[2]); /* the competitor on CPU 0, not traced */
	while (!tid[0] || !tid[1] || !tid[2])
		usleep(1000);
	if (schedtrace_start(&t, tid, 2, SCHEDTRACE_ALL, 0, err, sizeof(err))) {
		stop = 1;
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		fprintf(stderr, "skip: %s\n", err);
		skip();
	}
	uint64_t t0 = mono_ns();
	for (int i = 0; i < 100; i++) {
		usleep(10000);
		schedtrace_poll(t);
	}
	/* the spinner, sharing CPU 0 with its competitor, waits off it about half of the time */
	double held_pct = 100.0 * (double)schedtrace_thread(t, 1)->held_ns / (double)(mono_ns() - t0);
	fprintf(stderr, "note: the spinner was held off CPU 0 for %.0f%% of the second\n", held_pct);
	assert_true(held_pct > 30 && held_pct < 70);
	schedtrace_stop(t, &ms);
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	const struct metric *m;
	for (size_t i = 0; i < ms.n; i++)
		fprintf(stderr, "note: %s[%d] = %.1f %s\n", ms.m[i].name, ms.m[i].cpu, ms.m[i].value, ms.m[i].unit);
	assert_true(metrics_find(&ms, "trace_lost", METRIC_CPU_VM)->value == 0);
	assert_true(metrics_find(&ms, "trace_records", METRIC_CPU_VM)->value > 100);
	/* the sleeper: little CPU, a run delay per slice from the kernel's accounting, and a
	 * wake-up -> switch-in pair for each of its ~1 ms sleeps: its switches are with the idle
	 * task (pid 0), which the trace must not take for the reader it leaves out */
	assert_true(metrics_find(&ms, "vcpu_runtime_pct", 0)->value < 30);
	assert_non_null(metrics_find(&ms, "run_delay_avg", 0));
	assert_non_null(m = metrics_find(&ms, "wake_to_run_n", 0));
	assert_true(m->value > 300);
	assert_true(metrics_find(&ms, "trace_unpaired", METRIC_CPU_VM)->value < 10);
	/* the spinner: shares CPU 0 with the other, so it is preempted while runnable, about every
	 * tick (HZ 250 here: 4 ms), and waits about a slice each time */
	assert_true(metrics_find(&ms, "preemptions", 1)->value > 10);
	double rt = metrics_find(&ms, "vcpu_runtime_pct", 1)->value;
	assert_true(rt > 15 && rt < 85);
	assert_non_null(m = metrics_find(&ms, "wake_to_run_n", 1));
	assert_true(m->value > 10);
	assert_non_null(m = metrics_find(&ms, "wake_to_run_p50", 1));
	assert_true(m->value > 100e3 && m->value < 50e6);
	metrics_free(&ms);
}

/* A sleeper (1 ms sleeps) in *th, and a trace of it with events; skips where tracing cannot run. */
static struct schedtrace *trace_a_sleeper(pthread_t *th, int *tid, unsigned events)
{
	char err[256];
	struct schedtrace *t;

	stop = 0;
	*tid = 0;
	pthread_create(th, NULL, sleeper, tid);
	while (!*tid)
		usleep(1000);
	if (schedtrace_start(&t, tid, 1, events, 0, err, sizeof(err))) {
		stop = 1;
		pthread_join(*th, NULL);
		fprintf(stderr, "skip: %s\n", err);
		skip();
	}
	return t;
}

/* An agent sleeps on schedtrace_pollfds(): a switch-out must wake it, a switch-in must not (it
 * acts on none, and each wake-up costs it a context switch), yet the drain that follows any
 * wake-up must know the thread is on a CPU again. */
static void switch_ins_wake_no_reader(void **state)
{
	pthread_t th;
	int tid, n;
	char err[256];
	struct pollfd pf[64];
	struct schedtrace *t = trace_a_sleeper(&th, &tid, SCHEDTRACE_INS);

	assert_int_equal(schedtrace_pollfds(t, pf, 64), 0); /* nothing to wake on */
	usleep(50000);                                        /* the sleeper ran ~50 times */
	schedtrace_drain(t);
	/* and its switches out are there too, quietly: on_cpu needs both */
	assert_true(schedtrace_thread(t, 0)->in_ns > 0);
	assert_true(schedtrace_thread(t, 0)->out_ns > 0);
	assert_true(schedtrace_thread(t, 0)->slept > 20);
	schedtrace_stop(t, NULL);

	assert_int_equal(schedtrace_start(&t, &tid, 1, SCHEDTRACE_SWITCHES, 0, err, sizeof(err)), 0);
	n = schedtrace_pollfds(t, pf, 64);
	assert_int_equal(n, (int)sysconf(_SC_NPROCESSORS_ONLN)); /* one per CPU: the outs */
	assert_true(poll(pf, (nfds_t)n, 1000) > 0);          /* the sleeper went to sleep */
	usleep(20000);
	schedtrace_drain(t);
	const struct schedtrace_thread *s = schedtrace_thread(t, 0);
	assert_true(s->out_ns > 0 && s->in_ns > 0 && s->slept > 0);
	schedtrace_stop(t, NULL);
	stop = 1;
	pthread_join(th, NULL);
}

/* An agent wakes on a thread's sleeps only while it has boosted the thread: a halting vCPU sleeps
 * once a period, and an unboosted one's sleep asks nothing of it. Unasked, the sleeps wake no one
 * yet the drain has them (with INS); asked, the next one wakes the reader; unasked again, none. */
static void sleeps_wake_only_when_asked(void **state)
{
	pthread_t th;
	int tid, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct pollfd pf[64];
	struct schedtrace *t = trace_a_sleeper(&th, &tid, SCHEDTRACE_INS | SCHEDTRACE_PREEMPTS | SCHEDTRACE_ASKED_SLEEPS);
	/* the preemptions, one per CPU, then the thread's own sleeps */
	assert_int_equal(schedtrace_pollfds(t, pf, 64), ncpu + 1);
	struct pollfd *ask = &pf[ncpu];
	assert_int_equal(poll(ask, 1, 50), 0); /* ~50 sleeps, unasked */
	schedtrace_drain(t);
	const struct schedtrace_thread *s = schedtrace_thread(t, 0);
	assert_true(s->slept > 20 && s->out_ns > 0 && s->in_ns > 0);
	/* its sleeps are not preemptions; a busy machine (CI under ASan) may preempt it a few times */
	assert_true(s->preempted * 4 < s->slept);

	schedtrace_wake_on_sleep(t, 0, 1);
	unsigned long slept = s->slept;
	assert_int_equal(poll(ask, 1, 1000), 1);
	schedtrace_drain(t);
	assert_true(s->slept > slept);

	schedtrace_wake_on_sleep(t, 0, 0);
	poll(ask, 1, 0); /* a sleep between the last poll and the asking's end may still say so, once */
	assert_int_equal(poll(ask, 1, 50), 0);
	/* the thread gone (a VM powered off), its descriptor hangs up for good */
	stop = 1;
	pthread_join(th, NULL);
	assert_int_equal(poll(ask, 1, 1000), 1);
	assert_true(ask->revents & POLLHUP);
	schedtrace_stop(t, NULL);
}

/* eager boosts a vCPU at its wake-up: one it boosted already must not cost it one (a halting
 * vCPU wakes once a period). With NORMAL_WAKEUPS the kernel drops the wake-ups of a thread at an
 * RT priority, with no syscall when that changes: the sleeper's wake-ups wake the reader while it
 * is SCHED_OTHER, none while it is SCHED_FIFO, and again once it is back. */
static void boosted_wakeups_wake_no_reader(void **state)
{
	pthread_t th;
	int tid, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct pollfd pf[64];
	struct sched_saved saved;
	char err[256];
	struct schedtrace *t = trace_a_sleeper(&th, &tid, SCHEDTRACE_WAKEUPS | SCHEDTRACE_NORMAL_WAKEUPS | SCHEDTRACE_INS);
	const struct schedtrace_thread *s = schedtrace_thread(t, 0);

	assert_int_equal(schedtrace_pollfds(t, pf, 64), ncpu); /* the wake-ups, one per CPU */
	assert_int_equal(poll(pf, (nfds_t)ncpu, 1000), 1);
	schedtrace_drain(t);
	unsigned long woken = s->woken;
	assert_true(woken > 0);

	if (sched_save_and_set_fifo(&saved, tid, 10, err, sizeof(err))) {
		stop = 1;
		pthread_join(th, NULL);
		schedtrace_stop(t, NULL);
		fprintf(stderr, "skip: %s\n", err);
		skip();
	}
	/* wake-ups since the first poll, before the thread was set (a busy machine delays this one),
	 * may still say so, once */
	usleep(2000);
	poll(pf, (nfds_t)ncpu, 0);
	schedtrace_drain(t);
	woken = s->woken;
	unsigned long slept = s->slept;
	assert_int_equal(poll(pf, (nfds_t)ncpu, 50), 0); /* ~50 wake-ups at FIFO */
	schedtrace_drain(t);
	assert_int_equal(s->woken, woken);
	assert_true(s->slept > slept + 20); /* it did sleep and wake, quietly */

	sched_restore(&saved);
	assert_int_equal(poll(pf, (nfds_t)ncpu, 1000), 1);
	schedtrace_drain(t);
	assert_true(s->woken > woken);
	stop = 1;
	pthread_join(th, NULL);
	schedtrace_stop(t, NULL);
}

/* A reader that leaves itself out (an agent, SCHED_FIFO): each of its wake-ups on a traced
 * thread's CPU preempts the thread, which is not the host's doing and must not read as a
 * preemption (the agent would arm a timer for it, whose wake-up preempts again). But when the
 * reader sleeps and the host gives that CPU to another task, the thread is held off: the trace
 * must say so, and wake the reader (it caused that: a task that has just run loses its CPU to one
 * that waits). The truth is the thread's own: it reads the clock in a loop, and a gap in its
 * reads is time off its CPU. */
#define MAX_GAPS 200000
struct gap { uint64_t from, to; };
static struct gap gaps[MAX_GAPS];
static size_t ngaps;
static void *gap_spinner(void *arg)
{
	pin_self(0);
	*(int *)arg = (int)syscall(SYS_gettid);
	uint64_t last = mono_ns();
	while (!stop) {
		uint64_t now = mono_ns();
		if (now - last > 20000 && ngaps < MAX_GAPS)
			gaps[ngaps++] = (struct gap){ last, now };
		last = now;
	}
	return NULL;
}

static void reader_left_out_host_seen(void **state)
{
	enum { LOOKS = 1500 };
	static struct { uint64_t at, woke; int on, woken; } look[LOOKS];
	pthread_t th[2];
	int tid[2] = { 0, 0 }, me = (int)syscall(SYS_gettid);
	char err[256];
	struct schedtrace *t;
	struct sched_param rt = { .sched_priority = 10 }, other = { 0 };

	stop = 0;
	ngaps = 0;
	pthread_create(&th[0], NULL, gap_spinner, &tid[0]);
	pthread_create(&th[1], NULL, spinner, &tid[1]); /* the host's other task on CPU 0 */
	while (!tid[0] || !tid[1])
		usleep(1000);
	cpu_set_t all;
	pthread_getaffinity_np(pthread_self(), sizeof(all), &all);
	pin_self(0);
	int rc = schedtrace_start(&t, tid, 1, SCHEDTRACE_SWITCHES, me, err, sizeof(err));
	if (rc || pthread_setschedparam(pthread_self(), SCHED_FIFO, &rt)) {
		stop = 1;
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		fprintf(stderr, "skip: %s\n", rc ? err : "no SCHED_FIFO here");
		pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
		if (!rc)
			schedtrace_stop(t, NULL);
		skip();
	}
	struct pollfd pf[64];
	int npf = schedtrace_pollfds(t, pf, 64);
	for (int i = 0; i < LOOKS; i++) {
		schedtrace_sleeping(t);
		look[i].woken = poll(pf, (nfds_t)npf, 1) > 0; /* else 1 ms passed */
		look[i].woke = mono_ns();
		schedtrace_drain(t);
		const struct schedtrace_thread *s = schedtrace_thread(t, 0);
		look[i].at = mono_ns();
		look[i].on = s->in_ns > s->out_ns;
	}
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &other);
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
	schedtrace_stop(t, NULL);
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	/* at each look the reader has CPU 0, so the thread is in a gap. Woken by the trace, the
	 * host has just taken the thread's CPU: it must read as off. Woken by the time: a gap that
	 * began as the reader woke (its wake-up takes ~20 us here) is the reader's own, on a CPU as
	 * far as the host goes; one that began well before is the host's, held off. Between the
	 * two, another task may have taken the CPU just before the reader did: not counted */
	int own = 0, held = 0, woken = 0, miss = 0, wrong = 0;
	size_t g = 0;
	for (int i = 0; i < LOOKS; i++) {
		while (g < ngaps && gaps[g].to < look[i].at)
			g++;
		if (g == ngaps || gaps[g].from > look[i].at)
			continue;
		int mine = !look[i].woken && gaps[g].from + 50000 >= look[i].woke;
		int host = look[i].woken || gaps[g].from + 300000 < look[i].woke;
		own += mine;
		held += host && !look[i].woken;
		woken += look[i].woken;
		miss += host && look[i].on;
		wrong += mine && !look[i].on;
	}
	fprintf(stderr, "note: looks in the reader's own gap %d, in the host's %d, woken by the host taking "
		"the CPU %d; host's read as on a CPU %d, own as off %d\n", own, held, woken, miss, wrong);
	assert_true(own > LOOKS / 10 && held > LOOKS / 10 && woken > LOOKS / 10);
	assert_true(miss <= (held + woken) / 50);
	assert_true(wrong <= own / 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sleeper_and_spinner),
		cmocka_unit_test(switch_ins_wake_no_reader),
		cmocka_unit_test(sleeps_wake_only_when_asked),
		cmocka_unit_test(boosted_wakeups_wake_no_reader),
		cmocka_unit_test(reader_left_out_host_seen),
	};
	return cmocka_run_group_tests_name("schedtrace", tests, NULL, NULL);
}
