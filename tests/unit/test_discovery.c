// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/agent/discovery.c: the DHCP option input format (text, hex:, option
 * 150 lists, comments, errors with their line, caps), the decoders of options 66 / 150 /
 * 43 / DHCPv6 17, and every profile's discovery order as its seed gives it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/discovery.h"

static struct dhcp_options *load(const char *text)
{
	struct dhcp_options *o = dhcp_options_new();
	const char *why = NULL;
	size_t line = 0;
	int r;

	assert_non_null(o);
	r = dhcp_options_load(o, text, strlen(text), &line, &why);
	if (r != 0)
		fail_msg("load refused at line %zu: %s", line, why);
	return o;
}

/* The option's value as a string (test options are text or hex of known length). */
static void assert_option(const struct dhcp_options *o, bool v6, unsigned code, const void *want,
			  size_t want_len)
{
	size_t len = 0;
	const uint8_t *v = dhcp_options_get(o, v6, code, &len);

	assert_non_null(v);
	assert_int_equal(len, want_len);
	assert_memory_equal(v, want, want_len);
}

static void test_set_text_and_hex(void **state)
{
	struct dhcp_options *o = dhcp_options_new();
	const char *why = NULL;
	size_t len;

	assert_int_equal(dhcp_options_set(o, "66=tftp://10.0.0.1", &why), 0);
	assert_int_equal(dhcp_options_set(o, "67=boot.cfg  \r", &why), 0);
	assert_int_equal(dhcp_options_set(o, "  160=http://h/a b", &why), 0);
	assert_int_equal(dhcp_options_set(o, "43=hex:0104C0A80001ff", &why), 0);
	assert_int_equal(dhcp_options_set(o, "6:17=hex:00000009", &why), 0);
	assert_int_equal(dhcp_options_set(o, "6:59=http://[2001:db8::1]/x", &why), 0);
	assert_int_equal(dhcp_options_set(o, "60=", &why), 0);
	assert_int_equal(dhcp_options_set(o, "61=hex:", &why), 0);
	assert_option(o, false, 66, "tftp://10.0.0.1", 15);
	assert_option(o, false, 67, "boot.cfg", 8);
	assert_option(o, false, 160, "http://h/a b", 12);
	assert_option(o, false, 43, "\x01\x04\xc0\xa8\x00\x01\xff", 7);
	assert_option(o, true, 17, "\x00\x00\x00\x09", 4);
	assert_option(o, true, 59, "http://[2001:db8::1]/x", 22);
	assert_option(o, false, 60, "", 0);
	assert_option(o, false, 61, "", 0);
	/* DHCPv4 and DHCPv6 codes are separate */
	assert_null(dhcp_options_get(o, true, 66, &len));
	assert_null(dhcp_options_get(o, false, 17, &len));
	assert_null(dhcp_options_get(o, false, 150, &len));
	assert_int_equal(dhcp_options_count(o), 8);

	/* a repeated code replaces the value, in place */
	assert_int_equal(dhcp_options_set(o, "66=10.0.0.2", &why), 0);
	assert_option(o, false, 66, "10.0.0.2", 8);
	assert_int_equal(dhcp_options_count(o), 8);
	{
		bool v6 = true;
		unsigned code = 0;
		const uint8_t *v = NULL;

		assert_int_equal(dhcp_options_nth(o, 0, &v6, &code, &v, &len), 0);
		assert_false(v6);
		assert_int_equal(code, 66);
		assert_int_equal(len, 8);
		assert_int_equal(dhcp_options_nth(o, 4, &v6, &code, &v, &len), 0);
		assert_true(v6);
		assert_int_equal(code, 17);
		assert_int_equal(dhcp_options_nth(o, 8, &v6, &code, &v, &len), -ENOENT);
	}
	dhcp_options_clear(o);
	assert_int_equal(dhcp_options_count(o), 0);
	assert_null(dhcp_options_get(o, false, 66, &len));
	dhcp_options_free(o);
	dhcp_options_free(NULL);
}

