/* SPDX-License-Identifier: MIT */
/* Guest kernel constants shared by assembly and C. */
#ifndef GK_LAYOUT_H
#define GK_LAYOUT_H

#include "pvb_abi.h"

#define GK_MAX_CPUS      16
#define GK_KSTACK_SIZE   4096        /* ring-0 stack per CPU: handlers only, a few frames */
#define GK_USTACK_SIZE   65536       /* ring-3 stack per CPU */
/* The top GK_PERCPU_SIZE bytes of each kernel stack: what ring 0 and ring 3 share per CPU (the TSS
 * rsp0 is just below it, so ring 0 finds it above an interrupt frame from ring 3). */
#define GK_PERCPU_SIZE   64
#define GK_PC_RT_RSP     0           /* ring 3 writes: the RT task's stack while a hog runs */
#define GK_TRAMPOLINE    PVB_GPA_TRAMPOLINE

/* GDT selectors */
#define SEL_KCODE32      0x08
#define SEL_KCODE64      0x10
#define SEL_KDATA        0x18
#define SEL_UDATA        0x23        /* 0x20 | RPL 3 */
#define SEL_UCODE        0x2b        /* 0x28 | RPL 3 */
#define SEL_TSS0         0x30        /* 16 bytes per CPU from here */

/* Interrupt vectors */
#define VEC_SYSCALL      3           /* int3, DPL 3: the one way from ring 3 into ring 0 */
#define VEC_TIMER        0x20
#define VEC_SPURIOUS     0xff

/* System calls: int3 with rax = number; arguments in rdi, rsi; clobbers rax, rcx, rdx, rsi */
#define SYS_SLEEP        0           /* rdi = absolute TSC deadline; returns on the timer */
#define SYS_WRITE        1           /* rdi = buf, rsi = len: to the serial console */
#define SYS_EXIT         2           /* rdi = isa-debug-exit value; does not return */
#define SYS_NULL         3           /* enter and leave: calibration */
#define SYS_R0FAULT      4           /* ud2 in ring 0 (rdi = 1: lock cmpxchg16b first): crash tests */
#define SYS_CHANNEL      5           /* rdi = how (PVB_HOW_*, + PVB_CH_AMD), rsi = slot, rdx = arg:
				        one notification from ring 0, returns its TSC cycles
				        (pvb_channels.h) */
/* Without a TSC-deadline timer (QEMU TCG): the xAPIC timer in one-shot mode */
#define SYS_SLEEP_APIC   6           /* rdi = initial count (0: none); returns on the timer */
#define SYS_APIC_CAL     7           /* rdi = 0: count down from ~0; rdi = 1: stop, rax = count */
/* A guest load (guest_load=busy): the RT task arms its wake-up and a normal hog runs until then */
#define SYS_ARM          8           /* rdi = TSC deadline: arm the timer, return at once */
#define SYS_ARM_APIC     9           /* rdi = one-shot count: arm the timer, return at once */
#define SYS_UTIL_HC      10          /* rdi = utilisation + 1, rsi = 1: VMMCALL (AMD), 0: VMCALL:
					the utilisation hypercall (pvb_discovery.h); rax = its result */
#define SYS_START_APS    11          /* rdi = 1: x2APIC, 0: xAPIC: INIT, then one SIPI, to all but self */

/* the exit port and its values: pvb_abi.h */
#define GK_EXIT_PORT     PVB_PORT_EXIT
#define GK_EXIT_BASE     PVB_EXIT_BASE

#define MSR_APIC_BASE    0x1b
#define MSR_EFER         0xc0000080
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_EOI   0x80b
#define MSR_X2APIC_SVR   0x80f
#define MSR_X2APIC_ICR   0x830
#define MSR_X2APIC_LVTT  0x832
#define XAPIC_BASE       0xfee00000
#define XAPIC_TMICT      0x380       /* timer initial count */
#define XAPIC_TMCCT      0x390       /* timer current count */

#endif
