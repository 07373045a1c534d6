/* SPDX-License-Identifier: MIT */
/* One guest run: what to boot, what came back. A VM backend (backend_*.c: QEMU, pvbench's own
 * VMM) fills one struct vm_backend; both watch the guest with the same loop step (vm_watch). */
#ifndef PVB_VM_H
#define PVB_VM_H

#include <stddef.h>
#include "pvb_abi.h"
#include "pvb_boost.h"
#include "pvb_record.h"
#include "status.h"

#define VM_MAX_VCPUS 16
#define VM_OUT_SIZE PVB_OUT_SIZE /* result area at the top of guest RAM (pvb_abi.h) */

/* What a host policy (and any other observer) sees of a running VM. Guest memory is the guest's: anything read from it is
 * untrusted and must be validated and clamped. */
struct vm_view {
	const int *tids;                 /* vCPU thread ids, by vCPU index */
	int nr_vcpus;
	unsigned char *mem;              /* guest RAM from guest-physical 0, read/write */
	size_t mem_size;
	unsigned tsc_khz;                /* the guest's TSC rate */
	void *boost;                     /* the pvb_boost.h region, or NULL when not offered */
	size_t boost_size;
	const int *kick_fds;             /* per vCPU, an eventfd the guest's doorbell signals (non-blocking),
					    or NULL: no doorbell, kicks show only in the region */
	int dev_tid;                     /* the VM's device thread (pvb_io.h's block device), or 0 */
	/* pvbench's VMM with the virtual cpufreq registers or the utilisation hypercall: the last
	 * utilisation each vCPU sent through them (clamped to 0..1024 by the VMM) and how many it sent;
	 * kick_fds then wake on each. NULL: utilisation is in the region only */
	const volatile uint32_t *util_in;
	const volatile uint64_t *util_sent;
};

/* The guest's progress (pvb_record.h's PVB_PHASE_*) from the live word at the top of its RAM, or -1
 * where there is none (a Linux guest, or not written yet). Untrusted like all guest memory. */
int vm_view_phase(const struct vm_view *vm);


/* A VM run ends as any run does (status.h): RUN_OK with a valid record, RUN_FAILED (the guest
 * said so), RUN_CRASHED, RUN_TIMEOUT, RUN_ERROR (the host could not run it, or the record was
 * rejected), RUN_SKIPPED (this host lacks what it needs), RUN_INTERRUPTED. */

struct vm_spec {
	const char *kernel;      /* guest ELF, or a Linux bzImage when initrd is set */
	const char *initrd;      /* a Linux guest (linux_guest.h): job is then kernel command line */
	const char *disk;        /* a raw image, as a virtio-blk disk (a Linux guest's /dev/vda) */
	int vcpus;
	int mem_mb;              /* 0: 64 */
	const char *job;         /* "workload=cyclic interval_us=1000 ..." */
	int timeout_ms;
	const char *run_dir;     /* console.log and qemu.log go here */
	unsigned tsc_khz;
	int tcg;                 /* QEMU's TCG instead of KVM: functional only, no timing is real */
	unsigned console_max;    /* console bytes before the run is stopped as a flood (0: VM_CONSOLE_MAX) */
	int boost;               /* offer the paravirt scheduling region (pvb_boost.h) */
	int boost_max_prio;      /* the highest RT priority the host will give a vCPU thread */
	int boost_device;        /* where the region is: VM_BOOST_RAM or VM_BOOST_IVSHMEM */
	unsigned boost_features; /* PVB_BF_* the host offers; 0: VM_BOOST_FEATURES */
	int iodev_mb;            /* a block device of this many MiB behind ivshmem (pvb_io.h); 0: none */
	int dirty_ring;          /* QEMU under KVM: per-vCPU dirty rings of this many entries (-accel
				    kvm,dirty-ring-size=N; QEMU's dirty limit needs them); 0: the dirty log */
	const struct vmm_extras *extras; /* pvbench's own VMM only: what a type adds; NULL: none */
};

/* What an experiment type adds to a VM of pvbench's own VMM (impl/vmm), each step optional, in
 * this order: prepare() once the VM, its RAM and kernel exist and before its vCPUs (memory slots,
 * capabilities); start() once the vCPUs exist, just before they run (pre-faulting, a host thread),
 * and stop() once they stopped; for either, a return of 1 means this host cannot: the run is
 * RUN_SKIPPED with err as its reason; tick() every tick_us while the guest runs (the dirty log's handshake; non-zero
 * ends the run as RUN_ERROR with err); ended() after the guest, its memory still there (checks
 * of what the guest left; it may fail the run with vm_set_reason). */
struct vmm;
struct vm_result;
struct vmm_extras {
	void *arg;
	size_t dirty_ring_bytes;         /* per vCPU; 0: no dirty ring */
	int tick_us;                     /* 0: 1000 */
	int (*prepare)(void *arg, struct vmm *v, char *err, size_t errlen);
	int (*start)(void *arg, struct vmm *v, char *err, size_t errlen);
	void (*stop)(void *arg, struct vmm *v);
	int (*tick)(void *arg, struct vmm *v, char *err, size_t errlen);
	void (*ended)(void *arg, struct vmm *v, struct vm_result *r);
};
#define VM_BOOST_RAM     0       /* reserved guest RAM named on the command line; kicks are polled */
#define VM_BOOST_IVSHMEM 1       /* QEMU's ivshmem-doorbell (PCIe): kicks ring an eventfd */
/* The ivshmem device is there: for the boost region, or for the block device. */
static inline int vm_has_ivshmem(const struct vm_spec *s)
{
	return (s->boost && s->boost_device == VM_BOOST_IVSHMEM) || s->iodev_mb > 0;
}
/* What the host offers in the region's header */
#define VM_BOOST_FEATURES (PVB_BF_BOOST | PVB_BF_RT_DEADLINE | PVB_BF_UTIL | PVB_BF_HINT | PVB_BF_CAPACITY_ORIG)

