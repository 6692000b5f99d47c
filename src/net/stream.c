// SPDX-License-Identifier: MIT
/* A connection's byte stream, plain or TLS, and its events (net/stream.h). */
#include "net/stream.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/str.h"

#define HELLO_PEEK 2048 /* a ClientHello this long is checked with one peek */
/* a first record longer than TLS allows is handed to OpenSSL at once, to be refused */
#define RECORD_MAX (5 + 16384 + 2048)

enum tls_phase {
	TLS_NONE,      /* plain */
	TLS_HELLO,     /* waiting for the whole ClientHello; no OpenSSL connection yet */
	TLS_HANDSHAKE, /* OpenSSL is handshaking */
	TLS_OPEN,      /* reads and writes go through TLS */
};

struct net_stream {
	int fd;
	const struct net_stream_ops *ops;
	void *arg;
	SSL_CTX *ctx; /* referenced until the connection is made from it, when the hello came */
	SSL *ssl;
	enum tls_phase tls;
	bool tls_failed; /* a fatal TLS error: no close_notify may follow */
	bool drained;	 /* the last TLS read wanted the socket: nothing held is readable */
	bool closed;
	bool events_set; /* rev, wev and timer were assigned */
	unsigned watching, wants;
	unsigned running; /* callbacks of this stream on the stack */
	/*
	 * TLS output held back: what a handshake step wrote, sent in one go when the step
	 * ends (what a full socket did not take then goes before anything else).
	 */
	bool holding;
	int more; /* MSG_MORE while the end follows, else 0 */
	unsigned char *held;
	size_t held_len, held_off, held_cap;
	struct event *rev, *wev, *timer;
	char why[120];
	/* the three events, event_get_struct_event_size() bytes each */
	alignas(max_align_t) unsigned char events[];
};

static int held_flush(struct net_stream *s);
static int tls_bios(struct net_stream *s);

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct net_stream *s = arg;

	(void)fd;
	net_stream_dispatch(s, (what & EV_READ ? NET_READABLE : 0) |
				       (what & EV_WRITE ? NET_WRITABLE : 0) |
				       (what & EV_TIMEOUT ? NET_TIMEOUT : 0));
}

static size_t event_slot(void)
{
	size_t a = alignof(max_align_t);

	return (event_get_struct_event_size() + a - 1) / a * a;
}

