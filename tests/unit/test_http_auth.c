// SPDX-License-Identifier: MIT
/*
 * HTTP Basic and Digest authentication: the examples of RFC 7617 and RFC 7616, the
 * Authorization parser's edge cases, the challenges, and the nonces with their replay
 * table (issue, expiry, forgery, replay, eviction).
 */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "proto/http_auth.h"

static int parse(const char *s, struct http_authorization *a)
{
	return http_auth_parse(s, strlen(s), a);
}

static void assert_invalid(const char *s)
{
	struct http_authorization a;

	if (parse(s, &a) != -EINVAL)
		fail_msg("parsed: %s", s);
}

/* RFC 7617 2: the Aladdin example. */
static void test_basic_rfc7617(void **state)
{
	struct http_authorization a;

	assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &a), 0);
	assert_int_equal(a.scheme, HTTP_AUTH_BASIC);
	assert_string_equal(a.username, "Aladdin");
	assert_string_equal(a.password, "open sesame");
	assert_true(http_basic_verify(&a, "Aladdin", "open sesame"));
	assert_false(http_basic_verify(&a, "Aladdin", "open sesam"));
	assert_false(http_basic_verify(&a, "Aladdin", "open sesame!"));
	assert_false(http_basic_verify(&a, "aladdin", "open sesame"));
	assert_false(http_digest_verify(&a, "GET", "open sesame"));

	/* scheme in any case, extra spaces */
	assert_int_equal(parse("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &a), 0);
	assert_int_equal(parse("  BASIC   QWxhZGRpbjpvcGVuIHNlc2FtZQ==  ", &a), 0);
	assert_string_equal(a.password, "open sesame");
}

static void test_basic_edges(void **state)
{
	struct http_authorization a;

	/* "user:pa:ss": the password keeps its colons */
	assert_int_equal(parse("Basic dXNlcjpwYTpzcw==", &a), 0);
	assert_string_equal(a.username, "user");
	assert_string_equal(a.password, "pa:ss");
	/* ":" alone: empty user and password */
	assert_int_equal(parse("Basic Og==", &a), 0);
	assert_string_equal(a.username, "");
	assert_string_equal(a.password, "");
	/* "ab:c" with no padding needed */
	assert_int_equal(parse("Basic YWI6Yw==", &a), 0);
	assert_int_equal(parse("Basic YWJjOmRl", &a), 0); /* "abc:de" */
	assert_string_equal(a.username, "abc");
	assert_string_equal(a.password, "de");

	assert_invalid("Basic");
	assert_invalid("Basic ");
	assert_invalid("BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	assert_invalid("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ");	/* no padding */
	assert_invalid("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=");	/* short padding */
	assert_invalid("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ===");	/* long padding */
	assert_invalid("Basic QWxh=GRpbjpvcGVuIHNlc2FtZQ==");	/* '=' inside */
	assert_invalid("Basic QWxhZGRpbjpvcGVu IHNlc2FtZQ==");	/* space inside */
	assert_invalid("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==,x"); /* trailing garbage */
	assert_invalid("Basic QWxhZGRpbg==");			/* "Aladdin": no colon */
	assert_invalid("Basic dXNlcgBhOmI=");			/* "user\0a:b" */
	assert_invalid("Basic dXNlcjphCmI=");			/* "user:a\nb" */
	assert_invalid("Basic dXNlcjpw_A==");			/* base64url '_' */
	assert_invalid("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	assert_invalid("");
	assert_invalid("   ");

	/* lengths: a 256-byte password fits, 257 does not; 128-byte user, 129 not */
	{
		char raw[512], b64[800], hdr[900];
		static const char t[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t n, o = 0;

		for (int round = 0; round < 4; round++) {
			size_t ulen = round == 2 ? 128 : round == 3 ? 129 : 4;
			size_t plen = round == 0 ? 256 : round == 1 ? 257 : 4;

			memset(raw, 'u', ulen);
			raw[ulen] = ':';
			memset(raw + ulen + 1, 'p', plen);
			n = ulen + 1 + plen;
			o = 0;
			for (size_t i = 0; i < n; i += 3) {
				unsigned v = (unsigned)(unsigned char)raw[i] << 16;

				if (i + 1 < n)
					v |= (unsigned)(unsigned char)raw[i + 1] << 8;
				if (i + 2 < n)
					v |= (unsigned char)raw[i + 2];
				b64[o++] = t[v >> 18 & 63];
				b64[o++] = t[v >> 12 & 63];
				b64[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
				b64[o++] = i + 2 < n ? t[v & 63] : '=';
			}
			b64[o] = '\0';
			snprintf(hdr, sizeof(hdr), "Basic %s", b64);
			assert_int_equal(parse(hdr, &a), round % 2 == 0 ? 0 : -EINVAL);
		}
	}
}

#define RFC7616_MD5                                                                                \
	"Digest username=\"Mufasa\",\n"                                                            \
	"       realm=\"http-auth@example.org\",\n"                                                \
	"       uri=\"/dir/index.html\",\n"                                                        \
	"       algorithm=MD5,\n"                                                                  \
	"       nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\n"                         \
	"       nc=00000001,\n"                                                                    \
	"       cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\n"                        \
	"       qop=auth,\n"                                                                       \
	"       response=\"8ca523f5e9506fed4657c9700eebdbec\",\n"                                  \
	"       opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""

/*
 * RFC 7616 3.9.1, unfolded: header field values arrive on one line, and the RFC's line
 * breaks are its layout. (A newline is not whitespace to the parser.)
 */
static void unfold(const char *in, char *out, size_t outsz)
{
	size_t n = 0;

	for (; *in && n + 1 < outsz; in++) {
		if (*in == '\n') {
			while (in[1] == ' ')
				in++;
			out[n++] = ' ';
			continue;
		}
		out[n++] = *in;
	}
	out[n] = '\0';
}

static void test_digest_rfc7616_md5(void **state)
{
	struct http_authorization a;
	char h[1024];

	assert_int_equal(parse(RFC7616_MD5, &a), -EINVAL); /* folded */
	unfold(RFC7616_MD5, h, sizeof(h));
	assert_int_equal(parse(h, &a), 0);
	assert_int_equal(a.scheme, HTTP_AUTH_DIGEST);
	assert_string_equal(a.username, "Mufasa");
	assert_string_equal(a.digest.realm, "http-auth@example.org");
	assert_string_equal(a.digest.uri, "/dir/index.html");
	assert_string_equal(a.digest.algorithm, "MD5");
	assert_string_equal(a.digest.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
	assert_string_equal(a.digest.nc_hex, "00000001");
	assert_int_equal(a.digest.nc, 1);
	assert_string_equal(a.digest.cnonce, "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
	assert_string_equal(a.digest.qop, "auth");
	assert_string_equal(a.digest.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
	assert_false(a.digest.userhash);
	assert_true(http_digest_verify(&a, "GET", "Circle of Life"));
	assert_false(http_digest_verify(&a, "GET", "Circle of life"));
	assert_false(http_digest_verify(&a, "HEAD", "Circle of Life"));
	assert_false(http_basic_verify(&a, "Mufasa", "Circle of Life"));

	/* the same response in upper case hex is the same digest */
	{
		struct http_authorization b = a;

		memcpy(b.digest.response, "8CA523F5E9506FED4657C9700EEBDBEC", 33);
		assert_true(http_digest_verify(&b, "GET", "Circle of Life"));
		/* every field enters the digest */
		b = a;
		b.digest.uri[1] = 'D';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.nc_hex[7] = '2';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.cnonce[0] = 'F';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.nonce[0] = '8';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.realm[0] = 'H';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.username[0] = 'm';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.response[31] = '\0'; /* one digit short */
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		/* algorithm absent: MD5 */
		b = a;
		b.digest.algorithm[0] = '\0';
		assert_true(http_digest_verify(&b, "GET", "Circle of Life"));
		/* but not SHA-256 with an MD5 response, nor an unknown algorithm */
		memcpy(b.digest.algorithm, "SHA-256", 8);
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		memcpy(b.digest.algorithm, "SHA-1", 6);
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		/* no qop (RFC 2069), auth-int, userhash: refused */
		b = a;
		b.digest.qop[0] = '\0';
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		memcpy(b.digest.qop, "auth-int", 9);
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
		b = a;
		b.digest.userhash = true;
		assert_false(http_digest_verify(&b, "GET", "Circle of Life"));
	}
}

static void test_digest_rfc7616_sha256(void **state)
{
	struct http_authorization a;
	const char *h = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
			"uri=\"/dir/index.html\", algorithm=SHA-256, "
			"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
			"cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
			"response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c"
			"1\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

	assert_int_equal(parse(h, &a), 0);
	assert_string_equal(a.digest.algorithm, "SHA-256");
	assert_true(http_digest_verify(&a, "GET", "Circle of Life"));
	assert_false(http_digest_verify(&a, "GET", "Circle Of Life"));
	/* the algorithm name is case-insensitive */
	memcpy(a.digest.algorithm, "sha-256", 8);
	assert_true(http_digest_verify(&a, "GET", "Circle of Life"));
	memcpy(a.digest.algorithm, "MD5", 4);
	assert_false(http_digest_verify(&a, "GET", "Circle of Life"));
}

/*
 * The -sess variants (RFC 7616 3.4.2: A1 = H(user:realm:pass):nonce:cnonce), checked
 * against responses curl 7.88 computed for user "user", password "pa:ss".
 */
static void test_digest_sess(void **state)
{
	struct http_authorization a;
	const char *md5 =
		"Digest username=\"user\", realm=\"autoprov \\\"test\\\" \\\\ realm\", "
		"nonce=\"0000000000a42728000000000000000111aa18b6460b9eaea7cfe8b39f39be01\", "
		"uri=\"/dir/x.cfg?a=b\", cnonce=\"OGU5MWJkNmFkZDZiZDk2M2JmMTAxY2VkODBjOGRjYzM=\", "
		"nc=00000001, qop=auth, response=\"f9ee7864b98670ae158313f23930a579\", "
		"opaque=\"opq\", algorithm=MD5-sess";
	const char *sha =
		"Digest username=\"user\", realm=\"autoprov \\\"test\\\" \\\\ realm\", "
		"nonce=\"0000000000a4232f0000000000000001879d83e2861458b56789557a6e3392da\", "
		"uri=\"/dir/x.cfg?a=b\", "
		"cnonce=\"ZWMxMjk4YmQ3MWI0MjRmMTRhYTFmYTkwMjZjODRlNjU=\", nc=00000001, "
		"qop=auth, "
		"response=\"bf903cf591dec6f47638bd557b4d8da0c3456f1dfdd5c12e8aa74c27a171ac1a\", "
		"opaque=\"opq\", algorithm=SHA-256-sess";

	assert_int_equal(parse(md5, &a), 0);
	assert_string_equal(a.digest.realm, "autoprov \"test\" \\ realm");
	assert_true(http_digest_verify(&a, "GET", "pa:ss"));
	assert_false(http_digest_verify(&a, "GET", "pa:sS"));
	memcpy(a.digest.algorithm, "MD5", 4);
	assert_false(http_digest_verify(&a, "GET", "pa:ss"));
	assert_int_equal(parse(sha, &a), 0);
	assert_true(http_digest_verify(&a, "GET", "pa:ss"));
	memcpy(a.digest.algorithm, "SHA-256", 8);
	assert_false(http_digest_verify(&a, "GET", "pa:ss"));
}

#define REQ " username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0\""

static void test_digest_syntax(void **state)
{
	struct http_authorization a;

	/* minimal, spaces, tabs, lowercase scheme and names, empty list elements */
	assert_int_equal(parse("Digest" REQ, &a), 0);
	assert_string_equal(a.digest.qop, "");
	assert_int_equal(a.digest.nc, 0);
	assert_int_equal(parse("digest username=u,realm=r,nonce=n,uri=\"/\",response=0", &a), 0);
	assert_string_equal(a.digest.uri, "/");
	assert_int_equal(parse("DIGEST USERNAME = \"u\" ,\tRealm\t=\tr , , NONCE=n,uri=\"/\","
			       "Response=0,",
			       &a),
			 0);
	assert_string_equal(a.digest.realm, "r");
	assert_int_equal(parse("Digest ,," REQ ",, ", &a), 0);
	assert_int_equal(parse("Digest\t" REQ, &a), -EINVAL); /* 1*SP after the scheme */
	assert_int_equal(parse("Digest  " REQ "  ", &a), 0);

	/* quoted strings: escapes, commas and '=' inside, empty, UTF-8 */
	assert_int_equal(parse("Digest username=\"a\\\"b\\\\c\\d\", realm=\"x, y=z\", nonce=\"\","
			       " uri=\"/\", response=\"0\"",
			       &a),
			 0);
	assert_string_equal(a.username, "a\"b\\cd");
	assert_string_equal(a.digest.realm, "x, y=z");
	assert_string_equal(a.digest.nonce, "");
	assert_int_equal(parse("Digest username=\"J\xc3\xbcrgen\", realm=r, nonce=n, uri=\"/\","
			       " response=0",
			       &a),
			 0);
	assert_string_equal(a.username, "J\xc3\xbcrgen");

	/* unknown parameters are ignored, known ones kept */
	assert_int_equal(parse("Digest" REQ ", charset=UTF-8, x-thing=\"q\\\"\", opaque=\"o\"", &a),
			 0);
	assert_string_equal(a.digest.opaque, "o");

	/* qop needs cnonce and nc */
	assert_int_equal(parse("Digest" REQ ", qop=auth, nc=0000000a, cnonce=\"c\"", &a), 0);
	assert_int_equal(a.digest.nc, 10);
	assert_string_equal(a.digest.nc_hex, "0000000a");
	assert_int_equal(parse("Digest" REQ ", qop=\"auth\", nc=FFFFFFFF, cnonce=c", &a), 0);
	assert_int_equal(a.digest.nc, 0xffffffffu);
	assert_string_equal(a.digest.qop, "auth");
	assert_invalid("Digest" REQ ", qop=auth, nc=00000001");
	assert_invalid("Digest" REQ ", qop=auth, cnonce=c");
	/* nc: 8 hex digits */
	assert_invalid("Digest" REQ ", qop=auth, nc=1, cnonce=c");
	assert_invalid("Digest" REQ ", qop=auth, nc=000000001, cnonce=c");
	assert_invalid("Digest" REQ ", qop=auth, nc=0000000g, cnonce=c");
	assert_invalid("Digest" REQ ", qop=auth, nc=-0000001, cnonce=c");

	/* userhash */
	assert_int_equal(parse("Digest" REQ ", userhash=true", &a), 0);
	assert_true(a.digest.userhash);
	assert_int_equal(parse("Digest" REQ ", userhash=\"FALSE\"", &a), 0);
	assert_false(a.digest.userhash);
	assert_invalid("Digest" REQ ", userhash=yes");

	/* missing required parameters */
	assert_invalid("Digest");
	assert_invalid("Digest ");
	assert_invalid("Digest realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0\"");
	assert_invalid("Digest username=\"u\", nonce=\"n\", uri=\"/\", response=\"0\"");
	assert_invalid("Digest username=\"u\", realm=\"r\", uri=\"/\", response=\"0\"");
	assert_invalid("Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"0\"");
	assert_invalid("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\"");
	/* RFC 8187 username* is not supported */
	assert_invalid("Digest username*=UTF-8''J%C3%BCrgen, realm=r, nonce=n, uri=\"/\", "
		       "response=0");

	/* duplicates, in any case */
	assert_invalid("Digest" REQ ", username=\"v\"");
	assert_invalid("Digest" REQ ", Realm=r");
	assert_invalid("Digest" REQ ", opaque=a, opaque=a");
	assert_invalid("Digest" REQ ", qop=auth, nc=00000001, cnonce=c, NC=00000002");
	assert_invalid("Digest" REQ ", userhash=false, userhash=false");

	/* syntax errors */
	assert_invalid("Digest username");
	assert_invalid("Digest username=");
	assert_invalid("Digest username=\"u");
	assert_invalid("Digest username=\"u\\");
	assert_invalid("Digest" REQ ", x");
	assert_invalid("Digest" REQ ", =x");
	assert_invalid("Digest" REQ " opaque=o"); /* no comma */
	assert_invalid("Digest" REQ ", opaque=\"o\"x");
	assert_invalid("Digest" REQ ", opaque=a b");
	assert_invalid("Digest" REQ ", opaque=a\"b\"");
	assert_invalid("Digest" REQ ", opaque=\"a\x01\"");
	assert_invalid("Digest" REQ ", opaque=\"a\\\x01\"");
	assert_invalid("Digest" REQ ", opaque=\"a\x7f\"");
	assert_invalid("Digest" REQ ", op(aque=x");
	assert_invalid("Digest" REQ ", opaque=x;y");
	assert_invalid("Digest username=u, realm=r, nonce=n, uri=/, response=0"); /* '/' */
	assert_invalid("Digest" REQ "\r\n");
	assert_invalid("Digestive" REQ);
	assert_invalid("Digest=" REQ);
	assert_invalid("Negotiate abc");
	/* a tab inside a quoted string is text */
	assert_int_equal(parse("Digest" REQ ", opaque=\"a\tb\"", &a), 0);
	assert_string_equal(a.digest.opaque, "a\tb");
}

/* The parser reads exactly len bytes: nothing beyond, and a NUL inside is an error. */
static void test_digest_counted(void **state)
{
	struct http_authorization a;
	const char h[] = "Digest" REQ ", opaque=\"o\"";
	char *copy;
	size_t n = strlen(h);

	/* an exact-size heap copy without a NUL: ASan catches any read past it */
	copy = test_malloc(n);
	memcpy(copy, h, n);
	assert_int_equal(http_auth_parse(copy, n, &a), 0);
	assert_string_equal(a.digest.opaque, "o");
	for (size_t cut = 0; cut < n; cut++) {
		int r = http_auth_parse(copy, cut, &a);

		/* only the cuts after response="0" parse: '"0"', '"0",' and '"0", ' */
		assert_int_equal(r, cut >= n - 12 && cut <= n - 10 ? 0 : -EINVAL);
	}
	test_free(copy);

	assert_int_equal(http_auth_parse("Digest" REQ "\0, x", strlen("Digest" REQ) + 4, &a),
			 -EINVAL);
	assert_int_equal(http_auth_parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\0",
					 strlen("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") + 1, &a),
			 -EINVAL);
}

/* Every Digest value has its limit; one byte more is refused, not truncated. */
static void test_digest_lengths(void **state)
{
	static const struct {
		const char *name;
		size_t max;
	} limits[] = {
		{ "username", HTTP_AUTH_USER_MAX },	{ "realm", DIGEST_REALM_MAX },
		{ "nonce", DIGEST_NONCE_MAX },	{ "uri", DIGEST_URI_MAX },
		{ "response", DIGEST_RESPONSE_MAX }, { "cnonce", DIGEST_CNONCE_MAX },
		{ "opaque", DIGEST_OPAQUE_MAX },	{ "algorithm", DIGEST_TOKEN_MAX },
		{ "qop", DIGEST_TOKEN_MAX },		{ "x-unknown", DIGEST_URI_MAX },
	};
	static char value[DIGEST_URI_MAX + 2], h[3 * DIGEST_URI_MAX];
	struct http_authorization a;
	const size_t nlimits = sizeof(limits) / sizeof(limits[0]);

	for (size_t i = 0; i < nlimits; i++) {
		for (size_t extra = 0; extra < 2; extra++) {
			size_t n = 0;

			memset(value, 'v', limits[i].max + extra);
			value[limits[i].max + extra] = '\0';
			n += (size_t)snprintf(h, sizeof(h), "Digest nc=00000001");
			for (size_t j = 0; j < nlimits; j++)
				n += (size_t)snprintf(h + n, sizeof(h) - n, ", %s=\"%s\"",
						      limits[j].name, j == i ? value : "v");
			assert_true(n < sizeof(h));
			if (parse(h, &a) != (extra ? -EINVAL : 0))
				fail_msg("%s of %zu bytes", limits[i].name, limits[i].max + extra);
		}
	}
}

static void test_challenges(void **state)
{
	char out[512];

	assert_int_equal(digest_challenge_format(out, sizeof(out), "autoprov",
						    DIGEST_SHA256, "n0nce", "0paque", false),
			 0);
	assert_string_equal(out, "Digest realm=\"autoprov\", qop=\"auth\", algorithm=SHA-256, "
				 "nonce=\"n0nce\", opaque=\"0paque\"");
	assert_int_equal(digest_challenge_format(out, sizeof(out), "a \"b\" \\c",
						    DIGEST_MD5, "n", "o", true),
			 0);
	assert_string_equal(out, "Digest realm=\"a \\\"b\\\" \\\\c\", qop=\"auth\", algorithm=MD5, "
				 "nonce=\"n\", opaque=\"o\", stale=true");
	assert_int_equal(digest_challenge_format(out, sizeof(out), "r", DIGEST_MD5_SESS,
						    "n", "o", false),
			 0);
	assert_non_null(strstr(out, "algorithm=MD5-sess,"));
	assert_int_equal(digest_challenge_format(out, sizeof(out), "r", DIGEST_SHA256_SESS,
						    "n", "o", false),
			 0);
	assert_non_null(strstr(out, "algorithm=SHA-256-sess,"));
	assert_int_equal(digest_challenge_format(out, sizeof(out), "a\r\nSet-Cookie: x",
						    DIGEST_MD5, "n", "o", false),
			 -EINVAL);
	assert_string_equal(out, "");

	assert_int_equal(digest_challenge_basic_format(out, sizeof(out), "Pro \"vi\\sion\""), 0);
	assert_string_equal(out, "Basic realm=\"Pro \\\"vi\\\\sion\\\"\", charset=\"UTF-8\"");
	assert_int_equal(digest_challenge_basic_format(out, sizeof(out), "tab\there"), 0);
	assert_int_equal(digest_challenge_basic_format(out, sizeof(out), "x\x7f"), -EINVAL);

	/* exact fit, then one byte short */
	{
		const char *expect = "Basic realm=\"r\", charset=\"UTF-8\"";
		size_t n = strlen(expect);

		assert_int_equal(digest_challenge_basic_format(out, n + 1, "r"), 0);
		assert_string_equal(out, expect);
		assert_int_equal(digest_challenge_basic_format(out, n, "r"), -ENOSPC);
		assert_string_equal(out, "");
		assert_int_equal(digest_challenge_basic_format(out, 0, "r"), -ENOSPC);
	}

	/* what the challenge offers, the parser reads back in an Authorization */
	{
		struct http_authorization a;
		char h[600];

		assert_int_equal(digest_challenge_format(out, sizeof(out), "a \"b\" \\c",
							    DIGEST_MD5, "n", "o", false),
				 0);
		snprintf(h, sizeof(h),
			 "%s, username=u, uri=\"/\", response=0, nc=00000001, cnonce=c", out);
		assert_int_equal(parse(h, &a), 0);
		assert_string_equal(a.digest.realm, "a \"b\" \\c");
	}
}

static void test_algorithm_names(void **state)
{
	assert_string_equal(digest_algorithm_name(DIGEST_MD5), "MD5");
	assert_string_equal(digest_algorithm_name(DIGEST_MD5_SESS), "MD5-sess");
	assert_string_equal(digest_algorithm_name(DIGEST_SHA256), "SHA-256");
	assert_string_equal(digest_algorithm_name(DIGEST_SHA256_SESS), "SHA-256-sess");
}

static void test_nonce_lifecycle(void **state)
{
	struct digest_nonces *ns;
	char n1[DIGEST_NONCE_LEN + 1], n2[DIGEST_NONCE_LEN + 1], bad[DIGEST_NONCE_LEN + 1];
	uint64_t t = 1000;

	assert_int_equal(digest_nonces_new(0, false, &ns), 0);
	assert_int_equal(digest_nonce_make(ns, t, n1, sizeof(n1) - 1), -ENOSPC);
	assert_int_equal(digest_nonce_make(ns, t, n1, sizeof(n1)), 0);
	assert_int_equal(strlen(n1), DIGEST_NONCE_LEN);
	assert_int_equal(strspn(n1, "0123456789abcdef"), DIGEST_NONCE_LEN);
	assert_int_equal(digest_nonce_make(ns, t, n2, sizeof(n2)), 0);
	assert_string_not_equal(n1, n2); /* issued in the same millisecond, still distinct */

	/* fresh, then only higher counts */
	assert_int_equal(digest_nonce_check(ns, n1, 1, t + 10, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n1, 1, t + 20, 60), -EALREADY);
	assert_int_equal(digest_nonce_check(ns, n1, 2, t + 30, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n1, 2, t + 30, 60), -EALREADY);
	assert_int_equal(digest_nonce_check(ns, n1, 1, t + 30, 60), -EALREADY);
	assert_int_equal(digest_nonce_check(ns, n1, 7, t + 40, 60), 0); /* gaps are fine */
	assert_int_equal(digest_nonce_check(ns, n1, 5, t + 40, 60), -EALREADY);
	/* nonces are independent */
	assert_int_equal(digest_nonce_check(ns, n2, 1, t + 50, 60), 0);
	/* counts start at 1 */
	{
		char n3[DIGEST_NONCE_LEN + 1];

		assert_int_equal(digest_nonce_make(ns, t, n3, sizeof(n3)), 0);
		assert_int_equal(digest_nonce_check(ns, n3, 0, t, 60), -EALREADY);
		assert_int_equal(digest_nonce_check(ns, n3, 1, t, 60), 0);
	}

	/* expiry: lifetime_s inclusive, then stale; a failed check records nothing */
	assert_int_equal(digest_nonce_check(ns, n2, 2, t + 60000, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n2, 3, t + 60001, 60), -ESTALE);
	assert_int_equal(digest_nonce_check(ns, n2, 3, t + 60000, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n2, 4, t + 60001, 61), 0);
	assert_int_equal(digest_nonce_check(ns, n2, 5, UINT64_MAX, 60), -ESTALE);
	/* issued in the future: not one of ours */
	assert_int_equal(digest_nonce_check(ns, n1, 100, t - 1, 60), -EINVAL);

	/* every altered byte is detected, whichever part it is in */
	for (size_t i = 0; i < DIGEST_NONCE_LEN; i++) {
		memcpy(bad, n1, sizeof(bad));
		bad[i] = bad[i] == '0' ? '1' : '0';
		assert_int_equal(digest_nonce_check(ns, bad, 1000, t + 10, 60), -EINVAL);
	}
	/* wrong length, upper case, garbage */
	memcpy(bad, n1, sizeof(bad));
	bad[DIGEST_NONCE_LEN - 1] = '\0';
	assert_int_equal(digest_nonce_check(ns, bad, 1000, t + 10, 60), -EINVAL);
	assert_int_equal(digest_nonce_check(ns, "", 1, t, 60), -EINVAL);
	{
		char longer[DIGEST_NONCE_LEN + 2];

		memcpy(longer, n1, DIGEST_NONCE_LEN);
		longer[DIGEST_NONCE_LEN] = '0';
		longer[DIGEST_NONCE_LEN + 1] = '\0';
		assert_int_equal(digest_nonce_check(ns, longer, 1000, t + 10, 60), -EINVAL);
	}
	memcpy(bad, n1, sizeof(bad));
	for (size_t i = 0; i < DIGEST_NONCE_LEN; i++)
		if (bad[i] >= 'a')
			bad[i] = (char)(bad[i] - 'a' + 'A');
	if (strcmp(bad, n1) != 0)
		assert_int_equal(digest_nonce_check(ns, bad, 1000, t + 10, 60), -EINVAL);
	assert_int_equal(
		digest_nonce_check(ns, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", 1, t, 60),
		-EINVAL);

	/* another server (another secret) does not accept our nonces */
	{
		struct digest_nonces *other;

		assert_int_equal(digest_nonces_new(0, false, &other), 0);
		assert_int_equal(digest_nonce_check(other, n2, 100, t + 10, 60), -EINVAL);
		digest_nonces_free(other);
	}
	digest_nonces_free(ns);
	digest_nonces_free(NULL);
}

/*
 * A table of 4 slots: nonce k lives in slot k % 4. A nonce whose slot was taken by a
 * newer nonce is stale, recorded or not; a replay never succeeds after an eviction.
 */
static void test_nonce_eviction(void **state)
{
	struct digest_nonces *ns;
	char n[12][DIGEST_NONCE_LEN + 1];
	uint64_t t = 5;

	assert_int_equal(digest_nonces_new(4, false, &ns), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(digest_nonce_make(ns, t, n[i], sizeof(n[i])), 0);

	/* n[0] (counter 1, slot 1) used, then evicted by n[4] (counter 5, slot 1) */
	assert_int_equal(digest_nonce_check(ns, n[0], 1, t, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n[4], 1, t, 60), 0);
	/* the replay of n[0] and even a higher count of it: stale, not fresh */
	assert_int_equal(digest_nonce_check(ns, n[0], 1, t, 60), -ESTALE);
	assert_int_equal(digest_nonce_check(ns, n[0], 2, t, 60), -ESTALE);
	/* n[4] itself goes on */
	assert_int_equal(digest_nonce_check(ns, n[4], 2, t, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n[4], 2, t, 60), -EALREADY);

	/* n[1] (slot 2) was never used but n[5] and n[9] (slot 2) were: stale, conservatively */
	assert_int_equal(digest_nonce_check(ns, n[9], 1, t, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n[5], 1, t, 60), -ESTALE);
	assert_int_equal(digest_nonce_check(ns, n[1], 1, t, 60), -ESTALE);

	/* n[2] (slot 3) unused, slot 3 empty: fresh; a newer nonce of slot 3 then evicts it */
	assert_int_equal(digest_nonce_check(ns, n[2], 1, t, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n[6], 3, t, 60), 0);
	assert_int_equal(digest_nonce_check(ns, n[2], 2, t, 60), -ESTALE);
	assert_int_equal(digest_nonce_check(ns, n[6], 3, t, 60), -EALREADY);

	/* many nonces through a small table: no replay ever accepted */
	{
		char m[DIGEST_NONCE_LEN + 1];
		char used[64][DIGEST_NONCE_LEN + 1];

		for (int i = 0; i < 64; i++) {
			assert_int_equal(digest_nonce_make(ns, t, used[i], sizeof(used[i])), 0);
			assert_int_equal(digest_nonce_check(ns, used[i], 1, t, 60), 0);
			for (int j = 0; j <= i; j++) {
				int r = digest_nonce_check(ns, used[j], 1, t, 60);

				assert_true(r == -EALREADY || r == -ESTALE);
			}
		}
		assert_int_equal(digest_nonce_make(ns, t, m, sizeof(m)), 0);
		assert_int_equal(digest_nonce_check(ns, m, 1, t, 60), 0);
	}
	digest_nonces_free(ns);
}

static void hex_digest(const EVP_MD *md, const char *s, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	assert_int_equal(EVP_Digest(s, strlen(s), d, &n, md, NULL), 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* What a client computes for qop=auth (RFC 7616 3.4.1), written out the long way. */
static void client_response(const EVP_MD *md, bool sess, const char *user, const char *realm,
			    const char *password, const char *method, const char *uri,
			    const char *nonce, const char *nc, const char *cnonce, char *out)
{
	char buf[1024], ha1[129], ha2[129];

	snprintf(buf, sizeof(buf), "%s:%s:%s", user, realm, password);
	hex_digest(md, buf, ha1);
	if (sess) {
		snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, cnonce);
		hex_digest(md, buf, ha1);
	}
	snprintf(buf, sizeof(buf), "%s:%s", method, uri);
	hex_digest(md, buf, ha2);
	snprintf(buf, sizeof(buf), "%s:%s:%s:%s:auth:%s", ha1, nonce, nc, cnonce, ha2);
	hex_digest(md, buf, out);
}

/* The whole exchange: our challenge, a client's answer to it, verify, then the nonce. */
static void test_roundtrip(void **state)
{
	static const struct {
		enum digest_algorithm alg;
		bool sha, sess;
	} algs[] = {
		{ DIGEST_MD5, false, false },
		{ DIGEST_MD5_SESS, false, true },
		{ DIGEST_SHA256, true, false },
		{ DIGEST_SHA256_SESS, true, true },
	};
	struct digest_nonces *ns;

	assert_int_equal(digest_nonces_new(0, false, &ns), 0);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		const EVP_MD *md = algs[i].sha ? EVP_sha256() : EVP_md5();
		const char *name = digest_algorithm_name(algs[i].alg);
		struct http_authorization a;
		char nonce[DIGEST_NONCE_LEN + 1], challenge[512], h[1024], resp[129];

		assert_int_equal(digest_nonce_make(ns, 42, nonce, sizeof(nonce)), 0);
		assert_int_equal(digest_challenge_format(challenge, sizeof(challenge),
							    "autoprov", algs[i].alg, nonce, "opq",
							    false),
				 0);
		for (unsigned nc = 1; nc <= 3; nc++) {
			char nc_hex[9];

			snprintf(nc_hex, sizeof(nc_hex), "%08x", nc);
			client_response(md, algs[i].sess, "0004f2123456", "autoprov", "s3cr:et",
					"GET", "/cfg/0004f2123456.cfg?x=1", nonce, nc_hex, "c0ffee",
					resp);
			snprintf(h, sizeof(h),
				 "Digest username=\"0004f2123456\", realm=\"autoprov\", "
				 "nonce=\"%s\", uri=\"/cfg/0004f2123456.cfg?x=1\", "
				 "cnonce=\"c0ffee\", nc=%s, qop=auth, response=\"%s\", "
				 "opaque=\"opq\", algorithm=%s",
				 nonce, nc_hex, resp, name);
			assert_int_equal(parse(h, &a), 0);
			assert_true(http_digest_verify(&a, "GET", "s3cr:et"));
			assert_false(http_digest_verify(&a, "GET", "s3cr:eT"));
			assert_false(http_digest_verify(&a, "HEAD", "s3cr:et"));
			assert_int_equal(digest_nonce_check(ns, a.digest.nonce, a.digest.nc, 43, 300), 0);
			assert_int_equal(digest_nonce_check(ns, a.digest.nonce, a.digest.nc, 44, 300), -EALREADY);
		}
		assert_int_equal(digest_nonce_check(ns, a.digest.nonce, a.digest.nc + 1, 300043, 300), -ESTALE);
	}
	digest_nonces_free(ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_rfc7617),
		cmocka_unit_test(test_basic_edges),
		cmocka_unit_test(test_digest_rfc7616_md5),
		cmocka_unit_test(test_digest_rfc7616_sha256),
		cmocka_unit_test(test_digest_sess),
		cmocka_unit_test(test_digest_syntax),
		cmocka_unit_test(test_digest_counted),
		cmocka_unit_test(test_digest_lengths),
		cmocka_unit_test(test_challenges),
		cmocka_unit_test(test_algorithm_names),
		cmocka_unit_test(test_nonce_lifecycle),
		cmocka_unit_test(test_nonce_eviction),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
