// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the Authorization header: whatever a peer sends, http_auth_parse
 * must read only the bytes it is given and either refuse them or fill every buffer with a
 * terminated string; what parses goes through the verifiers and the nonce check
 * (codec/digest.c); a challenge made from a parsed realm, nonce and opaque must parse back
 * to the same values (the quoting round-trips), and so must the client's Authorization
 * answering it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proto/http_auth.h"

#define TERMINATED(a, f) CHECK(strnlen((a)->f, sizeof((a)->f)) < sizeof((a)->f))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_digest(const struct http_authorization *ha)
{
	static struct digest_nonces *nonces;
	const struct digest_credentials *a = &ha->digest;
	struct digest_credentials back;
	struct digest_challenge c;
	char challenge[1024], h[2048];
	int r;

	(void)http_digest_verify(ha, "GET", "password");
	if (!nonces)
		CHECK(digest_nonces_new(8, false, &nonces) == 0);
	r = digest_nonce_check(nonces, a->nonce, a->nc, 1000, 60);
	CHECK(r == -EINVAL); /* nobody guesses an HMAC */

	r = digest_challenge_format(challenge, sizeof(challenge), a->realm, DIGEST_SHA256,
				    a->nonce, a->opaque, true);
	CHECK(r == 0); /* the parser let no control character through but HTAB */
	r = snprintf(h, sizeof(h), "%s, username=u, uri=\"/\", response=0, nc=00000001, cnonce=c",
		     challenge);
	CHECK(r > 0 && (size_t)r < sizeof(h));
	CHECK(digest_credentials_parse(h, strlen(h), &back) == 0);
	CHECK(strcmp(back.realm, a->realm) == 0);
	CHECK(strcmp(back.nonce, a->nonce) == 0);
	CHECK(strcmp(back.opaque, a->opaque) == 0);
	CHECK(strcmp(back.algorithm, "SHA-256") == 0);

	/* the client side: what it answers, the server side verifies */
	if (digest_challenge_parse(challenge, &c) == 0 &&
	    digest_authorization(&c, "GET", "/x", "user", "pw", "cn", 1, h, sizeof(h)) == 0) {
		CHECK(digest_credentials_parse(h, strlen(h), &back) == 0);
		CHECK(digest_verify(&back, "GET", "pw"));
		CHECK(!digest_verify(&back, "GET", "pW"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_authorization a;
	char *copy;

	/* an exact-size copy: ASan sees any read beyond size */
	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	if (http_auth_parse(copy, size, &a) == 0) {
		TERMINATED(&a, username);
		TERMINATED(&a, password);
		TERMINATED(&a.digest, username);
		TERMINATED(&a.digest, realm);
		TERMINATED(&a.digest, nonce);
		TERMINATED(&a.digest, uri);
		TERMINATED(&a.digest, response);
		TERMINATED(&a.digest, algorithm);
		TERMINATED(&a.digest, cnonce);
		TERMINATED(&a.digest, opaque);
		TERMINATED(&a.digest, qop);
		TERMINATED(&a.digest, nc_hex);
		if (a.scheme == HTTP_AUTH_BASIC) {
			CHECK(!strchr(a.username, ':'));
			(void)http_basic_verify(&a, "user", "password");
			CHECK(!http_digest_verify(&a, "GET", "password"));
		} else {
			CHECK(a.scheme == HTTP_AUTH_DIGEST);
			CHECK(!http_basic_verify(&a, "user", "password"));
			check_digest(&a);
		}
	}
	free(copy);
	return 0;
}
