// SPDX-License-Identifier: MIT
/*
 * store_copy (store.h): a site's data from one store into another, whatever their backends,
 * in one write transaction on the target read from one snapshot of the source. What has a
 * public call goes through it (groups, defaults, devices, the journal, so the target checks
 * and records them as it would any write: revisions, the change log, the devices' state);
 * the rows nothing else writes verbatim (rendered-file versions, tokens' hashes, the unknown
 * devices' counts) are copied as rows. Rows are read as they are written: the source's
 * statements are streamed (store_impl.h), so a large inventory or journal is never whole in
 * memory, and nothing else runs on the source while one is being read.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Journal rows read and appended at a time. */
#define COPY_JOURNAL_BATCH 1000

struct copy {
	struct store *from, *to;
	struct store_copy_counts *counts;
	char *err;
	size_t errsz;
};

static int copy_fail(struct copy *c, struct store *st, int r, const char *what)
{
	snprintf(c->err, c->errsz, "%s (%s): %s", what, store_name(st), store_strerror(st));
	return r;
}

static int copy_group(const char *name, json_t *vars, void *arg)
{
	struct copy *c = arg;
	int r = store_group_set(c->to, name, vars);

	if (r < 0)
		return copy_fail(c, c->to, r, "writing a group");
	c->counts->groups++;
	return 0;
}

static int copy_device(const struct device *d, void *arg)
{
	struct copy *c = arg;
	char err[256];
	int r = store_device_put(c->to, d, false, err, sizeof(err));

	if (r < 0) {
		snprintf(c->err, c->errsz, "writing device %s (%s): %s", d->mac, store_name(c->to),
			 err);
		return r;
	}
	c->counts->devices++;
	return 0;
}

/* Rows of one table copied as they are: sql reads ncols columns, ins writes them. */
static int copy_rows(struct copy *c, const char *sql, const char *ins, int ncols, int int_cols,
		     uint64_t *count)
{
	struct stmt *rd = NULL, *wr = NULL;
	int rc, r;

	r = stmt_prepare(c->from, sql, &rd);
	if (r < 0)
		return copy_fail(c, c->from, r, "reading");
	r = stmt_prepare(c->to, ins, &wr);
	if (r < 0) {
		stmt_finalize(rd);
		return copy_fail(c, c->to, r, "writing");
	}
	while ((rc = stmt_step(rd)) == STMT_ROW) {
		stmt_reset(wr);
		for (int i = 0; i < ncols; i++) {
			if (int_cols & (1 << i))
				stmt_bind_int64(wr, i + 1, stmt_int64(rd, i));
			else
				stmt_bind_text(wr, i + 1, stmt_text(rd, i));
		}
		rc = stmt_step(wr);
		if (rc != STMT_DONE) {
			r = copy_fail(c, c->to, store_failed(c->to, rc), "writing");
			goto out;
		}
		(*count)++;
	}
	r = rc == STMT_DONE ? 0 : copy_fail(c, c->from, store_failed(c->from, rc), "reading");
out:
	stmt_finalize(rd);
	stmt_finalize(wr);
	return r;
}

/* sql (no parameters, no rows) run on the target */
static int exec_to(struct copy *c, const char *sql)
{
	struct stmt *s = NULL;
	int rc, r;

	r = stmt_prepare(c->to, sql, &s);
	if (r < 0)
		return copy_fail(c, c->to, r, "writing");
	rc = stmt_step(s);
	stmt_finalize(s);
	return rc == STMT_DONE ? 0 : copy_fail(c, c->to, store_failed(c->to, rc), "writing");
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void batch_free(struct journal_entry *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)b[i].proto);
		free((char *)b[i].peer);
		free((char *)b[i].mac);
		free((char *)b[i].path);
		free((char *)b[i].outcome);
		free((char *)b[i].md5);
		free((char *)b[i].user_agent);
		free((char *)b[i].detail);
		free((char *)b[i].node);
	}
}

