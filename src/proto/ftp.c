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
 * PROT P (the control connection's TLS context, so that its session resumes there). Callbacks never free a session in the middle of their work: they mark it,
 * and session_settle() at their end frees it or updates its events.
 *
 * Sessions are limited per peer address, per prefix (/24, /64) and overall; sessions not
 * logged in yet wait on a queue, oldest first, and when the prefix's budget, the total or
 * the descriptors run out, the oldest of them (one that sent no command yet if there is
 * one) is closed (421) to admit the new connection,
 * so that a flood of connections that never log in cannot keep a device out. What a flood
 * makes happen many times a second is logged once a second per kind, with a count.
 */
#include "proto/ftp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loglimit.h"
#include "core/peers.h"
#include "core/str.h"
#include "net/listener.h"
#include "net/stream.h"
#include "proto/ftp_parse.h"
#include "site/directory.h"
#include "site/exchange.h"
#include "site/metrics.h"
#include "site/site.h"

#define TAG "ftp"

#define READ_BUF      4096
#define OUT_MAX	      8192
#define SEND_BUDGET   (4u << 20) /* bytes per write callback, then other sessions' turn */
#define ASCII_BUF     65536
#define PATH_LOG_MAX  512
#define CLOSE_GRACE_S 5
#define PEER_BUCKETS  1024 /* a power of two */
/* An over-long command line is skipped to its end; beyond this, the session is closed. */
#define ABSURD_LINE 65536
#define PREFIX_V4   24 /* the prefix of max_sessions_per_prefix */
#define PREFIX_V6   64

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

enum session_state {
	SESSION_USER,	 /* greeting sent: waiting for USER */
	SESSION_PASS,	 /* USER taken: waiting for PASS */
	SESSION_DELAYED, /* a login failed: input waits until the timer answers 530 */
	SESSION_READY,	 /* logged in */
	SESSION_CLOSING, /* the last reply is going out; closed once sent or at the timer */
	_SESSION_STATE_MAX,
};

static const char *const session_state_names[_SESSION_STATE_MAX] = {
	[SESSION_USER] = "user",   [SESSION_PASS] = "pass",	  [SESSION_DELAYED] = "delayed",
	[SESSION_READY] = "ready", [SESSION_CLOSING] = "closing",
};

enum data_state {
	DATA_NONE,	 /* nothing prepared: a transfer command gets 425 */
	DATA_LISTENING,	 /* PASV / EPSV: listening for the client */
	DATA_ACTIVE,	 /* PORT / EPRT: the address to connect to when a transfer starts */
	DATA_CONNECTING, /* connecting to that address */
	DATA_HANDSHAKE,	 /* connected; TLS being negotiated (PROT P) */
	DATA_OPEN,	 /* connected, waiting for a transfer command (or for its turn) */
	DATA_SENDING,	 /* a transfer is being sent */
	_DATA_STATE_MAX,
};

static const char *const data_state_names[_DATA_STATE_MAX] = {
	[DATA_NONE] = "none",		[DATA_LISTENING] = "listening",
	[DATA_ACTIVE] = "active",	[DATA_CONNECTING] = "connecting",
	[DATA_HANDSHAKE] = "handshake", [DATA_OPEN] = "open",
	[DATA_SENDING] = "sending",
};

enum login_kind {
	LOGIN_NONE,
	LOGIN_USER,	 /* a site user: every file */
	LOGIN_DEVICE,	 /* a device: generic files and its own */
	LOGIN_ANONYMOUS, /* generic files only */
};

/* What a transfer command (RETR, LIST, NLST, MLSD) sends, from its 150 to its 226. */
struct transfer {
	bool active;
	const char *verb;
	struct site_file *file; /* RETR: the snapshot */
	uint8_t *owned;		/* a listing's text */
	const uint8_t *data;
	size_t size, off; /* what to send, and how far the source has been sent */
	bool ascii;
	struct ftp_ascii astate;
	uint8_t *abuf; /* TYPE A: converted bytes waiting to be sent */
	size_t alen, aoff;
	uint64_t sent, rest;
	char path[PATH_LOG_MAX]; /* "/name", escaped for the log */
	char mac[MAC_LEN + 1];
	struct timespec started;
};

struct session {
	struct ftp_server *srv;
	enum session_state state;
	struct net_stream *ctl; /* the control connection, plain or TLS */
	struct event *ev_timer;
	bool read_wants_write, write_wants_read; /* TLS waits for the other direction */
	struct addr peer, local;
	char peer_str[ADDR_STRLEN];
	struct peer_count *peer_entry, *prefix_entry;
	struct wait_queue *waitq;	       /* &srv->silent, &srv->talking, or NULL */
	struct session *wait_prev, *wait_next; /* on it */

	uint8_t rbuf[READ_BUF];
	size_t roff, rlen;
	struct ftp_line_reader lines;
	char *line;
	bool held; /* the line in `lines` waits for the transfer to end */

	char out[OUT_MAX];
	size_t outlen, outoff;

	char user[AUTH_NAME_MAX + 1];
	bool user_bad; /* too long or not printable: the login will fail */
	enum login_kind login;
	char mac[MAC_LEN + 1]; /* a device login's */
	unsigned failures;
	unsigned delay_ms;

	char cwd[PATH_MAX]; /* normalised, "" for the top */
	bool ascii;
	bool epsv_all;
	uint64_t rest;

	enum data_state dstate;
	int dfd;		 /* the passive listener, or the socket connecting to PORT's */
	struct event *ev_data;	 /* its event */
	struct net_stream *data; /* the data connection once made, plain or TLS */
	struct event *ev_data_timer;
	struct addr active_to;
	struct transfer xfer;

	bool tls;	   /* AUTH TLS: the control connection is TLS */
	bool handshake;	   /* its TLS handshake is in progress */
	bool prot_private; /* PROT P: data connections in TLS too */

	bool dead; /* to be freed by session_settle() */
	struct session *prev, *next;
};

struct ftp_server {
	struct event_base *base;
	struct site *site;
	struct site_tree *tree;
	struct ftp_config cfg;
	struct net_listener *listener;
	struct session *sessions;
	unsigned nsessions;
	struct peer_table peers;	    /* sessions per address */
	SSL_CTX *tls;			    /* NULL: no FTPS */
	unsigned passive_min, passive_span; /* passive_range() */
	unsigned next_passive;		    /* where the next search starts, 0..span-1 */
	struct peer_table prefixes;	    /* sessions per /24 or /64 */
	/*
	 * Sessions not logged in, oldest first: those that sent no command yet, then those
	 * that did (a client logging in sends USER at once); dropped in this order.
	 */
	struct wait_queue {
		struct session *head, *tail;
	} silent, talking;
	struct log_limit log_refused, log_full, log_dropped, log_login_timeout;
};

static void session_free(struct session *s);
static void session_settle(struct session *s);
static void data_start(struct session *s);
static void control_handshake(struct session *s);

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
static void wait_enter(struct session *s, struct wait_queue *q)
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

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void session_set_state(struct session *s, enum session_state state)
{
	log_transition(TAG, s->peer_str, "session", session_state_names, s->state, state);
	s->state = state;
	if (state == SESSION_READY)
		wait_leave(s); /* logged in: never dropped for a newcomer */
}

static void data_set_state(struct session *s, enum data_state state)
{
	log_transition(TAG, s->peer_str, "data", data_state_names, s->dstate, state);
	s->dstate = state;
}

static void arm(struct event *ev, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	evtimer_add(ev, &tv);
}

static void arm_ms(struct event *ev, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* ---- replies ---- */

/* Queues raw reply bytes; a client that lets replies pile up is dropped. */
static void send_raw(struct session *s, const char *text, size_t len)
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

__attribute__((format(printf, 3, 4))) static void reply(struct session *s, unsigned code,
							const char *fmt, ...)
{
	char text[1024], line[1100];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = ftp_format_reply(line, sizeof(line), code, false, text);
	send_raw(s, line, n);
}

/* Writes what is queued; false when the connection failed. */
static bool flush_out(struct session *s)
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
static void session_close_after(struct session *s)
{
	session_set_state(s, SESSION_CLOSING);
	arm(s->ev_timer, CLOSE_GRACE_S);
}

/* ---- journal and log ---- */

static const char *login_name(const struct session *s, char *buf, size_t sz)
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
static void log_request(struct session *s, enum outcome o, const char *verb, const char *path,
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
		 login_name(s, user, sizeof(user)));
	exchange_close(&x, o, NULL, bytes, md5, tail);
}

/* "/path" escaped for the journal and the log: the normalised path, or what was sent. */
static void log_path(char *buf, size_t sz, const char *path, const char *arg, size_t arg_len)
{
	char tmp[PATH_MAX + 2];

	if (path) {
		snprintf(tmp, sizeof(tmp), "/%s", path);
		log_escape(buf, sz, tmp, strlen(tmp));
	} else {
		log_escape(buf, sz, arg, arg_len);
	}
}

/* ---- the data connection ---- */

static void transfer_done(struct transfer *x)
{
	site_file_unref(x->file);
	free(x->owned);
	free(x->abuf);
	memset(x, 0, sizeof(*x));
}

/* Closes the data connection or listener (the transfer stays). */
static void data_close(struct session *s)
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
	data_set_state(s, DATA_NONE);
}

