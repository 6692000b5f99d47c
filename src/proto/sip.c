// SPDX-License-Identifier: MIT
/*
 * SIP over UDP: the Plug-and-Play responder and NOTIFY client transactions.
 *
 * A PnP exchange (struct pnp) starts with a SUBSCRIBE carrying Event: ua-profile: it is
 * answered 200 (Expires: 0), then a NOTIFY with the provisioning URL goes to the
 * SUBSCRIBE's source address and port (to the Contact's port only when the Contact names
 * that same host: a SUBSCRIBE can never aim the NOTIFY at a third party). The exchange is
 * remembered for 64*T1 (Timer J of a non-INVITE server transaction, RFC 3261 17.2.2) and a
 * bit more: a retransmitted SUBSCRIBE (same branch and CSeq) gets the same 200 again, and
 * a repeated one (new CSeq, or a new Call-ID from the same MAC and host) gets a 200 but
 * never a second NOTIFY transaction.
 *
 * The source of a SUBSCRIBE may be spoofed, so until the peer answers the NOTIFY it gets
 * no more than REFLECTION_FACTOR times the bytes it sent (its SUBSCRIBEs, retransmissions
 * and repeats included): the first NOTIFY always goes, retransmissions only within that
 * budget (a repeated SUBSCRIBE both raises it and sends the NOTIFY again). One source
 * holds at most max_per_source exchanges; SUBSCRIBEs beyond are dropped unanswered and
 * counted, in at most one log line per second.
 *
 * A client transaction (struct client_tx) is one non-INVITE request (RFC 3261 17.1.2):
 * sent, then retransmitted on Timer E (T1, doubling up to T2; T2 once a provisional
 * response came), abandoned on Timer F (64*T1). One 401 / 407 is answered with Digest
 * when credentials were given (new branch, CSeq + 1).
 *
 * Responses to requests go back to the source address and port (RFC 3581 rport
 * behaviour, whatever the Via says): phones behind NAT and test tools both get them.
 *
 * This file holds the PnP responder and the server; beside it: the configuration
 * (sip_config.c), the client transactions (sip_notify.c) and the provisioning URL
 * (sip_url.c), sharing proto/sip_internal.h.
 */
#include "proto/sip_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "site/directory.h"
#include "site/exchange.h"
#include "site/metrics.h"

/* bytes sent to a PnP peer that has not answered, per byte it sent */
#define REFLECTION_FACTOR 3
/* the least time between two log lines about SUBSCRIBEs refused in a flood */
#define FLOOD_LOG_MS 1000

static const char *const pnp_state_names[PNP__MAX] = { "notifying", "done" };

static void pnp_set_state(struct pnp *p, enum pnp_state state)
{
	log_debug(TAG, "PnP %s: %s -> %s", p->call_id, pnp_state_names[p->state],
		  pnp_state_names[state]);
	p->state = state;
}

/* Random lower-case hex, n digits (n even), NUL-terminated. */
void sip_random_hex(char *out, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char raw[32];

	if (n / 2 > sizeof(raw))
		n = 2 * sizeof(raw);
	if (RAND_bytes(raw, (int)(n / 2)) != 1) {
		for (size_t i = 0; i < n / 2; i++)
			raw[i] = (unsigned char)random();
	}
	for (size_t i = 0; i < n / 2; i++) {
		out[2 * i] = hexd[raw[i] >> 4];
		out[2 * i + 1] = hexd[raw[i] & 15];
	}
	out[n] = '\0';
}

void sip_send_to(struct sip_server *srv, const struct sockaddr *to, socklen_t tolen,
		 const void *msg, size_t len)
{
	if (sendto(srv->fd, msg, len, 0, to, tolen) < 0) {
		char a[ADDR_STRLEN];

		log_warn(TAG, "send to %s", addr_format(to, a, sizeof(a)));
	}
}

static socklen_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/*
 * "10.0.0.1:5060" or "[::1]:5060": how peer reaches us (the listener's address, or the one
 * the kernel picks towards peer when we listen on a wildcard).
 */
/* 0.0.0.0 or :: */
bool sip_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

