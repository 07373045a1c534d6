/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "util.h"
#include "schedtrace.h"
#include "stats.h"

#define MAX_THREADS 16
#define RING_PAGES 64                    /* per CPU and event: 256 KiB */
#define WAKE_PAGES 1                     /* a ring whose event only wakes: EV_LEAVE, asked sleeps */

/* EV_SWITCH: switches out that wake the reader; EV_IN: switches in, the other switches out and the
 * reader's own, which wake no one;
 * EV_LEAVE: the reader leaving a CPU to another task, its output on only while it sleeps on one it took
 * from a traced thread (the same switch is in EV_IN: this one only wakes) */
enum { EV_SWITCH, EV_WAKEUP, EV_IN, EV_LEAVE, NR_EV };

struct rec { uint64_t ns; int type, prev, next, preempted; };

struct field { int off, size; };

/* A CPU the reader took from thread i at ns (i < 0: none) */
struct lend { int i; uint64_t ns; };
/* Thread i's CPU, taken by the reader at lent and left by it to another task at left (0: none):
 * settled once every ring is drained */
struct leave { uint64_t lent, left; };

/* The kernel's own accounting of a thread: on-CPU and runnable-waiting time, time slices,
 * involuntary switches (/proc/TID/schedstat and status). */
struct acct { uint64_t run_ns, wait_ns, slices, nonvol; int ok; };

static struct acct acct_of(int tid)
{
	struct acct a = { 0 };
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", tid);
	if ((f = fopen(path, "r"))) {
		a.ok = fscanf(f, "%llu %llu %llu", (unsigned long long *)&a.run_ns,
			      (unsigned long long *)&a.wait_ns, (unsigned long long *)&a.slices) == 3;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			sscanf(line, "nonvoluntary_ctxt_switches: %llu", (unsigned long long *)&a.nonvol);
		fclose(f);
	}
	return a;
}

struct schedtrace {
	int tids[MAX_THREADS], n, ncpus;
	struct acct a0[MAX_THREADS], a1[MAX_THREADS]; /* at start, and the last seen (the threads may
							 be gone at stop: QEMU exits with its guest) */
	uint64_t t_a1;
	int *fd;                             /* [cpu][event] */
	void **ring;
	int *armed;                          /* [cpu]: its EV_LEAVE writes (and so wakes) */
	struct field prev_pid, prev_state, next_pid, wake_pid;
	struct rec *r;
	size_t nr, cap;
	uint64_t lost, t0, t1;
	int reader;                          /* except_tid, or -1 */
	unsigned events;                     /* SCHEDTRACE_* asked for */
	int askfd[MAX_THREADS];              /* per thread: its sleeps, output on while asked (asked[]) */
	void *askring[MAX_THREADS];
	int asked[MAX_THREADS];
	struct lend *lent;                   /* [cpu]: the thread the reader preempted there, if any */
	struct leave left[MAX_THREADS];
	struct schedtrace_thread th[MAX_THREADS];
	uint64_t held_from[MAX_THREADS];     /* the preemption whose wait held_ns has counted */
	struct rec *pend;                    /* one drain's records, put in time order before noted */
	size_t npend, cappend;
};

static const char *const tracefs_dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* The tracefs directory, mounting it where it is not (as MACHINE.md says works here). */
static const char *tracefs(char *err, size_t errlen)
{
	char p[128];
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/events", tracefs_dirs[i]);
		if (access(p, R_OK) == 0)
			return tracefs_dirs[i];
	}
	mkdir("/sys/kernel/tracing", 0755);
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return tracefs_dirs[0];
	snprintf(err, errlen, "tracefs: not mounted and mounting it failed: %s", strerror(errno));
	return NULL;
}

/* An event's id and one field's offset and size from its format file. */
static int event_format(const char *dir, const char *event, int *id, const char *const *names,
			struct field *out, int nf, char *err, size_t errlen)
{
	char path[256], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/events/sched/%s/format", dir, event);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	*id = -1;
	for (int i = 0; i < nf; i++)
		out[i].off = -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "ID: %d", id);
		for (int i = 0; i < nf; i++) {
			char want[64];
			snprintf(want, sizeof(want), " %s;", names[i]);
			char *at = strstr(line, want);
			if (at && strstr(line, "field:"))
				sscanf(strstr(at, "offset:"), "offset:%d;\tsize:%d;", &out[i].off, &out[i].size);
		}
	}
	fclose(f);
	for (int i = 0; i < nf; i++)
		if (out[i].off < 0 || (out[i].size != 4 && out[i].size != 8)) {
			snprintf(err, errlen, "%s: no field %s", path, names[i]);
			return -1;
		}
	return *id < 0 ? (snprintf(err, errlen, "%s: no ID", path), -1) : 0;
}

