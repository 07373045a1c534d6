/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "util.h"
#include "dvfs_agent.h"
#include "energy.h"
#include "freqemu.h"
#include "hostinfo.h"
#include "pvb_boost.h"
#include "pvb_record.h"
#include "vm.h"

static const char *backend_choice(int i)
{
	static const char *const names[] = { "emulated", "cpufreq", NULL };
	return names[i];
}

static const char *channel_choice(int i)
{
	static const char *const names[] = { "shm", "doorbell", "mmio", "hypercall", "none", NULL };
	return names[i];
}

const struct key_def dvfs_agent_keys[] = {
	{ "dvfs_cpus", KT_STRING, 0, 0, KEY_LIST, "a72+a72",
	  "DVFS: the emulated host CPUs, one energy-model domain each, '+'-joined: a72 or a53 (RK3399 OP1)" },
	{ "freq_backend", KT_CHOICE, 0, 0, KEY_LIST, "emulated",
	  "DVFS: emulated (a stealer thread per CPU) or cpufreq (the host's own: not built yet)",
	  .choice = backend_choice },
	{ "dvfs_slice_us", KT_INT, 100, 100000, KEY_LIST, "1000", "DVFS: the emulated backend's slice" },
	{ "dvfs_tick_us", KT_INT, 500, 100000, KEY_LIST, "1000", "DVFS: how often the governor runs" },
	{ "util_guest_cap", KT_INT, 0, 1024, KEY_LIST, "1024",
	  "DVFS: the most utilisation a guest's value may stand for, per vCPU (the VM's limit)" },
	{ "util_channel", KT_CHOICE, 0, 0, KEY_LIST, "shm",
	  "DVFS: how the guest's utilisation reaches the host: shm (read at each governor tick), doorbell "
	  "(shm with a doorbell rung when it changed, so the governor runs at once: QEMU's ivshmem-doorbell, "
	  "or pvbench's VMM's own register), mmio (the virtual cpufreq registers) or hypercall (a ring-0 "
	  "hypercall): both devices of pvbench's VMM (vmm = pvbench), each update an exit carrying the value; "
	  "none: the region offers no utilisation (util_guest then governs as baseline: the seed's baseline column)",
	  .choice = channel_choice },
	{ "host_coload", KT_INT, 0, 90, KEY_LIST, "0",
	  "DVFS: host work beside the vCPUs: a pvbench thread on each emulated CPU that wants this % of "
	  "every 10 ms of CPU time, which the governor counts as the CPU's other tasks (seed 000: "
	  "util_guest adds to them, uclamp_min does not)" },
	{ 0 },
};

#define MAX_CPUS 16

struct dcpu {
	int cpu;                         /* host CPU */
	const struct em_domain *em;
	struct dvfs_domain d;
	uint32_t cap_max;                /* capacity at f_max, 0..1024 */
	uint32_t khz;                    /* now */
	struct pelt other;               /* the CPU's other tasks, as one */
	int64_t last_rq_us, last_steal_us;
	pthread_t co_th;                 /* host_coload: its thread on this CPU */
	volatile int co_tid;
	int co_on;
	int64_t co_last_us, co_first_us;
	double energy_uj, khz_us, busy_us, changes;
};

struct dvcpu {
	int tid, c;                      /* its thread, its CPU (index into cpus) */
	struct pelt p;
	int64_t last_us;                 /* thread CPU time at the last tick */
	uint64_t carry_us;               /* busy time the kernel reported late, not yet counted */
	cpu_set_t saved;
	int pinned;
	double guest_sum;                /* for the mean of what it published */
	uint64_t guest_n;
	uint32_t seq;                    /* slot.seq at the last tick: the guest's publications */
	uint64_t updates;
};

