// SPDX-License-Identifier: MIT
/*
 * Digest authentication (see digest.h): the response arithmetic, the challenge and
 * credentials parsers and formatters, the constant-time check, and the stateless nonces
 * with their bounded replay table.
 */
#include "codec/digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* --- the arithmetic ----------------------------------------------------------------- */

static const struct {
	const char *name;
	enum digest_algorithm alg;
} algorithms[] = {
	{ "MD5", DIGEST_MD5 },
	{ "MD5-sess", DIGEST_MD5_SESS },
	{ "SHA-256", DIGEST_SHA256 },
	{ "SHA-256-sess", DIGEST_SHA256_SESS },
};

const char *digest_algorithm_name(enum digest_algorithm alg)
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (algorithms[i].alg == alg)
			return algorithms[i].name;
	return "MD5";
}

int digest_algorithm_parse(const char *name, enum digest_algorithm *ret)
{
	if (!name[0]) {
		*ret = DIGEST_MD5;
		return 0;
	}
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (strcasecmp(name, algorithms[i].name) == 0) {
			*ret = algorithms[i].alg;
			return 0;
		}
	return -ENOTSUP;
}

/* H(parts[0] ":" parts[1] ":" ...) in lower-case hex into out. */
static bool digest_hex(const EVP_MD *md, const char *const *parts, size_t nparts,
		       char out[DIGEST_HEX_MAX])
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
	ok = ok && EVP_DigestFinal_ex(ctx, d, &dlen) == 1 && dlen <= 32;
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

