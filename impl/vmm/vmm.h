/* SPDX-License-Identifier: MIT */
/*
 * pvbench's own VMM: a small library over /dev/kvm (in the spirit of kvmtool and the KVM
 * selftests). It creates a VM with the in-kernel irqchip, maps guest memory, loads the guest
 * kernel ELF, starts vCPU 0 in long mode at the ELF entry (the guest kernel's entry64) and lets the
 * guest bring up the others with INIT/SIPI, runs one thread per vCPU and handles the exits the
 * guest kernel makes. Every ioctl failure reads as "IOCTL_NAME: strerror (context)".
 * Arch-specific code (long mode, CPUID, page tables) is in x86.c.
 */
#ifndef PVB_VMM_H
#define PVB_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#define VMM_MAX_VCPUS 16
#define VMM_MAX_SLOTS 4

enum vmm_state {
	VMM_RUNNING,
	VMM_EXITED,              /* the guest wrote its exit port: exit_value */
	VMM_SHUTDOWN,            /* triple fault */
	VMM_EMULATION_FAILURE,   /* KVM_EXIT_INTERNAL_ERROR: rip */
	VMM_UNEXPECTED,          /* an exit the VMM does not handle: why */
	VMM_STOPPED,             /* vmm_stop(): timeout, signal, the caller */
};

struct vmm;
struct vmm_vcpu {
	struct vmm *vm;
	int index, fd, tid;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	uint64_t kvm_runs;                       /* KVM_RUN returns: exits seen by the VMM */
	struct kvm_dirty_gfn *ring;              /* its dirty ring, when the VM has them */
	uint32_t ring_next;                      /* next entry to harvest */
	uint64_t harvested, ring_full_exits;     /* entries taken from its ring (by anyone), full-ring exits */
	uint64_t exits[64];                      /* by exit reason */
	/* Throttling (a migration's): the thread stays out of KVM_RUN until hold_until (CLOCK_MONOTONIC
	 * ns; vmm_vcpu_hold), adding the time to held_ns. A dirty quota: once `harvested` passes
	 * quota_end (set by the throttler; 0: none), the thread holds itself until quota_until when a
	 * full ring brings it out -- KVM_CAP_DIRTY_QUOTA's exit, at the ring's granularity. */
	volatile uint64_t hold_until, quota_end, quota_until;
	uint64_t held_ns, holds;
};

/* A device in the VMM: a handler for exits of one kind whose address (port, guest-physical
 * address, or hypercall number) is in [base, base + len). Returns 0 if handled. data is the exit's
 * data (size * count bytes for port I/O; struct kvm_run's hypercall member, size 8, for hypercalls). */
enum vmm_dev_kind { VMM_DEV_PIO, VMM_DEV_MMIO, VMM_DEV_HYPERCALL };

struct vmm_device {
	enum vmm_dev_kind kind;
	uint64_t base, len;
	int (*handle)(struct vmm_vcpu *c, uint64_t addr, int is_write, void *data, int size,
		      int count, void *arg);
	void *arg;
};

struct vmm_slot {
	uint64_t gpa, size;
	uint8_t *host;
	void *map;                               /* the mapping host lies in (2 MiB aligned) */
	size_t map_len;
};

struct vmm {
	int kvm, fd;
	uint8_t *mem;                            /* slot 0: [0, mem_size) */
	uint64_t mem_size;
	struct vmm_slot slots[VMM_MAX_SLOTS];
	int nr_slots;
	struct vmm_vcpu vcpu[VMM_MAX_VCPUS];
	int nr_vcpus;
	struct vmm_device dev[16];
	int nr_dev;
	uint64_t entry;
	FILE *console;                           /* PVB_PORT_CONSOLE output, or NULL */
	uint64_t console_max, console_bytes;     /* past console_max bytes the VM is stopped (0: no cap) */
	pthread_mutex_t lock;
	volatile int state;                      /* enum vmm_state; first change wins */
	int exit_value;
	uint64_t fail_rip;
	char why[256];
	int dirty_ring_bytes;                    /* 0: bitmap dirty logging */
	uint64_t tsc_offset_window;              /* host cycles around the best offset reading */
	uint64_t *dirty_bitmap;                  /* dirty ring harvests land here (caller's) */
	uint32_t dirty_slot;
	/* vmm_pause(): vCPU threads park outside KVM_RUN while pause is set */
	pthread_cond_t parked_cv, resume_cv;
	volatile int pause, parked;
};

