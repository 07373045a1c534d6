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
#include <stdarg.h>
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
#include "hostinfo.h"
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
static void guest_tsc_now(FILE *f, pid_t qemu, const struct vm_spec *s, uint64_t *tsc, int *have)
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
		tsc[i] = (uint64_t)scaled + (uint64_t)off;
		have[i] = 1;
		fprintf(f, "vCPU %d: 0x%016" PRIx64 "\n", i, tsc[i]);
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
	uint64_t tsc[VM_MAX_VCPUS] = { 0 };
	int have[VM_MAX_VCPUS] = { 0 };

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
		guest_tsc_now(f, v->c.pid, s, tsc, have);
		fclose(f);
	}
	/* the guest's TSC-deadline sleep: its deadline is in RDI at the hlt */
	uint64_t sleep0 = 0, sleep1 = 0;
	int in_sleep = s->kernel && !s->initrd && !guest_symbol_addr(s->kernel, "gk_r0_sleep_begin", &sleep0) &&
		       !guest_symbol_addr(s->kernel, "gk_r0_sleep_end", &sleep1);
	size_t n = strlen(r->reason);
	/* "info registers -a": a block per vCPU, each from its "CPU#N" line */
	const char *p = strstr(ret->valuestring, "CPU#");
	for (int cpu = 0; p && cpu < VM_MAX_VCPUS && n + 40 < sizeof(r->reason); cpu++) {
		const char *next = strstr(p + 4, "CPU#");
		size_t len = next ? (size_t)(next - p) : strlen(p);
		char block[4096];
		snprintf(block, sizeof(block), "%.*s", (int)len, p);
		p = next;
		const char *rip = strstr(block, "RIP="), *di = strstr(block, "RDI="), *hlt = strstr(block, "HLT=");
		if (!rip)
			continue;
		unsigned long long pc = strtoull(rip + 4, NULL, 16), rdi = di ? strtoull(di + 4, NULL, 16) : 0;
		char state[64] = "";
		if (hlt && hlt[4] == '1' && in_sleep && di && have[cpu] && pc >= sleep0 && pc <= sleep1) {
			double ahead = ((double)rdi - (double)tsc[cpu]) / (s->tsc_khz * 1e3);
			snprintf(state, sizeof(state), " (halted, TSC deadline %s %.3f s)", ahead >= 0 ? "in" : "passed",
				 ahead >= 0 ? ahead : -ahead);
		} else if (hlt && hlt[4] == '1') {
			snprintf(state, sizeof(state), " (halted)");
		}
		n += (size_t)snprintf(r->reason + n, sizeof(r->reason) - n, "%s vCPU %d at 0x%.16s%s",
				      cpu ? "," : "; registers.txt:", cpu, rip + 4, state);
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

/* QEMU's command line: its strings and the argv pointing into them. */
struct qemu_args {
	char obj[160], qmp[64], con[600], smp[16], mem[16], append[2048], out[600], ivs_chr[48], ivs_dev[64],
		disk[600], accel[64];
	char *argv[48];
	int n;
};

static void arg(struct qemu_args *a, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n && a->n < (int)(sizeof(a->argv) / sizeof(a->argv[0])) - 1; i++)
		a->argv[a->n++] = va_arg(ap, char *);
	va_end(ap);
	a->argv[a->n] = NULL;
}

/* The command line of a VM whose memory is v->memfd (backing bytes) and whose QMP is the socket
 * qmp_fd; the ivshmem device's -chardev and -device already in a (ivs: there is one). */
