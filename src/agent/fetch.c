// SPDX-License-Identifier: MIT
/*
 * Downloads through libcurl's multi "socket" interface on a libevent loop. curl tells us
 * which sockets to watch (on_socket) and when to wake it (on_timer); we turn those into
 * one event per socket and one timer, and call curl_multi_socket_action() from them.
 * Completed transfers are collected only after curl_multi_socket_action() has returned
 * (finish_transfers), so that callers' done() functions, which may start or cancel
 * fetches, never run inside a curl callback. Each completed transfer is classified
 * (enum fetch_status) and described in one sentence for the agent's timeline.
 *
 * libcurl before 8.4.0 can leave an FTP transfer with nothing to wait for (curl issue
 * 12033): when the EPSV/PASV reply is already readable as the command is sent, the
 * transfer moves to its DOING_MORE state without connecting the data connection, asks for
 * no socket, and sleeps until its timeout. Each socket therefore records the transfer it
 * was asked for (owner); an FTP transfer curl has run that owns no socket after an action
 * gets one run of every transfer (rescue_stalled, on_kick).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agent/fetch.h"
#include "core/str.h"

/* First allocation of a body whose length the server did not announce. */
#define FETCH_FIRST_CHUNK 4096
#define FETCH_PROTOCOLS	  "http,https,ftp,ftps,tftp"

/* One socket curl asked us to watch, with its event. */
struct fetch_socket {
	struct fetcher *fetcher;
	struct fetch_socket *prev, *next;
	curl_socket_t fd;
	struct event *ev;
	struct fetch *owner; /* the transfer curl last asked for it, or NULL */
};

struct fetcher {
	struct event_base *base;
	CURLM *multi;
	CURLSH *share;
	struct event *timer;
	struct event *kick;    /* runs every transfer once: a stalled FTP transfer (see above) */
	struct fetch *fetches; /* in flight, done() not yet called */
	struct fetch_socket *sockets;
	unsigned active;
	bool dispatching;    /* inside finish_transfers(): fetcher_free() is deferred */
	bool free_pending;   /* fetcher_free() was called from a done() */
	char *system_cafile; /* curl's built-in CA bundle, added to an extra ca_file's */
	bool system_capath;  /* curl has a built-in CA directory: CAINFO does not hide it */
};

enum fetch_state {
	FETCH_RUNNING,	   /* added to the multi handle */
	FETCH_IN_CALLBACK, /* removed from it, done() running; freed when done() returns */
};

enum fetch_scheme { SCHEME_HTTP, SCHEME_FTP, SCHEME_TFTP };

struct fetch {
	struct fetcher *fetcher;
	struct fetch *prev, *next;
	CURL *easy;
	enum fetch_state state;
	enum fetch_scheme scheme;
	void (*done)(struct fetch_result *r, void *arg);
	void *arg;
	char *host; /* as written in the URL, for messages without an address */
	long port;  /* the URL's, or its scheme's default */
	char *url;  /* the last URL without its password, for the result (curl_free) */
	size_t max_size;
	size_t head_bytes; /* fetch_options.head_bytes */
	bool head_done;	   /* stopped once head_bytes arrived: a success */
	size_t cap;	   /* bytes allocated at result.body */
	bool too_big;
	bool no_memory;
	bool credentials;
	bool tftp_retried; /* asked again without options (tftp_retry) */
	bool tls;	   /* https://, ftps:// */
	bool client_cert;  /* a client certificate was given */
	bool ran;	   /* an action has run since it was added: curl has started it */
	bool kicked;	   /* rescued once since it last owned a socket */
	unsigned sockets;  /* fetch_sockets it owns */
	int max_redirects;
	struct timespec started;
	char reason[96]; /* HTTP reason phrase / text of the last FTP reply */
	char errbuf[CURL_ERROR_SIZE];
	struct fetch_result result;
};

static const char *const status_names[FETCH_STATUS_MAX] = {
	[FETCH_OK] = "ok",
	[FETCH_NOT_FOUND] = "not found",
	[FETCH_DENIED] = "denied",
	[FETCH_AUTH] = "login failed",
	[FETCH_TIMEOUT] = "timed out",
	[FETCH_REFUSED] = "connection refused",
	[FETCH_UNREACHABLE] = "unreachable",
	[FETCH_DNS] = "unknown host",
	[FETCH_TLS] = "TLS failure",
	[FETCH_TOO_BIG] = "too big",
	[FETCH_PROTOCOL] = "protocol error",
	[FETCH_ERROR] = "local error",
};

