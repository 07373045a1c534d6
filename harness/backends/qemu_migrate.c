/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "child.h"
#include "qemu_migrate.h"

static double num(const cJSON *o, const char *path);

static int call(struct qemu_vm *v, const char *cmd, cJSON *args, char *err, size_t errlen)
{
	cJSON *r = qmp_call(v->q, cmd, args, err, errlen);
	cJSON_Delete(r);
	return r ? 0 : -1;
}

/* QEMU 7.1's per-vCPU dirty limit (set-vcpu-dirty-limit, every vCPU; it needs KVM's dirty ring),
 * read back with query-vcpu-dirty-limit: the lowest limit QEMU reports, into *mbps. QEMU 8.1 adds
 * a migration capability (dirty-limit) that applies the same limit at auto-converge's first
 * trigger; pvbench sets it when the migration starts, which every QEMU since 7.1 can do. */
static int dirty_limit(struct qemu_vm *src, double rate, double *mbps, char *err, size_t errlen)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "dirty-rate", rate);
	if (call(src, "set-vcpu-dirty-limit", a, err, errlen))
		return -1;
	cJSON *r = qmp_call(src->q, "query-vcpu-dirty-limit", NULL, err, errlen);
	const cJSON *e;
	*mbps = -1;
	cJSON_ArrayForEach(e, r) {
		double l = num(e, "limit-rate");
		if (l >= 0 && (*mbps < 0 || l < *mbps))
			*mbps = l;
	}
	cJSON_Delete(r);
	if (*mbps < 0) {
		snprintf(err, errlen, "query-vcpu-dirty-limit: no vCPU has a limit after set-vcpu-dirty-limit");
		return -1;
	}
	return 0;
}

int qemu_migrate_start(struct qemu_vm *src, const char *uri, const struct qemu_migrate_params *p,
		       double *limit_mbps, char *err, size_t errlen)
{
	cJSON *a = cJSON_CreateObject(), *caps = cJSON_AddArrayToObject(a, "capabilities"), *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "capability", "auto-converge");
	cJSON_AddBoolToObject(c, "state", p->auto_converge);
	cJSON_AddItemToArray(caps, c);
	if (call(src, "migrate-set-capabilities", a, err, errlen))
		return -1;
	a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "max-bandwidth", p->bandwidth_bps);
	cJSON_AddNumberToObject(a, "downtime-limit", p->downtime_ms);
	cJSON_AddNumberToObject(a, "cpu-throttle-initial", p->throttle_initial);
	cJSON_AddNumberToObject(a, "cpu-throttle-increment", p->throttle_increment);
	if (call(src, "migrate-set-parameters", a, err, errlen))
		return -1;
	if (p->vcpu_dirty_limit_mbps > 0 && dirty_limit(src, p->vcpu_dirty_limit_mbps, limit_mbps, err, errlen))
		return -1;
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "uri", uri);
	return call(src, "migrate", a, err, errlen);
}

/* a number at a dotted path ("ram.transferred"), -1 if absent */
static double num(const cJSON *o, const char *path)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *cur = o;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
	return cJSON_IsNumber(cur) ? cur->valuedouble : -1;
}

int qemu_migrate_sample(struct qemu_vm *src, struct qemu_migrate_sample *s, char *err, size_t errlen)
{
	cJSON *x = qmp_call(src->q, "query-migrate", NULL, err, errlen);
	if (!x)
		return -1;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "status"),
		    *e = cJSON_GetObjectItemCaseSensitive(x, "error-desc");
	snprintf(s->status, sizeof(s->status), "%s", cJSON_IsString(st) ? st->valuestring : "?");
	snprintf(s->error, sizeof(s->error), "%s", cJSON_IsString(e) ? e->valuestring : "");
	s->transferred = num(x, "ram.transferred");
	s->remaining = num(x, "ram.remaining");
	s->dirty_pages_rate = num(x, "ram.dirty-pages-rate");
	s->dirty_syncs = num(x, "ram.dirty-sync-count");
	s->normal_pages = num(x, "ram.normal");
	s->zero_pages = num(x, "ram.duplicate");
	s->throttle_pct = num(x, "cpu-throttle-percentage");
	s->total_ms = num(x, "total-time");
	s->downtime_ms = num(x, "downtime");
	s->setup_ms = num(x, "setup-time");
	cJSON_Delete(x);
	return 0;
}

int qemu_migrate_cancel(struct qemu_vm *src, char *err, size_t errlen)
{
	return call(src, "migrate_cancel", NULL, err, errlen);
}

int qemu_wait_state_not(struct qemu_vm *v, const char *not, int timeout_ms, char *st, size_t len)
{
	char err[200];
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (qmp_status(v->q, st, len, err, sizeof(err)))
			return -1;
		if (strcmp(st, not))
			return 0;
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
	return -1;
}

long long qemu_ram_pages_differ(const struct qemu_vm *a, const struct qemu_vm *b, char *where, size_t len)
{
	const unsigned char *x = a->mem, *y = b->mem;
	long long n = 0;
	for (size_t off = 0; off + 4096 <= a->mem_size && off + 4096 <= b->mem_size; off += 4096) {
		if (!memcmp(x + off, y + off, 4096))
			continue;
		if (n++) /* only the first is described */
			continue;
		size_t i = 0, k = 0;
		while (x[off + i] == y[off + i])
			i++;
		for (size_t j = i; j < 4096; j++)
			k += x[off + j] != y[off + j];
		snprintf(where, len, "first at GPA 0x%zx (+0x%zx: source %02x, destination %02x; %zu bytes differ there)",
			 off, i, x[off + i], y[off + i], k);
	}
	return n;
}

enum qemu_migrate_end qemu_migrate_watch(struct qemu_vm *src, struct qemu_vm *dst, double until_ms,
					 void (*each)(void *arg, const struct qemu_migrate_sample *s), void *arg,
					 struct qemu_migrate_sample *s, char *err, size_t errlen)
{
	const char *kill_dest = getenv("PVBENCH_TEST_KILL_DEST_MS"); /* tests: a destination dies */
	double t0 = vm_now_ms();

	for (;;) {
		if (qemu_migrate_sample(src, s, err, errlen))
			return QM_FAILED;
		if (each)
			each(arg, s);
		if (!strcmp(s->status, "completed"))
			return QM_COMPLETED;
		if (!strcmp(s->status, "failed") || !strcmp(s->status, "cancelled")) {
			char st[32] = "?", e2[200];
			qmp_status(src->q, st, sizeof(st), e2, sizeof(e2));
			snprintf(err, errlen, "migration %s: %s%s; the source guest %s (status %s)", s->status,
				 s->error[0] ? s->error : "no reason given",
				 child_poll(&dst->c) ? " (the destination QEMU had exited)" : "",
				 !strcmp(st, "running") ? "runs on" : "does not run", st);
			return QM_FAILED;
		}
		if (kill_dest && vm_now_ms() - t0 > atof(kill_dest) && !dst->c.exited)
			child_kill(&dst->c);
		if (pvb_interrupted)
			return QM_INTERRUPTED;
		if (vm_now_ms() > until_ms)
			return qemu_migrate_cancel(src, err, errlen) ? QM_FAILED : QM_UNCONVERGED;
		nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	}
}