/* Ends the transfer in progress with its journal entry and log line (no reply). */
static void transfer_end(struct session *s, enum outcome o, const char *detail)
{
	struct transfer *x = &s->xfer;
	bool whole = x->rest == 0 && o == OUTCOME_SENT;

	if (!x->active)
		return;
	if (o == OUTCOME_SENT && x->rest > 0)
		o = OUTCOME_PARTIAL;
	metrics_sub(&site_metrics(s->srv->site)->transfers[METRICS_FTP], 1);
	log_request(s, o, x->verb, x->path, x->sent, &x->started, x->mac,
		    whole && x->file ? site_file_md5(x->file) : NULL, detail);
	transfer_done(x);
	if (s->state == SESSION_READY)
		arm(s->ev_timer, s->srv->cfg.idle_timeout_s);
}

static void data_fail(struct session *s, unsigned code, const char *text, enum outcome o,
		      const char *detail)
{
	data_close(s);
	if (s->xfer.active) {
		reply(s, code, "%s", text);
		transfer_end(s, o, detail);
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
		data_close(s);
		reply(s, 226, "%s", x->owned ? "Directory send OK." : "Transfer complete.");
		transfer_end(s, OUTCOME_SENT, NULL);
		return;
	}
	arm(s->ev_data_timer, s->srv->cfg.data_timeout_s); /* progress: the stall timer again */
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
	session_settle(s);
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
	data_set_state(s, DATA_HANDSHAKE);
	arm(s->ev_data_timer, s->srv->cfg.data_timeout_s);
	data_handshake(s);
}

/* The data connection is ready for bytes: a transfer waiting for it starts. */
static void data_open(struct session *s)
{
	net_stream_watch(s->data, 0);
	data_set_state(s, DATA_OPEN);
	if (s->xfer.active)
		data_start(s);
	else
		arm(s->ev_data_timer, s->srv->cfg.data_timeout_s); /* for the command to come */
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
	data_set_state(s, DATA_SENDING);
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
	session_settle(s);
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
	session_settle(s);
}

static void on_data_timeout(evutil_socket_t fd, short what, void *arg)
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
	default: data_close(s); break;
	}
	session_settle(s);
}

/*
 * The ports passive listeners take: the configured range, else the kernel's ephemeral range.
 * Ports are picked here, one after another from a random start, rather than by bind() to
 * port 0: with tens of thousands of connections in TIME_WAIT (a busy server closes its data
 * connections first), the kernel's own search for a free port costs milliseconds a bind.
 */
static void passive_range(const struct ftp_config *cfg, unsigned *ret_min, unsigned *ret_span)
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
		reply(s, 425, "A transfer is in progress.");
		return true;
	}
	data_close(s);
	return false;
}

static void cmd_pasv(struct session *s, bool extended, const struct ftp_command *c)
{
	char text[128];
	uint16_t port = 0;
	int fd;

	if (extended) {
		int family;
		bool all;
		int r = ftp_parse_epsv(c->arg, c->arg_len, &family, &all);

		if (r == -EAFNOSUPPORT || (r == 0 && family && family != s->local.ss.ss_family)) {
			reply(s, 522, "Network protocol not supported, use (%d)",
			      s->local.ss.ss_family == AF_INET ? 1 : 2);
			return;
		}
		if (r < 0) {
			reply(s, 501, "Syntax error in EPSV's argument.");
			return;
		}
		if (all) {
			s->epsv_all = true;
			reply(s, 200, "EPSV ALL ok.");
			return;
		}
	} else if (s->epsv_all) {
		reply(s, 503, "EPSV ALL was given: use EPSV.");
		return;
	} else if (s->local.ss.ss_family != AF_INET && !s->srv->cfg.has_passive_address) {
		reply(s, 425, "PASV needs IPv4: use EPSV.");
		return;
	}
	if (data_busy(s))
		return;
	fd = passive_listen(s, &port);
	if (fd < 0) {
		errno = -fd;
		log_warn(TAG, "%s: passive listener", s->peer_str);
		reply(s, 425, "No passive port available, try again later.");
		return;
	}
	s->dfd = fd;
	if (data_watch(s, EV_READ | EV_PERSIST, on_data_accept) < 0) {
		data_close(s);
		reply(s, 425, "Cannot open data connection.");
		return;
	}
	data_set_state(s, DATA_LISTENING);
	arm(s->ev_data_timer, s->srv->cfg.data_timeout_s);
	if (extended) {
		ftp_format_epsv(text, sizeof(text), port);
		reply(s, 229, "%s", text);
	} else {
		struct in_addr a = s->srv->cfg.has_passive_address
					   ? s->srv->cfg.passive_address
					   : ((struct sockaddr_in *)&s->local.ss)->sin_addr;

		ftp_format_pasv(text, sizeof(text), &a, port);
		reply(s, 227, "%s", text);
	}
}

