// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/site/directory.c and the store's change log: precedence (device >
 * group > defaults > built-ins, SN for serial), changes made by another connection (the
 * CLI while the daemon serves) applied incrementally (a device's, a group's, the
 * defaults'), what the listener is told, a change arriving between two look-ups of one
 * loop iteration, the change log's sequence across a reopen and its pruning, the bounded
 * caches of devices and of unknown MACs, logins and certificate bindings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "site/directory.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	struct store *st;    /* the daemon's connection */
	struct store *cli;   /* another process's */
	struct directory *d;
	/* what the listener was told */
	unsigned dropped_all;
	char dropped[64][MAC_LEN + 1];
	unsigned ndropped;
	unsigned kicks;
};

static void on_dropped(void *arg, const char *mac)
{
	struct fixture *f = arg;

	if (!mac) {
		f->dropped_all++;
		return;
	}
	if (f->ndropped < 64)
		snprintf(f->dropped[f->ndropped], sizeof(f->dropped[0]), "%s", mac);
	f->ndropped++;
}

static bool was_dropped(const struct fixture *f, const char *mac)
{
	for (unsigned i = 0; i < f->ndropped && i < 64; i++)
		if (strcmp(f->dropped[i], mac) == 0)
			return true;
	return false;
}

static void reset_dropped(struct fixture *f)
{
	f->dropped_all = 0;
	f->ndropped = 0;
}

static int setup_size(void **state, size_t cache)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_directory.XXXXXX");
	if (!mkdtemp(f->dir) || store_open(f->dir, &f->st, err, sizeof(err)) < 0 ||
	    store_open(f->dir, &f->cli, err, sizeof(err)) < 0 ||
	    directory_new(f->st, cache, &f->d) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	directory_set_listener(f->d, on_dropped, f);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_size(state, 100);
}

