// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/store/journal.c: appending and reading the journal (by device, node,
 * time, pages), pruning (misses first, in bounded steps), a device's rows through
 * journal_macs and its runs (SQLite), rows written late. Each test gets a fresh site
 * directory; with AUTOPROV_TEST_PG_URL the same tests run on PostgreSQL (store_fixture.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_fixture.h"
#include <sqlite3.h>

#include "store/store.h"

/* ---- journal ---- */

/* What `autoprov log` prints (the caller frees it); its count in *ret_n. */
static char *journal_node_text(struct store *st, const char *mac, const char *node, time_t since,
			       int *ret_n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	*ret_n = store_journal_print(st, mac, node, since, out);
	fclose(out);
	return buf;
}

static char *journal_text(struct store *st, const char *mac, time_t since, int *ret_n)
{
	return journal_node_text(st, mac, NULL, since, ret_n);
}

static void test_journal(void **state)
{
	struct fixture *f = *state;
	struct journal_entry e[3] = {
		{ .time = { 1714564800, 123456789 }, /* 2024-05-01T12:00:00.123Z */
		  .proto = "tftp",
		  .peer = "192.0.2.10:1024",
		  .mac = "0022ee010203",
		  .path = "algom0022ee010203.conf",
		  .outcome = "sent",
		  .bytes = 1428,
		  .md5 = "0123456789abcdef0123456789abcdef",
		  .node = "node-a" },
		{ .time = { 1714564801, 0 },
		  .proto = "tftp",
		  .peer = "192.0.2.10:1025",
		  .mac = "0022ee010203",
		  .path = "algom-i0022ee010203.conf",
		  .outcome = "not found",
		  .node = "node-b" },
		{ .time = { 1714651200, 5000000 }, /* a day later */
		  .proto = "http",
		  .peer = "[2001:db8::1]:4000",
		  .path = "with \"quote\"\n",
		  .outcome = "denied",
		  .user_agent = "Algo/8180 \"x\"" },
	};
	char *text;
	int n;

	assert_int_equal(store_journal_append(f->st, e, 3), 0);
	assert_int_equal(store_journal_append(f->st, e, 0), 0);

	text = journal_text(f->st, NULL, 0, &n);
	assert_int_equal(n, 3);
	assert_string_equal(
		text, "2024-05-01T12:00:00.123Z tftp 192.0.2.10:1024 00:22:ee:01:02:03 "
		      "\"algom0022ee010203.conf\" sent 1428 "
		      "0123456789abcdef0123456789abcdef node-a\n"
		      "2024-05-01T12:00:01.000Z tftp 192.0.2.10:1025 00:22:ee:01:02:03 "
		      "\"algom-i0022ee010203.conf\" not found 0 - node-b\n"
		      "2024-05-02T12:00:00.005Z http [2001:db8::1]:4000 - "
		      "\"with \\x22quote\\x22\\x0a\" denied 0 - - \"Algo/8180 \\x22x\\x22\"\n");
	free(text);
	/* one node's rows, alone or with a device and a time */
	text = journal_node_text(f->st, NULL, "node-b", 0, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(text, "algom-i0022ee010203.conf"));
	free(text);
	text = journal_node_text(f->st, "0022ee010203", "node-a", 0, &n);
	assert_int_equal(n, 1);
	free(text);
	text = journal_node_text(f->st, NULL, "node-a", 1714564801, &n);
	assert_int_equal(n, 0);
	free(text);

	text = journal_text(f->st, "00-22-EE-01-02-03", 0, &n);
	assert_int_equal(n, 2);
	free(text);
	text = journal_text(f->st, NULL, 1714564801, &n);
	assert_int_equal(n, 2);
	free(text);
	text = journal_text(f->st, "0022ee010203", 1714564801, &n);
	assert_int_equal(n, 1);
	free(text);
	text = journal_text(f->st, "bad", 0, &n);
	assert_int_equal(n, -EINVAL);
	free(text);
}

static void test_journal_prune(void **state)
{
	struct fixture *f = *state;
	struct journal_entry e[10];
	time_t now = time(NULL);
	char *text;
	int n;

	for (int i = 0; i < 10; i++) {
		/* entries 0..4 are two days old, 5..9 from now */
		e[i] = (struct journal_entry){ .time = { i < 5 ? now - 2 * 86400 : now, i },
					       .proto = "tftp",
					       .peer = "127.0.0.1:1",
					       .path = "f",
					       .outcome = "sent" };
	}
	assert_int_equal(store_journal_append(f->st, e, 10), 0);
	assert_int_equal(store_journal_prune(f->st, 0, 0), 0);
	assert_int_equal(store_journal_prune(f->st, 86400, 0), 5);
	assert_int_equal(store_journal_prune(f->st, 0, 3), 2);
	assert_int_equal(store_journal_prune(f->st, 0, 3), 0);
	text = journal_text(f->st, NULL, 0, &n);
	assert_int_equal(n, 3);
	free(text);
}

struct row_counter {
	const char *mac, *outcome;
	int64_t n;
};

static int count_rows(void *arg, const struct journal_entry *e)
{
	struct row_counter *c = arg;

	if ((!c->mac || (e->mac && strcmp(e->mac, c->mac) == 0)) &&
	    (!c->outcome || (e->outcome && strcmp(e->outcome, c->outcome) == 0)))
		c->n++;
	return 0;
}

static int64_t count_where(struct store *st, const char *mac, const char *outcome)
{
	struct row_counter c = { mac, outcome, 0 };

	assert_int_equal(store_journal_foreach(st, NULL, 0, false, count_rows, &c), 0);
	return c.n;
}

/* Rows from the oldest: device fetches, a flood of misses, device fetches again. */
static void append_flood(struct store *st, int before, int misses, int after)
{
	struct journal_entry e = { .time = { time(NULL), 0 },
				   .proto = "tftp",
				   .peer = "127.0.0.1:1",
				   .path = "f",
				   .bytes = 1 };

	for (int i = 0; i < before + misses + after; i++) {
		bool device = i < before || i >= before + misses;

		e.mac = device ? "0022ee010203" : NULL;
		e.outcome = device ? "sent" : (i % 2 ? "not found" : "denied");
		assert_int_equal(store_journal_append(st, &e, 1), 0);
	}
}

static void test_journal_prune_misses_first(void **state)
{
	struct fixture *f = *state;

	append_flood(f->st, 10, 100, 5);
	/* 115 rows, 20 kept: the 95 oldest misses go, every device row stays */
	assert_int_equal(store_journal_prune(f->st, 0, 20), 95);
	assert_int_equal(count_where(f->st, "0022ee010203", "sent"), 15);
	assert_int_equal(count_where(f->st, NULL, NULL), 20);
	/* no miss left to give: then the oldest rows, whatever they are */
	assert_int_equal(store_journal_prune(f->st, 0, 10), 10);
	assert_int_equal(count_where(f->st, "0022ee010203", "sent"), 10);
	assert_int_equal(count_where(f->st, NULL, NULL), 10);
}

static void test_journal_prune_steps_are_bounded(void **state)
{
	struct fixture *f = *state;
	struct journal_pruner p;
	int steps = 0, deleted = 0;
	bool more = true;

	append_flood(f->st, 3, 9000, 2);
	store_journal_pruner_init(&p, 0, 100);
	while (more) {
		int r = store_journal_prune_step(f->st, &p, &more);

		assert_true(r >= 0 && r <= STORE_JOURNAL_PRUNE_BATCH);
		deleted += r;
		assert_true(++steps < 100);
	}
	assert_true(steps >= 9000 / STORE_JOURNAL_PRUNE_BATCH);
	assert_int_equal(deleted, 9005 - 100);
	assert_int_equal(count_where(f->st, "0022ee010203", "sent"), 5);
	assert_int_equal(count_where(f->st, NULL, NULL), 100);
	/* appended rows are counted without a new count: one step trims them */
	append_flood(f->st, 0, 10, 0);
	store_journal_pruner_appended(&p, 10);
	assert_int_equal(store_journal_prune_step(f->st, &p, &more), 10);
	assert_int_equal(count_where(f->st, NULL, NULL), 100);
	/* nothing to do: no statement, nothing deleted */
	assert_int_equal(store_journal_prune_step(f->st, &p, &more), 0);
	assert_false(more);
}

static void test_journal_batch_speed(void **state)
{
	struct fixture *f = *state;
	struct journal_entry e[1000];
	struct timespec t0, t1;
	double ms;

	for (int i = 0; i < 1000; i++)
		e[i] = (struct journal_entry){ .time = { 1714564800 + i, 0 },
					       .proto = "tftp",
					       .peer = "127.0.0.1:1",
					       .mac = "0022ee010203",
					       .path = "f",
					       .outcome = "sent",
					       .bytes = 1 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(store_journal_append(f->st, e, 1000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* a figure to read, not a check (PostgreSQL: one round trip a batch, a pipeline) */
	print_message("10 batches of 1000 journal entries: %.1f ms\n", ms);
}

struct journal_ids {
	int64_t ids[16];
	size_t n;
};

static int journal_id_one(void *arg, const struct journal_entry *e)
{
	struct journal_ids *j = arg;

	if (j->n < 16)
		j->ids[j->n] = e->id;
	j->n++;
	return 0;
}

/* A page sorted by state, walked with the keyset store_device_page gives, into macs. */
static void test_journal_page(void **state)
{
	struct fixture *f = *state;
	struct journal_entry e[6];
	struct journal_filter flt = { 0 };
	struct journal_ids j = { 0 };

	for (int i = 0; i < 6; i++)
		e[i] = (struct journal_entry){ .time = { .tv_sec = 1000 + i * 10 },
					       .proto = i % 2 ? "http" : "tftp",
					       .peer = "192.0.2.1:69",
					       .mac = i < 3 ? "0022ee000001" : NULL,
					       .path = "x",
					       .outcome = i == 4 ? "not found" : "sent" };
	assert_int_equal(store_journal_append(f->st, e, 6), 0);
	assert_int_equal(store_journal_page(f->st, &flt, 0, 4, journal_id_one, &j), 0);
	assert_int_equal(j.n, 4);
	assert_int_equal(j.ids[0], 1);
	assert_int_equal(j.ids[3], 4);
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_journal_page(f->st, &flt, 4, 4, journal_id_one, &j), 0);
	assert_int_equal(j.n, 2);
	assert_int_equal(j.ids[0], 5);
	/* a time range, found by a binary search over the ids */
	flt.since_usec = 1015 * 1000000ll;
	flt.until_usec = 1040 * 1000000ll;
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_journal_page(f->st, &flt, 0, 10, journal_id_one, &j), 0);
	assert_int_equal(j.n, 2);
	assert_int_equal(j.ids[0], 3);
	assert_int_equal(j.ids[1], 4);
	flt = (struct journal_filter){ .since_usec = 2000 * 1000000ll };
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_journal_page(f->st, &flt, 0, 10, journal_id_one, &j), 0);
	assert_int_equal(j.n, 0);
	flt = (struct journal_filter){ .mac = "00:22:ee:00:00:01", .proto = "tftp" };
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_journal_page(f->st, &flt, 0, 10, journal_id_one, &j), 0);
	assert_int_equal(j.n, 2);
	flt = (struct journal_filter){ .outcome = "not found" };
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_journal_page(f->st, &flt, 0, 10, journal_id_one, &j), 0);
	assert_int_equal(j.n, 1);
	assert_int_equal(j.ids[0], 5);
	flt = (struct journal_filter){ .mac = "nope" };
	assert_int_equal(store_journal_page(f->st, &flt, 0, 10, journal_id_one, &j), -EINVAL);
}

