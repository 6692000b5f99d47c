// SPDX-License-Identifier: MIT
/*
 * HTTP authentication on the server side: Basic (RFC 7617) and Digest (RFC 7616).
 * Pure apart from OpenSSL's hashes and random bytes: no I/O, no clock (the caller passes
 * a monotonic time in milliseconds, so tests control time), no logging.
 *
 * How the server uses it, per request carrying an Authorization header:
 *
 *   struct http_authorization a;
 *   if (http_auth_parse(value, len, &a) < 0)             -> 401 with fresh challenges
 *   Basic:  look a.username up; http_basic_verify(&a, user, password)
 *   Digest: the caller checks that a.realm is its realm and that a.uri is byte for byte
 *           the request target of the request line (RFC 7616 3.4: otherwise a captured
 *           response could be replayed against another file), looks a.username up, then
 *           1. http_digest_verify(&a, method, password)  false -> 401, stale=false
 *           2. http_nonce_check(nonces, a.nonce, a.nc, now_ms, lifetime_s)
 *                0          -> authenticated
 *                -ESTALE    -> 401 with stale=true (right password, old nonce: clients
 *                              retry with the new nonce without asking the user again)
 *                -EALREADY  -> 401 with stale=true too: the credentials were right but
 *                              the nonce count was not fresh (a replay, or a client whose
 *                              requests overtook each other); a replayer cannot answer
 *                              the new nonce without the password
 *                -EINVAL    -> 401, stale=false (a nonce we never issued or altered;
 *                              also every nonce of a previous run of the daemon, since
 *                              the secret is drawn at start-up)
 *   Verify before checking the nonce: only authenticated requests then take a place in
 *   the replay table, and stale=true is only said to a client that knows the password,
 *   as RFC 7616 3.3 asks.
 *
 * Digest as implemented:
 *   - algorithms MD5, MD5-sess, SHA-256, SHA-256-sess (absent algorithm = MD5);
 *     SHA-512-256 and auth-int are refused (never offered).
 *   - qop=auth only, and qop is required: the challenges always offer qop="auth", and
 *     every client since RFC 2617 (1999) then answers with qop, nc and cnonce. A response
 *     without qop (RFC 2069) has no nonce count, so it could only be protected against
 *     replay by a fresh nonce per request; it is refused instead.
 *   - userhash=true is parsed but refused by http_digest_verify (the username field is
 *     then a hash the server could only match by trying every user); it is never offered.
 *   - username* (RFC 8187 extended notation) is not supported: such a request lacks
 *     "username" and does not parse.
 *
 * Which challenge clients pick, checked against the clients installed here:
 *   - curl 7.88 (--digest, and --anyauth) takes the FIRST Digest challenge it sees and
 *     ignores the following ones ("Ignoring duplicate digest auth header"); it answers
 *     MD5, MD5-sess, SHA-256 and SHA-256-sess challenges (all verified against this code).
 *   - Python's urllib.request.HTTPDigestAuthHandler (3.11) reads only the FIRST
 *     WWW-Authenticate field and knows only MD5 and SHA (SHA-1): offered SHA-256 first
 *     it raises ValueError("Unsupported digest authentication algorithm 'SHA-256'")
 *     instead of trying the MD5 challenge. Offered MD5 first it works.
 *     It also echoes the realm unescaped, so a realm with '"' or '\' fails with it
 *     (curl escapes it): keep realms to plain printable characters.
 *   Both retry by themselves, with the new nonce, after a 401 with stale=true; curl
 *   --anyauth prefers Digest to Basic when both are offered.
 *   So the order of the challenges is the caller's choice (one call per challenge):
 *   SHA-256 first (RFC 7616 3.7: challenges in order of preference, and the client uses
 *   the first it supports) gets curl to use SHA-256; MD5 first also serves clients that,
 *   like urllib, read only the first challenge and know only MD5. Offer Basic, if at all,
 *   after the Digest challenges: urllib's Digest handler would stop at a Basic first
 *   (its Basic handler looks through every field).
 *
 * Nonces: 64 lower-case hex digits, hex(issue time in ms, 8 bytes big-endian; issue
 * counter, 8 bytes; the first 16 bytes of HMAC-SHA256(secret, time || counter)), with a
 * 32-byte secret from RAND_bytes per struct http_nonces. A nonce we did not issue, or one
 * with any byte changed, fails the HMAC; none is stored when issued.
 *
 * The replay table: one slot per counter value modulo its size (default 4096 slots of 16
 * bytes), holding the highest counter recorded there and that nonce's last nonce count.
 * A slot's counter only ever grows. For a genuine, unexpired nonce with counter c:
 *   slot counter == c  -> the nonce is known: nc must exceed the recorded one (-EALREADY);
 *   slot counter <  c  -> c was never recorded (had it been, the slot would hold >= c):
 *                         fresh; c and nc take the slot, evicting the older nonce;
 *   slot counter >  c  -> c may have been recorded and evicted by a newer nonce: -ESTALE.
 * So a nonce evicted from the table is stale, never fresh, and a replay cannot succeed
 * after an eviction; memory is fixed whatever peers do. The price is a spurious
 * stale=true (one extra round trip) for a client whose nonce shares a slot with a newer
 * nonce used before it, i.e. only after more than `slots` nonces were issued since its
 * own. Nonces are only recorded by http_nonce_check, i.e. (in the order above) by
 * authenticated requests; 401s that hand out nonces take no slot.
 * Nonce counts must strictly increase per nonce: a client sending concurrent requests
 * with one nonce may see one of them answered stale when they arrive out of order.
 * Not thread-safe: one struct http_nonces per event loop.
 */
