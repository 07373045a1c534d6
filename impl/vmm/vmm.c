/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "pvb_abi.h"
#include "pvb_discovery.h"
#include "vmm.h"

int vmm_ioctl(int fd, unsigned long req, void *arg, const char *name, const char *ctx, char *err,
	      size_t errlen)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR && req != KVM_RUN);
	if (r < 0 && err)
		snprintf(err, errlen, "%s: %s%s%s%s", name, strerror(errno), ctx ? " (" : "",
			 ctx ? ctx : "", ctx ? ")" : "");
	return r;
}

static void on_kick(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

int vmm_check_cap(int cap, char *err, size_t errlen)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (kvm < 0) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	r = ioctl(kvm, KVM_CHECK_EXTENSION, cap);
	if (r < 0)
		snprintf(err, errlen, "KVM_CHECK_EXTENSION(%d): %s", cap, strerror(errno));
	close(kvm);
	return r;
}

int vmm_create(struct vmm *v, uint64_t mem_size, int dirty_ring_bytes, char *err, size_t errlen)
{
	struct sigaction old, sa = { .sa_handler = on_kick };

	memset(v, 0, sizeof(*v));
	v->kvm = v->fd = -1;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->parked_cv, NULL);
	pthread_cond_init(&v->resume_cv, NULL);
	sigemptyset(&sa.sa_mask);
	if (sigaction(VMM_KICK_SIGNAL, NULL, &old) == 0 &&
	    (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) /* said in vmm.h */
		sigaction(VMM_KICK_SIGNAL, &sa, NULL);
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	if (ioctl(v->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM_GET_API_VERSION: not %d", KVM_API_VERSION);
		return -1;
	}
	v->fd = VMM_IOCTL(v->kvm, KVM_CREATE_VM, 0, NULL, err, errlen);
	if (v->fd < 0)
		return -1;
	if (dirty_ring_bytes) { /* must come before any vCPU exists */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING, .args = { (uint64_t)dirty_ring_bytes } };
		if (VMM_IOCTL(v->fd, KVM_ENABLE_CAP, &cap, "KVM_CAP_DIRTY_LOG_RING", err, errlen) < 0)
			return -1;
		v->dirty_ring_bytes = dirty_ring_bytes;
	}
	if (VMM_IOCTL(v->fd, KVM_CREATE_IRQCHIP, 0, NULL, err, errlen) < 0)
		return -1;
	return vmm_add_slot(v, 0, mem_size, 0, err, errlen);
}

