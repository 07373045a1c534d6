/* SPDX-License-Identifier: MIT */
/*
 * Runs one guest under QEMU (-accel kvm -M microvm) and watches it: guest RAM is a memfd that
 * pvbench maps too (the result record and progress word are read from it, no exit needed), QMP
 * runs over a socketpair, QEMU is in its own process group and dies with pvbench. The QEMU
 * process itself is struct qemu_vm (qemu.h), which the migration type runs two of.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "linux_guest.h"
#include "pvb_blob.h"
#include "pvb_boost.h"
#include "pvb_record.h"
#include "qemu.h"
#include "qmp.h"
#include "vm.h"

#define PVB_STR_(x) #x
#define PVB_STR(x) PVB_STR_(x)

/* The last non-empty line of QEMU's log: its error message, if it printed one. */
static void last_log_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];

	snprintf(out, len, "(no message; see %s)", path);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (line[0])
			snprintf(out, len, "%s", line);
	}
	fclose(f);
}

/* On emulation failure QEMU stops the VM and stays up: take RIP from "info registers". */
static void internal_error_reason(struct qmp *q, struct vm_result *r)
{
	char err[256], rip[32] = "?";
	cJSON *args = cJSON_CreateObject(), *ret;

	cJSON_AddStringToObject(args, "command-line", "info registers");
	ret = qmp_call(q, "human-monitor-command", args, err, sizeof(err));
	if (cJSON_IsString(ret)) {
		const char *p = strstr(ret->valuestring, "RIP=");
		if (p)
			snprintf(rip, sizeof(rip), "0x%.16s", p + 4);
	}
	cJSON_Delete(ret);
	vm_set_reason(r, RUN_CRASHED, "KVM emulation failure at RIP %s (QEMU status internal-error)",
		   rip);
}

