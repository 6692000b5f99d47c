// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/core/mac.c: every spelling of a MAC an administrator may paste is
 * accepted and canonicalised, and every near miss is refused with the reason that points at
 * the typo, leaving the output untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mac.h"

static void assert_parses(const char *s, const char *want)
{
	char out[MAC_LEN + 1];
	const char *why = "untouched";

	if (mac_parse(s, out, &why) != 0)
		fail_msg("'%s' refused: %s", s, why);
	assert_string_equal(out, want);
	assert_string_equal(why, "untouched");
}

static void assert_refused(const char *s, const char *reason)
{
	char out[MAC_LEN + 1] = "untouched!!!";
	const char *why = NULL;

	if (mac_parse(s, out, &why) != -EINVAL)
		fail_msg("'%s' accepted as %s", s, out);
	assert_non_null(why);
	if (strcmp(why, reason) != 0)
		fail_msg("'%s': reason '%s', expected '%s'", s, why, reason);
	assert_string_equal(out, "untouched!!!");
}

static void test_forms(void **state)
{
	assert_parses("00:22:ee:01:02:03", "0022ee010203");
	assert_parses("00:22:EE:01:02:03", "0022ee010203");
	assert_parses("00-22-EE-01-02-03", "0022ee010203");
	assert_parses("00-22-ee-01-02-03", "0022ee010203");
	assert_parses("0022.ee01.0203", "0022ee010203");
	assert_parses("0022.EE01.0203", "0022ee010203");
	assert_parses("0022EE010203", "0022ee010203");
	assert_parses("0022ee010203", "0022ee010203");
}

static void test_mixed_case_and_all_digits(void **state)
{
	assert_parses("aA:bB:cC:dD:eE:fF", "aabbccddeeff");
	assert_parses("AbCdEf012345", "abcdef012345");
	assert_parses("ff:ff:ff:ff:ff:ff", "ffffffffffff");
	assert_parses("00:00:00:00:00:00", "000000000000");
	assert_parses("0123.4567.89ab", "0123456789ab");
	assert_parses("01-23-45-67-89-AB", "0123456789ab");
}

static void test_null_why_allowed(void **state)
{
	char out[MAC_LEN + 1];

	assert_int_equal(mac_parse("xyz", out, NULL), -EINVAL);
	assert_int_equal(mac_parse("00:22:ee:01:02:03", out, NULL), 0);
	assert_string_equal(out, "0022ee010203");
}

static void test_wrong_count(void **state)
{
	assert_refused("", "0 hex digits, 12 expected");
	assert_refused("0", "1 hex digit, 12 expected");
	assert_refused("xyz", "3 hex digits, 12 expected");
	assert_refused("0022ee01020", "11 hex digits, 12 expected");
	assert_refused("0022ee0102030", "13 hex digits, 12 expected");
	assert_refused("00:22:ee:01:02", "10 hex digits, 12 expected");
	assert_refused("00:22:ee:01:02:03:04", "14 hex digits, 12 expected");
	assert_refused("0022.ee01.020", "11 hex digits, 12 expected");
	assert_refused("0022.ee01.0203.0405", "16 hex digits, 12 expected");
	assert_refused(":::::", "0 hex digits, 12 expected");
	assert_refused("00:22:ee:01:02:03 ", "13 hex digits, 12 expected");
	assert_refused(" 0022ee010203", "13 hex digits, 12 expected");
	/* the U+FF10 fullwidth digit is three bytes: counted as such */
	assert_refused("\xef\xbc\x90"
		       "022ee010203",
		       "14 hex digits, 12 expected");
}

static void test_bad_digit(void **state)
{
	assert_refused("0022ee01020g", "'g' is not a hex digit");
	assert_refused("00:22:ee:01:02:0G", "'G' is not a hex digit");
	assert_refused("x0-22-ee-01-02-03", "'x' is not a hex digit");
	assert_refused("0022 ee01020", "'\\x20' is not a hex digit");
	assert_refused("0022_ee01020", "'_' is not a hex digit");
	assert_refused("0022ee01020\t", "'\\x09' is not a hex digit");
	assert_refused("0022ee01020\xff", "'\\xff' is not a hex digit");
	assert_refused("0x22ee010203", "'x' is not a hex digit");
}

static void test_mixed_separators(void **state)
{
	assert_refused("00:22-ee:01:02:03", "mixed separators");
	assert_refused("00-22-ee-01-02:03", "mixed separators");
	assert_refused("0022.ee01-0203", "mixed separators");
	assert_refused("00:22:ee:01:02.03", "mixed separators");
	/* mixed separators are named even when the count is off too */
	assert_refused("00:22-ee", "mixed separators");
}

static void test_misplaced_separator(void **state)
{
	assert_refused("002:2ee:010:203", "misplaced separator");
	assert_refused("0022:ee01:0203", "misplaced separator");
	assert_refused("0022-ee01-0203", "misplaced separator");
	assert_refused("00.22.ee.01.02.03", "misplaced separator");
	assert_refused("00:22:ee:01:02:03:", "misplaced separator");
	assert_refused(":00:22:ee:01:02:03", "misplaced separator");
	assert_refused("00::22:ee:01:0203", "misplaced separator");
	assert_refused("0022ee:010203", "misplaced separator");
	assert_refused("0022.ee010203", "misplaced separator");
	assert_refused("0022ee01.0203", "misplaced separator");
	assert_refused("00220.ee01.203", "misplaced separator");
	assert_refused(".0022.ee01.0203", "misplaced separator");
	assert_refused("0022.ee01.0203.", "misplaced separator");
	assert_refused("0:22:ee:01:02:030", "misplaced separator");
}

static void test_formatting(void **state)
{
	char upper[MAC_LEN + 1], colons[MAC_LEN + 5 + 1];

	mac_upper("0022ee0a0b0c", upper);
	assert_string_equal(upper, "0022EE0A0B0C");
	mac_colons("0022ee0a0b0c", colons);
	assert_string_equal(colons, "00:22:ee:0a:0b:0c");
	mac_upper("0123456789ab", upper);
	assert_string_equal(upper, "0123456789AB");
	mac_colons("abcdefabcdef", colons);
	assert_string_equal(colons, "ab:cd:ef:ab:cd:ef");
}

static void test_round_trip(void **state)
{
	char out[MAC_LEN + 1], colons[MAC_LEN + 5 + 1], upper[MAC_LEN + 1];

	/* each formatted form parses back to the canonical one */
	mac_colons("00a0b1c2d3e4", colons);
	assert_int_equal(mac_parse(colons, out, NULL), 0);
	assert_string_equal(out, "00a0b1c2d3e4");
	mac_upper("00a0b1c2d3e4", upper);
	assert_int_equal(mac_parse(upper, out, NULL), 0);
	assert_string_equal(out, "00a0b1c2d3e4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_mixed_case_and_all_digits),
		cmocka_unit_test(test_null_why_allowed),
		cmocka_unit_test(test_wrong_count),
		cmocka_unit_test(test_bad_digit),
		cmocka_unit_test(test_mixed_separators),
		cmocka_unit_test(test_misplaced_separator),
		cmocka_unit_test(test_formatting),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
