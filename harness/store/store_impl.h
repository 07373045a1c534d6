/* SPDX-License-Identifier: MIT */
/* Inside the store: its two backends (a host's SQLite file, a central PostgreSQL) and one cursor
 * over both, so that every read query is written once ($1-style parameters suit both). */
#ifndef PVB_STORE_IMPL_H
#define PVB_STORE_IMPL_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stddef.h>
#include "store.h"

struct store {
	sqlite3 *db;             /* a host's store, or */
	PGconn *pg;              /* a central one */
	char path[512];          /* file name or connection string, for errors */
	char host[64];           /* store_only_host() */
};

struct cursor {
	struct store *s;
	sqlite3_stmt *st;
	PGresult *res;
	int row, nrows;
	char err[300];
};

int cursor_open(struct store *s, struct cursor *c, const char *sql, int n, const char *const *params,
		char *err, size_t errlen);
int cursor_next(struct cursor *c);         /* 1 a row, 0 done, -1 error (in c->err) */
const char *cursor_text(const struct cursor *c, int col);   /* NULL for SQL NULL */
long long cursor_int(const struct cursor *c, int col);
double cursor_double(const struct cursor *c, int col);
int cursor_ncols(const struct cursor *c);
void cursor_close(struct cursor *c);
int cursor_fail(struct store *s, const struct cursor *c, char *err, size_t errlen);

int pg_open(struct store *s, char *err, size_t errlen);

#endif
