/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "compare.h"
#include "config.h"
#include "engine.h"
#include "hostinfo.h"
#include "store.h"
#include "util.h"

/* ---- the driver ---- */

static void iso_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

static void read_loadavg(char *buf, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");
	buf[0] = 0;
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static long long timeout_of(const struct run_spec *r)
{
	long long t = spec_int(r, "timeout");
	if (t > 0)
		return t;
	return r->type->timeout_ms ? r->type->timeout_ms(r) : 60000;
}

/* One lock per experiment and store: a second `pvbench run` of it would run the same missing
 * runs into the same directories. Held until the process ends. */
static int lock_experiment(const char *runs_root, const char *name, char *err, size_t errlen)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", runs_root, name);
	if (mkdir_p(path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s/.lock", runs_root, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "experiment %s is being run by another pvbench (%s is locked)", name,
			 path);
		close(fd);
		errno = EWOULDBLOCK;
		return -1;
	}
	return fd; /* left open: the lock lives as long as this process */
}

static void store_one(struct store *st, const struct experiment *e, const struct run_spec *r,
		      const struct run_env *env, struct run_result *res, const char *started,
		      const char *loadavg, const char *session, const char *under_test, char *err,
		      size_t errlen)
{
	const char *keys[ENGINE_MAX_KEYS], *vals[ENGINE_MAX_KEYS];
	char ended[32];
	int n = 0;

	/* bookkeeping keys are not results' parameters: they never become a table axis */
	for (int k = 0; k < r->nkeys; k++)
		if (!(r->keys[k]->flags & KEY_BOOKKEEPING)) {
			keys[n] = r->keys[k]->name;
			vals[n++] = r->val[k];
		}
	iso_now(ended, sizeof(ended));
	struct store_run sr = {
		.experiment = e->name, .variant = r->variant, .identity = r->identity, .rep = r->rep,
		.nr_params = n, .param_keys = keys, .param_values = vals,
		.status = run_status_name(res->status), .reason = res->reason,
		.started_at = started, .ended_at = ended,
		.host_kernel = env->host->host_kernel, .kvm_backend = env->host->kvm_backend,
		.vmm = res->vmm, .guest_build = env->guest->build_id,
		.pvbench_commit = env->host->pvbench_commit, .tsc_khz = env->host->tsc_khz,
		.run_dir = env->run_dir, .loadavg = loadavg, .session = session, .host = env->host->host,
		.under_test = under_test && *under_test ? under_test : env->host->pvbench_commit,
	};
	for (int s = 0; s < NR_SIDES; s++)
		sr.sets[s] = &res->m[s];
	if (store_put_run(st, &sr, err, errlen) < 0) {
		res->status = RUN_ERROR;
		snprintf(res->reason, sizeof(res->reason), "%s", err);
	}
}

static int define(struct store *st, const struct experiment *e, const struct run_spec *runs, int nr,
		  char *err, size_t errlen)
{
	const char **id = calloc((size_t)nr, sizeof(char *)), **var = calloc((size_t)nr, sizeof(char *));
	int rc = -1;

	if (id && var) {
		for (int i = 0; i < nr; i++) {
			id[i] = runs[i].identity;
			var[i] = runs[i].variant;
		}
		const char *b = experiment_global(e, "baseline"), *rw = experiment_global(e, "rows"),
			   *cl = experiment_global(e, "columns"), *mt = experiment_global(e, "metrics");
		struct store_definition d = {
			.experiment = e->name, .type = e->type->name, .path = e->path,
			.description = experiment_global(e, "description"),
			.baseline = *b ? b : e->type->baseline, .rows = *rw ? rw : e->type->rows,
			.columns = *cl ? cl : e->type->columns, .metrics = *mt ? mt : e->type->metrics,
			.n = nr, .identity = id, .variant = var,
		};
		rc = store_define(st, &d, err, errlen);
	}
	free(id);
	free(var);
	return rc;
}

/* What every run of an experiment shares: the host's and guest's facts, the store (locked for
 * this experiment), where run directories go. */
struct engine_session {
	const struct experiment *e;
	struct hostinfo host;
	struct guestinfo gi;
	struct store *st;
	char kernel[1024], runs_root[1100];
	char session[32], under_test[128];
};

