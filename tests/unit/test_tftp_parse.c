// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/proto/tftp_parse.c: parsing RRQ/WRQ packets, negotiating options
 * (RFC 2347, 2348, 2349, 7440) and the exact bytes of the ERROR, OACK and DATA packets
 * the server puts on the wire.
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

#include "proto/tftp_parse.h"

/* A packet written as a string literal: its bytes without the literal's own NUL. */
#define PKT(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static const struct tftp_limits default_limits = { TFTP_BLKSIZE_MAX, 64, 0 };

/* Parses a packet that must be accepted. */
static struct tftp_request parse_ok(const uint8_t *pkt, size_t len)
{
	struct tftp_request req;
	const char *why = NULL;
	int r;

	r = tftp_parse_request(pkt, len, &req, &why);
	if (r != 0)
		fail_msg("refused (%d): %s", r, why ? why : "(no reason)");
	return req;
}

/* Parses a packet that must be refused with err, and checks a reason comes with it. */
static void assert_parse_fails(const uint8_t *pkt, size_t len, int err)
{
	struct tftp_request req;
	const char *why = NULL;

	memset(&req, 0x5a, sizeof(req));
	assert_int_equal(tftp_parse_request(pkt, len, &req, &why), err);
	assert_non_null(why);
	assert_true(why[0] != '\0');
	/* the output parameter is set only on success */
	for (size_t i = 0; i < sizeof(req); i++)
		assert_int_equal(((const uint8_t *)&req)[i], 0x5a);
}

/* ---- requests ---- */

static void test_rrq_octet(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1SEP001122334455.cnf.xml\0octet\0"));

	assert_int_equal(req.opcode, TFTP_RRQ);
	assert_string_equal(req.filename, "SEP001122334455.cnf.xml");
	assert_int_equal(req.filename_len, strlen("SEP001122334455.cnf.xml"));
	assert_int_equal(req.mode, TFTP_MODE_OCTET);
	assert_int_equal(req.noptions, 0);
	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++)
		assert_null(req.options[o]);
}

static void test_wrq_netascii(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\2dir/upload.txt\0netascii\0"));

	assert_int_equal(req.opcode, TFTP_WRQ);
	assert_string_equal(req.filename, "dir/upload.txt");
	assert_int_equal(req.mode, TFTP_MODE_NETASCII);
}

static void test_filename_points_into_packet(void **state)
{
	static const uint8_t pkt[] = "\0\1a.cfg\0octet\0";
	struct tftp_request req = parse_ok(pkt, sizeof(pkt) - 1);

	assert_ptr_equal(req.filename, (const char *)pkt + 2);
	assert_int_equal(req.filename[req.filename_len], '\0');
}

static void test_mode_case_insensitive(void **state)
{
	assert_int_equal(parse_ok(PKT("\0\1a\0OCTET\0")).mode, TFTP_MODE_OCTET);
	assert_int_equal(parse_ok(PKT("\0\1a\0Octet\0")).mode, TFTP_MODE_OCTET);
	assert_int_equal(parse_ok(PKT("\0\1a\0NETASCII\0")).mode, TFTP_MODE_NETASCII);
	assert_int_equal(parse_ok(PKT("\0\1a\0NetAscii\0")).mode, TFTP_MODE_NETASCII);
}

static void test_mode_unsupported(void **state)
{
	assert_parse_fails(PKT("\0\1a\0mail\0"), -EPROTONOSUPPORT);
	assert_parse_fails(PKT("\0\1a\0MAIL\0"), -EPROTONOSUPPORT);
	assert_parse_fails(PKT("\0\1a\0\0"), -EPROTONOSUPPORT);
	assert_parse_fails(PKT("\0\1a\0octets\0"), -EPROTONOSUPPORT);
	assert_parse_fails(PKT("\0\1a\0octe\0"), -EPROTONOSUPPORT);
	assert_parse_fails(PKT("\0\1a\0binary\0"), -EPROTONOSUPPORT);
}

