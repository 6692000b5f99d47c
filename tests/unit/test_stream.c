// SPDX-License-Identifier: MIT
/*
 * net/stream.c: plain and TLS reads and writes on a socketpair, with an in-process OpenSSL
 * client as the peer; the TLS handshake waiting for the socket both ways (readable and
 * writable); the ClientHello awaited whole before OpenSSL starts; a close from inside the
 * stream's own callback; closing a stream that was never fully used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/stream.h"

struct record {
	unsigned events, closed;
	unsigned last;
	bool close_in_callback;
	bool after_close_ok; /* the stream was still usable (closed) after closing itself */
	struct net_stream *s;
};

static void rec_event(struct net_stream *s, unsigned what, void *arg)
{
	struct record *r = arg;

	r->events++;
	r->last = what;
	if (r->close_in_callback) {
		char buf[16];

		net_stream_close(s);
		/* what protocol code up the stack may still do: the memory is there */
		r->after_close_ok =
			net_stream_is_closed(s) && net_stream_read(s, buf, sizeof(buf)) == -EBADF;
		net_stream_close(s); /* a second close inside the callback: nothing */
		net_stream_watch(s, NET_READABLE);
	}
}

static void rec_closed(void *arg)
{
	((struct record *)arg)->closed++;
}

static const struct net_stream_ops rec_ops = { .event = rec_event, .closed = rec_closed };

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* ---- TLS peers ---- */

static SSL_CTX *sctx, *cctx;

static int tls_setup(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	(void)state;
	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"stream", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(sctx);
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_use_certificate(sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, key), 1);
	SSL_CTX_set_read_ahead(sctx, 1); /* as crypto/tls.c makes them */
	SSL_CTX_set_mode(sctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	X509_free(x);
	EVP_PKEY_free(key);
	return 0;
}

static int tls_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}

static SSL *client_on(int fd)
{
	SSL *c = SSL_new(cctx);

	assert_non_null(c);
	assert_int_equal(SSL_set_fd(c, fd), 1);
	SSL_set_connect_state(c);
	return c;
}

/* Fills fd's direction with bytes nobody reads yet; how many. */
static size_t fill(int fd)
{
	static const char junk[4096];
	size_t total = 0;
	ssize_t n;

	while ((n = send(fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	assert_true(errno == EAGAIN);
	while ((n = send(fd, junk, 1, MSG_DONTWAIT)) > 0) /* to the last byte */
		total += (size_t)n;
	assert_true(errno == EAGAIN);
	return total;
}

static void drain(int fd, size_t len)
{
	char buf[4096];

	while (len > 0) {
		ssize_t n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), MSG_DONTWAIT);

		assert_true(n > 0);
		len -= (size_t)n;
	}
}

/* Handshake steps on both sides until both are done (the server through the stream). */
static void finish_handshake(struct net_stream *s, SSL *client)
{
	int server_done = 0, client_done = 0;

	for (int i = 0; i < 100 && !(server_done && client_done); i++) {
		if (!client_done) {
			int r = SSL_do_handshake(client);

			if (r == 1)
				client_done = 1;
			else
				assert_int_equal(SSL_get_error(client, r), SSL_ERROR_WANT_READ);
		}
		if (!server_done) {
			int r = net_stream_handshake(s);

			if (r == 0)
				server_done = 1;
			else
				assert_int_equal(r, -EAGAIN);
		}
	}
	assert_true(server_done && client_done);
}

/* The handshake waits for reading (no hello yet, then the client's Finished) and for
 * writing (the socket is full when the server's flight is to go). */
static void test_tls_handshake_waits_both_ways(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { 0 };
	struct net_stream *s;
	SSL *client;
	size_t junk;
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_tls_accept(s, sctx), 0);
	assert_int_equal(net_stream_handshake(s), -EAGAIN);
	assert_int_equal(net_stream_wants(s), NET_READABLE);
	assert_false(net_stream_tls_started(s));

	/* what went in clear before TLS (FTP's 234) fills the socket, unread for now */
	junk = fill(sv[0]);
	client = client_on(sv[1]);
	{
		/* the client reads nothing before the clear text is drained: its hello only */
		BIO *none = BIO_new(BIO_s_mem());

		BIO_set_mem_eof_return(none, -1);
		SSL_set0_rbio(client, none);
	}
	assert_int_equal(SSL_do_handshake(client), -1);
	assert_int_equal(SSL_get_error(client, -1), SSL_ERROR_WANT_READ);
	assert_int_equal(net_stream_handshake(s), -EAGAIN);
	assert_true(net_stream_tls_started(s));
	assert_int_equal(net_stream_wants(s), NET_WRITABLE);

	/* the watched event comes once the client reads: the loop runs the callback */
	net_stream_watch_wants(s);
	drain(sv[1], junk);
	SSL_set0_rbio(client, BIO_new_socket(sv[1], BIO_NOCLOSE));
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(rec.events, 1);
	assert_int_equal(rec.last, NET_WRITABLE);

	finish_handshake(s, client);
	assert_non_null(net_stream_ssl(s));

	SSL_free(client);
	net_stream_close(s);
	assert_int_equal(rec.closed, 1);
	close(sv[1]);
	event_base_free(base);
}

