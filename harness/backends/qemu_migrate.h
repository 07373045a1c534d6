/* SPDX-License-Identifier: MIT */
/*
 * QEMU's own live migration, driven over QMP between two struct qemu_vm (qemu.h): what the
 * migration type's QEMU reference needs and nothing else. The source migrates to a destination
 * started with -incoming; query-migrate is read into a flat sample.
 */
#ifndef PVB_QEMU_MIGRATE_H
#define PVB_QEMU_MIGRATE_H

#include <stddef.h>
#include "qemu.h"

struct qemu_migrate_params {
	double bandwidth_bps;        /* max-bandwidth, bytes/s: a cap, filled in 100 ms slots */
	int downtime_ms;             /* downtime-limit */
	int auto_converge;           /* the capability */
	int throttle_initial, throttle_increment;  /* cpu-throttle-initial, -increment, % */
	double vcpu_dirty_limit_mbps; /* > 0: QEMU's dirty limit on every vCPU, MB/s (the source needs
					 its dirty ring: vm_spec.dirty_ring) */
};

/* Sets capabilities and parameters on the source (and the dirty limit: set-vcpu-dirty-limit, read
 * back into *limit_mbps), then `migrate` to uri. 0, or -1 with err. */
int qemu_migrate_start(struct qemu_vm *src, const char *uri, const struct qemu_migrate_params *p,
		       double *limit_mbps, char *err, size_t errlen);

/* One query-migrate. Numbers QEMU does not report are -1. */
struct qemu_migrate_sample {
	char status[24];             /* setup, active, completed, failed, cancelled, ... */
	char error[256];             /* error-desc, when failed */
	double transferred, remaining, dirty_pages_rate, dirty_syncs, normal_pages, zero_pages;
	double throttle_pct, total_ms, downtime_ms, setup_ms;
};
int qemu_migrate_sample(struct qemu_vm *src, struct qemu_migrate_sample *s, char *err, size_t errlen);
int qemu_migrate_cancel(struct qemu_vm *src, char *err, size_t errlen);

/* Follows a started migration, a sample every 100 ms into *s (each(arg, s) sees every one), until
 * it completes or until_ms (vm_now_ms()) passes; then it is cancelled and the source runs on, the
 * seed's "unconverged". A signal (pvb_interrupted) stops it. */
enum qemu_migrate_end { QM_COMPLETED, QM_UNCONVERGED, QM_INTERRUPTED, QM_FAILED };
enum qemu_migrate_end qemu_migrate_watch(struct qemu_vm *src, struct qemu_vm *dst, double until_ms,
					 void (*each)(void *arg, const struct qemu_migrate_sample *s), void *arg,
					 struct qemu_migrate_sample *s, char *err, size_t errlen);

/* Waits (up to timeout_ms) until the VM's run state is not `not`; its state into st. 0 or -1. */
int qemu_wait_state_not(struct qemu_vm *v, const char *not, int timeout_ms, char *st, size_t len);

/* 4 KiB pages whose bytes differ between two VMs' RAM (same size); where the first differs, in where. */
long long qemu_ram_pages_differ(const struct qemu_vm *a, const struct qemu_vm *b, char *where, size_t len);

#endif
