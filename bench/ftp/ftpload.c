// SPDX-License-Identifier: MIT
/*
 * ftpload: an FTP download-load generator for the benchmarks. One thread drives many
 * clients with epoll; each runs one session after another, as a phone does: connect, read
 * the greeting, USER, PASS, TYPE I, EPSV (or PASV), connect the data connection, RETR one
 * file and read it to the end, wait for 226, QUIT, close. A session succeeds when every
 * reply had the expected code and the file had the expected size. IPv4, libc only.
 *
 *   ftpload --server 127.0.0.1:2121 [--user anonymous --pass x] [--clients 32]
 *           [--duration S | --count N] [--pasv] [--expect-size BYTES] [--sources N]
 *           [--json] (--names FILE | NAME...)
 *
 * Prints sessions, failures (by reason), sessions/s, MB/s (10^6 bytes) of file data, the
 * p50 / p99 / max duration of a session and its own CPU time (to tell when it, and not the
 * server, is the limit). Exit status: 0 every session succeeded, 1 some failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLY_BUF	   4096
#define DATA_BUF	   (256 * 1024)
#define SESSION_TIMEOUT_NS (30ull * 1000000000ull)
#define MAX_NAMES	   1000000
#define MAX_SAMPLES	   (4u << 20)
#define MAX_MESSAGES	   5

enum step {
	STEP_IDLE,     /* no session: the slot is retired */
	STEP_GREETING, /* connected (or connecting): waiting for 220 */
	STEP_USER,     /* USER sent: 331 (or 230) */
	STEP_PASS,     /* PASS sent: 230 */
	STEP_TYPE,     /* TYPE I sent: 200 */
	STEP_PASV,     /* EPSV / PASV sent: 229 / 227 */
	STEP_RETR,     /* data connection made, RETR sent: 150 / 125 */
	STEP_DATA,     /* reading the file; 226 may come before or after its end */
	STEP_QUIT,     /* QUIT sent: 221 */
};

enum failure {
	FAIL_CONNECT,
	FAIL_REPLY,   /* a reply with another code than expected */
	FAIL_CLOSED,  /* the server closed or reset a connection */
	FAIL_TIMEOUT, /* the session took longer than SESSION_TIMEOUT_NS */
	FAIL_SIZE,    /* the file was not the expected size */
	FAIL_MAX,
};

static const char *const failure_names[FAIL_MAX] = {
	[FAIL_CONNECT] = "connect", [FAIL_REPLY] = "reply", [FAIL_CLOSED] = "closed",
	[FAIL_TIMEOUT] = "timeout", [FAIL_SIZE] = "size",
};

struct client {
	enum step step;
	int ctrl, data;
	char in[REPLY_BUF];
	size_t inlen;
	const char *name;
	uint64_t bytes;
	bool data_eof, got_226, got_221;
	uint64_t started_ns;
	unsigned gen; /* bumped by every session started in this slot */
};

struct options {
	struct sockaddr_in server;
	const char *user, *pass;
	unsigned clients;
	double duration_s;
	uint64_t count;
	bool pasv;
	int64_t expect_size;
	bool json;
	unsigned sources; /* clients spread over 127.0.0.2 .. 127.0.0.(1 + sources) */
	char **names;
	size_t nnames;
};

