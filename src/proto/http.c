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
#include "proto/http.h"
#include "proto/http_parse.h"

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

#define NAME_LOG_MAX 512
#define UA_MAX	     256
#define OUT_PIECES   32
#define OUT_ARENA    4096
#define HEAD_MAX     1536 /* one answer's status line, header fields and short text */
#define PEER_BUCKETS 1024
#define LINGER_S     2
#define IN_FIRST     1024 /* the input buffer's first size; it doubles up to the limit */
#define PREFIX_V4    24	  /* the prefix of max_connections_per_prefix */
#define PREFIX_V6    64
#define HTTP_UNAVAILABLE_RETRY_S 10 /* Retry-After of "unavailable": the store cannot be reached */
#define HTTP_BUSY_RETRY                                                                            \
	"5" /* Retry-After of "busy" (s): out of descriptors, too many connections */

void http_config_default(struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)addr_parse("0.0.0.0:80", &cfg->listen);
	(void)addr_parse("0.0.0.0:443", &cfg->https_listen);
	cfg->timeout_s = 30;
	cfg->header_timeout_s = 10;
	cfg->max_header_size = 8192;
	cfg->max_uri_length = 2048;
	cfg->max_connections = 10000;
	cfg->max_connections_per_peer = 256;
	cfg->max_connections_per_prefix = 1024;
	cfg->max_handshakes = 1024;
	cfg->auth = HTTP_LOGIN_OFF;
	str_copy(cfg->realm, sizeof(cfg->realm), "autoprov");
	/* MD5 first: clients that read only the first challenge (phones, Python) know MD5 */
	cfg->digest[0] = DIGEST_MD5;
	cfg->digest[1] = DIGEST_SHA256;
	cfg->ndigest = 2;
	cfg->nonce_lifetime_s = 300;
	cfg->user_agent = HTTP_UA_RECORD;
	tls_config_default(&cfg->tls);
	cfg->cert_binding = HTTP_BIND_OFF;
}

int http_parse_login_mode(const char *value, enum http_login_mode *ret)
{
	static const char *const names[] = { "off", "basic", "digest", "any" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(value, names[i]) == 0) {
			*ret = (enum http_login_mode)i;
			return 0;
		}
	return -EINVAL;
}

int http_parse_digest_algorithms(const char *value, struct http_config *cfg)
{
	static const enum digest_algorithm all[] = { DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256,
						     DIGEST_SHA256_SESS };
	enum digest_algorithm got[4];
	unsigned n = 0;

	for (const char *p = value; *p;) {
		size_t len;
		bool found = false;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == 0)
			break;
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && !found; i++) {
			const char *name = digest_algorithm_name(all[i]);

			if (strlen(name) == len && strncasecmp(p, name, len) == 0) {
				for (unsigned j = 0; j < n; j++)
					if (got[j] == all[i])
						return -EINVAL;
				if (n == 4)
					return -EINVAL;
				got[n++] = all[i];
				found = true;
			}
		}
		if (!found)
			return -EINVAL;
		p += len;
	}
	if (n == 0)
		return -EINVAL;
	memcpy(cfg->digest, got, sizeof(got[0]) * n);
	cfg->ndigest = n;
	return 0;
}

int http_parse_ua_policy(const char *value, enum http_ua_policy *ret)
{
	if (strcmp(value, "record") == 0)
		*ret = HTTP_UA_RECORD;
	else if (strcmp(value, "deny-mismatch") == 0)
		*ret = HTTP_UA_DENY;
	else
		return -EINVAL;
	return 0;
}

int http_parse_cert_binding(const char *value, enum http_cert_binding *ret)
{
	if (strcmp(value, "off") == 0)
		*ret = HTTP_BIND_OFF;
	else if (strcmp(value, "first-use") == 0)
		*ret = HTTP_BIND_FIRST_USE;
	else if (strcmp(value, "required") == 0)
		*ret = HTTP_BIND_REQUIRED;
	else
		return -EINVAL;
	return 0;
}

struct http_conn;

