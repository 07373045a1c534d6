/* SPDX-License-Identifier: MIT */
/*
 * memory: how long N vCPUs take to write every page of an M-byte region (seeds 003/004) under one
 * way of preparing guest memory -- nothing (demand faults), host-populated, KVM's pre-fault
 * ioctl, a one-vCPU pre-pass, 2 MiB backing -- or with dirty logging on (bitmap or ring). On
 * pvbench's own VMM, each run in its own process; every page is checked from the host after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "child.h"
#include "engine.h"
#include "hostinfo.h"
#include "pvb_channels.h"
#include "pvb_memtouch.h"
#include "pvb_record.h"
#include "vm.h"
#include "vmm.h"

#define REGION_GPA 0x40000000ull
#define DIRTY_RING_BYTES (4096 * 16)     /* 4096 entries per vCPU, QEMU's usual size */

enum backing { DEMAND, POPULATED, PREFAULT, PREPASS, THP, HUGETLB, DIRTYLOG, DIRTYRING, NR_BACKING };
static const char *const backing_names[NR_BACKING + 1] = {
	"demand", "populated", "prefault", "prepass", "thp", "hugetlb", "dirtylog", "dirtyring", NULL,
};

static const char *backing_choice(int i)
{
	return backing_names[i];
}

static const struct key_def keys[] = {
	{ "backing", KT_CHOICE, 0, 0, KEY_LIST,
	  "demand, populated, prefault, prepass, thp, hugetlb, dirtylog, dirtyring",
	  "how guest memory is prepared (pvbench memory --help)", .choice = backing_choice },
	{ "vcpus", KT_INT, 1, VMM_MAX_VCPUS, KEY_LIST, "1, 2", "vCPUs writing the region, each its slice" },
	{ "size_mib", KT_INT, 1, 2048, KEY_LIST, "256", "region size, MiB" },
	{ 0 },
};

struct dirty_ctx {
	struct vmm *v;
	uint64_t *bitmap, pages, dirty_pages, ring_full_exits;
	double enable_ms, getlog_ms;
	int released;
	char err[256];
};

/* dirty logging: the host's step between the guest's passes (pvb_memtouch.h's handshake) */
static int dirty_tick(void *arg, int *next_us)
{
	struct dirty_ctx *d = arg;
	volatile struct pvb_chan_slot *ctl = (void *)(d->v->mem + PVB_CH_SLOT_GPA);
	uint64_t done = ctl->seq;

	*next_us = 100;
	if (pvb_interrupted)
		return 1;
	if (done <= (uint64_t)d->released || done > 2)
		return 0;
	double t = mono_ms();
	if (done == 1) {
		if (vmm_slot_flags(d->v, 1, KVM_MEM_LOG_DIRTY_PAGES, d->err, sizeof(d->err)))
			return 1;
		d->enable_ms = mono_ms() - t;
	} else if (d->v->dirty_ring_bytes) { /* what full rings gave the vCPU threads, plus the rest */
		pthread_mutex_lock(&d->v->lock);
		for (int i = 0; i < d->v->nr_vcpus; i++) {
			struct vmm_vcpu *c = &d->v->vcpu[i];
			c->harvested += vmm_harvest_dirty_ring(c);
			d->ring_full_exits += c->ring_full_exits;
		}
		int rc = vmm_reset_dirty_rings(d->v, d->err, sizeof(d->err));
		pthread_mutex_unlock(&d->v->lock);
		if (rc)
			return 1;
		d->getlog_ms = mono_ms() - t;
	} else {
		if (vmm_get_dirty_log(d->v, 1, d->bitmap, d->err, sizeof(d->err)))
			return 1;
		d->getlog_ms = mono_ms() - t;
	}
	if (done == 2)
		for (uint64_t i = 0; i < d->pages / 64 + 1; i++) /* distinct pages */
			d->dirty_pages += (uint64_t)__builtin_popcountll(d->bitmap[i]);
	d->released = (int)done;
	__atomic_store_n(&ctl->tsc, done, __ATOMIC_RELEASE);
	return 0;
}

