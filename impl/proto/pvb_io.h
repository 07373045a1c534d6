/* SPDX-License-Identifier: MIT */
/*
 * pvb_io.h, version 1: the block device behind the iopath workload (seed 000's FIO rows). One
 * request queue per vCPU in shared memory, a doorbell to post, an interrupt to complete: the path
 * a virtio-blk request takes, small enough to read in one sitting.
 *
 * Where: QEMU's ivshmem-doorbell (pvb_abi.h). The region is BAR2 from PVB_IO_OFFSET; the data
 * buffers are guest RAM (identity-mapped, named by guest-physical address), which the host's
 * device maps too. Queue i belongs to vCPU i. Its kick is a Doorbell write of
 * (PVB_IVSHMEM_HOST_PEER << 16) | (nr_vcpus + i); its completion is the guest's own ivshmem
 * vector i, an MSI-X message to vCPU i's APIC on the guest's timer vector, so the guest's sleep
 * returns on it as on its timer.
 *
 * Owners and ordering, per queue (a single producer and a single consumer each way):
 *   the guest writes req[n % PVB_IO_DEPTH] for n = submitted, then submitted = n + 1 (release),
 *   then kicks; it reuses an entry only once completed has passed it.
 *   The host reads submitted (acquire), reads and validates each request, does it, writes its
 *   status, then completed = n + 1 (release), then interrupts. It never trusts a request: an
 *   address or length outside guest RAM or the disk, or an unknown op, completes with an error.
 *   submitted - completed > PVB_IO_DEPTH is the guest lying: the host stops serving that queue.
 */
#ifndef PVB_IO_H
#define PVB_IO_H

#include <stdint.h>

#define PVB_IO_MAGIC     0x4f494250u   /* "PBIO" */
#define PVB_IO_VERSION   1u
#define PVB_IO_OFFSET    0x10000u      /* in BAR2, after the boost region (PVB_PV_SIZE) */
#define PVB_IO_DEPTH     32u           /* requests in flight per queue, at most */
#define PVB_IO_MAX_QUEUES 16u

#define PVB_IO_READ      0u            /* disk -> guest buffer */
#define PVB_IO_WRITE     1u            /* guest buffer -> disk */

#define PVB_IO_OK        0u            /* status: done */
#define PVB_IO_EINVAL    1u            /* status: refused (range, op) */

struct pvb_io_hdr {
	/* host writes these before the guest starts; the guest only reads them */
	uint32_t magic;                /* PVB_IO_MAGIC, written last (release) */
	uint16_t version;              /* PVB_IO_VERSION */
	uint16_t nr_queues;            /* one per vCPU */
	uint64_t disk_bytes;           /* the device's size, bytes */
	uint32_t queue_size;           /* bytes per queue: sizeof(struct pvb_io_queue) */
	uint8_t reserved[44];          /* 0 */
};

struct pvb_io_req {
	uint64_t gpa;                  /* guest: the buffer, guest-physical */
	uint64_t off;                  /* guest: byte offset on the disk */
	uint32_t len;                  /* guest: bytes */
	uint8_t op;                    /* guest: PVB_IO_READ or PVB_IO_WRITE */
	uint8_t status;                /* host: PVB_IO_OK or PVB_IO_EINVAL, written before completed */
	uint16_t reserved;             /* 0 */
};

struct pvb_io_queue {
	uint32_t submitted;            /* guest: requests posted so far (release) */
	uint32_t reserved0[15];        /* 0: the host's counter on its own cache line */
	uint32_t completed;            /* host: requests done so far (release) */
	uint32_t reserved1[15];        /* 0 */
	struct pvb_io_req req[PVB_IO_DEPTH];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct pvb_io_hdr) == 64, "header is one cache line");
_Static_assert(sizeof(struct pvb_io_req) == 24, "request is 24 bytes");
_Static_assert(sizeof(struct pvb_io_queue) % 64 == 0, "queues stay cache-line aligned");
#endif

static inline struct pvb_io_queue *pvb_io_queue(void *io, unsigned i)
{
	return (struct pvb_io_queue *)((uint8_t *)io + sizeof(struct pvb_io_hdr) +
				       (uint64_t)i * sizeof(struct pvb_io_queue));
}

static inline uint64_t pvb_io_region_size(unsigned nr_queues)
{
	return sizeof(struct pvb_io_hdr) + (uint64_t)nr_queues * sizeof(struct pvb_io_queue);
}

#endif
