// SPDX-License-Identifier: MIT
/*
 * The enumeration defence's table: a scanner blocked at the budget (and only its address),
 * a device's own search order counted once, prefixes, trusted sources limited per MAC,
 * windows and blocks that expire, a bounded table under random sources, trusted lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/addr.h"
#include "site/defence.h"

static struct addr A(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

#define SA(a) ((const struct sockaddr *)&(a).ss)

/* An address for one call: a ring of a few. */
static const struct sockaddr *P(const char *s)
{
	static struct addr ring[8];
	static unsigned next;
	struct addr *a = &ring[next++ % 8];

	assert_int_equal(addr_parse(s, a), 0);
	return (const struct sockaddr *)&a->ss;
}

static const char *mac_n(unsigned n, char buf[13])
{
	snprintf(buf, 13, "0004f2%06x", n & 0xffffff);
	return buf;
}

static void test_scanner_blocked(void **state)
{
	struct defence_config cfg;
	struct defence *def;
	struct defence_event ev;
	struct addr scanner = A("10.0.0.1:1000"), other = A("10.0.1.1:1000");
	struct addr same_prefix = A("10.0.0.2:1000");
	unsigned blocked_at = 0;
	char mac[13];

	(void)state;
	defence_config_default(&cfg);
	assert_true(cfg.max_misses <= 50);
	assert_int_equal(defence_new(&cfg, 1024, &def), 0);
	for (unsigned i = 1; i <= 100 && !blocked_at; i++) {
		assert_int_equal(defence_check(def, SA(scanner), 100), 0);
		if (defence_miss(def, SA(scanner), mac_n(i, mac), 100, &ev) > 0) {
			blocked_at = i;
			assert_true(ev.blocked);
			assert_string_equal(ev.what, "address");
			assert_int_equal(ev.misses, cfg.max_misses);
			assert_int_equal(ev.seconds, cfg.block_time_s);
		} else {
			assert_false(ev.blocked);
		}
	}
	assert_int_equal(blocked_at, cfg.max_misses);
	assert_int_equal(defence_check(def, SA(scanner), 100), cfg.block_time_s);
	assert_int_equal(defence_check(def, SA(scanner), 101), cfg.block_time_s - 1);
	/* another port of the same host too; not another host, even in the /24 */
	assert_true(defence_check(def, P("10.0.0.1:2000"), 101) > 0);
	assert_int_equal(defence_check(def, SA(other), 101), 0);
	assert_int_equal(defence_check(def, SA(same_prefix), 101), 0);
	/* a miss while blocked starts nothing new: logged once per block */
	assert_true(defence_miss(def, SA(scanner), mac_n(999, mac), 102, &ev) > 0);
	assert_false(ev.blocked);
	/* the block ends */
	assert_int_equal(defence_check(def, SA(scanner), 100 + cfg.block_time_s), 0);
	defence_free(def);
}

static void test_search_order_counted_once(void **state)
{
	struct defence_config cfg;
	struct defence *def;
	struct defence_event ev;
	struct addr phone = A("10.0.0.7:1000");

	(void)state;
	defence_config_default(&cfg);
	assert_int_equal(defence_new(&cfg, 1024, &def), 0);
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(
			defence_miss(def, SA(phone), "0004f2aabbcc", 10 + i / 100, &ev), 0);
	assert_int_equal(defence_check(def, SA(phone), 20), 0);
	defence_free(def);
}

