// SPDX-License-Identifier: MIT
/*
 * The journal: one row per request a device made, whatever the outcome, so that "why did
 * this phone not pick up its configuration" has an answer. The daemon appends in batches
 * (one transaction per batch, one statement prepared for the connection's life) because a
 * boot storm makes thousands of requests a second and a commit each would be the bottleneck.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <string.h>

#define USEC_PER_SEC 1000000ll

int store_journal_append(struct store *st, const struct journal_entry *e, size_t n)
{
	sqlite3_stmt *stmt;
	int rc, r;

	if (n == 0)
		return 0;
	r = store_begin(st, true);
	if (r < 0)
		return r;
	r = store_stmt(st, STMT_JOURNAL_INSERT,
		       "INSERT INTO journal (time, proto, peer, mac, path, outcome, bytes, md5,"
		       " user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		       &stmt);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct journal_entry *j = &e[i];
		sqlite3_int64 usec =
			(sqlite3_int64)j->time.tv_sec * USEC_PER_SEC + j->time.tv_nsec / 1000;

		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, usec);
		/* bind_text with NULL binds SQL NULL: unknown stays unknown */
		sqlite3_bind_text(stmt, 2, j->proto, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, j->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 4, j->mac, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 5, j->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 6, j->outcome, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 7,
				   (sqlite3_int64)(j->bytes > INT64_MAX ? INT64_MAX : j->bytes));
		sqlite3_bind_text(stmt, 8, j->md5, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 9, j->user_agent, -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE) {
			r = store_fail_sqlite(st, rc);
			sqlite3_reset(stmt);
			goto fail;
		}
	}
	/* no pointer into the caller's entries may outlive the call */
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return store_commit(st);

fail:
	store_rollback(st);
	return r;
}

/* Runs a DELETE with ?1 = v; adds the rows deleted to *count. */
static int delete_with(struct store *st, const char *sql, sqlite3_int64 v, uint64_t *count)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail_sqlite(st, rc);
	sqlite3_bind_int64(stmt, 1, v);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		*count += (uint64_t)sqlite3_changes64(st->db);
		r = 0;
	} else {
		r = store_fail_sqlite(st, rc);
	}
	sqlite3_finalize(stmt);
	return r;
}

int store_journal_prune(struct store *st, uint64_t max_age, uint64_t max_rows)
{
	uint64_t deleted = 0;
	int r;

	r = store_begin(st, true);
	if (r < 0)
		return r;
	if (max_age > 0) {
		struct timespec now;
		sqlite3_int64 cutoff;

		clock_gettime(CLOCK_REALTIME, &now);
		cutoff = (sqlite3_int64)now.tv_sec - (sqlite3_int64)(max_age > (uint64_t)now.tv_sec
									     ? (uint64_t)now.tv_sec
									     : max_age);
		/* the rows before the first one young enough, found from the oldest (no index) */
		r = delete_with(st,
				"DELETE FROM journal WHERE id < coalesce((SELECT id FROM journal"
				" WHERE time >= ?1 ORDER BY id LIMIT 1),"
				" (SELECT max(id) + 1 FROM journal))",
				cutoff * USEC_PER_SEC, &deleted);
		if (r < 0)
			goto fail;
	}
	if (max_rows > 0 && max_rows <= INT64_MAX) {
		/* ids grow with every append: the newest max_rows are the highest ids */
		r = delete_with(st,
				"DELETE FROM journal WHERE id <= (SELECT id FROM journal"
				" ORDER BY id DESC LIMIT 1 OFFSET ?1)",
				(sqlite3_int64)max_rows, &deleted);
		if (r < 0)
			goto fail;
	}
	r = store_commit(st);
	if (r < 0)
		return r;
	return deleted > INT32_MAX ? INT32_MAX : (int)deleted;

fail:
	store_rollback(st);
	return r;
}

enum text_form {
	TEXT_WORD,   /* no spaces: the columns split on them */
	TEXT_PHRASE, /* spaces kept: the outcome ("not found"), whose values are ours */
	TEXT_QUOTED, /* in double quotes: the path and the User-Agent, which a peer chose */
};

/* A stored text for a log line: "-" when unknown, control bytes escaped. */
static void print_text(FILE *out, const unsigned char *s, enum text_form form)
{
	if (!s || (*s == '\0' && form != TEXT_QUOTED)) {
		fputc('-', out);
		return;
	}
	if (form == TEXT_QUOTED)
		fputc('"', out);
	for (; *s; s++) {
		if (*s < 0x20 || *s == 0x7f || (form == TEXT_QUOTED && *s == '"') ||
		    (form == TEXT_WORD && *s == ' '))
			fprintf(out, "\\x%02x", *s);
		else
			fputc(*s, out);
	}
	if (form == TEXT_QUOTED)
		fputc('"', out);
}

