/* SPDX-License-Identifier: MIT */
/*
 * The central store: PostgreSQL through libpq. Each host keeps its SQLite store; `pvbench push`
 * copies its runs here, keyed by (host, experiment, session, identity, rep), so that a fleet's
 * nightly runs, A/B sessions and the dashboard read one database. Schema-versioned like the
 * SQLite store (pvbench_meta.schema), created on first use under an advisory lock. Runs arrive
 * whole (one transaction each): a push killed halfway leaves whole runs, and the next push
 * finishes the job without duplicating any.
 */
#include <stdlib.h>
#include <string.h>
#include "store_impl.h"

#define CENTRAL_SCHEMA_VERSION 2
#define TEXTOID 25

static const char *const central_schema =
	"CREATE TABLE runs ("
	"  id BIGSERIAL PRIMARY KEY, host TEXT NOT NULL, experiment TEXT NOT NULL,"
	"  session TEXT NOT NULL, identity TEXT NOT NULL, rep INTEGER NOT NULL, variant TEXT NOT NULL,"
	"  status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', started_at TEXT NOT NULL,"
	"  ended_at TEXT NOT NULL, host_kernel TEXT, kvm_backend TEXT, vmm TEXT, guest_build TEXT,"
	"  pvbench_commit TEXT, tsc_khz BIGINT, run_dir TEXT, loadavg TEXT,"
	"  under_test TEXT NOT NULL DEFAULT '', UNIQUE(host, experiment, session, identity, rep));"
	"CREATE TABLE run_params (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL);"
	"CREATE INDEX run_params_run ON run_params(run_id);"
	"CREATE TABLE metrics (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  side TEXT NOT NULL, cpu INTEGER NOT NULL, name TEXT NOT NULL,"
	"  value DOUBLE PRECISION NOT NULL, unit TEXT NOT NULL, better TEXT);"
	"CREATE INDEX metrics_run ON metrics(run_id);"
	"CREATE TABLE histograms (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  side TEXT NOT NULL, cpu INTEGER NOT NULL, name TEXT NOT NULL, bucket_ns BIGINT NOT NULL,"
	"  overflow BIGINT NOT NULL, counts TEXT NOT NULL);"
	"CREATE INDEX histograms_run ON histograms(run_id);"
	"CREATE TABLE experiments (name TEXT PRIMARY KEY, type TEXT NOT NULL, path TEXT,"
	"  description TEXT, baseline TEXT, rows_key TEXT, columns_key TEXT, metrics TEXT,"
	"  defined_at TEXT);"
	"CREATE TABLE experiment_variants (experiment TEXT NOT NULL REFERENCES experiments(name)"
	"  ON DELETE CASCADE, identity TEXT NOT NULL, variant TEXT NOT NULL,"
	"  PRIMARY KEY(experiment, identity));";

int cursor_open(struct store *s, struct cursor *c, const char *sql, int n, const char *const *params,
		char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->row = -1;
	if (s->pg) {
		Oid types[16];
		for (int i = 0; i < n && i < 16; i++)
			types[i] = TEXTOID;
		c->res = PQexecParams(s->pg, sql, n, types, params, NULL, NULL, 0);
		if (PQresultStatus(c->res) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "%s: %s", s->path, PQresultErrorMessage(c->res));
			err[strcspn(err, "\n")] = 0;
			PQclear(c->res);
			c->res = NULL;
			return -1;
		}
		c->nrows = PQntuples(c->res);
		return 0;
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &c->st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(c->st, i + 1, params[i] ? params[i] : "", -1, SQLITE_TRANSIENT);
	return 0;
}

