/* SPDX-License-Identifier: MIT */
/*
 * pvbench channels: the cost of every guest->host notification channel, from ring 0 and ring 3
 * of the guest, on pvbench's own VMM. Each (channel, ring) is a fresh VM in a child process with
 * a watchdog: a channel the backend cannot deliver ends as "hangs" or "unsupported", never as a
 * hang of pvbench.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "channels.h"
#include "child.h"
#include "cli.h"
#include "hostinfo.h"
#include "metrics.h"
#include "pvb_channels.h"
#include "pvb_record.h"
#include "stats.h"
#include "store.h"
#include "vm.h"
#include "vmm.h"

static const struct row {
	int ch, poll;            /* poll: shared memory polled with sleeps (the --poll-us period) */
	const char *key, *name, *help;
} rows[] = {
	{ PVB_CH_NONE, 0, "none", "none (baseline)", "rdtsc pair and slot write only: subtracted as the timing overhead" },
	{ PVB_CH_HC_KVM, 0, "hc_kvm", "hypercall in KVM", "VMCALL/VMMCALL KVM_HC_VAPIC_POLL_IRQ: KVM answers it without leaving the kernel" },
	{ PVB_CH_HC_EXIT, 0, "hc_exit", "hypercall to VMM", "VMCALL/VMMCALL KVM_HC_MAP_GPA_RANGE with KVM_CAP_EXIT_HYPERCALL: exits to the VMM" },
	{ PVB_CH_PIO, 0, "pio", "port I/O exit", "OUT to port 0x510: KVM_EXIT_IO to the VMM's vCPU thread" },
	{ PVB_CH_MMIO, 0, "mmio", "MMIO exit", "store to 0xd0000000 (no memory slot): KVM_EXIT_MMIO to the VMM" },
	{ PVB_CH_EVENTFD_PIO, 0, "ioeventfd_pio", "PIO ioeventfd", "OUT to port 0x520, caught in the kernel by an ioeventfd; a host thread waits on it" },
	{ PVB_CH_EVENTFD_MMIO, 0, "ioeventfd_mmio", "MMIO ioeventfd", "store to 0xd0001000, caught by an ioeventfd; a host thread waits on it" },
	{ PVB_CH_SHM, 0, "shm_busy", "shared memory, busy poll", "sequence number in a shared page; a host thread spins on it" },
	{ PVB_CH_SHM, 1, "shm_poll", "shared memory, timed poll", "the same; the host thread sleeps --poll-us between looks" },
	{ PVB_CH_SHM_DOORBELL, 0, "shm_doorbell", "shared memory + doorbell", "sequence number, then the PIO ioeventfd: what the paravirt threads converge on" },
};
#define NR_ROWS (sizeof(rows) / sizeof(rows[0]))

struct probe {
	int status;              /* 0 ran; 1 unsupported; 2 the guest failed (why) */
	char why[256];
	double cost[4];          /* guest cycles: min, p50, p99, p99.9 */
	uint64_t sent, delivered, nlat, kvm_runs;
	int64_t stat_exits, stat_hypercalls; /* -1: not available */
	uint64_t offset_window;  /* host cycles: the TSC offset is known to +- half of it */
	double lat[3];           /* host cycles: p50, p99, p99.9 */
};

struct opts {
	int count, pace_us, poll_us, timeout_ms, amd;
	unsigned tsc_khz;
	const char *kernel;
};

