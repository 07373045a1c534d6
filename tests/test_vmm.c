/* SPDX-License-Identifier: MIT */
/* pvbench's own VMM on the real /dev/kvm: the same guest kernel, job and result record as under
 * QEMU, the exits it is expected to make, and its failure paths; and, without KVM, the migration
 * stream's checks at the destination (impl/migration). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "child.h"
#include "cli.h"
#include "hostinfo.h"
#include "metrics.h"
#include "precopy.h"
#include "testlib.h"
#include "vm.h"
#include "vmm.h"

static struct hostinfo host;
static char kernel[512], dir[256];

static void run(const char *vmm, const char *job, int vcpus, int timeout_ms, struct vm_result *r)
{
	char err[256];

	if (!host.tsc_khz)
		assert_int_equal(hostinfo_read(&host, err, sizeof(err)), 0);
	if (!*dir)
		assert_int_equal(test_dir(dir, sizeof(dir), "vmm"), 0);
	struct vm_spec s = { .kernel = kernel, .vcpus = vcpus, .job = job, .timeout_ms = timeout_ms,
			     .run_dir = dir, .tsc_khz = host.tsc_khz };
	vm_run(vmm, &s, NULL, r);
}

/* The periods cyclic went through on a CPU: each one is a sample, an early wake or an overrun. */
static int periods(const struct metric_set *m, int cpu)
{
	return (int)(metrics_find(m, "samples", cpu)->value + metrics_find(m, "early_wakes", cpu)->value +
		     metrics_find(m, "overruns", cpu)->value);
}

static void same_job_same_record_as_qemu(void **state)
{
	struct vm_result a, b;
	struct metric_set ma, mb;

	REQUIRE_KVM();
	run("pvbench", "workload=cyclic duration_ms=500", 2, 20000, &a);
	assert_int_equal(a.outcome, RUN_OK);
	assert_int_equal(a.nr_tids, 2);
	run("qemu", "workload=cyclic duration_ms=500", 2, 20000, &b);
	assert_int_equal(b.outcome, RUN_OK);
	metrics_from_record(a.record, &ma);
	metrics_from_record(b.record, &mb);
	assert_int_equal(ma.n, mb.n); /* the same metrics, in the same order, for the same CPUs */
	for (size_t i = 0; i < ma.n; i++) {
		assert_string_equal(ma.m[i].name, mb.m[i].name);
		assert_int_equal(ma.m[i].cpu, mb.m[i].cpu);
	}
	/* every 1 ms period of the 500 ms is accounted for, however slowly the guest ran */
	assert_true(periods(&ma, 1) >= 500); /* an overrun at the end may count periods past it */
	assert_true(metrics_find(&ma, "samples", 1)->value > 0);
	metrics_free(&ma);
	metrics_free(&mb);
	vm_result_free(&a);
	vm_result_free(&b);
}

/* Drive the library directly: a 1-vCPU cyclic job exits only through port I/O (console, then the
 * exit port) and its one probe of the discovery window, says exactly its two console lines, and
 * ends with the ok value. */
