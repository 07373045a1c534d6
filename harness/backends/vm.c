/* SPDX-License-Identifier: MIT */
/* What every guest run shares, whichever VMM runs it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "child.h"
#include "hostinfo.h"
#include "metrics.h"
#include "pvb_boost.h"
#include "pvb_progress.h"
#include "pvb_record.h"
#include "vm.h"

const struct vm_backend *const vm_backends[] = { &vm_backend_qemu, &vm_backend_pvbench, NULL };

const struct vm_backend *vm_backend_find(const char *name)
{
	for (int i = 0; vm_backends[i]; i++)
		if (!strcmp(vm_backends[i]->name, name))
			return vm_backends[i];
	return NULL;
}

const char *vm_backend_choice(int i)
{
	return vm_backends[i] ? vm_backends[i]->name : NULL;
}

unsigned vm_console_max(const struct vm_spec *s)
{
	return s->console_max ? s->console_max : VM_CONSOLE_MAX;
}

double vm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void vm_watch_begin(struct vm_watch *w, const struct vm_spec *s, const void *mem, size_t mem_size)
{
	memset(w, 0, sizeof(*w));
	w->t0 = vm_now_ms();
	w->live = (const volatile void *)((const unsigned char *)mem + mem_size - VM_OUT_SIZE);
	snprintf(w->console_path, sizeof(w->console_path), "%s/console.log", s->run_dir ? s->run_dir : ".");
}

int vm_watch_step(struct vm_watch *w, const struct vm_spec *s, const struct vm_hooks *h,
		  struct vm_result *r, int *sleep_us)
{
	double now = vm_now_ms();
	char err[512];
	struct stat st;

	if (pvb_interrupted) {
		vm_set_reason(r, RUN_INTERRUPTED, "%s", "by a signal");
		return RUN_INTERRUPTED;
	}
	if (now - w->t0 > s->timeout_ms) {
		snprintf(err, sizeof(err), "guest still running after its %d ms timeout%s", s->timeout_ms,
			 w->phase < PVB_PHASE_WORKLOAD ? " (it never started the workload)" : "");
		vm_set_reason(r, RUN_TIMEOUT, "%s", err);
		return RUN_TIMEOUT;
	}
	/* progress word: written by the untrusted guest, only compared */
	if (w->live->magic == PVB_LIVE_MAGIC && w->live->phase > (unsigned)w->phase &&
	    w->live->phase <= PVB_PHASE_DONE) {
		w->phase = (int)w->live->phase;
		if (w->phase >= PVB_PHASE_RING3 && r->boot_to_ring3_ms < 0)
			r->boot_to_ring3_ms = now - w->t0;
		if (w->phase >= PVB_PHASE_WORKLOAD && r->boot_to_workload_ms < 0)
			r->boot_to_workload_ms = now - w->t0;
	}
	if (now >= w->next_console) { /* QEMU writes the file itself: its size is the measure */
		w->next_console = now + 10;
		if (stat(w->console_path, &st) == 0 && st.st_size > (off_t)vm_console_max(s)) {
			vm_set_reason(r, RUN_ERROR, "%s", "the guest flooded its console: stopped");
			return RUN_ERROR;
		}
	}
	if (h && h->tick && now >= w->next_tick) {
		w->next_tick = now + (h->tick_ms > 0 ? h->tick_ms : 10);
		if (h->tick(h->arg, err, sizeof(err))) {
			vm_set_reason(r, RUN_ERROR, "%s", err);
			return RUN_ERROR;
		}
	}
	/* fine-grained until the workload starts (boot timing), then relaxed */
	*sleep_us = w->phase < PVB_PHASE_WORKLOAD ? 200 : 5000;
	if (h && h->tick_ms > 0 && h->tick_ms * 1000 < *sleep_us)
		*sleep_us = h->tick_ms * 1000;
	return -1;
}

/* Where a guest of pvbench's own kernel was, by name: each address (0x and at least 6 hex digits)
 * in a failed run's reason that falls in the guest ELF gets its symbol after it, "0x100134
 * <gk_r0_sleep_end>", so a hang or a crash says which code it was in without a disassembler. */
