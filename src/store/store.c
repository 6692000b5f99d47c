// SPDX-License-Identifier: MIT
/*
 * The site database: opening, the schema and its migrations, errors, transactions. The
 * change log and the inventory revision are in changes.c, the rendered-file versions in
 * versions.c, inventory and journal in inventory.c and journal.c.
 *
 * Concurrency: the daemon keeps one connection open for its whole life while the CLI opens
 * its own to write. WAL lets readers go on while one writer writes; the busy timeout makes a
 * second writer wait instead of failing; every write transaction starts with BEGIN
 * IMMEDIATE, because a deferred one that read first can fail with SQLITE_BUSY without
 * waiting when another connection committed in between.
 *
 * The schema (version 1):
 *
 *   meta(key PK, value)                   inventory_rev: incremented by the triggers below
 *                                         on every insert, update or delete of devices,
 *                                         groups and defaults, whichever connection made it;
 *                                         write_probe: what store_probe_write changes.
 *   groups(name PK, vars, rev)            vars: a JSON object as text.
 *   devices(mac PK, model, profile,       mac: 12 lower-case hex digits; group_name NULL
 *           group_name FK -> groups,      when in no group (the foreign key makes a group in
 *           enabled, vars, rev)           use impossible to delete); index on group_name.
 *   defaults(id PK = 1, vars, rev)        one row, created with the schema.
 *   journal(id PK, time, proto, peer,     time: microseconds since the epoch (UTC); indexes
 *           mac, path, outcome, bytes,    on (mac, time) for a device's history and on time
 *           md5, user_agent)              for the whole journal and for pruning
 *                                         (version 5 adds detail, version 6 node: the
 *                                         node that served the request).
 *   versions(key PK, content_md5,         rendered-file versions (store_version).
 *            version)
 *   changes(seq PK AUTOINCREMENT,         the change log (version 3): one row per change of
 *           kind, key)                    a device (1, MAC), group (2, name) or the
 *                                         defaults (3, ""), written by triggers; meta's
 *                                         changes_pruned: the last seq pruned
 *                                         (store_changes_prune, at close).
 *
 * rev of a device, group or defaults row is the inventory revision of its last change
 * (set by the same triggers), so it never repeats even when a row is deleted and made again.
 * The schema version is PRAGMA user_version; migrations[i] takes version i to i + 1.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Forward migrations, applied in order inside one transaction. Never edit a step that
 * shipped: add the next one (and bump STORE_SCHEMA_VERSION).
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO meta (key, value) VALUES ('inventory_rev', 0);"

	"CREATE TABLE groups ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  vars TEXT NOT NULL DEFAULT '{}',"
	"  rev INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE devices ("
	"  mac TEXT PRIMARY KEY NOT NULL CHECK (length(mac) = 12),"
	"  model TEXT NOT NULL DEFAULT '',"
	"  profile TEXT NOT NULL DEFAULT '',"
	"  group_name TEXT REFERENCES groups (name),"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  vars TEXT NOT NULL DEFAULT '{}',"
	"  rev INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX devices_group ON devices (group_name);"
	"CREATE TABLE defaults ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  vars TEXT NOT NULL DEFAULT '{}',"
	"  rev INTEGER NOT NULL DEFAULT 0"
	");"
	"INSERT INTO defaults (id) VALUES (1);"

	"CREATE TABLE journal ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  proto TEXT,"
	"  peer TEXT,"
	"  mac TEXT,"
	"  path TEXT,"
	"  outcome TEXT,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  md5 TEXT,"
	"  user_agent TEXT"
	");"
	"CREATE INDEX journal_mac_time ON journal (mac, time);"
	"CREATE INDEX journal_time ON journal (time);"

	"CREATE TABLE versions ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  content_md5 TEXT NOT NULL,"
	"  version INTEGER NOT NULL"
	") WITHOUT ROWID;"

	/*
	 * The revision triggers. The inner UPDATE sets only rev, which the UPDATE OF lists
	 * leave out, so the triggers cannot fire themselves even with recursive_triggers on.
	 */
	"CREATE TRIGGER devices_insert AFTER INSERT ON devices BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"  UPDATE devices SET rev = (SELECT value FROM meta WHERE key = 'inventory_rev')"
	"    WHERE mac = NEW.mac;"
	"END;"
	"CREATE TRIGGER devices_update AFTER UPDATE OF mac, model, profile, group_name, enabled,"
	"  vars ON devices BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"  UPDATE devices SET rev = (SELECT value FROM meta WHERE key = 'inventory_rev')"
	"    WHERE mac = NEW.mac;"
	"END;"
	"CREATE TRIGGER devices_delete AFTER DELETE ON devices BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"END;"
	"CREATE TRIGGER groups_insert AFTER INSERT ON groups BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"  UPDATE groups SET rev = (SELECT value FROM meta WHERE key = 'inventory_rev')"
	"    WHERE name = NEW.name;"
	"END;"
	"CREATE TRIGGER groups_update AFTER UPDATE OF name, vars ON groups BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"  UPDATE groups SET rev = (SELECT value FROM meta WHERE key = 'inventory_rev')"
	"    WHERE name = NEW.name;"
	"END;"
	"CREATE TRIGGER groups_delete AFTER DELETE ON groups BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"END;"
	"CREATE TRIGGER defaults_update AFTER UPDATE OF vars ON defaults BEGIN"
	"  UPDATE meta SET value = value + 1 WHERE key = 'inventory_rev';"
	"  UPDATE defaults SET rev = (SELECT value FROM meta WHERE key = 'inventory_rev')"
	"    WHERE id = NEW.id;"
	"END;",

	/*
	 * 1 -> 2: the journal is written on every request, and each index costs the daemon
	 * about as much as the row: keep one index, on MAC, for the rows that have one (what
	 * `autoprov log --mac` and the doctor ask for). Time ranges go by id, which grows in
	 * the order entries are appended, that is in time order.
	 */
	"DROP INDEX journal_time;"
	"DROP INDEX journal_mac_time;"
	"CREATE INDEX journal_mac ON journal (mac, time) WHERE mac IS NOT NULL;",

	/*
	 * 2 -> 3: the change log. Every insert, update or delete of a device, a group or the
	 * defaults, by any connection, appends (seq, kind, key); a daemon applies the changes
	 * after the last seq it saw (site/directory.c). AUTOINCREMENT: a seq is never given
	 * twice, even once the rows below it are pruned. Every connection prunes when it
	 * closes (store_changes_prune: one DELETE; a trigger deleting as rows come made an
	 * import six times slower), and meta's changes_pruned says up to which seq (a reader
	 * that is further behind gets -ESTALE).
	 */
	"INSERT INTO meta (key, value) VALUES ('changes_pruned', 0);"
	"CREATE TABLE changes ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind INTEGER NOT NULL,"
	"  key TEXT NOT NULL"
	");"
	"CREATE TRIGGER changes_device_insert AFTER INSERT ON devices BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (1, NEW.mac);"
	"END;"
	"CREATE TRIGGER changes_device_update AFTER UPDATE OF mac, model, profile, group_name,"
	"  enabled, vars ON devices BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (1, NEW.mac);"
	"  INSERT INTO changes (kind, key) SELECT 1, OLD.mac WHERE OLD.mac <> NEW.mac;"
	"END;"
	"CREATE TRIGGER changes_device_delete AFTER DELETE ON devices BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (1, OLD.mac);"
	"END;"
	"CREATE TRIGGER changes_group_insert AFTER INSERT ON groups BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (2, NEW.name);"
	"END;"
	"CREATE TRIGGER changes_group_update AFTER UPDATE OF name, vars ON groups BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (2, NEW.name);"
	"  INSERT INTO changes (kind, key) SELECT 2, OLD.name WHERE OLD.name <> NEW.name;"
	"END;"
	"CREATE TRIGGER changes_group_delete AFTER DELETE ON groups BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (2, OLD.name);"
	"END;"
	"CREATE TRIGGER changes_defaults_update AFTER UPDATE OF vars ON defaults BEGIN"
	"  INSERT INTO changes (kind, key) VALUES (3, '');"
	"END;",

	/*
	 * 3 -> 4: the admin API's tokens (store/tokens.c): the SHA-256 of each token, never
	 * the token; looked up by that hash on every API request.
	 */
	"CREATE TABLE tokens ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  last_used INTEGER NOT NULL DEFAULT 0"
	");",

	/*
	 * 4 -> 5: the devices' state (store/state.c), kept by the journal's writer in the
	 * transaction that appends the rows it follows, for the devices of the inventory (an
	 * unknown MAC's history is the journal's: a scan must not grow this table); and why
	 * a request was refused, in the journal (detail), which "denied" alone does not say.
	 * Times are microseconds, as the journal's; *_id are journal ids. status: 1
	 * provisioning, 2 provisioned, 3 failing ("never seen" is no row; "change pending" is
	 * provisioned with an inventory revision above config_rev). Seeded from the journal
	 * already there: first and last seen, provisioned when a configuration was sent.
	 */
	"ALTER TABLE journal ADD COLUMN detail TEXT;"
	"CREATE TABLE device_state ("
	"  mac TEXT PRIMARY KEY NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  first_id INTEGER NOT NULL DEFAULT 0,"
	"  last_seen INTEGER NOT NULL,"
	"  last_id INTEGER NOT NULL DEFAULT 0,"
	"  last_proto TEXT, last_peer TEXT, last_user_agent TEXT, last_path TEXT,"
	"  last_outcome TEXT,"
	"  sent_time INTEGER NOT NULL DEFAULT 0, sent_id INTEGER NOT NULL DEFAULT 0,"
	"  sent_path TEXT, sent_md5 TEXT,"
	"  config_time INTEGER NOT NULL DEFAULT 0, config_id INTEGER NOT NULL DEFAULT 0,"
	"  config_path TEXT, config_md5 TEXT, config_proto TEXT,"
	"  config_rev INTEGER NOT NULL DEFAULT 0,"
	"  fail_time INTEGER NOT NULL DEFAULT 0, fail_id INTEGER NOT NULL DEFAULT 0,"
	"  fail_path TEXT, fail_outcome TEXT, fail_detail TEXT,"
	"  firmware TEXT,"
	"  status INTEGER NOT NULL DEFAULT 1"
	") WITHOUT ROWID;"
	"CREATE INDEX device_state_seen ON device_state (last_seen);"
	"CREATE INDEX device_state_status ON device_state (status, mac);"
	"CREATE TRIGGER device_state_gone AFTER DELETE ON devices BEGIN"
	"  DELETE FROM device_state WHERE mac = OLD.mac;"
	"END;"
	"INSERT INTO device_state (mac, first_seen, first_id, last_seen, last_id, status)"
	"  SELECT j.mac, min(j.time), min(j.id), max(j.time), max(j.id),"
	"    CASE WHEN max(j.outcome = 'sent') THEN 2 ELSE 1 END"
	"  FROM journal j JOIN devices d ON d.mac = j.mac GROUP BY j.mac;"
	"UPDATE device_state SET config_rev = (SELECT value FROM meta WHERE key = 'inventory_rev');",

	/*
	 * 5 -> 6: the node that served each request ([server] node): several nodes write one
	 * journal (docs/scale-out.md). No index: `autoprov log --node` and the API's node
	 * filter read the rows they look through anyway, and an index costs every append.
	 */
	"ALTER TABLE journal ADD COLUMN node TEXT;",

	/*
	 * 6 -> 7: the MACs that asked and are not in the inventory (or wait in the group
	 * "pending", [server] unknown_devices = register), kept by the journal's writer as the
	 * devices' state is (store/state.c): the dashboard lists them without reading the
	 * journal. A device entering the inventory elsewhere than "pending" leaves the list.
	 * Seeded from the journal already there.
	 */
	"CREATE TABLE unknown_devices ("
	"  mac TEXT PRIMARY KEY NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  requests INTEGER NOT NULL DEFAULT 0,"
	"  files TEXT NOT NULL DEFAULT '[]',"
	"  last_peer TEXT"
	") WITHOUT ROWID;"
	"CREATE INDEX unknown_devices_seen ON unknown_devices (last_seen, mac);"
	"CREATE TRIGGER unknown_devices_added AFTER INSERT ON devices"
	" WHEN NEW.group_name IS NOT 'pending' BEGIN"
	"  DELETE FROM unknown_devices WHERE mac = NEW.mac;"
	"END;"
	"CREATE TRIGGER unknown_devices_moved AFTER UPDATE OF group_name ON devices"
	" WHEN NEW.group_name IS NOT 'pending' BEGIN"
	"  DELETE FROM unknown_devices WHERE mac = NEW.mac;"
	"END;"
	"INSERT INTO unknown_devices (mac, first_seen, last_seen, requests, files)"
	"  SELECT j.mac, min(j.time), max(j.time), count(*), json_group_array(DISTINCT j.path)"
	"  FROM journal j WHERE j.mac IS NOT NULL AND j.mac NOT IN (SELECT mac FROM devices)"
	"  GROUP BY j.mac;"
	"UPDATE unknown_devices SET last_peer = (SELECT peer FROM journal j"
	"  WHERE j.mac = unknown_devices.mac ORDER BY j.time DESC LIMIT 1);",

	/*
	 * 7 -> 8: a page of devices sorted by state walks the states one by one
	 * (store_device_page): the stored status by its index, with the revision a change pending
	 * is told by in it, and the device's and its group's revisions each read from an index of
	 * their own (no row of devices, with its variables, read for a device that is not on the
	 * page).
	 */
	"DROP INDEX device_state_status;"
	"CREATE INDEX device_state_status ON device_state (status, mac, config_rev);"
	"CREATE INDEX devices_revs ON devices (mac, rev, group_name);"
	"CREATE INDEX groups_revs ON groups (name, rev);",

	/*
	 * 8 -> 9: a device's rows through journal_macs, filled in sorted batches by the appends,
	 * not an index on the journal written at one page per row (store/journal.c, "A
	 * device's rows").
	 */
	"CREATE TABLE journal_macs ("
	"  mac TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  id INTEGER NOT NULL,"
	"  PRIMARY KEY (mac, time, id)"
	") WITHOUT ROWID;"
	"INSERT INTO journal_macs SELECT mac, time, id FROM journal WHERE mac IS NOT NULL"
	"  ORDER BY mac, time, id;"
	"INSERT INTO meta (key, value)"
	"  VALUES ('journal_macs_upto', (SELECT coalesce(max(id), 0) FROM journal));"
	"DROP INDEX journal_mac;",

	/*
	 * 9 -> 10: journal_macs in runs: each merge appends its rows after the runs before it,
	 * writing new pages only, rather than a page in each device's range (store/journal.c,
	 * "A device's rows"); what was merged before is run 0.
	 */
	"CREATE TABLE journal_runs (run INTEGER PRIMARY KEY);"
	"ALTER TABLE journal_macs RENAME TO journal_macs_9;"
	"CREATE TABLE journal_macs ("
	"  run INTEGER NOT NULL,"
	"  mac TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  id INTEGER NOT NULL,"
	"  PRIMARY KEY (run, mac, time, id)"
	") WITHOUT ROWID;"
	"INSERT INTO journal_macs SELECT 0, mac, time, id FROM journal_macs_9"
	"  ORDER BY mac, time, id;"
	"INSERT INTO journal_runs SELECT 0 WHERE EXISTS (SELECT 1 FROM journal_macs);"
	"DROP TABLE journal_macs_9;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

