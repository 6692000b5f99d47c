// SPDX-License-Identifier: MIT
/*
 * The SIP message layer: requests and responses, compact forms, folded lines, several Via,
 * Content-Length cases, URIs and parameters, the vendors' MAC forms, the builder (round
 * trips through the parser) and the Digest client against the RFC 2617 / 7616 vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/sip_parse.h"

static struct sip_msg *parse_ok(const char *text)
{
	struct sip_msg *m = NULL;

	assert_int_equal(sip_parse(text, strlen(text), &m), 0);
	assert_non_null(m);
	return m;
}

static const char subscribe[] =
	"SUBSCRIBE sip:MAC%3a0004138A1B2C@224.0.1.75 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-1;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:MAC%3a0004138A1B2C@224.0.1.75>;tag=abc\r\n"
	"To: <sip:MAC%3a0004138A1B2C@224.0.1.75>\r\n"
	"Call-ID: 1234@10.0.0.5\r\n"
	"CSeq: 1 SUBSCRIBE\r\n"
	"Contact: <sip:10.0.0.5:5060>\r\n"
	"Event: ua-profile;profile-type=\"device\";vendor=\"Algo\";model=\"8301\";version=\"5.4\"\r\n"
	"Expires: 0\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static void test_request(void **state)
{
	struct sip_msg *m = parse_ok(subscribe);
	char type[32], v[64];
	const char *params;

	assert_true(m->is_request);
	assert_null(m->error);
	assert_string_equal(m->method, "SUBSCRIBE");
	assert_string_equal(m->uri, "sip:MAC%3a0004138A1B2C@224.0.1.75");
	assert_int_equal(m->nvia, 1);
	assert_string_equal(m->call_id, "1234@10.0.0.5");
	assert_int_equal(m->cseq_num, 1);
	assert_string_equal(m->cseq_method, "SUBSCRIBE");
	assert_int_equal(m->expires, 0);
	assert_string_equal(m->contact, "<sip:10.0.0.5:5060>");
	assert_int_equal(m->body_len, 0);
	assert_string_equal(sip_msg_header(m, "max-forwards"), "70");
	assert_int_equal(sip_event_parse(m->event, type, sizeof(type), &params), 0);
	assert_string_equal(type, "ua-profile");
	assert_int_equal(sip_param_get(params, "vendor", v, sizeof(v)), 0);
	assert_string_equal(v, "Algo");
	assert_int_equal(sip_param_get(params, "MODEL", v, sizeof(v)), 0);
	assert_string_equal(v, "8301");
	assert_int_equal(sip_param_get(params, "nothere", v, sizeof(v)), -ENOENT);
	sip_msg_free(m);
}

static void test_compact_and_folding(void **state)
{
	struct sip_msg *m = parse_ok("NOTIFY sip:100@10.0.0.5 SIP/2.0\n"
				     "v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa, SIP/2.0/UDP\n"
				     "   10.0.0.2:5070;branch=z9hG4bKb\n"
				     "V: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKc\n"
				     "f: <sip:a@b>;tag=1\n"
				     "t: sip:c@d\n"
				     "i: call-1\n"
				     "CSEQ: 7 NOTIFY\n"
				     "o: check-sync\n"
				     "c: text/plain\n"
				     "l: 5\n"
				     "Subject: a\n"
				     "\tfolded\n"
				     "\n"
				     "hello world");
	struct sip_via via;

	assert_null(m->error);
	assert_int_equal(m->nvia, 3);
	assert_int_equal(sip_via_parse(m->via[1].p, m->via[1].len, &via), 0);
	assert_string_equal(via.transport, "UDP");
	assert_string_equal(via.host, "10.0.0.2");
	assert_int_equal(via.port, 5070);
	assert_string_equal(via.params, ";branch=z9hG4bKb");
	assert_int_equal(sip_via_parse(m->via[2].p, m->via[2].len, &via), 0);
	assert_string_equal(via.host, "10.0.0.3");
	assert_int_equal(via.port, 0);
	assert_string_equal(m->event, "check-sync");
	assert_string_equal(m->content_type, "text/plain");
	assert_string_equal(sip_msg_header(m, "s"), "a \tfolded");
	assert_int_equal(m->body_len, 5);
	assert_memory_equal(m->body, "hello", 5);
	sip_msg_free(m);
}

static void test_response(void **state)
{
	struct sip_msg *m =
		parse_ok("SIP/2.0 401 Unauthorized\r\n"
			 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=1.2.3.4\r\n"
			 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
			 "Call-ID: x\r\nCSeq: 2 NOTIFY\r\n"
			 "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n\r\n");
	char v[32];
	struct sip_via via;

	assert_false(m->is_request);
	assert_null(m->error);
	assert_int_equal(m->status, 401);
	assert_string_equal(m->reason, "Unauthorized");
	assert_int_equal(sip_via_parse(m->via[0].p, m->via[0].len, &via), 0);
	assert_int_equal(sip_param_get(via.params, "received", v, sizeof(v)), 0);
	assert_string_equal(v, "1.2.3.4");
	assert_int_equal(sip_param_get(via.params, "branch", v, sizeof(v)), 0);
	assert_string_equal(v, "z9hG4bK1");
	sip_msg_free(m);
}

static void test_content_length(void **state)
{
	const char *head = "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			   "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
			   "CSeq: 1 MESSAGE\r\n";
	char buf[512];
	struct sip_msg *m;

	/* missing: the rest of the datagram */
	snprintf(buf, sizeof(buf), "%s\r\nabcdef", head);
	m = parse_ok(buf);
	assert_null(m->error);
	assert_int_equal(m->body_len, 6);
	sip_msg_free(m);
	/* smaller: the rest is ignored */
	snprintf(buf, sizeof(buf), "%sContent-Length: 3\r\n\r\nabcdef", head);
	m = parse_ok(buf);
	assert_null(m->error);
	assert_int_equal(m->body_len, 3);
	sip_msg_free(m);
	/* larger than the datagram */
	snprintf(buf, sizeof(buf), "%sContent-Length: 30\r\n\r\nabcdef", head);
	m = parse_ok(buf);
	assert_string_equal(m->error, "Content-Length larger than the datagram");
	sip_msg_free(m);
	/* not a number */
	snprintf(buf, sizeof(buf), "%sContent-Length: -1\r\n\r\n", head);
	m = parse_ok(buf);
	assert_string_equal(m->error, "bad Content-Length");
	sip_msg_free(m);
	snprintf(buf, sizeof(buf), "%sContent-Length: 1\r\nl: 2\r\n\r\nab", head);
	m = parse_ok(buf);
	assert_string_equal(m->error, "conflicting Content-Length");
	sip_msg_free(m);
}

