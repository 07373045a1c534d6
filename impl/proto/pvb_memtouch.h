/* SPDX-License-Identifier: MIT */
/*
 * The memtouch workload's contract with the host (the memory experiment type).
 * - Page values: after pass p the first 8 bytes of each 4 KiB page i of the region hold
 *   pvb_mt_value(i, p). Owner: the guest writes; the host only reads, after the guest exited.
 * - Pass handshake (job key sync=1), in the struct pvb_chan_slot at PVB_CH_SLOT_GPA:
 *   `seq` (guest-owned): passes finished so far; the guest stores it after its last write of the
 *   pass (release) and then waits. `tsc` (host-owned, despite its name): the pass the host has
 *   released; the host stores it after its step between passes (enable dirty logging, harvest)
 *   and the guest reads it with acquire before it starts the next pass. Units: pass counts.
 */
#ifndef PVB_MEMTOUCH_H
#define PVB_MEMTOUCH_H

#include <stdint.h>

#define PVB_MT_PAGE 4096u

static inline uint64_t pvb_mt_value(uint64_t page_index, uint64_t pass)
{
	return (page_index * 0x9e3779b97f4a7c15ull) ^ (pass << 56) ^ 0x5056424d;
}

#endif