static void qemu_argv(struct qemu_args *a, struct qemu_vm *v, const struct vm_spec *s, size_t backing, int qmp_fd,
		      int ivs, const char *incoming)
{
	char esc[520];
	snprintf(a->obj, sizeof(a->obj), "memory-backend-file,id=mem,share=on,mem-path=/proc/self/fd/%d,size=%zuK",
		 v->memfd, backing >> 10);
	snprintf(a->qmp, sizeof(a->qmp), "socket,id=qmp,fd=%d", qmp_fd);
	qemu_escape(esc, sizeof(esc), s->run_dir);
	snprintf(a->con, sizeof(a->con), "file,id=con,path=%s/console.log", esc);
	snprintf(a->smp, sizeof(a->smp), "%d", s->vcpus);
	snprintf(a->mem, sizeof(a->mem), "%zuK", backing >> 10);
	if (s->initrd)
		linux_cmdline(v, s, a->append, sizeof(a->append), a->out, sizeof(a->out));
	else
		vm_cmdline(s, v->mem_size, a->append, sizeof(a->append));
	snprintf(a->accel, sizeof(a->accel), "%s", s->tcg ? "tcg" : "kvm");
	if (!s->tcg && s->dirty_ring)
		snprintf(a->accel, sizeof(a->accel), "kvm,dirty-ring-size=%d", s->dirty_ring);
	/* microvm without legacy devices boots in ~50 ms; -cpu host for TSC-deadline (qemu64
	 * lacks it); arch-capabilities off because kvm_pvm refuses MSR 0x10a. */
	const char *cpu = getenv("PVBENCH_QEMU_CPU") ? getenv("PVBENCH_QEMU_CPU") :
			  s->tcg ? "max" : "host,-arch-capabilities";
	a->n = 0;
	arg(a, 3, "qemu-system-x86_64", "-accel", a->accel);
	arg(a, 2, "-M", ivs ? "microvm,pic=off,pit=off,rtc=off,memory-backend=mem,pcie=on" :
			      "microvm,pic=off,pit=off,rtc=off,memory-backend=mem");
	arg(a, 8, "-object", a->obj, "-m", a->mem, "-cpu", cpu, "-smp", a->smp);
	arg(a, 4, "-nodefaults", "-no-user-config", "-nographic", "-no-reboot");
	arg(a, 4, "-chardev", a->con, "-serial", "chardev:con");
	arg(a, 4, "-chardev", a->qmp, "-mon", "chardev=qmp,mode=control");
	arg(a, 4, "-kernel", s->kernel, "-append", a->append);
	if (!s->initrd) /* the pvbench guest ends through isa-debug-exit; Linux powers off */
		arg(a, 2, "-device", "isa-debug-exit,iobase=" PVB_STR(PVB_PORT_EXIT) ",iosize=0x04");
	else
		arg(a, 6, "-initrd", s->initrd, "-chardev", a->out, "-device",
		    "isa-debugcon,iobase=" PVB_STR(PVB_BLOB_PORT) ",chardev=out");
	if (s->disk) {
		qemu_escape(esc, sizeof(esc), s->disk);
		snprintf(a->disk, sizeof(a->disk), "file=%s,if=none,id=disk,format=raw", esc);
		arg(a, 4, "-drive", a->disk, "-device", "virtio-blk-device,drive=disk");
	}
	if (ivs) /* the region behind a PCIe device, served by pvbench over a socketpair */
		arg(a, 4, "-chardev", a->ivs_chr, "-device", a->ivs_dev);
	if (incoming) /* a migration's destination: it waits, and stays paused once the state is in */
		arg(a, 3, "-incoming", incoming, "-S");
}

/* QMP over the socket QEMU was given; where QEMU does not answer, why: its exit, or its log's
 * last line. 0, or -1 with the reason in r. */
static int qmp_connect(struct qemu_vm *v, int fd, struct vm_result *r)
{
	char err[512];
	/* QEMU's start-up on a loaded host (a nested KVM beside a build) took over 5 s: the greeting
	 * may take 30; a QEMU that fails exits at once and closes the socket */
	v->q = qmp_open_fd(fd, 30000, 5000, err, sizeof(err));
	if (!v->q) {
		char line[400], why[1000];
		int exited = child_wait(&v->c, 200);
		last_log_line(v->log_path, line, sizeof(line));
		if (exited)
			snprintf(why, sizeof(why), "%s", line);
		else
			snprintf(why, sizeof(why), "%s (it still ran; qemu.log: %s)", err, line);
		vm_set_reason(r, RUN_ERROR, "QEMU did not start: %s", why);
		return -1;
	}
	snprintf(r->vmm, sizeof(r->vmm), "QEMU %s%s", qmp_version(v->q), v->s->tcg ? " (tcg)" : "");
	return 0;
}