static void test_missing_nul(void **state)
{
	assert_parse_fails(PKT("\0\1a.cfg"), -EBADMSG);
	assert_parse_fails(PKT("\0\1a.cfg\0"), -EBADMSG);
	assert_parse_fails(PKT("\0\1a.cfg\0octet"), -EBADMSG);
	assert_parse_fails(PKT("\0\2a.cfg\0netascii"), -EBADMSG);
}

static void test_empty_filename(void **state)
{
	assert_parse_fails(PKT("\0\1\0octet\0"), -EBADMSG);
	assert_parse_fails(PKT("\0\2\0octet\0"), -EBADMSG);
}

static void test_truncated(void **state)
{
	static const uint8_t one[1] = { 0 };

	assert_parse_fails(one, 0, -EBADMSG);
	assert_parse_fails(one, 1, -EBADMSG);
	assert_parse_fails(PKT("\0\1"), -EBADMSG);
}

static void test_not_a_request(void **state)
{
	assert_parse_fails(PKT("\0\0a\0octet\0"), -EPROTO);
	assert_parse_fails(PKT("\0\3\0\1data"), -EPROTO);
	assert_parse_fails(PKT("\0\4\0\1"), -EPROTO);
	assert_parse_fails(PKT("\0\5\0\1oops\0"), -EPROTO);
	assert_parse_fails(PKT("\0\6blksize\0"
			       "512\0"),
			   -EPROTO);
	assert_parse_fails(PKT("\0\11a\0octet\0"), -EPROTO);
	/* the opcode is 16 bits, big-endian: 0x0101 is not RRQ */
	assert_parse_fails(PKT("\1\1a\0octet\0"), -EPROTO);
	assert_parse_fails(PKT("\1\0a\0octet\0"), -EPROTO);
	assert_parse_fails(PKT("\0\3"), -EPROTO);
}

/* ---- options ---- */

static void test_options_known(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"
					       "blksize\0"
					       "1428\0"
					       "tsize\0"
					       "0\0"
					       "timeout\0"
					       "3\0"
					       "windowsize\0"
					       "16\0"));

	assert_int_equal(req.noptions, 4);
	assert_string_equal(req.options[TFTP_OPT_BLKSIZE], "1428");
	assert_string_equal(req.options[TFTP_OPT_TSIZE], "0");
	assert_string_equal(req.options[TFTP_OPT_TIMEOUT], "3");
	assert_string_equal(req.options[TFTP_OPT_WINDOWSIZE], "16");
}

static void test_options_case_insensitive(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"
					       "BLKSIZE\0"
					       "1024\0"
					       "TSize\0"
					       "0\0"
					       "TimeOut\0"
					       "5\0"
					       "WINDOWsize\0"
					       "4\0"));

	assert_int_equal(req.noptions, 4);
	assert_string_equal(req.options[TFTP_OPT_BLKSIZE], "1024");
	assert_string_equal(req.options[TFTP_OPT_TSIZE], "0");
	assert_string_equal(req.options[TFTP_OPT_TIMEOUT], "5");
	assert_string_equal(req.options[TFTP_OPT_WINDOWSIZE], "4");
}

static void test_option_first_occurrence_wins(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"
					       "blksize\0"
					       "1024\0"
					       "BLKSIZE\0"
					       "8\0"
					       "blksize\0"
					       "abc\0"));

	assert_int_equal(req.noptions, 3);
	assert_string_equal(req.options[TFTP_OPT_BLKSIZE], "1024");
}

static void test_options_unknown_ignored_but_counted(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"
					       "multicast\0"
					       "\0"
					       "blksizes\0"
					       "9000\0"
					       "blk\0"
					       "9000\0"
					       "\0"
					       "empty-name\0"
					       "tsize\0"
					       "0\0"));

	assert_int_equal(req.noptions, 5);
	assert_null(req.options[TFTP_OPT_BLKSIZE]);
	assert_string_equal(req.options[TFTP_OPT_TSIZE], "0");
	assert_null(req.options[TFTP_OPT_TIMEOUT]);
	assert_null(req.options[TFTP_OPT_WINDOWSIZE]);
}

