/* SPDX-License-Identifier: MIT */
/*
 * The host side of one notification channel (pvb_channels.h) on a pvbench VMM: the devices that
 * count exits, the ioeventfds and the thread that waits on them, the thread that polls the shared
 * slot. Each delivery is counted, and timed against the guest's TSC in the slot: host TSC plus
 * the guest's TSC offset minus slot.tsc.
 */
#ifndef PVB_VMM_CHANNELS_H
#define PVB_VMM_CHANNELS_H

#include <pthread.h>
#include "pvb_channels.h"
#include "vmm.h"

struct chan_host {
	struct vmm *v;
	int channel;             /* an index of PVB_CHANNEL_TABLE, without PVB_CH_AMD */
	int poll_us;             /* shared memory: 0 = busy poll, else sleep this long between polls */
	int no_consumer;         /* back to back: nothing waits or polls; what arrived is counted at the end */
	int efd;                 /* PVB_HOST_EVENTFD's ioeventfd */
	int efd_stop;            /* wakes the waiter; never counted */
	pthread_t thread;
	int has_thread;
	volatile int stop;
	uint64_t delivered;      /* exits handled, eventfd counts, or slot sequence numbers seen */
	int64_t tsc_offset;      /* guest TSC - host TSC */
	uint64_t *lat;           /* host-side delivery latency per notification, TSC cycles */
	size_t nlat, cap;
	pthread_mutex_t lock;
};

/* The channel's line of PVB_CHANNEL_TABLE; NULL for a number past it. */
const struct pvb_channel *chan_find(int channel);

/* After vmm_add_vcpus, before vmm_start. no_consumer: register what catches the notification
 * (exit device, ioeventfd) but start no thread that waits or polls: the guest's cost of the
 * notification alone, its deliveries counted at chan_host_stop. */
int chan_host_start(struct chan_host *h, struct vmm *v, int channel, int poll_us, int no_consumer, char *err,
		    size_t errlen);
void chan_host_stop(struct chan_host *h);

/* Enables KVM_CAP_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE; call before vmm_add_vcpus. Returns 0,
 * or -1 with "unsupported: why" in err. */
int chan_enable_exit_hypercall(struct vmm *v, char *err, size_t errlen);

#endif
