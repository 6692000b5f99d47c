// SPDX-License-Identifier: MIT
/*
 * The journal: one row per request a device made, whatever the outcome, so that "why did
 * this phone not pick up its configuration" has an answer. The daemon appends in batches
 * (one transaction per batch, one statement prepared for the connection's life) because a
 * boot storm makes thousands of requests a second and a commit each would be the bottleneck.
 * Pruning goes in small steps (store_journal_prune_step) so the daemon's loop never runs a
 * long DELETE, and deletes the misses first so a flood cannot push a device's history out.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define USEC_PER_SEC 1000000ll

/*
 * A device's rows, on SQLite (schemas 9 and 10): not an index on journal (mac, time), which
 * puts every appended row on a page of its own device, a page written (and checkpointed) per
 * row once the journal is larger than a few rows per device, but journal_macs (run, mac,
 * time, id), filled a few ten thousand rows at a time (merge_macs): each merge is a run of
 * its own (run: the first id it covers, listed in journal_runs), in (mac, time, id) order
 * after every run before it, so that it writes new pages only, not a page of each device's
 * range (which a merge of a fleet's rows would touch nearly all of). A device's rows are a
 * look-up per run. The rows after meta's journal_macs_upto (the tail, fewer than
 * STORE_JOURNAL_MERGE_ROWS) are read from the journal itself; a deletion takes the rows'
 * entries with them (and a read joins on the MAC too, so that an entry left by a deletion
 * made by hand never names another device's row that took its id). PostgreSQL keeps its
 * index journal_mac.
 */
#define MACS_UPTO "(SELECT value FROM meta WHERE key = 'journal_macs_upto')"
/* journal_macs m's entries of the MAC mac (an SQL parameter): a look-up per run */
#define MACS_OF(mac) "m.run IN (SELECT run FROM journal_runs) AND m.mac = " mac
/* STORE_JOURNAL_COLUMNS, of journal_macs m joined to journal j */
#define MACS_COLUMNS                                                                               \
	"m.time, j.proto, j.peer, m.mac, j.path, j.outcome, j.bytes, j.md5, m.id, j.detail,"       \
	" j.user_agent, j.node"

static int run_with(struct store *st, const char *sql, const int64_t *v, int n, int64_t *ret);

/*
 * Rows of a batch in MAC order, each device's in the order they came (qsort is not stable),
 * compared by the MAC as a number (a sort of a batch compares each row ~15 times).
 */
struct by_mac {
	uint64_t key; /* the canonical MAC's 12 hex digits, or UINT64_MAX: compared as text */
	const struct journal_entry *e;
	int64_t id;
	size_t i;
};

static uint64_t mac_key(const char *mac)
{
	uint64_t k = 0;

	for (int i = 0; i < MAC_LEN; i++) {
		int c = mac[i];

		if (c >= '0' && c <= '9')
			k = k << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			k = k << 4 | (uint64_t)(c - 'a' + 10);
		else
			return UINT64_MAX;
	}
	return mac[MAC_LEN] ? UINT64_MAX : k;
}

static int64_t usec_of(const struct journal_entry *e)
{
	return (int64_t)e->time.tv_sec * USEC_PER_SEC + e->time.tv_nsec / 1000;
}

