// SPDX-License-Identifier: MIT
/*
 * Statements of either backend (store_impl.h): the store's files run SQL through these, so
 * what they do with the rows is written once. SQLite's statements are its own; a
 * PostgreSQL statement is its SQL with ?N turned into $N, its parameters kept as text, and
 * the whole result of one round trip, read row by row (the store's queries are bounded:
 * pages, one device, a batch).
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
	if (s->name[0])
		ok = PQsendQueryPrepared(st->pg, s->name, s->nparams,
					 (const char *const *)s->params, NULL, NULL, 0);
	else
		ok = PQsendQueryParams(st->pg, s->sql, s->nparams, s->types,
				       (const char *const *)s->params, NULL, NULL, 0);
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

static int pg_run(struct stmt *s)
{
	struct store *st = s->st;
	ExecStatusType status;

	if (!st->pg)
		return store_fail(st, -ENOTCONN, "not connected to the database");
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
	if (s->name[0])
		s->res = PQexecPrepared(st->pg, s->name, s->nparams, (const char *const *)s->params,
					NULL, NULL, 0);
	else
		s->res = PQexecParams(st->pg, s->sql, s->nparams, s->types,
				      (const char *const *)s->params, NULL, NULL, 0);
	s->ran = true;
	status = PQresultStatus(s->res);
	if (status == PGRES_TUPLES_OK) {
		s->nrows = PQntuples(s->res);
		s->row = -1;
		st->last_changes = s->nrows;
		return 0;
	}
	if (status == PGRES_COMMAND_OK) {
		const char *n = PQcmdTuples(s->res);

		st->last_changes = n && *n ? strtoll(n, NULL, 10) : 0;
		s->nrows = 0;
		s->row = -1;
		return 0;
	}
	return pg_fail(st, s->res);
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
	if (!s->res || s->row + 1 >= s->nrows)
		return STMT_DONE;
	s->row++;
	return STMT_ROW;
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

void stmt_reset(struct stmt *s)
{
	if (s->lite) {
		sqlite3_reset(s->lite);
		sqlite3_clear_bindings(s->lite);
		return;
	}
	PQclear(s->res);
	s->res = NULL;
	s->ran = false;
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

int store_failed(struct store *st, int rc)
{
	if (rc < 0)
		return rc;
	return store_fail(st, -EIO, "unexpected result from the database");
}