static void cmd_port(struct session *s, bool extended, const struct ftp_command *c)
{
	struct addr to = { 0 };
	int r;

	if (!s->srv->cfg.active) {
		reply(s, 502, "Active mode is off on this server: use EPSV or PASV.");
		return;
	}
	if (s->epsv_all) {
		reply(s, 503, "EPSV ALL was given: use EPSV.");
		return;
	}
	if (extended) {
		r = ftp_parse_eprt(c->arg, c->arg_len, &to.ss, &to.len);
		if (r == -EAFNOSUPPORT) {
			reply(s, 522, "Network protocol not supported, use (%d)",
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
		reply(s, 501, "Syntax error in %s's argument.", c->name);
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
		reply(s, 500, "Illegal %s command: only to your own address, port 1024 or above.",
		      c->name);
		return;
	}
	if (data_busy(s))
		return;
	s->active_to = to;
	data_set_state(s, DATA_ACTIVE);
	reply(s, 200, "%s command successful. Consider using EPSV.", c->name);
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
	data_set_state(s, DATA_CONNECTING);
	arm(s->ev_data_timer, s->srv->cfg.data_timeout_s);
	return data_watch(s, EV_WRITE, on_data_connected);
}

/*
 * Sends 150 and starts x (set up by the caller) as soon as the data connection allows:
 * now when it is open, once the client connects to the listener, after connecting to
 * PORT's address.
 */
static void transfer_begin(struct session *s, const char *what)
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
			reply(s, 451, "Out of memory, try again later.");
			transfer_end(s, OUTCOME_ERROR, "out of memory");
			return;
		}
	}
	reply(s, 150, "%s", what);
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

/* ---- names and files ---- */

/* Who the session's login is, for the access rule (site/exchange.h). */
static void principal_of(const struct session *s, struct principal *p)
{
	memset(p, 0, sizeof(*p));
	switch (s->login) {
	case LOGIN_USER: p->kind = PRINCIPAL_USER; break;
	case LOGIN_DEVICE:
		p->kind = PRINCIPAL_DEVICE;
		str_copy(p->mac, sizeof(p->mac), s->mac);
		p->how = "login";
		break;
	default: p->kind = PRINCIPAL_ANONYMOUS; break; /* generic files only */
	}
}

static void request_of(const struct session *s, struct site_request *req)
{
	*req = (struct site_request){
		.proto = "ftp",
		.peer = (const struct sockaddr *)&s->peer.ss,
		.local = (const struct sockaddr *)&s->local.ss,
	};
}

/*
 * Opens the exchange of a command's file name, from the working directory, with the access
 * rule of the login. OUTCOME_SENT with x->file; else the outcome (REFUSED a name leaving the
 * site, NOT_FOUND with path "" for the top, DENIED another device's file, BLOCKED, ...).
 * path gets the normalised path ("" when refused).
 */
static enum outcome session_resolve(struct session *s, const char *arg, size_t len, char *path,
				    size_t pathsz, struct exchange *x)
{
	struct principal who;
	int r;

	exchange_begin(x, s->srv->site, "ftp", (const struct sockaddr *)&s->peer.ss,
		       (const struct sockaddr *)&s->local.ss, NULL);
	r = ftp_path_resolve(s->cwd, arg, len, s->srv->cfg.max_command_length, path, pathsz);
	if (r < 0) {
		path[0] = '\0';
		return OUTCOME_REFUSED;
	}
	if (!path[0])
		return OUTCOME_NOT_FOUND;
	principal_of(s, &who);
	return exchange_open(x, NULL, path, strlen(path), &who);
}

/* Replies to a command whose file did not open: the table's reply, and a block closes. */
static void resolve_failed(struct session *s, enum outcome o, const char *path)
{
	unsigned code = 550;
	const char *text = ftp_outcome_reply(o, &code);

	if (o == OUTCOME_NOT_FOUND && !path[0])
		text = "Not a plain file.";
	reply(s, code, "%s", text);
	/* 421 closes the control connection (RFC 959) */
	if (o == OUTCOME_BLOCKED || o == OUTCOME_UNAVAILABLE)
		session_close_after(s);
}

static bool data_prepared(struct session *s)
{
	if (s->dstate == DATA_NONE) {
		reply(s, 425, "Use EPSV or PASV first.");
		return false;
	}
	return true;
}

static void cmd_retr(struct session *s, const struct ftp_command *c)
{
	struct transfer *x = &s->xfer;
	struct exchange ex;
	struct site_file *f;
	char path[PATH_MAX], what[PATH_LOG_MAX + 64];
	uint64_t rest = s->rest;
	enum outcome o;
	int r = 0;

	s->rest = 0;
	if (!data_prepared(s))
		return;
	o = session_resolve(s, c->arg, c->arg_len, path, sizeof(path), &ex);
	memset(x, 0, sizeof(*x));
	log_path(x->path, sizeof(x->path), path[0] ? path : NULL, c->arg, c->arg_len);
	if (o != OUTCOME_SENT) {
		resolve_failed(s, o, path);
		log_request(s, o, "RETR", x->path, 0, NULL, ex.req.mac, NULL, ex.detail);
		data_close(s);
		return;
	}
	f = ex.file;
	ex.file = NULL; /* the transfer's now */
	x->verb = "RETR";
	x->file = f;
	x->data = f->data;
	x->size = f->size;
	x->ascii = s->ascii;
	x->rest = rest;
	memcpy(x->mac, ex.req.mac, sizeof(x->mac));
	if (x->ascii) {
		if (ftp_ascii_seek(f->data, f->size, rest, &x->off, &x->astate) < 0)
			r = -ERANGE;
	} else if (rest > f->size) {
		r = -ERANGE;
	} else {
		x->off = (size_t)rest;
	}
	if (r < 0) {
		reply(s, 554, "Restart position %llu is beyond the end of the file.",
		      (unsigned long long)rest);
		log_request(s, OUTCOME_BAD_REQUEST, "RETR", x->path, 0, NULL, x->mac, NULL,
			    "restart position beyond the end");
		transfer_done(x);
		data_close(s);
		return;
	}
	snprintf(what, sizeof(what), "Opening %s mode data connection for %s (%llu bytes).",
		 x->ascii ? "ASCII" : "BINARY", x->path,
		 (unsigned long long)(x->ascii ? ftp_ascii_size(f->data, f->size) : f->size));
	transfer_begin(s, what);
}