int qemu_vm_start(struct qemu_vm *v, const struct vm_spec *s, const char *incoming, struct vm_result *r)
{
	int mem_mb = s->mem_mb ? s->mem_mb : 64, sv[2] = { -1, -1 };
	char err[512];
	struct qemu_args *a = calloc(1, sizeof(*a));

	memset(v, 0, sizeof(*v));
	v->memfd = -1;
	v->mem = MAP_FAILED;
	v->s = s;
	v->mem_size = (size_t)mem_mb << 20;
	/* Under TCG, two pages more than the guest is told of. QEMU before 9.0 (Debian 12 has 7.2)
	 * syncs the migration dirty bitmap of a RAM block whose size is a multiple of 64 pages 64
	 * bits at a time without making TCG's TLB mark pages dirty again, so a vCPU's later stores
	 * through its TLB were lost to the migration: a byte of an interrupt frame differed at the
	 * destination in most 2-vCPU runs (QEMU commit 03bfc2188f, "physmem: Fix migration dirty
	 * bitmap coherency with TCG memory access"). Another size takes the page-by-page path, which
	 * does. KVM tracks dirty pages itself: its RAM is as asked. */
	size_t backing = v->mem_size + (s->tcg ? 8192 : 0); /* -m rounds up to 8 KiB */
	if (!a || s->vcpus < 1 || s->vcpus > VM_MAX_VCPUS || mem_mb < 16 || mem_mb > 3072) {
		vm_set_reason(r, RUN_ERROR, "%s", a ? "vcpus must be 1..16 and memory 16..3072 MiB" : "out of memory");
		goto fail;
	}
	v->memfd = memfd_create("pvbench-guest-ram", MFD_CLOEXEC);
	if (v->memfd < 0 || ftruncate(v->memfd, (off_t)backing) < 0 ||
	    (v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->memfd, 0)) == MAP_FAILED ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		vm_set_reason(r, RUN_ERROR, "guest memory or QMP socket: %s", strerror(errno));
		goto fail;
	}
	snprintf(v->log_path, sizeof(v->log_path), "%s/qemu.log", s->run_dir);
	int ivs = vm_has_ivshmem(s);
	if (ivs && ivshmem_setup(v, s, incoming, a->ivs_chr, sizeof(a->ivs_chr), a->ivs_dev, sizeof(a->ivs_dev), r))
		goto fail;
	qemu_argv(a, v, s, backing, sv[1], ivs, incoming);
	int keep[] = { v->memfd, sv[1], v->ivs.qemu_fd };
	struct child_io io = { .stdout_path = v->log_path, .stderr_path = v->log_path, .keep_fds = keep,
			       .nr_keep_fds = ivs ? 3 : 2 };

	if (!incoming)
		vm_boost_init(s, v->mem, v->mem_size);
	if (child_spawn(&v->c, a->argv, &io, err, sizeof(err)) < 0) {
		vm_set_reason(r, RUN_ERROR, "%s", err);
		goto fail;
	}
	close(sv[1]);
	sv[1] = -1;
	if (ivs) { /* QEMU has it now */
		close(v->ivs.qemu_fd);
		v->ivs.qemu_fd = -1;
	}
	int fd = sv[0];
	sv[0] = -1; /* qmp_connect owns it */
	if (qmp_connect(v, fd, r))
		goto fail;
	free(a);
	return 0;
fail:
	free(a);
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
	int killed = 0, started = 0, ended_early = 0;
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
	/* a guest that ends at once (a bad job fails in milliseconds under TCG) may take QEMU and its
	 * monitor with it before the question: then its exit says how it went (an "ok" says that no
	 * policy ran). Seen as "QMP: QEMU closed the monitor" in 1 of 30 such runs under load. */
	if (r->nr_tids < 0 && child_wait(&v.c, 1000)) {
		ended_early = 1;
		goto reap;
	}
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
		/* the same race a step later: a policy that found the vCPU threads gone */
		if (child_wait(&v.c, 200))
			ended_early = 1;
		else
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
	if (ended_early) /* the first reason stands: only a run that looked ok gets this one */
		vm_set_reason(r, RUN_ERROR, "%s", "the guest ended before its policy started: no policy ran");
	qemu_vm_stop(&v);
	return r->outcome == RUN_OK ? 0 : -1;
}

const struct vm_backend vm_backend_qemu = {
	.name = "qemu",
	.help = "QEMU -M microvm under KVM: guest RAM is a memfd pvbench maps too, QMP over a socketpair",
	.run = run_qemu,
};
