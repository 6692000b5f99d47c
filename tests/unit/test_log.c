// SPDX-License-Identifier: MIT
/*
 * Unit tests for log_escape() in src/core/log.c: what a peer-sent name looks like in the
 * log, so that no byte a client sends can forge a log line or a terminal escape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"

static const char *escape(char *dst, size_t dstsz, const char *src, size_t len)
{
	memset(dst, 'X', dstsz);
	assert_ptr_equal(log_escape(dst, dstsz, src, len), dst);
	return dst;
}

static void test_printable_kept(void **state)
{
	char out[128];

	assert_string_equal(escape(out, sizeof(out), "SEP0011.cnf.xml", 15), "SEP0011.cnf.xml");
	assert_string_equal(escape(out, sizeof(out), "a b/c~!", 7), "a b/c~!");
	assert_string_equal(escape(out, sizeof(out), "", 0), "");
}

static void test_quotes_and_backslash(void **state)
{
	char out[128];

	assert_string_equal(escape(out, sizeof(out), "a\"b", 3), "a\\\"b");
	assert_string_equal(escape(out, sizeof(out), "dir\\file", 8), "dir\\\\file");
	assert_string_equal(escape(out, sizeof(out), "'", 1), "'");
}

static void test_control_bytes(void **state)
{
	char out[128];

	assert_string_equal(escape(out, sizeof(out), "a\nb", 3), "a\\x0ab");
	assert_string_equal(escape(out, sizeof(out), "\r\t\x1b[2J", 6), "\\x0d\\x09\\x1b[2J");
	assert_string_equal(escape(out, sizeof(out), "\x7f\x80\xff", 3), "\\x7f\\x80\\xff");
	/* a NUL inside the counted bytes is shown, not taken as the end */
	assert_string_equal(escape(out, sizeof(out), "a\0b", 3), "a\\x00b");
}

static void test_forged_log_line(void **state)
{
	static const char name[] = "x.cfg\n2024-01-01T00:00:00.000 info tftp: fake";
	char out[256];

	escape(out, sizeof(out), name, sizeof(name) - 1);
	assert_null(strchr(out, '\n'));
	assert_non_null(strstr(out, "x.cfg\\x0a2024"));
}

static void test_truncated(void **state)
{
	char src[100], out[10];

	memset(src, 'a', sizeof(src));
	escape(out, sizeof(out), src, sizeof(src));
	assert_string_equal(out, "aaaaaa...");
}

/* Length of the escaped form of one byte, as log.h describes it. */
static size_t escaped_len(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return c >= 0x20 && c < 0x7f ? 1 : 4;
}

static void test_truncated_never_splits_an_escape(void **state)
{
	static const char src[] = "ab\x01\"\\cd\xfe\nef";
	char full[128], out[64];

	escape(full, sizeof(full), src, sizeof(src) - 1);
	for (size_t sz = 1; sz < sizeof(out); sz++) {
		size_t n, kept, boundary = 0;

		escape(out, sz, src, sizeof(src) - 1);
		n = strlen(out);
		assert_true(n < sz);
		if (strcmp(out, full) == 0)
			continue;
		if (sz < 4) {
			assert_string_equal(out, "");
			continue;
		}
		/* cut: a prefix of the full text, then "..." */
		assert_true(n >= 3);
		assert_string_equal(out + n - 3, "...");
		kept = n - 3;
		assert_memory_equal(out, full, kept);
		/* and the prefix ends where the escape of some byte ends */
		for (size_t i = 0; i < sizeof(src) - 1 && boundary < kept; i++)
			boundary += escaped_len((unsigned char)src[i]);
		assert_int_equal(boundary, kept);
	}
}

static void test_small_buffers(void **state)
{
	char out[8];

	/* always NUL-terminated, never written past dstsz */
	for (size_t sz = 1; sz <= 3; sz++) {
		memset(out, 'X', sizeof(out));
		escape(out, sz, "abcdef", 6);
		assert_string_equal(out, "");
		assert_int_equal(out[sz], 'X');
	}
	memset(out, 'X', sizeof(out));
	escape(out, 4, "abcdef", 6);
	assert_string_equal(out, "...");
	assert_int_equal(out[4], 'X');
	memset(out, 'X', sizeof(out));
	escape(out, 5, "abcdef", 6);
	assert_string_equal(out, "a...");
	assert_int_equal(out[5], 'X');
	memset(out, 'X', sizeof(out));
	escape(out, 5, "\n\n", 2);
	assert_string_equal(out, "...");
	assert_int_equal(out[5], 'X');
	/* dstsz 0: nothing written at all */
	memset(out, 'X', sizeof(out));
	assert_ptr_equal(log_escape(out, 0, "abc", 3), out);
	assert_int_equal(out[0], 'X');
}

static void test_exact_fit(void **state)
{
	char out[8];

	/* log.h: "a result that does not fit ends in ...". "abcd" needs 5 bytes and gets 5. */
	escape(out, 5, "abcd", 4);
	assert_string_equal(out, "abcd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable_kept),
		cmocka_unit_test(test_quotes_and_backslash),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_forged_log_line),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_truncated_never_splits_an_escape),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_exact_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
