// SPDX-License-Identifier: MIT
/*
 * tftpload: a TFTP read-load generator for the benchmarks. One thread drives many
 * simulated clients with epoll; each client runs one RRQ at a time on a fresh UDP socket,
 * as a phone would, negotiates blksize / windowsize / tsize (RFC 2347-2349, RFC 7440),
 * ACKs, retransmits on timeout and checks what it received. It is meant to cost far less
 * per transfer than any server it measures, so that the server is the bottleneck: no
 * allocation per transfer, timers kept in one list ordered by deadline, bursts read with
 * recvmmsg(2). libc only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	OP_RRQ = 1,
	OP_WRQ = 2,
	OP_DATA = 3,
	OP_ACK = 4,
	OP_ERROR = 5,
	OP_OACK = 6,
};

#define TFTP_DEFAULT_BLKSIZE 512
#define TFTP_MAX_BLKSIZE     65464
#define TFTP_MAX_WINDOWSIZE  65535
#define MAX_NAME_LEN	     500
/* An RRQ is opcode, name, mode and at most three options with short values. */
#define RRQ_MAX (2 + MAX_NAME_LEN + 1 + 6 + 3 * 24)
/* Enough to drain a full window of 16 in one call and most of a window of 64. */
#define RECV_BATCH	    64
#define EPOLL_BATCH	    256
#define MAX_RECORDED_ERRORS 5
#define ERROR_TEXT_LEN	    200
/* Latency histogram: 8 sub-buckets per power of two of microseconds (12.5% precision). */
#define HIST_SUB_BITS 3
#define HIST_BUCKETS  512

enum transfer_state {
	TRANSFER_IDLE,	    /* the slot holds no transfer and will not start one */
	TRANSFER_REQUESTED, /* RRQ sent; waiting for OACK, DATA 1 or ERROR from any port */
	TRANSFER_RECEIVING, /* the server's TID is known and DATA is flowing */
	TRANSFER_STATE_MAX
};

enum failure {
	FAIL_SOCKET,	   /* socket(2) or epoll_ctl(2) failed: out of descriptors? */
	FAIL_SEND,	   /* sendto(2) failed */
	FAIL_RECV,	   /* recvmmsg(2) failed, e.g. ICMP port unreachable */
	FAIL_TIMEOUT_RRQ,  /* no answer to the RRQ after all retries */
	FAIL_TIMEOUT_DATA, /* the transfer stalled after it started */
	FAIL_ERROR_PACKET, /* the server sent an ERROR */
	FAIL_BAD_OACK,	   /* OACK with an option we did not ask for or a value out of range */
	FAIL_BAD_PACKET,   /* unexpected opcode, runt or oversize DATA */
	FAIL_SIZE,	   /* complete, but not the expected number of bytes */
	FAIL_MAX
};

static const char *const failure_names[FAIL_MAX] = {
	[FAIL_SOCKET] = "socket",
	[FAIL_SEND] = "send",
	[FAIL_RECV] = "recv",
	[FAIL_TIMEOUT_RRQ] = "timeout-rrq",
	[FAIL_TIMEOUT_DATA] = "timeout-data",
	[FAIL_ERROR_PACKET] = "error-packet",
	[FAIL_BAD_OACK] = "bad-oack",
	[FAIL_BAD_PACKET] = "bad-packet",
	[FAIL_SIZE] = "size",
};

struct options {
	struct sockaddr_storage server;
	socklen_t server_len;
	const char *server_text;
	unsigned clients;
	unsigned blksize;    /* 0: do not ask */
	unsigned windowsize; /* 0: do not ask */
	bool tsize;
	double duration_s; /* 0 with count 0 means "each name once" */
	uint64_t count;
	int64_t expect_size; /* -1: any size */
	unsigned timeout_ms;
	unsigned retries;
	bool random_order;
	bool reuse_sockets; /* keep each client's socket (and port) across transfers */
	uint64_t seed;
	bool json;
};

struct transfer {
	enum transfer_state state;
	int fd;
	bool starting;	     /* inside transfer_start: a failure now retires the slot */
	unsigned generation; /* bumped per transfer so a stale batch stops early */
	const char *name;
	struct sockaddr_storage peer; /* the server's TID once known */
	socklen_t peer_len;
	uint16_t next_block; /* next in-order block expected, wraps 65535 -> 0 */
	unsigned since_ack;  /* in-order blocks received since our last ACK */
	unsigned dup_run;    /* duplicates received since our last ACK, with nothing new */
	bool reacked;	     /* a gap was ACKed and no full window has been ACKed since */
	unsigned blksize;
	unsigned windowsize;
	int64_t tsize; /* from the OACK, -1 if absent */
	uint64_t bytes;
	unsigned retries;
	uint64_t started_ns;
	uint64_t deadline_ns;
	struct transfer *timer_prev, *timer_next;
	unsigned char rrq[RRQ_MAX];
	size_t rrq_len;
};

struct histogram {
	uint64_t buckets[HIST_BUCKETS];
	uint64_t max_us;
};