static int by_mac_cmp(const void *a, const void *b)
{
	const struct by_mac *x = a, *y = b;
	int c = (x->key > y->key) - (x->key < y->key);

	if (c == 0 && x->key == UINT64_MAX)
		c = strcmp(x->e->mac, y->e->mac);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * The devices' state and the unknown devices that n rows with a MAC give, in MAC order:
 * the rows of a batch come from devices all over the fleet, and visiting the pages of the
 * state and its indexes in key order touches each once per batch, not once per row.
 */
static int record_devices(struct store *st, struct by_mac *rows, size_t n, uint64_t rev)
{
	bool pending = true;
	int r;

	qsort(rows, n, sizeof(*rows), by_mac_cmp);
	/*
	 * A device of the inventory is an unknown device only while pending: without pending
	 * devices (one indexed count), a row the state took needs no second upsert. SQLite
	 * only: in PostgreSQL's pipeline a statement's changes are not known yet.
	 */
	if (!st->pg) {
		int64_t count;

		r = run_with(
			st,
			"SELECT count(*) FROM (SELECT 1 FROM devices WHERE group_name = '" STORE_PENDING_GROUP
			"' LIMIT 1)",
			NULL, 0, &count);
		if (r < 0)
			return r;
		pending = count > 0;
	}
	for (size_t i = 0, end; i < n; i = end) {
		struct state_fold fold;
		bool taken;

		/* a device's rows of the batch: one write of its state */
		store_state_fold_start(&fold);
		for (end = i; end < n && strcmp(rows[end].e->mac, rows[i].e->mac) == 0; end++)
			store_state_fold_add(&fold, rows[end].e, rows[end].id, usec_of(rows[end].e),
					     rev);
		r = store_state_write(st, &fold, &taken);
		for (size_t k = i; r == 0 && (pending || !taken) && k < end; k++)
			r = store_unknown_record(st, rows[k].e, usec_of(rows[k].e));
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * SQLite: the tail into journal_macs once it holds st->journal_merge_rows rows, a run of
 * its own in key order (last_id: the newest row).
 */
static int merge_macs(struct store *st, int64_t last_id)
{
	int64_t upto, n;
	int r;

	if (st->pg)
		return 0;
	r = run_with(st, "SELECT value FROM meta WHERE key = 'journal_macs_upto'", NULL, 0, &upto);
	if (r < 0 || last_id - upto < (int64_t)st->journal_merge_rows)
		return r;
	r = run_with(st,
		     "INSERT INTO journal_macs SELECT ?1 + 1, mac, time, id FROM journal WHERE"
		     " id > ?1 AND id <= ?2 AND mac IS NOT NULL ORDER BY mac, time, id",
		     (int64_t[]){ upto, last_id }, 2, &n);
	if (r == 0)
		r = run_with(st, "INSERT INTO journal_runs (run) VALUES (?1 + 1)",
			     (int64_t[]){ upto }, 1, &n);
	if (r == 0)
		r = run_with(st, "UPDATE meta SET value = ?1 WHERE key = 'journal_macs_upto'",
			     (int64_t[]){ last_id }, 1, &n);
	return r;
}

int store_journal_append(struct store *st, const struct journal_entry *e, size_t n)
{
	struct stmt *stmt;
	struct by_mac *rows = NULL;
	int64_t *ids = NULL;
	uint64_t rev = 0;
	size_t nrows = 0;
	int64_t id = 0;
	int rc, r;

	if (n == 0)
		return 0;
	rows = malloc(n * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r = store_begin(st, true);
	if (r < 0) {
		free(rows);
		return r;
	}
	/*
	 * PostgreSQL: the batch in one round trip (a pipeline), so its ids are taken first
	 * (they follow the order the rows are appended in, the write lock held). SQLite: the
	 * row's id is the connection's last rowid (RETURNING would build a temporary table
	 * for each row).
	 */
	if (st->pg) {
		r = pg_journal_ids(st, n, &ids);
		if (r < 0)
			goto fail;
	}
	r = store_stmt(
		st, STMT_JOURNAL_INSERT,
		store_sql(st,
			  "INSERT INTO journal (time, proto, peer, mac, path, outcome, bytes,"
			  " md5, user_agent, detail, node) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
			  " ?7, ?8, ?9, ?10, ?11)",
			  "INSERT INTO journal (time, proto, peer, mac, path, outcome, bytes,"
			  " md5, user_agent, detail, node, id) VALUES (?1, ?2, ?3, ?4, ?5,"
			  " ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
		&stmt);
	if (r < 0)
		goto fail;
	/* the devices' state follows their rows, in the same transaction (store/state.c) */
	r = store_state_begin(st, &rev);
	if (r < 0)
		goto fail;
	r = store_pipeline_begin(st);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct journal_entry *j = &e[i];

		stmt_reset(stmt);
		stmt_bind_int64(stmt, 1, usec_of(j));
		/* bind_text with NULL binds SQL NULL: unknown stays unknown */
		stmt_bind_text(stmt, 2, j->proto);
		stmt_bind_text(stmt, 3, j->peer);
		stmt_bind_text(stmt, 4, j->mac);
		stmt_bind_text(stmt, 5, j->path);
		stmt_bind_text(stmt, 6, j->outcome);
		stmt_bind_int64(stmt, 7, (int64_t)(j->bytes > INT64_MAX ? INT64_MAX : j->bytes));
		stmt_bind_text(stmt, 8, j->md5);
		stmt_bind_text(stmt, 9, j->user_agent);
		stmt_bind_text(stmt, 10, j->detail);
		stmt_bind_text(stmt, 11, j->node);
		if (ids)
			stmt_bind_int64(stmt, 12, ids[i]);
		rc = stmt_step(stmt);
		if (rc != STMT_DONE) {
			r = store_failed(st, rc);
			stmt_reset(stmt);
			goto fail;
		}
		id = ids ? ids[i] : store_last_rowid(st);
		if (j->mac)
			rows[nrows++] = (struct by_mac){ mac_key(j->mac), j, id, i };
	}
	stmt_reset(stmt);
	r = record_devices(st, rows, nrows, rev);
	if (r == 0)
		r = store_pipeline_end(st);
	if (r == 0 && !st->pg)
		r = merge_macs(st, id);
	/* no pointer into the caller's entries may outlive the call */
	free(ids);
	ids = NULL;
	if (r < 0)
		goto fail;
	free(rows);
	return store_commit(st);

fail:
	(void)store_pipeline_end(st);
	free(ids);
	free(rows);
	store_rollback(st);
	return r;
}

/*
 * Runs sql (a DELETE or a SELECT of one integer) with ?1.. bound to the n values; a
 * DELETE's changes, or the SELECT's value (0 for NULL), go to *ret.
 */
static int run_with(struct store *st, const char *sql, const int64_t *v, int n, int64_t *ret)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	for (int i = 0; i < n; i++)
		stmt_bind_int64(stmt, i + 1, v[i]);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW) {
		*ret = stmt_int64(stmt, 0);
		r = 0;
	} else if (rc == STMT_DONE) {
		*ret = store_changes(st);
		r = 0;
	} else {
		r = store_failed(st, rc);
	}
	stmt_finalize(stmt);
	return r;
}

static int64_t mono_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec;
}

#define PRUNE_AGE_EVERY_S 60   /* a pass by age at most this often once caught up */
#define RECOUNT_EVERY_S	  3600 /* rows deleted by another process are noticed this late */

void store_journal_pruner_init(struct journal_pruner *p, uint64_t max_age, uint64_t max_rows)
{
	memset(p, 0, sizeof(*p));
	p->max_age = max_age;
	p->max_rows = max_rows;
}

void store_journal_pruner_set(struct journal_pruner *p, uint64_t max_age, uint64_t max_rows)
{
	p->max_age = max_age;
	p->max_rows = max_rows;
	p->age_due = 0;
}

void store_journal_pruner_appended(struct journal_pruner *p, size_t n)
{
	/* while counting, the count reaches the new rows by their ids */
	if (p->counted)
		p->rows += n;
}

/* Counts the rows of the next STORE_JOURNAL_COUNT_IDS ids. */
static int prune_count(struct store *st, struct journal_pruner *p)
{
	int64_t max_id, n;
	int r;

	if (p->count_next == 0) {
		r = run_with(st, "SELECT min(id) FROM journal", NULL, 0, &p->count_next);
		if (r < 0)
			return r;
		p->rows = 0;
		if (p->count_next <= 0)
			p->count_next = 1; /* empty: one step finds nothing and is done */
	}
	r = run_with(st, "SELECT max(id) FROM journal", NULL, 0, &max_id);
	if (r < 0)
		return r;
	r = run_with(st, "SELECT count(*) FROM journal WHERE id >= ?1 AND id < ?2",
		     (int64_t[]){ p->count_next, p->count_next + STORE_JOURNAL_COUNT_IDS }, 2, &n);
	if (r < 0)
		return r;
	p->rows += (uint64_t)n;
	p->count_next += STORE_JOURNAL_COUNT_IDS;
	if (p->count_next > max_id) {
		p->counted = true;
		p->count_next = 0;
		p->recount_due = mono_now() + RECOUNT_EVERY_S;
	}
	return 0;
}

/*
 * Deletes the rows whose ids sel (a SELECT, ?1.. bound to the n values of v) gives, and on
 * SQLite their entries in journal_macs first; their count goes to *ret.
 */
static int delete_rows(struct store *st, const char *sel, const int64_t *v, int n, int64_t *ret)
{
	char sql[512];
	int64_t gone;
	int r;

	if (!st->pg) {
		/* an entry is in the run that starts at or before its id */
		snprintf(sql, sizeof(sql),
			 "DELETE FROM journal_macs WHERE (run, mac, time, id) IN (SELECT (SELECT"
			 " max(run) FROM journal_runs WHERE run <= j.id), mac, time, id FROM journal"
			 " j WHERE id IN (%s) AND mac IS NOT NULL)",
			 sel);
		r = run_with(st, sql, v, n, &gone);
		if (r < 0)
			return r;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM journal WHERE id IN (%s)", sel);
	r = run_with(st, sql, v, n, ret);
	/*
	 * The newest rows gone, their ids come again: the tail starts at the newest row left,
	 * and the runs after it (emptied) go. So do the emptied runs before the oldest row.
	 */
	if (r == 0 && !st->pg && *ret > 0)
		r = run_with(st,
			     "UPDATE meta SET value = (SELECT coalesce(max(id), 0) FROM journal)"
			     " WHERE key = 'journal_macs_upto' AND value >"
			     " (SELECT coalesce(max(id), 0) FROM journal)",
			     NULL, 0, &gone);
	if (r == 0 && !st->pg && *ret > 0)
		r = run_with(st,
			     "DELETE FROM journal_runs WHERE run > " MACS_UPTO " OR (run <"
			     " (SELECT coalesce(min(id), 0) FROM journal) AND NOT EXISTS (SELECT 1"
			     " FROM journal_macs m WHERE m.run = journal_runs.run))",
			     NULL, 0, &gone);
	return r;
}

/* Deletes up to limit rows beyond max_rows: the oldest misses, else the oldest rows. */
static int prune_rows(struct store *st, struct journal_pruner *p, uint64_t limit, int64_t *ret)
{
	int64_t min_id, max_id, deleted = 0;
	int r;

	r = run_with(st, "SELECT min(id) FROM journal", NULL, 0, &min_id);
	if (r == 0)
		r = run_with(st, "SELECT max(id) FROM journal", NULL, 0, &max_id);
	if (r < 0)
		return r;
	if (p->miss_cursor < min_id)
		p->miss_cursor = min_id;
	if (p->miss_cursor <= max_id) {
		int64_t from = p->miss_cursor;

		r = delete_rows(
			st,
			"SELECT id FROM journal WHERE id >= ?1 AND id < ?2 AND " STORE_JOURNAL_MISS_SQL
			" ORDER BY id LIMIT ?3",
			(int64_t[]){ from, from + STORE_JOURNAL_SCAN_IDS, (int64_t)limit }, 3,
			&deleted);
		if (r < 0)
			return r;
		/* a window that gave less than asked holds no miss any more */
		if ((uint64_t)deleted < limit)
			p->miss_cursor = from + STORE_JOURNAL_SCAN_IDS;
	} else {
		r = delete_rows(st, "SELECT id FROM journal ORDER BY id LIMIT ?1",
				(int64_t[]){ (int64_t)limit }, 1, &deleted);
		if (r < 0)
			return r;
		if (deleted == 0)
			p->rows = 0; /* nothing left: the count was stale */
	}
	*ret = deleted;
	return 0;
}

/* Deletes, among the oldest STORE_JOURNAL_PRUNE_BATCH rows, those older than max_age. */
static int prune_age(struct store *st, struct journal_pruner *p, int64_t *ret)
{
	struct timespec now;
	int64_t cutoff;

	clock_gettime(CLOCK_REALTIME, &now);
	cutoff = (int64_t)now.tv_sec -
		 (int64_t)(p->max_age > (uint64_t)now.tv_sec ? (uint64_t)now.tv_sec : p->max_age);
	/* the unknown devices not seen since, a batch at a time (the index on last_seen) */
	int64_t forgotten, r;

	r = run_with(st,
		     "DELETE FROM unknown_devices WHERE mac IN (SELECT mac FROM unknown_devices"
		     " WHERE last_seen < ?1 ORDER BY last_seen LIMIT ?2)",
		     (int64_t[]){ cutoff * USEC_PER_SEC, STORE_JOURNAL_PRUNE_BATCH }, 2,
		     &forgotten);
	if (r < 0)
		return (int)r;
	/* entries are appended in time order: the old ones are the lowest ids */
	return delete_rows(st,
			   "SELECT id FROM (SELECT id, time FROM journal ORDER BY id LIMIT ?2)"
			   " AS oldest WHERE time < ?1",
			   (int64_t[]){ cutoff * USEC_PER_SEC, STORE_JOURNAL_PRUNE_BATCH }, 2, ret);
}

int store_journal_prune_step(struct store *st, struct journal_pruner *p, bool *ret_more)
{
	int64_t now = mono_now(), deleted = 0;
	int r;

	*ret_more = false;
	if (p->counted && now >= p->recount_due && p->max_rows > 0) {
		p->counted = false;
		p->count_next = 0;
	}
	if (!p->counted && p->max_rows > 0) {
		r = prune_count(st, p);
		if (r < 0)
			return r;
		*ret_more = true;
		return 0;
	}
	if (p->max_rows > 0 && p->rows > p->max_rows) {
		uint64_t excess = p->rows - p->max_rows;

		r = store_begin(st, true);
		if (r < 0)
			return r;
		r = prune_rows(st, p,
			       excess < STORE_JOURNAL_PRUNE_BATCH ? excess
								  : STORE_JOURNAL_PRUNE_BATCH,
			       &deleted);
		if (r == 0)
			r = store_commit(st);
		else
			store_rollback(st);
		if (r < 0)
			return r;
		p->rows -= (uint64_t)deleted < p->rows ? (uint64_t)deleted : p->rows;
		*ret_more = true; /* the count says whether it is done */
		return deleted > INT32_MAX ? INT32_MAX : (int)deleted;
	}
	if (p->max_age > 0 && now >= p->age_due) {
		r = store_begin(st, true);
		if (r < 0)
			return r;
		r = prune_age(st, p, &deleted);
		if (r == 0)
			r = store_commit(st);
		else
			store_rollback(st);
		if (r < 0)
			return r;
		if (p->counted)
			p->rows -= (uint64_t)deleted < p->rows ? (uint64_t)deleted : p->rows;
		if (deleted >= STORE_JOURNAL_PRUNE_BATCH)
			*ret_more = true;
		else
			p->age_due = now + PRUNE_AGE_EVERY_S;
		return deleted > INT32_MAX ? INT32_MAX : (int)deleted;
	}
	return 0;
}

int store_journal_prune(struct store *st, uint64_t max_age, uint64_t max_rows)
{
	struct journal_pruner p;
	uint64_t deleted = 0;
	bool more = true;

	store_journal_pruner_init(&p, max_age, max_rows);
	while (more) {
		int r = store_journal_prune_step(st, &p, &more);

		if (r < 0)
			return r;
		deleted += (uint64_t)r;
		/* a pass by age ends with the first step that leaves nothing to do */
	}
	return deleted > INT32_MAX ? INT32_MAX : (int)deleted;
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

static void print_time(FILE *out, int64_t usec)
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

void store_journal_row(struct stmt *stmt, struct journal_entry *e)
{
	int64_t usec = stmt_int64(stmt, 0);

	*e = (struct journal_entry){
		.time = { .tv_sec = (time_t)(usec / USEC_PER_SEC),
			  .tv_nsec = (long)(usec % USEC_PER_SEC) * 1000 },
		.proto = stmt_text(stmt, 1),
		.peer = stmt_text(stmt, 2),
		.mac = stmt_text(stmt, 3),
		.path = stmt_text(stmt, 4),
		.outcome = stmt_text(stmt, 5),
		.bytes = (uint64_t)stmt_int64(stmt, 6),
		.md5 = stmt_text(stmt, 7),
		.id = stmt_int64(stmt, 8),
		.detail = stmt_text(stmt, 9),
		.user_agent = stmt_text(stmt, 10),
		.node = stmt_text(stmt, 11),
	};
}

/* store_journal_foreach, of the rows node wrote (NULL: any). */
static int journal_foreach(struct store *st, const char *mac, const char *node, int64_t since_usec,
			   bool newest_first, int (*fn)(void *arg, const struct journal_entry *e),
			   void *arg)
{
	char canon[MAC_LEN + 1], sql[1024];
	struct stmt *stmt = NULL;
	const char *why;
	int rc, r = 0;

	if (mac && mac_parse(mac, canon, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", mac, why);
	/*
	 * With a MAC, its rows in journal_macs and the tail (SQLite), or the partial (mac, time)
	 * index (PostgreSQL); without, from the first entry at or after the time, in id order
	 * (entries are appended in time order, but for rows written late, after an outage: those
	 * before the time are left out, those after it have larger ids than the first one and
	 * are in).
	 */
	if (mac && !st->pg)
		snprintf(
			sql, sizeof(sql),
			"SELECT " MACS_COLUMNS
			" FROM journal_macs m JOIN journal j ON j.id = m.id AND j.mac = m.mac"
			" WHERE " MACS_OF("?1") " AND m.time >= ?2%s UNION ALL SELECT " STORE_JOURNAL_COLUMNS
			" FROM journal WHERE id > " MACS_UPTO
			" AND mac = ?1 AND time >= ?2%s ORDER BY %s",
			node ? " AND j.node = ?3" : "", node ? " AND node = ?3" : "",
			newest_first ? "time DESC, id DESC" : "time, id");
	else
		snprintf(
			sql, sizeof(sql),
			"SELECT " STORE_JOURNAL_COLUMNS " FROM journal WHERE %s%s ORDER BY %s",
			mac ? "mac = ?1 AND time >= ?2"
			: newest_first
				? "time >= ?2"
				: "id >= coalesce((SELECT id FROM journal WHERE time >= ?2 ORDER BY"
				  " id LIMIT 1), (SELECT max(id) + 1 FROM journal)) AND time >= ?2",
			node ? " AND node = ?3" : "",
			mac ? (newest_first ? "time DESC, id DESC" : "time, id")
			    : (newest_first ? "id DESC" : "id"));
	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (node)
		stmt_bind_text(stmt, 3, node);
	if (mac)
		stmt_bind_text(stmt, 1, canon);
	stmt_bind_int64(stmt, 2, since_usec > 0 ? (int64_t)since_usec : 0);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		struct journal_entry e;

		store_journal_row(stmt, &e);
		r = fn(arg, &e);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r < 0 ? r : 0;
}

int store_journal_foreach(struct store *st, const char *mac, int64_t since_usec, bool newest_first,
			  int (*fn)(void *arg, const struct journal_entry *e), void *arg)
{
	return journal_foreach(st, mac, NULL, since_usec, newest_first, fn, arg);
}

struct journal_printer {
	FILE *out;
	int count;
};

static int print_entry(void *arg, const struct journal_entry *e)
{
	struct journal_printer *p = arg;
	char colons[MAC_LEN + 6];

	print_time(p->out, (int64_t)e->time.tv_sec * USEC_PER_SEC + e->time.tv_nsec / 1000);
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
	fputc(' ', p->out);
	print_text(p->out, (const unsigned char *)e->node, TEXT_WORD);
	if (e->user_agent) {
		fputc(' ', p->out);
		print_text(p->out, (const unsigned char *)e->user_agent, TEXT_QUOTED);
	}
	fputc('\n', p->out);
	if (p->count < INT32_MAX)
		p->count++;
	return 0;
}

int store_journal_print(struct store *st, const char *mac, const char *node, time_t since,
			FILE *out)
{
	struct journal_printer p = { .out = out };
	int r = journal_foreach(st, mac, node, since > 0 ? (int64_t)since * USEC_PER_SEC : 0,
				false, print_entry, &p);

	if (r == 0 && ferror(out))
		r = store_fail(st, -EIO, "write error");
	return r < 0 ? r : p.count;
}

/*
 * How far from its place in time order a journal row's id may be: rows held by a node's
 * writer during an outage are written after it with their own times (up to 65 536 held, and
 * a batch), behind the rows other nodes wrote meanwhile. A binary search over ids whose
 * times are that much out of order lands that far from the edge, and the rows it must find
 * are that much further: a time range is read over its ids widened by twice this, its rows
 * kept by their times. Rows later than this (a longer outage under several busy nodes, a
 * node's clock off) may be missed at a range's edges (docs/scale-out.md).
 */
#define JOURNAL_LATE_IDS 70000

/*
 * The smallest id whose time is at or after usec (max(id) + 1 when none is): a binary
 * search over ids, since entries are appended in time order (but for JOURNAL_LATE_IDS).
 * 0 or an error.
 */
static int journal_id_at(struct store *st, int64_t usec, int64_t *ret)
{
	struct stmt *stmt = NULL;
	int64_t lo, hi;
	int rc, r = 0;

	rc = stmt_prepare(st, "SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM journal",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	rc = stmt_step(stmt);
	if (rc != STMT_ROW) {
		r = store_failed(st, rc);
		stmt_finalize(stmt);
		return r;
	}
	lo = stmt_int64(stmt, 0);
	hi = stmt_int64(stmt, 1) + 1;
	stmt_finalize(stmt);
	rc = stmt_prepare(st, "SELECT id, time FROM journal WHERE id >= ?1 ORDER BY id LIMIT 1",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	/* invariant: every id below lo is before usec; every id from hi on is at or after */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		stmt_reset(stmt);
		stmt_bind_int64(stmt, 1, mid);
		rc = stmt_step(stmt);
		if (rc == STMT_DONE) {
			hi = mid;
		} else if (rc != STMT_ROW) {
			r = store_failed(st, rc);
			break;
		} else if (stmt_int64(stmt, 1) >= usec) {
			hi = mid;
		} else {
			/* the row found may be past mid (ids deleted by pruning): skip to it */
			lo = stmt_int64(stmt, 0) + 1;
		}
	}
	stmt_finalize(stmt);
	if (r == 0)
		*ret = lo;
	return r;
}

int store_journal_page(struct store *st, const struct journal_filter *f, int64_t after_id,
		       size_t limit, int (*fn)(void *arg, const struct journal_entry *e), void *arg)
{
	char canon[MAC_LEN + 1], sql[1024];
	int64_t lo = after_id + 1, hi = INT64_MAX;
	struct stmt *stmt = NULL;
	const char *why;
	int rc, r = 0;

	if (f->mac && mac_parse(f->mac, canon, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", f->mac, why);
	if (f->since_usec > 0) {
		int64_t id;

		r = journal_id_at(st, f->since_usec, &id);
		if (r < 0)
			return r;
		if (id - 2 * JOURNAL_LATE_IDS > lo)
			lo = id - 2 * JOURNAL_LATE_IDS;
	}
	if (f->until_usec > 0) {
		r = journal_id_at(st, f->until_usec, &hi);
		if (r < 0)
			return r;
		hi += 2 * JOURNAL_LATE_IDS;
	}
	/* the ids narrow the range; the times decide (rows written late are out of id order) */
	snprintf(sql, sizeof(sql),
		 "SELECT " STORE_JOURNAL_COLUMNS
		 " FROM journal WHERE id >= ?1 AND id < ?2%s%s%s%s%s%s"
		 " ORDER BY id LIMIT ?6",
		 !f->mac  ? ""
		 : st->pg ? " AND mac = ?3"
			  : " AND mac = ?3 AND id IN (SELECT m.id FROM journal_macs m WHERE " MACS_OF("?3")
			    " UNION ALL SELECT id FROM journal WHERE id > " MACS_UPTO
			    " AND mac = ?3)",
		 f->outcome ? " AND outcome = ?4" : "", f->proto ? " AND proto = ?5" : "",
		 f->node ? " AND node = ?7" : "", f->since_usec > 0 ? " AND time >= ?8" : "",
		 f->until_usec > 0 ? " AND time < ?9" : "");
	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_int64(stmt, 1, lo);
	stmt_bind_int64(stmt, 2, hi);
	if (f->mac)
		stmt_bind_text(stmt, 3, canon);
	if (f->outcome)
		stmt_bind_text(stmt, 4, f->outcome);
	if (f->proto)
		stmt_bind_text(stmt, 5, f->proto);
	stmt_bind_int64(stmt, 6, (int64_t)limit);
	if (f->node)
		stmt_bind_text(stmt, 7, f->node);
	if (f->since_usec > 0)
		stmt_bind_int64(stmt, 8, f->since_usec);
	if (f->until_usec > 0)
		stmt_bind_int64(stmt, 9, f->until_usec);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		struct journal_entry e;

		store_journal_row(stmt, &e);
		r = fn(arg, &e);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r < 0 ? r : 0;
}
