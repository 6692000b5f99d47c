// SPDX-License-Identifier: MIT
/*
 * The PostgreSQL backend (libpq): connecting from a connection URI, the schema and its
 * forward migrations, transactions, and what a failure means as an errno.
 *
 * The schema is SQLite's (store.c) with PostgreSQL's types: ids, times and revisions are
 * bigint, the journal's id and the change log's seq are sequences. It starts at schema
 * version 5 (SQLite's then), kept in meta's schema_version; pg_migrations[i] takes version
 * PG_SCHEMA_FIRST + i to the next. Triggers (PL/pgSQL) keep the inventory revision, the
 * rows' rev and the change log as SQLite's do, and NOTIFY autoprov_changes at commit: a
 * wake-up for the nodes that listen, never the data (they read the change log).
 *
 * Several processes on several hosts write: every write transaction takes one
 * transaction-level advisory lock first (pg_begin_write), which is what SQLite's BEGIN
 * IMMEDIATE gives, so every read-modify-write (versions, first-use bindings, imports)
 * keeps SQLite's meaning across nodes. The inventory's triggers update one meta row
 * first, so change-log sequence numbers are given in commit order.
 */
#include "core/str.h"
#include "store/store_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_SCHEMA_FIRST	  5
#define PG_WRITE_LOCK_KEY 0x6175746f70 /* "autop" */

/*
 * The bodies of the devices' and groups' trigger functions. An upsert (INSERT ... ON
 * CONFLICT DO UPDATE) of a row that exists runs PostgreSQL's BEFORE INSERT trigger and then
 * its BEFORE UPDATE trigger, where SQLite's runs only its update triggers: the insert's
 * leaves such a row to the update's (a plain INSERT of it fails anyway), so a change is one
 * revision on both backends, one change-log row. They are replaced in a database whose
 * functions differ (pg_functions_current): not a schema version, since the tables are the
 * same and older binaries run with them as they did.
 */
#define PG_DEVICES_CHANGE                                                                          \
	"BEGIN"                                                                                    \
	"  IF TG_OP = 'DELETE' THEN"                                                               \
	"    PERFORM autoprov_bump();"                                                             \
	"    INSERT INTO changes (kind, key) VALUES (1, OLD.mac);"                                 \
	"    DELETE FROM device_state WHERE mac = OLD.mac;"                                        \
	"    PERFORM pg_notify('autoprov_changes', '');"                                           \
	"    RETURN OLD;"                                                                          \
	"  END IF;"                                                                                \
	"  IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM devices WHERE mac = NEW.mac) THEN"        \
	"    RETURN NEW;"                                                                          \
	"  END IF;"                                                                                \
	"  NEW.rev := autoprov_bump();"                                                            \
	"  INSERT INTO changes (kind, key) VALUES (1, NEW.mac);"                                   \
	"  IF TG_OP = 'UPDATE' AND OLD.mac <> NEW.mac THEN"                                        \
	"    INSERT INTO changes (kind, key) VALUES (1, OLD.mac);"                                 \
	"  END IF;"                                                                                \
	"  PERFORM pg_notify('autoprov_changes', '');"                                             \
	"  RETURN NEW;"                                                                            \
	"END "
#define PG_GROUPS_CHANGE                                                                           \
	"BEGIN"                                                                                    \
	"  IF TG_OP = 'DELETE' THEN"                                                               \
	"    PERFORM autoprov_bump();"                                                             \
	"    INSERT INTO changes (kind, key) VALUES (2, OLD.name);"                                \
	"    PERFORM pg_notify('autoprov_changes', '');"                                           \
	"    RETURN OLD;"                                                                          \
	"  END IF;"                                                                                \
	"  IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM groups WHERE name = NEW.name) THEN"       \
	"    RETURN NEW;"                                                                          \
	"  END IF;"                                                                                \
	"  NEW.rev := autoprov_bump();"                                                            \
	"  INSERT INTO changes (kind, key) VALUES (2, NEW.name);"                                  \
	"  IF TG_OP = 'UPDATE' AND OLD.name <> NEW.name THEN"                                      \
	"    INSERT INTO changes (kind, key) VALUES (2, OLD.name);"                                \
	"  END IF;"                                                                                \
	"  PERFORM pg_notify('autoprov_changes', '');"                                             \
	"  RETURN NEW;"                                                                            \
	"END "

