// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 and HTTPS server. Each connection is a net/stream (plain or TLS, a read event,
 * a write event watched only while an answer does not fit in the socket, one timer) and an
 * explicit state (enum http_state); a read parses every complete request in the buffer
 * (pipelining), each is answered through the site's resolver, and the answers leave in one
 * write (over TLS, small pieces gathered into one record): the
 * header lines from a small per-connection arena, the body the file's snapshot itself,
 * referenced until sent. Limits: the head's size and the target's length, connections
 * per peer address and per prefix (/24, /64), and overall, a header timeout running from the
 * connection or the previous answer (so a client sending one byte a second is closed; for
 * HTTPS it covers the TLS handshake too), an idle keep-alive timeout, and a timeout on a
 * stalled send. A connection waiting for a request is on a queue, oldest first: when a
 * budget is full (the prefix's, the total, the descriptors) the oldest waiting connection
 * that never sent a whole request goes first, then the oldest idle keep-alive one, so that
 * a flood of slow or silent connections cannot keep a client with a request out. A
 * connection's input buffer starts small and grows to the head's limit as a head arrives.
 */
#include "proto/http_internal.h"
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "core/log.h"
#include "core/loglimit.h"
#include "core/peers.h"
#include "core/str.h"
#include "net/listener.h"
#include "net/stream.h"
#include "proto/useragent.h"
#include "site/auth.h"
#include "site/exchange.h"
#include "site/metrics.h"
#include "site/directory.h"
#include "site/site.h"

#define TAG "http"

static const char *const http_state_names[_HTTP_STATE_MAX] = {
	[HTTP_HANDSHAKE] = "handshake", [HTTP_WAITING] = "waiting",	[HTTP_SENDING] = "sending",
	[HTTP_DELAYED] = "delayed",	[HTTP_LINGERING] = "lingering", [HTTP_CLOSED] = "closed",
};

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);

void http_conn_set_state(struct http_conn *c, enum http_state state)
{
	log_transition(c->srv->proto, c->peer_text, "connection", http_state_names, c->state,
		       state);
	c->state = state;
}

/* At most one line a second about limits being hit; true when this one may be logged. */
static bool limit_log_ok(struct http_server *srv)
{
	time_t now = time(NULL);

	if (now == srv->limit_logged)
		return false;
	srv->limit_logged = now;
	return true;
}

/* ---- waiting connections ---- */

static void wait_leave(struct http_conn *c)
{
	struct wait_queue *q = c->waitq;

	if (!q)
		return;
	if (c->wait_prev)
		c->wait_prev->wait_next = c->wait_next;
	else
		q->head = c->wait_next;
	if (c->wait_next)
		c->wait_next->wait_prev = c->wait_prev;
	else
		q->tail = c->wait_prev;
	c->wait_prev = c->wait_next = NULL;
	c->waitq = NULL;
}

/* The connection waits for a request (again): to the tail of its queue, unless on it. */
static void wait_enter(struct http_conn *c)
{
	struct wait_queue *q = c->requests ? &c->srv->idle : &c->srv->fresh;

	if (c->waitq == q)
		return;
	wait_leave(c);
	c->waitq = q;
	c->wait_prev = q->tail;
	if (q->tail)
		q->tail->wait_next = c;
	else
		q->head = c;
	q->tail = c;
}

/*
 * Closes the oldest connection waiting for a request, from prefix (a masked address) or
 * from anywhere (NULL): one that never sent a whole request first, else an idle kept-alive
 * one. why names the budget, for the log. true when one was closed.
 */
static bool drop_waiting(struct http_server *srv, const struct sockaddr *prefix, const char *why)
{
	struct wait_queue *queues[] = { &srv->fresh, &srv->idle };

	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		struct http_conn *c = queues[i]->head;

		for (; c; c = c->wait_next) {
			unsigned held;

			if (prefix &&
			    (!c->prefix_entry ||
			     !addr_same_host((const struct sockaddr *)&c->prefix_entry->host,
					     prefix)))
				continue;
			if (log_limit_ok(&srv->log_dropped, &held))
				log_warnx(srv->proto,
					  "%s: %s connection dropped for a new one (%s full)"
					  " (%u more dropped since the last line)",
					  c->peer_text, i == 0 ? "a waiting" : "an idle", why,
					  held);
			conn_close(c);
			return true;
		}
	}
	return false;
}

