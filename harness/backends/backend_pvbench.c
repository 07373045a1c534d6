/* SPDX-License-Identifier: MIT */
/* A guest run on pvbench's own VMM (impl/vmm): the vm.h interface, as qemu.c gives it for QEMU. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "pvb_abi.h"
#include "pvb_record.h"
#include "vm.h"
#include "pvdev.h"
#include "vmm.h"

#ifndef PVB_GIT
#define PVB_GIT "unknown"
#endif

struct watch {
	const struct vm_spec *s;
	const struct vm_hooks *hooks;
	struct vm_result *r;
	struct vm_watch w;
	struct vmm *v;
	double next_extra;       /* when the type's tick is due (ms) */
	int stopped_by;          /* the outcome the step stopped with, or -1 */
};

static int tick(void *arg, int *next_us)
{
	struct watch *x = arg;
	const struct vmm_extras *e = x->s->extras;
	char err[256];

	x->stopped_by = vm_watch_step(&x->w, x->s, x->hooks, x->r, next_us);
	if (x->stopped_by < 0 && e && e->tick) {
		int every = e->tick_us > 0 ? e->tick_us : 1000;
		double now = vm_now_ms();
		if (now >= x->next_extra) {
			x->next_extra = now + every / 1e3;
			if (e->tick(e->arg, x->v, err, sizeof(err))) {
				vm_set_reason(x->r, RUN_ERROR, "%s", err);
				x->stopped_by = RUN_ERROR;
			}
		}
		if (*next_us > every)
			*next_us = every;
	}
	return x->stopped_by >= 0;
}

/* The highest vector set in one of the local APIC's 256-bit registers (ISR at 0x100, IRR at
 * 0x200: eight 32-bit words 16 bytes apart), or -1. */
static int apic_highest(const struct kvm_lapic_state *l, unsigned reg)
{
	for (int w = 7; w >= 0; w--) {
		uint32_t x;
		memcpy(&x, l->regs + reg + 16 * (unsigned)w, sizeof(x));
		if (x)
			return w * 32 + 31 - __builtin_clz(x);
	}
	return -1;
}

/* A hung guest, stopped: where each vCPU was, into registers.txt and the reason, with what a hang
 * in a TSC-deadline sleep needs to be read: halted or not, the interrupts the local APIC holds,
 * and the armed deadline against the guest's TSC now (KVM reads both). Best effort. */
static void where_hung(struct vmm *v, const struct vm_spec *s, struct vm_result *r)
{
	struct vmm_vcpu_state *st = malloc(sizeof(*st));
	char path[600], err[256];
	FILE *f = NULL;
	size_t n = strlen(r->reason);

	if (s->run_dir) {
		snprintf(path, sizeof(path), "%s/registers.txt", s->run_dir);
		f = fopen(path, "w");
	}
	for (int i = 0; st && i < v->nr_vcpus && n + 80 < sizeof(r->reason); i++) {
		if (vmm_vcpu_save(&v->vcpu[i], st, err, sizeof(err))) {
			if (f)
				fprintf(f, "vCPU %d: %s\n", i, err);
			continue;
		}
		uint64_t tsc = 0, deadline = 0;
		for (uint32_t k = 0; k < st->nmsrs; k++) {
			if (st->msrs[k].index == 0x10) /* IA32_TSC */
				tsc = st->msrs[k].data;
			if (st->msrs[k].index == 0x6e0) /* IA32_TSC_DEADLINE: 0 is unarmed */
				deadline = st->msrs[k].data;
		}
		const struct kvm_regs *g = &st->regs;
		int halted = st->mp.mp_state == KVM_MP_STATE_HALTED;
		double ahead_s = deadline ? ((double)deadline - (double)tsc) / (s->tsc_khz * 1e3) : 0;
		if (f)
			fprintf(f, "vCPU %d: RIP=%016llx RFLAGS=%08llx RSP=%016llx mp_state=%u%s\n"
				   "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\nRSI=%016llx RDI=%016llx "
				   "RBP=%016llx CR3=%016llx\nTSC=%016" PRIx64 " TSC_DEADLINE=%016" PRIx64
				   " (%.6f s ahead) ISR highest %d IRR highest %d\n\n",
				i, g->rip, g->rflags, g->rsp, st->mp.mp_state, halted ? " (halted)" : "", g->rax, g->rbx,
				g->rcx, g->rdx, g->rsi, g->rdi, g->rbp, st->sregs.cr3, tsc, deadline, ahead_s,
				apic_highest(&st->lapic, 0x100), apic_highest(&st->lapic, 0x200));
		char state[64] = "";
		if (halted && deadline)
			snprintf(state, sizeof(state), " (halted, TSC deadline %s %.3f s)", ahead_s >= 0 ? "in" : "passed",
				 ahead_s >= 0 ? ahead_s : -ahead_s);
		else if (halted)
			snprintf(state, sizeof(state), " (halted, no TSC deadline)");
		snprintf(r->reason + n, sizeof(r->reason) - n, "%s vCPU %d at 0x%llx%s", i ? "," : "; registers.txt:", i,
			 g->rip, state);
		n = strlen(r->reason);
	}
	if (f)
		fclose(f);
	free(st);
}