static int cmpu(const void *a, const void *b) /* uint64_t */
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* In the child: one fresh VM, one channel, one ring. */
static void probe_run(const struct opts *o, const struct row *rw, int ring, struct probe *p)
{
	static struct vmm v;
	struct chan_host h = { 0 };
	char err[256], job[256], cmd[1024];
	size_t mem = 64u << 20;
	int ch = rw->ch | ((rw->ch == PVB_CH_HC_KVM || rw->ch == PVB_CH_HC_EXIT) && o->amd ? PVB_CH_AMD : 0);

	memset(p, 0, sizeof(*p));
	p->stat_exits = p->stat_hypercalls = -1;
	snprintf(job, sizeof(job), "workload=channel channel=%d ring=%d count=%d pace_us=%d", ch, ring,
		 o->count, o->pace_us);
	struct vm_spec s = { .vcpus = 1, .job = job, .tsc_khz = o->tsc_khz };
	vm_cmdline(&s, mem, cmd, sizeof(cmd));
	if (vmm_create(&v, mem, 0, err, sizeof(err)) || vmm_load_elf(&v, o->kernel, err, sizeof(err)))
		goto fail;
	if (rw->ch == PVB_CH_HC_EXIT && chan_enable_exit_hypercall(&v, err, sizeof(err))) {
		p->status = 1;
		snprintf(p->why, sizeof(p->why), "%s", err);
		return;
	}
	if (vmm_add_vcpus(&v, 1, cmd, err, sizeof(err)) ||
	    chan_host_start(&h, &v, rw->ch, rw->poll ? o->poll_us : 0, err, sizeof(err)) ||
	    vmm_start(&v, err, sizeof(err)))
		goto fail;
	int st = vmm_wait(&v, o->timeout_ms, NULL, NULL);
	chan_host_stop(&h);
	if (st != VMM_EXITED || v.exit_value != 0x20) {
		p->status = 2;
		if (st == VMM_STOPPED)
			snprintf(p->why, sizeof(p->why), "hangs: no return within the %d ms watchdog", o->timeout_ms);
		else
			snprintf(p->why, sizeof(p->why), "%s", v.why[0] ? v.why : "the guest failed");
		return;
	}
	const uint8_t *rec = v.mem + mem - VM_OUT_SIZE + PVB_REC_OFFSET;
	struct metric_set ms;
	if (pvb_rec_validate(rec, VM_OUT_SIZE - PVB_REC_OFFSET, err, sizeof(err)))
		goto fail;
	metrics_from_record(rec, &ms);
	static const char *const names[] = { "cost_min", "cost_p50", "cost_p99", "cost_p99.9" };
	for (int i = 0; i < 4; i++) {
		const struct metric *m = metrics_find(&ms, names[i], METRIC_CPU_VM);
		p->cost[i] = m ? m->value : NAN;
	}
	p->sent = metrics_find(&ms, "notifications", METRIC_CPU_VM) ?
		(uint64_t)metrics_find(&ms, "notifications", METRIC_CPU_VM)->value : 0;
	metrics_free(&ms);
	p->delivered = h.delivered;
	p->offset_window = v.tsc_offset_window;
	p->kvm_runs = v.vcpu[0].kvm_runs;
	uint64_t x;
	if (vmm_vcpu_stat(&v.vcpu[0], "exits", &x) == 0)
		p->stat_exits = (int64_t)x;
	if (vmm_vcpu_stat(&v.vcpu[0], "hypercalls", &x) == 0)
		p->stat_hypercalls = (int64_t)x;
	p->nlat = h.nlat;
	if (h.nlat) {
		qsort(h.lat, h.nlat, sizeof(uint64_t), cmpu);
		p->lat[0] = (double)h.lat[h.nlat / 2];
		p->lat[1] = (double)h.lat[h.nlat * 99 / 100];
		p->lat[2] = (double)h.lat[h.nlat * 999 / 1000];
	}
	free(h.lat);
	return;
fail:
	p->status = 2;
	snprintf(p->why, sizeof(p->why), "%s", err);
}