static bool hs_on(const struct http_conn *c)
{
	return c->hs_prev || c->hs_next || c->srv->hs_head == c;
}

static void hs_leave(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (!hs_on(c))
		return;
	if (c->hs_prev)
		c->hs_prev->hs_next = c->hs_next;
	else
		srv->hs_head = c->hs_next;
	if (c->hs_next)
		c->hs_next->hs_prev = c->hs_prev;
	else
		srv->hs_tail = c->hs_prev;
	c->hs_prev = c->hs_next = NULL;
	srv->nhandshakes--;
}

/*
 * OpenSSL is handshaking for c: to the list's tail. Its state takes some 50 KiB from the
 * ClientHello to the client's Finished: beyond max_handshakes, the oldest is given up.
 */
static void hs_enter(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	while (srv->nhandshakes >= srv->cfg.max_handshakes && srv->hs_head) {
		unsigned held;

		if (log_limit_ok(&srv->log_dropped, &held))
			log_warnx(srv->proto,
				  "%s: a TLS handshake given up for a new one (%u in progress)"
				  " (%u more dropped since the last line)",
				  srv->hs_head->peer_text, srv->nhandshakes, held);
		conn_close(srv->hs_head);
	}
	c->hs_prev = srv->hs_tail;
	if (srv->hs_tail)
		srv->hs_tail->hs_next = c;
	else
		srv->hs_head = c;
	srv->hs_tail = c;
	srv->nhandshakes++;
}

static void conn_timer(struct http_conn *c, enum timer_kind kind, unsigned seconds)
{
	c->timer_kind = kind;
	net_stream_timer(c->stream, seconds * 1000);
}

static void handle_request(struct http_conn *c, struct http_request *req)
{
	struct http_server *srv = c->srv;
	struct http_exchange x = { .c = c, .req = req };
	struct principal who = { .kind = PRINCIPAL_ANONYMOUS, .anonymous_device_files = true };
	struct site_file *f;
	char path[4096], login[MAC_LEN + 1] = "";
	const char *vendor = NULL, *mac_text;
	enum outcome o;
	size_t len = 0;
	int r;

	log_escape(x.name, sizeof(x.name), req->target, strcspn(req->target, "?#"));
	exchange_begin(&x.ex, srv->site, srv->proto, (struct sockaddr *)&c->peer,
		       (struct sockaddr *)&c->local, x.name);
	x.who = &who;
	if (req->user_agent) {
		log_escape(x.ua, sizeof(x.ua), req->user_agent, strlen(req->user_agent));
		(void)ua_device(req->user_agent, strlen(req->user_agent), who.claimed_mac, &vendor);
		who.claim_binds = srv->cfg.user_agent == HTTP_UA_DENY;
	}
	if (req->has_body) {
		/* the body is not read: nothing after it can be trusted */
		c->close_after = true;
		c->unread = true;
	}
	if (req->method == HTTP_OTHER) {
		http_add_header(&x, "Allow: GET, HEAD");
		http_respond_outcome(&x, OUTCOME_NOT_IMPLEMENTED, 0, NULL);
		return;
	}
	if (http_target_path(req->target, req->target_len, path, sizeof(path), &len) < 0) {
		http_respond_outcome(&x, OUTCOME_BAD_REQUEST, 0, NULL);
		return;
	}
	r = (int)site_blocked(srv->site, x.ex.req.peer);
	if (r > 0) {
		x.ex.blocked_for = (unsigned)r;
		http_respond_outcome(&x, OUTCOME_BLOCKED, 0, NULL);
		return;
	}
	if (c->id.has_cert && c->id.macs != 1 && srv->cfg.tls.client_certs == TLS_CLIENT_REQUIRED) {
		/* required certificates are device certificates: one naming no device is refused */
		x.ex.detail = http_cert_names_nobody(c);
		http_respond_outcome(&x, OUTCOME_DENIED, 0, NULL);
		return;
	}
	if (srv->cfg.auth != HTTP_LOGIN_OFF) {
		if (!http_check_login(&x, login))
			return;
		who.kind = login[0] ? PRINCIPAL_DEVICE : PRINCIPAL_USER;
	} else if (c->id.mac[0]) {
		memcpy(login, c->id.mac, sizeof(login));
		who.kind = PRINCIPAL_DEVICE;
	}
	if (who.kind == PRINCIPAL_DEVICE) {
		memcpy(who.mac, login, sizeof(who.mac));
		who.how = c->id.mac[0] ? "certificate" : "login";
	}
	if (c->id.has_cert) {
		who.check = http_cert_check;
		who.check_arg = &x;
	}
	/* a NUL in the path ends it here; the resolver refuses it below */
	mac_text = http_redirect_mac(srv, path);
	if (mac_text) {
		http_redirect(&x, mac_text, login);
		return;
	}
	o = exchange_open(&x.ex, srv->cfg.prefix, path, len, &who);
	if (o == OUTCOME_SENT) {
		f = x.ex.file;
		x.ex.file = NULL; /* the answer's now */
		http_serve_file(&x, f);
		return;
	}
	http_respond_outcome(&x, o, 0, NULL);
}