int net_stream_new(struct event_base *base, int fd, const struct net_stream_ops *ops, void *arg,
		   struct net_stream **ret)
{
	size_t slot = event_slot();
	struct net_stream *s = malloc(sizeof(*s) + 3 * slot);

	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->ops = ops;
	s->arg = arg;
	s->rev = (struct event *)s->events;
	s->wev = (struct event *)(s->events + slot);
	s->timer = (struct event *)(s->events + 2 * slot);
	if (event_assign(s->rev, base, fd, EV_READ | EV_PERSIST, on_event, s) < 0 ||
	    event_assign(s->wev, base, fd, EV_WRITE | EV_PERSIST, on_event, s) < 0 ||
	    event_assign(s->timer, base, -1, 0, on_event, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->events_set = true;
	*ret = s;
	return 0;
}

static void stream_free(struct net_stream *s)
{
	void (*closed)(void *) = s->ops ? s->ops->closed : NULL;
	void *arg = s->arg;

	free(s->held);
	free(s);
	if (closed)
		closed(arg);
}

void net_stream_close(struct net_stream *s)
{
	if (!s || s->closed)
		return;
	s->closed = true;
	if (s->events_set) {
		event_del(s->rev);
		event_del(s->wev);
		event_del(s->timer);
	}
	s->watching = 0;
	if (s->ctx) {
		SSL_CTX_free(s->ctx);
		s->ctx = NULL;
	}
	if (s->ssl) {
		(void)held_flush(s); /* the last step's output still held: best effort */
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->running == 0)
		stream_free(s);
}

bool net_stream_is_closed(const struct net_stream *s)
{
	return s->closed;
}

void net_stream_dispatch(struct net_stream *s, unsigned what)
{
	if (s->closed)
		return;
	s->running++;
	s->ops->event(s, what, s->arg);
	s->running--;
	if (s->closed && s->running == 0)
		stream_free(s);
}

void net_stream_watch(struct net_stream *s, unsigned what)
{
	unsigned change = (what ^ s->watching) & (NET_READABLE | NET_WRITABLE);

	if (s->closed)
		return;
	if (change & NET_READABLE) {
		if (what & NET_READABLE)
			event_add(s->rev, NULL);
		else
			event_del(s->rev);
	}
	if (change & NET_WRITABLE) {
		if (what & NET_WRITABLE)
			event_add(s->wev, NULL);
		else
			event_del(s->wev);
	}
	s->watching = what & (NET_READABLE | NET_WRITABLE);
}

void net_stream_watch_wants(struct net_stream *s)
{
	net_stream_watch(s, s->wants);
}

unsigned net_stream_wants(const struct net_stream *s)
{
	return s->wants;
}

void net_stream_wake(struct net_stream *s, unsigned what)
{
	if (!s->closed)
		event_active(what & NET_WRITABLE ? s->wev : s->rev,
			     what & NET_WRITABLE ? EV_WRITE : EV_READ, 0);
}

void net_stream_timer(struct net_stream *s, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (s->closed)
		return;
	if (ms)
		event_add(s->timer, &tv);
	else
		event_del(s->timer);
}

int net_stream_fd(const struct net_stream *s)
{
	return s->fd;
}

/* ---- TLS output: the socket, with what is held sent first ---- */

/* Sends what is held: 0 when nothing is left, -EAGAIN, or a negative errno. */
static int held_flush(struct net_stream *s)
{
	while (s->held_off < s->held_len) {
		ssize_t n = send(s->fd, s->held + s->held_off, s->held_len - s->held_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
		s->held_off += (size_t)n;
	}
	s->held_off = s->held_len = 0;
	return 0;
}

/* Keeps len bytes to send later; false when out of memory. */
static bool hold(struct net_stream *s, const void *data, size_t len)
{
	if (s->held_off > 0) {
		memmove(s->held, s->held + s->held_off, s->held_len - s->held_off);
		s->held_len -= s->held_off;
		s->held_off = 0;
	}
	if (s->held_len + len > s->held_cap) {
		size_t cap = s->held_cap ? s->held_cap : 2048;
		unsigned char *p;

		while (cap < s->held_len + len)
			cap *= 2;
		p = realloc(s->held, cap);
		if (!p)
			return false;
		s->held = p;
		s->held_cap = cap;
	}
	memcpy(s->held + s->held_len, data, len);
	s->held_len += len;
	return true;
}

/*
 * OpenSSL's output: held while s->holding, else sent behind what is held, in one system
 * call. Bytes of data taken, or -1 with BIO_should_retry for "wait for writable".
 */
static int sink_write(BIO *b, const char *data, int len)
{
	struct net_stream *s = BIO_get_data(b);
	size_t held = s->held_len - s->held_off;
	struct iovec iov[2] = { { s->held + s->held_off, held }, { (void *)data, (size_t)len } };
	struct msghdr msg = { .msg_iov = held ? iov : iov + 1, .msg_iovlen = held ? 2 : 1 };
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (s->holding)
		return hold(s, data, (size_t)len) ? len : -1;
	n = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT | s->more);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	if ((size_t)n <= held) {
		s->held_off += (size_t)n;
		BIO_set_retry_write(b); /* nothing of data went: again when writable */
		return -1;
	}
	s->held_off = s->held_len = 0;
	return (int)((size_t)n - held);
}

static long sink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct net_stream *s = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH: return 1; /* held output goes when the stream says */
	case BIO_CTRL_WPENDING: return (long)(s->held_len - s->held_off);
	case BIO_CTRL_DUP: return 1;
	default: return 0;
	}
}

static int sink_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *sink_meth; /* one for the process, read-only once made */
static pthread_once_t sink_once = PTHREAD_ONCE_INIT;

static void sink_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "net_stream");

	if (m && (!BIO_meth_set_write(m, sink_write) || !BIO_meth_set_ctrl(m, sink_ctrl) ||
		  !BIO_meth_set_create(m, sink_create))) {
		BIO_meth_free(m);
		m = NULL;
	}
	sink_meth = m;
}

/*
 * The output sink's method, shared by every worker thread (a thread's own would be lost
 * when the thread ends); NULL when it could not be made.
 */
static BIO_METHOD *sink_method(void)
{
	pthread_once(&sink_once, sink_make);
	return sink_meth;
}

/* ---- TLS ---- */

/* Records why TLS failed: OpenSSL's first error, else dflt. The error queue is emptied. */
static void tls_failure(struct net_stream *s, const char *dflt)
{
	unsigned long e = ERR_get_error();

	s->tls_failed = true;
	if (e)
		ERR_error_string_n(e, s->why, sizeof(s->why));
	else
		str_copy(s->why, sizeof(s->why), dflt);
	ERR_clear_error();
}