static void test_option_without_value(void **state)
{
	assert_parse_fails(PKT("\0\1a.cfg\0octet\0blksize\0"), -EBADMSG);
	assert_parse_fails(PKT("\0\1a.cfg\0octet\0blksize\0"
			       "512"),
			   -EBADMSG);
	assert_parse_fails(PKT("\0\1a.cfg\0octet\0blksize"), -EBADMSG);
	assert_parse_fails(PKT("\0\1a.cfg\0octet\0tsize\0"
			       "0\0blksize\0"),
			   -EBADMSG);
}

static void test_a_thousand_options(void **state)
{
	static const char head[] = "\0\1a.cfg\0octet";
	size_t cap = 32 * 1024, len = sizeof(head);
	uint8_t *pkt = malloc(cap);
	struct tftp_request req;

	assert_non_null(pkt);
	memcpy(pkt, head, sizeof(head));
	for (unsigned i = 0; i < 1000; i++) {
		int n = snprintf((char *)pkt + len, cap - len, "opt%u%cvalue%u", i, '\0', i);

		assert_true(n > 0 && (size_t)n + 1 < cap - len);
		len += (size_t)n + 1;
	}
	memcpy(pkt + len,
	       "windowsize\0"
	       "8",
	       13);
	len += 13;
	req = parse_ok(pkt, len);
	assert_int_equal(req.noptions, 1001);
	assert_string_equal(req.options[TFTP_OPT_WINDOWSIZE], "8");
	assert_null(req.options[TFTP_OPT_BLKSIZE]);
	free(pkt);
}

/* ---- negotiation ---- */

/* A request carrying one option (name, value), as the parser would leave it. */
static struct tftp_request request_with(enum tftp_option opt, const char *value)
{
	struct tftp_request req;

	memset(&req, 0, sizeof(req));
	req.opcode = TFTP_RRQ;
	req.filename = "a.cfg";
	req.filename_len = 5;
	req.mode = TFTP_MODE_OCTET;
	req.options[opt] = value;
	req.noptions = 1;
	return req;
}

static struct tftp_params negotiate_ok(const struct tftp_request *req,
				       const struct tftp_limits *limits, uint64_t file_size)
{
	struct tftp_params p;
	const char *why = NULL;
	int r = tftp_negotiate(req, limits, file_size, &p, &why);

	if (r != 0)
		fail_msg("negotiation refused (%d): %s", r, why ? why : "(no reason)");
	return p;
}

static unsigned negotiated(enum tftp_option opt, const char *value,
			   const struct tftp_limits *limits)
{
	struct tftp_request req = request_with(opt, value);
	struct tftp_params p = negotiate_ok(&req, limits, 1000);

	assert_true(p.any);
	assert_true(p.acked[opt]);
	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++)
		assert_int_equal(p.acked[o], o == opt);
	switch (opt) {
	case TFTP_OPT_BLKSIZE: return p.blksize;
	case TFTP_OPT_TIMEOUT: return p.timeout_s;
	case TFTP_OPT_WINDOWSIZE: return p.windowsize;
	default: return (unsigned)p.tsize;
	}
}

static void assert_negotiation_refused(enum tftp_option opt, const char *value)
{
	struct tftp_request req = request_with(opt, value);
	struct tftp_params p;
	const char *why = NULL;

	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(tftp_negotiate(&req, &default_limits, 1000, &p, &why), -EINVAL);
	assert_non_null(why);
	assert_true(why[0] != '\0');
	for (size_t i = 0; i < sizeof(p); i++)
		assert_int_equal(((const uint8_t *)&p)[i], 0x5a);
}

static void test_negotiate_no_options(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"));
	struct tftp_params p = negotiate_ok(&req, &default_limits, 1234);

	assert_false(p.any);
	assert_int_equal(p.blksize, 512);
	assert_int_equal(p.windowsize, 1);
	assert_int_equal(p.timeout_s, 0);
	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++)
		assert_false(p.acked[o]);
}

static void test_negotiate_unknown_options_only(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0multicast\0\0"));
	struct tftp_params p = negotiate_ok(&req, &default_limits, 1234);

	/* nothing to acknowledge: no OACK, plain RFC 1350 transfer */
	assert_false(p.any);
	assert_int_equal(p.blksize, 512);
}

