// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/core/addr.c: the ADDR:PORT forms accepted by --tftp and [tftp] listen,
 * how addresses are printed in logs, and the host comparisons behind per-peer limits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"

static struct addr parse_ok(const char *s)
{
	struct addr a;
	int r = addr_parse(s, &a);

	if (r != 0)
		fail_msg("'%s' refused", s);
	return a;
}

static const struct sockaddr *sa(const struct addr *a)
{
	return (const struct sockaddr *)&a->ss;
}

static void test_parse_ipv4(void **state)
{
	struct addr a = parse_ok("127.0.0.1:69");
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;

	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(addr_port(sa(&a)), 69);
	a = parse_ok("0.0.0.0:0");
	assert_int_equal(addr_port(sa(&a)), 0);
	a = parse_ok("10.1.2.3:65535");
	assert_int_equal(addr_port(sa(&a)), 65535);
}

static void test_parse_ipv6(void **state)
{
	struct addr a = parse_ok("[::1]:69");
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;

	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(addr_port(sa(&a)), 69);
	a = parse_ok("[::]:6969");
	assert_int_equal(addr_port(sa(&a)), 6969);
	a = parse_ok("[2001:db8::1]:1069");
	assert_int_equal(addr_port(sa(&a)), 1069);
	a = parse_ok("[::ffff:192.0.2.1]:69");
	assert_int_equal(a.ss.ss_family, AF_INET6);
}

static void test_parse_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		":69",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:+69",
		"127.0.0.1: 69",
		"localhost:69",
		"256.0.0.1:69",
		"1.2.3:69",
		"::1:69",
		"[::1]69",
		"[::1]",
		"[::1:69",
		"[]:69",
		"[1.2.3.4]:69",
		"[::1]:",
		"[::1]:70000",
		"[fe80::1%lo]:69",
		"off",
		"127.0.0.1:69x",
		"1.2.3.4:99999999999999999999999",
	};
	struct addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0x5a, sizeof(a));
		if (addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		/* output untouched on failure */
		assert_int_equal(((const uint8_t *)&a)[0], 0x5a);
	}
}

static void test_format(void **state)
{
	static const char *const forms[] = { "127.0.0.1:69", "0.0.0.0:0", "[::1]:69",
					     "[2001:db8::1]:65535", "[::]:6969" };
	char buf[ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct addr a = parse_ok(forms[i]);

		assert_string_equal(addr_format(sa(&a), buf, sizeof(buf)), forms[i]);
	}
}

static void test_format_host(void **state)
{
	char buf[ADDR_STRLEN];
	struct addr a = parse_ok("[2001:db8::7]:69");

	assert_string_equal(addr_format_host(sa(&a), buf, sizeof(buf)), "2001:db8::7");
	a = parse_ok("192.0.2.10:1234");
	assert_string_equal(addr_format_host(sa(&a), buf, sizeof(buf)), "192.0.2.10");
}

static void test_format_unknown_family(void **state)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN];

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_string_equal(addr_format_host((struct sockaddr *)&ss, buf, sizeof(buf)), "?");
	assert_int_equal(addr_port((struct sockaddr *)&ss), 0);
}

