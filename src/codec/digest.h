// SPDX-License-Identifier: MIT
/*
 * HTTP Digest access authentication (RFC 7616, RFC 2617; RFC 3261 22 for SIP): the one
 * implementation the HTTP server, the SIP resync client (proto/sip.c) and the endpoint's
 * check-sync listener (agent/checksync.c) share. Pure: no I/O, no logging, no clock (the
 * caller passes a monotonic time in milliseconds, so tests control time); OpenSSL gives
 * the hashes and the random secret.
 *
 *   client: digest_challenge_parse() a WWW-Authenticate / Proxy-Authenticate value, then
 *           digest_authorization() formats the Authorization answering it.
 *   server: digest_challenge_format() with a nonce from digest_nonce_make();
 *           digest_credentials_parse() the Authorization value; the caller checks that
 *           the realm is its own and the uri the request's (RFC 7616 3.4: otherwise a
 *           captured response could be replayed against another resource), looks the
 *           user up, then digest_verify() and only then digest_nonce_check() (so that only
 *           authenticated requests take a place in the replay table, and stale=true is
 *           only said to a client that knows the password, as RFC 7616 3.3 asks).
 *
 * As implemented:
 *   - algorithms MD5, MD5-sess, SHA-256, SHA-256-sess (absent algorithm = MD5);
 *     SHA-512-256 and auth-int are refused.
 *   - a server requires qop=auth (every client since RFC 2617 answers a qop="auth"
 *     challenge with qop, nc and cnonce; a response without qop has no nonce count, so it
 *     could not be protected against replay). A client answers a challenge without qop
 *     RFC 2069 style.
 *   - userhash=true is parsed but refused by digest_verify(); username* (RFC 8187) is not
 *     supported (such credentials lack "username" and do not parse).
 *
 * Nonces: 64 lower-case hex digits, hex(issue time in ms, 8 bytes big-endian; issue
 * counter, 8 bytes; the first 16 bytes of HMAC-SHA256(secret, time || counter)), with a
 * 32-byte secret from RAND_bytes per struct digest_nonces: nonces of two instances (two
 * runs of a daemon, two starts of an agent) share nothing. A nonce we did not issue, or
 * one with any byte changed, fails the HMAC; none is stored when issued, so handing out
 * challenges costs no memory.
 *
 * The replay table: one slot per counter value modulo its size, holding the highest
 * counter recorded there and that nonce's last nonce count. A slot's counter only grows.
 * For a genuine, unexpired nonce with counter c:
 *   slot counter == c  -> the nonce is known: nc must exceed the recorded one (-EALREADY);
 *                         in single-use mode any second use is -EALREADY;
 *   slot counter <  c  -> c was never recorded: fresh; c and nc take the slot;
 *   slot counter >  c  -> c may have been recorded and evicted by a newer nonce: -ESTALE.
 * So an evicted nonce is stale, never fresh, and a replay cannot succeed after an
 * eviction; memory is fixed whatever peers do. The price is a spurious stale=true for a
 * client whose nonce shares a slot with a newer nonce used before it. Thread-safe: the
 * workers of a daemon share one (the issue counter is atomic, the replay table locked).
 */
#ifndef AUTOPROV_CODEC_DIGEST_H
#define AUTOPROV_CODEC_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest values accepted, in bytes (each buffer has one more for the NUL). */
#define DIGEST_USER_MAX	    128
#define DIGEST_REALM_MAX    128
#define DIGEST_NONCE_MAX    128
#define DIGEST_URI_MAX	    2048
#define DIGEST_RESPONSE_MAX 64 /* a SHA-256 digest in hex */
#define DIGEST_CNONCE_MAX   128
#define DIGEST_OPAQUE_MAX   128
#define DIGEST_TOKEN_MAX    32 /* algorithm, qop */
#define DIGEST_HEX_MAX	    65 /* a SHA-256 digest in hex and its NUL */

enum digest_algorithm {
	DIGEST_MD5,
	DIGEST_MD5_SESS,
	DIGEST_SHA256,
	DIGEST_SHA256_SESS,
};

/* "MD5", "MD5-sess", "SHA-256", "SHA-256-sess". */
const char *digest_algorithm_name(enum digest_algorithm alg);
/* The algorithm named name (case-insensitive; "" is MD5). 0 or -ENOTSUP. */
int digest_algorithm_parse(const char *name, enum digest_algorithm *ret);

/*
 * The response of RFC 7616 3.4.1 in lower-case hex into out: H(A1) for user, realm and
 * password (the -sess variants hash in nonce and cnonce), H(A2) = H(method ":" uri), then
 * H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2), or with qop NULL or "" RFC 2069's
 * H(HA1 ":" nonce ":" HA2). 0, -EINVAL (qop other than "auth"; -sess without qop), -EIO.
 */
int digest_response(enum digest_algorithm alg, const char *user, const char *realm,
		    const char *password, const char *method, const char *uri, const char *nonce,
		    const char *nc_hex, const char *cnonce, const char *qop,
		    char out[DIGEST_HEX_MAX]);

/* ---- client side ---- */

struct digest_challenge {
	enum digest_algorithm alg;
	bool qop_auth; /* the challenge offered qop=auth */
	bool stale;
	char realm[DIGEST_REALM_MAX + 1];
	char nonce[256];
	char opaque[256];
};