/* What this host cannot do is a skip with its reason; NULL if it can. */
static const char *unavailable(enum backing b, uint64_t size, char *why, size_t n)
{
	char err[256];
	if (b == THP) {
		FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
		char line[128] = "";
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = 0;
			fclose(f);
		}
		if (!strstr(line, "[always]") && !strstr(line, "[madvise]")) {
			snprintf(why, n, "unavailable: transparent hugepages are %s", line[0] ? "off" : "not in this kernel");
			return why;
		}
	} else if (b == HUGETLB) {
		FILE *f = fopen("/proc/meminfo", "r");
		char line[128];
		long freepages = -1;
		while (f && fgets(line, sizeof(line), f))
			sscanf(line, "HugePages_Free: %ld", &freepages);
		if (f)
			fclose(f);
		if (freepages < 0 || (uint64_t)freepages * (2u << 20) < size) {
			snprintf(why, n, "unavailable: %ld free hugetlbfs pages, %llu needed (vm.nr_hugepages)",
				 freepages, (unsigned long long)(size >> 21));
			return why;
		}
	} else if (b == DIRTYRING) {
		int max = vmm_check_cap(KVM_CAP_DIRTY_LOG_RING, err, sizeof(err));
		if (max < DIRTY_RING_BYTES) {
			snprintf(why, n, "unavailable: KVM_CAP_DIRTY_LOG_RING = %d bytes", max);
			return why;
		}
	} else if (b == PREFAULT) {
		int cap = vmm_check_cap(KVM_CAP_PRE_FAULT_MEMORY, err, sizeof(err));
		if (cap <= 0) {
			snprintf(why, n, "unavailable: KVM_CHECK_EXTENSION(KVM_CAP_PRE_FAULT_MEMORY) = %d", cap);
			return why;
		}
	}
	return NULL;
}

/* the run's own bound; the engine's watchdog is 5 s later */
static long long timeout_ms(const struct run_spec *r)
{
	long long t = spec_int(r, "timeout");
	return t > 5000 ? t : 65000;
}

