// SPDX-License-Identifier: MIT
/*
 * FTP's pure parts: control lines in any split (length limit, Telnet), commands and their
 * arguments, PASV / EPSV replies, PWD quoting, paths from the working directory, listing
 * lines and TYPE A with REST offsets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ftp_parse.h"

/* Feeds s one byte at a time (split) or whole; returns the events, lines joined by '|'. */
static void feed_all(struct ftp_line_reader *r, const char *s, size_t len, bool bytewise, char *out,
		     size_t outsz, unsigned *too_long, bool *absurd)
{
	size_t i = 0, o = 0;

	out[0] = '\0';
	*too_long = 0;
	*absurd = false;
	while (i < len) {
		enum ftp_line_event ev;
		size_t n = bytewise ? 1 : len - i;
		size_t used = ftp_line_feed(r, (const uint8_t *)s + i, n, &ev);

		assert_true(used >= 1 && used <= n);
		i += used;
		if (ev == FTP_LINE_READY) {
			size_t l = strlen(r->buf);

			assert_int_equal(l, r->len);
			assert_true(o + l + 2 < outsz);
			memcpy(out + o, r->buf, l);
			o += l;
			out[o++] = '|';
			out[o] = '\0';
			ftp_line_next(r);
		} else if (ev == FTP_LINE_TOO_LONG) {
			(*too_long)++;
		} else if (ev == FTP_LINE_ABSURD) {
			*absurd = true;
			return;
		}
	}
}

static void test_lines(void **state)
{
	static const char input[] = "USER a\r\nPASS b\nNOOP\r\n\r\nRETR x y\r\npartial";
	char buf[16], out[256];
	unsigned too_long;
	bool absurd;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct ftp_line_reader r;

		ftp_line_init(&r, buf, sizeof(buf), 100);
		feed_all(&r, input, sizeof(input) - 1, bytewise, out, sizeof(out), &too_long,
			 &absurd);
		assert_string_equal(out, "USER a|PASS b|NOOP||RETR x y|");
		assert_int_equal(too_long, 0);
		assert_false(absurd);
		assert_int_equal(r.len, 7); /* "partial" waits for its end */
	}
}

static void test_line_limit(void **state)
{
	char buf[9], out[256], input[400];
	unsigned too_long;
	bool absurd;
	struct ftp_line_reader r;

	/* 8 bytes fit, 9 do not; the reader goes on after an over-long line */
	ftp_line_init(&r, buf, sizeof(buf), 100);
	snprintf(input, sizeof(input), "12345678\r\n123456789\r\nNOOP\r\n");
	feed_all(&r, input, strlen(input), false, out, sizeof(out), &too_long, &absurd);
	assert_string_equal(out, "12345678|NOOP|");
	assert_int_equal(too_long, 1);
	/* CR LF counts against nothing: 8 bytes + CR fits */
	ftp_line_init(&r, buf, sizeof(buf), 100);
	feed_all(&r, "ABCDEFGH\r\n", 10, true, out, sizeof(out), &too_long, &absurd);
	assert_string_equal(out, "ABCDEFGH|");
	/* beyond discard_max without an end: absurd */
	ftp_line_init(&r, buf, sizeof(buf), 100);
	memset(input, 'x', 300);
	feed_all(&r, input, 300, false, out, sizeof(out), &too_long, &absurd);
	assert_true(absurd);
	/* exactly at the limit of the discarded part is still fine */
	ftp_line_init(&r, buf, sizeof(buf), 100);
	memset(input, 'x', 100);
	memcpy(input + 100, "\nNOOP\n", 6);
	feed_all(&r, input, 106, true, out, sizeof(out), &too_long, &absurd);
	assert_false(absurd);
	assert_int_equal(too_long, 1);
	assert_string_equal(out, "NOOP|");
}

static void test_telnet(void **state)
{
	/* IAC IP IAC DM before ABOR (RFC 959's urgent abort), IAC WILL x, IAC IAC = 0xff */
	static const char input[] = "\xff\xf4\xff\xf2"
				    "ABOR\r\n"
				    "NO\xff\xfb\x01OP\r\n"
				    "CWD a\xff\xff"
				    "b\r\n";
	char buf[64], out[256];
	unsigned too_long;
	bool absurd;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct ftp_line_reader r;

		ftp_line_init(&r, buf, sizeof(buf), 100);
		feed_all(&r, input, sizeof(input) - 1, bytewise, out, sizeof(out), &too_long,
			 &absurd);
		assert_string_equal(out, "ABOR|NOOP|CWD a\xff"
					 "b|");
	}
}

