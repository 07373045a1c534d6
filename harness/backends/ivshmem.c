/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ivshmem.h"
#include "pvb_abi.h"

/* One message: an 8-byte little-endian number, with an fd attached when fd >= 0. */
static int send_msg(int sock, int64_t v, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(ctl, 0, sizeof(ctl));
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(v) ? 0 : -1;
}

int ivshmem_server_start(struct ivshmem_server *s, size_t size, int nr_vectors, int nr_irqs, char *err,
			 size_t errlen)
{
	int sv[2];

	memset(s, 0, sizeof(*s));
	s->qemu_fd = s->own_fd = s->shm_fd = -1;
	s->shm = MAP_FAILED;
	for (int i = 0; i < IVSHMEM_MAX_VECTORS; i++)
		s->kick_fd[i] = s->irq_fd[i] = -1;
	if (nr_vectors < 1 || nr_vectors > IVSHMEM_MAX_VECTORS || nr_irqs < 0 || nr_irqs > IVSHMEM_MAX_VECTORS ||
	    !size || (size & (size - 1))) {
		snprintf(err, errlen, "ivshmem: 1..%d vectors and a power-of-two size", IVSHMEM_MAX_VECTORS);
		return -1;
	}
	s->size = size;
	s->nr_vectors = nr_vectors;
	s->nr_irqs = nr_irqs;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto sys;
	s->own_fd = sv[0];
	s->qemu_fd = sv[1];
	s->shm_fd = memfd_create("pvbench-ivshmem", MFD_CLOEXEC);
	if (s->shm_fd < 0 || ftruncate(s->shm_fd, (off_t)size) < 0 ||
	    (s->shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->shm_fd, 0)) == MAP_FAILED)
		goto sys;
	for (int i = 0; i < nr_vectors; i++)
		if ((s->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			goto sys;
	for (int i = 0; i < nr_irqs; i++)
		if ((s->irq_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			goto sys;
	/* version 0, the guest's ID, the memory, then the host as an existing peer: its ID once per
	 * vector, each with the eventfd the guest's doorbell signals; then the guest's own vectors
	 * (interrupt setup), when there are any: without them they stay unconnected, which the
	 * protocol allows. */
	if (send_msg(s->own_fd, 0, -1) || send_msg(s->own_fd, PVB_IVSHMEM_GUEST_PEER, -1) ||
	    send_msg(s->own_fd, -1, s->shm_fd))
		goto sys;
	for (int i = 0; i < nr_vectors; i++)
		if (send_msg(s->own_fd, PVB_IVSHMEM_HOST_PEER, s->kick_fd[i]))
			goto sys;
	for (int i = 0; i < nr_irqs; i++)
		if (send_msg(s->own_fd, PVB_IVSHMEM_GUEST_PEER, s->irq_fd[i]))
			goto sys;
	return 0;
sys:
	snprintf(err, errlen, "ivshmem server: %s", strerror(errno));
	ivshmem_server_stop(s);
	return -1;
}

void ivshmem_server_stop(struct ivshmem_server *s)
{
	if (!s->nr_vectors) /* never started, or stopped */
		return;
	if (s->shm != MAP_FAILED && s->shm)
		munmap(s->shm, s->size);
	s->shm = MAP_FAILED;
	int *fds[] = { &s->qemu_fd, &s->own_fd, &s->shm_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	for (int i = 0; i < IVSHMEM_MAX_VECTORS; i++) {
		if (s->kick_fd[i] >= 0)
			close(s->kick_fd[i]);
		if (s->irq_fd[i] >= 0)
			close(s->irq_fd[i]);
		s->kick_fd[i] = s->irq_fd[i] = -1;
	}
	s->nr_vectors = 0;
}