/* SIZE and MDTM: the file as RETR would send it (not journaled). */
static void cmd_stat_file(struct session *s, const struct ftp_command *c)
{
	struct exchange ex;
	struct site_file *f;
	char path[PATH_MAX], when[32];
	enum outcome o = session_resolve(s, c->arg, c->arg_len, path, sizeof(path), &ex);

	if (o != OUTCOME_SENT) {
		if (o == OUTCOME_NOT_FOUND && path[0] &&
		    site_dir_check(s->srv->site, s->srv->tree, path,
				   s->login == LOGIN_DEVICE ? s->mac : "") == 0) {
			reply(s, 550, "Not a plain file.");
			return;
		}
		resolve_failed(s, o, path);
		return;
	}
	f = ex.file;
	ex.file = NULL;
	if (c->verb == FTP_CMD_SIZE) {
		reply(s, 213, "%llu",
		      (unsigned long long)(s->ascii ? ftp_ascii_size(f->data, f->size) : f->size));
	} else {
		time_t t = f->mtime.tv_sec     ? f->mtime.tv_sec
			   : f->read_at.tv_sec ? f->read_at.tv_sec
					       : time(NULL);

		ftp_format_time(when, sizeof(when), t);
		reply(s, 213, "%s", when);
	}
	site_file_unref(f);
}

/* ---- listings ---- */

struct text {
	uint8_t *buf;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		uint8_t *b;

		while (cap < t->len + n)
			cap *= 2;
		b = realloc(t->buf, cap);
		if (!b)
			return -ENOMEM;
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return 0;
}

