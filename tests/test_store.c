/* SPDX-License-Identifier: MIT */
/* The result store: migrations, "done?", replacement, a writer killed mid-transaction, and a write refused. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "store.h"
#include "testlib.h"

static char path[128];

/* each test's store in a directory of its own, made fresh: never one an earlier run left */
static int setup(void **state)
{
	char dir[64];
	if (test_dir(dir, sizeof(dir), "store"))
		return -1;
	snprintf(path, sizeof(path), "%s/pvbench.db", dir);
	return 0;
}

static int query_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int integrity_ok(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int ok = 0;

	sqlite3_open(path, &db);
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static int put_in(struct store *s, const char *session, int rep, const char *status, double value)
{
	struct metric_set g = { 0 };
	static const char *const k[] = { "policy" }, *const v[] = { "static" };
	char err[256];
	int rc;

	metrics_add(&g, "lat_avg", "ns", PVB_LESS, -1, value);
	unsigned counts[] = { 5, 0, 0, 2 };
	metrics_add_hist(&g, "lat", -1, 1000, counts, 4, 1);
	struct store_run r = { .experiment = "exp", .variant = "policy=static", .identity = "policy=static", .rep = rep,
			       .nr_params = 1, .param_keys = k, .param_values = v, .status = status,
			       .started_at = "t0", .ended_at = "t1", .sets = { &g }, .session = session };
	rc = store_put_run(s, &r, err, sizeof(err));
	metrics_free(&g);
	return rc;
}

static int put(struct store *s, int rep, const char *status, double value)
{
	return put_in(s, "", rep, status, value);
}

static void count_run(void *arg, const struct store_row *r)
{
	(*(int *)arg)++;
}

static void hist_text(void *arg, long long id, const char *side, int cpu, const char *name,
		      unsigned bucket_ns, unsigned long long overflow, const char *counts)
{
	snprintf(arg, 64, "%s %s %u %llu %s", side, name, bucket_ns, overflow, counts);
}

static void sum_metric(void *arg, long long id, const char *side, int cpu, const char *name,
		       double value, const char *unit, enum pvb_better better)
{
	assert_int_equal(better, PVB_LESS); /* as put_in declared it, read back */
	*(int *)arg += (int)value;
}

/* Nightly sessions: the same identity and rep once per session; a visit sees the newest session,
 * or all of them. */
static void sessions_keep_their_own_runs(void **state)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	int runs = 0, sum = 0;
	struct store_visitor v = { .arg = &runs, .run = count_run };
	struct store_visitor m = { .arg = &sum, .metric = sum_metric };

	assert_int_equal(put_in(s, "2026-11-01T00:00:00Z", 1, "ok", 10), 0);
	assert_int_equal(put_in(s, "2026-11-02T00:00:00Z", 1, "ok", 20), 0);
	assert_int_equal(put_in(s, "2026-11-02T00:00:00Z", 2, "ok", 40), 0);
	assert_true(store_run_done(s, "exp", "2026-11-01T00:00:00Z", "policy=static", 1));
	assert_false(store_run_done(s, "exp", "", "policy=static", 1));
	assert_int_equal(store_visit(s, "exp", NULL, &v, err, sizeof(err)), 0);
	assert_int_equal(runs, 2);
	assert_int_equal(store_visit(s, "exp", NULL, &m, err, sizeof(err)), 0);
	assert_int_equal(sum, 60);
	runs = 0;
	assert_int_equal(store_visit(s, "exp", "*", &v, err, sizeof(err)), 0);
	assert_int_equal(runs, 3);
	/* histograms come back as stored: the non-empty buckets */
	char h[64] = "";
	struct store_visitor hv = { .arg = h, .hist = hist_text };
	assert_int_equal(store_visit(s, "exp", "2026-11-01T00:00:00Z", &hv, err, sizeof(err)), 0);
	assert_string_equal(h, "guest lat 1000 1 0:5,3:2");
	store_close(s);
}