/* Called from the watch loop: started() once the VM is up (vCPU thread ids, guest memory: a
 * policy acts on them), tick() every tick_ms (0: 10) while the guest runs, ended() once when the
 * guest is over but its memory and threads still exist -- after it nothing may touch the view
 * (on every path that called started()). A non-zero return ends the run as RUN_ERROR with the
 * hook's message. */
struct vm_hooks {
	void *arg;
	int tick_ms;
	int (*started)(void *arg, const struct vm_view *vm, char *err, size_t errlen);
	int (*tick)(void *arg, char *err, size_t errlen);
	void (*ended)(void *arg);
};

struct vm_result {
	enum run_status outcome;
	char reason[512];        /* for anything but RUN_OK */
	void *record;            /* validated result record (malloc'd), or NULL */
	size_t record_len;
	int tids[VM_MAX_VCPUS], nr_tids;
	double boot_to_ring3_ms; /* host clock: QEMU started -> guest phase seen; -1 if never */
	double boot_to_workload_ms;
	double wall_ms;
	char vmm[80];            /* "QEMU 7.2.22 ...", "pvbench-vmm <commit>" */
	int exit_code;           /* QEMU's, -1 if killed */
};

struct vm_backend {
	const char *name;        /* the experiment key vmm's value */
	const char *help;
	int (*run)(const struct vm_spec *spec, const struct vm_hooks *hooks, struct vm_result *res);
};
extern const struct vm_backend vm_backend_qemu, vm_backend_pvbench;
extern const struct vm_backend *const vm_backends[];   /* NULL-terminated (vm.c) */
const struct vm_backend *vm_backend_find(const char *name);
const char *vm_backend_choice(int i);                 /* the i-th name: a key's choices */
const char *vm_accel_choice(int i);                   /* kvm, tcg: the accel key's choices */
/* Runs spec on the named backend (NULL: QEMU). */
int vm_run(const char *vmm, const struct vm_spec *spec, const struct vm_hooks *hooks,
	   struct vm_result *res);
void vm_result_free(struct vm_result *res);

/* The watch loop's step that both backends share: interrupt, timeout, the guest's progress
 * word (boot timing), the console's size (a flooding guest is stopped), the hooks' tick.
 * Returns the outcome to stop with (reason set in r), or -1 to go on; *sleep_us says how long
 * to wait before the next step. */
struct vm_watch {
	double t0, next_tick, next_console;
	int phase;
	const volatile struct pvb_live *live;
	char console_path[1024];
};
void vm_watch_begin(struct vm_watch *w, const struct vm_spec *s, const void *mem, size_t mem_size);
int vm_watch_step(struct vm_watch *w, const struct vm_spec *s, const struct vm_hooks *h,
		  struct vm_result *r, int *sleep_us);
double vm_now_ms(void);
unsigned vm_console_max(const struct vm_spec *s);
#define VM_CONSOLE_MAX (1u << 20)    /* a guest's console beyond this is a flood: the run stops */

/* ---- shared by the implementations (vm.c) ---- */
/* The boost area (pvb_abi.h) in guest RAM of mem_size bytes: below the out area for pvbench's
 * guest; for Linux half-way up RAM (QEMU loads the initrd at the top, and the kernel keeps off
 * the area: memmap= reserves it), 2 MiB aligned. */
static inline size_t vm_boost_offset(const struct vm_spec *s, size_t mem_size)
{
	if (s->initrd)
		return (mem_size / 2) & ~(size_t)0x1fffff;
	return mem_size - PVB_OUT_SIZE - PVB_PV_SIZE;
}
/* Before the guest boots: the boost region's header, when the spec offers one in RAM. */
void vm_boost_init(const struct vm_spec *s, unsigned char *mem, size_t mem_size);
/* The guest kernel's command line: out area, boost area, TSC rate, vCPUs, then the job. */
void vm_cmdline(const struct vm_spec *s, size_t mem_size, char *buf, size_t len);
/* The guest's exit-port value -> outcome (RUN_OK for ok); anything unknown is RUN_ERROR. */
#define VM_EXIT_OK (PVB_EXIT_BASE + PVB_STATUS_OK)
enum run_status vm_status_of_exit_value(int value, char *reason, size_t len);
/* The result record at the top of guest RAM, validated, as metrics (ms is filled). 0, or -1 with
 * "result record rejected: why" in err. */
struct metric_set;
int vm_record_metrics(const unsigned char *mem, size_t mem_size, struct metric_set *ms, char *err,
		      size_t errlen);
/* Validates and copies the record from guest RAM, and reconciles it with the outcome so far. */
void vm_take_record(const unsigned char *mem, size_t mem_size, struct vm_result *r);
/* The guest's progress page (pvb_progress.h) in its RAM from guest-physical 0: each vCPU's bytes
 * done so far into per[0..vcpus). 0, or -1 while there is none or it does not match vcpus. Guest
 * memory: untrusted, only ever a figure. vm_progress_stop asks a workload that runs until told
 * (pvb_should_stop) to finish. */
int vm_progress_read(const unsigned char *mem, int vcpus, double *per);
void vm_progress_stop(unsigned char *mem);
/* Sets outcome and reason unless an earlier one is set. */
void vm_set_reason(struct vm_result *r, enum run_status o, const char *fmt, const char *s);

#endif