static void test_option_150_list(void **state)
{
	struct dhcp_options *o = dhcp_options_new();
	const char *why = NULL;

	assert_int_equal(dhcp_options_set(o, "150=10.0.0.1,10.0.0.2", &why), 0);
	assert_option(o, false, 150, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	assert_int_equal(dhcp_options_set(o, "150=192.168.1.1", &why), 0);
	assert_option(o, false, 150, "\xc0\xa8\x01\x01", 4);
	assert_int_equal(dhcp_options_set(o, "150=hex:0a0000010a000002", &why), 0);
	assert_option(o, false, 150, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	/* lists are for option 150 only; elsewhere the text is kept */
	assert_int_equal(dhcp_options_set(o, "66=10.0.0.1,10.0.0.2", &why), 0);
	assert_option(o, false, 66, "10.0.0.1,10.0.0.2", 17);
	assert_int_equal(dhcp_options_set(o, "6:150=a,b", &why), 0);

	static const char *const bad[] = { "150=10.0.0.1,",	     "150=,10.0.0.1",  "150=",
					   "150=tftp.example",	     "150=10.0.0.256", "150=10.0.0",
					   "150=10.0.0.1 ,10.0.0.2", "150=10.0.0.1.1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (dhcp_options_set(o, bad[i], &why) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(why);
	}
	/* the refused values left the old one */
	assert_option(o, false, 150, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	dhcp_options_free(o);
}

static void test_set_errors(void **state)
{
	static const struct {
		const char *line;
		int err;
	} bad[] = {
		{ "66", -EINVAL },	       /* no '=' */
		{ "=x", -EINVAL },	       /* no code */
		{ "0=x", -EINVAL },	       /* pad */
		{ "255=x", -EINVAL },	       /* end */
		{ "256=x", -EINVAL },	       /* DHCPv4 codes stop at 254 */
		{ "6:0=x", -EINVAL },	       /* DHCPv6 codes start at 1 */
		{ "6:65536=x", -EINVAL },      /* and stop at 65535 */
		{ "-1=x", -EINVAL },	       /* no sign */
		{ "66 =x", -EINVAL },	       /* code is digits only */
		{ "x66=x", -EINVAL },	       /* code is digits only */
		{ "7:17=x", -EINVAL },	       /* only 6: as a family */
		{ "66=hex:0", -EINVAL },       /* odd number of digits */
		{ "66=hex:0g", -EINVAL },      /* not hex */
		{ "66=hex:00 11", -EINVAL },   /* no spaces in hex */
		{ "66=a\tb", -EINVAL },	       /* control character in text */
		{ "66=caf\xc3\xa9", -EINVAL }, /* not ASCII */
		{ "66=a\nb", -EINVAL },	       /* one line */
		{ "99999999999999999999=x", -EINVAL },
	};
	struct dhcp_options *o = dhcp_options_new();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		int r = dhcp_options_set(o, bad[i].line, &why);

		if (r != bad[i].err)
			fail_msg("'%s': %d", bad[i].line, r);
		assert_non_null(why);
	}
	assert_int_equal(dhcp_options_count(o), 0);
	/* the largest codes of each family */
	assert_int_equal(dhcp_options_set(o, "254=x", NULL), 0);
	assert_int_equal(dhcp_options_set(o, "6:65535=x", NULL), 0);
	assert_int_equal(dhcp_options_set(o, "1=x", NULL), 0);
	/* a NULL ret_why is allowed */
	assert_int_equal(dhcp_options_set(o, "nonsense", NULL), -EINVAL);
	dhcp_options_free(o);
}

static void test_caps(void **state)
{
	struct dhcp_options *o = dhcp_options_new();
	char line[2 * DHCP_LINE_MAX];
	const char *why;
	size_t n;

	/* one value: 1024 bytes, as text and as hex */
	n = (size_t)snprintf(line, sizeof(line), "66=");
	memset(line + n, 'a', DHCP_OPTION_MAX_LEN);
	line[n + DHCP_OPTION_MAX_LEN] = '\0';
	assert_int_equal(dhcp_options_set(o, line, &why), 0);
	line[n + DHCP_OPTION_MAX_LEN] = 'a';
	line[n + DHCP_OPTION_MAX_LEN + 1] = '\0';
	assert_int_equal(dhcp_options_set(o, line, &why), -E2BIG);

	n = (size_t)snprintf(line, sizeof(line), "43=hex:");
	memset(line + n, 'f', 2 * DHCP_OPTION_MAX_LEN);
	line[n + 2 * DHCP_OPTION_MAX_LEN] = '\0';
	assert_int_equal(dhcp_options_set(o, line, &why), 0);
	assert_non_null(dhcp_options_get(o, false, 43, &n));
	assert_int_equal(n, DHCP_OPTION_MAX_LEN);
	n = strlen(line);
	memcpy(line + n, "ff", 3);
	assert_int_equal(dhcp_options_set(o, line, &why), -E2BIG);

	/* one line: 4096 characters */
	memset(line, ' ', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "66=x", 4);
	assert_int_equal(dhcp_options_set(o, line, &why), -E2BIG);

	/* the option 150 list: 256 addresses fit, 257 do not */
	{
		char *list = malloc(257 * 16 + 8);
		size_t k = (size_t)snprintf(list, 8, "150=");

		assert_non_null(list);
		for (int i = 0; i < 256; i++)
			k += (size_t)snprintf(list + k, 16, "%s10.0.%d.%d", i ? "," : "", i / 100,
					      i % 100);
		assert_int_equal(dhcp_options_set(o, list, &why), 0);
		assert_non_null(dhcp_options_get(o, false, 150, &n));
		assert_int_equal(n, 1024);
		snprintf(list + k, 16, ",10.1.1.1");
		assert_int_equal(dhcp_options_set(o, list, &why), -E2BIG);
		free(list);
	}

	/* DHCP_OPTIONS_MAX options */
	dhcp_options_clear(o);
	for (unsigned i = 1; i <= DHCP_OPTIONS_MAX; i++) {
		snprintf(line, sizeof(line), "6:%u=x", i);
		assert_int_equal(dhcp_options_set(o, line, &why), 0);
	}
	assert_int_equal(dhcp_options_set(o, "6:1000=x", &why), -ENOSPC);
	assert_int_equal(dhcp_options_set(o, "6:1=replaced", &why), 0); /* replacing is fine */
	assert_option(o, true, 1, "replaced", 8);
	/* a file that would add one too many adds nothing, and no line is at fault */
	{
		size_t l = 99;

		why = NULL;
		assert_int_equal(dhcp_options_load(o, "6:2=y\n66=z\n", 11, &l, &why), -ENOSPC);
		assert_int_equal(l, 0);
		assert_non_null(why);
		assert_option(o, true, 2, "x", 1);
	}
	dhcp_options_free(o);
}

static void test_load_file(void **state)
{
	static const char text[] =
		"# written by the DHCP client hook\r\n"
		"\n"
		"   # indented comment\n"
		"66=tftp://10.0.0.1\r\n"
		"67=boot.cfg\n"
		"\t\n"
		"150=hex:0a0000010a000002\n"
		"160=http://10.0.0.1/fw/420HD.img;cfg/420HD.cfg\n"
		"60=AUDC-IPPHONE/420HD_UC\n"
		"6:17=hex:000000090001001968747470733a2f2f70726f762e6578616d706c652e636f6d2f\n"
		"66=tftp://10.0.0.9"; /* last line without LF; replaces */
	struct dhcp_options *o = load(text);

	assert_int_equal(dhcp_options_count(o), 6);
	assert_option(o, false, 66, "tftp://10.0.0.9", 15);
	assert_option(o, false, 67, "boot.cfg", 8);
	assert_option(o, false, 150, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	assert_option(o, false, 60, "AUDC-IPPHONE/420HD_UC", 21);
	assert_option(o, true, 17,
		      "\x00\x00\x00\x09\x00\x01\x00\x19"
		      "https://prov.example.com/",
		      33);
	dhcp_options_free(o);

	/* empty and comment-only texts are fine */
	o = load("");
	assert_int_equal(dhcp_options_count(o), 0);
	dhcp_options_free(o);
	o = load("# nothing\n\n");
	assert_int_equal(dhcp_options_count(o), 0);
	dhcp_options_free(o);
}

static void test_load_errors(void **state)
{
	static const struct {
		const char *text;
		size_t line;
	} bad[] = {
		{ "66=a\n67=b\nbogus\n", 3 },
		{ "# c\n\n150=1.2.3\n", 3 },
		{ "66=hex:abc", 1 },
		{ "66=ok\n\n\n\n255=x\n", 5 },
		{ "66=a\r\n6:70000=b\r\n", 2 },
		{ "66=a # trailing comment is part of... no: ok\n67=\x01\n", 2 },
	};
	struct dhcp_options *o = load("66=before\n");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		size_t line = 0;
		int r = dhcp_options_load(o, bad[i].text, strlen(bad[i].text), &line, &why);

		if (r != -EINVAL || line != bad[i].line)
			fail_msg("text %zu: r %d line %zu", i, r, line);
		assert_non_null(why);
	}
	/* all or nothing: option 66 was in each bad text but is still "before" */
	assert_option(o, false, 66, "before", 6);
	assert_int_equal(dhcp_options_count(o), 1);

	/* a NUL byte inside the text */
	{
		const char text[] = "66=a\n67=b\0c\n";
		size_t line = 0;
		const char *why = NULL;

		assert_int_equal(dhcp_options_load(o, text, sizeof(text) - 1, &line, &why),
				 -EINVAL);
		assert_int_equal(line, 2);
	}
	/* ret_line and ret_why may be NULL */
	assert_int_equal(dhcp_options_load(o, "x", 1, NULL, NULL), -EINVAL);
	/* len is honoured: the bytes past it are not read */
	assert_int_equal(dhcp_options_load(o, "67=ab!!!", 5, NULL, NULL), 0);
	assert_option(o, false, 67, "ab", 2);
	dhcp_options_free(o);
}

static void test_decode_text(void **state)
{
	const char *why = NULL;
	char *s = NULL;

	assert_int_equal(dhcp_decode_text((const uint8_t *)"tftp://h\0\0", 10, &s, &why), 0);
	assert_string_equal(s, "tftp://h");
	free(s);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"  10.0.0.1 \t", 12, &s, &why), 0);
	assert_string_equal(s, "10.0.0.1");
	free(s);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"", 0, &s, &why), -EINVAL);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"\0", 1, &s, &why), -EINVAL);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"   ", 3, &s, &why), -EINVAL);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"a\0b", 3, &s, &why), -EINVAL);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"a\nb", 3, &s, &why), -EINVAL);
	assert_int_equal(dhcp_decode_text((const uint8_t *)"\xc0\xa8\x01\x01", 4, &s, &why),
			 -EINVAL);
	assert_non_null(why);
}