#define FILTER_LEN 4096

static void append(char *f, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(f);
	va_start(ap, fmt);
	vsnprintf(f + n, FILTER_LEN - n, fmt, ap);
	va_end(ap);
}

static int64_t get(const uint8_t *raw, uint32_t len, struct field f)
{
	if ((uint32_t)(f.off + f.size) > len)
		return -1;
	if (f.size == 4) {
		int32_t v;
		memcpy(&v, raw + f.off, 4);
		return v;
	}
	int64_t v;
	memcpy(&v, raw + f.off, 8);
	return v;
}

/* One more record at the end of a growing array (*v, holding *n of *cap); where memory runs out
 * it is counted lost. */
static void push(struct schedtrace *t, struct rec **v, size_t *n, size_t *cap, struct rec r)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct rec *m = realloc(*v, c * sizeof(*m));
		if (!m) {
			t->lost++;
			return;
		}
		*v = m;
		*cap = c;
	}
	(*v)[(*n)++] = r;
}

/* One thing that happened to a traced thread (a wake-up, a switch in or out): its latest times
 * and counts, and the record itself when kept for the metrics at stop. */
static void note(struct schedtrace *t, struct rec r, int keep)
{
	if (keep)
		push(t, &t->r, &t->nr, &t->cap, r);
	for (int i = 0; i < t->n; i++) { /* the rings are per CPU: keep the latest of each */
		struct schedtrace_thread *s = &t->th[i];
		if (r.type == EV_WAKEUP && r.next == t->tids[i]) {
			s->woken++;
			s->woken_ns = r.ns > s->woken_ns ? r.ns : s->woken_ns;
		} else if (r.type == EV_SWITCH && r.next == t->tids[i]) {
			s->in_ns = r.ns > s->in_ns ? r.ns : s->in_ns;
		} else if (r.type == EV_SWITCH && r.prev == t->tids[i]) {
			s->out_ns = r.ns > s->out_ns ? r.ns : s->out_ns;
			if (r.preempted) {
				s->preempted++;
				s->preempted_ns = r.ns > s->preempted_ns ? r.ns : s->preempted_ns;
			} else {
				s->slept++;
			}
		}
		/* a preemption's wait, at its switch back in (records come in time order) */
		if (s->preempted_ns > t->held_from[i] && s->in_ns > s->preempted_ns) {
			s->held_ns += s->in_ns - s->preempted_ns;
			t->held_from[i] = s->preempted_ns;
		}
	}
}

static int index_of(const struct schedtrace *t, int tid)
{
	for (int i = 0; i < t->n; i++)
		if (t->tids[i] == tid)
			return i;
	return -1;
}

static int pages_of(int ev)
{
	return ev == EV_LEAVE ? WAKE_PAGES : RING_PAGES;
}

static size_t ring_len(int pages)
{
	return (size_t)(pages + 1) * (size_t)sysconf(_SC_PAGESIZE);
}