struct http_server {
	struct event_base *base;
	struct site *site;
	struct http_config cfg;
	SSL_CTX *tls;
	const char *proto; /* "http" or "https" */
	struct net_listener *listener;
	/* the site's counters: connections, and file bodies being sent, of this proto */
	uint64_t *m_connections, *m_transfers;
	struct http_conn *conns;
	unsigned nconns;
	struct peer_table peers; /* connections per address */
	struct digest_nonces *nonces; /* the first worker's when shared */
	bool shared;		      /* http_server_share(): limits and nonces are another's */
	time_t limit_logged; /* the last second a limit was logged (at most one line a second) */
	struct peer_table prefixes; /* connections per /24 or /64 */
	/*
	 * Connections waiting for a request, oldest first: those that never sent a whole
	 * one (or are in their TLS handshake), and idle kept-alive ones; dropped in this order
	 * when a budget is full. Limits hit during a flood are logged once a second per kind.
	 */
	struct wait_queue {
		struct http_conn *head, *tail;
	} fresh, idle;
	struct http_conn *hs_head, *hs_tail; /* in a TLS handshake with OpenSSL, oldest first */
	unsigned nhandshakes;
	struct log_limit log_refused, log_full, log_dropped, log_handshake, log_tls_failed;
	time_t date_second;
	char date[40]; /* the Date header's value for date_second */
};

enum timer_kind { T_HEADER, T_IDLE, T_SEND, T_LINGER, T_HANDSHAKE, T_DELAY };

struct out_piece {
	const char *data;
	size_t len;
	struct site_file *file; /* released once sent, or NULL */
};

/*
 * A connection's state: every change goes through conn_set_state(), which traces it, and
 * every event of the connection goes to conn_event(), which acts on the state.
 */
enum http_state {
	HTTP_HANDSHAKE, /* TLS: waiting for the ClientHello, then handshaking */
	HTTP_WAITING,	/* waiting for a request, or for the rest of its head */
	HTTP_SENDING,	/* answers queued that the socket has not taken yet */
	HTTP_DELAYED,	/* a failed login's answer waits for the timer; nothing is read */
	HTTP_LINGERING, /* all sent, the write side shut: reading what the peer sends until EOF */
	HTTP_CLOSED,	/* closed; the memory goes when the stream's callback returns */
	_HTTP_STATE_MAX,
};

static const char *const http_state_names[_HTTP_STATE_MAX] = {
	[HTTP_HANDSHAKE] = "handshake", [HTTP_WAITING] = "waiting",	[HTTP_SENDING] = "sending",
	[HTTP_DELAYED] = "delayed",	[HTTP_LINGERING] = "lingering", [HTTP_CLOSED] = "closed",
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	struct net_stream *stream; /* the socket, plain or TLS, its events and timer */
	enum http_state state;
	enum timer_kind timer_kind;
	struct sockaddr_storage peer, local;
	struct peer_count *peer_entry, *prefix_entry;
	struct wait_queue *waitq;		 /* &srv->fresh, &srv->idle, or NULL */
	struct http_conn *wait_prev, *wait_next; /* on waitq */
	unsigned requests;			 /* whole requests read: fresh while 0 */
	struct http_conn *hs_prev, *hs_next;	 /* on the server's handshake list */
	char peer_text[ADDR_STRLEN];
	char *in; /* the unparsed input, cap bytes; NULL while there is none */
	size_t in_len, in_cap;
	struct out_piece out[OUT_PIECES];
	unsigned out_first, out_n;
	size_t arena_used;
	bool close_after;	/* close once everything queued is sent */
	bool unread;		/* the peer sent what was not read (a body, garbage) */
	bool nodelay;		/* TCP_NODELAY set (once the connection is kept alive) */
	struct tls_identity id; /* the verified client certificate, if any */
	char arena[OUT_ARENA];	/* the answers' heads; last: not zeroed */
};

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);

static void conn_set_state(struct http_conn *c, enum http_state state)
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

/* ---- output ---- */

static void out_release(struct http_conn *c)
{
	for (unsigned i = 0; i < c->out_n; i++) {
		struct out_piece *p = &c->out[(c->out_first + i) % OUT_PIECES];

		if (p->file) {
			site_file_unref(p->file);
			metrics_sub(c->srv->m_transfers, 1);
		}
	}
	c->out_first = c->out_n = 0;
	c->arena_used = 0;
}

/* Whether another answer fits in the queue (pieces and arena). */
static bool out_room(const struct http_conn *c)
{
	return c->out_n + 2 <= OUT_PIECES && c->arena_used + HEAD_MAX <= OUT_ARENA;
}

static void out_add(struct http_conn *c, const char *data, size_t len, struct site_file *file)
{
	struct out_piece *p = &c->out[(c->out_first + c->out_n) % OUT_PIECES];

	p->data = data;
	p->len = len;
	p->file = file;
	c->out_n++;
	if (file)
		metrics_add(c->srv->m_transfers, 1);
}

/* ---- answers ---- */