void store_set_wait(struct store *st, unsigned ms)
{
	char sql[48];

	st->wait_ms = ms;
	if (st->db) {
		sqlite3_busy_timeout(st->db, (int)ms);
	} else if (st->pg) {
		/* 0 is "never wait" here, "wait forever" to PostgreSQL: take a millisecond */
		snprintf(sql, sizeof(sql), "SET lock_timeout = %u", ms ? ms : 1);
		(void)pg_exec(st, sql);
	}
}

/* PRAGMA cache_size for st->cache_mib, on a SQLite connection */
static int apply_cache(struct store *st)
{
	char sql[64];

	if (!st->db || st->cache_mib == 0)
		return 0;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%llu",
		 (unsigned long long)st->cache_mib * 1024);
	return store_exec(st, sql);
}

void store_set_journal_merge(struct store *st, unsigned rows)
{
	st->journal_merge_rows = rows ? rows : 1;
}

void store_set_cache(struct store *st, unsigned mib)
{
	st->cache_mib = mib;
	(void)apply_cache(st);
}

int store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case STMT_ROW:
	case STMT_DONE: return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_TOOBIG: return -E2BIG;
	case SQLITE_CONSTRAINT: return -EEXIST;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return -EBADMSG;
	case SQLITE_MISUSE:
	case SQLITE_RANGE: return -EINVAL;
	default: return -EIO;
	}
}

