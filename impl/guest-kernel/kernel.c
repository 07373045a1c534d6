/* SPDX-License-Identifier: MIT */
/*
 * Guest kernel, ring 0: per-CPU tables, local APIC, AP start-up, the crash path.
 * Everything here is emulated under kvm_pvm (~1 us per instruction), so it runs once per CPU at
 * boot, or on a crash; the per-event paths are the few instructions in entry.S.
 */
#include <stddef.h>
#include <stdint.h>
#include "layout.h"
#include "guest.h"
#include "pvb_channels.h"
#include "pvb_record.h"

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};

/* I/O permission bitmap up to the channel ports: ring 3 may use exactly the two channel ports
 * (pvb_channels.h), nothing else (the exit port and the console stay ring-0 only). */
#define IOBM_BYTES (PVB_CH_EVENTFD_PORT / 8 + 1)
_Static_assert(PVB_CH_PIO_PORT / 8 + 2 == PVB_CH_EVENTFD_PORT / 8, "bitmap layout below");

struct tss {
	uint32_t r0;
	uint64_t rsp0, rsp1, rsp2, r1;
	uint64_t ist[7];
	uint64_t r2;
	uint16_t r3, iomap;
	uint8_t iobitmap[IOBM_BYTES];
	uint8_t iobitmap_end;            /* the CPU reads one byte past the last port's */
} __attribute__((packed));

struct gk_exc_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern uint64_t gdt_tss[];
extern char gk_kstacks[];
extern char ap_trampoline[], ap_trampoline_end[];
extern void gk_sys_entry(void), gk_timer_x2apic(void), gk_timer_xapic(void), gk_spurious(void);
extern void (*const gk_exc_table[32])(void);
extern void gk_enter_user(uint64_t rip, uint64_t rsp, uint64_t a0, uint64_t a1);

static struct idt_gate idt[256] __attribute__((aligned(16)));
/* initialized here, not at boot: every ring-0 instruction counts */
static struct tss tss[GK_MAX_CPUS] __attribute__((aligned(16))) = {
	[0 ... GK_MAX_CPUS - 1] = {
		.iomap = offsetof(struct tss, iobitmap),
		.iobitmap = {
			[0 ... PVB_CH_PIO_PORT / 8 - 1] = 0xff,
			[PVB_CH_PIO_PORT / 8] = 0xff & ~(1 << PVB_CH_PIO_PORT % 8),
			[PVB_CH_PIO_PORT / 8 + 1] = 0xff,
			[PVB_CH_EVENTFD_PORT / 8] = 0xff & ~(1 << PVB_CH_EVENTFD_PORT % 8),
		},
		.iobitmap_end = 0xff,
	},
};
char gk_ustacks[GK_MAX_CPUS][GK_USTACK_SIZE] __attribute__((aligned(16)));
static int use_x2apic;

/* Shared with ring 3 (all memory is user-accessible): see guest.h. */
struct gk_shared gk_shared;

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void mmio_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(XAPIC_BASE + reg) = v;
}

static void set_gate(int vec, void (*fn)(void), int dpl)
{
	uint64_t a = (uint64_t)fn;

	idt[vec] = (struct idt_gate){
		.off0 = (uint16_t)a, .sel = SEL_KCODE64, .type = (uint8_t)(0x8e | (dpl << 5)),
		.off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32),
	};
}

static void cpu_tables(unsigned cpu)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		sizeof(idt) - 1, (uint64_t)idt
	};
	uint64_t t = (uint64_t)&tss[cpu];

	tss[cpu].rsp0 = (uint64_t)gk_kstacks + (cpu + 1) * GK_KSTACK_SIZE - GK_PERCPU_SIZE;
	gdt_tss[2 * cpu] = (sizeof(struct tss) - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
			   ((t >> 24 & 0xff) << 56);
	gdt_tss[2 * cpu + 1] = t >> 32;
	__asm__ volatile("lidt %0" ::"m"(idtr));
	__asm__ volatile("ltr %w0" ::"r"(SEL_TSS0 + 16 * cpu));
}

/* Local APIC: enabled, TSC-deadline timer on VEC_TIMER. x2APIC when offered, else xAPIC. */
static void apic_setup(void)
{
	if (use_x2apic) {
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (3 << 10));
		wrmsr(MSR_X2APIC_SVR, 0x100 | VEC_SPURIOUS);
		wrmsr(MSR_X2APIC_LVTT, VEC_TIMER | (2 << 17));
	} else {
		mmio_write(0xf0, 0x100 | VEC_SPURIOUS);
		/* TSC-deadline mode where offered, else one-shot counting at the bus rate / 1 */
		mmio_write(0x3e0, 0xb);
		mmio_write(0x320, VEC_TIMER | (gk_shared.tsc_deadline ? 2u << 17 : 0));
	}
}