static void expected_exit_sequence(void **state)
{
	static struct vmm v;
	char err[256], cmd[512], path[300], text[256] = "";
	FILE *con;

	REQUIRE_KVM();
	if (!host.tsc_khz)
		assert_int_equal(hostinfo_read(&host, err, sizeof(err)), 0);
	assert_int_equal(test_dir(path, sizeof(path), "vmm-state"), 0);
	strcat(path, "/console.log");
	con = fopen(path, "w+");
	snprintf(cmd, sizeof(cmd), "out=0x%x,0x%x tsc_khz=%u cpus=1 workload=cyclic duration_ms=100",
		 (64u << 20) - VM_OUT_SIZE, VM_OUT_SIZE, host.tsc_khz);
	assert_int_equal(vmm_create(&v, 64u << 20, 0, err, sizeof(err)), 0);
	assert_int_equal(vmm_load_elf(&v, kernel, err, sizeof(err)), 0);
	assert_int_equal(vmm_add_vcpus(&v, 1, cmd, err, sizeof(err)), 0);
	v.console = con;
	assert_int_equal(vmm_start(&v, err, sizeof(err)), 0);
	assert_int_equal(vmm_wait(&v, 10000, NULL, NULL), VMM_EXITED);
	assert_int_equal(v.exit_value, 0x20);
	for (int r = 0; r < 64; r++)
		if (r != KVM_EXIT_IO && r != KVM_EXIT_INTR && r != KVM_EXIT_MMIO)
			assert_int_equal(v.vcpu[0].exits[r], 0);
	/* MMIO: the discovery probe only (pvb_discovery.h: 4 bytes of magic, then no more) */
	assert_int_equal(v.vcpu[0].exits[KVM_EXIT_MMIO], 1);
	assert_true(v.vcpu[0].exits[KVM_EXIT_IO] >= 3); /* two console writes and the exit port */
	rewind(con);
	size_t n = fread(text, 1, sizeof(text) - 1, con);
	text[n] = 0;
	fclose(con);
	unlink(path);
	assert_string_equal(text, "pvbench guest: cyclic\npvbench guest: done\n");
	vmm_destroy(&v);
}

static void failures_end_the_run_with_a_reason(void **state)
{
	struct vm_result r;

	REQUIRE_KVM();
	run("pvbench", "workload=fault", 2, 20000, &r);
	assert_int_equal(r.outcome, RUN_CRASHED);
	assert_non_null(strstr(r.reason, "#UD at RIP 0x"));
	vm_result_free(&r);
	/* and where: hang sleeps 1 s at a time, so its vCPU halts with a deadline under 1 s ahead
	 * (unless the stop caught it between its timer and its next sleep: then again) */
	for (int tries = 0;; tries++) {
		run("pvbench", "workload=hang", 1, 1500, &r);
		assert_int_equal(r.outcome, RUN_TIMEOUT);
		assert_non_null(strstr(r.reason, "1500 ms timeout"));
		if (strstr(r.reason, "(halted, TSC deadline in ") || tries == 2)
			break;
		fprintf(stderr, "note: caught awake, again: %s\n", r.reason);
		vm_result_free(&r);
	}
	const char *in = strstr(r.reason, "registers.txt: vCPU 0 at 0x");
	double ahead = -1;
	assert_non_null(in);
	/* the RIP, then the guest's symbol it is in */
	const char *rip = in + strlen("registers.txt: vCPU 0 at 0x");
	if (!strspn(rip, "0123456789abcdef") || strncmp(rip + strspn(rip, "0123456789abcdef"), " <", 2))
		fail_msg("no symbol after the RIP: %s", r.reason);
	in = strstr(in, "(halted, TSC deadline in ");
	assert_non_null(in);
	assert_int_equal(sscanf(in + strlen("(halted, TSC deadline in "), "%lf", &ahead), 1);
	fprintf(stderr, "note: %s\n", r.reason);
	assert_true(ahead >= 0 && ahead <= 1.001);
	vm_result_free(&r);
	if (hostinfo_kvm_pvm()) {
		run("pvbench", "workload=fault where=emulation", 1, 20000, &r);
		assert_int_equal(r.outcome, RUN_CRASHED);
		assert_non_null(strstr(r.reason, "emulation failure at RIP 0x"));
		vm_result_free(&r);
	}
}