static int list_line(struct text *t, enum ftp_verb verb, const struct ftp_fact *f, time_t now)
{
	char line[PATH_MAX + 200];
	int n;

	switch (verb) {
	case FTP_CMD_NLST: n = snprintf(line, sizeof(line), "%s\r\n", f->name); break;
	case FTP_CMD_MLSD: n = ftp_format_mlsx(line, sizeof(line), f); break;
	default: n = ftp_format_list(line, sizeof(line), f, now); break;
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return 0; /* a name too long for a line is left out */
	return text_add(t, line, (size_t)n);
}

/* LIST's and NLST's argument without the ls options clients add ("-la", "-a -l"). */
static void skip_ls_options(const char **arg, size_t *len)
{
	while (*len && (*arg)[0] == '-') {
		while (*len && (*arg)[0] != ' ') {
			(*arg)++;
			(*len)--;
		}
		while (*len && (*arg)[0] == ' ') {
			(*arg)++;
			(*len)--;
		}
	}
}

static void cmd_list(struct session *s, const struct ftp_command *c)
{
	struct transfer *x = &s->xfer;
	const char *arg = c->arg;
	size_t len = c->arg_len;
	const char *mac = s->login == LOGIN_DEVICE ? s->mac : "";
	struct site_request req;
	struct site_dirent *entries = NULL;
	size_t n = 0;
	struct text t = { 0 };
	char path[PATH_MAX];
	time_t now = time(NULL);
	int r;

	s->rest = 0;
	if (!data_prepared(s))
		return;
	if (c->verb != FTP_CMD_MLSD)
		skip_ls_options(&arg, &len);
	memset(x, 0, sizeof(*x));
	r = ftp_path_resolve(s->cwd, arg, len, s->srv->cfg.max_command_length, path, sizeof(path));
	log_path(x->path, sizeof(x->path), r == 0 ? path : NULL, arg, len);
	if (r < 0) {
		reply(s, 550, "Access denied.");
		log_request(s, OUTCOME_REFUSED, c->name, x->path, 0, NULL, NULL, NULL, NULL);
		data_close(s);
		return;
	}
	request_of(s, &req);
	r = site_list(s->srv->site, s->srv->tree, path, mac, &req, &entries, &n);
	if (r == 0) {
		for (size_t i = 0; i < n && r == 0; i++) {
			struct ftp_fact f = {
				.name = entries[i].name,
				.dir = entries[i].dir,
				.size = entries[i].size,
				.mtime = entries[i].mtime.tv_sec,
			};

			r = list_line(&t, c->verb, &f, now);
		}
		site_dirents_free(entries, n);
	} else if ((r == -ENOTDIR || r == -ENOENT) && c->verb != FTP_CMD_MLSD && path[0]) {
		/* a file: its own line, as ls(1) gives, opened as RETR opens it */
		struct exchange ex;
		enum outcome o = session_resolve(s, arg, len, path, sizeof(path), &ex);
		struct ftp_fact fact = { .name = strrchr(path, '/') };

		if (o != OUTCOME_SENT) {
			resolve_failed(s, o, path);
			log_request(s, o, c->name, x->path, 0, NULL, ex.req.mac, NULL, ex.detail);
			data_close(s);
			return;
		}
		fact.name = fact.name ? fact.name + 1 : path;
		fact.size = ex.file->size;
		fact.mtime = ex.file->mtime.tv_sec ? ex.file->mtime.tv_sec : now;
		r = list_line(&t, c->verb, &fact, now);
		site_file_unref(ex.file);
	} else if (r == -ENOTDIR) {
		reply(s, 501, "Not a directory.");
		data_close(s);
		return;
	}
	if (r < 0) {
		free(t.buf);
		reply(s, r == -ENOMEM ? 451 : 550, "%s",
		      r == -ENOMEM ? "Out of memory, try again later." : "No such directory.");
		log_request(s,
			    r == -ENOMEM  ? OUTCOME_ERROR
			    : r == -EPERM ? OUTCOME_DENIED
					  : OUTCOME_NOT_FOUND,
			    c->name, x->path, 0, NULL, NULL, NULL, NULL);
		data_close(s);
		return;
	}
	x->verb = ftp_verb_name(c->verb);
	x->owned = t.buf ? t.buf : malloc(1);
	if (!x->owned) {
		reply(s, 451, "Out of memory, try again later.");
		data_close(s);
		return;
	}
	x->data = x->owned;
	x->size = t.len;
	transfer_begin(s, "Here comes the directory listing.");
}

static void cmd_mlst(struct session *s, const struct ftp_command *c)
{
	const char *mac = s->login == LOGIN_DEVICE ? s->mac : "";
	char path[PATH_MAX], line[PATH_MAX + 200], shown[PATH_MAX + 2], head[64];
	struct ftp_fact f = { .mtime = time(NULL) };
	size_t n;
	struct exchange ex;
	enum outcome o;
	int r;

	r = ftp_path_resolve(s->cwd, c->arg, c->arg_len, s->srv->cfg.max_command_length, path,
			     sizeof(path));
	if (r < 0) {
		reply(s, 550, "Access denied.");
		return;
	}
	snprintf(shown, sizeof(shown), "/%s", path);
	f.name = shown;
	if (site_dir_check(s->srv->site, s->srv->tree, path, mac) == 0) {
		f.dir = true;
	} else {
		o = session_resolve(s, c->arg, c->arg_len, path, sizeof(path), &ex);
		if (o == OUTCOME_BLOCKED) {
			resolve_failed(s, o, path);
			return;
		}
		if (o != OUTCOME_SENT) {
			reply(s, 550, "No such file or directory.");
			return;
		}
		f.size = ex.file->size;
		if (ex.file->mtime.tv_sec)
			f.mtime = ex.file->mtime.tv_sec;
		site_file_unref(ex.file);
		ex.file = NULL;
	}
	if (ftp_format_mlsx(line + 1, sizeof(line) - 1, &f) < 0) {
		reply(s, 550, "Name too long.");
		return;
	}
	line[0] = ' ';
	n = ftp_format_reply(head, sizeof(head), 250, true, "Listing");
	send_raw(s, head, n);
	send_raw(s, line, strlen(line));
	reply(s, 250, "End.");
}

/* ---- logins ---- */

static bool is_anonymous_name(const char *user)
{
	return strcasecmp(user, "anonymous") == 0 || strcasecmp(user, "ftp") == 0;
}

static void cmd_user(struct session *s, const struct ftp_command *c)
{
	if (s->state == SESSION_READY) {
		reply(s, 530, "Already logged in: cannot change to another user.");
		return;
	}
	s->user_bad = c->arg_len == 0 || c->arg_len > AUTH_NAME_MAX;
	for (size_t i = 0; i < c->arg_len && !s->user_bad; i++)
		if ((unsigned char)c->arg[i] < 0x20 || c->arg[i] == 0x7f)
			s->user_bad = true;
	if (c->arg_len == 0) {
		reply(s, 501, "USER needs a name.");
		return;
	}
	snprintf(s->user, sizeof(s->user), "%.*s",
		 (int)(c->arg_len > AUTH_NAME_MAX ? AUTH_NAME_MAX : c->arg_len), c->arg);
	session_set_state(s, SESSION_PASS);
	if (s->srv->cfg.anonymous && !s->user_bad && is_anonymous_name(s->user))
		reply(s, 331, "Anonymous login ok, send your e-mail address as password.");
	else
		reply(s, 331, "Password required.");
}

/* Whether password (len bytes) is the principal's, in time that depends on len only. */
static bool password_matches(const struct auth_principal *p, const char *password, size_t len)
{
	size_t pl = strlen(p->password);
	char padded[AUTH_PASSWORD_MAX + 1] = { 0 };
	bool same;

	if (len > AUTH_PASSWORD_MAX)
		return false;
	memcpy(padded, password, len);
	same = CRYPTO_memcmp(padded, p->password, AUTH_PASSWORD_MAX + 1) == 0;
	OPENSSL_cleanse(padded, sizeof(padded));
	return same && pl == len;
}

static void cmd_pass(struct session *s, const struct ftp_command *c)
{
	struct auth_principal who;
	char user[AUTH_NAME_MAX * 4 + 8];
	bool ok = false;
	int r = 0;

	if (s->state == SESSION_READY) {
		reply(s, 230, "Already logged in.");
		return;
	}
	if (s->state != SESSION_PASS) {
		reply(s, 503, "Login with USER first.");
		return;
	}
	if (s->srv->cfg.anonymous && !s->user_bad && is_anonymous_name(s->user)) {
		s->login = LOGIN_ANONYMOUS;
		ok = true;
	} else if (!s->user_bad && (r = site_auth_lookup(s->srv->site, s->user, &who)) == 0) {
		ok = password_matches(&who, c->arg, c->arg_len);
		if (ok) {
			s->login = who.mac[0] ? LOGIN_DEVICE : LOGIN_USER;
			memcpy(s->mac, who.mac, sizeof(s->mac));
		}
		OPENSSL_cleanse(&who, sizeof(who));
	}
	if (r == DIRECTORY_UNAVAILABLE) {
		/* the device's password cannot be read now: "try later", not a failed login */
		unsigned code = 421;
		const char *text = ftp_outcome_reply(OUTCOME_UNAVAILABLE, &code);

		reply(s, code, "%s", text);
		session_close_after(s);
		return;
	}
	if (ok) {
		site_auth_succeeded(s->srv->site, (struct sockaddr *)&s->peer.ss, s->user);
		session_set_state(s, SESSION_READY);
		arm(s->ev_timer, s->srv->cfg.idle_timeout_s);
		log_debug(TAG, "%s: logged in as %s", s->peer_str,
			  login_name(s, user, sizeof(user)));
		reply(s, 230, "Login successful.");
		return;
	}
	s->failures++;
	{
		struct site_request req;

		request_of(s, &req);
		(void)site_miss(s->srv->site, &req, NULL);
	}
	s->delay_ms = site_auth_failed(s->srv->site, (struct sockaddr *)&s->peer.ss, s->user);
	log_escape(user, sizeof(user), s->user, strlen(s->user));
	log_warnx(TAG, "%s: login failed for user \"%s\" (%u in this session), answered in %u ms",
		  s->peer_str, user, s->failures, s->delay_ms);
	session_set_state(s, SESSION_DELAYED);
	arm_ms(s->ev_timer, s->delay_ms);
}

/* The delay of a failed login is over: 530, and another try or the end. */
static void login_delay_over(struct session *s)
{
	reply(s, 530, "Login incorrect.");
	s->user[0] = '\0';
	if (site_blocked(s->srv->site, (struct sockaddr *)&s->peer.ss) > 0) {
		reply(s, 421, "Blocked: too many failed logins, closing.");
		session_close_after(s);
		return;
	}
	if (s->failures >= s->srv->cfg.max_login_failures) {
		reply(s, 421, "Too many failed logins, closing.");
		session_close_after(s);
		return;
	}
	session_set_state(s, SESSION_USER);
	arm(s->ev_timer, s->srv->cfg.login_timeout_s);
}

/* ---- other commands ---- */

static void cmd_cwd(struct session *s, const struct ftp_command *c, bool up)
{
	const char *mac = s->login == LOGIN_DEVICE ? s->mac : "";
	char path[PATH_MAX];
	int r;

	if (up) {
		ftp_path_parent(s->cwd);
		reply(s, 250, "Directory successfully changed.");
		return;
	}
	r = ftp_path_resolve(s->cwd, c->arg, c->arg_len, s->srv->cfg.max_command_length, path,
			     sizeof(path));
	if (r < 0) {
		char shown[PATH_LOG_MAX];

		log_escape(shown, sizeof(shown), c->arg, c->arg_len);
		log_warnx(TAG, "%s: CWD \"%s\" refused: access violation", s->peer_str, shown);
		reply(s, 550, "Access denied.");
		return;
	}
	if (site_dir_check(s->srv->site, s->srv->tree, path, mac) < 0) {
		reply(s, 550, "Failed to change directory.");
		return;
	}
	snprintf(s->cwd, sizeof(s->cwd), "%s", path);
	reply(s, 250, "Directory successfully changed.");
}

static void cmd_pwd(struct session *s)
{
	char q[PATH_MAX + 8];

	if (ftp_quote_path(q, sizeof(q), s->cwd) < 0)
		snprintf(q, sizeof(q), "\"/\"");
	reply(s, 257, "%s is the current directory", q);
}

static void cmd_feat(struct session *s)
{
	static const char head[] = "211-Features:\r\n";
	static const char tls_feat[] = " AUTH TLS\r\n PBSZ\r\n PROT\r\n";
	static const char eprt_feat[] = " EPRT\r\n";
	static const char body[] = " EPSV\r\n MDTM\r\n MLST type*;size*;modify*;perm*;\r\n"
				   " PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n";

	send_raw(s, head, sizeof(head) - 1);
	if (s->srv->tls)
		send_raw(s, tls_feat, sizeof(tls_feat) - 1);
	if (s->srv->cfg.active)
		send_raw(s, eprt_feat, sizeof(eprt_feat) - 1);
	send_raw(s, body, sizeof(body) - 1);
	reply(s, 211, "End");
}

/* ---- FTPS (RFC 4217) ---- */

static void cmd_auth(struct session *s, const struct ftp_command *c)
{
	if (!s->srv->tls) {
		reply(s, 502, "TLS is not available on this server.");
		return;
	}
	if (s->tls) {
		reply(s, 503, "TLS is already in use.");
		return;
	}
	if (s->state == SESSION_READY) {
		reply(s, 503, "AUTH must come before the login.");
		return;
	}
	if (!((c->arg_len == 3 &&
	       (strncasecmp(c->arg, "TLS", 3) == 0 || strncasecmp(c->arg, "SSL", 3) == 0)) ||
	      (c->arg_len == 5 && strncasecmp(c->arg, "TLS-C", 5) == 0))) {
		reply(s, 504, "AUTH type not supported: use AUTH TLS.");
		return;
	}
	reply(s, 234, "AUTH TLS successful.");
	/* the answer goes in clear; what follows is TLS */
	if (!flush_out(s) || s->outoff != s->outlen) {
		s->dead = true;
		return;
	}
	if (net_stream_tls_accept(s->ctl, s->srv->tls) < 0) {
		s->dead = true;
		return;
	}
	s->tls = true;
	/* commands sent in clear behind AUTH are dropped, never run as if protected */
	s->roff = s->rlen;
	ftp_line_init(&s->lines, s->line, s->lines.cap, ABSURD_LINE);
	s->handshake = true;
	control_handshake(s);
}

static void cmd_prot(struct session *s, const struct ftp_command *c)
{
	char level = c->arg_len == 1 ? (char)(c->arg[0] & ~0x20) : '?';

	if (!s->tls) {
		reply(s, 503, "PROT needs AUTH TLS first.");
		return;
	}
	switch (level) {
	case 'P':
		s->prot_private = true;
		reply(s, 200, "Protection level set to P.");
		break;
	case 'C':
		if (s->srv->cfg.tls == FTP_TLS_REQUIRED) {
			reply(s, 536, "Data connections must be protected here: use PROT P.");
			break;
		}
		s->prot_private = false;
		reply(s, 200, "Protection level set to C.");
		break;
	case 'S':
	case 'E': reply(s, 536, "Protection level not supported: use P or C."); break;
	default: reply(s, 504, "PROT takes C, S, E or P."); break;
	}
}

/* With [ftp] tls = required: 530 for a login, 521 for a transfer, without TLS. */
static bool tls_policy_refuses(struct session *s, enum ftp_verb v)
{
	if (s->srv->cfg.tls != FTP_TLS_REQUIRED || !s->srv->tls)
		return false;
	if ((v == FTP_CMD_USER || v == FTP_CMD_PASS) && !s->tls) {
		reply(s, 530, "TLS is required here: use AUTH TLS first.");
		return true;
	}
	if ((v == FTP_CMD_RETR || v == FTP_CMD_LIST || v == FTP_CMD_NLST || v == FTP_CMD_MLSD) &&
	    !s->prot_private) {
		reply(s, 521, "Data connections must be protected here: use PROT P.");
		return true;
	}
	return false;
}

static void cmd_opts(struct session *s, const struct ftp_command *c)
{
	if (c->arg_len >= 4 && strncasecmp(c->arg, "UTF8", 4) == 0 &&
	    (c->arg_len == 4 || c->arg[4] == ' ')) {
		reply(s, 200, "Always in UTF8 mode.");
		return;
	}
	if (c->arg_len >= 4 && strncasecmp(c->arg, "MLST", 4) == 0) {
		reply(s, 200, "MLST OPTS type;size;modify;perm;");
		return;
	}
	reply(s, 501, "Option not understood.");
}

static void cmd_help(struct session *s)
{
	static const char text[] =
		"214-The following commands are recognized:\r\n"
		" ABOR CDUP CWD EPRT EPSV FEAT HELP LIST MDTM MLSD MLST MODE NLST NOOP OPTS\r\n"
		" PASS PASV PORT PWD QUIT REST RETR SIZE STAT STRU SYST TYPE USER XCUP XCWD XPWD\r\n";

	send_raw(s, text, sizeof(text) - 1);
	reply(s, 214, "This server is read-only.");
}

static void cmd_stat(struct session *s)
{
	char line[PATH_LOG_MAX + 128];
	size_t n = ftp_format_reply(line, sizeof(line), 211, true, "autoprov FTP server status:");

	send_raw(s, line, n);
	if (s->xfer.active)
		snprintf(line, sizeof(line), " %s \"%s\": %llu of %zu bytes sent\r\n", s->xfer.verb,
			 s->xfer.path, (unsigned long long)s->xfer.sent, s->xfer.size);
	else
		snprintf(line, sizeof(line), " TYPE: %s; no transfer in progress\r\n",
			 s->ascii ? "ASCII" : "BINARY");
	send_raw(s, line, strlen(line));
	reply(s, 211, "End of status");
}

static void cmd_abor(struct session *s)
{
	if (s->xfer.active) {
		data_close(s);
		reply(s, 426, "Connection closed; transfer aborted.");
		transfer_end(s, OUTCOME_ABORTED, "ABOR");
		reply(s, 226, "ABOR successful.");
		return;
	}
	data_close(s);
	reply(s, 225, "No transfer to abort.");
}

static void cmd_refused_write(struct session *s, const struct ftp_command *c)
{
	if (c->verb == FTP_CMD_STOR || c->verb == FTP_CMD_APPE || c->verb == FTP_CMD_STOU) {
		char path[PATH_LOG_MAX];

		log_escape(path, sizeof(path), c->arg, c->arg_len);
		log_request(s, OUTCOME_DENIED, c->name, path, 0, NULL, NULL, NULL,
			    "read-only server");
	}
	reply(s, 550, "Permission denied: this server is read-only.");
}

/* Whether a command may run before a login. */
static bool allowed_before_login(enum ftp_verb v)
{
	switch (v) {
	case FTP_CMD_USER:
	case FTP_CMD_PASS:
	case FTP_CMD_QUIT:
	case FTP_CMD_SYST:
	case FTP_CMD_FEAT:
	case FTP_CMD_NOOP:
	case FTP_CMD_HELP:
	case FTP_CMD_OPTS:
	case FTP_CMD_AUTH:
	case FTP_CMD_PBSZ:
	case FTP_CMD_PROT:
	case FTP_CMD_STAT: return true;
	default: return false;
	}
}

static void handle_command(struct session *s, const struct ftp_command *c)
{
	if (s->state != SESSION_READY && !allowed_before_login(c->verb)) {
		reply(s, 530, "Please login with USER and PASS.");
		return;
	}
	if (tls_policy_refuses(s, c->verb))
		return;
	switch (c->verb) {
	case FTP_CMD_USER: cmd_user(s, c); break;
	case FTP_CMD_PASS: cmd_pass(s, c); break;
	case FTP_CMD_QUIT:
		reply(s, 221, "Goodbye.");
		session_close_after(s);
		break;
	case FTP_CMD_SYST: reply(s, 215, "UNIX Type: L8"); break;
	case FTP_CMD_FEAT: cmd_feat(s); break;
	case FTP_CMD_NOOP: reply(s, 200, "NOOP ok."); break;
	case FTP_CMD_HELP: cmd_help(s); break;
	case FTP_CMD_OPTS: cmd_opts(s, c); break;
	case FTP_CMD_STAT: cmd_stat(s); break;
	case FTP_CMD_AUTH: cmd_auth(s, c); break;
	case FTP_CMD_PBSZ:
		if (!s->tls)
			reply(s, 503, "PBSZ needs AUTH TLS first.");
		else
			reply(s, 200, "PBSZ=0");
		break;
	case FTP_CMD_PROT: cmd_prot(s, c); break;
	case FTP_CMD_CCC: reply(s, 502, "CCC not implemented: the connection stays in TLS."); break;
	case FTP_CMD_ACCT: reply(s, 202, "ACCT not needed."); break;
	case FTP_CMD_ALLO: reply(s, 202, "ALLO not needed."); break;
	case FTP_CMD_CWD: cmd_cwd(s, c, false); break;
	case FTP_CMD_CDUP: cmd_cwd(s, c, true); break;
	case FTP_CMD_PWD: cmd_pwd(s); break;
	case FTP_CMD_TYPE: {
		bool ascii;
		int r = ftp_parse_type(c->arg, c->arg_len, &ascii);

		if (r == -EOPNOTSUPP) {
			reply(s, 504, "TYPE not supported: use A or I.");
		} else if (r < 0) {
			reply(s, 501, "Syntax error in TYPE's argument.");
		} else {
			s->ascii = ascii;
			reply(s, 200, "Switching to %s mode.", ascii ? "ASCII" : "Binary");
		}
		break;
	}
	case FTP_CMD_MODE:
		if (c->arg_len == 1 && (c->arg[0] == 'S' || c->arg[0] == 's'))
			reply(s, 200, "Mode set to S.");
		else
			reply(s, 504, "Only MODE S is supported.");
		break;
	case FTP_CMD_STRU:
		if (c->arg_len == 1 && (c->arg[0] == 'F' || c->arg[0] == 'f'))
			reply(s, 200, "Structure set to F.");
		else
			reply(s, 504, "Only STRU F is supported.");
		break;
	case FTP_CMD_PASV: cmd_pasv(s, false, c); break;
	case FTP_CMD_EPSV: cmd_pasv(s, true, c); break;
	case FTP_CMD_PORT: cmd_port(s, false, c); break;
	case FTP_CMD_EPRT: cmd_port(s, true, c); break;
	case FTP_CMD_REST: {
		uint64_t off;

		if (ftp_parse_rest(c->arg, c->arg_len, &off) < 0) {
			reply(s, 501, "REST needs a byte offset.");
		} else {
			s->rest = off;
			reply(s, 350, "Restart position accepted (%llu).", (unsigned long long)off);
		}
		break;
	}
	case FTP_CMD_RETR: cmd_retr(s, c); break;
	case FTP_CMD_SIZE:
	case FTP_CMD_MDTM: cmd_stat_file(s, c); break;
	case FTP_CMD_LIST:
	case FTP_CMD_NLST:
	case FTP_CMD_MLSD: cmd_list(s, c); break;
	case FTP_CMD_MLST: cmd_mlst(s, c); break;
	case FTP_CMD_ABOR: cmd_abor(s); break;
	case FTP_CMD_STOR:
	case FTP_CMD_STOU:
	case FTP_CMD_APPE:
	case FTP_CMD_DELE:
	case FTP_CMD_RMD:
	case FTP_CMD_MKD:
	case FTP_CMD_RNFR:
	case FTP_CMD_RNTO: cmd_refused_write(s, c); break;
	case FTP_CMD_SITE:
	case FTP_CMD_SMNT:
	case FTP_CMD_REIN: reply(s, 502, "%s not implemented.", c->name); break;
	case FTP_CMD_UNKNOWN:
	case _FTP_CMD_MAX: reply(s, 500, "Unknown command."); break;
	}
}

/*
 * Handles the complete line in the reader. While a transfer runs only ABOR and STAT are
 * answered at once; any other command waits for its end (false: the line is held).
 */
static bool handle_line(struct session *s)
{
	struct ftp_command c;

	if (ftp_parse_command(s->line, s->lines.len, &c) < 0) {
		if (s->lines.len == 0)
			return true; /* an empty line: nothing to answer */
		reply(s, 500, "Syntax error, command unrecognized.");
		return true;
	}
	if (s->xfer.active && c.verb != FTP_CMD_ABOR && c.verb != FTP_CMD_STAT)
		return false;
	if (s->waitq == &s->srv->silent)
		wait_enter(s, &s->srv->talking); /* a client at work: dropped after the silent */
	if (log_level_current >= LOG_LEVEL_DEBUG) {
		char arg[PATH_LOG_MAX];

		log_escape(arg, sizeof(arg), c.arg, ftp_verb_secret(c.verb) ? 0 : c.arg_len);
		log_debug(TAG, "%s: %s %s", s->peer_str, c.name,
			  ftp_verb_secret(c.verb) ? "****" : arg);
	}
	if (s->state == SESSION_READY)
		arm(s->ev_timer, s->srv->cfg.idle_timeout_s);
	handle_command(s, &c);
	if (ftp_verb_secret(c.verb))
		OPENSSL_cleanse(s->line, s->lines.len);
	return true;
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
			if (!handle_line(s)) {
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
			if (!handle_line(s)) {
				s->held = true;
				return;
			}
			ftp_line_next(&s->lines);
			break;
		case FTP_LINE_TOO_LONG:
			log_warnx(TAG, "%s: command line over %u bytes refused", s->peer_str,
				  s->srv->cfg.max_command_length);
			reply(s, 500, "Command line too long.");
			break;
		case FTP_LINE_ABSURD:
			log_warnx(TAG, "%s: command line over %u bytes without an end, closing",
				  s->peer_str, ABSURD_LINE);
			reply(s, 500, "Command line too long, closing.");
			session_close_after(s);
			return;
		}
	}
}

