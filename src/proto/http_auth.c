// SPDX-License-Identifier: MIT
/*
 * HTTP authentication for the server (see http_auth.h): the Authorization header's two
 * schemes, Basic's decoding, check and challenge. Digest is codec/digest.c.
 */
#include "proto/http_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool ieq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 (RFC 4648 4, padded) of s[0..len) into out, at most outsz bytes.
 * The number of bytes, or -EINVAL.
 */
static int base64_decode(const char *s, size_t len, unsigned char *out, size_t outsz)
{
	size_t n = 0;

	if (len == 0 || len % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		unsigned pad = 0;
		uint32_t bits = 0;

		for (size_t j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0) /* "=x" */
				return -EINVAL;
			v[j] = base64_value(s[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		       (uint32_t)v[3];
		if (n + 3 - pad > outsz)
			return -EINVAL;
		out[n++] = (unsigned char)(bits >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(bits >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)bits;
	}
	return (int)n;
}

static int parse_basic(const char *p, const char *end, struct http_authorization *a)
{
	unsigned char buf[HTTP_AUTH_USER_MAX + 1 + HTTP_AUTH_PASSWORD_MAX];
	const char *tok = p;
	unsigned char *colon;
	size_t ulen, plen;
	int n, r = -EINVAL;

	while (end > tok && is_ows(end[-1]))
		end--;
	/* a token68 could be longer than any credential we keep: refused before decoding */
	if ((size_t)(end - tok) > (sizeof(buf) + 2) / 3 * 4)
		return -EINVAL;
	n = base64_decode(tok, (size_t)(end - tok), buf, sizeof(buf));
	if (n < 0)
		goto out;
	/* RFC 7617 2: no control characters in user-id and password; the user-id has no ':' */
	for (int i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] == 0x7f)
			goto out;
	colon = memchr(buf, ':', (size_t)n);
	if (!colon)
		goto out;
	ulen = (size_t)(colon - buf);
	plen = (size_t)n - ulen - 1;
	if (ulen > HTTP_AUTH_USER_MAX || plen > HTTP_AUTH_PASSWORD_MAX)
		goto out;
	memcpy(a->username, buf, ulen);
	a->username[ulen] = '\0';
	memcpy(a->password, colon + 1, plen);
	a->password[plen] = '\0';
	r = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int http_auth_parse(const char *value, size_t len, struct http_authorization *ret)
{
	struct http_authorization a;
	const char *p = value, *end, *scheme;
	size_t slen;
	int r;

	if (!value)
		return -EINVAL;
	end = value + len;
	memset(&a, 0, sizeof(a));
	while (p < end && is_ows(*p))
		p++;
	for (scheme = p; p < end && is_tchar(*p); p++)
		;
	slen = (size_t)(p - scheme);
	/* the scheme and its parameters are separated by at least one space */
	if (p < end && *p != ' ')
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	if (ieq(scheme, slen, "Basic")) {
		a.scheme = HTTP_AUTH_BASIC;
		r = parse_basic(p, end, &a);
	} else if (ieq(scheme, slen, "Digest")) {
		a.scheme = HTTP_AUTH_DIGEST;
		r = digest_credentials_parse(value, len, &a.digest);
		if (r == 0)
			memcpy(a.username, a.digest.username, sizeof(a.username));
	} else {
		r = -EINVAL;
	}
	if (r == 0)
		*ret = a;
	OPENSSL_cleanse(&a, sizeof(a));
	return r;
}

/* --- verification ------------------------------------------------------------------- */

/* SHA-256 of a string: digests of equal length to compare in constant time. */
static bool sha256_of(const char *s, unsigned char out[32])
{
	return EVP_Digest(s, strlen(s), out, NULL, EVP_sha256(), NULL) == 1;
}

bool http_basic_verify(const struct http_authorization *a, const char *user, const char *password)
{
	unsigned char h[4][32];
	bool ok;

	if (a->scheme != HTTP_AUTH_BASIC)
		return false;
	if (!sha256_of(a->username, h[0]) || !sha256_of(user, h[1]) ||
	    !sha256_of(a->password, h[2]) || !sha256_of(password, h[3]))
		return false;
	/* both comparisons always run: no hint of which one failed */
	ok = (CRYPTO_memcmp(h[0], h[1], 32) | CRYPTO_memcmp(h[2], h[3], 32)) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return ok;
}

bool http_digest_verify(const struct http_authorization *a, const char *method,
			const char *password)
{
	return a->scheme == HTTP_AUTH_DIGEST && digest_verify(&a->digest, method, password);
}
