/* SPDX-License-Identifier: MIT */
/*
 * Live pre-copy migration of a VM of pvbench's own VMM (impl/vmm) over a stream socket, and the
 * throttles that make a dirtying guest converge: none; auto-converge as QEMU does it (time-based:
 * every vCPU sleeps a growing share of each 10 ms); and seed 003's per-vCPU dirty quota (each vCPU
 * may dirty a budget of pages per interval; one that has spent it is held until the next interval,
 * so a vCPU that dirties little is never slowed).
 *
 * The source sends every page of slot 0, then, pass after pass, the pages dirtied meanwhile (KVM's
 * dirty ring or its dirty log), through a token bucket at the link's rate. Once the remaining set
 * fits the downtime at that rate, it pauses the vCPUs, sends the rest and each vCPU's state
 * (vmm_vcpu_save), and the destination -- the same VMM, its VM created alike and not started --
 * restores them and runs on. The destination answers with a digest of every page as it
 * received them, which the source checks against its final image: a migration that lost a write
 * says so, page by page.
 *
 * The stream (all little-endian, this host's layout: both ends are this program):
 *   source -> destination: a struct precopy_msg, then its payload:
 *     PC_PAGES  arg = n pages: n u64 page numbers (bit 63: the page is all zero, no data), then
 *               4096 bytes of each page that is not zero, in order
 *     PC_VCPU   arg = vCPU index: a struct vmm_vcpu_state
 *     PC_END    arg = number of vCPUs: the stream is whole
 *     PC_CANCEL the migration is given up: the source runs on
 *   destination -> source, after PC_END:
 *     PC_RESTORED arg = microseconds from PC_END to the vCPUs restored (len 0)
 *     PC_DIGESTS  arg = pages: a u64 digest of each page (precopy_digest)
 * The destination validates every header (magic, type, counts, page numbers, vCPU index) and
 * fails with a sentence on the first bad one.
 */
#ifndef PVB_PRECOPY_H
#define PVB_PRECOPY_H

#include <stdint.h>
#include "vmm.h"

#define PC_MAGIC 0x50564d31u /* "PVM1": the stream's version */
enum { PC_PAGES = 1, PC_VCPU, PC_END, PC_CANCEL, PC_RESTORED, PC_DIGESTS };
struct precopy_msg {
	uint32_t magic, type;
	uint64_t arg;
	uint64_t len;            /* payload bytes that follow */
};
#define PC_BATCH 256             /* pages per PC_PAGES message at most */
#define PC_ZERO (1ull << 63)

enum precopy_throttle { PRECOPY_NONE, PRECOPY_AUTO_CONVERGE, PRECOPY_DIRTY_QUOTA };

struct precopy_stats;
struct precopy_params {
	double bandwidth_bps;            /* the link's rate: the sender's token bucket */
	int downtime_ms;                 /* stop-and-copy once the remaining set fits this at the link rate */
	int deadline_ms;                 /* not completed by then: cancelled, the VM runs on (unconverged) */
	int dirty_ring;                  /* 1: the vCPUs' dirty rings (the VM has them); 0: KVM_GET_DIRTY_LOG */
	enum precopy_throttle throttle;
	int ac_initial, ac_increment;    /* auto-converge: QEMU's cpu-throttle-initial and -increment, % */
	int quota_interval_ms;           /* dirty quota: the interval a budget lasts (the seed's "interval") */
	int quota_share_pct;             /* dirty quota: the VM's budget as a share of the link's pages */
	volatile int *cancel;            /* set (a signal): give up as at the deadline */
	void (*sample)(void *arg, const struct precopy_stats *s); /* every ~100 ms, and at the end */
	void *arg;
};

struct precopy_stats {
	const char *status;              /* setup, active, stop-copy, completed, cancelled, failed */
	double t_ms;                     /* since the migration began */
	double setup_ms, total_ms, downtime_ms, restore_ms, verify_ms;
	uint64_t bytes;                  /* on the link: headers, page numbers, page data */
	uint64_t pages, zero_pages;      /* sent with data, sent as zero */
	uint64_t remaining;              /* pages dirty at the last pass's end */
	uint64_t dirtied;                /* pages found dirty after the first pass, all passes */
	int passes, throttle_pct, max_throttle_pct, converged;
	uint64_t pages_differ, first_differ; /* after completion: digests that disagree, the first page */
	uint64_t holds[VMM_MAX_VCPUS];   /* each vCPU: times the throttle held it, and for how long */
	double held_ms[VMM_MAX_VCPUS];
};

/* The source side, on a running VM whose vCPUs may be dirtying its memory. 1: completed: the VM
 * is paused (vmm_pause), its state at the destination, st->pages_differ says whether every page
 * arrived; 0: cancelled (deadline, or *cancel): the VM runs on, unthrottled, as before; -1: failed
 * (err), the VM runs on. st is filled on every path. */
int precopy_send(struct vmm *v, int sock, const struct precopy_params *p, struct precopy_stats *st, char *err,
		 size_t errlen);
/* The destination side, on a VM created alike (same memory size and vCPUs) and not started. 1:
 * memory and vCPU state are whole and restored: start it; 0: the source cancelled; -1: err. */
int precopy_receive(struct vmm *v, int sock, char *err, size_t errlen);
/* A page's digest: what the ends compare. */
uint64_t precopy_digest(const void *page);

#endif
