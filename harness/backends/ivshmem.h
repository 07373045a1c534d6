/* SPDX-License-Identifier: MIT */
/*
 * pvbench as the ivshmem server of one QEMU (ivshmem-doorbell; the protocol is QEMU's
 * docs/specs/ivshmem-spec.rst). Debian ships no ivshmem-server, and one guest needs none: the
 * whole conversation (version, the guest's ID, the shared memory, the host peer's eventfds) is
 * written into a socketpair before QEMU starts, and QEMU gets the other end as its chardev.
 * The host is peer PVB_IVSHMEM_HOST_PEER with one eventfd per vector; the guest's doorbell
 * write for (host, v) signals kick_fd[v]. The guest's own vectors, when asked for, are irq_fd[]:
 * a write to irq_fd[v] is the guest's MSI-X vector v.
 */
#ifndef PVB_IVSHMEM_H
#define PVB_IVSHMEM_H

#include <stddef.h>

#define IVSHMEM_MAX_VECTORS 32

struct ivshmem_server {
	int qemu_fd;                      /* QEMU's end: -chardev socket,fd=N */
	int own_fd;                       /* ours, open while the VM lives (peers would come and go here) */
	int shm_fd;
	void *shm;                        /* the shared memory, size bytes, mapped here too */
	size_t size;
	int kick_fd[IVSHMEM_MAX_VECTORS]; /* non-blocking eventfds, one per vector */
	int nr_vectors;
	int irq_fd[IVSHMEM_MAX_VECTORS];  /* the guest's vectors: what interrupts it */
	int nr_irqs;
};

/* size: a power of two (it becomes BAR2); nr_vectors the host's, nr_irqs the guest's (0: none,
 * nothing interrupts the guest). 0, or -1 with the reason in err; on failure nothing stays open. */
int ivshmem_server_start(struct ivshmem_server *s, size_t size, int nr_vectors, int nr_irqs, char *err,
			 size_t errlen);
/* Closes everything; idempotent, and a no-op on a zeroed struct. */
void ivshmem_server_stop(struct ivshmem_server *s);

#endif