static void test_negotiate_blksize(void **state)
{
	static const struct tftp_limits small = { 1468, 64, 0 };

	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "8", &default_limits), 8);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "512", &default_limits), 512);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "1428", &default_limits), 1428);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "65464", &default_limits), 65464);
	/* more than allowed is lowered to the limit (RFC 2348), not refused */
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "65465", &default_limits), 65464);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "70000", &default_limits), 65464);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "1428", &small), 1428);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "1468", &small), 1468);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "8192", &small), 1468);
	assert_int_equal(negotiated(TFTP_OPT_BLKSIZE, "70000", &small), 1468);
}

static void test_negotiate_blksize_refused(void **state)
{
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, "0");
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, "7");
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, "abc");
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, "");
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, "-512");
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, " 512");
	assert_negotiation_refused(TFTP_OPT_BLKSIZE, "512k");
}

static void test_negotiate_tsize(void **state)
{
	struct tftp_request req = request_with(TFTP_OPT_TSIZE, "0");
	struct tftp_params p;

	/* RFC 2349: the client sends 0 in a read request and gets the size back */
	p = negotiate_ok(&req, &default_limits, 123456);
	assert_true(p.any);
	assert_true(p.acked[TFTP_OPT_TSIZE]);
	assert_true(p.tsize == 123456);
	/* an empty file: tsize left out, since curl aborts on "tsize 0" in an OACK */
	p = negotiate_ok(&req, &default_limits, 0);
	assert_false(p.acked[TFTP_OPT_TSIZE]);
	assert_false(p.any);
	p = negotiate_ok(&req, &default_limits, 5ull << 30);
	assert_true(p.tsize == 5ull << 30);
	/* whatever number the client sent, the answer is the file's size */
	req = request_with(TFTP_OPT_TSIZE, "999");
	p = negotiate_ok(&req, &default_limits, 42);
	assert_true(p.tsize == 42);
	/* the transfer itself keeps the defaults */
	assert_int_equal(p.blksize, 512);
	assert_int_equal(p.windowsize, 1);
	assert_negotiation_refused(TFTP_OPT_TSIZE, "abc");
	assert_negotiation_refused(TFTP_OPT_TSIZE, "");
}

/* Over max_timeout the option is left out of the OACK (RFC 2349 allows no other value). */
static void test_negotiate_timeout_capped(void **state)
{
	static const struct tftp_limits capped = { TFTP_BLKSIZE_MAX, 64, 5 };
	struct tftp_request req = request_with(TFTP_OPT_TIMEOUT, "255");
	struct tftp_params p = negotiate_ok(&req, &capped, 1000);

	assert_false(p.acked[TFTP_OPT_TIMEOUT]);
	assert_false(p.any);
	assert_int_equal(p.timeout_s, 0);
	assert_int_equal(negotiated(TFTP_OPT_TIMEOUT, "5", &capped), 5);
	assert_int_equal(negotiated(TFTP_OPT_TIMEOUT, "1", &capped), 1);
	req = request_with(TFTP_OPT_TIMEOUT, "6");
	p = negotiate_ok(&req, &capped, 1000);
	assert_false(p.acked[TFTP_OPT_TIMEOUT]);
}

static void test_negotiate_timeout(void **state)
{
	assert_int_equal(negotiated(TFTP_OPT_TIMEOUT, "1", &default_limits), 1);
	assert_int_equal(negotiated(TFTP_OPT_TIMEOUT, "30", &default_limits), 30);
	assert_int_equal(negotiated(TFTP_OPT_TIMEOUT, "255", &default_limits), 255);
	assert_negotiation_refused(TFTP_OPT_TIMEOUT, "0");
	assert_negotiation_refused(TFTP_OPT_TIMEOUT, "256");
	assert_negotiation_refused(TFTP_OPT_TIMEOUT, "1.5");
	assert_negotiation_refused(TFTP_OPT_TIMEOUT, "");
}