/* In the parent: fork, watch, collect. */
static void probe(const struct opts *o, const struct row *rw, int ring, struct probe *p)
{
	int fds[2];
	pid_t pid;

	memset(p, 0, sizeof(*p));
	if (pipe(fds) < 0) {
		p->status = 2;
		snprintf(p->why, sizeof(p->why), "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct probe r;
		close(fds[0]);
		probe_run(o, rw, ring, &r);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	struct pollfd pf = { .fd = fds[0], .events = POLLIN };
	int grace = o->timeout_ms + 3000;
	if (poll(&pf, 1, grace) == 1 && read(fds[0], p, sizeof(*p)) == sizeof(*p)) {
		waitpid(pid, NULL, 0);
	} else {
		kill(pid, SIGKILL); /* its vCPU never came back out of KVM_RUN */
		waitpid(pid, NULL, 0);
		p->status = 2;
		snprintf(p->why, sizeof(p->why), "hangs: vCPU stuck in KVM_RUN, child killed after %d ms", grace);
	}
	close(fds[0]);
}

/* configs/channels.ini: [global] count, pace_us, poll_us, timeout, repeat */
struct ini_target { struct opts *o; int *repeat; };
static int set_key(void *arg, const char *key, const char *value, char *why, size_t n)
{
	struct ini_target *t = arg;
	long long v;
	char *end;

	if (!strcmp(key, "timeout")) {
		v = parse_duration_ms(value);
		if (v <= 0) {
			snprintf(why, n, "\"%s\" is not a duration", value);
			return -1;
		}
		t->o->timeout_ms = (int)v;
		return 0;
	}
	const struct { const char *key; long long hi; int *dst; } keys[] = {
		{ "count", 100000, &t->o->count }, { "pace_us", 100000, &t->o->pace_us },
		{ "poll_us", 1000000, &t->o->poll_us }, { "repeat", 100, t->repeat },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key))
			continue;
		v = strtoll(value, &end, 10);
		if (*end || end == value || v < 1 || v > keys[i].hi) {
			snprintf(why, n, "\"%s\" is not a number in [1, %lld]", value, keys[i].hi);
			return -1;
		}
		*keys[i].dst = (int)v;
		return 0;
	}
	snprintf(why, n, "unknown key (count, pace_us, poll_us, timeout, repeat)");
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvbench channels [options] [EXPERIMENT.ini]\n"
		   "Measures each guest->host notification channel from guest ring 0 and ring 3 on\n"
		   "pvbench's own VMM: the cost as the guest sees it, when the host sees it, and the\n"
		   "exits per notification. Results go to the store as experiment \"channels\".\n\n");
	for (size_t i = 0; i < NR_ROWS; i++)
		fprintf(f, "  %-26s %s\n", rows[i].name, rows[i].help);
	fprintf(f, "\n  --count N        notifications per channel and ring (default 1000)\n"
		   "  --pace-us N      guest waits this long between notifications (default 100)\n"
		   "  --poll-us N      sleep between polls for \"timed poll\" (default 100)\n"
		   "  --timeout D      watchdog per channel (default 5s)\n"
		   "  --repeat N       runs per channel and ring (default 1)\n"
		   "  --db PATH        result store (default results/pvbench.db); --no-store to skip\n");
}

static double ns(double cycles, unsigned khz)
{
	return cycles * 1e6 / khz;
}

