/* SPDX-License-Identifier: MIT */
/* A guest run on pvbench's own VMM (impl/vmm): the vm.h interface, as qemu.c gives it for QEMU. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "child.h"
#include "pvb_record.h"
#include "vm.h"
#include "vmm.h"

struct watch {
	struct vmm *v;
	const struct vm_hooks *hooks;
	struct vm_result *r;
	const volatile struct pvb_live *live;
	double t0, next_tick;
	int phase;
	char err[256];
	enum vm_outcome why;
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int tick(void *arg, int *next_us)
{
	struct watch *w = arg;
	double now = mono_ms();

	if (pvb_interrupted) {
		w->why = VM_INTERRUPTED;
		snprintf(w->err, sizeof(w->err), "interrupted (signal)");
		return 1;
	}
	/* the guest's progress word: untrusted, only compared */
	if (w->live->magic == PVB_LIVE_MAGIC && w->live->phase > (unsigned)w->phase &&
	    w->live->phase <= PVB_PHASE_DONE) {
		w->phase = (int)w->live->phase;
		if (w->phase >= PVB_PHASE_RING3 && w->r->boot_to_ring3_ms < 0)
			w->r->boot_to_ring3_ms = now - w->t0;
		if (w->phase >= PVB_PHASE_WORKLOAD && w->r->boot_to_workload_ms < 0)
			w->r->boot_to_workload_ms = now - w->t0;
	}
	if (w->hooks && w->hooks->tick && now >= w->next_tick) {
		w->next_tick = now + 10;
		if (w->hooks->tick(w->hooks->arg, w->err, sizeof(w->err))) {
			w->why = VM_ERROR;
			return 1;
		}
	}
	*next_us = w->phase < PVB_PHASE_WORKLOAD ? 200 : 5000;
	return 0;
}

int vm_run_pvbench(const struct vm_spec *s, const struct vm_hooks *hooks, struct vm_result *r)
{
	static struct vmm v; /* large; one VM at a time per process */
	int mem_mb = s->mem_mb ? s->mem_mb : 64;
	size_t mem_size = (size_t)mem_mb << 20;
	char err[512], cmd[2048], path[600];
	struct watch w = { .v = &v, .hooks = hooks, .r = r };
	FILE *console = NULL;

	memset(r, 0, sizeof(*r));
	r->boot_to_ring3_ms = r->boot_to_workload_ms = -1;
	r->exit_code = -1;
	snprintf(r->qemu_version, sizeof(r->qemu_version), "pvbench-vmm");
	if (s->vcpus < 1 || s->vcpus > VM_MAX_VCPUS || mem_mb < 16 || mem_mb > 3072) {
		vm_set_reason(r, VM_ERROR, "%s", "vcpus must be 1..16 and memory 16..3072 MiB");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/console.log", s->run_dir);
	console = fopen(path, "w");
	vm_cmdline(s, mem_size, cmd, sizeof(cmd));
	if (vmm_create(&v, mem_size, 0, err, sizeof(err)) < 0 ||
	    vmm_load_elf(&v, s->kernel, err, sizeof(err)) < 0 ||
	    vmm_add_vcpus(&v, s->vcpus, cmd, err, sizeof(err)) < 0) {
		vm_set_reason(r, VM_ERROR, "%s", err);
		goto out;
	}
	v.console = console;
	w.live = (const void *)(v.mem + mem_size - VM_OUT_SIZE);
	w.t0 = mono_ms();
	if (vmm_start(&v, err, sizeof(err)) < 0) {
		vm_set_reason(r, VM_ERROR, "%s", err);
		vmm_wait(&v, 0, NULL, NULL);
		goto out;
	}
	r->nr_tids = v.nr_vcpus;
	for (int i = 0; i < v.nr_vcpus; i++)
		r->tids[i] = v.vcpu[i].tid;
	if (hooks && hooks->started && hooks->started(hooks->arg, r->tids, r->nr_tids, err, sizeof(err))) {
		vm_set_reason(r, VM_ERROR, "%s", err);
		vmm_stop(&v, VMM_STOPPED, NULL);
	}
	switch (vmm_wait(&v, s->timeout_ms, tick, &w)) {
	case VMM_EXITED: {
		enum vm_outcome o = vm_outcome_of_exit_value(v.exit_value, err, sizeof(err));
		r->exit_code = v.exit_value;
		if (o != VM_OK)
			vm_set_reason(r, o, "%s", err);
		break;
	}
	case VMM_SHUTDOWN:
	case VMM_EMULATION_FAILURE:
	case VMM_UNEXPECTED:
		vm_set_reason(r, VM_CRASHED, "%s", v.why);
		break;
	case VMM_STOPPED:
		if (r->outcome == VM_OK) {
			if (w.why == VM_INTERRUPTED || w.why == VM_ERROR)
				vm_set_reason(r, w.why, "%s", w.err);
			else
				vm_set_reason(r, VM_TIMEOUT, "guest %s", v.why);
		}
		break;
	}
	r->wall_ms = mono_ms() - w.t0;
	vm_take_record(v.mem, mem_size, r);
out:
	vmm_destroy(&v);
	if (console)
		fclose(console);
	return r->outcome == VM_OK ? 0 : -1;
}