const char *fetch_status_name(enum fetch_status s)
{
	if ((unsigned)s >= FETCH_STATUS_MAX)
		return "?";
	return status_names[s];
}

unsigned fetcher_active(const struct fetcher *f)
{
	return f ? f->active : 0;
}

/* --- the fetch list --------------------------------------------------------------- */

static void fetch_link(struct fetcher *f, struct fetch *x)
{
	x->prev = NULL;
	x->next = f->fetches;
	if (f->fetches)
		f->fetches->prev = x;
	f->fetches = x;
	f->active++;
}

static void fetch_unlink(struct fetcher *f, struct fetch *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		f->fetches = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	f->active--;
}

/* Frees a fetch already removed from the multi handle (or never added). Accepts NULL. */
static void fetch_destroy(struct fetch *x)
{
	if (!x)
		return;
	for (struct fetch_socket *s = x->fetcher ? x->fetcher->sockets : NULL; s; s = s->next)
		if (s->owner == x)
			s->owner = NULL;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	free(x->result.body);
	free(x->host);
	curl_free(x->url);
	free(x);
}

/* --- curl's socket and timer callbacks -> libevent ------------------------------------ */

static void finish_transfers(struct fetcher *f);

/*
 * Before an action: every transfer added until now is due (curl_multi_add_handle() asks
 * for a timeout of 0), so curl runs it during the action, whichever socket woke us.
 */
static void mark_ran(struct fetcher *f)
{
	for (struct fetch *x = f->fetches; x; x = x->next)
		x->ran = true;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct fetch_socket *s = arg;
	struct fetcher *f = s->fetcher; /* s may be freed by the call below */
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	mark_ran(f);
	curl_multi_socket_action(f->multi, fd, flags, &running);
	finish_transfers(f);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int running;

	mark_ran(f);
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish_transfers(f);
}

/*
 * A stalled FTP transfer (see the top of the file): run every transfer, as
 * curl_multi_perform() would, and have curl say again which sockets each one waits on.
 * That is curl_multi_socket_all(), deprecated only because the socket interface makes it
 * unnecessary when curl keeps its own state right.
 */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int running;

	mark_ran(f);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	curl_multi_socket_all(f->multi, &running);
#pragma GCC diagnostic pop
	finish_transfers(f);
}

/*
 * After an action: an FTP transfer curl has started that waits on no socket can only be
 * woken by its timeout. Kick once per such stall; a transfer still without a socket after
 * the kick is left to its timeout, so a bug of another kind cannot make the loop spin.
 */
static void rescue_stalled(struct fetcher *f)
{
	static const struct timeval now = { 0, 0 };
	bool kick = false;

	for (struct fetch *x = f->fetches; x; x = x->next) {
		if (x->state == FETCH_RUNNING && x->scheme == SCHEME_FTP && x->ran && !x->sockets &&
		    !x->kicked) {
			x->kicked = true;
			kick = true;
		}
	}
	if (kick)
		evtimer_add(f->kick, &now);
}

/* Records that curl asked for s on behalf of x (NULL: of nobody). */
static void socket_own(struct fetch_socket *s, struct fetch *x)
{
	if (s->owner == x)
		return;
	if (s->owner)
		s->owner->sockets--;
	s->owner = x;
	if (x) {
		x->sockets++;
		x->kicked = false;
	}
}

