/* SPDX-License-Identifier: MIT */
/*
 * Runs one guest under QEMU (-accel kvm -M microvm) and watches it: guest RAM is a memfd that
 * pvbench maps too (the result record and progress word are read from it, no exit needed), QMP
 * runs over a socketpair, QEMU is in its own process group and dies with pvbench.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "pvb_record.h"
#include "qmp.h"
#include "vm.h"


static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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
	vm_set_reason(r, VM_CRASHED, "KVM emulation failure at RIP %s (QEMU status internal-error)",
		   rip);
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

int vm_run_qemu(const struct vm_spec *s, const struct vm_hooks *hooks, struct vm_result *r)
{
	int mem_mb = s->mem_mb ? s->mem_mb : 64, memfd = -1, sv[2] = { -1, -1 };
	size_t mem_size = (size_t)mem_mb << 20;
	unsigned char *mem = MAP_FAILED;
	char err[512], a_obj[160], a_qmp[64], a_con[600], a_smp[16], a_mem[16], append[2048],
		log_path[512], status[32];
	struct child qemu;
	struct qmp *q = NULL;
	double t0, next_status = 0, next_tick = 0;
	int phase = 0, killed = 0;

	memset(r, 0, sizeof(*r));
	r->boot_to_ring3_ms = r->boot_to_workload_ms = -1;
	r->exit_code = -1;
	if (s->vcpus < 1 || s->vcpus > VM_MAX_VCPUS || mem_mb < 16 || mem_mb > 3072) {
		vm_set_reason(r, VM_ERROR, "%s", "vcpus must be 1..16 and memory 16..3072 MiB");
		return -1;
	}
	memfd = memfd_create("pvbench-guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)mem_size) < 0 ||
	    (mem = mmap(NULL, mem_size, PROT_READ, MAP_SHARED, memfd, 0)) == MAP_FAILED ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		vm_set_reason(r, VM_ERROR, "guest memory or QMP socket: %s", strerror(errno));
		goto out;
	}
	snprintf(a_obj, sizeof(a_obj),
		 "memory-backend-file,id=mem,share=on,mem-path=/proc/self/fd/%d,size=%dM", memfd,
		 mem_mb);
	snprintf(a_qmp, sizeof(a_qmp), "socket,id=qmp,fd=%d", sv[1]);
	{
		char esc[520];
		qemu_escape(esc, sizeof(esc), s->run_dir);
		snprintf(a_con, sizeof(a_con), "file,id=con,path=%s/console.log", esc);
	}
	snprintf(a_smp, sizeof(a_smp), "%d", s->vcpus);
	snprintf(a_mem, sizeof(a_mem), "%dM", mem_mb);
	vm_cmdline(s, mem_size, append, sizeof(append));
	snprintf(log_path, sizeof(log_path), "%s/qemu.log", s->run_dir);

	/* microvm without legacy devices boots in ~50 ms; -cpu host for TSC-deadline (qemu64
	 * lacks it); arch-capabilities off because kvm_pvm refuses MSR 0x10a. */
	char *argv[] = {
		"qemu-system-x86_64", "-accel", "kvm",
		"-M", "microvm,pic=off,pit=off,rtc=off,memory-backend=mem",
		"-object", a_obj, "-m", a_mem,
		"-cpu", getenv("PVBENCH_QEMU_CPU") ? getenv("PVBENCH_QEMU_CPU") : "host,-arch-capabilities",
		"-smp", a_smp,
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-chardev", a_con, "-serial", "chardev:con",
		"-chardev", a_qmp, "-mon", "chardev=qmp,mode=control",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-kernel", (char *)s->kernel, "-append", append, NULL
	};
	int keep[] = { memfd, sv[1] };
	struct child_io io = { .stdout_path = log_path, .stderr_path = log_path, .keep_fds = keep,
			       .nr_keep_fds = 2 };

	t0 = mono_ms();
	if (child_spawn(&qemu, argv, &io, err, sizeof(err)) < 0) {
		vm_set_reason(r, VM_ERROR, "%s", err);
		goto out;
	}
	close(sv[1]);
	sv[1] = -1;
	q = qmp_open_fd(sv[0], 5000, err, sizeof(err));
	sv[0] = -1;
	if (!q) {
		child_wait(&qemu, 200);
		char line[400];
		last_log_line(log_path, line, sizeof(line));
		vm_set_reason(r, VM_ERROR, "QEMU did not start: %s", line);
		goto reap;
	}
	snprintf(r->qemu_version, sizeof(r->qemu_version), "QEMU %s", qmp_version(q));
	r->nr_tids = qmp_vcpu_tids(q, r->tids, VM_MAX_VCPUS, err, sizeof(err));
	if (r->nr_tids != s->vcpus) {
		vm_set_reason(r, VM_ERROR, "%s", r->nr_tids < 0 ? err : "QEMU reports a wrong vCPU count");
		goto reap;
	}
	if (hooks && hooks->started && hooks->started(hooks->arg, r->tids, r->nr_tids, err, sizeof(err))) {
		vm_set_reason(r, VM_ERROR, "%s", err);
		goto reap;
	}

	const volatile struct pvb_live *live = (const void *)(mem + mem_size - VM_OUT_SIZE);
	for (;;) {
		double now = mono_ms();

		if (child_poll(&qemu))
			break;
		if (pvb_interrupted) {
			vm_set_reason(r, VM_INTERRUPTED, "%s", "interrupted (signal)");
			break;
		}
		if (now - t0 > s->timeout_ms) {
			snprintf(err, sizeof(err), "guest still running after its %d ms timeout%s",
				 s->timeout_ms, phase < PVB_PHASE_WORKLOAD ? " (it never started the workload)" : "");
			vm_set_reason(r, VM_TIMEOUT, "%s", err);
			break;
		}
		/* progress word: written by the untrusted guest, only compared */
		if (live->magic == PVB_LIVE_MAGIC && live->phase > (unsigned)phase &&
		    live->phase <= PVB_PHASE_DONE) {
			phase = (int)live->phase;
			if (phase >= PVB_PHASE_RING3 && r->boot_to_ring3_ms < 0)
				r->boot_to_ring3_ms = now - t0;
			if (phase >= PVB_PHASE_WORKLOAD && r->boot_to_workload_ms < 0)
				r->boot_to_workload_ms = now - t0;
		}
		if (now >= next_status) {
			next_status = now + 200;
			if (qmp_status(q, status, sizeof(status), err, sizeof(err)) == 0 &&
			    !strcmp(status, "internal-error")) {
				internal_error_reason(q, r);
				break;
			}
		}
		if (hooks && hooks->tick && now >= next_tick) {
			next_tick = now + 10;
			if (hooks->tick(hooks->arg, err, sizeof(err))) {
				vm_set_reason(r, VM_ERROR, "%s", err);
				break;
			}
		}
		/* fine-grained until the workload starts (boot timing), then relaxed */
		nanosleep(&(struct timespec){ 0, phase < PVB_PHASE_WORKLOAD ? 200000 : 5000000 }, NULL);
	}
