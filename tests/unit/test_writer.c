// SPDX-License-Identifier: MIT
/*
 * The journal's writer (site/writer.c): the bounded queue keeps order and counts what it
 * drops; a writer with its thread writes every entry queued before it is freed, and the
 * file versions the loop keeps in memory, numbered once per content.
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

#include "site/directory.h"
#include "site/metrics.h"
#include "site/writer.h"
#include "store/store.h"

static struct journal_entry entry(const char *path)
{
	struct journal_entry e = {
		.proto = "tftp",
		.peer = "127.0.0.1:1000",
		.path = path,
		.outcome = "sent",
		.bytes = 1,
	};

	clock_gettime(CLOCK_REALTIME, &e.time);
	return e;
}

static void test_queue_full_counts_drops_keeps_order(void **state)
{
	struct journal_queue q;
	struct journal_batch b = { 0 };
	struct site_metrics m = { 0 };
	char name[32];

	(void)state;
	assert_int_equal(journal_queue_init(&q, 4), 0);
	q.metrics = &m;
	for (int i = 0; i < 7; i++) {
		struct journal_entry e;

		snprintf(name, sizeof(name), "f%d", i);
		e = entry(name);
		assert_int_equal(journal_queue_push(&q, &e), i < 4 ? 0 : -ENOBUFS);
	}
	/* the strings are copies: the caller's buffer is gone */
	memset(name, 'x', sizeof(name) - 1);
	assert_int_equal(journal_queue_dropped(&q), 3);
	assert_int_equal(journal_queue_dropped(&q), 0);
	/* /metrics: the length waiting, and every drop (never reset) */
	assert_int_equal(metrics_get(&m.journal_queued), 4);
	assert_int_equal(metrics_get(&m.journal_dropped_full), 3);
	assert_int_equal(journal_queue_take(&q, &b), 4);
	assert_int_equal(metrics_get(&m.journal_queued), 0);
	assert_int_equal(b.n, 4);
	for (size_t i = 0; i < b.n; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		assert_string_equal(b.e[i].path, name);
		assert_string_equal(b.e[i].proto, "tftp");
		assert_null(b.e[i].mac);
	}
	/* taken: room again; a batch not yet written gets the next entries after its own */
	for (int i = 4; i < 6; i++) {
		struct journal_entry e;

		snprintf(name, sizeof(name), "f%d", i);
		e = entry(name);
		assert_int_equal(journal_queue_push(&q, &e), 0);
	}
	assert_int_equal(journal_queue_take(&q, &b), 2);
	assert_int_equal(b.n, 6);
	for (size_t i = 0; i < b.n; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		assert_string_equal(b.e[i].path, name);
	}
	assert_int_equal(journal_queue_take(&q, &b), 0);
	journal_batch_free(&b);
	journal_queue_destroy(&q);
}

/*
 * The strings of the entries go to blocks the batches keep: once the double buffer has
 * turned, pushing allocates nothing (the same blocks are filled again), and a batch taken
 * onto one not yet written keeps every string readable.
 */
static void test_queue_reuses_its_text_blocks(void **state)
{
	struct journal_queue q;
	struct journal_batch b = { 0 };
	struct journal_text *seen[2] = { NULL, NULL };
	char name[32];

	(void)state;
	assert_int_equal(journal_queue_init(&q, 100000), 0);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 2000; i++) {
			struct journal_entry e;

			snprintf(name, sizeof(name), "r%d-%d", round, i);
			e = entry(name);
			assert_int_equal(journal_queue_push(&q, &e), 0);
		}
		assert_int_equal(journal_queue_take(&q, &b), 2000);
		assert_string_equal(b.e[1999].path, name);
		/* the two batches' blocks take turns: from the third round on, the same ones */
		if (round >= 2)
			assert_ptr_equal(b.text, seen[round % 2]);
		seen[round % 2] = b.text;
		journal_batch_clear(&b);
	}
	/* a batch not written yet gets the next entries and their blocks after its own */
	for (int i = 0; i < 3; i++) {
		struct journal_entry e = entry(i < 2 ? "first" : "second");

		assert_int_equal(journal_queue_push(&q, &e), 0);
		if (i == 1)
			assert_int_equal(journal_queue_take(&q, &b), 2);
	}
	assert_int_equal(journal_queue_take(&q, &b), 1);
	assert_int_equal(b.n, 3);
	assert_string_equal(b.e[0].path, "first");
	assert_string_equal(b.e[2].path, "second");
	assert_string_equal(b.e[2].peer, "127.0.0.1:1000");
	journal_batch_free(&b);
	journal_queue_destroy(&q);
}