/* ioctl with a sentence on failure: returns the ioctl's value, or -1 with err filled */
int vmm_ioctl(int fd, unsigned long req, void *arg, const char *name, const char *ctx, char *err,
	      size_t errlen);
#define VMM_IOCTL(fd, req, arg, ctx, err, n) vmm_ioctl(fd, req, arg, #req, ctx, err, n)

/* Memory flags for vmm_add_slot */
#define VMM_MEM_POPULATE 1   /* MAP_POPULATE: host pages present before the guest runs */
#define VMM_MEM_THP      2   /* madvise(MADV_HUGEPAGE) on 2 MiB-aligned backing */
#define VMM_MEM_HUGETLB  4   /* MAP_HUGETLB (needs reserved hugetlbfs pages) */
#define VMM_MEM_READONLY 8   /* KVM_MEM_READONLY: guest writes exit as MMIO (a device may take them) */

/* The VMM kicks a vCPU thread out of KVM_RUN with VMM_KICK_SIGNAL. vmm_create() makes sure the
 * process has a handler for it: where the signal's disposition is the default (which would kill
 * the process), it installs a no-op handler, process-wide. A caller that uses SIGUSR1 itself
 * must give it a handler that returns (a no-op is enough) before creating a VM. */
#define VMM_KICK_SIGNAL SIGUSR1
int vmm_create(struct vmm *v, uint64_t mem_size, int dirty_ring_bytes, char *err, size_t errlen);
/* Holds every vCPU thread outside KVM_RUN (kicked, then parked) until vmm_resume(): the state of
 * a paused VM can be read and written. 0, or -1 with err when a vCPU does not come out within
 * timeout_ms (kvm_pvm spins inside KVM on some instructions); the VM is resumed then. */
int vmm_pause(struct vmm *v, int timeout_ms, char *err, size_t errlen);
void vmm_resume(struct vmm *v);

/* One vCPU's architectural state as KVM keeps it: what a migration sends. Every part KVM gives
 * is saved; a part this host's KVM refuses (has_* = 0) is left out and said so by name in
 * `missing`. MSRs: every index KVM_GET_MSR_INDEX_LIST names that KVM_GET_MSRS reads here. */
#define VMM_MAX_MSRS 256
struct vmm_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dregs;
	int has_xsave, has_xcrs, has_events, has_dregs;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[VMM_MAX_MSRS];
	char missing[160];
};
/* On a paused VM (or one not started). 0, or -1 with "IOCTL: why (vcpu N)" in err. */
int vmm_vcpu_save(struct vmm_vcpu *c, struct vmm_vcpu_state *s, char *err, size_t errlen);
int vmm_vcpu_restore(struct vmm_vcpu *c, const struct vmm_vcpu_state *s, char *err, size_t errlen);

/* KVM_CHECK_EXTENSION on /dev/kvm without a VM: the capability's value, or -1 with err. */
int vmm_check_cap(int cap, char *err, size_t errlen);
int vmm_add_slot(struct vmm *v, uint64_t gpa, uint64_t size, int flags, char *err, size_t errlen);
/* Changes a slot's flags (0 or KVM_MEM_LOG_DIRTY_PAGES) in place. */
int vmm_slot_flags(struct vmm *v, int slot, uint32_t flags, char *err, size_t errlen);
int vmm_load_elf(struct vmm *v, const char *path, char *err, size_t errlen);
int vmm_add_vcpus(struct vmm *v, int n, const char *cmdline, char *err, size_t errlen);
void vmm_add_device(struct vmm *v, const struct vmm_device *d);
/* An ioeventfd: a guest write of len bytes to port or guest-physical addr (and, with datamatch
 * >= 0, of that value only) signals a new non-blocking eventfd, in *fd, instead of exiting to the
 * VMM. 0, or -1 with err. */
