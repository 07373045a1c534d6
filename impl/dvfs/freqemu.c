/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "freqemu.h"

static uint64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void sleep_until_us(uint64_t us)
{
	struct timespec t = { .tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* /proc/TID/<name> into buf, NUL-terminated: 0, or -1 when the thread is gone */
static int proc_read(int tid, const char *name, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", tid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

int64_t thread_cpu_us(int tid)
{
	char buf[128];
	unsigned long long ns;
	return !proc_read(tid, "schedstat", buf, sizeof buf) && sscanf(buf, "%llu", &ns) == 1 ? (int64_t)(ns / 1000u) : -1;
}

int thread_runnable(int tid)
{
	char buf[256];
	if (proc_read(tid, "stat", buf, sizeof buf))
		return -1;
	const char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
	return p && p[1] == ' ' ? p[2] == 'R' : -1;
}

static void *stealer(void *arg)
{
	struct freqemu_cpu *c = arg;
	struct freqemu *e = c->e;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	struct sched_param sp = { .sched_priority = 1 };
	if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) ||
	    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp)) {
		atomic_store(&e->started, -1);
		return NULL;
	}
	atomic_store(&c->tid, gettid());
	atomic_fetch_add(&e->started, 1);

	int64_t debt = 0; /* us meant to be taken and not taken yet (negative: taken too much) */
	uint64_t t0 = now_us();
	while (!atomic_load(&e->quit)) {
		uint32_t d = atomic_load_explicit(&c->duty, memory_order_relaxed);
		uint64_t end = t0 + e->slice_us, want = (uint64_t)e->slice_us * (1024 - d) / 1024;
		int64_t lead = (int64_t)want + debt;
		if (lead > (int64_t)e->slice_us)
			lead = e->slice_us;
		if (d < 1024 && lead > 0) {
			uint64_t from = end - (uint64_t)lead;
			sleep_until_us(from);
			uint64_t t = now_us();
			if (t > from && t - from > c->late_us_max)
				c->late_us_max = t - from;
			while (now_us() < end)
				; /* the CPU is "slow": nothing else runs here now */
			/* from the time it meant to wake: the wake-up's own cost (~45 us here, while nothing
			 * else runs on this CPU) is time the CPU was lost too */
			uint64_t took = end - from;
			c->stolen_us += took;
			debt += (int64_t)want - (int64_t)took;
		} else {
			debt = d < 1024 ? debt + (int64_t)want : 0;
			sleep_until_us(end);
		}
		c->slices++;
		uint64_t t = now_us();
		t0 = t > end + e->slice_us ? t : end; /* an overrun does not make a burst of catch-up */
	}
	return NULL;
}

int freqemu_start(struct freqemu *e, const int *cpus, int nr, unsigned slice_us, char *err, size_t errlen)
{
	if (nr < 1 || nr > FREQEMU_MAX || slice_us < 50) {
		snprintf(err, errlen, "frequency emulation: %d CPUs, slice %u us (1..%d CPUs, >= 50 us)", nr, slice_us,
			 FREQEMU_MAX);
		return -1;
	}
	memset(e, 0, sizeof *e);
	e->nr = nr;
	e->slice_us = slice_us;
	for (int i = 0; i < nr; i++) {
		e->c[i].cpu = cpus[i];
		e->c[i].e = e;
		atomic_init(&e->c[i].duty, 1024);
	}
	int made = 0;
	for (; made < nr; made++)
		if (pthread_create(&e->c[made].thr, NULL, stealer, &e->c[made]))
			break;
	while (made == nr && atomic_load(&e->started) >= 0 && atomic_load(&e->started) < nr)
		usleep(100);
	if (made < nr || atomic_load(&e->started) < 0) {
		atomic_store(&e->quit, 1);
		for (int i = 0; i < made; i++)
			pthread_join(e->c[i].thr, NULL);
		snprintf(err, errlen, "frequency emulation needs a SCHED_FIFO thread pinned to each CPU, and the host refused it");
		return -1;
	}
	return 0;
}

void freqemu_stop(struct freqemu *e)
{
	if (!e->nr || atomic_exchange(&e->quit, 1))
		return;
	for (int i = 0; i < e->nr; i++)
		pthread_join(e->c[i].thr, NULL);
}
