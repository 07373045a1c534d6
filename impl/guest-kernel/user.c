/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel's ring-3 runtime: parses the job, times boot and its own ring-0 cost, runs the
 * workload on every vCPU and writes the result record. Ring 3 runs natively on every KVM backend,
 * so everything that is not a privileged operation lives here rather than in kernel.c.
 *
 * Command line (space-separated key=value, set by the host):
 *   out=ADDR,SIZE   guest-physical result area (pvb_record.h), required
 *   tsc_khz=N       TSC frequency from the host (CPUID 0x15/0x16 may be 0), required
 *   cpus=N          vCPUs the VM has (all must come up), default 1
 *   boost=ADDR,SIZE the paravirt scheduling region (pvb_boost.h) in RAM, when the host offers one
 *   boost=pci       the region behind QEMU's ivshmem-doorbell (pvb_abi.h), kicks through its
 *                   doorbell; no such device: vanilla
 *   (no boost=)     pvbench's VMM's discovery window (pvb_discovery.h), when there is one: the
 *                   region, its doorbell, the virtual cpufreq registers, the utilisation hypercall
 *   rt_prio=N       the workload's RT priority as the boost region tells the host (0: normal)
 *   guest_load=busy a normal hog on every vCPU runs whenever the workload waits, and the timer
 *                   preempts it (the seed's loaded guest); idle (default): the vCPU halts
 *   workload=NAME   see workloads/registry.c; its keys follow
 */
#include <stdint.h>
#include "guest.h"
#include "layout.h"
#include "pvb.h"
#include "pvb_boost.h"
#include "pvb_channels.h"
#include "pvb_discovery.h"
#include "pvb_record.h"

#define MAX_ARGS 48
#define CALIB_N  15

static struct {
	char line[1024];
	const char *key[MAX_ARGS], *val[MAX_ARGS];
	int nr;
} args;

static uint64_t tsc_khz, mult_ns, mult_tsc;  /* ns = tsc * mult_ns >> 32; tsc = ns * mult_tsc >> 32 */
static uint8_t *heap, *heap_end;
static char fail_msg[200];
static int failed;
static unsigned nr_cpus = 1;
static struct pvb_live *live;
static struct pvb_rec_writer rec;
static const struct pvb_workload *wl;
static volatile int go;
static unsigned online, barrier_count, barrier_sense;
static uint64_t ram_end;       /* the out area ends the RAM the kernel uses */

static void barrier(void);

/* gcc may emit calls to these even in freestanding code */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static int seq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void console(const char *s)
{
	gk_sys_write(s, slen(s));
}

uint64_t pvb_now(void)
{
	return gk_rdtsc();
}

/* Without TSC-deadline (QEMU TCG, a functional run): APIC timer counts per TSC tick, 32.32 */
static uint64_t apic_per_tsc;

/* The boost region, when the host offers one and the guest accepted it (NULL: vanilla). */
static struct pvb_boost_hdr *boost;
static volatile uint32_t *doorbell;   /* boost=pci: the device's Doorbell register */
static struct gk_pci_dev ivdev;       /* boost=pci: the device, when found */
static int have_ivdev;
static uint64_t doorbell_n[GK_MAX_CPUS], doorbell_tsc[GK_MAX_CPUS];
static int util_kick;                 /* UTIL_KICK negotiated (behind a device) */
static volatile uint8_t *vcpufreq;    /* UTIL_MMIO negotiated: the virtual cpufreq registers */
static int util_hcall, amd;           /* UTIL_HCALL negotiated; VMMCALL, not VMCALL */
static uint32_t util_rung[GK_MAX_CPUS];
static uint64_t util_rung_tsc[GK_MAX_CPUS], util_kicks[GK_MAX_CPUS], util_tsc[GK_MAX_CPUS];
static uint8_t rt_prio;
static int busy;                 /* guest_load=busy */
static uint64_t timer_wakes[GK_MAX_CPUS], boosted_wakes[GK_MAX_CPUS]; /* was the host's boost on? */
/* Critical sections (pvb_lock): how deep, how many ended, and in how many the host had the vCPU
 * boosted by their end; and the running half of the slot as last published, to republish with. */
static uint32_t crit_depth[GK_MAX_CPUS];
static uint64_t crit_n[GK_MAX_CPUS], crit_boosted[GK_MAX_CPUS];
static struct { uint8_t cls, prio, flags; uint64_t next_rt; uint32_t util; } pub[GK_MAX_CPUS];
static struct gk_hog hogs[GK_MAX_CPUS];

static void sleep_until(uint64_t t, int once);

/* A busy vCPU does not halt: the timer is armed and the hog runs until it fires. */
static void hog_until(uint64_t t)
{
	unsigned cpu = gk_cpu();
	struct gk_hog *h = &hogs[cpu];

	h->deadline = t;
	h->slack = pvb_ns_to_ticks(2000000);
	do {
		uint64_t now = gk_rdtsc();
		if (gk_shared.tsc_deadline) {
			gk_sys_arm(t, 0);
		} else {
			uint64_t left = t > now ? t - now : 0;
			uint64_t c = (uint64_t)(((unsigned __int128)left * apic_per_tsc) >> 32);
			gk_sys_arm(c < 1 ? 1 : c > 0xffffffffu ? 0xffffffffu : c, 1);
		}
		gk_switch_to_hog(gk_percpu(cpu), h);
	} while (gk_rdtsc() < t); /* a one-shot count may end early: the rest, again */
}

/* The doorbell (an exit), timed: what a kick through the device costs the guest. */
static void ring(unsigned cpu)
{
	uint64_t t0 = gk_rdtsc();
	*doorbell = (uint32_t)PVB_IVSHMEM_HOST_PEER << 16 | cpu;
	doorbell_tsc[cpu] += gk_rdtsc() - t0;
	doorbell_n[cpu]++;
}

/* Publishes what runs on cpu. With UTIL_KICK the host also hears of a changed utilisation by the
 * doorbell, at most once per PELT period: the rate the kernel's own utilisation moves at. */
static void publish(unsigned cpu, uint8_t cls, uint8_t prio, uint8_t flags, uint64_t next_rt, uint32_t util)
{
	uint64_t now = gk_rdtsc();
	pub[cpu].cls = cls, pub[cpu].prio = prio, pub[cpu].flags = flags;
	pub[cpu].next_rt = next_rt, pub[cpu].util = util;
	if (crit_depth[cpu]) /* a request: the host reads it at its next look (the seed's next exit) */
		flags |= PVB_SF_CRIT | PVB_SF_BOOST_REQ;
	pvb_boost_publish(pvb_boost_slot(boost, cpu), cls, prio, flags, next_rt, util, now);
	if ((util_kick || vcpufreq || util_hcall) && util != util_rung[cpu] &&
	    now - util_rung_tsc[cpu] >= pvb_ns_to_ticks(1024000)) {
		util_rung[cpu] = util;
		util_rung_tsc[cpu] = now;
		util_kicks[cpu]++;
		uint64_t t0 = gk_rdtsc(); /* what the channel costs the guest, per update */
		if (util_kick)
			ring(cpu);
		else if (vcpufreq) /* an exit to the VMM that carries the value */
			*(volatile uint32_t *)(vcpufreq + cpu * PVB_VCPUFREQ_STRIDE + PVB_VCPUFREQ_SET_PERF) = util;
		else
			gk_sys_util_hc(util, amd);
		util_tsc[cpu] += gk_rdtsc() - t0;
	}
}

/* The slot again as last published: a critical section began or ended. */
static void republish(unsigned cpu)
{
	publish(cpu, pub[cpu].cls, pub[cpu].prio, pub[cpu].flags, pub[cpu].next_rt, pub[cpu].util);
}

/* The running half of a slot: the class of what runs, and the CPU's utilisation. */
void gk_publish_running(unsigned cpu)
{
	if (boost)
		publish(cpu, rt_prio ? PVB_CLASS_RT : PVB_CLASS_NORMAL, rt_prio, rt_prio ? PVB_SF_BOOST_REQ : 0, 0,
			gk_util(cpu, 1, 0));
}

/* A kick: the slot's counter, and with a device its doorbell (an event for the host, which
 * otherwise sees the counter at its next look). The doorbell's cost is timed: it is an exit. */
static void kick(struct pvb_boost_slot *s, unsigned cpu)
{
	pvb_boost_kick(s);
	if (doorbell)
		ring(cpu);
}

/* What pvb_boost_tell() says, done: host_sees is read there, each time (the agent starts after
 * the guest, and may stop before it). */
static void tell(struct pvb_boost_slot *s, unsigned cpu, int wants, int halts_until_rt)
{
	switch (pvb_boost_tell(boost, pvb_boost_is_boosted(s), wants, halts_until_rt)) {
	case PVB_TELL_KICK:
		pvb_boost_kick(s);
		break;
	case PVB_TELL_RING:
		kick(s, cpu);
		break;
	}
}

static void sleep_common(uint64_t t, int once);

/* Taken by test-and-set: the holder alone marks its slot CRIT, after it has the lock. A waiter
 * that asked for a boost would, at FIFO, keep a preempted holder off a CPU they share. */
void pvb_lock(struct pvb_lock *l)
{
	unsigned cpu = gk_cpu();
	while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->held, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	if (!crit_depth[cpu]++ && boost)
		republish(cpu);
}

/* Out of the section: the slot says so, and a boosted vCPU kicks, as at a sleep (the host cannot
 * see a section end; with a doorbell the kick is an exit, paid only when boosted). */
void pvb_unlock(struct pvb_lock *l)
{
	unsigned cpu = gk_cpu();
	__atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
	if (!crit_depth[cpu] || --crit_depth[cpu] || !boost)
		return;
	struct pvb_boost_slot *s = pvb_boost_slot(boost, cpu);
	int boosted = pvb_boost_is_boosted(s);
	crit_n[cpu]++;
	crit_boosted[cpu] += boosted;
	republish(cpu);
	if (boosted && pub[cpu].cls != PVB_CLASS_RT)
		kick(s, cpu);
}

void pvb_sleep_until(uint64_t t)
{
	sleep_common(t, 0);
}

/* One sleep: back at t or at the first interrupt before it (a device's completion, pvb_io.h). */
void gk_wait_until(uint64_t t)
{
	sleep_common(t, 1);
}

/* Around every sleep: the vCPU halts (idle, and when its task is RT, the deadline it will wake
 * at), then runs its task again. Ring 3, wait-free, a few stores each. */
static void sleep_common(uint64_t t, int once)
{
	int hog = busy && t != ~0ull;
	if (!boost) {
		if (hog)
			hog_until(t);
		else
			sleep_until(t, once);
		return;
	}
	unsigned cpu = gk_cpu();
	struct pvb_boost_slot *s = pvb_boost_slot(boost, cpu);
	uint64_t next_rt = rt_prio && t != ~0ull ? t : 0;
	publish(cpu, hog ? PVB_CLASS_NORMAL : PVB_CLASS_IDLE, 0, 0, next_rt, gk_util(cpu, 1, 1));
	/* the RT task stops: a boosted vCPU says so (the doorbell, an exit and a wake-up of the
	 * host's agent each period, only where the host cannot see it by itself) */
	tell(s, cpu, 0, !hog && next_rt);
	if (hog)
		hog_until(t);
	else
		sleep_until(t, once);
	if (t != ~0ull) { /* its timer fired: did the host have the vCPU boosted by then? */
		timer_wakes[cpu]++;
		boosted_wakes[cpu] += pvb_boost_is_boosted(s);
	}
	gk_util(cpu, 0, 0); /* the sleep was idle time */
	gk_publish_running(cpu);
	/* ask for a boost while the RT task runs; without one, say the interrupt that woke it is
	 * handled (a host that boosts on injection unboosts then) */
	tell(s, cpu, rt_prio != 0, 0);
}

static void sleep_until(uint64_t t, int once)
{
	if (gk_shared.tsc_deadline) {
		gk_sys_sleep(t);
		return;
	}
	if (t == ~0ull) { /* forever */
		gk_sys_sleep_apic(0);
		return;
	}
	do { /* a one-shot count from a calibrated rate may end early: sleep the rest */
		uint64_t now = gk_rdtsc(), left = t > now ? t - now : 0;
		uint64_t c = (uint64_t)(((unsigned __int128)left * apic_per_tsc) >> 32);
		gk_sys_sleep_apic(c < 1 ? 1 : c > 0xffffffffu ? 0xffffffffu : c);
	} while (!once && gk_rdtsc() < t);
}

/* The APIC timer's rate against the TSC, over 5 ms (only without TSC-deadline). */
static void apic_calibrate(void)
{
	uint64_t t0 = gk_rdtsc(), c, t1;

	gk_sys_apic_cal(0);
	while (gk_rdtsc() - t0 < pvb_ns_to_ticks(5000000))
		__builtin_ia32_pause();
	c = gk_sys_apic_cal(1);
	t1 = gk_rdtsc();
	apic_per_tsc = (((0xffffffffull - c) << 32) / (t1 - t0));
}

uint64_t pvb_ticks_to_ns(uint64_t t)
{
	return (uint64_t)(((unsigned __int128)t * mult_ns) >> 32);
}

uint64_t pvb_ns_to_ticks(uint64_t ns)
{
	return (uint64_t)(((unsigned __int128)ns * mult_tsc + 0xffffffffu) >> 32);
}

const char *pvb_arg(const char *key)
{
	for (int i = 0; i < args.nr; i++)
		if (seq(args.key[i], key))
			return args.val[i];
	return NULL;
}

void pvb_console(const char *s, size_t n)
{
	gk_sys_write(s, n);
}

void pvb_fail(const char *why)
{
	size_t i = 0;

	if (failed++)
		return;
	for (; why[i] && i + 1 < sizeof(fail_msg); i++)
		fail_msg[i] = why[i];
	fail_msg[i] = 0;
}

int pvb_failed(void)
{
	return failed;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int base = 10;

	if (s[0] == '0' && s[1] == 'x')
		base = 16, s += 2;
	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / (unsigned)base)
			return -1;
		v = v * (unsigned)base + d;
	}
	*out = v;
	return 0;
}

