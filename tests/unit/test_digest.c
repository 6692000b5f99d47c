// SPDX-License-Identifier: MIT
/*
 * The Digest codec (src/codec/digest.c) shared by the HTTP server, the SIP resync client
 * and the endpoint's check-sync listener: the RFC 2617 / 7616 / 2069 vectors on the client
 * side, the same vectors through the server's check, the client's answer verified by the
 * server side for every algorithm, and the single-use nonces of the check-sync listener.
 * (The Authorization parser's edge cases and the shared replay table are exercised
 * through HTTP in test_http_auth.c.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec/digest.h"

/* The client side against RFC 2617 3.5, RFC 7616 3.9.1 and RFC 2069 2.4. */
static void test_client_vectors(void **state)
{
	struct digest_challenge c;
	char out[1024];

	/* RFC 2617 3.5 */
	assert_int_equal(digest_challenge_parse(
				 "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
				 "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
				 "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
				 &c),
			 0);
	assert_true(c.qop_auth);
	assert_int_equal(c.alg, DIGEST_MD5);
	assert_int_equal(digest_authorization(&c, "GET", "/dir/index.html", "Mufasa",
						  "Circle Of Life", "0a4f113b", 1, out,
						  sizeof(out)),
			 0);
	assert_non_null(strstr(out, "response=\"6629fae49393a05397450978507c4ef1\""));
	assert_non_null(strstr(out, "nc=00000001"));
	assert_non_null(strstr(out, "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));

	/* RFC 7616 3.9.1, SHA-256 then MD5 */
	assert_int_equal(digest_challenge_parse(
				 "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
				 "algorithm=SHA-256, "
				 "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
				 "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
				 &c),
			 0);
	assert_int_equal(c.alg, DIGEST_SHA256);
	assert_int_equal(digest_authorization(&c, "GET", "/dir/index.html", "Mufasa",
						  "Circle of Life",
						  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1,
						  out, sizeof(out)),
			 0);
	assert_non_null(strstr(
		out,
		"response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
	assert_non_null(strstr(out, "algorithm=SHA-256"));
	c.alg = DIGEST_MD5;
	assert_int_equal(digest_authorization(&c, "GET", "/dir/index.html", "Mufasa",
						  "Circle of Life",
						  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1,
						  out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "response=\"8ca523f5e9506fed4657c9700eebdbec\""));

	/* RFC 2069 2.4 (no qop): response = H(HA1:nonce:HA2) */
	assert_int_equal(digest_challenge_parse("Digest realm=\"testrealm@host.com\", "
						    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"",
						    &c),
			 0);
	assert_false(c.qop_auth);
	assert_int_equal(digest_authorization(&c, "GET", "/dir/index.html", "Mufasa",
						  "CircleOfLife", "x", 1, out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "response=\"1949323746fe6a43ef61f9606e7febea\""));
	assert_null(strstr(out, "qop="));

	assert_int_equal(digest_challenge_parse("Basic realm=\"x\"", &c), -EINVAL);
	assert_int_equal(digest_challenge_parse("Digest realm=\"x\"", &c), -EINVAL);
	assert_int_equal(digest_challenge_parse("Digest nonce=\"n\", algorithm=SHA-512-256", &c),
			 -ENOTSUP);
	/* -sess needs qop (the cnonce enters A1) */
	assert_int_equal(digest_challenge_parse("Digest nonce=\"n\", algorithm=MD5-sess", &c),
			 -ENOTSUP);
	assert_int_equal(digest_challenge_parse("Digest nonce=\"n\", algorithm=MD5-sess, "
						"qop=auth",
						&c),
			 0);
	assert_int_equal(c.alg, DIGEST_MD5_SESS);
	assert_int_equal(digest_challenge_parse("Digest nonce=\"n\", qop=\"auth-int\"", &c),
			 -ENOTSUP);
	assert_int_equal(digest_challenge_parse("Digest nonce=\"n", &c), -EINVAL);
	assert_int_equal(digest_challenge_parse("Digest nonce=\"n\"", &c), 0);
	assert_int_equal(digest_authorization(&c, "NOTIFY", "sip:a\"b", "u", "p", "c", 1, out,
						  sizeof(out)),
			 -EINVAL);
	assert_int_equal(
		digest_authorization(&c, "NOTIFY", "sip:a@b", "u", "p", "c", 1, out, 40),
		-ENOSPC);
}

/* digest_response() alone: RFC 2617 3.5 and RFC 7616 3.9.1. */
static void test_response_vectors(void **state)
{
	char out[DIGEST_HEX_MAX];

	assert_int_equal(digest_response(DIGEST_MD5, "Mufasa", "testrealm@host.com",
					 "Circle Of Life", "GET", "/dir/index.html",
					 "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b",
					 "auth", out),
			 0);
	assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
	assert_int_equal(digest_response(DIGEST_SHA256, "Mufasa", "http-auth@example.org",
					 "Circle of Life", "GET", "/dir/index.html",
					 "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
					 "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", out),
			 0);
	assert_string_equal(out,
			    "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	assert_int_equal(digest_response(DIGEST_MD5, "u", "r", "p", "GET", "/", "n", "00000001",
					 "c", "auth-int", out),
			 -EINVAL);
	assert_int_equal(digest_response(DIGEST_MD5_SESS, "u", "r", "p", "GET", "/", "n", NULL,
					 NULL, NULL, out),
			 -EINVAL);
}

/* The RFC 2617 example as a server receives it. */
static void test_server_rfc2617(void **state)
{
	struct digest_credentials a;
	const char *h = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
			"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
			"qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
			"response=\"6629fae49393a05397450978507c4ef1\", "
			"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

	assert_int_equal(digest_credentials_parse(h, strlen(h), &a), 0);
	assert_true(digest_verify(&a, "GET", "Circle Of Life"));
	assert_false(digest_verify(&a, "GET", "Circle of Life"));
	assert_false(digest_verify(&a, "NOTIFY", "Circle Of Life"));
	/* SIP spells it the same way */
	assert_int_equal(digest_credentials_parse("Basic x", 7, &a), -EINVAL);
	assert_int_equal(digest_credentials_parse("Digestive x=y", 13, &a), -EINVAL);
}

/* What the client answers, the server side accepts, for every algorithm; nothing else. */
static void test_client_server_round_trip(void **state)
{
	static const enum digest_algorithm algs[] = { DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256,
						      DIGEST_SHA256_SESS };
	struct digest_nonces *ns;
	char nonce[DIGEST_NONCE_LEN + 1], ch[512], auth[1024];

	assert_int_equal(digest_nonces_new(16, false, &ns), 0);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct digest_challenge c;
		struct digest_credentials a;

		assert_int_equal(digest_nonce_make(ns, 1000, nonce, sizeof(nonce)), 0);
		assert_int_equal(digest_challenge_format(ch, sizeof(ch), "autoprov-agent", algs[i],
							 nonce, NULL, false),
				 0);
		assert_null(strstr(ch, "opaque"));
		assert_int_equal(digest_challenge_parse(ch, &c), 0);
		assert_int_equal(c.alg, algs[i]);
		assert_true(c.qop_auth);
		assert_int_equal(digest_authorization(&c, "NOTIFY", "sip:0022ee010203@10.0.0.5",
						      "2001", "pw", "cn0nce", 1, auth, sizeof(auth)),
				 0);
		assert_int_equal(digest_credentials_parse(auth, strlen(auth), &a), 0);
		assert_string_equal(a.username, "2001");
		assert_string_equal(a.uri, "sip:0022ee010203@10.0.0.5");
		assert_string_equal(a.algorithm, digest_algorithm_name(algs[i]));
		assert_true(digest_verify(&a, "NOTIFY", "pw"));
		assert_false(digest_verify(&a, "NOTIFY", "pW"));
		assert_false(digest_verify(&a, "SUBSCRIBE", "pw"));
		assert_int_equal(digest_nonce_check(ns, a.nonce, a.nc, 1001, 60), 0);
		assert_int_equal(digest_nonce_check(ns, a.nonce, a.nc, 1002, 60), -EALREADY);
		assert_int_equal(digest_nonce_check(ns, a.nonce, a.nc + 1, 1002, 60), 0);
	}
	digest_nonces_free(ns);
}

/*
 * The check-sync listener's bookkeeping: single-use nonces (one challenge, one NOTIFY,
 * whatever nc says), expiring, and different after every start.
 */
static void test_single_use_nonces(void **state)
{
	struct digest_nonces *ns, *again;
	char n1[DIGEST_NONCE_LEN + 1], n2[DIGEST_NONCE_LEN + 1], m1[DIGEST_NONCE_LEN + 1];

	assert_int_equal(digest_nonces_new(64, true, &ns), 0);
	assert_int_equal(digest_nonce_make(ns, 5000, n1, sizeof(n1)), 0);
	assert_int_equal(digest_nonce_make(ns, 5000, n2, sizeof(n2)), 0);
	assert_string_not_equal(n1, n2);
	assert_int_equal(digest_nonce_check(ns, n1, 1, 5100, 30), 0);
	/* the captured NOTIFY replayed, or with a higher nonce count: used */
	assert_int_equal(digest_nonce_check(ns, n1, 1, 5200, 30), -EALREADY);
	assert_int_equal(digest_nonce_check(ns, n1, 2, 5200, 30), -EALREADY);
	assert_int_equal(digest_nonce_check(ns, n1, 0xffffffff, 5200, 30), -EALREADY);
	/* a nonce handed out and never answered expires */
	assert_int_equal(digest_nonce_check(ns, n2, 1, 5000 + 30001, 30), -ESTALE);
	assert_int_equal(digest_nonce_check(ns, n2, 1, 5000 + 30000, 30), 0);

	/* another start: another secret, so other nonces, and the old ones are not ours */
	assert_int_equal(digest_nonces_new(64, true, &again), 0);
	assert_int_equal(digest_nonce_make(again, 5000, m1, sizeof(m1)), 0);
	assert_string_not_equal(m1, n1);
	assert_int_equal(digest_nonce_check(again, n1, 1, 5100, 30), -EINVAL);
	digest_nonces_free(again);
	digest_nonces_free(ns);
}

static void test_algorithm_parse(void **state)
{
	enum digest_algorithm alg;

	assert_int_equal(digest_algorithm_parse("", &alg), 0);
	assert_int_equal(alg, DIGEST_MD5);
	assert_int_equal(digest_algorithm_parse("sha-256-SESS", &alg), 0);
	assert_int_equal(alg, DIGEST_SHA256_SESS);
	assert_int_equal(digest_algorithm_parse("SHA-512-256", &alg), -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_vectors),
		cmocka_unit_test(test_response_vectors),
		cmocka_unit_test(test_server_rfc2617),
		cmocka_unit_test(test_client_server_round_trip),
		cmocka_unit_test(test_single_use_nonces),
		cmocka_unit_test(test_algorithm_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