int cursor_next(struct cursor *c)
{
	if (c->res)
		return ++c->row < c->nrows;
	int rc = sqlite3_step(c->st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	snprintf(c->err, sizeof(c->err), "%s", sqlite3_errmsg(c->s->db));
	return -1;
}

const char *cursor_text(const struct cursor *c, int col)
{
	if (c->res)
		return PQgetisnull(c->res, c->row, col) ? NULL : PQgetvalue(c->res, c->row, col);
	return (const char *)sqlite3_column_text(c->st, col);
}

long long cursor_int(const struct cursor *c, int col)
{
	if (c->res) {
		const char *t = cursor_text(c, col);
		return t ? atoll(t) : 0;
	}
	return sqlite3_column_int64(c->st, col);
}

double cursor_double(const struct cursor *c, int col)
{
	if (c->res) {
		const char *t = cursor_text(c, col);
		return t ? strtod(t, NULL) : 0;
	}
	return sqlite3_column_double(c->st, col);
}

int cursor_ncols(const struct cursor *c)
{
	return c->res ? PQnfields(c->res) : sqlite3_column_count(c->st);
}

void cursor_close(struct cursor *c)
{
	if (c->res)
		PQclear(c->res);
	sqlite3_finalize(c->st);
	c->res = NULL;
	c->st = NULL;
}

int cursor_fail(struct store *s, const struct cursor *c, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", s->path, c->err[0] ? c->err : "query failed");
	return -1;
}

static int pg_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->pg, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok && err) {
		snprintf(err, errlen, "%s: %s", s->path, PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = 0;
	}
	PQclear(r);
	return ok ? 0 : -1;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation already exists, skipping" and the like */
}

int pg_open(struct store *s, char *err, size_t errlen)
{
	PGresult *r;
	int v = 0;

	s->pg = PQconnectdb(s->path);
	if (PQstatus(s->pg) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: %s", s->path, PQerrorMessage(s->pg));
		err[strcspn(err, "\n")] = 0;
		return -1;
	}
	PQsetNoticeProcessor(s->pg, quiet, NULL);
	/* one creator at a time; the others wait and find the schema made */
	if (pg_exec(s, "BEGIN; SELECT pg_advisory_xact_lock(7310);"
		       "CREATE TABLE IF NOT EXISTS pvbench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
		    err, errlen))
		return -1;
	r = PQexec(s->pg, "SELECT value FROM pvbench_meta WHERE key = 'schema'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (v > CENTRAL_SCHEMA_VERSION) {
		pg_exec(s, "ROLLBACK", NULL, 0);
		snprintf(err, errlen, "%s: central schema version %d is newer than this pvbench's %d",
			 s->path, v, CENTRAL_SCHEMA_VERSION);
		return -1;
	}
	if ((v == 0 && (pg_exec(s, central_schema, err, errlen) ||
			pg_exec(s, "INSERT INTO pvbench_meta VALUES ('schema', '2')", err, errlen))) ||
	    /* 2: which way each metric improves, as its maker declared (NULL in older runs) */
	    (v == 1 && (pg_exec(s, "ALTER TABLE metrics ADD COLUMN better TEXT", err, errlen) ||
			pg_exec(s, "UPDATE pvbench_meta SET value = '2' WHERE key = 'schema'", err, errlen)))) {
		pg_exec(s, "ROLLBACK", NULL, 0);
		return -1;
	}
	return pg_exec(s, "COMMIT", err, errlen);
}

