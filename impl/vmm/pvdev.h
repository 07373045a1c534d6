/* SPDX-License-Identifier: MIT */
/*
 * The own VMM's paravirt device (impl/proto/pvb_discovery.h): the discovery window, the boost
 * region's doorbell (an ioeventfd per vCPU), the virtual cpufreq registers and the utilisation
 * hypercall. What the guest sends through the registers or the hypercall lands, clamped, in
 * util[] and wakes the vCPU's kick eventfd, as a doorbell does: a host agent waits on kick[].
 */
#ifndef PVB_PVDEV_H
#define PVB_PVDEV_H

#include <stdint.h>
#include "vmm.h"

struct pvdev_cfg {
	uint64_t boost_gpa, boost_size;  /* the boost region in RAM; 0: none (then no device either) */
	int doorbell;                    /* the doorbell register, an ioeventfd per vCPU */
	int vcpufreq;                    /* the virtual cpufreq registers */
	int hcall;                       /* the utilisation hypercall (KVM_CAP_EXIT_HYPERCALL) */
};

struct pvdev {
	struct vmm *v;
	struct pvdev_cfg cfg;
	int kick[VMM_MAX_VCPUS];         /* non-blocking eventfds, -1: none */
	volatile uint32_t util[VMM_MAX_VCPUS];   /* the last utilisation each vCPU sent, 0..1024 */
	volatile uint64_t updates[VMM_MAX_VCPUS]; /* how many it sent (registers or hypercall) */
	volatile uint64_t clamped;       /* values out of 0..1024, stored as 1024 */
};

/* After vmm_create and before the vCPUs run (nr_vcpus: the VM's, <= VMM_MAX_VCPUS). Without a
 * region nothing is made (vmm.c answers the guest's probe with zeros). 0, or -1 with err; 1 when this KVM cannot give
 * what cfg asks (err says what: the hypercall's capability). */
int pvdev_setup(struct pvdev *d, struct vmm *v, int nr_vcpus, const struct pvdev_cfg *cfg, char *err, size_t errlen);
void pvdev_close(struct pvdev *d);

#endif