/* A ring whose event only wakes the reader (what it says is in EV_IN): emptied unread */
static void skip_ring(struct perf_event_mmap_page *m)
{
	__atomic_store_n(&m->data_tail, __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
}

/* A switch out of a traced thread that wakes no one: recorded in EV_IN, with INS */
static int quiet_out(const struct schedtrace *t, int prev, int runnable)
{
	return index_of(t, prev) >= 0 && !(t->events & (runnable ? SCHEDTRACE_PREEMPTS : SCHEDTRACE_SLEEPS));
}

/* A record of this drain, noted once every ring is drained: the rings are per CPU and event, and
 * a wait (a preemption, then the switch back in) is only measured with its two ends in order. */
static void pend(struct schedtrace *t, struct rec r)
{
	push(t, &t->pend, &t->npend, &t->cappend, r);
}

static int cmp_rec(const void *a, const void *b)
{
	uint64_t x = ((const struct rec *)a)->ns, y = ((const struct rec *)b)->ns;
	return (x > y) - (x < y);
}

static void drain(struct schedtrace *t, int cpu, int ev)
{
	struct perf_event_mmap_page *m = t->ring[cpu * NR_EV + ev];
	if (ev == EV_LEAVE) {
		skip_ring(m);
		return;
	}
	uint8_t *data = (uint8_t *)m + m->data_offset;
	uint64_t size = m->data_size, head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE), tail = m->data_tail;

	while (tail < head) {
		struct perf_event_header h;
		uint8_t buf[512];
		for (size_t i = 0; i < sizeof(h); i++)
			((uint8_t *)&h)[i] = data[(tail + i) % size];
		if (h.size < sizeof(h) || h.size > sizeof(buf))
			break; /* cannot happen with the sample type asked for */
		for (size_t i = 0; i < h.size; i++)
			buf[i] = data[(tail + i) % size];
		tail += h.size;
		if (h.type == PERF_RECORD_LOST) {
			uint64_t lost;
			memcpy(&lost, buf + sizeof(h) + 8, 8);
			t->lost += lost;
			continue;
		}
		if (h.type != PERF_RECORD_SAMPLE)
			continue;
		/* PERF_SAMPLE_TIME | PERF_SAMPLE_RAW: u64 time, u32 size, raw */
		uint64_t ns;
		uint32_t rlen;
		memcpy(&ns, buf + sizeof(h), 8);
		memcpy(&rlen, buf + sizeof(h) + 8, 4);
		const uint8_t *raw = buf + sizeof(h) + 12;
		if (sizeof(h) + 12 + rlen > h.size)
			continue;
		if (ev == EV_WAKEUP) {
			pend(t, (struct rec){ ns, EV_WAKEUP, -1, (int)get(raw, rlen, t->wake_pid), 0 });
			continue;
		}
		int prev = (int)get(raw, rlen, t->prev_pid), next = (int)get(raw, rlen, t->next_pid);
		int runnable = (get(raw, rlen, t->prev_state) & 0x7f) == 0;
		/* a switch from one traced thread to another is in both rings: each tells its half */
		if (ev == EV_SWITCH) {
			pend(t, (struct rec){ ns, EV_SWITCH, prev, -1, runnable });
			continue;
		}
		/* the switch-in ring also has the reader's comings and goings. Its wake-up on a
		 * thread's CPU preempts the thread: lent to the reader, not held off by the host.
		 * Where the reader leaves that CPU to another task, the host holds the thread off from
		 * then, unless it ran elsewhere meanwhile: known once every ring is drained */
		struct lend *l = &t->lent[cpu];
		if (prev == t->reader && l->i >= 0) {
			if (next != t->tids[l->i])
				t->left[l->i] = (struct leave){ l->ns, ns };
			l->i = -1;
		}
		if (next != t->reader) {
			if (quiet_out(t, prev, runnable))
				pend(t, (struct rec){ ns, EV_SWITCH, prev, -1, runnable });
			pend(t, (struct rec){ ns, EV_SWITCH, -1, next, 0 });
		} else if (runnable && (l->i = index_of(t, prev)) >= 0)
			l->ns = ns;
		else /* it slept, and the reader runs next */
			pend(t, (struct rec){ ns, EV_SWITCH, prev, -1, 0 });
	}
	__atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
}

static void take_acct(struct schedtrace *t)
{
	struct acct a[MAX_THREADS];
	for (int i = 0; i < t->n; i++)
		if (!(a[i] = acct_of(t->tids[i])).ok)
			return; /* a thread is gone: keep the last whole set */
	memcpy(t->a1, a, sizeof(a[0]) * (size_t)t->n);
	t->t_a1 = mono_ns();
}

const struct schedtrace_thread *schedtrace_thread(const struct schedtrace *t, int i)
{
	static const struct schedtrace_thread none;
	return i >= 0 && i < t->n ? &t->th[i] : &none;
}

int schedtrace_pollfds(const struct schedtrace *t, struct pollfd *pf, int max)
{
	int n = 0;
	for (int i = 0; i < t->ncpus * NR_EV && n < max; i++)
		if (t->fd[i] >= 0 && i % NR_EV != EV_IN)
			pf[n++] = (struct pollfd){ .fd = t->fd[i], .events = POLLIN };
	for (int i = 0; i < t->n && n < max; i++)
		if (t->askfd[i] >= 0)
			pf[n++] = (struct pollfd){ .fd = t->askfd[i], .events = POLLIN };
	return n;
}