/* A number from one of KVM's debugfs files DIR/NAME, or -1. */
static int kvm_debugfs_num(const char *dir, const char *name, long long *out)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fscanf(f, "%lld", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Each vCPU's TSC as its guest reads it now, so a hang in a TSC-deadline sleep says whether its
 * deadline (in the halted vCPU's registers) had passed. QMP has no TSC; KVM's debugfs has each
 * vCPU's offset and scaling: guest TSC = (host TSC * ratio >> frac_bits) + offset. */
static void guest_tsc_now(FILE *f, pid_t qemu, const struct vm_spec *s)
{
	const char *root = "/sys/kernel/debug/kvm";
	char prefix[32], dir[512] = "";
	DIR *d = opendir(root);
	struct dirent *e;

	snprintf(prefix, sizeof(prefix), "%d-", (int)qemu);
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			snprintf(dir, sizeof(dir), "%s/%s", root, e->d_name);
	if (d)
		closedir(d);
	if (!*dir) {
		fprintf(f, "\nguest TSC: not read (no %s/%s*: debugfs not mounted, or not KVM)\n", root, prefix);
		return;
	}
	fprintf(f, "\nguest TSC now (host TSC through %s/vcpuN/tsc-offset; %u kHz):\n", dir, s->tsc_khz);
	for (int i = 0; i < s->vcpus && i < VM_MAX_VCPUS; i++) {
		char vd[560];
		long long off, ratio = 0, frac = 0;
		snprintf(vd, sizeof(vd), "%s/vcpu%d", dir, i);
		uint64_t host = __builtin_ia32_rdtsc();
		if (kvm_debugfs_num(vd, "tsc-offset", &off)) {
			fprintf(f, "vCPU %d: no tsc-offset\n", i);
			continue;
		}
		unsigned __int128 scaled = host; /* no scaling files: the guest's TSC runs at the host's rate */
		if (!kvm_debugfs_num(vd, "tsc-scaling-ratio", &ratio) &&
		    !kvm_debugfs_num(vd, "tsc-scaling-ratio-frac-bits", &frac) && ratio > 0 && frac > 0 && frac < 64)
			scaled = (scaled * (unsigned long long)ratio) >> frac;
		fprintf(f, "vCPU %d: 0x%016" PRIx64 "\n", i, (uint64_t)scaled + (uint64_t)off);
	}
}

/* A guest that hangs is killed at its timeout; first, where its vCPUs were: every vCPU's registers
 * into registers.txt beside the console, and each one's RIP (and whether it had halted) in the
 * reason, so a hang says where it hung. Best effort: QEMU may not answer. */
static void timeout_where(const struct qemu_vm *v, struct vm_result *r)
{
	struct qmp *q = v->q;
	const struct vm_spec *s = v->s;
	char err[256], path[1024], status[64];
	cJSON *args = cJSON_CreateObject(), *ret;

	if (qmp_status(q, status, sizeof(status), err, sizeof(err)) == 0 && strcmp(status, "running")) {
		size_t n = strlen(r->reason); /* a VM QEMU had stopped: its clock stood still */
		snprintf(r->reason + n, sizeof(r->reason) - n, "; QEMU status %s", status);
	}
	cJSON_AddStringToObject(args, "command-line", "info registers -a");
	ret = qmp_call(q, "human-monitor-command", args, err, sizeof(err));
	if (!cJSON_IsString(ret)) {
		cJSON_Delete(ret);
		return;
	}
	snprintf(path, sizeof(path), "%s/registers.txt", s->run_dir ? s->run_dir : ".");
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(ret->valuestring, f);
		for (int i = 0; i < s->vcpus && i < VM_MAX_VCPUS; i++) { /* its interrupts: IRR, ISR, timer */
			char cmd[32];
			cJSON *a = cJSON_CreateObject(), *l;
			snprintf(cmd, sizeof(cmd), "info lapic %d", i);
			cJSON_AddStringToObject(a, "command-line", cmd);
			l = qmp_call(q, "human-monitor-command", a, err, sizeof(err));
			if (cJSON_IsString(l))
				fprintf(f, "\n%s:\n%s", cmd, l->valuestring);
			cJSON_Delete(l);
		}
		guest_tsc_now(f, v->c.pid, s);
		fclose(f);
	}
	size_t n = strlen(r->reason);
	const char *p = ret->valuestring;
	for (int cpu = 0; (p = strstr(p, "RIP=")) && n + 40 < sizeof(r->reason); cpu++, p += 4) {
		const char *hlt = strstr(p, "HLT=");
		n += (size_t)snprintf(r->reason + n, sizeof(r->reason) - n, "%s vCPU %d at 0x%.16s%s",
				      cpu ? "," : "; registers.txt:", cpu, p + 4,
				      hlt && hlt[4] == '1' ? " (halted)" : "");
	}
	cJSON_Delete(ret);
}

/* QEMU option values separate with commas: a literal comma is written twice. */
static void qemu_escape(char *out, size_t n, const char *in)
{
	size_t o = 0;
	for (; *in && o + 2 < n; in++) {
		out[o++] = *in;
		if (*in == ',')
			out[o++] = ',';
	}
	out[o] = 0;
}

/* A Linux guest's command line (its own, not pvbench's guest's), and the chardev its init's blobs
 * come back over (isa-debugcon into run_dir/guest-out.bin). */
static void linux_cmdline(struct qemu_vm *v, const struct vm_spec *s, char *append, size_t n, char *a_out,
			  size_t out_n)
{
	char esc[520], boost[160] = "";

	if (s->boost) /* the host's region: reserved from the kernel, named for the module */
		snprintf(boost, sizeof(boost), "memmap=0x%x$0x%zx pvb_boost.region=0x%zx,0x%x ", PVB_PV_SIZE,
			 vm_boost_offset(s, v->mem_size), vm_boost_offset(s, v->mem_size), PVB_PV_SIZE);
	/* Under TCG every vCPU's TSC is the host's, offset once, yet Linux's warp check between
	 * two emulated CPUs fails and it falls back to jiffies (microvm has no HPET or PM timer):
	 * a 4 ms clock. tsc=reliable skips that check; under KVM the kernel decides as usual. */
	snprintf(append, n, "console=ttyS0 quiet panic=-1 tsc_early_khz=%u %s%s%s", s->tsc_khz,
		 s->tcg ? "tsc=reliable " : "", boost, s->job);
	snprintf(v->out_path, sizeof(v->out_path), "%s/guest-out.bin", s->run_dir);
	unlink(v->out_path);
	qemu_escape(esc, sizeof(esc), v->out_path);
	snprintf(a_out, out_n, "file,id=out,path=%s", esc);
}

/* The ivshmem-doorbell device pvbench serves (the boost region, the block device behind it), and
 * QEMU's -chardev and -device for it. 0, or -1 with the reason in r. */
static int ivshmem_setup(struct qemu_vm *v, const struct vm_spec *s, const char *incoming, char *chr,
			 size_t chr_n, char *dev, size_t dev_n, struct vm_result *r)
{
	char err[512];
	int nv = s->iodev_mb ? 2 * s->vcpus : s->vcpus;

	if (s->initrd || incoming) {
		vm_set_reason(r, RUN_ERROR, "%s", "the ivshmem device (boost region, block device) runs with "
			      "pvbench's guest, not a Linux guest or a migration");
		return -1;
	}
	/* BAR2: the boost region, then the block device's queues (pvb_io.h); host vectors: a boost
	 * kick per vCPU, then an I/O kick per vCPU; the guest's: a completion per vCPU */
	if (ivshmem_server_start(&v->ivs, s->iodev_mb ? 2 * PVB_PV_SIZE : PVB_PV_SIZE, nv, s->iodev_mb ? s->vcpus : 0,
				 err, sizeof(err)) ||
	    (s->iodev_mb && iodev_start(&v->iodev, (unsigned char *)v->ivs.shm + PVB_IO_OFFSET, PVB_PV_SIZE, s->vcpus,
					(size_t)s->iodev_mb << 20, v->mem, v->mem_size, v->ivs.kick_fd + s->vcpus,
					v->ivs.irq_fd, err, sizeof(err)))) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		return -1;
	}
	if (s->boost)
		pvb_boost_host_init(v->ivs.shm, PVB_PV_SIZE, (unsigned)s->vcpus,
				    s->boost_features ? s->boost_features : VM_BOOST_FEATURES,
				    (uint8_t)(s->boost_max_prio ? s->boost_max_prio : 50));
	snprintf(chr, chr_n, "socket,id=ivs,fd=%d", v->ivs.qemu_fd);
	snprintf(dev, dev_n, "ivshmem-doorbell,chardev=ivs,vectors=%d", nv);
	return 0;
}

