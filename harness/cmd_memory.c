/* SPDX-License-Identifier: MIT */
/*
 * pvbench memory: how long N vCPUs take to write every page of an M-byte region (seeds 003/004),
 * when nothing is prepared (demand faults), when the host pages are populated, after KVM's
 * pre-fault ioctl, after a one-vCPU pre-pass, with 2 MiB backing, on a second pass (the floor),
 * and with dirty logging on. On pvbench's own VMM; every page is checked from the host after.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "cli.h"
#include "hostinfo.h"
#include "metrics.h"
#include "pvb_channels.h"
#include "pvb_memtouch.h"
#include "pvb_record.h"
#include "stats.h"
#include "store.h"
#include "vm.h"
#include "vmm.h"

#ifndef KVM_CAP_PRE_FAULT_MEMORY /* Linux 6.10 ABI; Debian 12's headers predate it */
#define KVM_CAP_PRE_FAULT_MEMORY 236
struct kvm_pre_fault_memory { __u64 gpa, size, flags, padding[5]; };
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

#define REGION_GPA 0x40000000ull

enum variant { DEMAND, POPULATED, PREFAULT, PREPASS, THP, HUGETLB, DIRTYLOG, DIRTYRING, NR_VARIANTS };

#define DIRTY_RING_BYTES (4096 * 16)     /* 4096 entries per vCPU, QEMU's usual size */

static const struct {
	const char *key, *name, *help;
} variants[NR_VARIANTS] = {
	[DEMAND] = { "demand", "demand faults", "nothing prepared: the host and second-level tables fault on first touch" },
	[POPULATED] = { "populated", "host-populated", "MAP_POPULATE/MADV_POPULATE_WRITE: host pages exist, second-level tables still fault" },
	[PREFAULT] = { "prefault", "KVM_PRE_FAULT_MEMORY", "the ioctl maps the region before the vCPUs start (time added)" },
	[PREPASS] = { "prepass", "one-vCPU pre-pass", "vCPU 0 writes the region first, timed apart and added: a VMM without the ioctl" },
	[THP] = { "thp", "2 MiB (THP)", "MADV_HUGEPAGE on 2 MiB-aligned backing, demand faults" },
	[HUGETLB] = { "hugetlb", "2 MiB (hugetlbfs)", "MAP_HUGETLB backing, demand faults" },
	[DIRTYLOG] = { "dirtylog", "dirty logging", "pass 1 populates; logging on; pass 2 dirties (write-protect faults); KVM_GET_DIRTY_LOG" },
	[DIRTYRING] = { "dirtyring", "dirty ring", "the same with KVM_CAP_DIRTY_LOG_RING (4096 entries per vCPU): full rings harvested by the vCPU thread" },
};

struct result {
	int ok;
	char why[256];
	double wall_ms[3], extra_ms;     /* pass walls; prepass or pre-fault time */
	double getlog_ms, enable_ms;     /* dirty logging */
	uint64_t dirty_pages, pages, bad_pages, ring_full_exits;
};

struct mem_opts {
	uint64_t size;
	unsigned tsc_khz;
	const char *kernel;
	int timeout_ms;
};

