// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/store/: the schema and its versioning, devices, groups and defaults,
 * the inventory revision seen from a second connection (the daemon's view while the CLI
 * writes), the CSV reader, import (all or nothing, row numbers in errors) and export
 * (import(export(x)) is x), pages of devices, and the rendered-file versions (the journal:
 * test_journal.c; the devices' state: test_state.c). Each test gets a fresh site directory.
 *
 * With AUTOPROV_TEST_PG_URL (a PostgreSQL database the test may empty: what
 * tests/integration/test_store_pg.py gives it), the same tests run on PostgreSQL, each on an
 * emptied database; the few about SQLite's file are skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/csv.h"
#include "store/store.h"

static struct store *open_second(struct fixture *f)
{
	struct store *st = NULL;
	char err[256];

	assert_int_equal(store_open_url(pg_url, f->dir, &st, err, sizeof(err)), 0);
	return st;
}

static uint64_t revision(struct store *st)
{
	uint64_t rev = 0;

	assert_int_equal(store_inventory_revision(st, &rev), 0);
	return rev;
}

static void group(struct store *st, const char *name, const char *vars_json)
{
	json_t *vars = json_loads(vars_json, 0, NULL);

	assert_non_null(vars);
	assert_int_equal(store_group_set(st, name, vars), 0);
	json_decref(vars);
}

static int count_one(const struct device *d, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static size_t count_devices(struct store *st)
{
	size_t n = 0;

	assert_int_equal(store_device_foreach(st, count_one, &n), 0);
	return n;
}

/* Runs import over text; returns its result, err the reason. */
static int import_text(struct store *st, const char *text, bool replace, char *err, size_t errsz)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	int r;

	assert_non_null(in);
	err[0] = '\0';
	r = store_import_csv(st, in, replace, err, errsz);
	fclose(in);
	return r;
}

/* The export as a string (the caller frees it). */
static char *export_text(struct store *st, int *ret_n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int n;

	assert_non_null(out);
	n = store_export_csv(st, out);
	fclose(out);
	assert_true(n >= 0);
	if (ret_n)
		*ret_n = n;
	return buf;
}

/* ---- the database ---- */

static void test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	struct store *again;
	int version = -1;
	json_t *vars = NULL;

	assert_int_equal(store_schema_version(f->st, &version), 0);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_int_equal(revision(f->st), 0);
	assert_int_equal(store_defaults_get(f->st, &vars), 0);
	assert_int_equal(json_object_size(vars), 0);
	json_decref(vars);
	/* a second open of a migrated database changes nothing */
	again = open_second(f);
	assert_int_equal(store_schema_version(again, &version), 0);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	store_close(again);
	store_close(NULL);
}

static void test_open_wal_and_foreign_keys(void **state)
{
	struct fixture *f = *state;
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *stmt;

	SQLITE_ONLY();
	snprintf(path, sizeof(path), "%s/autoprov.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);

	/* the schema ties devices to their group: a group in use cannot go, even by hand */
	group(f->st, "lobby", "{}");
	add(f->st, "0022ee000001", "", "lobby", NULL);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM groups", NULL, NULL, NULL) & 0xff,
			 SQLITE_CONSTRAINT);
	sqlite3_close(db);
}

static void test_redact_url(void **state)
{
	static const char *const cases[][2] = {
		{ "postgresql://u:pw@db/site", "postgresql://u:***@db/site" },
		{ "postgres://u:p%40w@db:5433/site?sslmode=require",
		  "postgres://u:***@db:5433/site?sslmode=require" },
		{ "postgresql://u@db/site?password=pw&sslmode=require",
		  "postgresql://u@db/site?password=***&sslmode=require" },
		{ "postgresql:///site?host=/run/pg&password=pw",
		  "postgresql:///site?host=/run/pg&password=***" },
		{ "postgresql://db/site", "postgresql://db/site" },
		{ "postgresql://u@%2Frun%2Fpg/site", "postgresql://u@%2Frun%2Fpg/site" },
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(store_redact_url(cases[i][0], buf, sizeof(buf)), cases[i][1]);
	assert_true(store_url_is_pg("postgres://db/x") && store_url_is_pg("postgresql://db/x"));
	assert_false(store_url_is_pg("/srv/site") || store_url_is_pg("sqlite:/srv/x.db") ||
		     store_url_is_pg(NULL));
}

static void test_open_missing_dir(void **state)
{
	struct store *st = NULL;
	char err[256] = "";

	SQLITE_ONLY();
	assert_true(store_open("/nonexistent/site", &st, err, sizeof(err)) < 0);
	assert_null(st);
	assert_non_null(strstr(err, "/nonexistent/site/autoprov.db"));
}

static void test_open_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *st = NULL;
	char path[128], err[256] = "";
	sqlite3 *db;

	SQLITE_ONLY();
	snprintf(path, sizeof(path), "%s/autoprov.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, &st, err, sizeof(err)), -EPROTO);
	assert_null(st);
	assert_non_null(strstr(err, "schema version 99"));
}

static void test_open_not_a_database(void **state)
{
	struct store *st = NULL;
	char dir[64] = "/tmp/test_store.XXXXXX", path[128], err[256] = "";
	FILE *fp;

	SQLITE_ONLY();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/autoprov.db", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not a database, but it is long enough to have a header........\n", fp);
	fclose(fp);
	assert_true(store_open(dir, &st, err, sizeof(err)) < 0);
	assert_null(st);
	assert_true(err[0] != '\0');
	tmpdir_remove(dir);
}

/* ---- devices ---- */

static void test_device_put_get(void **state)
{
	struct fixture *f = *state;
	struct device *d = device_new("0022ee010203"), *got = NULL;
	char err[256];

	assert_non_null(d);
	free(d->model);
	d->model = strdup("8180");
	free(d->profile);
	d->profile = strdup("algo");
	d->enabled = false;
	json_object_set_new(d->vars, "sip", json_string("pbx"));
	json_object_set_new(d->vars, "vlan", json_integer(20));
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), 0);

	/* any spelling finds it */
	assert_int_equal(store_device_get(f->st, "00-22-EE-01-02-03", &got), 0);
	assert_string_equal(got->mac, "0022ee010203");
	assert_string_equal(got->model, "8180");
	assert_string_equal(got->profile, "algo");
	assert_string_equal(got->group, "");
	assert_false(got->enabled);
	assert_true(json_equal(got->vars, d->vars));
	assert_int_equal(got->rev, revision(f->st));
	device_free(got);
	device_free(d);
	device_free(NULL);
}

static void test_device_put_exists_and_replace(void **state)
{
	struct fixture *f = *state;
	struct device *d = device_new("0022ee010203"), *got = NULL;
	char err[256] = "";
	uint64_t rev;

	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), 0);
	rev = revision(f->st);
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "00:22:ee:01:02:03 is already in the inventory");
	assert_int_equal(revision(f->st), rev);

	free(d->model);
	d->model = strdup("8188");
	assert_int_equal(store_device_put(f->st, d, true, err, sizeof(err)), 0);
	assert_true(revision(f->st) > rev);
	assert_int_equal(store_device_get(f->st, "0022ee010203", &got), 0);
	assert_string_equal(got->model, "8188");
	assert_int_equal(got->rev, revision(f->st));
	device_free(got);
	device_free(d);
}