struct dagent {
	enum dvfs_mode mode;
	int ncpu, nv, tick_us, slice_us;
	uint32_t cap;
	struct dcpu cpu[MAX_CPUS];
	struct dvcpu v[VM_MAX_VCPUS + 1]; /* the vCPU threads, then the VM's device thread (ndev) */
	int ndev;
	const struct vm_view *vm;
	struct freqemu fe;
	int fe_on;
	struct policy_thread th;
	int negotiated, started;         /* started: the guest published once: its workload runs */
	int vm_doorbell;                 /* the VM has a doorbell (vm->kick_fds) */
	uint32_t features;
	struct pvb_boost_stats st;
	int have_rq;                     /* /proc/schedstat exists: other tasks are seen */
	int coload;                      /* host_coload, % */
	volatile int co_stop;
	uint64_t co_t0, co_end;
	uint64_t ticks, capped, late_ticks, doorbells, doorbell_steps;
	double wall_us;
	double cpu_ms;
};

static uint64_t mono_us(void)
{
	return mono_ns() / 1000u;
}

/* host_coload: a host task that wants coload % of every 10 ms of CPU time, pinned to one host CPU:
 * it runs until it has had that much CPU in the period (a slowed CPU -- the stealer of the
 * emulated frequency -- makes it take longer, as a slower clock makes real work), then sleeps to
 * the period's end. The agent reads its CPU time, where /proc/schedstat would otherwise be the
 * only way to see it. */
struct coload { struct dagent *a; int k; };
static struct coload coloads[MAX_CPUS];

static uint64_t own_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *coload_main(void *arg)
{
	struct coload *x = arg;
	struct dagent *a = x->a;
	struct dcpu *c = &a->cpu[x->k];
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	__atomic_store_n(&c->co_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (uint64_t t0 = mono_us(); !a->co_stop; t0 += 10000) {
		uint64_t want = own_cpu_us() + 100u * (uint64_t)a->coload, end = t0 + 10000;
		while (own_cpu_us() < want && mono_us() < end && !a->co_stop)
			;
		uint64_t now = mono_us();
		if (end > now)
			usleep((useconds_t)(end - now));
		else
			t0 = now - 10000; /* the period ran out first: what it did not get is dropped */
	}
	return NULL;
}

/* /proc/schedstat: each CPU's rq_cpu_time (the 7th field after "cpuN"), the time every task ran
 * there, in ns; -1 when the kernel does not say */
static int rq_times_us(int64_t *out, int n)
{
	FILE *f = fopen("/proc/schedstat", "re");
	char line[512];
	int got = 0;
	for (int i = 0; i < n; i++)
		out[i] = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		int cpu;
		unsigned long long v[9];
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4],
			   &v[5], &v[6]) == 8 && cpu >= 0 && cpu < n) {
			out[cpu] = (int64_t)(v[6] / 1000);
			got++;
		}
	}
	fclose(f);
	return got ? 0 : -1;
}

/* the domain of each host CPU: "a72+a53" */
static int parse_cpus(struct dagent *a, const char *s, char *err, size_t errlen)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	a->ncpu = 0;
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "+");
		const struct em_domain *em = n == 3 && !strncmp(p, "a72", 3) ? &em_rk3399_op1_a72 :
					     n == 3 && !strncmp(p, "a53", 3) ? &em_rk3399_op1_a53 : NULL;
		if (!em || a->ncpu == MAX_CPUS) {
			snprintf(err, errlen, "dvfs_cpus: '%.*s' is not a72 or a53 (RK3399 OP1), or more than %d CPUs",
				 (int)n, p, MAX_CPUS);
			return -1;
		}
		struct dcpu *c = &a->cpu[a->ncpu];
		c->cpu = a->ncpu++;
		c->em = em;
		p += n + (p[n] == '+');
	}
	if (!a->ncpu || a->ncpu > online) {
		snprintf(err, errlen, "dvfs_cpus: %d emulated CPUs, and this host has %ld online", a->ncpu, online);
		return -1;
	}
	const struct em_domain *big = &em_rk3399_op1_a53;
	for (int i = 0; i < a->ncpu; i++)
		if (a->cpu[i].em->dmips_mhz > big->dmips_mhz)
			big = a->cpu[i].em;
	for (int i = 0; i < a->ncpu; i++) {
		struct dcpu *c = &a->cpu[i];
		em_to_dvfs(c->em, big, &c->d);
		c->cap_max = c->d.capacity;
		c->khz = c->d.khz[c->d.nr - 1];
	}
	return 0;
}

