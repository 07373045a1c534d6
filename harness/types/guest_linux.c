/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cyclictest.h"
#include "guest_linux.h"
#include "hostinfo.h"
#include "linux_guest.h"
#include "metrics.h"

const char *guest_linux_tool(int i)
{
	static const char *const tools[] = { "cyclictest", "stress-ng", "fio", NULL };
	return i >= 0 && i < 3 ? tools[i] : NULL;
}

int guest_linux_is_tool(const char *name)
{
	for (int i = 0; guest_linux_tool(i); i++)
		if (!strcmp(guest_linux_tool(i), name))
			return 1;
	return 0;
}

int guest_linux_check(const struct run_spec *r, int lx, char *err, size_t errlen)
{
	const char *w = spec_str(r, "workload");
	if (lx && (strcmp(spec_str(r, "vmm"), "qemu") || spec_int(r, "mem_mb") < 256)) {
		snprintf(err, errlen, "guest: linux runs under QEMU (vmm = qemu) with mem_mb >= 256 (its "
			 "initramfs unpacks into RAM)");
		return -1;
	}
	if (lx && !strcmp(w, "fio") && spec_int(r, "mem_mb") < 512) {
		snprintf(err, errlen, "workload: fio in a Linux guest needs mem_mb >= 512 (its libraries unpack "
			 "to 90 MB in the initramfs)");
		return -1;
	}
	if (!lx && guest_linux_is_tool(w)) {
		snprintf(err, errlen, "workload: %s runs in a Linux guest (guest = linux)", w);
		return -1;
	}
	return 0;
}

/* The Linux guest's job, on its kernel command line (workloads/linux/init.c): pvbench's workload
 * through pvb-linux, or a tool; spaces become commas. */
static void linux_job(const struct run_spec *spec, long long duration_ms, char *job, size_t n)
{
	const char *w = spec_str(spec, "workload"), *ja = spec_str(spec, "job_args"), *rp = strstr(ja, "rt_prio=");
	int vcpus = (int)spec_int(spec, "vcpus"), prio = rp ? atoi(rp + 8) : 0;
	size_t o;

	if (!strcmp(w, "cyclictest"))
		o = (size_t)snprintf(job, n, "pvb.run=cyclictest pvb.args=-q,-D,%lld,-i,%s,-t,%d,-a,-h,10000%s%.0d",
				     duration_ms / 1000, spec_str(spec, "interval_us"), vcpus, prio ? ",-p," : "", prio);
	else if (!strcmp(w, "stress-ng"))
		o = (size_t)snprintf(job, n, "pvb.run=stress-ng pvb.args=--cpu,%d,--timeout,%llds,--metrics",
				     vcpus, duration_ms / 1000);
	else if (!strcmp(w, "fio")) { /* job_args are fio's options; else 4k random writes, direct */
		o = (size_t)snprintf(job, n, "pvb.run=fio pvb.args=--name=pvb,--runtime=%lld,--time_based,%s",
				     duration_ms / 1000, *ja ? ja : "--rw=randwrite --bs=4k --size=32M --direct=1 --ioengine=psync");
		for (char *c = job + 12; *c; c++)
			*c = *c == ' ' ? ',' : *c;
	}
	else {
		o = (size_t)snprintf(job, n, "pvb.run=pvb pvb.args=workload=%s,cpus=%d,interval_us=%s,duration_ms=%lld%s%.0d",
				     w, vcpus, spec_str(spec, "interval_us"), duration_ms, prio ? ",prio=" : "", prio);
		if (*ja && o + 2 < n)
			job[o++] = ',';
		for (const char *p = ja; *p && o + 2 < n; p++) /* the workload's own keys */
			if (*p != ' ' || (p[1] && p[1] != ' '))
				job[o++] = *p == ' ' ? ',' : *p, job[o] = 0;
	}
	if (!strcmp(spec_str(spec, "guest_load"), "busy") && o + 12 < n)
		snprintf(job + o, n - o, " pvb.hog=1");
}