/* A step of the control connection's TLS handshake, after AUTH TLS. */
static void control_handshake(struct session *s)
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
		return; /* session_settle() watches what it waits for */
	log_info(TAG, "%s: TLS handshake failed: %s", s->peer_str, net_stream_tls_error(s->ctl));
	s->dead = true;
}

/* The control connection's events: its TLS handshake, or input to read. */
static void on_control_event(struct net_stream *st, unsigned what, void *arg)
{
	struct session *s = arg;

	(void)st;
	if (s->handshake) {
		control_handshake(s);
	} else if (s->roff == s->rlen &&
		   ((what & NET_READABLE) || (s->read_wants_write && (what & NET_WRITABLE)))) {
		ssize_t n = net_stream_read(s->ctl, s->rbuf, sizeof(s->rbuf));

		s->read_wants_write = n == -EAGAIN && net_stream_wants(s->ctl) == NET_WRITABLE;
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			log_debug(TAG, "%s: control connection closed by the client", s->peer_str);
			if (s->xfer.active) {
				data_close(s);
				transfer_end(s, OUTCOME_ABORTED, "control connection closed");
			}
			s->dead = true;
		} else if (n > 0) {
			s->roff = 0;
			s->rlen = (size_t)n;
		}
	}
	session_settle(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	switch (s->state) {
	case SESSION_DELAYED: login_delay_over(s); break;
	case SESSION_CLOSING: s->dead = true; break;
	case SESSION_USER:
	case SESSION_PASS: {
		unsigned held;

		if (log_limit_ok(&s->srv->log_login_timeout, &held))
			log_info(TAG,
				 "%s: no login within %u s, closing (%u more since the last line)",
				 s->peer_str, s->srv->cfg.login_timeout_s, held);
		reply(s, 421, "Login timeout, closing control connection.");
		session_close_after(s);
		break;
	}
	default:
		log_info(TAG, "%s: idle for %u s, closing", s->peer_str,
			 s->srv->cfg.idle_timeout_s);
		reply(s, 421, "Timeout, closing control connection.");
		session_close_after(s);
		break;
	}
	session_settle(s);
}

