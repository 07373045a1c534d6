/* SPDX-License-Identifier: MIT */
/* The experiment engine end to end with the null type (no KVM needed): what is stored, what a
 * rerun does after an edit, every status, the watchdog, Ctrl-C, the lock, and files that are not
 * experiments. Asserts on the store and on processes, not on scraped text. */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "child.h"
#include "cli.h"
#include "testlib.h"

static char tmp[256], db[300], ini[300];

static int setup(void **state)
{
	if (test_dir(tmp, sizeof(tmp), "engine"))
		return -1;
	snprintf(db, sizeof(db), "%s/pv.db", tmp);
	snprintf(ini, sizeof(ini), "%s/exp.ini", tmp);
	return 0;
}

static void write_ini(const char *text)
{
	FILE *f = fopen(ini, "w");
	fputs(text, f);
	fclose(f);
}

static void start(struct child *c, const char *file, const char *extra)
{
	char bin[512], err[256], dbopt[320];
	char *argv[] = { bin, "run", "--db", dbopt, (char *)file, (char *)extra, NULL };
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	snprintf(dbopt, sizeof(dbopt), "%s", db);
	assert_int_equal(child_spawn(c, argv, NULL, err, sizeof(err)), 0);
}

static int pvbench_run(const char *file, const char *extra)
{
	struct child c;
	start(&c, file, extra);
	assert_true(child_wait(&c, 60000));
	return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

static int count(const char *where)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	char sql[512];
	int n = -1;

	if (access(db, F_OK))
		return 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs WHERE %s", where);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* Edits of a result key run again; bookkeeping edits never split the runs. */
static void identity_decides_what_runs_again(void **state)
{
	write_ini("[global]\ntype = null\nwork_us = 5, 10\nops = 20\nrepeat = 2\n");
	assert_int_equal(pvbench_run(ini, NULL), 0);
	assert_int_equal(count("status='ok'"), 4);
	/* what the run's process measured reaches the store whole: its distribution too */
	assert_int_equal(count("EXISTS (SELECT 1 FROM histograms h WHERE h.run_id = runs.id AND h.name = 'op'"
			       " AND h.bucket_ns = 1000 AND h.counts != '')"), 4);
	assert_int_equal(pvbench_run(ini, NULL), 0); /* all stored: nothing runs */
	assert_int_equal(count("1"), 4);
	write_ini("[global]\ntype = null\nwork_us = 5, 10\nops = 20\nrepeat = 3\n"
		  "description = more repeats\ntimeout = 30s\n");
	assert_int_equal(pvbench_run(ini, NULL), 0);
	assert_int_equal(count("1"), 6);              /* only rep 3 is new */
	assert_int_equal(count("identity LIKE '%ops=20%'"), 6);
	write_ini("[global]\ntype = null\nwork_us = 5, 10\nops = 30\nrepeat = 3\n");
	assert_int_equal(pvbench_run(ini, NULL), 0);
	assert_int_equal(count("identity LIKE '%ops=30%'"), 6); /* an edit runs again */
	assert_int_equal(count("identity LIKE '%ops=20%'"), 6); /* older runs stay in the store */
	/* bookkeeping keys are not run parameters: they never become an axis */
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_prepare_v2(h, "SELECT count(*) FROM run_params WHERE key IN ('repeat','timeout','description','baseline')",
			   -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* Every way a run can end is stored as such; the matrix goes on; a hang is killed by the
 * watchdog and leaves no process. */
static void every_status_is_stored(void **state)
{
	write_ini("[global]\ntype = null\nops = 5\noutcome = ok, failed, skipped, hang, crash\ntimeout = 2s\n");
	assert_int_equal(pvbench_run(ini, NULL), EXIT_FAILED);
	assert_int_equal(count("status='ok'"), 1);
	assert_int_equal(count("status='failed' AND reason LIKE '%asked to fail%'"), 1);
	assert_int_equal(count("status='skipped' AND reason LIKE 'unavailable:%'"), 1);
	assert_int_equal(count("status='timeout' AND reason LIKE 'hangs:%'"), 1);
	assert_int_equal(count("status='crashed'"), 1);
	/* a skip is the host's answer, not a failure: the next run does not retry ok ones */
	assert_int_equal(pvbench_run(ini, NULL), EXIT_FAILED);
	assert_int_equal(count("1"), 5);
}

/* The null type's work is CPU time: on a loaded CPU (here one CPU shared eight ways) a run takes
 * several times its work in wall time, and the watchdog must not call that a hang. */
static void cpu_work_survives_a_loaded_host(void **state)
{
	cpu_set_t one, all;
	pid_t spin[7];

	write_ini("[global]\ntype = null\nwork_us = 4000\nops = 100\n");
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	for (int i = 0; i < 7; i++)
		if (!(spin[i] = fork()))
			for (;;)
				;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = pvbench_run(ini, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (int i = 0; i < 7; i++)
		kill(spin[i], SIGKILL);
	for (int i = 0; i < 7; i++)
		waitpid(spin[i], NULL, 0);
	sched_setaffinity(0, sizeof(all), &all);
	print_message("0.4 s of CPU work took %.1f s on the shared CPU\n", took);
	assert_int_equal(rc, 0);
	assert_int_equal(count("status='ok'"), 1);
}

/* Ctrl-C during a run: exit 130, the run is not stored, no child of pvbench is left. */
static void interrupt_stores_nothing_and_leaves_nothing(void **state)
{
	struct child c;
	write_ini("[global]\ntype = null\nops = 5\noutcome = ok, hang\ntimeout = 60s\n");
	start(&c, ini, NULL);
	for (int i = 0; i < 400 && count("status='ok'") < 1; i++)
		usleep(25000);
	usleep(300000); /* the hanging run has started */
	kill(c.pid, SIGINT);
	assert_true(child_wait(&c, 10000));
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), EXIT_INTERRUPTED);
	assert_int_equal(count("1"), 1); /* the ok run; the interrupted one is not a result */
	assert_int_equal(count("status='ok'"), 1);
	char me[64];
	snprintf(me, sizeof(me), "%s", ini);
	assert_int_equal(procs_matching(me), 0);
}

/* Two runs of one experiment at once: the second refuses, and says who holds the lock. */
static void one_run_of_an_experiment_at_a_time(void **state)
{
	struct child c;
	write_ini("[global]\ntype = null\nops = 5\noutcome = hang\ntimeout = 5s\n");
	start(&c, ini, NULL);
	usleep(500000);
	assert_int_equal(pvbench_run(ini, NULL), EXIT_ERROR);
	/* the same store by another name (a symlink in another folder) is the same store */
	char alias[400], saved[sizeof(db)], sub[300];
	snprintf(sub, sizeof(sub), "%s/elsewhere", tmp);
	assert_int_equal(mkdir_p(sub), 0);
	snprintf(alias, sizeof(alias), "%s/alias.db", sub);
	assert_int_equal(symlink(db, alias), 0);
	snprintf(saved, sizeof(saved), "%s", db);
	snprintf(db, sizeof(db), "%s", alias);
	int rc = pvbench_run(ini, NULL);
	snprintf(db, sizeof(db), "%s", saved);
	assert_int_equal(rc, EXIT_ERROR);
	kill(c.pid, SIGINT);
	assert_true(child_wait(&c, 10000));
}

/* A shorthand's --KEY VALUE options are the type's keys: they reach the run's identity. */
static void shorthand_options_are_keys(void **state)
{
	char bin[512], err[256], dbopt[320];
	char *argv[] = { bin, "memory", "--db", dbopt, "--size-mib", "8", "--backing", "demand",
			 "--vcpus", "1", NULL };
	struct child c;
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	snprintf(dbopt, sizeof(dbopt), "%s", db);
	assert_int_equal(child_spawn(&c, argv, NULL, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 60000));
	assert_int_equal(count("experiment='memory' AND identity='type=memory backing=demand size_mib=8 vcpus=1'"), 1);
	/* ok where KVM runs it, skipped with the reason where there is none */
	assert_int_equal(count("status='ok' OR (status='skipped' AND reason LIKE 'unavailable: %')"), 1);
}

/* --dry-run lists the order, marks what the store has, says how long the rest takes, and runs
 * and stores nothing. */
static void dry_run_marks_the_stored_and_runs_nothing(void **state)
{
	char bin[512], err[256], dbopt[320], out[400], errp[400];
	static char buf[1 << 14];
	struct child c;

	write_ini("[global]\ntype = null\nwork_us = 5, 10\nops = 20\n");
	assert_int_equal(pvbench_run(ini, NULL), 0);
	write_ini("[global]\ntype = null\nwork_us = 5, 10\nops = 20\nrepeat = 3\n");
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	snprintf(dbopt, sizeof(dbopt), "%s", db);
	snprintf(out, sizeof(out), "%s/dry.out", tmp);
	snprintf(errp, sizeof(errp), "%s/dry.err", tmp);
	char *argv[] = { bin, "run", "--dry-run", "--db", dbopt, ini, NULL };
	assert_int_equal(child_spawn(&c, argv, &(struct child_io){ .stdout_path = out, .stderr_path = errp }, err,
				     sizeof(err)), 0);
	assert_true(child_wait(&c, 60000));
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	read_text(out, buf, sizeof(buf));
	int lines = 0, stored = 0;
	for (char *l = buf; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n')) {
		lines++;
		stored += !strncmp(l + strcspn(l, "\n") - 10, "  (stored)", 10);
	}
	assert_int_equal(lines, 6);
	assert_int_equal(stored, 2); /* the first repetition of each */
	read_text(errp, buf, sizeof(buf));
	/* the time: "under a second", or "about N s" when a stored run's whole-second stamps
	 * straddled a second */
	const char *t = strstr(buf, "pvbench: 6 runs, 2 stored already: 4 to run, ");
	assert_non_null(t);
	t += strlen("pvbench: 6 runs, 2 stored already: 4 to run, ");
	assert_true(!strncmp(t, "under a second (", 16) || !strncmp(t, "about ", 6));
	assert_non_null(strstr(buf, "as measured here")); /* the stored runs gave the overhead */
	assert_int_equal(count("1"), 2);                 /* nothing run, nothing stored */
}

/* Not an experiment: an error that names it, nothing started, nothing stored. */
static void directories_and_empty_files_are_errors(void **state)
{
	assert_int_equal(pvbench_run(tmp, NULL), EXIT_ERROR);
	write_ini("");
	assert_int_equal(pvbench_run(ini, NULL), EXIT_ERROR);
	write_ini("; nothing\n");
	assert_int_equal(pvbench_run(ini, NULL), EXIT_ERROR);
	assert_int_equal(access(db, F_OK), -1);
}

/* channels and memory through the engine and back through compare (KVM only: pvbench's VMM). */
static void vmm_types_store_and_compare(void **state)
{
	static const char *const files[] = {
		"[global]\ntype = channels\nchannel = none, pio, shm_busy\nring = 3\ncount = 50\n",
		"[global]\ntype = memory\nbacking = demand, populated, prefault\nvcpus = 1\nsize_mib = 8\n",
	};
	static const char *const names[] = { "channels", "memory" };

	REQUIRE_KVM();
	for (int f = 0; f < 2; f++) {
		char path[400], bin[512], err[256];
		snprintf(path, sizeof(path), "%s/%s.ini", tmp, names[f]);
		FILE *fp = fopen(path, "w");
		fputs(files[f], fp);
		fclose(fp);
		assert_int_equal(pvbench_run(path, NULL), EXIT_OK);
		char where[200];
		snprintf(where, sizeof(where), "experiment='%s' AND status='ok'", names[f]);
		assert_true(count(where) >= 2);
		snprintf(where, sizeof(where), "experiment='%s' AND status NOT IN ('ok','skipped')", names[f]);
		assert_int_equal(count(where), 0);
		/* every ok run has its figures */
		sqlite3 *h;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		char sql[300];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs r WHERE experiment='%s' AND status='ok' AND"
			 " NOT EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=r.id AND m.name='%s')", names[f],
			 f ? "write_all" : "cost_p50");
		sqlite3_prepare_v2(h, sql, -1, &st, NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 0);
		sqlite3_finalize(st);
		sqlite3_close(h);
		struct child c;
		char dbopt[320];
		snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
		snprintf(dbopt, sizeof(dbopt), "%s", db);
		char *argv[] = { bin, "compare", "--db", dbopt, (char *)names[f], NULL };
		assert_int_equal(child_spawn(&c, argv, NULL, err, sizeof(err)), 0);
		assert_true(child_wait(&c, 20000));
		assert_int_equal(WEXITSTATUS(c.status), EXIT_OK);
	}
}

/* Ctrl-C in the middle of a channels or a memory run: exit 130, nothing interrupted stored, no
 * child left (KVM only). */
static void vmm_types_interrupted(void **state)
{
	static const char *const files[] = {
		"[global]\ntype = channels\nchannel = pio\nring = 3\ncount = 100000\npace_us = 100\n",
		"[global]\ntype = memory\nbacking = demand\nvcpus = 1\nsize_mib = 2048\nrepeat = 3\n",
	};

	REQUIRE_KVM();
	for (int f = 0; f < 2; f++) {
		struct child c;
		write_ini(files[f]);
		start(&c, ini, NULL);
		usleep(1500000);
		kill(c.pid, SIGINT);
		assert_true(child_wait(&c, 10000));
		assert_true(WIFEXITED(c.status));
		assert_int_equal(WEXITSTATUS(c.status), EXIT_INTERRUPTED);
		assert_int_equal(count("status NOT IN ('ok')"), 0);
		assert_int_equal(procs_matching(ini), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(identity_decides_what_runs_again, setup),
		cmocka_unit_test_setup(every_status_is_stored, setup),
		cmocka_unit_test_setup(cpu_work_survives_a_loaded_host, setup),
		cmocka_unit_test_setup(interrupt_stores_nothing_and_leaves_nothing, setup),
		cmocka_unit_test_setup(one_run_of_an_experiment_at_a_time, setup),
		cmocka_unit_test_setup(shorthand_options_are_keys, setup),
		cmocka_unit_test_setup(dry_run_marks_the_stored_and_runs_nothing, setup),
		cmocka_unit_test_setup(directories_and_empty_files_are_errors, setup),
		kvm_test_setup(vmm_types_store_and_compare, setup),
		kvm_test_setup(vmm_types_interrupted, setup),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