static void test_device_refusals(void **state)
{
	struct fixture *f = *state;
	struct device *d = device_new("0022ee010203"), *got = (struct device *)1;
	char err[256] = "";

	free(d->group);
	d->group = strdup("nope");
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "no group 'nope'");
	free(d->group);
	d->group = strdup("");

	free(d->profile);
	d->profile = strdup("yealink");
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "profile 'yealink'"));
	free(d->profile);
	d->profile = strdup("");

	free(d->model);
	d->model = strdup("bad\nmodel");
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -EINVAL);
	free(d->model);
	d->model = strdup("");

	json_object_set_new(d->vars, "a b", json_string("x"));
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "'a b': not a variable name (letters, digits, '_' and '-' only)");
	json_object_clear(d->vars);
	json_object_set_new(d->vars, "MODEL", json_string("x"));
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -EINVAL);
	json_object_clear(d->vars);

	snprintf(d->mac, sizeof(d->mac), "zz");
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "'zz': not a MAC address (2 hex digits, 12 expected)");

	assert_int_equal(count_devices(f->st), 0);
	assert_int_equal(revision(f->st), 0);
	assert_int_equal(store_device_get(f->st, "0022ee010203", &got), -ENOENT);
	assert_string_equal(store_strerror(f->st), "00:22:ee:01:02:03 is not in the inventory");
	assert_int_equal(store_device_get(f->st, "nonsense", &got), -EINVAL);
	assert_ptr_equal(got, (struct device *)1);
	device_free(d);
}

static void test_device_remove(void **state)
{
	struct fixture *f = *state;
	uint64_t rev;

	add(f->st, "0022ee010203", "", "", NULL);
	rev = revision(f->st);
	assert_int_equal(store_device_remove(f->st, "00:22:ee:01:02:03"), 0);
	assert_int_equal(revision(f->st), rev + 1);
	assert_int_equal(store_device_remove(f->st, "00:22:ee:01:02:03"), -ENOENT);
	assert_int_equal(store_device_remove(f->st, "bad"), -EINVAL);
	assert_int_equal(count_devices(f->st), 0);
}

struct collect {
	char macs[8][MAC_LEN + 1];
	size_t n;
	int stop_at;
};

static int collect_one(const struct device *d, void *arg)
{
	struct collect *c = arg;

	if (c->n < 8)
		memcpy(c->macs[c->n], d->mac, MAC_LEN + 1);
	c->n++;
	return c->stop_at && (int)c->n == c->stop_at ? 42 : 0;
}

static void test_device_foreach_filters(void **state)
{
	struct fixture *f = *state;
	struct collect c = { 0 };
	struct device *d;
	char err[256];

	group(f->st, "lobby", "{}");
	add(f->st, "0022ee000003", "8180", "lobby", NULL);
	add(f->st, "0022ee000001", "8180", "", NULL);
	add(f->st, "0022ee000002", "8188", "lobby", NULL);
	assert_int_equal(store_device_get(f->st, "0022ee000002", &d), 0);
	free(d->profile);
	d->profile = strdup("spa");
	assert_int_equal(store_device_put(f->st, d, true, err, sizeof(err)), 0);
	device_free(d);

	assert_int_equal(store_device_foreach(f->st, collect_one, &c), 0);
	assert_int_equal(c.n, 3);
	/* MAC order, whatever the insertion order */
	assert_string_equal(c.macs[0], "0022ee000001");
	assert_string_equal(c.macs[1], "0022ee000002");
	assert_string_equal(c.macs[2], "0022ee000003");

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_device_foreach_in(f->st, "lobby", NULL, collect_one, &c), 0);
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_device_foreach_in(f->st, "", NULL, collect_one, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0022ee000001");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_device_foreach_in(f->st, "lobby", "spa", collect_one, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0022ee000002");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_device_foreach_in(f->st, NULL, "algo", collect_one, &c), 0);
	assert_int_equal(c.n, 0);

	/* fn's non-zero value stops the walk and comes back */
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	assert_int_equal(store_device_foreach(f->st, collect_one, &c), 42);
	assert_int_equal(c.n, 2);
}

struct keep_vars {
	json_t *kept;
};

static int keep_one(const struct device *d, void *arg)
{
	struct keep_vars *k = arg;

	json_decref(k->kept);
	k->kept = json_incref(d->vars);
	return 0;
}