uint64_t pvb_arg_u64(const char *key, uint64_t def)
{
	const char *s = pvb_arg(key);
	uint64_t v;
	char msg[96];

	if (!s)
		return def;
	if (parse_u64(s, &v) == 0)
		return v;
	/* "job: KEY: not a number" */
	size_t n = 0;
	for (const char *p = "job: "; *p; p++)
		msg[n++] = *p;
	for (size_t i = 0; key[i] && n < 60; i++)
		msg[n++] = key[i];
	for (const char *p = ": not a number"; *p; p++)
		msg[n++] = *p;
	msg[n] = 0;
	pvb_fail(msg);
	return def;
}

void *pvb_alloc(size_t n)
{
	uint8_t *p = heap;

	n = (n + 63) & ~(size_t)63;
	if (n > (size_t)(heap_end - heap)) {
		pvb_fail("guest: out of memory (raise the VM's memory)");
		return NULL;
	}
	heap += n;
	memset(p, 0, n); /* touch now: first-touch faults are slow under shadow paging */
	return p;
}

void pvb_metric(unsigned cpu, const char *name, const char *unit, enum pvb_better better, int64_t value)
{
	pvb_rec_metric(&rec, (uint16_t)cpu, name, unit, better, value);
}

void pvb_hist(unsigned cpu, const char *name, uint32_t bucket_ns, const uint32_t *counts,
	      uint32_t nr_buckets, uint64_t overflow)
{
	pvb_rec_hist(&rec, (uint16_t)cpu, name, bucket_ns, counts, nr_buckets, overflow);
}

