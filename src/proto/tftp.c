// SPDX-License-Identifier: MIT
/*
 * TFTP server (RFC 1350, 2347, 2348, 2349, 7440), read requests only.
 *
 * The listening socket takes requests in batches (recvmmsg). A request that resolves
 * becomes a transfer: an ephemeral socket bound to the address the request reached,
 * watched through the server's epoll set of transfer sockets, and a timer. DATA is sent from the
 * file's snapshot in memory, a window at a time (sendmmsg); the timer is the only thing that causes
 * a retransmission, so a duplicate ACK never does (the Sorcerer's Apprentice bug). Block numbers
 * are the low 16 bits of a 64-bit count, so they roll over 65535 -> 0.
 */
#include "proto/tftp.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/peers.h"
#include "net/listener.h"
#include "proto/tftp_parse.h"
#include "site/exchange.h"
#include "site/metrics.h"
#include "site/site.h"

#define TAG "tftp"

#define RECV_BATCH    16
#define RECV_BUF_SIZE 8192 /* larger requests are refused as malformed */
#define SEND_BATCH    64
/* UDP GSO: one send of at most 64 segments within one 64 KiB datagram */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES	 65000
#define NAME_LOG_MAX	 512
#define OPTIONS_LOG_MAX	 96
/*
 * Retransmissions of a transfer's first packet (OACK or DATA 1) before its peer has
 * answered once: a spoofed request makes us send at most 1 + this many packets.
 */
#define UNCONFIRMED_RETRIES 2

void tftp_config_default(struct tftp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* off until an address is configured: TFTP serves without any login */
	cfg->enabled = false;
	(void)addr_parse("0.0.0.0:69", &cfg->listen);
	cfg->max_blksize = TFTP_BLKSIZE_MAX;
	cfg->max_windowsize = 64;
	cfg->timeout_ms = 1000;
	cfg->max_timeout_s = 5;
	cfg->retries = 5;
	cfg->max_transfers = 4096;
	cfg->max_transfers_per_peer = 128;
	cfg->max_transfers_per_prefix = 0;
	cfg->prefix_v4 = 24;
	cfg->prefix_v6 = 64;
	cfg->device_files = TFTP_DEVICE_FILES_ALLOW;
}

int tftp_parse_device_files(const char *s, enum tftp_device_files *ret)
{
	if (strcmp(s, "allow") == 0)
		*ret = TFTP_DEVICE_FILES_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*ret = TFTP_DEVICE_FILES_DENY;
	else
		return -EINVAL;
	return 0;
}

unsigned tftp_config_prefix_cap(const struct tftp_config *cfg)
{
	unsigned quarter = cfg->max_transfers / 4;

	if (cfg->max_transfers_per_prefix)
		return cfg->max_transfers_per_prefix;
	/* never below what one address may have: a site whose devices share one NAT address */
	return quarter > cfg->max_transfers_per_peer ? quarter : cfg->max_transfers_per_peer;
}

enum transfer_state {
	TRANSFER_OACK, /* OACK sent; waiting for ACK 0 */
	TRANSFER_DATA, /* a window of DATA sent; waiting for its ACK */
	TRANSFER_DONE, /* ended and logged; about to be freed */
	_TRANSFER_STATE_MAX,
};

static const char *const transfer_state_names[_TRANSFER_STATE_MAX] = {
	[TRANSFER_OACK] = "oack",
	[TRANSFER_DATA] = "data",
	[TRANSFER_DONE] = "done",
};

struct transfer {
	struct tftp_server *srv;
	enum transfer_state state;
	int fd;
	struct event *ev_timer;
	struct addr peer;
	struct peer_count *peer_entry;
	struct peer_count *prefix_entry;
	uint32_t hash; /* of peer address and port */

	struct site_file *file;
	const uint8_t *data; /* the file, or its netascii form */
	uint64_t size;
	uint64_t nblocks; /* DATA packets: size / blksize + 1, the last one short */
	uint64_t acked;	  /* highest block acknowledged */
	uint64_t sent;	  /* highest block sent */
	bool gso;	  /* windows go out as one UDP GSO send */

	enum tftp_mode mode;
	struct tftp_params params;
	struct timeval timeout;
	const struct timeval *timeout_tv; /* a common timeout of the base when there is one */
	/* until the peer answers once: at most [tftp] timeout, whatever the client asked */
	struct timeval first_timeout;
	const struct timeval *first_timeout_tv;
	bool confirmed; /* the peer acknowledged something: it asked for this transfer */
	unsigned tries;
	struct timespec started;
	char *name;	       /* as requested, escaped for the log */
	char mac[MAC_LEN + 1]; /* the device, when the route bound its MAC */

	struct transfer *hnext;	      /* chain in the server's table by peer */
	struct transfer *prev, *next; /* all transfers */
};

struct tftp_server {
	struct event_base *base;
	struct site *site;
	struct tftp_config cfg;
	int fd;
	struct event *ev;
	struct addr local;
	bool local_wildcard;

