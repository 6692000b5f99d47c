// SPDX-License-Identifier: MIT
/*
 * Read-only FTP server (RFC 959, 2389, 2428, 3659 subset); docs/ftp.md says what a client
 * sees.
 *
 * A session is one control connection: non-blocking socket, a line reader with a length
 * limit (proto/ftp_parse.h), a bounded buffer of replies, and one timer (login, idle, the
 * delay of a failed login, the last reply's grace). Its data connection is a passive
 * listener on the configured port range, or (when allowed) a connection to the control
 * peer's own address, with a timer of its own; a transfer sends a snapshot from the site's
 * resolver (or a listing built in memory) with non-blocking send(), converting LF to CR LF
 * on the way for TYPE A. Both connections are net/streams: explicit FTPS (RFC 4217) is the
 * stream's TLS, on the control connection after AUTH TLS and on each data connection after
 * PROT P (the control connection's TLS context, so that its session resumes there). Callbacks never
 * free a session in the middle of their work: they mark it, and ftp_session_settle() at their end
 * frees it or updates its events.
 *
 * Sessions are limited per peer address, per prefix (/24, /64) and overall; sessions not
 * logged in yet wait on a queue, oldest first, and when the prefix's budget, the total or
 * the descriptors run out, the oldest of them (one that sent no command yet if there is
 * one) is closed (421) to admit the new connection,
 * so that a flood of connections that never log in cannot keep a device out. What a flood
 * makes happen many times a second is logged once a second per kind, with a count.
 *
 * This file holds a session's state, replies and journal rows, its control connection and
 * the server; beside it: the data connection (ftp_data.c), the commands (ftp_cmd.c) and the
 * listings (ftp_list.c), sharing proto/ftp_internal.h.
 */
#include "proto/ftp_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "net/listener.h"
#include "site/metrics.h"

#define CLOSE_GRACE_S 5
#define PEER_BUCKETS  1024 /* a power of two */
#define PREFIX_V4     24   /* the prefix of max_sessions_per_prefix */
#define PREFIX_V6     64

static void session_free(struct session *s);

void ftp_config_default(struct ftp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = false;
	(void)addr_parse("0.0.0.0:21", &cfg->listen);
	cfg->max_sessions = 1000;
	cfg->max_sessions_per_peer = 50;
	cfg->max_sessions_per_prefix = 250;
	cfg->max_command_length = 512;
	cfg->max_login_failures = 3;
	cfg->login_timeout_s = 30;
	cfg->idle_timeout_s = 300;
	cfg->data_timeout_s = 30;
}

int ftp_parse_tls_mode(const char *value, enum ftp_tls_mode *ret)
{
	if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0)
		*ret = FTP_TLS_OFF;
	else if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0)
		*ret = FTP_TLS_ON;
	else if (strcmp(value, "required") == 0)
		*ret = FTP_TLS_REQUIRED;
	else
		return -EINVAL;
	return 0;
}

int ftp_parse_passive_ports(const char *value, uint16_t *ret_min, uint16_t *ret_max)
{
	const char *dash = strchr(value, '-');
	uint64_t lo, hi;

	if (!dash) {
		if (str_to_u64(value, 0, 65535, &lo) < 0)
			return -EINVAL;
		*ret_min = *ret_max = (uint16_t)lo;
		return 0;
	}
	if (str_to_u64_n(value, (size_t)(dash - value), 1024, 65535, &lo) < 0 ||
	    str_to_u64(dash + 1, 1024, 65535, &hi) < 0 || hi < lo)
		return -EINVAL;
	*ret_min = (uint16_t)lo;
	*ret_max = (uint16_t)hi;
	return 0;
}

/* ---- helpers ---- */

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* ---- sessions not logged in ---- */

static void wait_leave(struct session *s)
{
	struct wait_queue *q = s->waitq;

	if (!q)
		return;
	if (s->wait_prev)
		s->wait_prev->wait_next = s->wait_next;
	else
		q->head = s->wait_next;
	if (s->wait_next)
		s->wait_next->wait_prev = s->wait_prev;
	else
		q->tail = s->wait_prev;
	s->wait_prev = s->wait_next = NULL;
	s->waitq = NULL;
}