int qemu_vm_start(struct qemu_vm *v, const struct vm_spec *s, const char *incoming, struct vm_result *r)
{
	int mem_mb = s->mem_mb ? s->mem_mb : 64, sv[2] = { -1, -1 };
	char err[512], a_obj[160], a_qmp[64], a_con[600], a_smp[16], a_mem[16], append[2048], a_out[600];

	memset(v, 0, sizeof(*v));
	v->memfd = -1;
	v->mem = MAP_FAILED;
	v->s = s;
	v->mem_size = (size_t)mem_mb << 20;
	if (s->vcpus < 1 || s->vcpus > VM_MAX_VCPUS || mem_mb < 16 || mem_mb > 3072) {
		vm_set_reason(r, RUN_ERROR, "%s", "vcpus must be 1..16 and memory 16..3072 MiB");
		return -1;
	}
	v->memfd = memfd_create("pvbench-guest-ram", MFD_CLOEXEC);
	if (v->memfd < 0 || ftruncate(v->memfd, (off_t)v->mem_size) < 0 ||
	    (v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->memfd, 0)) == MAP_FAILED ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		vm_set_reason(r, RUN_ERROR, "guest memory or QMP socket: %s", strerror(errno));
		goto fail;
	}
	snprintf(a_obj, sizeof(a_obj),
		 "memory-backend-file,id=mem,share=on,mem-path=/proc/self/fd/%d,size=%dM", v->memfd,
		 mem_mb);
	snprintf(a_qmp, sizeof(a_qmp), "socket,id=qmp,fd=%d", sv[1]);
	{
		char esc[520];
		qemu_escape(esc, sizeof(esc), s->run_dir);
		snprintf(a_con, sizeof(a_con), "file,id=con,path=%s/console.log", esc);
	}
	snprintf(a_smp, sizeof(a_smp), "%d", s->vcpus);
	snprintf(a_mem, sizeof(a_mem), "%dM", mem_mb);
	if (s->initrd)
		linux_cmdline(v, s, append, sizeof(append), a_out, sizeof(a_out));
	else
		vm_cmdline(s, v->mem_size, append, sizeof(append));
	snprintf(v->log_path, sizeof(v->log_path), "%s/qemu.log", s->run_dir);
	int ivs = vm_has_ivshmem(s);
	char a_ivs_chr[48], a_ivs_dev[64];
	if (ivs && ivshmem_setup(v, s, incoming, a_ivs_chr, sizeof(a_ivs_chr), a_ivs_dev, sizeof(a_ivs_dev), r))
		goto fail;

	/* microvm without legacy devices boots in ~50 ms; -cpu host for TSC-deadline (qemu64
	 * lacks it); arch-capabilities off because kvm_pvm refuses MSR 0x10a. */
	const char *cpu = getenv("PVBENCH_QEMU_CPU") ? getenv("PVBENCH_QEMU_CPU") :
			  s->tcg ? "max" : "host,-arch-capabilities";
	char a_disk[600] = "", *argv[48];
	int na = 0;