static void test_device_foreach_10000(void **state)
{
	struct fixture *f = *state;
	struct keep_vars k = { NULL };
	struct timespec t0, t1;
	size_t len = 0;
	char *csv = NULL, err[256];
	FILE *out = open_memstream(&csv, &len);
	double ms;

	fputs("mac,model,group,sip_user,display\n", out);
	for (unsigned i = 0; i < 10000; i++)
		fprintf(out, "0022ee%06x,8180,lobby,user%u,\"Phone %u, hall\"\n", i, i, i);
	fclose(out);
	group(f->st, "lobby", "{\"tz\":\"UTC\"}");
	assert_int_equal(import_text(f->st, csv, false, err, sizeof(err)), 10000);
	free(csv);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(count_devices(f->st), 10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* a figure to read, not a check: tests check behaviour, bench/ measures */
	print_message("foreach over 10000 devices: %.1f ms\n", ms);

	/* a callback may keep the variables past the call */
	assert_int_equal(store_device_foreach(f->st, keep_one, &k), 0);
	assert_string_equal(json_string_value(json_object_get(k.kept, "sip_user")), "user9999");
	json_decref(k.kept);
}

/* A device's revision: what store_device_get reads. */
static uint64_t device_rev(struct store *st, const char *mac)
{
	struct device *d = NULL;
	uint64_t rev;

	assert_int_equal(store_device_get(st, mac, &d), 0);
	rev = d->rev;
	device_free(d);
	return rev;
}

static int count_change(void *arg, uint64_t seq, enum store_change kind, const char *key)
{
	(void)seq;
	(void)kind;
	(void)key;
	(*(size_t *)arg)++;
	return 0;
}

/* One change is one revision and one change-log row on both backends, an upsert too. */
static void test_upsert_is_one_revision(void **state)
{
	struct fixture *f = *state;
	struct device *d = device_new("0022ee000001");
	uint64_t rev, seq;
	size_t changes = 0;
	char err[256];

	add(f->st, "0022ee000001", "T46", "", NULL);
	rev = revision(f->st);
	assert_int_equal(device_rev(f->st, "0022ee000001"), rev);
	assert_int_equal(store_changes_last(f->st, &seq), 0);

	/* the upsert of a device that exists (set, import --replace) */
	assert_non_null(d);
	assert_int_equal(store_device_put(f->st, d, true, err, sizeof(err)), 0);
	assert_int_equal(revision(f->st), rev + 1);
	assert_int_equal(device_rev(f->st, "0022ee000001"), rev + 1);
	/* and of one that does not */
	device_free(d);
	d = device_new("0022ee000002");
	assert_non_null(d);
	assert_int_equal(store_device_put(f->st, d, true, err, sizeof(err)), 0);
	device_free(d);
	assert_int_equal(revision(f->st), rev + 2);
	assert_int_equal(device_rev(f->st, "0022ee000002"), rev + 2);
	assert_int_equal(store_changes_since(f->st, seq, count_change, &changes), 0);
	assert_int_equal(changes, 2);

	/* a group set twice: its update is one revision */
	group(f->st, "lobby", "{}");
	rev = revision(f->st);
	group(f->st, "lobby", "{\"a\":\"1\"}");
	assert_int_equal(revision(f->st), rev + 1);
}

struct interleave {
	struct store *st;
	size_t n, looked_up;
	size_t stop_at; /* 0: never */
};

/* A loop's body that runs another query on the store being read (the rule's exception). */
static int look_up_one(const struct device *d, void *arg)
{
	struct interleave *il = arg;
	struct device *again = NULL;

	il->n++;
	if (il->n % 997 == 1) {
		assert_int_equal(store_device_get(il->st, d->mac, &again), 0);
		assert_string_equal(again->mac, d->mac);
		device_free(again);
		il->looked_up++;
	}
	return il->stop_at && il->n == il->stop_at ? 1 : 0;
}

/*
 * Loops over many rows (PostgreSQL streams them): whole, with another query in the body,
 * stopped early outside and inside a transaction, and the connection usable after each.
 */
static void test_foreach_streams(void **state)
{
	struct fixture *f = *state;
	struct interleave il = { f->st, 0, 0, 0 };
	size_t len = 0;
	char *csv = NULL, err[256];
	FILE *out = open_memstream(&csv, &len);

	fputs("mac,model\n", out);
	for (unsigned i = 0; i < 5000; i++)
		fprintf(out, "0022ee%06x,8180\n", i);
	fclose(out);
	assert_int_equal(import_text(f->st, csv, false, err, sizeof(err)), 5000);
	free(csv);

	assert_int_equal(store_device_foreach(f->st, look_up_one, &il), 0);
	assert_int_equal(il.n, 5000);
	assert_int_equal(il.looked_up, 6);

	/* stopped after 10 rows, outside a transaction: the store answers the next query */
	il = (struct interleave){ f->st, 0, 0, 10 };
	assert_int_equal(store_device_foreach(f->st, look_up_one, &il), 1);
	assert_int_equal(il.n, 10);
	assert_int_equal(count_devices(f->st), 5000);
	add(f->st, "0022eeffff01", "T46", "", NULL);

	/* and inside one, which goes on */
	assert_int_equal(store_begin(f->st, false), 0);
	il = (struct interleave){ f->st, 0, 0, 10 };
	assert_int_equal(store_device_foreach(f->st, look_up_one, &il), 1);
	assert_int_equal(count_devices(f->st), 5001);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(count_devices(f->st), 5001);
}

static int count_entry(void *arg, const struct journal_entry *e)
{
	(void)e;
	(*(size_t *)arg)++;
	return 0;
}

/* A journal of 50 000 rows read whole and copied into another store. */
static void test_copy_large_journal(void **state)
{
	struct fixture *f = *state;
	struct journal_entry *e = calloc(1000, sizeof(*e));
	struct store_copy_counts counts;
	struct store *to = NULL;
	char dir[64], err[256];
	size_t n = 0;

	assert_non_null(e);
	for (int b = 0; b < 50; b++) {
		for (int i = 0; i < 1000; i++)
			e[i] = (struct journal_entry){ .time = { 1714564800 + b * 1000 + i, 0 },
						       .proto = "tftp",
						       .peer = "127.0.0.1:1",
						       .mac = i % 2 ? "0022ee010203" : NULL,
						       .path = "f",
						       .outcome = "sent",
						       .bytes = i };
		assert_int_equal(store_journal_append(f->st, e, 1000), 0);
	}
	free(e);
	assert_int_equal(store_journal_foreach(f->st, NULL, 0, false, count_entry, &n), 0);
	assert_int_equal(n, 50000);

	/* into SQLite (from PostgreSQL when the test runs on it) */
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open_url(NULL, dir, &to, err, sizeof(err)), 0);
	if (store_copy(f->st, to, true, &counts, err, sizeof(err)) != 0)
		fail_msg("copy: %s", err);
	assert_int_equal(counts.journal, 50000);
	n = 0;
	assert_int_equal(store_journal_foreach(to, NULL, 0, false, count_entry, &n), 0);
	assert_int_equal(n, 50000);
	store_close(to);
	tmpdir_remove(dir);
}

/* ---- revision across connections ---- */

static void test_revision_seen_by_other_connection(void **state)
{
	struct fixture *f = *state;
	struct store *daemon = open_second(f);
	json_t *vars = json_pack("{s:s}", "tz", "UTC");
	uint64_t r0, r1, r2, r3, r4;

	r0 = revision(daemon);
	add(f->st, "0022ee000001", "", "", NULL);
	r1 = revision(daemon);
	assert_true(r1 > r0);
	assert_int_equal(store_group_set(f->st, "g", vars), 0);
	r2 = revision(daemon);
	assert_true(r2 > r1);
	assert_int_equal(store_defaults_set(f->st, vars), 0);
	r3 = revision(daemon);
	assert_true(r3 > r2);
	assert_int_equal(store_group_remove(f->st, "g"), 0);
	r4 = revision(daemon);
	assert_true(r4 > r3);

	/* journal appends and versions are not inventory changes */
	{
		struct journal_entry e = {
			.proto = "tftp", .peer = "127.0.0.1:1", .path = "x", .outcome = "sent"
		};
		uint64_t v;

		assert_int_equal(store_journal_append(f->st, &e, 1), 0);
		assert_int_equal(store_version(f->st, "k", "md5", &v), 0);
		assert_int_equal(revision(daemon), r4);
	}

	/* an uncommitted change is invisible to the daemon, and a rolled-back one never shows */
	assert_int_equal(store_begin(f->st, true), 0);
	add(f->st, "0022ee000002", "", "", NULL);
	assert_int_equal(revision(daemon), r4);
	store_rollback(f->st);
	assert_int_equal(revision(daemon), r4);
	assert_int_equal(count_devices(daemon), 1);
	json_decref(vars);
	store_close(daemon);
}