/* Rows that cover [since, until) seconds; their times' range as [min, max]. */
struct journal_times {
	size_t n;
	int64_t min, max;
};

static int journal_time_one(void *arg, const struct journal_entry *e)
{
	struct journal_times *t = arg;

	if (t->n == 0 || e->time.tv_sec < t->min)
		t->min = e->time.tv_sec;
	if (t->n == 0 || e->time.tv_sec > t->max)
		t->max = e->time.tv_sec;
	t->n++;
	return 0;
}

/*
 * Rows written late (a writer's rows held during an outage, with their own times, after
 * newer ones): a time range finds them, and nothing outside it.
 */
/* SQLite: the count sql (SELECT count(*) ...) gives in the database file; -1 on PostgreSQL. */
static int64_t sqlite_count(struct fixture *f, const char *sql)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t n;

	if (pg_url)
		return -1;
	snprintf(path, sizeof(path), "%s/autoprov.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* SQLite's journal_macs rows in the database file, or -1 (PostgreSQL). */
static int64_t macs_entries(struct fixture *f)
{
	return sqlite_count(f, "SELECT count(*) FROM journal_macs");
}

/*
 * A device's rows are the same whether the appends moved them to journal_macs or they are
 * still in the tail (SQLite, merging every 4 rows here), in time order and in id order,
 * and a pruned row takes its entry with it.
 */
static void test_journal_macs_merged(void **state)
{
	struct fixture *f = *state;
	struct journal_filter flt = { .mac = "0022ee0000aa" };
	struct journal_ids j = { 0 };
	struct journal_entry e[11];
	char *text;
	int n;

	store_set_journal_merge(f->st, 4);
	for (int i = 0; i < 11; i++)
		e[i] = (struct journal_entry){ .time = { .tv_sec = time(NULL) - 100 + i },
					       .proto = "tftp",
					       .peer = "192.0.2.1:69",
					       .mac = i % 3 == 2 ? NULL
						      : i % 3	 ? "0022ee0000bb"
								 : "0022ee0000aa",
					       .path = "x",
					       .outcome = "sent" };
	/* batches of 3, 5 and 3 rows: merged after the second (8 >= 4), not after the third */
	assert_int_equal(store_journal_append(f->st, e, 3), 0);
	assert_int_equal(store_journal_append(f->st, e + 3, 5), 0);
	if (!pg_url)
		assert_int_equal(macs_entries(f), 6); /* rows 0..7 less the two without MAC */
	assert_int_equal(store_journal_append(f->st, e + 8, 3), 0);
	if (!pg_url)
		assert_int_equal(macs_entries(f), 6); /* rows 8..10: the tail */
	/* aa: rows 0, 3, 6 (merged) and 9 (the tail) */
	text = journal_text(f->st, "0022ee0000aa", 0, &n);
	assert_int_equal(n, 4);
	free(text);
	assert_int_equal(store_journal_page(f->st, &flt, 0, 10, journal_id_one, &j), 0);
	assert_int_equal(j.n, 4);
	for (size_t i = 1; i < j.n; i++)
		assert_true(j.ids[i] > j.ids[i - 1]);
	/* a page ending in the merged rows, the next one going on into the tail */
	j.n = 0;
	assert_int_equal(store_journal_page(f->st, &flt, 0, 2, journal_id_one, &j), 0);
	assert_int_equal(j.n, 2);
	assert_int_equal(store_journal_page(f->st, &flt, j.ids[1], 10, journal_id_one, &j), 0);
	assert_int_equal(j.n, 4);
	/* the oldest 5 rows go, and their entries (rows 0, 1, 3, 4) */
	assert_int_equal(store_journal_prune(f->st, 0, 6), 5);
	if (!pg_url)
		assert_int_equal(macs_entries(f), 2);
	text = journal_text(f->st, "0022ee0000aa", 0, &n);
	assert_int_equal(n, 2);
	free(text);
	text = journal_text(f->st, "0022ee0000bb", 0, &n);
	assert_int_equal(n, 2); /* 7 (merged) and 10 (the tail) */
	free(text);
}

/* The times of up to 8 rows, in the order they came. */
struct row_times {
	size_t n;
	time_t times[8];
};

static int row_time(void *arg, const struct journal_entry *e)
{
	struct row_times *t = arg;

	if (t->n < 8)
		t->times[t->n] = e->time.tv_sec;
	t->n++;
	return 0;
}

/*
 * Each merge is a run of its own (SQLite): a device's rows come from every run and the tail
 * in time order, also rows written late; pruning empties the oldest run, which goes.
 */
static void test_journal_runs(void **state)
{
	static const int secs[] = { 10, 20, 30, 40, 5, 50, 60 }; /* the fifth is written late */
	struct fixture *f = *state;
	struct journal_entry e[7];
	struct row_times t = { 0 };

	store_set_journal_merge(f->st, 2);
	for (int i = 0; i < 7; i++)
		e[i] = (struct journal_entry){ .time = { .tv_sec = time(NULL) - 100 + secs[i] },
					       .proto = "http",
					       .peer = "192.0.2.1:80",
					       .mac = "0022ee0000aa",
					       .path = "x",
					       .outcome = "sent" };
	/* three batches of 2 rows, three runs; the last row, the tail */
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_journal_append(f->st, e + 2 * i, 2), 0);
	assert_int_equal(store_journal_append(f->st, e + 6, 1), 0);
	if (!pg_url) {
		assert_int_equal(sqlite_count(f, "SELECT count(*) FROM journal_runs"), 3);
		assert_int_equal(macs_entries(f), 6);
	}
	assert_int_equal(store_journal_foreach(f->st, "0022ee0000aa", 0, false, row_time, &t), 0);
	assert_int_equal(t.n, 7);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.times[i] > t.times[i - 1]);
	/* the oldest 3 rows go: the first run is empty, the second keeps a row */
	assert_int_equal(store_journal_prune(f->st, 0, 4), 3);
	if (!pg_url) {
		assert_int_equal(sqlite_count(f, "SELECT count(*) FROM journal_runs"), 2);
		assert_int_equal(macs_entries(f), 3);
	}
	t.n = 0;
	assert_int_equal(store_journal_foreach(f->st, "0022ee0000aa", 0, true, row_time, &t), 0);
	assert_int_equal(t.n, 4);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.times[i] < t.times[i - 1]);
}