/* Runs one statement with text parameters; 0 or -1 (err). Tuples, if any, in *out (caller clears). */
static int pg_params(struct store *s, const char *sql, int n, const char *const *p, PGresult **out,
		     char *err, size_t errlen)
{
	Oid types[32];
	for (int i = 0; i < n; i++)
		types[i] = TEXTOID;
	PGresult *r = PQexecParams(s->pg, sql, n, types, p, NULL, NULL, 0);
	int st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s: %s", s->path, PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = 0;
		PQclear(r);
		return -1;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

/* The rows of a local query, each pushed through one central statement with the same columns. */
static int copy_rows(struct store *local, struct store *central, const char *select, long long run_id,
		     const char *insert, const char *central_id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(local->db, select, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", local->path, sqlite3_errmsg(local->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, run_id);
	int rc = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		const char *p[16] = { central_id };
		int n = sqlite3_column_count(st);
		for (int i = 0; i < n && i < 15; i++)
			p[i + 1] = (const char *)sqlite3_column_text(st, i);
		rc = pg_params(central, insert, n + 1, p, NULL, err, errlen);
	}
	sqlite3_finalize(st);
	return rc;
}

static int push_definitions(struct store *local, struct store *central, struct push_stats *ps,
			    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = 0;
	if (sqlite3_prepare_v2(local->db, "SELECT name, type, path, description, baseline, rows_key,"
			       " columns_key, metrics, defined_at FROM experiments", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", local->path, sqlite3_errmsg(local->db));
		return -1;
	}
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		const char *p[9];
		PGresult *r = NULL;
		for (int i = 0; i < 9; i++)
			p[i] = (const char *)sqlite3_column_text(st, i);
		/* The central store keeps one definition of an experiment, the newest pushed, and its
		 * variants only: a run is current when that definition has it, as in a host's store.
		 * (Keeping every definition's variants made an edited experiment's old runs count.)
		 * An older definition changes nothing; one of the same time adds its variants. */
		rc = pg_exec(central, "BEGIN", err, errlen) ||
		     pg_params(central, "SELECT CASE WHEN defined_at IS NULL OR defined_at < $2 THEN 'newer'"
			       " WHEN defined_at = $2 THEN 'same' ELSE 'older' END FROM experiments WHERE name = $1"
			       " FOR UPDATE", 2, (const char *const[]){ p[0], p[8] ? p[8] : "" }, &r, err, errlen);
		if (rc)
			break;
		const char *age = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "newer";
		int newer = !strcmp(age, "newer"), same = !strcmp(age, "same");
		PQclear(r);
		if (newer)
			rc = pg_params(central, "INSERT INTO experiments VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
				       " ON CONFLICT (name) DO UPDATE SET type=$2, path=$3, description=$4,"
				       " baseline=$5, rows_key=$6, columns_key=$7, metrics=$8, defined_at=$9",
				       9, p, NULL, err, errlen) ||
			     pg_params(central, "DELETE FROM experiment_variants WHERE experiment = $1", 1, p, NULL,
				       err, errlen);
		sqlite3_stmt *v;
		if (!rc && (newer || same) &&
		    sqlite3_prepare_v2(local->db, "SELECT identity, variant FROM experiment_variants"
				       " WHERE experiment = ?1", -1, &v, NULL) == SQLITE_OK) {
			sqlite3_bind_text(v, 1, p[0], -1, SQLITE_TRANSIENT);
			while (!rc && sqlite3_step(v) == SQLITE_ROW) {
				const char *q[3] = { p[0], (const char *)sqlite3_column_text(v, 0),
						     (const char *)sqlite3_column_text(v, 1) };
				rc = pg_params(central, "INSERT INTO experiment_variants VALUES ($1,$2,$3)"
					       " ON CONFLICT DO NOTHING", 3, q, NULL, err, errlen);
			}
			sqlite3_finalize(v);
		}
		if (rc) {
			pg_exec(central, "ROLLBACK", NULL, 0);
			break;
		}
		rc = pg_exec(central, "COMMIT", err, errlen);
		ps->experiments += !rc;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_push(struct store *local, struct store *central, const char *default_host,
	       struct push_stats *ps, char *err, size_t errlen)
{
	static const char *const cols = "host, experiment, session, identity, rep, variant, status,"
		" reason, started_at, ended_at, host_kernel, kvm_backend, vmm, guest_build, pvbench_commit,"
		" tsc_khz, run_dir, loadavg, under_test";
	sqlite3_stmt *st;
	char sql[1024];
	int rc = 0, n = 0;
	const char *abort_after = getenv("PVBENCH_TEST_PUSH_ABORT_AFTER"); /* tests: a crash mid-run */

	memset(ps, 0, sizeof(*ps));
	if (!local->db || !central->pg) {
		snprintf(err, errlen, "push: from a host's SQLite store into a central PostgreSQL one");
		return -1;
	}
	if (push_definitions(local, central, ps, err, errlen))
		return -1;
	snprintf(sql, sizeof(sql), "SELECT id, CASE WHEN host = '' THEN ?1 ELSE host END, experiment,"
		 " session, identity, rep, variant, status, reason, started_at, ended_at, host_kernel,"
		 " kvm_backend, vmm, guest_build, pvbench_commit, tsc_khz, run_dir, loadavg, under_test"
		 " FROM runs ORDER BY id");
	if (sqlite3_prepare_v2(local->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", local->path, sqlite3_errmsg(local->db));
		return -1;
	}
	sqlite3_bind_text(st, 1, default_host, -1, SQLITE_TRANSIENT);
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		const char *p[19];
		PGresult *r = NULL;
		long long id = sqlite3_column_int64(st, 0);
		for (int i = 0; i < 19; i++)
			p[i] = (const char *)sqlite3_column_text(st, i + 1);
		/* already there, the same run? (a rerun has another start) */
		if (pg_params(central, "SELECT 1 FROM runs WHERE host=$1 AND experiment=$2 AND session=$3"
			      " AND identity=$4 AND rep=$5::int AND started_at=$6 AND ended_at=$7 AND status=$8",
			      8, (const char *const[]){ p[0], p[1], p[2], p[3], p[4], p[8], p[9], p[6] }, &r,
			      err, errlen)) {
			rc = -1;
			break;
		}
		int have = PQntuples(r) > 0;
		PQclear(r);
		if (have) {
			ps->already++;
			continue;
		}
		char ins[1024];
		snprintf(ins, sizeof(ins), "INSERT INTO runs (%s) VALUES ($1,$2,$3,$4,$5::int,$6,$7,$8,$9,$10,"
			 "$11,$12,$13,$14,$15,$16::bigint,$17,$18,$19) RETURNING id", cols);
		rc = pg_exec(central, "BEGIN", err, errlen) ||
		     pg_params(central, "DELETE FROM runs WHERE host=$1 AND experiment=$2 AND session=$3"
			       " AND identity=$4 AND rep=$5::int", 5, p, NULL, err, errlen) ||
		     pg_params(central, ins, 19, p, &r, err, errlen);
		if (rc)
			break;
		char cid[32];
		snprintf(cid, sizeof(cid), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		rc = copy_rows(local, central, "SELECT key, value FROM run_params WHERE run_id = ?1 ORDER BY rowid", id,
			       "INSERT INTO run_params VALUES ($1::bigint,$2,$3)", cid, err, errlen) ||
		     copy_rows(local, central, "SELECT side, cpu, name, value, unit, better FROM metrics WHERE"
			       " run_id = ?1 ORDER BY rowid", id, "INSERT INTO metrics VALUES ($1::bigint,$2,$3::int,"
			       "$4,$5::double precision,$6,$7)", cid, err, errlen) ||
		     copy_rows(local, central, "SELECT side, cpu, name, bucket_ns, overflow, counts FROM histograms"
			       " WHERE run_id = ?1 ORDER BY rowid", id, "INSERT INTO histograms VALUES ($1::bigint,"
			       "$2,$3::int,$4,$5::bigint,$6::bigint,$7)", cid, err, errlen);
		if (!rc && abort_after && ++n > atoi(abort_after))
			abort(); /* before COMMIT: the central store must not see this run */
		rc = rc || pg_exec(central, "COMMIT", err, errlen);
		if (rc)
			pg_exec(central, "ROLLBACK", NULL, 0);
		else
			ps->pushed++;
	}
	sqlite3_finalize(st);
	return rc ? -1 : 0;
}

int store_push_paths(const char *db, const char *to, const char *default_host, struct push_stats *ps,
		     char *err, size_t errlen)
{
	struct store *local = store_open(db, err, errlen), *central = NULL;
	if (local)
		central = store_open(to, err, errlen);
	int rc = local && central ? store_push(local, central, default_host, ps, err, errlen) : -1;
	store_close(local);
	store_close(central);
	return rc;
}