static void socket_free(struct fetcher *f, struct fetch_socket *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		f->sockets = s->next;
	if (s->next)
		s->next->prev = s->prev;
	socket_own(s, NULL);
	if (s->ev)
		event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop watching it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct fetcher *f = userp;
	struct fetch_socket *s = socketp;
	struct fetch *x = NULL;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(f->multi, fd, NULL);
			socket_free(f, s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->fetcher = f;
		s->fd = fd;
		s->ev = event_new(f->base, fd, 0, on_event, s);
		if (!s->ev) {
			free(s);
			return -1;
		}
		s->next = f->sockets;
		if (f->sockets)
			f->sockets->prev = s;
		f->sockets = s;
		curl_multi_assign(f->multi, fd, s);
	}
	/* NULL for curl's own handles (closing connections) */
	if (!easy || curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK)
		x = NULL;
	socket_own(s, x);
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	event_del(s->ev);
	event_assign(s->ev, f->base, fd, kind, on_event, s);
	return event_add(s->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle; never act from here. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetcher *f = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return event_del(f->timer) == 0 ? 0 : -1;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

/* --- transfer callbacks ----------------------------------------------------------------- */

/* Keeps the printable part of a reply's text, without the line end. */
static void keep_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r' || src[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		dst[n++] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[n] = '\0';
}

/*
 * CURLOPT_HEADERFUNCTION: HTTP header lines and FTP server replies. A new HTTP status line
 * starts a new response (after a login challenge, a redirection, a 100): only the last
 * response's body is kept.
 */
static size_t on_header(char *buf, size_t size, size_t n, void *userp)
{
	struct fetch *x = userp;
	size_t len = size * n;

	if (x->scheme == SCHEME_HTTP && len > 12 && memcmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);

		x->result.len = 0;
		x->reason[0] = '\0';
		/* "HTTP/1.1 404 Not Found": the text after the code */
		if (sp && (size_t)(sp - buf) + 5 <= len && sp[4] == ' ')
			keep_text(x->reason, sizeof(x->reason), sp + 5,
				  len - (size_t)(sp - buf) - 5);
	} else if (x->scheme == SCHEME_FTP && len >= 4 && isdigit((unsigned char)buf[0]) &&
		   isdigit((unsigned char)buf[1]) && isdigit((unsigned char)buf[2]) &&
		   buf[3] == ' ') {
		keep_text(x->reason, sizeof(x->reason), buf + 4, len - 4);
	}
	return len;
}

/* CURLOPT_WRITEFUNCTION: the body into one buffer, never past max_size. */
static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct fetch *x = userp;
	struct fetch_result *r = &x->result;
	size_t len = size * n, take = len;

	/* the head only: keep what is missing of it, then stop the transfer (curl then sends
	 * TFTP an ERROR, closes the HTTP connection); a body of exactly head_bytes ends well */
	if (x->head_bytes && len > x->head_bytes - r->len) {
		take = x->head_bytes - r->len;
		x->head_done = true;
	}
	if (take > x->max_size - r->len) {
		x->too_big = true;
		return 0;
	}
	if (r->len + take + 1 > x->cap) {
		size_t want = x->cap ? x->cap * 2 : FETCH_FIRST_CHUNK;
		curl_off_t announced = -1;
		char *body;

		if (!x->cap &&
		    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) ==
			    CURLE_OK &&
		    announced > 0 && (uint64_t)announced <= x->max_size)
			want = (size_t)announced + 1;
		if (want < r->len + take + 1)
			want = r->len + take + 1;
		if (want > x->max_size + 1)
			want = x->max_size + 1;
		body = realloc(r->body, want);
		if (!body) {
			x->no_memory = true;
			return 0;
		}
		r->body = body;
		x->cap = want;
	}
	memcpy(r->body + r->len, data, take);
	r->len += take;
	r->body[r->len] = '\0';
	return x->head_done ? 0 : len;
}

/* The receive buffer of a head-only fetch's sockets: small, so that an FTP server, which
 * cannot be asked for a range's end, sends little more than the head before our ABOR. */
#define FETCH_HEAD_RCVBUF 4096

/* CURLOPT_SOCKOPTFUNCTION of a head-only fetch, before connect(): a small window. */
static int on_head_socket(void *userp, curl_socket_t fd, curlsocktype purpose)
{
	int size = FETCH_HEAD_RCVBUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return CURL_SOCKOPT_OK;
}

/*
 * CURLOPT_SSL_CTX_FUNCTION, used only when libcurl has no CA directory: CURLOPT_CAINFO
 * names the extra CA file, so the system bundle is added here.
 */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userp)
{
	struct fetch *x = userp;
	X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);

	if (!x->fetcher->system_cafile)
		return CURLE_OK;
	if (!store || X509_STORE_load_file(store, x->fetcher->system_cafile) != 1)
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

/* --- results ---------------------------------------------------------------------------- */

static const char *tftp_error_text(long code)
{
	static const char *const text[] = {
		"Not defined",	       "File not found",	 "Access violation",
		"Disk full",	       "Illegal TFTP operation", "Unknown transfer ID",
		"File already exists", "No such user",		 "Option negotiation refused",
	};

	return code >= 0 && code < (long)(sizeof(text) / sizeof(text[0])) ? text[code] : "?";
}

