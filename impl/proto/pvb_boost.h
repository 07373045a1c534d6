/* SPDX-License-Identifier: MIT */
/*
 * pvb_boost.h, version 1: the paravirt scheduling region (seeds 001 and 002). The guest tells the
 * host what runs on each vCPU; the host boosts the vCPU thread when that matters and tells the
 * guest what it did and how fast the vCPU's CPU is. Shared memory, one cache line per vCPU, no
 * exit needed to publish; a doorbell, where the region sits behind a device (pvb_abi.h:
 * ivshmem-doorbell), only for what the host cannot see by itself (a request, an unboost).
 *
 * Fixed-width types only and no libc: the same header compiles in pvbench's guest kernel, in the
 * host agents, and in a Linux guest module. Little-endian; every field is naturally aligned.
 *
 * Trust: the host trusts nothing the guest writes. pvb_boost_read() (boost_decode.c) takes a
 * consistent snapshot of a slot, checks every field and clamps it to the VM's limits; a guest
 * that writes garbage, flaps or never finishes a write gets at most what the limits allow.
 *
 * Layout: struct pvb_boost_hdr at offset 0 (one cache line), then nr_vcpus slots of
 * PVB_BOOST_SLOT_SIZE bytes, slot i at PVB_BOOST_HDR_SIZE + i * PVB_BOOST_SLOT_SIZE.
 *
 * Negotiation: the host fills the header (magic last, with release) before the guest runs. The
 * guest checks magic, version and sizes, writes the features it accepts (a subset of
 * host_features) and its version, then guest_ready = 1 last (release). The host acts on a slot
 * only after it has seen guest_ready (acquire). With no region, or a header the guest does not
 * accept, the guest runs as vanilla: it publishes nothing.
 */
#ifndef PVB_BOOST_H
#define PVB_BOOST_H

#include <stdint.h>

#define PVB_BOOST_MAGIC       0x54534f42u   /* "BOST" */
#define PVB_BOOST_VERSION     1u
#define PVB_BOOST_HDR_SIZE    64u
#define PVB_BOOST_SLOT_SIZE   64u           /* one cache line: no false sharing between vCPUs */
#define PVB_BOOST_MAX_VCPUS   64u
#define PVB_UTIL_MAX          1024u         /* utilisation and capacity scale, as the kernel's */

/* Features (host_features offered, guest_features accepted) */
#define PVB_BF_BOOST          (1u << 0)     /* slot.flags BOOST_REQ and the class/prio fields */
#define PVB_BF_RT_DEADLINE    (1u << 1)     /* slot.next_rt_tsc */
#define PVB_BF_UTIL           (1u << 2)     /* slot.util */
#define PVB_BF_HINT           (1u << 3)     /* slot.capacity and slot.freq_khz (host -> guest) */
#define PVB_BF_CAPACITY_ORIG  (1u << 4)     /* slot.capacity_orig (host -> guest) */
#define PVB_BF_UTIL_KICK      (1u << 5)     /* behind a device: the guest rings the doorbell when
					       slot.util changed, at most once per PELT period (1024 us) */
#define PVB_BF_UTIL_MMIO      (1u << 6)     /* pvbench's VMM: the guest also writes slot.util, when it
					       changed (at most once per PELT period), to its vCPU's
					       set_perf register (pvb_discovery.h): an exit that carries it */
#define PVB_BF_UTIL_HCALL     (1u << 7)     /* pvbench's VMM: the same, by a hypercall from ring 0
					       (pvb_discovery.h: PVB_HC_UTIL) */
#define PVB_BF_KNOWN          0xffu

/* What the host sees of the vCPU threads by itself (hdr.host_sees): what needs no doorbell */
#define PVB_HS_SCHED          (1u << 0)     /* the host's scheduler trace: the vCPU threads' sleeps
					       and preemptions. An RT task that starts on a running vCPU
					       needs no doorbell to ask (the host acts where it preempts
					       or delays the thread); its end while the vCPU runs on
					       still does */

/* What runs on a vCPU now (slot.cur_class) */
#define PVB_CLASS_IDLE        0u            /* nothing runnable: the vCPU halts */
#define PVB_CLASS_NORMAL      1u            /* a time-shared task */
#define PVB_CLASS_RT          2u            /* a real-time task (cur_prio 1..99) */
#define PVB_CLASS_COUNT       3u

