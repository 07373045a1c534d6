/* SPDX-License-Identifier: MIT */
/* What memtouch writes to the first 8 bytes of each 4 KiB page of its region after a pass:
 * the guest writes it, the host checks every page. */
#ifndef PVB_MEMTOUCH_H
#define PVB_MEMTOUCH_H

#include <stdint.h>

#define PVB_MT_PAGE 4096u

static inline uint64_t pvb_mt_value(uint64_t page_index, uint64_t pass)
{
	return (page_index * 0x9e3779b97f4a7c15ull) ^ (pass << 56) ^ 0x5056424d;
}

#endif