int cmd_channels(int argc, char **argv)
{
	/* 'k': the option is an experiment-file key too, set through set_key */
	static const struct option longopts[] = {
		{ "count", 1, 0, 'k' }, { "pace-us", 1, 0, 'k' }, { "poll-us", 1, 0, 'k' },
		{ "timeout", 1, 0, 'k' }, { "repeat", 1, 0, 'k' }, { "db", 1, 0, 'd' },
		{ "no-store", 0, 0, 'n' }, { "help", 0, 0, 'h' }, { 0 },
	};
	struct opts o = { .count = 1000, .pace_us = 100, .poll_us = 100, .timeout_ms = 5000 };
	const char *db = "results/pvbench.db";
	char kernel[1024], err[512];
	struct hostinfo host;
	struct guestinfo gi;
	int opt, idx, repeat = 1, nostore = 0;
	struct ini_target t = { .o = &o, .repeat = &repeat };

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
	if (optind < argc) { /* the file's keys, after the options (as before) */
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
	{
		FILE *f = fopen("/proc/cpuinfo", "r");
		char line[256];
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "vendor_id", 9)) {
				o.amd = strstr(line, "AuthenticAMD") || strstr(line, "HygonGenuine");
				break;
			}
		if (f)
			fclose(f);
	}
	struct store *st = NULL;
	if (!nostore) {
		st = store_open(db, err, sizeof(err));
		if (!st) {
			fprintf(stderr, "pvbench: %s\n", err);
			return EXIT_ERROR;
		}
	}

	static struct probe res[NR_ROWS][2][100];
	int total = (int)NR_ROWS * 2 * repeat, done = 0;
	struct progress pg;
	progress_init(&pg, total);
	for (int r = 0; r < repeat && !pvb_interrupted; r++)
		for (size_t i = 0; i < NR_ROWS && !pvb_interrupted; i++)
			for (int k = 0; k < 2 && !pvb_interrupted; k++) { /* ring 0, ring 3 */
				int ring = k ? 3 : 0;
				struct probe *p = &res[i][k][r];
				char what[96];
				snprintf(what, sizeof(what), "%s, ring %d", rows[i].name, ring);
				progress_begin(&pg, done, what);
				probe(&o, &rows[i], ring, p);
				progress_end(&pg, done++, what, p->status ? p->why : NULL);
				if (!st)
					continue;
				char variant[96], repbuf[8];
				snprintf(variant, sizeof(variant), "channel=%s ring=%d", rows[i].key, ring);
				snprintf(repbuf, sizeof(repbuf), "%d", ring);
				const char *keys[] = { "channel", "ring", "vmm" }, *vals[] = { rows[i].key, repbuf, "pvbench" };
				struct metric_set g = { 0 }, hs = { 0 }, hv = { 0 };
				if (p->status == 0) {
					metrics_add(&g, "cost_p50", "ns", -2, ns(p->cost[1], o.tsc_khz));
					metrics_add(&g, "cost_p50_cycles", "cycles", -2, p->cost[1]);
					metrics_add(&g, "cost_p99", "ns", -2, ns(p->cost[2], o.tsc_khz));
					metrics_add(&g, "cost_p99.9", "ns", -2, ns(p->cost[3], o.tsc_khz));
					metrics_add(&g, "notifications", "count", -2, (double)p->sent);
					metrics_add(&hs, "delivered", "count", -2, (double)p->delivered);
					if (p->nlat) {
						metrics_add(&hs, "seen_after_p50", "ns", -2, ns(p->lat[0], o.tsc_khz));
						metrics_add(&hs, "seen_after_p99", "ns", -2, ns(p->lat[1], o.tsc_khz));
					}
					metrics_add(&hv, "vmm_exits", "count", -2, (double)p->kvm_runs);
					if (p->stat_exits >= 0)
						metrics_add(&hv, "kvm_exits", "count", -2, (double)p->stat_exits);
				}
				char stamp[32];
				struct store_run sr = {
					.experiment = "channels", .variant = variant, .rep = r + 1, .nr_params = 3,
					.param_keys = keys, .param_values = vals,
					.status = p->status == 0 ? "ok" : p->status == 1 ? "error" : "crashed",
					.reason = p->why, .qemu_version = "pvbench-vmm", .sets = { &g, &hs, NULL, &hv },
				};
				hostinfo_fill_run(&sr, &host, &gi, stamp, sizeof(stamp));
				if (store_put_run(st, &sr, err, sizeof(err)))
					fprintf(stderr, "pvbench: %s\n", err);
				metrics_free(&g);
				metrics_free(&hs);
				metrics_free(&hv);
			}
	progress_finish(&pg);
	store_close(st);

	/* the table: medians over repeats of each run's own percentile */
	printf("pvbench channels: %s, %s, TSC %u kHz, %d notifications per row, one every %d us, %d run(s)\n"
	       "clocks: the guest's TSC (rdtsc) and the host's TSC; host clocksource %s\n",
	       host.kvm_backend, host.host_kernel, host.tsc_khz, o.count, o.pace_us, repeat, host.clocksource);
	printf("guest cost: TSC cycles around the notification as the guest sees it, in ns; net = p50 minus\n"
	       "the baseline's p50 in the same ring. host sees it after: host TSC when the VMM or its thread\n"
	       "gets it, minus the guest's TSC before sending. exits/op: KVM_RUN returns seen by the VMM,\n"
	       "and KVM's own vCPU \"exits\" statistic (KVM_GET_STATS_FD), per notification.\n\n");
	printf("%-26s %4s  %9s %9s %9s %9s %9s %6s  %9s %9s  %7s %7s  %s\n", "channel", "ring", "cycles p50",
	       "cost p50", "p99", "p99.9", "net p50", "spread", "seen p50", "p99", "VMM/op", "KVM/op", "delivered");
	double base[2] = { NAN, NAN };
	for (size_t i = 0; i < NR_ROWS; i++)
		for (int k = 0; k < 2; k++) {
			/* medians over the runs that worked; counts from the first of them */
			double c[4], l[2], tmp[100];
			const struct probe *q = NULL;
			for (int f = 0; f < 6; f++) {
				int n = 0;
				for (int r = 0; r < repeat; r++)
					if (!res[i][k][r].status)
						tmp[n++] = f < 4 ? res[i][k][r].cost[f] : res[i][k][r].lat[f - 4];
				if (f < 4)
					c[f] = stats_median(tmp, (size_t)n);
				else
					l[f - 4] = stats_median(tmp, (size_t)n);
			}
			for (int r = 0; r < repeat && !q; r++)
				if (!res[i][k][r].status)
					q = &res[i][k][r];
			printf("%-26s %4d  ", rows[i].name, k ? 3 : 0);
			if (!q) {
				printf("%s\n", res[i][k][0].why);
				continue;
			}
			if (rows[i].ch == PVB_CH_NONE)
				base[k] = c[1];
			const struct probe *b0 = res[0][k][0].status ? NULL : &res[0][k][0];
			/* spread: the per-run p50s' range over their median */
			double lo = INFINITY, hi = -INFINITY;
			for (int r = 0; r < repeat; r++)
				if (!res[i][k][r].status) {
					lo = res[i][k][r].cost[1] < lo ? res[i][k][r].cost[1] : lo;
					hi = res[i][k][r].cost[1] > hi ? res[i][k][r].cost[1] : hi;
				}
			char spread[16];
			if (repeat > 1 && c[1] > 0)
				snprintf(spread, sizeof(spread), "%.0f%%", (hi - lo) / c[1] * 100);
			else
				snprintf(spread, sizeof(spread), "-");
			printf("%10.0f %9.0f %9.0f %9.0f %9.0f %6s  ", c[1], ns(c[1], o.tsc_khz), ns(c[2], o.tsc_khz),
			       ns(c[3], o.tsc_khz), isnan(base[k]) ? NAN : ns(c[1] - base[k], o.tsc_khz), spread);
			if (q->nlat)
				printf("%9.1f %9.1f  ", ns(l[0], o.tsc_khz) / 1000, ns(l[1], o.tsc_khz) / 1000);
			else
				printf("%9s %9s  ", "-", "-");
			printf("%7.2f ", ((double)q->kvm_runs - (b0 ? (double)b0->kvm_runs : 0)) / o.count);
			if (q->stat_exits >= 0 && b0 && b0->stat_exits >= 0)
				printf("%7.2f  ", ((double)q->stat_exits - (double)b0->stat_exits) / o.count);
			else
				printf("%7s  ", "n/a");
			if (rows[i].ch == PVB_CH_HC_KVM && q->stat_hypercalls >= 0)
				printf("%llu of %llu (KVM's hypercall count)\n", (unsigned long long)q->stat_hypercalls,
				       (unsigned long long)q->sent);
			else if (rows[i].ch == PVB_CH_NONE)
				printf("-\n");
			else
				printf("%llu of %llu\n", (unsigned long long)q->delivered, (unsigned long long)q->sent);
		}
	printf("\nspread: the range of the per-run p50 costs over their median.\n");
	printf("guest/host TSC offset known to +-%.1f us (half the tightest KVM_GET_MSRS window)\n",
	       ns((double)res[0][0][0].offset_window / 2, o.tsc_khz) / 1000);
	printf("seen p50/p99 in us; cost in ns. Where the guest's notification never reaches the host the\n"
	       "row says so: \"delivered 0\" means KVM rejected it (e.g. a hypercall from ring 3).\n");
	return pvb_interrupted ? EXIT_INTERRUPTED : EXIT_OK;
}
