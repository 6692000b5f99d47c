// SPDX-License-Identifier: MIT
/*
 * What the dashboard reads of the fleet at once (store.h, "the fleet"): the devices by state
 * and by model and firmware in one pass, and the unknown devices (schema 7), kept by the
 * journal's writer from the rows it appends, in the same transaction as the devices' state.
 * Both backends: SQLite's JSON functions or PostgreSQL's jsonb where they differ.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <string.h>

int store_unknown_record(struct store *st, const struct journal_entry *e, int64_t usec)
{
	struct stmt *stmt;
	int rc, r;

	/* ?1 mac, ?2 time, ?3 path, ?4 peer; only for a MAC the inventory lacks or holds pending */
	r = store_stmt(
		st, STMT_UNKNOWN_UPSERT,
		store_sql(st,
			  "INSERT INTO unknown_devices (mac, first_seen, last_seen, requests, files,"
			  " last_peer)"
			  " SELECT ?1, ?2, ?2, 1, json_array(?3), ?4"
			  " WHERE NOT EXISTS (SELECT 1 FROM devices WHERE mac = ?1"
			  "  AND group_name IS NOT '" STORE_PENDING_GROUP "')"
			  " ON CONFLICT (mac) DO UPDATE SET"
			  "  last_seen = max(unknown_devices.last_seen, excluded.last_seen),"
			  "  requests = unknown_devices.requests + 1, last_peer = excluded.last_peer,"
			  "  files = CASE WHEN ?3 IS NULL OR json_array_length(unknown_devices.files)"
			  "  >= " STORE_UNKNOWN_FILES_S " OR EXISTS (SELECT 1 FROM"
			  "  json_each(unknown_devices.files) WHERE value = ?3)"
			  "  THEN unknown_devices.files"
			  "  ELSE json_insert(unknown_devices.files, '$[#]', ?3) END",
			  "INSERT INTO unknown_devices (mac, first_seen, last_seen, requests, files,"
			  " last_peer)"
			  " SELECT ?1, ?2, ?2, 1, jsonb_build_array(?3::text)::text, ?4"
			  " WHERE NOT EXISTS (SELECT 1 FROM devices WHERE mac = ?1"
			  "  AND group_name IS DISTINCT FROM '" STORE_PENDING_GROUP "')"
			  " ON CONFLICT (mac) DO UPDATE SET"
			  "  last_seen = max(unknown_devices.last_seen, excluded.last_seen),"
			  "  requests = unknown_devices.requests + 1, last_peer = excluded.last_peer,"
			  "  files = CASE WHEN ?3::text IS NULL OR"
			  "  jsonb_array_length(unknown_devices.files::jsonb) >= " STORE_UNKNOWN_FILES_S
			  "  OR EXISTS (SELECT 1 FROM jsonb_array_elements_text("
			  "  unknown_devices.files::jsonb) AS f WHERE f = ?3::text)"
			  "  THEN unknown_devices.files"
			  "  ELSE (unknown_devices.files::jsonb || to_jsonb(?3::text))::text END"),
		&stmt);
	if (r < 0)
		return r;
	stmt_bind_text(stmt, 1, e->mac);
	stmt_bind_int64(stmt, 2, usec);
	stmt_bind_text(stmt, 3, e->path);
	stmt_bind_text(stmt, 4, e->peer);
	rc = stmt_step(stmt);
	r = rc == STMT_DONE ? 0 : store_failed(st, rc);
	stmt_reset(stmt);
	return r;
}

