/* SPDX-License-Identifier: MIT */
/* The guest/host ABI of pvb_abi.h holds in what is built: the guest ELF loads where the map says
 * and nowhere in the low pages the host writes, the low regions do not overlap, the command line
 * names the out area the host reads, and the exit values map to outcomes and nothing else. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pvb_abi.h"
#include "pvb_channels.h"
#include "pvb_record.h"
#include "testlib.h"
#include "vm.h"

static void guest_elf_loads_where_the_map_says(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pvbench-guest.elf", build_dir());
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	Elf64_Ehdr eh;
	assert_int_equal(fread(&eh, sizeof(eh), 1, f), 1);
	uint64_t lowest = UINT64_MAX;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		fseek(f, (long)(eh.e_phoff + (uint64_t)i * sizeof(ph)), SEEK_SET);
		assert_int_equal(fread(&ph, sizeof(ph), 1, f), 1);
		if (ph.p_type == PT_LOAD && ph.p_memsz && ph.p_paddr < lowest)
			lowest = ph.p_paddr;
	}
	fclose(f);
	assert_int_equal(lowest, PVB_GPA_KERNEL);
}

static void low_regions_do_not_overlap(void **state)
{
	static const struct { uint64_t at, len; } r[] = {
		{ PVB_GPA_BOOT_PML4, 4096 }, { PVB_GPA_BOOT_PDPT, 4096 }, { PVB_GPA_BOOT_PD, 4096 },
		{ PVB_GPA_START_INFO, 4096 }, { PVB_GPA_CMDLINE, PVB_CMDLINE_MAX },
		{ PVB_GPA_SLOT, sizeof(struct pvb_chan_slot) }, { PVB_GPA_TRAMPOLINE, 4096 },
	};
	size_t n = sizeof(r) / sizeof(r[0]);
	for (size_t i = 0; i < n; i++) {
		assert_true(r[i].at + r[i].len <= PVB_GPA_KERNEL);
		for (size_t j = i + 1; j < n; j++)
			assert_true(r[i].at + r[i].len <= r[j].at || r[j].at + r[j].len <= r[i].at);
	}
	assert_int_equal(PVB_CH_SLOT_GPA, PVB_GPA_SLOT);
}

static void command_line_names_the_out_area(void **state)
{
	char buf[512], want[64];
	struct vm_spec s = { .vcpus = 2, .job = "workload=cyclic", .tsc_khz = 2100000 };
	vm_cmdline(&s, 64u << 20, buf, sizeof(buf));
	snprintf(want, sizeof(want), "out=0x%x,0x%x ", (64u << 20) - PVB_OUT_SIZE, PVB_OUT_SIZE);
	assert_int_equal(strncmp(buf, want, strlen(want)), 0);
	assert_non_null(strstr(buf, " cpus=2 workload=cyclic"));
}

static void exit_values_map_to_outcomes_and_nothing_else(void **state)
{
	char why[128];
	assert_int_equal(vm_status_of_exit_value(PVB_EXIT_BASE + PVB_STATUS_OK, why, sizeof(why)), RUN_OK);
	assert_int_equal(vm_status_of_exit_value(PVB_EXIT_BASE + PVB_STATUS_FAILED, why, sizeof(why)), RUN_FAILED);
	assert_int_equal(vm_status_of_exit_value(PVB_EXIT_BASE + PVB_STATUS_CRASHED, why, sizeof(why)), RUN_CRASHED);
	for (int v = 0; v < 256; v++)
		if (v < PVB_EXIT_BASE || v > PVB_EXIT_BASE + PVB_STATUS__MAX)
			assert_int_equal(vm_status_of_exit_value(v, why, sizeof(why)), RUN_ERROR);
}

/* The guest's words on a failure reach terminals and the store: control characters (a terminal
 * escape, a newline) become '?'. */
static void guest_text_is_printable(void **state)
{
	static unsigned char mem[4u << 20];
	struct pvb_rec_writer w;
	struct vm_result r = { .outcome = RUN_FAILED };

	pvb_crc32_init();
	pvb_rec_begin(&w, mem + sizeof(mem) - PVB_OUT_SIZE + PVB_REC_OFFSET, PVB_OUT_SIZE - PVB_REC_OFFSET);
	pvb_rec_text(&w, PVB_CPU_VM, "\x1b[2Jgone\nnext");
	pvb_rec_seal(&w, PVB_STATUS_FAILED, 1);
	vm_take_record(mem, sizeof(mem), &r);
	assert_non_null(r.record);
	assert_string_equal(r.reason, "?[2Jgone?next");
	vm_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guest_elf_loads_where_the_map_says),
		cmocka_unit_test(low_regions_do_not_overlap),
		cmocka_unit_test(command_line_names_the_out_area),
		cmocka_unit_test(exit_values_map_to_outcomes_and_nothing_else),
		cmocka_unit_test(guest_text_is_printable),
	};
	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
