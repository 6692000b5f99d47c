// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/core/str.c: the range-checked number, size and boolean parsers that
 * every configuration value and TFTP option goes through, and str_copy's truncation.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/str.h"

/* Marks an output parameter so a test can see that a failed call left it alone. */
#define UNTOUCHED 0xdeadbeefcafef00dull

static void test_u64_in_range(void **state)
{
	uint64_t v;

	assert_int_equal(str_to_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(str_to_u64("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(str_to_u64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(str_to_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_u64_out_of_range(void **state)
{
	uint64_t v = UNTOUCHED;

	assert_int_equal(str_to_u64("7", 8, 100, &v), -ERANGE);
	assert_int_equal(str_to_u64("101", 8, 100, &v), -ERANGE);
	assert_int_equal(str_to_u64("65536", 0, 65535, &v), -ERANGE);
	assert_true(v == UNTOUCHED);
}

static void test_u64_overflow(void **state)
{
	uint64_t v = UNTOUCHED;

	/* UINT64_MAX + 1, and far beyond: an error, never a wrapped value */
	assert_int_equal(str_to_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_u64("99999999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_u64("36893488147419103232", 0, UINT64_MAX, &v), -ERANGE); /* 2^65 */
	assert_true(v == UNTOUCHED);
}

static void test_u64_not_a_number(void **state)
{
	static const char *const bad[] = { "",	 " ",  "-1",   "+1",  " 1",  "1 ",
					   "1x", "x1", "0x10", "1.5", "1e3", "\xef\xbc\x91" };
	uint64_t v = UNTOUCHED;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(str_to_u64(bad[i], 0, UINT64_MAX, &v), -EINVAL);
	assert_true(v == UNTOUCHED);
}

static void test_u64_counted(void **state)
{
	uint64_t v;

	/* only the first len bytes count: the rest of the buffer is not looked at */
	assert_int_equal(str_to_u64_n("1234xyz", 4, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(str_to_u64_n("12", 0, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(str_to_u64_n("1\0"
				      "2",
				      3, 0, UINT64_MAX, &v),
			 -EINVAL);
}

static void test_size_suffixes(void **state)
{
	uint64_t v;

	assert_int_equal(str_to_size("1000", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(str_to_size("4K", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(str_to_size("4k", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(str_to_size("64M", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(str_to_size("1g", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(str_to_size("0G", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
}

static void test_size_bad(void **state)
{
	static const char *const bad[] = { "",	  "K",	"M",   "1T",   "1KB",
					   "1 K", "K1", "-1K", "1.5G", "1KK" };
	uint64_t v = UNTOUCHED;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(str_to_size(bad[i], 0, UINT64_MAX, &v), -EINVAL);
	assert_true(v == UNTOUCHED);
}

static void test_size_range_and_overflow(void **state)
{
	uint64_t v = UNTOUCHED;

	/* the range applies to the value after the suffix */
	assert_int_equal(str_to_size("2G", 0, 1ull << 30, &v), -ERANGE);
	assert_int_equal(str_to_size("1025M", 0, 1ull << 30, &v), -ERANGE);
	assert_int_equal(str_to_size("1K", 2048, UINT64_MAX, &v), -ERANGE);
	/* 2^34 G = 2^64: does not fit, must not wrap to 0 */
	assert_int_equal(str_to_size("17179869184G", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_size("18014398509481984K", 0, UINT64_MAX, &v), -ERANGE);
	assert_true(v == UNTOUCHED);
	/* the largest that fits */
	assert_int_equal(str_to_size("17179869183G", 0, UINT64_MAX, &v), 0);
	assert_true(v == 17179869183ull << 30);
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "ON", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "Off", "0" };
	static const char *const bad[] = { "", "y", "n", "2", "yes ", " no", "enabled", "nope" };
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(str_to_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(str_to_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = true;
		assert_int_equal(str_to_bool(bad[i], &b), -EINVAL);
		assert_true(b);
	}
}

static void test_copy(void **state)
{
	char buf[8];

	memset(buf, 'X', sizeof(buf));
	assert_int_equal(str_copy(buf, sizeof(buf), "abc"), 0);
	assert_string_equal(buf, "abc");
	/* exactly dstsz-1 characters fit */
	assert_int_equal(str_copy(buf, sizeof(buf), "1234567"), 0);
	assert_string_equal(buf, "1234567");
	assert_int_equal(str_copy(buf, sizeof(buf), ""), 0);
	assert_string_equal(buf, "");
}

static void test_copy_truncates(void **state)
{
	char buf[9];

	/* the destination is 8 bytes; buf[8] is a guard that must survive */
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(str_copy(buf, 8, "12345678"), -ENAMETOOLONG);
	assert_string_equal(buf, "1234567");
	assert_int_equal(buf[8], 'X');
	assert_int_equal(str_copy(buf, 8, "a much longer string"), -ENAMETOOLONG);
	assert_string_equal(buf, "a much ");
	assert_int_equal(buf[8], 'X');
	assert_int_equal(str_copy(buf, 1, "a"), -ENAMETOOLONG);
	assert_string_equal(buf, "");
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(str_copy(buf, 0, "a"), -ENAMETOOLONG);
	assert_int_equal(buf[0], 'X');
}

/* Appends, numbers, and what does not fit cut, always terminated. */
static void test_buf(void **state)
{
	char small[8], big[64];
	struct str_buf b;

	(void)state;
	str_buf_init(&b, big, sizeof(big));
	assert_string_equal(big, "");
	str_buf_add(&b, "peer ");
	str_buf_add(&b, NULL);
	str_buf_add_u64(&b, 0);
	str_buf_add(&b, " ");
	str_buf_add_u64(&b, UINT64_MAX);
	assert_string_equal(big, "peer 0 18446744073709551615");
	assert_int_equal(b.len, strlen(big));

	str_buf_init(&b, small, sizeof(small));
	str_buf_add(&b, "abcd");
	str_buf_add_u64(&b, 123456);
	assert_string_equal(small, "abcd123");
	str_buf_add(&b, "x");
	assert_string_equal(small, "abcd123");
	assert_int_equal(b.len, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_in_range),
		cmocka_unit_test(test_u64_out_of_range),
		cmocka_unit_test(test_u64_overflow),
		cmocka_unit_test(test_u64_not_a_number),
		cmocka_unit_test(test_u64_counted),
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_size_range_and_overflow),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_copy_truncates),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
