// SPDX-License-Identifier: MIT
/*
 * Unit tests of the devices' state the journal's writer keeps (src/store/state.c): a
 * device's rows of one batch are folded into one write of its state, which must leave
 * what the same rows written one batch each leave; a MAC the inventory lacks is an unknown
 * device, once per row. Runs on PostgreSQL too (store_fixture.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"

#define MAX_ROWS 8

/* What a row can be, covering every journal kind (store_journal_kind). */
static const struct {
	const char *proto, *path, *outcome, *md5, *detail;
} kinds[] = {
	{ "http", "/algom.conf", "sent", "0123456789abcdef0123456789abcdef", NULL }, /* config */
	{ "tftp", "/algom.conf.md5", "sent", "fedcba9876543210fedcba9876543210", NULL }, /* ok */
	{ "http", "/algo-8188-5.4f.sfw", "sent", NULL, NULL },		/* ok, a firmware */
	{ "http", "/algom.conf", "not modified", NULL, NULL },		/* ok */
	{ "tftp", "/algom-i.conf", "not found", NULL, NULL },		/* a step */
	{ "http", "/algom.conf", "denied", NULL, "wrong credentials" }, /* a failure */
	{ "http", "/algo-8188-5.5.sfw", "not found", NULL, NULL },	/* a failure */
	{ "sip", "check-sync", "sent", NULL, NULL },			/* neutral */
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const char *const agents[] = { NULL, "Algo/8188 5.4.1", "Algo 8188 5.4.2" };

/* A deterministic generator: every run tries the same sequences. */
static uint32_t next(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

static void fill_rows(struct journal_entry *rows, size_t n, const char *mac, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		unsigned k = next(&seed) % NKINDS;

		rows[i] = (struct journal_entry){
			.time = { 1714564800 + (time_t)i, 1000 },
			.proto = kinds[k].proto,
			.peer = i % 2 ? "192.0.2.10:1024" : "192.0.2.11:2048",
			.mac = mac,
			.path = kinds[k].path,
			.outcome = kinds[k].outcome,
			.bytes = 100 * i,
			.md5 = kinds[k].md5,
			.user_agent = agents[next(&seed) % 3],
			.detail = kinds[k].detail,
			.rev = next(&seed) % 3,
		};
	}
}

/* An id of s as its distance from the device's first row (0 stays 0: none). */
static int64_t rel(const struct device_state *s, int64_t id)
{
	return id ? id - s->first_id + 1 : 0;
}

static void assert_same_state(const struct device_state *a, const struct device_state *b)
{
	assert_true(a->known && b->known);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->first_seen, b->first_seen);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_int_equal(rel(a, a->last_id), rel(b, b->last_id));
	assert_string_equal(a->last_proto, b->last_proto);
	assert_string_equal(a->last_peer, b->last_peer);
	assert_string_equal(a->last_user_agent, b->last_user_agent);
	assert_string_equal(a->last_path, b->last_path);
	assert_string_equal(a->last_outcome, b->last_outcome);
	assert_int_equal(a->sent_time, b->sent_time);
	assert_int_equal(rel(a, a->sent_id), rel(b, b->sent_id));
	assert_string_equal(a->sent_path, b->sent_path);
	assert_string_equal(a->sent_md5, b->sent_md5);
	assert_int_equal(a->config_time, b->config_time);
	assert_int_equal(rel(a, a->config_id), rel(b, b->config_id));
	assert_string_equal(a->config_path, b->config_path);
	assert_string_equal(a->config_md5, b->config_md5);
	assert_string_equal(a->config_proto, b->config_proto);
	assert_int_equal(a->config_rev, b->config_rev);
	assert_int_equal(a->fail_time, b->fail_time);
	assert_int_equal(rel(a, a->fail_id), rel(b, b->fail_id));
	assert_string_equal(a->fail_path, b->fail_path);
	assert_string_equal(a->fail_outcome, b->fail_outcome);
	assert_string_equal(a->fail_detail, b->fail_detail);
	assert_string_equal(a->firmware, b->firmware);
}

