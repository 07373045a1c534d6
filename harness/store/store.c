/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "store.h"

#include "store_impl.h"
#include "util.h"

/* migrations[i] takes the schema from version i to i + 1 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  experiment TEXT NOT NULL, variant TEXT NOT NULL, rep INTEGER NOT NULL,"
	"  status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	"  started_at TEXT NOT NULL, ended_at TEXT NOT NULL,"
	"  host_kernel TEXT, kvm_backend TEXT, qemu_version TEXT, guest_build TEXT,"
	"  pvbench_commit TEXT, tsc_khz INTEGER, run_dir TEXT, loadavg TEXT);"
	"CREATE UNIQUE INDEX runs_key ON runs(experiment, variant, rep);"
	"CREATE TABLE run_params ("
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL);"
	"CREATE INDEX run_params_run ON run_params(run_id);"
	"CREATE TABLE metrics ("
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  side TEXT NOT NULL, cpu INTEGER NOT NULL, name TEXT NOT NULL,"
	"  value REAL NOT NULL, unit TEXT NOT NULL);"
	"CREATE INDEX metrics_run ON metrics(run_id);",
	/* 2: runs are keyed by their identity (every result key), not by the swept keys alone;
	 * version-1 runs keep an identity no current definition has ("v1: <variant>"). The VMM column
	 * names what ran the guest, QEMU or not. Experiments record their current definition. */
	"ALTER TABLE runs ADD COLUMN identity TEXT NOT NULL DEFAULT '';"
	"UPDATE runs SET identity = 'v1: ' || variant;"
	"DROP INDEX runs_key;"
	"CREATE UNIQUE INDEX runs_identity ON runs(experiment, identity, rep);"
	"ALTER TABLE runs RENAME COLUMN qemu_version TO vmm;"
	"CREATE TABLE experiments ("
	"  name TEXT PRIMARY KEY, type TEXT NOT NULL, path TEXT, description TEXT,"
	"  baseline TEXT, rows_key TEXT, columns_key TEXT, metrics TEXT, defined_at TEXT);"
	"CREATE TABLE experiment_variants ("
	"  experiment TEXT NOT NULL REFERENCES experiments(name) ON DELETE CASCADE,"
	"  identity TEXT NOT NULL, variant TEXT NOT NULL, PRIMARY KEY(experiment, identity));",
	/* 3: sessions. A nightly run is one session (its start time): the same identity and rep
	 * recur night after night; `run` and `ab` store into session ''. Each run names its host
	 * (stores of many hosts meet in one central database) and what was under test. */
	"ALTER TABLE runs ADD COLUMN session TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE runs ADD COLUMN under_test TEXT NOT NULL DEFAULT '';"
	"DROP INDEX runs_identity;"
	"CREATE UNIQUE INDEX runs_identity ON runs(experiment, session, identity, rep);",
	/* 4: latency distributions as measured, for plots: sparse "bucket:count" text */
	"CREATE TABLE histograms ("
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  side TEXT NOT NULL, cpu INTEGER NOT NULL, name TEXT NOT NULL,"
	"  bucket_ns INTEGER NOT NULL, overflow INTEGER NOT NULL, counts TEXT NOT NULL);"
	"CREATE INDEX histograms_run ON histograms(run_id);",
	/* 5: which way each metric improves, as its maker declared ("less", "more", "info"); NULL in
	 * runs stored before, whose readers fall back to the name */
	"ALTER TABLE metrics ADD COLUMN better TEXT;",
};

static int fail(struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s%s%s", s->path, what ? what : "", what ? ": " : "",
		 sqlite3_errmsg(s->db));
	return -1;
}

