/* SPDX-License-Identifier: MIT */
/* The own VMM's paravirt device (pvdev.h, pvb_discovery.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "pvb_abi.h"
#include "pvb_boost.h"
#include "pvb_discovery.h"
#include "pvdev.h"

/* a utilisation from the guest: clamped, kept, and the vCPU's kick rung */
static void take(struct pvdev *d, int cpu, uint64_t util)
{
	uint64_t one = 1;
	if (util > PVB_UTIL_MAX) {
		util = PVB_UTIL_MAX;
		__atomic_add_fetch(&d->clamped, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&d->util[cpu], (uint32_t)util, __ATOMIC_RELEASE);
	__atomic_add_fetch(&d->updates[cpu], 1, __ATOMIC_RELEASE);
	if (d->kick[cpu] >= 0 && write(d->kick[cpu], &one, sizeof(one)) != sizeof(one))
		return; /* the counter is full: the agent wakes anyway */
}

static int vcpufreq(struct vmm_vcpu *c, uint64_t addr, int wr, void *data, int size, int count, void *arg)
{
	struct pvdev *d = arg;
	uint64_t off = addr - PVB_GPA_VCPUFREQ;
	int cpu = (int)(off / PVB_VCPUFREQ_STRIDE);
	uint32_t reg = (uint32_t)(off % PVB_VCPUFREQ_STRIDE), val = 0;

	if (size != 4 || cpu >= d->v->nr_vcpus)
		return -1; /* the VM stops: an access the device does not have */
	if (wr) {
		if (reg == PVB_VCPUFREQ_SET_PERF)
			take(d, cpu, *(uint32_t *)data);
		else if (reg != PVB_VCPUFREQ_PERFTBL_SEL)
			return -1;
		return 0;
	}
	switch (reg) {
	case PVB_VCPUFREQ_CUR_PERF: { /* the capacity the host hints in the region: its own field */
		val = __atomic_load_n(&pvb_boost_slot(d->v->mem + d->cfg.boost_gpa, (unsigned)cpu)->capacity,
				      __ATOMIC_RELAXED);
		break;
	}
	case PVB_VCPUFREQ_PERFTBL_LEN:
		val = 1;
		break;
	case PVB_VCPUFREQ_PERFTBL_RD:
		val = PVB_UTIL_MAX;
		break;
	case PVB_VCPUFREQ_PERF_DOMAIN:
		val = (uint32_t)cpu;
		break;
	default:
		val = 0;
	}
	memcpy(data, &val, 4);
	return 0;
}

static int hcall(struct vmm_vcpu *c, uint64_t nr, int wr, void *data, int size, int count, void *arg)
{
	struct pvdev *d = arg;
	struct kvm_run *run = c->run;

	if (run->hypercall.args[0] != PVB_GPA_VCPUFREQ) {
		run->hypercall.ret = (uint64_t)-1000; /* -KVM_ENOSYS: not this device's */
		return 0;
	}
	take(d, c->index, run->hypercall.args[1] - 1);
	run->hypercall.ret = 0;
	return 0;
}

int pvdev_setup(struct pvdev *d, struct vmm *v, int nr_vcpus, const struct pvdev_cfg *cfg, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->v = v;
	d->cfg = *cfg;
	for (int i = 0; i < VMM_MAX_VCPUS; i++)
		d->kick[i] = -1;
	if (!cfg->boost_size) /* nothing to offer: the VMM answers the guest's probe with zeros */
		return 0;
	if (cfg->hcall) { /* first: a KVM without it makes no device at all */
		int mask = ioctl(v->kvm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
		struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_HYPERCALL, .args = { 1ull << PVB_HC_UTIL } };
		if (mask <= 0 || !(mask & (1 << PVB_HC_UTIL))) {
			snprintf(err, errlen, "the utilisation hypercall needs KVM_CAP_EXIT_HYPERCALL with "
				 "KVM_HC_MAP_GPA_RANGE; this KVM offers 0x%x", mask < 0 ? 0 : mask);
			return 1;
		}
		if (VMM_IOCTL(v->fd, KVM_ENABLE_CAP, &cap, "KVM_CAP_EXIT_HYPERCALL", err, errlen) < 0)
			return -1;
		vmm_add_device(v, &(struct vmm_device){ .kind = VMM_DEV_HYPERCALL, .base = PVB_HC_UTIL, .len = 1,
							.handle = hcall, .arg = d });
	}
	if (vmm_add_slot(v, PVB_GPA_DISCOVERY, 4096, VMM_MEM_READONLY, err, errlen))
		return -1;
	struct pvb_discovery *w = (void *)v->slots[v->nr_slots - 1].host;
	*w = (struct pvb_discovery){ .magic = PVB_DISC_MAGIC, .check = ~PVB_DISC_MAGIC, .version = PVB_DISC_VERSION,
				     .size = sizeof(*w), .devices = PVB_DISC_BOOST, .nr_vcpus = (uint32_t)nr_vcpus,
				     .boost_gpa = cfg->boost_gpa, .boost_size = cfg->boost_size,
				     .vcpufreq_stride = PVB_VCPUFREQ_STRIDE };
	for (int i = 0; cfg->doorbell && i < nr_vcpus; i++) /* each vCPU's value: an eventfd of its own */
		if (vmm_add_ioeventfd(v, 0, PVB_GPA_DOORBELL, 4, (int64_t)PVB_IVSHMEM_HOST_PEER << 16 | i, &d->kick[i], err,
				      errlen))
			return -1;
	if (cfg->doorbell) {
		w->devices |= PVB_DISC_DOORBELL;
		w->doorbell_gpa = PVB_GPA_DOORBELL;
	}
	if (cfg->vcpufreq || cfg->hcall) {
		for (int i = 0; i < nr_vcpus; i++) {
			d->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (d->kick[i] < 0) {
				snprintf(err, errlen, "eventfd: %s", strerror(errno));
				return -1;
			}
		}
		w->vcpufreq_gpa = PVB_GPA_VCPUFREQ;
		w->hc_nr = cfg->hcall ? PVB_HC_UTIL : 0;
		w->devices |= (cfg->vcpufreq ? PVB_DISC_VCPUFREQ : 0) | (cfg->hcall ? PVB_DISC_HCALL : 0);
	}
	if (cfg->vcpufreq)
		vmm_add_device(v, &(struct vmm_device){ .kind = VMM_DEV_MMIO, .base = PVB_GPA_VCPUFREQ,
							.len = (uint64_t)nr_vcpus * PVB_VCPUFREQ_STRIDE, .handle = vcpufreq,
							.arg = d });
	return 0;
}

void pvdev_close(struct pvdev *d)
{
	for (int i = 0; i < VMM_MAX_VCPUS; i++)
		if (d->kick[i] >= 0) {
			close(d->kick[i]);
			d->kick[i] = -1;
		}
}
