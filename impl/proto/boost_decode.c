/* SPDX-License-Identifier: MIT */
/* The host's side of pvb_boost.h: a consistent snapshot of a slot, every field checked against
 * the VM's limits, and counters of what was not taken as written. */
#include <string.h>
#include "pvb_boost.h"

int pvb_boost_read(const volatile struct pvb_boost_slot *s, const struct pvb_boost_limits *lim,
		   uint64_t now_tsc, struct pvb_boost_view *out, struct pvb_boost_stats *st)
{
	struct pvb_boost_view v;
	unsigned tries = lim->read_tries ? lim->read_tries : 1;
	int clamped = 0, consistent = 0;

	st->reads++;
	for (unsigned t = 0; t < tries && !consistent; t++) {
		uint32_t q0 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (q0 & 1)
			continue; /* the guest is writing */
		v.cls = s->cur_class;
		v.prio = s->cur_prio;
		v.flags = s->flags;
		v.next_rt_tsc = s->next_rt_tsc;
		v.util = s->util;
		v.kicks = s->kicks;
		v.stamp_tsc = s->stamp_tsc;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		consistent = __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == q0;
	}
	if (!consistent) {
		st->torn++;
		return PVB_BOOST_READ_TORN;
	}
	if (!(lim->features & PVB_BF_BOOST)) {
		v.cls = PVB_CLASS_NORMAL;
		v.prio = 0;
		v.flags = 0;
	}
	if (v.cls >= PVB_CLASS_COUNT) { /* unknown class: taken as normal work, never as RT */
		st->bad_class++;
		v.cls = PVB_CLASS_NORMAL;
		clamped = 1;
	}
	if (v.cls != PVB_CLASS_RT)
		v.prio = 0;
	else if (v.prio == 0 || v.prio > lim->max_prio) {
		st->prio_clamped++;
		v.prio = v.prio == 0 ? 1 : lim->max_prio;
		clamped = 1;
	}
	if (v.flags & ~PVB_SF_KNOWN) {
		st->bad_flags++;
		v.flags &= PVB_SF_KNOWN;
		clamped = 1;
	}
	if (!(lim->features & PVB_BF_UTIL))
		v.util = 0;
	else if (v.util > PVB_UTIL_MAX) {
		st->util_clamped++;
		v.util = PVB_UTIL_MAX;
		clamped = 1;
	}
	if (!(lim->features & PVB_BF_RT_DEADLINE)) {
		v.next_rt_tsc = 0;
	} else if (v.next_rt_tsc) {
		/* a deadline just past is plausible (already due); one further than max_ahead_tsc from
		 * now either way is not a deadline to act on */
		uint64_t d = v.next_rt_tsc > now_tsc ? v.next_rt_tsc - now_tsc : now_tsc - v.next_rt_tsc;
		if (d > lim->max_ahead_tsc) {
			st->rt_rejected++;
			v.next_rt_tsc = 0;
			clamped = 1;
		}
	}
	*out = v;
	return clamped ? PVB_BOOST_READ_CLAMPED : PVB_BOOST_READ_OK;
}

const char *pvb_boost_host_check(const volatile struct pvb_boost_hdr *h, uint64_t region_size,
				 unsigned nr_vcpus, uint32_t *features)
{
	/* the header is in guest memory: what the host wrote is compared with what it knows */
	if (region_size < pvb_boost_region_size(nr_vcpus) || h->magic != PVB_BOOST_MAGIC ||
	    h->version != PVB_BOOST_VERSION || h->hdr_size != PVB_BOOST_HDR_SIZE ||
	    h->slot_size != PVB_BOOST_SLOT_SIZE || h->nr_vcpus != nr_vcpus || h->size != region_size)
		return "the boost header is not what the host wrote";
	if (!__atomic_load_n(&h->guest_ready, __ATOMIC_ACQUIRE))
		return "the guest did not negotiate";
	if (h->guest_version < 1 || h->guest_version > h->version)
		return "the guest speaks an unknown version";
	uint32_t want = h->guest_features;
	if (want & ~h->host_features & PVB_BF_KNOWN)
		return "the guest accepted features the host did not offer";
	*features = want & h->host_features & PVB_BF_KNOWN;
	return 0;
}

void pvb_boost_host_publish(struct pvb_boost_slot *s, int boosted, unsigned prio, unsigned capacity,
			    unsigned capacity_orig, uint32_t freq_khz)
{
	uint32_t q = s->host_seq & ~1u; /* the guest may have written it: start from even */
	__atomic_store_n(&s->host_seq, q + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->boosted = (uint8_t)(boosted != 0);
	s->boost_prio = (uint8_t)prio;
	s->capacity = (uint16_t)(capacity > PVB_UTIL_MAX ? PVB_UTIL_MAX : capacity);
	s->freq_khz = freq_khz;
	s->capacity_orig = (uint16_t)(capacity_orig > PVB_UTIL_MAX ? PVB_UTIL_MAX : capacity_orig);
	__atomic_store_n(&s->host_seq, q + 2, __ATOMIC_RELEASE);
}

void pvb_boost_host_init(void *region, uint64_t region_size, unsigned nr_vcpus, uint32_t features,
			 uint8_t max_prio)
{
	struct pvb_boost_hdr *h = region;

	memset(region, 0, region_size);
	h->version = PVB_BOOST_VERSION;
	h->hdr_size = PVB_BOOST_HDR_SIZE;
	h->size = (uint32_t)region_size;
	h->nr_vcpus = (uint16_t)nr_vcpus;
	h->slot_size = PVB_BOOST_SLOT_SIZE;
	h->host_features = features & PVB_BF_KNOWN;
	h->max_prio = max_prio;
	__atomic_store_n(&h->magic, PVB_BOOST_MAGIC, __ATOMIC_RELEASE);
}
