/* SPDX-License-Identifier: MIT */
/* pvbench guest run: boot one guest, run one job, print its table. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "config.h"
#include "engine.h"
#include "hostinfo.h"
#include "metrics.h"
#include "pvb_record.h"

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

/* The one run's value of a key (each is single: options set one value) */
static const char *value_of(const struct experiment *e, const char *key)
{
	for (int k = 0; k < e->nkeys; k++)
		if (!strcmp(e->keys[k]->name, key))
			return e->global.vals[k].v[0];
	return "";
}

/* A key of the one-run experiment from an option: checked as the key is, named as the option. */
static int set(struct experiment *e, const char *opt, const char *key, const char *value)
{
	char err[512];
	if (experiment_set(e, opt, key, value, err, sizeof(err))) {
		fprintf(stderr, "pvbench: %s\n", err);
		return -1;
	}
	return 0;
}

/* --set KEY=VALUE: one more of the workload's keys into job_args (space-separated). */
static int add_job_arg(char *job_args, size_t len, const char *kv)
{
	if (!strchr(kv, '=') || strchr(kv, ' ') || kv[0] == '=') {
		fprintf(stderr, "pvbench: --set: \"%s\" is not KEY=VALUE\n", kv);
		return -1;
	}
	if (strlen(job_args) + strlen(kv) + 2 > len) {
		fprintf(stderr, "pvbench: --set: too many keys\n");
		return -1;
	}
	snprintf(job_args + strlen(job_args), len - strlen(job_args), "%s%s", job_args[0] ? " " : "", kv);
	return 0;
}

/* The options into the one-run experiment E, each checked as its key is; the others' values
 * into o. 0, EXIT_ERROR, or -1 when --help printed the usage. */
struct guest_opts { const char *run_dir, *kernel; int linux_guest; };

static int options(int argc, char **argv, struct experiment *e, struct guest_opts *o)
{
	static const struct option opts[] = {
		{ "workload", 1, 0, 'w' }, { "vcpus", 1, 0, 'c' }, { "interval-us", 1, 0, 'i' },
		{ "duration", 1, 0, 'd' }, { "set", 1, 0, 's' }, { "mem", 1, 0, 'm' },
		{ "timeout", 1, 0, 't' }, { "run-dir", 1, 0, 'r' }, { "kernel", 1, 0, 'k' },
		{ "vmm", 1, 0, 'V' }, { "accel", 1, 0, 'A' }, { "guest", 1, 0, 'G' }, { "help", 0, 0, 'h' }, { 0 },
	};
	char job_args[CFG_VAL_LEN] = "";
	int opt, mem_set = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'w': rc = set(e, "--workload", "workload", optarg); break;
		case 'c': rc = set(e, "--vcpus", "vcpus", optarg); break;
		case 'i': rc = set(e, "--interval-us", "interval_us", optarg); break;
		case 'm': rc = set(e, "--mem", "mem_mb", optarg), mem_set = 1; break;
		case 'V': rc = set(e, "--vmm", "vmm", optarg); break;
		case 'A': rc = set(e, "--accel", "accel", optarg); break;
		case 'G': rc = set(e, "--guest", "guest", optarg), o->linux_guest = !strcmp(optarg, "linux"); break;
		case 'd':
		case 't':
			/* a run of nothing measures nothing: not an ok run of 0 samples */
			if (parse_duration_ms(optarg) == 0) {
				fprintf(stderr, "pvbench: --%s: must be longer than 0\n", opt == 'd' ? "duration" : "timeout");
				return EXIT_ERROR;
			}
			rc = set(e, opt == 'd' ? "--duration" : "--timeout", opt == 'd' ? "duration" : "timeout", optarg);
			break;
		case 's': rc = add_job_arg(job_args, sizeof(job_args), optarg); break;
		case 'r': o->run_dir = optarg; break;
		case 'k': o->kernel = optarg; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_ERROR;
		}
		if (rc)
			return EXIT_ERROR;
	}
	if (optind < argc) {
		fprintf(stderr, "pvbench: guest run: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_ERROR;
	}
	if ((job_args[0] && set(e, "--set", "job_args", job_args)) ||
	    (o->linux_guest && !mem_set && set(e, "--guest", "mem_mb", "256")))
		return EXIT_ERROR;
	return 0;
}

