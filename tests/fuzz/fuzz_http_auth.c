// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the Authorization header: whatever a peer sends, http_auth_parse
 * must read only the bytes it is given and either refuse them or fill every buffer with a
 * terminated string; what parses goes through the verifiers and the nonce check; and a
 * challenge made from a parsed realm, nonce and opaque must parse back to the same values
 * (the quoting round-trips).
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

static void check_digest(const struct http_authorization *a)
{
	static struct http_nonces *nonces;
	struct http_authorization back;
	char challenge[1024], h[2048];
	int r;

	(void)http_digest_verify(a, "GET", "password");
	if (!nonces)
		CHECK(http_nonces_new(8, &nonces) == 0);
	r = http_nonce_check(nonces, a->nonce, a->nc, 1000, 60);
	CHECK(r == -EINVAL); /* nobody guesses an HMAC */

	r = http_auth_challenge_digest(challenge, sizeof(challenge), a->realm, HTTP_DIGEST_SHA256,
				       a->nonce, a->opaque, true);
	CHECK(r == 0); /* the parser let no control character through but HTAB */
	r = snprintf(h, sizeof(h), "%s, username=u, uri=\"/\", response=0, nc=00000001, cnonce=c",
		     challenge);
	CHECK(r > 0 && (size_t)r < sizeof(h));
	CHECK(http_auth_parse(h, strlen(h), &back) == 0);
	CHECK(strcmp(back.realm, a->realm) == 0);
	CHECK(strcmp(back.nonce, a->nonce) == 0);
	CHECK(strcmp(back.opaque, a->opaque) == 0);
	CHECK(strcmp(back.algorithm, "SHA-256") == 0);
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
		TERMINATED(&a, realm);
		TERMINATED(&a, nonce);
		TERMINATED(&a, uri);
		TERMINATED(&a, response);
		TERMINATED(&a, algorithm);
		TERMINATED(&a, cnonce);
		TERMINATED(&a, opaque);
		TERMINATED(&a, qop);
		TERMINATED(&a, nc_hex);
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