int vmm_add_slot(struct vmm *v, uint64_t gpa, uint64_t size, int flags, char *err, size_t errlen)
{
	struct vmm_slot *s;
	int mflags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *p;
	char ctx[96];

	if (v->nr_slots == VMM_MAX_SLOTS) {
		snprintf(err, errlen, "too many memory slots");
		return -1;
	}
	s = &v->slots[v->nr_slots];
	if (flags & VMM_MEM_POPULATE)
		mflags |= MAP_POPULATE;
	if (flags & VMM_MEM_HUGETLB) /* reserved up front: a fault with no huge page left stalls KVM_RUN */
		mflags = (mflags | MAP_HUGETLB) & ~MAP_NORESERVE;
	/* 2 MiB alignment so THP (and the guest's 2 MiB pages) can line up */
	p = mmap(NULL, size + (2u << 20), PROT_READ | PROT_WRITE, mflags & ~MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap of %llu MiB%s: %s", (unsigned long long)(size >> 20),
			 flags & VMM_MEM_HUGETLB ? " (MAP_HUGETLB)" : "", strerror(errno));
		return -1;
	}
	uint8_t *aligned = (uint8_t *)(((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
	if (flags & VMM_MEM_THP)
		madvise(aligned, size, MADV_HUGEPAGE);
	if (flags & VMM_MEM_POPULATE)
		madvise(aligned, size, MADV_POPULATE_WRITE); /* after THP advice, so it populates huge */
	s->gpa = gpa;
	s->size = size;
	s->host = aligned;
	s->map = p;
	s->map_len = size + (2u << 20);
	struct kvm_userspace_memory_region r = {
		.slot = (uint32_t)v->nr_slots, .flags = flags & VMM_MEM_READONLY ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)aligned,
	};
	snprintf(ctx, sizeof(ctx), "slot %d, %llu MiB at 0x%llx", v->nr_slots,
		 (unsigned long long)(size >> 20), (unsigned long long)gpa);
	if (VMM_IOCTL(v->fd, KVM_SET_USER_MEMORY_REGION, &r, ctx, err, errlen) < 0)
		return -1;
	if (v->nr_slots++ == 0) {
		v->mem = aligned;
		v->mem_size = size;
	}
	return 0;
}

int vmm_slot_flags(struct vmm *v, int slot, uint32_t flags, char *err, size_t errlen)
{
	struct vmm_slot *s = &v->slots[slot];
	struct kvm_userspace_memory_region r = {
		.slot = (uint32_t)slot, .flags = flags, .guest_phys_addr = s->gpa,
		.memory_size = s->size, .userspace_addr = (uintptr_t)s->host,
	};
	char ctx[64];

	snprintf(ctx, sizeof(ctx), "slot %d flags 0x%x", slot, flags);
	return VMM_IOCTL(v->fd, KVM_SET_USER_MEMORY_REGION, &r, ctx, err, errlen) < 0 ? -1 : 0;
}

int vmm_load_elf(struct vmm *v, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *b;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	b = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (b == MAP_FAILED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	const Elf64_Ehdr *eh = (const void *)b;
	if ((size_t)st.st_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size) {
		snprintf(err, errlen, "%s: not an x86-64 ELF", path);
		munmap(b, (size_t)st.st_size);
		return -1;
	}
	const Elf64_Phdr *ph = (const void *)(b + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_paddr + ph[i].p_memsz > v->mem_size || ph[i].p_filesz > ph[i].p_memsz ||
		    ph[i].p_offset + ph[i].p_filesz > (uint64_t)st.st_size) {
			snprintf(err, errlen, "%s: segment %d does not fit guest memory", path, i);
			munmap(b, (size_t)st.st_size);
			return -1;
		}
		memcpy(v->mem + ph[i].p_paddr, b + ph[i].p_offset, ph[i].p_filesz);
		/* the rest (.bss) is already zero: fresh anonymous memory */
	}
	v->entry = eh->e_entry;
	munmap(b, (size_t)st.st_size);
	return 0;
}

int vmm_add_vcpus(struct vmm *v, int n, const char *cmdline, char *err, size_t errlen)
{
	int mmap_size = VMM_IOCTL(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0, NULL, err, errlen);
	char ctx[32];

	if (mmap_size < 0)
		return -1;
	if (n < 1 || n > VMM_MAX_VCPUS) {
		snprintf(err, errlen, "vCPUs must be 1..%d", VMM_MAX_VCPUS);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct vmm_vcpu *c = &v->vcpu[i];
		c->vm = v;
		c->index = i;
		snprintf(ctx, sizeof(ctx), "vcpu %d", i);
		c->fd = VMM_IOCTL(v->fd, KVM_CREATE_VCPU, (void *)(uintptr_t)i, ctx, err, errlen);
		if (c->fd < 0)
			return -1;
		c->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		if (c->run == MAP_FAILED) {
			snprintf(err, errlen, "mmap of kvm_run: %s (vcpu %d)", strerror(errno), i);
			return -1;
		}
		c->run_size = (size_t)mmap_size;
		if (v->dirty_ring_bytes) {
			c->ring = mmap(NULL, (size_t)v->dirty_ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
				       c->fd, KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE));
			if (c->ring == MAP_FAILED) {
				c->ring = NULL;
				snprintf(err, errlen, "mmap of the dirty ring: %s (vcpu %d)", strerror(errno), i);
				return -1;
			}
		}
		v->nr_vcpus = i + 1;
		if (x86_setup_cpuid(v, c, err, errlen))
			return -1;
	}
	return x86_setup_boot(v, cmdline, err, errlen);
}

void vmm_add_device(struct vmm *v, const struct vmm_device *d)
{
	if (v->nr_dev < (int)(sizeof(v->dev) / sizeof(v->dev[0])))
		v->dev[v->nr_dev++] = *d;
}

