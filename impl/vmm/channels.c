/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "channels.h"
#include "pvb_channels.h"

const struct pvb_channel *chan_find(int channel)
{
	static const struct pvb_channel table[] = PVB_CHANNEL_TABLE;
	return channel >= 0 && channel < PVB_CH_COUNT ? &table[channel] : NULL;
}

static const volatile struct pvb_chan_slot *slot_of(struct chan_host *h)
{
	return (const volatile void *)(h->v->mem + PVB_CH_SLOT_GPA);
}

/* one delivery seen now: latency against the guest's time stamp (untrusted: implausible values,
 * e.g. a stamp from the future or hours old, are not recorded) */
static void seen(struct chan_host *h, uint64_t now_host)
{
	uint64_t g = slot_of(h)->tsc, now_guest = now_host + (uint64_t)h->tsc_offset;

	pthread_mutex_lock(&h->lock);
	if (now_guest >= g && now_guest - g < (1ull << 40) && h->nlat < h->cap)
		h->lat[h->nlat++] = now_guest - g;
	pthread_mutex_unlock(&h->lock);
}

static int on_exit_device(struct vmm_vcpu *c, uint64_t addr, int wr, void *data, int size, int count,
			  void *arg)
{
	struct chan_host *h = arg;
	uint64_t t = x86_rdtsc();

	(void)addr, (void)data, (void)wr, (void)size, (void)count;
	if (c->run->exit_reason == KVM_EXIT_HYPERCALL)
		c->run->hypercall.ret = 0; /* success */
	__atomic_add_fetch(&h->delivered, 1, __ATOMIC_RELAXED);
	seen(h, t);
	return 0;
}

static void *waiter(void *arg)
{
	struct chan_host *h = arg;
	int fd = h->efd;
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = h->efd_stop, .events = POLLIN } };

	for (;;) {
		uint64_t n;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			if (read(fd, &n, sizeof(n)) == sizeof(n)) {
				uint64_t t = x86_rdtsc();
				__atomic_add_fetch(&h->delivered, n, __ATOMIC_RELAXED);
				if (n == 1) /* several coalesced: the stamp is the last one's */
					seen(h, t);
			}
			continue; /* drain before looking at stop */
		}
		if (p[1].revents & POLLIN)
			break;
	}
	return NULL;
}

static void *poller(void *arg)
{
	struct chan_host *h = arg;
	uint64_t last = slot_of(h)->seq;

	while (!h->stop) {
		uint64_t s = slot_of(h)->seq;
		if (s != last) {
			uint64_t t = x86_rdtsc();
			if (s == last + 1)
				seen(h, t);
			h->delivered = s;
			last = s;
		}
		if (h->poll_us)
			nanosleep(&(struct timespec){ 0, h->poll_us * 1000L }, NULL);
		else
			__builtin_ia32_pause();
	}
	h->delivered = slot_of(h)->seq; /* a last look: what was written and not yet seen */
	return NULL;
}

int chan_enable_exit_hypercall(struct vmm *v, char *err, size_t errlen)
{
	int mask = ioctl(v->kvm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_HYPERCALL,
				      .args = { 1ull << PVB_HC_MAP_GPA_RANGE } };

	if (mask <= 0 || !(mask & (1 << PVB_HC_MAP_GPA_RANGE))) {
		snprintf(err, errlen, "unsupported: KVM_CAP_EXIT_HYPERCALL is 0x%x, no KVM_HC_MAP_GPA_RANGE",
			 mask < 0 ? 0 : mask);
		return -1;
	}
	return VMM_IOCTL(v->fd, KVM_ENABLE_CAP, &cap, "KVM_CAP_EXIT_HYPERCALL", err, errlen) < 0 ? -1 : 0;
}

int chan_host_start(struct chan_host *h, struct vmm *v, int channel, int poll_us, int no_consumer, char *err,
		    size_t errlen)
{
	const struct pvb_channel *k = chan_find(channel);
	memset(h, 0, sizeof(*h));
	if (!k) {
		snprintf(err, errlen, "channel %d: no such channel (0..%d)", channel, PVB_CH_COUNT - 1);
		return -1;
	}
	h->v = v;
	h->channel = channel;
	h->poll_us = poll_us;
	h->no_consumer = no_consumer;
	h->efd = -1;
	h->efd_stop = eventfd(0, EFD_CLOEXEC);
	h->cap = 1 << 20;
	h->lat = calloc(h->cap, sizeof(uint64_t));
	pthread_mutex_init(&h->lock, NULL);
	if (!h->lat || vmm_tsc_offset(v, &h->tsc_offset, err, errlen) < 0)
		return -1;
	/* what waits for the notification, as the table says */
	if (k->host == PVB_HOST_EXIT) {
		struct vmm_device d = { .kind = k->how == PVB_HOW_PIO ? VMM_DEV_PIO : k->how == PVB_HOW_MMIO ? VMM_DEV_MMIO
											     : VMM_DEV_HYPERCALL,
					.base = k->arg, .len = k->how == PVB_HOW_PIO ? 1 : k->how == PVB_HOW_MMIO ? 4 : 1,
					.handle = on_exit_device, .arg = h };
		vmm_add_device(v, &d);
	}
	if (k->host == PVB_HOST_EVENTFD &&
	    vmm_add_ioeventfd(v, k->how == PVB_HOW_PIO, k->arg, k->how == PVB_HOW_PIO ? 1 : 4, -1, &h->efd, err, errlen))
		return -1;
	void *(*fn)(void *) = no_consumer ? NULL : k->host == PVB_HOST_POLL ? poller : k->host == PVB_HOST_EVENTFD ? waiter
														   : NULL;
	if (fn) {
		if (pthread_create(&h->thread, NULL, fn, h)) {
			snprintf(err, errlen, "pthread_create: %s", strerror(errno));
			return -1;
		}
		h->has_thread = 1;
	}
	return 0;
}

void chan_host_stop(struct chan_host *h)
{
	uint64_t one = 1;

	if (!h->v) /* never started */
		return;
	h->stop = 1;
	if (h->has_thread) {
		/* the poller sees stop; the waiter is woken by its own eventfd, drains, and ends */
		if (h->efd_stop < 0 || write(h->efd_stop, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(h->thread);
		pthread_join(h->thread, NULL);
		h->has_thread = 0;
	}
	if (h->no_consumer) { /* what arrived, counted now: the eventfd's count, or the slot's */
		uint64_t n;
		if (h->efd >= 0 && read(h->efd, &n, sizeof(n)) == sizeof(n))
			h->delivered += n;
		if (chan_find(h->channel)->host == PVB_HOST_POLL)
			h->delivered = slot_of(h)->seq;
	}
	if (h->efd >= 0)
		close(h->efd);
	if (h->efd_stop >= 0)
		close(h->efd_stop);
	h->efd = h->efd_stop = -1;
}