void sip_local_hostport(struct sip_server *srv, const struct sockaddr *peer, char *out,
			size_t outsz, char *host, size_t hostsz)
{
	struct sockaddr_storage ss = srv->local.ss;
	socklen_t len = sizeof(ss);
	char h[ADDR_STRLEN];
	bool any = sip_is_wildcard(&ss);

	if (any && peer) {
		int fd = socket(peer->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd >= 0) {
			if (connect(fd, peer, sa_len(peer)) == 0)
				getsockname(fd, (struct sockaddr *)&ss, &len);
			close(fd);
		}
	}
	addr_format_host((struct sockaddr *)&ss, h, sizeof(h));
	if (host)
		snprintf(host, hostsz, "%s", h);
	if (ss.ss_family == AF_INET6)
		snprintf(out, outsz, "[%s]:%u", h, srv->port);
	else
		snprintf(out, outsz, "%s:%u", h, srv->port);
}

/*
 * The response of every outcome (docs/sip.md, "Outcomes"): a status and its reason, or 0
 * for none (an ignored or blocked SUBSCRIBE is not answered: a spoofed one reflects nothing).
 * NOTIFY's outcomes are the phone's answers, not ours: 0.
 */
static const struct sip_outcome_answer {
	unsigned status;
	const char *reason;
} answers[_OUTCOME_MAX] = {
	[OUTCOME_SENT] = { 200, "OK" },
	[OUTCOME_PARTIAL] = { 200, "OK" },
	[OUTCOME_REDIRECTED] = { 200, "OK" },
	[OUTCOME_NOT_MODIFIED] = { 200, "OK" },
	[OUTCOME_NOT_FOUND] = { 404, "Not Found" },
	[OUTCOME_DENIED] = { 403, "Forbidden" },
	[OUTCOME_REFUSED] = { 403, "Forbidden" },
	[OUTCOME_AUTH_REQUIRED] = { 401, "Unauthorized" },
	[OUTCOME_AUTH_FAILED] = { 403, "Forbidden" },
	[OUTCOME_BLOCKED] = { 0, "" },
	[OUTCOME_TOO_LARGE] = { 500, "Server Internal Error" },
	[OUTCOME_BUSY] = { 503, "Service Unavailable" },
	[OUTCOME_UNAVAILABLE] = { 503, "Service Unavailable" },
	[OUTCOME_BAD_REQUEST] = { 400, "Bad Request" },
	[OUTCOME_NOT_IMPLEMENTED] = { 501, "Not Implemented" },
	[OUTCOME_ERROR] = { 500, "Server Internal Error" },
	[OUTCOME_TIMED_OUT] = { 408, "Request Timeout" },
	[OUTCOME_ABORTED] = { 487, "Request Terminated" },
	[OUTCOME_PNP_URL_SENT] = { 200, "OK" },
	[OUTCOME_NOTIFY_ANSWERED] = { 0, "" },
	[OUTCOME_NOTIFY_TIMEOUT] = { 0, "" },
	[OUTCOME_SUBSCRIBE_REPEAT] = { 200, "OK" },
	[OUTCOME_BAD_EVENT] = { 489, "Bad Event" },
	[OUTCOME_SIP_BAD_REQUEST] = { 400, "Bad Request" },
	[OUTCOME_NOT_ALLOWED] = { 405, "Method Not Allowed" },
	[OUTCOME_IGNORED_NO_MAC] = { 0, "" },
	[OUTCOME_IGNORED_UNKNOWN] = { 0, "" },
	[OUTCOME_IGNORED_OUI] = { 0, "" },
};

int sip_outcome_status(enum outcome o, const char **ret_reason)
{
	if ((unsigned)o >= _OUTCOME_MAX || !answers[o].reason)
		return -EINVAL;
	if (ret_reason)
		*ret_reason = answers[o].reason;
	return (int)answers[o].status;
}

/*
 * Ends a SUBSCRIBE or a NOTIFY through the exchange: one log line ("sip: PEER "URI" OUTCOME,
 * BYTES bytes: DETAIL") and one journal row. code: NOTIFY_ANSWERED's status.
 */
static void journal(struct sip_server *srv, const struct sockaddr *peer, const char *mac,
		    const char *path, enum outcome o, unsigned code, uint64_t bytes,
		    const char *detail)
{
	struct exchange x;

	exchange_begin(&x, srv->site, "sip", peer, NULL, path);
	if (mac)
		str_copy(x.req.mac, sizeof(x.req.mac), mac);
	x.detail = detail;
	exchange_close_code(&x, o, code, NULL, bytes, NULL, NULL);
}

/* ---- PnP ---- */