static void assert_command(const char *line, int rc, enum ftp_verb verb, const char *name,
			   const char *arg)
{
	struct ftp_command c;

	assert_int_equal(ftp_parse_command(line, strlen(line), &c), rc);
	if (rc < 0)
		return;
	assert_int_equal(c.verb, verb);
	assert_string_equal(c.name, name);
	assert_int_equal(c.arg_len, strlen(arg));
	assert_memory_equal(c.arg, arg, c.arg_len);
}

static void test_commands(void **state)
{
	assert_command("USER phone", 0, FTP_CMD_USER, "USER", "phone");
	assert_command("user phone", 0, FTP_CMD_USER, "USER", "phone");
	assert_command("pAsV", 0, FTP_CMD_PASV, "PASV", "");
	assert_command("RETR a file with spaces.cfg", 0, FTP_CMD_RETR, "RETR",
		       "a file with spaces.cfg");
	assert_command("RETR  lead", 0, FTP_CMD_RETR, "RETR", " lead");
	assert_command("CWD ", 0, FTP_CMD_CWD, "CWD", "");
	assert_command("XPWD", 0, FTP_CMD_PWD, "XPWD", "");
	assert_command("XCUP", 0, FTP_CMD_CDUP, "XCUP", "");
	assert_command("XMKD d", 0, FTP_CMD_MKD, "XMKD", "d");
	assert_command("FOO bar", 0, FTP_CMD_UNKNOWN, "FOO", "bar");
	assert_command("", -EINVAL, 0, "", "");
	assert_command("NO", -EINVAL, 0, "", "");
	assert_command("NOOPS", -EINVAL, 0, "", "");
	assert_command("NOOP\targ", -EINVAL, 0, "", "");
	assert_command(" NOOP", -EINVAL, 0, "", "");
	assert_command("12 4", -EINVAL, 0, "", "");
	assert_true(ftp_verb_secret(FTP_CMD_PASS));
	assert_false(ftp_verb_secret(FTP_CMD_USER));
	assert_string_equal(ftp_verb_name(FTP_CMD_MLSD), "MLSD");
	for (int v = 1; v < _FTP_CMD_MAX; v++) {
		struct ftp_command c;
		const char *n = ftp_verb_name((enum ftp_verb)v);

		assert_int_equal(ftp_parse_command(n, strlen(n), &c), 0);
		assert_int_equal(c.verb, v);
	}
}

static void test_type(void **state)
{
	bool a = false;

	assert_int_equal(ftp_parse_type("A", 1, &a), 0);
	assert_true(a);
	assert_int_equal(ftp_parse_type("I", 1, &a), 0);
	assert_false(a);
	assert_int_equal(ftp_parse_type("a n", 3, &a), 0);
	assert_true(a);
	assert_int_equal(ftp_parse_type("L 8", 3, &a), 0);
	assert_false(a);
	assert_int_equal(ftp_parse_type("A T", 3, &a), -EOPNOTSUPP);
	assert_int_equal(ftp_parse_type("E", 1, &a), -EOPNOTSUPP);
	assert_int_equal(ftp_parse_type("L 7", 3, &a), -EOPNOTSUPP);
	assert_int_equal(ftp_parse_type("", 0, &a), -EINVAL);
	assert_int_equal(ftp_parse_type("X", 1, &a), -EINVAL);
	assert_int_equal(ftp_parse_type("II", 2, &a), -EINVAL);
	assert_int_equal(ftp_parse_type("A X", 3, &a), -EINVAL);
}

static void test_rest(void **state)
{
	uint64_t v = 7;

	assert_int_equal(ftp_parse_rest("0", 1, &v), 0);
	assert_true(v == 0);
	assert_int_equal(ftp_parse_rest("123456789012", 12, &v), 0);
	assert_true(v == 123456789012ull);
	assert_int_equal(ftp_parse_rest("", 0, &v), -EINVAL);
	assert_int_equal(ftp_parse_rest("-1", 2, &v), -EINVAL);
	assert_int_equal(ftp_parse_rest("1x", 2, &v), -EINVAL);
	assert_int_equal(ftp_parse_rest("99999999999999999999", 20, &v), -EINVAL);
}

static void test_port(void **state)
{
	struct sockaddr_in a;
	static const char *const bad[] = {
		"",	      "1,2,3,4,5",  "1,2,3,4,5,6,7", "256,0,0,1,1,1", "1,2,3,4,5,256",
		"1,2,3,4,5,", "1,,3,4,5,6", "a,2,3,4,5,6",   "1.2.3.4,5,6",   "1,2,3,4,5,6 ",
	};

	assert_int_equal(ftp_parse_port("127,0,0,1,195,80", 16, &a), 0);
	assert_int_equal(a.sin_family, AF_INET);
	assert_int_equal(ntohl(a.sin_addr.s_addr), 0x7f000001);
	assert_int_equal(ntohs(a.sin_port), 195 * 256 + 80);
	assert_int_equal(ftp_parse_port(" 10,1,2,3,0,21", 14, &a), 0);
	assert_int_equal(ntohs(a.sin_port), 21);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ftp_parse_port(bad[i], strlen(bad[i]), &a), -EINVAL);
}

