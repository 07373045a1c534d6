/* SPDX-License-Identifier: MIT */
/*
 * Ring-0 entry paths. The wake-up path (SYS_SLEEP then the timer) is the hot one: every
 * instruction of it costs ~1 us under kvm_pvm, so it is straight-line code between labels the
 * build counts (gk_r0_sleep_* and gk_r0_timer_*; see the Makefile's r0-path rule).
 */
#include "layout.h"
#include "pvb_channels.h"
#include "pvb_discovery.h"

	.text
	.code64

	/* int3 from ring 3 (interrupt gate, DPL 3): rax = system call number */
	.globl gk_sys_entry, gk_r0_sleep_begin, gk_r0_sleep_end
gk_sys_entry:
gk_r0_sleep_begin:
	test %eax, %eax
	jnz sys_other
	mov %edi, %eax                  /* SYS_SLEEP: IA32_TSC_DEADLINE = rdi */
	mov %rdi, %rdx
	shr $32, %rdx
	mov $MSR_TSC_DEADLINE, %ecx
	wrmsr
	sti
1:	hlt                             /* the timer handler returns to ring 3 from this frame */
gk_r0_sleep_end:
	jmp 1b                          /* any other interrupt: keep sleeping */

	/*
	 * A hog (guest_load=busy) runs in ring 3 while the RT task waits for its timer. When the
	 * timer interrupts the hog's loop, the frame's RIP and RSP are pointed at the RT task's
	 * resume point and saved stack, so the iretq lands in the RT task: a context switch of
	 * 6 ring-0 instructions, the rest in ring 3. After three pushes the frame from ring 3 is at
	 * 24(%rsp) (RIP 24, RSP 48) and the per-CPU block above it at 64(%rsp).
	 */
	.macro hog_redirect
	mov 24(%rsp), %rax
	sub $gk_hog_begin, %rax
	cmp $(gk_hog_end - gk_hog_begin), %rax
	jae 1f
	movq $gk_user_resume, 24(%rsp)
	mov 64 + GK_PC_RT_RSP(%rsp), %rax
	mov %rax, 48(%rsp)
1:
	.endm

	/* Timer, x2APIC: EOI by MSR, then leave through the int3 frame below ours, to ring 3. */
	.globl gk_timer_x2apic, gk_r0_timer_begin, gk_r0_timer_end
gk_timer_x2apic:
gk_r0_timer_begin:
	testb $3, 8(%rsp)               /* interrupted ring 3 (no sleep in progress)? */
	jnz 2f
	xor %eax, %eax
	xor %edx, %edx
	mov $MSR_X2APIC_EOI, %ecx
	wrmsr
	mov 24(%rsp), %rsp              /* saved RSP = the int3 frame (the CPU 16-aligned ours) */
	iretq
gk_r0_timer_end:
	/* the timer interrupting ring 3 (a hog, or work): EOI, and the redirect to the RT task */
	.globl gk_r0_preempt_begin, gk_r0_preempt_end
gk_r0_preempt_begin:
2:	push %rax
	push %rcx
	push %rdx
	xor %eax, %eax
	xor %edx, %edx
	mov $MSR_X2APIC_EOI, %ecx
	wrmsr
	hog_redirect
	pop %rdx
	pop %rcx
	pop %rax
	iretq
gk_r0_preempt_end:

	/* Timer, xAPIC: EOI by MMIO (no x2APIC, e.g. QEMU TCG). */
	.globl gk_timer_xapic
gk_timer_xapic:
	testb $3, 8(%rsp)
	jnz 3f
	mov $XAPIC_BASE + 0xb0, %eax
	movl $0, (%rax)
	mov 24(%rsp), %rsp
	iretq
3:	push %rax
	push %rcx
	push %rdx
	mov $XAPIC_BASE + 0xb0, %eax
	movl $0, (%rax)
	hog_redirect
	pop %rdx
	pop %rcx
	pop %rax
	iretq

	.globl gk_spurious
gk_spurious:
	iretq

