// SPDX-License-Identifier: MIT
/*
 * HTTP Basic and Digest authentication for the server (see http_auth.h): the
 * Authorization parser, the response check, the challenges, and the stateless nonces
 * with their bounded replay table.
 */
#include "proto/http_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* --- parsing ------------------------------------------------------------------------ */

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

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool ieq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/*
 * One parameter value at *p (before end): a token, or a quoted string whose escapes are
 * removed, into out (outsz bytes with the NUL). Advances *p past it. 0, or -EINVAL for a
 * syntax error, a control character, or a value that does not fit.
 */
static int read_value(const char **p, const char *end, char *out, size_t outsz)
{
	const char *s = *p;
	size_t n = 0;

	if (s < end && *s == '"') {
		for (s++;; s++) {
			unsigned char c;

			if (s >= end)
				return -EINVAL; /* unterminated */
			if (*s == '"')
				break;
			if (*s == '\\') {
				if (++s >= end)
					return -EINVAL;
			}
			c = (unsigned char)*s;
			/* qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text */
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -EINVAL;
			if (n + 1 >= outsz)
				return -EINVAL;
			out[n++] = (char)c;
		}
		s++;
	} else {
		for (; s < end && is_tchar(*s); s++) {
			if (n + 1 >= outsz)
				return -EINVAL;
			out[n++] = *s;
		}
		if (n == 0)
			return -EINVAL;
	}
	out[n] = '\0';
	*p = s;
	return 0;
}

#define FIELD(name, member)                                                                        \
	{                                                                                          \
		name, offsetof(struct http_authorization, member),                                 \
			sizeof(((struct http_authorization *)0)->member)                           \
	}

/* The string parameters of Digest, and the bits of `seen` in parse_digest(). */
enum {
	F_USERNAME,
	F_REALM,
	F_NONCE,
	F_URI,
	F_RESPONSE,
	F_ALGORITHM,
	F_CNONCE,
	F_OPAQUE,
	F_QOP,
	F_NC,
	F_USERHASH
};

static const struct digest_field {
	const char *name;
	size_t offset, size;
} digest_fields[] = {
	[F_USERNAME] = FIELD("username", username),
	[F_REALM] = FIELD("realm", realm),
	[F_NONCE] = FIELD("nonce", nonce),
	[F_URI] = FIELD("uri", uri),
	[F_RESPONSE] = FIELD("response", response),
	[F_ALGORITHM] = FIELD("algorithm", algorithm),
	[F_CNONCE] = FIELD("cnonce", cnonce),
	[F_OPAQUE] = FIELD("opaque", opaque),
	[F_QOP] = FIELD("qop", qop),
};
#define NFIELDS (sizeof(digest_fields) / sizeof(digest_fields[0]))
#define BIT(f)	(1u << (f))

