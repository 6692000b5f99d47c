// SPDX-License-Identifier: MIT
/*
 * Statements of either backend (store_impl.h): the store's files run SQL through these, so
 * what they do with the rows is written once. SQLite's statements are its own; a
 * PostgreSQL statement is its SQL with ?N turned into $N, its parameters kept as text, and
 * its rows read from the connection one at a time as it is stepped (libpq's single-row
 * mode: one round trip, and one row in memory however many the query gives). The rule that
 * comes with streaming (a statement being stepped owns the connection) is in store_impl.h,
 * at pg_settle.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sql with SQLite's ?N and ? parameters as $N (string literals and quoted names kept). */
static char *pg_translate(const char *sql, int *ret_nparams, uint32_t *ret_used)
{
	size_t n = strlen(sql);
	char *out = malloc(n * 3 + 1), *o = out; /* "?" becomes at most "$32" */
	int next = 1, max = 0;
	uint32_t used = 0;

	if (!out)
		return NULL;
	for (const char *p = sql; *p;) {
		if (*p == '\'' || *p == '"') {
			char q = *p;

			*o++ = *p++;
			while (*p && *p != q)
				*o++ = *p++;
			if (*p)
				*o++ = *p++;
			continue;
		}
		if (*p == '?') {
			int num;

			p++;
			if (*p >= '0' && *p <= '9') {
				num = 0;
				while (*p >= '0' && *p <= '9')
					num = num * 10 + (*p++ - '0');
			} else {
				num = next;
			}
			if (num < 1 || num > 32) {
				/* more than struct stmt holds, and more than "$32" in the buffer */
				free(out);
				*ret_nparams = -1;
				return NULL;
			}
			next = num + 1;
			if (num > max)
				max = num;
			used |= 1u << (num - 1);
			/* "$" and at most two digits: the room the buffer keeps for a "?" */
			o += snprintf(o, 4, "$%d", num);
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	*ret_nparams = max;
	*ret_used = used;
	return out;
}

int stmt_prepare(struct store *st, const char *sql, struct stmt **ret)
{
	struct stmt *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return store_fail(st, -ENOMEM, "out of memory");
	s->st = st;
	if (!st->pg) {
		rc = sqlite3_prepare_v2(st->db, sql, -1, &s->lite, NULL);
		if (rc != SQLITE_OK) {
			free(s);
			return store_fail_sqlite(st, rc);
		}
		*ret = s;
		return 0;
	}
	uint32_t used = 0;

	s->sql = pg_translate(sql, &s->nparams, &used);
	s->unused = ~used;
	if (!s->sql) {
		bool too_many = s->nparams < 0;

		free(s);
		return too_many ? store_fail(st, -E2BIG, "too many parameters")
				: store_fail(st, -ENOMEM, "out of memory");
	}
	if (s->nparams > (int)(sizeof(s->params) / sizeof(s->params[0]))) {
		stmt_finalize(s);
		return store_fail(st, -E2BIG, "too many parameters");
	}
	*ret = s;
	return 0;
}

/* PostgreSQL's OIDs of the types given to parameters */
#define OID_INT8 20
#define OID_TEXT 25

static void pg_param(struct stmt *s, int i, char *v, Oid type)
{
	if (i < 1 || i > s->nparams) {
		free(v);
		return;
	}
	free(s->params[i - 1]);
	s->params[i - 1] = v;
	s->types[i - 1] = type;
}

void stmt_bind_textn(struct stmt *s, int i, const char *v, size_t len)
{
	if (s->lite) {
		sqlite3_bind_text(s->lite, i, v, (int)len, SQLITE_TRANSIENT);
		return;
	}
	pg_param(s, i, strndup(v, len), 0);
}

void stmt_bind_text(struct stmt *s, int i, const char *v)
{
	if (!v)
		stmt_bind_null(s, i);
	else
		stmt_bind_textn(s, i, v, strlen(v));
}

void stmt_bind_int64(struct stmt *s, int i, int64_t v)
{
	char buf[24];

	if (s->lite) {
		sqlite3_bind_int64(s->lite, i, (sqlite3_int64)v);
		return;
	}
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	pg_param(s, i, strdup(buf), OID_INT8);
}

void stmt_bind_null(struct stmt *s, int i)
{
	if (s->lite)
		sqlite3_bind_null(s->lite, i);
	else
		pg_param(s, i, NULL, 0);
}

/* Sends s's query with its parameters (prepared when it has a name): libpq's 1 or 0. */
static int pg_send_query(struct stmt *s)
{
	if (s->name[0])
		return PQsendQueryPrepared(s->st->pg, s->name, s->nparams,
					   (const char *const *)s->params, NULL, NULL, 0);
	return PQsendQueryParams(s->st->pg, s->sql, s->nparams, s->types,
				 (const char *const *)s->params, NULL, NULL, 0);
}

/* pg_run in a pipeline: the query sent, nothing read (store_pipeline_end reads). */
static int pg_send(struct stmt *s)
{
	struct store *st = s->st;
	int ok;

	if (s->name[0] && !s->prepared) {
		if (st->pipe_nprep >= STMT__MAX ||
		    !PQsendPrepare(st->pg, s->name, s->sql, s->nparams, s->types)) {
			pg_message(st, PQerrorMessage(st->pg));
			return -EIO;
		}
		st->pipe_prep[st->pipe_nprep].at = st->pipe_sent++;
		st->pipe_prep[st->pipe_nprep++].stmt = s;
		s->prepared = true; /* unless its answer says otherwise */
	}
	ok = pg_send_query(s);
	if (!ok) {
		pg_message(st, PQerrorMessage(st->pg));
		return -EIO;
	}
	st->pipe_sent++;
	s->ran = true;
	s->res = NULL;
	s->nrows = 0;
	s->row = -1;
	return 0;
}

int store_pipeline_begin(struct store *st)
{
	if (!st->pg)
		return 0;
	pg_settle(st);
	if (pg_ensure(st) < 0)
		return -ENOTCONN;
	if (!PQenterPipelineMode(st->pg))
		return store_fail(st, -EIO, "cannot enter the pipeline mode");
	st->pipeline = true;
	st->pipe_sent = st->pipe_nprep = 0;
	return 1;
}

int store_pipeline_end(struct store *st)
{
	unsigned at = 0, nulls = 0;
	PGresult *res;
	int r = 0;

	if (!st->pg || !st->pipeline)
		return 0;
	st->pipeline = false;
	if (!PQpipelineSync(st->pg)) {
		pg_message(st, PQerrorMessage(st->pg));
		r = -EIO;
	}
	/* one result (and a NULL) per query sent, then the sync's */
	while (r == 0 || PQstatus(st->pg) == CONNECTION_OK) {
		ExecStatusType status;

		res = PQgetResult(st->pg);
		if (!res) {
			if (++nulls > 1 && at >= st->pipe_sent)
				break;
			if (nulls > 2)
				break;
			continue;
		}
		nulls = 0;
		status = PQresultStatus(res);
		if (status == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		for (unsigned i = 0; i < st->pipe_nprep; i++)
			if (st->pipe_prep[i].at == at && status != PGRES_COMMAND_OK)
				st->pipe_prep[i].stmt->prepared = false;
		if (r == 0 && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
			r = status == PGRES_PIPELINE_ABORTED ? -EIO : pg_fail(st, res);
		PQclear(res);
		at++;
	}
	PQexitPipelineMode(st->pg);
	return r;
}

/* Reads and drops what remains of the connection's current query (up to its NULL). */
static void pg_drain(struct store *st)
{
	PGresult *res;

	while ((res = PQgetResult(st->pg)) != NULL)
		PQclear(res);
}

/* The next result of s: a row read ahead, else the connection's (NULL when it has none). */
static PGresult *pg_next(struct stmt *s)
{
	if (s->held_next < s->nheld) {
		PGresult *res = s->held[s->held_next];

		s->held[s->held_next++] = NULL;
		return res;
	}
	return s->live ? PQgetResult(s->st->pg) : NULL;
}

/* s has had its last result: the connection is free (its NULL read) */
static void pg_end(struct stmt *s)
{
	if (s->live) {
		pg_drain(s->st);
		s->live = false;
		if (s->st->streaming == s)
			s->st->streaming = NULL;
	}
}

void pg_settle(struct store *st)
{
	struct stmt *s = st->streaming;
	PGresult *res;

	if (!s)
		return;
	st->streaming = NULL;
	s->live = false;
	while ((res = PQgetResult(st->pg)) != NULL) {
		if (s->nheld == 0 || s->nheld % 64 == 0) {
			PGresult **h = realloc(s->held, (s->nheld + 64) * sizeof(*h));

			if (!h) {
				/* the rows cannot be kept: the statement's next step fails */
				PQclear(res);
				pg_drain(st);
				for (size_t i = s->held_next; i < s->nheld; i++)
					PQclear(s->held[i]);
				s->nheld = s->held_next = 0;
				s->failed = -ENOMEM;
				break;
			}
			s->held = h;
		}
		s->held[s->nheld++] = res;
	}
}

/*
 * s sent, out of a pipeline: its rows are read one at a time by stmt_step, which is where
 * its answer (a failure too) is read.
 */
static int pg_run(struct stmt *s)
{
	struct store *st = s->st;
	int ok;

	if (!st->pg)
		return store_fail(st, -ENOTCONN, "not connected to the database");
	pg_settle(st);
	if (pg_ensure(st) < 0)
		return -ENOTCONN;
	for (int i = 0; i < s->nparams; i++)
		if (s->unused & (1u << i))
			s->types[i] = OID_TEXT;
	if (st->pipeline)
		return pg_send(s);
	if (s->name[0] && !s->prepared) {
		/* typed by the first binding: the statement's slots bind the same types */
		PGresult *res = PQprepare(st->pg, s->name, s->sql, s->nparams, s->types);
		int r = 0;

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pg_fail(st, res);
		PQclear(res);
		if (r < 0)
			return r;
		s->prepared = true;
	}
	ok = pg_send_query(s);
	if (!ok) {
		pg_message(st, PQerrorMessage(st->pg));
		if (st->error_counters && PQstatus(st->pg) == CONNECTION_BAD)
			__atomic_fetch_add(&st->error_counters[STORE_ERROR_IO], 1,
					   __ATOMIC_RELAXED);
		return PQstatus(st->pg) == CONNECTION_BAD ? -ENOTCONN : -EIO;
	}
	/* fails only if called at the wrong time, when rows come whole: still right */
	(void)PQsetSingleRowMode(st->pg);
	s->ran = true;
	s->live = true;
	st->streaming = s;
	s->nrows = 0;
	return 0;
}

/* The next row of a PostgreSQL statement: STMT_ROW with s->res on it, STMT_DONE, or errno. */
static int pg_step(struct stmt *s)
{
	struct store *st = s->st;
	PGresult *res;
	const char *n;
	int r;

	if (s->res && s->row + 1 < PQntuples(s->res)) {
		/* rows that came whole (a result read before single-row mode was set) */
		s->row++;
		s->nrows++;
		return STMT_ROW;
	}
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	res = pg_next(s);
	if (!res) {
		if (s->failed) {
			r = s->failed;
			s->failed = 0;
			return r == -ENOMEM
				       ? store_fail(st, r, "out of memory")
				       : store_fail(st, r, "the connection to PostgreSQL is lost");
		}
		if (!s->live)
			return STMT_DONE; /* pipelined, or its end already read */
		/* a query without an answer: the connection is gone */
		pg_end(s);
		return pg_fail(st, NULL);
	}
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
	case PGRES_TUPLES_OK:
		if (PQntuples(res) > 0) {
			/* a row (single-row mode), or rows that came whole: then the last result */
			s->res = res;
			s->row = 0;
			s->nrows++;
			if (PQresultStatus(res) == PGRES_TUPLES_OK) {
				st->last_changes = PQntuples(res);
				pg_end(s);
			}
			return STMT_ROW;
		}
		PQclear(res);
		st->last_changes = s->nrows;
		pg_end(s);
		return STMT_DONE;
	case PGRES_COMMAND_OK:
		n = PQcmdTuples(res);
		st->last_changes = n && *n ? strtoll(n, NULL, 10) : 0;
		PQclear(res);
		pg_end(s);
		return STMT_DONE;
	default:
		r = pg_fail(st, res);
		PQclear(res);
		pg_end(s);
		return r;
	}
}

int stmt_step(struct stmt *s)
{
	int rc, r;

	if (s->lite) {
		rc = sqlite3_step(s->lite);
		if (rc == SQLITE_ROW)
			return STMT_ROW;
		if (rc == SQLITE_DONE) {
			s->st->last_changes = sqlite3_changes64(s->st->db);
			return STMT_DONE;
		}
		return store_fail_sqlite(s->st, rc);
	}
	if (!s->ran) {
		r = pg_run(s);
		if (r < 0)
			return r;
	}
	return pg_step(s);
}

const char *stmt_text(struct stmt *s, int i)
{
	if (s->lite)
		return (const char *)sqlite3_column_text(s->lite, i);
	if (!s->res || s->row < 0 || PQgetisnull(s->res, s->row, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

bool stmt_is_null(struct stmt *s, int i)
{
	if (s->lite)
		return sqlite3_column_type(s->lite, i) == SQLITE_NULL;
	return !s->res || s->row < 0 || PQgetisnull(s->res, s->row, i);
}

int64_t stmt_int64(struct stmt *s, int i)
{
	const char *v;

	if (s->lite)
		return (int64_t)sqlite3_column_int64(s->lite, i);
	v = stmt_text(s, i);
	if (!v)
		return 0;
	if (v[0] == 't' && v[1] == '\0')
		return 1; /* a boolean */
	return strtoll(v, NULL, 10);
}

/*
 * s's query stopped before its last row: outside a transaction it is cancelled (the rows
 * left, a whole journal perhaps, are not sent); inside one a cancellation would abort the
 * transaction, so they are read and dropped.
 */
static void pg_abandon(struct stmt *s)
{
	struct store *st = s->st;

	if (st->tx_depth == 0 && PQstatus(st->pg) == CONNECTION_OK) {
		PGcancel *c = PQgetCancel(st->pg);
		char err[256];

		if (c) {
			(void)PQcancel(c, err, sizeof(err));
			PQfreeCancel(c);
		}
	}
	pg_end(s);
}

void stmt_reset(struct stmt *s)
{
	if (s->lite) {
		sqlite3_reset(s->lite);
		sqlite3_clear_bindings(s->lite);
		return;
	}
	if (s->live)
		pg_abandon(s);
	PQclear(s->res);
	s->res = NULL;
	for (size_t i = s->held_next; i < s->nheld; i++)
		PQclear(s->held[i]);
	free(s->held);
	s->held = NULL;
	s->nheld = s->held_next = 0;
	s->ran = false;
	s->failed = 0;
	s->row = -1;
	s->nrows = 0;
	for (int i = 0; i < s->nparams; i++) {
		free(s->params[i]);
		s->params[i] = NULL;
		s->types[i] = 0;
	}
}

void stmt_finalize(struct stmt *s)
{
	if (!s)
		return;
	if (s->lite) {
		sqlite3_finalize(s->lite);
	} else {
		stmt_reset(s);
		if (s->prepared && s->st->pg) {
			char sql[40];

			pg_settle(s->st);
			snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
			PQclear(PQexec(s->st->pg, sql));
		}
		free(s->sql);
	}
	free(s);
}

int64_t store_changes(struct store *st)
{
	return st->last_changes;
}

int64_t store_last_rowid(struct store *st)
{
	return st->db ? sqlite3_last_insert_rowid(st->db) : 0;
}

int store_failed(struct store *st, int rc)
{
	if (rc < 0)
		return rc;
	return store_fail(st, -EIO, "unexpected result from the database");
}
