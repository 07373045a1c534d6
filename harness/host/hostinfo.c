/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "hostinfo.h"
#include <time.h>
#include "pvb_record.h"
#include "store.h"

#ifndef PVB_GIT
#define PVB_GIT "unknown"
#endif

static unsigned kvm_tsc_khz(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1, vcpu = -1;
	int khz = 0;

	if (kvm < 0)
		return 0;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm >= 0)
		vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu >= 0)
		khz = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	close(kvm);
	return khz > 0 ? (unsigned)khz : 0;
}

/* The TSC's rate against CLOCK_MONOTONIC_RAW over 50 ms: for guests under TCG, whose TSC is the
 * host's, where KVM cannot be asked. */
static unsigned measured_tsc_khz(void)
{
	struct timespec a, b;
	uint64_t t0, t1;

	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	t0 = __builtin_ia32_rdtsc();
	do
		clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec) < 50000000);
	t1 = __builtin_ia32_rdtsc();
	double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	return (unsigned)((double)(t1 - t0) / ns * 1e6 + 0.5);
}

int hostinfo_nested_tcg(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	/* the kernel command line scripts/kvm-nested gives its VM */
	for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
		if (!strcmp(t, "pvbench_nested=1"))
			return 1;
	return 0;
}

/* Whether the CPU flags line of /proc/cpuinfo has flag. */
static int cpu_has_flag(const char *flag)
{
	char line[8192], *save;
	FILE *f = fopen("/proc/cpuinfo", "r");
	int has = 0;

	while (f && !has && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (char *t = strtok_r(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \n", &save); t && !has;
		     t = strtok_r(NULL, " \n", &save))
			has = !strcmp(t, flag);
		break; /* the first CPU's flags */
	}
	if (f)
		fclose(f);
	return has;
}

const char *hostinfo_kvm_module(void)
{
	/* a vendor module counts only on a CPU with its extension: a kernel may have it (and kvm_pvm)
	 * built in, and /sys/module lists a built-in module whether or not it found its hardware
	 * (this PVM guest lists kvm_pvm and no /dev/kvm). Where both could serve, the hardware one
	 * does: kvm_pvm is for a VM without VMX or SVM. */
	static const struct { const char *module, *flag; } kinds[] = {
		{ "kvm_intel", "vmx" }, { "kvm_amd", "svm" }, { "kvm_pvm", NULL } };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char p[64];
		snprintf(p, sizeof(p), "/sys/module/%s", kinds[i].module);
		if (access(p, F_OK) == 0 && (!kinds[i].flag || cpu_has_flag(kinds[i].flag)))
			return kinds[i].module;
	}
	return NULL;
}

int hostinfo_kvm_pvm(void)
{
	const char *m = hostinfo_kvm_module();
	return m && !strcmp(m, "kvm_pvm");
}