struct engine_session *engine_session_open(const struct experiment *e, const struct run_spec *runs,
					   int nr, const char *db, unsigned flags, char *err, size_t errlen)
{
	struct engine_session *s = calloc(1, sizeof(*s));
	char dbdir[1024], herr[256];

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->e = e;
	snprintf(s->kernel, sizeof(s->kernel), "%s/pvbench-guest.elf", pvb_build_dir());
	/* without KVM the types that need it skip their runs (and say why); the others run */
	hostinfo_read(&s->host, herr, sizeof(herr)); /* host.no_kvm says why not */
	if (guestinfo_read(s->kernel, &s->gi, err, errlen) < 0)
		goto fail;
	/* run directories, and the experiment's lock, live next to the store: results/pvbench.db ->
	 * results/runs/. Next to the file itself: a store reached through a symlink or another
	 * spelling of its path has one lock, not one per name */
	char real[PATH_MAX];
	snprintf(dbdir, sizeof(dbdir), "%s", realpath(db, real) ? real : db);
	if (strrchr(dbdir, '/'))
		*strrchr(dbdir, '/') = 0;
	else
		snprintf(dbdir, sizeof(dbdir), ".");
	snprintf(s->runs_root, sizeof(s->runs_root), "%s/runs", dbdir);
	if (mkdir_p(dbdir) < 0) {
		snprintf(err, errlen, "%s: %s", dbdir, strerror(errno));
		goto fail;
	}
	if (realpath(dbdir, real)) /* a new store: its folder, resolved */
		snprintf(s->runs_root, sizeof(s->runs_root), "%s/runs", real);
	if (lock_experiment(s->runs_root, e->name, err, errlen) < 0) {
		if (errno == EWOULDBLOCK && (flags & ENGINE_SESSION_NEW)) {
			engine_session_close(s);
			errno = EEXIST; /* another session holds the name: not this one's to share */
			return NULL;
		}
		goto fail;
	}
	s->st = store_open(db, err, errlen);
	if (s->st && (flags & ENGINE_SESSION_NEW) && store_has_experiment(s->st, e->name)) {
		snprintf(err, errlen, "%s: the store has it already", e->name);
		engine_session_close(s);
		errno = EEXIST;
		return NULL;
	}
	if (!s->st || define(s->st, e, runs, nr, err, errlen))
		goto fail;
	fprintf(stderr, "pvbench: %s (%s) into %s: KVM %s, guest %s\n", e->name, e->type->name, db,
		s->host.kvm_backend, s->gi.build_id);
	return s;
fail:
	engine_session_close(s);
	return NULL;
}

void engine_session_nightly(struct engine_session *s, const char *session, const char *under_test)
{
	snprintf(s->session, sizeof(s->session), "%s", session);
	snprintf(s->under_test, sizeof(s->under_test), "%s", under_test ? under_test : "");
}

struct store *engine_session_store(struct engine_session *s)
{
	return s->st;
}

void engine_session_close(struct engine_session *s)
{
	if (s)
		store_close(s->st);
	free(s);
}

void engine_session_run(struct engine_session *s, const struct run_spec *r, struct run_result *res)
{
	char dir[1500], vdir[256], started[32], loadavg[128], err[1024];

	snprintf(vdir, sizeof(vdir), "%s", r->variant[0] ? r->variant : "default");
	for (char *p = vdir; *p; p++)
		if (*p == ' ' || *p == '/')
			*p = *p == ' ' ? '+' : '_';
	snprintf(dir, sizeof(dir), "%s/%s/%s%s%s/rep%d", s->runs_root, s->e->name, s->session,
		 s->session[0] ? "/" : "", vdir, r->rep);
	struct run_env env = { .host = &s->host, .guest = &s->gi, .kernel = s->kernel, .run_dir = dir };
	double cpu0 = cpu_ms(), t0 = mono_ms();
	read_loadavg(loadavg, sizeof(loadavg));
	iso_now(started, sizeof(started));
	if (mkdir_p(dir) < 0) {
		memset(res, 0, sizeof(*res));
		run_fail(res, RUN_ERROR, "%s: %s", dir, strerror(errno));
	} else {
		engine_run_one(r, &env, timeout_of(r), res);
	}
	metrics_add(&res->m[SIDE_HARNESS], "wall", "ns", PVB_LESS, METRIC_CPU_VM, (mono_ms() - t0) * 1e6);
	metrics_add(&res->m[SIDE_HARNESS], "harness_cpu", "ns", PVB_LESS, METRIC_CPU_VM, (cpu_ms() - cpu0) * 1e6);
	if (res->status != RUN_INTERRUPTED) /* an interrupted run is not a result: redo it */
		store_one(s->st, s->e, r, &env, res, started, loadavg, s->session, s->under_test, err,
			  sizeof(err));
}