void pvb_platform_fault(int where)
{
	if (where)
		gk_sys_r0fault(where == 2);
	__asm__ volatile("ud2");
}

static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* One notification on a channel, from ring 0 (through SYS_CHANNEL) or from here, ring 3, with the
 * same instructions; returns its TSC cycles, measured the same way in both rings. */
uint64_t pvb_platform_notify(int ch, int ring, void *slot_p)
{
	static const struct pvb_channel table[] = PVB_CHANNEL_TABLE;
	struct pvb_chan_slot *slot = slot_p;
	int amd = ch & PVB_CH_AMD;
	uint64_t t0, a = 5, d, c = 1, b = PVB_CH_SLOT_GPA;

	ch &= ~PVB_CH_AMD;
	if (ch < 0 || ch >= PVB_CH_COUNT)
		return (uint64_t)-1;
	const struct pvb_channel *k = &table[ch];
	if (ring == 0) {
		d = k->arg;
		__asm__ volatile("int3" : "+a"(a), "+d"(d) : "D"((uint64_t)(k->how | (unsigned)amd)), "S"(slot)
				 : "rcx", "memory");
		return a;
	}
	t0 = rdtsc_ordered();
	slot->tsc = t0;
	slot->seq++;
	switch (k->how) {
	case PVB_HOW_HCALL:
		a = k->arg, d = 0;
		if (amd)
			__asm__ volatile("vmmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) :: "memory");
		else
			__asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) :: "memory");
		break;
	case PVB_HOW_PIO:
		__asm__ volatile("outb %%al, %%dx" :: "a"(0), "d"((uint16_t)k->arg) : "memory");
		break;
	case PVB_HOW_MMIO:
		*(volatile uint32_t *)(uintptr_t)k->arg = 0;
		break;
	default: /* the slot write is all */
		break;
	}
	return rdtsc_ordered() - t0;
}