struct stats {
	uint64_t started;
	uint64_t completed;
	uint64_t failures[FAIL_MAX];
	uint64_t failed;
	uint64_t bytes;
	uint64_t retransmits;  /* RRQs and ACKs resent after a timeout */
	uint64_t out_of_order; /* DATA that was not the next block: gaps and duplicates */
	uint64_t stray;	       /* packets from an unknown TID, answered with ERROR 5 */
	unsigned granted_blksize;
	unsigned granted_windowsize;
	bool granted_mixed; /* not every transfer got the same blksize / windowsize */
	unsigned recorded_errors;
	char errors[MAX_RECORDED_ERRORS][ERROR_TEXT_LEN];
	struct histogram latency;
};

struct load {
	struct options opt;
	const char **names;
	size_t n_names;
	size_t next_name;
	uint64_t rng;
	int epoll_fd;
	struct transfer *transfers;
	unsigned active;
	struct transfer *timer_head, *timer_tail;
	uint64_t begin_ns;
	uint64_t end_ns; /* no new transfer starts after this; 0 in count mode */
	uint64_t last_done_ns;
	size_t recv_size;
	unsigned char *recv_buf;
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iovs[RECV_BATCH];
	struct sockaddr_storage froms[RECV_BATCH];
	struct stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fputs("usage: tftpload --server HOST:PORT [--clients N] [--blksize N] [--windowsize N]\n"
	      "                [--tsize] [--duration SECONDS | --count N]\n"
	      "                [--names FILE | NAME...] [--random] [--seed N] [--reuse-sockets]\n"
	      "                [--expect-size BYTES] [--timeout-ms MS] [--retries N] [--json]\n"
	      "Without --duration or --count every name is fetched once.\n"
	      "Exit status: 0 all transfers succeeded, 1 some failed, 2 usage or setup error.\n",
	      f);
}

/* Parses a decimal number in [min, max]. Returns 0 or -EINVAL / -ERANGE. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_value)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret_value = v;
	return 0;
}

/* Like parse_u64 but for a length-delimited field from the wire. */
static int parse_u64_n(const char *s, size_t len, uint64_t max, uint64_t *ret_value)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret_value = v;
	return 0;
}

static int option_u64(const char *flag, const char *s, uint64_t min, uint64_t max,
		      uint64_t *ret_value)
{
	int r = parse_u64(s, min, max, ret_value);

	if (r < 0)
		fprintf(stderr, "tftpload: %s: '%s' is not a number in %" PRIu64 "..%" PRIu64 "\n",
			flag, s, min, max);
	return r;
}

/* "1.2.3.4:69", "[::1]:69" or "localhost:69". Returns 0 or -EINVAL. */
static int parse_server(const char *text, struct options *opt)
{
	char host[256];
	const char *colon, *hs = text;
	size_t hlen;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int r;

	colon = strrchr(text, ':');
	if (!colon || colon[1] == '\0')
		return -EINVAL;
	hlen = (size_t)(colon - text);
	if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
		hs = text + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r != 0) {
		fprintf(stderr, "tftpload: %s: %s\n", text, gai_strerror(r));
		return -EINVAL;
	}
	memcpy(&opt->server, res->ai_addr, res->ai_addrlen);
	opt->server_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * Reads one name per line; blank lines are skipped. The returned array points into one
 * buffer that lives as long as the process.
 */
static int read_names(const char *path, const char ***ret_names, size_t *ret_n)
{
	FILE *f;
	char *buf = NULL, *p, *end;
	size_t cap = 0, len = 0, n = 0, ncap = 0;
	const char **names = NULL;
	int r = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (;;) {
		size_t got;

		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		r = -EIO;
		goto out;
	}
	if (!buf) {
		r = -EINVAL;
		goto out;
	}
	buf[len] = '\0';
	for (p = buf, end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *stop = nl ? nl : end;

		*stop = '\0';
		if (stop > p && stop[-1] == '\r')
			stop[-1] = '\0';
		if (*p) {
			if (n == ncap) {
				size_t nc = ncap ? ncap * 2 : 1024;
				const char **nn = realloc(names, nc * sizeof(*names));

				if (!nn) {
					r = -ENOMEM;
					goto out;
				}
				names = nn;
				ncap = nc;
			}
			names[n++] = p;
		}
		p = stop + 1;
	}
	if (n == 0) {
		r = -EINVAL;
		goto out;
	}
	*ret_names = names;
	*ret_n = n;
	names = NULL;
	buf = NULL;
out:
	free(names);
	free(buf);
	fclose(f);
	return r;
}

static unsigned hist_index(uint64_t us)
{
	unsigned e, idx;

	if (us < (2u << HIST_SUB_BITS))
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us);
	idx = (2u << HIST_SUB_BITS) + (e - HIST_SUB_BITS - 1) * (1u << HIST_SUB_BITS) +
	      (unsigned)((us >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1));
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The upper bound of a bucket, so that percentiles err on the slow side. */
static uint64_t hist_value(unsigned idx)
{
	unsigned e, mant;

	if (idx < (2u << HIST_SUB_BITS))
		return idx;
	e = (idx - (2u << HIST_SUB_BITS)) / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1;
	mant = (idx - (2u << HIST_SUB_BITS)) % (1u << HIST_SUB_BITS);
	return ((uint64_t)((1u << HIST_SUB_BITS) + mant + 1) << (e - HIST_SUB_BITS)) - 1;
}

static void hist_add(struct histogram *h, uint64_t us)
{
	h->buckets[hist_index(us)]++;
	if (us > h->max_us)
		h->max_us = us;
}

