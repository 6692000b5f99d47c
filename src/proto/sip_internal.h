// SPDX-License-Identifier: MIT
/*
 * What the SIP server's files share (proto/sip.c, the PnP responder and the server;
 * sip_notify.c, the client transactions; sip_url.c, the provisioning URL): the server, its
 * transactions and exchanges, and the functions one file calls in another. Private to
 * proto/.
 */
#ifndef AUTOPROV_PROTO_SIP_INTERNAL_H
#define AUTOPROV_PROTO_SIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec/sip_parse.h"
#include "core/addr.h"
#include "core/mac.h"
#include "proto/sip.h"
#include "site/site.h"

#define TAG "sip"

#define SIP_MSG_MAX 8192 /* what we build: headers and a URL */

struct event;

/* ---- state ---- */

enum tx_state {
	TX_TRYING,     /* sent; Timer E doubles from T1 */
	TX_PROCEEDING, /* a provisional response came; Timer E at T2 */
	TX__MAX,
};

struct client_tx {
	struct sip_server *srv;
	struct client_tx *prev, *next;
	enum tx_state state;
	struct event *timer;
	unsigned interval_ms, elapsed_ms;
	struct addr to;
	char branch[40];
	/* what the request is rebuilt from after a challenge */
	char *uri, *from, *to_hdr, *call_id, *event, *extra, *content_type, *body;
	char *user, *password;
	uint32_t cseq;
	bool authenticated;
	char *msg; /* the datagram as sent (retransmissions) */
	size_t msg_len;
	/* whether a retransmission of len bytes may go (NULL: always); a response confirms */
	bool (*may_resend)(void *arg, size_t len);
	bool confirmed; /* the peer answered something */
	void (*done)(void *arg, const struct sip_notify_result *res);
	void *arg;
};

enum pnp_state {
	PNP_NOTIFYING, /* 200 sent, NOTIFY in flight */
	PNP_DONE,      /* NOTIFY answered or given up; kept to absorb repeats */
	PNP__MAX,
};

struct pnp {
	struct sip_server *srv;
	struct pnp *prev, *next;
	enum pnp_state state;
	struct event *expiry;
	struct addr peer;
	char mac[MAC_LEN + 1]; /* "" when none was found */
	char call_id[256];
	char to_tag[24];
	char branch[128]; /* of the last SUBSCRIBE answered */
	uint32_t cseq;
	char *ok; /* the last 200 sent */
	size_t ok_len;
	struct client_tx *notify;
	char notify_uri[256];
	uint64_t rx_bytes, tx_bytes; /* from and to the peer: the reflection budget */
};

/* SUBSCRIBEs refused since the last log line about them */
struct flood_count {
	uint64_t last_log_ms;
	unsigned per_source, busy;
	char last_peer[ADDR_STRLEN];
};

struct sip_server {
	struct event_base *base;
	struct site *site;
	struct sip_config cfg;
	int fd, mfd;
	struct event *ev, *mev;
	struct addr local;
	uint16_t port;
	struct client_tx *txs;
	size_t ntx;
	struct pnp *pnps;
	size_t npnp;
	struct flood_count flood;
	struct event *flood_timer; /* the line of the counts after the last one */
	char *rbuf;		   /* one datagram */
};

/* ---- sip.c ---- */

/* Random lower-case hex, n digits (n even), NUL-terminated. */
void sip_random_hex(char *out, size_t n);
/* One datagram to `to` from the SIP socket (a failure is logged). */
void sip_send_to(struct sip_server *srv, const struct sockaddr *to, socklen_t tolen,
		 const void *msg, size_t len);
/* 0.0.0.0 or :: */
bool sip_is_wildcard(const struct sockaddr_storage *ss);
/*
 * "host:port" of this server as the peer reaches it (the address a wildcard listener sends
 * from towards peer) into out, and the host alone into host (NULL: not wanted).
 */
void sip_local_hostport(struct sip_server *srv, const struct sockaddr *peer, char *out,
			size_t outsz, char *host, size_t hostsz);

/* ---- sip_notify.c: client transactions ---- */

/* Frees a transaction (its timer, its copies; accepts NULL); unlink it first. */
void sip_tx_free(struct client_tx *tx);
/* Takes a transaction off the server's list. */
void sip_tx_unlink(struct client_tx *tx);
/* Starts a NOTIFY transaction from its parts (copied). */
int sip_tx_start(struct sip_server *srv, const struct addr *to, const char *uri, const char *from,
		 const char *to_hdr, const char *call_id, const char *event, const char *extra,
		 const char *content_type, const char *body, const char *user, const char *password,
		 void (*done)(void *, const struct sip_notify_result *), void *arg,
		 struct client_tx **ret);
/* A response: to the transaction its branch names, or dropped. */
void sip_on_response(struct sip_server *srv, const struct sip_msg *m);

/* ---- sip_url.c: the provisioning URL ---- */

/*
 * "tftp://10.0.0.1/", "tftp://10.0.0.1:6969/", "tftp://[2001:db8::1]/": this daemon's TFTP
 * listener as the phone reaches it, its port written when it is not 69. A listener on a
 * wildcard address is reached where the phone reached SIP (server_host).
 */
void sip_tftp_url(const struct sip_server *srv, const char *server_host, char *buf, size_t size);
/* The provisioning URL for this SUBSCRIBE into *ret (malloc'd). 0 or -errno (logged). */
int sip_render_url(struct sip_server *srv, const char *mac, const char *event_params,
		   const char *server_host, const struct sockaddr *peer, char **ret);

#endif