int hostinfo_read(struct hostinfo *h, char *err, size_t errlen)
{
	struct utsname u;
	const char *module = hostinfo_kvm_module();

	memset(h, 0, sizeof(*h));
	snprintf(h->kvm_backend, sizeof(h->kvm_backend), "%s%s", module ? module : "none",
		 module && hostinfo_nested_tcg() ? STORE_NESTED_MARK : "");
	if (uname(&u) == 0) {
		snprintf(h->host_kernel, sizeof(h->host_kernel), "%s", u.release);
		snprintf(h->host, sizeof(h->host), "%s", u.nodename);
	}
	/* a lab may name its machines better than their hostnames (and tests simulate hosts) */
	if (getenv("PVBENCH_HOST") && *getenv("PVBENCH_HOST"))
		snprintf(h->host, sizeof(h->host), "%s", getenv("PVBENCH_HOST"));
	snprintf(h->pvbench_commit, sizeof(h->pvbench_commit), "%s", PVB_GIT);
	{
		FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
		snprintf(h->clocksource, sizeof(h->clocksource), "?");
		if (f) {
			if (fgets(h->clocksource, sizeof(h->clocksource), f))
				h->clocksource[strcspn(h->clocksource, "\n")] = 0;
			fclose(f);
		}
	}
	h->tsc_khz = 0;
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		/* what to do about it: a kernel without KVM has the nested one; a device that is
		 * there but closed wants its permissions */
		int e = errno;
		snprintf(h->no_kvm, sizeof(h->no_kvm), "/dev/kvm: %s (pvbench runs guests under KVM%s)", strerror(e),
			 e == ENOENT ? "; scripts/kvm-nested CMD runs CMD on a KVM nested under TCG, functional only" :
			 e == EACCES ? ": run as root or in the kvm group" : "");
	} else if (!(h->tsc_khz = kvm_tsc_khz()))
		snprintf(h->no_kvm, sizeof(h->no_kvm),
			 "KVM_GET_TSC_KHZ failed: the guest cannot be told its TSC rate");
	if (h->no_kvm[0]) {
		/* a KVM module that is loaded but cannot run guests is no backend */
		snprintf(h->kvm_backend, sizeof(h->kvm_backend), "none");
		h->tsc_khz = measured_tsc_khz();
		snprintf(err, errlen, "%s", h->no_kvm);
		return -1;
	}
	return 0;
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = mmap(NULL, *len ? *len : 1, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return *buf == MAP_FAILED ? -1 : 0;
}

/* The ELF's section headers, checked against its length; NULL if it is no 64-bit ELF. */
static const Elf64_Shdr *elf_sections(const unsigned char *b, size_t len, int *n)
{
	const Elf64_Ehdr *eh = (const void *)b;
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff > len || eh->e_shnum * (size_t)sizeof(Elf64_Shdr) > len - eh->e_shoff ||
	    eh->e_shstrndx >= eh->e_shnum)
		return NULL;
	*n = eh->e_shnum;
	return (const void *)(b + eh->e_shoff);
}

int guestinfo_read(const char *elf_path, struct guestinfo *g, char *err, size_t errlen)
{
	unsigned char *b;
	size_t len;
	const Elf64_Ehdr *eh;

	memset(g, 0, sizeof(*g));
	if (read_file(elf_path, &b, &len) < 0) {
		snprintf(err, errlen, "%s: %s (run make)", elf_path, strerror(errno));
		return -1;
	}
	eh = (const void *)b;
	int nsh;
	const Elf64_Shdr *sh = elf_sections(b, len, &nsh);
	if (!sh) {
		snprintf(err, errlen, "%s: not a 64-bit ELF", elf_path);
		munmap(b, len);
		return -1;
	}
	snprintf(g->build_id, sizeof(g->build_id), "%.12s-%08x", PVB_GIT, pvb_crc32(0, b, len));
	const Elf64_Shdr *strs = &sh[eh->e_shstrndx];
	for (int i = 0; i < nsh; i++) {
		if (sh[i].sh_name >= strs->sh_size || strs->sh_offset + strs->sh_size > len ||
		    sh[i].sh_offset + sh[i].sh_size > len)
			continue;
		const char *name = (const char *)b + strs->sh_offset + sh[i].sh_name;
		if (strncmp(name, ".pvb.r0path", strs->sh_size - sh[i].sh_name))
			continue;
		char text[256] = "";
		size_t n = sh[i].sh_size < sizeof(text) - 1 ? sh[i].sh_size : sizeof(text) - 1;
		memcpy(text, b + sh[i].sh_offset, n);
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			sscanf(line, "sleep_path_insn=%d", &g->sleep_path_insn);
			sscanf(line, "timer_path_insn=%d", &g->timer_path_insn);
			sscanf(line, "wake_path_insn=%d", &g->wake_path_insn);
			sscanf(line, "preempt_path_insn=%d", &g->preempt_path_insn);
		}
	}
	munmap(b, len);
	if (!g->wake_path_insn) {
		snprintf(err, errlen, "%s: no .pvb.r0path section (not built by pvbench's Makefile?)",
			 elf_path);
		return -1;
	}
	return 0;
}