int vmm_add_ioeventfd(struct vmm *v, int pio, uint64_t addr, unsigned len, int64_t datamatch, int *fd, char *err,
		      size_t errlen)
{
	struct kvm_ioeventfd io = { .addr = addr, .len = len };
	char what[48];

	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	io.fd = *fd;
	io.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch >= 0 ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
	io.datamatch = datamatch >= 0 ? (uint64_t)datamatch : 0;
	snprintf(what, sizeof(what), "%s 0x%llx", pio ? "port" : "MMIO", (unsigned long long)addr);
	if (VMM_IOCTL(v->fd, KVM_IOEVENTFD, &io, what, err, errlen) < 0) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

void vmm_stop(struct vmm *v, int state, const char *why)
{
	pthread_mutex_lock(&v->lock);
	if (v->state == VMM_RUNNING) {
		v->state = state;
		snprintf(v->why, sizeof(v->why), "%s", why ? why : "");
	}
	pthread_cond_broadcast(&v->resume_cv); /* parked threads see the new state */
	pthread_mutex_unlock(&v->lock);
	for (int i = 0; i < v->nr_vcpus; i++) {
		struct vmm_vcpu *c = &v->vcpu[i];
		c->run->immediate_exit = 1;
		if (c->thread && !pthread_equal(c->thread, pthread_self()))
			pthread_kill(c->thread, VMM_KICK_SIGNAL);
	}
}

static int device_exit(struct vmm_vcpu *c, enum vmm_dev_kind kind, uint64_t addr, int wr, void *data,
		       int size, int count)
{
	struct vmm *v = c->vm;

	for (int i = 0; i < v->nr_dev; i++) {
		struct vmm_device *d = &v->dev[i];
		if (d->kind == kind && addr >= d->base && addr < d->base + d->len)
			return d->handle(c, addr, wr, data, size, count, d->arg);
	}
	return -1;
}

/* The guest's probe of the discovery window (pvb_discovery.h) where no device maps it: zeros, so
 * that a guest with nothing offered finds nothing. 1 if it was that. */
static int discovery_probe(struct kvm_run *run)
{
	if (run->mmio.is_write || run->mmio.phys_addr < PVB_GPA_DISCOVERY ||
	    run->mmio.phys_addr + run->mmio.len > PVB_GPA_DISCOVERY + 4096)
		return 0;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	return 1;
}

/* vmm_pause(): park outside KVM_RUN until resumed */
static void park(struct vmm *v, struct vmm_vcpu *c)
{
	pthread_mutex_lock(&v->lock);
	v->parked++;
	pthread_cond_broadcast(&v->parked_cv);
	while (v->pause && v->state == VMM_RUNNING)
		pthread_cond_wait(&v->resume_cv, &v->lock);
	v->parked--;
	pthread_mutex_unlock(&v->lock);
	c->run->immediate_exit = 0;
}

/* Throttled (its dirty quota spent): sleep out the hold; a kick or a stop cuts it short.
 * 1 if it held. */
static int hold(struct vmm_vcpu *c)
{
	uint64_t until = c->hold_until, t = until ? vmm_now_ns() : 0;
	if (until <= t)
		return 0;
	struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	c->held_ns += vmm_now_ns() - t;
	c->holds++;
	return 1;
}

/* Port I/O: the guest's exit code and console are the VMM's own; the rest goes to a device. */
static void pio_exit(struct vmm_vcpu *c, struct kvm_run *run)
{
	struct vmm *v = c->vm;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	int wr = run->io.direction == KVM_EXIT_IO_OUT;
	char why[256];

	if (run->io.port == PVB_PORT_EXIT && wr) {
		pthread_mutex_lock(&v->lock);
		v->exit_value = data[0];
		pthread_mutex_unlock(&v->lock);
		vmm_stop(v, VMM_EXITED, NULL);
	} else if (run->io.port == PVB_PORT_CONSOLE && wr) { /* output only */
		size_t n = (size_t)run->io.size * run->io.count;
		pthread_mutex_lock(&v->lock);
		v->console_bytes += n;
		int flood = v->console_max && v->console_bytes > v->console_max;
		if (v->console && !flood)
			fwrite(data, 1, n, v->console);
		pthread_mutex_unlock(&v->lock);
		if (flood) /* an untrusted guest does not get to fill the disk */
			vmm_stop(v, VMM_UNEXPECTED, "the guest flooded its console: stopped");
	} else if (device_exit(c, VMM_DEV_PIO, run->io.port, wr, data, run->io.size, (int)run->io.count)) {
		snprintf(why, sizeof(why), "unexpected port %s 0x%x (size %d) at RIP 0x%llx",
			 wr ? "write to" : "read from", run->io.port, run->io.size, (unsigned long long)x86_get_rip(c));
		vmm_stop(v, VMM_UNEXPECTED, why);
	}
}

/* A vCPU's dirty ring is full: harvest every ring, and hold the vCPU where its quota is spent. */
static void ring_full_exit(struct vmm_vcpu *c)
{
	struct vmm *v = c->vm;
	char err[200];
	c->ring_full_exits++;
	pthread_mutex_lock(&v->lock);
	vmm_harvest_dirty_ring(c);
	if (vmm_reset_dirty_rings(v, err, sizeof(err)) < 0) {
		pthread_mutex_unlock(&v->lock);
		vmm_stop(v, VMM_UNEXPECTED, err);
		return;
	}
	pthread_mutex_unlock(&v->lock);
	if (c->quota_end && c->harvested >= c->quota_end) /* its dirty quota is spent */
		c->hold_until = c->quota_until;
}

/* One exit from KVM_RUN: handled, or the VM stopped with the reason. */
static void handle_exit(struct vmm_vcpu *c, struct kvm_run *run)
{
	struct vmm *v = c->vm;
	char why[256];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		pio_exit(c, run);
		break;
	case KVM_EXIT_MMIO:
		if (device_exit(c, VMM_DEV_MMIO, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data,
				(int)run->mmio.len, 1) &&
		    !discovery_probe(run)) {
			snprintf(why, sizeof(why), "unexpected MMIO %s 0x%llx at RIP 0x%llx",
				 run->mmio.is_write ? "write to" : "read from", (unsigned long long)run->mmio.phys_addr,
				 (unsigned long long)x86_get_rip(c));
			vmm_stop(v, VMM_UNEXPECTED, why);
		}
		break;
	case KVM_EXIT_HYPERCALL:
		if (device_exit(c, VMM_DEV_HYPERCALL, run->hypercall.nr, 1, &run->hypercall, 8, 1)) {
			snprintf(why, sizeof(why), "unexpected hypercall %llu", (unsigned long long)run->hypercall.nr);
			vmm_stop(v, VMM_UNEXPECTED, why);
		}
		break;
	case KVM_EXIT_SHUTDOWN:
		snprintf(why, sizeof(why), "triple fault (KVM_EXIT_SHUTDOWN) at RIP 0x%llx (vcpu %d)",
			 (unsigned long long)x86_get_rip(c), c->index);
		vmm_stop(v, VMM_SHUTDOWN, why);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		v->fail_rip = x86_get_rip(c);
		snprintf(why, sizeof(why), "KVM emulation failure at RIP 0x%016llx (suberror %u, vcpu %d)",
			 (unsigned long long)v->fail_rip, run->internal.suberror, c->index);
		vmm_stop(v, VMM_EMULATION_FAILURE, why);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_DIRTY_RING_FULL:
		ring_full_exit(c);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "KVM_EXIT_FAIL_ENTRY: hardware reason 0x%llx (vcpu %d)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason, c->index);
		vmm_stop(v, VMM_UNEXPECTED, why);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected exit reason %u at RIP 0x%llx (vcpu %d)", run->exit_reason,
			 (unsigned long long)x86_get_rip(c), c->index);
		vmm_stop(v, VMM_UNEXPECTED, why);
	}
}