struct dirty_ctx {
	struct vmm *v;
	struct result *r;
	uint64_t *bitmap;
	int released;
	char err[256];
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* dirty logging: between the guest's passes (it waits at the control word) */
static int dirty_tick(void *arg, int *next_us)
{
	struct dirty_ctx *d = arg;
	volatile struct pvb_chan_slot *ctl = (void *)(d->v->mem + PVB_CH_SLOT_GPA);
	uint64_t done = ctl->seq;

	*next_us = 100;
	if (pvb_interrupted)
		return 1;
	if ((int)done <= d->released)
		return 0;
	if (done == 1) {
		double t = now_ms();
		if (vmm_slot_flags(d->v, 1, KVM_MEM_LOG_DIRTY_PAGES, d->err, sizeof(d->err)))
			return 1;
		d->r->enable_ms = now_ms() - t;
	} else if (done == 2 && d->v->dirty_ring_bytes) {
		/* what the vCPU threads harvested on full rings, plus the rest now */
		double t = now_ms();
		pthread_mutex_lock(&d->v->lock);
		for (int i = 0; i < d->v->nr_vcpus; i++) {
			struct vmm_vcpu *c = &d->v->vcpu[i];
			c->harvested += vmm_harvest_dirty_ring(c);
			d->r->ring_full_exits += c->ring_full_exits;
		}
		int rc = vmm_reset_dirty_rings(d->v, d->err, sizeof(d->err));
		pthread_mutex_unlock(&d->v->lock);
		if (rc)
			return 1;
		d->r->getlog_ms = now_ms() - t;
		for (uint64_t i = 0; i < d->r->pages / 64 + 1; i++) /* distinct pages */
			d->r->dirty_pages += (uint64_t)__builtin_popcountll(d->bitmap[i]);
	} else if (done == 2) {
		struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = d->bitmap };
		double t = now_ms();
		if (VMM_IOCTL(d->v->fd, KVM_GET_DIRTY_LOG, &log, "slot 1", d->err, sizeof(d->err)) < 0)
			return 1;
		d->r->getlog_ms = now_ms() - t;
		for (uint64_t i = 0; i < d->r->pages / 64 + 1; i++)
			d->r->dirty_pages += (uint64_t)__builtin_popcountll(d->bitmap[i]);
	}
	d->released = (int)done;
	ctl->tsc = done;
	return 0;
}

