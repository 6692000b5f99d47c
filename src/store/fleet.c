// SPDX-License-Identifier: MIT
/*
 * What the dashboard reads of the fleet at once (store.h, "the fleet"): the devices by state
 * and by model and firmware in one pass, and the unknown devices (schema 6), kept by the
 * journal's writer from the rows it appends, in the same transaction as the devices' state.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <string.h>

int store_unknown_record(struct store *st, const struct journal_entry *e, int64_t usec)
{
	sqlite3_stmt *stmt;
	int rc, r;

	/* ?1 mac, ?2 time, ?3 path, ?4 peer; only for a MAC the inventory lacks or holds pending */
	r = store_stmt(
		st, STMT_UNKNOWN_UPSERT,
		"INSERT INTO unknown_devices (mac, first_seen, last_seen, requests, files,"
		" last_peer)"
		" SELECT ?1, ?2, ?2, 1, json_array(?3), ?4"
		" WHERE NOT EXISTS (SELECT 1 FROM devices WHERE mac = ?1"
		"  AND group_name IS NOT '" STORE_PENDING_GROUP "')"
		" ON CONFLICT (mac) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),"
		"  requests = requests + 1, last_peer = excluded.last_peer,"
		"  files = CASE WHEN ?3 IS NULL OR json_array_length(files) >= " STORE_UNKNOWN_FILES_S
		" OR EXISTS (SELECT 1 FROM json_each(files)"
		"  WHERE value = ?3) THEN files ELSE json_insert(files, '$[#]', ?3) END",
		&stmt);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, e->mac, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, usec);
	sqlite3_bind_text(stmt, 3, e->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, e->peer, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? 0 : store_fail_sqlite(st, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return r;
}

int store_fleet_counts(struct store *st, uint64_t counts[_DEVICE_STATUS_MAX],
		       int (*firmware)(void *arg, const char *model, const char *version,
				       uint64_t n),
		       void *arg)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	memset(counts, 0, _DEVICE_STATUS_MAX * sizeof(counts[0]));
	rc = sqlite3_prepare_v2(st->db,
				"SELECT " STORE_STATE_SQL " AS state, d.model, s.firmware, count(*)"
				" FROM devices d LEFT JOIN device_state s ON s.mac = d.mac"
				" LEFT JOIN groups g ON g.name = d.group_name"
				" GROUP BY state, d.model, s.firmware",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail_sqlite(st, rc);
	while (r == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int s = sqlite3_column_int(stmt, 0);
		uint64_t n = (uint64_t)sqlite3_column_int64(stmt, 3);
		const char *fw = (const char *)sqlite3_column_text(stmt, 2);

		if (s >= 0 && s < _DEVICE_STATUS_MAX)
			counts[s] += n;
		if (fw && firmware)
			r = firmware(arg, (const char *)sqlite3_column_text(stmt, 1), fw, n);
	}
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_fail_sqlite(st, rc);
	sqlite3_finalize(stmt);
	return r;
}

int store_unknown_count_since(struct store *st, int64_t since_usec, uint64_t *ret)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(st->db,
				"SELECT count(*) FROM unknown_devices WHERE last_seen >= ?1", -1,
				&stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail_sqlite(st, rc);
	sqlite3_bind_int64(stmt, 1, since_usec);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*ret = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		r = store_fail_sqlite(st, rc);
	sqlite3_finalize(stmt);
	return r;
}

int store_unknown_page(struct store *st, int64_t before_seen, const char *before_mac, size_t limit,
		       int (*fn)(void *arg, const struct unknown_device *u), void *arg)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	/* newest first, keyset by (last_seen, mac) on the index */
	rc = sqlite3_prepare_v2(st->db,
				"SELECT u.mac, u.first_seen, u.last_seen, u.requests, u.files,"
				" u.last_peer, d.mac IS NOT NULL FROM unknown_devices u"
				" LEFT JOIN devices d ON d.mac = u.mac"
				" WHERE ?1 = 0 OR (u.last_seen, u.mac) < (?1, ?2)"
				" ORDER BY u.last_seen DESC, u.mac DESC LIMIT ?3",
				-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail_sqlite(st, rc);
	sqlite3_bind_int64(stmt, 1, before_seen);
	sqlite3_bind_text(stmt, 2, before_mac ? before_mac : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit);
	while (r == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct unknown_device u = {
			.mac = (const char *)sqlite3_column_text(stmt, 0),
			.first_seen = sqlite3_column_int64(stmt, 1),
			.last_seen = sqlite3_column_int64(stmt, 2),
			.requests = (uint64_t)sqlite3_column_int64(stmt, 3),
			.files = (const char *)sqlite3_column_text(stmt, 4),
			.last_peer = (const char *)sqlite3_column_text(stmt, 5),
			.pending = sqlite3_column_int(stmt, 6) != 0,
		};

		r = fn(arg, &u);
	}
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_fail_sqlite(st, rc);
	sqlite3_finalize(stmt);
	return r < 0 ? r : 0;
}

int store_unknown_forget(struct store *st, const char *mac)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "DELETE FROM unknown_devices WHERE mac = ?1", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK)
		return store_fail_sqlite(st, rc);
	sqlite3_bind_text(stmt, 1, mac, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : store_fail_sqlite(st, rc);
}

int store_device_register_pending(struct store *st, const char *mac)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	r = store_begin(st, true);
	if (r < 0)
		return r;
	r = store_exec(st,
		       "INSERT OR IGNORE INTO groups (name) VALUES ('" STORE_PENDING_GROUP "')");
	if (r == 0) {
		rc = sqlite3_prepare_v2(st->db,
					"INSERT OR IGNORE INTO devices (mac, group_name, enabled)"
					" VALUES (?1, '" STORE_PENDING_GROUP "', 0)",
					-1, &stmt, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(stmt, 1, mac, -1, SQLITE_STATIC);
			rc = sqlite3_step(stmt);
		}
		r = rc == SQLITE_DONE ? 0 : store_fail_sqlite(st, rc);
		sqlite3_finalize(stmt);
	}
	if (r < 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}
