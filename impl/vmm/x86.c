/* SPDX-License-Identifier: MIT */
/*
 * x86-64 specifics of pvbench's VMM: CPUID for the vCPUs, and the boot state of vCPU 0 -- long
 * mode at CPL 0 with a minimal identity map, rbx = an hvm_start_info, rip = the ELF entry (the
 * guest kernel's entry64, which loads its own GDT and page tables at once). The other vCPUs stay
 * in KVM's wait-for-SIPI state; the guest starts them as it does under QEMU.
 *
 * Guest-physical layout: pvb_abi.h (boot page tables, start info, command line).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "pvb_abi.h"
#include "vmm.h"

#define GPA_PML4   PVB_GPA_BOOT_PML4
#define GPA_PDPT   PVB_GPA_BOOT_PDPT
#define GPA_PD     PVB_GPA_BOOT_PD
#define GPA_START  PVB_GPA_START_INFO
#define GPA_CMD    PVB_GPA_CMDLINE
#define CMD_MAX    PVB_CMDLINE_MAX

int x86_setup_cpuid(struct vmm *v, struct vmm_vcpu *c, char *err, size_t errlen)
{
	int n = 128;
	struct kvm_cpuid2 *cp = calloc(1, sizeof(*cp) + (size_t)n * sizeof(struct kvm_cpuid_entry2));
	char ctx[32];
	int rc = -1;

	if (!cp)
		return -1;
	cp->nent = (uint32_t)n;
	snprintf(ctx, sizeof(ctx), "vcpu %d", c->index);
	if (VMM_IOCTL(v->kvm, KVM_GET_SUPPORTED_CPUID, cp, ctx, err, errlen) < 0)
		goto out;
	for (uint32_t i = 0; i < cp->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cp->entries[i];
		if (e->function == 1) {
			/* initial APIC ID = vCPU index: the guest kernel picks its stacks by it */
			e->ebx = (e->ebx & 0x00ffffff) | ((uint32_t)c->index << 24);
			e->ecx |= 1u << 24 | 1u << 21; /* TSC-deadline and x2APIC: emulated by KVM's LAPIC */
		}
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)c->index;
	}
	rc = VMM_IOCTL(c->fd, KVM_SET_CPUID2, cp, ctx, err, errlen) < 0 ? -1 : 0;
out:
	free(cp);
	return rc;
}

int x86_setup_boot(struct vmm *v, const char *cmdline, char *err, size_t errlen)
{
	uint64_t *pml4 = (uint64_t *)(v->mem + GPA_PML4), *pdpt = (uint64_t *)(v->mem + GPA_PDPT),
		 *pd = (uint64_t *)(v->mem + GPA_PD);
	struct {
		uint32_t magic, version, flags, nr_modules;
		uint64_t modlist, cmdline, rsdp, memmap;
		uint32_t memmap_entries, reserved;
	} *si = (void *)(v->mem + GPA_START);
	struct kvm_sregs sr;
	struct kvm_regs regs = { .rip = v->entry, .rflags = 2, .rbx = GPA_START };

	if (strlen(cmdline) >= CMD_MAX) {
		snprintf(err, errlen, "kernel command line longer than %d bytes", CMD_MAX - 1);
		return -1;
	}
	pml4[0] = GPA_PDPT | 3;
	pdpt[0] = GPA_PD | 3;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB */
	memcpy(v->mem + GPA_CMD, cmdline, strlen(cmdline) + 1);
	si->magic = 0x336ec578;
	si->version = 1;
	si->cmdline = GPA_CMD;

	if (VMM_IOCTL(v->vcpu[0].fd, KVM_GET_SREGS, &sr, "vcpu 0", err, errlen) < 0)
		return -1;
	struct kvm_segment code = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 11,
				    .present = 1, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment data = { .base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 3,
				    .present = 1, .s = 1, .db = 1, .g = 1 };
	sr.cs = code;
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = data;
	sr.cr0 = 0x80000033;                     /* PG | NE | ET | MP | PE */
	sr.cr3 = GPA_PML4;
	sr.cr4 = 0x620;                          /* PAE | OSFXSR | OSXMMEXCPT */
	sr.efer = 0x500;                         /* LME | LMA */
	if (VMM_IOCTL(v->vcpu[0].fd, KVM_SET_SREGS, &sr, "vcpu 0, long mode", err, errlen) < 0 ||
	    VMM_IOCTL(v->vcpu[0].fd, KVM_SET_REGS, &regs, "vcpu 0", err, errlen) < 0)
		return -1;
	return 0;
}

uint64_t x86_get_rip(struct vmm_vcpu *c)
{
	struct kvm_regs r;
	if (ioctl(c->fd, KVM_GET_REGS, &r) < 0)
		return 0;
	return r.rip;
}

uint64_t x86_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

int x86_cpu_is_amd(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0));
	return (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) || /* AuthenticAMD */
	       (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975);   /* HygonGenuine */
}