/* The trigger functions of this autoprov, for a database whose own differ. */
static const char pg_functions[] =
	"CREATE OR REPLACE FUNCTION autoprov_devices_change() RETURNS trigger LANGUAGE plpgsql"
	"  AS $$" PG_DEVICES_CHANGE "$$;"
	"CREATE OR REPLACE FUNCTION autoprov_groups_change() RETURNS trigger LANGUAGE plpgsql"
	"  AS $$" PG_GROUPS_CHANGE "$$;";

static const char pg_schema[] =
	"CREATE TABLE meta ("
	"  key TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	"  value BIGINT NOT NULL"
	");"
	"INSERT INTO meta (key, value) VALUES ('inventory_rev', 0), ('changes_pruned', 0),"
	"  ('schema_version', 5);"
	"CREATE TABLE groups ("
	"  name TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	"  vars TEXT NOT NULL DEFAULT '{}',"
	"  rev BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE devices ("
	"  mac TEXT COLLATE \"C\" PRIMARY KEY NOT NULL CHECK (length(mac) = 12),"
	"  model TEXT NOT NULL DEFAULT '',"
	"  profile TEXT NOT NULL DEFAULT '',"
	"  group_name TEXT COLLATE \"C\" REFERENCES groups (name),"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  vars TEXT NOT NULL DEFAULT '{}',"
	"  rev BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX devices_group ON devices (group_name);"
	"CREATE TABLE defaults ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  vars TEXT NOT NULL DEFAULT '{}',"
	"  rev BIGINT NOT NULL DEFAULT 0"
	");"
	"INSERT INTO defaults (id) VALUES (1);"
	"CREATE TABLE journal ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  time BIGINT NOT NULL,"
	"  proto TEXT, peer TEXT, mac TEXT, path TEXT, outcome TEXT,"
	"  bytes BIGINT NOT NULL DEFAULT 0,"
	"  md5 TEXT, user_agent TEXT, detail TEXT"
	");"
	"CREATE INDEX journal_mac ON journal (mac, time) WHERE mac IS NOT NULL;"
	"CREATE TABLE versions ("
	"  key TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	"  content_md5 TEXT NOT NULL,"
	"  version BIGINT NOT NULL"
	");"
	"CREATE TABLE changes ("
	"  seq BIGSERIAL PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  key TEXT NOT NULL"
	");"
	"CREATE TABLE tokens ("
	"  name TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL DEFAULT 0,"
	"  last_used BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE device_state ("
	"  mac TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	"  first_seen BIGINT NOT NULL,"
	"  first_id BIGINT NOT NULL DEFAULT 0,"
	"  last_seen BIGINT NOT NULL,"
	"  last_id BIGINT NOT NULL DEFAULT 0,"
	"  last_proto TEXT, last_peer TEXT, last_user_agent TEXT, last_path TEXT,"
	"  last_outcome TEXT,"
	"  sent_time BIGINT NOT NULL DEFAULT 0, sent_id BIGINT NOT NULL DEFAULT 0,"
	"  sent_path TEXT, sent_md5 TEXT,"
	"  config_time BIGINT NOT NULL DEFAULT 0, config_id BIGINT NOT NULL DEFAULT 0,"
	"  config_path TEXT, config_md5 TEXT, config_proto TEXT,"
	"  config_rev BIGINT NOT NULL DEFAULT 0,"
	"  fail_time BIGINT NOT NULL DEFAULT 0, fail_id BIGINT NOT NULL DEFAULT 0,"
	"  fail_path TEXT, fail_outcome TEXT, fail_detail TEXT,"
	"  firmware TEXT,"
	"  status INTEGER NOT NULL DEFAULT 1"
	");"
	"CREATE INDEX device_state_seen ON device_state (last_seen);"
	"CREATE INDEX device_state_status ON device_state (status, mac);"

	/* SQLite's scalar max() and instr(), so the store's SQL reads the same on both */
	"CREATE FUNCTION max(a BIGINT, b BIGINT) RETURNS BIGINT IMMUTABLE LANGUAGE sql"
	"  AS 'SELECT GREATEST(a, b)';"
	"CREATE FUNCTION max(a BIGINT, b BIGINT, c BIGINT) RETURNS BIGINT IMMUTABLE LANGUAGE sql"
	"  AS 'SELECT GREATEST(a, b, c)';"
	"CREATE FUNCTION instr(a TEXT, b TEXT) RETURNS INTEGER IMMUTABLE LANGUAGE sql"
	"  AS 'SELECT strpos(a, b)';"

	/* the next inventory revision: the meta row's lock orders writers until they commit */
	"CREATE FUNCTION autoprov_bump() RETURNS BIGINT LANGUAGE sql AS"
	"  $$UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev' RETURNING value$$;"
	"CREATE FUNCTION autoprov_devices_change() RETURNS trigger LANGUAGE plpgsql"
	"  AS $$" PG_DEVICES_CHANGE "$$;"
	"CREATE TRIGGER devices_change BEFORE INSERT OR UPDATE OR DELETE ON devices"
	"  FOR EACH ROW EXECUTE FUNCTION autoprov_devices_change();"
	"CREATE FUNCTION autoprov_groups_change() RETURNS trigger LANGUAGE plpgsql"
	"  AS $$" PG_GROUPS_CHANGE "$$;"
	"CREATE TRIGGER groups_change BEFORE INSERT OR UPDATE OR DELETE ON groups"
	"  FOR EACH ROW EXECUTE FUNCTION autoprov_groups_change();"
	"CREATE FUNCTION autoprov_defaults_change() RETURNS trigger LANGUAGE plpgsql AS $$"
	"BEGIN"
	"  NEW.rev := autoprov_bump();"
	"  INSERT INTO changes (kind, key) VALUES (3, '');"
	"  PERFORM pg_notify('autoprov_changes', '');"
	"  RETURN NEW;"
	"END $$;"
	"CREATE TRIGGER defaults_change BEFORE UPDATE ON defaults"
	"  FOR EACH ROW EXECUTE FUNCTION autoprov_defaults_change();";