	/*
	 * Transfer sockets are watched by an epoll set of our own, itself one event on the
	 * loop: closing a socket takes it out of the set, which saves an epoll_ctl per
	 * transfer over a libevent event of its own.
	 */
	int transfers_epoll;
	struct event *ev_transfers;
	struct transfer **by_fd; /* transfer of each socket, for the set's events */
	size_t by_fd_len;

	size_t nbuckets; /* power of two, for transfers_by_peer (peers has as many) */
	struct transfer **transfers_by_peer;
	struct peer_table peers;    /* transfers per address */
	struct peer_table prefixes; /* transfers per prefix (/24, /64) */
	struct transfer *transfers;
	unsigned ntransfers;

	/* receive batch for the listening socket */
	uint8_t (*rbuf)[RECV_BUF_SIZE];
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_storage names[RECV_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cmsg[RECV_BATCH];
};

static void transfer_free(struct transfer *t);

static void transfer_set_state(struct transfer *t, enum transfer_state state)
{
	if (log_level_current >= LOG_LEVEL_DEBUG) {
		char pa[ADDR_STRLEN];

		log_debug(TAG, "%s \"%s\" %s -> %s",
			  addr_format((struct sockaddr *)&t->peer.ss, pa, sizeof(pa)), t->name,
			  transfer_state_names[t->state], transfer_state_names[state]);
	}
	t->state = state;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* "blksize=1428 tsize=2048" for the options granted. */
static void format_options(const struct tftp_params *p, char *buf, size_t bufsz)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned opt = 0; opt < _TFTP_OPT_MAX; opt++) {
		unsigned long long v = 0;
		int n;

		if (!p->acked[opt])
			continue;
		switch ((enum tftp_option)opt) {
		case TFTP_OPT_BLKSIZE: v = p->blksize; break;
		case TFTP_OPT_TSIZE: v = p->tsize; break;
		case TFTP_OPT_TIMEOUT: v = p->timeout_s; break;
		case TFTP_OPT_WINDOWSIZE: v = p->windowsize; break;
		case _TFTP_OPT_MAX: break;
		}
		n = snprintf(buf + o, bufsz - o, ", %s=%llu", tftp_option_name(opt), v);
		if (n < 0 || (size_t)n >= bufsz - o)
			break;
		o += (size_t)n;
	}
}

/*
 * The wire answer of every outcome (docs/tftp.md): an ERROR packet's code and message.
 * Outcomes that end a transfer the peer stopped (timed out, aborted) have an entry too, never
 * sent. A caller may give a more precise message (the busy limits, a refused option).
 */
static const struct tftp_answer {
	enum tftp_error code;
	const char *msg;
} answers[_OUTCOME_MAX] = {
	[OUTCOME_SENT] = { TFTP_EUNDEF, "sent" },
	[OUTCOME_PARTIAL] = { TFTP_EUNDEF, "sent" },
	[OUTCOME_REDIRECTED] = { TFTP_EUNDEF, "sent" },
	[OUTCOME_NOT_MODIFIED] = { TFTP_EUNDEF, "not modified" },
	[OUTCOME_NOT_FOUND] = { TFTP_ENOTFOUND, "file not found" },
	[OUTCOME_DENIED] = { TFTP_EACCESS, "access violation" },
	[OUTCOME_REFUSED] = { TFTP_EACCESS, "access violation" },
	[OUTCOME_AUTH_REQUIRED] = { TFTP_EACCESS, "access violation" },
	[OUTCOME_AUTH_FAILED] = { TFTP_EACCESS, "access violation" },
	[OUTCOME_BLOCKED] = { TFTP_EUNDEF, "blocked" },
	[OUTCOME_TOO_LARGE] = { TFTP_EUNDEF, "file too large to serve" },
	[OUTCOME_BUSY] = { TFTP_EUNDEF, "server busy, retry later" },
	[OUTCOME_UNAVAILABLE] = { TFTP_EUNDEF, "try later" },
	[OUTCOME_BAD_REQUEST] = { TFTP_EBADOP, "malformed request" },
	[OUTCOME_NOT_IMPLEMENTED] = { TFTP_EOPTNEG, "option negotiation refused" },
	[OUTCOME_ERROR] = { TFTP_EUNDEF, "server error" },
	[OUTCOME_TIMED_OUT] = { TFTP_EUNDEF, "timed out" },
	[OUTCOME_ABORTED] = { TFTP_EUNDEF, "transfer aborted" },
	[OUTCOME_PNP_URL_SENT] = { TFTP_EUNDEF, "server error" },
	[OUTCOME_NOTIFY_ANSWERED] = { TFTP_EUNDEF, "server error" },
	[OUTCOME_NOTIFY_TIMEOUT] = { TFTP_EUNDEF, "server error" },
	[OUTCOME_SUBSCRIBE_REPEAT] = { TFTP_EUNDEF, "server error" },
	[OUTCOME_BAD_EVENT] = { TFTP_EBADOP, "malformed request" },
	[OUTCOME_SIP_BAD_REQUEST] = { TFTP_EBADOP, "malformed request" },
	[OUTCOME_NOT_ALLOWED] = { TFTP_EBADOP, "illegal TFTP operation" },
	[OUTCOME_IGNORED_NO_MAC] = { TFTP_ENOTFOUND, "file not found" },
	[OUTCOME_IGNORED_UNKNOWN] = { TFTP_ENOTFOUND, "file not found" },
	[OUTCOME_IGNORED_OUI] = { TFTP_ENOTFOUND, "file not found" },
};