static void run_variant(const struct mem_opts *o, enum variant var, int vcpus, struct result *r)
{
	static struct vmm v;
	char err[256], job[256], cmd[1024];
	size_t mem = 64u << 20;
	int dirty = var == DIRTYLOG || var == DIRTYRING;
	int passes = var == DEMAND || dirty ? 2 : 1;
	int flags = var == POPULATED ? VMM_MEM_POPULATE : var == THP ? VMM_MEM_THP :
		    var == HUGETLB ? VMM_MEM_HUGETLB : 0;
	struct dirty_ctx d = { .v = &v, .r = r };

	memset(r, 0, sizeof(*r));
	r->pages = o->size / PVB_MT_PAGE;
	snprintf(job, sizeof(job), "workload=memtouch region=0x%llx,0x%llx passes=%d prepass=%d sync=%d",
		 (unsigned long long)REGION_GPA, (unsigned long long)o->size, passes, var == PREPASS, dirty);
	struct vm_spec s = { .vcpus = vcpus, .job = job, .tsc_khz = o->tsc_khz };
	vm_cmdline(&s, mem, cmd, sizeof(cmd));

	if (var == THP) {
		FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
		char line[128] = "";
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = 0;
			fclose(f);
		}
		if (!strstr(line, "[always]") && !strstr(line, "[madvise]")) {
			snprintf(r->why, sizeof(r->why), "unavailable: transparent hugepages are %s",
				 line[0] ? "off" : "not in this kernel");
			return;
		}
	}
	if (var == HUGETLB) {
		FILE *f = fopen("/proc/meminfo", "r");
		char line[128];
		long freepages = -1;
		while (f && fgets(line, sizeof(line), f))
			sscanf(line, "HugePages_Free: %ld", &freepages);
		if (f)
			fclose(f);
		if (freepages < 0 || (uint64_t)freepages * (2u << 20) < o->size) {
			snprintf(r->why, sizeof(r->why), "unavailable: %ld free hugetlbfs pages, %llu needed (vm.nr_hugepages)",
				 freepages, (unsigned long long)(o->size >> 21));
			return;
		}
	}
	if (var == DIRTYRING) {
		int max = ioctl(open("/dev/kvm", O_RDWR | O_CLOEXEC), KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
		if (max < DIRTY_RING_BYTES) {
			snprintf(r->why, sizeof(r->why), "unavailable: KVM_CAP_DIRTY_LOG_RING = %d bytes", max);
			return;
		}
	}
	if (vmm_create(&v, mem, var == DIRTYRING ? DIRTY_RING_BYTES : 0, err, sizeof(err)) ||
	    vmm_load_elf(&v, o->kernel, err, sizeof(err)) ||
	    vmm_add_slot(&v, REGION_GPA, o->size, flags, err, sizeof(err)))
		goto fail;
	if (vmm_add_vcpus(&v, vcpus, cmd, err, sizeof(err)))
		goto fail;
	if (var == PREFAULT) {
		int cap = ioctl(v.kvm, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY);
		if (cap <= 0) {
			snprintf(r->why, sizeof(r->why),
				 "unavailable: KVM_CHECK_EXTENSION(KVM_CAP_PRE_FAULT_MEMORY) = %d", cap);
			vmm_destroy(&v);
			return;
		}
		struct kvm_pre_fault_memory pf = { .gpa = REGION_GPA, .size = o->size };
		double t = now_ms();
		while (pf.size) /* it returns after a part; gpa and size say what is left */
			if (VMM_IOCTL(v.vcpu[0].fd, KVM_PRE_FAULT_MEMORY, &pf, "region", err, sizeof(err)) < 0 &&
			    errno != EINTR && errno != EAGAIN) {
				snprintf(r->why, sizeof(r->why), "unavailable: %s", err);
				vmm_destroy(&v);
				return;
			}
		r->extra_ms = now_ms() - t;
	}
	if (dirty) {
		d.bitmap = calloc(r->pages / 64 + 1, sizeof(uint64_t));
		v.dirty_bitmap = d.bitmap; /* the dirty ring harvests into it */
		v.dirty_slot = 1;
	}
	if (vmm_start(&v, err, sizeof(err)))
		goto fail;
	int st = vmm_wait(&v, o->timeout_ms, dirty ? dirty_tick : NULL, &d);
	v.dirty_bitmap = NULL;
	free(d.bitmap);
	if (st != VMM_EXITED || v.exit_value != 0x20) {
		snprintf(err, sizeof(err), "%s", d.err[0] ? d.err : v.why[0] ? v.why : "the guest failed");
		goto fail;
	}
	const uint8_t *rec = v.mem + mem - VM_OUT_SIZE + PVB_REC_OFFSET;
	if (pvb_rec_validate(rec, VM_OUT_SIZE - PVB_REC_OFFSET, err, sizeof(err)))
		goto fail;
	struct metric_set ms;
	metrics_from_record(rec, &ms);
	static const char *const walls[] = { "pass1_wall", "pass2_wall" };
	for (int p = 0; p < passes; p++)
		r->wall_ms[p] = metrics_find(&ms, walls[p], METRIC_CPU_VM)->value / 1e6;
	if (var == PREPASS)
		r->extra_ms = metrics_find(&ms, "prepass", METRIC_CPU_VM)->value / 1e6;
	metrics_free(&ms);
	/* every page holds what the last pass wrote */
	const uint8_t *host = v.slots[1].host;
	for (uint64_t pg = 0; pg < r->pages; pg++)
		if (*(const uint64_t *)(host + pg * PVB_MT_PAGE) != pvb_mt_value(pg, (uint64_t)passes))
			r->bad_pages++;
	r->ok = r->bad_pages == 0;
	if (!r->ok)
		snprintf(r->why, sizeof(r->why), "%llu of %llu pages do not hold the expected value",
			 (unsigned long long)r->bad_pages, (unsigned long long)r->pages);
	vmm_destroy(&v);
	return;
fail:
	snprintf(r->why, sizeof(r->why), "%s", err);
	vmm_destroy(&v);
}