static void test_server_form(void **state)
{
	assert_int_equal(dhcp_server_form("tftp://10.0.0.1"), DHCP_SERVER_URL);
	assert_int_equal(dhcp_server_form("https://prov.example.com/x"), DHCP_SERVER_URL);
	assert_int_equal(dhcp_server_form("ftp://user:pwd@10.0.0.1/"), DHCP_SERVER_URL);
	assert_int_equal(dhcp_server_form("10.0.0.1"), DHCP_SERVER_IPV4);
	assert_int_equal(dhcp_server_form("provserver.mydomain.com"), DHCP_SERVER_HOST);
	assert_int_equal(dhcp_server_form("tftp-1"), DHCP_SERVER_HOST);
	/* the Algo static forms that are neither */
	assert_int_equal(dhcp_server_form("192.168.1.1/files"), DHCP_SERVER_OTHER);
	assert_int_equal(dhcp_server_form("user:pwd@192.168.1.1"), DHCP_SERVER_OTHER);
	assert_int_equal(dhcp_server_form("10.0.0.1:6969"), DHCP_SERVER_OTHER);
	assert_int_equal(dhcp_server_form("://x"), DHCP_SERVER_OTHER);
	assert_int_equal(dhcp_server_form("1tftp://x"), DHCP_SERVER_OTHER);
	assert_int_equal(dhcp_server_form(""), DHCP_SERVER_OTHER);
	assert_int_equal(dhcp_server_form("-x"), DHCP_SERVER_OTHER);
}