/* The ELF's symbol table and its strings (the first SHT_SYMTAB), checked against its length. */
struct symtab {
	const Elf64_Shdr *sh;
	int nsh;
	const Elf64_Sym *sym;
	size_t nsym;
	const char *str;
	size_t strsz;
};

static int symtab_of(const unsigned char *b, size_t len, struct symtab *t)
{
	if (!(t->sh = elf_sections(b, len, &t->nsh)))
		return -1;
	for (int i = 0; i < t->nsh; i++) {
		const Elf64_Shdr *h = &t->sh[i], *str = &t->sh[h->sh_link < (unsigned)t->nsh ? h->sh_link : 0];
		if (h->sh_type != SHT_SYMTAB || h->sh_link >= (unsigned)t->nsh || h->sh_offset > len ||
		    h->sh_size > len - h->sh_offset || str->sh_offset > len || str->sh_size > len - str->sh_offset)
			continue;
		t->sym = (const void *)(b + h->sh_offset);
		t->nsym = h->sh_size / sizeof(Elf64_Sym);
		t->str = (const char *)b + str->sh_offset;
		t->strsz = str->sh_size;
		return 0;
	}
	return -1;
}

/* Symbol k's name, or NULL where it has none, points outside the strings or is a section's. */
static const char *sym_name(const struct symtab *t, size_t k)
{
	const Elf64_Sym *y = &t->sym[k];
	int type = ELF64_ST_TYPE(y->st_info);
	if (!y->st_name || y->st_name >= t->strsz || y->st_shndx == SHN_UNDEF || y->st_shndx >= t->nsh ||
	    (type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT) ||
	    !memchr(t->str + y->st_name, 0, t->strsz - y->st_name) || t->str[y->st_name] == '.')
		return NULL;
	return t->str + y->st_name;
}

int guest_symbol(const char *elf_path, uint64_t addr, char *buf, size_t n)
{
	unsigned char *b;
	size_t len;
	struct symtab t;
	int found = 0, global = 0;
	uint64_t best = 0;
	const char *name = NULL;

	if (read_file(elf_path, &b, &len) < 0)
		return -1;
	if (symtab_of(b, len, &t))
		t.nsym = 0;
	for (size_t k = 0; k < t.nsym; k++) {
		const Elf64_Sym *y = &t.sym[k];
		const char *nm = sym_name(&t, k);
		if (!nm)
			continue;
		/* in the same section as the address: not a label before a gap */
		const Elf64_Shdr *in = &t.sh[y->st_shndx];
		if (y->st_value > addr || !(in->sh_flags & SHF_ALLOC) || addr < in->sh_addr ||
		    addr - in->sh_addr >= in->sh_size)
			continue;
		/* the nearest below; at one address, the first global name over a local label */
		int g = ELF64_ST_BIND(y->st_info) == STB_GLOBAL;
		if (!found || y->st_value > best || (y->st_value == best && g && !global))
			found = 1, best = y->st_value, name = nm, global = g;
	}
	if (found && addr > best)
		snprintf(buf, n, "%s+0x%llx", name, (unsigned long long)(addr - best));
	else if (found)
		snprintf(buf, n, "%s", name);
	munmap(b, len);
	return found ? 0 : -1;
}

int guest_symbol_addr(const char *elf_path, const char *name, uint64_t *addr)
{
	unsigned char *b;
	size_t len;
	struct symtab t;
	int found = 0;

	if (read_file(elf_path, &b, &len) < 0)
		return -1;
	if (symtab_of(b, len, &t))
		t.nsym = 0;
	for (size_t k = 0; !found && k < t.nsym; k++) {
		const char *nm = sym_name(&t, k);
		if (nm && !strcmp(nm, name))
			found = 1, *addr = t.sym[k].st_value;
	}
	munmap(b, len);
	return found ? 0 : -1;
}

const char *pvb_build_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("PVBENCH_BUILD");

	if (env && *env)
		return env;
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		if (n <= 0)
			return "build";
		dir[n] = 0;
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	}
	return dir;
}
