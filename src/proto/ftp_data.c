// SPDX-License-Identifier: MIT
/*
 * The FTP server's data connections: a passive listener (PASV, EPSV) or a connection to the
 * control peer's own address (PORT, EPRT), its TLS with PROT P, and a transfer's sending, a
 * snapshot or a listing, converted to CR LF on the way for TYPE A.
 */
#include "proto/ftp_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listener.h"
#include "site/metrics.h"

#define SEND_BUDGET (4u << 20) /* bytes per write callback, then other sessions' turn */
#define ASCII_BUF   65536

static void data_start(struct session *s);

/* ---- the data connection ---- */

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

void ftp_transfer_done(struct transfer *x)
{
	site_file_unref(x->file);
	free(x->owned);
	free(x->abuf);
	memset(x, 0, sizeof(*x));
}

/* Closes the data connection or listener (the transfer stays). */
void ftp_data_close(struct session *s)
{
	net_stream_close(s->data); /* safe from inside its own callback */
	s->data = NULL;
	if (s->ev_data) {
		event_free(s->ev_data);
		s->ev_data = NULL;
	}
	if (s->dfd >= 0) {
		close(s->dfd);
		s->dfd = -1;
	}
	if (s->ev_data_timer)
		evtimer_del(s->ev_data_timer);
	ftp_data_set_state(s, DATA_NONE);
}

/* Ends the transfer in progress with its journal entry and log line (no reply). */
void ftp_transfer_end(struct session *s, enum outcome o, const char *detail)
{
	struct transfer *x = &s->xfer;
	bool whole = x->rest == 0 && o == OUTCOME_SENT;

	if (!x->active)
		return;
	if (o == OUTCOME_SENT && x->rest > 0)
		o = OUTCOME_PARTIAL;
	metrics_sub(&site_metrics(s->srv->site)->transfers[METRICS_FTP], 1);
	ftp_log_request(s, o, x->verb, x->path, x->sent, &x->started, x->mac,
			whole && x->file ? site_file_md5(x->file) : NULL, detail);
	ftp_transfer_done(x);
	if (s->state == SESSION_READY)
		ftp_arm(s->ev_timer, s->srv->cfg.idle_timeout_s);
}

static void data_fail(struct session *s, unsigned code, const char *text, enum outcome o,
		      const char *detail)
{
	ftp_data_close(s);
	if (s->xfer.active) {
		ftp_reply(s, code, "%s", text);
		ftp_transfer_end(s, o, detail);
	}
}

/* Sends what the socket takes; ends the transfer once everything is out. */
static void data_send(struct session *s)
{
	struct transfer *x = &s->xfer;
	size_t budget = SEND_BUDGET;

	while (budget) {
		const uint8_t *p;
		size_t len;
		ssize_t n;

		if (x->ascii) {
			if (x->aoff == x->alen) {
				size_t used;

				if (x->off == x->size)
					break;
				x->alen = ftp_ascii_convert(&x->astate, x->data + x->off,
							    x->size - x->off, x->abuf, ASCII_BUF,
							    &used);
				x->aoff = 0;
				x->off += used;
			}
			p = x->abuf + x->aoff;
			len = x->alen - x->aoff;
		} else {
			if (x->off == x->size)
				break;
			p = x->data + x->off;
			len = x->size - x->off;
		}
		if (len > budget)
			len = budget;
		n = net_stream_write(s->data, p, len);
		if (n == -EAGAIN) {
			net_stream_watch_wants(s->data);
			break;
		}
		if (n < 0) {
			data_fail(s, 426, "Connection closed; transfer aborted.", OUTCOME_ABORTED,
				  strerror((int)-n));
			return;
		}
		if (x->ascii)
			x->aoff += (size_t)n;
		else
			x->off += (size_t)n;
		x->sent += (uint64_t)n;
		budget -= (size_t)n;
	}
	if (x->off == x->size && (!x->ascii || x->aoff == x->alen)) {
		net_stream_close_notify(s->data); /* TLS: the end is the end of the file */
		ftp_data_close(s);
		ftp_reply(s, 226, "%s", x->owned ? "Directory send OK." : "Transfer complete.");
		ftp_transfer_end(s, OUTCOME_SENT, NULL);
		return;
	}
	ftp_arm(s->ev_data_timer, s->srv->cfg.data_timeout_s); /* progress: the stall timer again */
}

static void data_handshake(struct session *s);

