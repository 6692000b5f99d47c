// SPDX-License-Identifier: MIT
/*
 * What the store's files share and nobody else sees: the connection, the statements kept
 * prepared for its whole life (the ones the daemon runs per request or per poll), and the
 * helpers that turn SQLite result codes into errnos with a reason kept on the store.
 */
#ifndef AUTOPROV_STORE_STORE_IMPL_H
#define AUTOPROV_STORE_STORE_IMPL_H

#include <limits.h>
#include <pthread.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store.h"

/* One slot per statement kept prepared; the SQL text stays at the one place that uses it. */
enum store_stmt {
	STMT_INVENTORY_REV,
	STMT_DEVICE_GET,
	STMT_DEVICE_INSERT,
	STMT_DEVICE_UPSERT,
	STMT_GROUP_EXISTS,
	STMT_JOURNAL_INSERT,
	STMT_VERSION_GET,
	STMT_VERSION_PUT,
	STMT_CHANGES_LAST,
	STMT_CHANGES_PRUNED,
	STMT_CHANGES_SINCE,
	STMT_TOKEN_CHECK,
	STMT_TOKEN_USED,
	STMT_STATE_UPSERT,
	STMT_STATE_UPDATE,
	STMT_STATE_INSERT,
	STMT_UNKNOWN_UPSERT,
	STMT__MAX,
};

/*
 * A statement of either backend (store/stmt.c). The SQL is SQLite's dialect with ?N
 * parameters; where PostgreSQL's differs, the caller picks with store_sql(). Steps return
 * STMT_ROW, STMT_DONE or a negative errno whose reason is already recorded on the store.
 */
#define STMT_ROW  100 /* SQLITE_ROW */
#define STMT_DONE 101 /* SQLITE_DONE */

struct stmt {
	struct store *st;
	sqlite3_stmt *lite; /* SQLite */
	/* PostgreSQL: the translated SQL, its parameters as text, the result being read */
	char *sql;
	char name[16]; /* a server-side prepared statement's name ("" for none) */
	bool prepared;
	int nparams;
	char *params[32];
	Oid types[32];	 /* bigint for what was bound as an integer, else inferred */
	uint32_t unused; /* parameters the SQL does not name (given a type: text) */
	PGresult *res;	 /* the current row (one row: libpq's single-row mode), or NULL */
	int row;	 /* the row of res being read, -1 for none */
	int64_t nrows;	 /* rows read so far */
	bool ran;
	/*
	 * Rows still to come from the connection (this is st->streaming), or read ahead into
	 * held by pg_settle because another query needed the connection.
	 */
	bool live;
	int failed; /* -ENOTCONN: its connection closed while it was live; -ENOMEM */
	PGresult **held;
	size_t nheld, held_next;
};

int stmt_prepare(struct store *st, const char *sql, struct stmt **ret);
void stmt_bind_text(struct stmt *s, int i, const char *v);
void stmt_bind_textn(struct stmt *s, int i, const char *v, size_t len);
void stmt_bind_int64(struct stmt *s, int i, int64_t v);
void stmt_bind_null(struct stmt *s, int i);
int stmt_step(struct stmt *s);
/* Columns of the current row: text (NULL for NULL), integer (0 for NULL; true is 1). */
const char *stmt_text(struct stmt *s, int i);
int64_t stmt_int64(struct stmt *s, int i);
bool stmt_is_null(struct stmt *s, int i);
/* Ready to run again, with no parameters bound. */
void stmt_reset(struct stmt *s);
void stmt_finalize(struct stmt *s); /* accepts NULL */
/*
 * PostgreSQL's rows are streamed: a statement's step reads one row from the connection
 * (libpq's single-row mode), so a loop over the whole journal or inventory holds one row in
 * memory, not the result. The rule that comes with it: a statement being stepped owns its
 * connection until it returns STMT_DONE (or fails, or is reset or finalized), so the body of
 * a loop over many rows must not run another query on the same store. Every query of the
 * store calls pg_settle() first, which reads the rows still to come into the statement
 * (correct, and not streamed: what a loop over a few rows, such as the groups, may do). A
 * statement reset before its last row reads the rest and drops it, or, outside a
 * transaction, cancels the query.
 */
void pg_settle(struct store *st);

