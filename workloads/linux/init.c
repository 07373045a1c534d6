/* SPDX-License-Identifier: MIT */
/*
 * /init of pvbench's Linux-guest initramfs (scripts/linux-initramfs), static. It mounts what the
 * tools need, reads its job from the kernel command line, runs one tool, returns its outputs as
 * blobs (pvb_blob.h) through isa-debugcon, and powers the guest off. Its own messages and the
 * tools' output go to the console (the host keeps console.log).
 *
 *   pvb.run=pvb|cyclictest|stress-ng|fio   what to run (pvb: build/pvb-linux, the workload API;
 *                                      fio: on the virtio-blk disk, /dev/vda)
 *   pvb.args=a,b,c                     its arguments, commas for spaces
 *   pvb.hog=1                          a busy guest: a SCHED_OTHER hog on every CPU meanwhile
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "pvb_blob.h"
#include "pvb_record.h"

static void say(const char *fmt, const char *a)
{
	fprintf(stderr, "pvb-init: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\n");
}

/* rep outsb, with the memory it reads declared: glibc's outsb() has no memory operand, and the
 * compiler dropped the store of the CRC it could not see being read */
static void out_bytes(const void *p, size_t n)
{
	__asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((unsigned short)PVB_BLOB_PORT) : "memory");
}

static void send(const char *name, const void *data, uint32_t len)
{
	struct pvb_blob_hdr h = { .length = len };
	memcpy(h.magic, PVB_BLOB_MAGIC, 8);
	snprintf(h.name, sizeof(h.name), "%s", name);
	h.crc32 = pvb_crc32(0, data, len);
	out_bytes(&h, sizeof(h));
	out_bytes(data, len);
}

/* read to the end: a sysfs file's size is a page, whatever it holds */
static void send_file(const char *name, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;
	if (!f) {
		say("no %s", path);
		return;
	}
	for (;;) {
		if (n == cap) {
			char *more = cap < PVB_BLOB_MAX ? realloc(buf, cap ? 2 * cap : 4096) : NULL;
			if (!more) {
				say("cannot read %s", path);
				fclose(f);
				free(buf);
				return;
			}
			buf = more;
			cap = cap ? 2 * cap : 4096;
		}
		if (!(got = fread(buf + n, 1, cap - n, f)))
			break;
		n += got;
	}
	fclose(f);
	send(name, buf, (uint32_t)n);
	free(buf);
}

/* value of KEY= on the kernel command line, into out */
static int cmdline(const char *key, char *out, size_t n)
{
	static char line[4096];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t len = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return -1;
	line[len] = 0;
	for (char *p = strtok(line, " \n"); p; p = strtok(NULL, " \n"))
		if (!strncmp(p, key, strlen(key)) && p[strlen(key)] == '=') {
			snprintf(out, n, "%s", p + strlen(key) + 1);
			return 0;
		}
	return -1;
}

static int run(char **argv)
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		say("cannot run %s", argv[0]);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return pid < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* one busy loop per CPU, pinned, at normal priority: what an RT task must preempt */
static void hogs(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(i, &set);
			sched_setaffinity(0, sizeof(set), &set);
			for (volatile unsigned long x = 0;; x++)
				;
		}
	}
}

/* A module's parameters from the kernel command line, NAME.key=value -> "key=value ...", as
 * modprobe would pass them */
static void module_params(const char *name, char *out, size_t n)
{
	static char line[4096];
	size_t o = 0, len = strlen(name);
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t r = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
	if (fd >= 0)
		close(fd);
	out[0] = 0;
	line[r > 0 ? r : 0] = 0;
	for (char *p = strtok(line, " \n"); p; p = strtok(NULL, " \n"))
		if (!strncmp(p, name, len) && p[len] == '.' && o + strlen(p) + 2 < n)
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? " " : "", p + len + 1);
}