/*
 * Forward migrations from PG_SCHEMA_FIRST: never edit a step that shipped, add the next
 * (each ends by setting meta's schema_version).
 */
static const char *const pg_migrations[] = {
	/* 5 -> 6: the node that served each request ([server] node), as SQLite's 5 -> 6 */
	"ALTER TABLE journal ADD COLUMN node TEXT;"
	"UPDATE meta SET value = 6 WHERE key = 'schema_version';",
	/* 6 -> 7: the unknown devices, as SQLite's 6 -> 7 (store.c) */
	"CREATE TABLE unknown_devices ("
	"  mac TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	"  first_seen BIGINT NOT NULL,"
	"  last_seen BIGINT NOT NULL,"
	"  requests BIGINT NOT NULL DEFAULT 0,"
	"  files TEXT NOT NULL DEFAULT '[]',"
	"  last_peer TEXT"
	");"
	"CREATE INDEX unknown_devices_seen ON unknown_devices (last_seen, mac);"
	"CREATE FUNCTION autoprov_unknown_known() RETURNS trigger LANGUAGE plpgsql AS $$"
	"BEGIN"
	"  IF NEW.group_name IS DISTINCT FROM 'pending' THEN"
	"    DELETE FROM unknown_devices WHERE mac = NEW.mac;"
	"  END IF;"
	"  RETURN NULL;"
	"END $$;"
	"CREATE TRIGGER unknown_devices_added AFTER INSERT ON devices"
	"  FOR EACH ROW EXECUTE FUNCTION autoprov_unknown_known();"
	"CREATE TRIGGER unknown_devices_moved AFTER UPDATE OF group_name ON devices"
	"  FOR EACH ROW EXECUTE FUNCTION autoprov_unknown_known();"
	"INSERT INTO unknown_devices (mac, first_seen, last_seen, requests, files)"
	"  SELECT j.mac, min(j.time), max(j.time), count(*),"
	"  coalesce(jsonb_agg(DISTINCT j.path) FILTER (WHERE j.path IS NOT NULL), '[]')::text"
	"  FROM journal j WHERE j.mac IS NOT NULL AND j.mac NOT IN (SELECT mac FROM devices)"
	"  GROUP BY j.mac;"
	"UPDATE unknown_devices SET last_peer = (SELECT peer FROM journal j"
	"  WHERE j.mac = unknown_devices.mac ORDER BY j.time DESC LIMIT 1);"
	"UPDATE meta SET value = 7 WHERE key = 'schema_version';",
	/* 7 -> 8: the indexes a page sorted by state walks, as SQLite's 7 -> 8 (store.c) */
	"DROP INDEX device_state_status;"
	"CREATE INDEX device_state_status ON device_state (status, mac, config_rev);"
	"CREATE INDEX devices_revs ON devices (mac, rev, group_name);"
	"CREATE INDEX groups_revs ON groups (name, rev);"
	"UPDATE meta SET value = 8 WHERE key = 'schema_version';",
	/* 8 -> 9: SQLite's journal_macs; PostgreSQL keeps its index journal_mac (journal.c) */
	"UPDATE meta SET value = 9 WHERE key = 'schema_version';",
	/* 9 -> 10: SQLite's journal_macs in runs; nothing here */
	"UPDATE meta SET value = 10 WHERE key = 'schema_version';",
	NULL, /* the end: the step from STORE_SCHEMA_VERSION is the next to write */
};