static int parse_nc(const char *s, struct http_authorization *a)
{
	uint32_t v = 0;

	if (strlen(s) != 8)
		return -EINVAL;
	for (size_t i = 0; i < 8; i++) {
		int d = hex_value(s[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	memcpy(a->nc_hex, s, 9);
	a->nc = v;
	return 0;
}

static int parse_digest(const char *p, const char *end, struct http_authorization *a)
{
	/* Large enough for any known field; an unknown parameter longer than this is refused. */
	char value[HTTP_AUTH_URI_MAX + 1];
	unsigned seen = 0, required;

	for (;;) {
		const char *name;
		size_t nlen;
		int r;

		/* empty list elements and the whitespace around them */
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p == end)
			break;
		for (name = p; p < end && is_tchar(*p); p++)
			;
		nlen = (size_t)(p - name);
		if (nlen == 0)
			return -EINVAL;
		while (p < end && is_ows(*p))
			p++;
		if (p == end || *p != '=')
			return -EINVAL;
		p++;
		while (p < end && is_ows(*p))
			p++;
		r = read_value(&p, end, value, sizeof(value));
		if (r < 0)
			return r;
		/* after a value: the end, or a comma */
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p != ',')
			return -EINVAL;

		if (ieq(name, nlen, "nc")) {
			if (seen & BIT(F_NC))
				return -EINVAL;
			seen |= BIT(F_NC);
			if (parse_nc(value, a) < 0)
				return -EINVAL;
			continue;
		}
		if (ieq(name, nlen, "userhash")) {
			if (seen & BIT(F_USERHASH))
				return -EINVAL;
			seen |= BIT(F_USERHASH);
			if (strcasecmp(value, "true") == 0)
				a->userhash = true;
			else if (strcasecmp(value, "false") != 0)
				return -EINVAL;
			continue;
		}
		for (unsigned i = 0; i < NFIELDS; i++) {
			const struct digest_field *f = &digest_fields[i];

			if (!ieq(name, nlen, f->name))
				continue;
			if (seen & BIT(i))
				return -EINVAL;
			seen |= BIT(i);
			if (strlen(value) >= f->size)
				return -EINVAL;
			memcpy((char *)a + f->offset, value, strlen(value) + 1);
			break;
		}
		/* anything else is ignored (RFC 7616 3.4: unknown parameters) */
	}

	required = BIT(F_USERNAME) | BIT(F_REALM) | BIT(F_NONCE) | BIT(F_URI) | BIT(F_RESPONSE);
	if (seen & BIT(F_QOP))
		required |= BIT(F_CNONCE) | BIT(F_NC);
	if ((seen & required) != required)
		return -EINVAL;
	return 0;
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
		r = parse_digest(p, end, &a);
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

static const struct {
	const char *name;
	enum http_digest_algorithm alg;
} algorithms[] = {
	{ "MD5", HTTP_DIGEST_MD5 },
	{ "MD5-sess", HTTP_DIGEST_MD5_SESS },
	{ "SHA-256", HTTP_DIGEST_SHA256 },
	{ "SHA-256-sess", HTTP_DIGEST_SHA256_SESS },
};

const char *http_digest_algorithm_name(enum http_digest_algorithm alg)
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (algorithms[i].alg == alg)
			return algorithms[i].name;
	return "MD5";
}

#define HEX_MAX (2 * EVP_MAX_MD_SIZE + 1)

/* H(parts[0] ":" parts[1] ":" ...) in lower-case hex into out. */
static bool digest_hex(const EVP_MD *md, const char *const *parts, size_t nparts, char out[HEX_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (size_t i = 0; ok && i < nparts; i++) {
		if (i > 0)
			ok = EVP_DigestUpdate(ctx, ":", 1) == 1;
		ok = ok && EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, d, &dlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return false;
	for (unsigned i = 0; i < dlen; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * dlen] = '\0';
	return true;
}

bool http_digest_verify(const struct http_authorization *a, const char *method,
			const char *password)
{
	char ha1[HEX_MAX], ha2[HEX_MAX], expect[HEX_MAX], got[HTTP_AUTH_RESPONSE_MAX + 1];
	const EVP_MD *md;
	bool sess, ok = false;
	size_t i, n;
	int alg = -1;

	if (a->scheme != HTTP_AUTH_DIGEST || a->userhash)
		return false;
	if (a->algorithm[0] == '\0') {
		alg = HTTP_DIGEST_MD5;
	} else {
		for (i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
			if (strcasecmp(a->algorithm, algorithms[i].name) == 0)
				alg = (int)algorithms[i].alg;
	}
	if (alg < 0 || strcasecmp(a->qop, "auth") != 0 || a->cnonce[0] == '\0' ||
	    a->nc_hex[0] == '\0')
		return false;
	md = alg == HTTP_DIGEST_MD5 || alg == HTTP_DIGEST_MD5_SESS ? EVP_md5() : EVP_sha256();
	sess = alg == HTTP_DIGEST_MD5_SESS || alg == HTTP_DIGEST_SHA256_SESS;

	{
		const char *p1[] = { a->username, a->realm, password };
		const char *p2[] = { method, a->uri };

		if (!digest_hex(md, p1, 3, ha1) || !digest_hex(md, p2, 2, ha2))
			goto out;
	}
	if (sess) {
		char base[HEX_MAX];
		const char *ps[] = { base, a->nonce, a->cnonce };

		memcpy(base, ha1, sizeof(base));
		if (!digest_hex(md, ps, 3, ha1))
			goto out;
	}
	{
		const char *pr[] = { ha1, a->nonce, a->nc_hex, a->cnonce, a->qop, ha2 };

		if (!digest_hex(md, pr, 6, expect))
			goto out;
	}
	/* The length is public (it follows from the algorithm); hex digits in either case. */
	n = strlen(a->response);
	if (n != strlen(expect))
		goto out;
	for (i = 0; i < n; i++) {
		char c = a->response[i];

		got[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
	}
	ok = CRYPTO_memcmp(got, expect, n) == 0;
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return ok;
}

/* --- challenges --------------------------------------------------------------------- */

struct out_buf {
	char *p;
	size_t size, len;
	int err;
};

static void put(struct out_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->err == 0 && b->len + n >= b->size)
		b->err = -ENOSPC;
	if (b->err != 0)
		return;
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* s as a quoted-string: '"' and '\' escaped; control characters refused. */
static void put_quoted(struct out_buf *b, const char *s)
{
	put(b, "\"");
	for (; *s && b->err == 0; s++) {
		unsigned char c = (unsigned char)*s;
		char one[3] = { '\\', *s, '\0' };

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			b->err = -EINVAL;
			return;
		}
		put(b, c == '"' || c == '\\' ? one : one + 1);
	}
	put(b, "\"");
}

static int finish(struct out_buf *b)
{
	if (b->err != 0 && b->size > 0)
		b->p[0] = '\0';
	return b->err;
}

int http_auth_challenge_digest(char *out, size_t outsz, const char *realm,
			       enum http_digest_algorithm alg, const char *nonce,
			       const char *opaque, bool stale)
{
	struct out_buf b = { out, outsz, 0, outsz == 0 ? -ENOSPC : 0 };

	if (b.err == 0)
		out[0] = '\0';
	put(&b, "Digest realm=");
	put_quoted(&b, realm);
	put(&b, ", qop=\"auth\", algorithm=");
	put(&b, http_digest_algorithm_name(alg));
	put(&b, ", nonce=");
	put_quoted(&b, nonce);
	put(&b, ", opaque=");
	put_quoted(&b, opaque);
	if (stale)
		put(&b, ", stale=true");
	return finish(&b);
}

int http_auth_challenge_basic(char *out, size_t outsz, const char *realm)
{
	struct out_buf b = { out, outsz, 0, outsz == 0 ? -ENOSPC : 0 };

	if (b.err == 0)
		out[0] = '\0';
	put(&b, "Basic realm=");
	put_quoted(&b, realm);
	put(&b, ", charset=\"UTF-8\"");
	return finish(&b);
}

/* --- nonces ------------------------------------------------------------------------- */

#define SECRET_LEN  32
#define PAYLOAD_LEN 16 /* issue time and counter */
#define TAG_LEN	    16 /* truncated HMAC-SHA256 */

struct nonce_slot {
	uint64_t counter; /* the highest counter recorded in this slot; 0: none */
	uint32_t nc;	  /* that nonce's last nonce count */
};

struct http_nonces {
	unsigned char secret[SECRET_LEN];
	uint64_t counter; /* of the last nonce issued */
	unsigned nslots;
	struct nonce_slot *slots;
};

int http_nonces_new(unsigned slots, struct http_nonces **ret)
{
	struct http_nonces *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->nslots = slots ? slots : HTTP_NONCES_DEFAULT_SLOTS;
	n->slots = calloc(n->nslots, sizeof(*n->slots));
	if (!n->slots) {
		free(n);
		return -ENOMEM;
	}
	if (RAND_bytes(n->secret, sizeof(n->secret)) != 1) {
		http_nonces_free(n);
		return -EIO;
	}
	*ret = n;
	return 0;
}

void http_nonces_free(struct http_nonces *nonces)
{
	if (!nonces)
		return;
	OPENSSL_cleanse(nonces->secret, sizeof(nonces->secret));
	free(nonces->slots);
	free(nonces);
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int lower_hex_value(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : hex_value(c);
}

static bool nonce_tag(const struct http_nonces *n, const unsigned char payload[PAYLOAD_LEN],
		      unsigned char tag[TAG_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;

	if (!HMAC(EVP_sha256(), n->secret, sizeof(n->secret), payload, PAYLOAD_LEN, mac, &mlen) ||
	    mlen < TAG_LEN)
		return false;
	memcpy(tag, mac, TAG_LEN);
	return true;
}

int http_nonce_make(struct http_nonces *nonces, uint64_t now_ms, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[PAYLOAD_LEN + TAG_LEN];

	if (outsz < HTTP_NONCE_LEN + 1)
		return -ENOSPC;
	put_be64(raw, now_ms);
	put_be64(raw + 8, ++nonces->counter);
	if (!nonce_tag(nonces, raw, raw + PAYLOAD_LEN))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[HTTP_NONCE_LEN] = '\0';
	return 0;
}

int http_nonce_check(struct http_nonces *nonces, const char *nonce, uint32_t nc, uint64_t now_ms,
		     unsigned lifetime_s)
{
	unsigned char raw[PAYLOAD_LEN + TAG_LEN], tag[TAG_LEN];
	uint64_t issued, counter;
	struct nonce_slot *slot;

	/* exactly what http_nonce_make writes: 64 lower-case hex digits */
	if (strnlen(nonce, HTTP_NONCE_LEN + 1) != HTTP_NONCE_LEN)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(raw); i++) {
		int hi = lower_hex_value(nonce[2 * i]), lo = lower_hex_value(nonce[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!nonce_tag(nonces, raw, tag) || CRYPTO_memcmp(tag, raw + PAYLOAD_LEN, TAG_LEN) != 0)
		return -EINVAL;
	issued = get_be64(raw);
	counter = get_be64(raw + 8);
	if (issued > now_ms || counter == 0 || counter > nonces->counter)
		return -EINVAL;
	if (now_ms - issued > (uint64_t)lifetime_s * 1000)
		return -ESTALE;

	slot = &nonces->slots[counter % nonces->nslots];
	if (slot->counter > counter)
		return -ESTALE; /* perhaps recorded, then evicted: never fresh again */
	if (slot->counter == counter && nc <= slot->nc)
		return -EALREADY;
	if (slot->counter < counter && nc == 0)
		return -EALREADY; /* counts start at 1 */
	slot->counter = counter;
	slot->nc = nc;
	return 0;
}