enum run_status engine_session_step(struct engine_session *s, const struct run_spec *r, struct progress *pg, int k,
				    const char *what, char *reason, size_t n)
{
	struct run_result res;
	char why[700];

	progress_begin(pg, k, what);
	engine_session_run(s, r, &res);
	snprintf(why, sizeof(why), "%s: %s", run_status_name(res.status), res.reason);
	progress_end(pg, k, what, res.status == RUN_OK ? NULL : why);
	if (reason)
		snprintf(reason, n, "%s", res.reason);
	enum run_status st = res.status;
	run_result_free(&res);
	return st;
}

int engine_run_alone(const struct experiment *e, const struct run_env *env, struct run_result *out, char *err,
		     size_t errlen)
{
	struct run_spec *runs;
	int nr;

	if (experiment_check(e, err, errlen) || experiment_matrix(e, &runs, &nr, err, errlen))
		return -1;
	if (nr != 1) {
		snprintf(err, errlen, "%s: %d runs: one at a time here (pvbench run runs a matrix)", e->name, nr);
		free(runs);
		return -1;
	}
	engine_run_one(&runs[0], env, timeout_of(&runs[0]), out);
	free(runs);
	return 0;
}

int engine_opts_set(struct engine_opts *o, const char *cmd, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq || eq == kv) {
		fprintf(stderr, "pvbench %s: --set: \"%s\" is not KEY=VALUE\n", cmd, kv);
		return -1;
	}
	if (o->nsets == ENGINE_MAX_KEYS) {
		fprintf(stderr, "pvbench %s: --set: too many settings\n", cmd);
		return -1;
	}
	*eq = 0;
	o->set_key[o->nsets] = kv;
	o->set_val[o->nsets++] = eq + 1;
	return 0;
}

int engine_load(const char *path, const struct engine_opts *o, struct experiment *e, char *err,
		size_t errlen)
{
	if (path ? (o->nsets ? experiment_parse : experiment_load)(path, e, err, errlen) :
		   experiment_empty(o->name, o->nsets && !strcmp(o->set_key[0], "type") ? o->set_val[0] : "guest",
				    e, err, errlen))
		return -1;
	for (int i = 0; i < o->nsets; i++)
		if (experiment_set(e, "--set", o->set_key[i], o->set_val[i], err, errlen))
			return -1;
	return o->nsets ? experiment_check(e, err, errlen) : 0;
}

/* what each run of the matrix is to this invocation, and what those left to run take here */
enum plan_mark { PLAN_UNWANTED, PLAN_STORED, PLAN_TODO };
struct plan {
	char *mark; /* enum plan_mark per run */
	int todo, stored, unwanted, no_kvm; /* no_kvm: of the todo, those this host skips at once */
	double over, ms; /* per run besides its duration; all of the todo */
};

static void plan_runs(const struct experiment *e, const struct run_spec *runs, int nr, const struct engine_opts *o,
		      struct store *st, const struct hostinfo *host, struct plan *p)
{
	*p = (struct plan){ .mark = calloc((size_t)nr + 1, 1) };
	if (!p->mark)
		abort();
	p->over = engine_overhead_ms(st, e->name, host->host);
	for (int i = 0; i < nr; i++) {
		int want = !o->want || o->want(&runs[i], o->want_arg);
		int have = want && !o->force && st && store_run_done(st, e->name, "", runs[i].identity, runs[i].rep);
		p->mark[i] = !want ? PLAN_UNWANTED : have ? PLAN_STORED : PLAN_TODO;
		p->unwanted += !want;
		p->stored += have;
		p->todo += want && !have;
		p->no_kvm += want && !have && host->no_kvm[0] && engine_run_needs_kvm(&runs[i]);
		p->ms += want && !have ? engine_run_ms(&runs[i], p->over, !host->no_kvm[0]) : 0;
	}
}