static void test_negotiate_windowsize(void **state)
{
	static const struct tftp_limits big = { TFTP_BLKSIZE_MAX, TFTP_WINDOWSIZE_MAX, 0 };

	assert_int_equal(negotiated(TFTP_OPT_WINDOWSIZE, "1", &default_limits), 1);
	assert_int_equal(negotiated(TFTP_OPT_WINDOWSIZE, "16", &default_limits), 16);
	assert_int_equal(negotiated(TFTP_OPT_WINDOWSIZE, "64", &default_limits), 64);
	assert_int_equal(negotiated(TFTP_OPT_WINDOWSIZE, "65", &default_limits), 64);
	assert_int_equal(negotiated(TFTP_OPT_WINDOWSIZE, "100000", &default_limits), 64);
	assert_int_equal(negotiated(TFTP_OPT_WINDOWSIZE, "100000", &big), 65535);
	assert_negotiation_refused(TFTP_OPT_WINDOWSIZE, "0");
	assert_negotiation_refused(TFTP_OPT_WINDOWSIZE, "many");
	assert_negotiation_refused(TFTP_OPT_WINDOWSIZE, "");
}

static void test_negotiate_all_from_packet(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"
					       "windowsize\0"
					       "1000\0"
					       "timeout\0"
					       "2\0"
					       "Blksize\0"
					       "1428\0"
					       "tsize\0"
					       "0\0"
					       "rollover\0"
					       "0\0"));
	struct tftp_params p = negotiate_ok(&req, &default_limits, 77);

	assert_true(p.any);
	assert_int_equal(p.blksize, 1428);
	assert_int_equal(p.windowsize, 64);
	assert_int_equal(p.timeout_s, 2);
	assert_true(p.tsize == 77);
	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++)
		assert_true(p.acked[o]);
}

static void test_negotiate_one_bad_option_refuses_all(void **state)
{
	struct tftp_request req = parse_ok(PKT("\0\1a.cfg\0octet\0"
					       "blksize\0"
					       "1428\0"
					       "timeout\0"
					       "0\0"));
	struct tftp_params p;
	const char *why = NULL;

	assert_int_equal(tftp_negotiate(&req, &default_limits, 77, &p, &why), -EINVAL);
	assert_non_null(why);
}

/* ---- builders ---- */

static void test_build_error(void **state)
{
	static const uint8_t expect[] = "\0\5\0\1file not found";
	uint8_t buf[64];

	memset(buf, 0xee, sizeof(buf));
	/* sizeof(expect) counts the trailing NUL the packet carries */
	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_ENOTFOUND, "file not found"),
			 sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
	assert_int_equal(buf[sizeof(expect)], 0xee);
}

static void test_build_error_codes(void **state)
{
	uint8_t buf[16];

	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_EOPTNEG, "no"), 7);
	assert_memory_equal(buf, "\0\5\0\10no\0", 7);
	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_EUNDEF, ""), 5);
	assert_memory_equal(buf, "\0\5\0\0\0", 5);
	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_EACCESS, "x"), 6);
	assert_memory_equal(buf, "\0\5\0\2x\0", 6);
}

static void test_build_error_truncated(void **state)
{
	uint8_t buf[32];

	/* the message is cut to fit, and the packet still ends in NUL within cap */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(tftp_build_error(buf, 10, TFTP_EACCESS, "access violation"), 10);
	assert_memory_equal(buf, "\0\5\0\2acces\0", 10);
	assert_int_equal(buf[10], 0xee);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(tftp_build_error(buf, 5, TFTP_EACCESS, "access violation"), 5);
	assert_memory_equal(buf, "\0\5\0\2\0", 5);
	assert_int_equal(buf[5], 0xee);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(tftp_build_error(buf, 4, TFTP_EACCESS, "x"), 0);
	assert_int_equal(tftp_build_error(buf, 0, TFTP_EACCESS, "x"), 0);
	assert_int_equal(buf[4], 0xee);
}

static struct tftp_params params_acking(bool blksize, bool tsize, bool timeout, bool window)
{
	struct tftp_params p;

	memset(&p, 0, sizeof(p));
	p.blksize = 1428;
	p.tsize = 123456;
	p.timeout_s = 3;
	p.windowsize = 16;
	p.acked[TFTP_OPT_BLKSIZE] = blksize;
	p.acked[TFTP_OPT_TSIZE] = tsize;
	p.acked[TFTP_OPT_TIMEOUT] = timeout;
	p.acked[TFTP_OPT_WINDOWSIZE] = window;
	p.any = blksize || tsize || timeout || window;
	return p;
}

