/* SPDX-License-Identifier: MIT */
/* Pre-copy live migration over impl/vmm, and its throttles (precopy.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "precopy.h"

#define PAGE 4096u

static double ms_since(uint64_t t0)
{
	return (double)(vmm_now_ns() - t0) / 1e6;
}

static void sleep_until_ns(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

uint64_t precopy_digest(const void *page)
{
	const uint64_t *w = page;
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < PAGE / 8; i++) {
		h = (h ^ w[i]) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* reads n bytes, waiting at most timeout_ms for each part (-1: for ever); 0, or -1 (EOF, error,
 * or timeout: errno ETIMEDOUT) */
static int read_all(int fd, void *p, size_t n, int timeout_ms)
{
	char *c = p;
	while (n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int r = poll(&pf, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			return -1;
		ssize_t got = read(fd, c, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EPIPE;
			return -1;
		}
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

/* a header, and the payload when given (NULL: the caller writes len bytes next) */
static int send_msg(int fd, uint32_t type, uint64_t arg, const void *payload, uint64_t len)
{
	struct precopy_msg m = { .magic = PC_MAGIC, .type = type, .arg = arg, .len = len };
	return write_all(fd, &m, sizeof(m)) || (payload && write_all(fd, payload, (size_t)len)) ? -1 : 0;
}

/* ---- the source ---- */

struct sender {
	struct vmm *v;
	int sock;
	const struct precopy_params *p;
	struct precopy_stats *st;
	uint64_t npages, *want, *ring_bm, t0, link_t0, link_bytes, next_sample;
	uint64_t gfn[PC_BATCH];
	struct iovec iov[PC_BATCH + 2];
	/* the throttle's thread */
	pthread_t th;
	int th_on;
	volatile int th_stop;
	char *err;
	size_t errlen;
};

static void sample(struct sender *s, const char *status)
{
	s->st->status = status;
	s->st->t_ms = ms_since(s->t0);
	if (s->p->sample)
		s->p->sample(s->p->arg, s->st);
	s->next_sample = vmm_now_ns() + 100000000u;
}

/* one PC_PAGES message of n pages; limited: through the token bucket */
static int send_batch(struct sender *s, int n, int limited)
{
	struct precopy_msg m = { .magic = PC_MAGIC, .type = PC_PAGES, .arg = (uint64_t)n };
	int iv = 2;
	uint64_t data = 0;
	for (int i = 0; i < n; i++) {
		uint8_t *pg = s->v->mem + s->gfn[i] * PAGE;
		static const uint64_t zero[PAGE / 8];
		if (!memcmp(pg, zero, PAGE)) { /* QEMU sends zero pages as a flag too */
			s->gfn[i] |= PC_ZERO;
			s->st->zero_pages++;
			continue;
		}
		s->iov[iv++] = (struct iovec){ pg, PAGE };
		data += PAGE;
		s->st->pages++;
	}
	m.len = (uint64_t)n * 8 + data;
	s->iov[0] = (struct iovec){ &m, sizeof(m) };
	s->iov[1] = (struct iovec){ s->gfn, (size_t)n * 8 };
	size_t total = sizeof(m) + m.len;
	for (int at = 0; total;) { /* writev, resumed after a short write */
		ssize_t w = writev(s->sock, s->iov + at, iv - at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(s->err, s->errlen, "precopy: the destination's socket: %s", strerror(errno));
			return -1;
		}
		total -= (size_t)w;
		while (at < iv && (size_t)w >= s->iov[at].iov_len)
			w -= (ssize_t)s->iov[at++].iov_len;
		if (at < iv) {
			s->iov[at].iov_base = (char *)s->iov[at].iov_base + w;
			s->iov[at].iov_len -= (size_t)w;
		}
	}
	s->st->bytes += sizeof(m) + m.len;
	if (limited) { /* the token bucket: never ahead of the link's rate since it started */
		s->link_bytes += sizeof(m) + m.len;
		uint64_t due = s->link_t0 + (uint64_t)((double)s->link_bytes / s->p->bandwidth_bps * 1e9);
		if (due > vmm_now_ns())
			sleep_until_ns(due);
	}
	return 0;
}

/* sends every page set in want (and clears it); 1 when the deadline or a cancel came first */
static int send_set(struct sender *s, int limited, int check_deadline)
{
	int n = 0;
	for (uint64_t w = 0; w < (s->npages + 63) / 64; w++) {
		uint64_t bits = s->want[w];
		s->want[w] = 0;
		while (bits) {
			s->gfn[n++] = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (n < PC_BATCH)
				continue;
			if (send_batch(s, n, limited))
				return -1;
			n = 0;
			if (vmm_now_ns() >= s->next_sample)
				sample(s, limited ? "active" : "stop-copy");
			if (check_deadline && ((s->p->cancel && *s->p->cancel) || s->v->state != VMM_RUNNING ||
					       ms_since(s->t0) > s->p->deadline_ms))
				return 1;
		}
	}
	return n ? send_batch(s, n, limited) : 0;
}

/* the pages dirtied since the last sync, into want; returns how many */
static int64_t sync_dirty(struct sender *s)
{
	struct vmm *v = s->v;
	uint64_t words = (s->npages + 63) / 64, n = 0;
	if (s->p->dirty_ring) {
		pthread_mutex_lock(&v->lock);
		for (int i = 0; i < v->nr_vcpus; i++)
			vmm_harvest_dirty_ring(&v->vcpu[i]);
		int rc = vmm_reset_dirty_rings(v, s->err, s->errlen);
		for (uint64_t w = 0; w < words; w++) {
			s->want[w] |= s->ring_bm[w];
			s->ring_bm[w] = 0;
		}
		pthread_mutex_unlock(&v->lock);
		if (rc)
			return -1;
	} else {
		static uint64_t *log; /* KVM_GET_DIRTY_LOG's bitmap, OR'd into want */
		static uint64_t log_words;
		if (log_words < words) {
			free(log);
			log = calloc(words, 8);
			log_words = log ? words : 0;
			if (!log) {
				snprintf(s->err, s->errlen, "precopy: out of memory");
				return -1;
			}
		}
		if (vmm_get_dirty_log(v, 0, log, s->err, s->errlen))
			return -1;
		for (uint64_t w = 0; w < words; w++)
			s->want[w] |= log[w];
	}
	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(s->want[w]);
	return (int64_t)n;
}

/* auto-converge's timer (QEMU's cpu_throttle): every vCPU runs 10 ms, then sleeps pct/(100-pct) of
 * that; dirty quota: each interval, a budget per vCPU, and a check of what each has dirtied every
 * quarter interval (the rings harvested), holding the ones that spent it until the interval ends */
static void *throttle_main(void *arg)
{
	struct sender *s = arg;
	struct vmm *v = s->v;
	const uint64_t slice = 10000000u;
	uint64_t used[VMM_MAX_VCPUS] = { 0 }, seen[VMM_MAX_VCPUS];
	double budget[VMM_MAX_VCPUS], tokens[VMM_MAX_VCPUS] = { 0 };

	double even0 = s->p->bandwidth_bps * s->p->quota_interval_ms / 1e3 / PAGE * s->p->quota_share_pct / 100.0 /
		       v->nr_vcpus;
	for (int i = 0; i < v->nr_vcpus; i++) { /* a bucket starts full, with an even share */
		seen[i] = v->vcpu[i].harvested;
		budget[i] = tokens[i] = even0;
	}

	while (!s->th_stop) {
		uint64_t now = vmm_now_ns();
		if (s->p->throttle == PRECOPY_AUTO_CONVERGE) {
			int pct = __atomic_load_n(&s->st->throttle_pct, __ATOMIC_RELAXED);
			uint64_t sleep = pct > 0 ? slice * (uint64_t)pct / (uint64_t)(100 - pct) : 0;
			for (int i = 0; sleep && i < v->nr_vcpus; i++)
				vmm_vcpu_hold(&v->vcpu[i], now + sleep);
			sleep_until_ns(now + slice + sleep);
			continue;
		}
		/* dirty quota: the VM may dirty quota_share_pct of what the link sends in an interval, so
		 * the link gains on the dirty set pass after pass. A vCPU that used less than an even share
		 * last interval is given the even share (it is never slowed); the writers split the rest.
		 * Each vCPU's budget is a token bucket checked at every quarter interval: what it dirtied
		 * beyond its tokens is a debt it sits out, held for as long as its budget takes to pay it --
		 * so the check's granularity does not let a fast writer through (KVM_CAP_DIRTY_QUOTA would
		 * stop it at the exact page; this kernel has no such exit). */
		uint64_t iv = (uint64_t)s->p->quota_interval_ms * 1000000u;
		double total = s->p->bandwidth_bps * (double)s->p->quota_interval_ms / 1e3 / PAGE *
			       s->p->quota_share_pct / 100.0;
		double even = total / v->nr_vcpus, left = total;
		int heavy = 0;
		for (int i = 0; i < v->nr_vcpus; i++) {
			if ((double)used[i] < even)
				left -= (double)used[i];
			else
				heavy++;
		}
		for (int i = 0; i < v->nr_vcpus; i++) {
			budget[i] = (double)used[i] < even ? even : left / (heavy ? heavy : 1);
			if (budget[i] < 1)
				budget[i] = 1;
			used[i] = 0;
		}
		for (int q = 1; q <= 4 && !s->th_stop; q++) {
			uint64_t at = now + iv * (uint64_t)q / 4;
			sleep_until_ns(at);
			pthread_mutex_lock(&v->lock);
			for (int i = 0; i < v->nr_vcpus; i++)
				vmm_harvest_dirty_ring(&v->vcpu[i]);
			/* pages are write-protected again once an interval: a vCPU's hot pages (its stack,
			 * its counters) cost it once an interval, not once a check */
			if (q == 4)
				vmm_reset_dirty_rings(v, NULL, 0); /* a failure shows at the pass's own sync */
			pthread_mutex_unlock(&v->lock);
			for (int i = 0; i < v->nr_vcpus; i++) {
				struct vmm_vcpu *c = &v->vcpu[i];
				uint64_t spent = c->harvested - seen[i];
				seen[i] = c->harvested;
				used[i] += spent;
				tokens[i] += budget[i] / 4 - (double)spent;
				if (tokens[i] > budget[i]) /* no saving up beyond one interval */
					tokens[i] = budget[i];
				if (tokens[i] < 0) /* in debt: sits it out */
					vmm_vcpu_hold(c, at + (uint64_t)(-tokens[i] / budget[i] * (double)iv));
				/* the vCPU stops itself too, when a full ring shows it past its tokens */
				c->quota_until = at + iv / 4;
				c->quota_end = c->harvested + (tokens[i] > 0 ? (uint64_t)tokens[i] : 0);
			}
		}
	}
	return NULL;
}

static void throttle_stop(struct sender *s)
{
	struct vmm *v = s->v;
	if (s->th_on) {
		s->th_stop = 1;
		pthread_join(s->th, NULL);
		s->th_on = 0;
	}
	for (int i = 0; i < v->nr_vcpus; i++) {
		v->vcpu[i].quota_end = 0;
		vmm_vcpu_hold(&v->vcpu[i], 0);
		s->st->holds[i] = v->vcpu[i].holds;
		s->st->held_ms[i] = (double)v->vcpu[i].held_ns / 1e6;
	}
}

/* QEMU's auto-converge step at each sync after the first: when the pages dirtied in the period
 * exceed half of what was sent in it (throttle-trigger-threshold 50) twice, throttle harder */
static void auto_converge(struct sender *s, uint64_t dirtied, uint64_t sent, int *high)
{
	struct precopy_stats *st = s->st;
	if (s->p->throttle != PRECOPY_AUTO_CONVERGE || dirtied * 2 <= sent || ++*high < 2)
		return;
	*high = 0;
	int pct = st->throttle_pct ? st->throttle_pct + s->p->ac_increment : s->p->ac_initial;
	pct = pct > 99 ? 99 : pct;
	__atomic_store_n(&st->throttle_pct, pct, __ATOMIC_RELAXED);
	if (pct > st->max_throttle_pct)
		st->max_throttle_pct = pct;
}

/* the destination's answer to PC_END: restore time, then every page's digest, checked */
static int check_destination(struct sender *s, uint64_t t_pause)
{
	struct precopy_msg m;
	struct precopy_stats *st = s->st;
	if (read_all(s->sock, &m, sizeof(m), 60000) || m.magic != PC_MAGIC || m.type != PC_RESTORED) {
		snprintf(s->err, s->errlen, "precopy: no restore from the destination (%s)", strerror(errno));
		return -1;
	}
	st->downtime_ms = ms_since(t_pause);
	st->restore_ms = (double)m.arg / 1e3;
	uint64_t t_v = vmm_now_ns();
	if (read_all(s->sock, &m, sizeof(m), 60000) || m.magic != PC_MAGIC || m.type != PC_DIGESTS ||
	    m.arg != s->npages || m.len != s->npages * 8) {
		snprintf(s->err, s->errlen, "precopy: no page digests from the destination");
		return -1;
	}
	uint64_t d[512];
	for (uint64_t at = 0; at < s->npages; at += 512) {
		uint64_t n = s->npages - at < 512 ? s->npages - at : 512;
		if (read_all(s->sock, d, n * 8, 60000)) {
			snprintf(s->err, s->errlen, "precopy: page digests cut short at page %llu of %llu (%s)",
				 (unsigned long long)at, (unsigned long long)s->npages, strerror(errno));
			return -1;
		}
		for (uint64_t i = 0; i < n; i++)
			if (d[i] != precopy_digest(s->v->mem + (at + i) * PAGE) && !st->pages_differ++)
				st->first_differ = at + i;
	}
	st->verify_ms = ms_since(t_v);
	return 0;
}

/* The live passes: every page, then what was dirtied meanwhile, until what is left fits the
 * downtime (1), or the deadline, a cancel or the guest's end comes first (0: the destination told
 * to cancel, logging off); -1 on an error. */
static int iterate(struct sender *s, int *logging)
{
	const struct precopy_params *p = s->p;
	struct precopy_stats *st = s->st;
	struct vmm *v = s->v;
	int high = 0;
	for (;;) {
		uint64_t sent0 = st->pages + st->zero_pages;
		int r = send_set(s, 1, 1);
		if (r < 0)
			return -1;
		if (r == 0)
			st->passes++;
		int64_t dirty = r ? 0 : sync_dirty(s);
		if (dirty < 0)
			return -1;
		if (r || (p->cancel && *p->cancel) || v->state != VMM_RUNNING || ms_since(s->t0) > p->deadline_ms) {
			/* unconverged (or the guest ended meanwhile) */
			throttle_stop(s);
			vmm_set_dirty_bitmap(v, 0, NULL);
			vmm_slot_flags(v, 0, 0, NULL, 0);
			*logging = 0;
			send_msg(s->sock, PC_CANCEL, 0, NULL, 0);
			st->total_ms = ms_since(s->t0);
			sample(s, "cancelled");
			return 0;
		}
		st->remaining = (uint64_t)dirty;
		st->dirtied += (uint64_t)dirty;
		auto_converge(s, (uint64_t)dirty, st->pages + st->zero_pages - sent0, &high);
		if ((double)dirty * PAGE / p->bandwidth_bps * 1e3 <= p->downtime_ms)
			return 1;
	}
}

/* Stop and copy: the vCPUs out, the last dirty pages (at full speed, as QEMU's last pass), each
 * vCPU's state, then the end, and the destination's check. 0, or -1 (*paused says whether the
 * vCPUs are to be resumed). */
static int stop_and_copy(struct sender *s, int *paused)
{
	static struct vmm_vcpu_state vs;
	struct precopy_stats *st = s->st;
	struct vmm *v = s->v;
	uint64_t t_pause = vmm_now_ns();
	sample(s, "stop-copy");
	throttle_stop(s);
	if (vmm_pause(v, 5000, s->err, s->errlen))
		return -1;
	*paused = 1;
	int64_t last = sync_dirty(s);
	if (last < 0 || send_set(s, 0, 0))
		return -1;
	st->dirtied += (uint64_t)last - st->remaining; /* want still held the last pass's set */
	st->passes++;
	for (int i = 0; i < v->nr_vcpus; i++)
		if (vmm_vcpu_save(&v->vcpu[i], &vs, s->err, s->errlen) ||
		    send_msg(s->sock, PC_VCPU, (uint64_t)i, &vs, sizeof(vs))) {
			if (!s->err[0])
				snprintf(s->err, s->errlen, "precopy: the destination's socket: %s", strerror(errno));
			return -1;
		}
	if (send_msg(s->sock, PC_END, (uint64_t)v->nr_vcpus, NULL, 0)) {
		snprintf(s->err, s->errlen, "precopy: the destination's socket: %s", strerror(errno));
		return -1;
	}
	st->bytes += (uint64_t)v->nr_vcpus * (sizeof(struct precopy_msg) + sizeof(vs)) + sizeof(struct precopy_msg);
	return check_destination(s, t_pause);
}

int precopy_send(struct vmm *v, int sock, const struct precopy_params *p, struct precopy_stats *st, char *err,
		 size_t errlen)
{
	static struct sender s;
	int rc = -1, logging = 0, paused = 0;

	memset(st, 0, sizeof(*st));
	memset(&s, 0, sizeof(s));
	s.v = v, s.sock = sock, s.p = p, s.st = st, s.err = err, s.errlen = errlen;
	s.t0 = vmm_now_ns();
	s.npages = v->mem_size / PAGE;
	s.want = calloc((s.npages + 63) / 64, 8);
	s.ring_bm = calloc((s.npages + 63) / 64, 8);
	if (!s.want || !s.ring_bm) {
		snprintf(err, errlen, "precopy: out of memory");
		goto out;
	}
	if (p->throttle == PRECOPY_DIRTY_QUOTA && !p->dirty_ring) {
		snprintf(err, errlen, "precopy: the dirty quota counts each vCPU's pages: it needs the dirty ring");
		goto out;
	}
	sample(&s, "setup");
	if (p->dirty_ring)
		vmm_set_dirty_bitmap(v, 0, s.ring_bm);
	if (vmm_slot_flags(v, 0, KVM_MEM_LOG_DIRTY_PAGES, err, errlen))
		goto out;
	logging = 1;
	st->setup_ms = ms_since(s.t0);
	memset(s.want, 0xff, (s.npages / 64) * 8); /* the first pass: every page */
	for (uint64_t i = s.npages / 64 * 64; i < s.npages; i++)
		s.want[i / 64] |= 1ull << (i % 64);
	if (p->throttle != PRECOPY_NONE) {
		if (pthread_create(&s.th, NULL, throttle_main, &s)) {
			snprintf(err, errlen, "precopy: pthread_create: %s", strerror(errno));
			goto out;
		}
		s.th_on = 1;
	}
	s.link_t0 = vmm_now_ns();
	int r = iterate(&s, &logging);
	if (r <= 0) {
		rc = r;
		goto out;
	}
	if (stop_and_copy(&s, &paused))
		goto out;
	st->total_ms = ms_since(s.t0) - st->verify_ms;
	st->converged = 1;
	sample(&s, "completed");
	rc = 1;
out:
	if (rc < 0) {
		throttle_stop(&s);
		st->status = "failed";
		if (paused)
			vmm_resume(v);
	}
	if (logging && rc != 1) {
		vmm_set_dirty_bitmap(v, 0, NULL);
		vmm_slot_flags(v, 0, 0, NULL, 0);
	}
	if (rc == 1)
		vmm_set_dirty_bitmap(v, 0, NULL);
	free(s.want);
	free(s.ring_bm);
	return rc;
}

/* ---- the destination ---- */

int precopy_receive(struct vmm *v, int sock, char *err, size_t errlen)
{
	static struct vmm_vcpu_state vs;
	static uint64_t gfn[PC_BATCH];
	uint64_t npages = v->mem_size / PAGE, t_end;
	struct precopy_msg m;
	int restored = 0;

	for (;;) {
		if (read_all(sock, &m, sizeof(m), -1)) {
			snprintf(err, errlen, "precopy: the stream from the source ended (%s)", strerror(errno));
			return -1;
		}
		if (m.magic != PC_MAGIC) {
			snprintf(err, errlen, "precopy: bad stream: magic 0x%08x, not 0x%08x", m.magic, PC_MAGIC);
			return -1;
		}
		switch (m.type) {
		case PC_PAGES: {
			uint64_t n = m.arg, data = 0;
			if (n == 0 || n > PC_BATCH || m.len < n * 8) {
				snprintf(err, errlen, "precopy: bad stream: %llu pages in a batch (1..%d)",
					 (unsigned long long)n, PC_BATCH);
				return -1;
			}
			if (read_all(sock, gfn, n * 8, 60000))
				goto cut;
			for (uint64_t i = 0; i < n; i++) {
				uint64_t g = gfn[i] & ~PC_ZERO;
				if (g >= npages) {
					snprintf(err, errlen, "precopy: bad stream: page %llu beyond the guest's %llu",
						 (unsigned long long)g, (unsigned long long)npages);
					return -1;
				}
				data += gfn[i] & PC_ZERO ? 0 : PAGE;
			}
			if (m.len != n * 8 + data) {
				snprintf(err, errlen, "precopy: bad stream: a batch of %llu bytes, its pages say %llu",
					 (unsigned long long)m.len, (unsigned long long)(n * 8 + data));
				return -1;
			}
			for (uint64_t i = 0; i < n; i++) {
				uint8_t *pg = v->mem + (gfn[i] & ~PC_ZERO) * PAGE;
				if (gfn[i] & PC_ZERO)
					memset(pg, 0, PAGE);
				else if (read_all(sock, pg, PAGE, 60000))
					goto cut;
			}
			break;
		}
		case PC_VCPU:
			if (m.arg >= (uint64_t)v->nr_vcpus || m.len != sizeof(vs)) {
				snprintf(err, errlen, "precopy: bad stream: state of vCPU %llu (%llu bytes) for a VM of %d",
					 (unsigned long long)m.arg, (unsigned long long)m.len, v->nr_vcpus);
				return -1;
			}
			if (read_all(sock, &vs, sizeof(vs), 60000))
				goto cut;
			vs.nmsrs = vs.nmsrs > VMM_MAX_MSRS ? VMM_MAX_MSRS : vs.nmsrs;
			if (vmm_vcpu_restore(&v->vcpu[m.arg], &vs, err, errlen))
				return -1;
			restored |= 1 << m.arg;
			break;
		case PC_END: {
			t_end = vmm_now_ns();
			if (m.arg != (uint64_t)v->nr_vcpus || restored != (1 << v->nr_vcpus) - 1) {
				snprintf(err, errlen, "precopy: the stream ended with %d of %d vCPUs' state",
					 __builtin_popcount((unsigned)restored), v->nr_vcpus);
				return -1;
			}
			/* the downtime ends here; the digests are the harness's check, as QEMU's paused
			 * destination is in the reference */
			if (send_msg(sock, PC_RESTORED, (vmm_now_ns() - t_end) / 1000, NULL, 0) ||
			    send_msg(sock, PC_DIGESTS, npages, NULL, npages * 8))
				goto cut;
			uint64_t d[512];
			for (uint64_t at = 0; at < npages; at += 512) {
				uint64_t k = npages - at < 512 ? npages - at : 512;
				for (uint64_t i = 0; i < k; i++)
					d[i] = precopy_digest(v->mem + (at + i) * PAGE);
				if (write_all(sock, d, k * 8))
					goto cut;
			}
			return 1;
		}
		case PC_CANCEL:
			return 0;
		default:
			snprintf(err, errlen, "precopy: bad stream: message type %u", m.type);
			return -1;
		}
	}
cut:
	snprintf(err, errlen, "precopy: the stream from the source was cut (%s)", strerror(errno));
	return -1;
}
