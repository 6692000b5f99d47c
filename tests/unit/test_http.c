// SPDX-License-Identifier: MIT
/*
 * proto/http.c's connection states: a real server on a loop and a site in a temporary
 * directory, clients on loopback sockets of this process, and the transitions as
 * conn_set_state() traces them (debug log lines, captured from stderr): a kept-alive answer,
 * an answer the socket cannot take at once (sending), a request whose body is not read
 * (lingering until the peer closes), a peer that closes, Connection: close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tmpdir.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/http.h"
#include "site/site.h"

#define BIG (8u << 20) /* more than loopback's socket buffers hold */

struct fixture {
	char dir[64];
	struct site_options opts;
	struct site *site;
	struct event_base *base;
	struct http_server *srv;
	char log[PATH_MAX];
	int saved_stderr;
};

static void write_file(const char *dir, const char *name, size_t size)
{
	char path[PATH_MAX];
	char *buf = malloc(size);
	int fd;

	assert_non_null(buf);
	memset(buf, 'x', size);
	snprintf(path, sizeof(path), "%s/files/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct http_config cfg;
	char files[PATH_MAX], err[256];
	int fd;

	if (!f)
		return -1;
	memcpy(f->dir, "/tmp/autoprov-http-XXXXXX", sizeof("/tmp/autoprov-http-XXXXXX"));
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(files, sizeof(files), "%s/files", f->dir);
	if (mkdir(files, 0755) < 0)
		return -1;
	write_file(f->dir, "small.cfg", 100);
	write_file(f->dir, "big.bin", BIG);
	site_options_default(&f->opts);
	if (site_open(f->dir, &f->opts, &f->site, err, sizeof(err)) < 0)
		return -1;
	f->base = event_base_new();
	http_config_default(&cfg);
	(void)addr_parse("127.0.0.1:0", &cfg.listen);
	if (!f->base ||
	    http_server_new(f->base, f->site, &cfg, NULL, &f->srv, err, sizeof(err)) < 0)
		return -1;
	/* the transitions' trace: debug lines on stderr, into a file */
	snprintf(f->log, sizeof(f->log), "%s/trace.log", f->dir);
	fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f->saved_stderr = dup(STDERR_FILENO);
	if (fd < 0 || f->saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0)
		return -1;
	close(fd);
	log_set_level(LOG_LEVEL_DEBUG);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	log_set_level(LOG_LEVEL_INFO);
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	http_server_free(f->srv);
	event_base_free(f->base);
	site_free(f->site);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* The trace so far. */
static char *trace(const struct fixture *f)
{
	static char buf[1 << 16];
	int fd = open(f->log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Runs the loop until the trace holds want (every line of the test's connection). */
static void run_until(struct fixture *f, const char *want)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		if (strstr(trace(f), want))
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			fail_msg("no \"%s\" in the trace:\n%s", want, trace(f));
		{
			struct timeval tv = { 0, 20000 };

			event_base_loopexit(f->base, &tv);
			event_base_loop(f->base, EVLOOP_ONCE); /* the next event, or 20 ms */
		}
	}
}

/* Runs the loop until the client has something to read; what it read. */
static ssize_t recv_some(struct fixture *f, int fd, char *buf, size_t size)
{
	for (int i = 0; i < 100000; i++) {
		ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);

		if (n >= 0)
			return n;
		assert_true(errno == EAGAIN);
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	fail_msg("no answer");
	return -1;
}

static int client(struct fixture *f, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(http_server_port(f->srv)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void say(int fd, const char *text)
{
	assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* Reads until the peer closes; the bytes read. */
static size_t read_to_end(struct fixture *f, int fd)
{
	char buf[65536];
	size_t total = 0;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100000; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			return total;
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		assert_true(errno == EAGAIN);
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	fail_msg("the server never closed");
	return 0;
}

/* Keep-alive: answered in one go, the connection stays waiting; then Connection: close. */
static void test_keep_alive_then_close(void **state)
{
	struct fixture *f = *state;
	int fd = client(f, 0);
	char buf[4096];

	say(fd, "GET /small.cfg HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(recv_some(f, fd, buf, sizeof(buf)) > 100);
	assert_null(strstr(trace(f), "connection waiting -> sending"));
	assert_null(strstr(trace(f), "-> closed"));
	say(fd, "GET /small.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	run_until(f, "connection waiting -> closed");
	assert_true(read_to_end(f, fd) > 100);
	close(fd);
}

/* An answer the socket cannot take at once: sending until the client reads, then waiting. */
static void test_sending_then_waiting(void **state)
{
	struct fixture *f = *state;
	int fd = client(f, 4096);

	say(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	run_until(f, "connection waiting -> sending");
	{
		char buf[65536];
		size_t total = 0;

		fcntl(fd, F_SETFL, O_NONBLOCK);
		while (!strstr(trace(f), "connection sending -> waiting")) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n > 0)
				total += (size_t)n;
			event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		}
		assert_true(total > BIG / 2);
	}
	close(fd);
	run_until(f, "connection waiting -> closed"); /* the peer's FIN */
}

/* A body never read: the answer goes, then lingering until the peer closes. */
static void test_lingering(void **state)
{
	struct fixture *f = *state;
	int fd = client(f, 0);
	char buf[4096];

	say(fd, "POST /small.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
	run_until(f, "connection waiting -> lingering");
	assert_true(recv_some(f, fd, buf, sizeof(buf)) > 0); /* the 405, then the end */
	close(fd);
	run_until(f, "connection lingering -> closed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keep_alive_then_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sending_then_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lingering, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