void pvb_barrier(void)
{
	barrier();
}

void *pvb_platform_region(uint64_t *size)
{
	const char *r = pvb_arg("region");
	char num[24];
	uint64_t addr, sz;
	size_t n = 0;

	if (!r)
		return NULL;
	for (; *r && *r != ',' && n + 1 < sizeof(num); r++)
		num[n++] = *r;
	num[n] = 0;
	if (*r != ',' || parse_u64(num, &addr) || parse_u64(r + 1, &sz) || addr + sz > (1ull << 32) ||
	    addr < ram_end) {
		pvb_fail("job: region=ADDR,SIZE malformed, above 4 GiB or overlapping RAM");
		return NULL;
	}
	*size = sz;
	return (void *)(uintptr_t)addr;
}

static void parse_cmdline(const char *cmdline)
{
	size_t n = slen(cmdline);
	char *p = args.line;

	if (n >= sizeof(args.line))
		n = sizeof(args.line) - 1;
	memcpy(args.line, cmdline, n);
	args.line[n] = 0;
	while (*p) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		char *k = p, *v = NULL;
		while (*p && *p != ' ') {
			if (*p == '=' && !v) {
				*p = 0;
				v = p + 1;
			}
			p++;
		}
		if (*p)
			*p++ = 0;
		if (args.nr < MAX_ARGS) {
			args.key[args.nr] = k;
			args.val[args.nr] = v ? v : "";
			args.nr++;
		}
	}
}

static void barrier(void)
{
	unsigned sense = __atomic_load_n(&barrier_sense, __ATOMIC_ACQUIRE);

	if (__atomic_add_fetch(&barrier_count, 1, __ATOMIC_ACQ_REL) == nr_cpus) {
		__atomic_store_n(&barrier_count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&barrier_sense, sense + 1, __ATOMIC_RELEASE);
	} else {
		/* spin for 2 ms (barriers between passes stay precise), then halt in 1 ms steps: a vCPU
		 * that waits seconds for the others is idle, to the host's scheduler and governor too */
		uint64_t t0 = gk_rdtsc(), spin = pvb_ns_to_ticks(2000000), step = pvb_ns_to_ticks(1000000);
		while (__atomic_load_n(&barrier_sense, __ATOMIC_ACQUIRE) == sense) {
			if (gk_rdtsc() - t0 < spin)
				__builtin_ia32_pause();
			else
				pvb_sleep_until(gk_rdtsc() + step);
		}
	}
}