/* store_device_count: another connection's changes are seen; errors are counted by kind. */
static void test_device_count_follows_the_revision(void **state)
{
	struct fixture *f = *state;
	struct store *admin = open_second(f);
	uint64_t n = 99, errors[_STORE_ERROR_MAX] = { 0 };
	struct device *d;
	char err[256];

	assert_int_equal(store_device_count(admin, &n), 0);
	assert_int_equal(n, 0);
	add(f->st, "0022ee000001", "", "", NULL);
	add(f->st, "0022ee000002", "", "", NULL);
	assert_int_equal(store_device_count(admin, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_device_count(admin, &n), 0); /* kept */
	assert_int_equal(n, 2);
	assert_int_equal(store_device_remove(f->st, "0022ee000001"), 0);
	assert_int_equal(store_device_count(admin, &n), 0);
	assert_int_equal(n, 1);
	/* a change rolled back is no change */
	assert_int_equal(store_begin(f->st, true), 0);
	add(f->st, "0022ee000003", "", "", NULL);
	store_rollback(f->st);
	assert_int_equal(store_device_count(admin, &n), 0);
	assert_int_equal(n, 1);

	/* the database held by another writer, and this one does not wait: "busy" */
	store_count_errors(admin, errors);
	assert_int_equal(store_begin(f->st, true), 0);
	store_set_wait(admin, 0);
	d = device_new("0022ee000009");
	assert_non_null(d);
	assert_int_equal(store_device_put(admin, d, false, err, sizeof(err)), -EBUSY);
	device_free(d);
	store_rollback(f->st);
	assert_true(errors[STORE_ERROR_BUSY] >= 1);
	assert_int_equal(errors[STORE_ERROR_FULL], 0);
	assert_int_equal(errors[STORE_ERROR_IO], 0);
	store_count_errors(admin, NULL);
	store_close(admin);
}

struct writer {
	struct store *st;
	int result;
};

static void *write_device(void *arg)
{
	struct writer *w = arg;
	struct device *d = device_new("0022ee0000ff");
	char err[256];

	w->result = store_device_put(w->st, d, false, err, sizeof(err));
	device_free(d);
	return NULL;
}

static void test_writer_waits_for_writer(void **state)
{
	struct fixture *f = *state;
	struct writer w = { .st = open_second(f), .result = 1 };
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	struct store *reader = open_second(f);
	pthread_t thread;

	/* the CLI holds the write lock; the daemon's write waits for it instead of failing */
	assert_int_equal(store_begin(f->st, true), 0);
	add(f->st, "0022ee000001", "", "", NULL);
	assert_int_equal(pthread_create(&thread, NULL, write_device, &w), 0);
	nanosleep(&pause, NULL);
	/* readers are never blocked by the writer (WAL), and see only what is committed */
	assert_int_equal(count_devices(reader), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(w.result, 0);
	assert_int_equal(count_devices(reader), 2);
	store_close(reader);
	store_close(w.st);
}

/* ---- transactions ---- */

static void test_nested_transactions(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_begin(f->st, true), 0);
	add(f->st, "0022ee000001", "", "", NULL);
	assert_int_equal(store_begin(f->st, true), 0);
	add(f->st, "0022ee000002", "", "", NULL);
	store_rollback(f->st); /* undoes only the inner part */
	assert_int_equal(store_begin(f->st, true), 0);
	add(f->st, "0022ee000003", "", "", NULL);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(count_devices(f->st), 2);

	/* a write cannot start inside a read snapshot */
	assert_int_equal(store_begin(f->st, false), 0);
	assert_int_equal(store_begin(f->st, true), -EINVAL);
	store_rollback(f->st);
	assert_int_equal(store_commit(f->st), -EINVAL);
}

/* ---- groups and defaults ---- */

static void test_groups(void **state)
{
	struct fixture *f = *state;
	json_t *vars = NULL;
	uint64_t n = 99;

	assert_int_equal(store_group_get(f->st, "lobby", &vars), -ENOENT);
	assert_null(vars);
	group(f->st, "lobby", "{\"tz\":\"UTC\",\"vlan\":20}");
	group(f->st, "annex.2", "{}");
	assert_int_equal(store_group_get(f->st, "lobby", &vars), 0);
	assert_int_equal(json_integer_value(json_object_get(vars, "vlan")), 20);
	json_decref(vars);

	/* setting again replaces the variables */
	group(f->st, "lobby", "{\"tz\":\"CET\"}");
	assert_int_equal(store_group_get(f->st, "lobby", &vars), 0);
	assert_int_equal(json_object_size(vars), 1);
	json_decref(vars);

	add(f->st, "0022ee000001", "", "lobby", NULL);
	assert_int_equal(store_group_count_devices(f->st, "lobby", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_group_remove(f->st, "lobby"), -EBUSY);
	assert_string_equal(store_strerror(f->st), "group 'lobby' has 1 device");
	assert_int_equal(store_device_remove(f->st, "0022ee000001"), 0);
	assert_int_equal(store_group_remove(f->st, "lobby"), 0);
	assert_int_equal(store_group_remove(f->st, "lobby"), -ENOENT);

	vars = json_object();
	assert_int_equal(store_group_set(f->st, "a b", vars), -EINVAL);
	assert_int_equal(store_group_set(f->st, "", vars), -EINVAL);
	assert_int_equal(store_group_set(f->st, "..", vars), -EINVAL);
	assert_int_equal(store_group_set(f->st, "x/y", vars), -EINVAL);
	json_object_set_new(vars, "bad name", json_true());
	assert_int_equal(store_group_set(f->st, "ok", vars), -EINVAL);
	json_decref(vars);
	assert_int_equal(store_group_set(f->st, "null-vars", NULL), 0);
}

static int group_names(const char *name, json_t *vars, void *arg)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 64 - len, "%s;", name);
	return 0;
}

static void test_group_foreach(void **state)
{
	struct fixture *f = *state;
	char names[64] = "";

	group(f->st, "b", "{}");
	group(f->st, "a", "{}");
	group(f->st, "c", "{}");
	assert_int_equal(store_group_foreach(f->st, group_names, names), 0);
	assert_string_equal(names, "a;b;c;");
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	json_t *vars = json_pack("{s:s, s:[i,i]}", "ntp", "pool.ntp.org", "codecs", 8, 0);
	json_t *got = NULL;
	uint64_t rev = revision(f->st);

	assert_int_equal(store_defaults_set(f->st, vars), 0);
	assert_true(revision(f->st) > rev);
	assert_int_equal(store_defaults_get(f->st, &got), 0);
	assert_true(json_equal(got, vars));
	json_decref(got);
	json_decref(vars);
	vars = json_array();
	assert_int_equal(store_defaults_set(f->st, vars), -EINVAL);
	json_decref(vars);
}

static void test_checks(void **state)
{
	const char *why = NULL;

	assert_int_equal(store_check_var_name("sip_server-2", &why), 0);
	assert_int_equal(store_check_var_name("a.b", &why), -EINVAL);
	assert_int_equal(store_check_var_name("", &why), -EINVAL);
	assert_int_equal(store_check_var_name("Enabled", &why), -EINVAL);
	assert_int_equal(store_check_var_name("group", &why), -EINVAL);
	assert_int_equal(store_check_var_name("x:json", &why), -EINVAL);
	assert_int_equal(
		store_check_var_name(
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &why),
		-EINVAL);
	assert_int_equal(store_check_group_name("floor-2.east", &why), 0);
	assert_int_equal(store_check_profile("", &why), 0);
	assert_int_equal(store_check_profile("panasonic", &why), 0);
	assert_int_equal(store_check_profile("Algo", &why), -EINVAL);
	assert_int_equal(store_check_model("SPA504G", &why), 0);
	assert_int_equal(store_check_model("\x7f", &why), -EINVAL);
}

/* ---- CSV ---- */

static void test_csv_reader(void **state)
{
	static const char text[] = "a,\"b,1\",\"c \"\"q\"\"\"\r\n"
				   "\n"
				   ",,\n"
				   "\"multi\nline\",x\n"
				   "last";
	struct csv_reader r;
	const char *why = NULL;

	csv_reader_init(&r, text, sizeof(text) - 1);
	assert_int_equal(csv_read(&r, &why), 1);
	assert_int_equal(r.nfields, 3);
	assert_string_equal(r.fields[0], "a");
	assert_string_equal(r.fields[1], "b,1");
	assert_string_equal(r.fields[2], "c \"q\"");
	assert_int_equal(csv_read(&r, &why), 1);
	assert_true(r.blank);
	assert_int_equal(r.record, 2);
	assert_int_equal(csv_read(&r, &why), 1);
	assert_false(r.blank);
	assert_int_equal(r.nfields, 3);
	assert_string_equal(r.fields[2], "");
	assert_int_equal(csv_read(&r, &why), 1);
	assert_string_equal(r.fields[0], "multi\nline");
	assert_int_equal(r.record, 4);
	assert_int_equal(csv_read(&r, &why), 1);
	assert_string_equal(r.fields[0], "last");
	assert_int_equal(csv_read(&r, &why), 0);
	csv_reader_done(&r);
}

static void assert_csv_error(const char *text, int err, const char *reason)
{
	struct csv_reader r;
	const char *why = NULL;
	int ret;

	csv_reader_init(&r, text, strlen(text));
	while ((ret = csv_read(&r, &why)) == 1)
		;
	assert_int_equal(ret, err);
	assert_non_null(why);
	if (strncmp(why, reason, strlen(reason)) != 0)
		fail_msg("'%s': reason '%s', expected '%s'", text, why, reason);
	csv_reader_done(&r);
}

