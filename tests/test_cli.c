/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include "child.h"
#include "cli.h"
#include "hostinfo.h"
#include "testlib.h"

static void durations_parse_with_units(void **state)
{
	assert_int_equal(parse_duration_ms("5s"), 5000);
	assert_int_equal(parse_duration_ms("5"), 5000);
	assert_int_equal(parse_duration_ms("250ms"), 250);
	assert_int_equal(parse_duration_ms("1.5s"), 1500);
	assert_int_equal(parse_duration_ms("2m"), 120000);
	assert_int_equal(parse_duration_ms("1h"), 3600000);
	assert_int_equal(parse_duration_ms("5 s"), -1);
	assert_int_equal(parse_duration_ms("abc"), -1);
	assert_int_equal(parse_duration_ms("-1s"), -1);
	assert_int_equal(parse_duration_ms("3weeks"), -1);
}

static void integers_are_range_checked(void **state)
{
	long long v;

	assert_int_equal(parse_int("--vcpus", "2", 1, 16, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(parse_int("--vcpus", "0", 1, 16, &v), -1);
	assert_int_equal(parse_int("--vcpus", "17", 1, 16, &v), -1);
	assert_int_equal(parse_int("--vcpus", "2x", 1, 16, &v), -1);
	assert_int_equal(parse_int("--vcpus", "", 1, 16, &v), -1);
}

/* An example value for each argument placeholder the helps use: valid, so that only an unknown
 * option can fail. A new placeholder fails the test until it has one. */
static const char *example_for(const char *opt, const char *placeholder)
{
	static const char *const ex[][2] = {
		/* options whose values are checked at once */
		{ "--interval-us N", "1000" }, { "--vmm NAME", "qemu" }, { "--workload NAME", "cyclic" },
		{ "PATH", "/nonexistent/pvbench.db" }, { "F", "text" }, { "KEY=VALUE", "repeat=1" },
		{ "NAME", "x" }, { "LIST", "lat_avg" }, { "N", "5" }, { "PCT", "5" }, { "Q", "0.05" },
		{ "ID", "x" }, { "CONNINFO", "postgresql:///x" }, { "DIR", "/nonexistent" },
		{ "VALUE", "x" }, { "KEY", "policy" }, { "A,B", "lat_avg" }, { "D", "5s" },
		{ "MIB", "64" }, { "ELF", "/nonexistent.elf" }, { "G", "pvbench" }, { "A", "kvm" },
	};
	char both[96];
	snprintf(both, sizeof(both), "%s %s", opt, placeholder);
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		if (!strcmp(both, ex[i][0]))
			return ex[i][1];
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		if (!strcmp(placeholder, ex[i][0]))
			return ex[i][1];
	return placeholder[0] >= '0' && placeholder[0] <= '9' ? placeholder : NULL;
}

/* pvbench ARGV... with its output in a file: the exit status, and the output in out */
static int pvbench_text(char **argv, char *out, size_t outlen)
{
	char bin[512], err[256], path[128];
	char *full[16] = { bin };
	struct child c;
	struct child_io io = { .stdout_path = path, .stderr_path = path };

	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	assert_int_equal(test_file(path, sizeof(path), "out.txt"), 0);
	for (int i = 0; argv[i] && i < 14; i++)
		full[i + 1] = argv[i];
	assert_int_equal(child_spawn(&c, full, &io, err, sizeof(err)), 0);
	assert_true(child_wait(&c, 20000));
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, outlen - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
	unlink(path);
	return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

/* Every option that a command's --help names is one its parser takes: `pvbench CMD --OPT [ARG]
 * --help` parses the option, then prints the help and exits 0; an option the parser lost fails
 * here on every machine (a KVM-only test once called one that was gone, unseen for four rounds). */
static void every_option_a_help_names_is_accepted(void **state)
{
	static char help[16384], out[16384];
	char *cmds[][2] = { { "run" }, { "ab" }, { "nightly" }, { "reproduce" }, { "plot" }, { "push" },
			    { "report" }, { "compare" }, { "channels" }, { "memory" }, { "guest", "run" } };
	int checked = 0;

	/* every command pvbench lists is here */
	assert_int_equal(pvbench_text((char *[]){ "--help", NULL }, help, sizeof(help)), 0);
	for (char *line = strtok(help, "\n"); line; line = strtok(NULL, "\n")) {
		char name[32];
		if (strncmp(line, "  ", 2) || line[2] == ' ' || sscanf(line, "%31s", name) != 1)
			continue;
		int known = 0;
		for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
			known |= !strcmp(cmds[c][0], name);
		if (!known)
			fail_msg("pvbench --help lists \"%s\", which this test does not check", name);
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		char *argv[8] = { cmds[c][0] };
		int base = cmds[c][1] ? 2 : 1;
		argv[1] = cmds[c][1];
		argv[base] = "--help";
		argv[base + 1] = NULL;
		assert_int_equal(pvbench_text(argv, help, sizeof(help)), 0);
		/* each option once, with the placeholder of any mention that shows one (prose mentions
		 * like "or --max-runs is spent" show none) */
		char opts[64][40], phs[64][40];
		int nopt = 0;
		for (char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
			char opt[40] = "", ph[40] = "";
			if (!(p[2] >= 'a' && p[2] <= 'z') || sscanf(p, "%39[a-z-]", opt) != 1)
				continue;
			const char *after = p + strlen(opt);
			if (*after == ' ' && after[1] >= 'A' && after[1] <= 'Z')
				sscanf(after + 1, "%39[A-Z=,]", ph);
			else if (*after == ' ' && after[1] >= '0' && after[1] <= '9') /* an example: "--count 1000" */
				sscanf(after + 1, "%39[0-9]", ph);
			for (size_t l = strlen(ph); l && ph[l - 1] == ','; l--) /* prose: "(--type NAME, or" */
				ph[l - 1] = 0;
			int i = 0;
			while (i < nopt && strcmp(opts[i], opt))
				i++;
			if (i == nopt && nopt < 64) {
				snprintf(opts[nopt], sizeof(opts[0]), "%s", opt);
				phs[nopt++][0] = 0;
			}
			if (i < nopt && ph[0])
				snprintf(phs[i], sizeof(phs[0]), "%s", ph);
		}
		for (int i = 0; i < nopt; i++) {
			const char *ex = phs[i][0] ? example_for(opts[i], phs[i]) : NULL;
			if (phs[i][0] && !ex)
				fail_msg("pvbench %s --help: %s %s: give the placeholder an example here", argv[0],
					 opts[i], phs[i]);
			int n = base;
			argv[n++] = opts[i];
			if (ex)
				argv[n++] = (char *)ex;
			argv[n++] = "--help";
			argv[n] = NULL;
			if (pvbench_text(argv, out, sizeof(out)) != 0)
				fail_msg("pvbench %s %s %s --help: not accepted:\n%s", argv[0], opts[i], ex ? ex : "", out);
			checked++;
		}
	}
	assert_true(checked > 50);
	/* a run of nothing is refused, not an ok run of 0 samples */
	assert_int_equal(pvbench_text((char *[]){ "guest", "run", "--duration", "0", NULL }, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "--duration: must be longer than 0"));
}

/* `pvbench run --dry-run` of an experiment file written from ini: its exit status, its output in out */
static int dry_run(const char *ini, char *out, size_t outlen)
{
	char path[128], db[128];
	assert_int_equal(test_file(path, sizeof(path), "dry.ini"), 0);
	assert_int_equal(test_file(db, sizeof(db), "none.db"), 0);
	FILE *f = fopen(path, "w");
	fputs(ini, f);
	fclose(f);
	int rc = pvbench_text((char *[]){ "run", "--dry-run", "--db", db, path, NULL }, out, outlen);
	unlink(path);
	return rc;
}

/* A workload declares its keys in its own file; a config's job_args is checked against them
 * before anything runs (a typo measured the default, silently), with file, line and key, and
 * `run --keys` lists them. */
static void job_args_are_the_workload_s_declared_keys(void **state)
{
	static char out[65536];
	static const struct { const char *ini, *want; } bad[] = {
		{ "[global]\nworkload = cyclic\n\n[rt]\njob_args = rt_prio=50 intreval_us=100\n",
		  ":5: job_args: intreval_us: not a key of workload cyclic: did you mean interval_us? (its keys: interval_us, duration_ms, hist_us; every job's: rt_prio)" },
		{ "[global]\nworkload = iopath\njob_args = rw=randrw\n", ":3: job_args: rw=randrw: not one of read|write|randread|randwrite" },
		{ "[global]\nworkload = audioloop\njob_args = load_pct=95\n", ":3: job_args: load_pct=95: takes an integer in [1, 90]" },
		{ "[global]\nworkload = frameloop\njob_args = duration_ms=10\n", ":3: job_args: duration_ms: the experiment sets it" },
		{ "[global]\nworkload = cyclic\njob_args = rt_prio\n", ":3: job_args: \"rt_prio\": not KEY=VALUE" },
		/* a key of another workload is not a typo of one of these: no guess */
		{ "[global]\nworkload = cyclic\njob_args = fps=30\n", ":3: job_args: fps: not a key of workload cyclic (its keys:" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dry_run(bad[i].ini, out, sizeof(out)), 1);
		if (!strstr(out, bad[i].want))
			fail_msg("%s: wanted \"%s\", got: %s", bad[i].ini, bad[i].want, out);
	}
	/* the declared ones pass: every key of one workload, and a Linux tool's own options */
	if (dry_run("[global]\nworkload = frameloop\njob_args = fps=30 load_lo=10 load_hi=90 period_ms=500 migrate_frames=0 "
		    "placement=capacity rt_prio=10\n\n[fio]\nguest = linux\nmem_mb = 512\nvmm = qemu\nworkload = fio\n"
		    "job_args = --rw=randread --bs=4k\n", out, sizeof(out)))
		fail_msg("declared keys refused: %s", out);
	assert_int_equal(pvbench_text((char *[]){ "run", "--keys", NULL }, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "workloads (workload = NAME"));
	assert_non_null(strstr(out, "placement       rotate|capacity"));
	assert_non_null(strstr(out, "policies (policy = NAME)"));
	assert_non_null(strstr(out, "dynamic-predictive"));
}

/* What a policy needs of the VM is the policy's to say (its keys, through vm_spec): a doorbell
 * asked of a VMM that has none is refused before anything runs, naming the policy. */
static void a_policy_s_needs_are_checked_before_running(void **state)
{
	static char out[4096];
	assert_int_equal(dry_run("[global]\nguest = linux\nmem_mb = 256\naccel = tcg\npolicy = dynamic-eager\n"
				 "boost_device = ivshmem\n", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "policy dynamic-eager: its keys ask for the doorbell"));
	assert_int_equal(dry_run("[global]\nguest = linux\nmem_mb = 256\naccel = tcg\npolicy = util_guest\n"
				 "util_channel = doorbell\n", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "policy util_guest: its keys ask for the doorbell"));
	/* pvbench's own VMM has a doorbell of its own */
	assert_int_equal(dry_run("[global]\nvmm = pvbench\npolicy = dynamic-eager\nboost_device = ivshmem\n", out,
				 sizeof(out)), 0);
}

/* --set is applied before the experiment is checked: a file that fails the check alone (here,
 * more writers than vCPUs; on a one-CPU host, dvfs_cpus' default) runs once --set fixes it. */
static void set_values_are_what_is_checked(void **state)
{
	static char out[65536];
	char path[128], db[128];
	assert_int_equal(test_file(path, sizeof(path), "set.ini"), 0);
	assert_int_equal(test_file(db, sizeof(db), "none.db"), 0);
	FILE *f = fopen(path, "w");
	fputs("[global]\ntype = migration\nvcpus = 2\nwriters = 3\n", f);
	fclose(f);
	assert_int_equal(pvbench_text((char *[]){ "run", "--dry-run", "--db", db, path, NULL },
				      out, sizeof(out)), 1);
	assert_non_null(strstr(out, "writers: at most vcpus"));
	assert_int_equal(pvbench_text((char *[]){ "run", "--dry-run", "--db", db, "--set",
						  "writers=1", path, NULL }, out, sizeof(out)), 0);
	assert_int_equal(pvbench_text((char *[]){ "run", "--dry-run", "--db", db, "--set",
						  "writers=4", path, NULL }, out, sizeof(out)), 1);
	/* a --set error says it came from --set, and a typo's likely meaning */
	assert_int_equal(pvbench_text((char *[]){ "run", "--dry-run", "--db", db, "--set",
						  "writrs=1", path, NULL }, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "pvbench: --set: writrs: unknown key for type migration: did you mean writers?"));
	unlink(path);
}

/* The time --dry-run gives leaves out what this host will skip at once (it has no KVM): the
 * channels type always needs KVM, a guest needs it unless accel = tcg. */
static void dry_run_counts_what_this_host_skips(void **state)
{
	static char out[65536];
	struct hostinfo hi;
	char err[256];
	int kvm = hostinfo_read(&hi, err, sizeof(err)) == 0;
	assert_int_equal(dry_run("[global]\ntype = channels\nchannel = none, pio\nrepeat = 2\n", out, sizeof(out)), 0);
	if (kvm)
		assert_null(strstr(out, "skipped at once"));
	else
		assert_non_null(strstr(out, "8 to run (8 skipped at once here: no KVM), under a second ("));
	assert_int_equal(dry_run("[global]\naccel = tcg, kvm\nduration = 30s\n", out, sizeof(out)), 0);
	if (!kvm) /* the TCG run's 30 s are still to come */
		assert_non_null(strstr(out, "2 to run (1 skipped at once here: no KVM), about 31 s ("));
}

/* A mistyped command gets the one it most likely meant; one too far from any gets the list. */
static void a_mistyped_command_is_named(void **state)
{
	static char out[8192];
	assert_int_equal(pvbench_text((char *[]){ "reprodcue", NULL }, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "unknown command \"reprodcue\": did you mean reproduce?"));
	assert_null(strstr(out, "commands:"));
	assert_int_equal(pvbench_text((char *[]){ "benchmark", NULL }, out, sizeof(out)), 1);
	assert_null(strstr(out, "did you mean"));
	assert_non_null(strstr(out, "commands:"));
}

/* reproduce --run --set: a key the experiment's type does not have is left out there, and said
 * (with --all one --set meets every type: the memory type has no accel); the runs go on. */
static void reproduce_sets_only_the_keys_a_type_has(void **state)
{
	static char out[65536];
	char dir[64], db[128];
	assert_int_equal(test_dir(dir, sizeof(dir), "cli-repro"), 0);
	setenv("PVBENCH_HOST", "pvbench-test-cli", 1);
	snprintf(db, sizeof(db), "%s/r.db", dir);
	int rc = pvbench_text((char *[]){ "reproduce", "004", "--run", "--set", "accel=tcg", "--set", "repeat=1", "--db",
					  db, NULL }, out, sizeof(out));
	if (rc != 0)
		fail_msg("exit %d: %s", rc, out);
	assert_non_null(strstr(out, "memory has no key accel: --set accel=tcg left out there"));
	assert_non_null(strstr(out, "004-prepopulate"));
	/* the estimate before it: nothing of this experiment stored from this host yet, so 5 s a run;
	 * once the store holds an ok run of it from this host (7 s here; another host's is not
	 * counted), that run's overhead */
	assert_non_null(strstr(out, "measured on this host for 0 of them"));
	struct hostinfo hi;
	char herr[256];
	if (hostinfo_read(&hi, herr, sizeof(herr))) /* no KVM: the memory type's runs cost nothing here */
		assert_non_null(strstr(out, "skipped at once here: no KVM), in 1 experiment: about 0.0 min"));
	sqlite3 *h;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "INSERT INTO runs(experiment, variant, rep, status, started_at, ended_at, identity,"
				      " host) VALUES ('memory', 'x', 1, 'ok', '2026-01-01T00:00:00Z', '2026-01-01T00:00:07Z',"
				      " 'x', 'pvbench-test-cli'), ('memory', 'x', 2, 'ok', '2026-01-01T00:00:00Z',"
				      " '2026-01-01T01:00:00Z', 'x', 'elsewhere')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	rc = pvbench_text((char *[]){ "reproduce", "004", "--run", "--set", "accel=tcg", "--set", "repeat=1", "--db",
				      db, NULL }, out, sizeof(out));
	if (rc != 0)
		fail_msg("exit %d: %s", rc, out);
	assert_non_null(strstr(out, "measured on this host for 1 of them"));
	assert_non_null(strstr(out, "about 0.")); /* not an hour a run: the other host's */
	unsetenv("PVBENCH_HOST");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations_parse_with_units),
		cmocka_unit_test(integers_are_range_checked),
		cmocka_unit_test(every_option_a_help_names_is_accepted),
		cmocka_unit_test(a_policy_s_needs_are_checked_before_running),
		cmocka_unit_test(job_args_are_the_workload_s_declared_keys),
		cmocka_unit_test(set_values_are_what_is_checked),
		cmocka_unit_test(a_mistyped_command_is_named),
		cmocka_unit_test(dry_run_counts_what_this_host_skips),
		cmocka_unit_test(reproduce_sets_only_the_keys_a_type_has),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