static void test_decode_ipv4_list(void **state)
{
	char addr[4][DHCP_IPV4_STRLEN];
	const char *why = NULL;
	size_t n = 0;

	assert_int_equal(dhcp_decode_ipv4_list((const uint8_t *)"\x0a\x00\x00\x01\xff\xff\xff\xff",
					       8, addr, 4, &n, &why),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(addr[0], "10.0.0.1");
	assert_string_equal(addr[1], "255.255.255.255");
	assert_int_equal(
		dhcp_decode_ipv4_list((const uint8_t *)"\x0a\x00\x00", 3, addr, 4, &n, &why),
		-EINVAL);
	assert_int_equal(dhcp_decode_ipv4_list((const uint8_t *)"", 0, addr, 4, &n, &why), -EINVAL);
	assert_int_equal(dhcp_decode_ipv4_list((const uint8_t *)"12345678901234567890", 20, addr, 4,
					       &n, &why),
			 -E2BIG);
}

static void test_decode_sub_option(void **state)
{
	/* pad, sub 1 (4 bytes), sub 2 (empty), sub 3 "abc", end, garbage after end */
	static const uint8_t v[] = { 0, 1, 4, 10, 0, 0, 1, 2, 0, 3, 3, 'a', 'b', 'c', 255, 9, 9 };
	const uint8_t *p = NULL;
	const char *why = NULL;
	size_t len = 0;

	assert_int_equal(dhcp_decode_sub_option(v, sizeof(v), 1, &p, &len, &why), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "\x0a\x00\x00\x01", 4);
	assert_int_equal(dhcp_decode_sub_option(v, sizeof(v), 2, &p, &len, &why), 0);
	assert_int_equal(len, 0);
	assert_int_equal(dhcp_decode_sub_option(v, sizeof(v), 3, &p, &len, &why), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(dhcp_decode_sub_option(v, sizeof(v), 9, &p, &len, &why), -ENOENT);
	assert_int_equal(dhcp_decode_sub_option(v, 0, 1, &p, &len, &why), -ENOENT);

	/* malformed: the length runs past the end, a code without its length */
	static const uint8_t overrun[] = { 1, 5, 'a', 'b' };
	static const uint8_t nolen[] = { 2, 1, 'x', 1 };
	assert_int_equal(dhcp_decode_sub_option(overrun, sizeof(overrun), 1, &p, &len, &why),
			 -EINVAL);
	assert_non_null(why);
	assert_int_equal(dhcp_decode_sub_option(nolen, sizeof(nolen), 1, &p, &len, &why), -EINVAL);
	/* found before the malformed part: the TLVs before it are good */
	assert_int_equal(dhcp_decode_sub_option(nolen, sizeof(nolen), 2, &p, &len, &why), 0);
}

static void test_decode_vendor_opts(void **state)
{
	/* enterprise 9, sub 2 "xy", sub 1 "https://p/" */
	static const uint8_t v[] = { 0, 0,  0,	 9,   0,   2,	0,   2,	  'x', 'y', 0,	 1,
				     0, 10, 'h', 't', 't', 'p', 's', ':', '/', '/', 'p', '/' };
	const uint8_t *p = NULL;
	const char *why = NULL;
	uint32_t en = 0;
	size_t len = 0;

	assert_int_equal(dhcp_decode_vendor_opts(v, sizeof(v), 0, 1, &p, &len, &en, &why), 0);
	assert_int_equal(en, 9);
	assert_int_equal(len, 10);
	assert_memory_equal(p, "https://p/", 10);
	assert_int_equal(dhcp_decode_vendor_opts(v, sizeof(v), 9, 2, &p, &len, NULL, &why), 0);
	assert_int_equal(len, 2);
	assert_int_equal(dhcp_decode_vendor_opts(v, sizeof(v), 10, 1, &p, &len, &en, &why),
			 -ENOENT);
	assert_int_equal(dhcp_decode_vendor_opts(v, sizeof(v), 9, 3, &p, &len, &en, &why), -ENOENT);
	/* just the enterprise number: no sub-options */
	assert_int_equal(dhcp_decode_vendor_opts(v, 4, 0, 1, &p, &len, &en, &why), -ENOENT);
	/* malformed: short, a truncated header, a length past the end */
	assert_int_equal(dhcp_decode_vendor_opts(v, 3, 0, 1, &p, &len, &en, &why), -EINVAL);
	assert_int_equal(dhcp_decode_vendor_opts(v, 7, 0, 1, &p, &len, &en, &why), -EINVAL);
	assert_int_equal(dhcp_decode_vendor_opts(v, sizeof(v) - 1, 0, 1, &p, &len, &en, &why),
			 -EINVAL);
	/* malformed after the sub-option asked for: still refused */
	assert_int_equal(dhcp_decode_vendor_opts(v, 12, 0, 2, &p, &len, &en, &why), -EINVAL);
	assert_non_null(why);
}

/* One expected candidate. */
struct want {
	enum discovery_source source;
	const char *server, *detail;
};

#define WANT_END                                                                                   \
	{                                                                                          \
		DISC_SOURCE_MAX, NULL, NULL                                                        \
	}

static void check_plan_(const struct discovery_input *in, const struct want *want, int line)
{
	struct discovery_candidate *c = NULL;
	const char *why = NULL;
	size_t n = 0, k = 0;
	int r = discovery_plan(in, &c, &n, &why);

	if (r != 0)
		fail_msg("line %d: plan failed %d: %s", line, r, why);
	while (want[k].source != DISC_SOURCE_MAX)
		k++;
	if (n != k) {
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  got %s %s %s\n", discovery_source_name(c[i].source),
				c[i].server ? c[i].server : "-", c[i].detail ? c[i].detail : "-");
		fail_msg("line %d: %zu candidates, want %zu", line, n, k);
	}
	for (size_t i = 0; i < n; i++) {
		if (c[i].source != want[i].source)
			fail_msg("line %d: candidate %zu is %s, want %s", line, i,
				 discovery_source_name(c[i].source),
				 discovery_source_name(want[i].source));
		if (want[i].server)
			assert_non_null(c[i].server),
				assert_string_equal(c[i].server, want[i].server);
		else
			assert_null(c[i].server);
		if (want[i].detail)
			assert_non_null(c[i].detail),
				assert_string_equal(c[i].detail, want[i].detail);
		else
			assert_null(c[i].detail);
	}
	discovery_plan_free(c, n);
}
#define check_plan(in, ...)                                                                        \
	do {                                                                                       \
		const struct want w_[] = { __VA_ARGS__, WANT_END };                                \
		check_plan_(in, w_, __LINE__);                                                     \
	} while (0)

static void check_none_(const struct discovery_input *in, int err, const char *why_part, int line)
{
	struct discovery_candidate *c = (void *)1;
	const char *why = NULL;
	size_t n = 77;
	int r = discovery_plan(in, &c, &n, &why);

	if (r != err)
		fail_msg("line %d: plan returned %d, want %d", line, r, err);
	assert_non_null(why);
	if (why_part && !strstr(why, why_part))
		fail_msg("line %d: reason '%s' lacks '%s'", line, why, why_part);
	/* outputs untouched on failure */
	assert_ptr_equal(c, (void *)1);
	assert_int_equal(n, 77);
}
#define check_none(in, err, why_part) check_none_(in, err, why_part, __LINE__)

/* Options 66 / 160 / 150 in every combination, as text for load(). */
static const char *const algo_sets[8] = {
	"",
	"66=tftp://a\n",
	"160=http://b/prov\n",
	"66=tftp://a\n160=http://b/prov\n",
	"150=10.0.0.3,10.0.0.4\n",
	"66=tftp://a\n150=10.0.0.3,10.0.0.4\n",
	"160=http://b/prov\n150=10.0.0.3,10.0.0.4\n",
	"66=tftp://a\n160=http://b/prov\n150=10.0.0.3,10.0.0.4\n",
};

static void test_plan_algo(void **state)
{
	/* every combination: 66 > 160 > 150, each present one listed, 150 one per address */
	for (unsigned m = 0; m < 8; m++) {
		struct dhcp_options *o = load(algo_sets[m]);
		struct discovery_input in = { .profile = "algo", .dhcp = o };
		struct want w[6];
		size_t k = 0;

		if (m & 1)
			w[k++] = (struct want){ DISC_DHCP_66, "tftp://a", NULL };
		if (m & 2)
			w[k++] = (struct want){ DISC_DHCP_160, "http://b/prov", NULL };
		if (m & 4) {
			w[k++] = (struct want){ DISC_DHCP_150, "10.0.0.3", NULL };
			w[k++] = (struct want){ DISC_DHCP_150, "10.0.0.4", NULL };
		}
		w[k] = (struct want)WANT_END;
		if (m == 0)
			check_none(&in, -ENOENT, "no DHCP option 66, 160 or 150");
		else
			check_plan_(&in, w, (int)m);

		/* the manual choice of a DHCP option: only that one */
		for (unsigned pick = 0; pick < 3; pick++) {
			static const unsigned codes[] = { 66, 160, 150 };

			in.dhcp_option = codes[pick];
			if (!(m & (1u << pick))) {
				check_none(&in, -ENOENT, "chosen manually");
				continue;
			}
			if (pick == 0)
				check_plan(&in, { DISC_DHCP_66, "tftp://a", NULL });
			else if (pick == 1)
				check_plan(&in, { DISC_DHCP_160, "http://b/prov", NULL });
			else
				check_plan(&in, { DISC_DHCP_150, "10.0.0.3", NULL },
					   { DISC_DHCP_150, "10.0.0.4", NULL });
		}
		in.dhcp_option = 0;

		/* Server Method = Static: the static server alone, whatever DHCP gave */
		in.static_server = "user:pwd@192.168.1.1";
		in.static_override = true;
		check_plan(&in, { DISC_STATIC, "user:pwd@192.168.1.1", NULL });
		/* a static server with Server Method = DHCP is not used */
		in.static_override = false;
		if (m == 0)
			check_none(&in, -ENOENT, "Server Method is DHCP");
		else
			check_plan_(&in, w, (int)m);
		/* DHCP off: static */
		in.no_dhcp = true;
		check_plan(&in, { DISC_STATIC, "user:pwd@192.168.1.1", NULL });
		in.static_server = "";
		check_none(&in, -ENOENT, "no static server");
		in.no_dhcp = false;
		in.static_override = true;
		check_none(&in, -ENOENT, "Server Method is Static");
		dhcp_options_free(o);
	}

	/* every static form of seed 000 goes through as it is */
	static const char *const forms[] = { "192.168.1.1", "provserver.mydomain.com",
					     "ftp://192.168.1.1", "192.168.1.1/files",
					     "user:pwd@192.168.1.1" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct discovery_input in = { .profile = "algo",
					      .static_server = forms[i],
					      .static_override = true };

		check_plan(&in, { DISC_STATIC, forms[i], NULL });
	}

	/* no options at all, and a bad manual choice */
	struct discovery_input in = { .profile = "algo" };
	check_none(&in, -ENOENT, NULL);
	in.dhcp_option = 67;
	check_none(&in, -EINVAL, "66, 160 or 150");

	/* a malformed option counts as absent; the next one is used */
	struct dhcp_options *o = load("66=hex:c0a80101\n160=http://b/\n150=hex:0a00\n");
	in = (struct discovery_input){ .profile = "algo", .dhcp = o };
	check_plan(&in, { DISC_DHCP_160, "http://b/", NULL });
	in.dhcp_option = 66;
	check_none(&in, -ENOENT, "option 66 is not usable");
	in.dhcp_option = 150;
	check_none(&in, -ENOENT, "option 150 is not a list");
	dhcp_options_free(o);
	/* option 66 from a server that NUL-terminates it */
	o = load("66=hex:31302e302e302e3100\n");
	in = (struct discovery_input){ .profile = "algo", .dhcp = o };
	check_plan(&in, { DISC_DHCP_66, "10.0.0.1", NULL });
	dhcp_options_free(o);
}

static void test_plan_fip(void **state)
{
	struct dhcp_options *o = load("66=10.0.0.1\n160=http://x/\n");
	struct dhcp_options *none = load("");
	struct discovery_input in = { .profile = "fip", .dhcp = o, .static_server = "tftp://s/" };

	/* PnP, DHCP option 66, static: in the seed's order */
	check_plan(&in, { DISC_PNP, NULL, NULL }, { DISC_DHCP_66, "10.0.0.1", NULL },
		   { DISC_STATIC, "tftp://s/", NULL });
	in.no_pnp = true;
	check_plan(&in, { DISC_DHCP_66, "10.0.0.1", NULL }, { DISC_STATIC, "tftp://s/", NULL });
	in.no_dhcp = true;
	check_plan(&in, { DISC_STATIC, "tftp://s/", NULL });
	in.no_pnp = false;
	check_plan(&in, { DISC_PNP, NULL, NULL }, { DISC_STATIC, "tftp://s/", NULL });
	in.no_dhcp = false;
	in.static_server = NULL;
	check_plan(&in, { DISC_PNP, NULL, NULL }, { DISC_DHCP_66, "10.0.0.1", NULL });
	in.dhcp = none;
	check_plan(&in, { DISC_PNP, NULL, NULL });
	in.dhcp = NULL;
	check_plan(&in, { DISC_PNP, NULL, NULL });
	in.no_pnp = true;
	check_none(&in, -ENOENT, "PnP is off");
	/* the override: static alone */
	in = (struct discovery_input){
		.profile = "fip", .dhcp = o, .static_server = "tftp://s/", .static_override = true
	};
	check_plan(&in, { DISC_STATIC, "tftp://s/", NULL });
	in.static_server = "";
	check_none(&in, -ENOENT, NULL);
	dhcp_options_free(o);
	dhcp_options_free(none);
}

static void test_plan_spa(void **state)
{
	struct dhcp_options *o = load("66=10.0.0.1\n67=other.cfg\n");
	struct dhcp_options *none = load("150=10.0.0.2\n");
	struct discovery_input in = { .profile = "spa",
				      .dhcp = o,
				      .profile_rule = "[--key 123456]tftp://s/param_$MAU.conf",
				      .config_file_name = "IP542N.conf" };

	/* Option 66 enabled (default): option 66 with the Config File Name; the Profile Rule
	 * has no effect */
	check_plan(&in, { DISC_DHCP_66, "10.0.0.1", "IP542N.conf" });
	in.config_file_name = NULL;
	check_plan(&in, { DISC_DHCP_66, "10.0.0.1", NULL });
	/* Option 66 enabled but not received: still no Profile Rule */
	in.dhcp = none;
	check_none(&in, -ENOENT, "Profile Rule has no effect");
	in.dhcp = NULL;
	check_none(&in, -ENOENT, "Profile Rule has no effect");
	/* Option 66 disabled: the Profile Rule, raw, whatever DHCP gave */
	in.dhcp = o;
	in.no_dhcp = true;
	in.config_file_name = "IP542N.conf";
	check_plan(&in, { DISC_PROFILE_RULE, "[--key 123456]tftp://s/param_$MAU.conf", NULL });
	/* a rule without a server (seed 001: "[scheme://][server[:port]]/file path"): option
	 * 66 comes with it, the server the device has */
	in.profile_rule = "/IP542N.conf";
	check_plan(&in, { DISC_PROFILE_RULE, "/IP542N.conf", "10.0.0.1" });
	in.profile_rule = "[--key k] http:///cfg/$MA.conf";
	check_plan(&in, { DISC_PROFILE_RULE, "[--key k] http:///cfg/$MA.conf", "10.0.0.1" });
	in.dhcp = none;
	check_plan(&in, { DISC_PROFILE_RULE, "[--key k] http:///cfg/$MA.conf", NULL });
	in.dhcp = o;
	in.profile_rule = "";
	check_none(&in, -ENOENT, "Profile Rule is empty");
	in.profile_rule = NULL;
	check_none(&in, -ENOENT, "Profile Rule is empty");
	/* the agent's override */
	in.static_server = "http://s/";
	in.static_override = true;
	check_plan(&in, { DISC_STATIC, "http://s/", NULL });
	dhcp_options_free(o);
	dhcp_options_free(none);
}

static void test_plan_audiocodes(void **state)
{
	/* seed 004's four forms of option 160 (and odd ones): passed whole, url.c splits them */
	static const struct {
		const char *opt, *server, *detail;
	} forms[] = {
		{ "160=http://10.0.0.1/fw/420HD.img;cfg/420HD.cfg",
		  "http://10.0.0.1/fw/420HD.img;cfg/420HD.cfg", NULL },
		{ "160=tftp://prov.example.com", "tftp://prov.example.com", NULL },
		{ "160=ftp://10.0.0.1/", "ftp://10.0.0.1/", NULL },
		{ "160=https://h:8443/420HD.img", "https://h:8443/420HD.img", NULL },
		{ "160=http://h/;420HD.cfg", "http://h/;420HD.cfg", NULL },
		{ "160=hex:687474703a2f2f682f613b6200", "http://h/a;b", NULL }, /* NUL-terminated */
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct dhcp_options *o = load(forms[i].opt);
		struct discovery_input in = { .profile = "audiocodes", .dhcp = o };

		check_plan(&in, { DISC_DHCP_160, forms[i].server, forms[i].detail });
		/* with 66/67 too: 160 first, then 66 with 67 */
		assert_int_equal(dhcp_options_set(o, "66=10.0.0.9", NULL), 0);
		assert_int_equal(dhcp_options_set(o, "67=420HD.img", NULL), 0);
		check_plan(&in, { DISC_DHCP_160, forms[i].server, forms[i].detail },
			   { DISC_DHCP_66, "10.0.0.9", "420HD.img" });
		dhcp_options_free(o);
	}

	struct dhcp_options *o = load("66=10.0.0.9\n67=420HD.img\n");
	struct discovery_input in = { .profile = "audiocodes", .dhcp = o };

	check_plan(&in, { DISC_DHCP_66, "10.0.0.9", "420HD.img" });
	assert_int_equal(dhcp_options_set(o, "67=hex:01", NULL), 0); /* bad 67: 66 alone */
	check_plan(&in, { DISC_DHCP_66, "10.0.0.9", NULL });
	dhcp_options_clear(o);
	assert_int_equal(dhcp_options_set(o, "67=420HD.img", NULL), 0); /* 67 without 66 */
	check_none(&in, -ENOENT, "no DHCP option 160 or 66");
	assert_int_equal(dhcp_options_set(o, "66=h", NULL), 0);
	check_plan(&in, { DISC_DHCP_66, "h", "420HD.img" });
	/* options 60 / 77 (the model) and 159 / 150 play no part */
	dhcp_options_clear(o);
	assert_int_equal(dhcp_options_set(o, "60=AUDC-IPPHONE/420HD_UC", NULL), 0);
	assert_int_equal(dhcp_options_set(o, "159=http://x/", NULL), 0);
	assert_int_equal(dhcp_options_set(o, "150=10.0.0.1", NULL), 0);
	check_none(&in, -ENOENT, NULL);
	/* DHCP off */
	assert_int_equal(dhcp_options_set(o, "160=http://h/a;b", NULL), 0);
	in.no_dhcp = true;
	check_none(&in, -ENOENT, NULL);
	in.static_server = "http://s/";
	in.static_override = true;
	check_plan(&in, { DISC_STATIC, "http://s/", NULL });
	dhcp_options_free(o);
}

static const char v6_17[] =
	"6:17=hex:000000090001001968747470733a2f2f70726f762e6578616d706c652e636f6d2f\n";

static void test_plan_panasonic(void **state)
{
	char text[512];

	snprintf(text, sizeof(text), "160=http://a/\n159=http://b/\n66=c\n%s", v6_17);
	struct dhcp_options *o = load(text);
	struct discovery_input in = { .profile = "panasonic",
				      .dhcp = o,
				      .static_server = "http://m/" };

	/* IPv4 only (the default) */
	check_plan(&in, { DISC_MANUAL, "http://m/", NULL }, { DISC_PNP, NULL, NULL },
		   { DISC_DHCP_160, "http://a/", NULL }, { DISC_DHCP_159, "http://b/", NULL },
		   { DISC_DHCP_66, "c", NULL }, { DISC_REDIRECT, NULL, NULL });
	/* IPv6 only */
	in.ip_mode = DISC_IP_V6;
	check_plan(&in, { DISC_MANUAL, "http://m/", NULL },
		   { DISC_DHCPV6, "https://prov.example.com/", NULL });
	/* dual stack: DHCPv6 between option 66 and the redirection server */
	in.ip_mode = DISC_IP_DUAL;
	check_plan(&in, { DISC_MANUAL, "http://m/", NULL }, { DISC_PNP, NULL, NULL },
		   { DISC_DHCP_160, "http://a/", NULL }, { DISC_DHCP_159, "http://b/", NULL },
		   { DISC_DHCP_66, "c", NULL }, { DISC_DHCPV6, "https://prov.example.com/", NULL },
		   { DISC_REDIRECT, NULL, NULL });
	/* switches off and no manual URL */
	in.static_server = NULL;
	in.no_pnp = true;
	in.no_redirect = true;
	check_plan(&in, { DISC_DHCP_160, "http://a/", NULL }, { DISC_DHCP_159, "http://b/", NULL },
		   { DISC_DHCP_66, "c", NULL }, { DISC_DHCPV6, "https://prov.example.com/", NULL });
	in.no_dhcp = true;
	check_none(&in, -ENOENT, "redirection server are off");
	in.ip_mode = DISC_IP_V6;
	check_none(&in, -ENOENT, "IPv6 only");
	in.no_dhcp = false;
	/* the enterprise number: another vendor's option 17 is not ours */
	in.dhcpv6_enterprise = 9;
	check_plan(&in, { DISC_DHCPV6, "https://prov.example.com/", NULL });
	in.dhcpv6_enterprise = 1234;
	check_none(&in, -ENOENT, "sub-option 1");
	in.dhcpv6_enterprise = 0;
	/* IPv4 only ignores DHCPv6 */
	in.ip_mode = DISC_IP_V4;
	in.no_pnp = false;
	in.no_redirect = false;
	dhcp_options_clear(o);
	assert_int_equal(dhcp_options_set(o, v6_17, NULL), -EINVAL); /* it has a newline */
	{
		struct dhcp_options *v6only = load(v6_17);

		in.dhcp = v6only;
		check_plan(&in, { DISC_PNP, NULL, NULL }, { DISC_REDIRECT, NULL, NULL });
		/* a malformed DHCPv6 option counts as absent */
		assert_int_equal(dhcp_options_set(v6only, "6:17=hex:0000000900010019", NULL), 0);
		in.ip_mode = DISC_IP_V6;
		check_none(&in, -ENOENT, "malformed");
		in.static_server = "ftp://user:pwd@10.0.0.1:2121/dir";
		check_plan(&in, { DISC_MANUAL, "ftp://user:pwd@10.0.0.1:2121/dir", NULL });
		dhcp_options_free(v6only);
	}
	/* each option alone, v4 */
	in = (struct discovery_input){
		.profile = "panasonic", .dhcp = o, .no_pnp = true, .no_redirect = true
	};
	assert_int_equal(dhcp_options_set(o, "66=c", NULL), 0);
	check_plan(&in, { DISC_DHCP_66, "c", NULL });
	assert_int_equal(dhcp_options_set(o, "159=http://b/", NULL), 0);
	check_plan(&in, { DISC_DHCP_159, "http://b/", NULL }, { DISC_DHCP_66, "c", NULL });
	/* manual forced: alone */
	in.static_server = "http://m/";
	in.static_override = true;
	check_plan(&in, { DISC_MANUAL, "http://m/", NULL });
	in.static_server = NULL;
	check_none(&in, -ENOENT, "manual");
	in.static_override = false;
	in.ip_mode = (enum discovery_ip_mode)7;
	check_none(&in, -EINVAL, "IP mode");
	dhcp_options_free(o);
}

static void test_plan_misc(void **state)
{
	struct discovery_input in = { .profile = "yealink" };

	check_none(&in, -EINVAL, "unknown profile");
	in.profile = NULL;
	check_none(&in, -EINVAL, "unknown profile");
	assert_string_equal(discovery_source_name(DISC_DHCP_66), "DHCP option 66");
	assert_string_equal(discovery_source_name(DISC_PNP), "SIP PnP (224.0.1.75)");
	assert_string_equal(discovery_source_name(DISC_SOURCE_MAX), "unknown source");
	assert_string_equal(discovery_source_name((enum discovery_source) - 1), "unknown source");
	for (int s = 0; s < DISC_SOURCE_MAX; s++)
		assert_string_not_equal(discovery_source_name((enum discovery_source)s),
					"unknown source");
	/* seed wording: no profile tries the next candidate after its server failed */
	static const char *const names[] = { "algo", "fip", "spa", "audiocodes", "panasonic" };
	for (size_t i = 0; i < 5; i++)
		assert_false(discovery_fallthrough(names[i]));
	discovery_plan_free(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_text_and_hex),   cmocka_unit_test(test_option_150_list),
		cmocka_unit_test(test_set_errors),	   cmocka_unit_test(test_caps),
		cmocka_unit_test(test_load_file),	   cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_decode_text),	   cmocka_unit_test(test_server_form),
		cmocka_unit_test(test_decode_ipv4_list),   cmocka_unit_test(test_decode_sub_option),
		cmocka_unit_test(test_decode_vendor_opts), cmocka_unit_test(test_plan_algo),
		cmocka_unit_test(test_plan_fip),	   cmocka_unit_test(test_plan_spa),
		cmocka_unit_test(test_plan_audiocodes),	   cmocka_unit_test(test_plan_panasonic),
		cmocka_unit_test(test_plan_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
