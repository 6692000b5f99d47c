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
	STMT_UNKNOWN_UPSERT,
	STMT__MAX,
};

/* A rendered-file version that could not be written yet (store_version). */
struct pending_version {
	char *key;
	char *content_md5;
	uint64_t version;
};

struct store {
	sqlite3 *db;
	char path[PATH_MAX]; /* DIR/autoprov.db */
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
	sqlite3_stmt *stmts[STMT__MAX];
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
int store_stmt(struct store *st, enum store_stmt which, const char *sql, sqlite3_stmt **ret);

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
/* Records a reason of our own; returns err. */
int store_fail(struct store *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Runs one statement without results (bound to nothing). 0 or store_fail_sqlite. */
int store_exec(struct store *st, const char *sql);

/* vars (NULL: {}) as stored: compact JSON with sorted keys; NULL if out of memory. */
char *store_vars_dump(const json_t *vars);
/* A stored vars text back as an object; -EBADMSG (with a reason) if it is not one. */
int store_vars_load(struct store *st, const char *text, json_t **ret);

#endif