_Static_assert(PG_SCHEMA_FIRST + sizeof(pg_migrations) / sizeof(pg_migrations[0]) - 1 ==
		       STORE_SCHEMA_VERSION,
	       "one PostgreSQL migration step per schema version after the first");

const char *store_redact_url(const char *url, char *buf, size_t size)
{
	const char *scheme = strstr(url, "://"), *at, *colon, *q;
	size_t n;

	snprintf(buf, size, "%s", url);
	if (!scheme)
		return buf;
	scheme += 3;
	at = strpbrk(scheme, "@/?");
	if (at && *at == '@') {
		colon = memchr(scheme, ':', (size_t)(at - scheme));
		if (colon) {
			n = (size_t)(colon - url) + 1;
			snprintf(buf, size, "%.*s***%s", (int)n, url, at);
		}
	}
	/* a password=... parameter of the query */
	q = strstr(buf, "password=");
	if (q && (q[-1] == '?' || q[-1] == '&')) {
		char *p = (char *)q + strlen("password="), *end = strchr(p, '&');
		char rest[512];

		snprintf(rest, sizeof(rest), "%s", end ? end : "");
		if ((size_t)(p - buf) + 3 + strlen(rest) < size)
			snprintf(p, size - (size_t)(p - buf), "***%s", rest);
	}
	return buf;
}

static void pg_notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A message of libpq as one line, without its newline; the URI's secret never is in it. */
void pg_message(struct store *st, const char *msg)
{
	size_t n;

	snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg && *msg ? msg : "PostgreSQL failed");
	n = strlen(st->errmsg);
	while (n > 0 && (st->errmsg[n - 1] == '\n' || st->errmsg[n - 1] == ' '))
		st->errmsg[--n] = '\0';
	for (char *p = st->errmsg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

int pg_fail(struct store *st, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	enum store_error_kind kind = STORE_ERROR_OTHER;
	int err = -EIO;

	/* the primary message: the rest (the statement, a caret) is for developers */
	pg_message(st, res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL);
	if (!st->errmsg[0] || strcmp(st->errmsg, "PostgreSQL failed") == 0)
		pg_message(st, PQerrorMessage(st->pg));
	if (!state) {
		/* no answer: the connection is gone */
		if (PQstatus(st->pg) == CONNECTION_BAD) {
			err = -ENOTCONN;
			kind = STORE_ERROR_IO;
		}
	} else if (strncmp(state, "23505", 5) == 0 || strncmp(state, "23", 2) == 0) {
		err = -EEXIST;
	} else if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
		   !strcmp(state, "57014")) {
		err = -EBUSY;
		kind = STORE_ERROR_BUSY;
	} else if (!strcmp(state, "53100")) {
		err = -ENOSPC;
		kind = STORE_ERROR_FULL;
	} else if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)) {
		err = -ENOTCONN;
		kind = STORE_ERROR_IO;
	} else if (!strcmp(state, "42501")) {
		err = -EACCES;
	} else if (!strcmp(state, "22P02") || !strcmp(state, "22023")) {
		err = -EINVAL;
	}
	if (st->error_counters)
		__atomic_fetch_add(&st->error_counters[kind], 1, __ATOMIC_RELAXED);
	if (getenv("AUTOPROV_PG_DEBUG"))
		fprintf(stderr, "PGDEBUG %s: %s\n", state ? state : "-", st->errmsg);
	return err;
}

int pg_exec(struct store *st, const char *sql)
{
	PGresult *res;
	ExecStatusType status;
	int r = 0;

	pg_settle(st);
	if (pg_ensure(st) < 0)
		return -ENOTCONN;
	res = PQexec(st->pg, sql);
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		r = pg_fail(st, res);
	PQclear(res);
	return r;
}