/* slot.flags */
#define PVB_SF_IN_IRQ         (1u << 0)     /* the vCPU is handling an interrupt */
#define PVB_SF_CRIT           (1u << 1)     /* in a critical section (e.g. holds a spinlock) */
#define PVB_SF_BOOST_REQ      (1u << 2)     /* the guest asks for a boost now */
#define PVB_SF_KNOWN          0x7u

struct pvb_boost_hdr {
	/* host writes all of these before the guest starts; the guest only reads them */
	uint32_t magic;          /* PVB_BOOST_MAGIC, written last (release) */
	uint16_t version;        /* the host's version: PVB_BOOST_VERSION */
	uint16_t hdr_size;       /* bytes: PVB_BOOST_HDR_SIZE */
	uint32_t size;           /* bytes of the whole region */
	uint16_t nr_vcpus;       /* slots that follow, 1..PVB_BOOST_MAX_VCPUS */
	uint16_t slot_size;      /* bytes per slot: PVB_BOOST_SLOT_SIZE */
	uint32_t host_features;  /* PVB_BF_* the host offers */
	uint32_t max_prio;       /* the highest RT priority the host will give a vCPU thread */
	/* guest writes these once, at negotiation; the host reads them after guest_ready */
	uint32_t guest_features; /* PVB_BF_* the guest accepted: a subset of host_features */
	uint16_t guest_version;  /* the guest's version, <= version */
	uint16_t reserved0;      /* 0 */
	uint32_t guest_ready;    /* 1 once the three around it are written (release) */
	uint32_t reserved1;      /* 0 */
	uint64_t guest_tsc_ready; /* guest TSC just before it wrote guest_ready: a host that cannot ask
				    the hypervisor for the guest's TSC offset bounds it from this */
	/* host writes this at any time (release: its agent starts after the guest); the guest reads
	 * it (acquire) where it decides whether to ring the doorbell. 0, as a host that does not
	 * know it leaves it: the host sees nothing by itself */
	uint32_t host_sees;      /* PVB_HS_* */
	uint8_t reserved[12];    /* 0 */
};

struct pvb_boost_slot {
	/* guest -> host. The guest writes; the host reads with pvb_boost_read(). Ordering: seq is a
	 * seqcount: the guest makes it odd (store), writes the fields, makes it even (release);
	 * the host reads seq (acquire), the fields, seq again, and retries if it moved or was odd. */
	uint32_t seq;            /* guest: even when consistent */
	uint8_t cur_class;       /* guest: PVB_CLASS_* of what runs now */
	uint8_t cur_prio;        /* guest: its RT priority 1..99 (0 unless RT) */
	uint8_t flags;           /* guest: PVB_SF_* */
	uint8_t reserved0;       /* 0 */
	uint64_t next_rt_tsc;    /* guest TSC of this vCPU's next RT wake-up; 0: none (RT_DEADLINE) */
	uint32_t util;           /* run-queue utilisation 0..PVB_UTIL_MAX, PELT-style (UTIL) */
	uint32_t kicks;          /* guest: doorbell kicks sent from this vCPU (a counter) */
	uint64_t stamp_tsc;      /* guest: its TSC when it published, read just before: a host that
				    cannot ask the hypervisor for the guest's TSC offset bounds it from
				    these, from above, and from below by taking a new one as read
				    after its last look (a TSC read over 1 ms before its publish
				    reads as a wrong offset) */
	/* host -> guest. The host writes; the guest reads. host_seq is a seqcount like seq. */
	uint32_t host_seq;       /* host: even when consistent */
	uint8_t boosted;         /* host: 1 while the vCPU thread runs boosted */
	uint8_t boost_prio;      /* host: the priority it runs at then (SCHED_FIFO) */
	uint16_t capacity;       /* host: capacity of the vCPU's CPU now, 0..PVB_UTIL_MAX (HINT) */
	uint32_t freq_khz;       /* host: its frequency now, kHz (HINT) */
	uint16_t capacity_orig;  /* host: capacity of the vCPU's CPU at its highest frequency,
				    1..PVB_UTIL_MAX; 0 while unknown (CAPACITY_ORIG). What a guest
				    places tasks by: the kernel's arch_scale_cpu_capacity() */
	uint8_t reserved1[18];   /* 0 */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct pvb_boost_hdr) == PVB_BOOST_HDR_SIZE, "header is one cache line");
