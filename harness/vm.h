/* SPDX-License-Identifier: MIT */
/* One guest run: what to boot, what came back. QEMU implements it (qemu.c); pvbench's own VMM
 * will be a second implementation of the same interface. */
#ifndef PVB_VM_H
#define PVB_VM_H

#include <stddef.h>

#define VM_MAX_VCPUS 16
#define VM_OUT_SIZE (2u << 20)   /* result area at the top of guest RAM */

enum vm_outcome {
	VM_OK,           /* the guest ran the job and returned a valid record */
	VM_FAILED,       /* the workload failed (bad job, run error): the guest said so */
	VM_CRASHED,      /* guest exception, triple fault or emulation failure */
	VM_TIMEOUT,      /* the guest outlived its timeout and was killed */
	VM_ERROR,        /* the host could not run it, or the guest's record was rejected */
	VM_INTERRUPTED,  /* SIGINT/SIGTERM: killed on request */
};

const char *vm_outcome_name(enum vm_outcome o);

struct vm_spec {
	const char *kernel;      /* guest ELF */
	int vcpus;
	int mem_mb;              /* 0: 64 */
	const char *job;         /* "workload=cyclic interval_us=1000 ..." */
	int timeout_ms;
	const char *run_dir;     /* console.log and qemu.log go here */
	unsigned tsc_khz;
};

/* Called from the run loop: started() once the vCPU thread ids are known (a policy acts on
 * them), tick() about every 10 ms while the guest runs. A non-zero return ends the run as
 * VM_ERROR with the hook's message. */
struct vm_hooks {
	void *arg;
	int (*started)(void *arg, const int *tids, int nr, char *err, size_t errlen);
	int (*tick)(void *arg, char *err, size_t errlen);
};

struct vm_result {
	enum vm_outcome outcome;
	char reason[512];        /* for anything but VM_OK */
	void *record;            /* validated result record (malloc'd), or NULL */
	size_t record_len;
	int tids[VM_MAX_VCPUS], nr_tids;
	double boot_to_ring3_ms; /* host clock: QEMU started -> guest phase seen; -1 if never */
	double boot_to_workload_ms;
	double wall_ms;
	char qemu_version[80];
	int exit_code;           /* QEMU's, -1 if killed */
};

int vm_run_qemu(const struct vm_spec *spec, const struct vm_hooks *hooks, struct vm_result *res);
/* The same run on pvbench's own VMM (impl/vmm): no firmware, long mode from the first
 * instruction, vCPU threads in this process. */
int vm_run_pvbench(const struct vm_spec *spec, const struct vm_hooks *hooks, struct vm_result *res);
/* by name: "qemu" or "pvbench" */
int vm_run(const char *vmm, const struct vm_spec *spec, const struct vm_hooks *hooks,
	   struct vm_result *res);
void vm_result_free(struct vm_result *res);

/* ---- shared by the implementations (vm.c) ---- */
/* The guest kernel's command line: out area, TSC rate, vCPUs, then the job. */
void vm_cmdline(const struct vm_spec *s, size_t mem_size, char *buf, size_t len);
/* The guest's isa-debug-exit value -> outcome (VM_OK for ok); anything unknown is VM_ERROR. */
enum vm_outcome vm_outcome_of_exit_value(int value, char *reason, size_t len);
/* Validates and copies the record from guest RAM, and reconciles it with the outcome so far. */
void vm_take_record(const unsigned char *mem, size_t mem_size, struct vm_result *r);
/* Sets outcome and reason unless an earlier one is set. */
void vm_set_reason(struct vm_result *r, enum vm_outcome o, const char *fmt, const char *s);

#endif
