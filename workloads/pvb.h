/* SPDX-License-Identifier: MIT */
/*
 * The portable workload API. A workload is written once against this header and built twice:
 * for the guest kernel (impl/guest-kernel/user.c implements it with rdtsc and a TSC-deadline
 * sleep) and for Linux user space (workloads/linux/pvb_linux.c: clock_gettime and
 * clock_nanosleep). Both builds return the same result record (impl/proto/pvb_record.h).
 *
 * Time is in ticks of the platform clock (TSC cycles in the guest, ns on Linux): deadlines are
 * computed in ticks so no conversion rounding moves a wake-up; convert only what is reported.
 */
#ifndef PVB_H
#define PVB_H

#include <stdint.h>
#include <stddef.h>
#include "pvb_record.h" /* PVB_CPU_*, enum pvb_better */

struct pvb_ctx {
	unsigned cpu;            /* 0 .. nr_cpus-1 */
	unsigned nr_cpus;
};

uint64_t pvb_now(void);                         /* ticks */
void pvb_sleep_until(uint64_t ticks);           /* absolute; may return early (count it) */
uint64_t pvb_ns_to_ticks(uint64_t ns);
uint64_t pvb_ticks_to_ns(uint64_t ticks);

/* Job parameters (key=value). pvb_arg_u64 returns def when absent; a malformed value fails the
 * job with a message naming the key. */
const char *pvb_arg(const char *key);
uint64_t pvb_arg_u64(const char *key, uint64_t def);
/* String equality without libc (the guest has none): for comparing a key's value. */
static inline int pvb_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

void *pvb_alloc(size_t n);                      /* zeroed and touched; setup() only */
void pvb_barrier(void);                         /* every CPU's run() waits for all */
/* The measured memory region: the guest's region=ADDR,SIZE (guest-physical, identity-mapped,
 * provided by the VMM), or on Linux an untouched anonymous mapping of size=SIZE. NULL: none. */
void *pvb_platform_region(uint64_t *size);
void pvb_fail(const char *why);                 /* marks the job failed; the text is reported */
void pvb_console(const char *s, size_t n);      /* text to the console (guest: serial; Linux: stderr) */
int pvb_failed(void);

/* Utilisation (the paravirt DVFS hints): the runtime accounts running time per task with the kernel's PELT, as
 * a Linux guest does, and publishes each CPU's run-queue utilisation to the host when the host
 * asks for it. A task is the workload's unit of work that may move between CPUs (the guest's
 * load balancing); each CPU's run() is its own task until it calls pvb_task_run(). Storage is
 * the workload's, zeroed (pvb_alloc). On Linux both are no-ops: the kernel tracks tasks itself. */
struct pvb_task { uint64_t opaque[8]; };
void pvb_task_run(struct pvb_task *t);          /* this CPU runs t from now; t leaves its old CPU */
/* This CPU's capacity now, 1..1024 (1024: the fastest CPU at its highest frequency). Guest: the
 * host's hint when it gives one; Linux and no hint: 1024. Work per unit of time scales with it. */
uint32_t pvb_capacity(void);
/* CPU cpu's capacity at its highest frequency, 1..1024 (the kernel's capacity_orig): what a
 * scheduler placing a task compares. Guest: as the host publishes it; Linux and none: 1024. */
uint32_t pvb_capacity_orig(unsigned cpu);

/* Progress a host may watch while the workload runs (the migration type): bytes done on this CPU
 * so far, added to. Guest: the pvb_progress.h page; Linux: nothing. */
void pvb_progress_add(uint64_t bytes);
/* The host asks the workload to finish now (a workload that runs until told may poll it). */
int pvb_should_stop(void);

/* A spinlock the CPUs' run()s share, for workloads about critical sections (lockhold). Guest:
 * while a CPU holds one it publishes PVB_SF_CRIT with a boost request in its boost slot
 * (pvb_boost.h), seed 001's "critical section", so a dynamic policy can boost a vCPU the host
 * preempts mid-section; only the holder does, never a waiter (a boosted waiter would keep the
 * holder's vCPU off a shared CPU). Linux: a plain spinlock (a user-space lock is no kernel
 * critical section; the boost module publishes none for it). Storage is the workload's, zeroed. */
struct pvb_lock { uint32_t held; };
void pvb_lock(struct pvb_lock *l);
void pvb_unlock(struct pvb_lock *l);

/* Block I/O (iopath): this CPU's queue to the platform's block device. Guest: behind the ivshmem
 * device (pvb_io.h), a doorbell to post and an interrupt to complete; Linux: pread/pwrite on
 * /dev/vda, done at once. Open in setup(); submit (-1: the queue is full), kick, then reap waits
 * until something completed or the deadline (ticks) passed: how many completed, errors added. */
int pvb_io_open(uint64_t *disk_bytes);
int pvb_io_submit(void *buf, uint64_t off, uint32_t len, int write);
void pvb_io_kick(void);
unsigned pvb_io_reap(uint64_t deadline, unsigned *errors);

/* Results, called from finish() (one CPU, after all run() returned). cpu may be PVB_CPU_ALL.
 * better: which way the metric improves (PVB_LESS, PVB_MORE, or PVB_INFO for a figure that
 * describes the run); comparisons judge a change by it. */
void pvb_metric(unsigned cpu, const char *name, const char *unit, enum pvb_better better, int64_t value);
void pvb_hist(unsigned cpu, const char *name, uint32_t bucket_ns, const uint32_t *counts,
	      uint32_t nr_buckets, uint64_t overflow);

/* A key a workload reads, declared in its file beside its descriptor: an integer in [lo, hi], or
 * (choices) one of "a|b|c"; def is its value when the job leaves it out. The host checks a job
 * against these before it boots anything (pvb-linux --keys prints them), and pvb_key_u64 and
 * pvb_key_str read a key through them in the guest: one declaration, no default in the code. */
struct pvb_key {
	const char *name;
	uint64_t lo, hi;
	const char *choices;
	const char *def;
	const char *help;
};

/* A key of the job as the workload's table declares it; a value out of its range, or none of its
 * choices, fails the job naming the key and what it takes (the value read is then the default).
 * A key the table does not declare fails the job too: declare it. */
uint64_t pvb_key_u64(const char *key);
const char *pvb_key_str(const char *key);

/* What a workload needs of the VM, beyond CPUs and memory. */
#define PVB_NEEDS_DISK 1u                       /* the block device (pvb_io_open) */

struct pvb_workload {
	const char *name;
	const char *help;                       /* one line: what it does */
	const struct pvb_key *keys;             /* its keys, ending with { 0 }; NULL: none */
	unsigned needs;                         /* PVB_NEEDS_* */
	int (*setup)(unsigned nr_cpus);         /* one CPU, before the others start; 0 = ok */
	int (*run)(const struct pvb_ctx *ctx);  /* on every CPU at once; 0 = ok */
	void (*finish)(unsigned nr_cpus);       /* one CPU, after all run() returned */
};

/* The catalogue (workloads/registry.c). The workload pvb_find_workload returns is the one whose
 * keys pvb_key_* read. */
extern const struct pvb_workload *const pvb_workloads[];
const struct pvb_workload *pvb_find_workload(const char *name);
/* Keys of every job, read by the runtime itself, not a workload (rt_prio). */
extern const struct pvb_key pvb_job_keys[];

#endif