void store_count_errors(struct store *st, uint64_t *counters)
{
	st->error_counters = counters;
}

static enum store_error_kind error_kind(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return STORE_ERROR_BUSY;
	case SQLITE_FULL: return STORE_ERROR_FULL;
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY: return STORE_ERROR_IO;
	default: return STORE_ERROR_OTHER;
	}
}

int store_fail_sqlite(struct store *st, int rc)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	if (st->error_counters)
		__atomic_fetch_add(&st->error_counters[error_kind(rc)], 1, __ATOMIC_RELAXED);
	snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg);
	return store_errno(rc) < 0 ? store_errno(rc) : -EIO;
}

int store_fail_schema(struct store *st, int version)
{
	return store_fail(st, -EPROTO,
			  "schema version %d is not one this autoprov knows (%d): the database was "
			  "written by a newer version",
			  version, STORE_SCHEMA_VERSION);
}

int store_fail(struct store *st, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

const char *store_strerror(struct store *st)
{
	return st->errmsg[0] ? st->errmsg : "no error";
}

int store_exec(struct store *st, const char *sql)
{
	int rc;

	if (st->pg)
		return pg_exec(st, sql);
	if (!st->db)
		return store_fail(st, -ENOTCONN, "not connected to the database");
	rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_fail_sqlite(st, rc);
}

int store_stmt(struct store *st, enum store_stmt which, const char *sql, struct stmt **ret)
{
	struct stmt *stmt = st->stmts[which];
	int rc;

	if (stmt) {
		stmt_reset(stmt);
		*ret = stmt;
		return 0;
	}
	if (st->pg) {
		/* prepared on the server once, on first use */
		rc = stmt_prepare(st, sql, &stmt);
		if (rc < 0)
			return rc;
		snprintf(stmt->name, sizeof(stmt->name), "ap%u_%d", st->stmt_serial, (int)which);
	} else {
		stmt = calloc(1, sizeof(*stmt));
		if (!stmt)
			return store_fail(st, -ENOMEM, "out of memory");
		stmt->st = st;
		rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt->lite,
					NULL);
		if (rc != SQLITE_OK) {
			free(stmt);
			return store_fail_sqlite(st, rc);
		}
	}
	st->stmts[which] = stmt;
	*ret = stmt;
	return 0;
}