int dvfs_agent_prepare(struct policy *p, enum dvfs_mode mode, char *err, size_t errlen)
{
	struct dagent *a = calloc(1, sizeof(*a));
	if (!a)
		return -1;
	p->priv = a;
	a->mode = mode;
	a->tick_us = (int)spec_int(p->spec, "dvfs_tick_us");
	a->slice_us = (int)spec_int(p->spec, "dvfs_slice_us");
	a->cap = (uint32_t)spec_int(p->spec, "util_guest_cap");
	a->coload = (int)spec_int(p->spec, "host_coload");
	const char *ch = spec_str(p->spec, "util_channel"), *vmm = spec_str_or(p->spec, "vmm", "qemu");
	if ((!strcmp(ch, "mmio") || !strcmp(ch, "hypercall")) && strcmp(vmm, "pvbench")) {
		snprintf(err, errlen, "util_channel %s: unavailable: it is a device of pvbench's own VMM (%s): "
			 "vmm = pvbench", ch, !strcmp(ch, "mmio") ? "the virtual cpufreq registers" : "the utilisation hypercall");
		return 1;
	}
	if (!strcmp(ch, "hypercall") && hostinfo_kvm_pvm()) {
		snprintf(err, errlen, "util_channel hypercall: unavailable: kvm_pvm hangs on a ring-0 VMCALL "
			 "(see `pvbench channels`)");
		return 1;
	}
	if (!strcmp(spec_str(p->spec, "freq_backend"), "cpufreq")) {
		snprintf(err, errlen, "freq_backend cpufreq: unavailable: %s",
			 access("/sys/devices/system/cpu/cpufreq/policy0", F_OK) ?
				 "this host has no cpufreq (no /sys/devices/system/cpu/cpufreq/policy0)" :
				 "pvbench has no cpufreq backend yet (only the emulated one)");
		return 1;
	}
	if (parse_cpus(a, spec_str(p->spec, "dvfs_cpus"), err, errlen))
		return -1;
	return sched_fifo_allowed(1, err, errlen) ? 0 : -1;
}

static uint32_t cap_at(const struct dcpu *c)
{
	uint32_t max = c->d.khz[c->d.nr - 1];
	return (uint32_t)((uint64_t)c->cap_max * c->khz / max);
}

static void hint(struct dagent *a, int i)
{
	const struct dcpu *c = &a->cpu[a->v[i].c];
	if (a->negotiated && (a->features & (PVB_BF_HINT | PVB_BF_CAPACITY_ORIG)))
		pvb_boost_host_publish(pvb_boost_slot(a->vm->boost, (unsigned)i), 0, 0,
				       a->features & PVB_BF_HINT ? cap_at(c) : 0,
				       a->features & PVB_BF_CAPACITY_ORIG ? c->cap_max : 0,
				       a->features & PVB_BF_HINT ? c->khz : 0);
}

/* Until the guest's workload starts, every CPU stays at f_max: the guest calibrates its work loop
 * then, and must do so alike under every policy. Started: the guest's progress word says so; a
 * guest without one (Linux) has started at its first publication. */
static void note_started(struct dagent *a)
{
	if (a->started || !a->negotiated)
		return;
	int ph = vm_view_phase(a->vm);
	if (ph >= 0)
		a->started = ph >= PVB_PHASE_WORKLOAD;
	for (int i = 0; i < a->nv && !a->started && ph < 0; i++)
		a->started = __atomic_load_n(&pvb_boost_slot(a->vm->boost, (unsigned)i)->seq, __ATOMIC_ACQUIRE) != 0;
}

