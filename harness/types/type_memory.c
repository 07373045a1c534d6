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

/* One run's host side: the region's slot, its preparation, the dirty log's handshake, and the
 * check of every page once the guest is done. */
struct mem_run {
	enum backing b;
	uint64_t size, *bitmap, pages, dirty_pages, ring_full_exits, bad;
	int passes, dirty, flags;
	double enable_ms, getlog_ms, prefault_ms;
	int released, checked;
};

/* dirty logging: the host's step between the guest's passes (pvb_memtouch.h's handshake) */
static int dirty_tick(void *arg, struct vmm *v, char *err, size_t errlen)
{
	struct mem_run *d = arg;
	volatile struct pvb_chan_slot *ctl = (void *)(v->mem + PVB_CH_SLOT_GPA);
	uint64_t done = ctl->seq;

	if (done <= (uint64_t)d->released || done > 2)
		return 0;
	double t = mono_ms();
	if (done == 1) {
		if (vmm_slot_flags(v, 1, KVM_MEM_LOG_DIRTY_PAGES, err, errlen))
			return 1;
		d->enable_ms = mono_ms() - t;
	} else if (v->dirty_ring_bytes) { /* what full rings gave the vCPU threads, plus the rest */
		pthread_mutex_lock(&v->lock);
		for (int i = 0; i < v->nr_vcpus; i++) {
			struct vmm_vcpu *c = &v->vcpu[i];
			vmm_harvest_dirty_ring(c);
			d->ring_full_exits += c->ring_full_exits;
		}
		int rc = vmm_reset_dirty_rings(v, err, errlen);
		pthread_mutex_unlock(&v->lock);
		if (rc)
			return 1;
		d->getlog_ms = mono_ms() - t;
	} else {
		if (vmm_get_dirty_log(v, 1, d->bitmap, err, errlen))
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

static int mem_prepare(void *arg, struct vmm *v, char *err, size_t errlen)
{
	struct mem_run *d = arg;
	if (vmm_add_slot(v, REGION_GPA, d->size, d->flags, err, errlen))
		return -1;
	if (d->dirty) /* the dirty ring harvests into the bitmap the dirty log fills */
		vmm_set_dirty_bitmap(v, 1, d->bitmap);
	return 0;
}

/* pre-faulting is a vCPU's ioctl: once they exist, before they run */
static int mem_start(void *arg, struct vmm *v, char *err, size_t errlen)
{
	struct mem_run *d = arg;
	if (d->b == PREFAULT) {
		double t = mono_ms();
		if (vmm_prefault(v, REGION_GPA, d->size, err, errlen))
			return 1; /* this KVM cannot: a skip */
		d->prefault_ms = mono_ms() - t;
	}
	return 0;
}

/* every page holds what the last pass wrote */
static void mem_ended(void *arg, struct vmm *v, struct vm_result *res)
{
	struct mem_run *d = arg;
	(void)res;
	for (uint64_t pg = 0; pg < d->pages; pg++)
		if (*(const uint64_t *)(v->slots[1].host + pg * PVB_MT_PAGE) != pvb_mt_value(pg, (uint64_t)d->passes))
			d->bad++;
	d->checked = 1;
	vmm_set_dirty_bitmap(v, 0, NULL);
}

static void run(const struct run_spec *r, const struct run_env *env, struct run_result *out)
{
	struct mem_run d = { .size = (uint64_t)spec_int(r, "size_mib") << 20 };
	int vcpus = (int)spec_int(r, "vcpus");
	char job[256], why[256];
	struct metric_set ms = { 0 };
	struct vm_result res = { 0 };

	while (strcmp(backing_names[d.b], spec_str(r, "backing")))
		d.b++;
	d.pages = d.size / PVB_MT_PAGE;
	d.dirty = d.b == DIRTYLOG || d.b == DIRTYRING;
	d.passes = d.b == DEMAND || d.dirty ? 2 : 1;
	d.flags = d.b == POPULATED ? VMM_MEM_POPULATE : d.b == THP ? VMM_MEM_THP : d.b == HUGETLB ? VMM_MEM_HUGETLB : 0;
	snprintf(out->vmm, sizeof(out->vmm), "pvbench-vmm");
	if (unavailable(d.b, d.size, why, sizeof(why))) {
		run_fail(out, RUN_SKIPPED, "%s", why);
		return;
	}
	if (d.dirty && !(d.bitmap = calloc(d.pages / 64 + 1, sizeof(uint64_t)))) {
		run_fail(out, RUN_ERROR, "out of memory");
		return;
	}
	snprintf(job, sizeof(job), "workload=memtouch region=0x%llx,0x%llx passes=%d prepass=%d sync=%d",
		 (unsigned long long)REGION_GPA, (unsigned long long)d.size, d.passes, d.b == PREPASS, d.dirty);
	const struct vmm_extras ex = { .arg = &d, .dirty_ring_bytes = d.b == DIRTYRING ? DIRTY_RING_BYTES : 0,
				       .tick_us = 100, .prepare = mem_prepare, .start = mem_start, .tick = d.dirty ? dirty_tick : NULL,
				       .ended = mem_ended };
	const struct vm_spec s = { .kernel = env->kernel, .vcpus = vcpus, .mem_mb = 64, .job = job,
				   .timeout_ms = (int)(timeout_ms(r) - 5000), .run_dir = env->run_dir,
				   .tsc_khz = env->host->tsc_khz, .extras = &ex };
	vm_run("pvbench", &s, NULL, &res);
	snprintf(out->vmm, sizeof(out->vmm), "%s", res.vmm);
	if (res.outcome != RUN_OK) {
		run_fail(out, res.outcome, "%s%s", res.outcome == RUN_SKIPPED ? "unavailable: " : "", res.reason);
		goto out;
	}
	metrics_from_record(res.record, &ms);
	/* the guest's figures: untrusted, each must be there */
	double wall[2] = { 0, 0 }, extra_ms = d.prefault_ms;
	static const char *const walls[] = { "pass1_wall", "pass2_wall" };
	for (int p = 0; p < d.passes + (d.b == PREPASS); p++) {
		const char *name = p < d.passes ? walls[p] : "prepass";
		const struct metric *m = metrics_find(&ms, name, METRIC_CPU_VM);
		if (!m || m->value < 0) {
			run_fail(out, RUN_ERROR, "the guest's record lacks %s", name);
			goto out;
		}
		if (p < d.passes)
			wall[p] = m->value / 1e6;
		else
			extra_ms = m->value / 1e6;
	}
	if (!d.checked || d.bad) {
		run_fail(out, RUN_FAILED, "%llu of %llu pages do not hold the expected value",
			 (unsigned long long)(d.checked ? d.bad : d.pages), (unsigned long long)d.pages);
		goto out;
	}
	/* with dirty logging every page was reported */
	if (d.dirty && d.dirty_pages != d.pages) {
		run_fail(out, RUN_FAILED, "%llu of %llu written pages reported dirty",
			 (unsigned long long)d.dirty_pages, (unsigned long long)d.pages);
		goto out;
	}
	/* write_all: one write of every page, preparation included; the dirty pass when logging */
	metrics_add(&out->m[SIDE_GUEST], "write_all", "ns", PVB_LESS, METRIC_CPU_VM,
		    (d.dirty ? wall[1] : wall[0] + extra_ms) * 1e6);
	metrics_add(&out->m[SIDE_GUEST], "pass1_wall", "ns", PVB_LESS, METRIC_CPU_VM, wall[0] * 1e6);
	if (d.passes > 1)
		metrics_add(&out->m[SIDE_GUEST], "pass2_wall", "ns", PVB_LESS, METRIC_CPU_VM, wall[1] * 1e6);
	if (extra_ms > 0)
		metrics_add(&out->m[SIDE_VMM], d.b == PREPASS ? "prepass" : "prefault", "ns", PVB_LESS, METRIC_CPU_VM,
			    extra_ms * 1e6);
	if (d.dirty) {
		metrics_add(&out->m[SIDE_VMM], "dirty_enable", "ns", PVB_LESS, METRIC_CPU_VM, d.enable_ms * 1e6);
		metrics_add(&out->m[SIDE_VMM], d.b == DIRTYLOG ? "get_dirty_log" : "harvest_reset", "ns", PVB_LESS,
			    METRIC_CPU_VM, d.getlog_ms * 1e6);
		metrics_add(&out->m[SIDE_VMM], "dirty_pages", "count", PVB_INFO, METRIC_CPU_VM, (double)d.dirty_pages);
	}
	if (d.b == DIRTYRING)
		metrics_add(&out->m[SIDE_VMM], "ring_full_exits", "count", PVB_LESS, METRIC_CPU_VM, (double)d.ring_full_exits);
	metrics_add(&out->m[SIDE_VMM], "pages_checked", "count", PVB_INFO, METRIC_CPU_VM, (double)d.pages);
out:
	free(d.bitmap);
	metrics_free(&ms);
	vm_result_free(&res);
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