const char *tftp_outcome_answer(enum outcome o, enum tftp_error *ret_code)
{
	if ((unsigned)o >= _OUTCOME_MAX || !answers[o].msg)
		return NULL;
	*ret_code = answers[o].code;
	return answers[o].msg;
}

/* The protocol's part of the log line: ", 12 ms, octet, blksize=1428". */
static void log_tail(char *buf, size_t bufsz, long ms, enum tftp_mode mode,
		     const struct tftp_params *p)
{
	char opts[OPTIONS_LOG_MAX] = "";

	if (p)
		format_options(p, opts, sizeof(opts));
	snprintf(buf, bufsz, ", %ld ms, %s%s", ms,
		 mode == TFTP_MODE_NETASCII ? "netascii" : "octet", opts);
}

static void send_error(int fd, const struct sockaddr *to, socklen_t tolen, enum tftp_error code,
		       const char *msg)
{
	uint8_t pkt[256];
	size_t n = tftp_build_error(pkt, sizeof(pkt), code, msg);

	/* Best effort: an error that cannot be sent changes nothing for us. */
	(void)sendto(fd, pkt, n, MSG_DONTWAIT, to, tolen);
}

/* Ends a transfer with its log line and journal row (exchange_close), and frees it. */
static void transfer_end(struct transfer *t, enum outcome o, const char *detail)
{
	uint64_t bytes = t->acked * t->params.blksize;
	char tail[OPTIONS_LOG_MAX + 48];
	struct exchange x;

	if (bytes > t->size)
		bytes = t->size;
	transfer_set_state(t, TRANSFER_DONE);
	exchange_begin(&x, t->srv->site, "tftp", (struct sockaddr *)&t->peer.ss, NULL, t->name);
	memcpy(x.req.mac, t->mac, sizeof(x.req.mac));
	x.started = t->started;
	x.detail = detail;
	log_tail(tail, sizeof(tail), elapsed_ms(&t->started), t->mode, &t->params);
	exchange_close(&x, o, NULL, bytes, o == OUTCOME_SENT ? site_file_md5(t->file) : NULL, tail);
	transfer_free(t);
}

static void arm_timer(struct transfer *t)
{
	evtimer_add(t->ev_timer, t->confirmed ? t->timeout_tv : t->first_timeout_tv);
}

static int send_oack(struct transfer *t)
{
	uint8_t pkt[512];
	size_t n = tftp_build_oack(pkt, sizeof(pkt), &t->params);

	if (sendto(t->fd, pkt, n, 0, (struct sockaddr *)&t->peer.ss, t->peer.len) < 0 &&
	    errno != EAGAIN)
		return -errno;
	arm_timer(t);
	return 0;
}

/* Blocks block..block+n-1 described as (header, payload) pairs in iov. */
static void data_iov(const struct transfer *t, uint64_t block, unsigned n, uint8_t (*hdr)[4],
		     struct iovec *iov)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = block + i;
		uint64_t off = (b - 1) * t->params.blksize;
		uint64_t len =
			t->size - off < t->params.blksize ? t->size - off : t->params.blksize;

		tftp_build_data_header(hdr[i], (uint16_t)b);
		iov[2 * i] = (struct iovec){ hdr[i], 4 };
		iov[2 * i + 1] = (struct iovec){ (void *)(t->data + off), (size_t)len };
	}
}

/*
 * Sends n blocks as one UDP GSO datagram the kernel cuts into DATA packets of
 * 4 + blksize bytes (the last one may be shorter): one system call for a window.
 * Returns n or a negative errno.
 */
static int send_gso(struct transfer *t, uint64_t block, unsigned n)
{
	struct iovec iov[2 * GSO_MAX_SEGMENTS];
	uint8_t hdr[GSO_MAX_SEGMENTS][4];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {
		.msg_name = &t->peer.ss,
		.msg_namelen = t->peer.len,
		.msg_iov = iov,
		.msg_iovlen = 2 * n,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	uint16_t segment = (uint16_t)(4 + t->params.blksize);

	data_iov(t, block, n, hdr, iov);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(segment));
	memcpy(CMSG_DATA(c), &segment, sizeof(segment));
	if (sendmsg(t->fd, &mh, 0) < 0)
		return -errno;
	return (int)n;
}

/* Sends up to n blocks with sendmmsg, one datagram each. Returns the number sent or -errno. */
static int send_each(struct transfer *t, uint64_t block, unsigned n)
{
	struct mmsghdr msgs[SEND_BATCH];
	struct iovec iov[2 * SEND_BATCH];
	uint8_t hdr[SEND_BATCH][4];
	int r;

	if (n > SEND_BATCH)
		n = SEND_BATCH;
	data_iov(t, block, n, hdr, iov);
	for (unsigned i = 0; i < n; i++)
		msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &t->peer.ss,
			.msg_namelen = t->peer.len,
			.msg_iov = &iov[2 * i],
			.msg_iovlen = 2,
		};
	r = sendmmsg(t->fd, msgs, n, 0);
	return r < 0 ? -errno : r;
}