static double hist_percentile_ms(const struct histogram *h, uint64_t total, double p)
{
	uint64_t want, seen = 0;

	if (total == 0)
		return 0.0;
	want = (uint64_t)(p * (double)total + 0.5);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);

			return (double)(v < h->max_us ? v : h->max_us) / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}

/* Timers: every timeout has the same length, so appending keeps the list sorted. */
static void timer_unlink(struct load *l, struct transfer *t)
{
	if (t->timer_prev)
		t->timer_prev->timer_next = t->timer_next;
	else if (l->timer_head == t)
		l->timer_head = t->timer_next;
	if (t->timer_next)
		t->timer_next->timer_prev = t->timer_prev;
	else if (l->timer_tail == t)
		l->timer_tail = t->timer_prev;
	t->timer_prev = t->timer_next = NULL;
}

static void timer_arm(struct load *l, struct transfer *t, uint64_t now)
{
	timer_unlink(l, t);
	t->deadline_ns = now + (uint64_t)l->opt.timeout_ms * 1000000u;
	t->timer_prev = l->timer_tail;
	if (l->timer_tail)
		l->timer_tail->timer_next = t;
	else
		l->timer_head = t;
	l->timer_tail = t;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (!same_host(a, b))
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port ==
		       ((const struct sockaddr_in *)b)->sin_port;
	return ((const struct sockaddr_in6 *)a)->sin6_port ==
	       ((const struct sockaddr_in6 *)b)->sin6_port;
}

/* Copies a peer-supplied string for display, replacing anything unprintable. */
static void sanitize(char *dst, size_t dstsz, const unsigned char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && src[i] && n + 1 < dstsz; i++)
		dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '"' && src[i] != '\\')
				   ? (char)src[i]
				   : '?';
	dst[n] = '\0';
}

static const char *pick_name(struct load *l)
{
	size_t i;

	if (l->opt.random_order) {
		/* xorshift64*: a few instructions, and reproducible with --seed */
		l->rng ^= l->rng >> 12;
		l->rng ^= l->rng << 25;
		l->rng ^= l->rng >> 27;
		i = (size_t)((l->rng * 2685821657736338717ull) % l->n_names);
	} else {
		i = l->next_name++;
		if (l->next_name == l->n_names)
			l->next_name = 0;
	}
	return l->names[i];
}

static bool may_start(const struct load *l, uint64_t now)
{
	if (l->opt.count)
		return l->st.started < l->opt.count;
	if (l->end_ns)
		return now < l->end_ns;
	return l->st.started < l->n_names;
}

static void transfer_start(struct load *l, struct transfer *t, uint64_t now);

/* Closes the socket unless --reuse-sockets keeps it, with its port, for the next one. */
static void transfer_close(struct load *l, struct transfer *t, bool keep_socket)
{
	timer_unlink(l, t);
	if (!keep_socket && t->fd >= 0) {
		close(t->fd); /* also removes it from the epoll set */
		t->fd = -1;
	}
	t->state = TRANSFER_IDLE;
}

/*
 * Ends the transfer and, if the run is not over, starts the next one on the same slot.
 * A slot whose transfer could not even start (no descriptors, no route) is retired
 * rather than retried at once, which would recurse without bound.
 */
