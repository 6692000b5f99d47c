// SPDX-License-Identifier: MIT
/* Per-peer sampling of the journal's misses (site/journal_sample.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "site/journal_sample.h"
#include "store/store.h"

static void test_is_miss(void **state)
{
	(void)state;
	assert_false(journal_is_miss("sent"));
	assert_false(journal_is_miss("not modified"));
	assert_false(journal_is_miss("pnp-url-sent"));
	assert_false(journal_is_miss("notify-200"));
	assert_true(journal_is_miss("notify-481"));
	assert_true(journal_is_miss("notify-timeout"));
	assert_true(journal_is_miss("not found"));
	assert_true(journal_is_miss("denied"));
	assert_true(journal_is_miss("timed out"));
	assert_true(journal_is_miss("ignored-unknown"));
	assert_true(journal_is_miss("3 more misses"));
	assert_true(journal_is_miss(NULL));
}

static void test_peer_host(void **state)
{
	char out[64], small[5];

	(void)state;
	journal_peer_host("127.0.0.1:69", out, sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	journal_peer_host("[::1]:8080", out, sizeof(out));
	assert_string_equal(out, "::1");
	journal_peer_host("[fe80::1%eth0]:69", out, sizeof(out));
	assert_string_equal(out, "fe80::1%eth0");
	journal_peer_host("::1", out, sizeof(out));
	assert_string_equal(out, "::1");
	journal_peer_host("local", out, sizeof(out));
	assert_string_equal(out, "local");
	journal_peer_host(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	journal_peer_host("10.1.2.3:4", small, sizeof(small));
	assert_string_equal(small, "10.1");
}

struct collected {
	size_t n;
	char peer[64], proto[16], first[64], last[64];
	uint64_t count, total;
};

static void collect(void *arg, const struct journal_aggregate *a)
{
	struct collected *c = arg;

	c->n++;
	snprintf(c->peer, sizeof(c->peer), "%s", a->peer);
	snprintf(c->proto, sizeof(c->proto), "%s", a->proto);
	snprintf(c->first, sizeof(c->first), "%s", a->first);
	snprintf(c->last, sizeof(c->last), "%s", a->last);
	c->count = a->count;
	c->total += a->count;
}

static struct journal_entry miss(const char *peer, const char *path)
{
	return (struct journal_entry){
		.proto = "tftp", .peer = peer, .path = path, .outcome = "not found"
	};
}

static void test_window(void **state)
{
	struct journal_sampler *js;
	struct collected c = { 0 };
	char name[32];

	(void)state;
	assert_int_equal(journal_sampler_new(&js), 0);
	/* the first three of the window are rows, from any port of the address */
	for (int i = 0; i < 3; i++) {
		struct journal_entry e = miss(i ? "10.0.0.1:2000" : "10.0.0.1:1000", "a.cfg");

		assert_true(journal_sampler_admit(js, &e, 3, 100));
	}
	for (int i = 0; i < 7; i++) {
		struct journal_entry e;

		snprintf(name, sizeof(name), "n%d.cfg", i);
		e = miss("10.0.0.1:1000", name);
		assert_false(journal_sampler_admit(js, &e, 3, 100 + i));
	}
	/* another address has a window of its own */
	struct journal_entry other = miss("10.0.0.2:1000", "b.cfg");
	assert_true(journal_sampler_admit(js, &other, 3, 101));
	assert_int_equal(journal_sampler_npeers(js), 2);

	/* nothing ends before the window does */
	assert_int_equal(journal_sampler_expire(js, 159, 60, false, collect, &c), 0);
	assert_int_equal(c.n, 0);
	/* then one count for the peer that went beyond, none for the other */
	assert_int_equal(journal_sampler_expire(js, 160, 60, false, collect, &c), 1);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.peer, "10.0.0.1");
	assert_string_equal(c.proto, "tftp");
	assert_string_equal(c.first, "n0.cfg");
	assert_string_equal(c.last, "n6.cfg");
	assert_int_equal(c.count, 7);
	assert_int_equal(journal_sampler_npeers(js), 1); /* the other's window goes on */

	/* a new window: rows again */
	struct journal_entry again = miss("10.0.0.1:1000", "c.cfg");
	assert_true(journal_sampler_admit(js, &again, 3, 161));
	journal_sampler_free(js);
}