/* OpenSSL starts only when the whole ClientHello is in the socket. */
static void test_tls_waits_for_whole_hello(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { 0 };
	struct net_stream *s;
	char hello[4096];
	ssize_t len;
	SSL *client;
	int sv[2], p2[2];

	(void)state;
	pair(sv);
	client = client_on(sv[1]);
	assert_int_equal(SSL_do_handshake(client), -1);
	len = recv(sv[0], hello, sizeof(hello), 0);
	assert_true(len > 10);

	pair(p2);
	assert_int_equal(net_stream_new(base, p2[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_tls_accept(s, sctx), 0);
	assert_int_equal(send(p2[1], hello, 3, 0), 3);
	assert_int_equal(net_stream_handshake(s), -EAGAIN);
	assert_false(net_stream_tls_started(s));
	assert_int_equal(send(p2[1], hello + 3, (size_t)len - 4, 0), len - 4);
	assert_int_equal(net_stream_handshake(s), -EAGAIN);
	assert_false(net_stream_tls_started(s));
	assert_int_equal(send(p2[1], hello + len - 1, 1, 0), 1);
	assert_int_equal(net_stream_handshake(s), -EAGAIN);
	assert_true(net_stream_tls_started(s)); /* flight sent, waiting for the Finished */
	assert_int_equal(net_stream_wants(s), NET_READABLE);

	/* the peer leaves mid-handshake: a failure the log can name */
	close(p2[1]);
	assert_int_equal(net_stream_handshake(s), -ECONNRESET);
	assert_non_null(net_stream_tls_error(s));
	net_stream_close(s);
	assert_int_equal(rec.closed, 1);

	SSL_free(client);
	close(sv[0]);
	close(sv[1]);
	event_base_free(base);
}

/* The context a stream waits with stays until the hello comes, though its owner dropped it. */
static void test_tls_context_held_until_hello(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { 0 };
	struct net_stream *s;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL *client;
	int sv[2];

	(void)state;
	pair(sv);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, SSL_CTX_get0_certificate(sctx)), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, SSL_CTX_get0_privatekey(sctx)), 1);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_tls_accept(s, ctx), 0);
	SSL_CTX_free(ctx); /* a reload replaced the server's context */
	client = client_on(sv[1]);
	finish_handshake(s, client);
	SSL_free(client);
	net_stream_close(s);
	close(sv[1]);
	event_base_free(base);
}