/* The run's outcome from how the VM ended (vmm_wait's state). */
static void outcome(const struct vmm *v, int state, struct vm_result *r)
{
	char err[256];

	switch (state) {
	case VMM_EXITED: {
		enum run_status o = vm_status_of_exit_value(v->exit_value, err, sizeof(err));
		r->exit_code = v->exit_value;
		if (o != RUN_OK)
			vm_set_reason(r, o, "%s", err);
		break;
	}
	case VMM_UNEXPECTED:
		if (v->console_bytes > v->console_max) { /* the guest misbehaved; it did not crash */
			vm_set_reason(r, RUN_ERROR, "%s", v->why);
			break;
		}
		/* fall through */
	case VMM_SHUTDOWN:
	case VMM_EMULATION_FAILURE:
		vm_set_reason(r, RUN_CRASHED, "%s", v->why);
		break;
	case VMM_STOPPED: /* by the watch step (reason set), or by the backstop */
		vm_set_reason(r, RUN_TIMEOUT, "guest %s", v->why);
		break;
	}
}

/* The paravirt device the spec asks for: a doorbell for the boost region, the utilisation's
 * registers (vcpufreq) or hypercall. */
static struct pvdev_cfg device_of(const struct vm_spec *s, size_t mem_size)
{
	struct pvdev_cfg pc = { .doorbell = s->boost && s->boost_device == VM_BOOST_IVSHMEM,
				.vcpufreq = s->boost && (s->boost_features & PVB_BF_UTIL_MMIO),
				.hcall = s->boost && (s->boost_features & PVB_BF_UTIL_HCALL) };
	if (s->boost) {
		pc.boost_gpa = vm_boost_offset(s, mem_size);
		pc.boost_size = PVB_PV_SIZE;
	}
	return pc;
}

/* The VM before it runs: memory, the guest kernel, the paravirt device, the extras' prepare,
 * and the vCPUs. 0, or -1 with the reason in r (skipped where the host lacks what it needs). */
static int create(struct vmm *v, struct pvdev *dev, const struct vm_spec *s, size_t mem_size, struct vm_result *r)
{
	const struct vmm_extras *e = s->extras;
	struct pvdev_cfg pc = device_of(s, mem_size);
	char err[512], cmd[2048];
	/* the region in RAM, found by the guest through the paravirt device's discovery window
	 * (pvb_discovery.h), not the command line; a doorbell asked for is the device's register */
	struct vm_spec plain = *s;
	plain.boost = 0;
	vm_cmdline(&plain, mem_size, cmd, sizeof(cmd));
	if (vmm_create(v, mem_size, e ? e->dirty_ring_bytes : 0, err, sizeof(err)) < 0 ||
	    vmm_load_elf(v, s->kernel, err, sizeof(err)) < 0) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		return -1;
	}
	int rc = pvdev_setup(dev, v, s->vcpus, &pc, err, sizeof(err));
	if (!rc && e && e->prepare)
		rc = e->prepare(e->arg, v, err, sizeof(err));
	if (rc) {
		vm_set_reason(r, rc > 0 ? RUN_SKIPPED : RUN_ERROR, "%s", err);
		return -1;
	}
	if (vmm_add_vcpus(v, s->vcpus, cmd, err, sizeof(err)) < 0) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		return -1;
	}
	return 0;
}

