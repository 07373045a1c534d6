/* SPDX-License-Identifier: MIT */
/*
 * Guest -> host notification channels measured by `pvbench channels`: the addresses and numbers
 * the guest kernel's `channel` workload uses and pvbench's VMM serves. Shared by both sides.
 *
 * The slot: the guest writes tsc (its TSC just before the notification) and then seq (+1); the
 * host reads seq, then tsc. Owner: the guest writes, the host only reads and validates.
 */
#ifndef PVB_CHANNELS_H
#define PVB_CHANNELS_H

#include "pvb_abi.h"

#define PVB_CH_PIO_PORT        0x510       /* port I/O exit to the VMM */
#define PVB_CH_EVENTFD_PORT    0x520       /* port I/O caught by an ioeventfd */
#define PVB_CH_MMIO_ADDR       0xd0000000u /* MMIO exit to the VMM (no memory slot there) */
#define PVB_CH_EVENTFD_MMIO_ADDR 0xd0001000u /* MMIO caught by an ioeventfd */
#define PVB_CH_SLOT_GPA        PVB_GPA_SLOT /* the shared slot, in low guest RAM (pvb_abi.h) */
#define PVB_HC_VAPIC_POLL_IRQ  1           /* KVM answers it in the kernel: returns 0 */
#define PVB_HC_MAP_GPA_RANGE   12          /* the one hypercall KVM_CAP_EXIT_HYPERCALL can exit on */

/* How the guest notifies: the instruction, on argument arg. */
#define PVB_HOW_NONE           0           /* the slot write alone */
#define PVB_HOW_HCALL          1           /* VMCALL (VMMCALL on AMD), eax = arg; ebx, ecx, edx as
						 KVM_HC_MAP_GPA_RANGE takes them (the slot's page) */
#define PVB_HOW_PIO            2           /* OUT to port arg */
#define PVB_HOW_MMIO           3           /* 32-bit store to guest-physical arg */
#define PVB_HOW_COUNT          4
#define PVB_CH_AMD             16          /* added to a channel's number: vmmcall, not vmcall */

/* What waits for it on the host. */
#define PVB_HOST_NONE          0           /* nothing: the timing and the slot write */
#define PVB_HOST_KVM           1           /* KVM answers it in the kernel */
#define PVB_HOST_EXIT          2           /* an exit to the VMM's vCPU thread */
#define PVB_HOST_EVENTFD       3           /* an ioeventfd; a host thread waits on it */
#define PVB_HOST_POLL          4           /* a host thread watches the slot (poll: sleeping between) */

/* The channels, by number (the channel workload's `channel` key is the index): a new channel of
 * the kinds above is one line here; the guest's rings, the VMM and `pvbench channels` read it. */
#define PVB_CHANNEL_TABLE { \
	{ "none", PVB_HOW_NONE, 0, PVB_HOST_NONE, 0, "rdtsc pair and slot write only: the timing overhead" }, \
	{ "hc_kvm", PVB_HOW_HCALL, PVB_HC_VAPIC_POLL_IRQ, PVB_HOST_KVM, 0, \
	  "VMCALL/VMMCALL KVM_HC_VAPIC_POLL_IRQ, answered inside KVM" }, \
	{ "hc_exit", PVB_HOW_HCALL, PVB_HC_MAP_GPA_RANGE, PVB_HOST_EXIT, 0, \
	  "KVM_HC_MAP_GPA_RANGE with KVM_CAP_EXIT_HYPERCALL: exits to the VMM" }, \
	{ "pio", PVB_HOW_PIO, PVB_CH_PIO_PORT, PVB_HOST_EXIT, 0, "OUT to port 0x510: KVM_EXIT_IO to the VMM's vCPU thread" }, \
	{ "mmio", PVB_HOW_MMIO, PVB_CH_MMIO_ADDR, PVB_HOST_EXIT, 0, "store to 0xd0000000 (no memory slot): KVM_EXIT_MMIO" }, \
	{ "ioeventfd_pio", PVB_HOW_PIO, PVB_CH_EVENTFD_PORT, PVB_HOST_EVENTFD, 0, \
	  "OUT to port 0x520, an ioeventfd; a host thread waits" }, \
	{ "ioeventfd_mmio", PVB_HOW_MMIO, PVB_CH_EVENTFD_MMIO_ADDR, PVB_HOST_EVENTFD, 0, \
	  "store to 0xd0001000, an ioeventfd; a host thread waits" }, \
	{ "shm_busy", PVB_HOW_NONE, 0, PVB_HOST_POLL, 0, "sequence number in a shared page; a host thread spins on it" }, \
	{ "shm_poll", PVB_HOW_NONE, 0, PVB_HOST_POLL, 1, "the same; the host thread sleeps poll_us between looks" }, \
	{ "shm_doorbell", PVB_HOW_PIO, PVB_CH_EVENTFD_PORT, PVB_HOST_EVENTFD, 0, "sequence number, then the PIO ioeventfd" }, \
}
#define PVB_CH_COUNT           10

/* Numbers the tests name (indexes of the table above). */
#define PVB_CH_NONE            0
#define PVB_CH_HC_KVM          1
#define PVB_CH_HC_EXIT         2
#define PVB_CH_PIO             3
#define PVB_CH_SHM             7

#ifndef __ASSEMBLER__
#include <stdint.h>
struct pvb_channel {
	const char *name;
	unsigned how, arg, host;
	int poll;                /* PVB_HOST_POLL: the host sleeps between looks */
	const char *help;
};

struct pvb_chan_slot {
	volatile uint64_t seq;   /* notifications sent so far */
	volatile uint64_t tsc;   /* guest TSC just before the latest one */
};
#endif

#endif
