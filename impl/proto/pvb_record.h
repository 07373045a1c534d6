/* SPDX-License-Identifier: MIT */
/*
 * pvbench result record: how a guest (or a Linux build of a workload) hands its results to the host.
 *
 * Owner: the writer (guest ring 3, or the Linux workload) fills it; the host only reads it and
 * trusts nothing in it: pvb_rec_validate() checks every length, name and checksum before use.
 *
 * Layout of the "out" area (guest-physical address and size given on the kernel command line as
 * out=ADDR,SIZE; the host maps the same bytes through the shared memory backend):
 *
 *   +0      struct pvb_live      progress word, written while the guest runs (host polls it)
 *   +4096   struct pvb_rec_hdr   the record, written once at the end
 *           sections...          each: struct pvb_sec + payload, 8-byte aligned
 *
 * Ordering: the writer fills all sections, then the header except magic, then computes the CRC,
 * then (after a store barrier) writes magic last. A reader that sees the magic sees the rest.
 * All integers are little-endian, sizes in bytes, times as named (ns unless the name says).
 */
#ifndef PVB_RECORD_H
#define PVB_RECORD_H

#include <stdint.h>
#include <stddef.h>

#define PVB_LIVE_MAGIC   0x4556494cu          /* "LIVE" */
#define PVB_REC_MAGIC    0x52425650u          /* "PVBR" */
#define PVB_REC_VERSION  1u
#define PVB_REC_OFFSET   4096u                /* record starts this far into the out area */

/* Guest progress, polled by the host to time boot-to-workload without an exit. */
enum pvb_phase {
	PVB_PHASE_NONE = 0,
	PVB_PHASE_RING3 = 1,     /* BSP reached ring 3 */
	PVB_PHASE_WORKLOAD = 2,  /* all vCPUs online, workload started */
	PVB_PHASE_DONE = 3,      /* record written */
};

struct pvb_live {
	uint32_t magic;          /* PVB_LIVE_MAGIC, written with the first phase */
	uint32_t phase;          /* enum pvb_phase, only increases */
	uint32_t cpus_online;    /* vCPUs that reached ring 3 */
	uint32_t reserved;
};

/* Record status: what the guest says happened. The host adds its own outcomes (timeout, ...). */
enum pvb_status {
	PVB_STATUS_OK = 0,
	PVB_STATUS_FAILED = 1,   /* the workload failed (bad job, run error); a TEXT section says why */
	PVB_STATUS_CRASHED = 2,  /* a CPU exception; the "crash" metrics give vector, RIP, ... */
	PVB_STATUS__MAX = 2,
};

struct pvb_rec_hdr {
	uint32_t magic;          /* PVB_REC_MAGIC, written last */
	uint16_t version;        /* PVB_REC_VERSION */
	uint16_t hdr_size;       /* sizeof(struct pvb_rec_hdr) */
	uint32_t length;         /* whole record incl. header, bytes */
	uint32_t crc32;          /* CRC-32 (IEEE) over the record, magic and crc32 as 0 */
	uint32_t status;         /* enum pvb_status */
	uint32_t nr_sections;
	uint32_t nr_cpus;        /* vCPUs (or threads) the job ran on */
	uint32_t reserved;
};

enum pvb_sec_type {
	PVB_SEC_METRIC = 1,      /* struct pvb_metric */
	PVB_SEC_HIST = 2,        /* struct pvb_hist + counts */
	PVB_SEC_TEXT = 3,        /* NUL-terminated message */
};

#define PVB_CPU_ALL   0xffffu  /* aggregated over all CPUs */
#define PVB_CPU_VM    0xfffeu  /* about the VM or run, not one CPU */

struct pvb_sec {
	uint16_t type;           /* enum pvb_sec_type */
	uint16_t cpu;            /* CPU index, PVB_CPU_ALL or PVB_CPU_VM */
	uint32_t len;            /* payload bytes after this header (the next section is 8-aligned) */
};

#define PVB_NAME_LEN 32
#define PVB_UNIT_LEN 8

/* Which way a metric improves, declared by whoever makes it: comparisons (ab, nightly) call a
 * change better or worse by it, never by the metric's name. */
enum pvb_better {
	PVB_LESS = 0,            /* less is better: latency, cost, exits, glitches */
	PVB_MORE = 1,            /* more is better: frames per second, throughput, delivered */
	PVB_INFO = 2,            /* describes the run (samples, the interval asked for): a change
				    is reported, never judged better or worse */
	PVB_BETTER__MAX = 2,
};

struct pvb_metric {
	char name[PVB_NAME_LEN - 1]; /* NUL-terminated, [a-z0-9_.] */
	uint8_t better;          /* enum pvb_better (the byte that ended every name before it was
				    declared: a record written then reads as PVB_LESS) */
	char unit[PVB_UNIT_LEN]; /* "ns", "count", "cycles", "insn", "kHz", ...; "X_e3": value is
				    1000 times the figure in unit X (the host divides) */
	int64_t value;
};

struct pvb_hist {
	char name[PVB_NAME_LEN];
	uint32_t bucket_ns;      /* bucket i counts values in [i, i+1) * bucket_ns */
	uint32_t nr_buckets;
	uint64_t overflow;       /* values >= nr_buckets * bucket_ns */
	uint32_t counts[];       /* nr_buckets entries */
};

_Static_assert(sizeof(struct pvb_live) == 16, "pvb_live layout");
_Static_assert(sizeof(struct pvb_rec_hdr) == 32, "pvb_rec_hdr layout");
_Static_assert(sizeof(struct pvb_sec) == 8, "pvb_sec layout");
_Static_assert(sizeof(struct pvb_metric) == 48, "pvb_metric layout");
_Static_assert(sizeof(struct pvb_hist) == 48, "pvb_hist layout");

/* ---- writer (freestanding: used in guest ring 0/3 and in Linux workloads) ---- */

struct pvb_rec_writer {
	uint8_t *buf;            /* start of the record (the header) */
	uint32_t cap;            /* bytes available */
	uint32_t len;            /* bytes used */
	uint32_t nr_sections;
	int overflowed;          /* a section did not fit: the record is sealed as FAILED */
};

void pvb_crc32_init(void);  /* builds the table; cheap, idempotent */
uint32_t pvb_crc32(uint32_t crc, const void *p, size_t n);

void pvb_rec_begin(struct pvb_rec_writer *w, void *buf, uint32_t cap);
void pvb_rec_metric(struct pvb_rec_writer *w, uint16_t cpu, const char *name, const char *unit,
		    enum pvb_better better, int64_t value);
void pvb_rec_hist(struct pvb_rec_writer *w, uint16_t cpu, const char *name, uint32_t bucket_ns,
		  const uint32_t *counts, uint32_t nr_buckets, uint64_t overflow);
void pvb_rec_text(struct pvb_rec_writer *w, uint16_t cpu, const char *text);
/* Writes the header and CRC, magic last. Returns the record length. */
uint32_t pvb_rec_seal(struct pvb_rec_writer *w, uint32_t status, uint32_t nr_cpus);

/* ---- reader (host) ---- */

/* Checks a record found in buf[0..size). Returns 0 if valid, else -1 with a sentence in err. */
int pvb_rec_validate(const void *buf, size_t size, char *err, size_t errlen);

/* Iterates the sections of a validated record: pass NULL to get the first. */
const struct pvb_sec *pvb_rec_next(const void *rec, const struct pvb_sec *prev);

#endif