/* The data connection's events: its TLS handshake, then the transfer's sending. */
static void on_data_event(struct net_stream *st, unsigned what, void *arg)
{
	struct session *s = arg;

	(void)st;
	if (s->dstate == DATA_HANDSHAKE)
		data_handshake(s);
	else if (s->dstate == DATA_SENDING)
		data_send(s);
	ftp_session_settle(s);
}

static const struct net_stream_ops data_stream_ops = { .event = on_data_event };

static void data_open(struct session *s);

/* A step of the data connection's TLS handshake (PROT P). */
static void data_handshake(struct session *s)
{
	int r = net_stream_handshake(s->data);

	if (r == 0) {
		data_open(s);
		return;
	}
	if (r == -EAGAIN) {
		net_stream_watch_wants(s->data);
		return;
	}
	log_info(TAG, "%s: TLS on the data connection failed: %s", s->peer_str,
		 net_stream_tls_error(s->data));
	data_fail(s, 425, "TLS negotiation on the data connection failed.", OUTCOME_ERROR,
		  "data connection TLS");
}

/* The data connection is up on fd (now the stream's): with PROT P, TLS first. */
static void data_ready(struct session *s, int fd)
{
	if (net_stream_new(s->srv->base, fd, &data_stream_ops, s, &s->data) < 0) {
		close(fd);
		data_fail(s, 425, "Cannot open data connection.", OUTCOME_ERROR, "out of memory");
		return;
	}
	if (!s->prot_private) {
		data_open(s);
		return;
	}
	/* the control connection's context: its sessions resume on the data connection */
	net_stream_tls_accept(s->data, SSL_get_SSL_CTX(net_stream_ssl(s->ctl)));
	ftp_data_set_state(s, DATA_HANDSHAKE);
	ftp_arm(s->ev_data_timer, s->srv->cfg.data_timeout_s);
	data_handshake(s);
}

/* The data connection is ready for bytes: a transfer waiting for it starts. */
static void data_open(struct session *s)
{
	net_stream_watch(s->data, 0);
	ftp_data_set_state(s, DATA_OPEN);
	if (s->xfer.active)
		data_start(s);
	else
		ftp_arm(s->ev_data_timer, s->srv->cfg.data_timeout_s); /* for the command to come */
}

static int data_watch(struct session *s, short what, event_callback_fn cb)
{
	if (s->ev_data)
		event_free(s->ev_data);
	s->ev_data = event_new(s->srv->base, s->dfd, what, cb, s);
	if (!s->ev_data || event_add(s->ev_data, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void data_start(struct session *s)
{
	ftp_data_set_state(s, DATA_SENDING);
	net_stream_watch(s->data, NET_WRITABLE);
	data_send(s);
}

static void on_data_accept(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct addr from = { .len = sizeof(from.ss) };
	int cfd = accept4(fd, (struct sockaddr *)&from.ss, &from.len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		goto out;
	net_addr_unmap(&from);
	if (!addr_same_host((struct sockaddr *)&from.ss, (struct sockaddr *)&s->peer.ss)) {
		char pa[ADDR_STRLEN];

		log_warnx(TAG, "%s: data connection from %s refused: not the control peer",
			  s->peer_str, addr_format((struct sockaddr *)&from.ss, pa, sizeof(pa)));
		close(cfd);
		goto out;
	}
	event_free(s->ev_data);
	s->ev_data = NULL;
	close(s->dfd);
	s->dfd = -1;
	data_ready(s, cfd);
out:
	ftp_session_settle(s);
}

static void on_data_connected(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		data_fail(s, 425, "Cannot open data connection.", OUTCOME_ERROR, strerror(err));
	} else {
		event_free(s->ev_data);
		s->ev_data = NULL;
		s->dfd = -1;
		data_ready(s, fd);
	}
	ftp_session_settle(s);
}

void ftp_on_data_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	switch (s->dstate) {
	case DATA_LISTENING:
		log_info(TAG, "%s: passive data connection never made, listener closed",
			 s->peer_str);
		data_fail(s, 425, "Data connection not made in time.", OUTCOME_TIMED_OUT,
			  "no data connection");
		break;
	case DATA_CONNECTING:
	case DATA_HANDSHAKE:
		data_fail(s, 425, "Cannot open data connection.", OUTCOME_TIMED_OUT,
			  s->dstate == DATA_HANDSHAKE ? "TLS handshake" : "connect");
		break;
	case DATA_SENDING:
		data_fail(s, 426, "Data connection stalled; transfer aborted.", OUTCOME_TIMED_OUT,
			  "stalled");
		break;
	default: ftp_data_close(s); break;
	}
	ftp_session_settle(s);
}

/*
 * The ports passive listeners take: the configured range, else the kernel's ephemeral range.
 * Ports are picked here, one after another from a random start, rather than by bind() to
 * port 0: with tens of thousands of connections in TIME_WAIT (a busy server closes its data
 * connections first), the kernel's own search for a free port costs milliseconds a bind.
 */
void ftp_passive_range(const struct ftp_config *cfg, unsigned *ret_min, unsigned *ret_span)
{
	unsigned lo = 32768, hi = 60999;
	FILE *f;

	if (cfg->passive_min) {
		*ret_min = cfg->passive_min;
		*ret_span = (unsigned)cfg->passive_max - cfg->passive_min + 1;
		return;
	}
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo < 1024 || hi > 65535 || hi < lo)
			lo = 32768, hi = 60999;
		fclose(f);
	}
	*ret_min = lo;
	*ret_span = hi - lo + 1;
}