static int setup_small(void **state)
{
	return setup_size(state, 4);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	directory_free(f->d);
	store_close(f->cli);
	store_close(f->st);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Adds or replaces a device through st, with vars given as JSON text. */
static void put(struct store *st, const char *mac, const char *group, const char *vars_json)
{
	struct device *d = device_new(mac);
	char err[256];

	assert_non_null(d);
	free(d->group);
	d->group = strdup(group);
	free(d->model);
	d->model = strdup("8188");
	json_decref(d->vars);
	d->vars = json_loads(vars_json, 0, NULL);
	assert_non_null(d->vars);
	assert_int_equal(store_device_put(st, d, true, err, sizeof(err)), 0);
	device_free(d);
}

static void set_group(struct store *st, const char *name, const char *vars_json)
{
	json_t *vars = json_loads(vars_json, 0, NULL);

	assert_int_equal(store_group_set(st, name, vars), 0);
	json_decref(vars);
}

static void set_defaults(struct store *st, const char *vars_json)
{
	json_t *vars = json_loads(vars_json, 0, NULL);

	assert_int_equal(store_defaults_set(st, vars), 0);
	json_decref(vars);
}

/* The variable name of the device's merged context, as a string ("" when none). */
static const char *ctx_var(json_t *ctx, const char *name)
{
	json_t *v = json_object_get(ctx, name);

	return json_is_string(v) ? json_string_value(v) : "";
}

static json_t *context_of(struct fixture *f, const char *mac)
{
	const struct device *d;
	json_t *ctx = json_object();

	assert_int_equal(directory_device(f->d, mac, &d), 0);
	assert_int_equal(directory_merge(f->d, d, NULL, ctx), 0);
	return ctx;
}

static void test_precedence(void **state)
{
	struct fixture *f = *state;
	json_t *ctx;

	set_defaults(f->cli, "{\"a\":\"defaults\",\"b\":\"defaults\",\"c\":\"defaults\"}");
	set_group(f->cli, "lobby", "{\"b\":\"group\",\"c\":\"group\"}");
	put(f->cli, "0022ee010203", "lobby", "{\"c\":\"device\",\"serial\":\"S1\"}");

	ctx = json_object();
	/* a built-in the caller set is overridden by any level that has the name */
	json_object_set_new(ctx, "a", json_string("built-in"));
	json_object_set_new(ctx, "proto", json_string("tftp"));
	{
		const struct device *d;

		assert_int_equal(directory_device(f->d, "0022ee010203", &d), 0);
		assert_int_equal(directory_merge(f->d, d, NULL, ctx), 0);
	}
	assert_string_equal(ctx_var(ctx, "proto"), "tftp");
	assert_string_equal(ctx_var(ctx, "a"), "defaults");
	assert_string_equal(ctx_var(ctx, "b"), "group");
	assert_string_equal(ctx_var(ctx, "c"), "device");
	assert_string_equal(ctx_var(ctx, "SN"), "S1");
	assert_string_equal(ctx_var(ctx, "MAC"), "00:22:ee:01:02:03");
	assert_string_equal(ctx_var(ctx, "MAU"), "0022EE010203");
	assert_string_equal(ctx_var(ctx, "MA"), "0022ee010203");
	assert_string_equal(ctx_var(ctx, "model"), "8188");
	assert_string_equal(ctx_var(ctx, "group"), "lobby");
	json_decref(ctx);

	/* the same rule, one variable at a time, and by MAC */
	assert_string_equal(json_string_value(directory_var_of(f->d, "0022ee010203", "b")),
			    "group");
	assert_string_equal(json_string_value(directory_var_of(f->d, "0022ee010203", "a")),
			    "defaults");
	assert_null(directory_var_of(f->d, "0022ee010203", "nothing"));
	assert_null(directory_var_of(f->d, "0022ee0102ff", "a"));

	/* no device: the MAC's forms and the defaults only */
	ctx = json_object();
	assert_int_equal(directory_merge_mac(f->d, "0022ee0102ff", ctx), 0);
	assert_string_equal(ctx_var(ctx, "MAU"), "0022EE0102FF");
	assert_string_equal(ctx_var(ctx, "c"), "defaults");
	assert_string_equal(ctx_var(ctx, "SN"), "");
	json_decref(ctx);
}

static void test_device_change(void **state)
{
	struct fixture *f = *state;
	json_t *ctx;

	put(f->cli, "0022ee010203", "", "{\"line\":\"100\"}");
	put(f->cli, "0022ee010204", "", "{\"line\":\"200\"}");
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "line"), "100");
	json_decref(ctx);
	json_decref(context_of(f, "0022ee010204"));
	reset_dropped(f);

	/* another process changes one device: only that one is dropped, and read again */
	put(f->cli, "0022ee010203", "", "{\"line\":\"101\"}");
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "line"), "101");
	json_decref(ctx);
	assert_int_equal(f->ndropped, 1);
	assert_true(was_dropped(f, "0022ee010203"));
	assert_int_equal(f->dropped_all, 0);

	/* removed: unknown from now on */
	reset_dropped(f);
	assert_int_equal(store_device_remove(f->cli, "0022ee010204"), 0);
	assert_int_equal(directory_known(f->d, "0022ee010204"), 0);
	assert_true(was_dropped(f, "0022ee010204"));

	/* an unknown MAC remembered as such is seen once it is added */
	assert_int_equal(directory_known(f->d, "0022ee010299"), 0);
	put(f->cli, "0022ee010299", "", "{}");
	assert_int_equal(directory_known(f->d, "0022ee010299"), 1);
}