/* fio's JSON: each direction that moved data, its bandwidth, operations and completion latency */
static int fio_metrics(const char *path, struct metric_set *m, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	long n = 0;
	int found = 0;

	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = calloc(1, (size_t)n + 1)) && fread(text, 1, (size_t)n, f) == (size_t)n) {
		cJSON *root = cJSON_Parse(text), *job = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "jobs"), 0);
		static const char *const dirs[] = { "read", "write" };
		for (int d = 0; d < 2 && job; d++) {
			cJSON *x = cJSON_GetObjectItem(job, dirs[d]), *bw = cJSON_GetObjectItem(x, "bw"),
			      *iops = cJSON_GetObjectItem(x, "iops"),
			      *lat = cJSON_GetObjectItem(cJSON_GetObjectItem(x, "clat_ns"), "mean");
			char name[48];
			if (!cJSON_IsNumber(bw) || bw->valuedouble <= 0 || !cJSON_IsNumber(iops) || !cJSON_IsNumber(lat))
				continue;
			snprintf(name, sizeof(name), "fio_%s_mb_per_s", dirs[d]);
			metrics_add(m, name, "MB/s", PVB_MORE, METRIC_CPU_VM, bw->valuedouble / 1024); /* from KiB/s */
			snprintf(name, sizeof(name), "fio_%s_io_per_s", dirs[d]);
			metrics_add(m, name, "count", PVB_MORE, METRIC_CPU_VM, iops->valuedouble);
			snprintf(name, sizeof(name), "fio_%s_clat_avg", dirs[d]);
			metrics_add(m, name, "ns", PVB_LESS, METRIC_CPU_VM, lat->valuedouble);
			found = 1;
		}
		cJSON_Delete(root);
	}
	if (f)
		fclose(f);
	free(text);
	if (!found)
		snprintf(err, errlen, "%s: no job that moved data (not fio's JSON?)", path);
	return found ? 0 : -1;
}

/* A tool's own output, sent back by the guest's init (guest-NAME in the run directory) */
static void tool_metrics(const struct run_spec *spec, const struct run_env *env, struct run_result *out)
{
	const char *w = spec_str(spec, "workload");
	char path[1100], err[512], line[512];
	if (!strcmp(w, "cyclictest")) {
		snprintf(path, sizeof(path), "%s/guest-cyclictest.json", env->run_dir);
		if (cyclictest_read_json(path, &out->m[SIDE_GUEST], err, sizeof(err)) < 0)
			run_fail(out, RUN_ERROR, "guest cyclictest: %s", err);
	} else if (!strcmp(w, "fio")) {
		snprintf(path, sizeof(path), "%s/guest-fio.json", env->run_dir);
		if (fio_metrics(path, &out->m[SIDE_GUEST], err, sizeof(err)))
			run_fail(out, RUN_ERROR, "guest fio: %s", err);
	} else if (!strcmp(w, "stress-ng")) {
		/* its YAML: one "bogo-ops-per-second-real-time: X" per stressor */
		snprintf(path, sizeof(path), "%s/guest-stress-ng.yaml", env->run_dir);
		FILE *f = fopen(path, "r");
		double sum = 0;
		int n = 0;
		while (f && fgets(line, sizeof(line), f)) {
			const char *p = strstr(line, "bogo-ops-per-second-real-time:");
			if (p) {
				sum += strtod(p + 30, NULL);
				n++;
			}
		}
		if (f)
			fclose(f);
		if (!n)
			run_fail(out, RUN_ERROR, "guest stress-ng: no bogo-ops rate in %s", path);
		else
			metrics_add(&out->m[SIDE_GUEST], "bogo_ops_per_s", "count", PVB_MORE, METRIC_CPU_VM, sum);
	}
}

int guest_linux_prepare(const struct run_spec *spec, const struct run_env *env, int tcg,
			struct guest_linux *g, char *job, size_t jobn, struct run_result *out)
{
	char err[512];
	int fio = !strcmp(spec_str(spec, "workload"), "fio");

	if (!tcg && !strcmp(env->host->kvm_backend, "kvm_pvm")) {
		run_fail(out, RUN_SKIPPED, "unavailable: kvm_pvm cannot run an unmodified Linux guest "
			 "(its ring 0 is emulated); accel = tcg runs it functionally");
		return -1;
	}
	if (linux_guest_files(fio ? "fio" : "base", g->kernel, sizeof(g->kernel), g->initrd, sizeof(g->initrd),
			      err, sizeof(err))) {
		run_fail(out, RUN_ERROR, "%s", err);
		return -1;
	}
	if (fio) { /* a sparse disk image for fio, removed after the run */
		snprintf(g->disk, sizeof(g->disk), "%s/disk.img", env->run_dir);
		int fd = open(g->disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || ftruncate(fd, 256 << 20) < 0) {
			run_fail(out, RUN_ERROR, "%s: %s", g->disk, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	linux_job(spec, spec_int(spec, "duration"), job, jobn);
	return 0;
}

void guest_linux_finish(const struct run_spec *spec, const struct run_env *env, struct guest_linux *g,
			struct run_result *out)
{
	if (out->status == RUN_OK)
		tool_metrics(spec, env, out);
	if (g->disk[0])
		unlink(g->disk);
}
