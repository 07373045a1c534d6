/* SPDX-License-Identifier: MIT */
/*
 * pvb_abi.h, version 1: the ports and the guest-physical map that pvbench's guest kernel and its
 * hosts (QEMU, pvbench's VMM, the harness) share. Plain #defines: included by C and assembly on
 * both sides. Every literal port or address either side uses is named here (or in the header of
 * the protocol it belongs to, which is named here).
 *
 * Ports (guest writes, host reads; no port is ever read by the guest)
 *   PVB_PORT_EXIT     1 byte, once, the last thing the guest does: PVB_EXIT_BASE + enum pvb_status
 *                     (pvb_record.h). QEMU's isa-debug-exit turns value v into its exit status
 *                     (v << 1) | 1; pvbench's VMM stops the VM and keeps v. Any other value is
 *                     an error, not a status.
 *   PVB_PORT_CONSOLE  bytes of console text (COM1's data register, output only). Untrusted text:
 *                     the host caps it (VM_CONSOLE_MAX) and never echoes it raw to a terminal.
 *   The notification-channel ports and addresses: pvb_channels.h.
 *
 * Guest-physical map (bytes; all below 1 MiB but the kernel and the out area)
 *   PVB_GPA_BOOT_PML4 .. PVB_GPA_BOOT_PD  a VMM's boot page tables for vCPU 0 (pvbench's VMM
 *                     writes them before the first instruction; the guest replaces them at once)
 *   PVB_GPA_PROGRESS  a workload's running totals (pvb_progress.h): the guest writes, a host
 *                     that watches it reads
 *   PVB_GPA_START_INFO  struct hvm_start_info (PVH), written by the VMM, read once by the guest
 *   PVB_GPA_CMDLINE   the command line, NUL-terminated, at most PVB_CMDLINE_MAX bytes incl. NUL;
 *                     written by the VMM, parsed by the guest once in ring 3
 *   PVB_GPA_SLOT      the shared slot of pvb_channels.h / pvb_memtouch.h (owners and ordering
 *                     there); host and guest both write it, each its own field
 *   PVB_GPA_TRAMPOLINE  the AP real-mode start page (SIPI vector PVB_GPA_TRAMPOLINE >> 12),
 *                     written by the guest's BSP
 *   PVB_GPA_KERNEL    where the guest kernel's ELF loads
 *   out area          the top PVB_OUT_SIZE bytes of RAM, named on the command line as
 *                     out=ADDR,SIZE: the progress word and the result record (pvb_record.h),
 *                     written by the guest, read by the host (which validates every field)
 *   boost area        when the host offers one: the PVB_PV_SIZE bytes below the out area, named
 *                     as boost=ADDR,SIZE; the paravirt scheduling region of pvb_boost.h (owners
 *                     and ordering there). Without it the guest runs as vanilla.
 *
 * The boost region behind a device instead (command line boost=pci; QEMU -M microvm,pcie=on)
 *   PVB_GPA_ECAM      PCIe configuration space of bus 0 (microvm's ECAM), read and written by the
 *                     guest once, at negotiation
 *   PVB_GPA_PCI_MMIO  microvm's 32-bit MMIO window (PVB_PCI_MMIO_SIZE bytes): nothing assigns BARs
 *                     on microvm, so the guest places them here itself
 *   ivshmem-doorbell  (vendor 0x1af4, device 0x1110; QEMU's docs/specs/ivshmem-spec.rst): BAR2 is
 *                     the region, served by the host. A kick is a 32-bit write of
 *                     (PVB_IVSHMEM_HOST_PEER << 16) | vcpu to the Doorbell register (BAR0 + 12):
 *                     the host holds one eventfd per vCPU, vector i for vCPU i's slot. Writes for
 *                     a vector the host did not connect are dropped by the device.
 * Or on pvbench's VMM (no command line: its discovery window, pvb_discovery.h): the region in RAM,
 * and the same 32-bit kick written to PVB_GPA_DOORBELL, one ioeventfd per vCPU's value.
 */
#ifndef PVB_ABI_H
#define PVB_ABI_H

#define PVB_ABI_VERSION      1

#define PVB_PORT_EXIT        0xf4
#define PVB_EXIT_BASE        0x20
#define PVB_PORT_CONSOLE     0x3f8

#define PVB_GPA_BOOT_PML4    0x1000
#define PVB_GPA_BOOT_PDPT    0x2000
#define PVB_GPA_BOOT_PD      0x3000
#define PVB_GPA_PROGRESS     0x4000
#define PVB_GPA_START_INFO   0x5000
#define PVB_GPA_CMDLINE      0x6000
#define PVB_CMDLINE_MAX      2048
#define PVB_GPA_SLOT         0x7000
#define PVB_GPA_TRAMPOLINE   0x8000
#define PVB_GPA_KERNEL       0x100000
#define PVB_OUT_SIZE         0x200000
#define PVB_PV_SIZE          0x10000     /* a power of two: also the size of ivshmem's BAR2 */

#define PVB_GPA_ECAM         0xe0000000
#define PVB_GPA_PCI_MMIO     0xc0000000
#define PVB_PCI_MMIO_SIZE    0x20000000
#define PVB_IVSHMEM_VENDOR   0x1af4
#define PVB_IVSHMEM_DEVICE   0x1110
#define PVB_IVSHMEM_DOORBELL 12          /* byte offset in BAR0 */
#define PVB_IVSHMEM_HOST_PEER 0          /* the host's peer ID; the guest is PVB_IVSHMEM_GUEST_PEER */
#define PVB_IVSHMEM_GUEST_PEER 1
/* pvbench's VMM: the boost region's doorbell register, no device around it. The guest writes
 * (PVB_IVSHMEM_HOST_PEER << 16) | vcpu, 32 bits, as to ivshmem's Doorbell; each vCPU's value is
 * caught by an ioeventfd of its own (no exit to the VMM). Named by the discovery window (pvb_discovery.h). */
#define PVB_GPA_DOORBELL     0xd0002000u

#endif