sys_other:
	cmp $SYS_WRITE, %eax
	je sys_write
	cmp $SYS_NULL, %eax
	je sys_null
	cmp $SYS_EXIT, %eax
	je sys_exit
	cmp $SYS_R0FAULT, %eax
	je sys_r0fault
	cmp $SYS_CHANNEL, %eax
	je sys_channel
	cmp $SYS_SLEEP_APIC, %eax
	je sys_sleep_apic
	cmp $SYS_APIC_CAL, %eax
	je sys_apic_cal
	cmp $SYS_ARM, %eax
	je sys_arm
	cmp $SYS_ARM_APIC, %eax
	je sys_arm_apic
	cmp $SYS_UTIL_HC, %eax
	je sys_util_hc
	cmp $SYS_START_APS, %eax
	je sys_start_aps
	mov $-1, %rax
	iretq
	/* The sleep of a CPU without TSC-deadline (QEMU TCG): the same frame as SYS_SLEEP's, so the
	 * xAPIC timer handler returns to ring 3 through it. Not on the kvm_pvm path. */
sys_sleep_apic:
	mov $XAPIC_BASE + XAPIC_TMICT, %eax
	movl %edi, (%rax)
	sti
7:	hlt
	jmp 7b
sys_arm:                                /* arm the TSC deadline; no hlt: a hog runs meanwhile */
	mov %edi, %eax
	mov %rdi, %rdx
	shr $32, %rdx
	mov $MSR_TSC_DEADLINE, %ecx
	wrmsr
	iretq
sys_arm_apic:
	mov $XAPIC_BASE + XAPIC_TMICT, %eax
	movl %edi, (%rax)
	iretq
sys_apic_cal:
	mov $XAPIC_BASE + XAPIC_TMICT, %eax
	test %edi, %edi
	jnz 8f
	movl $0xffffffff, (%rax)
	iretq
8:	mov $XAPIC_BASE + XAPIC_TMCCT, %eax
	mov (%rax), %eax
	mov $XAPIC_BASE + XAPIC_TMICT, %edx
	movl $0, (%rdx)
	iretq
sys_null:
	iretq
sys_start_aps:                          /* KVM needs no 10 ms INIT wait (MACHINE.md) */
	mov $0xc4500, %eax
	mov $(0xc4600 | (GK_TRAMPOLINE >> 12)), %esi
	test %edi, %edi
	jz 9f
	xor %edx, %edx
	mov $MSR_X2APIC_ICR, %ecx
	wrmsr
	mov %esi, %eax
	wrmsr
	iretq
9:	mov $XAPIC_BASE + 0x300, %edx
	movl %eax, (%rdx)
	movl %esi, (%rdx)
	iretq
sys_util_hc:                            /* pvb_discovery.h: rax = 12, rbx = the registers' page,
					   rcx = utilisation + 1, rdx = 0 */
	push %rbx
	mov %rdi, %rcx
	mov $PVB_GPA_VCPUFREQ, %ebx
	xor %edx, %edx
	mov $PVB_HC_UTIL, %eax
	test %esi, %esi
	jnz 1f
	vmcall
	pop %rbx
	iretq
1:	vmmcall
	pop %rbx
	iretq
sys_write:
	mov %rsi, %rcx
	mov %rdi, %rsi
	mov $PVB_PORT_CONSOLE, %edx
	rep outsb
	iretq
sys_exit:
	mov %edi, %eax
	out %al, $GK_EXIT_PORT
4:	cli                             /* no exit device: stop here, the host's watchdog ends it */
	hlt
	jmp 4b
sys_r0fault:                            /* rdi = 1: first an instruction kvm_pvm cannot emulate */
	test %edi, %edi
	jz 6f
	lea r0fault_scratch(%rip), %rsi
	xor %eax, %eax
	xor %edx, %edx
	lock cmpxchg16b (%rsi)
6:	ud2

	/*
	 * One notification from ring 0, timed with rdtsc around it: t0, slot.tsc = t0, slot.seq++,
	 * the instruction of its kind (pvb_channels.h's PVB_HOW_*) on arg, then rax = rdtsc - t0.
	 * rdi = how (+ PVB_CH_AMD: vmmcall), rsi = slot, rdx = arg.
	 */
sys_channel:
	push %rbx
	push %r8
	push %r9
	mov %rdx, %r9
	cmp $PVB_CH_AMD + PVB_HOW_COUNT, %rdi
	jae 9f
	jmp *channel_table(,%rdi,8)