/* One request, as the answer, the log line and the journal entry see it. */
/* One request on a connection: the site's exchange and what its answer is built from. */
struct http_exchange {
	struct http_conn *c;
	struct http_request *req;
	char name[NAME_LOG_MAX]; /* the path as requested, escaped */
	char ua[UA_MAX];	 /* the User-Agent, escaped */
	struct exchange ex;	 /* its start and end (site/exchange.h) */
	const struct principal *who;
	char extra[512]; /* header fields for this answer, each ending in CRLF */
	size_t extra_len;
};

static void add_header(struct http_exchange *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_header(struct http_exchange *x, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (x->extra_len >= sizeof(x->extra))
		return;
	va_start(ap, fmt);
	n = vsnprintf(x->extra + x->extra_len, sizeof(x->extra) - x->extra_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= sizeof(x->extra) - x->extra_len) {
		x->extra[x->extra_len] = '\0'; /* too long: dropped */
		return;
	}
	x->extra_len += (size_t)n;
	memcpy(x->extra + x->extra_len, "\r\n", 3);
	x->extra_len += 2;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

static const char *http_date_now(struct http_server *srv)
{
	time_t now = time(NULL);

	if (now != srv->date_second) {
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		srv->date_second = now;
	}
	return srv->date;
}

/*
 * The wire answer of every outcome (docs/http.md, "Outcomes"): a status and, for errors, a
 * short text. A caller may give another status of the same outcome (400, 414, 431, 505 are
 * each a bad request).
 */
static const struct http_answer {
	int status;
	const char *text;
} answers[_OUTCOME_MAX] = {
	[OUTCOME_SENT] = { 200, "" },
	[OUTCOME_PARTIAL] = { 206, "" },
	[OUTCOME_REDIRECTED] = { 302, "" },
	[OUTCOME_NOT_MODIFIED] = { 304, "" },
	[OUTCOME_NOT_FOUND] = { 404, "not found\n" },
	[OUTCOME_DENIED] = { 403, "forbidden\n" },
	[OUTCOME_REFUSED] = { 403, "access violation\n" },
	[OUTCOME_AUTH_REQUIRED] = { 401, "authentication required\n" },
	[OUTCOME_AUTH_FAILED] = { 401, "authentication required\n" },
	[OUTCOME_BLOCKED] = { 429, "blocked: too many requests for unknown devices\n" },
	[OUTCOME_TOO_LARGE] = { 500, "file too large to serve\n" },
	[OUTCOME_BUSY] = { 503, "busy, retry later\n" },
	[OUTCOME_UNAVAILABLE] = { 503, "unavailable, retry later\n" },
	[OUTCOME_BAD_REQUEST] = { 400, "bad request\n" },
	[OUTCOME_NOT_IMPLEMENTED] = { 405, "only GET and HEAD\n" },
	[OUTCOME_ERROR] = { 500, "server error\n" },
	[OUTCOME_TIMED_OUT] = { 408, "request timeout\n" },
	[OUTCOME_ABORTED] = { 400, "aborted\n" },
	[OUTCOME_PNP_URL_SENT] = { 500, "server error\n" },
	[OUTCOME_NOTIFY_ANSWERED] = { 500, "server error\n" },
	[OUTCOME_NOTIFY_TIMEOUT] = { 500, "server error\n" },
	[OUTCOME_SUBSCRIBE_REPEAT] = { 500, "server error\n" },
	[OUTCOME_BAD_EVENT] = { 400, "bad request\n" },
	[OUTCOME_SIP_BAD_REQUEST] = { 400, "bad request\n" },
	[OUTCOME_NOT_ALLOWED] = { 405, "only GET and HEAD\n" },
	[OUTCOME_IGNORED_NO_MAC] = { 404, "not found\n" },
	[OUTCOME_IGNORED_UNKNOWN] = { 404, "not found\n" },
	[OUTCOME_IGNORED_OUI] = { 404, "not found\n" },
};

int http_outcome_status(enum outcome o, const char **ret_text)
{
	if ((unsigned)o >= _OUTCOME_MAX || !answers[o].status)
		return -EINVAL;
	if (ret_text)
		*ret_text = answers[o].text;
	return answers[o].status;
}

/* Ends x's exchange: its log line (with the status sent) and journal row. */
static void finish(struct http_exchange *x, enum outcome o, int status, uint64_t bytes,
		   const char *md5)
{
	char answer[16];

	snprintf(answer, sizeof(answer), "%d", status);
	x->ex.verb = x->req && x->req->method_name ? x->req->method_name : "-";
	x->ex.verb_quoted = true;
	x->ex.user_agent = x->ua;
	/* the device logged in, else the one a failed login claimed (challenge()) */
	if (x->c->id.mac[0] || !x->ex.login_mac)
		x->ex.login_mac = x->c->id.mac;
	exchange_close(&x->ex, o, answer, bytes, md5, NULL);
}

/*
 * Queues an answer: status line, the common fields, x's extra fields, Content-Length
 * (length), then body unless HEAD: len bytes of file, referenced, or a short text, copied.
 */
static void respond(struct http_exchange *x, int status, uint64_t length, const char *body,
		    size_t len, struct site_file *file)
{
	struct http_conn *c = x->c;
	char *head = c->arena + c->arena_used;
	bool head_only = x->req && x->req->method == HTTP_HEAD;
	int n;

	if (x->req && !x->req->keep_alive)
		c->close_after = true;
	n = snprintf(head, HEAD_MAX,
		     "HTTP/1.1 %d %s\r\nServer: autoprov\r\nDate: %s\r\nContent-Length: %llu\r\n"
		     "%s%s\r\n",
		     status, reason_phrase(status), http_date_now(c->srv),
		     (unsigned long long)length, x->extra,
		     c->close_after ? "Connection: close\r\n" : "");
	if (n < 0 || n >= HEAD_MAX) {
		/* the fields did not fit (a very long Location): answer without them */
		n = snprintf(head, HEAD_MAX,
			     "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n");
		c->close_after = true;
		len = 0;
		if (file)
			site_file_unref(file);
		file = NULL;
	}
	if (!head_only && !file && len > 0 && c->arena_used + (size_t)n + len <= OUT_ARENA) {
		/* a short text: after the head, in the same piece */
		memcpy(head + n, body, len);
		n += (int)len;
		len = 0;
	}
	c->arena_used += (size_t)n;
	out_add(c, head, (size_t)n, NULL);
	if (head_only || len == 0) {
		if (file)
			site_file_unref(file);
		return;
	}
	out_add(c, body, len, file);
}

/*
 * The answer of outcome o that is not a file: its status (status, or the table's when 0)
 * and short text (text, or the table's), and the exchange ends. A blocked peer gets 429
 * with Retry-After and the connection closes.
 */
static void respond_outcome(struct http_exchange *x, enum outcome o, int status, const char *text)
{
	const char *t = "";
	int st = http_outcome_status(o, &t);

	if (status)
		st = status;
	if (text)
		t = text;
	if (o == OUTCOME_BLOCKED) {
		x->c->close_after = true;
		add_header(x, "Retry-After: %u", x->ex.blocked_for);
	} else if (o == OUTCOME_UNAVAILABLE) {
		/* the store cannot be reached: the device's own retry comes back later */
		add_header(x, "Retry-After: %u", HTTP_UNAVAILABLE_RETRY_S);
	} else if (o == OUTCOME_BUSY) {
		add_header(x, "Retry-After: " HTTP_BUSY_RETRY);
	}
	add_header(x, "Content-Type: text/plain; charset=utf-8");
	respond(x, st, strlen(t), t, strlen(t), NULL);
	finish(x, o, st, 0, NULL);
}

/* An answer to a request that could not be parsed: then the connection closes. */
static void respond_bad(struct http_conn *c, enum outcome o, int status, const char *text,
			const char *detail)
{
	struct http_exchange x = { .c = c };

	exchange_begin(&x.ex, c->srv->site, c->srv->proto, (struct sockaddr *)&c->peer,
		       (struct sockaddr *)&c->local, "-");
	x.ex.detail = detail;
	c->close_after = true;
	c->unread = true;
	str_copy(x.name, sizeof(x.name), "-");
	respond_outcome(&x, o, status, text);
}

static void serve_file(struct http_exchange *x, struct site_file *f)
{
	struct http_request *req = x->req;
	const char *md5 = site_file_md5(f);
	char etag[MD5_HEX_LEN + 3];
	bool has_mtime = f->mtime.tv_sec != 0;
	uint64_t first = 0, last = f->size ? f->size - 1 : 0, len = f->size;
	int status = 200, r;

	snprintf(etag, sizeof(etag), "\"%s\"", md5 ? md5 : "");
	if (md5)
		add_header(x, "ETag: %s", etag);
	if (has_mtime) {
		char date[64];
		struct tm tm;

		gmtime_r(&f->mtime.tv_sec, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		add_header(x, "Last-Modified: %s", date);
	}
	if ((req->if_none_match && md5 && http_etag_matches(req->if_none_match, etag)) ||
	    (!req->if_none_match && req->if_modified_since && has_mtime)) {
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		if (req->if_none_match ||
		    (strptime(req->if_modified_since, "%a, %d %b %Y %H:%M:%S GMT", &tm) &&
		     timegm(&tm) >= f->mtime.tv_sec)) {
			/* a 304 has no Content-Length of its own: the field would describe the body
			 */
			struct http_conn *c = x->c;
			int n;

			if (!req->keep_alive)
				c->close_after = true;
			n = snprintf(c->arena + c->arena_used, HEAD_MAX,
				     "HTTP/1.1 304 Not Modified\r\nServer: autoprov\r\nDate: %s\r\n"
				     "%s%s\r\n",
				     http_date_now(c->srv), x->extra,
				     c->close_after ? "Connection: close\r\n" : "");
			if (n > 0 && n < HEAD_MAX) {
				out_add(c, c->arena + c->arena_used, (size_t)n, NULL);
				c->arena_used += (size_t)n;
			}
			finish(x, OUTCOME_NOT_MODIFIED, 304, 0, NULL);
			site_file_unref(f);
			return;
		}
	}
	add_header(x, "Accept-Ranges: bytes");
	r = http_parse_range(req->range, f->size, &first, &last);
	if (r < 0) {
		add_header(x, "Content-Range: bytes */%zu", f->size);
		site_file_unref(f);
		respond_outcome(x, OUTCOME_BAD_REQUEST, 416, "range not satisfiable\n");
		return;
	}
	if (r > 0) {
		status = 206;
		len = last - first + 1;
		add_header(x, "Content-Range: bytes %llu-%llu/%zu", (unsigned long long)first,
			   (unsigned long long)last, f->size);
	}
	add_header(x, "Content-Type: %s", http_content_type(f->name));
	respond(x, status, len, (const char *)f->data + first, (size_t)len, f);
	finish(x, status == 206 ? OUTCOME_PARTIAL : OUTCOME_SENT, status,
	       req->method == HTTP_HEAD ? 0 : len,
	       status == 200 && req->method != HTTP_HEAD ? md5 : NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * 401 with one challenge per Digest algorithm and Basic, as configured. A failed login
 * (wrong password, unknown user; user is the name tried, or NULL) waits the site's delay
 * first (site/auth.h): the connection reads nothing more until the timer sends the answer.
 */
static void challenge(struct http_exchange *x, bool stale, bool failed, const char *user,
		      const char *detail)
{
	struct http_conn *c = x->c;
	struct http_server *srv = c->srv;
	const struct http_config *cfg = &srv->cfg;
	char value[512], claimed[MAC_LEN + 1];
	const char *why, *login_mac = x->ex.login_mac;

	if (cfg->auth != HTTP_LOGIN_BASIC) {
		for (unsigned i = 0; i < cfg->ndigest; i++) {
			char nonce[DIGEST_NONCE_LEN + 1];

			if (digest_nonce_make(srv->nonces, now_ms(), nonce, sizeof(nonce)) == 0 &&
			    digest_challenge_format(value, sizeof(value), cfg->realm,
						    cfg->digest[i], nonce, "autoprov", stale) == 0)
				add_header(x, "WWW-Authenticate: %s", value);
		}
	}
	if (cfg->auth != HTTP_LOGIN_DIGEST &&
	    digest_challenge_basic_format(value, sizeof(value), cfg->realm) == 0)
		add_header(x, "WWW-Authenticate: %s", value);
	x->ex.detail = detail;
	/* a failed login names the device it claimed: the doctor finds the row by its MAC */
	if (failed && user && (!x->ex.login_mac || !x->ex.login_mac[0]) &&
	    mac_parse(user, claimed, &why) == 0)
		x->ex.login_mac = claimed;
	respond_outcome(x, failed ? OUTCOME_AUTH_FAILED : OUTCOME_AUTH_REQUIRED, 0, NULL);
	if (x->ex.login_mac == claimed)
		x->ex.login_mac = login_mac;
	if (failed) {
		/* a failed login: the defence's miss */
		(void)site_miss(srv->site, &x->ex.req, NULL);
		unsigned ms = site_auth_failed(srv->site, (struct sockaddr *)&c->peer, user);

		if (ms > 0) {
			conn_set_state(c, HTTP_DELAYED);
			c->timer_kind = T_DELAY;
			net_stream_timer(c->stream, ms);
		}
	}
}

/*
 * Whether the request is authenticated (1, with *who the device or "" for a site user),
 * or not (0: a 401 is queued). A verified client certificate naming a device is a login.
 */
static int check_login(struct http_exchange *x, char who[MAC_LEN + 1])
{
	struct http_conn *c = x->c;
	struct http_server *srv = c->srv;
	const struct http_request *req = x->req;
	struct http_authorization a;
	struct auth_principal p;
	bool ok;
	int r;

	if (c->id.mac[0]) {
		memcpy(who, c->id.mac, MAC_LEN + 1);
		return 1;
	}
	if (!req->authorization) {
		challenge(x, false, false, NULL, NULL);
		return 0;
	}
	if (http_auth_parse(req->authorization, strlen(req->authorization), &a) < 0) {
		challenge(x, false, true, NULL, "malformed Authorization");
		return 0;
	}
	if ((a.scheme == HTTP_AUTH_BASIC && srv->cfg.auth == HTTP_LOGIN_DIGEST) ||
	    (a.scheme == HTTP_AUTH_DIGEST && srv->cfg.auth == HTTP_LOGIN_BASIC)) {
		challenge(x, false, false, NULL, "scheme not offered");
		return 0;
	}
	if (a.scheme == HTTP_AUTH_DIGEST && (strcmp(a.digest.realm, srv->cfg.realm) != 0 ||
					     strcmp(a.digest.uri, req->target) != 0)) {
		challenge(x, false, true, a.username, "Digest realm or uri not this request's");
		return 0;
	}
	r = site_auth_lookup(srv->site, a.username, &p);
	if (r == DIRECTORY_UNAVAILABLE) {
		/* the device's password cannot be read now: "try later", not a failed login */
		respond_outcome(x, OUTCOME_UNAVAILABLE, 0, NULL);
		return 0;
	}
	if (a.scheme == HTTP_AUTH_BASIC)
		ok = http_basic_verify(&a, a.username, r == 0 ? p.password : "");
	else
		ok = http_digest_verify(&a, req->method_name, r == 0 ? p.password : "");
	if (r < 0 || !ok) {
		char detail[HTTP_AUTH_USER_MAX + 48];

		snprintf(detail, sizeof(detail), "%s for user '%s'",
			 r < 0 ? "unknown user" : "wrong password", a.username);
		log_escape(detail, sizeof(detail), detail, strlen(detail));
		challenge(x, false, true, a.username, detail);
		return 0;
	}
	if (a.scheme == HTTP_AUTH_DIGEST) {
		r = digest_nonce_check(srv->nonces, a.digest.nonce, a.digest.nc, now_ms(),
				       srv->cfg.nonce_lifetime_s);
		if (r < 0) {
			/* the response proves the password: a new nonce is all the client needs */
			challenge(x, true, false, NULL,
				  r == -EALREADY ? "nonce count reused" : "stale nonce");
			return 0;
		}
	}
	site_auth_succeeded(srv->site, (struct sockaddr *)&c->peer, a.username);
	memcpy(who, p.mac, MAC_LEN + 1);
	return 1;
}

/* Appends src to dst[*n..], {MAC} and {mac} replaced by the device's MAC. */
static void expand_mac(char *dst, size_t dstsz, const char *src, const char *mac)
{
	size_t n = 0;

	for (const char *p = src; *p && n + 1 < dstsz;) {
		if (strncmp(p, "{mac}", 5) == 0 || strncmp(p, "{MAC}", 5) == 0) {
			for (int i = 0; i < MAC_LEN && n + 1 < dstsz; i++)
				dst[n++] = p[1] == 'M'
						   ? (char)(mac[i] >= 'a' ? mac[i] - 32 : mac[i])
						   : mac[i];
			p += 5;
		} else {
			dst[n++] = *p++;
		}
	}
	dst[n] = '\0';
}

/*
 * The redirection service, GET <prefix>redirect/<MAC>: 302 to the device's provisioning
 * URL: its variable prov_url (or its group's, or the site's), else [http] redirect_url,
 * else this server's own URL with the prefix. {MAC} / {mac} in the URL become the MAC.
 */
static void redirect(struct http_exchange *x, const char *mac_text, const char *who)
{
	struct http_conn *c = x->c;
	struct http_server *srv = c->srv;
	struct directory *dir = site_directory(srv->site);
	char mac[MAC_LEN + 1], url[512], host[ADDR_STRLEN + 8], body[600];
	char *var = NULL;
	int enabled = -ENOENT;
	json_t *v;

	if (mac_parse(mac_text, mac, NULL) == 0) {
		site_lock(srv->site); /* the directory is the workers' (site.h) */
		enabled = directory_enabled(dir, mac);
		if (enabled > 0) {
			/* the device's prov_url, else its group's, else the site's (directory.h) */
			v = directory_var_of(dir, mac, HTTP_URL_VAR);
			if (json_is_string(v))
				var = strdup(json_string_value(v));
		}
		site_unlock(srv->site);
	}
	if (enabled <= 0 || (who[0] && strcmp(who, mac) != 0)) {
		unsigned blocked = 0;

		/* unknown, or another device's (told apart from unknown by nothing): a miss */
		if (mac_parse(mac_text, mac, NULL) == 0 &&
		    (enabled < 0 || (who[0] && strcmp(who, mac) != 0))) {
			memcpy(x->ex.req.mac, mac, sizeof(mac));
			blocked = site_miss(srv->site, &x->ex.req, mac);
		}
		x->ex.blocked_for = blocked;
		respond_outcome(x, blocked > 0 ? OUTCOME_BLOCKED : OUTCOME_NOT_FOUND, 0,
				blocked > 0 ? NULL : "unknown device\n");
		free(var);
		return;
	}
	memcpy(x->ex.req.mac, mac, sizeof(mac));
	if (var || srv->cfg.redirect_url[0]) {
		expand_mac(url, sizeof(url), var ? var : srv->cfg.redirect_url, mac);
	} else {
		const char *h = x->req->host;

		if (!h || !*h || strpbrk(h, " /\\\"<>"))
			h = addr_format((struct sockaddr *)&c->local, host, sizeof(host));
		snprintf(url, sizeof(url), "%s://%s/%s%s", srv->proto, h, srv->cfg.prefix,
			 srv->cfg.prefix[0] ? "/" : "");
	}
	free(var);
	if (strpbrk(url, "\r\n")) {
		respond_outcome(x, OUTCOME_ERROR, 0, "bad redirect URL\n");
		return;
	}
	add_header(x, "Location: %s", url);
	add_header(x, "Content-Type: text/plain; charset=utf-8");
	snprintf(body, sizeof(body), "%s\n", url);
	respond(x, 302, strlen(body), body, strlen(body), NULL);
	finish(x, OUTCOME_REDIRECTED, 302, 0, NULL);
}

/* The redirection service's MAC when name is <prefix>/redirect/<MAC>, else NULL. */
static const char *redirect_mac(const struct http_server *srv, const char *path)
{
	size_t plen = strlen(srv->cfg.prefix);

	while (*path == '/')
		path++;
	if (plen) {
		if (strncmp(path, srv->cfg.prefix, plen) != 0 || path[plen] != '/')
			return NULL;
		path += plen + 1;
	}
	return strncmp(path, "redirect/", 9) == 0 ? path + 9 : NULL;
}

/*
 * A certificate bound to devices (HTTP_BIND_*): the file's device must have it recorded
 * (prov_cert_sha256), or record it now under first-use. 0, or -EACCES with *why set.
 */
static int check_binding_locked(struct http_conn *c, const char *mac, const char **why);

static int check_binding(struct http_conn *c, const char *mac, const char **why)
{
	int r;

	site_lock(c->srv->site); /* the directory is the workers' (site.h) */
	r = check_binding_locked(c, mac, why);
	site_unlock(c->srv->site);
	return r;
}

static int check_binding_locked(struct http_conn *c, const char *mac, const char **why)
{
	struct directory *dir = site_directory(c->srv->site);
	const char *fp = NULL;
	int r = -EACCES;

	if (c->srv->cfg.cert_binding == HTTP_BIND_OFF)
		return 0;
	r = directory_cert(dir, mac, &fp);
	if (r == DIRECTORY_UNAVAILABLE)
		return r; /* cannot tell: "try later" */
	if (r < 0) {
		*why = "no device row to bind the certificate to";
		return -EACCES;
	}
	r = -EACCES;
	if (fp) {
		if (strcasecmp(fp, c->id.fingerprint) == 0)
			r = 0;
		else
			*why = "the certificate is not the one bound to the device";
	} else if (c->srv->cfg.cert_binding == HTTP_BIND_FIRST_USE && strcmp(c->id.mac, mac) != 0) {
		/* a certificate of no device, of two, or of another is never recorded */
		*why = "first-use binds only a certificate naming the device's MAC";
	} else if (c->srv->cfg.cert_binding == HTTP_BIND_FIRST_USE) {
		char err[256];

		if (directory_bind_cert(dir, mac, c->id.fingerprint, err, sizeof(err)) == 0) {
			log_info(c->srv->proto, "%s: certificate %s bound to device %s (first use)",
				 c->peer_text, c->id.fingerprint, mac);
			r = 0;
		} else {
			log_warnx(c->srv->proto, "cannot bind a certificate to %s: %s", mac, err);
			*why = "the certificate could not be recorded";
		}
	} else {
		*why = "no certificate bound to the device";
	}
	return r;
}

/*
 * Why a verified certificate without exactly one MAC identifies no device: it gets generic
 * files only (and nothing under client_certificates = required).
 */
static const char *cert_names_nobody(const struct http_conn *c)
{
	return c->id.macs > 1 ? "the certificate names several MACs"
			      : "the certificate names no MAC";
}

/*
 * The access rule's extra check of a device's file for a client with a certificate: one
 * naming no device gets generic files only (unless a login says who it is), and a bound
 * certificate must be the device's (check_binding).
 */
static int cert_check(void *arg, const char *mac, const char **why)
{
	struct http_exchange *x = arg;
	struct http_conn *c = x->c;

	if (!c->id.mac[0] && x->who->kind != PRINCIPAL_DEVICE) {
		*why = cert_names_nobody(c);
		return -EACCES;
	}
	return check_binding(c, mac, why);
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
		add_header(&x, "Allow: GET, HEAD");
		respond_outcome(&x, OUTCOME_NOT_IMPLEMENTED, 0, NULL);
		return;
	}
	if (http_target_path(req->target, req->target_len, path, sizeof(path), &len) < 0) {
		respond_outcome(&x, OUTCOME_BAD_REQUEST, 0, NULL);
		return;
	}
	r = (int)site_blocked(srv->site, x.ex.req.peer);
	if (r > 0) {
		x.ex.blocked_for = (unsigned)r;
		respond_outcome(&x, OUTCOME_BLOCKED, 0, NULL);
		return;
	}
	if (c->id.has_cert && c->id.macs != 1 && srv->cfg.tls.client_certs == TLS_CLIENT_REQUIRED) {
		/* required certificates are device certificates: one naming no device is refused */
		x.ex.detail = cert_names_nobody(c);
		respond_outcome(&x, OUTCOME_DENIED, 0, NULL);
		return;
	}
	if (srv->cfg.auth != HTTP_LOGIN_OFF) {
		if (!check_login(&x, login))
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
		who.check = cert_check;
		who.check_arg = &x;
	}
	/* a NUL in the path ends it here; the resolver refuses it below */
	mac_text = redirect_mac(srv, path);
	if (mac_text) {
		redirect(&x, mac_text, login);
		return;
	}
	o = exchange_open(&x.ex, srv->cfg.prefix, path, len, &who);
	if (o == OUTCOME_SENT) {
		f = x.ex.file;
		x.ex.file = NULL; /* the answer's now */
		serve_file(&x, f);
		return;
	}
	respond_outcome(&x, o, 0, NULL);
}

/* Parses and answers every complete request in the input while answers fit the queue. */
static void conn_process(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	size_t off = 0;

	while (!c->close_after && off < c->in_len && out_room(c)) {
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
			respond_bad(c, OUTCOME_BAD_REQUEST, status,
				    status == 400 ? "bad request\n" : "refused\n",
				    r == -EMSGSIZE	    ? "request head over max_header_size"
				    : r == -ENAMETOOLONG    ? "request target over max_uri_length"
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
	conn_set_state(c, HTTP_LINGERING);
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
				conn_set_state(c, HTTP_SENDING);
				net_stream_watch_wants(c->stream);
				conn_timer(c, T_SEND, srv->cfg.timeout_s);
				return 0;
			}
			answered = true;
		}
		c->arena_used = 0;
		if (c->close_after)
			return conn_end(c);
		if (c->in_len == 0)
			break;
		conn_process(c);
		if (c->out_n == 0 && !c->close_after && c->state != HTTP_DELAYED)
			break; /* no whole request in the input */
	}
	conn_set_state(c, HTTP_WAITING);
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
	conn_set_state(c, HTTP_WAITING);
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
			respond_bad(c, OUTCOME_TIMED_OUT, 408, NULL,
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
	case T_DELAY: conn_set_state(c, HTTP_SENDING); return conn_run(c);
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
	conn_set_state(c, HTTP_CLOSED);
	out_release(c);
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
	/* everything but the output arena starts zeroed */
	struct http_conn *c = malloc(sizeof(*c));
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
	memset(c, 0, offsetof(struct http_conn, arena));
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
