/* SPDX-License-Identifier: MIT */
/*
 * pvb_discovery.h, version 1: how a guest finds pvbench's own VMM's paravirt devices without a
 * command line, and the devices' registers.
 *
 * The discovery window: one page at PVB_GPA_DISCOVERY, read-only to the guest (a KVM_MEM_READONLY
 * memory slot: a guest write exits and stops the VM). pvbench's VMM answers there always: that
 * page when it offers a device, else zeros. A guest that finds no PVB_DISC_MAGIC there (another
 * VMM: QEMU reads unassigned memory as 0 or all ones) has none of these devices. The guest probes it only when its command line names no boost region.
 * Owner: the host writes every field before the first vCPU runs and never after; the guest reads.
 * Ordering: none needed (written before the guest starts). Untrusted the other way round: the guest
 * checks magic, check, version and size before it uses an address, and each address against its
 * RAM or the device window.
 *
 * The devices, each named in `devices`:
 *   PVB_DISC_BOOST     the boost region (pvb_boost.h) in guest RAM at boost_gpa, boost_size bytes
 *   PVB_DISC_DOORBELL  the region's doorbell register at doorbell_gpa (pvb_abi.h's PVB_GPA_DOORBELL)
 *   PVB_DISC_VCPUFREQ  the virtual cpufreq registers, the layout of Linux's virtual-cpufreq driver:
 *                      one page per vCPU from vcpufreq_gpa, vcpufreq_stride bytes apart, each with
 *                        0x00 cur_perf     R  the host's current performance of this vCPU's CPU:
 *                                             its capacity at the current frequency, 0..1024
 *                        0x04 set_perf     W  the guest's wanted performance: its utilisation,
 *                                             0..1024 (PVB_UTIL_MAX); the host clamps it there
 *                        0x08 perftbl_len  R  1: no table, performance is a level out of 1024
 *                        0x0c perftbl_sel  W  ignored
 *                        0x10 perftbl_rd   R  1024
 *                        0x14 perf_domain  R  the vCPU's index (each vCPU its own domain)
 *                      32-bit accesses; each is an exit to the VMM's vCPU thread
 *   PVB_DISC_HCALL     the utilisation hypercall: from ring 0, VMCALL (VMMCALL on AMD) with
 *                      rax = hc_nr (KVM_HC_MAP_GPA_RANGE, the one number KVM_CAP_EXIT_HYPERCALL
 *                      hands to the VMM), rbx = vcpufreq_gpa (page-aligned, as KVM checks),
 *                      rcx = utilisation + 1 (KVM wants a non-zero page count), rdx = 0;
 *                      the vCPU is the caller. rax returns 0 when taken.
 */
#ifndef PVB_DISCOVERY_H
#define PVB_DISCOVERY_H

#define PVB_GPA_DISCOVERY     0xd0003000u
#define PVB_GPA_VCPUFREQ      0xd0010000   /* no suffix: entry.S uses it */
#define PVB_VCPUFREQ_STRIDE   0x1000u
#define PVB_VCPUFREQ_CUR_PERF    0x00u
#define PVB_VCPUFREQ_SET_PERF    0x04u
#define PVB_VCPUFREQ_PERFTBL_LEN 0x08u
#define PVB_VCPUFREQ_PERFTBL_SEL 0x0cu
#define PVB_VCPUFREQ_PERFTBL_RD  0x10u
#define PVB_VCPUFREQ_PERF_DOMAIN 0x14u
#define PVB_HC_UTIL           12           /* KVM_HC_MAP_GPA_RANGE (entry.S uses it) */

#define PVB_DISC_MAGIC        0x44425650u  /* "PVBD" */
#define PVB_DISC_VERSION      1u
#define PVB_DISC_BOOST        (1u << 0)
#define PVB_DISC_DOORBELL     (1u << 1)
#define PVB_DISC_VCPUFREQ     (1u << 2)
#define PVB_DISC_HCALL        (1u << 3)

#ifndef __ASSEMBLER__
#include <stdint.h>

struct pvb_discovery {
	uint32_t magic;            /* PVB_DISC_MAGIC */
	uint32_t check;            /* ~PVB_DISC_MAGIC: memory that merely holds the magic is not a window */
	uint16_t version;          /* PVB_DISC_VERSION */
	uint16_t size;             /* bytes of this structure */
	uint32_t devices;          /* PVB_DISC_* present */
	uint32_t nr_vcpus;         /* the VM's vCPUs */
	uint32_t reserved0;        /* 0 */
	uint64_t boost_gpa;        /* PVB_DISC_BOOST: guest-physical address, in RAM */
	uint64_t boost_size;       /*                 bytes */
	uint64_t doorbell_gpa;     /* PVB_DISC_DOORBELL */
	uint64_t vcpufreq_gpa;     /* PVB_DISC_VCPUFREQ, and the hypercall's rbx */
	uint32_t vcpufreq_stride;  /* bytes between two vCPUs' register pages */
	uint32_t hc_nr;            /* PVB_DISC_HCALL: the hypercall number (rax) */
	uint8_t reserved[64];      /* 0 */
};
#endif

#endif