static void test_csv_reader_errors(void **state)
{
	char *big;

	assert_csv_error("a,\"b", -EINVAL, "unterminated quoted field");
	assert_csv_error("a,\"b\"c\n", -EINVAL, "text after a closing quote");
	assert_csv_error("a,b\"c\n", -EINVAL, "quote inside an unquoted field");
	assert_csv_error("a\rb\n", -EINVAL, "carriage return outside quotes");
	big = malloc(CSV_MAX_FIELD + 10);
	memset(big, 'x', CSV_MAX_FIELD + 9);
	big[CSV_MAX_FIELD + 9] = '\0';
	assert_csv_error(big, -E2BIG, "field longer than 64 KiB");
	big[0] = '"';
	assert_csv_error(big, -E2BIG, "field longer than 64 KiB");
	memset(big, ',', 2000);
	big[2000] = '\0';
	assert_csv_error(big, -E2BIG, "more than 1024 fields");
	free(big);
	{
		/* a NUL byte is not text */
		static const char nul[] = "a,b\0c\n";
		struct csv_reader r;
		const char *why = NULL;

		csv_reader_init(&r, nul, sizeof(nul) - 1);
		assert_int_equal(csv_read(&r, &why), -EINVAL);
		assert_string_equal(why, "NUL byte in a field");
		csv_reader_done(&r);
	}
}

static void test_csv_write_field(void **state)
{
	static const char *const in[] = { "plain", "a,b",     "say \"hi\"", "two\nlines",
					  " lead", "trail\t", "",	    "cr\r" };
	static const char *const want[] = { "plain",
					    "\"a,b\"",
					    "\"say \"\"hi\"\"\"",
					    "\"two\nlines\"",
					    "\" lead\"",
					    "\"trail\t\"",
					    "",
					    "\"cr\r\"" };

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);

		assert_int_equal(csv_write_field(out, in[i]), 0);
		fclose(out);
		assert_string_equal(buf, want[i]);
		free(buf);
	}
}

/* ---- import and export ---- */

static void test_import(void **state)
{
	struct fixture *f = *state;
	struct device *d = NULL;
	char err[256];

	group(f->st, "lobby", "{}");
	/* a byte order mark, case-insensitive fixed columns, CRLF, a blank line, quoting */
	assert_int_equal(import_text(f->st,
				     "\xef\xbb\xbfMAC,Model,profile,GROUP,enabled,sip_user,"
				     "note,vlan:json\r\n"
				     "00:22:ee:00:00:01,8180,algo,lobby,,alice,\"a, \"\"b\"\"\","
				     "20\r\n"
				     "\r\n"
				     "0022.EE00.0002,,,,no,,,\r\n",
				     false, err, sizeof(err)),
			 2);
	assert_int_equal(store_device_get(f->st, "0022ee000001", &d), 0);
	assert_string_equal(d->model, "8180");
	assert_string_equal(d->profile, "algo");
	assert_string_equal(d->group, "lobby");
	assert_true(d->enabled);
	assert_string_equal(json_string_value(json_object_get(d->vars, "note")), "a, \"b\"");
	assert_int_equal(json_integer_value(json_object_get(d->vars, "vlan")), 20);
	device_free(d);
	assert_int_equal(store_device_get(f->st, "0022ee000002", &d), 0);
	assert_false(d->enabled);
	/* empty cells leave variables unset */
	assert_int_equal(json_object_size(d->vars), 0);
	device_free(d);
}

/* An import that must fail with reason and change nothing. */
static void assert_import_fails(struct fixture *f, const char *csv, bool replace,
				const char *reason)
{
	uint64_t rev = revision(f->st);
	size_t n = count_devices(f->st);
	char err[256];

	assert_true(import_text(f->st, csv, replace, err, sizeof(err)) < 0);
	if (strcmp(err, reason) != 0)
		fail_msg("import: '%s', expected '%s'", err, reason);
	assert_int_equal(revision(f->st), rev);
	assert_int_equal(count_devices(f->st), n);
}

static void test_import_errors(void **state)
{
	struct fixture *f = *state;
	char err[256];

	group(f->st, "lobby", "{}");
	assert_int_equal(import_text(f->st, "mac\n0022ee0000aa\n", false, err, sizeof(err)), 1);

	assert_import_fails(f, "", false, "1: no header row");
	assert_import_fails(f, "\n", false, "1: no header row");
	assert_import_fails(f, "model,group\n", false, "1: no 'mac' column");
	assert_import_fails(f, "mac,Mac\n", false, "1: column 'mac' twice");
	assert_import_fails(f, "mac,x,x:json\n", false, "1: column 'x' twice");
	assert_import_fails(f, "mac,a b\n", false,
			    "1: column 'a b': not a variable name (letters, digits, '_' and '-' "
			    "only)");
	assert_import_fails(f, "mac,\n", false, "1: column '': not a variable name (empty)");
	assert_import_fails(f, "mac,model\n0022ee000001,a\n0022ee000002\n", false,
			    "3: 1 field, 2 expected");
	assert_import_fails(f, "mac,model\n0022ee000001,a,b\n", false, "2: 3 fields, 2 expected");
	assert_import_fails(f, "mac\n0022ee000001\nxyz\n", false,
			    "3: 'xyz': not a MAC address (3 hex digits, 12 expected)");
	assert_import_fails(f, "mac\n00:22:ee:00:00:01\n\n0022EE000001\n", false,
			    "4: 00:22:ee:00:00:01 is also on row 2");
	assert_import_fails(f, "mac\n0022ee000001\n0022ee0000aa\n", false,
			    "3: 00:22:ee:00:00:aa is already in the inventory (--replace "
			    "replaces it)");
	assert_import_fails(f, "mac,group\n0022ee000001,lobby\n0022ee000002,annex\n", false,
			    "3: no group 'annex'");
	assert_import_fails(f, "mac,enabled\n0022ee000001,maybe\n", false,
			    "2: enabled: 'maybe' is not yes or no");
	assert_import_fails(f, "mac,profile\n0022ee000001,yealink\n", false,
			    "2: profile 'yealink': one of algo, fip, spa, audiocodes, panasonic");
	assert_import_fails(f, "mac,v:json\n0022ee000001,{bad\n", false,
			    "2: v: not JSON (string or '}' expected near 'bad')");
	assert_import_fails(f, "mac,v\n0022ee000001,\xff\n", false, "2: v: not valid UTF-8");
	assert_import_fails(f, "mac,v\n0022ee000001,\"open\n", false,
			    "2: unterminated quoted field");
	/* a duplicate in the file is an error even with replace */
	assert_import_fails(f, "mac\n0022ee000001\n0022ee000001\n", true,
			    "3: 00:22:ee:00:00:01 is also on row 2");
	/* the row count follows records, not lines: a quoted line break is inside row 2 */
	assert_import_fails(f, "mac,note\n0022ee000001,\"a\nb\"\nbad,x\n", false,
			    "3: 'bad': not a MAC address (3 hex digits, 12 expected)");
}

static void test_import_replace(void **state)
{
	struct fixture *f = *state;
	struct device *d = NULL;
	char err[256];

	add(f->st, "0022ee000001", "8180", "", "{\"old\":\"x\"}");
	assert_int_equal(import_text(f->st, "mac,model,new\n0022ee000001,8188,y\n0022ee000002,,\n",
				     true, err, sizeof(err)),
			 2);
	/* a row replaces the whole device: variables it does not name are gone */
	assert_int_equal(store_device_get(f->st, "0022ee000001", &d), 0);
	assert_string_equal(d->model, "8188");
	assert_null(json_object_get(d->vars, "old"));
	assert_string_equal(json_string_value(json_object_get(d->vars, "new")), "y");
	device_free(d);
}