/* configs/memory.ini: [global] size_mib, vcpus (a list), repeat; also the options --size-mib ... */
struct ini_target { struct mem_opts *o; int *vc, *nvc, *repeat; };
static int set_key(void *arg, const char *key, const char *value, char *why, size_t n)
{
	struct ini_target *t = arg;
	char buf[64], *end, *save = NULL;
	long long v;

	if (!strcmp(key, "vcpus")) {
		*t->nvc = 0;
		snprintf(buf, sizeof(buf), "%s", value);
		for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			v = strtoll(tok, &end, 10);
			if (*end || v < 1 || v > VMM_MAX_VCPUS || *t->nvc == 4) {
				snprintf(why, n, "\"%s\": up to 4 vCPU counts, each 1..%d", value, VMM_MAX_VCPUS);
				return -1;
			}
			t->vc[(*t->nvc)++] = (int)v;
		}
		if (!*t->nvc)
			snprintf(why, n, "empty list");
		return *t->nvc ? 0 : -1;
	}
	if (strcmp(key, "size_mib") && strcmp(key, "repeat")) {
		snprintf(why, n, "unknown key (size_mib, vcpus, repeat)");
		return -1;
	}
	long long hi = !strcmp(key, "size_mib") ? 2048 : 100;
	v = strtoll(value, &end, 10);
	if (*end || end == value || v < 1 || v > hi) {
		snprintf(why, n, "\"%s\" is not a number in [1, %lld]", value, hi);
		return -1;
	}
	if (!strcmp(key, "size_mib"))
		t->o->size = (uint64_t)v << 20;
	else
		*t->repeat = (int)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvbench memory [options] [EXPERIMENT.ini]\n"
		   "N vCPUs each write every page of their slice of an M-byte region, on pvbench's own VMM,\n"
		   "under each way of preparing guest memory. Results go to the store as \"memory\".\n\n");
	for (int i = 0; i < NR_VARIANTS; i++)
		fprintf(f, "  %-22s %s\n", variants[i].name, variants[i].help);
	fprintf(f, "\n  --size-mib N     region size (default 256)\n"
		   "  --vcpus LIST     e.g. 1,2 (default)\n"
		   "  --repeat N       runs per cell, interleaved (default 3)\n"
		   "  --db PATH        result store (default results/pvbench.db); --no-store to skip\n");
}