static void test_errors(void **state)
{
	struct sip_msg *m = NULL;
	static const char noise[] = "\x01\x02\x03\xff garbage";
	char *big;

	assert_int_equal(sip_parse(noise, sizeof(noise) - 1, &m), -EBADMSG);
	assert_int_equal(sip_parse("", 0, &m), -EBADMSG);
	assert_int_equal(sip_parse("\r\n\r\n", 4, &m), -EBADMSG);
	assert_int_equal(sip_parse("HELLO\r\n\r\n", 9, &m), -EBADMSG);
	assert_int_equal(sip_parse("GET / HTTP/1.1\r\n\r\n", 18, &m), -EBADMSG);
	assert_int_equal(sip_parse("SIP/2.0 99 x\r\n\r\n", 16, &m), -EBADMSG);
	assert_int_equal(sip_parse("OPTIONS sip:a SIP/2.0\r\nX: \0\r\n\r\n", 30, &m), -EBADMSG);
	big = calloc(1, SIP_MAX_DATAGRAM + 1);
	assert_non_null(big);
	assert_int_equal(sip_parse(big, SIP_MAX_DATAGRAM + 1, &m), -EMSGSIZE);
	free(big);

	m = parse_ok("SUBSCRIBE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
		     "To: <sip:a@b>\r\nCSeq: 1 SUBSCRIBE\r\n\r\n");
	assert_string_equal(m->error, "missing Call-ID");
	sip_msg_free(m);
	m = parse_ok("SUBSCRIBE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\n"
		     "Call-ID: x\r\nCSeq: 1 SUBSCRIBE\r\n\r\n");
	assert_string_equal(m->error, "missing Via");
	sip_msg_free(m);
	m = parse_ok("SUBSCRIBE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
		     "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: one SUBSCRIBE\r\n\r\n");
	assert_string_equal(m->error, "bad CSeq");
	sip_msg_free(m);
	m = parse_ok("SUBSCRIBE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\n"
		     "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n\r\n");
	assert_string_equal(m->error, "CSeq method does not match the request");
	sip_msg_free(m);
	m = parse_ok("SUBSCRIBE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n");
	assert_non_null(m->error);
	sip_msg_free(m);
}