static void test_build_oack_all(void **state)
{
	static const uint8_t expect[] = "\0\6"
					"blksize\0"
					"1428\0"
					"tsize\0"
					"123456\0"
					"timeout\0"
					"3\0"
					"windowsize\0"
					"16";
	struct tftp_params p = params_acking(true, true, true, true);
	uint8_t buf[128];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &p), sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
	assert_int_equal(buf[sizeof(expect)], 0xee);
}

static void test_build_oack_only_acked(void **state)
{
	static const uint8_t expect_tsize[] = "\0\6tsize\0"
					      "123456";
	static const uint8_t expect_two[] = "\0\6blksize\0"
					    "1428\0windowsize\0"
					    "16";
	struct tftp_params p = params_acking(false, true, false, false);
	uint8_t buf[128];

	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &p), sizeof(expect_tsize));
	assert_memory_equal(buf, expect_tsize, sizeof(expect_tsize));
	p = params_acking(true, false, false, true);
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &p), sizeof(expect_two));
	assert_memory_equal(buf, expect_two, sizeof(expect_two));
	p = params_acking(false, false, false, false);
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &p), 2);
	assert_memory_equal(buf, "\0\6", 2);
}

static void test_build_oack_from_request(void **state)
{
	/* the OACK's order is fixed, whatever order the client asked in */
	static const uint8_t expect[] = "\0\6"
					"blksize\0"
					"1024\0"
					"tsize\0"
					"77\0"
					"windowsize\0"
					"4";
	struct tftp_request req = parse_ok(PKT("\0\1small.cfg\0octet\0"
					       "windowsize\0"
					       "4\0"
					       "tsize\0"
					       "0\0"
					       "unknown\0"
					       "1\0"
					       "blksize\0"
					       "1024\0"));
	struct tftp_params p = negotiate_ok(&req, &default_limits, 77);
	uint8_t buf[128];

	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &p), sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
}

static void test_build_oack_large_tsize(void **state)
{
	static const uint8_t expect[] = "\0\6tsize\0"
					"18446744073709551615";
	struct tftp_params p = params_acking(false, true, false, false);
	uint8_t buf[64];

	p.tsize = UINT64_MAX;
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &p), sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
}

static void test_build_oack_cap(void **state)
{
	struct tftp_params p = params_acking(true, true, true, true);
	size_t full;
	uint8_t buf[128];

	full = tftp_build_oack(buf, sizeof(buf), &p);
	assert_true(full > 2);
	/* exactly enough room, then one byte short of it: all or nothing, never past cap */
	for (size_t cap = 0; cap <= full; cap++) {
		size_t n;

		memset(buf, 0xee, sizeof(buf));
		n = tftp_build_oack(buf, cap, &p);
		assert_int_equal(n, cap == full ? full : 0);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xee);
	}
}

static void test_build_data_header(void **state)
{
	uint8_t hdr[4];

	tftp_build_data_header(hdr, 0);
	assert_memory_equal(hdr, "\0\3\0\0", 4);
	tftp_build_data_header(hdr, 1);
	assert_memory_equal(hdr, "\0\3\0\1", 4);
	tftp_build_data_header(hdr, 258);
	assert_memory_equal(hdr, "\0\3\1\2", 4);
	tftp_build_data_header(hdr, 65535);
	assert_memory_equal(hdr, "\0\3\377\377", 4);
}

/* ---- headers ---- */

static void test_parse_header(void **state)
{
	enum tftp_opcode op;
	uint16_t num;

	assert_int_equal(tftp_parse_header(PKT("\0\4\0\1"), &op, &num), 0);
	assert_int_equal(op, TFTP_ACK);
	assert_int_equal(num, 1);
	assert_int_equal(tftp_parse_header(PKT("\0\4\377\377"), &op, &num), 0);
	assert_int_equal(num, 65535);
	assert_int_equal(tftp_parse_header(PKT("\0\3\1\2payload"), &op, &num), 0);
	assert_int_equal(op, TFTP_DATA);
	assert_int_equal(num, 258);
	assert_int_equal(tftp_parse_header(PKT("\0\5\0\10refused\0"), &op, &num), 0);
	assert_int_equal(op, TFTP_ERROR);
	assert_int_equal(num, TFTP_EOPTNEG);
}