/* Sends blocks from..from+windowsize-1 (as far as the file goes) and arms the timer. */
static int send_window(struct transfer *t, uint64_t from)
{
	uint64_t last = from + t->params.windowsize - 1;
	uint64_t block = from;
	unsigned gso_segments = GSO_MAX_BYTES / (4 + t->params.blksize);

	if (last > t->nblocks)
		last = t->nblocks;
	if (gso_segments > GSO_MAX_SEGMENTS)
		gso_segments = GSO_MAX_SEGMENTS;
	while (block <= last) {
		uint64_t left = last - block + 1;
		unsigned n = left > SEND_BATCH ? SEND_BATCH : (unsigned)left;
		int r;

		if (t->gso && n > 1 && gso_segments > 1) {
			r = send_gso(t, block, n < gso_segments ? n : gso_segments);
			if (r == -EINVAL || r == -EIO || r == -ENOPROTOOPT || r == -EOPNOTSUPP) {
				/* blocks larger than the path MTU, or no GSO here */
				t->gso = false;
				continue;
			}
		} else {
			r = send_each(t, block, n);
		}
		if (r < 0) {
			if (r != -EAGAIN && r != -ENOBUFS)
				return r;
			break; /* the timer resends what did not leave */
		}
		block += (unsigned)r;
	}
	if (block - 1 > t->sent)
		t->sent = block - 1;
	arm_timer(t);
	return 0;
}

static void transfer_on_ack(struct transfer *t, uint16_t num)
{
	uint64_t block;
	int r;

	if (t->state == TRANSFER_OACK) {
		if (num != 0)
			return;
		transfer_set_state(t, TRANSFER_DATA);
		t->confirmed = true;
		t->tries = 0;
		r = send_window(t, 1);
		if (r < 0) {
			errno = -r;
			transfer_end(t, OUTCOME_ERROR, strerror(-r));
		}
		return;
	}
	if (t->state != TRANSFER_DATA)
		return;

	/* The 64-bit block this 16-bit number stands for, counting from the last ACK. */
	block = t->acked + (uint16_t)(num - (uint16_t)t->acked);
	if (block == t->acked || block > t->sent)
		return; /* duplicate or stray: only the timer retransmits */
	t->acked = block;
	t->confirmed = true;
	t->tries = 0;
	if (block == t->nblocks) {
		transfer_end(t, OUTCOME_SENT, NULL);
		return;
	}
	/* A window acknowledged in full moves on; a partial ACK (RFC 7440) goes back to it. */
	r = send_window(t, block + 1);
	if (r < 0)
		transfer_end(t, OUTCOME_ERROR, strerror(-r));
}

/* Reads and handles one packet; false when none was waiting. t may be freed by it. */
static bool transfer_read_one(struct transfer *t)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint8_t pkt[1024];
	enum tftp_opcode op;
	uint16_t num;
	int fd = t->fd;
	ssize_t n;

	n = recvfrom(fd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
	if (n < 0)
		return false;
	if (!addr_same((struct sockaddr *)&from, (struct sockaddr *)&t->peer.ss)) {
		char pa[ADDR_STRLEN];

		log_debug(TAG, "%s: packet for \"%s\" from an unknown transfer ID",
			  addr_format((struct sockaddr *)&from, pa, sizeof(pa)), t->name);
		send_error(fd, (struct sockaddr *)&from, fromlen, TFTP_EBADID,
			   "unknown transfer ID");
		return true;
	}
	if (tftp_parse_header(pkt, (size_t)n, &op, &num) < 0)
		return true; /* too short to mean anything; the timer goes on */
	switch (op) {
	case TFTP_ACK: transfer_on_ack(t, num); break;
	case TFTP_ERROR: {
		char msg[200];
		size_t ml = strnlen((const char *)pkt + 4, (size_t)n - 4);

		log_escape(msg, sizeof(msg), pkt + 4, ml);
		transfer_end(t, OUTCOME_ABORTED, msg[0] ? msg : "error from the client");
		break;
	}
	default:
		send_error(fd, (struct sockaddr *)&t->peer.ss, t->peer.len, TFTP_EBADOP,
			   "illegal operation during a read transfer");
		transfer_end(t, OUTCOME_BAD_REQUEST, "illegal operation from the client");
		break;
	}
	return true;
}

/* Transfer sockets with packets waiting: one packet each (level-triggered, so more wake us again).
 */
static void transfers_on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_server *srv = arg;
	struct epoll_event evs[RECV_BATCH * 4];
	int n = epoll_wait(srv->transfers_epoll, evs, RECV_BATCH * 4, 0);

	for (int i = 0; i < n; i++) {
		int sfd = evs[i].data.fd;

		/*
		 * Looked up by descriptor, not by a pointer kept in the event: an earlier
		 * packet of this batch may have ended the transfer. A descriptor reused since
		 * by a new transfer just finds nothing to read.
		 */
		if ((size_t)sfd < srv->by_fd_len && srv->by_fd[sfd])
			(void)transfer_read_one(srv->by_fd[sfd]);
	}
}

