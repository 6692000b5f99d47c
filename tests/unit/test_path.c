// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/core/path.c: what a requested name becomes below files/, and which
 * names are refused (traversal, control characters, too long, nothing left).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/path.h"

#define MAXLEN 255

/* Normalises a NUL-terminated name with the defaults the server uses. */
static int norm(const char *name, const char *prefix, char *ret, size_t retsz)
{
	return path_normalise(name, strlen(name), prefix, MAXLEN, ret, retsz);
}

static void assert_norm(const char *name, const char *prefix, const char *expect)
{
	char out[512];

	memset(out, 'X', sizeof(out));
	if (norm(name, prefix, out, sizeof(out)) != 0)
		fail_msg("'%s' (prefix '%s') was refused", name, prefix ? prefix : "(null)");
	assert_string_equal(out, expect);
}

static void assert_refused(const char *name, int err)
{
	char out[512];

	assert_int_equal(norm(name, NULL, out, sizeof(out)), err);
	assert_int_equal(norm(name, "tftpboot", out, sizeof(out)), err);
}

static void test_plain_names(void **state)
{
	assert_norm("a.cfg", NULL, "a.cfg");
	assert_norm("dir/sub/a.cfg", NULL, "dir/sub/a.cfg");
	assert_norm("SEP001122334455.cnf.xml", NULL, "SEP001122334455.cnf.xml");
	/* bytes above 0x7f (UTF-8 names) are not control characters */
	assert_norm("caf\xc3\xa9.cfg", NULL, "caf\xc3\xa9.cfg");
	assert_norm("name with spaces", NULL, "name with spaces");
}

static void test_leading_slashes(void **state)
{
	assert_norm("/a.cfg", NULL, "a.cfg");
	assert_norm("///a.cfg", NULL, "a.cfg");
	assert_norm("\\a.cfg", NULL, "a.cfg");
	assert_norm("/\\/dir/a.cfg", NULL, "dir/a.cfg");
}

static void test_backslashes(void **state)
{
	assert_norm("dir\\sub\\a.cfg", NULL, "dir/sub/a.cfg");
	assert_norm("dir\\/sub/\\a.cfg", NULL, "dir/sub/a.cfg");
}

static void test_dot_and_empty_components(void **state)
{
	assert_norm("./a.cfg", NULL, "a.cfg");
	assert_norm("a//b", NULL, "a/b");
	assert_norm("a/./b/.", NULL, "a/b");
	assert_norm("a/b/", NULL, "a/b");
	assert_norm(".\\.\\a", NULL, "a");
}