static int run_pvbench(const struct vm_spec *s, const struct vm_hooks *hooks, struct vm_result *r)
{
	static struct vmm v; /* large; one VM at a time per process */
	const struct vmm_extras *e = s->extras;
	int mem_mb = s->mem_mb ? s->mem_mb : 64, started = 0;
	size_t mem_size = (size_t)mem_mb << 20;
	char err[512], path[600];
	struct watch w = { .s = s, .hooks = hooks, .r = r, .v = &v, .stopped_by = -1 };
	FILE *console = NULL;
	static struct pvdev dev;
	int kicks[VM_MAX_VCPUS];

	memset(&dev, 0, sizeof(dev));
	for (int i = 0; i < VMM_MAX_VCPUS; i++)
		dev.kick[i] = -1;
	memset(r, 0, sizeof(*r));
	r->boot_to_ring3_ms = r->boot_to_workload_ms = -1;
	r->exit_code = -1;
	snprintf(r->vmm, sizeof(r->vmm), "pvbench-vmm %.12s", PVB_GIT);
	if (s->tcg) {
		vm_set_reason(r, RUN_ERROR, "%s", "pvbench's VMM runs guests under KVM only (no TCG)");
		return -1;
	}
	if (s->vcpus < 1 || s->vcpus > VM_MAX_VCPUS || mem_mb < 16 || mem_mb > 3072) {
		vm_set_reason(r, RUN_ERROR, "%s", "vcpus must be 1..16 and memory 16..3072 MiB");
		return -1;
	}
	if (s->run_dir) {
		snprintf(path, sizeof(path), "%s/console.log", s->run_dir);
		console = fopen(path, "w");
	}
	if (create(&v, &dev, s, mem_size, r))
		goto out;
	v.console = console;
	v.console_max = vm_console_max(s);
	vm_watch_begin(&w.w, s, v.mem, mem_size);
	struct vm_spec ram = *s;
	ram.boost_device = VM_BOOST_RAM;
	vm_boost_init(&ram, v.mem, mem_size);
	started = 1; /* stop() follows a start() on every path, even one that failed halfway */
	int rc = e && e->start ? e->start(e->arg, &v, err, sizeof(err)) : 0;
	if (rc) {
		vm_set_reason(r, rc > 0 ? RUN_SKIPPED : RUN_ERROR, "%s", err);
		goto out;
	}
	if (vmm_start(&v, err, sizeof(err)) < 0) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		vmm_wait(&v, 0, NULL, NULL);
		goto out;
	}
	r->nr_tids = v.nr_vcpus;
	for (int i = 0; i < v.nr_vcpus; i++)
		r->tids[i] = v.vcpu[i].tid;
	struct pvdev_cfg pc = device_of(s, mem_size);
	int util_dev = pc.vcpufreq || pc.hcall;
	for (int i = 0; i < s->vcpus && i < VM_MAX_VCPUS; i++)
		kicks[i] = dev.kick[i];
	struct vm_view view = { .tids = r->tids, .nr_vcpus = r->nr_tids, .mem = v.mem, .mem_size = mem_size,
				.tsc_khz = s->tsc_khz, .boost = s->boost ? v.mem + vm_boost_offset(s, mem_size) : NULL,
				.boost_size = s->boost ? PVB_PV_SIZE : 0, .kick_fds = pc.doorbell || util_dev ? kicks : NULL,
				.util_in = util_dev ? dev.util : NULL, .util_sent = util_dev ? dev.updates : NULL };
	if (hooks && hooks->started && hooks->started(hooks->arg, &view, err, sizeof(err))) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		vmm_stop(&v, VMM_STOPPED, NULL);
	}
	/* the watch step owns the timeout; vmm_wait's is a backstop */
	outcome(&v, vmm_wait(&v, s->timeout_ms + 5000, tick, &w), r);
	if (r->outcome == RUN_TIMEOUT)
		where_hung(&v, s, r);
	r->wall_ms = vm_now_ms() - w.w.t0;
	if (hooks && hooks->ended && r->nr_tids)
		hooks->ended(hooks->arg); /* guest memory is still mapped */
	vm_take_record(v.mem, mem_size, r);
out:
	if (started && e && e->stop)
		e->stop(e->arg, &v);
	if (e && e->ended && r->outcome == RUN_OK)
		e->ended(e->arg, &v, r);
	vmm_destroy(&v);
	pvdev_close(&dev);
	if (console)
		fclose(console);
	return r->outcome == RUN_OK ? 0 : -1;
}

const struct vm_backend vm_backend_pvbench = {
	.name = "pvbench",
	.help = "pvbench's own VMM (impl/vmm): no firmware, long mode from the first instruction",
	.run = run_pvbench,
};
