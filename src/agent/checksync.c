// SPDX-License-Identifier: MIT
/*
 * The endpoint's SIP check-sync listener (seeds 000 and 002; SPA-style `resync` / `reboot`
 * events of seed 001): a UDP socket on the sip_listen setting takes out-of-dialog NOTIFYs.
 * `Event: check-sync` (`;reboot=true` reboots first), `resync` and `reboot` are answered
 * 200 OK and hand over to ap_agent_check_sync(); other events 489 Bad Event, other
 * methods 405. With the sip_password setting, a NOTIFY must carry a Digest Authorization
 * (RFC 3261 22) for sip_user, or it is challenged with 401 — what phones do that keeps a
 * stranger from rebooting them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "core/addr.h"
#include "proto/sip_parse.h"

#define CHECKSYNC_REALM "autoprov-agent"

struct agent_checksync {
	int fd;
	struct event *ev;
	char nonce[40];
};

/* Copies the Digest field `name` (quoted or not) of an Authorization value into out. */
static bool digest_field(const char *value, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	for (const char *p = value; (p = strcasestr(p, name)); p += n) {
		if (p != value && p[-1] != ' ' && p[-1] != ',' && p[-1] != '\t')
			continue;
		const char *v = p + n;
		while (*v == ' ')
			v++;
		if (*v != '=')
			continue;
		v++;
		while (*v == ' ')
			v++;
		bool quoted = *v == '"';
		v += quoted;
		size_t len = 0;
		while (v[len] && (quoted ? v[len] != '"' : (v[len] != ',' && v[len] != ' ')))
			len++;
		if (len >= size)
			return false;
		memcpy(out, v, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

/* Whether the request's Authorization answers our nonce for sip_user / sip_password. */
static bool checksync_authorized(struct ap_agent *a, const struct sip_msg *m)
{
	const char *auth = sip_msg_header(m, "Authorization");
	char user[128], nonce[64], uri[512], response[160], cnonce[128] = "", nc[16] = "",
							    qop[16] = "", alg[32] = "MD5";
	if (!auth || strncasecmp(auth, "Digest ", 7) != 0 ||
	    !digest_field(auth, "username", user, sizeof(user)) ||
	    !digest_field(auth, "nonce", nonce, sizeof(nonce)) ||
	    !digest_field(auth, "uri", uri, sizeof(uri)) ||
	    !digest_field(auth, "response", response, sizeof(response)))
		return false;
	digest_field(auth, "cnonce", cnonce, sizeof(cnonce));
	digest_field(auth, "nc", nc, sizeof(nc));
	digest_field(auth, "qop", qop, sizeof(qop));
	digest_field(auth, "algorithm", alg, sizeof(alg));
	if (strcmp(user, agent_setting(a, "sip_user")) != 0 ||
	    strcmp(nonce, a->checksync->nonce) != 0)
		return false;
	struct sip_digest_challenge c = { .qop_auth = *qop != '\0' };
	c.alg = strcasecmp(alg, "SHA-256") == 0 ? SIP_DIGEST_SHA256 : SIP_DIGEST_MD5;
	snprintf(c.realm, sizeof(c.realm), "%s", CHECKSYNC_REALM);
	snprintf(c.nonce, sizeof(c.nonce), "%s", nonce);
	char expected[1024], want[160];
	unsigned long count = strtoul(nc, NULL, 16);
	if (sip_digest_authorization(&c, "NOTIFY", uri, user, agent_setting(a, "sip_password"),
				     cnonce, (uint32_t)count, expected, sizeof(expected)) < 0 ||
	    !digest_field(expected, "response", want, sizeof(want)))
		return false;
	return strcmp(want, response) == 0;
}

void agent_sip_reply(int fd, const struct sip_msg *m, unsigned code, const char *reason,
		     const char *header, const char *value, const struct sockaddr_storage *to,
		     socklen_t tolen)
{
	char buf[4096];
	struct sip_builder b;
	sip_builder_init(&b, buf, sizeof(buf));
	sip_build_response_start(&b, m, code, reason, "agent");
	if (header)
		sip_build_header(&b, header, "%s", value);
	int n = sip_build_finish(&b, NULL, NULL, 0);
	if (n > 0)
		(void)sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, tolen);
}

static void checksync_read(evutil_socket_t fd, short what, void *arg)
{
	struct ap_agent *a = arg;
	struct agent_checksync *s = a->checksync;
	char buf[SIP_MAX_DATAGRAM];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (n <= 0)
		return;
	struct sip_msg *m = NULL;
	if (sip_parse(buf, (size_t)n, &m) < 0 || !m->is_request) {
		sip_msg_free(m);
		return;
	}
	if (m->error) {
		agent_sip_reply(s->fd, m, 400, m->error, NULL, NULL, &from, fromlen);
		goto done;
	}
	if (strcmp(m->method, "NOTIFY") != 0) {
		agent_sip_reply(s->fd, m, 405, "Method Not Allowed", "Allow", "NOTIFY", &from,
				fromlen);
		goto done;
	}
	char event[64] = "";
	const char *params = NULL;
	if (!m->event || sip_event_parse(m->event, event, sizeof(event), &params) < 0 ||
	    (strcasecmp(event, "check-sync") != 0 && strcasecmp(event, "resync") != 0 &&
	     strcasecmp(event, "reboot") != 0)) {
		agent_sip_reply(s->fd, m, 489, "Bad Event", "Allow-Events",
				"check-sync, resync, reboot", &from, fromlen);
		goto done;
	}
	if (*agent_setting(a, "sip_password") && !checksync_authorized(a, m)) {
		char challenge[256];
		snprintf(s->nonce, sizeof(s->nonce), "%08lx%08lx", (unsigned long)random(),
			 (unsigned long)random());
		snprintf(challenge, sizeof(challenge),
			 "Digest realm=\"%s\", nonce=\"%s\", qop=\"auth\", algorithm=MD5",
			 CHECKSYNC_REALM, s->nonce);
		agent_event(a, AP_EV_DECISION, NULL, "NOTIFY %s without valid credentials: 401",
			    event);
		agent_sip_reply(s->fd, m, 401, "Unauthorized", "WWW-Authenticate", challenge, &from,
				fromlen);
		goto done;
	}
	char reboot[16] = "";
	bool wants_reboot =
		strcasecmp(event, "reboot") == 0 ||
		(params && sip_param_get(params, "reboot", reboot, sizeof(reboot)) == 0 &&
		 strcasecmp(reboot, "true") == 0);
	agent_sip_reply(s->fd, m, 200, "OK", NULL, NULL, &from, fromlen);
	sip_msg_free(m);
	ap_agent_check_sync(a, wants_reboot);
	return;
done:
	sip_msg_free(m);
}

void agent_checksync_stop(struct ap_agent *a)
{
	struct agent_checksync *s = a->checksync;
	if (!s)
		return;
	if (s->ev)
		event_free(s->ev);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	a->checksync = NULL;
}

int agent_checksync_start(struct ap_agent *a, const char **ret_why)
{
	const char *listen = agent_setting(a, "sip_listen");
	if (!*listen || a->checksync)
		return 0;
	struct addr addr;
	if (addr_parse(listen, &addr) < 0) {
		*ret_why = "sip_listen is not ADDR:PORT";
		return -EINVAL;
	}
	struct agent_checksync *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	a->checksync = s;
	s->fd = socket(addr.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->fd, (struct sockaddr *)&addr.ss, addr.len) < 0) {
		int err = -errno;
		*ret_why = "cannot listen on sip_listen";
		agent_checksync_stop(a);
		return err;
	}
	s->ev = event_new(a->base, s->fd, EV_READ | EV_PERSIST, checksync_read, a);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		agent_checksync_stop(a);
		return -ENOMEM;
	}
	agent_event(a, AP_EV_STEP, NULL, "listening for SIP NOTIFY check-sync on %s", listen);
	return 0;
}