static void test_dotdot_refused(void **state)
{
	static const char *const names[] = {
		"..",	 "../x",   "a/..",	   "a/../b",	    "a/../../x", "..\\x",
		"a\\..", "/../x",  "\\..\\x",	   "a/./../b",	    "a//..//b",	 "x/y/z/../../..",
		"../",	 "./../x", "a\\..\\..\\x", "../etc/passwd",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_refused(names[i], -EACCES);
}

static void test_dots_that_are_names(void **state)
{
	assert_norm("...", NULL, "...");
	assert_norm("..a", NULL, "..a");
	assert_norm("a..", NULL, "a..");
	assert_norm(".hidden", NULL, ".hidden");
	assert_norm("a/.../b", NULL, "a/.../b");
	assert_norm("...\\..a", NULL, ".../..a");
}

static void test_control_characters_refused(void **state)
{
	static const char *const names[] = { "a\nb",	     "a\rb",  "a\tb", "\x01",
					     "a\x1f",	     "a\x7f", "\x7f", "dir/\x1b[31m.cfg",
					     "\x08\x08\x08x" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_refused(names[i], -EACCES);
}

static void test_nul_inside_name_refused(void **state)
{
	char out[64];

	/* the name is counted: a NUL inside it is a byte the peer sent, not an end */
	assert_int_equal(path_normalise("a.cfg\0.txt", 10, NULL, MAXLEN, out, sizeof(out)),
			 -EACCES);
	assert_int_equal(path_normalise("a.cfg\0", 6, NULL, MAXLEN, out, sizeof(out)), -EACCES);
	assert_int_equal(path_normalise("\0", 1, NULL, MAXLEN, out, sizeof(out)), -EACCES);
	/* bytes after len are not looked at */
	assert_int_equal(path_normalise("a.cfg\n", 5, NULL, MAXLEN, out, sizeof(out)), 0);
	assert_string_equal(out, "a.cfg");
}

static void test_maxlen(void **state)
{
	char name[MAXLEN + 2], out[512];

	memset(name, 'a', sizeof(name));
	assert_int_equal(path_normalise(name, MAXLEN, NULL, MAXLEN, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), MAXLEN);
	assert_int_equal(path_normalise(name, MAXLEN + 1, NULL, MAXLEN, out, sizeof(out)),
			 -ENAMETOOLONG);
	/* the limit is on what the peer sent, slashes and dots included */
	memset(name, '/', 250);
	assert_int_equal(path_normalise(name, MAXLEN + 1, NULL, MAXLEN, out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(path_normalise("abc", 3, NULL, 2, out, sizeof(out)), -ENAMETOOLONG);
}

static void test_result_must_fit(void **state)
{
	char out[16];

	memset(out, 'X', sizeof(out));
	assert_int_equal(norm("abcd", NULL, out, 5), 0);
	assert_string_equal(out, "abcd");
	assert_int_equal(norm("abcd", NULL, out, 4), -ENAMETOOLONG);
	assert_int_equal(norm("ab/cd", NULL, out, 6), 0);
	assert_string_equal(out, "ab/cd");
	assert_int_equal(norm("ab/cd", NULL, out, 5), -ENAMETOOLONG);
	assert_int_equal(norm("a", NULL, out, 1), -ENAMETOOLONG);
	assert_int_equal(norm("a", NULL, out, 0), -ENAMETOOLONG);
	/* dropped slashes and dots do not count against the room */
	memset(out, 'X', sizeof(out));
	assert_int_equal(norm("//./a//./", NULL, out, 2), 0);
	assert_string_equal(out, "a");
	assert_int_equal(out[2], 'X');
}

static void test_nothing_left(void **state)
{
	static const char *const names[] = { "", "/", "./", ".", "\\", "//./\\.", "./././" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_refused(names[i], -ENOENT);
}

static void test_prefix_stripped(void **state)
{
	assert_norm("tftpboot/a.cfg", "tftpboot", "a.cfg");
	assert_norm("/tftpboot/a.cfg", "tftpboot", "a.cfg");
	assert_norm("tftpboot\\a.cfg", "tftpboot", "a.cfg");
	assert_norm("./tftpboot//dir/a.cfg", "tftpboot", "dir/a.cfg");
	assert_norm("boot/pxe/a.cfg", "boot/pxe", "a.cfg");
	assert_norm("boot\\pxe\\a.cfg", "boot/pxe", "a.cfg");
	/* once only */
	assert_norm("tftpboot/tftpboot/a.cfg", "tftpboot", "tftpboot/a.cfg");
}

static void test_prefix_not_stripped(void **state)
{
	/* only a whole leading component matches */
	assert_norm("tftpbootx/a", "tftpboot", "tftpbootx/a");
	assert_norm("tftp/a", "tftpboot", "tftp/a");
	assert_norm("a.cfg", "tftpboot", "a.cfg");
	assert_norm("x/tftpboot/a.cfg", "tftpboot", "x/tftpboot/a.cfg");
	assert_norm("TFTPBOOT/a.cfg", "tftpboot", "TFTPBOOT/a.cfg");
	assert_norm("boot/pxe2/a.cfg", "boot/pxe", "boot/pxe2/a.cfg");
	/* NULL and "" mean no prefix */
	assert_norm("tftpboot/a.cfg", NULL, "tftpboot/a.cfg");
	assert_norm("tftpboot/a.cfg", "", "tftpboot/a.cfg");
}

static void test_prefix_alone(void **state)
{
	/*
	 * The prefix is a leading directory: a name that is only the prefix names a file or
	 * directory of that name below files/, and is left as it is.
	 */
	assert_norm("tftpboot", "tftpboot", "tftpboot");
	assert_norm("/tftpboot/", "tftpboot", "tftpboot");
	assert_norm("tftpboot/.", "tftpboot", "tftpboot");
}

static void test_prefix_does_not_hide_traversal(void **state)
{
	char out[64];

	assert_int_equal(norm("tftpboot/../x", "tftpboot", out, sizeof(out)), -EACCES);
	assert_int_equal(norm("tftpboot/../../etc/passwd", "tftpboot", out, sizeof(out)), -EACCES);
}

static void test_percent_encoding_is_literal(void **state)
{
	/* TFTP has no URL encoding: "%2e%2e" is a name, not ".." */
	assert_norm("%2e%2e", NULL, "%2e%2e");
	assert_norm("%2e%2e/x", NULL, "%2e%2e/x");
	assert_norm("%2E%2E%2Fetc%2Fpasswd", NULL, "%2E%2E%2Fetc%2Fpasswd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names),
		cmocka_unit_test(test_leading_slashes),
		cmocka_unit_test(test_backslashes),
		cmocka_unit_test(test_dot_and_empty_components),
		cmocka_unit_test(test_dotdot_refused),
		cmocka_unit_test(test_dots_that_are_names),
		cmocka_unit_test(test_control_characters_refused),
		cmocka_unit_test(test_nul_inside_name_refused),
		cmocka_unit_test(test_maxlen),
		cmocka_unit_test(test_result_must_fit),
		cmocka_unit_test(test_nothing_left),
		cmocka_unit_test(test_prefix_stripped),
		cmocka_unit_test(test_prefix_not_stripped),
		cmocka_unit_test(test_prefix_alone),
		cmocka_unit_test(test_prefix_does_not_hide_traversal),
		cmocka_unit_test(test_percent_encoding_is_literal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