/* Thread i's share of the tick over [t - dt, t): its busy time (scaled to the CPU's speed) into
 * *busy, its own CPU time into *mine, its PELT signal into x. -1: its CPU time is gone. */
static int thread_tick(struct dagent *a, int i, uint64_t t, uint64_t dt, double *busy, double *mine,
		       struct dvfs_thread_in *x)
{
	struct dvcpu *v = &a->v[i];
	const struct dcpu *c = &a->cpu[v->c];
	uint32_t duty = cap_at(c) ? cap_at(c) : 1, scale = cap_at(c);
	int64_t now = thread_cpu_us(v->tid), d = now >= v->last_us ? now - v->last_us : 0;
	if (now < 0)
		return -1;
	v->last_us = now;
	*mine += (double)d;
	/* a thread held back for (1 - duty) ran d: on a CPU that slow it was busy d / duty. The
	 * kernel adds a running thread's time at its tick (4 ms here) or when it is switched out,
	 * so a busy thread shows 0, 0, 0, 4 ms over 1 ms ticks: what is more than the interval is
	 * carried into the next ones, not dropped (capping it made a busy vCPU at f_max look a
	 * quarter busy) */
	v->carry_us += (uint64_t)d * 1024 / duty;
	uint64_t b = v->carry_us < dt ? v->carry_us : dt;
	v->carry_us -= b;
	if (v->carry_us > 4 * (uint64_t)a->tick_us + 8000) /* never more than a few ticks behind */
		v->carry_us = 4 * (uint64_t)a->tick_us + 8000;
	*busy += (double)b;
	pelt_update(&v->p, t - dt + b, 1, scale);
	pelt_update(&v->p, t, 0, scale);
	x->host = v->p.util_avg;
	x->runnable = d > 0 || thread_runnable(v->tid) == 1;
	x->guest = 0;
	return 0;
}

/* What vCPU i's guest says its utilisation is (0: nothing), over the negotiated channel, with
 * its publications counted. */
static uint32_t guest_util(struct dagent *a, int i)
{
	struct dvcpu *v = &a->v[i];
	uint32_t u = 0;
	int have = 0;

	if (!a->negotiated)
		return 0;
	if (a->vm->util_in) { /* the channel carries it: its value, its count */
		uint64_t q = __atomic_load_n(&a->vm->util_sent[i], __ATOMIC_ACQUIRE);
		if (a->started)
			v->updates += (uint32_t)(q - v->seq);
		v->seq = (uint32_t)q;
		if ((have = q != 0))
			u = __atomic_load_n(&a->vm->util_in[i], __ATOMIC_ACQUIRE);
	} else { /* the slot: every publication moves seq by 2 (a kick too: rare here) */
		struct pvb_boost_limits lim = { .max_prio = 1, .features = a->features, .read_tries = 3 };
		struct pvb_boost_view bv;
		uint32_t q = __atomic_load_n(&pvb_boost_slot(a->vm->boost, (unsigned)i)->seq, __ATOMIC_ACQUIRE);
		if (a->started)
			v->updates += (uint32_t)(q - v->seq) / 2;
		v->seq = q;
		if ((have = (a->features & PVB_BF_UTIL) &&
			    pvb_boost_read(pvb_boost_slot(a->vm->boost, (unsigned)i), &lim, 0, &bv, &a->st) !=
				    PVB_BOOST_READ_TORN))
			u = bv.util;
	}
	if (have) {
		a->capped += u > a->cap;
		v->guest_sum += u;
		v->guest_n++;
	}
	return u;
}

/* The us CPU k's other tasks ran over the tick, into *o: from the kernel's run-queue time (rq,
 * or NULL without it) less the VM's (mine) and the stealer's, or else the co-load thread's own
 * CPU time. 0: not seen. */