struct load {
	struct options opt;
	int ep;
	struct client *clients;
	size_t next_name;
	uint64_t started, completed, failed, bytes;
	uint64_t fails[FAIL_MAX];
	char messages[MAX_MESSAGES][160];
	unsigned nmessages;
	uint64_t *samples; /* session durations in microseconds */
	size_t nsamples;
	uint64_t t0_ns, end_ns;
	bool stopping;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void client_close(struct load *l, struct client *c)
{
	(void)l;
	c->gen++;
	if (c->data >= 0)
		close(c->data);
	if (c->ctrl >= 0)
		close(c->ctrl);
	c->data = c->ctrl = -1;
	c->inlen = 0;
	c->step = STEP_IDLE;
}

static void session_start(struct load *l, struct client *c);

static void fail(struct load *l, struct client *c, enum failure why, const char *detail)
{
	l->failed++;
	l->fails[why]++;
	if (l->nmessages < MAX_MESSAGES)
		snprintf(l->messages[l->nmessages++], sizeof(l->messages[0]), "%s: %s (%s)",
			 failure_names[why], detail, c->name ? c->name : "-");
	client_close(l, c);
	session_start(l, c);
}

static bool more_sessions(const struct load *l)
{
	if (l->stopping)
		return false;
	if (l->opt.count)
		return l->started < l->opt.count;
	if (l->opt.duration_s > 0)
		return now_ns() < l->end_ns;
	return l->started < l->opt.nnames;
}

static int watch(struct load *l, int fd, size_t idx, bool is_data)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = (uint64_t)idx << 1 | (is_data ? 1 : 0) };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * A connection from the client's own source address: on loopback, one address for every
 * client runs out of ports after a few thousand sessions a second, since each leaves its
 * connections in TIME_WAIT for a minute; several addresses measure the server instead.
 */
static int connect_to(const struct load *l, size_t idx, const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (l->opt.sources > 1) {
		struct sockaddr_in from = { .sin_family = AF_INET };
		int one = 1;

		from.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx % l->opt.sources));
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void session_start(struct load *l, struct client *c)
{
	size_t idx = (size_t)(c - l->clients);
	unsigned gen = c->gen + 1;

	if (!more_sessions(l))
		return;
	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->data = -1;
	c->name = l->opt.names[l->next_name++ % l->opt.nnames];
	c->started_ns = now_ns();
	l->started++;
	c->ctrl = connect_to(l, idx, &l->opt.server);
	if (c->ctrl < 0 || watch(l, c->ctrl, idx, false) < 0) {
		fail(l, c, FAIL_CONNECT, strerror(errno));
		return;
	}
	c->step = STEP_GREETING;
}

/* "VERB ARG\r\n" (arg NULL: the verb alone). */
static void send_cmd(struct load *l, struct client *c, const char *verb, const char *arg)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s%s%s\r\n", verb, arg ? " " : "", arg ? arg : "");

	/* a command is one small write on a connection with nothing else queued */
	if (n < 0 || send(c->ctrl, line, (size_t)n, MSG_NOSIGNAL) != n)
		fail(l, c, FAIL_CLOSED, "send");
}

static void session_done(struct load *l, struct client *c)
{
	uint64_t t = now_ns();

	if (l->opt.expect_size >= 0 && c->bytes != (uint64_t)l->opt.expect_size) {
		char d[64];

		snprintf(d, sizeof(d), "%llu bytes", (unsigned long long)c->bytes);
		fail(l, c, FAIL_SIZE, d);
		return;
	}
	l->completed++;
	l->bytes += c->bytes;
	if (l->nsamples < MAX_SAMPLES)
		l->samples[l->nsamples++] = (t - c->started_ns) / 1000;
	client_close(l, c);
	session_start(l, c);
}