int schedtrace_thread_of_fd(const struct schedtrace *t, int fd)
{
	for (int i = 0; fd >= 0 && i < t->n; i++)
		if (t->askfd[i] == fd)
			return i;
	return -1;
}

void schedtrace_wake_on_sleep(struct schedtrace *t, int i, int on)
{
	if (i >= 0 && i < t->n && t->askfd[i] >= 0 && t->asked[i] != !!on &&
	    ioctl(t->askfd[i], PERF_EVENT_IOC_PAUSE_OUTPUT, !on) == 0)
		t->asked[i] = !!on;
}

void schedtrace_sleeping(struct schedtrace *t)
{
	for (int c = 0; c < t->ncpus; c++)
		if (t->lent[c].i >= 0 && t->fd[c * NR_EV + EV_LEAVE] >= 0 && !t->armed[c])
			t->armed[c] = ioctl(t->fd[c * NR_EV + EV_LEAVE], PERF_EVENT_IOC_PAUSE_OUTPUT, 0) == 0;
}

static void drain_all(struct schedtrace *t, int keep)
{
	for (int c = 0; c < t->ncpus; c++) /* awake: a leave of its own wakes no one */
		if (t->armed[c]) {
			ioctl(t->fd[c * NR_EV + EV_LEAVE], PERF_EVENT_IOC_PAUSE_OUTPUT, 1);
			t->armed[c] = 0;
		}
	for (int c = 0; c < t->ncpus; c++)
		for (int e = 0; e < NR_EV; e++)
			if (t->ring[c * NR_EV + e])
				drain(t, c, e);
	for (int i = 0; i < t->n; i++)
		if (t->askring[i])
			skip_ring(t->askring[i]);
	if (t->npend) /* none yet: no buffer, and qsort takes no NULL */
		qsort(t->pend, t->npend, sizeof(*t->pend), cmp_rec);
	for (size_t i = 0; i < t->npend; i++)
		note(t, t->pend[i], keep);
	t->npend = 0;
	/* a CPU the reader left to another task: the thread waited from then, unless it ran
	 * elsewhere in between (an idle CPU may pull it while the reader has its own) */
	for (int i = 0; i < t->n; i++) {
		struct leave *l = &t->left[i];
		struct schedtrace_thread *s = &t->th[i];
		if (l->left && (s->in_ns <= l->lent || s->in_ns > l->left))
			note(t, (struct rec){ l->left, EV_SWITCH, t->tids[i], -1, 1 }, keep);
		l->left = 0;
	}
}

void schedtrace_drain(struct schedtrace *t)
{
	drain_all(t, 0);
}

void schedtrace_poll(struct schedtrace *t)
{
	take_acct(t);
	drain_all(t, 1);
}

/* One sched tracepoint event, on a CPU (pid -1) or following a thread (cpu -1), disabled, filtered,
 * its ring of pages + 1 mapped; paused: its output off (turned on and off with one ioctl and no
 * IPI, which disabling an event on another CPU sends: ~20-50 us in a VM). 0, or -1 with err (and
 * errno from perf_event_open where that failed). */