/* Adds t's socket to the transfers' epoll set. */
static int transfer_watch(struct tftp_server *srv, struct transfer *t)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = t->fd };

	if ((size_t)t->fd >= srv->by_fd_len) {
		size_t len = srv->by_fd_len ? srv->by_fd_len : 1024;
		struct transfer **a;

		while (len <= (size_t)t->fd)
			len *= 2;
		a = realloc(srv->by_fd, len * sizeof(*a));
		if (!a)
			return -ENOMEM;
		memset(a + srv->by_fd_len, 0, (len - srv->by_fd_len) * sizeof(*a));
		srv->by_fd = a;
		srv->by_fd_len = len;
	}
	if (epoll_ctl(srv->transfers_epoll, EPOLL_CTL_ADD, t->fd, &ev) < 0)
		return -errno;
	srv->by_fd[t->fd] = t;
	return 0;
}

static void transfer_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct transfer *t = arg;
	unsigned retries = t->srv->cfg.retries;
	int r;

	/*
	 * A peer that never answered may not have asked (a spoofed source): its first packet
	 * goes out at most 1 + UNCONFIRMED_RETRIES times, at the server's own interval.
	 */
	if (!t->confirmed && retries > UNCONFIRMED_RETRIES)
		retries = UNCONFIRMED_RETRIES;
	if (++t->tries > retries) {
		transfer_end(t, OUTCOME_TIMED_OUT,
			     t->confirmed ? NULL : "no answer to the first packet");
		return;
	}
	if (t->state == TRANSFER_OACK)
		r = send_oack(t);
	else
		r = send_window(t, t->acked + 1);
	if (r < 0)
		transfer_end(t, OUTCOME_ERROR, strerror(-r));
}

static void transfer_free(struct transfer *t)
{
	struct tftp_server *srv;

	if (!t)
		return;
	srv = t->srv;
	/* Events go before the socket and the memory they point to. */
	if (t->ev_timer)
		event_free(t->ev_timer);
	if (t->fd >= 0) {
		if ((size_t)t->fd < srv->by_fd_len && srv->by_fd[t->fd] == t)
			srv->by_fd[t->fd] = NULL;
		close(t->fd); /* also leaves the epoll set */
	}
	if (t->prev || srv->transfers == t) {
		struct transfer **pp = &srv->transfers_by_peer[t->hash & (srv->nbuckets - 1)];

		for (; *pp; pp = &(*pp)->hnext)
			if (*pp == t) {
				*pp = t->hnext;
				break;
			}
		if (t->prev)
			t->prev->next = t->next;
		else
			srv->transfers = t->next;
		if (t->next)
			t->next->prev = t->prev;
		srv->ntransfers--;
		metrics_sub(&site_metrics(srv->site)->transfers[METRICS_TFTP], 1);
	}
	peer_table_release(&srv->peers, t->peer_entry);
	peer_table_release(&srv->prefixes, t->prefix_entry);
	site_file_unref(t->file);
	free(t->name);
	free(t);
}

/* t's peer's prefix, as the prefix table counts it. */
static void transfer_prefix(const struct tftp_server *srv, const struct sockaddr *pa,
			    struct sockaddr_storage *ret)
{
	(void)addr_prefix_mask(pa, srv->cfg.prefix_v4, srv->cfg.prefix_v6, ret);
}

/* Registers t in the server's tables and takes a per-peer and a per-prefix slot. */
static int transfer_register(struct tftp_server *srv, struct transfer *t)
{
	struct sockaddr_storage prefix;
	int r = peer_table_take(&srv->peers, (struct sockaddr *)&t->peer.ss,
				srv->cfg.max_transfers_per_peer, &t->peer_entry);

	if (r < 0)
		return r;
	transfer_prefix(srv, (struct sockaddr *)&t->peer.ss, &prefix);
	r = peer_table_take(&srv->prefixes, (struct sockaddr *)&prefix,
			    tftp_config_prefix_cap(&srv->cfg), &t->prefix_entry);
	if (r < 0)
		return r; /* transfer_free() gives the peer's slot back */
	t->hnext = srv->transfers_by_peer[t->hash & (srv->nbuckets - 1)];
	srv->transfers_by_peer[t->hash & (srv->nbuckets - 1)] = t;
	t->next = srv->transfers;
	if (srv->transfers)
		srv->transfers->prev = t;
	srv->transfers = t;
	srv->ntransfers++;
	metrics_add(&site_metrics(srv->site)->transfers[METRICS_TFTP], 1);
	return 0;
}

static struct transfer *transfer_find(struct tftp_server *srv, const struct sockaddr *sa,
				      uint32_t hash)
{
	struct transfer *t = srv->transfers_by_peer[hash & (srv->nbuckets - 1)];

	for (; t; t = t->hnext)
		if (t->hash == hash && addr_same((struct sockaddr *)&t->peer.ss, sa))
			return t;
	return NULL;
}