static void run(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	static struct vmm v;
	enum backing b = DEMAND;
	uint64_t size = (uint64_t)spec_int(r, "size_mib") << 20;
	int vcpus = (int)spec_int(r, "vcpus");
	char err[256], job[256], cmd[1024], why[256];
	size_t mem = 64u << 20;
	struct metric_set ms = { 0 };
	struct dirty_ctx d = { .v = &v, .pages = size / PVB_MT_PAGE };
	double extra_ms = 0;

	while (strcmp(backing_names[b], spec_str(r, "backing")))
		b++;
	int dirty = b == DIRTYLOG || b == DIRTYRING, passes = b == DEMAND || dirty ? 2 : 1;
	int flags = b == POPULATED ? VMM_MEM_POPULATE : b == THP ? VMM_MEM_THP : b == HUGETLB ? VMM_MEM_HUGETLB : 0;
	snprintf(out->vmm, sizeof(out->vmm), "pvbench-vmm");
	if (unavailable(b, size, why, sizeof(why))) {
		run_fail(out, RUN_SKIPPED, "%s", why);
		return;
	}
	snprintf(job, sizeof(job), "workload=memtouch region=0x%llx,0x%llx passes=%d prepass=%d sync=%d",
		 (unsigned long long)REGION_GPA, (unsigned long long)size, passes, b == PREPASS, dirty);
	struct vm_spec s = { .vcpus = vcpus, .job = job, .tsc_khz = env->host->tsc_khz };
	vm_cmdline(&s, mem, cmd, sizeof(cmd));
	if (vmm_create(&v, mem, b == DIRTYRING ? DIRTY_RING_BYTES : 0, err, sizeof(err)) ||
	    vmm_load_elf(&v, env->kernel, err, sizeof(err)) ||
	    vmm_add_slot(&v, REGION_GPA, size, flags, err, sizeof(err)) ||
	    vmm_add_vcpus(&v, vcpus, cmd, err, sizeof(err)))
		goto fail;
	if (b == PREFAULT) {
		double t = mono_ms();
		if (vmm_prefault(&v, REGION_GPA, size, err, sizeof(err))) {
			run_fail(out, RUN_SKIPPED, "unavailable: %s", err);
			goto out;
		}
		extra_ms = mono_ms() - t;
	}
	if (dirty) {
		d.bitmap = calloc(d.pages / 64 + 1, sizeof(uint64_t));
		v.dirty_bitmap = d.bitmap; /* the dirty ring harvests into it */
		v.dirty_slot = 1;
	}
	if (vmm_start(&v, err, sizeof(err)))
		goto fail;
	int st = vmm_wait(&v, (int)(timeout_ms(r) - 5000), dirty ? dirty_tick : NULL, &d);
	v.dirty_bitmap = NULL;
	if (pvb_interrupted) {
		run_fail(out, RUN_INTERRUPTED, "interrupted (signal)");
		goto out;
	}
	if (st != VMM_EXITED || v.exit_value != VM_EXIT_OK) {
		run_fail(out, st == VMM_STOPPED && !d.err[0] ? RUN_TIMEOUT : RUN_ERROR, "%s",
			 d.err[0] ? d.err : v.why[0] ? v.why : "the guest failed");
		goto out;
	}
	if (vm_record_metrics(v.mem, mem, &ms, err, sizeof(err))) {
		run_fail(out, RUN_ERROR, "%s", err);
		goto out;
	}
	/* the guest's figures: untrusted, each must be there */
	double wall[2] = { 0, 0 };
	static const char *const walls[] = { "pass1_wall", "pass2_wall" };
	for (int p = 0; p < passes + (b == PREPASS); p++) {
		const char *name = p < passes ? walls[p] : "prepass";
		const struct metric *m = metrics_find(&ms, name, METRIC_CPU_VM);
		if (!m || m->value < 0) {
			run_fail(out, RUN_ERROR, "the guest's record lacks %s", name);
			goto out;
		}
		if (p < passes)
			wall[p] = m->value / 1e6;
		else
			extra_ms = m->value / 1e6;
	}
	/* every page holds what the last pass wrote; with dirty logging every page was reported */
	uint64_t bad = 0;
	for (uint64_t pg = 0; pg < d.pages; pg++)
		if (*(const uint64_t *)(v.slots[1].host + pg * PVB_MT_PAGE) != pvb_mt_value(pg, (uint64_t)passes))
			bad++;
	if (bad) {
		run_fail(out, RUN_FAILED, "%llu of %llu pages do not hold the expected value",
			 (unsigned long long)bad, (unsigned long long)d.pages);
		goto out;
	}
	if (dirty && d.dirty_pages != d.pages) {
		run_fail(out, RUN_FAILED, "%llu of %llu written pages reported dirty",
			 (unsigned long long)d.dirty_pages, (unsigned long long)d.pages);
		goto out;
	}
	/* write_all: one write of every page, preparation included; the dirty pass when logging */
	metrics_add(&out->m[SIDE_GUEST], "write_all", "ns", PVB_LESS, METRIC_CPU_VM,
		    (dirty ? wall[1] : wall[0] + extra_ms) * 1e6);
	metrics_add(&out->m[SIDE_GUEST], "pass1_wall", "ns", PVB_LESS, METRIC_CPU_VM, wall[0] * 1e6);
	if (passes > 1)
		metrics_add(&out->m[SIDE_GUEST], "pass2_wall", "ns", PVB_LESS, METRIC_CPU_VM, wall[1] * 1e6);
	if (extra_ms > 0)
		metrics_add(&out->m[SIDE_VMM], b == PREPASS ? "prepass" : "prefault", "ns", PVB_LESS, METRIC_CPU_VM, extra_ms * 1e6);
	if (dirty) {
		metrics_add(&out->m[SIDE_VMM], "dirty_enable", "ns", PVB_LESS, METRIC_CPU_VM, d.enable_ms * 1e6);
		metrics_add(&out->m[SIDE_VMM], b == DIRTYLOG ? "get_dirty_log" : "harvest_reset", "ns", PVB_LESS,
			    METRIC_CPU_VM, d.getlog_ms * 1e6);
		metrics_add(&out->m[SIDE_VMM], "dirty_pages", "count", PVB_INFO, METRIC_CPU_VM, (double)d.dirty_pages);
	}
	if (b == DIRTYRING)
		metrics_add(&out->m[SIDE_VMM], "ring_full_exits", "count", PVB_LESS, METRIC_CPU_VM, (double)d.ring_full_exits);
	metrics_add(&out->m[SIDE_VMM], "pages_checked", "count", PVB_INFO, METRIC_CPU_VM, (double)d.pages);
	goto out;
fail:
	run_fail(out, RUN_ERROR, "%s", err);
out:
	v.dirty_bitmap = NULL;
	free(d.bitmap);
	metrics_free(&ms);
	vmm_destroy(&v);
}

const struct exp_type type_memory = {
	.name = "memory",
	.help = "time for N vCPUs to write every page of a region: demand faults vs prepared memory (own VMM)",
	.keys = keys,
	.needs_kvm = 1,
	.isolate = 1,
	.rows = "vcpus",
	.columns = "backing",
	.metrics = "write_all,pass2_wall",
	.baseline = "backing=demand",
	.timeout_ms = timeout_ms,
	.run = run,
};
