/* SPDX-License-Identifier: MIT */
/* Guest kernel internals shared by ring 0 (kernel.c) and the ring-3 runtime (user.c). */
#ifndef GK_GUEST_H
#define GK_GUEST_H

#include <stdint.h>
#include "layout.h"

/* Filled by ring 0 at boot (cmdline, CPU features) and by ring 3 (out area), read by both. */
struct gk_shared {
	const char *cmdline;
	int x2apic, tsc_deadline;
	uint64_t r0_done_tsc;         /* BSP leaves ring 0 for the first time */
	void *out_rec;                /* where a crash writes its record (set by ring 3) */
	uint32_t out_rec_cap;
	uint32_t nr_cpus;
	int crashed;
};

extern struct gk_shared gk_shared;
extern uint64_t gk_boot_tsc;
extern char __image_start[], __image_end[];
extern char gk_ustacks[][GK_USTACK_SIZE];

/* The CPU ring 3 runs on, from its stack (each CPU has its own): no TLS, no privileged read. */
static inline unsigned gk_cpu(void)
{
	char here;
	return (unsigned)(((uintptr_t)&here - (uintptr_t)gk_ustacks) / GK_USTACK_SIZE);
}

void gk_user_main(unsigned cpu, const char *cmdline);

/* Utilisation tracking (util.c): what a CPU publishes as its run-queue utilisation, after
 * accounting the time since the last call (the current task ran unless the CPU was idle); idle:
 * its task stops now. gk_publish_running (user.c) republishes a running CPU's slot. */
struct pvb_boost_hdr;
void gk_util_init(struct pvb_boost_hdr *h);
uint32_t gk_util(unsigned cpu, int was_running, int idle);
void gk_publish_running(unsigned cpu);

/* A PCI function 0 on bus 0 (pci.c): its memory BARs once placed (0: none). */
struct gk_pci_dev { unsigned dev; uint64_t bar[6], size[6]; };
/* Finds vendor:device, places its memory BARs in the MMIO window, enables decoding: 0, or why not. */
const char *gk_pci_setup(uint16_t vendor, uint16_t device, struct gk_pci_dev *d);
/* Points MSI-X table entry `entry` at APIC apic_id, interrupt vector `vector`, unmasked; MSI-X on. */
const char *gk_pci_msix(const struct gk_pci_dev *d, unsigned entry, unsigned apic_id, unsigned vector);

/* The ivshmem device the host offered (boost=pci), or NULL (user.c). */
const struct gk_pci_dev *gk_ivshmem(void);
/* One sleep until t, or the first interrupt before it: a device's completion (user.c). */
void gk_wait_until(uint64_t t);

/* Ring-3 system calls (int3; see layout.h). */
static inline void gk_sys_sleep(uint64_t tsc_deadline)
{
	uint64_t a = 0;
	__asm__ volatile("int3" : "+a"(a) : "D"(tsc_deadline) : "rcx", "rdx", "memory");
}

static inline void gk_sys_sleep_apic(uint64_t count)
{
	uint64_t a = 6;
	__asm__ volatile("int3" : "+a"(a) : "D"(count) : "rcx", "rdx", "memory");
}

static inline uint64_t gk_sys_apic_cal(int stop)
{
	uint64_t a = 7;
	__asm__ volatile("int3" : "+a"(a) : "D"((uint64_t)stop) : "rcx", "rdx", "memory");
	return a;
}

static inline void gk_sys_arm(uint64_t v, int apic)
{
	uint64_t a = apic ? 9 : 8;
	__asm__ volatile("int3" : "+a"(a) : "D"(v) : "rcx", "rdx", "memory");
}

static inline uint64_t gk_sys_util_hc(uint32_t util, int amd)
{
	uint64_t a = SYS_UTIL_HC;
	__asm__ volatile("int3" : "+a"(a) : "D"((uint64_t)util + 1), "S"((uint64_t)amd) : "rcx", "rdx", "memory");
	return a;
}

/* The hog of a busy guest (entry.S): counter, deadline, slack, lost timers */
struct gk_hog { uint64_t work, deadline, slack, lost; };
void gk_switch_to_hog(void *percpu, struct gk_hog *h);
extern char gk_kstacks[];

static inline void *gk_percpu(unsigned cpu)
{
	return gk_kstacks + (uint64_t)(cpu + 1) * GK_KSTACK_SIZE - GK_PERCPU_SIZE;
}

static inline void gk_sys_start_aps(int x2apic)
{
	uint64_t a = 11;
	__asm__ volatile("int3" : "+a"(a) : "D"((uint64_t)x2apic) : "rcx", "rdx", "rsi", "memory");
}

static inline void gk_sys_null(void)
{
	uint64_t a = 3;
	__asm__ volatile("int3" : "+a"(a) :: "rcx", "rdx", "memory");
}

static inline void gk_sys_write(const char *s, uint64_t n)
{
	uint64_t a = 1;
	__asm__ volatile("int3" : "+a"(a), "+D"(s), "+S"(n) :: "rcx", "rdx", "memory");
}

__attribute__((noreturn)) static inline void gk_sys_exit(uint64_t v)
{
	uint64_t a = 2;
	__asm__ volatile("int3" : "+a"(a) : "D"(v) : "rcx", "rdx", "memory");
	__builtin_unreachable();
}

static inline void gk_sys_r0fault(int emulation)
{
	uint64_t a = 4;
	__asm__ volatile("int3" : "+a"(a) : "D"((uint64_t)emulation) : "rcx", "rdx", "rsi", "memory");
}

static inline uint64_t gk_rdtsc(void)
{
	return __builtin_ia32_rdtsc();
}

#endif