static void test_journal_late_rows(void **state)
{
	static const int starts[] = { 100, 300, 200 }; /* the third batch is written late */
	struct fixture *f = *state;
	struct journal_entry e[100];
	struct journal_filter flt = { .since_usec = 250 * 1000000ll,
				      .until_usec = 350 * 1000000ll };
	struct journal_times t = { 0 };

	for (int b = 0; b < 3; b++) {
		for (int i = 0; i < 100; i++)
			e[i] = (struct journal_entry){ .time = { .tv_sec = starts[b] + i },
						       .proto = "tftp",
						       .peer = "192.0.2.1:69",
						       .path = "x",
						       .outcome = "sent" };
		assert_int_equal(store_journal_append(f->st, e, 100), 0);
	}
	/* ids 1..100: 100 s.., 101..200: 300 s.., 201..300: 200 s.. */
	assert_int_equal(store_journal_page(f->st, &flt, 0, 1000, journal_time_one, &t), 0);
	assert_int_equal(t.n, 100); /* 250..299 written late, 300..349 */
	assert_int_equal(t.min, 250);
	assert_int_equal(t.max, 349);
	/* by pages: the late rows come after the others */
	memset(&t, 0, sizeof(t));
	flt.until_usec = 0;
	assert_int_equal(store_journal_page(f->st, &flt, 200, 1000, journal_time_one, &t), 0);
	assert_int_equal(t.n, 50);
	assert_int_equal(t.min, 250);
	/* the command line's --since: from the first row at or after it, none before it */
	memset(&t, 0, sizeof(t));
	assert_int_equal(
		store_journal_foreach(f->st, NULL, 250 * 1000000ll, false, journal_time_one, &t),
		0);
	assert_int_equal(t.n, 150);
	assert_int_equal(t.min, 250);
	assert_int_equal(t.max, 399);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_prune_misses_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_prune_steps_are_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_journal_batch_speed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_macs_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_late_rows, setup, teardown),
	};

	fixture_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