#ifndef AUTOPROV_PROTO_HTTP_AUTH_H
#define AUTOPROV_PROTO_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest values accepted, in bytes (each buffer has one more for the NUL). */
#define HTTP_AUTH_USER_MAX     128
#define HTTP_AUTH_PASSWORD_MAX 256
#define HTTP_AUTH_REALM_MAX    128
#define HTTP_AUTH_NONCE_MAX    128
#define HTTP_AUTH_URI_MAX      2048
#define HTTP_AUTH_RESPONSE_MAX 64 /* a SHA-256 digest in hex */
#define HTTP_AUTH_CNONCE_MAX   128
#define HTTP_AUTH_OPAQUE_MAX   128
#define HTTP_AUTH_TOKEN_MAX    32 /* algorithm, qop */

enum http_auth_scheme { HTTP_AUTH_BASIC = 1, HTTP_AUTH_DIGEST };

enum http_digest_algorithm {
	HTTP_DIGEST_MD5,
	HTTP_DIGEST_MD5_SESS,
	HTTP_DIGEST_SHA256,
	HTTP_DIGEST_SHA256_SESS,
};

/*
 * An Authorization header, parsed. Strings are NUL-terminated and unescaped (the
 * backslashes of quoted strings removed); an absent optional parameter is "".
 */
struct http_authorization {
	enum http_auth_scheme scheme;
	char username[HTTP_AUTH_USER_MAX + 1];	   /* Basic user-id, or Digest username */
	char password[HTTP_AUTH_PASSWORD_MAX + 1]; /* Basic only; may contain ':' */
	/* Digest only: */
	char realm[HTTP_AUTH_REALM_MAX + 1];
	char nonce[HTTP_AUTH_NONCE_MAX + 1];
	char uri[HTTP_AUTH_URI_MAX + 1];
	char response[HTTP_AUTH_RESPONSE_MAX + 1];
	char algorithm[HTTP_AUTH_TOKEN_MAX + 1]; /* as sent; "" means MD5 */
	char cnonce[HTTP_AUTH_CNONCE_MAX + 1];
	char opaque[HTTP_AUTH_OPAQUE_MAX + 1];
	char qop[HTTP_AUTH_TOKEN_MAX + 1];
	char nc_hex[9]; /* the nonce count as sent (8 hex digits; it enters the digest) */
	uint32_t nc;	/* and its value; 0 when absent */
	bool userhash;	/* userhash=true: username is H(user:realm) */
};