static void pnp_free(struct pnp *p)
{
	struct sip_server *srv;

	if (!p)
		return;
	srv = p->srv;
	if (p->notify) {
		event_del(p->notify->timer);
		sip_tx_unlink(p->notify);
		sip_tx_free(p->notify);
	}
	if (p->expiry)
		event_free(p->expiry);
	if (p->prev)
		p->prev->next = p->next;
	else if (srv->pnps == p)
		srv->pnps = p->next;
	if (p->next)
		p->next->prev = p->prev;
	srv->npnp--;
	if (srv->site)
		metrics_sub(&site_metrics(srv->site)->transfers[METRICS_SIP], 1);
	free(p->ok);
	free(p);
}

static void pnp_on_expiry(evutil_socket_t fd, short what, void *arg)
{
	pnp_free(arg);
}

static void pnp_notify_done(void *arg, const struct sip_notify_result *res)
{
	struct pnp *p = arg;
	p->notify = NULL;
	pnp_set_state(p, PNP_DONE);
	journal(p->srv, (struct sockaddr *)&p->peer.ss, p->mac, p->notify_uri,
		res->status ? OUTCOME_NOTIFY_ANSWERED : OUTCOME_NOTIFY_TIMEOUT, res->status, 0,
		"PnP NOTIFY");
}

/* Sends the response built in b and keeps it as p's last 200 when p is not NULL. */
static void respond(struct sip_server *srv, const struct sockaddr *peer, socklen_t peerlen,
		    struct sip_builder *b, struct pnp *p)
{
	if (b->error) {
		log_warnx(TAG, "a response did not fit in %zu bytes: not sent", b->size);
		return;
	}
	sip_send_to(srv, peer, peerlen, b->buf, b->len);
	if (p) {
		char *copy = malloc(b->len);

		p->tx_bytes += b->len;

		if (copy) {
			memcpy(copy, b->buf, b->len);
			free(p->ok);
			p->ok = copy;
			p->ok_len = b->len;
		}
	}
}

static void simple_response(struct sip_server *srv, const struct sip_msg *m,
			    const struct sockaddr *peer, socklen_t peerlen, unsigned code,
			    const char *reason, const char *extra_name, const char *extra_value)
{
	char buf[SIP_MSG_MAX], tag[17];
	struct sip_builder b;

	sip_random_hex(tag, 16);
	sip_builder_init(&b, buf, sizeof(buf));
	sip_build_response_start(&b, m, code, reason, tag);
	if (extra_name)
		sip_build_header(&b, extra_name, "%s", extra_value);
	sip_build_finish(&b, NULL, NULL, 0);
	respond(srv, peer, peerlen, &b, NULL);
}

/* The response of outcome o from the table, with one extra header field (or none). */
static void outcome_response(struct sip_server *srv, const struct sip_msg *m,
			     const struct sockaddr *peer, socklen_t peerlen, enum outcome o,
			     const char *extra_name, const char *extra_value)
{
	const char *reason = NULL;
	int status = sip_outcome_status(o, &reason);

	if (status > 0)
		simple_response(srv, m, peer, peerlen, (unsigned)status, reason, extra_name,
				extra_value);
}

static void build_ok(struct sip_server *srv, const struct sip_msg *m, const struct sockaddr *peer,
		     const char *to_tag, struct sip_builder *b, char *buf, size_t size)
{
	char local[ADDR_STRLEN + 8];

	sip_local_hostport(srv, peer, local, sizeof(local), NULL, 0);
	sip_builder_init(b, buf, size);
	sip_build_response_start(b, m, 200, "OK", to_tag);
	sip_build_header(b, "Expires", "0");
	sip_build_header(b, "Contact", "<sip:autoprov@%s>", local);
	sip_build_finish(b, NULL, NULL, 0);
}

static bool oui_listed(const struct sip_config *cfg, const char *mac)
{
	char prefix[7];
	uint32_t oui;

	memcpy(prefix, mac, 6);
	prefix[6] = '\0';
	oui = (uint32_t)strtoul(prefix, NULL, 16);
	for (size_t i = 0; i < cfg->noui; i++)
		if (cfg->oui[i] == oui)
			return true;
	return false;
}

static struct pnp *pnp_find(struct sip_server *srv, const struct sip_msg *m, const char *mac,
			    const struct sockaddr *peer)
{
	for (struct pnp *p = srv->pnps; p; p = p->next)
		if (strcmp(p->call_id, m->call_id) == 0)
			return p;
	if (mac[0])
		for (struct pnp *p = srv->pnps; p; p = p->next)
			if (strcmp(p->mac, mac) == 0 &&
			    addr_same_host((struct sockaddr *)&p->peer.ss, peer))
				return p;
	return NULL;
}