#define ARG(...) do { const char *a_[] = { __VA_ARGS__ }; \
		for (size_t k_ = 0; k_ < sizeof(a_) / sizeof(a_[0]); k_++) argv[na++] = (char *)a_[k_]; } while (0)
	char a_accel[64];
	snprintf(a_accel, sizeof(a_accel), "%s", s->tcg ? "tcg" : "kvm");
	if (!s->tcg && s->dirty_ring)
		snprintf(a_accel, sizeof(a_accel), "kvm,dirty-ring-size=%d", s->dirty_ring);
	ARG("qemu-system-x86_64", "-accel", a_accel,
	    "-M", ivs ? "microvm,pic=off,pit=off,rtc=off,memory-backend=mem,pcie=on" :
			"microvm,pic=off,pit=off,rtc=off,memory-backend=mem",
	    "-object", a_obj, "-m", a_mem, "-cpu", cpu, "-smp", a_smp,
	    "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
	    "-chardev", a_con, "-serial", "chardev:con",
	    "-chardev", a_qmp, "-mon", "chardev=qmp,mode=control",
	    "-kernel", s->kernel, "-append", append);
	if (!s->initrd) /* the pvbench guest ends through isa-debug-exit; Linux powers off */
		ARG("-device", "isa-debug-exit,iobase=" PVB_STR(PVB_PORT_EXIT) ",iosize=0x04");
	else
		ARG("-initrd", s->initrd, "-chardev", a_out,
		    "-device", "isa-debugcon,iobase=" PVB_STR(PVB_BLOB_PORT) ",chardev=out");
	if (s->disk) {
		char esc[520];
		qemu_escape(esc, sizeof(esc), s->disk);
		snprintf(a_disk, sizeof(a_disk), "file=%s,if=none,id=disk,format=raw", esc);
		ARG("-drive", a_disk, "-device", "virtio-blk-device,drive=disk");
	}
	if (ivs) /* the region behind a PCIe device, served by pvbench over a socketpair */
		ARG("-chardev", a_ivs_chr, "-device", a_ivs_dev);
	if (incoming) /* a migration's destination: it waits, and stays paused once the state is in */
		ARG("-incoming", incoming, "-S");
	argv[na] = NULL;
#undef ARG
	int keep[] = { v->memfd, sv[1], v->ivs.qemu_fd };
	struct child_io io = { .stdout_path = v->log_path, .stderr_path = v->log_path, .keep_fds = keep,
			       .nr_keep_fds = ivs ? 3 : 2 };

	if (!incoming)
		vm_boost_init(s, v->mem, v->mem_size);
	if (child_spawn(&v->c, argv, &io, err, sizeof(err)) < 0) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		goto fail;
	}
	close(sv[1]);
	sv[1] = -1;
	if (ivs) { /* QEMU has it now */
		close(v->ivs.qemu_fd);
		v->ivs.qemu_fd = -1;
	}
	/* QEMU's start-up on a loaded host (a nested KVM beside a build) took over 5 s: the greeting
	 * may take 30; a QEMU that fails exits at once and closes the socket */
	v->q = qmp_open_fd(sv[0], 30000, 5000, err, sizeof(err));
	sv[0] = -1;
	if (!v->q) {
		char line[400], why[1000];
		int exited = child_wait(&v->c, 200);
		last_log_line(v->log_path, line, sizeof(line));
		if (exited)
			snprintf(why, sizeof(why), "%s", line);
		else
			snprintf(why, sizeof(why), "%s (it still ran; qemu.log: %s)", err, line);
		vm_set_reason(r, RUN_ERROR, "QEMU did not start: %s", why);
		goto fail;
	}
	snprintf(r->vmm, sizeof(r->vmm), "QEMU %s%s", qmp_version(v->q), s->tcg ? " (tcg)" : "");
	return 0;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	qemu_vm_stop(v);
	return -1;
}

void qemu_vm_outcome(struct qemu_vm *v, int killed, struct vm_result *r)
{
	char err[512];
	const struct vm_spec *s = v->s;

	if (!killed && WIFEXITED(v->c.status)) {
		int code = WEXITSTATUS(v->c.status);
		r->exit_code = code;
		if (s->initrd && code == 0) { /* Linux powered off: what init sent says how it went */
			int st;
			linux_guest_take(v->out_path, s->run_dir, r, &st);
			if (st < 0)
				vm_set_reason(r, RUN_CRASHED, "%s", "the Linux guest powered off without a status (see console.log)");
			else if (st) {
				snprintf(err, sizeof(err), "the guest's tool exited with status %d (see console.log)", st);
				vm_set_reason(r, RUN_FAILED, "%s", err);
			}
		} else if (code & 1) { /* isa-debug-exit: (value << 1) | 1 */
			enum run_status o = vm_status_of_exit_value(code >> 1, err, sizeof(err));
			if (o != RUN_OK)
				vm_set_reason(r, o, "%s", err);
		} else if (code == 0) {
			vm_set_reason(r, RUN_CRASHED, "%s",
				      "the guest reset or powered off without an exit status (triple fault?)");
		} else {
			char line[400];
			last_log_line(v->log_path, line, sizeof(line));
			snprintf(err, sizeof(err), "QEMU exited with status %d: %s", code, line);
			vm_set_reason(r, RUN_ERROR, "%s", err);
		}
	} else if (!killed && WIFSIGNALED(v->c.status)) {
		snprintf(err, sizeof(err), "QEMU died by signal %d", WTERMSIG(v->c.status));
		vm_set_reason(r, RUN_ERROR, "%s", err);
	}
	if (!s->initrd)
		vm_take_record(v->mem, v->mem_size, r);
}