_Static_assert(sizeof(struct pvb_boost_slot) == PVB_BOOST_SLOT_SIZE, "slot is one cache line");
_Static_assert(__builtin_offsetof(struct pvb_boost_hdr, guest_tsc_ready) == 40, "aligned");
_Static_assert(__builtin_offsetof(struct pvb_boost_hdr, host_sees) == 48, "after guest_tsc_ready");
_Static_assert(__builtin_offsetof(struct pvb_boost_slot, next_rt_tsc) % 8 == 0, "aligned");
_Static_assert(__builtin_offsetof(struct pvb_boost_slot, host_seq) == 32, "host half at 32");
_Static_assert(__builtin_offsetof(struct pvb_boost_slot, capacity_orig) == 44, "after freq_khz");
#endif

static inline uint64_t pvb_boost_region_size(unsigned nr_vcpus)
{
	return PVB_BOOST_HDR_SIZE + (uint64_t)nr_vcpus * PVB_BOOST_SLOT_SIZE;
}

static inline struct pvb_boost_slot *pvb_boost_slot(void *region, unsigned vcpu)
{
	return (struct pvb_boost_slot *)((uint8_t *)region + PVB_BOOST_HDR_SIZE +
					 (uint64_t)vcpu * PVB_BOOST_SLOT_SIZE);
}

/* ---- guest side: wait-free, a handful of instructions, no libc ---- */