static void ioctl_errors_read_as_sentences(void **state)
{
	static struct vmm v;
	char err[256];

	REQUIRE_KVM();
	assert_int_equal(vmm_create(&v, 64u << 20, 0, err, sizeof(err)), 0);
	/* a second slot overlapping the first */
	assert_int_equal(vmm_add_slot(&v, 0x100000, 2u << 20, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KVM_SET_USER_MEMORY_REGION: "));
	assert_non_null(strstr(err, "(slot 1, 2 MiB at 0x100000)"));
	assert_int_equal(vmm_load_elf(&v, "/nonexistent.elf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent.elf: No such file"));
	vmm_destroy(&v);
}

/* pvbench ARGS... --db DB, stdout and stderr to files: its exit status */
static int pvbench(char *const *args, const char *db)
{
	char bin[512], err[256], out[320];
	char *argv[24] = { bin };
	int n = 1;
	struct child c;
	struct child_io io = { .stdout_path = out, .stderr_path = out };

	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	snprintf(out, sizeof(out), "%s.log", db);
	for (int i = 0; args[i] && n < 20; i++)
		argv[n++] = args[i];
	argv[n++] = "--db";
	argv[n++] = (char *)db;
	assert_int_equal(child_spawn(&c, argv, &io, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 600000));
	return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

/* The command lines the two tests below run on KVM. A test that needs no KVM parses them with
 * --dry-run, so a renamed or removed option fails on every machine, not only where KVM is. */
static char *const channels_args[] = { "channels", "--count", "200", "--pace-us", "50", "--mode", "paced, back_to_back",
				       "--timeout", "3s", NULL };
static char *const memory_args[] = { "memory", "--size-mib", "16", "--repeat", "1", "--vcpus", "1,2", NULL };

static void command_lines_parse(void **state)
{
	char *const *lines[] = { channels_args, memory_args };
	char db[128];

	for (int i = 0; i < 2; i++) {
		char *args[24];
		int n = 0;
		for (; lines[i][n]; n++)
			args[n] = lines[i][n];
		args[n++] = "--dry-run";
		args[n] = NULL;
		assert_int_equal(test_dir(db, sizeof(db), "vmm-dry"), 0);
		strcat(db, "/pv.db");
		assert_int_equal(pvbench(args, db), 0);
		assert_int_equal(access(db, F_OK), -1); /* a dry run stores nothing */
		strcat(db, ".log");
		unlink(db);
	}
}

static double query(const char *db, const char *sql)
{
	double v = store_value(db, sql);
	if (v < 0)
		fail_msg("%s: no answer to %s", db, sql);
	return v;
}

/* Every channel that reaches the host delivers exactly what the guest sent, from both rings, paced
 * with a host thread waiting and back to back with none (counted at the end); the hypercall runs end (measured, or stored as hanging where the backend hangs on them) instead
 * of hanging pvbench. */
static void every_channel_delivers_exactly_what_was_sent(void **state)
{
	char db[128];

	REQUIRE_KVM();
	assert_int_equal(test_dir(db, sizeof(db), "channels"), 0);
	strcat(db, "/pv.db");
	int rc = pvbench(channels_args, db);
	assert_true(rc == 0 || rc == 2); /* 2: a hypercall run hung, as it does on kvm_pvm */
	assert_int_equal(query(db, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id AND"
				   " p.key = 'channel' WHERE p.value NOT LIKE 'hc_%' AND r.status <> 'ok'"), 0);
	assert_int_equal(query(db, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id AND"
				   " p.key = 'channel' JOIN metrics m ON m.run_id = r.id AND m.name = 'delivered'"
				   " AND m.side = 'host' WHERE p.value IN ('pio', 'mmio', 'ioeventfd_pio',"
				   " 'ioeventfd_mmio', 'shm_busy', 'shm_poll', 'shm_doorbell') AND m.value = 200"),
			 28); /* 7 channels x 2 rings x 2 modes */
	assert_int_equal(query(db, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id AND"
				   " p.key = 'channel' WHERE p.value LIKE 'hc_%' AND r.status IN ('ok', 'timeout')"), 8);
	/* back to back no host thread waits (an exit is still handled, and timed, by the vCPU thread) */
	assert_int_equal(query(db, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id AND p.key = 'mode'"
				   " JOIN run_params q ON q.run_id = r.id AND q.key = 'channel' JOIN metrics m ON"
				   " m.run_id = r.id AND m.name = 'seen_after_p50' WHERE p.value = 'back_to_back' AND"
				   " q.value IN ('ioeventfd_pio', 'ioeventfd_mmio', 'shm_busy', 'shm_poll', 'shm_doorbell')"), 0);
	unlink(db);
	strcat(db, ".log");
	unlink(db);
}

/* Demand faults, host-populated, the pre-pass and both kinds of dirty logging leave every page
 * holding what the last pass wrote: pvbench memory checks each from the host and fails the run
 * otherwise. Only what the host lacks may be skipped, and it must say so. */
static void memory_paths_leave_every_page_written(void **state)
{
	char db[128];

	REQUIRE_KVM();
	assert_int_equal(test_dir(db, sizeof(db), "memory"), 0);
	strcat(db, "/pv.db");
	assert_int_equal(pvbench(memory_args, db), 0);
	assert_int_equal(query(db, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id AND"
				   " p.key = 'backing' WHERE p.value IN ('demand', 'populated', 'prepass',"
				   " 'dirtylog', 'dirtyring') AND r.status = 'ok' AND EXISTS (SELECT 1 FROM"
				   " metrics m WHERE m.run_id = r.id AND m.name = 'write_all')"), 10);
	assert_int_equal(query(db, "SELECT count(*) FROM runs WHERE status NOT IN ('ok', 'skipped') OR"
				   " (status = 'skipped' AND reason NOT LIKE 'unavailable: %')"), 0);
	unlink(db);
	strcat(db, ".log");
	unlink(db);
}

/* vCPU state round trip in the middle of a running job: pause both vCPUs of a cyclic guest,
 * save their state, write it back, read it again (the same registers), resume; the job goes on
 * and ends ok with every period accounted for. */
static void vcpu_state_round_trip_mid_job(void **state)
{
	static struct vmm v;
	static struct vmm_vcpu_state a[2], b[2];
	char err[256], cmd[512];

	REQUIRE_KVM();
	if (!host.tsc_khz)
		assert_int_equal(hostinfo_read(&host, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "out=0x%x,0x%x tsc_khz=%u cpus=2 workload=cyclic duration_ms=2000",
		 (64u << 20) - VM_OUT_SIZE, VM_OUT_SIZE, host.tsc_khz);
	assert_int_equal(vmm_create(&v, 64u << 20, 0, err, sizeof(err)), 0);
	assert_int_equal(vmm_load_elf(&v, kernel, err, sizeof(err)), 0);
	assert_int_equal(vmm_add_vcpus(&v, 2, cmd, err, sizeof(err)), 0);
	assert_int_equal(vmm_start(&v, err, sizeof(err)), 0);
	usleep(800000); /* inside the workload */
	if (vmm_pause(&v, 2000, err, sizeof(err)))
		fail_msg("%s", err);
	for (int i = 0; i < 2; i++) {
		if (vmm_vcpu_save(&v.vcpu[i], &a[i], err, sizeof(err)) ||
		    vmm_vcpu_restore(&v.vcpu[i], &a[i], err, sizeof(err)) ||
		    vmm_vcpu_save(&v.vcpu[i], &b[i], err, sizeof(err)))
			fail_msg("%s", err);
		assert_true(a[i].nmsrs > 10);
		assert_memory_equal(&a[i].regs, &b[i].regs, sizeof(a[i].regs));
		assert_memory_equal(&a[i].sregs.cr0, &b[i].sregs.cr0, sizeof(uint64_t) * 5); /* cr0..cr8 */
		assert_int_equal(a[i].sregs.efer, b[i].sregs.efer);
		assert_int_equal(a[i].mp.mp_state, b[i].mp.mp_state);
		if (a[i].missing[0])
			fprintf(stderr, "note: vcpu %d state without:%s\n", i, a[i].missing);
	}
	vmm_resume(&v);
	assert_int_equal(vmm_wait(&v, 20000, NULL, NULL), VMM_EXITED);
	assert_int_equal(v.exit_value, VM_EXIT_OK);
	struct metric_set ms;
	if (vm_record_metrics(v.mem, 64u << 20, &ms, err, sizeof(err)))
		fail_msg("%s", err);
	for (int cpu = 0; cpu < 2; cpu++) { /* the pause cost periods, not their accounting */
		assert_true(periods(&ms, cpu) >= 2000);
		assert_true(metrics_find(&ms, "samples", cpu)->value > 0);
	}
	metrics_free(&ms);
	vmm_destroy(&v);
}

/* The destination takes nothing it cannot check: each bad stream ends with its sentence. */
static void a_bad_stream_is_refused_with_a_reason(void **state)
{
	static struct vmm v;
	static const struct { uint32_t magic, type; uint64_t arg, len, gfn; const char *says; } bad[] = {
		{ 0x12345678, PC_PAGES, 1, 8, 0, "magic" },
		{ PC_MAGIC, PC_PAGES, 1, 8, 9999, "beyond the guest's" },
		{ PC_MAGIC, PC_PAGES, 1000, 8, 0, "pages in a batch" },
		{ PC_MAGIC, PC_PAGES, 1, 4000, 0, "its pages say" },
		{ PC_MAGIC, PC_VCPU, 7, sizeof(struct vmm_vcpu_state), 0, "state of vCPU 7" },
		{ PC_MAGIC, PC_END, 1, 0, 0, "0 of 1 vCPUs" },
		{ PC_MAGIC, 99, 0, 0, 0, "message type 99" },
	};
	char err[256];
	v.mem_size = 16 * 4096;
	v.mem = calloc(16, 4096);
	v.nr_vcpus = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		struct precopy_msg m = { bad[i].magic, bad[i].type, bad[i].arg, bad[i].len };
		assert_int_equal(write(sv[0], &m, sizeof(m)), sizeof(m));
		assert_int_equal(write(sv[0], &bad[i].gfn, 8), 8); /* a page number, where one is read */
		close(sv[0]);
		err[0] = 0;
		assert_int_equal(precopy_receive(&v, sv[1], err, sizeof(err)), -1);
		close(sv[1]);
		if (!strstr(err, bad[i].says))
			fail_msg("stream %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
	}
	/* a whole, valid stream of one zero page and one data page arrives as sent */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	uint64_t gfn[2] = { 3 | PC_ZERO, 5 };
	char page[4096];
	memset(page, 0x5a, sizeof(page));
	memset(v.mem + 3 * 4096, 1, 4096);
	struct precopy_msg m = { PC_MAGIC, PC_PAGES, 2, 16 + 4096 }, c = { PC_MAGIC, PC_CANCEL, 0, 0 };
	assert_int_equal(write(sv[0], &m, sizeof(m)), sizeof(m));
	assert_int_equal(write(sv[0], gfn, 16), 16);
	assert_int_equal(write(sv[0], page, 4096), 4096);
	assert_int_equal(write(sv[0], &c, sizeof(c)), sizeof(c));
	assert_int_equal(precopy_receive(&v, sv[1], err, sizeof(err)), 0); /* cancelled */
	assert_memory_equal(v.mem + 5 * 4096, page, 4096);
	assert_int_equal(v.mem[3 * 4096 + 100], 0);
	close(sv[0]);
	close(sv[1]);
	free(v.mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(command_lines_parse),
		cmocka_unit_test(a_bad_stream_is_refused_with_a_reason),
		kvm_test(vcpu_state_round_trip_mid_job),
		kvm_test(same_job_same_record_as_qemu),
		kvm_test(expected_exit_sequence),
		kvm_test(failures_end_the_run_with_a_reason),
		kvm_test(ioctl_errors_read_as_sentences),
		kvm_test(every_channel_delivers_exactly_what_was_sent),
		kvm_test(memory_paths_leave_every_page_written),
	};
	snprintf(kernel, sizeof(kernel), "%s/pvbench-guest.elf", build_dir());
	return cmocka_run_group_tests_name("vmm", tests, NULL, NULL);
}
