/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"
#include "hostinfo.h"
#include "linux_guest.h"
#include "pvb_blob.h"
#include "pvb_record.h"
#include "vm.h"

int linux_guest_files(const char *variant, char *kernel, size_t kn, char *initrd, size_t in, char *err,
		      size_t errlen)
{
	const char *b = pvb_build_dir(), *slash = strrchr(b, '/');
	char script[1200], out[1200], log[1200];
	struct child c;
	/* once per variant and process: the script hashes every file (80 MB for fio) to find its cache */
	static struct { char variant[16], kernel[600], initrd[600]; } known[4];
	for (int i = 0; i < 4; i++)
		if (known[i].variant[0] && !strcmp(known[i].variant, variant)) {
			snprintf(kernel, kn, "%s", known[i].kernel);
			snprintf(initrd, in, "%s", known[i].initrd);
			return 0;
		}

	/* the script lives next to the build directory: SRC/scripts, SRC/build */
	snprintf(script, sizeof(script), "%.*s%sscripts/linux-initramfs", slash ? (int)(slash - b) : 0, b,
		 slash ? "/" : "");
	/* per process: two pvbench runs may ask at once (the script itself takes a lock) */
	snprintf(out, sizeof(out), "%s/linux-files-%d.txt", b, (int)getpid());
	snprintf(log, sizeof(log), "%s/linux-files-%d.log", b, (int)getpid());
	char *argv[] = { script, (char *)b, (char *)variant, NULL };
	struct child_io io = { .stdout_path = out, .stderr_path = log };
	if (child_spawn(&c, argv, &io, err, errlen) < 0)
		return -1;
	if (!child_wait(&c, 600000)) {
		child_kill(&c);
		snprintf(err, errlen, "%s: still running after 10 min: killed", script);
		return -1;
	}
	FILE *f = fopen(out, "r");
	int ok = WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && f && fgets(kernel, (int)kn, f) &&
		 fgets(initrd, (int)in, f);
	if (f)
		fclose(f);
	unlink(out);
	if (!ok) {
		char line[400] = "?";
		FILE *l = fopen(log, "r");
		while (l && fgets(line, sizeof(line), l)) /* its last line says why */
			;
		if (l)
			fclose(l);
		line[strcspn(line, "\n")] = 0;
		snprintf(err, errlen, "the Linux guest's files: %s (see %s)", line, log);
		return -1;
	}
	kernel[strcspn(kernel, "\n")] = 0;
	initrd[strcspn(initrd, "\n")] = 0;
	unlink(log);
	for (int i = 0; i < 4; i++)
		if (!known[i].variant[0]) {
			snprintf(known[i].variant, sizeof(known[i].variant), "%s", variant);
			snprintf(known[i].kernel, sizeof(known[i].kernel), "%s", kernel);
			snprintf(known[i].initrd, sizeof(known[i].initrd), "%s", initrd);
			break;
		}
	return 0;
}

static int name_ok(const char *n, size_t max)
{
	size_t len = strnlen(n, max);
	if (!len || len == max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
		      n[i] == '.' || n[i] == '-' || n[i] == '_'))
			return 0;
	return 1;
}

void linux_guest_take(const char *path, const char *run_dir, struct vm_result *r, int *status)
{
	FILE *f = fopen(path, "rb");
	char why[300] = "";
	int clock = 0;
	*status = -1;
	pvb_crc32_init();
	while (f && !why[0]) {
		struct pvb_blob_hdr h;
		size_t got = fread(&h, 1, sizeof(h), f);
		if (got == 0)
			break;
		if (got < sizeof(h)) {
			snprintf(why, sizeof(why), "the stream ends inside a blob header");
			break;
		}
		if (memcmp(h.magic, PVB_BLOB_MAGIC, 8) || !name_ok(h.name, sizeof(h.name)) || h.length > PVB_BLOB_MAX) {
			snprintf(why, sizeof(why), "a blob header is damaged (magic, name or length)");
			break;
		}
		unsigned char *d = malloc(h.length ? h.length : 1);
		if (!d || fread(d, 1, h.length, f) != h.length) {
			snprintf(why, sizeof(why), "blob %s: the stream ends inside it", h.name);
			free(d);
			break;
		}
		if (pvb_crc32(0, d, h.length) != h.crc32) {
			snprintf(why, sizeof(why), "blob %s: CRC mismatch", h.name);
		} else if (!strcmp(h.name, "record")) {
			char err[256];
			if (pvb_rec_validate(d, h.length, err, sizeof(err)) < 0) {
				snprintf(why, sizeof(why), "result record rejected: %s", err);
			} else {
				free(r->record);
				r->record = d;
				r->record_len = h.length;
				d = NULL;
			}
		} else if (!strcmp(h.name, "status")) {
			char t[16];
			snprintf(t, sizeof(t), "%.*s", (int)(h.length < 15 ? h.length : 15), (const char *)d);
			*status = atoi(t);
		} else {
			/* what the guest's clock_gettime read: a jiffies clock counts whole ticks (4 ms at
			 * HZ=250), so every time the guest measured would be 0 or a tick */
			if (!strcmp(h.name, "clocksource")) {
				char cs[64];
				const unsigned char *nl = memchr(d, '\n', h.length);
				size_t len = nl ? (size_t)(nl - d) : h.length;
				snprintf(cs, sizeof(cs), "%.*s", (int)(len < sizeof(cs) ? len : sizeof(cs) - 1), (const char *)d);
				clock = 1;
				if (strstr(cs, "jiffies") || !cs[0])
					snprintf(why, sizeof(why), "its clocksource is '%s', which counts whole scheduler "
						 "ticks: its timings would be ticks, not measurements", cs);
			}
			char out[1100];
			snprintf(out, sizeof(out), "%s/guest-%s", run_dir, h.name); /* beside the host's files */
			FILE *o = fopen(out, "wb");
			if (!o || fwrite(d, 1, h.length, o) != h.length)
				snprintf(why, sizeof(why), "%s: %s", out, strerror(errno));
			if (o)
				fclose(o);
		}
		free(d);
	}
	if (f)
		fclose(f);
	else
		snprintf(why, sizeof(why), "the guest returned nothing (%s: %s)", path, strerror(errno));
	if (!why[0] && *status >= 0 && !clock) /* init sends it before its status */
		snprintf(why, sizeof(why), "it did not say which clocksource it timed itself with");
	if (why[0])
		vm_set_reason(r, RUN_ERROR, "Linux guest: %s", why);
}