static int exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (err)
			snprintf(err, errlen, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* A write that failed at what: says so (before the ROLLBACK, which has its own message), ends its
 * statement and the transaction. */
static int abandon(struct store *s, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
	fail(s, err, errlen, what);
	sqlite3_finalize(st);
	sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
	return -1;
}

/* COMMIT, and on failure ROLLBACK: a failed COMMIT must not leave the transaction open */
static int commit(struct store *s, char *err, size_t errlen)
{
	if (exec(s, "COMMIT;", err, errlen) == 0)
		return 0;
	sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
	return -1;
}

static int user_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* How many tables the file has, of any name or only named name (another program's SQLite file
 * may carry any version number). */
static int tables(struct store *s, const char *name)
{
	sqlite3_stmt *st;
	int n = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
			       " (?1 IS NULL OR name = ?1)", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static struct store *open_store(const char *path, int create, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	struct stat sb;
	int v;

	if (!s)
		return NULL;
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (store_is_central(path)) {
		if (pg_open(s, err, errlen) < 0)
			goto fail;
		return s;
	}
	if (!create && stat(path, &sb) < 0) { /* a reader makes no store where there was none */
		snprintf(err, errlen, "%s: no such store (%s; pvbench run writes one)", path, strerror(errno));
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	/* read the version before writing anything: a newer store is refused untouched */
	v = user_version(s);
	if (v < 0) {
		snprintf(err, errlen, "%s: not a pvbench store (%s)", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this pvbench's %d", path, v,
			 STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* Another program's file is left as it is, and only an empty one becomes a store, for a
	 * writer. (The version alone cannot say: another writer may be making the tables right now,
	 * and a foreign file may carry any version.) */
	int all = tables(s, NULL), runs = tables(s, "runs");
	if ((all > 0 && runs == 0) || (all == 0 && (v > 0 || !create))) {
		snprintf(err, errlen, "%s: not a pvbench store (%s)", path,
			 all ? "it has tables of its own and no runs" : "it is empty");
		goto fail;
	}
	/* Switching a fresh file to WAL while other processes open it too can fail with "database is
	 * locked" at once: SQLite does not wait in its busy handler there. Retry, as it would. */
	for (int tries = 0;; tries++) {
		int rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
			      err, errlen);
		int busy = sqlite3_errcode(s->db) == SQLITE_BUSY || sqlite3_errcode(s->db) == SQLITE_LOCKED;
		if (!rc)
			break;
		if (!busy || tries == 1000)
			goto fail;
		sqlite3_sleep(10);
	}
	while (v < STORE_SCHEMA_VERSION) { /* each step whole or not at all */
		char sql[64];
		if (exec(s, "BEGIN IMMEDIATE;", err, errlen))
			goto fail;
		/* another process may have migrated while this one waited for the lock */
		v = user_version(s);
		if (v >= STORE_SCHEMA_VERSION) {
			exec(s, "ROLLBACK;", NULL, 0);
			break;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", v + 1);
		if (exec(s, migrations[v], err, errlen) || exec(s, sql, err, errlen)) {
			exec(s, "ROLLBACK;", NULL, 0);
			goto fail;
		}
		if (commit(s, err, errlen))
			goto fail;
		v++;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	return open_store(path, 1, err, errlen);
}

struct store *store_open_existing(const char *path, char *err, size_t errlen)
{
	return open_store(path, 0, err, errlen);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->pg)
		PQfinish(s->pg);
	sqlite3_close(s->db);
	free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

static sqlite3_stmt *prep(struct store *s, const char *sql, int n, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *t = va_arg(ap, const char *);
		sqlite3_bind_text(st, i + 1, t ? t : "", -1, SQLITE_STATIC);
	}
	va_end(ap);
	return st;
}

int store_define(struct store *s, const struct store_definition *d, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (s->pg) {
		snprintf(err, errlen, "%s: a central store takes runs from `pvbench push` only", s->path);
		return -1;
	}
	if (exec(s, "BEGIN IMMEDIATE;", err, errlen))
		return -1;
	st = prep(s, "DELETE FROM experiments WHERE name=?1", 1, d->experiment);
	if (!st || sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = prep(s, "INSERT INTO experiments(name, type, path, description, baseline, rows_key,"
		  " columns_key, metrics, defined_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,"
		  " strftime('%Y-%m-%dT%H:%M:%fZ','now'))", 8, d->experiment, d->type, d->path,
		  d->description, d->baseline, d->rows, d->columns, d->metrics);
	if (!st || sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = prep(s, "INSERT OR IGNORE INTO experiment_variants VALUES(?1,?2,?3)", 0);
	if (!st)
		goto fail;
	for (int i = 0; i < d->n; i++) {
		sqlite3_bind_text(st, 1, d->experiment, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, d->identity[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, d->variant[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return commit(s, err, errlen);
fail:
	return abandon(s, st, "defining the experiment", err, errlen);
}

int store_run_done(struct store *s, const char *experiment, const char *session,
		   const char *identity, int rep)
{
	sqlite3_stmt *st = prep(s, "SELECT 1 FROM runs WHERE experiment=?1 AND identity=?2 AND rep=?3"
				" AND status='ok' AND session=?4", 2, experiment, identity);
	int done;

	if (!st) /* a central store: never "done", nothing runs into it */
		return 0;
	sqlite3_bind_int(st, 3, rep);
	sqlite3_bind_text(st, 4, session ? session : "", -1, SQLITE_STATIC);
	done = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return done;
}

int store_has_experiment(struct store *s, const char *experiment)
{
	sqlite3_stmt *st = prep(s, "SELECT 1 FROM experiments WHERE name=?1 UNION ALL"
				" SELECT 1 FROM runs WHERE experiment=?1 LIMIT 1", 1, experiment);
	int yes;

	if (!st)
		return 0;
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* "bucket:count,..." of the non-empty buckets; malloc'd */
static char *hist_text(const struct metric_hist *h)
{
	size_t cap = 64, n = 0;
	char *t = malloc(cap);
	if (!t)
		return NULL;
	t[0] = 0;
	for (unsigned i = 0; i < h->nr; i++) {
		if (!h->counts[i])
			continue;
		if (cap - n < 32) {
			char *g = realloc(t, cap *= 2);
			if (!g) {
				free(t);
				return NULL;
			}
			t = g;
		}
		n += (size_t)snprintf(t + n, cap - n, "%s%u:%u", n ? "," : "", i, h->counts[i]);
	}
	return t;
}

int store_put_run(struct store *s, const struct store_run *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	long long id;

	if (s->pg) {
		snprintf(err, errlen, "%s: a central store takes runs from `pvbench push` only", s->path);
		return -1;
	}
	if (exec(s, "BEGIN IMMEDIATE;", err, errlen))
		return -1;
	st = prep(s, "DELETE FROM runs WHERE experiment=?1 AND identity=?2 AND rep=?3 AND session=?4",
		  2, r->experiment, r->identity);
	if (!st)
		goto fail;
	sqlite3_bind_int(st, 3, r->rep);
	sqlite3_bind_text(st, 4, r->session ? r->session : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = prep(s, "INSERT INTO runs(experiment, variant, identity, status, reason, started_at,"
		  " ended_at, host_kernel, kvm_backend, vmm, guest_build, pvbench_commit, run_dir,"
		  " loadavg, session, host, under_test, rep, tsc_khz)"
		  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
		  17, r->experiment, r->variant, r->identity, r->status, r->reason, r->started_at,
		  r->ended_at, r->host_kernel, r->kvm_backend, r->vmm, r->guest_build, r->pvbench_commit,
		  r->run_dir, r->loadavg, r->session, r->host, r->under_test);
	if (!st)
		goto fail;
	sqlite3_bind_int(st, 18, r->rep);
	sqlite3_bind_int64(st, 19, r->tsc_khz);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	id = sqlite3_last_insert_rowid(s->db);

	if (sqlite3_prepare_v2(s->db, "INSERT INTO run_params VALUES(?1,?2,?3)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < r->nr_params; i++) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, r->param_keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->param_values[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "INSERT INTO metrics VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int side = 0; side < NR_SIDES; side++) {
		const struct metric_set *ms = r->sets[side];
		for (size_t i = 0; ms && i < ms->n; i++) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, side_names[side], -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 3, ms->m[i].cpu);
			sqlite3_bind_text(st, 4, ms->m[i].name, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 5, ms->m[i].value);
			sqlite3_bind_text(st, 6, ms->m[i].unit, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 7, metric_better_name(ms->m[i].better), -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				goto fail;
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "INSERT INTO histograms VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int side = 0; side < NR_SIDES; side++) {
		const struct metric_set *ms = r->sets[side];
		for (size_t i = 0; ms && i < ms->nh; i++) {
			char *text = hist_text(&ms->h[i]);
			if (!text)
				goto fail;
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, side_names[side], -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 3, ms->h[i].cpu);
			sqlite3_bind_text(st, 4, ms->h[i].name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, ms->h[i].bucket_ns);
			sqlite3_bind_int64(st, 6, (sqlite3_int64)ms->h[i].overflow);
			sqlite3_bind_text(st, 7, text, -1, free);
			if (sqlite3_step(st) != SQLITE_DONE)
				goto fail;
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	return commit(s, err, errlen);
fail:
	return abandon(s, st, "storing a run", err, errlen);
}

int store_is_central(const char *path)
{
	return !strncmp(path, "postgresql:", 11) || !strncmp(path, "postgres:", 9);
}

void store_only_host(struct store *s, const char *host)
{
	snprintf(s->host, sizeof(s->host), "%s", host ? host : "");
}

int store_visit(struct store *s, const char *experiment, const char *session,
		const struct store_visitor *v, char *err, size_t errlen)
{
	/* a run is current when the definition lists its identity, or when there is no definition */
#define CURRENT "(NOT EXISTS (SELECT 1 FROM experiments WHERE name=$1) OR EXISTS (SELECT 1 FROM" \
	" experiment_variants d WHERE d.experiment=$1 AND d.identity=r.identity))"
#define SESSION " AND ($2 = '*' OR r.session = $2) AND ($3 = '' OR r.host = $3)"
	static const char *const q[5] = {
		"SELECT 0, baseline, rows_key, columns_key, metrics FROM experiments WHERE name=$1",
		"SELECT id, variant, rep, status, reason, CASE WHEN " CURRENT " THEN 1 ELSE 0 END, session,"
		" started_at, under_test, host, host_kernel, kvm_backend, vmm, guest_build, pvbench_commit,"
		" run_dir FROM runs r WHERE experiment=$1" SESSION " ORDER BY id",
		"SELECT p.run_id, p.key, p.value FROM run_params p JOIN runs r ON r.id=p.run_id"
		" WHERE r.experiment=$1 AND r.status='ok'" SESSION " ORDER BY p.run_id",
		"SELECT m.run_id, m.side, m.cpu, m.name, m.value, m.unit, m.better FROM metrics m JOIN runs r"
		" ON r.id=m.run_id WHERE r.experiment=$1 AND r.status='ok' AND m.cpu < 0" SESSION
		" ORDER BY m.run_id",
		"SELECT h.run_id, h.side, h.cpu, h.name, h.bucket_ns, h.overflow, h.counts FROM histograms h"
		" JOIN runs r ON r.id=h.run_id WHERE r.experiment=$1 AND r.status='ok'" SESSION
		" ORDER BY h.run_id",
	};
#undef CURRENT
#undef SESSION
	char newest[64] = "";
	struct cursor c;

	if (!session) { /* the newest session: '' for experiments that `run` made */
		const char *pv[] = { experiment, s->host };
		if (cursor_open(s, &c, "SELECT max(session) FROM runs WHERE experiment=$1 AND ($2 = '' OR host = $2)",
				2, pv, err, errlen))
			return -1;
		if (cursor_next(&c) == 1 && cursor_text(&c, 0))
			snprintf(newest, sizeof(newest), "%s", cursor_text(&c, 0));
		cursor_close(&c);
		session = newest;
	}
	for (int i = 0; i < 5; i++) {
		const char *pv[] = { experiment, session, s->host };
		int rc;
		if (i == 4 && !v->hist)
			break;
		if (cursor_open(s, &c, q[i], i ? 3 : 1, pv, err, errlen))
			return -1;
#define T(col) cursor_text(&c, col)
#define I(col) cursor_int(&c, col)
		while ((rc = cursor_next(&c)) == 1) {
			long long id = I(0);
			if (i == 0 && v->defaults)
				v->defaults(v->arg, T(1), T(2), T(3), T(4));
			else if (i == 1 && v->run) {
				struct store_row row = {
					.id = id, .variant = T(1), .rep = (int)I(2), .status = T(3), .reason = T(4),
					.current = (int)I(5), .session = T(6), .started_at = T(7),
					.under_test = T(8), .host = T(9), .host_kernel = T(10),
					.kvm_backend = T(11), .vmm = T(12), .guest_build = T(13),
					.pvbench_commit = T(14), .run_dir = T(15),
				};
				v->run(v->arg, &row);
			} else if (i == 2 && v->param)
				v->param(v->arg, id, T(1), T(2));
			else if (i == 3 && v->metric) {
				int better = metric_better_parse(T(6));
				v->metric(v->arg, id, T(1), (int)I(2), T(3), cursor_double(&c, 4), T(5),
					  better >= 0 ? (enum pvb_better)better : metric_better_by_name(T(3)));
			}
			else if (i == 4)
				v->hist(v->arg, id, T(1), (int)I(2), T(3), (unsigned)I(4),
					(unsigned long long)I(5), T(6));
		}
#undef T
#undef I
		cursor_close(&c);
		if (rc < 0)
			return cursor_fail(s, &c, err, errlen);
	}
	return 0;
}

int store_query(struct store *s, const char *sql, int n, const char *const *params,
		void (*row)(void *arg, int ncols, const char *const *vals), void *arg, char *err,
		size_t errlen)
{
	struct cursor c;
	int rc;
	if (cursor_open(s, &c, sql, n, params, err, errlen))
		return -1;
	while ((rc = cursor_next(&c)) == 1) {
		const char *vals[32];
		int nc = cursor_ncols(&c) < 32 ? cursor_ncols(&c) : 32;
		for (int i = 0; i < nc; i++)
			vals[i] = cursor_text(&c, i);
		row(arg, nc, vals);
	}
	cursor_close(&c);
	return rc < 0 ? cursor_fail(s, &c, err, errlen) : 0;
}

struct names { char (*v)[128]; int n; };

static void name_row(void *arg, int ncols, const char *const *vals)
{
	struct names *x = arg;
	if (ncols < 1 || !vals[0])
		return;
	void *g = realloc(x->v, (size_t)(x->n + 1) * sizeof(*x->v));
	if (!g)
		abort();
	x->v = g;
	snprintf(x->v[x->n++], sizeof(x->v[0]), "%s", vals[0]);
}

static const char *name_at(int i, const void *arg)
{
	const struct names *x = arg;
	return i < x->n ? x->v[i] : NULL;
}

static void count_row(void *arg, int ncols, const char *const *vals)
{
	(void)ncols;
	(void)vals;
	++*(int *)arg;
}

int store_experiment_known(struct store *s, const char *name, char *near, size_t n)
{
	struct names x = { 0 };
	const char *p[] = { name };
	char err[256];
	int found = 0;
	snprintf(near, n, "%s", "");
	/* asked by name: a lab store holds more experiments (nightly members, A/B sessions) than the
	 * list of candidates below keeps */
	if (store_query(s, "SELECT 1 FROM experiments WHERE name = $1 UNION ALL SELECT 1 FROM runs WHERE"
			" experiment = $1", 1, p, count_row, &found, err, sizeof(err)) || found)
		return 1; /* or cannot tell: the caller's own error follows */
	if (!store_query(s, "SELECT name FROM experiments UNION SELECT DISTINCT experiment FROM runs", 0, NULL,
			 name_row, &x, err, sizeof(err))) {
		const char *best = nearest_name(name, name_at, &x);
		snprintf(near, n, "%s", best ? best : "");
	}
	free(x.v);
	return 0;
}
