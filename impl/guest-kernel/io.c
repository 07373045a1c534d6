/* SPDX-License-Identifier: MIT */
/*
 * The guest's side of the block device (pvb_io.h), ring 3: post requests on this vCPU's queue,
 * kick through the ivshmem doorbell, sleep until the device's MSI-X interrupt (on the timer's
 * vector, so the sleep returns on it) or a deadline, reap completions. No ring-0 code of its own:
 * a completion costs the guest the timer path's 17 instructions.
 */
#include <stdint.h>
#include "guest.h"
#include "pvb.h"
#include "pvb_abi.h"
#include "pvb_io.h"

static struct pvb_io_hdr *hdr;
static volatile uint32_t *bell;
static uint32_t seen[GK_MAX_CPUS];

int pvb_io_open(uint64_t *disk_bytes)
{
	const struct gk_pci_dev *d = gk_ivshmem();
	unsigned cpus = gk_shared.nr_cpus;

	if (!d || d->size[2] < PVB_IO_OFFSET + sizeof(struct pvb_io_hdr)) {
		pvb_fail("io: no block device (the host offers it behind ivshmem-doorbell: boost=pci)");
		return -1;
	}
	struct pvb_io_hdr *h = (void *)(uintptr_t)(d->bar[2] + PVB_IO_OFFSET);
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PVB_IO_MAGIC || h->version != PVB_IO_VERSION ||
	    h->nr_queues < cpus || h->queue_size != sizeof(struct pvb_io_queue) ||
	    pvb_io_region_size(h->nr_queues) > d->size[2] - PVB_IO_OFFSET) {
		pvb_fail("io: the device's region is not pvb_io.h version 1 for this many vCPUs");
		return -1;
	}
	for (unsigned c = 0; c < cpus; c++) { /* vCPU c's completions interrupt vCPU c */
		const char *why = gk_pci_msix(d, c, c, VEC_TIMER);
		if (why) {
			pvb_fail(why);
			return -1;
		}
	}
	bell = (volatile uint32_t *)(uintptr_t)(d->bar[0] + PVB_IVSHMEM_DOORBELL);
	hdr = h;
	*disk_bytes = h->disk_bytes;
	return 0;
}

int pvb_io_submit(void *buf, uint64_t off, uint32_t len, int write)
{
	struct pvb_io_queue *q = pvb_io_queue(hdr, gk_cpu());
	uint32_t n = q->submitted;
	if (n - __atomic_load_n(&q->completed, __ATOMIC_ACQUIRE) >= PVB_IO_DEPTH)
		return -1;
	struct pvb_io_req *r = &q->req[n % PVB_IO_DEPTH];
	r->gpa = (uintptr_t)buf; /* identity-mapped: the address is guest-physical */
	r->off = off;
	r->len = len;
	r->op = write ? PVB_IO_WRITE : PVB_IO_READ;
	r->status = 0xff;
	__atomic_store_n(&q->submitted, n + 1, __ATOMIC_RELEASE);
	return 0;
}

void pvb_io_kick(void)
{
	*bell = (uint32_t)PVB_IVSHMEM_HOST_PEER << 16 | (hdr->nr_queues + gk_cpu());
}

unsigned pvb_io_reap(uint64_t deadline, unsigned *errors)
{
	unsigned cpu = gk_cpu();
	struct pvb_io_queue *q = pvb_io_queue(hdr, cpu);
	for (;;) {
		uint32_t c = __atomic_load_n(&q->completed, __ATOMIC_ACQUIRE), n = c - seen[cpu];
		if (n) {
			for (uint32_t i = seen[cpu]; i != c; i++)
				*errors += q->req[i % PVB_IO_DEPTH].status != PVB_IO_OK;
			seen[cpu] = c;
			return n;
		}
		uint64_t now = gk_rdtsc();
		if (now >= deadline)
			return 0;
		/* a completion that lands between the check and the halt is seen at the next wake:
		 * 1 ms at most, not lost */
		uint64_t t = now + pvb_ns_to_ticks(1000000);
		gk_wait_until(t < deadline ? t : deadline);
	}
}