/*
 * PostgreSQL: statements stepped between these are sent without waiting for their answers
 * (libpq's pipeline mode: one round trip for a batch); each step is STMT_DONE at once, no
 * rows are read, and store_pipeline_end() reads the answers: 0, or the first failure (the
 * caller rolls back). begin is 1 when pipelining, 0 on SQLite (which has no round trips:
 * steps run as usual), or a negative errno.
 */
int store_pipeline_begin(struct store *st);
int store_pipeline_end(struct store *st);

/* Rows the last INSERT, UPDATE or DELETE run on st changed. */
int64_t store_changes(struct store *st);
/* SQLite: the rowid of the last row st inserted (PostgreSQL's callers take ids first). */
int64_t store_last_rowid(struct store *st);

/* The SQL of the store's backend: sqlite's or pg's. */
#define store_sql(st, lite_sql, pg_sql) ((st)->pg ? (pg_sql) : (lite_sql))

/*
 * The devices' state (store/state.c), kept by store_journal_append: a device's rows of a
 * batch (in their order) folded into one write, the state they would make one by one.
 */
struct state_row {
	const struct journal_entry *e; /* NULL: none */
	int64_t id, usec;
};

struct state_fold {
	struct state_row first, last;
	struct state_row sent, config, fail; /* the last of each kind, if any */
	const char *user_agent;		     /* the last one a row gave, or NULL */
	char firmware[64];		     /* the last one a row showed, or "" */
	uint64_t config_rev;		     /* the inventory revision config was made at */
	int settled;			     /* DEVICE_PROVISIONED or _FAILING, or 0 */
	bool ok_after;			     /* another success came after what settled it */
};

int store_state_begin(struct store *st, uint64_t *ret_rev);
void store_state_fold_start(struct state_fold *f);
/* Adds a row of the device (all the rows of a fold name one MAC); rev: store_state_begin's. */
void store_state_fold_add(struct state_fold *f, const struct journal_entry *e, int64_t id,
			  int64_t usec, uint64_t rev);
/*
 * Writes what f makes of the device's state, if it is in the inventory: *taken is false
 * when it is not (SQLite; always true on PostgreSQL, whose pipeline does not tell).
 */
int store_state_write(struct store *st, const struct state_fold *f, bool *taken);

/* PostgreSQL (store/db_pg.c) */
int pg_connect(struct store *st, const char *url);
void pg_disconnect(struct store *st);
int pg_exec(struct store *st, const char *sql);
int pg_fail(struct store *st, const PGresult *res);
/* libpq's message msg as st's reason, on one line */
void pg_message(struct store *st, const char *msg);
int pg_schema_version(struct store *st, int *ret);
int pg_begin_write(struct store *st);
int pg_ensure(struct store *st);
/* n new journal ids, in increasing order (store_journal_append's batch) */
int pg_journal_ids(struct store *st, size_t n, int64_t **ret);

/* A rendered-file version that could not be written yet (store_version). */
struct pending_version {
	char *key;
	char *content_md5;
	uint64_t version;
};

struct store {
	sqlite3 *db;	      /* SQLite, or NULL */
	PGconn *pg;	      /* PostgreSQL, or NULL */
	PGconn *listen;	      /* PostgreSQL: the connection that LISTENs (store_watch_open) */
	int64_t reset_at;     /* PostgreSQL: CLOCK_MONOTONIC ms of the last reconnection tried */
	char *url;	      /* PostgreSQL: the connection URI (with its secret: never shown) */
	char path[PATH_MAX];  /* DIR/autoprov.db, or the URI without its password */
	unsigned wait_ms;     /* store_set_wait */
	unsigned cache_mib;   /* store_set_cache, 0: SQLite's default */
	unsigned journal_merge_rows; /* store_set_journal_merge */
	int64_t last_changes; /* PostgreSQL: rows the last statement changed */
	unsigned stmt_serial; /* PostgreSQL: names of prepared statements */
	/* PostgreSQL: store_pipeline_begin; queries sent and not yet read, and the
	 * preparations among them (which query, which statement) */
	bool pipeline;
	struct stmt *streaming; /* PostgreSQL: the statement whose rows are being read */
	unsigned pipe_sent;
	unsigned pipe_nprep;
	struct {
		unsigned at;
		struct stmt *stmt;
	} pipe_prep[STMT__MAX];
	bool exclusive;	     /* opened in the exclusive locking mode (store_exclusive) */
	/*
	 * Versions kept in memory until they can be written, under pending_lock: another
	 * connection's thread writes them (store_versions_sync_to) while this one serves them.
	 */
	pthread_mutex_t pending_lock;
	struct pending_version *pending;
	size_t npending, pending_cap;
	/* an open-addressing index of pending by key: 0 empty, PENDING_GONE, else index + 1 */
	uint32_t *pending_index;
	size_t pending_slots, pending_gone;
	bool versions_deferred; /* store_set_versions_deferred */
	struct stmt *stmts[STMT__MAX];
	unsigned tx_depth; /* store_begin nesting: 0 outside a transaction */
	bool tx_write;	   /* the outermost begin took the write lock */
	char errmsg[256];  /* reason for the last failure */
	uint64_t *error_counters; /* store_count_errors, or NULL */
	/* store_device_count: the last count, and the inventory revision it was made at */
	bool count_valid;
	uint64_t count, count_rev;
};

