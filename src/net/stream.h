// SPDX-License-Identifier: MIT
/*
 * A connection's byte stream on the loop, plain or TLS, the one HTTP, HTTPS, FTP control
 * and FTP data connections read and write through: its socket, its OpenSSL connection
 * (after net_stream_tls_accept()), a read event, a write event and a timer, all delivered to
 * one callback.
 *
 * Reads, writes and the TLS handshake answer -EAGAIN when they must wait, and
 * net_stream_wants() then says for what: TLS may need the socket readable to write (or
 * writable to read), which the caller does not have to know about; it watches what the
 * stream wants (net_stream_watch_wants()).
 *
 * The server side of TLS starts only once the client's whole first record (its ClientHello)
 * is in the socket: a connection trickling its hello a byte at a time costs its socket
 * buffer, not OpenSSL's state (some 50 KiB until the handshake ends).
 *
 * Lifetime: net_stream_close() may be called anywhere, from inside the stream's own callback
 * too. It closes the socket and the TLS connection and stops every event at once; the
 * memory goes (and ops->closed(arg) is called, where the owner frees itself) once no
 * callback of the stream is running, so nothing up the stack touches freed memory. A stream
 * that could not be fully built is closed the same way.
 */
#ifndef AUTOPROV_NET_STREAM_H
#define AUTOPROV_NET_STREAM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct event_base;
struct net_stream;

/* What the callback is told, and what a stream waits for (a mask). */
#define NET_READABLE 0x1
#define NET_WRITABLE 0x2
#define NET_TIMEOUT  0x4

/* The largest write net_stream_writev() gathers into one TLS record. */
#define NET_TLS_RECORD 16384

struct net_stream_ops {
	/* what (NET_READABLE, NET_WRITABLE, NET_TIMEOUT) happened; may close the stream */
	void (*event)(struct net_stream *s, unsigned what, void *arg);
	/* the stream is closed and none of its callbacks runs any more (may be NULL) */
	void (*closed)(void *arg);
};

/*
 * A stream on fd (non-blocking), its events on base: 0 and *ret, the stream owning fd, or
 * -ENOMEM with fd still the caller's. Nothing is watched yet.
 */
int net_stream_new(struct event_base *base, int fd, const struct net_stream_ops *ops, void *arg,
		   struct net_stream **ret);
/*
 * Closes the socket and the TLS connection (no close_notify: see net_stream_close_notify),
 * stops the events, and frees the stream, at once or when its running callback returns;
 * ops->closed(arg) then. Accepts NULL; a second call does nothing.
 */
void net_stream_close(struct net_stream *s);
bool net_stream_is_closed(const struct net_stream *s);

/* Runs the callback with what, as the loop would (a connection read at once after accept). */
void net_stream_dispatch(struct net_stream *s, unsigned what);

/* Watch readability / writability (both persist until changed). */
void net_stream_watch(struct net_stream *s, unsigned what);
/*
 * What the last read, write or handshake step waits for when it answered -EAGAIN
 * (NET_READABLE or NET_WRITABLE; 0 after one that went through), and watching just that.
 */
void net_stream_watch_wants(struct net_stream *s);
unsigned net_stream_wants(const struct net_stream *s);
/* The callback runs with what soon, from the loop (input TLS holds, which the socket won't say). */
void net_stream_wake(struct net_stream *s, unsigned what);
/* One timer: NET_TIMEOUT after ms milliseconds (again from now); 0 stops it. */
void net_stream_timer(struct net_stream *s, unsigned ms);

int net_stream_fd(const struct net_stream *s);

/*
 * Bytes read (> 0), 0 at the end (EOF, or TLS close_notify), -EAGAIN (wait for
 * net_stream_wants()), or another negative errno (-ECONNRESET, -EPROTO for a TLS error).
 */
ssize_t net_stream_read(struct net_stream *s, void *buf, size_t len);
/*
 * Bytes taken (> 0, perhaps fewer than given), -EAGAIN, or another negative errno. Over
 * TLS, small pieces are gathered into one record of up to NET_TLS_RECORD bytes; after
 * -EAGAIN, call again with the same bytes first (more may follow them).
 */
ssize_t net_stream_writev(struct net_stream *s, const struct iovec *iov, int n);
ssize_t net_stream_write(struct net_stream *s, const void *buf, size_t len);
/* Whether TLS holds input already read from the socket: read again without waiting. */
bool net_stream_pending(const struct net_stream *s);

/*
 * TLS from now on, as the server, with a connection of ctx made once the ClientHello came.
 * 0, or -ENOMEM. Then net_stream_handshake() until it returns 0.
 */
int net_stream_tls_accept(struct net_stream *s, SSL_CTX *ctx);
/*
 * A step of the handshake: 0 done (reads and writes go through TLS), -EAGAIN (watch
 * net_stream_wants()), or a negative errno: -ECONNRESET (the peer closed or reset), -EPROTO
 * (TLS failed: net_stream_tls_error() says why), -ENOMEM.
 */
int net_stream_handshake(struct net_stream *s);
/* The OpenSSL connection once it exists (the handshake has begun), else NULL. */
SSL *net_stream_ssl(const struct net_stream *s);
/* Whether the TLS connection was begun (the ClientHello came) and not yet ended. */
bool net_stream_tls_started(const struct net_stream *s);
/* Why the last TLS failure happened, for a log line ("connection closed" when the peer left). */
const char *net_stream_tls_error(const struct net_stream *s);
/*
 * Sends TLS close_notify once, when the handshake ended and TLS never failed; best effort
 * (a full socket drops it). A TLS 1.2 session is kept for resumption by id only after one.
 */
void net_stream_close_notify(struct net_stream *s);
/* close_notify (TLS), then the sending half of the socket is shut: the peer reads the end. */
void net_stream_shutdown_write(struct net_stream *s);

#endif