int vmm_add_ioeventfd(struct vmm *v, int pio, uint64_t addr, unsigned len, int64_t datamatch, int *fd, char *err,
		      size_t errlen);
int vmm_start(struct vmm *v, char *err, size_t errlen);
/* Keeps the vCPU out of KVM_RUN until CLOCK_MONOTONIC reaches until_ns (kicked out if inside);
 * a later hold replaces an earlier one, 0 lifts it. */
void vmm_vcpu_hold(struct vmm_vcpu *c, uint64_t until_ns);
uint64_t vmm_now_ns(void);
/* Waits until the guest ends or timeout_ms passes (then stops it: VMM_STOPPED), calling tick
 * between sleeps; tick sets how long to sleep next (us) and returns non-zero to stop the VM.
 * Then joins the vCPU threads. Returns the final state. */
int vmm_wait(struct vmm *v, int timeout_ms, int (*tick)(void *arg, int *next_us), void *arg);
void vmm_stop(struct vmm *v, int state, const char *why);
void vmm_destroy(struct vmm *v);

/* guest TSC minus host TSC, from the vCPU's IA32_TSC (vCPUs must not be running KVM_RUN...
 * it is read through KVM_GET_MSRS, which KVM serves at any time) */
int vmm_tsc_offset(struct vmm *v, int64_t *off, char *err, size_t errlen);

/* Dirty ring (vmm_create with dirty_ring_bytes): collects the vCPU's dirty entries into
 * v->dirty_bitmap (pages of slot v->dirty_slot; the same page may come twice) and marks them
 * harvested; returns the entries taken. vmm_reset_dirty_rings then lets KVM reuse them. A full
 * ring (KVM_EXIT_DIRTY_RING_FULL) is harvested and reset by the vCPU thread itself. */
uint64_t vmm_harvest_dirty_ring(struct vmm_vcpu *c); /* with v->lock held */
int vmm_reset_dirty_rings(struct vmm *v, char *err, size_t errlen);
/* Where the dirty ring's harvests land: pages of slot, in bitmap (the caller's, as large as the
 * slot's pages; NULL: nowhere). */
void vmm_set_dirty_bitmap(struct vmm *v, uint32_t slot, uint64_t *bitmap);

/* Dirty bitmap of a slot with KVM_MEM_LOG_DIRTY_PAGES (one bit per 4 KiB page, fetched and
 * re-protected by KVM). */
int vmm_get_dirty_log(struct vmm *v, int slot, uint64_t *bitmap, char *err, size_t errlen);

/* KVM_PRE_FAULT_MEMORY (Linux 6.10) over [gpa, gpa + size) through vCPU 0, after vmm_add_vcpus:
 * maps it in the second-level tables before the guest runs. 0, or -1 with err (the capability
 * is missing, or the ioctl refused). */
int vmm_prefault(struct vmm *v, uint64_t gpa, uint64_t size, char *err, size_t errlen);
#ifndef KVM_CAP_PRE_FAULT_MEMORY /* Linux 6.10 ABI; Debian 12's headers predate it */
#define KVM_CAP_PRE_FAULT_MEMORY 236
struct kvm_pre_fault_memory { __u64 gpa, size, flags, padding[5]; };
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

/* A vCPU statistic from KVM_GET_STATS_FD ("exits", "hypercalls", "io_exits", ...): 0, or -1 if
 * the kernel has no such statistic. */
int vmm_vcpu_stat(struct vmm_vcpu *c, const char *name, uint64_t *val);

/* ---- x86.c ---- */
int x86_setup_cpuid(struct vmm *v, struct vmm_vcpu *c, char *err, size_t errlen);
int x86_setup_boot(struct vmm *v, const char *cmdline, char *err, size_t errlen);
uint64_t x86_get_rip(struct vmm_vcpu *c);
uint64_t x86_rdtsc(void);
/* AMD and Hygon hosts: the hypercall instruction is vmmcall, not vmcall. */
int x86_cpu_is_amd(void);

#endif