char *store_vars_dump(const json_t *vars)
{
	if (!vars)
		return strdup("{}");
	return json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
}

int store_vars_load(struct store *st, const char *text, json_t **ret)
{
	json_error_t jerr;
	json_t *vars = json_loads(text ? text : "{}", 0, &jerr);

	if (!vars || !json_is_object(vars)) {
		json_decref(vars);
		return store_fail(st, -EBADMSG, "stored variables are not a JSON object");
	}
	*ret = vars;
	return 0;
}

static int read_user_version(struct store *st, int *ret)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st, "PRAGMA user_version", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	rc = stmt_step(stmt);
	if (rc != STMT_ROW) {
		r = store_failed(st, rc);
		goto out;
	}
	*ret = (int)stmt_int64(stmt, 0);
	r = 0;
out:
	stmt_finalize(stmt);
	return r;
}

int store_schema_version(struct store *st, int *ret)
{
	if (st->pg)
		return pg_schema_version(st, ret);
	return read_user_version(st, ret);
}

static int store_migrate(struct store *st)
{
	char sql[64];
	int version = 0, r;

	r = read_user_version(st, &version);
	if (r < 0)
		return r;
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	if (version > STORE_SCHEMA_VERSION || version < 0)
		return store_fail_schema(st, version);

	r = store_begin(st, true);
	if (r < 0)
		return r;
	/* another process may have migrated while we waited for the lock */
	r = read_user_version(st, &version);
	if (r < 0)
		goto fail;
	for (int i = version; i < STORE_SCHEMA_VERSION; i++) {
		r = store_exec(st, migrations[i]);
		if (r < 0)
			goto fail;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	r = store_exec(st, sql);
	if (r < 0)
		goto fail;
	return store_commit(st);

fail:
	store_rollback(st);
	return r;
}

/*
 * SQLite counts every allocation it makes under one process-wide mutex unless told not to
 * (before its first use): nothing here reads those counts, and the journal's writer and
 * the loops would contend for that mutex on every row.
 */
static void sqlite_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * Opens path on st->db and makes it ready: WAL, the schema. exclusive: the locking mode is
 * EXCLUSIVE from the first read, which keeps WAL's index in the heap instead of the -shm
 * file (the one way to read a WAL database on a disk with no room to grow that file).
 */
static int store_connect(struct store *st, const char *path, bool exclusive)
{
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	struct stmt *stmt = NULL;
	int rc, r;

	(void)pthread_once(&configured, sqlite_configure);
	/* one connection per thread at a time: SQLite's own mutexes would only cost */
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK)
		return st->db ? store_fail_sqlite(st, rc)
			      : store_fail(st, -ENOMEM, "out of memory");
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);

	r = store_exec(st, "PRAGMA foreign_keys = ON");
	/* temporary tables and sorts in memory: the daemon may not create files outside the site */
	if (r == 0)
		r = store_exec(st, "PRAGMA temp_store = MEMORY");
	if (r == 0 && exclusive)
		r = store_exec(st, "PRAGMA locking_mode = EXCLUSIVE");
	if (r < 0)
		return r;
	/* WAL is persistent in the file; asking again costs nothing and repairs a copied db */
	rc = stmt_prepare(st, "PRAGMA journal_mode = WAL", &stmt);
	if (rc == 0)
		rc = stmt_step(stmt);
	if (rc != STMT_ROW) {
		r = store_failed(st, rc);
		goto out;
	}
	if (strcmp(stmt_text(stmt, 0), "wal") != 0) {
		r = store_fail(st, -ENOTSUP, "cannot use WAL mode (journal mode stays '%s')",
			       stmt_text(stmt, 0));
		goto out;
	}
	stmt_finalize(stmt);
	stmt = NULL;
	/* with WAL, NORMAL loses at most the last commits on power loss, never consistency */
	r = store_exec(st, "PRAGMA synchronous = NORMAL");
	if (r == 0)
		r = apply_cache(st);
	if (r < 0)
		goto out;
	r = store_migrate(st);
	if (r < 0)
		goto out;
	st->exclusive = exclusive;