int pg_begin_write(struct store *st)
{
	char sql[96];
	PGresult *res;
	int r = 0;

	pg_settle(st);
	if (st->wait_ms == 0) {
		snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_xact_lock(%lld)",
			 (long long)PG_WRITE_LOCK_KEY);
		res = PQexec(st->pg, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			r = pg_fail(st, res);
		else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			r = store_fail(st, -EBUSY, "the database is busy (another writer)");
			if (st->error_counters)
				__atomic_fetch_add(&st->error_counters[STORE_ERROR_BUSY], 1,
						   __ATOMIC_RELAXED);
		}
		PQclear(res);
		return r;
	}
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
		 (long long)PG_WRITE_LOCK_KEY);
	return pg_exec(st, sql);
}

int pg_schema_version(struct store *st, int *ret)
{
	PGresult *res;
	uint64_t v;
	int r = 0;

	pg_settle(st);
	res = PQexec(st->pg, "SELECT value FROM meta WHERE key = 'schema_version'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = pg_fail(st, res);
	else if (PQntuples(res) != 1)
		r = store_fail(st, -EBADMSG, "the database has no schema version");
	else if (str_to_u64(PQgetvalue(res, 0, 0), 0, INT_MAX, &v) < 0)
		r = store_fail(st, -EBADMSG, "the database's schema version '%s' is not a number",
			       PQgetvalue(res, 0, 0));
	else
		*ret = (int)v;
	PQclear(res);
	return r;
}

/*
 * Whether st's database needs anything of pg_migrate: *ret_empty when it has no schema,
 * *ret_version its schema version, *ret_functions whether its trigger functions are this
 * autoprov's. A newer schema than ours is an error.
 */
static int pg_inspect(struct store *st, bool *ret_empty, int *ret_version, bool *ret_functions)
{
	static const char sql[] = "SELECT to_regclass('meta') IS NULL,"
				  " coalesce((SELECT prosrc = $1 FROM pg_proc"
				  " WHERE oid = to_regproc('autoprov_devices_change')), false)"
				  " AND coalesce((SELECT prosrc = $2 FROM pg_proc"
				  " WHERE oid = to_regproc('autoprov_groups_change')), false)";
	const char *const params[] = { PG_DEVICES_CHANGE, PG_GROUPS_CHANGE };
	PGresult *res;
	int r = 0;

	pg_settle(st);
	res = PQexecParams(st->pg, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = pg_fail(st, res);
		PQclear(res);
		return r;
	}
	*ret_empty = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	*ret_functions = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	*ret_version = 0;
	if (*ret_empty)
		return 0;
	r = pg_schema_version(st, ret_version);
	if (r == 0 && (*ret_version > STORE_SCHEMA_VERSION || *ret_version < PG_SCHEMA_FIRST))
		r = store_fail_schema(st, *ret_version);
	return r;
}

/*
 * Creates or migrates the schema. A database that is current is only read: the write lock
 * is taken when there is something to do (nodes may start together), and what to do is
 * read again under it.
 */
static int pg_migrate(struct store *st)
{
	bool empty, functions;
	int version, r;

	r = pg_inspect(st, &empty, &version, &functions);
	if (r < 0)
		return r;
	if (!empty && version == STORE_SCHEMA_VERSION && functions)
		return 0;
	r = store_begin(st, true);
	if (r < 0)
		return r;
	r = pg_inspect(st, &empty, &version, &functions);
	if (r < 0)
		goto fail;
	if (empty) {
		r = pg_exec(st, pg_schema);
		if (r < 0)
			goto fail;
		version = PG_SCHEMA_FIRST;
	}
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		r = pg_exec(st, pg_migrations[v - PG_SCHEMA_FIRST]);
		if (r < 0)
			goto fail;
	}
	if (!functions && !empty) {
		r = pg_exec(st, pg_functions);
		if (r < 0)
			goto fail;
	}
	return store_commit(st);
fail:
	store_rollback(st);
	return r;
}

/*
 * A connection to url, given up after PG_CONNECT_TIMEOUT seconds unless the URI says
 * otherwise (its connect_timeout comes after ours): a daemon's loop connects again after an
 * outage and must not hang on a host that drops packets.
 */
#define PG_CONNECT_TIMEOUT "3"

static PGconn *pg_connectdb(const char *url)
{
	static const char *const keys[] = { "connect_timeout", "dbname", NULL };
	const char *const values[] = { PG_CONNECT_TIMEOUT, url, NULL };

	return PQconnectdbParams(keys, values, 1);
}