/* Publishes what runs now. Returns nothing: a host that is not looking costs nothing. */
static inline void pvb_boost_publish(struct pvb_boost_slot *s, uint8_t cls, uint8_t prio,
				     uint8_t flags, uint64_t next_rt_tsc, uint32_t util, uint64_t now_tsc)
{
	uint32_t q = s->seq;
	__atomic_store_n(&s->seq, q + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->cur_class = cls;
	s->cur_prio = prio;
	s->flags = flags;
	s->next_rt_tsc = next_rt_tsc;
	s->util = util;
	s->stamp_tsc = now_tsc;
	__atomic_store_n(&s->seq, q + 2, __ATOMIC_RELEASE);
}

/* A kick: the guest asks the host to look at this slot now (a boost request with BOOST_REQ set,
 * an unboost request when it is idle or normal while the host says boosted). Shared memory, no
 * exit: the host sees it at its next look. Behind a device the guest then rings its doorbell
 * (pvb_abi.h), which wakes the host at once. */
static inline void pvb_boost_kick(struct pvb_boost_slot *s)
{
	uint32_t q = s->seq;
	__atomic_store_n(&s->seq, q + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->kicks++;
	__atomic_store_n(&s->seq, q + 2, __ATOMIC_RELEASE);
}

/* What a guest does after it published what runs, when the host's word (boosted) and its own
 * (wants: an RT task runs) disagree: PVB_TELL_KICK, the slot's kick counter, which the host sees
 * at its next look; PVB_TELL_RING, the counter and the doorbell (an exit that wakes the host's
 * agent at once, where there is one). A host that traces the vCPU threads (host_sees & SCHED)
 * acts by itself where an RT task starts on a running vCPU (it boosts where it preempts or
 * delays the thread) and keeps the boost of a vCPU that halts until its next RT deadline (that
 * wake-up is RT work): there the counter is enough. Everything else, an unboost above all (the
 * host cannot see a task end on a vCPU that runs on), rings. */
#define PVB_TELL_NONE 0
#define PVB_TELL_KICK 1
#define PVB_TELL_RING 2
static inline int pvb_boost_tell(const struct pvb_boost_hdr *h, int boosted, int wants, int halts_until_rt)
{
	if (!boosted == !wants)
		return PVB_TELL_NONE;
	int sees = __atomic_load_n(&h->host_sees, __ATOMIC_ACQUIRE) & PVB_HS_SCHED;
	return sees && (wants || halts_until_rt) ? PVB_TELL_KICK : PVB_TELL_RING;
}

/* The host's word: is this vCPU boosted now? (host_seq: one retry, else "no") */
static inline int pvb_boost_is_boosted(const struct pvb_boost_slot *s)
{
	uint32_t q = __atomic_load_n(&s->host_seq, __ATOMIC_ACQUIRE);
	int b = s->boosted;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return !(q & 1) && __atomic_load_n(&s->host_seq, __ATOMIC_RELAXED) == q && b;
}

/* The host's hint for this vCPU: the capacity of its CPU now (0..1024) and its frequency (kHz).
 * 0 and 0 while the host is writing (host_seq odd or moved: the caller keeps its old value). */
static inline void pvb_boost_hint(const struct pvb_boost_slot *s, unsigned *capacity, uint32_t *khz)
{
	uint32_t q = __atomic_load_n(&s->host_seq, __ATOMIC_ACQUIRE);
	unsigned c = s->capacity;
	uint32_t k = s->freq_khz;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	int ok = !(q & 1) && __atomic_load_n(&s->host_seq, __ATOMIC_RELAXED) == q;
	if (capacity)
		*capacity = ok ? (c > PVB_UTIL_MAX ? PVB_UTIL_MAX : c) : 0;
	if (khz)
		*khz = ok ? k : 0;
}

/* The host's capacity of this vCPU's CPU at its highest frequency (CAPACITY_ORIG): 1..1024, or 0
 * while the host is writing or has not said (the caller keeps its old value). */
static inline unsigned pvb_boost_capacity_orig(const struct pvb_boost_slot *s)
{
	uint32_t q = __atomic_load_n(&s->host_seq, __ATOMIC_ACQUIRE);
	unsigned c = s->capacity_orig;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if ((q & 1) || __atomic_load_n(&s->host_seq, __ATOMIC_RELAXED) != q)
		return 0;
	return c > PVB_UTIL_MAX ? PVB_UTIL_MAX : c;
}

/* The guest's checks of a region the host offers: 0 if it can be used, else a reason. */
static inline const char *pvb_boost_guest_check(const struct pvb_boost_hdr *h, uint64_t region_size,
						unsigned vcpus)
{
	if (region_size < PVB_BOOST_HDR_SIZE || __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PVB_BOOST_MAGIC)
		return "no boost region";
	if (h->version < 1 || h->hdr_size != PVB_BOOST_HDR_SIZE || h->slot_size != PVB_BOOST_SLOT_SIZE)
		return "boost region: unknown version or layout";
	if (h->nr_vcpus < vcpus || h->nr_vcpus > PVB_BOOST_MAX_VCPUS || h->size > region_size ||
	    h->size < pvb_boost_region_size(h->nr_vcpus))
		return "boost region: too small for the vCPUs";
	return 0;
}

/* ---- host side (boost_decode.c) ---- */

/* The VM's limits: what the host will accept from this guest. */
struct pvb_boost_limits {
	uint8_t max_prio;            /* RT priorities above are clamped to it */
	uint32_t features;           /* what was negotiated: fields of other features are ignored */
	uint64_t max_ahead_tsc;      /* a next_rt_tsc further ahead than this is not believed */
	unsigned read_tries;         /* seqcount retries before a read counts as torn (>= 1) */
};

/* A consistent, validated, clamped snapshot of one slot. */
struct pvb_boost_view {
	uint8_t cls, prio, flags;
	uint64_t next_rt_tsc;        /* 0 when absent, not negotiated or not believed */
	uint32_t util;
	uint32_t kicks;
	uint64_t stamp_tsc;          /* as written: only a bound on the TSC offset, never trusted */
};

/* Why values were not taken as written: counters a policy adds up and reports. */
struct pvb_boost_stats {
	uint64_t reads, torn, bad_class, prio_clamped, bad_flags, util_clamped, rt_rejected;
};

enum pvb_boost_read_result {
	PVB_BOOST_READ_OK = 0,
	PVB_BOOST_READ_CLAMPED = 1,  /* consistent, but something was out of range: see stats */
	PVB_BOOST_READ_TORN = 2,     /* no consistent snapshot within read_tries: view untouched */
};

/* Reads slot s (guest memory: volatile, untrusted) at host time now_tsc (in the guest's TSC). */
int pvb_boost_read(const volatile struct pvb_boost_slot *s, const struct pvb_boost_limits *lim,
		   uint64_t now_tsc, struct pvb_boost_view *out, struct pvb_boost_stats *st);

/* The host's checks of a negotiated region of nr_vcpus slots: 0 if usable (the negotiated
 * features in *features), else the reason. The guest can overwrite the host's half of the header
 * too: that is a reason. */
const char *pvb_boost_host_check(const volatile struct pvb_boost_hdr *h, uint64_t region_size,
				 unsigned nr_vcpus, uint32_t *features);

/* The host's half of a slot: what it did (seqcount host_seq around it). */
void pvb_boost_host_publish(struct pvb_boost_slot *s, int boosted, unsigned prio, unsigned capacity,
			    unsigned capacity_orig, uint32_t freq_khz);

/* Fills the header of a fresh region (host, before the guest starts; magic last). */
void pvb_boost_host_init(void *region, uint64_t region_size, unsigned nr_vcpus, uint32_t features,
			 uint8_t max_prio);

#endif