static void *vcpu_main(void *arg)
{
	struct vmm_vcpu *c = arg;
	struct vmm *v = c->vm;
	char why[256];

	c->tid = (int)syscall(SYS_gettid);
	while (v->state == VMM_RUNNING) {
		if (v->pause) {
			park(v, c);
			continue;
		}
		if (hold(c))
			continue;
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				c->run->immediate_exit = 0;
				continue;
			}
			snprintf(why, sizeof(why), "KVM_RUN: %s (vcpu %d)", strerror(errno), c->index);
			vmm_stop(v, VMM_UNEXPECTED, why);
			break;
		}
		c->kvm_runs++;
		if (c->run->exit_reason < 64)
			c->exits[c->run->exit_reason]++;
		handle_exit(c, c->run);
	}
	return NULL;
}

int vmm_start(struct vmm *v, char *err, size_t errlen)
{
	v->state = VMM_RUNNING;
	for (int i = 0; i < v->nr_vcpus; i++) {
		int e = pthread_create(&v->vcpu[i].thread, NULL, vcpu_main, &v->vcpu[i]);
		if (e) {
			snprintf(err, errlen, "pthread_create: %s (vcpu %d)", strerror(e), i);
			vmm_stop(v, VMM_UNEXPECTED, err);
			return -1;
		}
	}
	for (int i = 0; i < v->nr_vcpus; i++) /* thread ids, for host policies */
		while (!__atomic_load_n(&v->vcpu[i].tid, __ATOMIC_ACQUIRE))
			sched_yield();
	return 0;
}

