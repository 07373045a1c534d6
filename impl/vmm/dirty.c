/* SPDX-License-Identifier: MIT */
/* Which guest pages were written: dirty bitmap and dirty ring; and mapping memory ahead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include "vmm.h"

uint64_t vmm_harvest_dirty_ring(struct vmm_vcpu *c)
{
	uint32_t n = (uint32_t)c->vm->dirty_ring_bytes / sizeof(struct kvm_dirty_gfn);
	uint64_t got = 0;

	if (!c->ring)
		return 0;
	for (;;) {
		struct kvm_dirty_gfn *e = &c->ring[c->ring_next % n];
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		struct vmm *v = c->vm;
		if (v->dirty_bitmap && e->slot == v->dirty_slot && e->offset < v->slots[v->dirty_slot].size / 4096)
			v->dirty_bitmap[e->offset / 64] |= 1ull << (e->offset % 64);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		c->ring_next++;
		got++;
	}
	c->harvested += got;
	return got;
}

int vmm_get_dirty_log(struct vmm *v, int slot, uint64_t *bitmap, char *err, size_t errlen)
{
	struct kvm_dirty_log log = { .slot = (uint32_t)slot, .dirty_bitmap = bitmap };
	char ctx[32];

	snprintf(ctx, sizeof(ctx), "slot %d", slot);
	return VMM_IOCTL(v->fd, KVM_GET_DIRTY_LOG, &log, ctx, err, errlen) < 0 ? -1 : 0;
}

int vmm_prefault(struct vmm *v, uint64_t gpa, uint64_t size, char *err, size_t errlen)
{
	int cap = ioctl(v->kvm, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY);
	struct kvm_pre_fault_memory pf = { .gpa = gpa, .size = size };

	if (cap <= 0) {
		snprintf(err, errlen, "KVM_CHECK_EXTENSION(KVM_CAP_PRE_FAULT_MEMORY) = %d", cap);
		return -1;
	}
	while (pf.size) /* it returns after a part; gpa and size say what is left */
		if (VMM_IOCTL(v->vcpu[0].fd, KVM_PRE_FAULT_MEMORY, &pf, "region", err, errlen) < 0 &&
		    errno != EINTR && errno != EAGAIN)
			return -1;
	return 0;
}

void vmm_set_dirty_bitmap(struct vmm *v, uint32_t slot, uint64_t *bitmap)
{
	pthread_mutex_lock(&v->lock); /* a vCPU thread harvesting a full ring reads both */
	v->dirty_slot = slot;
	v->dirty_bitmap = bitmap;
	pthread_mutex_unlock(&v->lock);
}

int vmm_reset_dirty_rings(struct vmm *v, char *err, size_t errlen)
{
	return VMM_IOCTL(v->fd, KVM_RESET_DIRTY_RINGS, 0, NULL, err, errlen) < 0 ? -1 : 0;
}

