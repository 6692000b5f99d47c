// SPDX-License-Identifier: MIT
/*
 * HTTP authentication on the server side: the Authorization header (Basic, RFC 7617, or
 * Digest, RFC 7616) and Basic's check and challenge. Digest itself (credentials, the
 * response check, challenges, nonces and the replay table) is codec/digest.h, shared with
 * the SIP side; this file only tells the two schemes apart. Pure: no I/O, no logging.
 *
 * How the server uses it, per request carrying an Authorization header:
 *
 *   struct http_authorization a;
 *   if (http_auth_parse(value, len, &a) < 0)             -> 401 with fresh challenges
 *   Basic:  look a.username up; http_basic_verify(&a, user, password)
 *   Digest: the caller checks that a.digest.realm is its realm and that a.digest.uri is
 *           byte for byte the request target of the request line (RFC 7616 3.4), looks
 *           a.username up, then
 *           1. http_digest_verify(&a, method, password)  false -> 401, stale=false
 *           2. digest_nonce_check(nonces, a.digest.nonce, a.digest.nc, now_ms, lifetime_s)
 *                0          -> authenticated
 *                -ESTALE    -> 401 with stale=true (right password, old nonce: clients
 *                              retry with the new nonce without asking the user again)
 *                -EALREADY  -> 401 with stale=true too: the credentials were right but
 *                              the nonce count was not fresh (a replay, or a client whose
 *                              requests overtook each other)
 *                -EINVAL    -> 401, stale=false (a nonce we never issued or altered;
 *                              also every nonce of a previous run of the daemon)
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
 *   So the order of the challenges (digest_challenge_format(), one per algorithm, each in
 *   its own WWW-Authenticate field) is the caller's choice: SHA-256 first (RFC 7616 3.7)
 *   gets curl to use SHA-256; MD5 first also serves clients that, like urllib, read only
 *   the first challenge and know only MD5. Offer Basic, if at all, after the Digest
 *   challenges: urllib's Digest handler would stop at a Basic first.
 */
#ifndef AUTOPROV_PROTO_HTTP_AUTH_H
#define AUTOPROV_PROTO_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/digest.h"

/* Longest Basic values accepted, in bytes (each buffer has one more for the NUL). */
#define HTTP_AUTH_USER_MAX     DIGEST_USER_MAX
#define HTTP_AUTH_PASSWORD_MAX 256

enum http_auth_scheme { HTTP_AUTH_BASIC = 1, HTTP_AUTH_DIGEST };

/* An Authorization header, parsed. */
struct http_authorization {
	enum http_auth_scheme scheme;
	char username[HTTP_AUTH_USER_MAX + 1];	   /* Basic user-id, or Digest username */
	char password[HTTP_AUTH_PASSWORD_MAX + 1]; /* Basic only; may contain ':' */
	struct digest_credentials digest;	   /* Digest only */
};

/*
 * Parses an Authorization header value value[0..len) (not necessarily NUL-terminated;
 * nothing beyond len is read): "Basic <base64 of user:password>" or "Digest k=v, ..."
 * (digest_credentials_parse()). The scheme is case-insensitive. Returns 0, -EINVAL for
 * any other scheme, bad base64 or a control character in the decoded user:password, a
 * Basic credential without ':', or Digest credentials digest_credentials_parse() refuses.
 * ret is set only on success.
 */
int http_auth_parse(const char *value, size_t len, struct http_authorization *ret);

/*
 * Whether a Basic authorization names user with password (both compared in constant
 * time, whatever their lengths). False for a Digest authorization.
 */
bool http_basic_verify(const struct http_authorization *a, const char *user, const char *password);

/* digest_verify() of a Digest authorization; false for Basic. */
bool http_digest_verify(const struct http_authorization *a, const char *method,
			const char *password);


#endif