static void test_group_and_defaults_change(void **state)
{
	struct fixture *f = *state;
	size_t ndev = 0;
	json_t *ctx;

	set_group(f->cli, "lobby", "{\"vol\":\"5\"}");
	set_group(f->cli, "office", "{\"vol\":\"7\"}");
	put(f->cli, "0022ee010201", "lobby", "{}");
	put(f->cli, "0022ee010202", "lobby", "{}");
	put(f->cli, "0022ee010203", "office", "{}");
	json_decref(context_of(f, "0022ee010201"));
	json_decref(context_of(f, "0022ee010202"));
	json_decref(context_of(f, "0022ee010203"));
	reset_dropped(f);

	/* a group's change: its devices' files go, the devices themselves stay cached */
	set_group(f->cli, "lobby", "{\"vol\":\"6\"}");
	assert_int_equal(directory_sync(f->d), 0);
	assert_int_equal(f->ndropped, 2);
	assert_true(was_dropped(f, "0022ee010201"));
	assert_true(was_dropped(f, "0022ee010202"));
	assert_int_equal(f->dropped_all, 0);
	directory_stats(f->d, &ndev, NULL, NULL);
	assert_int_equal(ndev, 3);
	ctx = context_of(f, "0022ee010202");
	assert_string_equal(ctx_var(ctx, "vol"), "6");
	json_decref(ctx);
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "vol"), "7");
	json_decref(ctx);

	/* the defaults' change: everything that was made from anything */
	reset_dropped(f);
	set_defaults(f->cli, "{\"ntp\":\"pool\"}");
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "ntp"), "pool");
	json_decref(ctx);
	assert_int_equal(f->dropped_all, 1);
	assert_int_equal(f->ndropped, 0);
	directory_stats(f->d, &ndev, NULL, NULL);
	assert_int_equal(ndev, 3);
}

static void kick(void *arg)
{
	struct fixture *f = arg;

	f->kicks++;
}

static void test_change_between_lookups(void **state)
{
	struct fixture *f = *state;
	json_t *ctx;

	directory_set_tick(f->d, kick, f);
	put(f->cli, "0022ee010203", "", "{\"line\":\"100\"}");
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "line"), "100");
	json_decref(ctx);
	assert_int_equal(f->kicks, 1);

	/* committed while an iteration runs: concurrent with its requests */
	put(f->cli, "0022ee010203", "", "{\"line\":\"101\"}");
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "line"), "100");
	json_decref(ctx);

	/* the next iteration sees it */
	directory_tick(f->d);
	ctx = context_of(f, "0022ee010203");
	assert_string_equal(ctx_var(ctx, "line"), "101");
	json_decref(ctx);
	assert_int_equal(f->kicks, 2);
}

static int count_cb(void *arg, uint64_t seq, enum store_change kind, const char *key)
{
	uint64_t *last = arg;

	(void)kind;
	(void)key;
	assert_true(seq > *last);
	*last = seq;
	return 0;
}

static void test_sequence_after_reopen(void **state)
{
	struct fixture *f = *state;
	uint64_t before = 0, after = 0, seen = 0;
	char err[256];

	put(f->cli, "0022ee010203", "", "{}");
	set_group(f->cli, "lobby", "{}");
	set_defaults(f->cli, "{\"x\":\"1\"}");
	assert_int_equal(store_changes_last(f->cli, &before), 0);
	assert_int_equal(before, 3);
	assert_int_equal(store_changes_since(f->cli, 0, count_cb, &seen), 0);
	assert_int_equal(seen, 3);

	/* closed and opened again: the sequence goes on, it never starts over */
	store_close(f->cli);
	assert_int_equal(store_device_remove(f->st, "0022ee010203"), 0);
	directory_free(f->d);
	store_close(f->st);
	assert_int_equal(store_open(f->dir, &f->st, err, sizeof(err)), 0);
	assert_int_equal(store_open(f->dir, &f->cli, err, sizeof(err)), 0);
	assert_int_equal(directory_new(f->st, 10, &f->d), 0);
	assert_int_equal(store_changes_last(f->st, &after), 0);
	assert_int_equal(after, before + 1);
	directory_stats(f->d, NULL, NULL, &seen);
	assert_int_equal(seen, after);
	put(f->cli, "0022ee010203", "", "{}");
	assert_int_equal(directory_known(f->d, "0022ee010203"), 1);
	directory_stats(f->d, NULL, NULL, &seen);
	assert_int_equal(seen, after + 1);
}