int digest_response(enum digest_algorithm alg, const char *user, const char *realm,
		    const char *password, const char *method, const char *uri, const char *nonce,
		    const char *nc_hex, const char *cnonce, const char *qop,
		    char out[DIGEST_HEX_MAX])
{
	const EVP_MD *md = alg == DIGEST_MD5 || alg == DIGEST_MD5_SESS ? EVP_md5() : EVP_sha256();
	bool sess = alg == DIGEST_MD5_SESS || alg == DIGEST_SHA256_SESS;
	bool has_qop = qop && qop[0];
	char ha1[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX];
	int r = -EIO;

	if (has_qop && strcasecmp(qop, "auth") != 0)
		return -EINVAL;
	if (sess && !has_qop)
		return -EINVAL; /* -sess hashes the cnonce in, which only comes with qop */
	{
		const char *p1[] = { user, realm, password };
		const char *p2[] = { method, uri };

		if (!digest_hex(md, p1, 3, ha1) || !digest_hex(md, p2, 2, ha2))
			goto out;
	}
	if (sess) {
		char base[DIGEST_HEX_MAX];
		const char *ps[] = { base, nonce, cnonce };

		memcpy(base, ha1, sizeof(base));
		OPENSSL_cleanse(ha1, sizeof(ha1));
		if (!digest_hex(md, ps, 3, ha1)) {
			OPENSSL_cleanse(base, sizeof(base));
			goto out;
		}
		OPENSSL_cleanse(base, sizeof(base));
	}
	if (has_qop) {
		const char *pr[] = { ha1, nonce, nc_hex, cnonce, qop, ha2 };

		if (!digest_hex(md, pr, 6, out))
			goto out;
	} else {
		const char *pr[] = { ha1, nonce, ha2 };

		if (!digest_hex(md, pr, 3, out))
			goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return r;
}

/* --- text helpers ------------------------------------------------------------------- */

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

/*
 * The scheme "Digest" at the start of value[0..len) (after optional whitespace), then at
 * least one space: the position after them, or NULL.
 */
static const char *skip_scheme(const char *value, const char *end)
{
	const char *p = value, *scheme;

	while (p < end && is_ows(*p))
		p++;
	for (scheme = p; p < end && is_tchar(*p); p++)
		;
	if (!ieq(scheme, (size_t)(p - scheme), "Digest"))
		return NULL;
	if (p < end && *p != ' ')
		return NULL;
	while (p < end && *p == ' ')
		p++;
	return p;
}

/*
 * The next "name=value" of a comma-separated list at *p: name (not NUL-terminated) and
 * its unescaped value. 1 with one, 0 at the end, -EINVAL on a syntax error.
 */
static int next_param(const char **p, const char *end, const char **ret_name, size_t *ret_nlen,
		      char *value, size_t valuesz)
{
	const char *s = *p, *name;
	size_t nlen;
	int r;

	/* empty list elements and the whitespace around them */
	while (s < end && (is_ows(*s) || *s == ','))
		s++;
	if (s == end) {
		*p = s;
		return 0;
	}
	for (name = s; s < end && is_tchar(*s); s++)
		;
	nlen = (size_t)(s - name);
	if (nlen == 0)
		return -EINVAL;
	while (s < end && is_ows(*s))
		s++;
	if (s == end || *s != '=')
		return -EINVAL;
	s++;
	while (s < end && is_ows(*s))
		s++;
	r = read_value(&s, end, value, valuesz);
	if (r < 0)
		return r;
	/* after a value: the end, or a comma */
	while (s < end && is_ows(*s))
		s++;
	if (s < end && *s != ',')
		return -EINVAL;
	*p = s;
	*ret_name = name;
	*ret_nlen = nlen;
	return 1;
}

/* --- credentials (server side) ------------------------------------------------------ */

#define FIELD(name, member)                                                                        \
	{                                                                                          \
		name, offsetof(struct digest_credentials, member),                                 \
			sizeof(((struct digest_credentials *)0)->member)                           \
	}

/* The string parameters of Digest, and the bits of `seen` in digest_credentials_parse(). */
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

static int parse_nc(const char *s, struct digest_credentials *a)
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

int digest_credentials_parse(const char *value, size_t len, struct digest_credentials *ret)
{
	/* Large enough for any known field; an unknown parameter longer than this is refused. */
	char v[DIGEST_URI_MAX + 1];
	struct digest_credentials a;
	const char *p, *end, *name;
	unsigned seen = 0, required;
	size_t nlen;
	int r = -EINVAL;

	if (!value)
		return -EINVAL;
	end = value + len;
	p = skip_scheme(value, end);
	if (!p)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	while ((r = next_param(&p, end, &name, &nlen, v, sizeof(v))) > 0) {
		r = -EINVAL;
		if (ieq(name, nlen, "nc")) {
			if ((seen & BIT(F_NC)) || parse_nc(v, &a) < 0)
				goto out;
			seen |= BIT(F_NC);
			continue;
		}
		if (ieq(name, nlen, "userhash")) {
			if (seen & BIT(F_USERHASH))
				goto out;
			seen |= BIT(F_USERHASH);
			if (strcasecmp(v, "true") == 0)
				a.userhash = true;
			else if (strcasecmp(v, "false") != 0)
				goto out;
			continue;
		}
		for (unsigned i = 0; i < NFIELDS; i++) {
			const struct digest_field *f = &digest_fields[i];

			if (!ieq(name, nlen, f->name))
				continue;
			if ((seen & BIT(i)) || strlen(v) >= f->size)
				goto out;
			seen |= BIT(i);
			memcpy((char *)&a + f->offset, v, strlen(v) + 1);
			break;
		}
		/* anything else is ignored (RFC 7616 3.4: unknown parameters) */
	}
	if (r < 0)
		goto out;
	r = -EINVAL;
	required = BIT(F_USERNAME) | BIT(F_REALM) | BIT(F_NONCE) | BIT(F_URI) | BIT(F_RESPONSE);
	if (seen & BIT(F_QOP))
		required |= BIT(F_CNONCE) | BIT(F_NC);
	if ((seen & required) != required)
		goto out;
	*ret = a;
	r = 0;
out:
	OPENSSL_cleanse(&a, sizeof(a));
	return r;
}

bool digest_verify(const struct digest_credentials *a, const char *method, const char *password)
{
	char expect[DIGEST_HEX_MAX], got[DIGEST_RESPONSE_MAX + 1];
	enum digest_algorithm alg;
	bool ok = false;
	size_t n;

	if (a->userhash || digest_algorithm_parse(a->algorithm, &alg) < 0 ||
	    strcasecmp(a->qop, "auth") != 0 || a->cnonce[0] == '\0' || a->nc_hex[0] == '\0')
		return false;
	if (digest_response(alg, a->username, a->realm, password, method, a->uri, a->nonce,
			    a->nc_hex, a->cnonce, a->qop, expect) < 0)
		return false;
	/* The length is public (it follows from the algorithm); hex digits in either case. */
	n = strlen(a->response);
	if (n == strlen(expect)) {
		for (size_t i = 0; i < n; i++) {
			char c = a->response[i];

			got[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
		}
		ok = CRYPTO_memcmp(got, expect, n) == 0;
	}
	OPENSSL_cleanse(expect, sizeof(expect));
	return ok;
}

/* --- formatting --------------------------------------------------------------------- */

struct out_buf {
	char *p;
	size_t size, len;
	int err;
};

static void out_init(struct out_buf *b, char *out, size_t outsz)
{
	b->p = out;
	b->size = outsz;
	b->len = 0;
	b->err = outsz == 0 ? -ENOSPC : 0;
	if (outsz)
		out[0] = '\0';
}

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

/* s as a quoted-string: '"' and '\' escaped (or refused: !escape); control characters refused. */
static void put_quoted(struct out_buf *b, const char *s, bool escape)
{
	put(b, "\"");
	for (; *s && b->err == 0; s++) {
		unsigned char c = (unsigned char)*s;
		char one[3] = { '\\', *s, '\0' };

		if ((c < 0x20 && c != '\t') || c == 0x7f || (!escape && (c == '"' || c == '\\'))) {
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

int digest_challenge_format(char *out, size_t outsz, const char *realm, enum digest_algorithm alg,
			    const char *nonce, const char *opaque, bool stale)
{
	struct out_buf b;

	out_init(&b, out, outsz);
	put(&b, "Digest realm=");
	put_quoted(&b, realm, true);
	put(&b, ", qop=\"auth\", algorithm=");
	put(&b, digest_algorithm_name(alg));
	put(&b, ", nonce=");
	put_quoted(&b, nonce, true);
	if (opaque) {
		put(&b, ", opaque=");
		put_quoted(&b, opaque, true);
	}
	if (stale)
		put(&b, ", stale=true");
	return finish(&b);
}

int digest_challenge_basic_format(char *out, size_t outsz, const char *realm)
{
	struct out_buf b;

	out_init(&b, out, outsz);
	put(&b, "Basic realm=");
	put_quoted(&b, realm, true);
	put(&b, ", charset=\"UTF-8\"");
	return finish(&b);
}

/* --- challenges (client side) ------------------------------------------------------- */

static int copy_value(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstsz)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

int digest_challenge_parse(const char *value, struct digest_challenge *ret)
{
	struct digest_challenge c;
	const char *p, *end, *name;
	bool have_nonce = false, qop_seen = false;
	char v[512];
	size_t nlen;
	int r;

	if (!value)
		return -EINVAL;
	end = value + strlen(value);
	p = skip_scheme(value, end);
	if (!p)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	while ((r = next_param(&p, end, &name, &nlen, v, sizeof(v))) > 0) {
		if (ieq(name, nlen, "realm")) {
			r = copy_value(c.realm, sizeof(c.realm), v);
		} else if (ieq(name, nlen, "nonce")) {
			r = copy_value(c.nonce, sizeof(c.nonce), v);
			have_nonce = true;
		} else if (ieq(name, nlen, "opaque")) {
			r = copy_value(c.opaque, sizeof(c.opaque), v);
		} else if (ieq(name, nlen, "stale")) {
			c.stale = strcasecmp(v, "true") == 0;
		} else if (ieq(name, nlen, "algorithm")) {
			if (digest_algorithm_parse(v, &c.alg) < 0)
				return -ENOTSUP;
		} else if (ieq(name, nlen, "qop")) {
			qop_seen = true;
			for (const char *q = v; *q;) {
				size_t n;

				q += strspn(q, ", \t");
				n = strcspn(q, ", \t");
				if (n == 4 && strncasecmp(q, "auth", 4) == 0)
					c.qop_auth = true;
				q += n;
			}
		}
		if (r < 0)
			return r;
	}
	if (r < 0 || !have_nonce)
		return -EINVAL;
	if (qop_seen && !c.qop_auth)
		return -ENOTSUP;
	if ((c.alg == DIGEST_MD5_SESS || c.alg == DIGEST_SHA256_SESS) && !c.qop_auth)
		return -ENOTSUP;
	*ret = c;
	return 0;
}

int digest_authorization(const struct digest_challenge *c, const char *method, const char *uri,
			 const char *user, const char *password, const char *cnonce, uint32_t nc,
			 char *out, size_t outsz)
{
	char resp[DIGEST_HEX_MAX], ncs[9];
	struct out_buf b;
	int r;

	snprintf(ncs, sizeof(ncs), "%08x", nc);
	r = digest_response(c->alg, user, c->realm, password, method, uri, c->nonce, ncs, cnonce,
			    c->qop_auth ? "auth" : NULL, resp);
	if (r < 0)
		return r;
	/* values are sent as they are: a '"' or '\' would change what the server hashes */
	out_init(&b, out, outsz);
	put(&b, "Digest username=");
	put_quoted(&b, user, false);
	put(&b, ", realm=");
	put_quoted(&b, c->realm, false);
	put(&b, ", nonce=");
	put_quoted(&b, c->nonce, false);
	put(&b, ", uri=");
	put_quoted(&b, uri, false);
	put(&b, ", response=\"");
	put(&b, resp);
	put(&b, "\", algorithm=");
	put(&b, digest_algorithm_name(c->alg));
	if (c->qop_auth) {
		put(&b, ", cnonce=");
		put_quoted(&b, cnonce, false);
		put(&b, ", qop=auth, nc=");
		put(&b, ncs);
	}
	if (c->opaque[0]) {
		put(&b, ", opaque=");
		put_quoted(&b, c->opaque, false);
	}
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

struct digest_nonces {
	unsigned char secret[SECRET_LEN];
	uint64_t counter; /* of the last nonce issued (atomic: workers share one table) */
	bool single_use;
	unsigned nslots;
	struct nonce_slot *slots;
	pthread_mutex_t lock; /* of the slots */
};

int digest_nonces_new(unsigned slots, bool single_use, struct digest_nonces **ret)
{
	struct digest_nonces *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->single_use = single_use;
	n->nslots = slots ? slots : DIGEST_NONCES_DEFAULT_SLOTS;
	n->slots = calloc(n->nslots, sizeof(*n->slots));
	if (!n->slots) {
		free(n);
		return -ENOMEM;
	}
	pthread_mutex_init(&n->lock, NULL);
	if (RAND_bytes(n->secret, sizeof(n->secret)) != 1) {
		digest_nonces_free(n);
		return -EIO;
	}
	*ret = n;
	return 0;
}

void digest_nonces_free(struct digest_nonces *nonces)
{
	if (!nonces)
		return;
	OPENSSL_cleanse(nonces->secret, sizeof(nonces->secret));
	pthread_mutex_destroy(&nonces->lock);
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

static bool nonce_tag(const struct digest_nonces *n, const unsigned char payload[PAYLOAD_LEN],
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

int digest_nonce_make(struct digest_nonces *nonces, uint64_t now_ms, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[PAYLOAD_LEN + TAG_LEN];

	if (outsz < DIGEST_NONCE_LEN + 1)
		return -ENOSPC;
	put_be64(raw, now_ms);
	put_be64(raw + 8, __atomic_add_fetch(&nonces->counter, 1, __ATOMIC_RELAXED));
	if (!nonce_tag(nonces, raw, raw + PAYLOAD_LEN))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[DIGEST_NONCE_LEN] = '\0';
	return 0;
}

int digest_nonce_check(struct digest_nonces *nonces, const char *nonce, uint32_t nc,
		       uint64_t now_ms, unsigned lifetime_s)
{
	unsigned char raw[PAYLOAD_LEN + TAG_LEN], tag[TAG_LEN];
	uint64_t issued, counter;
	struct nonce_slot *slot;
	int r = 0;

	/* exactly what digest_nonce_make writes: 64 lower-case hex digits */
	if (strnlen(nonce, DIGEST_NONCE_LEN + 1) != DIGEST_NONCE_LEN)
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
	if (issued > now_ms || counter == 0 ||
	    counter > __atomic_load_n(&nonces->counter, __ATOMIC_RELAXED))
		return -EINVAL;
	if (now_ms - issued > (uint64_t)lifetime_s * 1000)
		return -ESTALE;

	pthread_mutex_lock(&nonces->lock);
	slot = &nonces->slots[counter % nonces->nslots];
	if (slot->counter > counter)
		r = -ESTALE; /* perhaps recorded, then evicted: never fresh again */
	else if (slot->counter == counter && (nonces->single_use || nc <= slot->nc))
		r = -EALREADY;
	else if (slot->counter < counter && nc == 0)
		r = -EALREADY; /* counts start at 1 */
	if (r == 0) {
		slot->counter = counter;
		slot->nc = nc;
	}
	pthread_mutex_unlock(&nonces->lock);
	return r;
}