out:
	stmt_finalize(stmt);
	return r;
}

static void store_disconnect(struct store *st)
{
	for (size_t i = 0; i < STMT__MAX; i++) {
		stmt_finalize(st->stmts[i]);
		st->stmts[i] = NULL;
	}
	if (st->pg) {
		pg_disconnect(st);
	} else {
		/* close_v2: a statement we forgot would leak a connection, not abort the process */
		sqlite3_close_v2(st->db);
		st->db = NULL;
	}
	st->stmt_serial++;
	st->tx_depth = 0;
}

/*
 * Connects: to PostgreSQL, or to the SQLite file falling back to the exclusive mode when
 * the -shm file cannot be made.
 */
static int store_connect_any(struct store *st, const char *path)
{
	int r;

	if (st->url)
		return pg_connect(st, st->url);
	r = store_connect(st, path, false);

	if (r == -EIO || r == -ENOSPC) {
		store_disconnect(st);
		r = store_connect(st, path, true);
	}
	return r;
}

bool store_url_is_pg(const char *url)
{
	return url &&
	       (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

int store_open(const char *site_dir, struct store **ret, char *err, size_t errsz)
{
	return store_open_url(NULL, site_dir, ret, err, errsz);
}

int store_open_url(const char *url, const char *site_dir, struct store **ret, char *err,
		   size_t errsz)
{
	struct store *st;
	struct stat sb;
	size_t n;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st || pthread_mutex_init(&st->pending_lock, NULL) != 0) {
		free(st);
		snprintf(err, errsz, "%s: out of memory", url && *url ? "store" : site_dir);
		return -ENOMEM;
	}
	st->wait_ms = STORE_BUSY_TIMEOUT_MS;
	st->journal_merge_rows = STORE_JOURNAL_MERGE_ROWS;
	if (store_url_is_pg(url)) {
		st->url = strdup(url);
		store_redact_url(url, st->path, sizeof(st->path));
		if (!st->url) {
			r = store_fail(st, -ENOMEM, "out of memory");
			goto fail;
		}
	} else {
		/* a site directory, an SQLite file, or sqlite:PATH of either */
		if (url && *url)
			site_dir = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
		n = strlen(site_dir);
		if (stat(site_dir, &sb) == 0 ? !S_ISDIR(sb.st_mode)
					     : n > 3 && strcmp(site_dir + n - 3, ".db") == 0)
			n = (size_t)snprintf(st->path, sizeof(st->path), "%s", site_dir);
		else
			n = (size_t)snprintf(st->path, sizeof(st->path), "%s/autoprov.db",
					     site_dir);
		if (n >= sizeof(st->path)) {
			snprintf(err, errsz, "%s/autoprov.db: path too long", site_dir);
			pthread_mutex_destroy(&st->pending_lock);
			free(st);
			return -ENAMETOOLONG;
		}
	}
	r = store_connect_any(st, st->path);
	if (r < 0)
		goto fail;
	st->errmsg[0] = '\0';
	*ret = st;
	return 0;

fail:
	snprintf(err, errsz, "%s: %s", st->path, st->errmsg);
	store_close(st);
	return r;
}

bool store_exclusive(const struct store *st)
{
	return st->exclusive;
}

int store_reconnect(struct store *st)
{
	int r;

	if (st->tx_depth > 0)
		return store_fail(st, -EBUSY, "reconnect inside a transaction");
	store_disconnect(st);
	if (st->url)
		return pg_connect(st, st->url);
	r = store_connect_any(st, st->path);
	return r;
}

int store_probe_write(struct store *st)
{
	int r = store_begin(st, true);

	if (r < 0)
		return r;
	/*
	 * A row of its own that changes (SQLite writes nothing for an update that changes
	 * nothing): a page for the WAL, nothing anybody reads.
	 */
	r = store_exec(st, "INSERT INTO meta (key, value) VALUES ('write_probe', 1)"
			   " ON CONFLICT (key) DO UPDATE SET value = meta.value + 1");
	if (r < 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	/* a command-line render's versions get one more chance */
	if ((st->db || st->pg) && store_versions_pending(st) > 0)
		(void)store_versions_sync(st);
	/* whoever wrote many changes prunes them (cheap when there is nothing to do) */
	if ((st->db || (st->pg && PQstatus(st->pg) == CONNECTION_OK)) && st->tx_depth == 0) {
		store_set_wait(st, 0);
		(void)store_changes_prune(st);
	}
	store_pending_clear(st);
	free(st->pending);
	store_watch_close(st);
	store_disconnect(st);
	if (st->url)
		explicit_bzero(st->url, strlen(st->url));
	free(st->url);
	pthread_mutex_destroy(&st->pending_lock);
	free(st);
}

int store_begin(struct store *st, bool write)
{
	char sql[48];
	int r;

	if (st->tx_depth == 0 && st->pg)
		/* a read is one snapshot, as SQLite's; a write takes the store's write lock */
		snprintf(sql, sizeof(sql), "%s",
			 write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ");
	else if (st->tx_depth == 0)
		snprintf(sql, sizeof(sql), "%s", write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
	else if (write && !st->tx_write)
		/* upgrading a read snapshot can fail at once with SQLITE_BUSY: refuse it */
		return store_fail(st, -EINVAL, "a write inside a read transaction");
	else
		snprintf(sql, sizeof(sql), "SAVEPOINT s%u", st->tx_depth);
	r = store_exec(st, sql);
	if (r < 0)
		return r;
	if (st->tx_depth == 0 && st->pg && write) {
		r = pg_begin_write(st);
		if (r < 0) {
			(void)pg_exec(st, "ROLLBACK");
			return r;
		}
	}
	if (st->tx_depth == 0)
		st->tx_write = write;
	st->tx_depth++;
	return 0;
}

int store_commit(struct store *st)
{
	char sql[32];
	int r;

	if (st->tx_depth == 0)
		return store_fail(st, -EINVAL, "commit without a transaction");
	if (st->tx_depth == 1)
		snprintf(sql, sizeof(sql), "COMMIT");
	else
		snprintf(sql, sizeof(sql), "RELEASE s%u", st->tx_depth - 1);
	r = store_exec(st, sql);
	if (r < 0) {
		store_rollback(st);
		return r;
	}
	st->tx_depth--;
	return 0;
}

void store_rollback(struct store *st)
{
	char sql[64];

	if (st->tx_depth == 0)
		return;
	if (st->tx_depth == 1)
		snprintf(sql, sizeof(sql), "ROLLBACK");
	else
		snprintf(sql, sizeof(sql), "ROLLBACK TO s%u; RELEASE s%u", st->tx_depth - 1,
			 st->tx_depth - 1);
	/* the reason already recorded is the one worth keeping: no store_exec here */
	if (st->pg) {
		pg_settle(st);
		PQclear(PQexec(st->pg, sql));
	} else if (st->db) {
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	st->tx_depth--;
}

const char *store_name(const struct store *st)
{
	return st->path;
}

int store_open_like(const struct store *st, struct store **ret, char *err, size_t errsz)
{
	return store_open_url(st->url ? st->url : st->path, NULL, ret, err, errsz);
}

bool store_is_pg(const struct store *st)
{
	return st->url != NULL;
}