reap:
	if (!qemu.exited) {
		killed = 1;
		child_kill(&qemu);
	}
	r->wall_ms = mono_ms() - t0;
	if (!killed && WIFEXITED(qemu.status)) {
		int code = WEXITSTATUS(qemu.status);
		r->exit_code = code;
		if (code & 1) { /* isa-debug-exit: (value << 1) | 1 */
			enum vm_outcome o = vm_outcome_of_exit_value(code >> 1, err, sizeof(err));
			if (o != VM_OK)
				vm_set_reason(r, o, "%s", err);
		} else if (code == 0) {
			vm_set_reason(r, VM_CRASHED, "%s",
				      "the guest reset or powered off without an exit status (triple fault?)");
		} else {
			char line[400];
			last_log_line(log_path, line, sizeof(line));
			snprintf(err, sizeof(err), "QEMU exited with status %d: %s", code, line);
			vm_set_reason(r, VM_ERROR, "%s", err);
		}
	} else if (!killed && WIFSIGNALED(qemu.status)) {
		snprintf(err, sizeof(err), "QEMU died by signal %d", WTERMSIG(qemu.status));
		vm_set_reason(r, VM_ERROR, "%s", err);
	}
	vm_take_record(mem, mem_size, r);
out:
	qmp_close(q);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (mem != MAP_FAILED)
		munmap(mem, mem_size);
	if (memfd >= 0)
		close(memfd);
	return r->outcome == VM_OK ? 0 : -1;
}