/*
 * A request from the address and port of a transfer in flight. Packets already waiting
 * for that transfer go first: its final ACK may be among them, as a client that reuses
 * a port for its next request sends the two back to back. A transfer the client has
 * acknowledged data of is then over for the client, and gives way (true); one still
 * waiting for its first ACK means this request is a repeat of its own (false).
 */
static bool transfer_supersede(struct tftp_server *srv, const struct sockaddr *pa, uint32_t hash)
{
	struct transfer *t;

	for (int i = 0; i < 8; i++) {
		t = transfer_find(srv, pa, hash);
		if (!t || !transfer_read_one(t))
			break;
	}
	t = transfer_find(srv, pa, hash);
	if (!t)
		return true;
	if (t->acked == 0)
		return false;
	transfer_end(t, OUTCOME_ABORTED, "the client sent a new request");
	return true;
}

/* A socket for the transfer, bound to the address the request was sent to. */
static int transfer_socket(struct tftp_server *srv, const struct sockaddr_storage *local,
			   socklen_t local_len, const struct transfer *t)
{
	struct sockaddr_storage bind_to = *local;
	size_t burst = (size_t)t->params.windowsize * (t->params.blksize + 64);
	int fd;

	if (bind_to.ss_family == AF_INET)
		((struct sockaddr_in *)&bind_to)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&bind_to)->sin6_port = 0;
	fd = socket(bind_to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&bind_to, local_len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	/* A whole window must fit in the send buffer, or its tail waits for a timeout. */
	if (burst > 200 * 1024) {
		int sz = burst > (8u << 20) ? (8 << 20) : (int)burst;

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	return fd;
}

/*
 * Answers x's request with the ERROR of outcome o (msg: a more precise message than the
 * table's, or NULL) and closes x: its log line (detail: x's, else the message) and journal row.
 */
static void refuse(struct tftp_server *srv, struct exchange *x, socklen_t peerlen, enum outcome o,
		   const char *msg, enum tftp_mode mode)
{
	enum tftp_error code = TFTP_EUNDEF;
	const char *text = tftp_outcome_answer(o, &code);
	char tail[64];

	if (msg)
		text = msg;
	send_error(srv->fd, x->req.peer, peerlen, code, text);
	if (!x->detail)
		x->detail = text;
	log_tail(tail, sizeof(tail), 0, mode, NULL);
	exchange_close(x, o, NULL, 0, NULL, tail);
}

static void handle_request(struct tftp_server *srv, const uint8_t *pkt, size_t len, bool truncated,
			   const struct addr *peer, const struct sockaddr_storage *local,
			   socklen_t local_len)
{
	const struct sockaddr *pa = (const struct sockaddr *)&peer->ss;
	struct tftp_limits limits = { srv->cfg.max_blksize, srv->cfg.max_windowsize,
				      srv->cfg.max_timeout_s };
	/* TFTP has no login: device files as device_files says */
	struct principal anyone = {
		.kind = PRINCIPAL_ANONYMOUS,
		.anonymous_device_files = srv->cfg.device_files != TFTP_DEVICE_FILES_DENY,
	};
	struct sockaddr_storage prefix;
	char name[NAME_LOG_MAX];
	struct tftp_request req;
	struct exchange x;
	struct transfer *t = NULL;
	struct site_file *file = NULL;
	enum outcome o;
	const char *why = NULL;
	uint32_t hash;
	int r;

	r = truncated ? -EBADMSG : tftp_parse_request(pkt, len, &req, &why);
	if (r < 0) {
		if (truncated)
			why = "malformed request: too large";
		if (r == -EPROTO && len >= 2 && pkt[0] == 0 &&
		    (pkt[1] == TFTP_DATA || pkt[1] == TFTP_ACK || pkt[1] == TFTP_ERROR)) {
			/* A late packet of a finished transfer: answering could loop. */
			return;
		}
		exchange_begin(&x, srv->site, "tftp", pa, (const struct sockaddr *)local, "");
		refuse(srv, &x, peer->len, OUTCOME_BAD_REQUEST, why, TFTP_MODE_OCTET);
		return;
	}
	log_escape(name, sizeof(name), req.filename, req.filename_len);
	exchange_begin(&x, srv->site, "tftp", pa, (const struct sockaddr *)local, name);
	if (req.opcode == TFTP_WRQ) {
		refuse(srv, &x, peer->len, OUTCOME_DENIED, "write requests are not accepted",
		       req.mode);
		return;
	}

	x.blocked_for = site_blocked(srv->site, pa);
	if (x.blocked_for > 0) {
		/* the block was logged and journaled once when it started: a debug line */
		refuse(srv, &x, peer->len, OUTCOME_BLOCKED, NULL, req.mode);
		return;
	}
	hash = addr_hash(pa, true);
	if (transfer_find(srv, pa, hash) && !transfer_supersede(srv, pa, hash)) {
		/* The client repeated its request: the transfer's own timer answers it. */
		log_debug(TAG, "duplicate request for \"%s\" ignored", name);
		return;
	}
	/* every worker's transfers (tftp_server_share) */
	if (peer_table_total(&srv->peers) >= srv->cfg.max_transfers) {
		refuse(srv, &x, peer->len, OUTCOME_BUSY,
		       "server busy: too many transfers, retry later", req.mode);
		return;
	}
	if (peer_table_count(&srv->peers, pa) >= srv->cfg.max_transfers_per_peer) {
		refuse(srv, &x, peer->len, OUTCOME_BUSY,
		       "server busy: too many transfers from your address, retry later", req.mode);
		return;
	}
	transfer_prefix(srv, pa, &prefix);
	if (peer_table_count(&srv->prefixes, (struct sockaddr *)&prefix) >=
	    tftp_config_prefix_cap(&srv->cfg)) {
		refuse(srv, &x, peer->len, OUTCOME_BUSY,
		       "server busy: too many transfers from your network, retry later", req.mode);
		return;
	}

	o = exchange_open(&x, srv->cfg.prefix, req.filename, req.filename_len, &anyone);
	if (o != OUTCOME_SENT) {
		refuse(srv, &x, peer->len, o, NULL, req.mode);
		return;
	}
	file = x.file;
	x.file = NULL; /* the transfer's now */

	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	t->srv = srv;
	t->fd = -1;
	t->peer = *peer;
	t->hash = hash;
	t->gso = true;
	t->file = file;
	t->mode = req.mode;
	memcpy(t->mac, x.req.mac, sizeof(t->mac));
	t->name = strdup(name);
	clock_gettime(CLOCK_MONOTONIC, &t->started);
	if (!t->name)
		goto fail;
	if (req.mode == TFTP_MODE_NETASCII) {
		size_t sz;

		t->data = site_file_netascii(file, &sz);
		t->size = sz;
		if (!t->data)
			goto fail;
	} else {
		t->data = file->data;
		t->size = file->size;
	}
	r = tftp_negotiate(&req, &limits, t->size, &t->params, &why);
	if (r < 0) {
		refuse(srv, &x, peer->len, OUTCOME_NOT_IMPLEMENTED, why, req.mode);
		transfer_free(t);
		return;
	}
	t->nblocks = t->size / t->params.blksize + 1;

	t->timeout.tv_sec = t->params.timeout_s ? t->params.timeout_s : srv->cfg.timeout_ms / 1000;
	t->timeout.tv_usec = t->params.timeout_s ? 0 : (srv->cfg.timeout_ms % 1000) * 1000;
	t->timeout_tv = event_base_init_common_timeout(srv->base, &t->timeout);
	if (!t->timeout_tv)
		t->timeout_tv = &t->timeout;
	t->first_timeout =
		(struct timeval){ srv->cfg.timeout_ms / 1000, (srv->cfg.timeout_ms % 1000) * 1000 };
	if (evutil_timercmp(&t->timeout, &t->first_timeout, <))
		t->first_timeout = t->timeout;
	t->first_timeout_tv = event_base_init_common_timeout(srv->base, &t->first_timeout);
	if (!t->first_timeout_tv)
		t->first_timeout_tv = &t->first_timeout;

	r = transfer_socket(srv, local, local_len, t);
	if (r < 0) {
		errno = -r;
		log_warn(TAG, "transfer socket");
		goto fail;
	}
	t->fd = r;
	t->ev_timer = evtimer_new(srv->base, transfer_on_timeout, t);
	if (!t->ev_timer || transfer_watch(srv, t) < 0)
		goto fail;
	if (transfer_register(srv, t) < 0)
		goto fail;

	if (t->params.any) {
		t->state = TRANSFER_OACK;
		r = send_oack(t);
	} else {
		t->state = TRANSFER_DATA;
		r = send_window(t, 1);
	}
	if (r < 0)
		transfer_end(t, OUTCOME_ERROR, strerror(-r));
	return;

fail:
	x.detail = "out of resources";
	refuse(srv, &x, peer->len, OUTCOME_ERROR, "server error, retry later", req.mode);
	if (t)
		transfer_free(t);
	else
		site_file_unref(file);
}

/* The local address a request arrived at, from IP_PKTINFO / IPV6_PKTINFO. */
static void request_local(struct tftp_server *srv, struct msghdr *mh, struct sockaddr_storage *ret,
			  socklen_t *ret_len)
{
	*ret = srv->local.ss;
	*ret_len = srv->local.len;
	if (!srv->local_wildcard)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    ret->ss_family == AF_INET) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)ret)->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   ret->ss_family == AF_INET6) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in6 *)ret)->sin6_addr = pi.ipi6_addr;
		}
	}
}