static void fresh_store_is_migrated_and_reopens(void **state)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));

	assert_non_null(s);
	store_close(s);
	assert_int_equal(query_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	s = store_open(path, err, sizeof(err)); /* idempotent */
	assert_non_null(s);
	store_close(s);
	assert_int_equal(query_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

/* refused untouched: not even switched to WAL */
static void newer_schema_is_refused(void **state)
{
	char err[256];
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_null(store_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "newer than this pvbench"));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void garbage_store_names_its_file(void **state)
{
	char err[512];
	FILE *f = fopen(path, "w");
	fputs("this is not a database, just text that is long enough to be a header......\n", f);
	fclose(f);
	assert_null(store_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a pvbench store"));
}

/* Processes that open a fresh store at once all get it, migrated once. */
static void fresh_store_opened_by_many_at_once(void **state)
{
	pid_t kids[6];
	for (int i = 0; i < 6; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			char err[256];
			struct store *s = store_open(path, err, sizeof(err));
			if (!s)
				fprintf(stderr, "child %d: %s\n", i, err);
			_exit(s ? 0 : 1);
		}
	}
	for (int i = 0; i < 6; i++) {
		int status;
		waitpid(kids[i], &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(query_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

/* A version-1 store is migrated: its runs stay, under an identity no definition has. */
static void schema_1_is_migrated(void **state)
{
	char err[256];
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"CREATE TABLE runs (id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, variant TEXT NOT NULL,"
		" rep INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
		" started_at TEXT NOT NULL, ended_at TEXT NOT NULL, host_kernel TEXT, kvm_backend TEXT,"
		" qemu_version TEXT, guest_build TEXT, pvbench_commit TEXT, tsc_khz INTEGER, run_dir TEXT,"
		" loadavg TEXT);"
		"CREATE UNIQUE INDEX runs_key ON runs(experiment, variant, rep);"
		"CREATE TABLE run_params (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
		" key TEXT NOT NULL, value TEXT NOT NULL);"
		"CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
		" side TEXT NOT NULL, cpu INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,"
		" unit TEXT NOT NULL);"
		"INSERT INTO runs(experiment, variant, rep, status, started_at, ended_at, qemu_version)"
		" VALUES('exp', 'policy=static', 1, 'ok', 'a', 'b', 'QEMU 7.2');"
		"PRAGMA user_version=1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store *s = store_open(path, err, sizeof(err));
	assert_non_null(s);
	assert_false(store_run_done(s, "exp", "", "policy=static", 1)); /* an older identity */
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM runs WHERE vmm = 'QEMU 7.2'"), 1);
}

static void only_ok_runs_are_done_and_reruns_replace(void **state)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));

	assert_non_null(s);
	assert_false(store_run_done(s, "exp", "", "policy=static", 1));
	assert_int_equal(put(s, 1, "timeout", 0), 0);
	assert_false(store_run_done(s, "exp", "", "policy=static", 1)); /* a failed run is redone */
	assert_int_equal(put(s, 1, "ok", 5000), 0);
	assert_true(store_run_done(s, "exp", "", "policy=static", 1));
	assert_false(store_run_done(s, "exp", "", "policy=static", 2));
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM runs"), 1);
	assert_int_equal(query_int("SELECT count(*) FROM metrics"), 1);
	assert_int_equal(query_int("SELECT value FROM metrics"), 5000);
	assert_int_equal(query_int("SELECT count(*) FROM run_params"), 1);
}

/* A writer SIGKILLed in the middle of a run's transaction: the next open sees whole runs only. */
static void killed_writer_leaves_whole_runs(void **state)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	pid_t pid;
	int status;

	assert_int_equal(put(s, 1, "ok", 1), 0);
	store_close(s);
	pid = fork();
	if (pid == 0) {
		sqlite3 *db;
		sqlite3_open(path, &db);
		sqlite3_exec(db, "BEGIN IMMEDIATE;"
				 "INSERT INTO runs(experiment, variant, identity, rep, status, started_at, ended_at)"
				 " VALUES('exp', 'half', 'half', 1, 'ok', 'a', 'b');"
				 "INSERT INTO metrics VALUES(last_insert_rowid(), 'guest', -1, 'x', 1, 'ns');",
			     NULL, NULL, NULL);
		raise(SIGKILL); /* before COMMIT */
	}
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	s = store_open(path, err, sizeof(err));
	assert_non_null(s);
	assert_false(store_run_done(s, "exp", "", "half", 1));
	assert_true(store_run_done(s, "exp", "", "policy=static", 1));
	assert_int_equal(put(s, 2, "ok", 2), 0); /* and it is writable */
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM runs"), 2);
	assert_int_equal(query_int("SELECT count(*) FROM metrics"), 2);
	assert_true(integrity_ok());
}

/* A write SQLite refuses half-way (here a trigger planted on the run's last table): the error
 * names the store, the step and SQLite's reason, and the run it was to replace is still there,
 * whole; the store takes the next run. */
static void refused_write_keeps_the_run_it_would_replace(void **state)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	sqlite3 *db;

	assert_non_null(s);
	assert_int_equal(put(s, 1, "ok", 1000), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER planted BEFORE INSERT ON histograms"
					  " BEGIN SELECT RAISE(ABORT, 'planted refusal'); END;", NULL, NULL, NULL), SQLITE_OK);
	struct metric_set g = { 0 };
	unsigned counts[] = { 1 };
	metrics_add_hist(&g, "lat", -1, 1000, counts, 1, 0);
	struct store_run r = { .experiment = "exp", .variant = "policy=static", .identity = "policy=static", .rep = 1,
			       .status = "ok", .started_at = "t2", .ended_at = "t3", .sets = { &g }, .session = "" };
	assert_int_equal(store_put_run(s, &r, err, sizeof(err)), -1);
	metrics_free(&g);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "storing a run"));
	assert_non_null(strstr(err, "planted refusal"));
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER planted", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(put(s, 2, "ok", 2000), 0); /* no transaction left open */
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM runs"), 2);
	assert_int_equal(query_int("SELECT value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.rep = 1"), 1000);
	assert_int_equal(query_int("SELECT count(*) FROM runs WHERE started_at = 't2'"), 0);
	assert_true(integrity_ok());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(fresh_store_is_migrated_and_reopens, setup),
		cmocka_unit_test_setup(garbage_store_names_its_file, setup),
		cmocka_unit_test_setup(fresh_store_opened_by_many_at_once, setup),
		cmocka_unit_test_setup(schema_1_is_migrated, setup),
		cmocka_unit_test_setup(newer_schema_is_refused, setup),
		cmocka_unit_test_setup(sessions_keep_their_own_runs, setup),
		cmocka_unit_test_setup(only_ok_runs_are_done_and_reruns_replace, setup),
		cmocka_unit_test_setup(killed_writer_leaves_whole_runs, setup),
		cmocka_unit_test_setup(refused_write_keeps_the_run_it_would_replace, setup),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