/* A new listener for PASV / EPSV on the control connection's local address. */
static int passive_listen(struct session *s, uint16_t *ret_port)
{
	struct ftp_server *srv = s->srv;
	struct addr a = s->local;
	/* a configured range is tried whole; the ephemeral one a while, then the kernel asks */
	unsigned tries = srv->cfg.passive_min ? srv->passive_span : 256;
	int fd, one = 1, r = -EADDRINUSE;

	fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	for (unsigned i = 0; i <= tries; i++) {
		unsigned k = (srv->next_passive + i) % srv->passive_span;

		if (i == tries && srv->cfg.passive_min)
			break;
		set_port(&a.ss, i == tries ? 0 : (uint16_t)(srv->passive_min + k));
		if (bind(fd, (struct sockaddr *)&a.ss, a.len) == 0) {
			srv->next_passive = (k + 1) % srv->passive_span;
			r = 0;
			break;
		}
		if (errno != EADDRINUSE) {
			r = -errno;
			break;
		}
	}
	if (r == 0 && listen(fd, 4) < 0)
		r = -errno;
	a.len = sizeof(a.ss);
	if (r == 0 && getsockname(fd, (struct sockaddr *)&a.ss, &a.len) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_port = addr_port((struct sockaddr *)&a.ss);
	return fd;
}

/* Drops a prepared data connection (PASV, PORT) before another is prepared. */
static bool data_busy(struct session *s)
{
	if (s->xfer.active) {
		ftp_reply(s, 425, "A transfer is in progress.");
		return true;
	}
	ftp_data_close(s);
	return false;
}

void ftp_cmd_pasv(struct session *s, bool extended, const struct ftp_command *c)
{
	char text[128];
	uint16_t port = 0;
	int fd;

	if (extended) {
		int family;
		bool all;
		int r = ftp_parse_epsv(c->arg, c->arg_len, &family, &all);

		if (r == -EAFNOSUPPORT || (r == 0 && family && family != s->local.ss.ss_family)) {
			ftp_reply(s, 522, "Network protocol not supported, use (%d)",
				  s->local.ss.ss_family == AF_INET ? 1 : 2);
			return;
		}
		if (r < 0) {
			ftp_reply(s, 501, "Syntax error in EPSV's argument.");
			return;
		}
		if (all) {
			s->epsv_all = true;
			ftp_reply(s, 200, "EPSV ALL ok.");
			return;
		}
	} else if (s->epsv_all) {
		ftp_reply(s, 503, "EPSV ALL was given: use EPSV.");
		return;
	} else if (s->local.ss.ss_family != AF_INET && !s->srv->cfg.has_passive_address) {
		ftp_reply(s, 425, "PASV needs IPv4: use EPSV.");
		return;
	}
	if (data_busy(s))
		return;
	fd = passive_listen(s, &port);
	if (fd < 0) {
		errno = -fd;
		log_warn(TAG, "%s: passive listener", s->peer_str);
		ftp_reply(s, 425, "No passive port available, try again later.");
		return;
	}
	s->dfd = fd;
	if (data_watch(s, EV_READ | EV_PERSIST, on_data_accept) < 0) {
		ftp_data_close(s);
		ftp_reply(s, 425, "Cannot open data connection.");
		return;
	}
	ftp_data_set_state(s, DATA_LISTENING);
	ftp_arm(s->ev_data_timer, s->srv->cfg.data_timeout_s);
	if (extended) {
		ftp_format_epsv(text, sizeof(text), port);
		ftp_reply(s, 229, "%s", text);
	} else {
		struct in_addr a = s->srv->cfg.has_passive_address
					   ? s->srv->cfg.passive_address
					   : ((struct sockaddr_in *)&s->local.ss)->sin_addr;

		ftp_format_pasv(text, sizeof(text), &a, port);
		ftp_reply(s, 227, "%s", text);
	}
}

void ftp_cmd_port(struct session *s, bool extended, const struct ftp_command *c)
{
	struct addr to = { 0 };
	int r;

	if (!s->srv->cfg.active) {
		ftp_reply(s, 502, "Active mode is off on this server: use EPSV or PASV.");
		return;
	}
	if (s->epsv_all) {
		ftp_reply(s, 503, "EPSV ALL was given: use EPSV.");
		return;
	}
	if (extended) {
		r = ftp_parse_eprt(c->arg, c->arg_len, &to.ss, &to.len);
		if (r == -EAFNOSUPPORT) {
			ftp_reply(s, 522, "Network protocol not supported, use (%d)",
				  s->peer.ss.ss_family == AF_INET ? 1 : 2);
			return;
		}
	} else {
		struct sockaddr_in sin;

		r = ftp_parse_port(c->arg, c->arg_len, &sin);
		memcpy(&to.ss, &sin, sizeof(sin));
		to.len = sizeof(sin);
	}
	if (r < 0) {
		ftp_reply(s, 501, "Syntax error in %s's argument.", c->name);
		return;
	}
	net_addr_unmap(&to);
	if (!addr_same_host((struct sockaddr *)&to.ss, (struct sockaddr *)&s->peer.ss) ||
	    addr_port((struct sockaddr *)&to.ss) < 1024) {
		char pa[ADDR_STRLEN];

		log_warnx(TAG,
			  "%s: %s to %s refused: only to the client's own address, port 1024 up",
			  s->peer_str, c->name,
			  addr_format((struct sockaddr *)&to.ss, pa, sizeof(pa)));
		ftp_reply(s, 500,
			  "Illegal %s command: only to your own address, port 1024 or above.",
			  c->name);
		return;
	}
	if (data_busy(s))
		return;
	s->active_to = to;
	ftp_data_set_state(s, DATA_ACTIVE);
	ftp_reply(s, 200, "%s command successful. Consider using EPSV.", c->name);
}

/* Connects to PORT's address from the control connection's local address. */
static int active_connect(struct session *s)
{
	struct addr from = s->local;
	int fd = socket(s->active_to.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	set_port(&from.ss, 0);
	if (from.ss.ss_family == s->active_to.ss.ss_family &&
	    bind(fd, (struct sockaddr *)&from.ss, from.len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (connect(fd, (struct sockaddr *)&s->active_to.ss, s->active_to.len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	s->dfd = fd;
	ftp_data_set_state(s, DATA_CONNECTING);
	ftp_arm(s->ev_data_timer, s->srv->cfg.data_timeout_s);
	return data_watch(s, EV_WRITE, on_data_connected);
}

/*
 * Sends 150 and starts x (set up by the caller) as soon as the data connection allows:
 * now when it is open, once the client connects to the listener, after connecting to
 * PORT's address.
 */
void ftp_transfer_begin(struct session *s, const char *what)
{
	struct transfer *x = &s->xfer;
	int r;

	x->active = true;
	metrics_add(&site_metrics(s->srv->site)->transfers[METRICS_FTP], 1);
	clock_gettime(CLOCK_MONOTONIC, &x->started);
	evtimer_del(s->ev_timer); /* no idle timeout while a transfer runs */
	if (x->ascii && !x->owned) {
		x->abuf = malloc(ASCII_BUF);
		if (!x->abuf) {
			ftp_reply(s, 451, "Out of memory, try again later.");
			ftp_transfer_end(s, OUTCOME_ERROR, "out of memory");
			return;
		}
	}
	ftp_reply(s, 150, "%s", what);
	switch (s->dstate) {
	case DATA_OPEN: data_start(s); break;
	case DATA_LISTENING:
	case DATA_HANDSHAKE: break; /* on_data_accept, data_open start it */
	case DATA_ACTIVE:
		r = active_connect(s);
		if (r < 0)
			data_fail(s, 425, "Cannot open data connection.", OUTCOME_ERROR,
				  strerror(-r));
		break;
	default:
		data_fail(s, 425, "Cannot open data connection.", OUTCOME_ERROR,
			  "no data connection");
		break;
	}
}
