/* SPDX-License-Identifier: MIT */
/* pvbench guest run: boot one guest, run one job, print its table. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "hostinfo.h"
#include "linux_guest.h"
#include "metrics.h"
#include "pvb_record.h"
#include "vm.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvbench guest run [options]\n"
		"Boots pvbench's guest kernel under QEMU/KVM, runs one job on every vCPU, prints its\n"
		"results per vCPU and in total. Exit status: 0 ok, 1 error, 2 workload failed,\n"
		"3 guest crashed, 4 timeout, 130 interrupted.\n\n"
		"  --workload NAME     cyclic (default), fault, hang\n"
		"  --vcpus N           vCPUs (default 1)\n"
		"  --interval-us N     cyclic: wake-up interval (default 1000)\n"
		"  --duration D        how long the workload runs: 5s, 500ms, 1m (default 5s)\n"
		"  --set KEY=VALUE     any workload key (repeatable), e.g. --set hist_us=20000\n"
		"  --mem MIB           guest memory (default 64)\n"
		"  --timeout D         kill the guest after D (default: duration + 30s)\n"
		"  --run-dir DIR       console.log, qemu.log, record.bin (default results/runs/guest-...)\n"
		"  --kernel ELF        guest kernel (default: next to the pvbench binary)\n"
		"  --vmm NAME          qemu (default) or pvbench (pvbench's own VMM, impl/vmm)\n"
		"  --accel A           kvm (default) or tcg (QEMU's emulator: functional, no timing is real)\n"
		"  --guest G           pvbench (default: its own kernel) or linux (Debian's kernel or\n"
		"                      $PVBENCH_LINUX_KERNEL with pvbench's initramfs; memory 256 MiB)\n");
}

static void print_value(const struct metric *m, int width)
{
	if (!m)
		printf("  %*s", width, "-");
	else if (!strcmp(m->unit, "ns"))
		printf("  %*.1f", width, m->value / 1000.0);
	else
		printf("  %*.0f", width, m->value);
}

/* One row per vCPU and a total row; columns = the per-CPU metrics in record order. */
static void print_table(const struct metric_set *ms, int vcpus)
{
	const char *cols[32];
	int nc = 0, width[32];

	for (size_t i = 0; i < ms->n && nc < 32; i++) {
		int seen = 0;
		if (ms->m[i].cpu != 0)
			continue;
		for (int c = 0; c < nc; c++)
			seen |= !strcmp(cols[c], ms->m[i].name);
		if (!seen)
			cols[nc++] = ms->m[i].name;
	}
	if (!nc) { /* a valid record may carry no per-vCPU metric at all */
		printf("(the record has no per-vCPU metrics)\n");
		return;
	}
	printf("%-5s", "vCPU");
	for (int c = 0; c < nc; c++) {
		const struct metric *m = metrics_find(ms, cols[c], 0);
		char head[64];
		snprintf(head, sizeof(head), "%s%s", cols[c], !strcmp(m->unit, "ns") ? "_us" : "");
		width[c] = (int)strlen(head) < 8 ? 8 : (int)strlen(head);
		printf("  %*s", width[c], head);
	}
	printf("\n");
	for (int cpu = 0; cpu < vcpus; cpu++) {
		printf("%-5d", cpu);
		for (int c = 0; c < nc; c++)
			print_value(metrics_find(ms, cols[c], cpu), width[c]);
		printf("\n");
	}
	if (metrics_find(ms, cols[0], METRIC_CPU_ALL)) {
		printf("%-5s", "all");
		for (int c = 0; c < nc; c++)
			print_value(metrics_find(ms, cols[c], METRIC_CPU_ALL), width[c]);
		printf("\n");
	}
}

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(p, 1, n, f);
	return fclose(f);
}