/* What came back: the run's heading, boot and ring-0 costs, and the per-vCPU table. */
static void print_run(const struct experiment *e, const struct hostinfo *host, const struct guestinfo *gi,
		      const struct run_result *out, const struct guest_opts *o)
{
	const struct metric_set *ms = &out->m[SIDE_GUEST];
	const struct metric *m;
	printf("pvbench guest run: %s, %s vCPU(s), interval %s us, %s: %s\n", value_of(e, "workload"),
	       value_of(e, "vcpus"), value_of(e, "interval_us"), value_of(e, "duration"), run_status_name(out->status));
	printf("host:  %s, kernel %s, TSC %u kHz, VMM %s\n", host->kvm_backend, host->host_kernel, host->tsc_khz,
	       out->vmm[0] ? out->vmm : "?");
	if (o->linux_guest)
		printf("guest: Linux (guest = linux)\n");
	else
		printf("guest: build %s, ring-0 wake-up path %d instructions\n", gi->build_id, gi->wake_path_insn);
	if (ms->n) {
		if ((m = metrics_find(&out->m[SIDE_HARNESS], "boot_to_workload", METRIC_CPU_VM)) && m->value >= 0)
			printf("boot:  %.1f ms to workload (host clock)", m->value / 1e6);
		else
			printf("boot:  -");
		if ((m = metrics_find(ms, "boot.to_workload", METRIC_CPU_VM)))
			printf(", %.1f ms of it in the guest", m->value / 1e6);
		if ((m = metrics_find(ms, "r0.wake_path", METRIC_CPU_VM)))
			printf("; ring-0 cost %.1f us per wake-up", m->value / 1e3);
		if ((m = metrics_find(ms, "r0.null_syscall", METRIC_CPU_VM)))
			printf(", %.1f us per null syscall", m->value / 1e3);
		printf("\n\n");
		if (out->status == RUN_OK)
			print_table(ms, atoi(value_of(e, "vcpus")));
	}
	printf("files: %s\n", o->run_dir);
}

static int exit_status(enum run_status s)
{
	switch (s) {
	case RUN_OK: return EXIT_OK;
	case RUN_FAILED: return EXIT_FAILED;
	case RUN_CRASHED: return EXIT_CRASHED;
	case RUN_TIMEOUT: return EXIT_TIMEOUT;
	case RUN_INTERRUPTED: return EXIT_INTERRUPTED;
	default: return EXIT_ERROR;
	}
}

/* One run of the guest type (its checks, its defaults, its job), with no store: the per-vCPU
 * table of what came back. */
static int guest_run(int argc, char **argv)
{
	static struct experiment e;
	struct guest_opts o = { 0 };
	char dir[512], kpath[1024], err[512];
	struct hostinfo host;
	struct guestinfo gi;
	struct run_result out;

	/* the guest alone: no host cyclictest beside it (pvbench run does that) */
	if (experiment_empty("guest-run", "guest", &e, err, sizeof(err)) ||
	    experiment_set(&e, "guest run", "host_cyclictest", "off", err, sizeof(err))) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	int rc = options(argc, argv, &e, &o);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	hostinfo_read(&host, err, sizeof(err)); /* host.no_kvm says why not; the type skips or refuses */
	if (!o.kernel) {
		snprintf(kpath, sizeof(kpath), "%s/pvbench-guest.elf", pvb_build_dir());
		o.kernel = kpath;
	}
	if (guestinfo_read(o.kernel, &gi, err, sizeof(err)) < 0 ||
	    experiment_check(&e, err, sizeof(err))) { /* before a run directory is made for it */
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	if (!o.run_dir) {
		char stamp[32];
		time_t t = time(NULL);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&t));
		snprintf(dir, sizeof(dir), "results/runs/guest-%s-%d", stamp, (int)getpid());
		o.run_dir = dir;
	}
	if (mkdir_p(o.run_dir) < 0) {
		perror(o.run_dir);
		return EXIT_ERROR;
	}
	const struct run_env env = { .host = &host, .guest = &gi, .kernel = o.kernel, .run_dir = o.run_dir };
	fprintf(stderr, "pvbench: booting %s on %s vCPU(s) for %s under %s ...\n", value_of(&e, "workload"),
		value_of(&e, "vcpus"), value_of(&e, "duration"), value_of(&e, "vmm"));
	if (engine_run_alone(&e, &env, &out, err, sizeof(err))) {
		fprintf(stderr, "pvbench: %s\n", err);
		return EXIT_ERROR;
	}
	print_run(&e, &host, &gi, &out, &o);
	if (out.status != RUN_OK)
		fprintf(stderr, "pvbench: guest %s: %s\n", run_status_name(out.status), out.reason);
	if (out.status == RUN_SKIPPED && strstr(out.reason, "accel = tcg runs it")) /* the key, as this command spells it */
		fprintf(stderr, "pvbench: --accel tcg runs it under QEMU's emulator (functional, no real timing)\n");
	rc = exit_status(out.status);
	run_result_free(&out);
	return rc;
}

int cmd_guest(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return guest_run(argc - 1, argv + 1);
	fprintf(stderr, "usage: pvbench guest run [options]   (pvbench guest run --help)\n");
	return EXIT_ERROR;
}