/* The TFTP error code a CURLcode stands for, or -1. */
static long tftp_code(CURLcode rc)
{
	switch (rc) {
	case CURLE_TFTP_NOTFOUND: return 1;
	case CURLE_TFTP_PERM: return 2;
	case CURLE_REMOTE_DISK_FULL: return 3;
	case CURLE_TFTP_ILLEGAL: return 4;
	case CURLE_TFTP_UNKNOWNID: return 5;
	case CURLE_REMOTE_FILE_EXISTS: return 6;
	case CURLE_TFTP_NOSUCHUSER: return 7;
	default: return -1;
	}
}

static bool tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED: return true;
	default: return false;
	}
}

static void set_result(struct fetch *x, enum fetch_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_result(struct fetch *x, enum fetch_status status, const char *fmt, ...)
{
	va_list ap;

	x->result.status = status;
	va_start(ap, fmt);
	vsnprintf(x->result.message, sizeof(x->result.message), fmt, ap);
	va_end(ap);
}

/* "10.0.0.1:8080", "[2001:db8::1]:69", or the host name when no address was reached. */
static void peer_name(struct fetch *x, char *buf, size_t size)
{
	char *ip = NULL;
	long port = 0;

	curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip);
	curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_PORT, &port);
	if (port <= 0)
		port = x->port;
	if (!ip || !*ip)
		ip = x->host ? x->host : "?";
	snprintf(buf, size, strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
}

/* The curl error text: curl's own sentence when it wrote one, else the generic one. */
static const char *curl_text(struct fetch *x, CURLcode rc)
{
	return x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
}

/* Classifies an HTTP answer that is not 2xx. */
static void http_status(struct fetch *x, long code, const char *peer)
{
	const char *reason = x->reason;
	const char *sep = *reason ? " " : "";
	char *target = NULL;

	if (code == 404 || code == 410) {
		set_result(x, FETCH_NOT_FOUND, "HTTP %ld%s%s from %s", code, sep, reason, peer);
	} else if (code == 401 || code == 407) {
		set_result(x, FETCH_AUTH, "HTTP %ld%s%s from %s: %s", code, sep, reason, peer,
			   x->credentials ? "credentials refused" : "a login is required");
	} else if (code == 403) {
		set_result(x, FETCH_DENIED, "HTTP %ld%s%s from %s", code, sep, reason, peer);
	} else if (code >= 300 && code < 400 &&
		   curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &target) == CURLE_OK &&
		   target) {
		set_result(x, FETCH_PROTOCOL,
			   "HTTP %ld%s%s from %s: redirection to %s not followed", code, sep,
			   reason, peer, target);
	} else {
		/* nginx answers 400 when a client certificate it requires is missing */
		set_result(x, FETCH_PROTOCOL, "HTTP %ld%s%s from %s%s", code, sep, reason, peer,
			   code == 400 && x->tls && !x->client_cert
				   ? " (no client certificate was sent)"
				   : "");
	}
}