/* The journal in id order, a batch at a time, appended as the daemon appends it. */
static int copy_journal(struct copy *c)
{
	struct journal_entry *b = calloc(COPY_JOURNAL_BATCH, sizeof(*b));
	struct stmt *rd = NULL;
	int64_t after = 0;
	size_t n;
	int rc, r;

	if (!b)
		return -ENOMEM;
	r = stmt_prepare(c->from,
			 "SELECT " STORE_JOURNAL_COLUMNS " FROM journal WHERE id > ?1 ORDER BY id"
			 " LIMIT ?2",
			 &rd);
	if (r < 0) {
		free(b);
		return copy_fail(c, c->from, r, "reading the journal");
	}
	do {
		n = 0;
		stmt_reset(rd);
		stmt_bind_int64(rd, 1, after);
		stmt_bind_int64(rd, 2, COPY_JOURNAL_BATCH);
		while ((rc = stmt_step(rd)) == STMT_ROW) {
			struct journal_entry *e = &b[n++], row;

			store_journal_row(rd, &row);
			after = row.id;
			*e = row;
			e->proto = dup_or_null(row.proto);
			e->peer = dup_or_null(row.peer);
			e->mac = dup_or_null(row.mac);
			e->path = dup_or_null(row.path);
			e->outcome = dup_or_null(row.outcome);
			e->md5 = dup_or_null(row.md5);
			e->user_agent = dup_or_null(row.user_agent);
			e->detail = dup_or_null(row.detail);
			e->node = dup_or_null(row.node);
		}
		if (rc != STMT_DONE) {
			r = copy_fail(c, c->from, store_failed(c->from, rc), "reading the journal");
		} else if (n > 0) {
			r = store_journal_append(c->to, b, n);
			if (r < 0)
				copy_fail(c, c->to, r, "writing the journal");
			else
				c->counts->journal += n;
		}
		batch_free(b, n);
		memset(b, 0, n * sizeof(*b));
	} while (r == 0 && n == COPY_JOURNAL_BATCH);
	stmt_finalize(rd);
	free(b);
	return r;
}

/* 0 when st holds no device, group, token or version (its defaults are overwritten). */
static int check_empty(struct copy *c)
{
	static const char *const tables[] = { "devices", "groups", "tokens", "versions" };
	char sql[64];

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		struct stmt *s = NULL;
		int rc, r;

		snprintf(sql, sizeof(sql), "SELECT 1 FROM %s LIMIT 1", tables[i]);
		r = stmt_prepare(c->to, sql, &s);
		if (r < 0)
			return copy_fail(c, c->to, r, "reading");
		rc = stmt_step(s);
		stmt_finalize(s);
		if (rc == STMT_ROW) {
			snprintf(c->err, c->errsz,
				 "%s is not empty (it has %s): copy into a new store",
				 store_name(c->to), tables[i]);
			return -EEXIST;
		}
		if (rc != STMT_DONE)
			return copy_fail(c, c->to, store_failed(c->to, rc), "reading");
	}
	return 0;
}

int store_copy(struct store *from, struct store *to, bool journal,
	       struct store_copy_counts *ret_counts, char *err, size_t errsz)
{
	struct store_copy_counts counts = { 0 };
	struct copy c = { from, to, &counts, err, errsz };
	json_t *defaults = NULL;
	int r;

	err[0] = '\0';
	r = store_begin(from, false);
	if (r < 0)
		return copy_fail(&c, from, r, "reading");
	r = store_begin(to, true);
	if (r < 0) {
		store_rollback(from);
		return copy_fail(&c, to, r, "writing");
	}
	r = check_empty(&c);
	if (r < 0)
		goto fail;
	r = store_defaults_get(from, &defaults);
	if (r < 0) {
		copy_fail(&c, from, r, "reading the defaults");
		goto fail;
	}
	r = store_defaults_set(to, defaults);
	json_decref(defaults);
	if (r < 0) {
		copy_fail(&c, to, r, "writing the defaults");
		goto fail;
	}
	/* groups before the devices that name them */
	r = store_group_foreach(from, copy_group, &c);
	if (r == 0)
		r = store_device_foreach(from, copy_device, &c);
	if (r == 0)
		r = copy_rows(
			&c, "SELECT key, content_md5, version FROM versions ORDER BY key",
			"INSERT INTO versions (key, content_md5, version) VALUES (?1, ?2, ?3)", 3,
			1 << 2, &counts.versions);
	if (r == 0)
		r = copy_rows(&c,
			      "SELECT name, hash, scope, created, expires, last_used FROM tokens"
			      " ORDER BY name",
			      "INSERT INTO tokens (name, hash, scope, created, expires, last_used)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			      6, (1 << 3) | (1 << 4) | (1 << 5), &counts.tokens);
	if (r == 0 && journal)
		r = copy_journal(&c);
	/*
	 * The unknown devices always (one small row per MAC, what the dashboard offers to
	 * register), as they are: after the journal, whose rows the target counts again as it
	 * appends them, so the list is the source's (its counts and first sightings outlive
	 * the journal's pruning).
	 */
	if (r == 0 && (r = exec_to(&c, "DELETE FROM unknown_devices")) == 0)
		r = copy_rows(&c,
			      "SELECT mac, first_seen, last_seen, requests, files, last_peer"
			      " FROM unknown_devices ORDER BY mac",
			      "INSERT INTO unknown_devices (mac, first_seen, last_seen, requests,"
			      " files, last_peer) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			      6, (1 << 1) | (1 << 2) | (1 << 3), &counts.unknown);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errsz, "%s", strerror(-r));
		goto fail;
	}
	r = store_commit(to);
	store_rollback(from);
	if (r < 0)
		return copy_fail(&c, to, r, "committing");
	if (ret_counts)
		*ret_counts = counts;
	return 0;
fail:
	store_rollback(to);
	store_rollback(from);
	return r;
}
