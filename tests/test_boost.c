/* SPDX-License-Identifier: MIT */
/* pvb_boost.h: negotiation from both sides, and the host's reading of a slot: consistent
 * snapshots only, every field checked against the VM's limits, every rejection counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "pvb_boost.h"

#define NV 4
static uint8_t region[PVB_BOOST_HDR_SIZE + NV * PVB_BOOST_SLOT_SIZE];
static const struct pvb_boost_limits lim = {
	.max_prio = 50, .features = PVB_BF_KNOWN, .max_ahead_tsc = 1000000, .read_tries = 3,
};

static int setup(void **state)
{
	pvb_boost_host_init(region, sizeof(region), NV, PVB_BF_KNOWN, 50);
	return 0;
}

static void negotiation(void **state)
{
	struct pvb_boost_hdr *h = (void *)region;
	uint32_t f = 0;

	assert_null(pvb_boost_guest_check(h, sizeof(region), NV));
	assert_non_null(pvb_boost_guest_check(h, sizeof(region), NV + 1)); /* more vCPUs than slots */
	assert_non_null(pvb_boost_guest_check(h, 32, NV));                  /* region cut short */
	assert_string_equal(pvb_boost_host_check(h, sizeof(region), NV, &f), "the guest did not negotiate");
	h->guest_features = PVB_BF_BOOST | PVB_BF_UTIL;
	h->guest_version = 1;
	h->guest_ready = 1;
	assert_null(pvb_boost_host_check(h, sizeof(region), NV, &f));
	assert_int_equal(f, PVB_BF_BOOST | PVB_BF_UTIL);
	h->guest_version = 7;
	assert_non_null(pvb_boost_host_check(h, sizeof(region), NV, &f));
	h->guest_version = 1;
	h->nr_vcpus = 64; /* the guest overwrote the host's half */
	assert_string_equal(pvb_boost_host_check(h, sizeof(region), NV, &f),
			    "the boost header is not what the host wrote");
	setup(NULL);
	((struct pvb_boost_hdr *)region)->magic = 0;
	assert_string_equal(pvb_boost_guest_check((void *)region, sizeof(region), NV), "no boost region");
}

static void a_good_slot_reads_as_written(void **state)
{
	struct pvb_boost_slot *s = pvb_boost_slot(region, 2);
	struct pvb_boost_view v;
	struct pvb_boost_stats st = { 0 };

	pvb_boost_publish(s, PVB_CLASS_RT, 40, PVB_SF_BOOST_REQ, 5000500, 700, 4999999);
	assert_int_equal(s->seq, 2);
	assert_int_equal(pvb_boost_read(s, &lim, 5000000, &v, &st), PVB_BOOST_READ_OK);
	assert_int_equal(v.cls, PVB_CLASS_RT);
	assert_int_equal(v.prio, 40);
	assert_int_equal(v.flags, PVB_SF_BOOST_REQ);
	assert_int_equal(v.next_rt_tsc, 5000500);
	assert_int_equal(v.util, 700);
	assert_int_equal(v.stamp_tsc, 4999999);
	assert_int_equal(st.reads, 1);
}

static void a_write_in_progress_is_torn(void **state)
{
	struct pvb_boost_slot *s = pvb_boost_slot(region, 0);
	struct pvb_boost_view v = { .cls = 99 };
	struct pvb_boost_stats st = { 0 };

	s->seq = 7; /* odd: the guest is (or claims to be) writing, forever */
	assert_int_equal(pvb_boost_read(s, &lim, 0, &v, &st), PVB_BOOST_READ_TORN);
	assert_int_equal(v.cls, 99); /* untouched */
	assert_int_equal(st.torn, 1);
}

/* Garbage is clamped to the VM's limits, and each kind of rejection is counted. */
static void garbage_is_clamped_and_counted(void **state)
{
	static const struct {
		uint8_t cls, prio, flags;
		uint64_t rt;
		uint32_t util;
		uint8_t want_cls, want_prio, want_flags;
		uint64_t want_rt;
		uint32_t want_util;
	} c[] = {
		{ 7, 99, 0, 0, 0, PVB_CLASS_NORMAL, 0, 0, 0, 0 },              /* unknown class: never RT */
		{ PVB_CLASS_RT, 99, 0, 0, 0, PVB_CLASS_RT, 50, 0, 0, 0 },      /* prio over the cap */
		{ PVB_CLASS_RT, 0, 0, 0, 0, PVB_CLASS_RT, 1, 0, 0, 0 },        /* RT needs a prio */
		{ PVB_CLASS_NORMAL, 80, 0, 0, 0, PVB_CLASS_NORMAL, 0, 0, 0, 0 }, /* prio only for RT */
		{ PVB_CLASS_IDLE, 0, 0xff, 0, 0, PVB_CLASS_IDLE, 0, PVB_SF_KNOWN, 0, 0 },
		{ PVB_CLASS_IDLE, 0, 0, 0, 0xffffffffu, PVB_CLASS_IDLE, 0, 0, 0, PVB_UTIL_MAX },
		{ PVB_CLASS_IDLE, 0, 0, 5000000 + 2000000, 0, PVB_CLASS_IDLE, 0, 0, 0, 0 }, /* too far ahead */
		{ PVB_CLASS_IDLE, 0, 0, 1, 0, PVB_CLASS_IDLE, 0, 0, 0, 0 },    /* long past */
		{ PVB_CLASS_IDLE, 0, 0, 4999000, 0, PVB_CLASS_IDLE, 0, 0, 4999000, 0 }, /* just due */
	};
	struct pvb_boost_slot *s = pvb_boost_slot(region, 1);
	struct pvb_boost_stats st = { 0 };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct pvb_boost_view v;
		pvb_boost_publish(s, c[i].cls, c[i].prio, c[i].flags, c[i].rt, c[i].util, 0);
		int r = pvb_boost_read(s, &lim, 5000000, &v, &st);
		assert_true(r == PVB_BOOST_READ_OK || r == PVB_BOOST_READ_CLAMPED);
		if (v.cls != c[i].want_cls || v.prio != c[i].want_prio || v.flags != c[i].want_flags ||
		    v.next_rt_tsc != c[i].want_rt || v.util != c[i].want_util)
			fail_msg("case %zu: got class %u prio %u flags %#x rt %llu util %u", i, v.cls, v.prio,
				 v.flags, (unsigned long long)v.next_rt_tsc, v.util);
	}
	assert_int_equal(st.bad_class, 1);
	assert_int_equal(st.prio_clamped, 2);
	assert_int_equal(st.bad_flags, 1);
	assert_int_equal(st.util_clamped, 1);
	assert_int_equal(st.rt_rejected, 2);
}