static void test_format_truncates(void **state)
{
	struct addr a = parse_ok("[2001:db8:1:2:3:4:5:6]:65535");
	char buf[12];

	memset(buf, 'X', sizeof(buf));
	addr_format(sa(&a), buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

static void test_same_host(void **state)
{
	struct addr a = parse_ok("192.0.2.1:1000");
	struct addr b = parse_ok("192.0.2.1:2000");
	struct addr c = parse_ok("192.0.2.2:1000");
	struct addr d = parse_ok("[::1]:1000");
	struct addr e = parse_ok("[::1]:1000");
	struct addr mapped = parse_ok("[::ffff:192.0.2.1]:1000");

	assert_true(addr_same_host(sa(&a), sa(&b)));
	assert_false(addr_same(sa(&a), sa(&b)));
	assert_false(addr_same_host(sa(&a), sa(&c)));
	assert_false(addr_same_host(sa(&a), sa(&d)));
	assert_true(addr_same(sa(&d), sa(&e)));
	assert_false(addr_same_host(sa(&a), sa(&mapped)));
}

static void test_hash(void **state)
{
	struct addr a = parse_ok("192.0.2.1:1000");
	struct addr b = parse_ok("192.0.2.1:2000");
	struct addr c = parse_ok("[2001:db8::1]:1000");
	struct addr d = parse_ok("[2001:db8::1]:1000");

	/* equal keys hash equally: the per-peer table finds a peer whatever its port */
	assert_int_equal(addr_hash(sa(&a), false), addr_hash(sa(&b), false));
	assert_true(addr_hash(sa(&a), true) != addr_hash(sa(&b), true));
	assert_int_equal(addr_hash(sa(&c), true), addr_hash(sa(&d), true));
}

static void assert_prefix(const char *in, unsigned v4, unsigned v6, const char *want)
{
	struct addr a = parse_ok(in);
	struct sockaddr_storage p;
	char buf[ADDR_STRLEN];

	assert_int_equal(addr_prefix_mask(sa(&a), v4, v6, &p), 0);
	assert_string_equal(addr_format((struct sockaddr *)&p, buf, sizeof(buf)), want);
}

/* Per-prefix limits count 10.1.2.3 and 10.1.2.200 together, 10.1.3.1 apart. */
static void test_prefix(void **state)
{
	struct addr a = parse_ok("10.1.2.3:69"), b = parse_ok("10.1.2.200:1024");
	struct addr c = parse_ok("10.1.3.1:69");
	struct sockaddr_storage pa, pb, pc;
	struct sockaddr unknown = { .sa_family = AF_UNIX };

	assert_prefix("10.1.2.3:69", 24, 64, "10.1.2.0:0");
	assert_prefix("10.1.2.3:69", 32, 64, "10.1.2.3:0");
	assert_prefix("10.1.2.255:69", 20, 64, "10.1.0.0:0");
	assert_prefix("10.1.2.255:69", 8, 64, "10.0.0.0:0");
	assert_prefix("[2001:db8:1:2:3:4:5:6]:69", 24, 64, "[2001:db8:1:2::]:0");
	assert_prefix("[2001:db8:1:2:3:4:5:6]:69", 24, 48, "[2001:db8:1::]:0");
	assert_prefix("[2001:db8:1:2:3:4:5:6]:69", 24, 128, "[2001:db8:1:2:3:4:5:6]:0");
	assert_prefix("[2001:db8:1:2:3:4:5:6]:69", 24, 60, "[2001:db8:1::]:0");
	/* an IPv4 peer of a dual-stack socket: its /24 */
	assert_prefix("[::ffff:10.1.2.3]:69", 24, 64, "[::ffff:10.1.2.0]:0");
	assert_prefix("192.0.2.77:80", 0, 64, "0.0.0.0:0");
	assert_prefix("[2001:db8:1:2:3:4:5:6]:443", 24, 56, "[2001:db8:1::]:0");
	assert_int_equal(addr_prefix_mask(&unknown, 24, 64, &pa), -EAFNOSUPPORT);
	(void)addr_prefix_mask(sa(&a), 24, 64, &pa);
	(void)addr_prefix_mask(sa(&b), 24, 64, &pb);
	(void)addr_prefix_mask(sa(&c), 24, 64, &pc);
	assert_true(addr_same_host((struct sockaddr *)&pa, (struct sockaddr *)&pb));
	assert_false(addr_same_host((struct sockaddr *)&pa, (struct sockaddr *)&pc));
	assert_int_equal(addr_hash((struct sockaddr *)&pa, false),
			 addr_hash((struct sockaddr *)&pb, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_host),
		cmocka_unit_test(test_format_unknown_family),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_same_host),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
