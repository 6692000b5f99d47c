// SPDX-License-Identifier: MIT
/*
 * The change log (store_changes_*: what changed in the inventory since a sequence number,
 * written by the schema's triggers, pruned at close) and the inventory revision every
 * journal row carries.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_changes_last(struct store *st, uint64_t *ret)
{
	struct stmt *stmt;
	int rc, r;

	/* PostgreSQL: seqs are given in commit order (db_pg.c), the newest row is the last */
	r = store_stmt(st, STMT_CHANGES_LAST,
		       store_sql(st,
				 "SELECT coalesce((SELECT seq FROM sqlite_sequence"
				 " WHERE name = 'changes'), 0)",
				 "SELECT max(coalesce((SELECT max(seq) FROM changes), 0),"
				 " (SELECT value FROM meta WHERE key = 'changes_pruned'))"),
		       &stmt);
	if (r < 0)
		return r;
	rc = stmt_step(stmt);
	if (rc != STMT_ROW) {
		r = store_failed(st, rc);
		stmt_reset(stmt);
		return r;
	}
	*ret = (uint64_t)stmt_int64(stmt, 0);
	stmt_reset(stmt);
	return 0;
}

int store_changes_prune(struct store *st)
{
	struct stmt *stmt = NULL;
	uint64_t last = 0, pruned = 0;
	char sql[160];
	int rc, r;

	r = store_changes_last(st, &last);
	if (r < 0)
		return r;
	rc = stmt_prepare(st, "SELECT value FROM meta WHERE key = 'changes_pruned'", &stmt);
	if (rc == 0 && (rc = stmt_step(stmt)) == STMT_ROW)
		pruned = (uint64_t)stmt_int64(stmt, 0);
	stmt_finalize(stmt);
	if (rc != STMT_ROW && rc != STMT_DONE)
		return store_failed(st, rc);
	if (last < pruned + STORE_CHANGES_KEEP + STORE_CHANGES_PRUNE_EVERY)
		return 0;
	r = store_begin(st, true);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql),
		 "DELETE FROM changes WHERE seq <= %llu;"
		 "UPDATE meta SET value = max(value, %llu) WHERE key = 'changes_pruned'",
		 (unsigned long long)(last - STORE_CHANGES_KEEP),
		 (unsigned long long)(last - STORE_CHANGES_KEEP));
	r = store_exec(st, sql);
	if (r < 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

int store_changes_since(struct store *st, uint64_t seq,
			int (*fn)(void *arg, uint64_t seq, enum store_change kind, const char *key),
			void *arg)
{
	struct stmt *stmt;
	uint64_t pruned = 0;
	bool any = false;
	int rc, r;

	/*
	 * No transaction (this runs once per loop iteration of the daemon): the rows first,
	 * then how far pruning went. Pruning only grows and always keeps the newest rows, so
	 * when it is still at or below seq once the rows are read, none that was wanted had
	 * gone; and no row after seq means nothing changed.
	 */
	r = store_stmt(st, STMT_CHANGES_SINCE,
		       "SELECT seq, kind, key FROM changes WHERE seq > ?1 ORDER BY seq", &stmt);
	if (r < 0)
		return r;
	stmt_bind_int64(stmt, 1, (int64_t)seq);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		int kind = (int)stmt_int64(stmt, 1);

		any = true;
		if (kind < STORE_CHANGE_DEVICE || kind > STORE_CHANGE_DEFAULTS)
			continue;
		r = fn(arg, (uint64_t)stmt_int64(stmt, 0), (enum store_change)kind,
		       stmt_text(stmt, 2));
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_reset(stmt);
	if (r != 0 || !any)
		return r;

	r = store_stmt(st, STMT_CHANGES_PRUNED,
		       "SELECT value FROM meta WHERE key = 'changes_pruned'", &stmt);
	if (r < 0)
		return r;
	rc = stmt_step(stmt);
	if (rc == STMT_ROW)
		pruned = (uint64_t)stmt_int64(stmt, 0);
	stmt_reset(stmt);
	if (rc != STMT_ROW && rc != STMT_DONE)
		return store_failed(st, rc);
	if (seq < pruned)
		return store_fail(st, -ESTALE, "changes after %llu are pruned",
				  (unsigned long long)seq);
	return 0;
}

int store_inventory_revision(struct store *st, uint64_t *ret)
{
	struct stmt *stmt;
	int rc, r;

	r = store_stmt(st, STMT_INVENTORY_REV, "SELECT value FROM meta WHERE key = 'inventory_rev'",
		       &stmt);
	if (r < 0)
		return r;
	rc = stmt_step(stmt);
	if (rc != STMT_ROW) {
		r = rc == STMT_DONE ? store_fail(st, -EBADMSG, "no inventory revision")
				    : store_failed(st, rc);
		stmt_reset(stmt);
		return r;
	}
	*ret = (uint64_t)stmt_int64(stmt, 0);
	/* reset now: a statement left on a row would hold a read snapshot open */
	stmt_reset(stmt);
	return 0;
}