static void classify(struct fetch *x, CURLcode rc)
{
	struct fetch_result *r = &x->result;
	char peer[96];
	long code = 0, os_errno = 0, tcode;
	curl_off_t connect_us = 0;

	peer_name(x, peer, sizeof(peer));
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	r->response_code = code;
	r->curl_code = (int)rc;

	/* an HTTP answer that is not 2xx says more than a curl error met while reading it */
	if (x->scheme == SCHEME_HTTP && code >= 100 && (code < 200 || code > 299) &&
	    rc != CURLE_TOO_MANY_REDIRECTS) {
		http_status(x, code, peer);
		return;
	}
	if (rc == CURLE_OK) {
		const char *proto = x->scheme == SCHEME_HTTP  ? "HTTP"
				    : x->scheme == SCHEME_FTP ? "FTP"
							      : "TFTP";

		if (x->scheme == SCHEME_TFTP)
			set_result(x, FETCH_OK, "TFTP from %s: %zu bytes in %.2f s", peer, r->len,
				   r->seconds);
		else
			set_result(x, FETCH_OK, "%s %ld%s%s from %s: %zu bytes in %.2f s", proto,
				   code, *x->reason ? " " : "", x->reason, peer, r->len,
				   r->seconds);
		return;
	}
	tcode = tftp_code(rc);
	if (x->scheme == SCHEME_TFTP && tcode >= 0) {
		r->response_code = tcode;
		set_result(x,
			   tcode == 1	? FETCH_NOT_FOUND
			   : tcode == 2 ? FETCH_DENIED
					: FETCH_PROTOCOL,
			   "TFTP error %ld (%s) from %s", tcode, tftp_error_text(tcode), peer);
		return;
	}
	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		set_result(x, FETCH_TOO_BIG, "the file from %s is larger than the %zu-byte limit",
			   peer, x->max_size);
		return;
	}
	if (tls_error(rc)) {
		set_result(x, FETCH_TLS, "TLS: %s (%s)", curl_text(x, rc), peer);
		return;
	}
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		set_result(x, FETCH_DNS, "cannot resolve host name '%s'", x->host ? x->host : "?");
		return;
	case CURLE_OPERATION_TIMEDOUT:
		/* libcurl reports an FTP 421 (a server full or going down) as a timeout */
		if (x->scheme == SCHEME_FTP && code == 421) {
			set_result(x, FETCH_PROTOCOL, "FTP 421%s%s from %s: the server is busy or "
				   "closing (try later)", *x->reason ? " " : "", x->reason, peer);
			return;
		}
		curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
		if (x->scheme == SCHEME_TFTP && r->len == 0)
			set_result(x, FETCH_TIMEOUT, "no answer from %s within %.1f s", peer,
				   r->seconds);
		else if (connect_us == 0 && x->scheme != SCHEME_TFTP)
			set_result(x, FETCH_TIMEOUT, "no connection to %s within %.1f s", peer,
				   r->seconds);
		else
			set_result(x, FETCH_TIMEOUT,
				   "timed out after %.1f s with %zu bytes from %s", r->seconds,
				   r->len, peer);
		return;
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		if (os_errno == ECONNREFUSED) {
			set_result(x, FETCH_REFUSED, "connection refused by %s", peer);
			return;
		}
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH || os_errno == EHOSTDOWN ||
		    os_errno == ENETDOWN) {
			set_result(x, FETCH_UNREACHABLE, "%s unreachable (%s)", peer,
				   strerror((int)os_errno));
			return;
		}
		if (os_errno == ETIMEDOUT) {
			set_result(x, FETCH_TIMEOUT, "no connection to %s (%s)", peer,
				   strerror((int)os_errno));
			return;
		}
		set_result(x, rc == CURLE_COULDNT_CONNECT ? FETCH_ERROR : FETCH_PROTOCOL, "%s (%s)",
			   curl_text(x, rc), peer);
		return;
	case CURLE_REMOTE_FILE_NOT_FOUND:
		set_result(x, FETCH_NOT_FOUND, "FTP %ld%s%s from %s", code, *x->reason ? " " : "",
			   x->reason, peer);
		return;
	case CURLE_LOGIN_DENIED:
		set_result(x, FETCH_AUTH, "FTP %ld%s%s from %s: %s", code, *x->reason ? " " : "",
			   x->reason, peer,
			   x->credentials ? "credentials refused" : "anonymous login refused");
		return;
	case CURLE_REMOTE_ACCESS_DENIED:
		set_result(x, FETCH_DENIED, "access denied by %s: %s", peer, curl_text(x, rc));
		return;
	case CURLE_FTP_COULDNT_RETR_FILE:
		set_result(x, code == 550 ? FETCH_NOT_FOUND : FETCH_PROTOCOL, "FTP %ld%s%s from %s",
			   code, *x->reason ? " " : "", x->reason, peer);
		return;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		set_result(x, FETCH_ERROR, "%s", curl_text(x, rc));
		return;
	case CURLE_WRITE_ERROR:
		if (x->no_memory) {
			set_result(x, FETCH_ERROR, "out of memory for the file from %s", peer);
			return;
		}
		break;
	default: break;
	}
	if (x->scheme == SCHEME_FTP && code > 0)
		set_result(x, FETCH_PROTOCOL, "FTP %ld%s%s from %s: %s", code,
			   *x->reason ? " " : "", x->reason, peer, curl_text(x, rc));
	else
		set_result(x, FETCH_PROTOCOL, "%s (%s)", curl_text(x, rc), peer);
}

/* Fills result.url with the last URL asked, its password removed. */
static void keep_url(struct fetch *x)
{
	char *effective = NULL;
	CURLU *u = curl_url();

	if (!u)
		return;
	if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK &&
	    effective && curl_url_set(u, CURLUPART_URL, effective, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &x->url, 0) != CURLUE_OK)
			x->url = NULL;
	}
	curl_url_cleanup(u);
	x->result.url = x->url;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A transfer curl finished: classify it, tell the caller, free it. */