/* The host's half as the guest reads it: what was published, clamped to the scale, and nothing
 * (0: keep the old value) while the host is in the middle of a write. */
static void the_guest_reads_the_hosts_half(void **state)
{
	struct pvb_boost_slot *s = pvb_boost_slot(region, 1);
	unsigned cap = 1;
	uint32_t khz = 1;

	pvb_boost_host_publish(s, 1, 40, 300, 485, 1416000);
	assert_true(pvb_boost_is_boosted(s));
	pvb_boost_hint(s, &cap, &khz);
	assert_int_equal(cap, 300);
	assert_int_equal(khz, 1416000);
	assert_int_equal(pvb_boost_capacity_orig(s), 485);
	pvb_boost_host_publish(s, 0, 0, 5000, 70000, 1800000); /* over the scale: clamped */
	assert_false(pvb_boost_is_boosted(s));
	pvb_boost_hint(s, &cap, &khz);
	assert_int_equal(cap, PVB_UTIL_MAX);
	assert_int_equal(pvb_boost_capacity_orig(s), PVB_UTIL_MAX);
	s->host_seq++; /* a write in progress */
	pvb_boost_hint(s, &cap, &khz);
	assert_int_equal(cap, 0);
	assert_int_equal(khz, 0);
	assert_int_equal(pvb_boost_capacity_orig(s), 0);
	assert_false(pvb_boost_is_boosted(s));
}

/* Fields of features the guest did not accept are not read into the view. */
static void unnegotiated_fields_are_ignored(void **state)
{
	struct pvb_boost_limits l = lim;
	struct pvb_boost_slot *s = pvb_boost_slot(region, 3);
	struct pvb_boost_view v;
	struct pvb_boost_stats st = { 0 };

	l.features = PVB_BF_HINT;
	pvb_boost_publish(s, PVB_CLASS_RT, 40, PVB_SF_BOOST_REQ, 5000100, 900, 0);
	assert_int_equal(pvb_boost_read(s, &l, 5000000, &v, &st), PVB_BOOST_READ_OK);
	assert_int_equal(v.cls, PVB_CLASS_NORMAL);
	assert_int_equal(v.prio, 0);
	assert_int_equal(v.flags, 0);
	assert_int_equal(v.next_rt_tsc, 0);
	assert_int_equal(v.util, 0);
}

/* The guest's word to the host when the two disagree: nothing when they agree; an unboost rings
 * unless the vCPU halts until RT work under a host that traces it; a boost request only kicks the
 * counter under such a host, and rings without one. */
static void the_guest_rings_only_what_the_host_cannot_see(void **state)
{
	struct pvb_boost_hdr *h = (struct pvb_boost_hdr *)region;
	static const struct { int sees, boosted, wants, halts, how; } c[] = {
		{ 0, 0, 0, 0, PVB_TELL_NONE }, { 0, 1, 1, 0, PVB_TELL_NONE }, { 1, 0, 0, 1, PVB_TELL_NONE },
		{ 1, 1, 1, 0, PVB_TELL_NONE },
		{ 0, 0, 1, 0, PVB_TELL_RING }, { 1, 0, 1, 0, PVB_TELL_KICK }, /* an RT task starts */
		{ 0, 1, 0, 1, PVB_TELL_RING }, { 1, 1, 0, 1, PVB_TELL_KICK }, /* halts until RT work */
		{ 0, 1, 0, 0, PVB_TELL_RING }, { 1, 1, 0, 0, PVB_TELL_RING }, /* runs on, or halts for good */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		h->host_sees = c[i].sees ? PVB_HS_SCHED : 0;
		assert_int_equal(pvb_boost_tell(h, c[i].boosted, c[i].wants, c[i].halts), c[i].how);
	}
	h->host_sees = ~PVB_HS_SCHED; /* bits the guest does not know see nothing */
	assert_int_equal(pvb_boost_tell(h, 0, 1, 0), PVB_TELL_RING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(negotiation, setup),
		cmocka_unit_test_setup(a_good_slot_reads_as_written, setup),
		cmocka_unit_test_setup(a_write_in_progress_is_torn, setup),
		cmocka_unit_test_setup(garbage_is_clamped_and_counted, setup),
		cmocka_unit_test_setup(the_guest_reads_the_hosts_half, setup),
		cmocka_unit_test_setup(unnegotiated_fields_are_ignored, setup),
		cmocka_unit_test_setup(the_guest_rings_only_what_the_host_cannot_see, setup),
	};
	return cmocka_run_group_tests_name("boost", tests, NULL, NULL);
}
