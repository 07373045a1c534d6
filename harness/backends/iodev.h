/* SPDX-License-Identifier: MIT */
/*
 * The block device behind the iopath workload (pvb_io.h), as a thread of pvbench beside QEMU: it
 * waits on the queues' doorbell eventfds, does each request between guest RAM (mapped here too)
 * and a RAM disk (a memfd), completes it, and interrupts the guest through its ivshmem vector.
 * The thread is what a VMM's I/O thread is: on a frequency-scaled host it runs at its CPU's
 * frequency, so the DVFS agent pins and counts it (vm_view.dev_tid).
 */
#ifndef PVB_IODEV_H
#define PVB_IODEV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "pvb_io.h"

struct iodev {
	struct pvb_io_hdr *hdr;          /* in the shared memory, PVB_IO_OFFSET on */
	unsigned char *mem;              /* guest RAM from guest-physical 0 */
	size_t mem_size;
	unsigned char *disk;
	size_t disk_size;
	int disk_fd;
	const int *kick_fd, *irq_fd;     /* per queue: its doorbell, the guest's vector */
	int nq;
	pthread_t t;
	volatile int stop, tid;
	int running;
	uint32_t done[PVB_IO_MAX_QUEUES];
	int dead[PVB_IO_MAX_QUEUES];     /* a queue whose guest lied about its counters: not served */
	uint64_t reqs, bytes, refused, irqs;
};

/* Writes the region's header (before the guest starts), makes the disk, starts the thread.
 * 0, or -1 with err and nothing left. */
int iodev_start(struct iodev *d, void *region, size_t region_size, int nq, size_t disk_bytes, unsigned char *mem,
		size_t mem_size, const int *kick_fd, const int *irq_fd, char *err, size_t errlen);
/* Stops the thread and frees the disk; idempotent, and a no-op on a zeroed struct. */
void iodev_stop(struct iodev *d);

#endif
