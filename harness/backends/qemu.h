/* SPDX-License-Identifier: MIT */
/*
 * One QEMU process running (or waiting for) one guest: what backend_qemu.c runs a guest with, and
 * what the migration type runs two of (a source, and a destination started with -incoming).
 * Guest RAM is a memfd pvbench maps too; QMP runs over a socketpair; QEMU is in its own process
 * group and dies with pvbench.
 */
#ifndef PVB_QEMU_H
#define PVB_QEMU_H

#include "child.h"
#include "iodev.h"
#include "ivshmem.h"
#include "qmp.h"
#include "vm.h"

struct qemu_vm {
	struct child c;
	struct qmp *q;
	int memfd;
	unsigned char *mem;          /* guest RAM from guest-physical 0, read/write */
	size_t mem_size;
	char log_path[512], out_path[512];
	const struct vm_spec *s;      /* the caller's: it must outlive the QEMU process */
	struct ivshmem_server ivs;   /* the boost region behind ivshmem-doorbell, when the spec says so */
	struct iodev iodev;          /* the block device behind it, when the spec asks for one */
};

/* The boost region the spec offers (in guest RAM or behind the device), or NULL. */
void *qemu_vm_boost(struct qemu_vm *v);

/* Starts QEMU for spec s: running the guest, or, with incoming ("unix:PATH"), waiting for a
 * migration into it and staying paused after it (-S). Its console.log and qemu.log go to
 * s->run_dir. 0, or -1 with the reason in r (RUN_ERROR) and nothing left running. */
int qemu_vm_start(struct qemu_vm *v, const struct vm_spec *s, const char *incoming, struct vm_result *r);
/* After QEMU exited (child reaped): the guest's outcome from its exit status, into r. */
void qemu_vm_outcome(struct qemu_vm *v, int killed, struct vm_result *r);
/* Kills QEMU if it still runs, closes QMP, unmaps and closes RAM. Idempotent. */
void qemu_vm_stop(struct qemu_vm *v);

#endif
