// SPDX-License-Identifier: MIT
/*
 * What the HTTP server's files share (proto/http.c: the server, its connections and their
 * states; http_answer.c: answers and the files they carry; http_login.c: logins, the
 * redirection service and client certificates; http_config.c: the configuration's values).
 * Nothing outside proto/http*.c includes it.
 */
#ifndef AUTOPROV_PROTO_HTTP_INTERNAL_H
#define AUTOPROV_PROTO_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/loglimit.h"
#include "core/mac.h"
#include "core/peers.h"
#include "net/stream.h"
#include "proto/http.h"
#include "proto/http_parse.h"
#include "site/exchange.h"
#include "site/site.h"

#define TAG			 "http"
#define NAME_LOG_MAX		 512
#define UA_MAX			 256
#define OUT_PIECES		 32
#define OUT_ARENA		 4096
#define HEAD_MAX		 1536 /* one answer's status line, header fields and short text */
#define PEER_BUCKETS		 1024
#define LINGER_S		 2
#define IN_FIRST		 1024 /* the input buffer's first size; it doubles up to the limit */
#define PREFIX_V4		 24   /* the prefix of max_connections_per_prefix */
#define PREFIX_V6		 64
#define HTTP_UNAVAILABLE_RETRY_S 10 /* Retry-After of "unavailable": the store cannot be reached   \
				     */
#define HTTP_BUSY_RETRY                                                                            \
	"5" /* Retry-After of "busy" (s): out of descriptors, too many connections */

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
	struct peer_table peers;      /* connections per address */
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
	/*
	 * Arenas (OUT_ARENA bytes) given back by connections whose answers were sent, for the
	 * next to answer: a boot storm's thousands of connections waiting for their peers'
	 * next request hold none, and fresh memory is not touched for each.
	 */
	void *arenas;
	unsigned narenas;
};

enum timer_kind { T_HEADER, T_IDLE, T_SEND, T_LINGER, T_HANDSHAKE, T_DELAY };

struct out_piece {
	const char *data;
	size_t len;
	struct site_file *file; /* released once sent, or NULL */
};

/*
 * A connection's state: every change goes through http_conn_set_state(), which traces it, and
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
	/* the answers' heads: OUT_ARENA bytes from the server's pool while any is queued */
	char *arena;
};

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

/* Adds the header field "name: value" to x's answer; one too long is dropped. */
void http_add_field(struct http_exchange *x, const char *name, const char *value);
/* Adds a header field (printf-style, without CRLF) to x's answer; one too long is dropped. */
void http_add_header(struct http_exchange *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- http.c ---- */

/* Moves c to state, the transition traced (log_transition). */
void http_conn_set_state(struct http_conn *c, enum http_state state);

/* ---- http_answer.c ---- */

/* Gives c's arena back to its server's pool (nothing queued may point into it). */
void http_arena_put(struct http_conn *c);
/* Releases every answer queued on c (the files they hold), the arena given back. */
void http_out_release(struct http_conn *c);
/* Whether another answer fits in c's queue (pieces and arena). */
bool http_out_room(const struct http_conn *c);
/* Ends x's exchange: its log line (with the status sent) and journal row. */
void http_finish(struct http_exchange *x, enum outcome o, int status, uint64_t bytes,
		 const char *md5);
/*
 * Queues an answer: status line, the common fields, x's extra fields, Content-Length
 * (length), then body unless HEAD: len bytes of file, referenced, or a short text, copied.
 */
void http_respond(struct http_exchange *x, int status, uint64_t length, const char *body,
		  size_t len, struct site_file *file);
/* The answer of outcome o that is not a file (status and text: the table's when 0/NULL). */
void http_respond_outcome(struct http_exchange *x, enum outcome o, int status, const char *text);
/* An answer to a request that could not be parsed: then the connection closes. */
void http_respond_bad(struct http_conn *c, enum outcome o, int status, const char *text,
		      const char *detail);
/* Answers x with the file f (conditional requests and ranges), the reference taken over. */
void http_serve_file(struct http_exchange *x, struct site_file *f);

/* ---- http_login.c ---- */

/* The request's login, if [http] auth asks for one: true when it may go on (*who: the
 * device logged in, or ""), false when it was answered (a challenge, a refusal). */
int http_check_login(struct http_exchange *x, char who[MAC_LEN + 1]);
/* The redirection service: the MAC the path names, or NULL when it is not one of its. */
const char *http_redirect_mac(const struct http_server *srv, const char *path);
/* The redirection service's answer for mac_text (a 302 to the device's server, or 404). */
void http_redirect(struct http_exchange *x, const char *mac_text, const char *who);
/* Why a client certificate names no device, or NULL when it names one. */
const char *http_cert_names_nobody(const struct http_conn *c);
/* The site's certificate check of a device's access (struct principal's check). */
int http_cert_check(void *arg, const char *mac, const char **why);

#endif