/* 229 "(|||port|)" or 227 "(h1,h2,h3,h4,p1,p2)": the data address. */
static int data_address(const struct load *l, const char *text, struct sockaddr_in *ret)
{
	unsigned v[6];
	const char *p;

	*ret = l->opt.server;
	if (!l->opt.pasv) {
		p = strstr(text, "(|||");
		if (!p || sscanf(p + 4, "%u", &v[0]) != 1 || v[0] > 65535)
			return -1;
		ret->sin_port = htons((uint16_t)v[0]);
		return 0;
	}
	p = strchr(text, '(');
	if (!p || sscanf(p + 1, "%u,%u,%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	ret->sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
	return 0;
}

/* One complete reply (its last line) with its code. */
static void on_reply(struct load *l, struct client *c, unsigned code, const char *text)
{
	size_t idx = (size_t)(c - l->clients);
	struct sockaddr_in to;
	char d[320];

	snprintf(d, sizeof(d), "%u %s in step %d", code, text, c->step);
	switch (c->step) {
	case STEP_GREETING:
		if (code != 220)
			break;
		c->step = STEP_USER;
		send_cmd(l, c, "USER", l->opt.user);
		return;
	case STEP_USER:
		if (code == 230) {
			c->step = STEP_TYPE;
			send_cmd(l, c, "TYPE", "I");
			return;
		}
		if (code != 331)
			break;
		c->step = STEP_PASS;
		send_cmd(l, c, "PASS", l->opt.pass);
		return;
	case STEP_PASS:
		if (code != 230)
			break;
		c->step = STEP_TYPE;
		send_cmd(l, c, "TYPE", "I");
		return;
	case STEP_TYPE:
		if (code != 200)
			break;
		c->step = STEP_PASV;
		send_cmd(l, c, l->opt.pasv ? "PASV" : "EPSV", NULL);
		return;
	case STEP_PASV:
		if (code != (l->opt.pasv ? 227u : 229u) || data_address(l, text, &to) < 0)
			break;
		c->data = connect_to(l, idx, &to);
		if (c->data < 0 || watch(l, c->data, idx, true) < 0) {
			fail(l, c, FAIL_CONNECT, "data connection");
			return;
		}
		c->step = STEP_RETR;
		send_cmd(l, c, "RETR", c->name);
		return;
	case STEP_RETR:
		if (code != 150 && code != 125)
			break;
		c->step = STEP_DATA;
		return;
	case STEP_DATA:
		if (code != 226)
			break;
		c->got_226 = true;
		if (c->data_eof) {
			c->step = STEP_QUIT;
			send_cmd(l, c, "QUIT", NULL);
		}
		return;
	case STEP_QUIT:
		if (code != 221)
			break;
		/*
		 * The server closes first, as it would with a phone: the connection's TIME_WAIT
		 * stays on its side, on its own port, not on an ephemeral port of this host.
		 */
		c->got_221 = true;
		return;
	case STEP_IDLE: return;
	}
	fail(l, c, FAIL_REPLY, d);
}

static void on_ctrl(struct load *l, struct client *c)
{
	for (;;) {
		ssize_t n =
			recv(c->ctrl, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, MSG_DONTWAIT);
		char *line;

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (c->step == STEP_QUIT && c->got_221)
				session_done(l, c);
			else
				fail(l, c, FAIL_CLOSED,
				     n == 0 ? "control closed" : strerror(errno));
			return;
		}
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		/* every complete line; a reply ends with a line "ddd " */
		while ((line = memchr(c->in, '\n', c->inlen))) {
			size_t len = (size_t)(line - c->in) + 1;
			unsigned gen = c->gen;
			bool last =
				len >= 4 && c->in[3] == ' ' && c->in[0] >= '1' && c->in[0] <= '5';
			unsigned code = last ? (unsigned)atoi(c->in) : 0;

			if (last) {
				char text[256];

				snprintf(text, sizeof(text), "%.*s",
					 (int)(len - 2 > 250 ? 250 : len - (len >= 2 ? 2 : 0)),
					 c->in);
				on_reply(l, c, code, text);
			}
			if (c->gen != gen || c->step == STEP_IDLE)
				return; /* the session ended (and perhaps the next one began) */
			memmove(c->in, c->in + len, c->inlen - len);
			c->inlen -= len;
		}
		if (c->inlen == sizeof(c->in) - 1) {
			fail(l, c, FAIL_REPLY, "reply line too long");
			return;
		}
	}
}

static void on_data(struct load *l, struct client *c)
{
	static char buf[DATA_BUF];

	for (;;) {
		ssize_t n = recv(c->data, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			fail(l, c, FAIL_CLOSED, strerror(errno));
			return;
		}
		if (n == 0) {
			close(c->data);
			c->data = -1;
			c->data_eof = true;
			if (c->got_226) {
				c->step = STEP_QUIT;
				send_cmd(l, c, "QUIT", NULL);
			}
			return;
		}
		c->bytes += (uint64_t)n;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ftpload --server ADDR:PORT [--user U] [--pass P] [--clients N]\n"
		     "               [--duration S | --count N] [--pasv] [--expect-size BYTES]\n"
		     "               [--sources N] [--json] (--names FILE | NAME...)\n");
}

static int read_names(const char *path, struct options *o)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && o->nnames < MAX_NAMES) {
		size_t n = strcspn(line, "\r\n");
		char **a;

		if (n == 0)
			continue;
		line[n] = '\0';
		a = realloc(o->names, (o->nnames + 1) * sizeof(*a));
		if (!a || !(a[o->nnames] = strdup(line))) {
			fclose(f);
			return -1;
		}
		o->names = a;
		o->nnames++;
	}
	fclose(f);
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		O_SERVER = 256,
		O_USER,
		O_PASS,
		O_CLIENTS,
		O_DURATION,
		O_COUNT,
		O_PASV,
		O_EXPECT,
		O_JSON,
		O_NAMES,
		O_SOURCES,
		O_HELP
	};
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "user", required_argument, NULL, O_USER },
		{ "pass", required_argument, NULL, O_PASS },
		{ "clients", required_argument, NULL, O_CLIENTS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "count", required_argument, NULL, O_COUNT },
		{ "pasv", no_argument, NULL, O_PASV },
		{ "expect-size", required_argument, NULL, O_EXPECT },
		{ "json", no_argument, NULL, O_JSON },
		{ "names", required_argument, NULL, O_NAMES },
		{ "sources", required_argument, NULL, O_SOURCES },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->user = "anonymous";
	o->pass = "ftpload@example.net";
	o->clients = 32;
	o->expect_size = -1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case O_SERVER: {
			char host[64];
			const char *colon = strrchr(optarg, ':');
			long port;

			if (!colon || (size_t)(colon - optarg) >= sizeof(host))
				return -1;
			memcpy(host, optarg, (size_t)(colon - optarg));
			host[colon - optarg] = '\0';
			port = strtol(colon + 1, &end, 10);
			o->server.sin_family = AF_INET;
			if (*end || port < 1 || port > 65535 ||
			    inet_pton(AF_INET, host, &o->server.sin_addr) != 1)
				return -1;
			o->server.sin_port = htons((uint16_t)port);
			break;
		}
		case O_USER: o->user = optarg; break;
		case O_PASS: o->pass = optarg; break;
		case O_CLIENTS:
			o->clients = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->clients < 1 || o->clients > 10000)
				return -1;
			break;
		case O_DURATION:
			o->duration_s = strtod(optarg, &end);
			if (*end || o->duration_s <= 0)
				return -1;
			break;
		case O_COUNT:
			o->count = strtoull(optarg, &end, 10);
			if (*end || o->count == 0)
				return -1;
			break;
		case O_PASV: o->pasv = true; break;
		case O_EXPECT:
			o->expect_size = strtoll(optarg, &end, 10);
			if (*end || o->expect_size < 0)
				return -1;
			break;
		case O_JSON: o->json = true; break;
		case O_SOURCES:
			o->sources = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->sources < 1 || o->sources > 250)
				return -1;
			break;
		case O_NAMES:
			if (read_names(optarg, o) < 0)
				return -1;
			break;
		case O_HELP: usage(stdout); exit(0);
		default: return -1;
		}
	}
	for (; optind < argc; optind++) {
		char **a = realloc(o->names, (o->nnames + 1) * sizeof(*a));

		if (!a)
			return -1;
		o->names = a;
		o->names[o->nnames++] = argv[optind];
	}
	if (!o->server.sin_port || o->nnames == 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct load load;
	struct load *l = &load;
	struct epoll_event evs[256];
	double cpu0, elapsed, cpu;
	uint64_t p50 = 0, p99 = 0, pmax = 0;

	if (parse_args(argc, argv, &l->opt) < 0) {
		usage(stderr);
		return 2;
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->clients = calloc(l->opt.clients, sizeof(*l->clients));
	l->samples = malloc(MAX_SAMPLES * sizeof(*l->samples));
	if (l->ep < 0 || !l->clients || !l->samples) {
		perror("ftpload");
		return 2;
	}
	cpu0 = cpu_seconds();
	l->t0_ns = now_ns();
	l->end_ns = l->t0_ns + (uint64_t)(l->opt.duration_s * 1e9);
	for (unsigned i = 0; i < l->opt.clients; i++) {
		l->clients[i].ctrl = l->clients[i].data = -1;
		session_start(l, &l->clients[i]);
	}
	for (;;) {
		bool busy = false;
		uint64_t t;
		int n = epoll_wait(l->ep, evs, 256, 50);

		for (int i = 0; i < n; i++) {
			struct client *c = &l->clients[evs[i].data.u64 >> 1];

			if (evs[i].data.u64 & 1) {
				if (c->data >= 0)
					on_data(l, c);
			} else if (c->ctrl >= 0) {
				on_ctrl(l, c);
			}
		}
		t = now_ns();
		if (l->opt.duration_s > 0 && t >= l->end_ns && !l->stopping) {
			/* the measured window is over: sessions still running are not counted */
			l->stopping = true;
			break;
		}
		for (unsigned i = 0; i < l->opt.clients; i++) {
			struct client *c = &l->clients[i];

			if (c->step == STEP_IDLE)
				continue;
			busy = true;
			if (t - c->started_ns > SESSION_TIMEOUT_NS)
				fail(l, c, FAIL_TIMEOUT, "session");
		}
		if (!busy && !more_sessions(l))
			break;
	}
	elapsed = (double)(now_ns() - l->t0_ns) / 1e9;
	if (l->opt.duration_s > 0)
		elapsed = l->opt.duration_s;
	cpu = cpu_seconds() - cpu0;
	if (l->nsamples) {
		qsort(l->samples, l->nsamples, sizeof(*l->samples), cmp_u64);
		p50 = l->samples[l->nsamples / 2];
		p99 = l->samples[l->nsamples * 99 / 100];
		pmax = l->samples[l->nsamples - 1];
	}
	if (l->opt.json) {
		printf("{\"sessions\": %llu, \"failures\": %llu, \"elapsed_s\": %.4f, "
		       "\"bytes\": %llu, \"sessions_per_s\": %.1f, \"mb_per_s\": %.2f, "
		       "\"p50_us\": %llu, \"p99_us\": %llu, \"max_us\": %llu, \"cpu_s\": %.3f",
		       (unsigned long long)l->completed, (unsigned long long)l->failed, elapsed,
		       (unsigned long long)l->bytes, l->completed / elapsed,
		       l->bytes / elapsed / 1e6, (unsigned long long)p50, (unsigned long long)p99,
		       (unsigned long long)pmax, cpu);
		for (int i = 0; i < FAIL_MAX; i++)
			printf(", \"fail_%s\": %llu", failure_names[i],
			       (unsigned long long)l->fails[i]);
		printf(", \"messages\": [");
		for (unsigned i = 0; i < l->nmessages; i++) {
			printf("%s\"", i ? ", " : "");
			for (const char *p = l->messages[i]; *p; p++)
				if (*p >= 0x20 && *p != '"' && *p != '\\')
					putchar(*p);
			putchar('"');
		}
		printf("]}\n");
	} else {
		printf("sessions %llu, failures %llu, %.1f sessions/s, %.2f MB/s, p50 %.2f ms, "
		       "p99 %.2f ms, max %.2f ms, ftpload CPU %.2f s of %.2f s\n",
		       (unsigned long long)l->completed, (unsigned long long)l->failed,
		       l->completed / elapsed, l->bytes / elapsed / 1e6, p50 / 1e3, p99 / 1e3,
		       pmax / 1e3, cpu, elapsed);
		for (unsigned i = 0; i < l->nmessages; i++)
			printf("  %s\n", l->messages[i]);
	}
	return l->failed ? 1 : 0;
}
