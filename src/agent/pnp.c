// SPDX-License-Identifier: MIT
/*
 * SIP Plug-and-Play, the endpoint's side (seeds 002 and 003; RFC 6080's ua-profile
 * event): a SUBSCRIBE from an ephemeral UDP port to 224.0.1.75:5060 (or the pnp_address
 * setting), retransmitted on RFC 3261's timer A until answered, then a wait for the
 * server's NOTIFY, whose application/url body is the provisioning URL. The NOTIFY is
 * answered 200 OK. Nothing within pnp_timeout seconds: discovery asks the next source.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "agent/agent_internal.h"
#include "core/addr.h"
#include "codec/sip_parse.h"

#define PNP_T1_MS 500

struct agent_pnp {
	int fd;
	struct event *read_ev, *retransmit, *timeout;
	struct addr dest;
	char call_id[128];
	char request[2048];
	size_t request_len;
	unsigned interval_ms;
	bool answered;
};

void agent_pnp_stop(struct ap_agent *a)
{
	struct agent_pnp *p = a->pnp;
	if (!p)
		return;
	if (p->read_ev)
		event_free(p->read_ev);
	if (p->retransmit)
		event_free(p->retransmit);
	if (p->timeout)
		event_free(p->timeout);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
	a->pnp = NULL;
}

static void pnp_finish(struct ap_agent *a, const char *url)
{
	agent_pnp_stop(a);
	agent_pnp_done(a, url);
}

static void pnp_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	pnp_finish(arg, NULL);
}

static void pnp_send(struct agent_pnp *p)
{
	(void)sendto(p->fd, p->request, p->request_len, 0, (struct sockaddr *)&p->dest.ss,
		     p->dest.len);
}

/* Timer A: the SUBSCRIBE again at T1, 2*T1, 4*T1, ... until a response. */
static void pnp_retransmit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent_pnp *p = arg;
	if (p->answered)
		return;
	pnp_send(p);
	p->interval_ms *= 2;
	struct timeval tv = { .tv_sec = p->interval_ms / 1000,
			      .tv_usec = (p->interval_ms % 1000) * 1000 };
	evtimer_add(p->retransmit, &tv);
}

static void pnp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ap_agent *a = arg;
	struct agent_pnp *p = a->pnp;
	char buf[SIP_MAX_DATAGRAM];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (n <= 0)
		return;
	struct sip_msg *m = NULL;
	if (sip_parse(buf, (size_t)n, &m) < 0 || m->error || !m->call_id ||
	    strcmp(m->call_id, p->call_id) != 0) {
		sip_msg_free(m);
		return;
	}
	if (!m->is_request) {
		p->answered = true;
		if (m->status >= 300) {
			agent_event(a, AP_EV_DECISION, NULL, "SIP PnP: SUBSCRIBE answered %u %s",
				    m->status, m->reason);
			sip_msg_free(m);
			pnp_finish(a, NULL);
			return;
		}
		sip_msg_free(m);
		return;
	}
	if (strcmp(m->method, "NOTIFY") != 0) {
		sip_msg_free(m);
		return;
	}
	p->answered = true;
	agent_sip_reply(p->fd, m, 200, "OK", NULL, NULL, &from, fromlen);
	/* The body is the URL, possibly followed by a line end. */
	size_t len = m->body_len;
	while (len > 0 &&
	       (m->body[len - 1] == '\r' || m->body[len - 1] == '\n' || m->body[len - 1] == ' '))
		len--;
	char *url = len ? strndup(m->body, len) : NULL;
	agent_event(a, AP_EV_DECISION, NULL, "SIP PnP: NOTIFY (%s) with %s",
		    m->content_type ? m->content_type : "no Content-Type", url ? url : "no URL");
	sip_msg_free(m);
	pnp_finish(a, url);
	free(url);
}

