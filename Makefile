# pvbench. `make` builds everything into build/; `make check` runs the tests; `make bench` the
# benchmarks; `make setup` installs the Debian packages pvbench needs (idempotent).
CC      ?= gcc
O       := build
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation -Wno-missing-field-initializers
# harness/: one folder per part (engine, experiment types, policies, VM backends, store, reports, host)
HARNESS_DIRS := harness harness/util harness/engine harness/types harness/policies harness/backends harness/store harness/report harness/host
CPPFLAGS_H := -D_GNU_SOURCE -I/usr/include/postgresql -Iimpl/proto -Iworkloads $(patsubst %,-I%,$(HARNESS_DIRS)) -Iimpl/vmm -Iimpl/migration -Iimpl/dvfs
SAN     ?=
LDLIBS_H := -lcjson -lsqlite3 -lpq -linih -lm -lpthread

# The guest kernel: freestanding, no FPU/SSE in ring 0, nothing the kvm_pvm emulator rejects
# (baseline x86-64 has no cmpxchg16b; no xsave). Workloads linked into it run in ring 3.
GCFLAGS := -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -O2 -g -ffreestanding \
	   -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only -march=x86-64 -mtune=generic \
	   -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
	   -fno-tree-loop-distribute-patterns -Iimpl/guest-kernel -Iimpl/proto -Iworkloads -Iimpl/dvfs
GK      := impl/guest-kernel
# The workloads are list.h's: a file each (a file may hold more than one, as fault.c holds hang).
WORKLOADS := $(sort $(wildcard $(shell sed -n 's|^PVB_WORKLOAD(\([a-z0-9_]*\)).*|workloads/\1.c|p' workloads/list.h))) workloads/registry.c
GUEST_SRC := $(GK)/boot.S $(GK)/entry.S $(GK)/kernel.c $(GK)/user.c $(GK)/util.c $(GK)/pci.c $(GK)/io.c impl/dvfs/pelt.c impl/proto/record.c $(WORKLOADS)
GUEST_OBJ := $(patsubst %,$(O)/guest/%.o,$(GUEST_SRC))

all: $(O)/pvbench-guest.elf $(O)/pvb-linux $(O)/pvb-init $(O)/pvbench