/*
 * For many sequences of rows (every kind, with and without a User-Agent): device A gets them
 * one batch each, device B all in one batch; both then have the same state. Then both get
 * another sequence the same two ways, so that a fold also starts from a state already there.
 */
static void test_fold_is_rows_one_by_one(void **state)
{
	struct fixture *f = *state;
	struct journal_entry rows[MAX_ROWS];
	enum { TRIALS = 150 };

	for (unsigned t = 0; t < TRIALS; t++) {
		char a[MAC_LEN + 1], b[MAC_LEN + 1];
		struct device_state sa, sb;

		snprintf(a, sizeof(a), "0022ee%06x", 2 * t);
		snprintf(b, sizeof(b), "0022ee%06x", 2 * t + 1);
		add(f->st, a, "8188", "", NULL);
		add(f->st, b, "8188", "", NULL);
		for (unsigned pass = 0; pass < 2; pass++) {
			size_t n = 1 + t % MAX_ROWS;

			fill_rows(rows, n, a, t * 7919 + pass);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(store_journal_append(f->st, &rows[i], 1), 0);
			for (size_t i = 0; i < n; i++)
				rows[i].mac = b;
			assert_int_equal(store_journal_append(f->st, rows, n), 0);
			assert_int_equal(store_device_state_get(f->st, a, &sa), 0);
			assert_int_equal(store_device_state_get(f->st, b, &sb), 0);
			assert_same_state(&sa, &sb);
		}
	}
}

/* A fold of the same device among other devices' rows, in one batch. */
static void test_fold_among_other_devices(void **state)
{
	struct fixture *f = *state;
	struct journal_entry rows[6];
	struct device_state s;

	add(f->st, "0022ee000001", "8188", "", NULL);
	add(f->st, "0022ee000002", "8188", "", NULL);
	fill_rows(rows, 6, "0022ee000001", 42);
	for (size_t i = 0; i < 6; i++) {
		rows[i].mac = i % 2 ? "0022ee000002" : "0022ee000001";
		rows[i].proto = "http";
		rows[i].path = "/algom.conf";
		rows[i].outcome = i == 4 ? "denied" : "sent";
		rows[i].detail = NULL;
		rows[i].rev = 0;
	}
	assert_int_equal(store_journal_append(f->st, rows, 6), 0);
	/* device 1: sent, sent, denied (rows 0, 2, 4) */
	assert_int_equal(store_device_state_get(f->st, "0022ee000001", &s), 0);
	assert_int_equal(s.status, DEVICE_FAILING);
	assert_int_equal(s.first_seen, 1714564800000001);
	assert_int_equal(s.last_seen, 1714564804000001);
	assert_int_equal(s.config_time, 1714564802000001);
	assert_string_equal(s.fail_outcome, "denied");
	/* device 2: sent three times (rows 1, 3, 5) */
	assert_int_equal(store_device_state_get(f->st, "0022ee000002", &s), 0);
	assert_int_equal(s.status, DEVICE_PROVISIONED);
	assert_int_equal(s.first_seen, 1714564801000001);
	assert_int_equal(s.config_time, 1714564805000001);
	assert_int_equal(s.fail_time, 0);
}

static int count_unknown(void *arg, const struct unknown_device *u)
{
	if (strcmp(u->mac, "0022ee0000ff") == 0)
		*(uint64_t *)arg = u->requests;
	return 0;
}

/* A MAC the inventory lacks: no state, and an unknown device with each of its rows. */
static void test_unknown_rows_counted(void **state)
{
	struct fixture *f = *state;
	struct journal_entry rows[5];
	struct device_state s;
	uint64_t requests = 0;

	fill_rows(rows, 5, "0022ee0000ff", 7);
	assert_int_equal(store_journal_append(f->st, rows, 5), 0);
	assert_int_equal(store_device_state_get(f->st, "0022ee0000ff", &s), -ENOENT);
	assert_int_equal(store_unknown_page(f->st, 0, NULL, 10, count_unknown, &requests), 0);
	assert_int_equal(requests, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fold_is_rows_one_by_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold_among_other_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_rows_counted, setup, teardown),
	};

	fixture_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
