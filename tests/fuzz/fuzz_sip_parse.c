// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the SIP message layer: a datagram parses to a message whose
 * strings and Via spans lie inside its buffer (or to garbage / too big), and every helper
 * the responder applies to a message (URIs, name-addrs, parameters, Via, Event, MAC forms,
 * a 400 / 200 built back from it, a Digest challenge answered) returns without crashing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "codec/digest.h"
#include "codec/sip_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated string of the message lies inside its buffer (size bytes and a NUL). */
static void inside(const struct sip_msg *m, size_t size, const char *p)
{
	CHECK(p >= m->buf && p + strlen(p) <= m->buf + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg *m = NULL;
	struct sip_name_addr na;
	struct sip_uri u;
	struct sip_via via;
	struct sip_builder b;
	struct digest_challenge c;
	struct digest_credentials cred;
	char out[4096], v[256], type[64], mac[MAC_LEN + 1];
	const char *params;
	int r = sip_parse(data, size, &m);

	CHECK(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
	if (r < 0)
		return 0;
	for (size_t i = 0; i < m->nvia; i++) {
		CHECK(m->via[i].p >= m->buf && m->via[i].p + m->via[i].len <= m->buf + size);
		(void)sip_via_parse(m->via[i].p, m->via[i].len, &via);
		(void)sip_param_get(via.params, "branch", v, sizeof(v));
	}
	for (size_t i = 0; i < m->nheaders; i++)
		inside(m, size, m->headers[i].value);
	CHECK(m->body >= m->buf && m->body + m->body_len <= m->buf + size);
	if (m->is_request) {
		inside(m, size, m->uri);
		if (sip_uri_parse(m->uri, strlen(m->uri), &u) == 0)
			(void)sip_mac_from_uri(&u, mac);
	}
	if (m->from && sip_name_addr_parse(m->from, &na) == 0) {
		(void)sip_param_get(na.params, "tag", v, sizeof(v));
		if (sip_uri_parse(na.uri, strlen(na.uri), &u) == 0)
			(void)sip_mac_from_user(u.user, mac);
	}
	if (m->event && sip_event_parse(m->event, type, sizeof(type), &params) == 0)
		(void)sip_param_get(params, "vendor", v, sizeof(v));
	sip_builder_init(&b, out, sizeof(out));
	sip_build_response_start(&b, m, m->error ? 400 : 200, m->error ? m->error : "OK", "t");
	r = sip_build_finish(&b, NULL, NULL, 0);
	CHECK(r == -ENOSPC || (r > 0 && (size_t)r < sizeof(out)));
	/* Digest as the resync client and the endpoint's check-sync listener read it */
	for (size_t i = 0; i < m->nheaders; i++) {
		const char *hv = m->headers[i].value;

		if (digest_challenge_parse(hv, &c) == 0)
			(void)digest_authorization(&c, "NOTIFY", "sip:a@b", "u", "p", "cn", 1, out,
						   sizeof(out));
		if (digest_credentials_parse(hv, strlen(hv), &cred) == 0)
			(void)digest_verify(&cred, "NOTIFY", "p");
	}
	sip_msg_free(m);
	return 0;
}