static void start_user(unsigned cpu)
{
	gk_enter_user((uint64_t)gk_user_main, (uint64_t)(gk_ustacks[cpu] + GK_USTACK_SIZE) - 8, cpu,
		      (uint64_t)gk_shared.cmdline);
}

void kmain(uint32_t start_info)
{
	const struct {
		uint32_t magic, version, flags, nr_modules;
		uint64_t modlist, cmdline;
	} *si = (const void *)(uintptr_t)start_info;
	uint32_t a, b, c, d;

	gk_shared.cmdline = (si && si->magic == 0x336ec578u) ? (const char *)si->cmdline : "";

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	use_x2apic = (c >> 21) & 1;
	gk_shared.tsc_deadline = (c >> 24) & 1;
	gk_shared.x2apic = use_x2apic;

	for (int v = 0; v < 32; v++)
		if (gk_exc_table[v])
			set_gate(v, gk_exc_table[v], 0);
	set_gate(VEC_SYSCALL, gk_sys_entry, 3);
	set_gate(VEC_TIMER, use_x2apic ? gk_timer_x2apic : gk_timer_xapic, 0);
	set_gate(VEC_SPURIOUS, gk_spurious, 0);
	cpu_tables(0);
	apic_setup();

	/* The APs' way in; ring 3 starts them (SYS_START_APS) once its PCI set-up is done */
	__asm__ volatile("rep movsb" ::"D"(GK_TRAMPOLINE), "S"(ap_trampoline),
			 "c"(ap_trampoline_end - ap_trampoline) : "memory");
	gk_shared.r0_done_tsc = __builtin_ia32_rdtsc();
	start_user(0);
}

void ap_main(unsigned cpu)
{
	cpu_tables(cpu);
	apic_setup();
	start_user(cpu);
}

/* ---- crash path: ring 0, rare, may be slow ---- */

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF?", "#TS", "#NP",
	"#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

static void serial_write(const char *s, uint64_t n)
{
	__asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(PVB_PORT_CONSOLE) : "memory");
}

static char *put_hex(char *p, uint64_t v)
{
	*p++ = '0';
	*p++ = 'x';
	for (int i = 60; i >= 0; i -= 4)
		*p++ = "0123456789abcdef"[(v >> i) & 15];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

void gk_crash(const struct gk_exc_frame *f)
{
	char msg[160], *p = msg;
	unsigned cpu = 0;
	uint64_t cr2;
	uint32_t a, b, c, d;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	cpu = b >> 24;

	p = put_str(p, "guest crash: exception ");
	p = put_str(p, f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] : "?");
	p = put_str(p, " at RIP ");
	p = put_hex(p, f->rip);
	p = put_str(p, (f->cs & 3) ? " (ring 3)" : " (ring 0)");
	p = put_str(p, " error ");
	p = put_hex(p, f->error);
	if (f->vector == 14) {
		p = put_str(p, " cr2 ");
		p = put_hex(p, cr2);
	}
	*p = 0;
	serial_write(msg, (uint64_t)(p - msg));
	serial_write("\n", 1);

	if (gk_shared.out_rec && !__atomic_exchange_n(&gk_shared.crashed, 1, __ATOMIC_ACQ_REL)) {
		struct pvb_rec_writer w;

		pvb_rec_begin(&w, gk_shared.out_rec, gk_shared.out_rec_cap);
		pvb_rec_metric(&w, PVB_CPU_VM, "crash.vector", "count", PVB_INFO, (int64_t)f->vector);
		pvb_rec_metric(&w, PVB_CPU_VM, "crash.rip", "addr", PVB_INFO, (int64_t)f->rip);
		pvb_rec_metric(&w, PVB_CPU_VM, "crash.error", "count", PVB_INFO, (int64_t)f->error);
		pvb_rec_metric(&w, PVB_CPU_VM, "crash.cr2", "addr", PVB_INFO, (int64_t)cr2);
		pvb_rec_metric(&w, PVB_CPU_VM, "crash.ring", "count", PVB_INFO, (int64_t)(f->cs & 3));
		pvb_rec_metric(&w, PVB_CPU_VM, "crash.cpu", "count", PVB_INFO, cpu);
		pvb_rec_text(&w, PVB_CPU_VM, msg + 13);
		pvb_rec_seal(&w, PVB_STATUS_CRASHED, gk_shared.nr_cpus ? gk_shared.nr_cpus : 1);
	}
	__asm__ volatile("out %b0, %w1" ::"a"(GK_EXIT_BASE + PVB_STATUS_CRASHED), "Nd"(GK_EXIT_PORT));
}