/* -EAGAIN with what OpenSSL waits for, or the failure (e: SSL_get_error's answer). */
static int tls_result(struct net_stream *s, int e)
{
	switch (e) {
	case SSL_ERROR_WANT_READ: s->wants = NET_READABLE; return -EAGAIN;
	case SSL_ERROR_WANT_WRITE: s->wants = NET_WRITABLE; return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN: return 0;
	case SSL_ERROR_SYSCALL:
		/* the socket's own error, or the peer gone without a word */
		tls_failure(s, errno && errno != EAGAIN ? strerror(errno) : "connection closed");
		return -ECONNRESET;
	default: tls_failure(s, "TLS error"); return -EPROTO;
	}
}

int net_stream_tls_accept(struct net_stream *s, SSL_CTX *ctx)
{
	if (s->closed || s->tls != TLS_NONE)
		return -EINVAL;
	SSL_CTX_up_ref(ctx); /* a reload may drop the server's before the hello comes */
	s->ctx = ctx;
	s->tls = TLS_HELLO;
	return 0;
}

/*
 * Whether the first record (the ClientHello) is all in the socket: 1, 0 (wait), or a
 * negative errno. Anything that is not a handshake record goes to OpenSSL at once, which
 * says what is wrong with it.
 */
static int hello_here(struct net_stream *s)
{
	uint8_t head[HELLO_PEEK];
	ssize_t n = recv(s->fd, head, sizeof(head), MSG_PEEK);
	size_t need;
	int avail;

	if (n == 0) {
		str_copy(s->why, sizeof(s->why), "connection closed");
		return -ECONNRESET;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		str_copy(s->why, sizeof(s->why), strerror(errno));
		return -ECONNRESET;
	}
	if (head[0] != 0x16)
		return 1;
	if (n < 5)
		return 0;
	need = 5 + ((size_t)head[3] << 8 | head[4]);
	if ((size_t)n >= need || need > RECORD_MAX)
		return 1;
	if ((size_t)n < sizeof(head))
		return 0;
	/* a hello longer than the peek: is the rest in the socket too? */
	return ioctl(s->fd, FIONREAD, &avail) == 0 && (size_t)avail >= need ? 1 : 0;
}

int net_stream_handshake(struct net_stream *s)
{
	int r;

	if (s->closed)
		return -EBADF;
	if (s->tls == TLS_OPEN)
		return 0;
	if (s->tls == TLS_HELLO) {
		r = hello_here(s);
		if (r <= 0) {
			s->wants = NET_READABLE;
			return r == 0 ? -EAGAIN : r;
		}
		ERR_clear_error();
		s->ssl = SSL_new(s->ctx);
		SSL_CTX_free(s->ctx); /* the connection holds it now */
		s->ctx = NULL;
		if (!s->ssl || tls_bios(s) < 0) {
			ERR_clear_error();
			SSL_free(s->ssl);
			s->ssl = NULL;
			str_copy(s->why, sizeof(s->why), "out of memory");
			return -ENOMEM;
		}
		SSL_set_accept_state(s->ssl);
		s->tls = TLS_HANDSHAKE;
	}
	if (s->tls != TLS_HANDSHAKE)
		return -EINVAL;
	r = held_flush(s); /* what the last step could not send */
	if (r == -EAGAIN) {
		s->wants = NET_WRITABLE;
		return r;
	}
	if (r < 0) {
		tls_failure(s, strerror(-r));
		return -ECONNRESET;
	}
	/* a step's records leave in one system call */
	s->holding = true;
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(s->ssl);
	s->holding = false;
	if (r == 1) {
		s->tls = TLS_OPEN;
		s->wants = 0;
		/*
		 * TLS 1.3 ends with the server's ticket: sent now, it acknowledges the client's
		 * Finished (held for the first answer, it would cost a bare ACK instead)
		 */
		r = held_flush(s);
		if (r == -EAGAIN)
			return 0; /* the next write sends it first */
		return r == 0 ? 0 : -ECONNRESET;
	}
	r = tls_result(s, SSL_get_error(s->ssl, r));
	if (r == -EAGAIN) {
		int f = held_flush(s);

		if (f == -EAGAIN)
			s->wants = NET_WRITABLE; /* this step's output first */
		else if (f < 0)
			r = -ECONNRESET;
		return r;
	}
	(void)held_flush(s);		 /* an alert, best effort */
	return r == 0 ? -ECONNRESET : r; /* close_notify in a handshake: the peer left */
}