static uint64_t median(uint64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* Ring-0 cost as ring 3 sees it: a null system call, and a sleep whose deadline has passed (the
 * whole wake-up path: int3, wrmsr, sti/hlt, timer interrupt, EOI, iretq, minus the wait). */
static void calibrate(void)
{
	uint64_t t[CALIB_N], c;

	for (int i = 0; i < CALIB_N; i++) {
		c = gk_rdtsc();
		gk_sys_null();
		t[i] = gk_rdtsc() - c;
	}
	pvb_metric(PVB_CPU_VM, "r0.null_syscall", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(median(t, CALIB_N)));
	for (int i = 0; i < CALIB_N; i++) {
		c = gk_rdtsc();
		pvb_sleep_until(1);
		t[i] = gk_rdtsc() - c;
	}
	pvb_metric(PVB_CPU_VM, "r0.wake_path", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(median(t, CALIB_N)));
}

__attribute__((noreturn)) static void finish(uint32_t status)
{
	if (failed) {
		status = PVB_STATUS_FAILED;
		pvb_rec_text(&rec, PVB_CPU_VM, fail_msg);
		console("pvbench guest: failed: ");
		console(fail_msg);
		console("\n");
	}
	if (rec.buf) {
		pvb_rec_seal(&rec, status, nr_cpus);
		__atomic_store_n(&live->phase, PVB_PHASE_DONE, __ATOMIC_RELEASE);
	}
	gk_sys_exit(GK_EXIT_BASE + status);
}

/* The host offers the boost region on the command line, in RAM or behind a device: accepted
 * when its header is sound, else the guest runs as vanilla and says why on the console. */
/* pvbench's VMM's discovery window (pvb_discovery.h): the region and its devices, each address
 * checked; 0 and *found = 0 where there is no window (another VMM), -1 on a bad one */
static const volatile struct pvb_discovery *disc;

static int discover(uint64_t *addr, uint64_t *size, int *found)
{
	const volatile struct pvb_discovery *w = (const volatile void *)(uintptr_t)PVB_GPA_DISCOVERY;
	*found = 0;
	if (w->magic != PVB_DISC_MAGIC || w->check != ~PVB_DISC_MAGIC || !(w->devices & PVB_DISC_BOOST))
		return 0;
	if (w->version != PVB_DISC_VERSION || w->size < sizeof(*w) || w->nr_vcpus != nr_cpus ||
	    ((w->devices & PVB_DISC_DOORBELL) && w->doorbell_gpa != PVB_GPA_DOORBELL) ||
	    ((w->devices & (PVB_DISC_VCPUFREQ | PVB_DISC_HCALL)) &&
	     (w->vcpufreq_gpa != PVB_GPA_VCPUFREQ || w->vcpufreq_stride != PVB_VCPUFREQ_STRIDE))) {
		pvb_fail("discovery window: version, size, vCPUs or a device address not as pvb_discovery.h says");
		return -1;
	}
	*addr = w->boost_gpa;
	*size = w->boost_size;
	*found = 1;
	disc = w;
	return 0;
}

static int cpu_is_amd(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	return b == 0x68747541 || b == 0x6f677948; /* "Auth"enticAMD, "Hygo"nGenuine */
}

static int boost_negotiate(void)
{
	const char *b = pvb_arg("boost"), *p, *why;
	uint64_t addr, size;
	char num[24];
	size_t n = 0;
	struct gk_pci_dev d;
	int found;

	if (!b) {
		if (discover(&addr, &size, &found))
			return -1;
		if (!found)
			return 0; /* no region: vanilla */
		if (addr < (uintptr_t)heap || addr + size > (uintptr_t)live) {
			pvb_fail("discovery window: the region is not between the kernel and the out area");
			return -1;
		}
	} else if (seq(b, "pci")) {
		why = gk_pci_setup(PVB_IVSHMEM_VENDOR, PVB_IVSHMEM_DEVICE, &d);
		if (!why && (!d.bar[0] || !d.bar[2]))
			why = "its BAR0 or BAR2 is missing";
		if (why) {
			console("pvbench guest: ivshmem-doorbell: ");
			console(why);
			console(": running as vanilla\n");
			return 0;
		}
		ivdev = d;
		have_ivdev = 1;
		addr = d.bar[2];
		size = d.size[2];
	} else {
		for (p = b; *p && *p != ',' && n + 1 < sizeof(num); p++)
			num[n++] = *p;
		num[n] = 0;
		if (*p != ',' || parse_u64(num, &addr) || parse_u64(p + 1, &size) || addr < (uintptr_t)heap ||
		    addr + size > (uintptr_t)live) {
			pvb_fail("job: boost=ADDR,SIZE or boost=pci malformed, or not between the kernel and the out area");
			return -1;
		}
	}
	struct pvb_boost_hdr *h = (void *)(uintptr_t)addr;
	why = pvb_boost_guest_check(h, size, nr_cpus);
	if (why) {
		console("pvbench guest: ");
		console(why);
		console(": running as vanilla\n");
		return 0;
	}
	/* pvbench's VMM: the region in RAM, and the devices its window names */
	uint64_t bell = disc && (disc->devices & PVB_DISC_DOORBELL) ? disc->doorbell_gpa : 0;
	int has_bell = seq(b, "pci") || bell;
	uint32_t devs = disc ? disc->devices : 0;
	h->guest_features = h->host_features & (PVB_BF_BOOST | PVB_BF_RT_DEADLINE | PVB_BF_UTIL | PVB_BF_HINT |
						PVB_BF_CAPACITY_ORIG | (has_bell ? PVB_BF_UTIL_KICK : 0) |
						(devs & PVB_DISC_VCPUFREQ ? PVB_BF_UTIL_MMIO : 0) |
						(devs & PVB_DISC_HCALL ? PVB_BF_UTIL_HCALL : 0));
	if (h->guest_features & PVB_BF_UTIL) { /* one way for the utilisation: the first the host offers */
		if (h->guest_features & PVB_BF_UTIL_KICK)
			h->guest_features &= ~(PVB_BF_UTIL_MMIO | PVB_BF_UTIL_HCALL);
		else if (h->guest_features & PVB_BF_UTIL_MMIO)
			h->guest_features &= ~PVB_BF_UTIL_HCALL;
		vcpufreq = h->guest_features & PVB_BF_UTIL_MMIO ? (volatile uint8_t *)(uintptr_t)disc->vcpufreq_gpa : 0;
		util_hcall = !!(h->guest_features & PVB_BF_UTIL_HCALL);
		amd = cpu_is_amd();
	}
	h->guest_version = PVB_BOOST_VERSION;
	h->guest_tsc_ready = gk_rdtsc();
	__atomic_store_n(&h->guest_ready, 1, __ATOMIC_RELEASE);
	if (has_bell) {
		doorbell = (volatile uint32_t *)(uintptr_t)(bell ? bell : d.bar[0] + PVB_IVSHMEM_DOORBELL);
		util_kick = (h->guest_features & (PVB_BF_UTIL_KICK | PVB_BF_UTIL)) == (PVB_BF_UTIL_KICK | PVB_BF_UTIL);
	}
	if (!seq(b, "pci") && (uint8_t *)(uintptr_t)addr < heap_end)
		heap_end = (uint8_t *)(uintptr_t)addr; /* the region is not heap */
	boost = h;
	gk_util_init(h);
	return 0;
}

static int setup_job(void)
{
	const char *out = pvb_arg("out"), *p;
	uint64_t addr = 0, size = 0, v;
	char num[24];
	size_t n = 0;

	if (!out) {
		pvb_fail("job: out=ADDR,SIZE missing");
		return -1;
	}
	for (p = out; *p && *p != ',' && n + 1 < sizeof(num); p++)
		num[n++] = *p;
	num[n] = 0;
	if (*p != ',' || parse_u64(num, &addr) || parse_u64(p + 1, &size) ||
	    size < PVB_REC_OFFSET + 4096 || addr + size > (1ull << 32) ||
	    addr < (uint64_t)(uintptr_t)__image_end) {
		pvb_fail("job: out=ADDR,SIZE malformed or overlapping the kernel");
		return -1;
	}
	live = (struct pvb_live *)(uintptr_t)addr;
	ram_end = addr + size;
	pvb_rec_begin(&rec, (uint8_t *)(uintptr_t)addr + PVB_REC_OFFSET,
		      (uint32_t)(size - PVB_REC_OFFSET));
	gk_shared.out_rec = rec.buf;
	gk_shared.out_rec_cap = rec.cap;
	heap = (uint8_t *)(((uintptr_t)__image_end + 4095) & ~(uintptr_t)4095);
	heap_end = (uint8_t *)(uintptr_t)addr;
	live->cpus_online = 1;
	live->phase = PVB_PHASE_RING3;
	__atomic_store_n(&live->magic, PVB_LIVE_MAGIC, __ATOMIC_RELEASE);

	tsc_khz = pvb_arg_u64("tsc_khz", 0);
	v = pvb_arg_u64("cpus", 1);
	if (failed)
		return -1;
	if (tsc_khz < 1000 || tsc_khz > 100000000) {
		pvb_fail("job: tsc_khz=N missing or out of range");
		return -1;
	}
	if (v < 1 || v > GK_MAX_CPUS) {
		pvb_fail("job: cpus out of range");
		return -1;
	}
	nr_cpus = (unsigned)v;
	gk_shared.nr_cpus = nr_cpus;
	mult_ns = (1000000ull << 32) / tsc_khz;
	mult_tsc = (tsc_khz << 32) / 1000000ull;
	if (!gk_shared.tsc_deadline && gk_shared.x2apic) {
		pvb_fail("guest: x2APIC without a TSC-deadline timer is not supported");
		return -1;
	}
	if (!gk_shared.tsc_deadline)
		apic_calibrate();
	v = pvb_arg_u64("rt_prio", 0);
	if (v > 99) {
		pvb_fail("job: rt_prio must be 0..99");
		return -1;
	}
	rt_prio = (uint8_t)v;
	if (pvb_arg("guest_load")) {
		busy = seq(pvb_arg("guest_load"), "busy");
		if (!busy && !seq(pvb_arg("guest_load"), "idle")) {
			pvb_fail("job: guest_load must be idle or busy");
			return -1;
		}
	}
	if (boost_negotiate())
		return -1;
	wl = pvb_find_workload(pvb_arg("workload") ? pvb_arg("workload") : "");
	if (!wl) {
		pvb_fail("job: workload= unknown or missing");
		return -1;
	}
	return 0;
}

const struct gk_pci_dev *gk_ivshmem(void)
{
	return have_ivdev ? &ivdev : 0;
}

/* An AP: counted online, then it waits for the BSP's go, runs the workload, and sleeps for good. */
static void __attribute__((noreturn)) ap_main(struct pvb_ctx *ctx)
{
	__atomic_add_fetch(&online, 1, __ATOMIC_ACQ_REL);
	while (!go)
		__builtin_ia32_pause();
	ctx->nr_cpus = nr_cpus;
	gk_publish_running(ctx->cpu); /* the slot says what runs from the start, not only after a sleep */
	if (go > 0)
		wl->run(ctx);
	barrier();
	for (;;)
		pvb_sleep_until(~0ull);
}

/* The APs start only now, after setup_job's PCI set-up (boost=pci): under QEMU's TCG before
 * 8.1.1, a change to the memory map (a BAR placed, decoding or bus mastering turned on) could
 * send another vCPU's MMIO to the wrong region meanwhile, and an AP's local APIC set-up was
 * lost about 1 run in 40 (its timer never fired: the guest hung). Give them 1 s (they need
 * ~0.5 ms). Later changes (the block device's MSI-X) come while the APs wait for go, with no
 * MMIO of theirs in flight. */
static void start_aps(void)
{
	gk_sys_start_aps(gk_shared.x2apic);
	uint64_t limit = gk_rdtsc() + pvb_ns_to_ticks(1000000000);
	while (__atomic_load_n(&online, __ATOMIC_ACQUIRE) + 1 < nr_cpus && gk_rdtsc() < limit)
		__builtin_ia32_pause();
	live->cpus_online = online + 1;
	if (online + 1 != nr_cpus) {
		pvb_fail("guest: not every vCPU came up (INIT/SIPI)");
		finish(PVB_STATUS_FAILED);
	}
}

/* What the boot cost, and what the guest found of the machine and was offered. */
static void boot_metrics(uint64_t t_ring3, uint64_t t_work)
{
	pvb_metric(PVB_CPU_VM, "boot.ring0", "ns", PVB_LESS,
		   (int64_t)pvb_ticks_to_ns(gk_shared.r0_done_tsc - gk_boot_tsc));
	pvb_metric(PVB_CPU_VM, "boot.to_ring3", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(t_ring3 - gk_boot_tsc));
	pvb_metric(PVB_CPU_VM, "boot.to_workload", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(t_work - gk_boot_tsc));
	pvb_metric(PVB_CPU_VM, "tsc_khz", "kHz", PVB_LESS, (int64_t)tsc_khz);
	pvb_metric(PVB_CPU_VM, "x2apic", "bool", PVB_INFO, gk_shared.x2apic);
	pvb_metric(PVB_CPU_VM, "tsc_deadline", "bool", PVB_INFO, gk_shared.tsc_deadline);
	pvb_metric(PVB_CPU_VM, "boost_region", "bool", PVB_INFO, boost != 0);
	pvb_metric(PVB_CPU_VM, "boost_doorbell", "bool", PVB_INFO, doorbell != 0);
	pvb_metric(PVB_CPU_VM, "guest_load_busy", "bool", PVB_INFO, busy);
}

/* The channels' side in the guest: doorbells rung, utilisation updates sent, what each cost. */
static void channel_metrics(void)
{
	uint64_t rung = 0, rung_tsc = 0, rung_util = 0;
	for (unsigned c = 0; doorbell && c < nr_cpus; c++) {
		pvb_metric(c, "doorbells", "count", PVB_INFO, (int64_t)doorbell_n[c]);
		if (util_kick) /* of them, for a changed utilisation */
			pvb_metric(c, "util_kicks", "count", PVB_INFO, (int64_t)util_kicks[c]);
		if (doorbell_n[c]) /* the guest's side of a kick through the device */
			pvb_metric(c, "doorbell_cost", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(doorbell_tsc[c] / doorbell_n[c]));
		rung += doorbell_n[c], rung_tsc += doorbell_tsc[c], rung_util += util_kicks[c];
	}
	if (doorbell) {
		pvb_metric(PVB_CPU_VM, "doorbells", "count", PVB_INFO, (int64_t)rung);
		if (util_kick)
			pvb_metric(PVB_CPU_VM, "util_kicks", "count", PVB_INFO, (int64_t)rung_util);
		if (rung)
			pvb_metric(PVB_CPU_VM, "doorbell_cost", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(rung_tsc / rung));
	}
	uint64_t sent = 0, sent_tsc = 0;
	for (unsigned c = 0; (vcpufreq || util_hcall) && c < nr_cpus; c++) {
		pvb_metric(c, "util_kicks", "count", PVB_INFO, (int64_t)util_kicks[c]);
		sent += util_kicks[c], sent_tsc += util_tsc[c];
	}
	if (vcpufreq || util_hcall)
		pvb_metric(PVB_CPU_VM, "util_kicks", "count", PVB_INFO, (int64_t)sent);
	for (unsigned c = 0; c < nr_cpus; c++)
		sent_tsc += util_kick ? util_tsc[c] : 0, sent += util_kick ? util_kicks[c] : 0;
	if (sent) /* the guest's side of one utilisation update through its channel (an exit) */
		pvb_metric(PVB_CPU_VM, "util_cost", "ns", PVB_LESS, (int64_t)pvb_ticks_to_ns(sent_tsc / sent));
	pvb_metric(PVB_CPU_VM, "util_channel", "id", PVB_INFO,
		   util_kick ? 1 : vcpufreq ? 2 : util_hcall ? 3 : boost ? 0 : -1);
}

/* What the host's boosts came to as the guest saw them, and the hogs' work beside the job. */
static void boost_metrics(void)
{
	uint64_t wakes = 0, boosted_at = 0;
	for (unsigned c = 0; boost && c < nr_cpus; c++) {
		if (timer_wakes[c]) /* in thousandths of a percent: a record holds integers */
			pvb_metric(c, "boosted_at_wake_pct", "pct_e3", PVB_MORE, (int64_t)(boosted_wakes[c] * 100000 / timer_wakes[c]));
		wakes += timer_wakes[c], boosted_at += boosted_wakes[c];
	}
	if (wakes)
		pvb_metric(PVB_CPU_VM, "boosted_at_wake_pct", "pct_e3", PVB_MORE, (int64_t)(boosted_at * 100000 / wakes));
	uint64_t crits = 0, crit_b = 0;
	for (unsigned c = 0; boost && c < nr_cpus; c++)
		crits += crit_n[c], crit_b += crit_boosted[c];
	if (crits) { /* critical sections, and the share the host had boosted by their end */
		pvb_metric(PVB_CPU_VM, "crit_sections", "count", PVB_INFO, (int64_t)crits);
		pvb_metric(PVB_CPU_VM, "crit_boosted_pct", "pct_e3", PVB_INFO, (int64_t)(crit_b * 100000 / crits));
	}
	for (unsigned c = 0; busy && c < nr_cpus; c++) {
		pvb_metric(c, "hog_work", "count", PVB_MORE, (int64_t)hogs[c].work);
		/* the hog gave up on the timer 2 ms past the deadline (a lost or very late interrupt) */
		pvb_metric(c, "hog_gave_up", "count", PVB_LESS, (int64_t)hogs[c].lost);
	}
}

void gk_user_main(unsigned cpu, const char *cmdline)
{
	struct pvb_ctx ctx = { .cpu = cpu };
	uint64_t t_ring3 = gk_rdtsc(), t_work;

	if (cpu != 0)
		ap_main(&ctx);
	pvb_crc32_init();
	parse_cmdline(cmdline);
	if (setup_job())
		finish(PVB_STATUS_FAILED);
	console("pvbench guest: ");
	console(wl->name);
	console("\n");
	start_aps();
	calibrate();
	if (wl->setup && wl->setup(nr_cpus)) {
		if (!failed)
			pvb_fail("workload setup failed");
		go = -1;
		finish(PVB_STATUS_FAILED);
	}
	t_work = gk_rdtsc();
	__atomic_store_n(&live->phase, PVB_PHASE_WORKLOAD, __ATOMIC_RELEASE);
	go = 1;
	ctx.nr_cpus = nr_cpus;
	gk_publish_running(0);
	if (wl->run(&ctx) && !failed)
		pvb_fail("workload run failed");
	barrier();
	wl->finish(nr_cpus);
	boot_metrics(t_ring3, t_work);
	channel_metrics();
	boost_metrics();
	console("pvbench guest: done\n");
	finish(PVB_STATUS_OK);
}
