/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "iodev.h"

/* Does what queue q has posted since the last look; then one interrupt for all of it. */
static void serve(struct iodev *d, int q)
{
	struct pvb_io_queue *Q = pvb_io_queue(d->hdr, (unsigned)q);
	uint32_t sub = __atomic_load_n(&Q->submitted, __ATOMIC_ACQUIRE), c = d->done[q];

	if (d->dead[q] || sub == c)
		return;
	if (sub - c > PVB_IO_DEPTH) { /* more in flight than the ring holds: the guest lies */
		d->dead[q] = 1;
		d->refused++;
		return;
	}
	for (; c != sub; c++) {
		volatile struct pvb_io_req *vr = &Q->req[c % PVB_IO_DEPTH];
		uint64_t gpa = vr->gpa, off = vr->off;
		uint32_t len = vr->len;
		uint8_t op = vr->op;
		int ok = op <= PVB_IO_WRITE && len && len <= (1u << 20) && gpa < d->mem_size && len <= d->mem_size - gpa &&
			 off < d->disk_size && len <= d->disk_size - off;
		if (ok && op == PVB_IO_READ)
			memcpy(d->mem + gpa, d->disk + off, len);
		else if (ok)
			memcpy(d->disk + off, d->mem + gpa, len);
		vr->status = ok ? PVB_IO_OK : PVB_IO_EINVAL;
		d->bytes += ok ? len : 0;
		d->refused += !ok;
		d->reqs++;
	}
	d->done[q] = c;
	__atomic_store_n(&Q->completed, c, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(d->irq_fd[q], &one, sizeof(one)) == (ssize_t)sizeof(one))
		d->irqs++;
}

static void *iodev_main(void *arg)
{
	struct iodev *d = arg;
	struct pollfd pf[PVB_IO_MAX_QUEUES];

	__atomic_store_n(&d->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (int q = 0; q < d->nq; q++)
		pf[q] = (struct pollfd){ .fd = d->kick_fd[q], .events = POLLIN };
	while (!d->stop) {
		if (poll(pf, (nfds_t)d->nq, 100) <= 0)
			continue;
		for (int q = 0; q < d->nq; q++) {
			uint64_t n;
			if ((pf[q].revents & POLLIN) && read(pf[q].fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
				serve(d, q);
		}
	}
	return NULL;
}

int iodev_start(struct iodev *d, void *region, size_t region_size, int nq, size_t disk_bytes, unsigned char *mem,
		size_t mem_size, const int *kick_fd, const int *irq_fd, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->disk_fd = -1;
	d->disk = MAP_FAILED;
	if (nq < 1 || nq > (int)PVB_IO_MAX_QUEUES || pvb_io_region_size((unsigned)nq) > region_size || !disk_bytes) {
		snprintf(err, errlen, "iodev: 1..%u queues, a region that holds them, a disk", PVB_IO_MAX_QUEUES);
		return -1;
	}
	d->hdr = region;
	d->mem = mem;
	d->mem_size = mem_size;
	d->nq = nq;
	d->kick_fd = kick_fd;
	d->irq_fd = irq_fd;
	d->disk_size = disk_bytes;
	d->disk_fd = memfd_create("pvbench-disk", MFD_CLOEXEC);
	if (d->disk_fd < 0 || ftruncate(d->disk_fd, (off_t)disk_bytes) < 0 ||
	    (d->disk = mmap(NULL, disk_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, d->disk_fd, 0)) == MAP_FAILED) {
		snprintf(err, errlen, "iodev: the disk: %s", strerror(errno));
		if (d->disk_fd >= 0)
			close(d->disk_fd);
		memset(d, 0, sizeof(*d));
		return -1;
	}
	memset(region, 0, pvb_io_region_size((unsigned)nq));
	d->hdr->version = PVB_IO_VERSION;
	d->hdr->nr_queues = (uint16_t)nq;
	d->hdr->disk_bytes = disk_bytes;
	d->hdr->queue_size = sizeof(struct pvb_io_queue);
	__atomic_store_n(&d->hdr->magic, PVB_IO_MAGIC, __ATOMIC_RELEASE);
	int e = pthread_create(&d->t, NULL, iodev_main, d);
	if (e) {
		snprintf(err, errlen, "iodev thread: %s", strerror(e));
		munmap(d->disk, disk_bytes);
		close(d->disk_fd);
		memset(d, 0, sizeof(*d));
		return -1;
	}
	d->running = 1;
	for (int i = 0; i < 10000 && !__atomic_load_n(&d->tid, __ATOMIC_ACQUIRE); i++) /* a policy pins it */
		usleep(100);
	return 0;
}

void iodev_stop(struct iodev *d)
{
	if (!d->running)
		return;
	d->stop = 1;
	pthread_join(d->t, NULL);
	if (d->disk != MAP_FAILED && d->disk)
		munmap(d->disk, d->disk_size);
	if (d->disk_fd >= 0)
		close(d->disk_fd);
	d->disk = MAP_FAILED;
	d->disk_fd = -1;
	d->running = 0;
}
