/* SPDX-License-Identifier: MIT */
/*
 * Guest kernel entry points, long-mode switch, AP trampoline, GDT and page tables.
 *
 * Every instruction here may run emulated (~1 us each under kvm_pvm), so there are no loops:
 * the 4 GiB identity map (2 MiB pages, user-accessible) is built by the assembler, not at boot.
 *
 * Entries:
 *  pvh_entry32  PVH (XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode, paging off, ebx = start_info.
 *               QEMU -kernel uses it.
 *  entry64      ELF e_entry, for a VMM that starts the vCPU in long mode with any identity map
 *               covering this image: rbx = hvm_start_info (same struct as PVH), interrupts off.
 */
#include "layout.h"

	.section .note.pvh, "a", @note
	.balign 4
	.long 4, 4, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry32

	.section .text.boot, "ax"
	.code32
	.globl pvh_entry32
pvh_entry32:
	rdtsc                           /* first instruction: boot time stamp */
	mov %eax, gk_boot_tsc
	mov %edx, gk_boot_tsc+4
	mov %ebx, %esi                  /* start_info survives into kmain */
	mov $gk_kstacks + GK_KSTACK_SIZE, %esp  /* PVH promises no stack */
	mov $bsp64, %edi
	jmp long_mode32

	/* APs arrive here from the trampoline, in protected mode with our GDT */
ap_entry32:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $1, %eax
	cpuid                           /* initial APIC ID in ebx[31:24] = CPU index under KVM */
	shr $24, %ebx
	cmp $GK_MAX_CPUS, %ebx
	jae 3f
	inc %ebx
	shl $12, %ebx                   /* ebx = (cpu + 1) * GK_KSTACK_SIZE, kept into ap64 */
	lea gk_kstacks(%ebx), %esp
	mov $ap64, %edi

	/* edi = 64-bit continuation */
long_mode32:
	lgdt gdt_desc
	mov $0x620, %eax                /* PAE | OSFXSR | OSXMMEXCPT (ring 3 may use SSE) */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $0x100, %eax                 /* LME */
	wrmsr
	mov $0x80000033, %eax           /* PG | NE | ET | MP | PE; clears CD/NW */
	mov %eax, %cr0
	push $SEL_KCODE64
	push %edi
	lret                            /* into 64-bit mode at edi */
3:	cli
	hlt
	jmp 3b

	.code64
	.globl entry64
entry64:
	rdtsc
	mov %eax, gk_boot_tsc(%rip)
	mov %edx, gk_boot_tsc+4(%rip)
	mov %ebx, %esi
	lea gk_kstacks+GK_KSTACK_SIZE(%rip), %rsp  /* our own stack: the VMM's rsp is not ours */
	lgdt gdt_desc(%rip)
	mov $pml4, %eax
	mov %rax, %cr3
	push $SEL_KCODE64
	lea bsp64(%rip), %rax
	push %rax
	lretq

bsp64:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	lea gk_kstacks+GK_KSTACK_SIZE(%rip), %rsp
	mov %esi, %edi
	call kmain
1:	hlt
	jmp 1b

ap64:                                   /* rsp set in ap_entry32; cpu = ebx / 4096 - 1 */
	mov %ebx, %edi
	shr $12, %edi
	dec %edi
	call ap_main
2:	cli
	hlt
	jmp 2b

	/* Copied to GK_TRAMPOLINE; runs in real mode with cs = GK_TRAMPOLINE >> 4, ip = 0. */
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (tramp_gdt_desc - ap_trampoline)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_KCODE32, $ap_entry32
tramp_gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
ap_trampoline_end:

	.section .data.boot, "aw"
	.balign 16
	.globl gdt, gdt_tss
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08 kernel code, 32-bit */
	.quad 0x00af9a000000ffff        /* 0x10 kernel code, 64-bit */
	.quad 0x00cf92000000ffff        /* 0x18 kernel data */
	.quad 0x00cff2000000ffff        /* 0x20 user data */
	.quad 0x00affa000000ffff        /* 0x28 user code, 64-bit */
gdt_tss:
	.fill 2 * GK_MAX_CPUS, 8, 0     /* 0x30 + 16 * cpu: TSS descriptors, filled per CPU */
gdt_end:

	.balign 8
	.globl gdt_desc
	.word 0, 0, 0
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt                       /* 32-bit lgdt reads the low 4 bytes only */

	.globl gk_boot_tsc
	.balign 8
gk_boot_tsc:
	.quad 0

	/* Identity map of 0..4 GiB with 2 MiB pages, present | writable | user. */
	.balign 4096
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x7, pd + 0x1007, pd + 0x2007, pd + 0x3007
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.quad (i << 21) | 0x87
	.set i, i + 1
	.endr

	.section .bss
	.balign 4096
	.globl gk_kstacks
gk_kstacks:
	.fill GK_MAX_CPUS * GK_KSTACK_SIZE, 1, 0

	.section .note.GNU-stack, "", @progbits