static void print_time(FILE *out, sqlite3_int64 usec)
{
	time_t sec = (time_t)(usec / USEC_PER_SEC);
	long msec = (long)(usec % USEC_PER_SEC / 1000);
	char buf[32];
	struct tm tm;

	if (usec < 0 || !gmtime_r(&sec, &tm) ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		fprintf(out, "%lld", (long long)usec);
		return;
	}
	fprintf(out, "%s.%03ldZ", buf, msec);
}

int store_journal_foreach(struct store *st, const char *mac, int64_t since_usec, bool newest_first,
			  int (*fn)(void *arg, const struct journal_entry *e), void *arg)
{
	char canon[MAC_LEN + 1];
	sqlite3_stmt *stmt = NULL;
	const char *why;
	int rc, r = 0;

	if (mac && mac_parse(mac, canon, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", mac, why);
	/*
	 * With a MAC, the partial (mac, time) index; without, from the first entry at or after
	 * the time, in id order (entries are appended in time order).
	 */
	rc = sqlite3_prepare_v2(
		st->db,
		mac ? (newest_first ? "SELECT time, proto, peer, mac, path, outcome, bytes, md5,"
				      " user_agent FROM journal WHERE mac = ?1 AND time >= ?2"
				      " ORDER BY time DESC, id DESC"
				    : "SELECT time, proto, peer, mac, path, outcome, bytes, md5,"
				      " user_agent FROM journal WHERE mac = ?1 AND time >= ?2"
				      " ORDER BY time, id")
		    : (newest_first
			       ? "SELECT time, proto, peer, mac, path, outcome, bytes, md5,"
				 " user_agent FROM journal WHERE time >= ?2 ORDER BY id DESC"
			       : "SELECT time, proto, peer, mac, path, outcome, bytes, md5,"
				 " user_agent FROM journal WHERE id >= coalesce((SELECT id FROM"
				 " journal WHERE time >= ?2 ORDER BY id LIMIT 1),"
				 " (SELECT max(id) + 1 FROM journal)) ORDER BY id"),
		-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail_sqlite(st, rc);
	if (mac)
		sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, since_usec > 0 ? (sqlite3_int64)since_usec : 0);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		sqlite3_int64 usec = sqlite3_column_int64(stmt, 0);
		struct journal_entry e = {
			.time = { .tv_sec = (time_t)(usec / USEC_PER_SEC),
				  .tv_nsec = (long)(usec % USEC_PER_SEC) * 1000 },
			.proto = (const char *)sqlite3_column_text(stmt, 1),
			.peer = (const char *)sqlite3_column_text(stmt, 2),
			.mac = (const char *)sqlite3_column_text(stmt, 3),
			.path = (const char *)sqlite3_column_text(stmt, 4),
			.outcome = (const char *)sqlite3_column_text(stmt, 5),
			.bytes = (uint64_t)sqlite3_column_int64(stmt, 6),
			.md5 = (const char *)sqlite3_column_text(stmt, 7),
			.user_agent = (const char *)sqlite3_column_text(stmt, 8),
		};
		r = fn(arg, &e);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail_sqlite(st, rc);
	sqlite3_finalize(stmt);
	return r < 0 ? r : 0;
}

struct journal_printer {
	FILE *out;
	int count;
};

static int print_entry(void *arg, const struct journal_entry *e)
{
	struct journal_printer *p = arg;
	char colons[MAC_LEN + 6];

	print_time(p->out, (sqlite3_int64)e->time.tv_sec * USEC_PER_SEC + e->time.tv_nsec / 1000);
	fputc(' ', p->out);
	print_text(p->out, (const unsigned char *)e->proto, TEXT_WORD);
	fputc(' ', p->out);
	print_text(p->out, (const unsigned char *)e->peer, TEXT_WORD);
	fputc(' ', p->out);
	if (e->mac && strlen(e->mac) == MAC_LEN) {
		mac_colons(e->mac, colons);
		fputs(colons, p->out);
	} else {
		print_text(p->out, (const unsigned char *)e->mac, TEXT_WORD);
	}
	fputc(' ', p->out);
	print_text(p->out, (const unsigned char *)e->path, TEXT_QUOTED);
	fputc(' ', p->out);
	print_text(p->out, (const unsigned char *)e->outcome, TEXT_PHRASE);
	fprintf(p->out, " %llu ", (unsigned long long)e->bytes);
	print_text(p->out, (const unsigned char *)e->md5, TEXT_WORD);
	if (e->user_agent) {
		fputc(' ', p->out);
		print_text(p->out, (const unsigned char *)e->user_agent, TEXT_QUOTED);
	}
	fputc('\n', p->out);
	if (p->count < INT32_MAX)
		p->count++;
	return 0;
}

int store_journal_print(struct store *st, const char *mac, time_t since, FILE *out)
{
	struct journal_printer p = { .out = out };
	int r = store_journal_foreach(st, mac, since > 0 ? (int64_t)since * USEC_PER_SEC : 0, false,
				      print_entry, &p);

	if (r == 0 && ferror(out))
		r = store_fail(st, -EIO, "write error");
	return r < 0 ? r : p.count;
}