static int count_rows(void *arg, const struct journal_entry *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static void test_thread_writes_everything_before_free(void **state)
{
	char dir[] = "/tmp/test_writer.XXXXXX", err[512], path[600];
	struct store *loop, *check;
	struct journal_writer *w;
	struct site_metrics metrics = { 0 };
	uint64_t v = 0;
	int rows = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &loop, err, sizeof(err)), 0);
	assert_int_equal(journal_writer_new(dir, loop, 0, 0, &metrics, &w), 0);
	assert_int_equal(journal_writer_open(w, err, sizeof(err)), 0);
	assert_int_equal(journal_writer_start(w), 0);
	assert_true(journal_writer_threaded(w));
	/* the loop's flush does nothing: the thread writes */
	assert_int_equal(journal_writer_flush(w), 0);

	/* a new version is served at once, kept in memory until the thread writes it */
	assert_int_equal(store_version(loop, "a.conf", "md5-one", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_version(loop, "a.conf", "md5-one", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_version(loop, "a.conf", "md5-two", &v), 0);
	assert_int_equal(v, 2);
	for (int i = 0; i < 5000; i++) {
		struct journal_entry e = entry("burst.cfg");

		journal_writer_push(w, &e);
	}
	journal_writer_free(w);
	assert_int_equal(store_versions_pending(loop), 0);

	assert_int_equal(store_open(dir, &check, err, sizeof(err)), 0);
	assert_int_equal(store_journal_foreach(check, NULL, 0, false, count_rows, &rows), 0);
	assert_int_equal(rows, 5000);
	/* written once per content: a restart serves 2, and the same content stays 2 */
	assert_int_equal(store_version(check, "a.conf", "md5-two", &v), 0);
	assert_int_equal(v, 2);
	store_close(check);
	store_close(loop);
	for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
		snprintf(path, sizeof(path), "%s/autoprov.db%s", dir, *s);
		unlink(path);
	}
	rmdir(dir);
}

/* Bindings go through the writer: written once, a device bound meanwhile keeps its own. */
static void test_bindings_written_once(void **state)
{
	char dir[] = "/tmp/test_writer.XXXXXX", err[512], path[600];
	struct store *loop;
	struct journal_writer *w;
	struct site_metrics metrics = { 0 };
	struct device *d;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &loop, err, sizeof(err)), 0);
	for (const char *const *m = (const char *const[]){ "0022ee000001", "0022ee000002", NULL };
	     *m; m++) {
		d = device_new(*m);
		assert_non_null(d);
		assert_int_equal(store_device_put(loop, d, false, err, sizeof(err)), 0);
		device_free(d);
	}
	assert_int_equal(store_device_set_var_once(loop, "0022ee000002", DIRECTORY_CERT_VAR, "old",
						   err, sizeof(err)),
			 0);
	assert_int_equal(journal_writer_new(dir, loop, 0, 0, &metrics, &w), 0);
	assert_int_equal(journal_writer_bind(w, "0022ee000001", "fp-one"), 0);
	assert_int_equal(journal_writer_bind(w, "0022ee000002", "fp-two"), 0);
	assert_int_equal(journal_writer_bind(w, "0022ee000003", "fp-three"), 0);
	/* queued, not written until a round */
	assert_int_equal(store_device_get(loop, "0022ee000001", &d), 0);
	assert_null(json_object_get(d->vars, DIRECTORY_CERT_VAR));
	device_free(d);
	assert_int_equal(journal_writer_flush(w), 0);
	assert_int_equal(store_device_get(loop, "0022ee000001", &d), 0);
	assert_string_equal(json_string_value(json_object_get(d->vars, DIRECTORY_CERT_VAR)),
			    "fp-one");
	device_free(d);
	assert_int_equal(store_device_get(loop, "0022ee000002", &d), 0);
	assert_string_equal(json_string_value(json_object_get(d->vars, DIRECTORY_CERT_VAR)), "old");
	device_free(d);
	/* the queue is bounded */
	for (int i = 0; i < BINDING_QUEUE_MAX; i++)
		assert_int_equal(journal_writer_bind(w, "0022ee000001", "fp-one"), 0);
	assert_int_equal(journal_writer_bind(w, "0022ee000001", "fp-one"), -ENOBUFS);
	journal_writer_free(w);
	store_close(loop);
	for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
		snprintf(path, sizeof(path), "%s/autoprov.db%s", dir, *s);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_full_counts_drops_keeps_order),
		cmocka_unit_test(test_queue_reuses_its_text_blocks),
		cmocka_unit_test(test_thread_writes_everything_before_free),
		cmocka_unit_test(test_bindings_written_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