static int guest_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workload", 1, 0, 'w' }, { "vcpus", 1, 0, 'c' }, { "interval-us", 1, 0, 'i' },
		{ "duration", 1, 0, 'd' }, { "set", 1, 0, 's' }, { "mem", 1, 0, 'm' },
		{ "timeout", 1, 0, 't' }, { "run-dir", 1, 0, 'r' }, { "kernel", 1, 0, 'k' },
		{ "vmm", 1, 0, 'V' }, { "accel", 1, 0, 'A' }, { "guest", 1, 0, 'G' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *workload = "cyclic", *run_dir = NULL, *kernel = NULL, *vmm = "qemu";
	long long vcpus = 1, interval_us = 1000, duration_ms = 5000, timeout_ms = -1, mem = -1;
	char extra[1024] = "", job[1400], dir[512], kpath[1024], err[512], initrd[600];
	int lx = 0;
	struct hostinfo host;
	struct guestinfo gi;
	struct vm_result res;
	int opt, tcg = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': workload = optarg; break;
		case 'c': if (parse_int("--vcpus", optarg, 1, VM_MAX_VCPUS, &vcpus)) return EXIT_ERROR; break;
		case 'i': if (parse_int("--interval-us", optarg, 50, 10000000, &interval_us)) return EXIT_ERROR; break;
		case 'm': if (parse_int("--mem", optarg, 16, 3072, &mem)) return EXIT_ERROR; break;
		case 'd':
		case 't': {
			long long v = parse_duration_ms(optarg);
			if (v < 0) {
				fprintf(stderr, "pvbench: --%s: \"%s\" is not a duration (5s, 500ms, 2m)\n",
					opt == 'd' ? "duration" : "timeout", optarg);
				return EXIT_ERROR;
			}
			if (v == 0) { /* a run of nothing measures nothing: not an ok run of 0 samples */
				fprintf(stderr, "pvbench: --%s: must be longer than 0\n", opt == 'd' ? "duration" : "timeout");
				return EXIT_ERROR;
			}
			*(opt == 'd' ? &duration_ms : &timeout_ms) = v;
			break;
		}
		case 's':
			if (!strchr(optarg, '=') || strchr(optarg, ' ') || optarg[0] == '=') {
				fprintf(stderr, "pvbench: --set: \"%s\" is not KEY=VALUE\n", optarg);
				return EXIT_ERROR;
			}
			if (strlen(extra) + strlen(optarg) + 2 > sizeof(extra)) {
				fprintf(stderr, "pvbench: --set: too many keys\n");
				return EXIT_ERROR;
			}
			strcat(extra, " ");
			strcat(extra, optarg);
			break;
		case 'A':
			if (strcmp(optarg, "kvm") && strcmp(optarg, "tcg")) {
				fprintf(stderr, "pvbench: --accel: \"%s\" is not kvm or tcg\n", optarg);
				return EXIT_ERROR;
			}
			tcg = !strcmp(optarg, "tcg");
			break;
		case 'G':
			if (strcmp(optarg, "pvbench") && strcmp(optarg, "linux")) {
				fprintf(stderr, "pvbench: --guest: \"%s\" is not pvbench or linux\n", optarg);
				return EXIT_ERROR;
			}
			lx = !strcmp(optarg, "linux");
			break;
		case 'r': run_dir = optarg; break;
		case 'k': kernel = optarg; break;
		case 'V':
			if (!vm_backend_find(optarg)) {
				fprintf(stderr, "pvbench: --vmm: \"%s\" is not qemu or pvbench\n", optarg);
				return EXIT_ERROR;
			}
			vmm = optarg;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvbench: guest run: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_ERROR;
	}
	if (timeout_ms < 0)
		timeout_ms = duration_ms + (lx ? 60000 : 30000);
	if (mem < 0)
		mem = lx ? 256 : 64;
	if (hostinfo_read(&host, err, sizeof(err)) < 0 && !tcg) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	if (lx) {
		if (!tcg && !strcmp(host.kvm_backend, "kvm_pvm")) {
			fprintf(stderr, "pvbench: kvm_pvm cannot run an unmodified Linux guest (its ring 0 is "
				"emulated): --accel tcg runs it functionally\n");
			return EXIT_ERROR;
		}
		if (linux_guest_files("base", kpath, sizeof(kpath), initrd, sizeof(initrd), err, sizeof(err))) {
			fprintf(stderr, "pvbench: %s\n", err);
			return EXIT_ERROR;
		}
		kernel = kpath;
	} else {
		if (!kernel) {
			snprintf(kpath, sizeof(kpath), "%s/pvbench-guest.elf", pvb_build_dir());
			kernel = kpath;
		}
		if (guestinfo_read(kernel, &gi, err, sizeof(err)) < 0) {
			fprintf(stderr, "pvbench: %s\n", err);
			return EXIT_ERROR;
		}
	}
	if (!run_dir) {
		char stamp[32];
		time_t t = time(NULL);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&t));
		snprintf(dir, sizeof(dir), "results/runs/guest-%s-%d", stamp, (int)getpid());
		run_dir = dir;
	}
	if (mkdir_p(run_dir) < 0) {
		perror(run_dir);
		return EXIT_ERROR;
	}
	if (lx) { /* the job on the kernel command line, commas for spaces (workloads/linux/init.c) */
		int n = snprintf(job, sizeof(job), "pvb.run=pvb pvb.args=workload=%s,cpus=%lld,interval_us=%lld,"
				 "duration_ms=%lld%s", workload, vcpus, interval_us, duration_ms, extra);
		for (char *c = job + 12; n > 0 && *c; c++)
			*c = *c == ' ' ? ',' : *c;
	} else {
		snprintf(job, sizeof(job), "workload=%s interval_us=%lld duration_ms=%lld%s", workload,
			 interval_us, duration_ms, extra);
	}

	struct vm_spec spec = {
		.kernel = kernel, .initrd = lx ? initrd : NULL, .vcpus = (int)vcpus, .mem_mb = (int)mem, .job = job,
		.timeout_ms = (int)timeout_ms, .run_dir = run_dir, .tsc_khz = host.tsc_khz, .tcg = tcg,
	};
	fprintf(stderr, "pvbench: booting %s on %lld vCPU(s) for %.1f s under %s%s ...\n", workload,
		vcpus, duration_ms / 1000.0, vmm, tcg ? " (tcg: not a latency measurement)" : "");
	vm_run(vmm, &spec, NULL, &res);
	if (res.record)
		write_file(run_dir, "record.bin", res.record, res.record_len);

	printf("pvbench guest run: %s, %lld vCPU(s), interval %lld us, %.1f s: %s\n", workload,
	       vcpus, interval_us, duration_ms / 1000.0, run_status_name(res.outcome));
	printf("host:  %s, kernel %s, TSC %u kHz, VMM %s\n", host.kvm_backend, host.host_kernel,
	       host.tsc_khz, res.vmm[0] ? res.vmm : "?");
	if (lx)
		printf("guest: Linux %s, initramfs %s\n", kernel, initrd);
	else
		printf("guest: build %s, ring-0 wake-up path %d instructions\n", gi.build_id,
		       gi.wake_path_insn);
	if (res.record) {
		struct metric_set ms;
		const struct metric *m;
		metrics_from_record(res.record, &ms);
		if (lx)
			printf("boot:  QEMU start to power-off %.1f s (host clock)", res.wall_ms / 1e3);
		else
			printf("boot:  %.1f ms to workload (host clock)", res.boot_to_workload_ms);
		if ((m = metrics_find(&ms, "boot.to_workload", METRIC_CPU_VM)))
			printf(", %.1f ms of it in the guest", m->value / 1e6);
		if ((m = metrics_find(&ms, "r0.wake_path", METRIC_CPU_VM)))
			printf("; ring-0 cost %.1f us per wake-up", m->value / 1e3);
		if ((m = metrics_find(&ms, "r0.null_syscall", METRIC_CPU_VM)))
			printf(", %.1f us per null syscall", m->value / 1e3);
		printf("\n\n");
		if (res.outcome == RUN_OK)
			print_table(&ms, (int)vcpus);
		metrics_free(&ms);
	}
	printf("files: %s\n", run_dir);
	if (res.outcome != RUN_OK)
		fprintf(stderr, "pvbench: guest %s: %s\n", run_status_name(res.outcome), res.reason);
	vm_result_free(&res);
	switch (res.outcome) {
	case RUN_OK: return EXIT_OK;
	case RUN_FAILED: return EXIT_FAILED;
	case RUN_CRASHED: return EXIT_CRASHED;
	case RUN_TIMEOUT: return EXIT_TIMEOUT;
	case RUN_INTERRUPTED: return EXIT_INTERRUPTED;
	default: return EXIT_ERROR;
	}
}

int cmd_guest(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return guest_run(argc - 1, argv + 1);
	fprintf(stderr, "usage: pvbench guest run [options]   (pvbench guest run --help)\n");
	return EXIT_ERROR;
}
