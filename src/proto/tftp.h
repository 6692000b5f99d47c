// SPDX-License-Identifier: MIT
/*
 * The TFTP server: one listening socket on the loop; each read request becomes a transfer
 * with its own ephemeral socket and one retransmission timer, serving a snapshot from
 * the site's resolver.
 */
#ifndef AUTOPROV_PROTO_TFTP_H
#define AUTOPROV_PROTO_TFTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "proto/tftp_parse.h"
#include "site/exchange.h"

struct event_base;
struct site;

/* Files a route or a name bound to one device ([tftp] device_files). */
enum tftp_device_files {
	TFTP_DEVICE_FILES_ALLOW, /* served like any other file */
	TFTP_DEVICE_FILES_DENY,	 /* refused: only for protocols with logins or certificates */
};

struct tftp_config {
	bool enabled; /* off unless [tftp] listen or --tftp names an address */
	struct addr listen;
	char prefix[128]; /* normalised: no leading or trailing '/' */
	unsigned max_blksize;
	unsigned max_windowsize;
	unsigned timeout_ms;	/* when the client asks for no timeout */
	unsigned max_timeout_s; /* a larger requested timeout is not acknowledged */
	unsigned retries;
	unsigned max_transfers;
	unsigned max_transfers_per_peer;
	unsigned max_transfers_per_prefix; /* 0: max_transfers / 4, at least per peer */
	unsigned prefix_v4, prefix_v6;	   /* bits of a peer's prefix (/24, /64) */
	enum tftp_device_files device_files;
};

void tftp_config_default(struct tftp_config *cfg);
/* "allow" / "deny": 0, or -EINVAL. */
int tftp_parse_device_files(const char *s, enum tftp_device_files *ret);
/* The cap of concurrent transfers from one prefix that cfg gives. */
unsigned tftp_config_prefix_cap(const struct tftp_config *cfg);

struct tftp_server;

/* Binds the listener. 0, or a negative errno with the reason in err. */
int tftp_server_new(struct event_base *base, struct site *site, const struct tftp_config *cfg,
		    struct tftp_server **ret, char *err, size_t errsz);
/* Drops every transfer in flight and closes the listener. */
void tftp_server_free(struct tftp_server *srv);
/* New limits and timers for transfers that start from now on (the address stays). */
void tftp_server_set_config(struct tftp_server *srv, const struct tftp_config *cfg);
/*
 * Another worker's server on the same port (docs/architecture.md, "Threads"): srv counts
 * its transfers in first's tables, so max_transfers and the limits per address and
 * network hold across workers. Before srv's loop runs; first is freed last.
 */
void tftp_server_share(struct tftp_server *srv, struct tftp_server *first);
uint16_t tftp_server_port(const struct tftp_server *srv);

/*
 * The wire answer of an outcome (docs/tftp.md, "Outcomes"): an ERROR packet's message, with
 * its code in *ret_code. Every outcome has one; NULL only for a value out of range.
 */
const char *tftp_outcome_answer(enum outcome o, enum tftp_error *ret_code);

#endif