/* The local address a datagram to dest leaves from. */
static int pnp_local_address(const struct addr *dest, char *host, size_t size)
{
	int fd = socket(dest->ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int r = 0;
	if (connect(fd, (const struct sockaddr *)&dest->ss, dest->len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		r = -errno;
	close(fd);
	if (r == 0)
		addr_format_host((struct sockaddr *)&local, host, size);
	return r;
}

int agent_pnp_start(struct ap_agent *a)
{
	struct agent_pnp *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	a->pnp = p;
	int r = -EINVAL;
	char host[ADDR_STRLEN];
	if (addr_parse(agent_setting(a, "pnp_address"), &p->dest) < 0) {
		agent_event(a, AP_EV_DECISION, NULL, "SIP PnP: pnp_address %s is not ADDR:PORT",
			    agent_setting(a, "pnp_address"));
		goto fail;
	}
	if ((r = pnp_local_address(&p->dest, host, sizeof(host))) < 0)
		goto fail;
	p->fd = socket(p->dest.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		r = -errno;
		goto fail;
	}
	struct sockaddr_storage local = { .ss_family = p->dest.ss.ss_family };
	socklen_t len = p->dest.ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							 : sizeof(struct sockaddr_in);
	if (bind(p->fd, (struct sockaddr *)&local, len) < 0 ||
	    getsockname(p->fd, (struct sockaddr *)&local, &len) < 0) {
		r = -errno;
		goto fail;
	}
	unsigned port =
		ntohs(local.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&local)->sin6_port
						  : ((struct sockaddr_in *)&local)->sin_port);
	int one = 1, ttl = 4;
	(void)setsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one));
	(void)setsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));

	/*
	 * Call-ID, tag and branch from a CSPRNG: a NOTIFY that does not name them is ignored, so
	 * guessing them would let a stranger hand the endpoint a provisioning URL.
	 */
	unsigned long rnd[3];
	if (RAND_bytes((unsigned char *)rnd, sizeof(rnd)) != 1) {
		r = -EIO;
		goto fail;
	}
	snprintf(p->call_id, sizeof(p->call_id), "%016lx%s@%s", rnd[0], a->mac_lower, host);
	const char *vendor = strcmp(a->profile->name, "fip") == 0	  ? "Flyingvoice"
			     : strcmp(a->profile->name, "panasonic") == 0 ? "Panasonic"
									  : a->profile->name;
	char uri[128], dest_host[ADDR_STRLEN];
	addr_format_host((struct sockaddr *)&p->dest.ss, dest_host, sizeof(dest_host));
	/* FIP: the seed's capture, "sip:MAC0021f222b01d@224.0.1.75"; Panasonic (whose seed
	 * shows no capture): the "MAC%3a<MAC>" user of other ua-profile phones. */
	if (strcmp(a->profile->name, "fip") == 0)
		snprintf(uri, sizeof(uri), "sip:MAC%s@%s", a->mac_lower, dest_host);
	else
		snprintf(uri, sizeof(uri), "sip:MAC%%3a%s@%s", a->mac_upper, dest_host);
	struct sip_builder b;
	sip_builder_init(&b, p->request, sizeof(p->request));
	sip_build_request_line(&b, "SUBSCRIBE", uri);
	sip_build_header(&b, "Via", "SIP/2.0/UDP %s:%u;branch=z9hG4bK%016lx;rport", host, port,
			 rnd[1]);
	sip_build_header(&b, "Max-Forwards", "70");
	sip_build_header(&b, "From", "<%s>;tag=%016lx", uri, rnd[2]);
	sip_build_header(&b, "To", "<%s>", uri);
	sip_build_header(&b, "Call-ID", "%s", p->call_id);
	sip_build_header(&b, "CSeq", "1 SUBSCRIBE");
	sip_build_header(&b, "Contact", "<sip:%s:%u>", host, port);
	sip_build_header(&b, "Event",
			 "ua-profile;profile-type=\"device\";vendor=\"%s\";model=\"%s\";"
			 "version=\"%s\"",
			 vendor, a->model, a->firmware);
	sip_build_header(&b, "Accept", "application/url");
	sip_build_header(&b, "Expires", "0");
	int n = sip_build_finish(&b, NULL, NULL, 0);
	if (n < 0) {
		r = n;
		goto fail;
	}
	p->request_len = (size_t)n;
	p->read_ev = event_new(a->base, p->fd, EV_READ | EV_PERSIST, pnp_read_cb, a);
	p->retransmit = evtimer_new(a->base, pnp_retransmit_cb, p);
	p->timeout = evtimer_new(a->base, pnp_timeout_cb, a);
	if (!p->read_ev || !p->retransmit || !p->timeout) {
		r = -ENOMEM;
		goto fail;
	}
	event_add(p->read_ev, NULL);
	long seconds = agent_setting_long(a, "pnp_timeout", 5);
	struct timeval tv = { .tv_sec = seconds > 0 ? seconds : 1 };
	evtimer_add(p->timeout, &tv);
	p->interval_ms = PNP_T1_MS / 2;
	agent_event(a, AP_EV_STEP, NULL, "SIP PnP: SUBSCRIBE to %s",
		    agent_setting(a, "pnp_address"));
	pnp_retransmit_cb(-1, 0, p);
	return 0;
fail:
	agent_pnp_stop(a);
	return r;
}
