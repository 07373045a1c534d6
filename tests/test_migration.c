/* SPDX-License-Identifier: MIT */
/* The migration type's QEMU reference, for real (KVM, or TCG where there is none): a reading and a
 * dirtying guest migrate with every page verified and keep running at the destination; the link's
 * bandwidth limit holds; a destination that dies mid-migration fails the run cleanly. pvbench's own
 * engine (KVM only): every page arrives over the dirty ring and the dirty log, the dirty quota holds
 * the writer and never the reader, auto-converge throttles (its stream checks: test_vmm). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "child.h"
#include "testlib.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/pvbench-test-migration-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* pvbench run on a one-run migration experiment; returns its exit status */
static int migrate(const char *keys, const char *env)
{
	char ini[128], db[128], bin[512], err[256], runs[128];
	snprintf(ini, sizeof(ini), "%s/m.ini", dir);
	snprintf(db, sizeof(db), "%s/m.db", dir);
	snprintf(runs, sizeof(runs), "%s/runs", dir);
	FILE *f = fopen(ini, "w");
	fprintf(f, "[global]\ntype = migration\nvcpus = 2\nmigrate_after = 500ms\nrun_after = 500ms\n%s%s%s",
		strstr(keys, "deadline") ? "" : "deadline = 20s\n", test_tcg ? "accel = tcg\n" : "", keys);
	fclose(f);
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	char *argv[] = { bin, "run", ini, "--db", db, NULL };
	struct child c;
	if (env)
		putenv((char *)env);
	assert_int_equal(child_spawn(&c, argv, NULL, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 180000));
	if (env)
		unsetenv("PVBENCH_TEST_KILL_DEST_MS");
	return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

static double value(const char *name)
{
	char db[128], sql[256];
	snprintf(db, sizeof(db), "%s/m.db", dir);
	snprintf(sql, sizeof(sql), "SELECT value FROM metrics WHERE name = '%s' AND cpu = -2", name);
	return store_value(db, sql);
}

static double value_cpu(const char *name, int cpu)
{
	char db[128], sql[256];
	snprintf(db, sizeof(db), "%s/m.db", dir);
	snprintf(sql, sizeof(sql), "SELECT value FROM metrics WHERE name = '%s' AND cpu = %d", name, cpu);
	return store_value(db, sql);
}

static void a_reading_guest_migrates_whole(void **state)
{
	REQUIRE_GUEST();
	assert_int_equal(migrate("size_mb = 32\nwriters = 0\nbandwidth_mbps = 400\n", NULL), 0);
	assert_int_equal(value("converged"), 1);
	assert_int_equal(value("pages_differ"), 0);  /* the comparison ran: 0 pages differ */
	assert_true(value("verify_ms") >= 0);
	assert_int_equal(value("verify_errors"), 0); /* the guest's own check at the end */
	assert_true(value("guest_read_after") > 0);  /* and it kept running at the destination */
}

static void a_dirtying_guest_migrates_whole(void **state)
{
	REQUIRE_GUEST();
	assert_int_equal(migrate("size_mb = 64\nwriters = 1\nbandwidth_mbps = 200\n", NULL), 0);
	fprintf(stderr, "note: dirtying guest: %.0f ms, downtime %.0f ms, %.0f passes, %.1f MB sent\n",
		value("total_time"), value("downtime"), value("passes"), value("transferred"));
	assert_int_equal(value("converged"), 1);
	assert_int_equal(value("pages_differ"), 0);
	assert_int_equal(value("verify_errors"), 0);
	assert_true(value("passes") >= 2);            /* it dirtied: more than one pass */
	assert_true(value("guest_write_during") > 0);
	assert_true(value("guest_write_after") > 0);
}

/* A writer that halts between bursts keeps an interrupt frame on its kernel stack hot. Under TCG,
 * QEMU before 9.0 lost its stores after each dirty-bitmap sync of a RAM block sized in whole
 * 64-page words: a byte of that frame differed at the destination in 7 of 8 such runs (2 vCPUs,
 * 64 MiB at 50 MB/s), and none since the backend sizes TCG's RAM off that multiple. On KVM the
 * same runs check KVM's dirty log. */
static void a_writer_that_halts_migrates_whole(void **state)
{
	char db[128];
	REQUIRE_GUEST();
	assert_int_equal(migrate("repeat = 3\nsize_mb = 64\nwriters = 1\nrate_mbps = 50\nbandwidth_mbps = 100\n", NULL), 0);
	snprintf(db, sizeof(db), "%s/m.db", dir);
	assert_int_equal(store_value(db, "SELECT count(*) FROM runs WHERE status = 'ok'"), 3);
	assert_int_equal(store_value(db, "SELECT count(*) FROM metrics WHERE name = 'pages_differ' AND value = 0"), 3);
	assert_int_equal(store_value(db, "SELECT count(*) FROM metrics WHERE name = 'verify_errors' AND value = 0"), 3);
}

/* 256 MiB of data (every page written once), nothing dirtied meanwhile: QEMU's max-bandwidth is
 * a cap (its rate limiter fills 100 ms slots), so the link stays under it, and well above it
 * without it. pvbench's own sender, with a token bucket that meets b, waits for KVM. */
static void the_bandwidth_limit_holds(void **state)
{
	REQUIRE_GUEST();
	/* readers at 100 MB/s: the guest leaves QEMU the CPUs (it moves ~120 MB/s here, TCG) */
	assert_int_equal(migrate("size_mb = 256\nwriters = 0\nrate_mbps = 100\nbandwidth_mbps = 50\n", NULL), 0);
	double capped = value("link_mbps"), mb = value("transferred");
	teardown(state);
	setup(state);
	assert_int_equal(migrate("size_mb = 256\nwriters = 0\nrate_mbps = 100\nbandwidth_mbps = 100000\n", NULL), 0);
	double free_run = value("link_mbps");
	fprintf(stderr, "note: %.1f MB at %.1f MB/s against a 50 MB/s cap; %.1f MB/s without one\n", mb, capped,
		free_run);
	assert_true(mb >= 256);
	assert_true(capped > 0 && capped <= 55);
	assert_true(free_run > 1.5 * capped);
}

static void a_dead_destination_fails_the_run_cleanly(void **state)
{
	char db[128], reason[600] = "";
	REQUIRE_GUEST();
	/* a slow link, so that the migration is still going when the destination dies */
	int rc = migrate("size_mb = 128\nwriters = 1\nbandwidth_mbps = 20\n", "PVBENCH_TEST_KILL_DEST_MS=500");
	assert_int_not_equal(rc, 0);
	snprintf(db, sizeof(db), "%s/m.db", dir);
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT status, reason FROM runs", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "error");
	snprintf(reason, sizeof(reason), "%s", (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	sqlite3_close(h);
	fprintf(stderr, "note: %s\n", reason);
	assert_non_null(strstr(reason, "migration failed"));
	assert_non_null(strstr(reason, "runs on"));
	assert_int_equal(procs_matching(dir), 0); /* no QEMU left */
}

/* pvbench's own engine: a dirtying guest moves whole over either dirty tracker, and runs on */
static void own_engine_migrates_every_page(void **state)
{
	static const char *const track[] = { "ring", "log" };
	REQUIRE_KVM();
	for (int i = 0; i < 2; i++) {
		char keys[200];
		snprintf(keys, sizeof(keys), "vmm = pvbench\nsize_mb = 16\nwriters = 1\nbandwidth_mbps = 100\n"
			 "dirty_track = %s\n", track[i]);
		assert_int_equal(migrate(keys, NULL), 0);
		fprintf(stderr, "note: own engine, dirty %s: %.0f ms, downtime %.0f ms, %.0f passes, %.1f MB, "
			"%.0f pages re-dirtied\n", track[i], value("total_time"), value("downtime"), value("passes"),
			value("transferred"), value("pages_redirtied"));
		assert_int_equal(value("converged"), 1);
		assert_int_equal(value("pages_differ"), 0);   /* every page's digest, both ends */
		assert_int_equal(value("verify_errors"), 0);  /* the guest's own check, at the destination */
		assert_true(value("passes") >= 2);
		assert_true(value("pages_redirtied") > 0);    /* the tracker found the writer's pages */
		assert_true(value("guest_write_after") > 0);  /* it kept writing at the destination */
		teardown(state);
		setup(state);
	}
}

/* The dirty quota: the writer (vCPU 0) sits out its debt; the reader (vCPU 1), which dirties a few
 * pages an interval (its stack, its counter) against a budget of a dozen, is never held. Auto-converge, on a link too
 * slow for the writer, throttles every vCPU. */
static void throttles_act_on_the_vcpus(void **state)
{
	REQUIRE_KVM();
	assert_int_equal(migrate("vmm = pvbench\nsize_mb = 8\nwriters = 1\nbandwidth_mbps = 2\n"
				 "downtime_ms = 100\nthrottle = dirty-quota\nquota_interval = 100ms\n", NULL), 0);
	fprintf(stderr, "note: dirty quota: writer held %.0f ms (%.0f times), reader %.0f times; runtime %% "
		"writer %.1f, reader %.1f\n", value_cpu("held_ms", 0), value_cpu("holds", 0), value_cpu("holds", 1),
		value("runtime_pct_writers"), value("runtime_pct_readers"));
	assert_int_equal(value("pages_differ"), 0);
	assert_true(value_cpu("held_ms", 0) > 0);
	assert_int_equal(value_cpu("holds", 1), 0);
	teardown(state);
	setup(state);
	assert_int_equal(migrate("vmm = pvbench\nsize_mb = 2\nwriters = 1\nbandwidth_mbps = 2\n"
				 "downtime_ms = 10\nthrottle = auto-converge\ndeadline = 6s\n", NULL), 0);
	fprintf(stderr, "note: auto-converge: throttle reached %.0f%%, held writer %.0f ms, reader %.0f ms\n",
		value("throttle_max"), value_cpu("held_ms", 0), value_cpu("held_ms", 1));
	assert_true(value("throttle_max") >= 20);
	assert_true(value_cpu("held_ms", 0) > 0 && value_cpu("held_ms", 1) > 0); /* time-based: all alike */
}

/* QEMU's dirty limit (its dirty ring; set when the migration starts): QEMU takes the limit and
 * reports it back, and the run ends cleanly with every page checked if it converged. Whether it
 * converges in time is a timing question (under nested KVM it did in 15-17 s in three runs, and
 * not within 40 s or 20 s in two others): not asserted here, and the deadline is short. */
static void qemu_dirty_limit_is_set_and_reported(void **state)
{
	REQUIRE_KVM();
	assert_int_equal(migrate("vmm = qemu\nsize_mb = 8\nwriters = 1\nbandwidth_mbps = 20\ndowntime_ms = 100\n"
				 "throttle = dirty-limit\nquota_share = 20\ndeadline = 8s\n", NULL), 0);
	fprintf(stderr, "note: QEMU dirty limit %.0f MB/s a vCPU: converged %.0f, %.0f ms, %.0f passes\n",
		value("dirty_limit"), value("converged"), value("total_time"), value("passes"));
	assert_int_equal(value("dirty_limit"), 2); /* 20 MB/s x 20% over 2 vCPUs, as QEMU has it */
	assert_true(value("passes") >= 1);
	if (value("converged") == 1)
		assert_int_equal(value("pages_differ"), 0);
	assert_int_equal(value("verify_errors"), 0); /* the guest's own check, wherever it finished */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_reading_guest_migrates_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(a_dirtying_guest_migrates_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(a_writer_that_halts_migrates_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(the_bandwidth_limit_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(a_dead_destination_fails_the_run_cleanly, setup, teardown),
		kvm_test_setup_teardown(own_engine_migrates_every_page, setup, teardown),
		kvm_test_setup_teardown(throttles_act_on_the_vcpus, setup, teardown),
		kvm_test_setup_teardown(qemu_dirty_limit_is_set_and_reported, setup, teardown),
	};
	child_signals_install();
	return cmocka_run_group_tests_name("migration", tests, NULL, NULL);
}