/* To the tail of q. */
void ftp_wait_enter(struct session *s, struct wait_queue *q)
{
	wait_leave(s);
	s->waitq = q;
	s->wait_prev = q->tail;
	if (q->tail)
		q->tail->wait_next = s;
	else
		q->head = s;
	q->tail = s;
}

void ftp_session_set_state(struct session *s, enum session_state state)
{
	log_transition(TAG, s->peer_str, "session", session_state_names, s->state, state);
	s->state = state;
	if (state == SESSION_READY)
		wait_leave(s); /* logged in: never dropped for a newcomer */
}

void ftp_data_set_state(struct session *s, enum data_state state)
{
	log_transition(TAG, s->peer_str, "data", data_state_names, s->dstate, state);
	s->dstate = state;
}

void ftp_arm(struct event *ev, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	evtimer_add(ev, &tv);
}

void ftp_arm_ms(struct event *ev, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* ---- replies ---- */

/* Queues raw reply bytes; a client that lets replies pile up is dropped. */
void ftp_send_raw(struct session *s, const char *text, size_t len)
{
	if (s->dead)
		return;
	if (s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
	if (len > sizeof(s->out) - s->outlen && s->outoff) {
		memmove(s->out, s->out + s->outoff, s->outlen - s->outoff);
		s->outlen -= s->outoff;
		s->outoff = 0;
	}
	if (len > sizeof(s->out) - s->outlen) {
		log_debug(TAG, "%s: replies not read, closing", s->peer_str);
		s->dead = true;
		return;
	}
	memcpy(s->out + s->outlen, text, len);
	s->outlen += len;
}

__attribute__((format(printf, 3, 4))) void ftp_reply(struct session *s, unsigned code,
						     const char *fmt, ...)
{
	char text[1024], line[1100];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = ftp_format_reply(line, sizeof(line), code, false, text);
	ftp_send_raw(s, line, n);
}

/* Writes what is queued; false when the connection failed. */
bool ftp_flush_out(struct session *s)
{
	if (s->handshake)
		return true;
	s->write_wants_read = false;
	while (s->outoff < s->outlen) {
		ssize_t n = net_stream_write(s->ctl, s->out + s->outoff, s->outlen - s->outoff);

		if (n == -EAGAIN) {
			s->write_wants_read = net_stream_wants(s->ctl) == NET_READABLE;
			return true;
		}
		if (n < 0)
			return false;
		s->outoff += (size_t)n;
	}
	s->outoff = s->outlen = 0;
	return true;
}

/* The reply goes out, then the connection closes. */
void ftp_session_close_after(struct session *s)
{
	ftp_session_set_state(s, SESSION_CLOSING);
	ftp_arm(s->ev_timer, CLOSE_GRACE_S);
}

/* ---- journal and log ---- */

const char *ftp_login_name(const struct session *s, char *buf, size_t sz)
{
	if (s->login == LOGIN_NONE)
		return "-";
	return log_escape(buf, sz, s->user, strlen(s->user));
}

/*
 * The reply of every outcome (docs/ftp.md, "Outcomes"). Data connection failures give
 * their own 425 / 426 texts; the rest comes from here.
 */
static const struct ftp_answer {
	unsigned code;
	const char *text;
} answers[_OUTCOME_MAX] = {
	[OUTCOME_SENT] = { 226, "Transfer complete." },
	[OUTCOME_PARTIAL] = { 226, "Transfer complete." },
	[OUTCOME_REDIRECTED] = { 226, "Transfer complete." },
	[OUTCOME_NOT_MODIFIED] = { 226, "Transfer complete." },
	[OUTCOME_NOT_FOUND] = { 550, "File not found." },
	[OUTCOME_DENIED] = { 550, "Permission denied." },
	[OUTCOME_REFUSED] = { 550, "Access denied." },
	[OUTCOME_AUTH_REQUIRED] = { 530, "Please login with USER and PASS." },
	[OUTCOME_AUTH_FAILED] = { 530, "Login incorrect." },
	[OUTCOME_BLOCKED] = { 421, "Blocked: too many requests for unknown devices, closing." },
	[OUTCOME_TOO_LARGE] = { 550, "File too large to serve." },
	[OUTCOME_BUSY] = { 421, "Too many sessions, try again later." },
	[OUTCOME_UNAVAILABLE] = { 421, "Service not available, try again later; closing." },
	[OUTCOME_BAD_REQUEST] = { 501, "Syntax error." },
	[OUTCOME_NOT_IMPLEMENTED] = { 502, "Command not implemented." },
	[OUTCOME_ERROR] = { 451, "Cannot read the file, try again later." },
	[OUTCOME_TIMED_OUT] = { 426, "Data connection stalled; transfer aborted." },
	[OUTCOME_ABORTED] = { 426, "Connection closed; transfer aborted." },
	[OUTCOME_PNP_URL_SENT] = { 451, "Cannot read the file, try again later." },
	[OUTCOME_NOTIFY_ANSWERED] = { 451, "Cannot read the file, try again later." },
	[OUTCOME_NOTIFY_TIMEOUT] = { 451, "Cannot read the file, try again later." },
	[OUTCOME_SUBSCRIBE_REPEAT] = { 451, "Cannot read the file, try again later." },
	[OUTCOME_BAD_EVENT] = { 501, "Syntax error." },
	[OUTCOME_SIP_BAD_REQUEST] = { 501, "Syntax error." },
	[OUTCOME_NOT_ALLOWED] = { 502, "Command not implemented." },
	[OUTCOME_IGNORED_NO_MAC] = { 550, "File not found." },
	[OUTCOME_IGNORED_UNKNOWN] = { 550, "File not found." },
	[OUTCOME_IGNORED_OUI] = { 550, "File not found." },
};

const char *ftp_outcome_reply(enum outcome o, unsigned *ret_code)
{
	if ((unsigned)o >= _OUTCOME_MAX || !answers[o].code)
		return NULL;
	*ret_code = answers[o].code;
	return answers[o].text;
}

/*
 * The log line and journal row of a request (exchange_close): RETR (or a refused write) with
 * the MAC of the file's device when a route bound one, else the device that logged in.
 * started: when its transfer began, or NULL for a request answered now.
 */
void ftp_log_request(struct session *s, enum outcome o, const char *verb, const char *path,
		     uint64_t bytes, const struct timespec *started, const char *mac,
		     const char *md5, const char *detail)
{
	char user[AUTH_NAME_MAX * 4 + 8], tail[AUTH_NAME_MAX * 4 + 64];
	struct exchange x;
	long ms;

	exchange_begin(&x, s->srv->site, "ftp", (const struct sockaddr *)&s->peer.ss, NULL, path);
	if (started)
		x.started = *started; /* the transfer's start: its duration on /metrics */
	ms = elapsed_ms(&x.started);
	if (mac)
		str_copy(x.req.mac, sizeof(x.req.mac), mac);
	x.login_mac = s->login == LOGIN_DEVICE ? s->mac : NULL;
	x.verb = verb;
	x.detail = detail;
	snprintf(tail, sizeof(tail), ", %ld ms, %s, user %s", ms, s->ascii ? "ascii" : "binary",
		 ftp_login_name(s, user, sizeof(user)));
	exchange_close(&x, o, NULL, bytes, md5, tail);
}

/* "/path" escaped for the journal and the log: the normalised path, or what was sent. */
void ftp_log_path(char *buf, size_t sz, const char *path, const char *arg, size_t arg_len)
{
	char tmp[PATH_MAX + 2];

	if (path) {
		snprintf(tmp, sizeof(tmp), "/%s", path);
		log_escape(buf, sz, tmp, strlen(tmp));
	} else {
		log_escape(buf, sz, arg, arg_len);
	}
}

/* ---- the control connection ---- */

static bool session_paused(const struct session *s)
{
	return s->dead || s->handshake || s->state == SESSION_DELAYED ||
	       s->state == SESSION_CLOSING || (s->held && s->xfer.active) ||
	       s->outlen - s->outoff > OUT_MAX / 2;
}

/* Runs the held line and the lines read, until input runs out or the session pauses. */
static void session_process(struct session *s)
{
	while (!session_paused(s)) {
		enum ftp_line_event ev;
		size_t used;

		if (s->held) {
			s->held = false;
			if (!ftp_handle_line(s)) {
				s->held = true;
				return;
			}
			ftp_line_next(&s->lines);
			continue;
		}
		if (s->roff == s->rlen)
			return;
		used = ftp_line_feed(&s->lines, s->rbuf + s->roff, s->rlen - s->roff, &ev);
		s->roff += used;
		switch (ev) {
		case FTP_LINE_MORE: break;
		case FTP_LINE_READY:
			if (!ftp_handle_line(s)) {
				s->held = true;
				return;
			}
			ftp_line_next(&s->lines);
			break;
		case FTP_LINE_TOO_LONG:
			log_warnx(TAG, "%s: command line over %u bytes refused", s->peer_str,
				  s->srv->cfg.max_command_length);
			ftp_reply(s, 500, "Command line too long.");
			break;
		case FTP_LINE_ABSURD:
			log_warnx(TAG, "%s: command line over %u bytes without an end, closing",
				  s->peer_str, ABSURD_LINE);
			ftp_reply(s, 500, "Command line too long, closing.");
			ftp_session_close_after(s);
			return;
		}
	}
}

/* A step of the control connection's TLS handshake, after AUTH TLS. */
void ftp_control_handshake(struct session *s)
{
	int r = net_stream_handshake(s->ctl);

	if (r == 0) {
		SSL *ssl = net_stream_ssl(s->ctl);

		s->handshake = false;
		log_debug(TAG, "%s: TLS %s, %s", s->peer_str, SSL_get_version(ssl),
			  SSL_get_cipher_name(ssl));
		return;
	}
	if (r == -EAGAIN)
		return; /* ftp_session_settle() watches what it waits for */
	log_info(TAG, "%s: TLS handshake failed: %s", s->peer_str, net_stream_tls_error(s->ctl));
	s->dead = true;
}

/* The control connection's events: its TLS handshake, or input to read. */
static void on_control_event(struct net_stream *st, unsigned what, void *arg)
{
	struct session *s = arg;

	(void)st;
	if (s->handshake) {
		ftp_control_handshake(s);
	} else if (s->roff == s->rlen &&
		   ((what & NET_READABLE) || (s->read_wants_write && (what & NET_WRITABLE)))) {
		ssize_t n = net_stream_read(s->ctl, s->rbuf, sizeof(s->rbuf));

		s->read_wants_write = n == -EAGAIN && net_stream_wants(s->ctl) == NET_WRITABLE;
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			log_debug(TAG, "%s: control connection closed by the client", s->peer_str);
			if (s->xfer.active) {
				ftp_data_close(s);
				ftp_transfer_end(s, OUTCOME_ABORTED, "control connection closed");
			}
			s->dead = true;
		} else if (n > 0) {
			s->roff = 0;
			s->rlen = (size_t)n;
		}
	}
	ftp_session_settle(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	switch (s->state) {
	case SESSION_DELAYED: ftp_login_delay_over(s); break;
	case SESSION_CLOSING: s->dead = true; break;
	case SESSION_USER:
	case SESSION_PASS: {
		unsigned held;

		if (log_limit_ok(&s->srv->log_login_timeout, &held))
			log_info(TAG,
				 "%s: no login within %u s, closing (%u more since the last line)",
				 s->peer_str, s->srv->cfg.login_timeout_s, held);
		ftp_reply(s, 421, "Login timeout, closing control connection.");
		ftp_session_close_after(s);
		break;
	}
	default:
		log_info(TAG, "%s: idle for %u s, closing", s->peer_str,
			 s->srv->cfg.idle_timeout_s);
		ftp_reply(s, 421, "Timeout, closing control connection.");
		ftp_session_close_after(s);
		break;
	}
	ftp_session_settle(s);
}

/*
 * The end of every callback: process what input may now be processed, send replies, then
 * free the session if it is over, else watch what it waits for.
 */
void ftp_session_settle(struct session *s)
{
	struct ftp_server *srv = s->srv;
	bool want_read, want_write;

	session_process(s);
	if (!s->dead && !ftp_flush_out(s))
		s->dead = true;
	if (!s->dead && s->state == SESSION_CLOSING && s->outoff == s->outlen) {
		/* all said: the client sees the close after the last reply */
		s->dead = true;
	}
	if (s->dead) {
		session_free(s);
		if (peer_table_total(&srv->peers) < srv->cfg.max_sessions && srv->listener)
			net_listener_resume(srv->listener);
		return;
	}
	if (s->handshake) {
		net_stream_watch_wants(s->ctl);
		return;
	}
	want_write = s->outoff < s->outlen;
	want_read = !session_paused(s) && s->roff == s->rlen;
	if (want_read && net_stream_pending(s->ctl))
		net_stream_wake(s->ctl, NET_READABLE); /* input TLS holds: the socket won't say */
	net_stream_watch(
		s->ctl,
		(want_read || (want_write && s->write_wants_read) ? NET_READABLE : 0) |
			(want_write || (want_read && s->read_wants_write) ? NET_WRITABLE : 0));
}

/* The control stream is gone: the session's memory goes. */
static void session_mem_free(void *arg)
{
	struct session *s = arg;

	if (s->line)
		OPENSSL_cleanse(s->line, s->lines.cap);
	free(s->line);
	free(s);
}

static void session_free(struct session *s)
{
	struct ftp_server *srv;

	if (!s)
		return;
	srv = s->srv;
	if (s->xfer.active)
		ftp_transfer_end(s, OUTCOME_ABORTED, "session closed");
	ftp_transfer_done(&s->xfer);
	ftp_data_close(s);
	if (s->ev_data_timer)
		event_free(s->ev_data_timer);
	if (s->ev_timer)
		event_free(s->ev_timer);
	if (s->prev || srv->sessions == s) {
		if (s->prev)
			s->prev->next = s->next;
		else
			srv->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
		srv->nsessions--;
		metrics_sub(&site_metrics(srv->site)->connections[METRICS_FTP], 1);
	}
	wait_leave(s);
	peer_table_release(&srv->peers, s->peer_entry);
	peer_table_release(&srv->prefixes, s->prefix_entry);
	if (!s->ctl) {
		session_mem_free(s); /* half built */
		return;
	}
	if (!s->handshake)
		net_stream_close_notify(s->ctl);
	net_stream_close(s->ctl); /* the memory goes once no callback of it runs */
}

/* Answers 421 on a connection that gets no session, and closes it. */
static void turn_away(int fd, const char *text)
{
	char line[256];
	size_t n = ftp_format_reply(line, sizeof(line), 421, false, text);

	(void)send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* The oldest session on q from prefix (a masked address), or from anywhere (NULL). */
static struct session *oldest_waiting(const struct wait_queue *q, const struct sockaddr *prefix)
{
	for (struct session *s = q->head; s; s = s->wait_next)
		if (!prefix ||
		    (s->prefix_entry &&
		     addr_same_host((const struct sockaddr *)&s->prefix_entry->host, prefix)))
			return s;
	return NULL;
}

/*
 * Closes the oldest session not logged in, from prefix (a masked address) or from anywhere
 * (NULL), for a new connection: one that sent no command if there is one. why names the
 * budget, for the log. true when one was closed.
 */
static bool drop_waiting(struct ftp_server *srv, const struct sockaddr *prefix, const char *why)
{
	static const char bye[] = "421 Too many connections, closing: log in sooner.\r\n";
	struct session *s = oldest_waiting(&srv->silent, prefix);
	unsigned held;

	if (!s)
		s = oldest_waiting(&srv->talking, prefix);
	if (!s)
		return false;
	if (log_limit_ok(&srv->log_dropped, &held))
		log_warnx(TAG,
			  "%s: a session not logged in dropped for a new one (%s full)"
			  " (%u more dropped since the last line)",
			  s->peer_str, why, held);
	if (!s->tls && s->outoff == s->outlen)
		(void)net_stream_write(s->ctl, bye, sizeof(bye) - 1);
	session_free(s);
	return true;
}

/* Over a budget (why: whose) with nobody to drop: 421, logged once a second. */
static void refuse(struct ftp_server *srv, int fd, const struct addr *peer, const char *why,
		   unsigned max)
{
	char pa[ADDR_STRLEN];
	unsigned held;

	if (log_limit_ok(&srv->log_refused, &held))
		log_warnx(TAG,
			  "%s: more than %u sessions from %s, refused"
			  " (%u more refused since the last line)",
			  addr_format((const struct sockaddr *)&peer->ss, pa, sizeof(pa)), max, why,
			  held);
	turn_away(fd, "Too many connections from your address, try again later.");
}

static const struct net_stream_ops control_stream_ops = {
	.event = on_control_event,
	.closed = session_mem_free,
};

static void session_new(struct ftp_server *srv, int fd, const struct addr *peer)
{
	struct session *s;
	struct sockaddr_storage prefix;
	bool has_prefix;
	int one = 1;
	/* a network may always hold what one of its addresses may */
	unsigned per_prefix = srv->cfg.max_sessions_per_prefix > srv->cfg.max_sessions_per_peer
				      ? srv->cfg.max_sessions_per_prefix
				      : srv->cfg.max_sessions_per_peer;

	if (site_blocked(srv->site, (const struct sockaddr *)&peer->ss) > 0) {
		/* the block was logged and journaled once when it started */
		turn_away(fd, "Blocked: too many requests for unknown devices, try again later.");
		return;
	}
	if (peer_table_count(&srv->peers, (const struct sockaddr *)&peer->ss) >=
	    srv->cfg.max_sessions_per_peer) {
		refuse(srv, fd, peer, "this address", srv->cfg.max_sessions_per_peer);
		return;
	}
	has_prefix = addr_prefix_mask((const struct sockaddr *)&peer->ss, PREFIX_V4, PREFIX_V6,
				      &prefix) == 0;
	if (has_prefix &&
	    peer_table_count(&srv->prefixes, (const struct sockaddr *)&prefix) >= per_prefix &&
	    !drop_waiting(srv, (const struct sockaddr *)&prefix, "max_sessions_per_prefix")) {
		refuse(srv, fd, peer, "its network (max_sessions_per_prefix)", per_prefix);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->srv = srv;
	s->dfd = -1;
	s->peer = *peer;
	addr_format((const struct sockaddr *)&peer->ss, s->peer_str, sizeof(s->peer_str));
	s->local.len = sizeof(s->local.ss);
	if (getsockname(fd, (struct sockaddr *)&s->local.ss, &s->local.len) < 0)
		goto fail;
	net_addr_unmap(&s->local);
	s->line = malloc(srv->cfg.max_command_length + 1);
	s->ev_timer = evtimer_new(srv->base, on_timer, s);
	s->ev_data_timer = evtimer_new(srv->base, ftp_on_data_timeout, s);
	if (!s->line || !s->ev_timer || !s->ev_data_timer)
		goto fail;
	ftp_line_init(&s->lines, s->line, srv->cfg.max_command_length + 1, ABSURD_LINE);
	if (peer_table_take(&srv->peers, (const struct sockaddr *)&peer->ss,
			    srv->cfg.max_sessions_per_peer, &s->peer_entry) < 0)
		goto fail;
	if (has_prefix && peer_table_take(&srv->prefixes, (const struct sockaddr *)&prefix,
					  per_prefix, &s->prefix_entry) < 0)
		goto fail;
	if (net_stream_new(srv->base, fd, &control_stream_ops, s, &s->ctl) < 0)
		goto fail; /* the last step that may fail: the stream owns fd from here */
	ftp_wait_enter(s, &srv->silent);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	metrics_add(&site_metrics(srv->site)->connections[METRICS_FTP], 1);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->state = SESSION_USER;
	log_debug(TAG, "%s: connected", s->peer_str);
	ftp_arm(s->ev_timer, srv->cfg.login_timeout_s);
	ftp_reply(s, 220, "autoprov FTP server ready.");
	ftp_session_settle(s);
	return;
fail:
	session_free(s); /* half built: fd is still ours */
	turn_away(fd, "Server error, try again later.");
}

/* The listener asks before each accept: room, or a session not logged in dropped for it. */
static bool session_room(void *arg)
{
	struct ftp_server *srv = arg;
	unsigned held;

	/* every worker's sessions (ftp_server_share) */
	if (peer_table_total(&srv->peers) < srv->cfg.max_sessions ||
	    drop_waiting(srv, NULL, "max_sessions"))
		return true;
	if (log_limit_ok(&srv->log_full, &held))
		log_warnx(TAG,
			  "%u sessions, all logged in: no more accepted until one ends (said %u "
			  "more times since the last line)",
			  srv->cfg.max_sessions, held);
	return false;
}

/* Out of descriptors: a waiting session's is worth more to a new one. */
static bool session_free_one(void *arg)
{
	return drop_waiting(arg, NULL, "open files");
}

static void session_accepted(void *arg, int fd, const struct addr *peer)
{
	session_new(arg, fd, peer);
}

static const struct net_listener_ops listener_ops = {
	.room = session_room,
	.free_one = session_free_one,
	.accepted = session_accepted,
};

int ftp_server_new(struct event_base *base, struct site *site, const char *site_dir,
		   const struct ftp_config *cfg, SSL_CTX *tls, struct ftp_server **ret, char *err,
		   size_t errsz)
{
	struct ftp_server *srv;
	int r;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->site = site;
	srv->cfg = *cfg;
	if (peer_table_init(&srv->peers, PEER_BUCKETS) < 0) {
		free(srv);
		return -ENOMEM;
	}
	if (peer_table_init(&srv->prefixes, PEER_BUCKETS) < 0) {
		peer_table_destroy(&srv->peers);
		free(srv);
		return -ENOMEM;
	}
	if (tls && cfg->tls != FTP_TLS_OFF) {
		SSL_CTX_up_ref(tls);
		srv->tls = tls;
	}
	ftp_passive_range(cfg, &srv->passive_min, &srv->passive_span);
	srv->next_passive =
		((unsigned)time(NULL) ^ (unsigned)getpid() * 2654435761u) % srv->passive_span;
	r = site_tree_open(site_dir, &srv->tree);
	if (r < 0) {
		snprintf(err, errsz, "ftp: %s: %s", site_dir, strerror(-r));
		goto fail;
	}
	/* no deferred accept: the server speaks first (220) */
	r = net_listener_new(base, TAG, &cfg->listen, 0, &listener_ops, srv, &srv->listener, err,
			     errsz);
	if (r < 0)
		goto fail;
	*ret = srv;
	return 0;
fail:
	ftp_server_free(srv);
	return r;
}

void ftp_server_free(struct ftp_server *srv)
{
	if (!srv)
		return;
	net_listener_free(srv->listener);
	srv->listener = NULL; /* ending sessions resume nothing */
	while (srv->sessions)
		session_free(srv->sessions);
	peer_table_destroy(&srv->peers);
	peer_table_destroy(&srv->prefixes);
	site_tree_free(srv->tree);
	if (srv->tls)
		SSL_CTX_free(srv->tls);
	free(srv);
}

void ftp_server_set_config(struct ftp_server *srv, const struct ftp_config *cfg, SSL_CTX *tls)
{
	struct addr listen = srv->cfg.listen;

	srv->cfg = *cfg;
	srv->cfg.listen = listen;
	srv->cfg.enabled = true;
	if (cfg->tls == FTP_TLS_OFF) {
		if (srv->tls)
			SSL_CTX_free(srv->tls);
		srv->tls = NULL; /* sessions in TLS keep their own references */
	} else if (tls) {
		SSL_CTX_up_ref(tls);
		if (srv->tls)
			SSL_CTX_free(srv->tls);
		srv->tls = tls;
	}
	ftp_passive_range(&srv->cfg, &srv->passive_min, &srv->passive_span);
	srv->next_passive %= srv->passive_span;
	if (peer_table_total(&srv->peers) < srv->cfg.max_sessions)
		net_listener_resume(srv->listener);
}

void ftp_server_share(struct ftp_server *srv, struct ftp_server *first)
{
	peer_table_share(&srv->peers, &first->peers);
	peer_table_share(&srv->prefixes, &first->prefixes);
}

uint16_t ftp_server_port(const struct ftp_server *srv)
{
	return net_listener_port(srv->listener);
}