static void test_pruned_log(void **state)
{
	struct fixture *f = *state;
	const unsigned n = STORE_CHANGES_KEEP + 2 * STORE_CHANGES_PRUNE_EVERY;
	struct device *d = device_new("0022ee000000");
	uint64_t last = 0, seen = 0;
	char err[256], mac[MAC_LEN + 1];

	assert_int_equal(directory_known(f->d, "0022ee010203"), 0);
	reset_dropped(f);
	assert_non_null(d);
	assert_int_equal(store_begin(f->cli, true), 0);
	for (unsigned i = 0; i < n; i++) {
		snprintf(mac, sizeof(mac), "0022ee%06x", i);
		memcpy(d->mac, mac, sizeof(d->mac));
		assert_int_equal(store_device_put(f->cli, d, false, err, sizeof(err)), 0);
	}
	assert_int_equal(store_commit(f->cli), 0);
	device_free(d);
	/* what a writer does when it closes the database */
	assert_int_equal(store_changes_prune(f->cli), 0);

	/* the log stays bounded, and a reader that far behind is told so */
	assert_int_equal(store_changes_since(f->cli, 0, count_cb, &seen), -ESTALE);
	seen = STORE_CHANGES_PRUNE_EVERY * 2 + 10;
	assert_int_equal(store_changes_since(f->cli, seen, count_cb, &seen), 0);
	assert_int_equal(seen, n);

	/* the directory forgets what it caches and goes on from the last change */
	assert_int_equal(directory_known(f->d, "0022ee000001"), 1);
	assert_int_equal(f->dropped_all, 1);
	assert_int_equal(store_changes_last(f->st, &last), 0);
	directory_stats(f->d, NULL, NULL, &seen);
	assert_int_equal(seen, last);
}

static void test_bounded_cache(void **state)
{
	struct fixture *f = *state;
	char mac[MAC_LEN + 1];
	size_t ndev = 0, nunknown = 0;

	for (unsigned i = 0; i < 10; i++) {
		snprintf(mac, sizeof(mac), "0022ee0100%02x", i);
		put(f->cli, mac, "", "{}");
	}
	assert_int_equal(directory_sync(f->d), 0);
	reset_dropped(f);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(mac, sizeof(mac), "0022ee0100%02x", i);
		assert_int_equal(directory_known(f->d, mac), 1);
	}
	directory_stats(f->d, &ndev, &nunknown, NULL);
	assert_int_equal(ndev, 4);
	/* the least recently used left, and their files with them */
	assert_int_equal(f->ndropped, 6);
	assert_true(was_dropped(f, "0022ee010000"));
	assert_false(was_dropped(f, "0022ee010009"));

	/* a flood of unknown MACs evicts only unknown MACs */
	for (unsigned i = 0; i < 50; i++) {
		snprintf(mac, sizeof(mac), "0022ef0000%02x", i);
		assert_int_equal(directory_known(f->d, mac), 0);
	}
	directory_stats(f->d, &ndev, &nunknown, NULL);
	assert_int_equal(ndev, 4);
	assert_int_equal(nunknown, 4);
	/* still served from the cache, and still right */
	assert_int_equal(directory_known(f->d, "0022ee010009"), 1);
	assert_int_equal(directory_known(f->d, "0022ee010000"), 1);
}