uint64_t vmm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vmm_vcpu_hold(struct vmm_vcpu *c, uint64_t until_ns)
{
	c->hold_until = until_ns;
	if (!until_ns || !c->thread)
		return;
	c->run->immediate_exit = 1; /* after hold_until: the thread sees the hold before it re-enters */
	pthread_kill(c->thread, VMM_KICK_SIGNAL);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int vmm_wait(struct vmm *v, int timeout_ms, int (*tick)(void *arg, int *next_us), void *arg)
{
	double end = now_ms() + timeout_ms;
	int next_us = 5000;

	while (v->state == VMM_RUNNING) {
		if (now_ms() > end) {
			char why[96];
			snprintf(why, sizeof(why), "still running after its %d ms timeout", timeout_ms);
			vmm_stop(v, VMM_STOPPED, why);
			break;
		}
		if (tick && tick(arg, &next_us)) {
			vmm_stop(v, VMM_STOPPED, NULL);
			break;
		}
		nanosleep(&(struct timespec){ 0, (long)next_us * 1000 }, NULL);
	}
	for (int i = 0; i < v->nr_vcpus; i++) {
		if (!v->vcpu[i].thread)
			continue;
		/* a vCPU stuck in the kernel (kvm_pvm spins on some instructions) keeps getting kicked */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (pthread_timedjoin_np(v->vcpu[i].thread, NULL, &ts) == ETIMEDOUT) {
			pthread_kill(v->vcpu[i].thread, VMM_KICK_SIGNAL);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
		}
		v->vcpu[i].thread = 0;
	}
	return v->state;
}

int vmm_tsc_offset(struct vmm *v, int64_t *off, char *err, size_t errlen)
{
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = { .h.nmsrs = 1, .e.index = 0x10 };
	uint64_t best = UINT64_MAX;

	/* the guest's IA32_TSC read between two host rdtsc: the tightest of 32 tries bounds the
	 * error by half its window (reported by callers as the offset's uncertainty) */
	for (int i = 0; i < 32; i++) {
		uint64_t a, b;
		a = x86_rdtsc();
		if (VMM_IOCTL(v->vcpu[0].fd, KVM_GET_MSRS, &m, "IA32_TSC", err, errlen) != 1)
			return -1;
		b = x86_rdtsc();
		if (b - a < best) {
			best = b - a;
			*off = (int64_t)(m.e.data - (a + (b - a) / 2));
		}
	}
	v->tsc_offset_window = best;
	return 0;
}

void vmm_destroy(struct vmm *v)
{
	if (v->nr_vcpus && v->state == VMM_RUNNING) {
		vmm_stop(v, VMM_STOPPED, "destroyed");
		vmm_wait(v, 0, NULL, NULL);
	}
	for (int i = 0; i < v->nr_vcpus; i++) {
		if (v->vcpu[i].run && v->vcpu[i].run != MAP_FAILED)
			munmap(v->vcpu[i].run, v->vcpu[i].run_size);
		if (v->vcpu[i].ring)
			munmap(v->vcpu[i].ring, (size_t)v->dirty_ring_bytes);
		if (v->vcpu[i].fd >= 0)
			close(v->vcpu[i].fd);
	}
	for (int i = 0; i < v->nr_slots; i++)
		munmap(v->slots[i].map, v->slots[i].map_len);
	if (v->fd >= 0)
		close(v->fd);
	if (v->kvm >= 0)
		close(v->kvm);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->parked_cv);
	pthread_cond_destroy(&v->resume_cv);
	memset(v, 0, sizeof(*v));
	v->kvm = v->fd = -1;
}

int vmm_vcpu_stat(struct vmm_vcpu *c, const char *name, uint64_t *val)
{
	struct kvm_stats_header h;
	int fd = ioctl(c->fd, KVM_GET_STATS_FD, NULL), rc = -1;
	char *d = NULL;

	if (fd < 0)
		return -1;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto out;
	size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	d = malloc(dsz * h.num_desc);
	if (!d || pread(fd, d, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc))
		goto out;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *sd = (void *)(d + i * dsz);
		if (strncmp(sd->name, name, h.name_size))
			continue;
		rc = pread(fd, val, sizeof(*val), h.data_offset + sd->offset) == sizeof(*val) ? 0 : -1;
		break;
	}
out:
	free(d);
	close(fd);
	return rc;
}