void qemu_vm_stop(struct qemu_vm *v)
{
	if (v->c.pid > 0 && !v->c.exited)
		child_kill(&v->c);
	iodev_stop(&v->iodev); /* before the memory it serves goes */
	qmp_close(v->q);
	v->q = NULL;
	if (v->mem != MAP_FAILED && v->mem)
		munmap(v->mem, v->mem_size);
	v->mem = MAP_FAILED;
	if (v->memfd >= 0)
		close(v->memfd);
	v->memfd = -1;
	ivshmem_server_stop(&v->ivs);
}

void *qemu_vm_boost(struct qemu_vm *v)
{
	if (!v->s->boost)
		return NULL;
	return vm_has_ivshmem(v->s) ? v->ivs.shm : v->mem + vm_boost_offset(v->s, v->mem_size);
}

static int run_qemu(const struct vm_spec *s, const struct vm_hooks *hooks, struct vm_result *r)
{
	struct qemu_vm v;
	char err[512], status[32];
	double next_status = 0;
	int killed = 0, started = 0;
	struct vm_watch w;

	memset(r, 0, sizeof(*r));
	r->boot_to_ring3_ms = r->boot_to_workload_ms = -1;
	r->exit_code = -1;
	double t0 = vm_now_ms(); /* boot times count from before QEMU starts */
	if (qemu_vm_start(&v, s, NULL, r))
		return -1;
	vm_watch_begin(&w, s, v.mem, v.mem_size);
	w.t0 = t0;
	r->nr_tids = qmp_vcpu_tids(v.q, r->tids, VM_MAX_VCPUS, err, sizeof(err));
	if (r->nr_tids != s->vcpus) {
		vm_set_reason(r, RUN_ERROR, "%s", r->nr_tids < 0 ? err : "QEMU reports a wrong vCPU count");
		goto reap;
	}
	struct vm_view view = { .tids = r->tids, .nr_vcpus = r->nr_tids, .mem = v.mem, .mem_size = v.mem_size,
				.tsc_khz = s->tsc_khz, .boost = qemu_vm_boost(&v),
				.boost_size = s->boost ? PVB_PV_SIZE : 0,
				.kick_fds = s->boost && vm_has_ivshmem(s) ? v.ivs.kick_fd : NULL,
				.dev_tid = s->iodev_mb ? v.iodev.tid : 0 };
	started = 1;
	if (hooks && hooks->started && hooks->started(hooks->arg, &view, err, sizeof(err))) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		goto reap;
	}

	for (;;) {
		int sleep_us;
		if (child_poll(&v.c))
			break;
		if (vm_watch_step(&w, s, hooks, r, &sleep_us) >= 0) {
			if (r->outcome == RUN_TIMEOUT)
				timeout_where(&v, r);
			break;
		}
		if (vm_now_ms() >= next_status) {
			next_status = vm_now_ms() + 200;
			if (qmp_status(v.q, status, sizeof(status), err, sizeof(err)) == 0 &&
			    !strcmp(status, "internal-error")) {
				internal_error_reason(v.q, r);
				break;
			}
		}
		nanosleep(&(struct timespec){ 0, sleep_us * 1000L }, NULL);
	}
reap:
	if (hooks && hooks->ended && started)
		hooks->ended(hooks->arg); /* QEMU and guest RAM are still there */
	if (!v.c.exited) {
		killed = 1;
		child_kill(&v.c);
	}
	r->wall_ms = vm_now_ms() - w.t0;
	qemu_vm_outcome(&v, killed, r);
	qemu_vm_stop(&v);
	return r->outcome == RUN_OK ? 0 : -1;
}

const struct vm_backend vm_backend_qemu = {
	.name = "qemu",
	.help = "QEMU -M microvm under KVM: guest RAM is a memfd pvbench maps too, QMP over a socketpair",
	.run = run_qemu,
};