/*
 * Parses an Authorization header value value[0..len) (not necessarily NUL-terminated;
 * nothing beyond len is read): "Basic <base64 of user:password>" or "Digest k=v, ...".
 * Scheme and parameter names are case-insensitive; Digest values are tokens or quoted
 * strings with backslash escapes; parameters are separated by commas with optional
 * whitespace (empty list elements are allowed); unknown parameters are ignored.
 * Returns 0, -EINVAL for any other scheme, a syntax error, bad base64 or a control
 * character in the decoded user:password, a Basic credential without ':', a duplicate
 * parameter, a value longer than its buffer, a nonce count that is not 8 hex digits, a
 * userhash neither true nor false, a missing username, realm, nonce, uri or response, or
 * a qop without cnonce and nc. ret is set only on success.
 */
int http_auth_parse(const char *value, size_t len, struct http_authorization *ret);

/*
 * Whether a Basic authorization names user with password (both compared in constant
 * time, whatever their lengths). False for a Digest authorization.
 */
bool http_basic_verify(const struct http_authorization *a, const char *user, const char *password);

/*
 * Whether a Digest authorization's response is the one RFC 7616 3.4.1 computes for
 * method (the request line's, e.g. "GET"), the password, and the authorization's own
 * username, realm, nonce, uri, nc, cnonce and qop (compared in constant time). False for
 * Basic, an unknown algorithm, qop other than auth, no qop, or userhash. It does not
 * check the realm, the uri, or the nonce: see the top of this file.
 */
bool http_digest_verify(const struct http_authorization *a, const char *method,
			const char *password);

/* "MD5", "MD5-sess", "SHA-256", "SHA-256-sess". */
const char *http_digest_algorithm_name(enum http_digest_algorithm alg);

/*
 * Writes one WWW-Authenticate field value into out (outsz bytes, NUL-terminated):
 *   Digest realm="R", qop="auth", algorithm=A, nonce="N", opaque="O"[, stale=true]
 *   Basic realm="R", charset="UTF-8"
 * The realm and opaque are quoted with '"' and '\' escaped. 0, -ENOSPC, or -EINVAL when
 * a value has a control character. Offer one Digest challenge per algorithm, each in its
 * own WWW-Authenticate field, in the order of preference (see above for clients).
 */
int http_auth_challenge_digest(char *out, size_t outsz, const char *realm,
			       enum http_digest_algorithm alg, const char *nonce,
			       const char *opaque, bool stale);
int http_auth_challenge_basic(char *out, size_t outsz, const char *realm);

/* Nonces issued by a server, and the replay table (see the top of this file). */
#define HTTP_NONCE_LEN		  64
#define HTTP_NONCES_DEFAULT_SLOTS 4096
struct http_nonces;

/*
 * A new secret and an empty replay table of `slots` entries (0: the default).
 * 0, -ENOMEM, or -EIO when no random bytes could be had.
 */
int http_nonces_new(unsigned slots, struct http_nonces **ret);
void http_nonces_free(struct http_nonces *nonces);

/* A new nonce issued at now_ms into out (at least HTTP_NONCE_LEN + 1 bytes): 0, -ENOSPC. */
int http_nonce_make(struct http_nonces *nonces, uint64_t now_ms, char *out, size_t outsz);

/*
 * Checks a nonce sent back with nonce count nc at now_ms. Returns 0 when it is ours,
 * issued at most lifetime_s seconds ago, and nc is above the last count recorded for it
 * (none: 0), and records nc; -ESTALE when it is ours but older than lifetime_s or no
 * longer in the replay table; -EINVAL when it is not a nonce we issued (or was issued
 * after now_ms); -EALREADY when nc is not above the last recorded count.
 */
int http_nonce_check(struct http_nonces *nonces, const char *nonce, uint32_t nc, uint64_t now_ms,
		     unsigned lifetime_s);

#endif
