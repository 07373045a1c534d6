/* SPDX-License-Identifier: MIT */
/* Pausing a running VM and the vCPU state a migration moves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include "vmm.h"

int vmm_pause(struct vmm *v, int timeout_ms, char *err, size_t errlen)
{
	struct timespec until;
	int started = 0;

	for (int i = 0; i < v->nr_vcpus; i++)
		started += v->vcpu[i].thread != 0;
	pthread_mutex_lock(&v->lock);
	v->pause = 1;
	pthread_mutex_unlock(&v->lock);
	for (int i = 0; i < v->nr_vcpus; i++) {
		struct vmm_vcpu *c = &v->vcpu[i];
		c->run->immediate_exit = 1;
		if (c->thread)
			pthread_kill(c->thread, VMM_KICK_SIGNAL);
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&v->lock);
	while (v->parked < started && v->state == VMM_RUNNING)
		if (pthread_cond_timedwait(&v->parked_cv, &v->lock, &until) == ETIMEDOUT)
			break;
	int ok = v->parked >= started || v->state != VMM_RUNNING;
	int parked = v->parked;
	pthread_mutex_unlock(&v->lock);
	if (!ok) {
		snprintf(err, errlen, "vmm_pause: %d of %d vCPUs left KVM_RUN within %d ms", parked, started,
			 timeout_ms);
		vmm_resume(v);
		return -1;
	}
	return 0;
}

void vmm_resume(struct vmm *v)
{
	pthread_mutex_lock(&v->lock);
	v->pause = 0;
	pthread_cond_broadcast(&v->resume_cv);
	pthread_mutex_unlock(&v->lock);
}

/* The MSR indices KVM saves for a vCPU (KVM_GET_MSR_INDEX_LIST). */
static int msr_list(struct vmm *v, uint32_t *idx, uint32_t max, char *err, size_t errlen)
{
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + 1024 * sizeof(uint32_t));
	int n = -1;

	if (!l)
		return -1;
	l->nmsrs = 1024;
	if (VMM_IOCTL(v->kvm, KVM_GET_MSR_INDEX_LIST, l, NULL, err, errlen) == 0) {
		n = (int)(l->nmsrs < max ? l->nmsrs : max);
		memcpy(idx, l->indices, (size_t)n * sizeof(uint32_t));
	}
	free(l);
	return n;
}

int vmm_vcpu_save(struct vmm_vcpu *c, struct vmm_vcpu_state *s, char *err, size_t errlen)
{
	char ctx[32], skip[160];
	uint32_t idx[VMM_MAX_MSRS];
	int n;

	memset(s, 0, sizeof(*s));
	snprintf(ctx, sizeof(ctx), "vcpu %d", c->index);
	if (VMM_IOCTL(c->fd, KVM_GET_REGS, &s->regs, ctx, err, errlen) < 0 ||
	    VMM_IOCTL(c->fd, KVM_GET_SREGS, &s->sregs, ctx, err, errlen) < 0 ||
	    VMM_IOCTL(c->fd, KVM_GET_FPU, &s->fpu, ctx, err, errlen) < 0 ||
	    VMM_IOCTL(c->fd, KVM_GET_LAPIC, &s->lapic, ctx, err, errlen) < 0 ||
	    VMM_IOCTL(c->fd, KVM_GET_MP_STATE, &s->mp, ctx, err, errlen) < 0)
		return -1;
	/* optional parts: what this host's KVM refuses is named, not fatal */
	s->has_xsave = ioctl(c->fd, KVM_GET_XSAVE, &s->xsave) == 0;
	s->has_xcrs = ioctl(c->fd, KVM_GET_XCRS, &s->xcrs) == 0;
	s->has_events = ioctl(c->fd, KVM_GET_VCPU_EVENTS, &s->events) == 0;
	s->has_dregs = ioctl(c->fd, KVM_GET_DEBUGREGS, &s->dregs) == 0;
	snprintf(s->missing, sizeof(s->missing), "%s%s%s%s", s->has_xsave ? "" : " xsave",
		 s->has_xcrs ? "" : " xcrs", s->has_events ? "" : " vcpu-events", s->has_dregs ? "" : " debugregs");
	n = msr_list(c->vm, idx, VMM_MAX_MSRS, err, errlen);
	if (n < 0)
		return -1;
	/* KVM_GET_MSRS stops at the first index it cannot read: skip that one and go on */
	struct { struct kvm_msrs h; struct kvm_msr_entry e[VMM_MAX_MSRS]; } m;
	int skipped = 0;
	for (int at = 0; at < n;) {
		memset(&m, 0, sizeof(m));
		m.h.nmsrs = (uint32_t)(n - at);
		for (int i = at; i < n; i++)
			m.e[i - at].index = idx[i];
		int got = VMM_IOCTL(c->fd, KVM_GET_MSRS, &m, ctx, err, errlen);
		if (got < 0)
			return -1;
		memcpy(&s->msrs[s->nmsrs], m.e, (size_t)got * sizeof(m.e[0]));
		s->nmsrs += (uint32_t)got;
		int unreadable = got < (int)m.h.nmsrs; /* idx[at + got]: skip it */
		at += got + unreadable;
		skipped += unreadable;
	}
	if (skipped) {
		snprintf(skip, sizeof(skip), " %d MSRs", skipped);
		snprintf(s->missing + strlen(s->missing), sizeof(s->missing) - strlen(s->missing), "%s", skip);
	}
	return 0;
}