/* --dry-run: the order, each run the store has already, and the time the others take here */
static void dry_run(const struct experiment *e, const struct run_spec *runs, int nr, const struct engine_opts *o)
{
	struct hostinfo hi;
	char err[256];
	hostinfo_read(&hi, err, sizeof(err));
	struct store *st = store_open_existing(o->db, err, sizeof(err)); /* none yet: nothing stored */
	struct plan p;
	plan_runs(e, runs, nr, o, st, &hi, &p);
	store_close(st);
	static const char *const say[] = { [PLAN_UNWANTED] = "  (not asked for)", [PLAN_STORED] = "  (stored)",
					   [PLAN_TODO] = "" };
	for (int i = 0; i < nr; i++)
		printf("%3d  %s  rep %d%s\n", i + 1, runs[i].variant, runs[i].rep, say[(int)p.mark[i]]);
	free(p.mark);
	char each[80], t[32];
	if (p.over > 1) /* the store's times are whole seconds: 1 ms stands for "under a second" */
		snprintf(each, sizeof(each), "%.1f s per run besides its duration, as measured here", p.over / 1000);
	else if (p.over > 0)
		snprintf(each, sizeof(each), "under a second per run besides its duration, as measured here");
	else
		snprintf(each, sizeof(each), "%.0f s per run besides its duration: none measured here yet",
			 ENGINE_UNMEASURED_MS / 1000);
	char skip[64] = "";
	if (p.no_kvm)
		snprintf(skip, sizeof(skip), " (%d skipped at once here: no KVM)", p.no_kvm);
	fprintf(stderr, "pvbench: %d runs, %d stored already: %d to run%s, %s (%s)\n", nr - p.unwanted, p.stored,
		p.todo, skip, engine_about(t, sizeof(t), p.ms), each);
}

int engine_run(const char *path, const struct engine_opts *o)
{
	static struct experiment e;
	struct run_spec *runs = NULL;
	struct engine_session *s = NULL;
	char err[1024];
	int nr = 0, failed = 0, done = 0, skipped_host = 0;

	if (engine_load(path, o, &e, err, sizeof(err)) ||
	    experiment_matrix(&e, &runs, &nr, err, sizeof(err)))
		goto fail;
	if (o->dry_run) {
		dry_run(&e, runs, nr, o);
		free(runs);
		return EXIT_OK;
	}
	if (!(s = engine_session_open(&e, runs, nr, o->db, 0, err, sizeof(err))))
		goto fail;

	/* what is left to run: the count and the ETA are of those, not of the whole matrix */
	struct plan p;
	plan_runs(&e, runs, nr, o, s->st, &s->host, &p);
	if (p.todo) { /* before the first run's ETA: what the rest will take, as --dry-run says */
		char t[32], skip[64] = "";
		if (p.no_kvm)
			snprintf(skip, sizeof(skip), ", %d skipped at once here: no KVM", p.no_kvm);
		fprintf(stderr, "pvbench: %d to run (%d stored already%s), %s\n", p.todo, p.stored, skip,
			engine_about(t, sizeof(t), p.ms));
	}
	struct progress pg;
	progress_init(&pg, p.todo);
	for (int i = 0, k = 0; i < nr && !pvb_interrupted; i++) {
		const struct run_spec *r = &runs[i];
		char what[300];
		if (p.mark[i] != PLAN_TODO)
			continue;
		snprintf(what, sizeof(what), "%s rep %d", r->variant, r->rep);
		enum run_status st = engine_session_step(s, r, &pg, k++, what, NULL, 0);
		done++;
		failed += run_status_failed(st);
		skipped_host += st == RUN_SKIPPED;
	}
	free(p.mark);
	progress_finish(&pg);
	char left[64] = "";
	if (p.unwanted)
		snprintf(left, sizeof(left), ", %d not asked for", p.unwanted);
	fprintf(stderr, "pvbench: %d runs done (%d failed, %d skipped by the host), %d already stored%s%s\n",
		done, failed, skipped_host, p.stored, left, pvb_interrupted ? ", interrupted" : "");

	struct cmp_input in;
	struct cmp_opts co = { .format = (enum cmp_format)o->format };
	if (!o->no_tables && compare_load(s->st, e.name, &in, err, sizeof(err)) == 0) {
		if (compare_render(&in, &co, stdout, err, sizeof(err)) < 0)
			fprintf(stderr, "pvbench: compare: %s\n", err);
		cmp_input_free(&in);
	}
	engine_session_close(s);
	free(runs);
	if (pvb_interrupted)
		return EXIT_INTERRUPTED;
	return failed ? EXIT_FAILED : EXIT_OK;
fail:
	fprintf(stderr, "pvbench: %s\n", err);
	engine_session_close(s);
	free(runs);
	return EXIT_ERROR;
}
