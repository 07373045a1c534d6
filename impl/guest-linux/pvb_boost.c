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
 *     goes idle or normal while boosted (unboost me);
 *   - from a hard or soft interrupt's entry to its exit (the irq_handler_* and softirq_*
 *     tracepoints, seed 001's "irq: boost/unboost in irq entry/exit and softirq"), publish
 *     IN_IRQ with a boost request over whatever runs: the host reads it at its next look, and a
 *     dynamic policy boosts a vCPU the host preempts or wakes in one.
 * Nothing here waits or exits to the host: a host that is not looking costs a few stores.
 */
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/percpu.h>
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

static unsigned long published, kicked, irq_sections;
module_param(published, ulong, 0444);
module_param(kicked, ulong, 0444);
module_param(irq_sections, ulong, 0444);

static struct pvb_boost_hdr *hdr;

/* What runs on each vCPU as last published, and how deep in interrupts it is: an interrupt's
 * entry republishes the same with IN_IRQ, its exit without. */
struct vcpu_state {
	u8 cls, prio;
	unsigned int irq_depth;
};
static DEFINE_PER_CPU(struct vcpu_state, vstate);

/* Interrupts off around it: an interrupt on this vCPU must not publish inside this publish's
 * seqcount (a nested writer would leave seq even while fields change). */
static void publish(unsigned int cpu, const struct vcpu_state *v)
{
	unsigned long irqf;
	u8 flags = v->cls == PVB_CLASS_RT ? PVB_SF_BOOST_REQ : 0;

	if (v->irq_depth)
		flags |= PVB_SF_IN_IRQ | PVB_SF_BOOST_REQ;
	local_irq_save(irqf);
	pvb_boost_publish(pvb_boost_slot(hdr, cpu), v->cls, v->prio, flags, 0, 0, rdtsc());
	local_irq_restore(irqf);
}

static void on_switch(void *data, bool preempt, struct task_struct *prev, struct task_struct *next,
		      unsigned int prev_state)
{
	unsigned int cpu = smp_processor_id();
	struct vcpu_state *v = this_cpu_ptr(&vstate);
	struct pvb_boost_slot *s;

	if (cpu >= READ_ONCE(hdr->nr_vcpus))
		return;
	s = pvb_boost_slot(hdr, cpu);
	v->cls = PVB_CLASS_NORMAL;
	v->prio = 0;
	if (is_idle_task(next)) {
		v->cls = PVB_CLASS_IDLE;
	} else if (rt_task(next) && next->rt_priority) {
		v->cls = PVB_CLASS_RT;
		v->prio = (u8)min_t(unsigned int, next->rt_priority, 99);
	}
	publish(cpu, v);
	published++; /* a statistic: races between vCPUs only blur it */
	if ((v->cls == PVB_CLASS_RT) != !!pvb_boost_is_boosted(s)) {
		pvb_boost_kick(s);
		kicked++;
	}
}

static void irq_enter_exit(int enter)
{
	unsigned int cpu = smp_processor_id();
	struct vcpu_state *v = this_cpu_ptr(&vstate);

	if (cpu >= READ_ONCE(hdr->nr_vcpus))
		return;
	if (enter) {
		if (v->irq_depth++)
			return;
		irq_sections++;
	} else if (!v->irq_depth || --v->irq_depth) {
		return; /* loaded inside an interrupt: its exit has no entry */
	}
	publish(cpu, v);
	/* the host cannot see an interrupt end: a boosted vCPU with nothing RT says so */
	if (!enter && v->cls != PVB_CLASS_RT && pvb_boost_is_boosted(pvb_boost_slot(hdr, cpu)))
		pvb_boost_kick(pvb_boost_slot(hdr, cpu));
}

static void on_irq_entry(void *data, int irq, struct irqaction *action)
{
	irq_enter_exit(1);
}

static void on_irq_exit(void *data, int irq, struct irqaction *action, int ret)
{
	irq_enter_exit(0);
}

static void on_softirq_entry(void *data, unsigned int vec)
{
	irq_enter_exit(1);
}

static void on_softirq_exit(void *data, unsigned int vec)
{
	irq_enter_exit(0);
}

static struct {
	const char *name;
	void *probe;
	struct tracepoint *tp;
} tps[] = {
	{ "sched_switch", on_switch },
	{ "irq_handler_entry", on_irq_entry },
	{ "irq_handler_exit", on_irq_exit },
	{ "softirq_entry", on_softirq_entry },
	{ "softirq_exit", on_softirq_exit },
};

static void find_tps(struct tracepoint *tp, void *priv)
{
	for (size_t i = 0; i < ARRAY_SIZE(tps); i++)
		if (!strcmp(tp->name, tps[i].name))
			tps[i].tp = tp;
}

static void detach(size_t n)
{
	while (n--)
		tracepoint_probe_unregister(tps[n].tp, tps[n].probe, NULL);
	tracepoint_synchronize_unregister();
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
	for_each_kernel_tracepoint(find_tps, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(tps); i++)
		if (!tps[i].tp || tracepoint_probe_register(tps[i].tp, tps[i].probe, NULL)) {
			pr_err("pvb_boost: cannot attach to %s\n", tps[i].name);
			detach(i);
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
	detach(ARRAY_SIZE(tps));
	memunmap(hdr);
}

module_init(pvb_boost_init);
module_exit(pvb_boost_exit);
MODULE_DESCRIPTION("pvbench paravirt scheduling region, guest side (pvb_boost.h v1)");
MODULE_LICENSE("Dual MIT/GPL");