static void tftp_on_request(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_server *srv = arg;
	int n;

	for (unsigned i = 0; i < RECV_BATCH; i++) {
		srv->iov[i] = (struct iovec){ srv->rbuf[i], RECV_BUF_SIZE };
		srv->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &srv->names[i],
			.msg_namelen = sizeof(srv->names[i]),
			.msg_iov = &srv->iov[i],
			.msg_iovlen = 1,
			.msg_control = srv->cmsg[i].buf,
			.msg_controllen = sizeof(srv->cmsg[i].buf),
		};
	}
	n = recvmmsg(fd, srv->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &srv->msgs[i].msg_hdr;
		struct sockaddr_storage local;
		socklen_t local_len;
		struct addr peer;

		peer.ss = srv->names[i];
		peer.len = mh->msg_namelen;
		if (peer.ss.ss_family != AF_INET && peer.ss.ss_family != AF_INET6)
			continue;
		request_local(srv, mh, &local, &local_len);
		handle_request(srv, srv->rbuf[i], srv->msgs[i].msg_len,
			       (mh->msg_flags & MSG_TRUNC) != 0, &peer, &local, local_len);
	}
}

static bool is_wildcard(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr, &in6addr_any,
		      sizeof(struct in6_addr)) == 0;
}

int tftp_server_new(struct event_base *base, struct site *site, const struct tftp_config *cfg,
		    struct tftp_server **ret, char *err, size_t errsz)
{
	struct tftp_server *srv;
	char la[ADDR_STRLEN];
	int one = 1, rcvbuf = 1 << 20, r;