/*
 * The end of every callback: process what input may now be processed, send replies, then
 * free the session if it is over, else watch what it waits for.
 */
static void session_settle(struct session *s)
{
	struct ftp_server *srv = s->srv;
	bool want_read, want_write;

	session_process(s);
	if (!s->dead && !flush_out(s))
		s->dead = true;
	if (!s->dead && s->state == SESSION_CLOSING && s->outoff == s->outlen) {
		/* all said: the client sees the close after the last reply */
		s->dead = true;
	}
	if (s->dead) {
		session_free(s);
		if (srv->nsessions < srv->cfg.max_sessions && srv->listener)
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
		transfer_end(s, OUTCOME_ABORTED, "session closed");
	transfer_done(&s->xfer);
	data_close(s);
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
	s->ev_data_timer = evtimer_new(srv->base, on_data_timeout, s);
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
	wait_enter(s, &srv->silent);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	metrics_add(&site_metrics(srv->site)->connections[METRICS_FTP], 1);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->state = SESSION_USER;
	log_debug(TAG, "%s: connected", s->peer_str);
	arm(s->ev_timer, srv->cfg.login_timeout_s);
	reply(s, 220, "autoprov FTP server ready.");
	session_settle(s);
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

	if (srv->nsessions < srv->cfg.max_sessions || drop_waiting(srv, NULL, "max_sessions"))
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
	passive_range(cfg, &srv->passive_min, &srv->passive_span);
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
	passive_range(&srv->cfg, &srv->passive_min, &srv->passive_span);
	srv->next_passive %= srv->passive_span;
	if (srv->nsessions < srv->cfg.max_sessions)
		net_listener_resume(srv->listener);
}

uint16_t ftp_server_port(const struct ftp_server *srv)
{
	return net_listener_port(srv->listener);
}