static void complete(struct fetcher *f, struct fetch *x, CURLcode rc)
{
	struct fetch_result *r = &x->result;
	char *ctype = NULL;

	fetch_unlink(f, x);
	x->state = FETCH_IN_CALLBACK;
	r->seconds = seconds_since(&x->started);
	if (rc == CURLE_WRITE_ERROR && x->head_done)
		rc = CURLE_OK; /* on_body stopped it: the head arrived */
	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK)
		r->content_type = ctype;
	keep_url(x);
	{
		char *ip = NULL;

		/* curl 7.88 leaves it empty for TFTP: the URL's host then, when numeric */
		if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip ||
		    !*ip)
			ip = x->host;
		if (ip)
			snprintf(r->peer_ip, sizeof(r->peer_ip), "%s", ip);
	}
	classify(x, rc);
	if (x->scheme == SCHEME_HTTP && r->response_code >= 300 && r->response_code < 400) {
		char *target = NULL;

		if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &target) == CURLE_OK &&
		    target)
			r->redirect_url = target;
	}
	if (r->status == FETCH_OK) {
		if (!r->body) {
			/* an empty file: still a buffer the caller may take */
			r->body = calloc(1, 1);
			if (!r->body)
				set_result(x, FETCH_ERROR, "out of memory");
		}
	} else {
		free(r->body);
		r->body = NULL;
		r->len = 0;
	}
	x->done(r, x->arg);
	fetch_destroy(x);
}

/*
 * curl 7.88 rejects the OACK "tsize 0" that servers (tftpd-hpa) send for an empty file, as
 * an illegal TFTP operation (and says so only in its verbose output). The file is not
 * illegal, it is empty: ask once more without options, which an empty file does not need.
 * A server's real error 4 costs one more request. True if the transfer started again.
 */
static bool tftp_retry(struct fetcher *f, struct fetch *x, CURLcode rc)
{
	if (x->scheme != SCHEME_TFTP || rc != CURLE_TFTP_ILLEGAL || x->tftp_retried ||
	    x->result.len > 0)
		return false;
	x->tftp_retried = true;
	x->errbuf[0] = '\0';
	x->result.len = 0;
	x->too_big = false;
	return curl_easy_setopt(x->easy, CURLOPT_TFTP_NO_OPTIONS, 1L) == CURLE_OK &&
	       curl_multi_add_handle(f->multi, x->easy) == CURLM_OK;
}

static void fetcher_destroy(struct fetcher *f);

/* After curl_multi_socket_action(): every transfer it finished, one by one. */
static void finish_transfers(struct fetcher *f)
{
	CURLMsg *m;
	int left;

	f->dispatching = true;
	while (!f->free_pending && (m = curl_multi_info_read(f->multi, &left))) {
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		struct fetch *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		/* m is invalid from here on */
		curl_multi_remove_handle(f->multi, easy);
		if (x && !tftp_retry(f, x, rc))
			complete(f, x, rc);
	}
	f->dispatching = false;
	if (f->free_pending)
		fetcher_destroy(f);
	else
		rescue_stalled(f);
}

/* --- the fetcher ------------------------------------------------------------------------- */

struct fetcher *fetcher_new(struct event_base *base)
{
	static bool curl_ready;
	struct fetcher *f;
	CURL *probe;
	char *path = NULL;