static void name_addresses(const char *elf, char *reason, size_t n)
{
	char out[sizeof(((struct vm_result *)0)->reason)], sym[96];
	size_t o = 0;
	const char *p = reason;

	while (*p && o + 1 < sizeof(out)) {
		char *end;
		unsigned long long a;
		if (p[0] != '0' || p[1] != 'x' || (p > reason && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) ||
		    (a = strtoull(p + 2, &end, 16), end - p < 8) || guest_symbol(elf, a, sym, sizeof(sym))) {
			out[o++] = *p++;
			continue;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s <%s>", (int)(end - p), p, sym);
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
		p = end;
	}
	out[o] = 0;
	snprintf(reason, n, "%s", out);
}

int vm_run(const char *vmm, const struct vm_spec *spec, const struct vm_hooks *hooks,
	   struct vm_result *res)
{
	const struct vm_backend *b = vm_backend_find(vmm ? vmm : "qemu");
	if (!b) {
		memset(res, 0, sizeof(*res));
		vm_set_reason(res, RUN_ERROR, "unknown VMM \"%s\"", vmm);
		return -1;
	}
	int rc = b->run(spec, hooks, res);
	if (res->outcome != RUN_OK && spec->kernel && !spec->initrd)
		name_addresses(spec->kernel, res->reason, sizeof(res->reason));
	return rc;
}

void vm_set_reason(struct vm_result *r, enum run_status o, const char *fmt, const char *s)
{
	if (r->outcome != RUN_OK) /* the first reason wins */
		return;
	r->outcome = o;
	snprintf(r->reason, sizeof(r->reason), fmt, s);
}

void vm_cmdline(const struct vm_spec *s, size_t mem_size, char *buf, size_t len)
{
	char boost[48] = "";

	if (vm_has_ivshmem(s))
		snprintf(boost, sizeof(boost), "boost=pci ");
	else if (s->boost)
		snprintf(boost, sizeof(boost), "boost=0x%zx,0x%x ", vm_boost_offset(s, mem_size), PVB_PV_SIZE);
	snprintf(buf, len, "out=0x%zx,0x%x %stsc_khz=%u cpus=%d %s", mem_size - VM_OUT_SIZE,
		 VM_OUT_SIZE, boost, s->tsc_khz, s->vcpus, s->job);
}

void vm_boost_init(const struct vm_spec *s, unsigned char *mem, size_t mem_size)
{
	if (s->boost && !vm_has_ivshmem(s)) /* else it is behind the device (backend_qemu.c) */
		pvb_boost_host_init(mem + vm_boost_offset(s, mem_size), PVB_PV_SIZE, (unsigned)s->vcpus,
				    s->boost_features ? s->boost_features : VM_BOOST_FEATURES,
				    (uint8_t)(s->boost_max_prio ? s->boost_max_prio : 50));
}

enum run_status vm_status_of_exit_value(int value, char *reason, size_t len)
{
	switch (value) {
	case PVB_EXIT_BASE + PVB_STATUS_OK:
		return RUN_OK;
	case PVB_EXIT_BASE + PVB_STATUS_FAILED:
		snprintf(reason, len, "the workload failed");
		return RUN_FAILED;
	case PVB_EXIT_BASE + PVB_STATUS_CRASHED:
		snprintf(reason, len, "guest exception");
		return RUN_CRASHED;
	default:
		snprintf(reason, len, "the guest exited with unknown status 0x%x", value);
		return RUN_ERROR;
	}
}

int vm_record_metrics(const unsigned char *mem, size_t mem_size, struct metric_set *ms, char *err,
		      size_t errlen)
{
	const unsigned char *rec = mem + mem_size - VM_OUT_SIZE + PVB_REC_OFFSET;
	char why[256];

	memset(ms, 0, sizeof(*ms));
	if (pvb_rec_validate(rec, VM_OUT_SIZE - PVB_REC_OFFSET, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "result record rejected: %s", why);
		return -1;
	}
	return metrics_from_record(rec, ms);
}

void vm_take_record(const unsigned char *mem, size_t mem_size, struct vm_result *r)
{
	const unsigned char *rec = mem + mem_size - VM_OUT_SIZE + PVB_REC_OFFSET;
	char err[256];

	if (pvb_rec_validate(rec, VM_OUT_SIZE - PVB_REC_OFFSET, err, sizeof(err)) < 0) {
		/* a crash may leave no record; anything that claims to have finished must */
		if (r->outcome == RUN_OK || r->outcome == RUN_FAILED) {
			r->outcome = RUN_ERROR;
			snprintf(r->reason, sizeof(r->reason), "result record rejected: %s", err);
		}
		return;
	}
	const struct pvb_rec_hdr *h = (const void *)rec;
	r->record = malloc(h->length);
	if (!r->record)
		return;
	memcpy(r->record, rec, h->length);
	r->record_len = h->length;
	/* the guest's own words on a failure or crash are the best reason */
	const struct pvb_sec *sec = NULL;
	while ((sec = pvb_rec_next(r->record, sec)))
		if (sec->type == PVB_SEC_TEXT && (r->outcome == RUN_FAILED || r->outcome == RUN_CRASHED)) {
			/* guest text reaches terminals and the store: printable ASCII only */
			snprintf(r->reason, sizeof(r->reason), "%s", (const char *)(sec + 1));
			for (char *c = r->reason; *c; c++)
				if (*c < 0x20 || *c > 0x7e)
					*c = '?';
			break;
		}
	if (r->outcome == RUN_OK && h->status != PVB_STATUS_OK)
		vm_set_reason(r, RUN_ERROR, "%s", "the record's status disagrees with the exit status");
}

void vm_result_free(struct vm_result *r)
{
	free(r->record);
	r->record = NULL;
}

int vm_progress_read(const unsigned char *mem, int vcpus, double *per)
{
	const volatile struct pvb_progress *p = (const volatile void *)(mem + PVB_GPA_PROGRESS);
	if (p->magic != PVB_PROGRESS_MAGIC || p->nr_cpus != (unsigned)vcpus || vcpus > PVB_PROGRESS_MAX_CPUS)
		return -1;
	for (int i = 0; i < vcpus; i++)
		per[i] = (double)p->bytes[i];
	return 0;
}

void vm_progress_stop(unsigned char *mem)
{
	struct pvb_progress *p = (void *)(mem + PVB_GPA_PROGRESS);
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
}

const char *vm_accel_choice(int i)
{
	static const char *const names[] = { "kvm", "tcg", NULL };
	return names[i];
}

int vm_view_phase(const struct vm_view *vm)
{
	if (!vm->mem || vm->mem_size < PVB_OUT_SIZE)
		return -1;
	const volatile struct pvb_live *l = (const volatile void *)(vm->mem + vm->mem_size - PVB_OUT_SIZE);
	unsigned ph = l->phase;
	return l->magic == PVB_LIVE_MAGIC && ph <= PVB_PHASE_DONE ? (int)ph : -1;
}