/* Parses and answers every complete request in the input while answers fit the queue. */
static void conn_process(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	size_t off = 0;

	while (!c->close_after && off < c->in_len && http_out_room(c)) {
		struct http_request req;
		int r = http_parse_request(c->in + off, c->in_len - off, srv->cfg.max_header_size,
					   srv->cfg.max_uri_length, &req);

		if (r == 0)
			break;
		if (r < 0) {
			int status = r == -EMSGSIZE	     ? 431
				     : r == -ENAMETOOLONG    ? 414
				     : r == -EPROTONOSUPPORT ? 505
							     : 400;

			wait_leave(c);
			http_respond_bad(c, OUTCOME_BAD_REQUEST, status,
					 status == 400 ? "bad request\n" : "refused\n",
					 r == -EMSGSIZE	      ? "request head over max_header_size"
					 : r == -ENAMETOOLONG ? "request target over max_uri_length"
					 : r == -EPROTONOSUPPORT ? "not HTTP/1.x"
								 : "malformed request");
			off = c->in_len;
			break;
		}
		off += (size_t)r;
		c->requests++;
		wait_leave(c);
		handle_request(c, &req);
		if (c->state == HTTP_DELAYED)
			break; /* the next requests wait for the delayed answer */
		/* a new request's header time starts now */
		conn_timer(c, T_HEADER, srv->cfg.header_timeout_s);
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (c->in_len == 0 && c->in) {
		free(c->in);
		c->in = NULL;
	}
}

/* The input buffer's limit: a head over max_header_size is seen before it fills. */
static size_t in_max(const struct http_conn *c)
{
	return (size_t)c->srv->cfg.max_header_size * 2;
}

/*
 * Reads what the socket has, growing the buffer as it fills. 1 read something, 0 nothing
 * more for now, -1 closed/failed.
 */
static int conn_read(struct http_conn *c)
{
	size_t max = in_max(c);
	ssize_t n;

	if (!c->in) {
		c->in_cap = IN_FIRST < max ? IN_FIRST : max;
		c->in = malloc(c->in_cap);
		if (!c->in)
			return -1;
	}
	if (c->in_len == c->in_cap && c->in_cap < max) {
		size_t cap = c->in_cap * 2 < max ? c->in_cap * 2 : max;
		char *in = realloc(c->in, cap);

		if (!in)
			return -1;
		c->in = in;
		c->in_cap = cap;
	}
	if (c->in_len == c->in_cap)
		return 0;
	n = net_stream_read(c->stream, c->in + c->in_len, c->in_cap - c->in_len);
	if (n > 0) {
		c->in_len += (size_t)n;
		return 1;
	}
	return n == -EAGAIN ? 0 : -1; /* 0: the end (FIN or close_notify) */
}

/* Writes as much of the queue as the socket takes: 0, or -1 when the connection failed. */
static int conn_flush(struct http_conn *c)
{
	while (c->out_n > 0) {
		struct iovec iov[OUT_PIECES];
		unsigned n;
		ssize_t w;

		for (n = 0; n < c->out_n; n++) {
			struct out_piece *p = &c->out[(c->out_first + n) % OUT_PIECES];

			iov[n].iov_base = (void *)p->data;
			iov[n].iov_len = p->len;
		}
		w = net_stream_writev(c->stream, iov, (int)n);
		if (w == -EAGAIN)
			break;
		if (w < 0)
			return -1;
		while (w > 0 && c->out_n > 0) {
			struct out_piece *p = &c->out[c->out_first];

			if ((size_t)w < p->len) {
				p->data += w;
				p->len -= (size_t)w;
				break;
			}
			w -= (ssize_t)p->len;
			if (p->file) {
				site_file_unref(p->file);
				metrics_sub(c->srv->m_transfers, 1);
			}
			c->out_first = (c->out_first + 1) % OUT_PIECES;
			c->out_n--;
		}
	}
	if (c->out_n == 0)
		c->out_first = 0;
	return 0;
}

/*
 * Everything was sent and the connection is to end: closed at once (-1) when the peer
 * sent nothing more, else the write side is shut and what the peer still sends is read
 * until it closes (a close with unread input would be a reset that loses the answer).
 */
static int conn_end(struct http_conn *c)
{
	if (c->in_len == 0 && !c->unread)
		return -1;
	net_stream_shutdown_write(c->stream);
	http_conn_set_state(c, HTTP_LINGERING);
	c->in_len = 0;
	net_stream_watch(c->stream, NET_READABLE);
	conn_timer(c, T_LINGER, LINGER_S);
	return 0;
}

/*
 * Sends what is queued and answers the requests read, in turn, until the connection must
 * wait: for the socket (SENDING), the login delay's timer (DELAYED), the next request
 * (WAITING), or the peer's close (LINGERING). 0, or -1 to close it.
 */
static int conn_run(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	bool answered = false;

	for (;;) {
		if (c->state == HTTP_DELAYED) {
			net_stream_watch(c->stream, 0); /* the timer sends the answer */
			return 0;
		}
		if (c->out_n > 0) {
			/* the connection's end follows: its FIN may share the answer's last segment */
			net_stream_more(c->stream, c->close_after);
			if (conn_flush(c) < 0)
				return -1;
			if (c->out_n > 0) {
				http_conn_set_state(c, HTTP_SENDING);
				net_stream_watch_wants(c->stream);
				conn_timer(c, T_SEND, srv->cfg.timeout_s);
				return 0;
			}
			answered = true;
		}
		http_arena_put(c);
		if (c->close_after)
			return conn_end(c);
		if (c->in_len == 0)
			break;
		conn_process(c);
		if (c->out_n == 0 && !c->close_after && c->state != HTTP_DELAYED)
			break; /* no whole request in the input */
	}
	http_conn_set_state(c, HTTP_WAITING);
	{
		unsigned wants = net_stream_wants(c->stream);

		/* TLS may want the socket writable to read on */
		net_stream_watch(c->stream, wants == NET_WRITABLE ? wants : NET_READABLE);
	}
	if (!answered) {
		if (c->in_len == in_max(c))
			return -1; /* cannot happen: a full buffer holds a head over max_header_size
				    */
		return 0;
	}
	if (!c->nodelay) {
		int one = 1;

		/* kept alive: the next answer's last segment must not wait for an ACK */
		(void)setsockopt(net_stream_fd(c->stream), IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
		c->nodelay = true;
	}
	wait_enter(c);
	if (c->in_len == 0)
		conn_timer(c, T_IDLE, srv->cfg.timeout_s);
	return 0;
}

/* The socket has input (or TLS wants it read): read, then answer. 0, or -1 to close. */
static int conn_input(struct http_conn *c)
{
	int r;

	if (c->timer_kind == T_IDLE)
		conn_timer(c, T_HEADER, c->srv->cfg.header_timeout_s); /* a new request begins */
	do {
		r = conn_read(c);
	} while (r > 0 && c->in_len < in_max(c) &&
		 (c->in_len == c->in_cap || net_stream_pending(c->stream)));
	if (r < 0 && c->in_len == 0)
		return -1;
	if (r < 0)
		c->close_after = true; /* the peer closed its half: answer what came, then close */
	return conn_run(c);
}

/* A TLS handshake step; then the connection reads requests. 0, or -1 to close. */
static int conn_handshake(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	bool started = net_stream_tls_started(c->stream);
	int r = net_stream_handshake(c->stream);
	unsigned held;

	if (!started && net_stream_tls_started(c->stream))
		hs_enter(c); /* OpenSSL came in with the ClientHello */
	if (r == -EAGAIN) {
		net_stream_watch_wants(c->stream);
		return 0;
	}
	if (r < 0) {
		if (log_limit_ok(&srv->log_tls_failed, &held))
			log_info(srv->proto,
				 "%s: TLS handshake failed: %s (%u more since the last line)",
				 c->peer_text, net_stream_tls_error(c->stream), held);
		return -1;
	}
	hs_leave(c);
	tls_peer_identity(net_stream_ssl(c->stream), srv->cfg.tls.mac_from, &c->id);
	http_conn_set_state(c, HTTP_WAITING);
	conn_timer(c, T_HEADER, srv->cfg.header_timeout_s);
	/* the request may have come with the client's Finished, read with it */
	return conn_input(c);
}

/* Reads and drops what the peer sends after the answer, until it closes. */
static int conn_linger(struct http_conn *c)
{
	char sink[4096];
	ssize_t n;

	while ((n = recv(net_stream_fd(c->stream), sink, sizeof(sink), 0)) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
}

static int conn_timeout(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	unsigned held;

	switch (c->timer_kind) {
	case T_HEADER:
		if (c->in_len > 0 && !c->close_after) {
			c->in_len = 0;
			http_respond_bad(c, OUTCOME_TIMED_OUT, 408, NULL,
					 "no complete request within header_timeout");
			return conn_run(c);
		}
		break;
	case T_HANDSHAKE:
		if (log_limit_ok(&srv->log_handshake, &held))
			log_info(srv->proto,
				 "%s: TLS handshake not done within %u s: closed"
				 " (%u more since the last line)",
				 c->peer_text, srv->cfg.header_timeout_s, held);
		break;
	case T_SEND:
		if (limit_log_ok(srv))
			log_info(srv->proto, "%s: the peer took nothing for %u s: closed",
				 c->peer_text, srv->cfg.timeout_s);
		break;
	case T_DELAY: http_conn_set_state(c, HTTP_SENDING); return conn_run(c);
	case T_IDLE:
	case T_LINGER: break;
	}
	return -1;
}

/* Every event of a connection comes here; the one place it is closed from its own events. */
static void conn_event(struct net_stream *s, unsigned what, void *arg)
{
	struct http_conn *c = arg;
	int r = 0;

	(void)s;
	if (what & NET_TIMEOUT) {
		r = conn_timeout(c);
	} else {
		switch (c->state) {
		case HTTP_HANDSHAKE: r = conn_handshake(c); break;
		case HTTP_WAITING: r = conn_input(c); break;
		case HTTP_SENDING: r = conn_run(c); break;
		case HTTP_LINGERING: r = conn_linger(c); break;
		case HTTP_DELAYED:
		case HTTP_CLOSED:
		case _HTTP_STATE_MAX: break;
		}
	}
	if (r < 0)
		conn_close(c);
}

/* The stream is gone and none of its callbacks runs: the connection's memory goes. */
static void conn_free(void *arg)
{
	struct http_conn *c = arg;

	free(c->in);
	free(c->arena); /* NULL: conn_close gave it back */
	free(c);
}

static const struct net_stream_ops conn_stream_ops = {
	.event = conn_event,
	.closed = conn_free,
};

/*
 * Ends a connection: its answers, lists and counts at once; its memory once its stream's
 * callback (if one is running) returns. Closing twice does nothing.
 */
static void conn_close(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->state == HTTP_CLOSED)
		return;
	http_conn_set_state(c, HTTP_CLOSED);
	http_out_release(c);
	wait_leave(c);
	hs_leave(c);
	peer_table_release(&srv->peers, c->peer_entry);
	peer_table_release(&srv->prefixes, c->prefix_entry);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	metrics_sub(srv->m_connections, 1);
	/*
	 * A session is kept in the server's cache for resumption by id only when the
	 * connection ended with close_notify; sent once, without waiting for the peer's.
	 */
	net_stream_close_notify(c->stream);
	net_stream_close(c->stream); /* frees c, now or when its callback returns */
	if (peer_table_total(&srv->peers) < srv->cfg.max_connections && srv->listener)
		net_listener_resume(srv->listener);
}

/* Over the per-peer or per-prefix limit: a short 503, then the socket is closed. */
static void refuse_busy(struct http_server *srv, int fd, const char *peer, const char *why,
			unsigned max)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 22\r\n"
				   "Connection: close\r\nRetry-After: " HTTP_BUSY_RETRY "\r\n\r\n"
				   "too many connections\r\n";

	unsigned held;

	if (log_limit_ok(&srv->log_refused, &held))
		log_warnx(srv->proto, "%s: over %s (%u): 503 (%u more refused since the last line)",
			  peer, why, max, held);
	if (!srv->tls)
		(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void conn_new(void *arg, int fd, const struct addr *peer_addr)
{
	struct http_server *srv = arg;
	const struct sockaddr_storage *peer = &peer_addr->ss;
	struct http_conn *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(struct sockaddr_storage);
	struct sockaddr_storage prefix;
	/* a network may always hold what one of its addresses may (a NAT raised the latter) */
	unsigned per_prefix =
		srv->cfg.max_connections_per_prefix > srv->cfg.max_connections_per_peer
			? srv->cfg.max_connections_per_prefix
			: srv->cfg.max_connections_per_peer;

	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->peer = *peer;
	addr_format((const struct sockaddr *)peer, c->peer_text, sizeof(c->peer_text));
	if (peer_table_take(&srv->peers, (const struct sockaddr *)peer,
			    srv->cfg.max_connections_per_peer, &c->peer_entry) < 0) {
		refuse_busy(srv, fd, c->peer_text, "max_connections_per_peer",
			    srv->cfg.max_connections_per_peer);
		free(c);
		return;
	}
	if (addr_prefix_mask((const struct sockaddr *)peer, PREFIX_V4, PREFIX_V6, &prefix) == 0 &&
	    peer_table_take(&srv->prefixes, (const struct sockaddr *)&prefix, per_prefix,
			    &c->prefix_entry) == -EBUSY &&
	    (!drop_waiting(srv, (const struct sockaddr *)&prefix, "max_connections_per_prefix") ||
	     peer_table_take(&srv->prefixes, (const struct sockaddr *)&prefix, per_prefix,
			     &c->prefix_entry) < 0)) {
		refuse_busy(srv, fd, c->peer_text, "max_connections_per_prefix", per_prefix);
		peer_table_release(&srv->peers, c->peer_entry);
		free(c);
		return;
	}
	/* the address this connection reached, for {{server_url}}: asked only of a wildcard */
	if (!net_listener_wildcard(srv->listener) ||
	    getsockname(fd, (struct sockaddr *)&c->local, &len) < 0)
		memcpy(&c->local, &net_listener_local(srv->listener)->ss, sizeof(c->local));
	if (net_stream_new(srv->base, fd, &conn_stream_ops, c, &c->stream) < 0 ||
	    (srv->tls && net_stream_tls_accept(c->stream, srv->tls) < 0)) {
		/* half built: nothing but the counts is taken yet */
		peer_table_release(&srv->peers, c->peer_entry);
		peer_table_release(&srv->prefixes, c->prefix_entry);
		if (c->stream)
			net_stream_close(c->stream); /* frees c */
		else {
			close(fd);
			free(c);
		}
		return;
	}
	c->state = srv->tls ? HTTP_HANDSHAKE : HTTP_WAITING; /* OpenSSL comes with the hello */
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	metrics_add(srv->m_connections, 1);
	wait_enter(c);
	conn_timer(c, srv->tls ? T_HANDSHAKE : T_HEADER, srv->cfg.header_timeout_s);
	/*
	 * The listener defers accepting until data came (TCP_DEFER_ACCEPT): read at once, and
	 * a connection answered and closed in one go never enters the epoll set.
	 */
	net_stream_dispatch(c->stream, NET_READABLE);
}

/* The listener asks before each accept: room, or a waiting connection dropped for it. */
static bool conn_room(void *arg)
{
	struct http_server *srv = arg;
	unsigned held;

	/* every worker's connections (http_server_share) */
	if (peer_table_total(&srv->peers) < srv->cfg.max_connections ||
	    drop_waiting(srv, NULL, "max_connections"))
		return true;
	if (log_limit_ok(&srv->log_full, &held))
		log_warnx(srv->proto,
			  "%u connections (max_connections), none waiting for a request: not "
			  "accepting more for now",
			  srv->nconns);
	return false;
}

/* Out of descriptors: a waiting connection's is worth more to a new one. */
static bool conn_free_one(void *arg)
{
	return drop_waiting(arg, NULL, "open files");
}

static const struct net_listener_ops listener_ops = {
	.room = conn_room,
	.free_one = conn_free_one,
	.accepted = conn_new,
};

int http_server_new(struct event_base *base, struct site *site, const struct http_config *cfg,
		    SSL_CTX *tls, struct http_server **ret, char *err, size_t errsz)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	int r;

	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->site = site;
	srv->cfg = *cfg;
	srv->proto = tls ? "https" : "http";
	srv->m_connections = &site_metrics(site)->connections[tls ? METRICS_HTTPS : METRICS_HTTP];
	srv->m_transfers = &site_metrics(site)->transfers[tls ? METRICS_HTTPS : METRICS_HTTP];
	if (tls) {
		SSL_CTX_up_ref(tls);
		srv->tls = tls;
	}
	r = peer_table_init(&srv->peers, PEER_BUCKETS);
	if (r == 0)
		r = peer_table_init(&srv->prefixes, PEER_BUCKETS);
	if (r == 0)
		r = digest_nonces_new(0, false, &srv->nonces);
	if (r < 0) {
		snprintf(err, errsz, "%s: out of memory, or no random bytes for nonces",
			 srv->proto);
		goto fail;
	}
	/* clients speak first: the kernel hands a connection over once its request came */
	r = net_listener_new(base, srv->proto, tls ? &cfg->https_listen : &cfg->listen,
			     cfg->header_timeout_s, &listener_ops, srv, &srv->listener, err, errsz);
	if (r < 0)
		goto fail;
	*ret = srv;
	return 0;
fail:
	http_server_free(srv);
	return r;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	net_listener_free(srv->listener);
	srv->listener = NULL; /* closing connections resume nothing */
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->tls)
		SSL_CTX_free(srv->tls);
	if (!srv->shared)
		digest_nonces_free(srv->nonces);
	peer_table_destroy(&srv->peers);
	peer_table_destroy(&srv->prefixes);
	while (srv->arenas) {
		void *next = *(void **)srv->arenas;

		free(srv->arenas);
		srv->arenas = next;
	}
	free(srv);
}

void http_server_set_config(struct http_server *srv, const struct http_config *cfg, SSL_CTX *tls)
{
	struct addr listen = srv->cfg.listen, https_listen = srv->cfg.https_listen;

	srv->cfg = *cfg;
	srv->cfg.listen = listen;
	srv->cfg.https_listen = https_listen;
	if (tls && srv->tls) {
		SSL_CTX_up_ref(tls);
		SSL_CTX_free(srv->tls);
		srv->tls = tls;
	}
	if (peer_table_total(&srv->peers) < srv->cfg.max_connections)
		net_listener_resume(srv->listener);
}

void http_server_share(struct http_server *srv, struct http_server *first)
{
	peer_table_share(&srv->peers, &first->peers);
	peer_table_share(&srv->prefixes, &first->prefixes);
	digest_nonces_free(srv->nonces);
	srv->nonces = first->nonces;
	srv->shared = true;
}

uint16_t http_server_port(const struct http_server *srv)
{
	return net_listener_port(srv->listener);
}
