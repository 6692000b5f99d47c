// SPDX-License-Identifier: MIT
/* Byte ranges, entity tags and content types as the HTTP server reads and writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/http_parse.h"

static void assert_range(const char *h, uint64_t size, int expect, uint64_t first, uint64_t last)
{
	uint64_t a = 12345, b = 67890;

	assert_int_equal(http_parse_range(h, size, &a, &b), expect);
	if (expect == 1) {
		assert_true(a == first);
		assert_true(b == last);
	}
}

static void test_ranges(void **state)
{
	assert_range("bytes=0-9", 100, 1, 0, 9);
	assert_range("bytes=10-19", 100, 1, 10, 19);
	assert_range("bytes=90-", 100, 1, 90, 99);
	assert_range("bytes=90-200", 100, 1, 90, 99); /* clipped to the end */
	assert_range("bytes=-10", 100, 1, 90, 99);
	assert_range("bytes=-200", 100, 1, 0, 99); /* more than the file: all of it */
	assert_range("bytes=99-99", 100, 1, 99, 99);
	assert_range("BYTES=0-0", 100, 1, 0, 0);
	/* unsatisfiable */
	assert_range("bytes=100-", 100, -1, 0, 0);
	assert_range("bytes=100-200", 100, -1, 0, 0);
	assert_range("bytes=0-", 0, -1, 0, 0);
	assert_range("bytes=-1", 0, -1, 0, 0);
	/* the whole file: none, malformed, several */
	assert_range(NULL, 100, 0, 0, 0);
	assert_range("", 100, 0, 0, 0);
	assert_range("items=0-9", 100, 0, 0, 0);
	assert_range("bytes=", 100, 0, 0, 0);
	assert_range("bytes=-", 100, 0, 0, 0);
	assert_range("bytes=9-0", 100, 0, 0, 0);
	assert_range("bytes=a-9", 100, 0, 0, 0);
	assert_range("bytes=0-9,20-29", 100, 0, 0, 0);
	assert_range("bytes=-0", 100, 0, 0, 0);
	assert_range("bytes=99999999999999999999-", 100, 0, 0, 0);
}

static void test_etags(void **state)
{
	const char *etag = "\"0123abcd\"";

	assert_true(http_etag_matches("\"0123abcd\"", etag));
	assert_true(http_etag_matches("W/\"0123abcd\"", etag));
	assert_true(http_etag_matches("\"x\", \"0123abcd\"", etag));
	assert_true(http_etag_matches("*", etag));
	assert_false(http_etag_matches("\"0123abc\"", etag));
	assert_false(http_etag_matches("\"0123abcde\"", etag));
	assert_false(http_etag_matches("0123abcd", etag));
	assert_false(http_etag_matches("", etag));
	assert_false(http_etag_matches(",,, ", etag));
}

static void test_content_types(void **state)
{
	assert_string_equal(http_content_type("a/b/cfg0004f2abcdef.xml"), "application/xml");
	assert_string_equal(http_content_type("algom0022EE010203.conf"), "text/plain");
	assert_string_equal(http_content_type("x.CFG"), "text/plain");
	assert_string_equal(http_content_type("algop8188-tones.zip"), "application/zip");
	assert_string_equal(http_content_type("algo-8188-5.4f.sfw"), "application/octet-stream");
	assert_string_equal(http_content_type("noext"), "application/octet-stream");
	assert_string_equal(http_content_type("dir.xml/file"), "application/octet-stream");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_etags),
		cmocka_unit_test(test_content_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