/* The devices as one JSON array, for comparing inventories. */
static int dump_one(const struct device *d, void *arg)
{
	json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O}", "mac", d->mac, "model", d->model,
				"profile", d->profile, "group", d->group, "enabled", d->enabled,
				"vars", d->vars);

	return json_array_append_new(arg, obj);
}

static json_t *dump_inventory(struct store *st)
{
	json_t *all = json_array();

	assert_int_equal(store_device_foreach(st, dump_one, all), 0);
	return all;
}

static void test_export_round_trip(void **state)
{
	struct fixture *f = *state;
	struct fixture g;
	json_t *before, *after;
	char *first, *second, err[256];
	int n;

	group(f->st, "lobby", "{}");
	group(f->st, "annex", "{}");
	add(f->st, "0022ee000001", "8180", "lobby",
	    "{\"note\":\"commas, \\\"quotes\\\"\\nand lines\",\"lead\":\" space\","
	    "\"vlan\":20,\"utf\":\"caf\\u00e9 \\u2603\"}");
	add(f->st, "0022ee000002", "P 8188", "",
	    "{\"vlan\":\"20\",\"empty\":\"\",\"obj\":{\"a\":[1,2.5,null,true]},\"nul\":null}");
	add(f->st, "0022ee000003", "", "annex", "{\"cr\":\"a\\r\\nb\",\"note\":\"plain\"}");
	add(f->st, "0022ee000004", "", "", NULL);
	{
		struct device *d = NULL;

		assert_int_equal(store_device_get(f->st, "0022ee000004", &d), 0);
		d->enabled = false;
		assert_int_equal(store_device_put(f->st, d, true, err, sizeof(err)), 0);
		device_free(d);
	}

	first = export_text(f->st, &n);
	assert_int_equal(n, 4);
	/* sorted variable names; JSON columns where a string would not come back as it was */
	assert_memory_equal(first,
			    "mac,model,profile,group,enabled,cr,empty:json,lead,note,nul:json,"
			    "obj:json,utf,vlan:json\n",
			    strlen("mac,model,profile,group,enabled,cr,empty:json,lead,note,"
				   "nul:json,obj:json,utf,vlan:json\n"));

	/* into a fresh site: the groups first, then the CSV */
	snprintf(g.dir, sizeof(g.dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	assert_int_equal(store_open(g.dir, &g.st, err, sizeof(err)), 0);
	group(g.st, "lobby", "{}");
	group(g.st, "annex", "{}");
	assert_int_equal(import_text(g.st, first, false, err, sizeof(err)), 4);

	before = dump_inventory(f->st);
	after = dump_inventory(g.st);
	if (!json_equal(before, after)) {
		char *a = json_dumps(before, JSON_SORT_KEYS),
		     *b = json_dumps(after, JSON_SORT_KEYS);

		fail_msg("round trip changed the inventory:\n%s\n%s\n%s", first, a, b);
	}
	second = export_text(g.st, NULL);
	assert_string_equal(first, second);

	json_decref(before);
	json_decref(after);
	free(first);
	free(second);
	store_close(g.st);
	tmpdir_remove(g.dir);
}

static void test_export_empty(void **state)
{
	struct fixture *f = *state;
	char *text;
	int n = -1;

	text = export_text(f->st, &n);
	assert_int_equal(n, 0);
	assert_string_equal(text, "mac,model,profile,group,enabled\n");
	free(text);
}

/* ---- versions ---- */

static void test_versions(void **state)
{
	struct fixture *f = *state;
	struct store *again;
	uint64_t v = 0;

	assert_int_equal(store_version(f->st, "spa/0022ee010203.xml", "aaa", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_version(f->st, "spa/0022ee010203.xml", "aaa", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_version(f->st, "spa/0022ee010203.xml", "bbb", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_version(f->st, "other", "bbb", &v), 0);
	assert_int_equal(v, 1);
	/* a content seen before is still a change: versions only go up */
	assert_int_equal(store_version(f->st, "spa/0022ee010203.xml", "aaa", &v), 0);
	assert_int_equal(v, 3);

	again = open_second(f);
	assert_int_equal(store_version(again, "spa/0022ee010203.xml", "aaa", &v), 0);
	assert_int_equal(v, 3);
	store_close(again);
}

/*
 * Two daemons (nodes) rendering the same change: each keeps the new number in memory
 * (deferred, as the serving loop does) and its writer writes it; both serve the same number,
 * and the database ends with it, once.
 */
static void test_versions_two_nodes(void **state)
{
	struct fixture *f = *state;
	struct store *b = open_second(f), *wa = open_second(f), *wb = open_second(f);
	uint64_t va = 0, vb = 0;

	assert_int_equal(store_version(f->st, "k", "aaa", &va), 0);
	assert_int_equal(store_version(b, "k", "aaa", &vb), 0);
	assert_int_equal(va, 1);
	assert_int_equal(vb, 1);
	store_set_versions_deferred(f->st, true);
	store_set_versions_deferred(b, true);
	assert_int_equal(store_version(f->st, "k", "bbb", &va), 0);
	assert_int_equal(store_version(b, "k", "bbb", &vb), 0);
	assert_int_equal(va, 2);
	assert_int_equal(vb, 2);
	assert_int_equal(store_versions_sync_to(f->st, wa), 0);
	assert_int_equal(store_versions_sync_to(b, wb), 0);
	assert_int_equal(store_versions_pending(f->st) + store_versions_pending(b), 0);
	store_set_versions_deferred(f->st, false);
	assert_int_equal(store_version(f->st, "k", "bbb", &va), 0);
	assert_int_equal(store_version(wb, "k", "bbb", &vb), 0);
	assert_int_equal(va, 2);
	assert_int_equal(vb, 2);
	store_close(wb);
	store_close(wa);
	store_close(b);
}

/* A first-use binding (store_device_set_var_once) is decided once, whichever connection asks. */
static void test_binding_decided_once(void **state)
{
	struct fixture *f = *state;
	struct store *b = open_second(f);
	struct device *d = device_new("0022ee010203");
	char err[256];

	assert_non_null(d);
	assert_int_equal(store_device_put(f->st, d, false, err, sizeof(err)), 0);
	device_free(d);
	assert_int_equal(
		store_device_set_var_once(f->st, "0022ee010203", "cert", "fp-a", err, sizeof(err)),
		0);
	assert_int_equal(
		store_device_set_var_once(b, "0022ee010203", "cert", "fp-b", err, sizeof(err)),
		-EEXIST);
	assert_int_equal(
		store_device_set_var_once(b, "0022ee010203", "cert", "fp-a", err, sizeof(err)), 0);
	assert_int_equal(
		store_device_set_var_once(b, "0022ee010299", "cert", "fp-a", err, sizeof(err)),
		-ENOENT);
	assert_int_equal(store_device_get(b, "0022ee010203", &d), 0);
	assert_string_equal(json_string_value(json_object_get(d->vars, "cert")), "fp-a");
	device_free(d);
	store_close(b);
}

static void test_versions_kept_in_memory(void **state)
{
	struct fixture *f = *state;
	struct store *holder = open_second(f);
	uint64_t v = 0;

	assert_int_equal(store_version(f->st, "fv0021F2011B19.conf", "aaa", &v), 0);
	assert_int_equal(v, 1);
	/* another process holds the database: the new version is served from memory */
	assert_int_equal(store_begin(holder, true), 0);
	store_set_wait(f->st, 0);
	assert_int_equal(store_version(f->st, "fv0021F2011B19.conf", "bbb", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_versions_pending(f->st), 1);
	assert_int_equal(store_version(f->st, "fv0021F2011B19.conf", "bbb", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_version(f->st, "fv0021F2011B19.conf", "ccc", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(store_version(f->st, "new.conf", "ddd", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_versions_pending(f->st), 2);
	assert_int_equal(store_versions_sync(f->st), -EBUSY);
	assert_int_equal(store_versions_pending(f->st), 2);
	store_rollback(holder);
	/* then written as served */
	assert_int_equal(store_versions_sync(f->st), 0);
	assert_int_equal(store_versions_pending(f->st), 0);
	assert_int_equal(store_version(holder, "fv0021F2011B19.conf", "ccc", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(store_version(holder, "new.conf", "ddd", &v), 0);
	assert_int_equal(v, 1);
	store_close(holder);
}

/* Many versions in memory: each found, a newer one kept over an older, all written once. */
static void test_many_versions_kept_in_memory(void **state)
{
	struct fixture *f = *state;
	struct store *check;
	char key[32];
	uint64_t v = 0;

	store_set_versions_deferred(f->st, true);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "dev%05d.cfg", i);
		assert_int_equal(store_version(f->st, key, "aaa", &v), 0);
		assert_int_equal(v, 1);
	}
	assert_int_equal(store_versions_pending(f->st), 3000);
	for (int i = 0; i < 3000; i += 3) {
		snprintf(key, sizeof(key), "dev%05d.cfg", i);
		assert_int_equal(store_version(f->st, key, "aaa", &v), 0);
		assert_int_equal(v, 1);
		assert_int_equal(store_version(f->st, key, "bbb", &v), 0);
		assert_int_equal(v, 2);
	}
	assert_int_equal(store_versions_pending(f->st), 3000);
	assert_int_equal(store_versions_sync(f->st), 0);
	assert_int_equal(store_versions_pending(f->st), 0);
	store_set_versions_deferred(f->st, false);
	check = open_second(f);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "dev%05d.cfg", i);
		assert_int_equal(store_version(check, key, i % 3 ? "aaa" : "bbb", &v), 0);
		assert_int_equal(v, i % 3 ? 1 : 2);
	}
	/* kept again after being written: the index starts afresh */
	store_set_versions_deferred(f->st, true);
	assert_int_equal(store_version(f->st, "dev00000.cfg", "ccc", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(store_version(f->st, "dev00000.cfg", "ccc", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(store_versions_pending(f->st), 1);
	store_close(check);
}

static void test_probe_write(void **state)
{
	struct fixture *f = *state;
	struct store *holder = open_second(f);
	uint64_t rev0, rev1;

	assert_int_equal(store_inventory_revision(f->st, &rev0), 0);
	assert_int_equal(store_probe_write(f->st), 0);
	assert_int_equal(store_inventory_revision(f->st, &rev1), 0);
	assert_true(rev0 == rev1); /* nobody reloads for it */
	assert_false(store_exclusive(f->st));
	assert_int_equal(store_begin(holder, true), 0);
	store_set_wait(f->st, 0);
	assert_int_equal(store_probe_write(f->st), -EBUSY);
	store_rollback(holder);
	assert_int_equal(store_reconnect(f->st), 0);
	assert_false(store_exclusive(f->st));
	assert_int_equal(store_probe_write(f->st), 0);
	store_close(holder);
}

static void test_device_page(void **state)
{
	struct fixture *f = *state;
	struct device_filter flt = { 0 };
	struct collect c = { 0 };

	group(f->st, "lobby", "{}");
	add(f->st, "0022ee000003", "8180", "lobby", "{\"sip\":\"2001\",\"deep\":{\"a\":[42]}}");
	add(f->st, "0022ee000001", "8180", "", "{\"label\":\"say \\\"hi\\\"\"}");
	add(f->st, "0022ee000002", "SPA504G", "lobby", "{\"pct\":\"100%\"}");
	add(f->st, "0004f2000004", "VVX", "", NULL);

	/* pages of two in MAC order, each after the last MAC of the one before */
	assert_int_equal(store_device_page(f->st, NULL, NULL, 2, collect_one, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.macs[0], "0004f2000004");
	assert_string_equal(c.macs[1], "0022ee000001");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_device_page(f->st, NULL, "0022ee000001", 2, collect_one, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.macs[0], "0022ee000002");
	assert_string_equal(c.macs[1], "0022ee000003");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_device_page(f->st, NULL, "0022ee000003", 2, collect_one, &c), 0);
	assert_int_equal(c.n, 0);

#define PAGE(...)                                                                                  \
	do {                                                                                       \
		flt = (struct device_filter){ __VA_ARGS__ };                                       \
		memset(&c, 0, sizeof(c));                                                          \
		assert_int_equal(store_device_page(f->st, &flt, NULL, 10, collect_one, &c), 0);    \
	} while (0)
	PAGE(.group = "lobby");
	assert_int_equal(c.n, 2);
	PAGE(.group = "");
	assert_int_equal(c.n, 2);
	PAGE(.group = "lobby", .model = "8180");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0022ee000003");
	PAGE(.profile = "spa");
	assert_int_equal(c.n, 0);
	PAGE(.group = "lobby", .model = "none");
	assert_int_equal(c.n, 0);
	/* free text: a value at any depth, numbers too, the model, the MAC in any form */
	PAGE(.text = "2001");
	assert_int_equal(c.n, 1);
	PAGE(.text = "42");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0022ee000003");
	PAGE(.text = "spa5");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0022ee000002");
	PAGE(.text = "00:04:F2");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0004f2000004");
	PAGE(.text = "0022.EE00");
	assert_int_equal(c.n, 3);
	/* the text's own wildcards and quotes */
	PAGE(.text = "100%");
	assert_int_equal(c.n, 1);
	PAGE(.text = "0%");
	assert_int_equal(c.n, 1);
	PAGE(.text = "_");
	assert_int_equal(c.n, 0);
	PAGE(.text = "say \"hi\"");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.macs[0], "0022ee000001");
	/* names are not values */
	PAGE(.text = "label");
	assert_int_equal(c.n, 0);
#undef PAGE
}

static void test_device_json_round_trip(void **state)
{
	struct fixture *f = *state;
	struct device *d = NULL, *back = NULL;
	char err[256];
	json_t *obj;

	group(f->st, "lobby", "{}");
	add(f->st, "0022ee000001", "8180", "lobby", "{\"vlan\":20,\"s\":\"x\"}");
	assert_int_equal(store_device_get(f->st, "0022ee000001", &d), 0);
	obj = store_device_json(d);
	assert_non_null(obj);
	assert_int_equal(json_integer_value(json_object_get(obj, "rev")), (json_int_t)d->rev);
	assert_int_equal(store_device_from_json(obj, "00:22:EE:00:00:01", &back, err, sizeof(err)),
			 0);
	assert_string_equal(back->mac, d->mac);
	assert_string_equal(back->model, "8180");
	assert_string_equal(back->group, "lobby");
	assert_true(json_equal(back->vars, d->vars));
	device_free(back);
	json_decref(obj);
	device_free(d);

	/* absent and null take a new device's values; the MAC comes from the path */
	obj = json_loads("{\"model\":null,\"enabled\":null}", 0, NULL);
	assert_int_equal(store_device_from_json(obj, "0022ee000009", &back, err, sizeof(err)), 0);
	assert_string_equal(back->mac, "0022ee000009");
	assert_string_equal(back->model, "");
	assert_true(back->enabled);
	device_free(back);
	json_decref(obj);

#define REFUSED(text, mac, why)                                                                    \
	do {                                                                                       \
		obj = json_loads(text, JSON_DECODE_ANY, NULL);                                     \
		assert_non_null(obj);                                                              \
		assert_int_equal(store_device_from_json(obj, mac, &back, err, sizeof(err)),        \
				 -EINVAL);                                                         \
		assert_non_null(strstr(err, why));                                                 \
		json_decref(obj);                                                                  \
	} while (0)
	REFUSED("[]", NULL, "a JSON object");
	REFUSED("{}", NULL, "mac: required");
	REFUSED("{\"mac\":\"xyz\"}", NULL, "not a MAC address");
	REFUSED("{\"mac\":\"0022ee000002\"}", "0022ee000001", "not the device's MAC");
	REFUSED("{\"colour\":1}", "0022ee000001", "not a field");
	REFUSED("{\"model\":3}", "0022ee000001", "model: a string");
	REFUSED("{\"profile\":\"nokia\"}", "0022ee000001", "profile 'nokia'");
	REFUSED("{\"group\":\"a/b\"}", "0022ee000001", "not a group name");
	REFUSED("{\"enabled\":\"yes\"}", "0022ee000001", "true or false");
	REFUSED("{\"vars\":[]}", "0022ee000001", "vars: a JSON object");
	REFUSED("{\"vars\":{\"a.b\":1}}", "0022ee000001", "not a variable name");
#undef REFUSED
}

static void test_import_json(void **state)
{
	struct fixture *f = *state;
	json_t *devices;
	char err[256];
	size_t n = 0;

	group(f->st, "lobby", "{}");
	devices =
		json_loads("[{\"mac\":\"0022ee000001\",\"group\":\"lobby\",\"vars\":{\"v\":[1]}},"
			   "{\"mac\":\"0022ee000002\"},{\"mac\":\"0022ee000003\",\"group\":\"x\"}]",
			   0, NULL);
	assert_int_equal(store_import_json(f->st, devices, false, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "3: no group 'x'");
	assert_int_equal(store_device_foreach(f->st, count_one, &n), 0);
	assert_int_equal(n, 0);
	json_array_remove(devices, 2);
	assert_int_equal(store_import_json(f->st, devices, false, err, sizeof(err)), 2);
	assert_int_equal(store_import_json(f->st, devices, false, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "1: 00:22:ee:00:00:01 is already in the inventory");
	assert_int_equal(store_import_json(f->st, devices, true, err, sizeof(err)), 2);
	json_array_append_new(devices, json_pack("{s:s}", "mac", "00-22-EE-00-00-02"));
	assert_int_equal(store_import_json(f->st, devices, true, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "3: 00:22:ee:00:00:02 is also on row 2");
	json_decref(devices);
}

static size_t state_walk(struct store *st, bool desc, size_t limit, char macs[][MAC_LEN + 1])
{
	struct device_sort_key key = { 0 };
	struct device_filter flt = { .sort = DEVICE_SORT_STATE, .desc = desc, .key = &key };
	char after[MAC_LEN + 1] = "";
	size_t n = 0;

	for (int pages = 0; pages < 10; pages++) {
		struct collect c = { 0 };

		assert_int_equal(store_device_page(st, &flt, after, limit, collect_one, &c), 0);
		assert_true(c.n <= limit);
		for (size_t i = 0; i < c.n; i++)
			memcpy(macs[n++], c.macs[i], MAC_LEN + 1);
		if (c.n < limit)
			return n;
		memcpy(after, c.macs[c.n - 1], MAC_LEN + 1);
		flt.keyed = true;
		flt.after_num = key.num;
	}
	fail();
	return n;
}

static void test_device_page_by_state(void **state)
{
	struct fixture *f = *state;
	/* one device of each state (two never seen), rows giving them their state */
	struct journal_entry e[] = {
		{ .time = { 1000, 0 },
		  .proto = "tftp",
		  .peer = "192.0.2.1:69",
		  .mac = "0022ee000002",
		  .path = "0022ee000002.cfg",
		  .outcome = "not found" },
		{ .time = { 1001, 0 },
		  .proto = "tftp",
		  .peer = "192.0.2.1:69",
		  .mac = "0022ee000003",
		  .path = "0022ee000003.cfg",
		  .outcome = "sent" },
		{ .time = { 1002, 0 },
		  .proto = "tftp",
		  .peer = "192.0.2.1:69",
		  .mac = "0022ee000004",
		  .path = "0022ee000004.cfg",
		  .outcome = "sent" },
		{ .time = { 1003, 0 },
		  .proto = "tftp",
		  .peer = "192.0.2.1:69",
		  .mac = "0022ee000005",
		  .path = "0022ee000005.cfg",
		  .outcome = "denied" },
	};
	/* never seen (MAC order), provisioning, provisioned, failing, change pending */
	static const char *const order[] = { "0004f2000006", "0022ee000001", "0022ee000002",
					     "0022ee000003", "0022ee000005", "0022ee000004" };
	static const enum device_status states[] = { DEVICE_NEVER_SEEN,	  DEVICE_NEVER_SEEN,
						     DEVICE_PROVISIONING, DEVICE_PROVISIONED,
						     DEVICE_FAILING,	  DEVICE_CHANGE_PENDING };
	char macs[16][MAC_LEN + 1];
	size_t n;

	group(f->st, "lobby", "{}");
	add(f->st, "0022ee000001", "8180", "lobby", NULL);
	add(f->st, "0022ee000002", "8180", "lobby", NULL);
	add(f->st, "0022ee000003", "8180", "", NULL);
	add(f->st, "0022ee000004", "8180", "lobby", NULL);
	add(f->st, "0022ee000005", "8180", "", NULL);
	add(f->st, "0004f2000006", "VVX", "", NULL);
	assert_int_equal(store_journal_append(f->st, e, 4), 0);
	/* provisioned, then its group changed: pending (the others of the group were not sent) */
	group(f->st, "lobby", "{\"tz\":\"UTC\"}");
	for (size_t i = 0; i < 6; i++) {
		struct device_state ds;

		assert_int_equal(store_device_state_get(f->st, order[i], &ds), 0);
		assert_int_equal(ds.status, states[i]);
	}
	for (size_t limit = 1; limit <= 7; limit += 2) {
		n = state_walk(f->st, false, limit, macs);
		assert_int_equal(n, 6);
		for (size_t i = 0; i < 6; i++)
			assert_string_equal(macs[i], order[i]);
		n = state_walk(f->st, true, limit, macs);
		assert_int_equal(n, 6);
		for (size_t i = 0; i < 6; i++)
			assert_string_equal(macs[i], order[5 - i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_wal_and_foreign_keys, setup, teardown),
		cmocka_unit_test(test_open_missing_dir),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test_setup_teardown(test_device_count_follows_the_revision, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_newer_schema_refused, setup, teardown),
		cmocka_unit_test(test_open_not_a_database),
		cmocka_unit_test_setup_teardown(test_device_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_put_exists_and_replace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_device_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_foreach_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_page_by_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_json_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_foreach_10000, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upsert_is_one_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_large_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revision_seen_by_other_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_waits_for_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_csv_reader),
		cmocka_unit_test(test_csv_reader_errors),
		cmocka_unit_test(test_csv_write_field),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions_kept_in_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions_two_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binding_decided_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_versions_kept_in_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_write, setup, teardown),
	};

	fixture_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