static void test_login_and_binding(void **state)
{
	struct fixture *f = *state;
	const char *fp = "x";
	char pw[16], err[256];

	set_group(f->cli, "lobby", "{\"prov_password\":\"group-pw\"}");
	put(f->cli, "0022ee010201", "lobby", "{\"prov_password\":\"secret\"}");
	put(f->cli, "0022ee010202", "lobby", "{}");
	put(f->cli, "0022ee010203", "", "{\"prov_password\":\"far-too-long-a-password\"}");
	assert_int_equal(directory_login(f->d, "0022ee010201", pw, sizeof(pw)), 0);
	assert_string_equal(pw, "secret");
	/* its own variable only, not its group's; never truncated */
	assert_int_equal(directory_login(f->d, "0022ee010202", pw, sizeof(pw)), -ENOENT);
	assert_int_equal(directory_login(f->d, "0022ee010203", pw, sizeof(pw)), -ENOENT);
	assert_int_equal(directory_login(f->d, "0022ee010299", pw, sizeof(pw)), -ENOENT);

	assert_int_equal(directory_cert(f->d, "0022ee010201", &fp), 0);
	assert_null(fp);
	assert_int_equal(directory_cert(f->d, "0022ee010299", &fp), -ENOENT);
	assert_int_equal(directory_bind_cert(f->d, "0022ee010201", "ab:cd", err, sizeof(err)), 0);
	assert_int_equal(directory_cert(f->d, "0022ee010201", &fp), 0);
	assert_string_equal(fp, "ab:cd");
	/* the row's other variables are kept */
	assert_int_equal(directory_login(f->d, "0022ee010201", pw, sizeof(pw)), 0);
}

/* What the test's binder was asked to queue (a daemon's is the journal's writer). */
struct queued {
	char mac[MAC_LEN + 1];
	char fp[72];
	int n;
};

static int binder(void *arg, const char *mac, const char *fingerprint)
{
	struct queued *q = arg;

	snprintf(q->mac, sizeof(q->mac), "%s", mac);
	snprintf(q->fp, sizeof(q->fp), "%s", fingerprint);
	q->n++;
	return 0;
}

static void test_queued_binding(void **state)
{
	struct fixture *f = *state;
	struct queued q = { .n = 0 };
	const char *fp = NULL;
	char err[256];

	directory_set_binder(f->d, binder, &q);
	put(f->cli, "0022ee010301", "", "{}");
	put(f->cli, "0022ee010302", "", "{}");
	/* queued: it holds at once, before the writer writes it */
	assert_int_equal(directory_bind_cert(f->d, "0022ee010301", "fp-a", err, sizeof(err)), 0);
	assert_int_equal(q.n, 1);
	assert_string_equal(q.mac, "0022ee010301");
	assert_int_equal(directory_cert(f->d, "0022ee010301", &fp), 0);
	assert_string_equal(fp, "fp-a");
	/* a second certificate cannot bind while the first waits */
	assert_int_equal(directory_bind_cert(f->d, "0022ee010301", "fp-b", err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(q.n, 1);
	/* the writer writes it: the row says so, as before */
	assert_int_equal(store_device_set_var_once(f->cli, q.mac, DIRECTORY_CERT_VAR, q.fp, err,
						   sizeof(err)),
			 0);
	assert_int_equal(directory_cert(f->d, "0022ee010301", &fp), 0);
	assert_string_equal(fp, "fp-a");

	/* a binding made elsewhere before ours was written wins; ours is refused */
	assert_int_equal(directory_cert(f->d, "0022ee010302", &fp), 0);
	assert_null(fp);
	assert_int_equal(directory_bind_cert(f->d, "0022ee010302", "fp-c", err, sizeof(err)), 0);
	assert_int_equal(store_device_set_var_once(f->cli, "0022ee010302", DIRECTORY_CERT_VAR,
						   "fp-d", err, sizeof(err)),
			 0);
	assert_int_equal(directory_cert(f->d, "0022ee010302", &fp), 0);
	assert_string_equal(fp, "fp-d");
	assert_int_equal(store_device_set_var_once(f->cli, q.mac, DIRECTORY_CERT_VAR, q.fp, err,
						   sizeof(err)),
			 -EEXIST);
	assert_int_equal(directory_cert(f->d, "0022ee010302", &fp), 0);
	assert_string_equal(fp, "fp-d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_and_defaults_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_between_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sequence_after_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pruned_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_cache, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_login_and_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_binding, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
