// SPDX-License-Identifier: MIT
/*
 * What the FTP server's files share (proto/ftp.c, a session's state, replies and journal
 * rows, the control connection and the server; ftp_data.c, the data connection; ftp_cmd.c,
 * the commands; ftp_list.c, the listings): the session and its transfer, and the functions
 * one file calls in another. Private to proto/.
 */
#ifndef AUTOPROV_PROTO_FTP_INTERNAL_H
#define AUTOPROV_PROTO_FTP_INTERNAL_H

#include <event2/util.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/addr.h"
#include "core/loglimit.h"
#include "core/mac.h"
#include "core/peers.h"
#include "net/stream.h"
#include "proto/ftp.h"
#include "proto/ftp_parse.h"
#include "site/exchange.h"
#include "site/site.h"

#define TAG "ftp"

#define READ_BUF     4096
#define OUT_MAX	     8192
#define PATH_LOG_MAX 512
/* An over-long command line is skipped to its end; beyond this, the session is closed. */
#define ABSURD_LINE 65536

struct event;

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

	bool dead; /* to be freed by ftp_session_settle() */
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
	unsigned passive_min, passive_span; /* ftp_passive_range() */
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

/* ---- ftp.c: the session, its replies and journal rows, the control connection ---- */

/* To the tail of q. */
void ftp_wait_enter(struct session *s, struct wait_queue *q);
/* The session's and the data connection's state changes, traced. */
void ftp_session_set_state(struct session *s, enum session_state state);
void ftp_data_set_state(struct session *s, enum data_state state);
/* (Re)starts a timer. */
void ftp_arm(struct event *ev, unsigned seconds);
void ftp_arm_ms(struct event *ev, unsigned ms);
/* Queues raw reply bytes; a client that lets replies pile up is dropped. */
void ftp_send_raw(struct session *s, const char *text, size_t len);
/* Queues one reply line: code and the formatted text. */
__attribute__((format(printf, 3, 4))) void ftp_reply(struct session *s, unsigned code,
						     const char *fmt, ...);
/* Writes what is queued; false when the connection failed. */
bool ftp_flush_out(struct session *s);
/* The reply goes out, then the connection closes. */
void ftp_session_close_after(struct session *s);
/* The login's name escaped for the log, "-" before a login. */
const char *ftp_login_name(const struct session *s, char *buf, size_t sz);
/*
 * The log line and journal row of a request (exchange_close): RETR (or a refused write) with
 * the MAC of the file's device when a route bound one, else the device that logged in.
 * started: when its transfer began, or NULL for a request answered now.
 */
void ftp_log_request(struct session *s, enum outcome o, const char *verb, const char *path,
		     uint64_t bytes, const struct timespec *started, const char *mac,
		     const char *md5, const char *detail);
/* "/path" escaped for the journal and the log: the normalised path, or what was sent. */
void ftp_log_path(char *buf, size_t sz, const char *path, const char *arg, size_t arg_len);
/* A step of the control connection's TLS handshake, after AUTH TLS. */
void ftp_control_handshake(struct session *s);
/*
 * The end of every callback: process what input may now be processed, send replies, then
 * free the session if it is over, else watch what it waits for.
 */
void ftp_session_settle(struct session *s);

/* ---- ftp_data.c: the data connection ---- */

/* Frees what the transfer holds and clears it. */
void ftp_transfer_done(struct transfer *x);
/* Closes the data connection or listener (the transfer stays). */
void ftp_data_close(struct session *s);
/* Ends the transfer in progress with its journal entry and log line (no reply). */
void ftp_transfer_end(struct session *s, enum outcome o, const char *detail);
/* The data connection's timer: not made, not used, or stalled. */
void ftp_on_data_timeout(evutil_socket_t fd, short what, void *arg);
/*
 * The ports passive listeners take: the configured range, else the kernel's ephemeral range.
 * Ports are picked here, one after another from a random start, rather than by bind() to
 * port 0: with tens of thousands of connections in TIME_WAIT (a busy server closes its data
 * connections first), the kernel's own search for a free port costs milliseconds a bind.
 */
void ftp_passive_range(const struct ftp_config *cfg, unsigned *ret_min, unsigned *ret_span);
/* PASV and EPSV (extended), PORT and EPRT: the data connection of the next transfer. */
void ftp_cmd_pasv(struct session *s, bool extended, const struct ftp_command *c);
void ftp_cmd_port(struct session *s, bool extended, const struct ftp_command *c);
/*
 * Sends 150 and starts x (set up by the caller) as soon as the data connection allows:
 * now when it is open, once the client connects to the listener, after connecting to
 * PORT's address.
 */
void ftp_transfer_begin(struct session *s, const char *what);

/* ---- ftp_cmd.c: the commands ---- */

/* The request as the site sees it (the defence's miss, listings). */
void ftp_request_of(const struct session *s, struct site_request *req);
/*
 * Opens the exchange of a command's file name, from the working directory, with the access
 * rule of the login. OUTCOME_SENT with x->file; else the outcome (REFUSED a name leaving the
 * site, NOT_FOUND with path "" for the top, DENIED another device's file, BLOCKED, ...).
 * path gets the normalised path ("" when refused).
 */
enum outcome ftp_session_resolve(struct session *s, const char *arg, size_t len, char *path,
				 size_t pathsz, struct exchange *x);
/* Replies to a command whose file did not open: the table's reply, and a block closes. */
void ftp_resolve_failed(struct session *s, enum outcome o, const char *path);
/* Whether PASV / PORT prepared a data connection (else 425 is answered). */
bool ftp_data_prepared(struct session *s);
/* The delay of a failed login is over: 530, and another try or the end. */
void ftp_login_delay_over(struct session *s);
/*
 * Handles the complete line in the reader. While a transfer runs only ABOR and STAT are
 * answered at once; any other command waits for its end (false: the line is held).
 */
bool ftp_handle_line(struct session *s);

/* ---- ftp_list.c: the listings ---- */

/* LIST, NLST and MLSD on the data connection; MLST on the control connection. */
void ftp_cmd_list(struct session *s, const struct ftp_command *c);
void ftp_cmd_mlst(struct session *s, const struct ftp_command *c);

#endif
