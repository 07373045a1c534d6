/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "store.h"

struct store {
	sqlite3 *db;
};

const char *const store_sides[4] = { "guest", "host", "policy", "harness" };

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
};

static int exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "store: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
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

struct store *store_open(const char *path, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int v;

	if (!s)
		return NULL;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
		 err, errlen))
		goto fail;
	v = user_version(s);
	if (v < 0) {
		snprintf(err, errlen, "%s: not an SQLite database", path);
		goto fail;
	}
	if (v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this pvbench's %d", path, v,
			 STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) { /* each step whole or not at all */
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d; COMMIT;", v + 1);
		if (exec(s, "BEGIN IMMEDIATE;", err, errlen))
			goto fail;
		if (exec(s, migrations[v], err, errlen) || exec(s, sql, err, errlen)) {
			exec(s, "ROLLBACK;", err + strlen(err), 0);
			goto fail;
		}
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

int store_run_done(struct store *s, const char *experiment, const char *variant, int rep)
{
	sqlite3_stmt *st;
	int done = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM runs WHERE experiment=?1 AND variant=?2 AND rep=?3 AND status='ok'",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, rep);
	done = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return done;
}

static void bind_texts(sqlite3_stmt *st, const char *const *v, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, v[i] ? v[i] : "", -1, SQLITE_STATIC);
}

int store_put_run(struct store *s, const struct store_run *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	long long id;

	if (exec(s, "BEGIN IMMEDIATE;", err, errlen))
		return -1;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM runs WHERE experiment=?1 AND variant=?2 AND rep=?3",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	bind_texts(st, (const char *const[]){ r->experiment, r->variant }, 2);
	sqlite3_bind_int(st, 3, r->rep);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO runs(experiment, variant, rep, status, reason, started_at, ended_at,"
			       " host_kernel, kvm_backend, qemu_version, guest_build, pvbench_commit, run_dir,"
			       " loadavg, tsc_khz) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	bind_texts(st, (const char *const[]){ r->experiment, r->variant }, 2);
	sqlite3_bind_int(st, 3, r->rep);
	const char *rest[] = { r->status, r->reason, r->started_at, r->ended_at, r->host_kernel,
			       r->kvm_backend, r->qemu_version, r->guest_build, r->pvbench_commit,
			       r->run_dir, r->loadavg };
	for (int i = 0; i < 11; i++)
		sqlite3_bind_text(st, 4 + i, rest[i] ? rest[i] : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, r->tsc_khz);
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
	if (sqlite3_prepare_v2(s->db, "INSERT INTO metrics VALUES(?1,?2,?3,?4,?5,?6)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int side = 0; side < 4; side++) {
		const struct metric_set *ms = r->sets[side];
		for (size_t i = 0; ms && i < ms->n; i++) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, store_sides[side], -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 3, ms->m[i].cpu);
			sqlite3_bind_text(st, 4, ms->m[i].name, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 5, ms->m[i].value);
			sqlite3_bind_text(st, 6, ms->m[i].unit, -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				goto fail;
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	return exec(s, "COMMIT;", err, errlen);
fail:
	snprintf(err, errlen, "store: %s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
	return -1;
}

int store_visit(struct store *s, const char *experiment, const struct store_visitor *v, char *err,
		size_t errlen)
{
	static const char *const q[3] = {
		"SELECT id, variant, rep FROM runs WHERE experiment=?1 AND status='ok' ORDER BY id",
		"SELECT p.run_id, p.key, p.value FROM run_params p JOIN runs r ON r.id=p.run_id"
		" WHERE r.experiment=?1 AND r.status='ok' ORDER BY p.rowid",
		"SELECT m.run_id, m.side, m.cpu, m.name, m.value, m.unit FROM metrics m JOIN runs r"
		" ON r.id=m.run_id WHERE r.experiment=?1 AND r.status='ok' AND m.cpu < 0 ORDER BY m.rowid",
	};
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *st;
		int rc;
		if (sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "store: %s", sqlite3_errmsg(s->db));
			return -1;
		}
		sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			long long id = sqlite3_column_int64(st, 0);
			const char *a = (const char *)sqlite3_column_text(st, 1);
			if (i == 0 && v->run)
				v->run(v->arg, id, a, sqlite3_column_int(st, 2));
			else if (i == 1 && v->param)
				v->param(v->arg, id, a, (const char *)sqlite3_column_text(st, 2));
			else if (i == 2 && v->metric)
				v->metric(v->arg, id, a, sqlite3_column_int(st, 2),
					  (const char *)sqlite3_column_text(st, 3), sqlite3_column_double(st, 4),
					  (const char *)sqlite3_column_text(st, 5));
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "store: %s", sqlite3_errmsg(s->db));
			return -1;
		}
	}
	return 0;
}

int store_count(struct store *s, const char *experiment, int *ok, int *failed)
{
	sqlite3_stmt *st;

	*ok = *failed = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT status='ok', count(*) FROM runs WHERE experiment=?1 GROUP BY 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		*(sqlite3_column_int(st, 0) ? ok : failed) = sqlite3_column_int(st, 1);
	sqlite3_finalize(st);
	return 0;
}