static void test_off_and_all(void **state)
{
	struct journal_sampler *js;
	struct collected c = { 0 };
	struct journal_entry e = miss("10.0.0.1:1", "x");

	(void)state;
	assert_int_equal(journal_sampler_new(&js), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(journal_sampler_admit(js, &e, 0, 1));
	assert_int_equal(journal_sampler_npeers(js), 0);
	/* at the end (a stop), every window ends whatever its age */
	assert_true(journal_sampler_admit(js, &e, 1, 1));
	assert_false(journal_sampler_admit(js, &e, 1, 1));
	assert_int_equal(journal_sampler_expire(js, 1, 3600, true, collect, &c), 1);
	assert_int_equal(c.count, 1);
	assert_string_equal(c.first, "x");
	assert_string_equal(c.last, "x");
	journal_sampler_free(js);
	journal_sampler_free(NULL);
}

static void test_many_peers_share_a_bucket(void **state)
{
	struct journal_sampler *js;
	struct collected c = { 0 };
	char peer[32];
	size_t written = 0;

	(void)state;
	assert_int_equal(journal_sampler_new(&js), 0);
	/* a spoofed flood from more addresses than the pool holds: it does not grow */
	for (unsigned i = 0; i < JOURNAL_SAMPLE_PEERS + 500; i++) {
		struct journal_entry e;

		snprintf(peer, sizeof(peer), "10.%u.%u.%u:69", i >> 16 & 255, i >> 8 & 255,
			 i & 255);
		e = miss(peer, "f");
		for (int k = 0; k < 3; k++)
			written += journal_sampler_admit(js, &e, 2, 5);
	}
	assert_int_equal(journal_sampler_npeers(js), JOURNAL_SAMPLE_PEERS + 1);
	/* two rows per tracked peer, two for the shared bucket */
	assert_int_equal(written, 2 * JOURNAL_SAMPLE_PEERS + 2);
	assert_int_equal(journal_sampler_expire(js, 65, 60, false, collect, &c),
			 JOURNAL_SAMPLE_PEERS + 1);
	assert_int_equal(c.total, JOURNAL_SAMPLE_PEERS + (500 * 3 - 2));
	assert_int_equal(journal_sampler_npeers(js), 0);
	/* the pool is whole again: a peer gets its own slot and window */
	struct journal_entry e = miss("192.0.2.1:69", "g");
	assert_true(journal_sampler_admit(js, &e, 1, 70));
	assert_int_equal(journal_sampler_npeers(js), 1);
	journal_sampler_free(js);
}

static void name_length(void *arg, const struct journal_aggregate *a)
{
	*(size_t *)arg = strlen(a->first) > strlen(a->last) ? strlen(a->first) : strlen(a->last);
}

static void test_long_names_are_cut(void **state)
{
	struct journal_sampler *js;
	char name[1000];
	struct journal_entry e;
	size_t longest = 0;

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	e = miss("10.0.0.1:1", name);
	assert_int_equal(journal_sampler_new(&js), 0);
	assert_true(journal_sampler_admit(js, &e, 1, 1));
	assert_false(journal_sampler_admit(js, &e, 1, 1));
	assert_int_equal(journal_sampler_expire(js, 1, 1, true, name_length, &longest), 1);
	assert_int_equal(longest, JOURNAL_SAMPLE_NAME_MAX);
	journal_sampler_free(js);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_miss),
		cmocka_unit_test(test_peer_host),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_off_and_all),
		cmocka_unit_test(test_many_peers_share_a_bucket),
		cmocka_unit_test(test_long_names_are_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
