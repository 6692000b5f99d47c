// SPDX-License-Identifier: MIT
/*
 * The store's unit tests' fixture (test_store.c, test_state.c): a fresh site directory per
 * test, or with AUTOPROV_TEST_PG_URL (a PostgreSQL database the test may empty: what
 * tests/integration/test_store_pg.py gives it) an emptied PostgreSQL database.
 */
#ifndef AUTOPROV_TESTS_STORE_FIXTURE_H
#define AUTOPROV_TESTS_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tmpdir.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	struct store *st;
};

/* AUTOPROV_TEST_PG_URL, or NULL: SQLite */
static const char *pg_url;

static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Empties the PostgreSQL database: the next open makes the schema again. */
static int pg_reset(void)
{
	PGconn *c = PQconnectdb(pg_url);
	PGresult *res;
	int r = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, pg_quiet, NULL);
		res = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
		r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
		if (r < 0)
			fprintf(stderr, "pg_reset: %s", PQresultErrorMessage(res));
		PQclear(res);
	} else {
		fprintf(stderr, "pg_reset: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	return r;
}

/* A test of SQLite's file itself. */
#define SQLITE_ONLY()                                                                              \
	do {                                                                                       \
		if (pg_url)                                                                        \
			skip();                                                                    \
	} while (0)

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(f->dir) || (pg_url && pg_reset() < 0) ||
	    store_open_url(pg_url, f->dir, &f->st, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Adds a device; vars_json is a JSON object text or NULL. */
static inline void add(struct store *st, const char *mac, const char *model, const char *group,
		const char *vars_json)
{
	struct device *d = device_new(mac);
	char err[256];

	assert_non_null(d);
	free(d->model);
	d->model = strdup(model);
	free(d->group);
	d->group = strdup(group);
	if (vars_json) {
		json_decref(d->vars);
		d->vars = json_loads(vars_json, 0, NULL);
		assert_non_null(d->vars);
	}
	if (store_device_put(st, d, false, err, sizeof(err)) != 0)
		fail_msg("put %s: %s", mac, err);
	device_free(d);
}

/* main() calls it first: AUTOPROV_TEST_PG_URL read. */
static void fixture_init(void)
{
	pg_url = getenv("AUTOPROV_TEST_PG_URL");
	if (pg_url && !*pg_url)
		pg_url = NULL;
}

#endif