static void transfer_end(struct load *l, struct transfer *t, uint64_t now)
{
	bool again = !t->starting && may_start(l, now);

	transfer_close(l, t, again && l->opt.reuse_sockets && t->fd >= 0);
	l->last_done_ns = now;
	if (again)
		transfer_start(l, t, now);
	else
		l->active--;
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void
transfer_fail(struct load *l, struct transfer *t, uint64_t now, enum failure why, const char *fmt,
	      ...)
{
	l->st.failures[why]++;
	l->st.failed++;
	if (l->st.recorded_errors < MAX_RECORDED_ERRORS) {
		char *dst = l->st.errors[l->st.recorded_errors++];
		char name[64];
		int n;
		va_list ap;

		sanitize(name, sizeof(name), (const unsigned char *)t->name, strlen(t->name));
		n = snprintf(dst, ERROR_TEXT_LEN, "%s: %s: ", name, failure_names[why]);
		if (n > 0 && n < ERROR_TEXT_LEN) {
			va_start(ap, fmt);
			vsnprintf(dst + n, ERROR_TEXT_LEN - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	transfer_end(l, t, now);
}

static void transfer_complete(struct load *l, struct transfer *t, uint64_t now)
{
	struct stats *st = &l->st;

	if (l->opt.expect_size >= 0 && t->bytes != (uint64_t)l->opt.expect_size) {
		transfer_fail(l, t, now, FAIL_SIZE, "received %" PRIu64 " bytes, expected %" PRId64,
			      t->bytes, l->opt.expect_size);
		return;
	}
	if (t->tsize >= 0 && t->bytes != (uint64_t)t->tsize) {
		transfer_fail(l, t, now, FAIL_SIZE,
			      "received %" PRIu64 " bytes, tsize said %" PRId64, t->bytes,
			      t->tsize);
		return;
	}
	if (st->completed == 0) {
		st->granted_blksize = t->blksize;
		st->granted_windowsize = t->windowsize;
	} else if (st->granted_blksize != t->blksize || st->granted_windowsize != t->windowsize) {
		st->granted_mixed = true;
	}
	st->completed++;
	st->bytes += t->bytes;
	hist_add(&st->latency, (now - t->started_ns) / 1000u);
	transfer_end(l, t, now);
}

/* Sends to the server's TID once known, to its listening port before. 0 or -errno. */
static int transfer_send(struct transfer *t, const struct options *opt, const void *buf, size_t len)
{
	const struct sockaddr *to =
		(const struct sockaddr *)(t->peer_len ? &t->peer : &opt->server);
	socklen_t tolen = t->peer_len ? t->peer_len : opt->server_len;

	if (sendto(t->fd, buf, len, 0, to, tolen) < 0)
		return -errno;
	return 0;
}

/* ACKs the last in-order block; that is the only ACK this client ever sends. */
static int transfer_ack(struct load *l, struct transfer *t, uint64_t now)
{
	uint16_t block = (uint16_t)(t->next_block - 1);
	unsigned char ack[4] = { 0, OP_ACK, (unsigned char)(block >> 8), (unsigned char)block };

	t->since_ack = 0;
	t->dup_run = 0;
	timer_arm(l, t, now);
	return transfer_send(t, &l->opt, ack, sizeof(ack));
}

static size_t put_option(unsigned char *p, size_t room, const char *name, uint64_t value)
{
	int n = snprintf((char *)p, room, "%s%c%" PRIu64, name, '\0', value);

	if (n < 0 || (size_t)n + 1 > room)
		return 0;
	return (size_t)n + 1;
}

static void build_rrq(struct transfer *t, const struct options *opt)
{
	unsigned char *p = t->rrq;
	size_t room = sizeof(t->rrq), nlen = strlen(t->name);

	/* names were checked against MAX_NAME_LEN, so the fixed parts always fit */
	p[0] = 0;
	p[1] = OP_RRQ;
	memcpy(p + 2, t->name, nlen + 1);
	memcpy(p + 2 + nlen + 1, "octet", 6);
	t->rrq_len = 2 + nlen + 1 + 6;
	if (opt->blksize)
		t->rrq_len +=
			put_option(p + t->rrq_len, room - t->rrq_len, "blksize", opt->blksize);
	if (opt->windowsize)
		t->rrq_len += put_option(p + t->rrq_len, room - t->rrq_len, "windowsize",
					 opt->windowsize);
	if (opt->tsize)
		t->rrq_len += put_option(p + t->rrq_len, room - t->rrq_len, "tsize", 0);
}

static void transfer_start(struct load *l, struct transfer *t, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	t->generation++;
	t->name = pick_name(l);
	t->peer_len = 0;
	t->next_block = 1;
	t->since_ack = 0;
	t->dup_run = 0;
	t->reacked = false;
	t->blksize = TFTP_DEFAULT_BLKSIZE;
	t->windowsize = 1;
	t->tsize = -1;
	t->bytes = 0;
	t->retries = 0;
	t->started_ns = now;
	t->state = TRANSFER_REQUESTED;
	t->starting = true;
	l->st.started++;

	if (t->fd >= 0) {
		/*
		 * --reuse-sockets: whatever the last transfer left queued must not pass for
		 * an answer. (The server may well answer from the same port as last time,
		 * so the source cannot tell old from new.)
		 */
		while (recvmmsg(t->fd, l->msgs, RECV_BATCH, MSG_DONTWAIT, NULL) == RECV_BATCH)
			;
		goto send;
	}
	t->fd = socket(l->opt.server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		transfer_fail(l, t, now, FAIL_SOCKET, "socket: %s", strerror(errno));
		t->starting = false;
		return;
	}
	if (l->opt.windowsize > 64 || (uint64_t)l->opt.windowsize * l->opt.blksize > 131072) {
		/* a large window must fit in the socket buffer or the burst is dropped */
		int sz = (int)((uint64_t)l->opt.windowsize * (l->opt.blksize + 64) * 2);

		if (sz > (64 << 20) || sz <= 0)
			sz = 64 << 20;
		setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	ev.data.ptr = t;
	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, t->fd, &ev) < 0) {
		transfer_fail(l, t, now, FAIL_SOCKET, "epoll_ctl: %s", strerror(errno));
		t->starting = false;
		return;
	}
send:
	build_rrq(t, &l->opt);
	timer_arm(l, t, now);
	r = transfer_send(t, &l->opt, t->rrq, t->rrq_len);
	if (r < 0)
		transfer_fail(l, t, now, FAIL_SEND, "RRQ: %s", strerror(-r));
	t->starting = false;
}

/*
 * Applies an OACK to the transfer. Returns 0, or -EPROTO with a reason in why: an
 * option we did not ask for, or a value above what we asked for, ends the transfer
 * (RFC 2347). An option left out means the server's default for it.
 */
static int apply_oack(struct transfer *t, const struct options *opt, const unsigned char *p,
		      size_t len, char *why, size_t whysz)
{
	size_t i = 2;

	while (i < len) {
		const char *name = (const char *)p + i, *value;
		const unsigned char *nul = memchr(p + i, 0, len - i);
		size_t vlen;
		uint64_t v;

		if (!nul)
			goto truncated;
		value = (const char *)nul + 1;
		if ((const unsigned char *)value >= p + len)
			goto truncated;
		nul = memchr(value, 0, len - (size_t)((const unsigned char *)value - p));
		if (!nul)
			goto truncated;
		vlen = (size_t)((const char *)nul - value);
		i = (size_t)(nul + 1 - p);
		if (parse_u64_n(value, vlen, UINT64_MAX, &v) < 0) {
			snprintf(why, whysz, "option value is not a number");
			return -EPROTO;
		}
		if (strcasecmp(name, "blksize") == 0 && opt->blksize) {
			if (v < 8 || v > opt->blksize) {
				snprintf(why, whysz, "blksize %" PRIu64 " not in 8..%u", v,
					 opt->blksize);
				return -EPROTO;
			}
			t->blksize = (unsigned)v;
		} else if (strcasecmp(name, "windowsize") == 0 && opt->windowsize) {
			if (v < 1 || v > opt->windowsize) {
				snprintf(why, whysz, "windowsize %" PRIu64 " not in 1..%u", v,
					 opt->windowsize);
				return -EPROTO;
			}
			t->windowsize = (unsigned)v;
		} else if (strcasecmp(name, "tsize") == 0 && opt->tsize) {
			if (v > INT64_MAX) {
				snprintf(why, whysz, "tsize out of range");
				return -EPROTO;
			}
			t->tsize = (int64_t)v;
		} else {
			char shown[40];

			sanitize(shown, sizeof(shown), (const unsigned char *)name, strlen(name));
			snprintf(why, whysz, "option '%s' was not requested", shown);
			return -EPROTO;
		}
	}
	return 0;
truncated:
	snprintf(why, whysz, "truncated option list");
	return -EPROTO;
}

static void on_data(struct load *l, struct transfer *t, uint64_t now, uint16_t block,
		    size_t payload)
{
	int r;

	if (payload > t->blksize) {
		transfer_fail(l, t, now, FAIL_BAD_PACKET, "DATA %u carries %zu bytes, blksize %u",
			      block, payload, t->blksize);
		return;
	}
	if (block != t->next_block) {
		l->st.out_of_order++;
		if ((uint16_t)(block - t->next_block) < 0x8000) {
			/*
			 * A gap: something was lost. ACK the last in-order block so that the
			 * server restarts its window there (RFC 7440), but only once: the
			 * rest of the broken window is still arriving and must not turn into
			 * as many identical ACKs, each answered with a whole window.
			 */
			if (t->reacked)
				return;
			r = transfer_ack(l, t, now);
			t->reacked = true;
		} else {
			/*
			 * A duplicate. Overlapping retransmissions are harmless and ignored;
			 * but a whole window of them with nothing new since our last ACK
			 * means that ACK was lost, and ACKing again beats waiting for our
			 * timeout. With windowsize 1 this is RFC 1123's "ACK every
			 * duplicate", which the server must not answer twice.
			 */
			if (t->since_ack != 0 || ++t->dup_run < t->windowsize)
				return;
			r = transfer_ack(l, t, now);
		}
		if (r < 0)
			transfer_fail(l, t, now, FAIL_SEND, "ACK: %s", strerror(-r));
		return;
	}
	t->bytes += payload;
	t->retries = 0;
	t->dup_run = 0;
	t->next_block++; /* wraps to 0 after 65535, as most servers do */
	if (l->opt.expect_size >= 0 && t->bytes > (uint64_t)l->opt.expect_size) {
		transfer_fail(l, t, now, FAIL_SIZE, "more than %" PRId64 " bytes",
			      l->opt.expect_size);
		return;
	}
	if (payload < t->blksize) {
		/* The final ACK is sent once; a real client does not linger either. */
		r = transfer_ack(l, t, now);
		if (r < 0)
			transfer_fail(l, t, now, FAIL_SEND, "final ACK: %s", strerror(-r));
		else
			transfer_complete(l, t, now);
		return;
	}
	if (++t->since_ack >= t->windowsize) {
		r = transfer_ack(l, t, now);
		t->reacked = false;
		if (r < 0)
			transfer_fail(l, t, now, FAIL_SEND, "ACK: %s", strerror(-r));
		return;
	}
	timer_arm(l, t, now);
}

static void on_error_packet(struct load *l, struct transfer *t, uint64_t now,
			    const unsigned char *p, size_t len)
{
	char msg[100];

	sanitize(msg, sizeof(msg), p + 4, len - 4);
	transfer_fail(l, t, now, FAIL_ERROR_PACKET, "ERROR %u '%s'", (unsigned)(p[2] << 8 | p[3]),
		      msg);
}

/* Tells a stranger it is not part of this transfer (RFC 1350 section 4). */
static void reject_stranger(struct load *l, struct transfer *t, const struct sockaddr *from,
			    socklen_t fromlen)
{
	static const unsigned char err[] = "\0\5\0\5Unknown transfer ID";

	l->st.stray++;
	sendto(t->fd, err, sizeof(err), 0, from, fromlen);
}

static void on_packet(struct load *l, struct transfer *t, uint64_t now, const unsigned char *p,
		      size_t len, const struct sockaddr *from, socklen_t fromlen)
{
	unsigned op;
	uint16_t block;
	char why[120];
	int r;

	if (len < 4) {
		if (t->peer_len && same_endpoint(&t->peer, from))
			transfer_fail(l, t, now, FAIL_BAD_PACKET, "runt packet of %zu bytes", len);
		return;
	}
	op = (unsigned)(p[0] << 8 | p[1]);
	block = (uint16_t)(p[2] << 8 | p[3]);

	switch (t->state) {
	case TRANSFER_REQUESTED:
		if (!same_host(&l->opt.server, from))
			return;
		/*
		 * A stale packet for this port's previous owner would be DATA beyond 1 or
		 * an ACK: not an answer to our RRQ.
		 */
		if (op != OP_OACK && op != OP_ERROR && !(op == OP_DATA && block == 1)) {
			reject_stranger(l, t, from, fromlen);
			return;
		}
		memcpy(&t->peer, from, fromlen);
		t->peer_len = fromlen;
		t->state = TRANSFER_RECEIVING;
		if (op == OP_ERROR) {
			on_error_packet(l, t, now, p, len);
		} else if (op == OP_OACK) {
			if (apply_oack(t, &l->opt, p, len, why, sizeof(why)) < 0) {
				static const unsigned char err[] = "\0\5\0\10bad option";

				transfer_send(t, &l->opt, err, sizeof(err));
				transfer_fail(l, t, now, FAIL_BAD_OACK, "%s", why);
				return;
			}
			t->retries = 0;
			r = transfer_ack(l, t, now); /* next_block is 1: this is ACK 0 */
			if (r < 0)
				transfer_fail(l, t, now, FAIL_SEND, "ACK 0: %s", strerror(-r));
		} else {
			/* the server ignored every option: defaults apply */
			on_data(l, t, now, block, len - 4);
		}
		return;
	case TRANSFER_RECEIVING:
		if (!same_endpoint(&t->peer, from)) {
			reject_stranger(l, t, from, fromlen);
			return;
		}
		if (op == OP_DATA) {
			on_data(l, t, now, block, len - 4);
		} else if (op == OP_ERROR) {
			on_error_packet(l, t, now, p, len);
		} else if (op == OP_OACK && t->next_block == 1) {
			/* our ACK 0 was lost and the server repeats its OACK */
			l->st.out_of_order++;
			r = transfer_ack(l, t, now);
			if (r < 0)
				transfer_fail(l, t, now, FAIL_SEND, "ACK 0: %s", strerror(-r));
		} else {
			transfer_fail(l, t, now, FAIL_BAD_PACKET, "unexpected opcode %u", op);
		}
		return;
	case TRANSFER_IDLE:
	case TRANSFER_STATE_MAX: return;
	}
}

static void on_readable(struct load *l, struct transfer *t, uint64_t now)
{
	unsigned gen = t->generation;
	int n;

	if (t->state == TRANSFER_IDLE)
		return;
	for (unsigned i = 0; i < RECV_BATCH; i++) {
		l->msgs[i].msg_hdr.msg_namelen = sizeof(l->froms[i]);
		l->msgs[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(t->fd, l->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		/* ECONNREFUSED: ICMP port unreachable, nobody listens there */
		transfer_fail(l, t, now, FAIL_RECV, "recvmmsg: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct msghdr *h = &l->msgs[i].msg_hdr;
		size_t len = l->msgs[i].msg_len;

		/* a datagram longer than the buffer is cut to it; on_data still sees it as
		 * one byte over blksize and fails the transfer */
		on_packet(l, t, now, l->iovs[i].iov_base, len < l->recv_size ? len : l->recv_size,
			  (const struct sockaddr *)&l->froms[i], h->msg_namelen);
		if (t->generation != gen || t->state == TRANSFER_IDLE)
			return; /* the rest of the batch belonged to a finished transfer */
	}
}

static void on_timeout(struct load *l, struct transfer *t, uint64_t now)
{
	int r;

	if (++t->retries > l->opt.retries) {
		if (t->state == TRANSFER_REQUESTED)
			transfer_fail(l, t, now, FAIL_TIMEOUT_RRQ, "no answer after %u tries",
				      l->opt.retries + 1);
		else
			transfer_fail(l, t, now, FAIL_TIMEOUT_DATA,
				      "stalled at block %u (%" PRIu64 " bytes)",
				      (uint16_t)(t->next_block - 1), t->bytes);
		return;
	}
	l->st.retransmits++;
	t->reacked = false;
	if (t->state == TRANSFER_REQUESTED) {
		timer_arm(l, t, now);
		r = transfer_send(t, &l->opt, t->rrq, t->rrq_len);
	} else {
		r = transfer_ack(l, t, now);
	}
	if (r < 0)
		transfer_fail(l, t, now, FAIL_SEND, "retransmit: %s", strerror(-r));
}

static int run(struct load *l)
{
	struct epoll_event events[EPOLL_BATCH];
	uint64_t now = now_ns();
	unsigned n_clients = l->opt.clients;

	l->begin_ns = now;
	l->last_done_ns = now;
	if (l->opt.duration_s > 0)
		l->end_ns = now + (uint64_t)(l->opt.duration_s * 1e9);
	if (l->opt.count && l->opt.count < n_clients)
		n_clients = (unsigned)l->opt.count;
	if (!l->opt.count && !l->end_ns && l->n_names < n_clients)
		n_clients = (unsigned)l->n_names;

	for (unsigned i = 0; i < n_clients; i++) {
		l->active++;
		transfer_start(l, &l->transfers[i], now);
	}
	while (l->active > 0) {
		int timeout_ms = -1, n;

		if (l->timer_head) {
			uint64_t d = l->timer_head->deadline_ns;

			timeout_ms = d <= now ? 0 : (int)((d - now + 999999u) / 1000000u);
		}
		n = epoll_wait(l->epoll_fd, events, EPOLL_BATCH, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "tftpload: epoll_wait: %s\n", strerror(errno));
			return -errno;
		}
		now = now_ns();
		for (int i = 0; i < n; i++)
			on_readable(l, events[i].data.ptr, now);
		while (l->timer_head && l->timer_head->deadline_ns <= now)
			on_timeout(l, l->timer_head, now);
	}
	return 0;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void report(const struct load *l, double client_cpu_s)
{
	const struct stats *st = &l->st;
	const struct options *o = &l->opt;
	double elapsed = (double)(l->last_done_ns - l->begin_ns) / 1e9;
	double tps = elapsed > 0 ? (double)st->completed / elapsed : 0.0;
	double mbps = elapsed > 0 ? (double)st->bytes / elapsed / 1e6 : 0.0;
	double p50 = hist_percentile_ms(&st->latency, st->completed, 0.50);
	double p99 = hist_percentile_ms(&st->latency, st->completed, 0.99);
	double max = (double)st->latency.max_us / 1000.0;

	if (o->json) {
		FILE *f = stdout;
		bool first = true;

		fprintf(f, "{\"server\":");
		json_string(f, o->server_text);
		fprintf(f,
			",\"clients\":%u,\"blksize\":%u,\"windowsize\":%u,\"tsize\":%s,"
			"\"granted_blksize\":%u,\"granted_windowsize\":%u,\"granted_mixed\":%s,"
			"\"transfers\":%" PRIu64 ",\"failures\":%" PRIu64 ",\"failure_reasons\":{",
			o->clients, o->blksize, o->windowsize, o->tsize ? "true" : "false",
			st->granted_blksize, st->granted_windowsize,
			st->granted_mixed ? "true" : "false", st->completed, st->failed);
		for (unsigned i = 0; i < FAIL_MAX; i++) {
			if (!st->failures[i])
				continue;
			fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", failure_names[i],
				st->failures[i]);
			first = false;
		}
		fprintf(f, "},\"first_errors\":[");
		for (unsigned i = 0; i < st->recorded_errors; i++) {
			if (i)
				fputc(',', f);
			json_string(f, st->errors[i]);
		}
		fprintf(f,
			"],\"bytes\":%" PRIu64 ",\"elapsed_s\":%.6f,\"transfers_per_s\":%.2f,"
			"\"mb_per_s\":%.3f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
			"\"retransmits\":%" PRIu64 ",\"out_of_order\":%" PRIu64
			",\"stray\":%" PRIu64 ",\"client_cpu_s\":%.3f}\n",
			st->bytes, elapsed, tps, mbps, p50, p99, max, st->retransmits,
			st->out_of_order, st->stray, client_cpu_s);
		return;
	}
	printf("server %s  clients %u  blksize %u  windowsize %u  (granted %u / %u%s)\n",
	       o->server_text, o->clients, o->blksize ? o->blksize : TFTP_DEFAULT_BLKSIZE,
	       o->windowsize ? o->windowsize : 1, st->granted_blksize, st->granted_windowsize,
	       st->granted_mixed ? ", varied" : "");
	printf("transfers %" PRIu64 "  failures %" PRIu64 "  elapsed %.3f s\n", st->completed,
	       st->failed, elapsed);
	printf("transfers/s %.1f  MB/s %.2f  (1 MB = 10^6 bytes)\n", tps, mbps);
	printf("latency ms  p50 %.3f  p99 %.3f  max %.3f\n", p50, p99, max);
	printf("retransmits %" PRIu64 "  out-of-order %" PRIu64 "  stray %" PRIu64
	       "  client cpu %.3f s\n",
	       st->retransmits, st->out_of_order, st->stray, client_cpu_s);
	for (unsigned i = 0; i < FAIL_MAX; i++)
		if (st->failures[i])
			printf("  failed %-13s %" PRIu64 "\n", failure_names[i], st->failures[i]);
	for (unsigned i = 0; i < st->recorded_errors; i++)
		printf("  e.g. %s\n", st->errors[i]);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0.0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Reads the command line into l->opt and the name list. 0, or -EINVAL after a message. */
static int parse_args(struct load *l, int argc, char **argv)
{
	enum {
		O_SERVER = 256,
		O_CLIENTS,
		O_BLKSIZE,
		O_WINDOWSIZE,
		O_TSIZE,
		O_DURATION,
		O_COUNT,
		O_NAMES,
		O_RANDOM,
		O_REUSE,
		O_SEED,
		O_EXPECT,
		O_TIMEOUT,
		O_RETRIES,
		O_JSON,
		O_HELP,
	};
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "clients", required_argument, NULL, O_CLIENTS },
		{ "blksize", required_argument, NULL, O_BLKSIZE },
		{ "windowsize", required_argument, NULL, O_WINDOWSIZE },
		{ "tsize", no_argument, NULL, O_TSIZE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "count", required_argument, NULL, O_COUNT },
		{ "names", required_argument, NULL, O_NAMES },
		{ "random", no_argument, NULL, O_RANDOM },
		{ "reuse-sockets", no_argument, NULL, O_REUSE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "expect-size", required_argument, NULL, O_EXPECT },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct options *o = &l->opt;
	const char *names_file = NULL;
	uint64_t v;
	int c, r;

	o->clients = 64;
	o->expect_size = -1;
	o->timeout_ms = 1000;
	o->retries = 5;
	o->seed = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_SERVER:
			o->server_text = optarg;
			if (parse_server(optarg, o) < 0) {
				fprintf(stderr, "tftpload: --server: bad address '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case O_CLIENTS:
			if (option_u64("--clients", optarg, 1, 100000, &v) < 0)
				return -EINVAL;
			o->clients = (unsigned)v;
			break;
		case O_BLKSIZE:
			if (option_u64("--blksize", optarg, 8, TFTP_MAX_BLKSIZE, &v) < 0)
				return -EINVAL;
			o->blksize = (unsigned)v;
			break;
		case O_WINDOWSIZE:
			if (option_u64("--windowsize", optarg, 1, TFTP_MAX_WINDOWSIZE, &v) < 0)
				return -EINVAL;
			o->windowsize = (unsigned)v;
			break;
		case O_TSIZE: o->tsize = true; break;
		case O_DURATION: {
			char *end;

			errno = 0;
			o->duration_s = strtod(optarg, &end);
			if (errno || *end || !(o->duration_s > 0) || o->duration_s > 1e6) {
				fprintf(stderr, "tftpload: --duration: '%s' is not in (0, 1e6]\n",
					optarg);
				return -EINVAL;
			}
			break;
		}
		case O_COUNT:
			if (option_u64("--count", optarg, 1, UINT64_MAX / 2, &v) < 0)
				return -EINVAL;
			o->count = v;
			break;
		case O_NAMES: names_file = optarg; break;
		case O_RANDOM: o->random_order = true; break;
		case O_REUSE: o->reuse_sockets = true; break;
		case O_SEED:
			if (option_u64("--seed", optarg, 0, UINT64_MAX, &v) < 0)
				return -EINVAL;
			o->seed = v;
			break;
		case O_EXPECT:
			if (option_u64("--expect-size", optarg, 0, INT64_MAX, &v) < 0)
				return -EINVAL;
			o->expect_size = (int64_t)v;
			break;
		case O_TIMEOUT:
			if (option_u64("--timeout-ms", optarg, 1, 3600000, &v) < 0)
				return -EINVAL;
			o->timeout_ms = (unsigned)v;
			break;
		case O_RETRIES:
			if (option_u64("--retries", optarg, 0, 1000, &v) < 0)
				return -EINVAL;
			o->retries = (unsigned)v;
			break;
		case O_JSON: o->json = true; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (!o->server_text) {
		fprintf(stderr, "tftpload: --server is required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (o->count && o->duration_s > 0) {
		fprintf(stderr, "tftpload: --duration and --count exclude each other\n");
		return -EINVAL;
	}
	if (names_file && optind < argc) {
		fprintf(stderr, "tftpload: give names either with --names or as arguments\n");
		return -EINVAL;
	}
	if (names_file) {
		r = read_names(names_file, &l->names, &l->n_names);
		if (r < 0) {
			fprintf(stderr, "tftpload: %s: %s\n", names_file,
				r == -EINVAL ? "no names in file" : strerror(-r));
			return -EINVAL;
		}
	} else {
		l->names = (const char **)(argv + optind);
		l->n_names = (size_t)(argc - optind);
	}
	if (l->n_names == 0) {
		fprintf(stderr, "tftpload: no file names to request\n");
		return -EINVAL;
	}
	for (size_t i = 0; i < l->n_names; i++) {
		if (strlen(l->names[i]) > MAX_NAME_LEN) {
			fprintf(stderr, "tftpload: name %zu is longer than %d bytes\n", i + 1,
				MAX_NAME_LEN);
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct load l; /* large (the histogram, the batch); keep it off the stack */
	int r;

	if (parse_args(&l, argc, argv) < 0)
		return 2;
	l.rng = l.opt.seed ? l.opt.seed : 0x9e3779b97f4a7c15ull;
	/* one byte more than the largest DATA accepted shows an oversize one */
	l.recv_size =
		4 + (l.opt.blksize > TFTP_DEFAULT_BLKSIZE ? l.opt.blksize : TFTP_DEFAULT_BLKSIZE) +
		1;
	l.recv_buf = malloc(l.recv_size * RECV_BATCH);
	l.transfers = calloc(l.opt.clients, sizeof(*l.transfers));
	if (!l.recv_buf || !l.transfers) {
		fprintf(stderr, "tftpload: out of memory\n");
		return 2;
	}
	for (unsigned i = 0; i < l.opt.clients; i++)
		l.transfers[i].fd = -1;
	for (unsigned i = 0; i < RECV_BATCH; i++) {
		l.iovs[i].iov_base = l.recv_buf + (size_t)i * l.recv_size;
		l.iovs[i].iov_len = l.recv_size;
		l.msgs[i].msg_hdr.msg_iov = &l.iovs[i];
		l.msgs[i].msg_hdr.msg_iovlen = 1;
		l.msgs[i].msg_hdr.msg_name = &l.froms[i];
	}
	l.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (l.epoll_fd < 0) {
		fprintf(stderr, "tftpload: epoll_create1: %s\n", strerror(errno));
		return 2;
	}
	r = run(&l);
	report(&l, cpu_seconds());
	if (r < 0)
		return 2;
	return l.st.failed || l.st.completed == 0 ? 1 : 0;
}