int pg_connect(struct store *st, const char *url)
{
	char sql[64];
	int r;

	st->pg = pg_connectdb(url);
	if (!st->pg)
		return store_fail(st, -ENOMEM, "out of memory");
	if (PQstatus(st->pg) != CONNECTION_OK) {
		pg_message(st, PQerrorMessage(st->pg));
		return -ENOTCONN;
	}
	/* notices (a trigger's, CREATE ... IF NOT EXISTS) are nobody's business on stderr */
	PQsetNoticeProcessor(st->pg, pg_notice_ignore, NULL);
	r = pg_exec(st, "SET client_min_messages = warning");
	snprintf(sql, sizeof(sql), "SET lock_timeout = %u", st->wait_ms ? st->wait_ms : 1);
	if (r == 0)
		r = pg_exec(st, sql);
	if (r == 0)
		r = pg_migrate(st);
	return r;
}

void pg_disconnect(struct store *st)
{
	if (st->streaming) {
		/* its next step fails: the rows of another connection are not its */
		st->streaming->live = false;
		st->streaming->failed = -ENOTCONN;
		st->streaming = NULL;
	}
	PQfinish(st->pg);
	st->pg = NULL;
}

/*
 * A connection lost (the server restarted, a network cut) is made again on the next use
 * outside a transaction, at most once a second; the statements kept prepared are prepared
 * again on their next run. 0 when connected.
 */
int pg_ensure(struct store *st)
{
	struct timespec now;
	int64_t ms;

	if (PQstatus(st->pg) == CONNECTION_OK)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (st->tx_depth > 0 || (st->reset_at && ms - st->reset_at < 1000))
		return store_fail(st, -ENOTCONN, "the connection to PostgreSQL is lost");
	st->reset_at = ms;
	PQreset(st->pg);
	if (PQstatus(st->pg) != CONNECTION_OK) {
		pg_message(st, PQerrorMessage(st->pg));
		if (st->error_counters)
			__atomic_fetch_add(&st->error_counters[STORE_ERROR_IO], 1,
					   __ATOMIC_RELAXED);
		return -ENOTCONN;
	}
	PQsetNoticeProcessor(st->pg, pg_notice_ignore, NULL);
	for (size_t i = 0; i < STMT__MAX; i++)
		if (st->stmts[i])
			st->stmts[i]->prepared = false;
	return 0;
}

int store_watch_open(struct store *st)
{
	PGresult *res;
	int r = 0;

	if (!st->url)
		return -ENOTSUP;
	if (st->listen)
		return PQsocket(st->listen);
	st->listen = pg_connectdb(st->url);
	if (!st->listen)
		return -ENOMEM;
	if (PQstatus(st->listen) != CONNECTION_OK) {
		pg_message(st, PQerrorMessage(st->listen));
		store_watch_close(st);
		return -ENOTCONN;
	}
	PQsetNoticeProcessor(st->listen, pg_notice_ignore, NULL);
	res = PQexec(st->listen, "LISTEN autoprov_changes");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_message(st, PQresultErrorMessage(res));
		r = -EIO;
	}
	PQclear(res);
	if (r == 0 && PQsetnonblocking(st->listen, 1) != 0)
		r = -EIO;
	if (r < 0) {
		store_watch_close(st);
		return r;
	}
	return PQsocket(st->listen);
}

int store_watch_read(struct store *st)
{
	PGnotify *n;
	int any = 0;

	if (!st->listen)
		return -ENOTCONN;
	if (!PQconsumeInput(st->listen) || PQstatus(st->listen) != CONNECTION_OK) {
		pg_message(st, PQerrorMessage(st->listen));
		store_watch_close(st);
		return -ENOTCONN;
	}
	while ((n = PQnotifies(st->listen)) != NULL) {
		any = 1;
		PQfreemem(n);
	}
	return any;
}

void store_watch_close(struct store *st)
{
	PQfinish(st->listen);
	st->listen = NULL;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int pg_journal_ids(struct store *st, size_t n, int64_t **ret)
{
	char sql[96];
	PGresult *res;
	int64_t *ids;
	int r = 0;

	snprintf(sql, sizeof(sql), "SELECT nextval('journal_id_seq') FROM generate_series(1, %zu)",
		 n);
	pg_settle(st);
	res = PQexec(st->pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t)PQntuples(res) != n) {
		r = pg_fail(st, res);
		PQclear(res);
		return r;
	}
	ids = malloc(n * sizeof(*ids));
	if (!ids) {
		PQclear(res);
		return store_fail(st, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
	PQclear(res);
	qsort(ids, n, sizeof(*ids), cmp_id);
	*ret = ids;
	return 0;
}