/*
 * The statement in slot which, prepared from sql on first use, reset and unbound: ready to
 * bind. The store owns it (finalized by store_close).
 */
int store_stmt(struct store *st, enum store_stmt which, const char *sql, struct stmt **ret);

/*
 * The state (enum device_status) of the row of `devices` being read, as SQL: the rule of
 * store/state.c's STATE_SQL, by correlated look-ups (its state row, its group's revision).
 */
#define STORE_STATE_OF_DEVICES_ROW                                                                 \
	"coalesce((SELECT CASE WHEN s.status = 2 AND max(devices.rev, coalesce((SELECT g.rev"     \
	" FROM groups g WHERE g.name = devices.group_name), 0), (SELECT rev FROM defaults"        \
	" WHERE id = 1)) > s.config_rev THEN 4 WHEN s.status IN (1, 2, 3) THEN s.status ELSE 1"   \
	" END FROM device_state s WHERE s.mac = devices.mac), 0)"

/*
 * Over a device row d with its state s and group g (LEFT JOINs): the revision its files are
 * made from now (its own, its group's, the defaults'), and its state (enum device_status).
 */
#define STORE_CURRENT_REV_SQL                                                                      \
	"max(d.rev, coalesce(g.rev, 0), (SELECT rev FROM defaults WHERE id = 1))"
#define STORE_STATE_SQL                                                                            \
	"CASE WHEN s.mac IS NULL THEN 0 WHEN s.status = 2 AND " STORE_CURRENT_REV_SQL              \
	" > s.config_rev THEN 4 WHEN s.status IN (1, 2, 3) THEN s.status ELSE 1 END"

/* rc (a SQLite result code) as a negative errno. */
int store_errno(int rc);
/* Records SQLite's message for rc as the reason; returns store_errno(rc). */
int store_fail_sqlite(struct store *st, int rc);
/*
 * What a statement's failure returns: rc, a negative errno from stmt_*, already recorded;
 * anything else (a step that gave a row where none was expected) is -EIO.
 */
int store_failed(struct store *st, int rc);
/* Records a reason of our own; returns err. */
int store_fail(struct store *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A schema version this autoprov does not know: -EPROTO with the reason. */
int store_fail_schema(struct store *st, int version);

/* Runs one statement without results (bound to nothing). 0 or store_fail_sqlite. */
int store_exec(struct store *st, const char *sql);

/* A journal row read as STORE_JOURNAL_COLUMNS, into e (its texts are the statement's). */
#define STORE_JOURNAL_COLUMNS                                                                      \
	"time, proto, peer, mac, path, outcome, bytes, md5, id, detail, user_agent, node"
void store_journal_row(struct stmt *stmt, struct journal_entry *e);

/* vars (NULL: {}) as stored: compact JSON with sorted keys; NULL if out of memory. */
char *store_vars_dump(const json_t *vars);
/* A stored vars text back as an object; -EBADMSG (with a reason) if it is not one. */
int store_vars_load(struct store *st, const char *text, json_t **ret);

/* Drops the versions kept in memory and their index (store/versions.c; at close). */
void store_pending_clear(struct store *st);

#endif