int cmd_memory(int argc, char **argv)
{
	/* 'k': the option is an experiment-file key too, set through set_key */
	static const struct option longopts[] = {
		{ "size-mib", 1, 0, 'k' }, { "vcpus", 1, 0, 'k' }, { "repeat", 1, 0, 'k' },
		{ "db", 1, 0, 'd' }, { "no-store", 0, 0, 'n' }, { "help", 0, 0, 'h' }, { 0 },
	};
	struct mem_opts o = { .size = 256ull << 20, .timeout_ms = 60000 };
	const char *db = "results/pvbench.db";
	int vc[4] = { 1, 2 }, nvc = 2, repeat = 3, nostore = 0, opt, idx;
	char kernel[1024], err[512];
	struct hostinfo host;
	struct guestinfo gi;
	struct ini_target t = { .o = &o, .vc = vc, .nvc = &nvc, .repeat = &repeat };

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		switch (opt) {
		case 'k':
			if (cli_set_option(longopts[idx].name, optarg, set_key, &t))
				return EXIT_ERROR;
			break;
		case 'd': db = optarg; break;
		case 'n': nostore = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_ERROR;
		}
	}
	if (optind < argc) { /* the file's keys, after the options */
		if (cli_ini_options(argv[optind], set_key, &t, err, sizeof(err))) {
			fprintf(stderr, "pvbench: %s\n", err);
			return EXIT_ERROR;
		}
	}
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", pvb_build_dir());
	if (hostinfo_read(&host, err, sizeof(err)) < 0 || guestinfo_read(kernel, &gi, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	o.kernel = kernel;
	o.tsc_khz = host.tsc_khz;
	struct store *st = nostore ? NULL : store_open(db, err, sizeof(err));
	if (!nostore && !st) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}

	static struct result res[NR_VARIANTS][4][100];
	int total = NR_VARIANTS * nvc * repeat, n = 0, bad = 0;
	struct progress pg;
	progress_init(&pg, total);
	for (int r = 0; r < repeat && !pvb_interrupted; r++)
		for (int c = 0; c < nvc && !pvb_interrupted; c++)
			for (int i = 0; i < NR_VARIANTS && !pvb_interrupted; i++) { /* interleaved */
				struct result *x = &res[i][c][r];
				char what[96];
				snprintf(what, sizeof(what), "%s, %d vCPU(s), run %d", variants[i].name, vc[c], r + 1);
				progress_begin(&pg, n, what);
				run_variant(&o, (enum variant)i, vc[c], x);
				bad += !x->ok && strncmp(x->why, "unavailable", 11);
				progress_end(&pg, n++, what, x->ok ? NULL : x->why);
				if (!st)
					continue;
				char variant[64], vcb[8], stamp[32];
				snprintf(vcb, sizeof(vcb), "%d", vc[c]);
				snprintf(variant, sizeof(variant), "backing=%s vcpus=%d", variants[i].key, vc[c]);
				const char *keys[] = { "backing", "vcpus", "vmm" }, *vals[] = { variants[i].key, vcb, "pvbench" };
				struct metric_set g = { 0 }, hv = { 0 };
				if (x->ok) {
					metrics_add(&g, "pass1_wall", "ns", -2, x->wall_ms[0] * 1e6);
					if (x->wall_ms[1] > 0)
						metrics_add(&g, "pass2_wall", "ns", -2, x->wall_ms[1] * 1e6);
					if (x->extra_ms > 0)
						metrics_add(&hv, i == PREPASS ? "prepass" : "prefault", "ns", -2, x->extra_ms * 1e6);
					metrics_add(&hv, "total", "ns", -2, (x->wall_ms[0] + x->extra_ms) * 1e6);
					if (i == DIRTYLOG || i == DIRTYRING) {
						metrics_add(&hv, i == DIRTYLOG ? "get_dirty_log" : "harvest_reset", "ns", -2,
							    x->getlog_ms * 1e6);
						metrics_add(&hv, "dirty_pages", "count", -2, (double)x->dirty_pages);
					}
					if (i == DIRTYRING)
						metrics_add(&hv, "ring_full_exits", "count", -2, (double)x->ring_full_exits);
					metrics_add(&hv, "pages_checked", "count", -2, (double)x->pages);
				}
				struct store_run sr = {
					.experiment = "memory", .variant = variant, .rep = r + 1, .nr_params = 3,
					.param_keys = keys, .param_values = vals, .status = x->ok ? "ok" : "error",
					.reason = x->why, .qemu_version = "pvbench-vmm", .sets = { &g, NULL, NULL, &hv },
				};
				hostinfo_fill_run(&sr, &host, &gi, stamp, sizeof(stamp));
				if (store_put_run(st, &sr, err, sizeof(err)))
					fprintf(stderr, "pvbench: %s\n", err);
				metrics_free(&g);
				metrics_free(&hv);
			}
	progress_finish(&pg);
	store_close(st);

	printf("pvbench memory: %llu MiB region, 4 KiB guest pages, %s (%s), %d run(s) per cell; every page checked\n"
	       "clocks: the guest's TSC for the passes, host CLOCK_MONOTONIC (clocksource %s) for host steps\n",
	       (unsigned long long)(o.size >> 20), host.kvm_backend, host.host_kernel, repeat, host.clocksource);
	printf("time for the vCPUs to write every page once: common start to the last vCPU done, ms,\n"
	       "median [min..max] over runs; a preparation step's time is added (and shown apart)\n\n");
	printf("%-24s", "variant");
	for (int c = 0; c < nvc; c++) {
		char h[32];
		snprintf(h, sizeof(h), "%d vCPU%s", vc[c], vc[c] > 1 ? "s" : "");
		printf("  %-26s", h);
	}
	printf("\n");
	double base[4] = { NAN, NAN, NAN, NAN };
	char notes[8][300];
	int nnotes = 0;
	for (int i = 0; i < NR_VARIANTS; i++) {
		int two = i == DEMAND || i == DIRTYLOG || i == DIRTYRING;
		for (int line = 0; line < (two ? 2 : 1); line++) {
			const char *label = variants[i].name;
			if (i == DEMAND && line == 1)
				label = "  second pass (floor)";
			if (i == DIRTYLOG)
				label = line == 0 ? "dirty pass (bitmap)" : "  KVM_GET_DIRTY_LOG";
			if (i == DIRTYRING)
				label = line == 0 ? "dirty pass (dirty ring)" : "  harvest + reset";
			printf("%-24s", label);
			for (int c = 0; c < nvc; c++) {
				double tot[100], lo = INFINITY, hi = -INFINITY;
				int k = 0;
				const char *why = NULL;
				for (int r = 0; r < repeat; r++) {
					struct result *x = &res[i][c][r];
					if (!x->ok) {
						why = x->why;
						continue;
					}
					double val = i == DIRTYLOG || i == DIRTYRING ? (line ? x->getlog_ms : x->wall_ms[1]) :
						     line ? x->wall_ms[1] : x->wall_ms[0] + x->extra_ms;
					tot[k++] = val;
					lo = val < lo ? val : lo;
					hi = val > hi ? val : hi;
				}
				char cell[160];
				if (!k) {
					/* the reason once, after the table */
					snprintf(cell, sizeof(cell), "%s", why && !strncmp(why, "unavailable", 11) ?
						 "unavailable (below)" : "failed (below)");
					if (why && c == 0)
						snprintf(notes[nnotes++ % 8], sizeof(notes[0]), "%s: %s", variants[i].name, why);
				} else {
					double m = stats_median(tot, (size_t)k);
					if (i == DEMAND && line == 0)
						base[c] = m;
					int n2 = snprintf(cell, sizeof(cell), "%.1f [%.0f..%.0f]", m, lo, hi);
					if (!(i == DEMAND && line == 0) && !(two && i != DEMAND && line == 1) && !isnan(base[c]))
						snprintf(cell + n2, sizeof(cell) - (size_t)n2, " %+.0f%%", (m - base[c]) / base[c] * 100);
				}
				printf("  %-26s", cell);
			}
			printf("\n");
		}
	}
	for (int i = 0; i < nnotes && i < 8; i++)
		printf("%s\n", notes[i]);
	printf("\n%% against demand faults at the same vCPU count. For the pre-pass and the pre-fault\n"
	       "ioctl the time includes the preparation. Dirty logging: pass 1 populates, logging is\n"
	       "switched on, pass 2 writes every page again (shown), then KVM_GET_DIRTY_LOG fetches and\n"
	       "re-protects the bitmap, or the rings are harvested and reset (shown; every page must be\n"
	       "reported dirty, or the run fails).\n");
	for (int k = DIRTYLOG; k <= DIRTYRING; k++)
		for (int c = 0; c < nvc; c++)
			for (int r = 0; r < repeat; r++) {
				struct result *x = &res[k][c][r];
				if (x->ok && x->dirty_pages != x->pages) {
					printf("%s: %llu of %llu pages reported dirty (%d vCPUs, run %d)\n",
					       variants[k].name, (unsigned long long)x->dirty_pages,
					       (unsigned long long)x->pages, vc[c], r + 1);
					bad++;
				}
			}
	for (int c = 0; c < nvc; c++)
		if (res[DIRTYRING][c][0].ok)
			printf("dirty ring, %d vCPU(s): %llu full-ring exits harvested by the vCPU threads\n", vc[c],
			       (unsigned long long)res[DIRTYRING][c][0].ring_full_exits);
	return pvb_interrupted ? EXIT_INTERRUPTED : bad ? EXIT_FAILED : EXIT_OK;
}