/* the initramfs's modules (/lib/pvb-modules/NN-NAME.ko, in load order) */
static void modules(void)
{
	struct dirent **e;
	int n = scandir("/lib/pvb-modules", &e, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char path[300], name[64], params[1024];
		const char *d = e[i]->d_name, *dash = strchr(d, '-');
		snprintf(path, sizeof(path), "/lib/pvb-modules/%s", d);
		snprintf(name, sizeof(name), "%.*s", dash ? (int)strcspn(dash + 1, ".") : 0, dash ? dash + 1 : "");
		module_params(name, params, sizeof(params));
		int fd = d[0] != '.' ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0 && syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
			fprintf(stderr, "pvb-init: module %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(e[i]);
	}
	if (n >= 0)
		free(e);
}

/* the disk fio writes: its driver probes after the modules loaded */
static int disk(void)
{
	for (int t = 0; t < 100; t++) {
		if (access("/dev/vda", R_OK | W_OK) == 0)
			return 0;
		usleep(50000);
	}
	say("%s", "no /dev/vda after 5 s");
	return -1;
}

int main(void)
{
	char hog[8] = "";
	pid_t hog_pids[64];
	int nhogs = 0;
	char what[64] = "", args[2048] = "", status[16], *argv[128];
	int n = 0, rc;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	if (ioperm(PVB_BLOB_PORT, 1, 1) < 0)
		say("ioperm: %s", strerror(errno));
	cmdline("pvb.run", what, sizeof(what));
	cmdline("pvb.args", args, sizeof(args));
	cmdline("pvb.hog", hog, sizeof(hog));
	pvb_crc32_init();
	modules();
	if (!strcmp(hog, "1")) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		nhogs = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
		hogs(hog_pids, nhogs);
	}

	if (!strcmp(what, "pvb"))
		argv[n++] = "/bin/pvb-linux";
	else if (!strcmp(what, "cyclictest"))
		argv[n++] = "/bin/cyclictest";
	else if (!strcmp(what, "stress-ng"))
		argv[n++] = "/bin/stress-ng";
	else if (!strcmp(what, "fio") && !disk())
		argv[n++] = "/bin/fio";
	else if (strcmp(what, "fio"))
		say("pvb.run=%s: not pvb, cyclictest, stress-ng or fio", what);
	for (char *p = strtok(args, ","); n && p && n < 120; p = strtok(NULL, ","))
		argv[n++] = p;
	if (!n)
		; /* nothing to run: status 127 says so */
	else if (!strcmp(what, "pvb"))
		argv[n++] = "out=/tmp/record";
	else if (!strcmp(what, "cyclictest"))
		argv[n++] = "--json=/tmp/cyclictest.json";
	else if (!strcmp(what, "stress-ng")) {
		argv[n++] = "--yaml";
		argv[n++] = "/tmp/stress-ng.yaml";
	} else if (!strcmp(what, "fio")) {
		argv[n++] = "--filename=/dev/vda";
		argv[n++] = "--output-format=json";
		argv[n++] = "--output=/tmp/fio.json";
	}
	argv[n] = NULL;
	rc = n ? run(argv) : 127;
	for (int i = 0; i < nhogs; i++)
		if (hog_pids[i] > 0)
			kill(hog_pids[i], SIGKILL);
	snprintf(status, sizeof(status), "%d", rc);
	if (!strcmp(what, "pvb"))
		send_file("record", "/tmp/record");
	else if (!strcmp(what, "cyclictest"))
		send_file("cyclictest.json", "/tmp/cyclictest.json");
	else if (!strcmp(what, "stress-ng"))
		send_file("stress-ng.yaml", "/tmp/stress-ng.yaml");
	else if (!strcmp(what, "fio"))
		send_file("fio.json", "/tmp/fio.json");
	/* what the guest's clock_gettime read: a tick-based clocksource (jiffies) makes every time
	 * the tools measured a multiple of the tick, which the host refuses */
	send_file("clocksource", "/sys/devices/system/clocksource/clocksource0/current_clocksource");
	send("status", status, (uint32_t)strlen(status));
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
