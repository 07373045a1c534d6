/* SPDX-License-Identifier: MIT */
/*
 * The guest's utilisation tracking for the paravirt DVFS hints, ring 3: per-task PELT with the kernel's own
 * arithmetic (impl/dvfs/pelt.c, shared with the host's model), each CPU's run-queue utilisation
 * as the kernel's cpu_util() computes it with util_est, and the capacity the host hints.
 *
 * A CPU's utilisation is the sum of the PELT averages of the tasks attached to it, running or
 * blocked (a blocked task's share decays there, as in the kernel), plus, while a task runs, how
 * much its estimate exceeds its average. The estimate is the kernel's util_est: at each dequeue,
 * the larger of the task's average then and an EWMA (weight 1/4) of those averages. So when a
 * periodic task wakes, its CPU at once shows the utilisation it had at the end of its last
 * activation, where the host's view of the vCPU thread has decayed over the sleep; and a task
 * that moves takes its utilisation with it. Both are what seed 000 says the host misses.
 *
 * Frequency invariance: a running period counts capacity/1024 of itself, capacity being the
 * host's hint (cur capacity of the vCPU's CPU), so that utilisation measures work, not time.
 *
 * Also here: the progress page (pvb_progress.h), the other thing a guest shows a watching host.
 */
#include "dvfs.h"
#include "guest.h"
#include "pvb.h"
#include "pvb_boost.h"
#include "pvb_progress.h"
#include "pvb_abi.h"

struct gk_task {
	struct pelt p;
	uint32_t est, ewma;
	uint32_t cpu;                  /* the CPU it is attached to */
	uint8_t lock, known;
};
_Static_assert(sizeof(struct gk_task) <= sizeof(struct pvb_task), "pvb_task holds a gk_task");

#define GK_MAX_TASKS 64

static struct gk_task *tasks[GK_MAX_TASKS];
static unsigned nr_tasks;
static struct pvb_task own[GK_MAX_CPUS];
static struct gk_task *cur[GK_MAX_CPUS];
static struct pvb_boost_hdr *hint_hdr;   /* set when the host gives the capacity hint */
static struct pvb_boost_hdr *orig_hdr;   /* set when it gives each CPU's highest capacity */