static void test_parse_header_round_trip(void **state)
{
	uint8_t buf[64];
	enum tftp_opcode op;
	uint16_t num;

	tftp_build_data_header(buf, 40000);
	assert_int_equal(tftp_parse_header(buf, 4, &op, &num), 0);
	assert_int_equal(op, TFTP_DATA);
	assert_int_equal(num, 40000);
	assert_int_equal(tftp_parse_header(buf,
					   tftp_build_error(buf, sizeof(buf), TFTP_EBADID,
							    "unknown transfer ID"),
					   &op, &num),
			 0);
	assert_int_equal(op, TFTP_ERROR);
	assert_int_equal(num, TFTP_EBADID);
}

static void test_parse_header_short(void **state)
{
	enum tftp_opcode op = TFTP_RRQ;
	uint16_t num = 7;

	assert_int_equal(tftp_parse_header(PKT(""), &op, &num), -EBADMSG);
	assert_int_equal(tftp_parse_header(PKT("\0"), &op, &num), -EBADMSG);
	assert_int_equal(tftp_parse_header(PKT("\0\4"), &op, &num), -EBADMSG);
	assert_int_equal(tftp_parse_header(PKT("\0\4\0"), &op, &num), -EBADMSG);
	assert_int_equal(op, TFTP_RRQ);
	assert_int_equal(num, 7);
}

static void test_option_names(void **state)
{
	assert_string_equal(tftp_option_name(TFTP_OPT_BLKSIZE), "blksize");
	assert_string_equal(tftp_option_name(TFTP_OPT_TSIZE), "tsize");
	assert_string_equal(tftp_option_name(TFTP_OPT_TIMEOUT), "timeout");
	assert_string_equal(tftp_option_name(TFTP_OPT_WINDOWSIZE), "windowsize");
	assert_string_equal(tftp_option_name(_TFTP_OPT_MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rrq_octet),
		cmocka_unit_test(test_wrq_netascii),
		cmocka_unit_test(test_filename_points_into_packet),
		cmocka_unit_test(test_mode_case_insensitive),
		cmocka_unit_test(test_mode_unsupported),
		cmocka_unit_test(test_missing_nul),
		cmocka_unit_test(test_empty_filename),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_not_a_request),
		cmocka_unit_test(test_options_known),
		cmocka_unit_test(test_options_case_insensitive),
		cmocka_unit_test(test_option_first_occurrence_wins),
		cmocka_unit_test(test_options_unknown_ignored_but_counted),
		cmocka_unit_test(test_option_without_value),
		cmocka_unit_test(test_a_thousand_options),
		cmocka_unit_test(test_negotiate_no_options),
		cmocka_unit_test(test_negotiate_unknown_options_only),
		cmocka_unit_test(test_negotiate_blksize),
		cmocka_unit_test(test_negotiate_blksize_refused),
		cmocka_unit_test(test_negotiate_tsize),
		cmocka_unit_test(test_negotiate_timeout),
		cmocka_unit_test(test_negotiate_timeout_capped),
		cmocka_unit_test(test_negotiate_windowsize),
		cmocka_unit_test(test_negotiate_all_from_packet),
		cmocka_unit_test(test_negotiate_one_bad_option_refuses_all),
		cmocka_unit_test(test_build_error),
		cmocka_unit_test(test_build_error_codes),
		cmocka_unit_test(test_build_error_truncated),
		cmocka_unit_test(test_build_oack_all),
		cmocka_unit_test(test_build_oack_only_acked),
		cmocka_unit_test(test_build_oack_from_request),
		cmocka_unit_test(test_build_oack_large_tsize),
		cmocka_unit_test(test_build_oack_cap),
		cmocka_unit_test(test_build_data_header),
		cmocka_unit_test(test_parse_header),
		cmocka_unit_test(test_parse_header_round_trip),
		cmocka_unit_test(test_parse_header_short),
		cmocka_unit_test(test_option_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
