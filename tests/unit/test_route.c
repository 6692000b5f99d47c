// SPDX-License-Identifier: MIT
/* Route patterns: compiling, matching, binding, and the order routes are tried in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "site/route.h"

static struct route *compile_ok(const char *pattern)
{
	struct route *r = NULL;
	char err[128];

	assert_int_equal(route_compile(pattern, &r, err, sizeof(err)), 0);
	return r;
}

static void assert_refused(const char *pattern, const char *why)
{
	struct route *r = NULL;
	char err[128] = "";

	assert_int_equal(route_compile(pattern, &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	if (!strstr(err, why))
		fail_msg("'%s': error '%s' does not mention '%s'", pattern, err, why);
}

static void test_mac_upper(void **state)
{
	struct route *r = compile_ok("algom{MAC}.conf");
	struct route_match m;

	assert_true(route_match(r, "algom0022EE010203.conf", &m));
	assert_true(m.has_mac);
	assert_string_equal(m.mac, "0022ee010203"); /* canonical */
	/* case-sensitive, exactly 12 digits, nothing around */
	assert_false(route_match(r, "algom0022ee010203.conf", &m));
	assert_false(route_match(r, "algom0022EE01020.conf", &m));
	assert_false(route_match(r, "algom0022EE0102033.conf", &m));
	assert_false(route_match(r, "algom0022EE010203-i.conf", &m));
	assert_false(route_match(r, "Algom0022EE010203.conf", &m));
	assert_false(route_match(r, "algom0022EG010203.conf", &m));
	assert_false(route_match(r, "x/algom0022EE010203.conf", &m));
	route_free(r);
}

static void test_mac_lower(void **state)
{
	struct route *r = compile_ok("{mac}.boot");
	struct route_match m;

	assert_true(route_match(r, "0022ee0a0b0c.boot", &m));
	assert_string_equal(m.mac, "0022ee0a0b0c");
	assert_false(route_match(r, "0022EE0A0B0C.boot", &m));
	assert_false(route_match(r, "y000000000000.boot", &m));
	assert_false(route_match(r, "0022ee0a0b0c.boot.md5", &m));
	route_free(r);
}

static void test_segments(void **state)
{
	struct route *r = compile_ok("{model}/{mac}.cfg");
	struct route_match m;

	assert_true(route_match(r, "T46S/0022ee0a0b0c.cfg", &m));
	assert_int_equal(m.nvars, 1);
	assert_string_equal(m.vars[0].name, "model");
	assert_string_equal(m.vars[0].value, "T46S");
	/* one segment: never empty, never across '/' */
	assert_false(route_match(r, "/0022ee0a0b0c.cfg", &m));
	assert_false(route_match(r, "a/b/0022ee0a0b0c.cfg", &m));
	route_free(r);

	r = compile_ok("audiocodes/{model}.cfg");
	assert_true(route_match(r, "audiocodes/400HD.cfg", &m));
	assert_string_equal(m.vars[0].value, "400HD");
	assert_false(m.has_mac);
	/* the longest segment that lets the rest match */
	assert_true(route_match(r, "audiocodes/a.b.cfg", &m));
	assert_string_equal(m.vars[0].value, "a.b");
	route_free(r);

	r = compile_ok("cfg{mac}.xml");
	assert_true(route_match(r, "cfg0004f2abcdef.xml", &m));
	route_free(r);
}

static void test_literal_only(void **state)
{
	struct route *r = compile_ok("panasonic/initial.cfg");
	struct route_match m;

	assert_true(route_match(r, "panasonic/initial.cfg", &m));
	assert_false(m.has_mac);
	assert_int_equal(m.nvars, 0);
	assert_false(route_match(r, "panasonic/initial.cfgx", &m));
	assert_int_equal(route_literal_len(r), strlen("panasonic/initial.cfg"));
	route_free(r);
}

static void test_literal_len_orders(void **state)
{
	struct route *a = compile_ok("algom{MAC}-i.conf");
	struct route *b = compile_ok("algom{MAC}.conf");
	struct route *c = compile_ok("{name}.conf");

	assert_true(route_literal_len(a) > route_literal_len(b));
	assert_true(route_literal_len(b) > route_literal_len(c));
	assert_true(route_has_mac(a));
	assert_false(route_has_mac(c));
	route_free(a);
	route_free(b);
	route_free(c);
}

static void test_refused(void **state)
{
	assert_refused("algom{MAC.conf", "unclosed");
	assert_refused("{}.cfg", "not a variable");
	assert_refused("{a/b}.cfg", "not a variable");
	assert_refused("{MAC}-{mac}.cfg", "more than one MAC");
	assert_refused("{a}{b}.cfg", "side by side");
	assert_refused("{a}.{b}.{c}.{d}.{e}.{f}.{g}.{h}.{i}", "more than");
}

static void test_hostile_path_bounded(void **state)
{
	/* many segment variables against a long path that never matches: bounded work */
	struct route *r = compile_ok("{a}x{b}x{c}x{d}x{e}x{f}x{g}y");
	char path[250];
	struct route_match m;

	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_false(route_match(r, path, &m));
	route_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_upper),
		cmocka_unit_test(test_mac_lower),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_literal_only),
		cmocka_unit_test(test_literal_len_orders),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_hostile_path_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