/* After the handshake: a read waits for readability, a write for writability. */
static void test_tls_data_waits_both_ways(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { 0 };
	static char big[256 * 1024];
	struct net_stream *s;
	char buf[64];
	size_t sent = 0, got = 0;
	ssize_t n;
	SSL *client;
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_tls_accept(s, sctx), 0);
	client = client_on(sv[1]);
	finish_handshake(s, client);

	/* nothing to read: wait for readable (session tickets went to the client) */
	assert_int_equal(net_stream_read(s, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(net_stream_wants(s), NET_READABLE);
	assert_false(net_stream_pending(s));
	assert_int_equal(SSL_write(client, "hello", 5), 5);
	n = net_stream_read(s, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);

	/* write until the client's side is full: wait for writable */
	for (;;) {
		n = net_stream_write(s, big, sizeof(big));
		if (n < 0)
			break;
		sent += (size_t)n;
	}
	assert_int_equal(n, -EAGAIN);
	assert_int_equal(net_stream_wants(s), NET_WRITABLE);
	net_stream_watch_wants(s);
	/* the client reads: the write event comes, and the same bytes go on */
	while (got < sent) {
		int r = SSL_read(client, big, sizeof(big));

		if (r <= 0) {
			assert_int_equal(SSL_get_error(client, r), SSL_ERROR_WANT_READ);
			break;
		}
		got += (size_t)r;
	}
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(rec.last & NET_WRITABLE, NET_WRITABLE);
	assert_true(net_stream_write(s, big, sizeof(big)) > 0);

	/* small pieces leave as one record: the client gets them in one read */
	{
		struct iovec iov[2] = { { (void *)"head;", 5 }, { (void *)"body", 4 } };
		char all[sizeof(big)];
		int r;

		/* empty the client's side first */
		while ((r = SSL_read(client, all, sizeof(all))) > 0)
			;
		while (net_stream_write(s, big, 1) == -EAGAIN) {
			while ((r = SSL_read(client, all, sizeof(all))) > 0)
				;
		}
		while ((r = SSL_read(client, all, sizeof(all))) > 0)
			;
		assert_int_equal(net_stream_writev(s, iov, 2), 9);
		r = SSL_read(client, all, sizeof(all));
		assert_int_equal(r, 9);
		assert_memory_equal(all, "head;body", 9);
	}

	/* a clean end: close_notify reads as 0 on the other side, and here */
	net_stream_close_notify(s);
	assert_int_equal(SSL_read(client, buf, sizeof(buf)), 0);
	assert_int_equal(SSL_get_error(client, 0), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(SSL_shutdown(client), 1);
	assert_int_equal(net_stream_read(s, buf, sizeof(buf)), 0);

	SSL_free(client);
	net_stream_close(s);
	close(sv[1]);
	event_base_free(base);
}

/* Plain: data, the end of the input, a failed peer. */
static void test_plain(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { 0 };
	struct net_stream *s;
	char buf[16];
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_fd(s), sv[0]);
	assert_int_equal(net_stream_read(s, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(net_stream_wants(s), NET_READABLE);
	net_stream_watch(s, NET_READABLE);
	assert_int_equal(send(sv[1], "ping", 4, 0), 4);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(rec.events, 1);
	assert_int_equal(rec.last, NET_READABLE);
	assert_int_equal(net_stream_read(s, buf, sizeof(buf)), 4);
	assert_int_equal(net_stream_write(s, "pong", 4), 4);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 4);
	/* the timer comes through the same callback */
	net_stream_timer(s, 1);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_int_equal(rec.last, NET_TIMEOUT);
	shutdown(sv[1], SHUT_WR);
	assert_int_equal(net_stream_read(s, buf, sizeof(buf)), 0);
	close(sv[1]);
	assert_true(net_stream_write(s, "x", 1) < 0); /* EPIPE, and no SIGPIPE */
	net_stream_close(s);
	assert_int_equal(rec.closed, 1);
	event_base_free(base);
}

/* A close from inside the stream's read callback: the memory stays until it returns. */
static void test_close_inside_read_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { .close_in_callback = true };
	struct net_stream *s;
	char buf[4];
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	rec.s = s;
	net_stream_watch(s, NET_READABLE);
	net_stream_timer(s, 50);
	assert_int_equal(send(sv[1], "x", 1, 0), 1);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(rec.events, 1);
	assert_true(rec.after_close_ok);
	assert_int_equal(rec.closed, 1); /* once, after the callback returned */
	/* the socket is closed and no event of the stream is left on the loop */
	{
		ssize_t n = recv(sv[1], buf, sizeof(buf), 0);

		assert_true(n == 0 || (n < 0 && errno == ECONNRESET)); /* "x" was never read */
	}
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1); /* nothing pending */
	close(sv[1]);
	event_base_free(base);
}

/* Streams closed before they were used: plain, TLS before its hello, TLS mid-handshake. */
static void test_half_built_close(void **state)
{
	struct event_base *base = event_base_new();
	struct record rec = { 0 };
	struct net_stream *s;
	SSL *client;
	int sv[2];

	(void)state;
	net_stream_close(NULL);

	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	net_stream_close(s);
	assert_int_equal(rec.closed, 1);
	close(sv[1]);

	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_tls_accept(s, sctx), 0);
	net_stream_watch(s, NET_READABLE | NET_WRITABLE);
	net_stream_close(s);
	assert_int_equal(rec.closed, 2);
	close(sv[1]);

	pair(sv);
	assert_int_equal(net_stream_new(base, sv[0], &rec_ops, &rec, &s), 0);
	assert_int_equal(net_stream_tls_accept(s, sctx), 0);
	client = client_on(sv[1]);
	assert_int_equal(SSL_do_handshake(client), -1);
	assert_int_equal(net_stream_handshake(s), -EAGAIN);
	assert_true(net_stream_tls_started(s));
	net_stream_close_notify(s); /* not in a handshake: nothing */
	net_stream_close(s);
	assert_int_equal(rec.closed, 3);
	SSL_free(client);
	close(sv[1]);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_close_inside_read_callback),
		cmocka_unit_test(test_half_built_close),
		cmocka_unit_test(test_tls_handshake_waits_both_ways),
		cmocka_unit_test(test_tls_waits_for_whole_hello),
		cmocka_unit_test(test_tls_context_held_until_hello),
		cmocka_unit_test(test_tls_data_waits_both_ways),
	};

	return cmocka_run_group_tests(tests, tls_setup, tls_teardown);
}
