/* SPDX-License-Identifier: MIT */
/* What every guest run shares, whichever VMM runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pvb_record.h"
#include "vm.h"

const char *vm_outcome_name(enum vm_outcome o)
{
	static const char *const n[] = { "ok", "failed", "crashed", "timeout", "error",
					 "interrupted" };
	return o <= VM_INTERRUPTED ? n[o] : "?";
}

int vm_run(const char *vmm, const struct vm_spec *spec, const struct vm_hooks *hooks,
	   struct vm_result *res)
{
	if (vmm && !strcmp(vmm, "pvbench"))
		return vm_run_pvbench(spec, hooks, res);
	return vm_run_qemu(spec, hooks, res);
}

void vm_set_reason(struct vm_result *r, enum vm_outcome o, const char *fmt, const char *s)
{
	if (r->outcome != VM_OK) /* the first reason wins */
		return;
	r->outcome = o;
	snprintf(r->reason, sizeof(r->reason), fmt, s);
}

void vm_cmdline(const struct vm_spec *s, size_t mem_size, char *buf, size_t len)
{
	snprintf(buf, len, "out=0x%zx,0x%x tsc_khz=%u cpus=%d %s", mem_size - VM_OUT_SIZE,
		 VM_OUT_SIZE, s->tsc_khz, s->vcpus, s->job);
}

enum vm_outcome vm_outcome_of_exit_value(int value, char *reason, size_t len)
{
	switch (value) {
	case 0x20 + PVB_STATUS_OK:
		return VM_OK;
	case 0x20 + PVB_STATUS_FAILED:
		snprintf(reason, len, "the workload failed");
		return VM_FAILED;
	case 0x20 + PVB_STATUS_CRASHED:
		snprintf(reason, len, "guest exception");
		return VM_CRASHED;
	default:
		snprintf(reason, len, "the guest exited with unknown status 0x%x", value);
		return VM_ERROR;
	}
}

void vm_take_record(const unsigned char *mem, size_t mem_size, struct vm_result *r)
{
	const unsigned char *rec = mem + mem_size - VM_OUT_SIZE + PVB_REC_OFFSET;
	char err[256];

	if (pvb_rec_validate(rec, VM_OUT_SIZE - PVB_REC_OFFSET, err, sizeof(err)) < 0) {
		/* a crash may leave no record; anything that claims to have finished must */
		if (r->outcome == VM_OK || r->outcome == VM_FAILED) {
			r->outcome = VM_ERROR;
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
		if (sec->type == PVB_SEC_TEXT && (r->outcome == VM_FAILED || r->outcome == VM_CRASHED)) {
			snprintf(r->reason, sizeof(r->reason), "%s", (const char *)(sec + 1));
			break;
		}
	if (r->outcome == VM_OK && h->status != PVB_STATUS_OK)
		vm_set_reason(r, VM_ERROR, "%s", "the record's status disagrees with the exit status");
}

void vm_result_free(struct vm_result *r)
{
	free(r->record);
	r->record = NULL;
}