$(O)/guest/%.S.o: %.S $(GK)/layout.h $(wildcard impl/proto/*.h)
	@mkdir -p $(dir $@)
	@echo '  CC(guest) $<'
	@$(CC) $(GCFLAGS) -c $< -o $@

$(O)/guest/%.c.o: %.c $(wildcard $(GK)/*.h) $(wildcard impl/proto/*.h) $(wildcard impl/dvfs/*.h) workloads/pvb.h workloads/work.h workloads/list.h
	@mkdir -p $(dir $@)
	@echo '  CC(guest) $<'
	@$(CC) $(GCFLAGS) -c $< -o $@

# The image, plus a note counting the instructions of the ring-0 wake-up path (objdump between
# the labels in entry.S): the harness stores that count with every run.
$(O)/pvbench-guest.elf: $(GUEST_OBJ) $(GK)/guest.ld scripts/r0-count
	@echo '  LD        $@'
	@$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,$(GK)/guest.ld -o $@.tmp $(GUEST_OBJ) -lgcc
	@scripts/r0-count $@.tmp > $(O)/r0-path.txt
	@objcopy --add-section .pvb.r0path=$(O)/r0-path.txt --set-section-flags .pvb.r0path=noload,readonly $@.tmp $@
	@rm -f $@.tmp

.PHONY: all

# ---- host side ----
PVB_GIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)

# The commit is compiled into hostinfo.o; rebuild it only when the commit changes.
$(O)/git-rev: FORCE
	@mkdir -p $(O); echo '$(PVB_GIT)' | cmp -s - $@ || echo '$(PVB_GIT)' > $@
$(O)/host/harness/host/hostinfo.o: $(O)/git-rev
FORCE:
HCFLAGS := $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS_H) -DPVB_GIT='"$(PVB_GIT)"'
HARNESS_SRC := $(filter-out harness/main.c,$(foreach d,$(HARNESS_DIRS),$(wildcard $(d)/*.c))) impl/proto/record.c impl/proto/record_check.c impl/proto/boost_decode.c $(wildcard impl/vmm/*.c) $(wildcard impl/migration/*.c) $(wildcard impl/dvfs/*.c)
HARNESS_OBJ := $(patsubst %.c,$(O)/host/%.o,$(HARNESS_SRC))

$(O)/host/%.o: %.c $(foreach d,$(HARNESS_DIRS),$(wildcard $(d)/*.h)) $(wildcard impl/vmm/*.h) $(wildcard impl/migration/*.h) $(wildcard impl/dvfs/*.h) $(wildcard impl/proto/*.h) workloads/pvb.h workloads/list.h
	@mkdir -p $(dir $@)
	@echo '  CC        $<'
	@$(CC) $(HCFLAGS) -c $< -o $@

$(O)/libpvbench.a: $(HARNESS_OBJ)
	@rm -f $@; ar rcs $@ $^

$(O)/pvbench: $(O)/host/harness/main.o $(O)/libpvbench.a
	@echo '  LD        $@'
	@$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS_H)

$(O)/pvb-linux: workloads/linux/pvb_linux.c $(WORKLOADS) impl/proto/record.c workloads/pvb.h impl/proto/pvb_record.h
	@echo '  LD        $@'
	@$(CC) $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS_H) -o $@ workloads/linux/pvb_linux.c $(WORKLOADS) impl/proto/record.c -lpthread

# The Linux guest's /init (static: the initramfs has no libc of its own for it)
$(O)/pvb-init: workloads/linux/init.c impl/proto/record.c impl/proto/pvb_blob.h impl/proto/pvb_record.h
	@echo '  LD        $@'
	@$(CC) $(WARN) -O2 -static -D_GNU_SOURCE -Iimpl/proto -o $@ workloads/linux/init.c impl/proto/record.c

# ---- tests ----
UNIT_TESTS := test_ab test_abi test_changepoint test_dvfs test_boost test_schedtrace test_record test_qmp test_cli test_stats test_config test_store test_compare test_engine test_report
KVM_TESTS  := test_guest test_vmm test_host_cyclic test_harness test_dvfs_host test_migration test_dashboard test_linux test_ivshmem
TEST_BINS  := $(patsubst %,$(O)/tests/%,$(UNIT_TESTS) $(KVM_TESTS))

$(O)/tests/%: tests/%.c tests/testlib.h $(O)/libpvbench.a
	@mkdir -p $(dir $@)
	@echo '  LD        $@'
	@$(CC) $(HCFLAGS) -Itests -o $@ $< $(O)/libpvbench.a -lcmocka $(LDLIBS_H)

tests: $(TEST_BINS) $(O)/tests/bench_guest $(O)/tests/bench_harness $(O)/tests/bench_dvfs $(O)/tests/bench_migration $(O)/tests/bench_boost $(O)/tests/bench_agent

# Tests registered with kvm_test() (named kvm_*) need a real KVM: make check runs them in a pass of
# their own through scripts/kvm-nested, on this host's /dev/kvm where it works, else in a nested
# KVM under TCG (functional only). Every other test runs here, under KVM or TCG.
KVM_PROGS  := $(patsubst tests/%.c,%,$(shell grep -l 'kvm_test' tests/test_*.c))
ASAN_TESTS := $(UNIT_TESTS) test_guest test_vmm test_ivshmem
check: setup all tests asan-tests
	scripts/check-layout
	@echo "make check: the kvm_* tests run on $$(scripts/kvm-nested --where)"
	PVBENCH_BUILD=$(O) PVBENCH_TESTS=nokvm tests/run $(patsubst %,$(O)/tests/%,$(UNIT_TESTS) $(KVM_TESTS))
	$(MAKE) --no-print-directory fuzz-smoke
	PVBENCH_BUILD=$(O) PVBENCH_TESTS=nokvm ASAN_OPTIONS=detect_leaks=1 tests/run $(patsubst %,build-asan/tests/%,$(ASAN_TESTS))
	PVBENCH_BUILD=$(O) PVBENCH_TESTS=kvm PVBENCH_REQUIRE_KVM=1 ASAN_OPTIONS=detect_leaks=1 \
		scripts/kvm-nested --timeout 1200 tests/run $(patsubst %,$(O)/tests/%,$(KVM_PROGS)) \
		$(patsubst %,build-asan/tests/%,$(filter $(ASAN_TESTS),$(KVM_PROGS)))

# The unit tests and the in-process KVM paths (QEMU control, the own VMM) under ASan/UBSan; the
# guest kernel and the pvbench binary those tests start come from the normal build.
asan-tests:
	$(MAKE) --no-print-directory O=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		$(patsubst %,build-asan/tests/%,$(ASAN_TESTS))

# Fuzzing (libFuzzer, Debian's clang): the host's reading of guest-written shared memory.
# FUZZ_RUNS inputs (make fuzz: 10 million; make check runs a short smoke). Corpus in build/.
FUZZ_RUNS ?= 10000000
$(O)/fuzz_boost: tests/fuzz_boost.c impl/proto/boost_decode.c impl/proto/pvb_boost.h
	@mkdir -p $(O)/fuzz-corpus
	@echo '  FUZZ      $@'
	@clang -std=c11 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Iimpl/proto -o $@ tests/fuzz_boost.c impl/proto/boost_decode.c

fuzz: setup $(O)/fuzz_boost
	$(O)/fuzz_boost -runs=$(FUZZ_RUNS) -artifact_prefix=$(O)/ -print_final_stats=1 $(O)/fuzz-corpus \
		> $(O)/fuzz.log 2>&1; rc=$$?; tail -n 12 $(O)/fuzz.log; exit $$rc

fuzz-smoke: $(O)/fuzz_boost
	@$(O)/fuzz_boost -runs=200000 -seed=1 -artifact_prefix=$(O)/ $(O)/fuzz-corpus > $(O)/fuzz-smoke.log 2>&1 || \
		{ tail -n 30 $(O)/fuzz-smoke.log; exit 1; }
	@echo "fuzz smoke: $$(grep '^Done' $(O)/fuzz-smoke.log)"

# Rewrites tests/golden/ from the current compare output: review the diff before committing it.
golden: $(O)/tests/test_compare
	PVBENCH_UPDATE_GOLDEN=1 $(O)/tests/test_compare
	git --no-pager diff --stat tests/golden

setup:
	@scripts/setup

# The main job on a small default, after setup and build: README's first command.
# Without a usable /dev/kvm the same experiment runs under QEMU's TCG: functional, labelled so.
run: setup all
	@test -w /dev/kvm || echo "make run: no usable /dev/kvm: running under TCG (not a latency measurement)" >&2
	$(O)/pvbench run configs/quick.ini $$(test -w /dev/kvm || echo --set accel=tcg)

bench: setup all tests
	PVBENCH_BUILD=$(O) $(O)/tests/bench_guest
	PVBENCH_BUILD=$(O) $(O)/tests/bench_harness
	$(O)/tests/bench_dvfs
	PVBENCH_BUILD=$(O) $(O)/tests/bench_migration
	PVBENCH_BUILD=$(O) $(O)/tests/bench_boost
	$(O)/tests/bench_agent
	$(O)/pvbench channels configs/channels.ini
	$(O)/pvbench memory configs/memory.ini

clean:
	rm -rf $(O) build-asan

.PHONY: tests check asan-tests setup run bench clean golden fuzz fuzz-smoke