static void test_uris(void **state)
{
	struct sip_uri u;
	struct sip_name_addr na;
	char v[64];
	const char *s;

	s = "sip:100:secret@[2001:db8::1]:5062;transport=udp?subject=x";
	assert_int_equal(sip_uri_parse(s, strlen(s), &u), 0);
	assert_string_equal(u.scheme, "sip");
	assert_string_equal(u.user, "100");
	assert_string_equal(u.host, "2001:db8::1");
	assert_int_equal(u.port, 5062);
	assert_string_equal(u.params, ";transport=udp");
	s = "SIPS:phone.example.com";
	assert_int_equal(sip_uri_parse(s, strlen(s), &u), 0);
	assert_string_equal(u.scheme, "sips");
	assert_string_equal(u.user, "");
	assert_int_equal(u.port, 0);
	s = "sip:MAC=00304fa99948@10.0.0.1:5060";
	assert_int_equal(sip_uri_parse(s, strlen(s), &u), 0);
	assert_string_equal(u.user, "MAC=00304fa99948");
	s = "sip:MAC:0004f2aabbcc@224.0.1.75";
	assert_int_equal(sip_uri_parse(s, strlen(s), &u), 0);
	assert_string_equal(u.user, "MAC");
	assert_string_equal(u.password, "0004f2aabbcc");
	{
		char mac[MAC_LEN + 1];

		assert_int_equal(sip_mac_from_uri(&u, mac), 0);
		assert_string_equal(mac, "0004f2aabbcc");
	}
	assert_int_equal(sip_uri_parse("http://x", 8, &u), -EINVAL);
	assert_int_equal(sip_uri_parse("sip:a@", 6, &u), -EINVAL);
	assert_int_equal(sip_uri_parse("sip:a@h:99999", 13, &u), -EINVAL);
	assert_int_equal(sip_uri_parse("sip:a@h x", 9, &u), -EINVAL);

	assert_int_equal(sip_name_addr_parse("\"Desk \\\"1\\\"\" <sip:100@h;lr>;tag=9f;x", &na), 0);
	assert_string_equal(na.display, "Desk \"1\"");
	assert_string_equal(na.uri, "sip:100@h;lr");
	assert_string_equal(na.params, ";tag=9f;x");
	assert_int_equal(sip_param_get(na.params, "tag", v, sizeof(v)), 0);
	assert_string_equal(v, "9f");
	assert_int_equal(sip_param_get(na.params, "x", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(sip_name_addr_parse("Bob <sip:b@h>", &na), 0);
	assert_string_equal(na.display, "Bob");
	assert_int_equal(sip_name_addr_parse("sip:b@h;tag=2", &na), 0);
	assert_string_equal(na.uri, "sip:b@h");
	assert_string_equal(na.params, ";tag=2");
	assert_int_equal(sip_name_addr_parse("<sip:b@h", &na), -EINVAL);
	assert_int_equal(sip_name_addr_parse("", &na), -EINVAL);
}

static void test_mac_forms(void **state)
{
	char mac[MAC_LEN + 1];

	assert_int_equal(sip_mac_from_user("MAC%3a0004138A1B2C", mac), 0);
	assert_string_equal(mac, "0004138a1b2c");
	assert_int_equal(sip_mac_from_user("MAC%3A0004138a1b2c", mac), 0);
	assert_string_equal(mac, "0004138a1b2c");
	assert_int_equal(sip_mac_from_user("MAC=00304fa99948", mac), 0);
	assert_string_equal(mac, "00304fa99948");
	assert_int_equal(sip_mac_from_user("MAC:0004f2aabbcc", mac), 0);
	assert_string_equal(mac, "0004f2aabbcc");
	assert_int_equal(sip_mac_from_user("MAC0021f222b01d", mac), 0);
	assert_string_equal(mac, "0021f222b01d");
	assert_int_equal(sip_mac_from_user("0080f0123456", mac), 0);
	assert_string_equal(mac, "0080f0123456");
	assert_int_equal(sip_mac_from_user("MAC:00:04:f2:aa:bb:cc", mac), 0);
	assert_string_equal(mac, "0004f2aabbcc");
	assert_int_equal(sip_mac_from_user("MAC%3a00%3a04%3af2%3aaa%3abb%3acc", mac), 0);
	assert_string_equal(mac, "0004f2aabbcc");
	assert_int_equal(sip_mac_from_user("100", mac), -EINVAL);
	assert_int_equal(sip_mac_from_user("MAC:0004f2aabbc", mac), -EINVAL);
	assert_int_equal(sip_mac_from_user("", mac), -EINVAL);
}

static void test_builder_round_trip(void **state)
{
	struct sip_msg *req = parse_ok(subscribe), *resp;
	struct sip_builder b;
	struct sip_name_addr na;
	char buf[2048], tag[32];
	int n;

	sip_builder_init(&b, buf, sizeof(buf));
	sip_build_response_start(&b, req, 200, "OK", "srv1");
	sip_build_header(&b, "Expires", "%d", 0);
	n = sip_build_finish(&b, NULL, NULL, 0);
	assert_true(n > 0);
	assert_int_equal(sip_parse(buf, (size_t)n, &resp), 0);
	assert_null(resp->error);
	assert_int_equal(resp->status, 200);
	assert_int_equal(resp->nvia, 1);
	assert_memory_equal(resp->via[0].p, req->via[0].p, req->via[0].len);
	assert_string_equal(resp->call_id, req->call_id);
	assert_string_equal(resp->cseq, "1 SUBSCRIBE");
	assert_string_equal(resp->from, req->from);
	assert_int_equal(sip_name_addr_parse(resp->to, &na), 0);
	assert_int_equal(sip_param_get(na.params, "tag", tag, sizeof(tag)), 0);
	assert_string_equal(tag, "srv1");
	assert_int_equal(resp->expires, 0);
	sip_msg_free(resp);
	sip_msg_free(req);

	sip_builder_init(&b, buf, sizeof(buf));
	sip_build_request_line(&b, "NOTIFY", "sip:10.0.0.5:5060");
	sip_build_header(&b, "Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%s;rport", "x1");
	sip_build_header(&b, "From", "<sip:autoprov@10.0.0.1>;tag=%s", "t");
	sip_build_header(&b, "To", "<sip:10.0.0.5:5060>");
	sip_build_header(&b, "Call-ID", "n1");
	sip_build_header(&b, "CSeq", "1 NOTIFY");
	sip_build_header(&b, "Event", "ua-profile");
	n = sip_build_finish(&b, "application/url", "http://x/", 9);
	assert_true(n > 0);
	assert_int_equal(sip_parse(buf, (size_t)n, &resp), 0);
	assert_null(resp->error);
	assert_string_equal(resp->content_type, "application/url");
	assert_int_equal(resp->body_len, 9);
	assert_memory_equal(resp->body, "http://x/", 9);
	sip_msg_free(resp);

	/* too small a buffer */
	sip_builder_init(&b, buf, 20);
	sip_build_request_line(&b, "NOTIFY", "sip:10.0.0.5:5060");
	assert_int_equal(sip_build_finish(&b, NULL, NULL, 0), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),	       cmocka_unit_test(test_compact_and_folding),
		cmocka_unit_test(test_response),       cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_errors),	       cmocka_unit_test(test_uris),
		cmocka_unit_test(test_mac_forms),      cmocka_unit_test(test_builder_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