/*
 * Where the NOTIFY goes: the source address and port, whatever the Contact says, except
 * that a Contact naming the source's own host (numerically) chooses the port. The
 * Request-URI is the Contact's URI (a phone behind NAT knows itself by it), else the
 * source's.
 */
static void notify_target(const struct sip_msg *m, const struct sockaddr *peer, socklen_t plen,
			  struct addr *to, char *uri, size_t urisz)
{
	struct sip_name_addr na;
	struct sip_uri u;
	char pa[ADDR_STRLEN];

	memset(to, 0, sizeof(*to));
	memcpy(&to->ss, peer, plen);
	to->len = plen;
	if (m->contact && sip_name_addr_parse(m->contact, &na) == 0 &&
	    sip_uri_parse(na.uri, strlen(na.uri), &u) == 0) {
		struct addr c;
		struct sockaddr_in *sin = (struct sockaddr_in *)&c.ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c.ss;

		memset(&c, 0, sizeof(c));
		if (inet_pton(AF_INET, u.host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(u.port ? u.port : 5060);
			c.len = sizeof(*sin);
		} else if (inet_pton(AF_INET6, u.host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(u.port ? u.port : 5060);
			c.len = sizeof(*sin6);
		}
		if (c.len && addr_same_host((struct sockaddr *)&c.ss, peer))
			*to = c;
		if (snprintf(uri, urisz, "%s", na.uri) < (int)urisz)
			return;
	}
	snprintf(uri, urisz, "sip:%s", addr_format(peer, pa, sizeof(pa)));
}

/* The reflection budget of an unconfirmed peer (see the top of the file). */
static bool pnp_may_resend(void *arg, size_t len)
{
	struct pnp *p = arg;

	if (p->tx_bytes + len > REFLECTION_FACTOR * p->rx_bytes)
		return false;
	p->tx_bytes += len;
	return true;
}

static unsigned pnps_from(const struct sip_server *srv, const struct sockaddr *peer)
{
	unsigned n = 0;

	for (const struct pnp *p = srv->pnps; p; p = p->next)
		if (addr_same_host((const struct sockaddr *)&p->peer.ss, peer))
			n++;
	return n;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The log line of the SUBSCRIBEs refused since the last one, if any. */
static void flood_log(struct sip_server *srv)
{
	struct flood_count *f = &srv->flood;

	if (!f->per_source && !f->busy)
		return;
	log_warnx(TAG,
		  "SUBSCRIBE flood: %u dropped over max_per_source %u, %u answered 503 over "
		  "max_subscriptions %u (%zu exchanges held), the last from %s",
		  f->per_source, srv->cfg.max_per_source, f->busy, srv->cfg.max_subscriptions,
		  srv->npnp, f->last_peer);
	f->per_source = f->busy = 0;
	f->last_log_ms = mono_ms();
}

static void flood_on_timer(evutil_socket_t fd, short what, void *arg)
{
	flood_log(arg);
}

/*
 * A SUBSCRIBE refused for want of room (per_source: over max_per_source, dropped; else
 * over max_subscriptions, 503): counted, and logged at most once per FLOOD_LOG_MS with
 * the counts since the last line (a timer writes the line of the last counts).
 */
static void flood_note(struct sip_server *srv, const struct sockaddr *peer, bool per_source)
{
	struct flood_count *f = &srv->flood;
	uint64_t now = mono_ms(), wait;

	if (per_source)
		f->per_source++;
	else
		f->busy++;
	addr_format_host(peer, f->last_peer, sizeof(f->last_peer));
	if (!f->last_log_ms || now - f->last_log_ms >= FLOOD_LOG_MS) {
		flood_log(srv);
		return;
	}
	if (srv->flood_timer && !event_pending(srv->flood_timer, EV_TIMEOUT, NULL)) {
		wait = f->last_log_ms + FLOOD_LOG_MS - now;
		event_add(srv->flood_timer,
			  &(struct timeval){ .tv_sec = (time_t)(wait / 1000),
					     .tv_usec = (suseconds_t)(wait % 1000) * 1000 });
	}
}

static void on_subscribe(struct sip_server *srv, const struct sip_msg *m,
			 const struct sockaddr *peer, socklen_t plen, size_t len)
{
	char type[32], mac[MAC_LEN + 1] = "", branch[128] = "", buf[SIP_MSG_MAX];
	char host[ADDR_STRLEN], local[ADDR_STRLEN + 8], from_hdr[1024], to_hdr[1024];
	char detail[2048];
	const char *params = "";
	int known = -ENOENT; /* directory_enabled(): 1 enabled, 0 disabled, -ENOENT unknown */
	struct sip_builder b;
	struct sip_uri u;
	struct sip_name_addr na;
	struct sip_via via;
	struct pnp *p;
	char *url = NULL;
	int r;

	if (srv->site && site_blocked(srv->site, peer) > 0) {
		log_debug(TAG, "SUBSCRIBE from a blocked address: no answer");
		return;
	}
	if (!m->event || sip_event_parse(m->event, type, sizeof(type), &params) < 0 ||
	    strcmp(type, "ua-profile") != 0) {
		outcome_response(srv, m, peer, plen, OUTCOME_BAD_EVENT, "Allow-Events",
				 "ua-profile");
		journal(srv, peer, NULL, m->uri, OUTCOME_BAD_EVENT, 0, 0, NULL);
		return;
	}
	if (sip_uri_parse(m->uri, strlen(m->uri), &u) < 0 || sip_mac_from_uri(&u, mac) < 0) {
		mac[0] = '\0';
		if (sip_name_addr_parse(m->from, &na) == 0 &&
		    sip_uri_parse(na.uri, strlen(na.uri), &u) == 0 && sip_mac_from_uri(&u, mac) < 0)
			mac[0] = '\0';
	}
	if (sip_via_parse(m->via[0].p, m->via[0].len, &via) == 0)
		(void)sip_param_get(via.params, "branch", branch, sizeof(branch));

	p = pnp_find(srv, m, mac, peer);
	if (p) {
		p->rx_bytes += len;
		if (strcmp(p->call_id, m->call_id) == 0 && strcmp(p->branch, branch) == 0 &&
		    p->cseq == m->cseq_num && p->ok) {
			sip_send_to(srv, peer, plen, p->ok, p->ok_len);
			p->tx_bytes += p->ok_len;
			log_debug(TAG, "retransmitted SUBSCRIBE %s: the same 200 again",
				  m->call_id);
			return;
		}
		/* a repeated SUBSCRIBE: answered, but its device already has its NOTIFY */
		build_ok(srv, m, peer, p->to_tag, &b, buf, sizeof(buf));
		respond(srv, peer, plen, &b, strcmp(p->call_id, m->call_id) == 0 ? p : NULL);
		if (strcmp(p->call_id, m->call_id) == 0) {
			str_copy(p->branch, sizeof(p->branch), branch);
			p->cseq = m->cseq_num;
		}
		if (strcmp(p->call_id, m->call_id) != 0)
			p->tx_bytes += b.len;
		/* the NOTIFY still unanswered: the repeat may be the phone's retry after a loss */
		if (p->notify && !p->notify->confirmed && pnp_may_resend(p, p->notify->msg_len))
			sip_send_to(srv, (struct sockaddr *)&p->notify->to.ss, p->notify->to.len,
				    p->notify->msg, p->notify->msg_len);
		journal(srv, peer, mac, m->uri, OUTCOME_SUBSCRIBE_REPEAT, 0, 0,
			"answered, no second NOTIFY");
		return;
	}
	if (pnps_from(srv, peer) >= srv->cfg.max_per_source) {
		/* no answer: a spoofed flood reflects nothing, and costs no journal row */
		flood_note(srv, peer, true);
		return;
	}

	if (mac[0] && srv->site) {
		site_lock(srv->site);
		known = directory_enabled(site_directory(srv->site), mac);
		site_unlock(srv->site);
		if (known == DIRECTORY_UNAVAILABLE && srv->cfg.answer == SIP_ANSWER_KNOWN) {
			/* cannot tell whether it is known: "try later", never a miss */
			outcome_response(srv, m, peer, plen, OUTCOME_UNAVAILABLE, "Retry-After",
					 "10");
			journal(srv, peer, mac, m->uri, OUTCOME_UNAVAILABLE, 0, 0,
				"the store cannot be reached");
			return;
		}
		if (known < 0 && known != -ENOENT && known != DIRECTORY_UNAVAILABLE)
			log_warnx(TAG, "inventory: %s", strerror(-known));
	}
	if ((srv->cfg.answer == SIP_ANSWER_KNOWN && known != 1) ||
	    (srv->cfg.answer == SIP_ANSWER_OUI && (!mac[0] || !oui_listed(&srv->cfg, mac)))) {
		enum outcome o = !mac[0]			       ? OUTCOME_IGNORED_NO_MAC
				 : srv->cfg.answer == SIP_ANSWER_KNOWN ? OUTCOME_IGNORED_UNKNOWN
								       : OUTCOME_IGNORED_OUI;

		journal(srv, peer, mac, m->uri, o, 0, 0, NULL);
		if (srv->cfg.answer == SIP_ANSWER_KNOWN && mac[0] && known < 0 && srv->site) {
			/* an existence oracle: an unknown MAC is a miss (docs/sip.md) */
			struct site_request sreq = { .proto = "sip", .peer = peer };

			(void)site_miss(srv->site, &sreq, mac);
		}
		return;
	}
	if (srv->npnp >= srv->cfg.max_subscriptions) {
		flood_note(srv, peer, false);
		outcome_response(srv, m, peer, plen, OUTCOME_BUSY, "Retry-After", "5");
		journal(srv, peer, mac, m->uri, OUTCOME_BUSY, 0, 0, "max_subscriptions");
		return;
	}
	sip_local_hostport(srv, peer, local, sizeof(local), host, sizeof(host));
	r = sip_render_url(srv, mac, params, host, peer, &url);
	if (r == DIRECTORY_UNAVAILABLE) {
		outcome_response(srv, m, peer, plen, OUTCOME_UNAVAILABLE, "Retry-After", "10");
		journal(srv, peer, mac, m->uri, OUTCOME_UNAVAILABLE, 0, 0,
			"the store cannot be reached");
		return;
	}
	if (r < 0) {
		outcome_response(srv, m, peer, plen, OUTCOME_ERROR, NULL, NULL);
		journal(srv, peer, mac, m->uri, OUTCOME_ERROR, 0, 0, "the provisioning URL");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(url);
		return;
	}
	p->srv = srv;
	memcpy(&p->peer.ss, peer, plen);
	p->peer.len = plen;
	str_copy(p->mac, sizeof(p->mac), mac);
	str_copy(p->call_id, sizeof(p->call_id), m->call_id);
	str_copy(p->branch, sizeof(p->branch), branch);
	p->cseq = m->cseq_num;
	p->rx_bytes = len;
	sip_random_hex(p->to_tag, 16);
	p->expiry = event_new(srv->base, -1, 0, pnp_on_expiry, p);
	p->next = srv->pnps;
	if (srv->pnps)
		srv->pnps->prev = p;
	srv->pnps = p;
	srv->npnp++;
	if (srv->site)
		metrics_add(&site_metrics(srv->site)->transfers[METRICS_SIP], 1);
	if (!p->expiry) {
		pnp_free(p);
		free(url);
		return;
	}
	{
		unsigned ms = 64 * srv->cfg.t1_ms + 2 * srv->cfg.t2_ms;

		event_add(p->expiry,
			  &(struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 });
	}
	build_ok(srv, m, peer, p->to_tag, &b, buf, sizeof(buf));
	respond(srv, peer, plen, &b, p);

	/* the NOTIFY: in the dialog the 200 made (From / To swapped, our tag) */
	{
		struct addr to;
		char extra[64];

		notify_target(m, peer, plen, &to, p->notify_uri, sizeof(p->notify_uri));
		snprintf(from_hdr, sizeof(from_hdr), "%s;tag=%s", m->to, p->to_tag);
		if (sip_name_addr_parse(m->to, &na) == 0 &&
		    sip_param_get(na.params, "tag", type, sizeof(type)) == 0)
			snprintf(from_hdr, sizeof(from_hdr), "%s", m->to);
		snprintf(to_hdr, sizeof(to_hdr), "%s", m->from);
		snprintf(extra, sizeof(extra), "Subscription-State: terminated;reason=timeout\r\n");
		r = sip_tx_start(srv, &to, p->notify_uri, from_hdr, to_hdr, m->call_id, m->event,
				 extra, "application/url", url, NULL, NULL, pnp_notify_done, p,
				 &p->notify);
		if (r == 0) {
			p->tx_bytes += p->notify->msg_len;
			p->notify->may_resend = pnp_may_resend;
		}
	}
	if (r < 0) {
		log_warnx(TAG, "cannot send the NOTIFY to %s: %s", p->notify_uri, strerror(-r));
		pnp_set_state(p, PNP_DONE);
	}
	snprintf(detail, sizeof(detail), "200, NOTIFY with %s to %s", url, p->notify_uri);
	journal(srv, peer, mac, m->uri, OUTCOME_PNP_URL_SENT, 0, strlen(url), detail);
	free(url);
}

static void on_request(struct sip_server *srv, const struct sip_msg *m, const struct sockaddr *peer,
		       socklen_t plen, size_t len)
{
	if (strcmp(m->method, "ACK") == 0)
		return;
	if (m->error) {
		simple_response(srv, m, peer, plen, 400, m->error, NULL, NULL);
		journal(srv, peer, NULL, m->uri, OUTCOME_SIP_BAD_REQUEST, 0, 0, m->error);
		return;
	}
	if (strcmp(m->method, "OPTIONS") == 0) {
		simple_response(srv, m, peer, plen, 200, "OK", "Allow", "SUBSCRIBE, OPTIONS");
		return;
	}
	if (strcmp(m->method, "SUBSCRIBE") != 0 || !srv->site) {
		outcome_response(srv, m, peer, plen, OUTCOME_NOT_ALLOWED, "Allow",
				 srv->site ? "SUBSCRIBE, OPTIONS" : "OPTIONS");
		journal(srv, peer, NULL, m->uri, OUTCOME_NOT_ALLOWED, 0, 0, NULL);
		return;
	}
	on_subscribe(srv, m, peer, plen, len);
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
	struct sip_server *srv = arg;

	/* a few datagrams per wake-up, so one busy socket does not starve the loop */
	for (int i = 0; i < 32; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct sip_msg *m = NULL;
		char pa[ADDR_STRLEN];
		ssize_t n;
		int r;

		n = recvfrom(fd, srv->rbuf, SIP_MAX_DATAGRAM, MSG_TRUNC, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0)
			return;
		if (n > SIP_MAX_DATAGRAM) {
			log_debug(TAG, "%s: datagram of %zd bytes dropped",
				  addr_format((struct sockaddr *)&peer, pa, sizeof(pa)), n);
			continue;
		}
		r = sip_parse(srv->rbuf, (size_t)n, &m);
		if (r < 0) {
			log_debug(TAG, "%s: %zd bytes that are not SIP dropped",
				  addr_format((struct sockaddr *)&peer, pa, sizeof(pa)), n);
			continue;
		}
		if (m->is_request)
			on_request(srv, m, (struct sockaddr *)&peer, plen, (size_t)n);
		else if (!m->error)
			sip_on_response(srv, m);
		sip_msg_free(m);
	}
}

/* ---- set-up ---- */

static int join_one(int fd, const struct sip_config *cfg, const char *name, char *err, size_t errsz)
{
	struct ip_mreqn mr;

	memset(&mr, 0, sizeof(mr));
	inet_pton(AF_INET, SIP_PNP_GROUP, &mr.imr_multiaddr);
	if (!name) {
		mr.imr_address = ((const struct sockaddr_in *)&cfg->listen.ss)->sin_addr;
	} else if (inet_pton(AF_INET, name, &mr.imr_address) != 1) {
		mr.imr_ifindex = (int)if_nametoindex(name);
		if (mr.imr_ifindex == 0) {
			snprintf(err, errsz, "sip: [sip] interfaces: no interface '%s'", name);
			return -ENODEV;
		}
	}
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		int e = errno;

		snprintf(err, errsz, "sip: cannot join %s on %s: %s", SIP_PNP_GROUP,
			 name ? name : "the listener's interface", strerror(e));
		return -e;
	}
	return 0;
}

/* Joins the PnP group on each of cfg->interfaces (or the listener's address). */
static int join_group(int fd, const struct sip_config *cfg, char *err, size_t errsz)
{
	const char *p = cfg->interfaces;
	bool any = false;

	while (*p) {
		char name[IF_NAMESIZE + 48];
		size_t n = 0;
		int r;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		while (*p && *p != ' ' && *p != '\t' && *p != ',') {
			if (n + 1 >= sizeof(name)) {
				snprintf(err, errsz, "sip: [sip] interfaces: a name is too long");
				return -EINVAL;
			}
			name[n++] = *p++;
		}
		name[n] = '\0';
		r = join_one(fd, cfg, name, err, errsz);
		if (r < 0)
			return r;
		any = true;
	}
	return any ? 0 : join_one(fd, cfg, NULL, err, errsz);
}

int sip_server_new(struct event_base *base, struct site *site, const struct sip_config *cfg,
		   struct sip_server **ret, char *err, size_t errsz)
{
	struct sip_server *srv = calloc(1, sizeof(*srv));
	char la[ADDR_STRLEN];
	socklen_t len;
	int one = 1, r;

	if (!srv) {
		snprintf(err, errsz, "sip: out of memory");
		return -ENOMEM;
	}
	srv->base = base;
	srv->site = site;
	srv->cfg = *cfg;
	srv->fd = srv->mfd = -1;
	addr_format((const struct sockaddr *)&cfg->listen.ss, la, sizeof(la));
	srv->rbuf = malloc(SIP_MAX_DATAGRAM + 1);
	if (!srv->rbuf) {
		snprintf(err, errsz, "sip: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	srv->fd = socket(cfg->listen.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0 ||
	    bind(srv->fd, (const struct sockaddr *)&cfg->listen.ss, cfg->listen.len) < 0) {
		r = -errno;
		snprintf(err, errsz, "sip: cannot listen on %s: %s", la, strerror(errno));
		goto fail;
	}
	len = sizeof(srv->local.ss);
	if (getsockname(srv->fd, (struct sockaddr *)&srv->local.ss, &len) < 0) {
		r = -errno;
		snprintf(err, errsz, "sip: getsockname: %s", strerror(errno));
		goto fail;
	}
	srv->local.len = len;
	srv->port = addr_port((struct sockaddr *)&srv->local.ss);
	if (cfg->multicast) {
		struct sockaddr_in group = { .sin_family = AF_INET, .sin_port = htons(srv->port) };

		if (cfg->listen.ss.ss_family != AF_INET) {
			snprintf(err, errsz, "sip: multicast needs an IPv4 listener");
			r = -EAFNOSUPPORT;
			goto fail;
		}
		inet_pton(AF_INET, SIP_PNP_GROUP, &group.sin_addr);
		srv->mfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (srv->mfd < 0 ||
		    setsockopt(srv->mfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(srv->mfd, (struct sockaddr *)&group, sizeof(group)) < 0) {
			r = -errno;
			snprintf(err, errsz, "sip: cannot listen on %s:%u: %s", SIP_PNP_GROUP,
				 srv->port, strerror(errno));
			goto fail;
		}
		r = join_group(srv->mfd, cfg, err, errsz);
		if (r < 0)
			goto fail;
		srv->mev = event_new(base, srv->mfd, EV_READ | EV_PERSIST, on_datagram, srv);
		if (!srv->mev || event_add(srv->mev, NULL) < 0) {
			snprintf(err, errsz, "sip: cannot watch the multicast socket");
			r = -ENOMEM;
			goto fail;
		}
	}
	srv->flood_timer = event_new(base, -1, 0, flood_on_timer, srv);
	srv->ev = event_new(base, srv->fd, EV_READ | EV_PERSIST, on_datagram, srv);
	if (!srv->flood_timer || !srv->ev || event_add(srv->ev, NULL) < 0) {
		snprintf(err, errsz, "sip: cannot watch the socket");
		r = -ENOMEM;
		goto fail;
	}
	if (site)
		log_info(TAG, "listening on %s%s",
			 addr_format((struct sockaddr *)&srv->local.ss, la, sizeof(la)),
			 cfg->multicast ? " and " SIP_PNP_GROUP : "");
	*ret = srv;
	return 0;
fail:
	sip_server_free(srv);
	return r;
}

void sip_server_free(struct sip_server *srv)
{
	if (!srv)
		return;
	while (srv->pnps)
		pnp_free(srv->pnps);
	while (srv->txs) {
		struct client_tx *tx = srv->txs;

		event_del(tx->timer);
		sip_tx_unlink(tx);
		sip_tx_free(tx);
	}
	if (srv->ev)
		event_free(srv->ev);
	if (srv->flood_timer)
		event_free(srv->flood_timer);
	if (srv->mev)
		event_free(srv->mev);
	if (srv->fd >= 0)
		close(srv->fd);
	if (srv->mfd >= 0)
		close(srv->mfd);
	free(srv->rbuf);
	free(srv);
}

void sip_server_set_config(struct sip_server *srv, const struct sip_config *cfg)
{
	struct addr listen = srv->cfg.listen;
	bool multicast = srv->cfg.multicast;
	char interfaces[sizeof(cfg->interfaces)];

	str_copy(interfaces, sizeof(interfaces), srv->cfg.interfaces);
	srv->cfg = *cfg;
	srv->cfg.listen = listen;
	srv->cfg.multicast = multicast;
	str_copy(srv->cfg.interfaces, sizeof(srv->cfg.interfaces), interfaces);
}

uint16_t sip_server_port(const struct sip_server *srv)
{
	return srv->port;
}