9:	mov $-1, %rax
	jmp ch_out

	.macro ch_begin
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r8
	mov %rax, 8(%rsi)
	incq (%rsi)
	.endm
	.macro ch_end
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	sub %r8, %rax
	jmp ch_out
	.endm
	.macro ch_hcall insn
	ch_begin
	mov %r9d, %eax
	mov $PVB_CH_SLOT_GPA, %ebx
	mov $1, %ecx
	xor %edx, %edx
	\insn
	ch_end
	.endm

ch_none:
	ch_begin
	ch_end
ch_hcall_intel:
	ch_hcall vmcall
ch_hcall_amd:
	ch_hcall vmmcall
ch_pio:
	ch_begin
	mov %r9d, %edx
	out %al, %dx
	ch_end
ch_mmio:
	ch_begin
	mov %r9d, %ecx
	movl %eax, (%rcx)
	ch_end
ch_out:
	pop %r9
	pop %r8
	pop %rbx
	iretq

	/*
	 * Ring 3. gk_switch_to_hog(percpu, hog): the RT task saves its callee-saved registers and
	 * stack in the per-CPU block and runs the hog until the timer redirects it to
	 * gk_user_resume, which returns from this call. hog: { u64 counter; u64 deadline; u64
	 * slack }: the hog counts its work; it returns at once if the deadline has passed by the
	 * time it starts, and by itself if the timer seems lost (deadline + slack).
	 */
	.globl gk_switch_to_hog, gk_user_resume, gk_hog_begin, gk_hog_end
gk_switch_to_hog:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, GK_PC_RT_RSP(%rdi)
	mov %rsi, %rbx
	mov 8(%rbx), %r12               /* deadline */
	mov %r12, %r13
	add 16(%rbx), %r13              /* deadline + slack */
gk_hog_begin:                           /* from here the timer redirects to gk_user_resume */
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	cmp %r12, %rax
	jae gk_user_resume              /* already due: no hog at all */
1:	incq (%rbx)
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	cmp %r13, %rax
	jb 1b
	incq 24(%rbx)                   /* the timer never came: counted, and the RT task resumes */
gk_hog_end:
gk_user_resume:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	/* enter_user(rip, rsp, arg0, arg1): iretq to ring 3 with interrupts on */
	.globl gk_enter_user
gk_enter_user:
	push $SEL_UDATA
	push %rsi
	push $0x202
	push $SEL_UCODE
	push %rdi
	mov %rdx, %rdi
	mov %rcx, %rsi
	iretq

	/* Exceptions: push a zero error code where the CPU pushes none, then the vector. */
	.macro exc vec
	.globl gk_exc\vec
gk_exc\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	push $0
	.endif
	push $\vec
	jmp exc_common
	.endm

	.irp v, 0,1,2,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	exc \v
	.endr

exc_common:
	mov %rsp, %rdi                  /* struct gk_exc_frame * */
	and $-16, %rsp
	call gk_crash
5:	cli
	hlt
	jmp 5b

	.section .bss
	.balign 16
r0fault_scratch:
	.fill 16, 1, 0

	.section .rodata
	.balign 8
channel_table:                          /* by PVB_HOW_*; + PVB_CH_AMD for vmmcall */
	.quad ch_none, ch_hcall_intel, ch_pio, ch_mmio
	.rept PVB_CH_AMD - PVB_HOW_COUNT
	.quad ch_none
	.endr
	.quad ch_none, ch_hcall_amd, ch_pio, ch_mmio

	.balign 8
	.globl gk_exc_table
gk_exc_table:
	.quad gk_exc0, gk_exc1, gk_exc2, 0, gk_exc4, gk_exc5, gk_exc6, gk_exc7
	.quad gk_exc8, gk_exc9, gk_exc10, gk_exc11, gk_exc12, gk_exc13, gk_exc14, gk_exc15
	.quad gk_exc16, gk_exc17, gk_exc18, gk_exc19, gk_exc20, gk_exc21, gk_exc22, gk_exc23
	.quad gk_exc24, gk_exc25, gk_exc26, gk_exc27, gk_exc28, gk_exc29, gk_exc30, gk_exc31

	.section .note.GNU-stack, "", @progbits