static void test_eprt(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	static const char *const bad[] = {
		"",	     "|1|1.2.3.4|5",  "|1|1.2.3.4|5|x",	   "|1||5|",	    "|1|1.2.3.4||",
		"|1|::1|5|", "|2|1.2.3.4|5|", "|1|1.2.3.4|65536|", " 1 1.2.3.4 5 ", "|x|1.2.3.4|5|",
	};

	assert_int_equal(ftp_parse_eprt("|1|132.235.1.2|6275|", 20, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 6275);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	assert_string_equal(host, "132.235.1.2");
	assert_int_equal(ftp_parse_eprt("!2!1080::8:800:200C:417A!5282!", 30, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 5282);
	assert_int_equal(ftp_parse_eprt("|3|1.2.3.4|5|", 13, &ss, &len), -EAFNOSUPPORT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ftp_parse_eprt(bad[i], strlen(bad[i]), &ss, &len), -EINVAL);
}

static void test_epsv(void **state)
{
	int family = -1;
	bool all = true;

	assert_int_equal(ftp_parse_epsv("", 0, &family, &all), 0);
	assert_int_equal(family, 0);
	assert_false(all);
	assert_int_equal(ftp_parse_epsv("1", 1, &family, &all), 0);
	assert_int_equal(family, AF_INET);
	assert_int_equal(ftp_parse_epsv("2", 1, &family, &all), 0);
	assert_int_equal(family, AF_INET6);
	assert_int_equal(ftp_parse_epsv("all", 3, &family, &all), 0);
	assert_true(all);
	assert_int_equal(ftp_parse_epsv("3", 1, &family, &all), -EAFNOSUPPORT);
	assert_int_equal(ftp_parse_epsv("x", 1, &family, &all), -EINVAL);
	assert_int_equal(ftp_parse_epsv("1 ", 2, &family, &all), -EINVAL);
}

static void test_replies(void **state)
{
	char buf[64];
	struct in_addr a = { htonl(0xc0a80105) };

	assert_int_equal(ftp_format_pasv(buf, sizeof(buf), &a, 50001), 43);
	assert_string_equal(buf, "Entering Passive Mode (192,168,1,5,195,81).");
	assert_int_equal(ftp_format_pasv(buf, 10, &a, 50001), -ENOSPC);
	assert_true(ftp_format_epsv(buf, sizeof(buf), 50001) > 0);
	assert_string_equal(buf, "Entering Extended Passive Mode (|||50001|)");
	assert_int_equal(ftp_format_reply(buf, sizeof(buf), 220, false, "ready"), 11);
	assert_string_equal(buf, "220 ready\r\n");
	ftp_format_reply(buf, sizeof(buf), 211, true, "Features:");
	assert_string_equal(buf, "211-Features:\r\n");
	/* a name with CR LF cannot start a reply of its own */
	ftp_format_reply(buf, sizeof(buf), 550, false, "a\r\n230 b");
	assert_string_equal(buf, "550 a  230 b\r\n");
	/* cut to fit, still ending in CR LF */
	ftp_format_reply(buf, 16, 500, false, "0123456789abcdef");
	assert_string_equal(buf, "500 012345678\r\n");
	assert_true(ftp_quote_path(buf, sizeof(buf), "") > 0);
	assert_string_equal(buf, "\"/\"");
	assert_true(ftp_quote_path(buf, sizeof(buf), "a/say \"hi\"") > 0);
	assert_string_equal(buf, "\"/a/say \"\"hi\"\"\"");
	assert_int_equal(ftp_quote_path(buf, 6, "abcd"), -ENOSPC);
}

static void assert_resolve(const char *cwd, const char *arg, int rc, const char *expect)
{
	char out[256] = "unchanged";

	assert_int_equal(ftp_path_resolve(cwd, arg, strlen(arg), 200, out, sizeof(out)), rc);
	if (rc == 0)
		assert_string_equal(out, expect);
}

static void test_paths(void **state)
{
	char p[64];

	assert_resolve("", "a.cfg", 0, "a.cfg");
	assert_resolve("", "", 0, "");
	assert_resolve("", "/", 0, "");
	assert_resolve("dir", "a.cfg", 0, "dir/a.cfg");
	assert_resolve("dir", "/a.cfg", 0, "a.cfg");
	assert_resolve("dir", "\\a.cfg", 0, "a.cfg");
	assert_resolve("dir", "./sub//x/", 0, "dir/sub/x");
	assert_resolve("dir", "", 0, "dir");
	assert_resolve("dir", "..", -EACCES, NULL);
	assert_resolve("", "../../", -EACCES, NULL);
	assert_resolve("", "a/../b", -EACCES, NULL);
	assert_resolve("", "/..\\etc", -EACCES, NULL);
	assert_resolve("", "a\rb", -EACCES, NULL);
	assert_resolve("", "..a", 0, "..a");
	snprintf(p, sizeof(p), "a/b/c");
	ftp_path_parent(p);
	assert_string_equal(p, "a/b");
	ftp_path_parent(p);
	ftp_path_parent(p);
	assert_string_equal(p, "");
	ftp_path_parent(p);
	assert_string_equal(p, "");
	{
		char big[300];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_resolve("", big, -ENAMETOOLONG, NULL);
	}
}

static void test_listing_lines(void **state)
{
	char buf[256];
	const time_t now = 1704164645; /* 2024-01-02 03:04:05 UTC */
	struct ftp_fact f = { .name = "algop8188.conf", .size = 2048, .mtime = now - 3600 };

	assert_true(ftp_format_list(buf, sizeof(buf), &f, now) > 0);
	assert_string_equal(buf, "-r--r--r--   1 ftp      ftp              2048 Jan  2 02:04 "
				 "algop8188.conf\r\n");
	f.mtime = now - 400 * 24 * 3600;
	assert_true(ftp_format_list(buf, sizeof(buf), &f, now) > 0);
	assert_non_null(strstr(buf, "Nov 28  2022 algop8188.conf"));
	f.dir = true;
	f.name = "fip";
	assert_true(ftp_format_list(buf, sizeof(buf), &f, now) > 0);
	assert_true(strncmp(buf, "dr-xr-xr-x   2 ", 15) == 0);
	assert_true(ftp_format_mlsx(buf, sizeof(buf), &f) > 0);
	assert_string_equal(buf, "type=dir;modify=20221128030405;perm=el; fip\r\n");
	f.dir = false;
	f.name = "a b.cfg";
	f.mtime = now;
	assert_true(ftp_format_mlsx(buf, sizeof(buf), &f) > 0);
	assert_string_equal(buf, "type=file;size=2048;modify=20240102030405;perm=r; a b.cfg\r\n");
	assert_int_equal(ftp_format_mlsx(buf, 20, &f), -ENOSPC);
	assert_int_equal(ftp_format_time(buf, sizeof(buf), now), 14);
	assert_string_equal(buf, "20240102030405");
}

/* Converts all of data in chunks of dstcap from offset and compares with expect. */
static void assert_ascii(const char *data, uint64_t offset, size_t dstcap, const char *expect)
{
	const uint8_t *d = (const uint8_t *)data;
	size_t len = strlen(data), src, o = 0;
	struct ftp_ascii st;
	uint8_t out[256];

	assert_int_equal(ftp_ascii_seek(d, len, offset, &src, &st), 0);
	while (src < len) {
		size_t used, n = ftp_ascii_convert(&st, d + src, len - src, out + o, dstcap, &used);

		assert_true(n > 0 && n <= dstcap);
		src += used;
		o += n;
	}
	assert_int_equal(o, strlen(expect));
	assert_memory_equal(out, expect, o);
}

static void test_ascii(void **state)
{
	const char *text = "a\nb\r\nc\n\nd";
	const char *full = "a\r\nb\r\nc\r\n\r\nd";

	assert_true(ftp_ascii_size((const uint8_t *)text, strlen(text)) == strlen(full));
	assert_true(ftp_ascii_size((const uint8_t *)"\n", 1) == 2);
	assert_true(ftp_ascii_size((const uint8_t *)"", 0) == 0);
	for (size_t cap = 2; cap < 16; cap++)
		assert_ascii(text, 0, cap, full);
	/* every REST offset gives the tail of the converted stream, even between CR and LF */
	for (size_t off = 0; off <= strlen(full); off++)
		for (size_t cap = 2; cap < 5; cap++)
			assert_ascii(text, off, cap, full + off);
	{
		size_t src;
		struct ftp_ascii st;

		assert_int_equal(ftp_ascii_seek((const uint8_t *)text, strlen(text),
						strlen(full) + 1, &src, &st),
				 -ERANGE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),  cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_telnet), cmocka_unit_test(test_commands),
		cmocka_unit_test(test_type),   cmocka_unit_test(test_rest),
		cmocka_unit_test(test_port),   cmocka_unit_test(test_eprt),
		cmocka_unit_test(test_epsv),   cmocka_unit_test(test_replies),
		cmocka_unit_test(test_paths),  cmocka_unit_test(test_listing_lines),
		cmocka_unit_test(test_ascii),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