int vmm_vcpu_restore(struct vmm_vcpu *c, const struct vmm_vcpu_state *s, char *err, size_t errlen)
{
	char ctx[32];
	struct { struct kvm_msrs h; struct kvm_msr_entry e[VMM_MAX_MSRS]; } m;

	snprintf(ctx, sizeof(ctx), "vcpu %d", c->index);
	/* QEMU's order: registers, FPU/XSAVE, XCRs, special registers, MSRs, MP state, LAPIC,
	 * events, debug registers */
	if (VMM_IOCTL(c->fd, KVM_SET_REGS, (void *)&s->regs, ctx, err, errlen) < 0)
		return -1;
	if (s->has_xsave ? VMM_IOCTL(c->fd, KVM_SET_XSAVE, (void *)&s->xsave, ctx, err, errlen) < 0 :
			   VMM_IOCTL(c->fd, KVM_SET_FPU, (void *)&s->fpu, ctx, err, errlen) < 0)
		return -1;
	if (s->has_xcrs && VMM_IOCTL(c->fd, KVM_SET_XCRS, (void *)&s->xcrs, ctx, err, errlen) < 0)
		return -1;
	if (VMM_IOCTL(c->fd, KVM_SET_SREGS, (void *)&s->sregs, ctx, err, errlen) < 0)
		return -1;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = s->nmsrs;
	memcpy(m.e, s->msrs, s->nmsrs * sizeof(m.e[0]));
	int set = VMM_IOCTL(c->fd, KVM_SET_MSRS, &m, ctx, err, errlen);
	if (set < 0)
		return -1;
	if ((uint32_t)set != s->nmsrs) {
		snprintf(err, errlen, "KVM_SET_MSRS: %d of %u set; MSR 0x%x refused (%s)", set, s->nmsrs,
			 s->msrs[set].index, ctx);
		return -1;
	}
	if (VMM_IOCTL(c->fd, KVM_SET_MP_STATE, (void *)&s->mp, ctx, err, errlen) < 0 ||
	    VMM_IOCTL(c->fd, KVM_SET_LAPIC, (void *)&s->lapic, ctx, err, errlen) < 0)
		return -1;
	/* IA32_TSC_DEADLINE is dropped while the LAPIC timer is not in TSC-deadline mode, as it is in
	 * a fresh VM's LAPIC: set it again now that the LAPIC is the saved one */
	for (uint32_t i = 0; i < s->nmsrs; i++)
		if (s->msrs[i].index == 0x6e0) {
			struct { struct kvm_msrs h; struct kvm_msr_entry e; } d = { .h.nmsrs = 1, .e = s->msrs[i] };
			if (VMM_IOCTL(c->fd, KVM_SET_MSRS, &d, ctx, err, errlen) != 1)
				return -1;
		}
	if (s->has_events && VMM_IOCTL(c->fd, KVM_SET_VCPU_EVENTS, (void *)&s->events, ctx, err, errlen) < 0)
		return -1;
	if (s->has_dregs && VMM_IOCTL(c->fd, KVM_SET_DEBUGREGS, (void *)&s->dregs, ctx, err, errlen) < 0)
		return -1;
	return 0;
}