static void test_window_and_logins(void **state)
{
	struct defence_config cfg;
	struct defence *def;
	struct defence_event ev;
	struct addr a = A("[2001:db8::1]:1000");

	(void)state;
	defence_config_default(&cfg);
	cfg.max_misses = 5;
	cfg.miss_window_s = 10;
	cfg.block_time_s = 30;
	assert_int_equal(defence_new(&cfg, 64, &def), 0);
	/* four failed logins per window, forever: never blocked */
	for (unsigned w = 0; w < 10; w++)
		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(defence_miss(def, SA(a), NULL, 1000 + w * 10, &ev), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(defence_miss(def, SA(a), NULL, 2000, &ev), 0);
	assert_int_equal(defence_miss(def, SA(a), NULL, 2000, &ev), 30);
	assert_true(ev.blocked);
	assert_int_equal(defence_check(def, SA(a), 2029), 1);
	assert_int_equal(defence_check(def, SA(a), 2030), 0);
	defence_free(def);
}

static void test_prefix(void **state)
{
	struct defence_config cfg;
	struct defence *def;
	struct defence_event ev;
	char mac[13], host[64];
	unsigned blocked = 0;

	(void)state;
	defence_config_default(&cfg);
	cfg.prefix_max_misses = 30;
	assert_int_equal(defence_new(&cfg, 1024, &def), 0);
	/* ten misses from each of many addresses of one /64 */
	for (unsigned h = 1; h < 20 && !blocked; h++) {
		snprintf(host, sizeof(host), "[2001:db8:0:1::%x]:5060", h);
		for (unsigned i = 0; i < 10 && !blocked; i++) {
			struct addr a = A(host);

			if (defence_miss(def, SA(a), mac_n(h * 100 + i, mac), 50, &ev) > 0) {
				blocked = (h - 1) * 10 + i + 1;
				assert_string_equal(ev.what, "prefix");
				assert_int_equal(ev.bits, 64);
			}
		}
	}
	assert_int_equal(blocked, 30);
	assert_true(defence_check(def, P("[2001:db8:0:1::ffff]:1"), 51) > 0);
	assert_int_equal(defence_check(def, P("[2001:db8:0:2::1]:1"), 51), 0);
	defence_free(def);
}

static void test_trusted(void **state)
{
	struct defence_config cfg;
	struct defence *def;
	struct defence_event ev;
	struct addr nat = A("192.168.1.1:1000");
	char mac[13];

	(void)state;
	defence_config_default(&cfg);
	assert_int_equal(defence_config_add_trusted(&cfg, "10.0.0.0/8, 192.168.1.0/24 ::1"), 0);
	assert_int_equal(cfg.ntrusted, 3);
	assert_int_equal(defence_new(&cfg, 1024, &def), 0);
	assert_true(defence_trusted(def, SA(nat)));
	assert_true(defence_trusted(def, P("[::ffff:10.1.2.3]:5")));
	assert_false(defence_trusted(def, P("192.168.2.1:5")));
	/* a fleet of unknown devices behind the NAT, each asking its names twice */
	for (unsigned i = 0; i < 500; i++)
		for (unsigned k = 0; k < 8; k++)
			assert_int_equal(defence_miss(def, SA(nat), mac_n(i, mac), 7, &ev), 0);
	assert_int_equal(defence_check(def, SA(nat), 7), 0);
	/* one MAC asked over and over: limited, the address is not */
	for (unsigned i = 0; i < cfg.trusted_max_misses - 8; i++)
		assert_int_equal(defence_miss(def, SA(nat), mac_n(3, mac), 7, &ev), 0);
	assert_int_equal(defence_miss(def, SA(nat), mac_n(3, mac), 7, &ev), cfg.block_time_s);
	assert_true(ev.blocked);
	assert_string_equal(ev.what, "MAC");
	assert_true(defence_miss(def, SA(nat), mac_n(3, mac), 8, &ev) > 0);
	assert_false(ev.blocked);
	assert_int_equal(defence_miss(def, SA(nat), mac_n(4, mac), 8, &ev), 0);
	assert_int_equal(defence_check(def, SA(nat), 8), 0);
	defence_free(def);
}

static void test_config_errors(void **state)
{
	struct defence_config cfg;
	char many[2048] = "";

	(void)state;
	defence_config_default(&cfg);
	assert_int_equal(defence_config_add_trusted(&cfg, "10.0.0.0/33"), -EINVAL);
	assert_int_equal(defence_config_add_trusted(&cfg, "10.0.0.0/"), -EINVAL);
	assert_int_equal(defence_config_add_trusted(&cfg, "host.example"), -EINVAL);
	assert_int_equal(defence_config_add_trusted(&cfg, "::/129"), -EINVAL);
	assert_int_equal(defence_config_add_trusted(&cfg, "10.0.0.1 bad"), -EINVAL);
	assert_int_equal(cfg.ntrusted, 0); /* all or nothing */
	for (unsigned i = 0; i <= DEFENCE_TRUSTED_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.%u.0.0/16 ", i);
	assert_int_equal(defence_config_add_trusted(&cfg, many), -E2BIG);
}

static void test_bounded_and_disabled(void **state)
{
	struct defence_config cfg;
	struct defence *def;
	struct defence_event ev;
	struct defence_stats st;
	struct addr scanner = A("172.16.0.1:1");
	char mac[13], host[64];

	(void)state;
	defence_config_default(&cfg);
	assert_int_equal(defence_new(&cfg, 256, &def), 0);
	/* a real scanner, interleaved with a flood from random sources */
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(host, sizeof(host), "%u.%u.%u.%u:1", 1 + i % 200, (i * 7) % 256,
			 (i * 13) % 256, i % 251);
		(void)defence_miss(def, P(host), mac_n(i, mac), 5, &ev);
		if (i % 100 == 0)
			(void)defence_miss(def, SA(scanner), mac_n(i, mac), 5, &ev);
	}
	assert_true(defence_check(def, SA(scanner), 5) > 0);
	defence_get_stats(def, &st);
	assert_true(st.evicted > 0);
	assert_int_equal(st.blocks >= 1, 1);
	defence_free(def);

	cfg.enabled = false;
	assert_int_equal(defence_new(&cfg, 64, &def), 0);
	for (unsigned i = 0; i < 200; i++)
		assert_int_equal(defence_miss(def, SA(scanner), mac_n(i, mac), 5, &ev), 0);
	assert_int_equal(defence_check(def, SA(scanner), 5), 0);
	defence_free(def);
	assert_int_equal(defence_check(NULL, SA(scanner), 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scanner_blocked),
		cmocka_unit_test(test_search_order_counted_once),
		cmocka_unit_test(test_window_and_logins),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_bounded_and_disabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