static int open_event(const char *name, const struct perf_event_attr *a, int pid, int cpu, const char *filter,
		      int pages, int paused, int *fd, void **ring, char *err, size_t errlen)
{
	if ((*fd = (int)syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)) < 0) {
		int e = errno;
		snprintf(err, errlen, "perf_event_open(sched:%s, %s %d): %s", name, pid < 0 ? "cpu" : "thread",
			 pid < 0 ? cpu : pid, strerror(e));
		errno = e;
		return -1;
	}
	if (ioctl(*fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0) {
		snprintf(err, errlen, "PERF_EVENT_IOC_SET_FILTER \"%s\": %s", filter, strerror(errno));
		return -1;
	}
	void *m = mmap(NULL, ring_len(pages), PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "mmap of a perf ring: %s", strerror(errno));
		return -1;
	}
	*ring = m;
	if (paused && ioctl(*fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 1) < 0) {
		snprintf(err, errlen, "PERF_EVENT_IOC_PAUSE_OUTPUT: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Each event's filter over the threads: which switches out wake the reader (EV_SWITCH) and which
 * are only recorded (EV_IN), the threads' wake-ups, and the reader's own leaving (EV_LEAVE). */
static void build_filters(const struct schedtrace *t, unsigned events, char filter[NR_EV][FILTER_LEN])
{
	/* a switch out to sleep leaves the state's low bits set, one while runnable does not */
	unsigned outs = events & SCHEDTRACE_OUTS;
	const char *waking = outs == SCHEDTRACE_OUTS ? "" : outs == SCHEDTRACE_SLEEPS ? " && prev_state & 127" :
			     " && !(prev_state & 127)";
	const char *quiet = outs == 0 ? "" : outs == SCHEDTRACE_SLEEPS ? " && !(prev_state & 127)" : " && prev_state & 127";
	for (int i = 0; i < t->n; i++) {
		const char *sep = i ? " || " : "";
		int tid = t->tids[i];
		/* to the reader, with INS: its loan of the CPU, or a sleep it sees in EV_IN */
		if (t->reader > 0 && events & SCHEDTRACE_INS)
			append(filter[EV_SWITCH], "%s(prev_pid == %d && next_pid != %d%s)", sep, tid, t->reader, waking);
		else
			append(filter[EV_SWITCH], "%s(prev_pid == %d%s)", sep, tid, waking);
		append(filter[EV_IN], "%snext_pid == %d", sep, tid);
		if (outs != SCHEDTRACE_OUTS)
			append(filter[EV_IN], " || (prev_pid == %d%s)", tid, quiet);
		if (t->reader > 0)
			append(filter[EV_IN], " || (prev_pid == %d && next_pid == %d)", tid, t->reader);
		append(filter[EV_WAKEUP], "%spid == %d", sep, tid);
	}
	/* the kernel's prio of a thread: 100-139 normal, below 100 RT. The kernel drops a boosted
	 * thread's wake-ups, with no syscall at a boost (a perf event's filter is set once only) */
	if (events & SCHEDTRACE_NORMAL_WAKEUPS) {
		char w[FILTER_LEN];
		snprintf(w, sizeof(w), "(%s) && prio >= 100", filter[EV_WAKEUP]);
		snprintf(filter[EV_WAKEUP], FILTER_LEN, "%s", w);
	}
	if (t->reader > 0) {
		append(filter[EV_IN], " || prev_pid == %d", t->reader);
		append(filter[EV_LEAVE], "prev_pid == %d && next_pid != 0", t->reader); /* not to idle */
		for (int i = 0; i < t->n; i++)
			append(filter[EV_LEAVE], " && next_pid != %d", t->tids[i]);
	}
}

/* The per-CPU events the caller asked for, each on every online CPU, disabled. */
static int open_cpu_events(struct schedtrace *t, const int *id, char filter[NR_EV][FILTER_LEN], char *err,
			   size_t errlen)
{
	static const unsigned wants[NR_EV] = { [EV_SWITCH] = SCHEDTRACE_OUTS, [EV_WAKEUP] = SCHEDTRACE_WAKEUPS,
					       [EV_IN] = SCHEDTRACE_INS, [EV_LEAVE] = SCHEDTRACE_INS };
	t->ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	t->fd = malloc((size_t)t->ncpus * NR_EV * sizeof(int));
	t->ring = calloc((size_t)t->ncpus * NR_EV, sizeof(void *));
	t->lent = calloc((size_t)t->ncpus, sizeof(*t->lent));
	t->armed = calloc((size_t)t->ncpus, sizeof(int));
	if (!t->fd || !t->ring || !t->lent || !t->armed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < t->ncpus * NR_EV; i++)
		t->fd[i] = -1;
	for (int c = 0; c < t->ncpus; c++)
		t->lent[c].i = -1;
	for (int c = 0; c < t->ncpus; c++)
		for (int e = 0; e < NR_EV; e++) {
			if (!(t->events & wants[e]) || (e == EV_LEAVE && t->reader < 0))
				continue;
			struct perf_event_attr a = {
				.type = PERF_TYPE_TRACEPOINT, .size = sizeof(a), .config = (uint64_t)id[e],
				.sample_period = 1, .sample_type = PERF_SAMPLE_TIME | PERF_SAMPLE_RAW,
				.disabled = 1, .use_clockid = 1, .clockid = CLOCK_MONOTONIC,
				/* a switch-in wakes no one (at most a half-full ring does): it only tells
				 * the next reader that the thread is on a CPU */
				.wakeup_events = e == EV_IN ? 0 : 1,
			};
			if (open_event(e == EV_WAKEUP ? "sched_wakeup" : "sched_switch", &a, -1, c, filter[e], pages_of(e),
				       e == EV_LEAVE, &t->fd[c * NR_EV + e], &t->ring[c * NR_EV + e], err, errlen)) {
				if (t->fd[c * NR_EV + e] < 0 && errno == ENODEV) /* an offline CPU */
					continue;
				return -1;
			}
		}
	return 0;
}

/* A thread's own sleeps, following it from CPU to CPU: off until asked. */
static int open_asked_sleeps(struct schedtrace *t, int switch_id, char *err, size_t errlen)
{
	for (int i = 0; i < t->n; i++) {
		char sf[FILTER_LEN] = "prev_state & 127";
		if (t->reader > 0) /* the reader runs next: it is awake */
			append(sf, " && next_pid != %d", t->reader);
		struct perf_event_attr a = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(a), .config = (uint64_t)switch_id,
					     .sample_period = 1, .sample_type = PERF_SAMPLE_TIME, .disabled = 1,
					     .wakeup_events = 1 };
		if (open_event("sched_switch", &a, t->tids[i], -1, sf, WAKE_PAGES, 1, &t->askfd[i], &t->askring[i], err,
			       errlen))
			return -1;
	}
	return 0;
}

int schedtrace_start(struct schedtrace **out, const int *tids, int n, unsigned events, int except_tid,
		     char *err, size_t errlen)
{
	static const char *const sw[] = { "prev_pid", "prev_state", "next_pid" }, *const wk[] = { "pid" };
	struct schedtrace *t = calloc(1, sizeof(*t));
	struct field f[3];
	int id[NR_EV];
	char filter[NR_EV][FILTER_LEN] = { "", "", "", "" };
	const char *dir;

	if (!t)
		return -1;
	*out = NULL;
	t->n = n < MAX_THREADS ? n : MAX_THREADS;
	for (int i = 0; i < t->n; i++)
		t->askfd[i] = -1;
	memcpy(t->tids, tids, (size_t)t->n * sizeof(int));
	if (!(dir = tracefs(err, errlen)) ||
	    event_format(dir, "sched_switch", &id[EV_SWITCH], sw, f, 3, err, errlen))
		goto fail;
	t->prev_pid = f[0], t->prev_state = f[1], t->next_pid = f[2];
	id[EV_IN] = id[EV_LEAVE] = id[EV_SWITCH];
	if (event_format(dir, "sched_wakeup", &id[EV_WAKEUP], wk, f, 1, err, errlen))
		goto fail;
	t->wake_pid = f[0];
	/* the reader's own switches with the threads go to the switch-in ring, which wakes no one;
	 * with no reader there are none (pid 0 is the idle task, not a reader) */
	t->reader = except_tid > 0 ? except_tid : -1;
	t->events = events;
	build_filters(t, events, filter);
	if (open_cpu_events(t, id, filter, err, errlen) ||
	    (events & SCHEDTRACE_ASKED_SLEEPS && open_asked_sleeps(t, id[EV_SWITCH], err, errlen)))
		goto fail;
	t->t0 = mono_ns();
	for (int i = 0; i < t->n; i++)
		t->a0[i] = acct_of(t->tids[i]);
	take_acct(t);
	for (int i = 0; i < t->ncpus * NR_EV; i++)
		if (t->fd[i] >= 0)
			ioctl(t->fd[i], PERF_EVENT_IOC_ENABLE, 0);
	for (int i = 0; i < t->n; i++)
		if (t->askfd[i] >= 0)
			ioctl(t->askfd[i], PERF_EVENT_IOC_ENABLE, 0);
	*out = t;
	return 0;
fail:
	schedtrace_stop(t, NULL);
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void schedtrace_stop(struct schedtrace *t, struct metric_set *out)
{
	if (!t)
		return;

	t->t1 = mono_ns();
	for (int i = 0; t->fd && i < t->ncpus * NR_EV; i++)
		if (t->fd[i] >= 0)
			ioctl(t->fd[i], PERF_EVENT_IOC_DISABLE, 0);
	if (out && t->ring)
		schedtrace_poll(t);
	else if (out)
		take_acct(t);
	if (out) {
		/* per thread: on-CPU intervals, preemptions, wake-up -> switch-in */
		qsort(t->r, t->nr, sizeof(*t->r), cmp_rec);

		double *w2r = malloc((t->nr + 1) * sizeof(double));
		uint64_t unpaired = 0;
		for (int i = 0; i < t->n && w2r; i++) {
			int tid = t->tids[i], on = 0, nw = 0;
			uint64_t woke = 0;
			/* runtime and involuntary switches: the kernel's accounting, exact */
			struct acct a1 = t->a1[i], *a0 = &t->a0[i];
			if (a0->ok && a1.ok && t->t_a1 > t->t0) {
				metrics_add(out, "vcpu_runtime_pct", "%", PVB_INFO, i,
					    100.0 * (double)(a1.run_ns - a0->run_ns) / (double)(t->t_a1 - t->t0));
				metrics_add(out, "preemptions", "count", PVB_LESS, i, (double)(a1.nonvol - a0->nonvol));
				if (a1.slices > a0->slices) /* runnable but waiting, per time slice */
					metrics_add(out, "run_delay_avg", "ns", PVB_LESS, i,
						    (double)(a1.wait_ns - a0->wait_ns) / (double)(a1.slices - a0->slices));
			}
			/* wake-up -> switch-in, from the trace: only pairs seen whole. A switch-out
			 * without its switch-in (the trace began between them) drops the pending
			 * wake-up, and is counted */
			for (size_t k = 0; k < t->nr; k++) {
				const struct rec *r = &t->r[k];
				if (r->ns < t->t0 || r->ns > t->t1)
					continue;
				if (r->type == EV_WAKEUP && r->next == tid && !on) {
					woke = r->ns;
				} else if (r->type == EV_SWITCH && r->next == tid) {
					on = 1;
					if (woke)
						w2r[nw++] = (double)(r->ns - woke);
					woke = 0;
				} else if (r->type == EV_SWITCH && r->prev == tid) {
					unpaired += !on;
					on = 0;
					woke = r->preempted ? r->ns : 0; /* runnable again at once: waits from now */
				}
			}
			if (nw) {
				qsort(w2r, (size_t)nw, sizeof(double), cmp_double);
				metrics_add(out, "wake_to_run_p50", "ns", PVB_LESS, i, w2r[nw / 2]);
				metrics_add(out, "wake_to_run_p99", "ns", PVB_LESS, i, w2r[(size_t)nw * 99 / 100]);
				metrics_add(out, "wake_to_run_max", "ns", PVB_LESS, i, w2r[nw - 1]);
				metrics_add(out, "wake_to_run_n", "count", PVB_INFO, i, nw);
			}
		}
		metrics_add(out, "trace_unpaired", "count", PVB_LESS, METRIC_CPU_VM, (double)unpaired);
		/* the VM as a whole: mean runtime and run delay, all preemptions, the worst p99 */
		static const char *const agg[] = { "vcpu_runtime_pct", "preemptions", "run_delay_avg",
						    "wake_to_run_p99" };
		for (int k = 0; k < 4; k++) {
			double sum = 0, mx = 0;
			int n = 0;
			for (int i = 0; i < t->n; i++) {
				const struct metric *m = metrics_find(out, agg[k], i);
				if (!m)
					continue;
				sum += m->value;
				mx = m->value > mx ? m->value : mx;
				n++;
			}
			if (n)
				metrics_add(out, agg[k], k == 0 ? "%" : k == 1 ? "count" : "ns", k == 0 ? PVB_INFO : PVB_LESS, METRIC_CPU_ALL,
					    k == 1 ? sum : k == 3 ? mx : sum / n);
		}
		free(w2r);
		metrics_add(out, "trace_records", "count", PVB_INFO, METRIC_CPU_VM, (double)t->nr);
		metrics_add(out, "trace_lost", "count", PVB_LESS, METRIC_CPU_VM, (double)t->lost);
	}
	for (int i = 0; t->ring && i < t->ncpus * NR_EV; i++)
		if (t->ring[i])
			munmap(t->ring[i], ring_len(pages_of(i % NR_EV)));
	for (int i = 0; i < t->n; i++) {
		if (t->askring[i])
			munmap(t->askring[i], ring_len(WAKE_PAGES));
		if (t->askfd[i] >= 0)
			close(t->askfd[i]);
	}
	for (int i = 0; t->fd && i < t->ncpus * NR_EV; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	free(t->ring);
	free(t->lent);
	free(t->armed);
	free(t->fd);
	free(t->r);
	free(t->pend);
	free(t);
}