int store_fleet_counts(struct store *st, uint64_t counts[_DEVICE_STATUS_MAX],
		       int (*firmware)(void *arg, const char *model, const char *version,
				       uint64_t n),
		       void *arg)
{
	struct stmt *stmt = NULL;
	int rc, r = 0;

	memset(counts, 0, _DEVICE_STATUS_MAX * sizeof(counts[0]));
	rc = stmt_prepare(st,
			  "SELECT " STORE_STATE_SQL " AS state, d.model, s.firmware, count(*)"
			  " FROM devices d LEFT JOIN device_state s ON s.mac = d.mac"
			  " LEFT JOIN groups g ON g.name = d.group_name"
			  " GROUP BY 1, d.model, s.firmware",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	while (r == 0 && (rc = stmt_step(stmt)) == STMT_ROW) {
		int64_t s = stmt_int64(stmt, 0);
		uint64_t n = (uint64_t)stmt_int64(stmt, 3);
		const char *fw = stmt_text(stmt, 2);

		if (s >= 0 && s < _DEVICE_STATUS_MAX)
			counts[s] += n;
		if (fw && firmware)
			r = firmware(arg, stmt_text(stmt, 1), fw, n);
	}
	if (r == 0 && rc != STMT_DONE && rc != STMT_ROW)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_unknown_count_since(struct store *st, int64_t since_usec, uint64_t *ret)
{
	struct stmt *stmt = NULL;
	int rc, r = 0;

	rc = stmt_prepare(st, "SELECT count(*) FROM unknown_devices WHERE last_seen >= ?1", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_int64(stmt, 1, since_usec);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW)
		*ret = (uint64_t)stmt_int64(stmt, 0);
	else
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_unknown_page(struct store *st, int64_t before_seen, const char *before_mac, size_t limit,
		       int (*fn)(void *arg, const struct unknown_device *u), void *arg)
{
	struct stmt *stmt = NULL;
	int rc, r = 0;

	/* newest first, keyset by (last_seen, mac) on the index */
	rc = stmt_prepare(st,
			  "SELECT u.mac, u.first_seen, u.last_seen, u.requests, u.files,"
			  " u.last_peer, d.mac IS NOT NULL FROM unknown_devices u"
			  " LEFT JOIN devices d ON d.mac = u.mac"
			  " WHERE ?1 = 0 OR (u.last_seen, u.mac) < (?1, ?2)"
			  " ORDER BY u.last_seen DESC, u.mac DESC LIMIT ?3",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_int64(stmt, 1, before_seen);
	stmt_bind_text(stmt, 2, before_mac ? before_mac : "");
	stmt_bind_int64(stmt, 3, (int64_t)limit);
	while (r == 0 && (rc = stmt_step(stmt)) == STMT_ROW) {
		struct unknown_device u = {
			.mac = stmt_text(stmt, 0),
			.first_seen = stmt_int64(stmt, 1),
			.last_seen = stmt_int64(stmt, 2),
			.requests = (uint64_t)stmt_int64(stmt, 3),
			.files = stmt_text(stmt, 4),
			.last_peer = stmt_text(stmt, 5),
			.pending = stmt_int64(stmt, 6) != 0,
		};

		r = fn(arg, &u);
	}
	if (r == 0 && rc != STMT_DONE && rc != STMT_ROW)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r < 0 ? r : 0;
}

int store_unknown_forget(struct store *st, const char *mac)
{
	struct stmt *stmt = NULL;
	int rc;

	rc = stmt_prepare(st, "DELETE FROM unknown_devices WHERE mac = ?1", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_text(stmt, 1, mac);
	rc = stmt_step(stmt);
	stmt_finalize(stmt);
	return rc == STMT_DONE ? 0 : store_failed(st, rc);
}

int store_device_register_pending(struct store *st, const char *mac)
{
	struct stmt *stmt = NULL;
	int rc, r;

	r = store_begin(st, true);
	if (r < 0)
		return r;
	r = store_exec(st, "INSERT INTO groups (name) VALUES ('" STORE_PENDING_GROUP "')"
			   " ON CONFLICT (name) DO NOTHING");
	if (r == 0) {
		rc = stmt_prepare(st,
				  "INSERT INTO devices (mac, group_name, enabled)"
				  " VALUES (?1, '" STORE_PENDING_GROUP "', 0)"
				  " ON CONFLICT (mac) DO NOTHING",
				  &stmt);
		if (rc == 0) {
			stmt_bind_text(stmt, 1, mac);
			rc = stmt_step(stmt);
		}
		r = rc == STMT_DONE ? 0 : store_failed(st, rc);
		stmt_finalize(stmt);
	}
	if (r < 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}
