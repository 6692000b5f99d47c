// SPDX-License-Identifier: MIT
/*
 * Request heads, target paths, byte ranges, entity tags and content types as the HTTP
 * server reads and writes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

/* Parses text (copied: the parser writes into its buffer) with the default limits. */
static int parse(const char *text, struct http_request *req, char *buf, size_t bufsz)
{
	size_t len = strlen(text);

	assert_true(len < bufsz);
	memcpy(buf, text, len + 1);
	return http_parse_request(buf, len, 8192, 2048, req);
}

static void test_request_heads(void **state)
{
	struct http_request req;
	char buf[16384];
	const char *get = "GET /a/b.cfg?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent:  Phone 1.0 \r\n"
			  "range: bytes=0-1\r\nIf-None-Match: \"x\"\r\n"
			  "If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
			  "Authorization: Basic YTpi\r\n\r\nGET /next";

	assert_int_equal(parse(get, &req, buf, sizeof(buf)), (int)(strstr(get, "GET /next") - get));
	assert_int_equal(req.method, HTTP_GET);
	assert_string_equal(req.target, "/a/b.cfg?x=1");
	assert_int_equal(req.target_len, 12);
	assert_int_equal(req.minor, 1);
	assert_string_equal(req.host, "h");
	assert_string_equal(req.user_agent, "Phone 1.0");
	assert_string_equal(req.range, "bytes=0-1");
	assert_string_equal(req.if_none_match, "\"x\"");
	assert_string_equal(req.authorization, "Basic YTpi");
	assert_non_null(req.if_modified_since);
	assert_true(req.keep_alive);
	assert_false(req.has_body);

	/* LF only, empty lines first, HEAD, 1.0 with and without keep-alive */
	assert_true(parse("\r\n\nHEAD / HTTP/1.0\n\n", &req, buf, sizeof(buf)) > 0);
	assert_int_equal(req.method, HTTP_HEAD);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req, buf,
			  sizeof(buf)) > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &req, buf,
			  sizeof(buf)) > 0);
	assert_false(req.keep_alive);
	assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &req, buf,
			  sizeof(buf)) > 0);
	assert_int_equal(req.method, HTTP_OTHER);
	assert_string_equal(req.method_name, "POST");
	assert_true(req.has_body);
	assert_true(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req, buf,
			  sizeof(buf)) > 0);
	assert_true(req.has_body);
	/* the same Content-Length twice is one */
	assert_true(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", &req,
			  buf, sizeof(buf)) > 0);
	assert_false(req.has_body);
	/* HTTP/1.2 is read as 1.1 would be */
	assert_true(parse("GET / HTTP/1.2\r\n\r\n", &req, buf, sizeof(buf)) > 0);
}

static void test_request_errors(void **state)
{
	static const struct {
		const char *text;
		int expect;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n", 0 },
		{ "GET / HTTP/1.1\r\n\r", 0 },
		{ "", 0 },
		{ "GET / HTTP/2.0\r\n\r\n", -EPROTONOSUPPORT },
		{ "GET / HTTP/0.9\r\n\r\n", -EPROTONOSUPPORT },
		{ "GET /\r\n\r\n", -EINVAL },
		{ "GET  / HTTP/1.1\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1 \r\n\r\n", -EINVAL },
		{ "GET / HTTP/11\r\n\r\n", -EINVAL },
		{ "G(T / HTTP/1.1\r\n\r\n", -EINVAL },
		{ " GET / HTTP/1.1\r\n\r\n", -EINVAL },
		{ "GET /\x01 HTTP/1.1\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nSpace Name: x\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nName : x\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\n: x\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", -EINVAL },
		{ "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", -EINVAL },
	};
	struct http_request req;
	char buf[16384];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].text, &req, buf, sizeof(buf));

		if (r != cases[i].expect)
			fail_msg("case %zu: got %d, want %d", i, r, cases[i].expect);
	}
}

static void test_request_limits(void **state)
{
	struct http_request req;
	static char buf[20000];
	size_t n;

	/* a head over max_head, complete or not */
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: %09000d\r\n\r\n", 0);
	assert_int_equal(http_parse_request(buf, n, 8192, 2048, &req), -EMSGSIZE);
	assert_int_equal(http_parse_request(buf, n - 4, 8192, 2048, &req), -EMSGSIZE);
	assert_true(http_parse_request(buf, n, 16384, 2048, &req) > 0);
	/* a target over max_target, complete or still arriving */
	n = (size_t)snprintf(buf, sizeof(buf), "GET /%03000d HTTP/1.1\r\n\r\n", 0);
	assert_int_equal(http_parse_request(buf, n, 8192, 2048, &req), -ENAMETOOLONG);
	assert_int_equal(http_parse_request(buf, 2500, 8192, 2048, &req), -ENAMETOOLONG);
	assert_int_equal(http_parse_request(buf, 1000, 8192, 2048, &req), 0);
	/* a NUL anywhere in the head */
	n = (size_t)snprintf(buf, sizeof(buf), "GET /a_b HTTP/1.1\r\n\r\n");
	buf[6] = '\0';
	assert_int_equal(http_parse_request(buf, n, 8192, 2048, &req), -EINVAL);
}

static void assert_path(const char *target, int expect, const char *path)
{
	char out[64];
	size_t len = 99;

	assert_int_equal(http_target_path(target, strlen(target), out, sizeof(out), &len), expect);
	if (expect == 0) {
		assert_int_equal(len, strlen(path));
		assert_memory_equal(out, path, len);
	}
}

static void test_target_paths(void **state)
{
	char out[8];
	size_t len;

	assert_path("/a/b.cfg", 0, "/a/b.cfg");
	assert_path("/a%20b?x=%zz#f", 0, "/a b");
	assert_path("/%2e%2E/x", 0, "/../x");
	assert_path("//x", 0, "//x");
	assert_path("http://host:80/p/q?x", 0, "/p/q");
	assert_path("HTTPS://host", 0, "/");
	assert_path("http://host?x", 0, "/");
	assert_path("*", -EINVAL, NULL);
	assert_path("host:80", -EINVAL, NULL);
	assert_path("/a%2", -EINVAL, NULL);
	assert_path("/a%g0", -EINVAL, NULL);
	assert_path("/a%", -EINVAL, NULL);
	assert_int_equal(http_target_path("/a%00b", 6, out, sizeof(out), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "/a\0b", 4);
	assert_int_equal(http_target_path("/abcdefgh", 9, out, sizeof(out), &len), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),	       cmocka_unit_test(test_etags),
		cmocka_unit_test(test_content_types),  cmocka_unit_test(test_request_heads),
		cmocka_unit_test(test_request_errors), cmocka_unit_test(test_request_limits),
		cmocka_unit_test(test_target_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