static int other_us(struct dagent *a, int k, const int64_t *rq, double mine, double *o)
{
	struct dcpu *c = &a->cpu[k];

	if (rq && rq[c->cpu] >= 0) {
		int64_t steal = a->fe_on ? thread_cpu_us(atomic_load(&a->fe.c[k].tid)) : 0;
		int64_t d = c->last_rq_us ? rq[c->cpu] - c->last_rq_us : 0;
		int64_t ds = c->last_steal_us && steal >= 0 ? steal - c->last_steal_us : 0;
		*o = (double)d - (double)ds - mine;
		c->last_rq_us = rq[c->cpu];
		c->last_steal_us = steal;
		return 1;
	}
	if (!c->co_on)
		return 0;
	int64_t now_us = thread_cpu_us(__atomic_load_n(&c->co_tid, __ATOMIC_ACQUIRE));
	*o = now_us >= 0 && c->co_last_us >= 0 ? (double)(now_us - c->co_last_us) : 0;
	c->co_last_us = now_us;
	return 1;
}

/* CPU k's governor over the tick: its other tasks' signal (o us, where seen), the energy of the
 * interval just spent (counted from the workload's start, so that boot and calibration count for
 * no policy), and its next frequency from its threads' signals in[0..n). */
static void cpu_tick(struct dagent *a, int k, uint64_t t, uint64_t dt, double busy, int seen, double o,
		     const struct dvfs_thread_in *in, int n, int was_started)
{
	struct dcpu *c = &a->cpu[k];
	uint32_t duty = cap_at(c) ? cap_at(c) : 1, scale = cap_at(c), other = 0;

	if (seen) {
		uint64_t b = o > 0 ? (uint64_t)(o * 1024 / duty) : 0;
		if (b > dt)
			b = dt;
		busy += (double)b;
		pelt_update(&c->other, t - dt + b, 1, scale);
		pelt_update(&c->other, t, 0, scale);
		other = c->other.util_avg;
	}
	if (busy > (double)dt)
		busy = (double)dt;
	if (was_started) {
		c->energy_uj += em_energy_uj(c->em, c->khz, busy, (double)dt - busy);
		c->khz_us += (double)c->khz * (double)dt;
		c->busy_us += busy;
	}
	uint32_t u = dvfs_cpu_util(a->mode, in, n, other, a->cap, c->cap_max);
	uint32_t khz = !a->started ? c->d.khz[c->d.nr - 1] :
		       a->mode == DVFS_POWERSAVE ? c->d.khz[0] : dvfs_governor(&c->d, u, t);
	if (khz != c->khz)
		c->changes++;
	c->khz = khz;
	if (a->fe_on)
		freqemu_set(&a->fe, k, cap_at(c));
}

/* One governor tick over [t - dt, t). */
static void step(struct dagent *a, uint64_t t, uint64_t dt)
{
	int64_t rq[MAX_CPUS];
	struct dvfs_thread_in in[MAX_CPUS][VM_MAX_VCPUS + 1];
	int nin[MAX_CPUS] = { 0 };
	double busy[MAX_CPUS] = { 0 }, mine[MAX_CPUS] = { 0 };
	a->have_rq = rq_times_us(rq, a->ncpu) == 0;
	int was_started = a->started; /* the interval just spent counts only if it was the workload's */
	note_started(a);

	for (int i = 0; i < a->nv + a->ndev; i++) {
		int c = a->v[i].c;
		struct dvfs_thread_in *x = &in[c][nin[c]];
		if (thread_tick(a, i, t, dt, &busy[c], &mine[c], x))
			continue;
		nin[c]++;
		if (i < a->nv) /* the device thread (after the vCPUs) is a host task, seen as the host sees it */
			x->guest = guest_util(a, i);
	}
	for (int k = 0; k < a->ncpu; k++) {
		double o = 0;
		int seen = other_us(a, k, a->have_rq ? rq : NULL, mine[k], &o);
		cpu_tick(a, k, t, dt, busy[k], seen, o, in[k], nin[k], was_started);
	}
	for (int i = 0; i < a->nv; i++)
		hint(a, i);
	a->ticks++;
	if (was_started)
		a->wall_us += (double)dt;
}