/* OpenSSL reads the socket (read-ahead) and writes through the sink. 0, or -ENOMEM. */
static int tls_bios(struct net_stream *s)
{
	BIO_METHOD *m = sink_method();
	BIO *rbio = BIO_new_socket(s->fd, BIO_NOCLOSE), *wbio = m ? BIO_new(m) : NULL;

	if (!rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		return -ENOMEM;
	}
	BIO_set_data(wbio, s);
	SSL_set_bio(s->ssl, rbio, wbio);
	return 0;
}

SSL *net_stream_ssl(const struct net_stream *s)
{
	return s->ssl;
}

bool net_stream_tls_started(const struct net_stream *s)
{
	return s->ssl != NULL;
}

const char *net_stream_tls_error(const struct net_stream *s)
{
	return s->why[0] ? s->why : "?";
}

void net_stream_close_notify(struct net_stream *s)
{
	if (s->closed || !s->ssl || s->tls != TLS_OPEN || s->tls_failed ||
	    (SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN))
		return;
	ERR_clear_error();
	s->more = 0;		    /* the last record: what was held back goes with it */
	(void)SSL_shutdown(s->ssl); /* pushes what MSG_MORE held in the kernel */
	ERR_clear_error();
}

void net_stream_shutdown_write(struct net_stream *s)
{
	if (s->closed)
		return;
	net_stream_close_notify(s);
	(void)shutdown(s->fd, SHUT_WR);
}

/* ---- reading and writing ---- */

/* A plain recv/send's n as the stream answers it: -EAGAIN waits for what (errno read). */
static ssize_t plain_result(struct net_stream *s, ssize_t n, unsigned what)
{
	if (n >= 0) {
		s->wants = 0;
		return n;
	}
	if (errno == EAGAIN || errno == EINTR) {
		s->wants = what;
		return -EAGAIN;
	}
	return -errno;
}

ssize_t net_stream_read(struct net_stream *s, void *buf, size_t len)
{
	ssize_t n;

	if (s->closed)
		return -EBADF;
	if (s->tls == TLS_OPEN) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (r > 0) {
			s->drained = false;
			s->wants = 0;
			return r;
		}
		r = tls_result(s, SSL_get_error(s->ssl, r));
		if (r == -EAGAIN && s->wants == NET_READABLE)
			s->drained = true;
		return r;
	}
	if (s->tls != TLS_NONE)
		return -ENOTCONN;
	n = recv(s->fd, buf, len, 0);
	return plain_result(s, n, NET_READABLE);
}

void net_stream_more(struct net_stream *s, bool more)
{
	s->more = more ? MSG_MORE : 0;
}

bool net_stream_pending(const struct net_stream *s)
{
	if (s->closed || s->tls != TLS_OPEN)
		return false;
	return SSL_pending(s->ssl) > 0 || (!s->drained && SSL_has_pending(s->ssl));
}

/* Over TLS: one SSL_write of len bytes; bytes taken, -EAGAIN or a failure. */
static ssize_t tls_write(struct net_stream *s, const void *buf, size_t len)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r > 0) {
		s->wants = 0;
		return r;
	}
	r = tls_result(s, SSL_get_error(s->ssl, r));
	return r == 0 ? -EPIPE : r;
}

ssize_t net_stream_writev(struct net_stream *s, const struct iovec *iov, int n)
{
	/* small answers (a head and a short body) leave in one record, one system call */
	static _Thread_local unsigned char gather[NET_TLS_RECORD];
	size_t len = 0;
	ssize_t w;

	if (s->closed)
		return -EBADF;
	if (n <= 0)
		return 0;
	if (s->tls == TLS_OPEN) {
		if (n == 1 || iov[0].iov_len >= sizeof(gather))
			return tls_write(s, iov[0].iov_base, iov[0].iov_len);
		for (int i = 0; i < n && len < sizeof(gather); i++) {
			size_t take = iov[i].iov_len;

			if (take > sizeof(gather) - len)
				take = sizeof(gather) - len;
			memcpy(gather + len, iov[i].iov_base, take);
			len += take;
		}
		return tls_write(s, gather, len);
	}
	if (s->tls != TLS_NONE)
		return -ENOTCONN;
	{
		struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };

		w = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT | s->more);
	}
	return plain_result(s, w, NET_WRITABLE);
}

ssize_t net_stream_write(struct net_stream *s, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return net_stream_writev(s, &iov, 1);
}