	if (!base) {
		errno = EINVAL;
		return NULL;
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			errno = EIO;
			return NULL;
		}
		curl_ready = true;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base = base;
	f->multi = curl_multi_init();
	f->share = curl_share_init();
	f->timer = evtimer_new(base, on_timeout, f);
	f->kick = evtimer_new(base, on_kick, f);
	probe = curl_easy_init();
	if (!f->multi || !f->share || !f->timer || !f->kick || !probe)
		goto fail;
	/* where curl finds the system's CAs when nobody says otherwise */
	if (curl_easy_getinfo(probe, CURLINFO_CAPATH, &path) == CURLE_OK && path && *path)
		f->system_capath = true;
	path = NULL;
	if (curl_easy_getinfo(probe, CURLINFO_CAINFO, &path) == CURLE_OK && path && *path) {
		f->system_cafile = strdup(path);
		if (!f->system_cafile)
			goto fail;
	}
	curl_easy_cleanup(probe);
	probe = NULL;
	if (curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		goto fail;
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	return f;
fail:
	curl_easy_cleanup(probe);
	fetcher_destroy(f);
	errno = ENOMEM;
	return NULL;
}

static void fetcher_destroy(struct fetcher *f)
{
	while (f->fetches) {
		struct fetch *x = f->fetches;

		fetch_unlink(f, x);
		curl_multi_remove_handle(f->multi, x->easy);
		fetch_destroy(x);
	}
	/* closes the cached connections; curl says CURL_POLL_REMOVE for their sockets */
	if (f->multi)
		curl_multi_cleanup(f->multi);
	f->multi = NULL;
	while (f->sockets)
		socket_free(f, f->sockets);
	if (f->share)
		curl_share_cleanup(f->share);
	if (f->timer)
		event_free(f->timer);
	if (f->kick)
		event_free(f->kick);
	free(f->system_cafile);
	free(f);
}

void fetcher_free(struct fetcher *f)
{
	if (!f)
		return;
	if (f->dispatching) {
		/* inside a done(): no further callbacks, the rest once finish_transfers() ends */
		while (f->fetches) {
			struct fetch *x = f->fetches;

			fetch_unlink(f, x);
			curl_multi_remove_handle(f->multi, x->easy);
			fetch_destroy(x);
		}
		f->free_pending = true;
		return;
	}
	fetcher_destroy(f);
}

/* --- starting and cancelling ----------------------------------------------------------- */

/*
 * Parses url, keeps its scheme, host and port, and gives it to curl. Credentials in
 * fetch_options replace the URL's: curl would prefer the URL's, so those are taken out of
 * the URL and set as options. 0, -EINVAL, -EPROTONOSUPPORT or -ENOMEM.
 */
static int set_url(struct fetch *x, const char *url, const struct fetch_options *o)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *port = NULL;
	char *bare = NULL;
	uint64_t number;
	int r = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		r = -EINVAL;
		goto done;
	}
	x->tls = !strcasecmp(scheme, "https") || !strcasecmp(scheme, "ftps");
	if (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"))
		x->scheme = SCHEME_HTTP;
	else if (!strcasecmp(scheme, "ftp") || !strcasecmp(scheme, "ftps"))
		x->scheme = SCHEME_FTP;
	else if (!strcasecmp(scheme, "tftp"))
		x->scheme = SCHEME_TFTP;
	else {
		r = -EPROTONOSUPPORT;
		goto done;
	}
	x->host = strdup(host);
	if (!x->host) {
		r = -ENOMEM;
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port &&
	    str_to_u64(port, 1, 65535, &number) == 0)
		x->port = (long)number;
	if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) != CURLUE_OK)
		user = NULL;
	if (curl_url_get(u, CURLUPART_PASSWORD, &password, CURLU_URLDECODE) != CURLUE_OK)
		password = NULL;
	if (o->user || o->password) {
		const char *use_user = o->user ? o->user : user;
		const char *use_password = o->password ? o->password : password;

		if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
		    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_URL, &bare, 0) != CURLUE_OK) {
			r = -ENOMEM;
			goto done;
		}
		url = bare;
		if ((use_user && curl_easy_setopt(x->easy, CURLOPT_USERNAME, use_user)) ||
		    (use_password && curl_easy_setopt(x->easy, CURLOPT_PASSWORD, use_password))) {
			r = -EINVAL;
			goto done;
		}
		x->credentials = use_user && *use_user;
	} else {
		x->credentials = user && *user;
	}
	if (curl_easy_setopt(x->easy, CURLOPT_URL, url) != CURLE_OK)
		r = -EINVAL;
done:
	curl_free(bare);
	curl_free(port);
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return r;
}

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                     \
			return -EINVAL;                                                            \
	} while (0)