static void *agent_main(void *arg)
{
	struct dagent *a = arg;
	struct timespec c0, c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	uint64_t last = mono_us(), next = last + (uint64_t)a->tick_us;
	struct pollfd pf[VM_MAX_VCPUS];
	int npf = a->vm->kick_fds ? a->nv : 0;
	for (int i = 0; i < npf; i++)
		pf[i] = (struct pollfd){ .fd = a->vm->kick_fds[i], .events = POLLIN };
	while (!a->th.stop) {
		if (npf) { /* a doorbell: the guest's utilisation changed, govern now (the tick stays) */
			uint64_t now = mono_us();
			struct timespec left = { 0, next > now ? (long)(next - now) * 1000 : 0 };
			if (ppoll(pf, (nfds_t)npf, &left, NULL) > 0) {
				for (int i = 0; i < npf; i++) {
					uint64_t n;
					if ((pf[i].revents & POLLIN) && read(pf[i].fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
						a->doorbells += n;
				}
				uint64_t t = mono_us();
				if (a->negotiated && t > last) {
					step(a, t, t - last);
					a->doorbell_steps++;
					last = t;
				}
				continue;
			}
		} else {
			struct timespec ts = { .tv_sec = (time_t)(next / 1000000u), .tv_nsec = (long)(next % 1000000u) * 1000 };
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		if (!a->negotiated && a->vm->boost &&
		    !pvb_boost_host_check(a->vm->boost, a->vm->boost_size, (unsigned)a->nv, &a->features)) {
			a->negotiated = 1;
			for (int i = 0; i < a->nv; i++)
				hint(a, i);
		}
		uint64_t t = mono_us();
		step(a, t, t - last);
		if (t > next + (uint64_t)a->tick_us)
			a->late_ticks++;
		last = t;
		next += (uint64_t)a->tick_us;
		if (next < t)
			next = t + (uint64_t)a->tick_us;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	a->cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
	return NULL;
}

/* Pins a thread of the VM to emulated CPU c, keeping its old affinity to put back. */
static int pin(struct dagent *a, struct dvcpu *v, int tid, int c, uint64_t t, char *err, size_t errlen)
{
	cpu_set_t set;
	v->tid = tid;
	v->c = c;
	v->p.last_us = t;
	v->last_us = thread_cpu_us(tid);
	CPU_ZERO(&set);
	CPU_SET(a->cpu[c].cpu, &set);
	if (sched_getaffinity(tid, sizeof(v->saved), &v->saved) || sched_setaffinity(tid, sizeof(set), &set)) {
		snprintf(err, errlen, "cannot pin thread %d of the VM to CPU %d: %s", tid, a->cpu[c].cpu, strerror(errno));
		return -1;
	}
	v->pinned = 1;
	return 0;
}

int dvfs_agent_start(struct policy *p, const struct vm_view *vm, char *err, size_t errlen)
{
	struct dagent *a = p->priv;
	int cpus[MAX_CPUS];

	a->vm = vm;
	a->vm_doorbell = vm->kick_fds != NULL;
	a->nv = vm->nr_vcpus < VM_MAX_VCPUS ? vm->nr_vcpus : VM_MAX_VCPUS;
	uint64_t t = mono_us();
	/* each vCPU on its emulated CPU (the stealer slows that CPU), then the VM's device thread
	 * (iopath's), on the CPU after the vCPUs' */
	for (int i = 0; i < a->nv + (vm->dev_tid != 0); i++)
		if (pin(a, &a->v[i], i < a->nv ? vm->tids[i] : vm->dev_tid, i % a->ncpu, t, err, errlen))
			return -1;
	a->ndev = vm->dev_tid != 0;
	for (int k = 0; k < a->ncpu; k++) {
		cpus[k] = a->cpu[k].cpu;
		a->cpu[k].other.last_us = t;
		a->cpu[k].khz = a->cpu[k].d.khz[a->cpu[k].d.nr - 1]; /* f_max until the workload starts */
	}
	if (freqemu_start(&a->fe, cpus, a->ncpu, (unsigned)a->slice_us, err, errlen))
		return -1;
	a->fe_on = 1;
	for (int k = 0; k < a->ncpu; k++)
		freqemu_set(&a->fe, k, cap_at(&a->cpu[k]));
	for (int k = 0; a->coload && k < a->ncpu; k++) {
		struct dcpu *c = &a->cpu[k];
		coloads[k] = (struct coload){ a, k };
		int e = pthread_create(&c->co_th, NULL, coload_main, &coloads[k]);
		if (e) {
			snprintf(err, errlen, "host_coload: pthread_create: %s", strerror(e));
			return -1;
		}
		c->co_on = 1;
		while (!__atomic_load_n(&c->co_tid, __ATOMIC_ACQUIRE))
			sched_yield();
		c->co_last_us = c->co_first_us = thread_cpu_us(c->co_tid);
	}
	a->co_t0 = mono_us();
	return policy_thread_start(&a->th, "pvbench-dvfs", agent_main, a, err, errlen);
}

void dvfs_agent_stop(struct policy *p)
{
	struct dagent *a = p->priv;
	if (!a)
		return;
	policy_thread_stop(&a->th);
	a->co_stop = 1;
	a->co_end = mono_us();
	for (int k = 0; k < a->ncpu; k++)
		if (a->cpu[k].co_on) {
			struct dcpu *c = &a->cpu[k];
			int64_t used = thread_cpu_us(c->co_tid);
			pthread_join(c->co_th, NULL);
			c->co_on = 0;
			c->co_last_us = used >= 0 && c->co_first_us >= 0 ? used - c->co_first_us : -1; /* for counters */
		}
	if (a->fe_on) {
		freqemu_stop(&a->fe);
		a->fe_on = 0;
	}
	for (int i = 0; i < a->nv + a->ndev; i++)
		if (a->v[i].pinned) { /* the thread may be gone: nothing to undo then */
			sched_setaffinity(a->v[i].tid, sizeof(a->v[i].saved), &a->v[i].saved);
			a->v[i].pinned = 0;
		}
	a->vm = NULL;
}

void dvfs_agent_counters(struct policy *p, struct metric_set *out)
{
	struct dagent *a = p->priv;
	double e = 0, f = 0;
	if (!a || !a->ticks || a->wall_us <= 0)
		return;
	for (int k = 0; k < a->ncpu; k++) {
		struct dcpu *c = &a->cpu[k];
		double mhz = c->khz_us / 1e3 / a->wall_us;
		e += c->energy_uj;
		f += mhz / a->ncpu;
		metrics_add(out, "freq_avg", "MHz", PVB_INFO, k, mhz);
		metrics_add(out, "energy_modelled", "mJ", PVB_LESS, k, c->energy_uj / 1e3);
		metrics_add(out, "freq_changes", "count", PVB_INFO, k, c->changes);
		/* what the energy is made of: the CPU's busy share at the frequency it had */
		metrics_add(out, "busy_pct", "%", PVB_INFO, k, c->busy_us / a->wall_us * 100);
	}
	metrics_add(out, "energy_modelled", "mJ", PVB_LESS, METRIC_CPU_VM, e / 1e3);
	metrics_add(out, "freq_avg", "MHz", PVB_INFO, METRIC_CPU_VM, f);
	double updates = 0;
	for (int i = 0; i < a->nv; i++) {
		if (a->v[i].guest_n)
			metrics_add(out, "util_guest_avg", "util", PVB_INFO, i, a->v[i].guest_sum / (double)a->v[i].guest_n);
		metrics_add(out, "util_updates_per_s", "1/s", PVB_INFO, i, (double)a->v[i].updates / (a->wall_us / 1e6));
		updates += (double)a->v[i].updates;
	}
	metrics_add(out, "util_updates_per_s", "1/s", PVB_INFO, METRIC_CPU_VM, updates / (a->wall_us / 1e6));
	metrics_add(out, "negotiated", "bool", PVB_INFO, METRIC_CPU_VM, a->negotiated);
	metrics_add(out, "host_tasks_seen", "bool", PVB_INFO, METRIC_CPU_VM, a->have_rq);
	double co = 0;
	int nco = 0;
	for (int k = 0; a->coload && k < a->ncpu; k++) /* what the co-load really ran: its CPU time */
		if (a->cpu[k].co_last_us >= 0 && a->co_end > a->co_t0) {
			double pct = (double)a->cpu[k].co_last_us / (double)(a->co_end - a->co_t0) * 100;
			metrics_add(out, "host_coload_pct", "%", PVB_INFO, k, pct);
			co += pct, nco++;
		}
	if (nco)
		metrics_add(out, "host_coload_pct", "%", PVB_INFO, METRIC_CPU_VM, co / nco);
	metrics_add(out, "governor_ticks", "count", PVB_INFO, METRIC_CPU_VM, (double)a->ticks);
	metrics_add(out, "late_ticks", "count", PVB_LESS, METRIC_CPU_VM, (double)a->late_ticks);
	if (a->vm_doorbell) { /* util_channel = doorbell: what rang, and the governor runs it caused */
		metrics_add(out, "doorbells_seen", "count", PVB_INFO, METRIC_CPU_VM, (double)a->doorbells);
		metrics_add(out, "doorbell_steps", "count", PVB_INFO, METRIC_CPU_VM, (double)a->doorbell_steps);
	}
	metrics_add(out, "torn_reads", "count", PVB_LESS, METRIC_CPU_VM, (double)a->st.torn);
	metrics_add(out, "util_clamped", "count", PVB_LESS, METRIC_CPU_VM, (double)(a->st.util_clamped + a->capped));
	metrics_add(out, "agent_cpu", "ms", PVB_LESS, METRIC_CPU_VM, a->cpu_ms);
	uint64_t late = 0, stolen = 0;
	for (int k = 0; k < a->fe.nr; k++) {
		late = a->fe.c[k].late_us_max > late ? a->fe.c[k].late_us_max : late;
		stolen += a->fe.c[k].stolen_us;
	}
	metrics_add(out, "freqemu_late_max", "us", PVB_LESS, METRIC_CPU_VM, (double)late);
	metrics_add(out, "freqemu_held", "ms", PVB_INFO, METRIC_CPU_VM, (double)stolen / 1e3);
}

/* The region (utilisation one way, frequency and capacity the other); util_channel = doorbell
 * puts it behind QEMU's ivshmem-doorbell and lets the guest ring it when its utilisation moved. */
void dvfs_agent_vm_spec(const struct policy *p, struct vm_spec *vs)
{
	const char *ch = spec_str(p->spec, "util_channel");
	int doorbell = !strcmp(ch, "doorbell");
	vs->boost = 1;
	vs->boost_max_prio = (int)spec_int(p->spec, "boost_prio");
	vs->boost_device = doorbell ? VM_BOOST_IVSHMEM : VM_BOOST_RAM;
	vs->boost_features = (VM_BOOST_FEATURES & ~(strcmp(ch, "none") ? 0 : PVB_BF_UTIL)) | (doorbell ? PVB_BF_UTIL_KICK : 0) |
			     (!strcmp(ch, "mmio") ? PVB_BF_UTIL_MMIO : 0) | (!strcmp(ch, "hypercall") ? PVB_BF_UTIL_HCALL : 0);
}

const char *dvfs_agent_note(struct policy *p)
{
	(void)p;
	return "frequency: emulated (CPU time taken from each host CPU, impl/dvfs/freqemu.c), no cpufreq; "
	       "*_modelled: the kernel's energy model of the RK3399 OP1 over measured busy time";
}

void dvfs_agent_destroy(struct policy *p)
{
	free(p->priv);
	p->priv = NULL;
}