	addr_format((const struct sockaddr *)&cfg->listen.ss, la, sizeof(la));
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->fd = -1;
	srv->transfers_epoll = -1;
	srv->base = base;
	srv->site = site;
	srv->cfg = *cfg;
	srv->nbuckets = 256;
	while (srv->nbuckets < cfg->max_transfers && srv->nbuckets < (1u << 16))
		srv->nbuckets <<= 1;
	srv->transfers_by_peer = calloc(srv->nbuckets, sizeof(*srv->transfers_by_peer));
	srv->rbuf = malloc(sizeof(*srv->rbuf) * RECV_BATCH);
	if (!srv->transfers_by_peer || peer_table_init(&srv->peers, srv->nbuckets) < 0 ||
	    peer_table_init(&srv->prefixes, srv->nbuckets) < 0 || !srv->rbuf) {
		r = -ENOMEM;
		goto fail;
	}

	srv->fd = socket(cfg->listen.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0) {
		r = -errno;
		snprintf(err, errsz, "tftp: socket for %s: %s", la, strerror(errno));
		goto fail;
	}
	(void)setsockopt(srv->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (cfg->listen.ss.ss_family == AF_INET)
		(void)setsockopt(srv->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else
		(void)setsockopt(srv->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	if (net_reuseport(srv->fd) < 0 ||
	    bind(srv->fd, (const struct sockaddr *)&cfg->listen.ss, cfg->listen.len) < 0) {
		r = -errno;
		snprintf(err, errsz, "tftp: cannot listen on %s: %s", la, strerror(errno));
		goto fail;
	}
	srv->local.len = sizeof(srv->local.ss);
	if (getsockname(srv->fd, (struct sockaddr *)&srv->local.ss, &srv->local.len) < 0) {
		r = -errno;
		snprintf(err, errsz, "tftp: getsockname: %s", strerror(errno));
		goto fail;
	}
	srv->local_wildcard = is_wildcard(&srv->local);
	log_info(TAG, "listening on %s",
		 addr_format((struct sockaddr *)&srv->local.ss, la, sizeof(la)));
	srv->transfers_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (srv->transfers_epoll < 0) {
		r = -errno;
		snprintf(err, errsz, "tftp: epoll: %s", strerror(errno));
		goto fail;
	}
	srv->ev_transfers = event_new(base, srv->transfers_epoll, EV_READ | EV_PERSIST,
				      transfers_on_ready, srv);
	if (!srv->ev_transfers || event_add(srv->ev_transfers, NULL) < 0) {
		r = -ENOMEM;
		snprintf(err, errsz, "tftp: cannot watch transfers");
		goto fail;
	}
	srv->ev = event_new(base, srv->fd, EV_READ | EV_PERSIST, tftp_on_request, srv);
	if (!srv->ev || event_add(srv->ev, NULL) < 0) {
		r = -ENOMEM;
		snprintf(err, errsz, "tftp: cannot watch the listener");
		goto fail;
	}
	*ret = srv;
	return 0;
fail:
	tftp_server_free(srv);
	return r;
}

void tftp_server_free(struct tftp_server *srv)
{
	if (!srv)
		return;
	while (srv->transfers)
		transfer_free(srv->transfers);
	if (srv->ev)
		event_free(srv->ev);
	if (srv->fd >= 0)
		close(srv->fd);
	if (srv->ev_transfers)
		event_free(srv->ev_transfers);
	if (srv->transfers_epoll >= 0)
		close(srv->transfers_epoll);
	free(srv->by_fd);
	free(srv->transfers_by_peer);
	peer_table_destroy(&srv->peers);
	peer_table_destroy(&srv->prefixes);
	free(srv->rbuf);
	free(srv);
}

void tftp_server_set_config(struct tftp_server *srv, const struct tftp_config *cfg)
{
	struct addr listen = srv->cfg.listen;

	srv->cfg = *cfg;
	srv->cfg.listen = listen;
}

uint16_t tftp_server_port(const struct tftp_server *srv)
{
	return addr_port((const struct sockaddr *)&srv->local.ss);
}

void tftp_server_share(struct tftp_server *srv, struct tftp_server *first)
{
	peer_table_share(&srv->peers, &first->peers);
	peer_table_share(&srv->prefixes, &first->prefixes);
}
