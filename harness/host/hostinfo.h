/* SPDX-License-Identifier: MIT */
/* What a run records about where it ran. */
#ifndef PVB_HOSTINFO_H
#define PVB_HOSTINFO_H

#include <stddef.h>
#include <stdint.h>

struct hostinfo {
	char host[64];           /* its name: $PVBENCH_HOST, else the hostname */
	char kvm_backend[40];    /* kvm_pvm, kvm_intel, kvm_amd, or "none"; a KVM that is itself
				    emulated adds ", nested under TCG" (hostinfo_nested_tcg) */
	char host_kernel[128];   /* uname -r */
	unsigned tsc_khz;        /* KVM_GET_TSC_KHZ of a fresh vCPU; without KVM, measured against
				    CLOCK_MONOTONIC_RAW (what a TCG guest's TSC runs at) */
	char pvbench_commit[48]; /* git revision pvbench was built from */
	char clocksource[32];    /* the host kernel's, behind CLOCK_MONOTONIC */
	char no_kvm[200];        /* why KVM cannot run guests here; empty when it can */
};

struct guestinfo {
	char build_id[64];       /* <pvbench commit>-<crc32 of the guest ELF> */
	int sleep_path_insn, timer_path_insn, wake_path_insn; /* ring-0 instructions per wake-up */
	int preempt_path_insn;   /* the timer interrupting ring 3: a busy guest's switch to RT */
};

/* Fills h; returns 0, or -1 with a sentence in err when KVM cannot run guests here (h is filled
 * all the same, h->no_kvm says why: runs that need no KVM can go on). */
int hostinfo_read(struct hostinfo *h, char *err, size_t errlen);
int guestinfo_read(const char *elf_path, struct guestinfo *g, char *err, size_t errlen);
/* The guest ELF's symbol at or below addr, in the same section, as "name" or "name+0xoff" into
 * buf: where a guest was when it hung or crashed. -1 where there is none. */
int guest_symbol(const char *elf_path, uint64_t addr, char *buf, size_t n);
/* The address of the guest ELF's symbol name into *addr; -1 where it has none. */
int guest_symbol_addr(const char *elf_path, const char *name, uint64_t *addr);

/* 1 when this kernel is the nested KVM host scripts/kvm-nested boots under QEMU's TCG: its KVM
 * works, but every instruction is emulated, so no timing measured here means anything. */
int hostinfo_nested_tcg(void);

/* The KVM module that serves /dev/kvm here ("kvm_intel", "kvm_amd", "kvm_pvm"), NULL for none;
 * hostinfo_kvm_pvm: it is kvm_pvm (ring-0 guest code emulated, some instructions hang). */
const char *hostinfo_kvm_module(void);
int hostinfo_kvm_pvm(void);

/* Directory holding the pvbench binary's build outputs (the guest ELF, pvb-linux). */
const char *pvb_build_dir(void);

#endif