static void lock(struct gk_task *t)
{
	while (__atomic_test_and_set(&t->lock, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void unlock(struct gk_task *t)
{
	__atomic_clear(&t->lock, __ATOMIC_RELEASE);
}

static uint64_t now_us(void)
{
	return pvb_ticks_to_ns(gk_rdtsc()) / 1000;
}

void gk_util_init(struct pvb_boost_hdr *h)
{
	hint_hdr = h && (h->guest_features & PVB_BF_HINT) ? h : 0;
	orig_hdr = h && (h->guest_features & PVB_BF_CAPACITY_ORIG) ? h : 0;
}

uint32_t pvb_capacity(void)
{
	static uint32_t last[GK_MAX_CPUS];
	unsigned cpu = gk_cpu(), cap = 0;
	if (!hint_hdr)
		return PVB_UTIL_MAX;
	pvb_boost_hint(pvb_boost_slot(hint_hdr, cpu), &cap, 0);
	if (cap) /* 0: the host was writing, or has not hinted yet: the last value stands */
		last[cpu] = cap;
	return last[cpu] ? last[cpu] : PVB_UTIL_MAX;
}

uint32_t pvb_capacity_orig(unsigned cpu)
{
	static uint32_t last[GK_MAX_CPUS];
	unsigned cap;
	if (!orig_hdr || cpu >= GK_MAX_CPUS)
		return PVB_UTIL_MAX;
	cap = pvb_boost_capacity_orig(pvb_boost_slot(orig_hdr, cpu));
	if (cap) /* as above; read by every CPU that places a task */
		__atomic_store_n(&last[cpu], cap, __ATOMIC_RELAXED);
	cap = __atomic_load_n(&last[cpu], __ATOMIC_RELAXED);
	return cap ? cap : PVB_UTIL_MAX;
}

static struct gk_task *task_of(struct pvb_task *pt, unsigned cpu)
{
	struct gk_task *t = (struct gk_task *)pt;
	if (!__atomic_load_n(&t->known, __ATOMIC_ACQUIRE)) {
		lock(t);
		if (!t->known) {
			unsigned i = __atomic_fetch_add(&nr_tasks, 1, __ATOMIC_ACQ_REL);
			if (i < GK_MAX_TASKS) {
				t->cpu = cpu;
				t->p.last_us = now_us();
				tasks[i] = t;
			}
			__atomic_store_n(&t->known, 1, __ATOMIC_RELEASE);
		}
		unlock(t);
	}
	return t;
}

/* What this CPU runs: the task it last ran, unless that task moved away since */
static struct gk_task *current(unsigned cpu)
{
	if (!cur[cpu] || __atomic_load_n(&cur[cpu]->cpu, __ATOMIC_ACQUIRE) != cpu)
		cur[cpu] = task_of(&own[cpu], cpu);
	return cur[cpu];
}

/* Accounts [last, now) of every task attached to cpu (running: the current one, unless the CPU
 * was idle), then returns the CPU's utilisation; idle: the current task stops running now. */
uint32_t gk_util(unsigned cpu, int was_running, int idle)
{
	struct gk_task *c = current(cpu);
	uint64_t now = now_us();
	uint32_t scale = pvb_capacity(), sum = 0, n = __atomic_load_n(&nr_tasks, __ATOMIC_ACQUIRE);

	if (n > GK_MAX_TASKS)
		n = GK_MAX_TASKS;
	for (unsigned i = 0; i < n; i++) {
		struct gk_task *t = tasks[i];
		if (!t || __atomic_load_n(&t->cpu, __ATOMIC_ACQUIRE) != cpu)
			continue;
		lock(t);
		if (t->cpu == cpu) {
			pelt_update(&t->p, now, t == c && was_running, scale);
			sum += t->p.util_avg;
		}
		unlock(t);
	}
	if (idle) { /* dequeue: the kernel's util_est_update() */
		uint32_t u = c->p.util_avg;
		c->ewma = c->ewma + (uint32_t)(((int64_t)u - (int64_t)c->ewma) / 4);
		c->est = u > c->ewma ? u : c->ewma;
	} else if (c->est > c->p.util_avg) {
		sum += c->est - c->p.util_avg;
	}
	return sum > PVB_UTIL_MAX ? PVB_UTIL_MAX : sum;
}

void pvb_task_run(struct pvb_task *pt)
{
	unsigned cpu = gk_cpu();
	struct gk_task *t = task_of(pt, cpu), *c = current(cpu);

	if (t != c) {
		gk_util(cpu, 1, 0);   /* the time so far was the old task's */
		lock(t);
		if (t->cpu != cpu) {  /* migrate: blocked since it last ran elsewhere, then detached */
			pelt_update(&t->p, now_us(), 0, PVB_UTIL_MAX);
			__atomic_store_n(&t->cpu, cpu, __ATOMIC_RELEASE);
		}
		unlock(t);
		cur[cpu] = t;
	}
	gk_publish_running(cpu);
}

/* The progress page (pvb_progress.h): set up on first use, then one store per call. */
void pvb_progress_add(uint64_t bytes)
{
	struct pvb_progress *p = (struct pvb_progress *)(uintptr_t)PVB_GPA_PROGRESS;
	unsigned cpu = gk_cpu();
	if (cpu >= PVB_PROGRESS_MAX_CPUS)
		return;
	if (__atomic_load_n(&p->magic, __ATOMIC_ACQUIRE) != PVB_PROGRESS_MAGIC) {
		static uint8_t once;
		if (!__atomic_test_and_set(&once, __ATOMIC_ACQ_REL)) {
			for (unsigned i = 0; i < PVB_PROGRESS_MAX_CPUS; i++)
				__atomic_store_n(&p->bytes[i], 0, __ATOMIC_RELAXED);
			p->reserved = 0;
			p->nr_cpus = gk_shared.nr_cpus;
			__atomic_store_n(&p->magic, PVB_PROGRESS_MAGIC, __ATOMIC_RELEASE);
		} else {
			while (__atomic_load_n(&p->magic, __ATOMIC_ACQUIRE) != PVB_PROGRESS_MAGIC)
				__builtin_ia32_pause();
		}
	}
	__atomic_store_n(&p->bytes[cpu], p->bytes[cpu] + bytes, __ATOMIC_RELAXED);
}

int pvb_should_stop(void)
{
	const struct pvb_progress *p = (const struct pvb_progress *)(uintptr_t)PVB_GPA_PROGRESS;
	return __atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) == 1;
}