/*
 * A WWW-Authenticate / Proxy-Authenticate value ("Digest realm=..., nonce=..."). 0;
 * -EINVAL for another scheme, a syntax error, no nonce; -ENOTSUP an algorithm this code
 * does not compute, or qop without "auth" (auth-int only).
 */
int digest_challenge_parse(const char *value, struct digest_challenge *ret);

/*
 * The Authorization / Proxy-Authorization value answering c for method and uri: with
 * qop=auth when offered (cnonce and nc then used), RFC 2069 style otherwise. 0 or
 * -ENOSPC / -EINVAL (a '"', '\' or control character in a value to quote).
 */
int digest_authorization(const struct digest_challenge *c, const char *method, const char *uri,
			 const char *user, const char *password, const char *cnonce, uint32_t nc,
			 char *out, size_t outsz);

/* ---- server side ---- */

/*
 * Digest credentials, parsed. Strings are NUL-terminated and unescaped (the backslashes
 * of quoted strings removed); an absent optional parameter is "".
 */
struct digest_credentials {
	char username[DIGEST_USER_MAX + 1];
	char realm[DIGEST_REALM_MAX + 1];
	char nonce[DIGEST_NONCE_MAX + 1];
	char uri[DIGEST_URI_MAX + 1];
	char response[DIGEST_RESPONSE_MAX + 1];
	char algorithm[DIGEST_TOKEN_MAX + 1]; /* as sent; "" means MD5 */
	char cnonce[DIGEST_CNONCE_MAX + 1];
	char opaque[DIGEST_OPAQUE_MAX + 1];
	char qop[DIGEST_TOKEN_MAX + 1];
	char nc_hex[9]; /* the nonce count as sent (8 hex digits; it enters the digest) */
	uint32_t nc;	/* and its value; 0 when absent */
	bool userhash;	/* userhash=true: username is H(user:realm) */
};

/*
 * Parses an Authorization (HTTP or SIP) value value[0..len) (nothing beyond len is
 * read): "Digest" (any case), at least one space, then k=v parameters. Values are tokens
 * or quoted strings with backslash escapes; parameters are separated by commas with
 * optional whitespace (empty list elements allowed); unknown parameters are ignored.
 * 0; -EINVAL for another scheme, a syntax error, a control character, a duplicate
 * parameter, a value longer than its buffer, a nonce count that is not 8 hex digits, a
 * userhash neither true nor false, a missing username, realm, nonce, uri or response, or
 * a qop without cnonce and nc. ret is set only on success.
 */
int digest_credentials_parse(const char *value, size_t len, struct digest_credentials *ret);

/*
 * Whether the credentials' response is the one RFC 7616 3.4.1 computes for method (the
 * request line's), the password, and the credentials' own username, realm, nonce, uri,
 * nc, cnonce and qop (compared in constant time). False for an unknown algorithm, qop
 * other than auth, no qop, or userhash. It checks neither the realm, the uri nor the
 * nonce: see the top of this file.
 */
bool digest_verify(const struct digest_credentials *a, const char *method, const char *password);

/*
 * One challenge into out (outsz bytes, NUL-terminated):
 *   Digest realm="R", qop="auth", algorithm=A, nonce="N"[, opaque="O"][, stale=true]
 * (opaque left out when NULL). realm and opaque are quoted with '"' and '\' escaped.
 * 0, -ENOSPC, or -EINVAL when a value has a control character.
 */
int digest_challenge_format(char *out, size_t outsz, const char *realm, enum digest_algorithm alg,
			    const char *nonce, const char *opaque, bool stale);
/*
 * The Basic challenge offered beside Digest challenges, with the same quoting:
 *   Basic realm="R", charset="UTF-8"
 * 0, -ENOSPC, or -EINVAL when the realm has a control character.
 */
int digest_challenge_basic_format(char *out, size_t outsz, const char *realm);

/* Nonces issued by a server, and the replay table (see the top of this file). */
#define DIGEST_NONCE_LEN	    64
#define DIGEST_NONCES_DEFAULT_SLOTS 4096
struct digest_nonces;

/*
 * A new secret and an empty replay table of `slots` entries (0: the default). single_use:
 * a nonce is accepted once whatever its nonce count (the endpoint's check-sync: one
 * challenge, one NOTIFY); otherwise any strictly increasing nonce count (HTTP clients
 * reuse a nonce). 0, -ENOMEM, or -EIO when no random bytes could be had.
 */
int digest_nonces_new(unsigned slots, bool single_use, struct digest_nonces **ret);
void digest_nonces_free(struct digest_nonces *nonces); /* accepts NULL */

/* A new nonce issued at now_ms into out (at least DIGEST_NONCE_LEN + 1 bytes): 0, -ENOSPC. */
int digest_nonce_make(struct digest_nonces *nonces, uint64_t now_ms, char *out, size_t outsz);

/*
 * Checks a nonce sent back with nonce count nc at now_ms. Returns 0 when it is ours,
 * issued at most lifetime_s seconds ago, and not used before (single-use) or nc is above
 * the last count recorded for it (none: 0), and records it; -ESTALE when it is ours but
 * older than lifetime_s or no longer in the replay table; -EINVAL when it is not a nonce
 * we issued (or was issued after now_ms); -EALREADY when it was used (single-use) or nc
 * is not above the last recorded count.
 */
int digest_nonce_check(struct digest_nonces *nonces, const char *nonce, uint32_t nc,
		       uint64_t now_ms, unsigned lifetime_s);

#endif
