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

/* Channel numbers (the guest kernel's SYS_CHANNEL takes them in rdi). */
#define PVB_CH_NONE            0           /* only the timing and the slot write: the baseline */
#define PVB_CH_HC_KVM          1           /* hypercall answered inside KVM */
#define PVB_CH_HC_EXIT         2           /* hypercall that exits to the VMM */
#define PVB_CH_PIO             3
#define PVB_CH_MMIO            4
#define PVB_CH_EVENTFD_PIO     5
#define PVB_CH_EVENTFD_MMIO    6
#define PVB_CH_SHM             7           /* the slot write alone: the host polls */
#define PVB_CH_SHM_DOORBELL    8           /* the slot write, then the PIO ioeventfd */
#define PVB_CH_COUNT           9
#define PVB_CH_AMD             16          /* added to the hypercall channels: vmmcall, not vmcall */

#ifndef __ASSEMBLER__
#include <stdint.h>
struct pvb_chan_slot {
	volatile uint64_t seq;   /* notifications sent so far */
	volatile uint64_t tsc;   /* guest TSC just before the latest one */
};
#endif

#endif
