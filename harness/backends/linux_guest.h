/* SPDX-License-Identifier: MIT */
/* A Linux guest (guest = linux): its kernel and initramfs (scripts/linux-initramfs), and what
 * its init returns (pvb_blob.h). QEMU boots it like the pvbench guest (backend_qemu.c). */
#ifndef PVB_LINUX_GUEST_H
#define PVB_LINUX_GUEST_H

#include <stddef.h>

struct vm_result;

/* The kernel (Debian's, or $PVBENCH_LINUX_KERNEL) and the initramfs, built or found in the
 * build directory's cache; variant "base", or "fio" (fio and the virtio-blk modules too). 0, or
 * -1 with why in err. */
int linux_guest_files(const char *variant, char *kernel, size_t kn, char *initrd, size_t in, char *err,
		      size_t errlen);

/* Reads the blob stream the guest wrote (path): the "record" blob, validated, becomes
 * r->record; every other blob is written to run_dir/guest-NAME for its parser; the tool's exit status
 * is returned in *status (-1 when the guest sent none). A damaged stream makes r RUN_ERROR with
 * why, unless r already failed. */
void linux_guest_take(const char *path, const char *run_dir, struct vm_result *r, int *status);

#endif