static int configure(struct fetcher *f, struct fetch *x, const struct fetch_options *o)
{
	CURL *e = x->easy;
	long timeout = o->timeout_ms > 0 ? o->timeout_ms : FETCH_DEFAULT_TIMEOUT_MS;
	long connect = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
						 : FETCH_DEFAULT_CONNECT_TIMEOUT_MS;
	long stall = o->stall_timeout_ms > 0 ? o->stall_timeout_ms : FETCH_DEFAULT_STALL_TIMEOUT_MS;
	long authmask = o->auth == FETCH_AUTH_BASIC    ? (long)CURLAUTH_BASIC
			: o->auth == FETCH_AUTH_DIGEST ? (long)CURLAUTH_DIGEST
						       : (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST);

	if (o->auth > FETCH_AUTH_DIGEST ||
	    (o->tftp_blksize && (o->tftp_blksize < 8 || o->tftp_blksize > 65464)))
		return -EINVAL;
	SET(CURLOPT_PROTOCOLS_STR, FETCH_PROTOCOLS);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_PRIVATE, (void *)x);
	SET(CURLOPT_SHARE, f->share);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, (void *)x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, (void *)x);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect);
	/* a stall: less than one byte a second for stall_timeout_ms */
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, (stall + 999) / 1000);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_size);
	SET(CURLOPT_PROXY, o->proxy ? o->proxy : "");
	if (o->source_address) {
		/* "host!": an address to bind to, never an interface name to look up. */
		char device[INET6_ADDRSTRLEN + 8];

		snprintf(device, sizeof(device), "host!%s", o->source_address);
		SET(CURLOPT_INTERFACE, device);
	}
	if (x->max_redirects > 0) {
		SET(CURLOPT_FOLLOWLOCATION, 1L);
		SET(CURLOPT_MAXREDIRS, (long)x->max_redirects);
	}
	SET(CURLOPT_USERAGENT, o->user_agent ? o->user_agent : FETCH_DEFAULT_USER_AGENT);
	SET(CURLOPT_HTTPAUTH, authmask);
	if (o->tftp_blksize)
		SET(CURLOPT_TFTP_BLKSIZE, (long)o->tftp_blksize);
	if (x->head_bytes && x->scheme != SCHEME_TFTP) {
		char range[48];

		snprintf(range, sizeof(range), "0-%zu", x->head_bytes - 1);
		SET(CURLOPT_RANGE, range);
		SET(CURLOPT_SOCKOPTFUNCTION, on_head_socket);
	}
	if (o->ftp_active)
		SET(CURLOPT_FTPPORT, "-");
	if (o->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->cert_file) {
		SET(CURLOPT_SSLCERT, o->cert_file);
		x->client_cert = true;
	}
	if (o->key_file)
		SET(CURLOPT_SSLKEY, o->key_file);
	if (o->ca_file) {
		/*
		 * CAINFO names the extra file (so connections and TLS sessions are only
		 * reused between fetches trusting the same CAs); the system's CAs stay
		 * reachable through curl's CA directory, or are added to the store.
		 */
		SET(CURLOPT_CAINFO, o->ca_file);
		SET(CURLOPT_CA_CACHE_TIMEOUT, 0L);
		if (!f->system_capath && f->system_cafile) {
			if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK ||
			    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, (void *)x) != CURLE_OK)
				return -EINVAL;
		}
	}
	return 0;
}

#undef SET

struct fetch *fetch_start(struct fetcher *f, const char *url, const struct fetch_options *o,
			  void (*done)(struct fetch_result *r, void *arg), void *arg)
{
	static const struct fetch_options defaults;
	struct fetch *x;
	int r;

	if (!f || f->free_pending || !url || !done) {
		errno = EINVAL;
		return NULL;
	}
	if (!o)
		o = &defaults;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->fetcher = f;
	x->done = done;
	x->arg = arg;
	x->max_size = o->max_size ? o->max_size : FETCH_DEFAULT_MAX_SIZE;
	x->head_bytes = o->head_bytes;
	/* room for the NUL, and a size curl_off_t holds */
	if (x->max_size > (size_t)INT64_MAX - 1)
		x->max_size = (size_t)INT64_MAX - 1;
	x->max_redirects = o->max_redirects == 0  ? FETCH_DEFAULT_MAX_REDIRECTS
			   : o->max_redirects < 0 ? 0
						  : o->max_redirects;
	clock_gettime(CLOCK_MONOTONIC, &x->started);
	x->easy = curl_easy_init();
	if (!x->easy) {
		r = -ENOMEM;
		goto fail;
	}
	r = set_url(x, url, o);
	if (r < 0)
		goto fail;
	r = configure(f, x, o);
	if (r < 0)
		goto fail;
	/* curl asks for a timer of 0 here: the transfer starts from the loop */
	if (curl_multi_add_handle(f->multi, x->easy) != CURLM_OK) {
		r = -ENOMEM;
		goto fail;
	}
	x->state = FETCH_RUNNING;
	fetch_link(f, x);
	return x;
fail:
	fetch_destroy(x);
	errno = -r;
	return NULL;
}

void fetch_cancel(struct fetch *x)
{
	struct fetcher *f;

	if (!x || x->state != FETCH_RUNNING)
		return;
	f = x->fetcher;
	fetch_unlink(f, x);
	curl_multi_remove_handle(f->multi, x->easy);
	fetch_destroy(x);
}
