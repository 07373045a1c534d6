// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvb_boost: the guest side of the paravirt scheduling region (impl/proto/pvb_boost.h v1) for a
 * Linux guest, as pvbench's own guest kernel does it (impl/guest-kernel/user.c):
 *   - the host offers the region at a guest-physical address it reserves from the kernel
 *     (memmap=SIZE$ADDR) and names it: pvb_boost.region=ADDR,SIZE (passed by pvbench's init);
 *   - negotiate: check the host's header, accept the BOOST feature, guest_ready last (release);
 *   - on every context switch (the sched_switch tracepoint), publish what runs next on this vCPU:
 *     idle, a normal task, or an RT task with its priority (and BOOST_REQ);
 *   - kick when the host's word disagrees: an RT task runs unboosted (boost me), or the vCPU
 *     goes idle or normal while boosted (unboost me).
 * Nothing here waits or exits to the host: a host that is not looking costs a few stores.
 */
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/rt.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <asm/msr.h>
#include "pvb_boost.h"

static char *region;
module_param(region, charp, 0444);
MODULE_PARM_DESC(region, "ADDR,SIZE of the boost region the host offers (pvbench's init passes it)");

static unsigned long published, kicked;
module_param(published, ulong, 0444);
module_param(kicked, ulong, 0444);

static struct pvb_boost_hdr *hdr;
static struct tracepoint *tp_switch;

static void on_switch(void *data, bool preempt, struct task_struct *prev, struct task_struct *next,
		      unsigned int prev_state)
{
	unsigned int cpu = smp_processor_id();
	struct pvb_boost_slot *s;
	u8 cls = PVB_CLASS_NORMAL, prio = 0, flags = 0;

	if (cpu >= READ_ONCE(hdr->nr_vcpus))
		return;
	s = pvb_boost_slot(hdr, cpu);
	if (is_idle_task(next)) {
		cls = PVB_CLASS_IDLE;
	} else if (rt_task(next) && next->rt_priority) {
		cls = PVB_CLASS_RT;
		prio = (u8)min_t(unsigned int, next->rt_priority, 99);
		flags = PVB_SF_BOOST_REQ;
	}
	pvb_boost_publish(s, cls, prio, flags, 0, 0, rdtsc());
	published++; /* a statistic: races between vCPUs only blur it */
	if ((cls == PVB_CLASS_RT) != !!pvb_boost_is_boosted(s)) {
		pvb_boost_kick(s);
		kicked++;
	}
}

static void find_switch(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_switch"))
		tp_switch = tp;
}

static int __init pvb_boost_init(void)
{
	unsigned long long addr, size;
	const char *why;
	char *comma;
	int err;

	if (!region || !(comma = strchr(region, ','))) {
		pr_err("pvb_boost: no region offered (pvb_boost.region=ADDR,SIZE): vanilla\n");
		return -ENODEV;
	}
	*comma = 0;
	err = kstrtoull(region, 0, &addr) ?: kstrtoull(comma + 1, 0, &size);
	*comma = ',';
	if (err || size < PVB_BOOST_HDR_SIZE || size > (1u << 20))
		return -EINVAL;
	hdr = memremap(addr, size, MEMREMAP_WB);
	if (!hdr)
		return -ENOMEM;
	why = pvb_boost_guest_check(hdr, size, num_possible_cpus());
	if (why) {
		pr_err("pvb_boost: %s: vanilla\n", why); /* offered but unusable: seen on a quiet console */
		memunmap(hdr);
		return -ENODEV;
	}
	for_each_kernel_tracepoint(find_switch, NULL);
	if (!tp_switch || tracepoint_probe_register(tp_switch, on_switch, NULL)) {
		pr_err("pvb_boost: cannot attach to sched_switch\n");
		memunmap(hdr);
		return -ENOENT;
	}
	hdr->guest_features = hdr->host_features & PVB_BF_BOOST;
	hdr->guest_version = PVB_BOOST_VERSION;
	hdr->guest_tsc_ready = rdtsc();
	smp_store_release(&hdr->guest_ready, 1);
	pr_info("pvb_boost: negotiated at %#llx (%u vCPUs, features %#x)\n", addr, hdr->nr_vcpus,
		hdr->guest_features);
	return 0;
}

static void __exit pvb_boost_exit(void)
{
	tracepoint_probe_unregister(tp_switch, on_switch, NULL);
	tracepoint_synchronize_unregister();
	memunmap(hdr);
}

module_init(pvb_boost_init);
module_exit(pvb_boost_exit);
MODULE_DESCRIPTION("pvbench paravirt scheduling region, guest side (pvb_boost.h v1)");
MODULE_LICENSE("Dual MIT/GPL");
