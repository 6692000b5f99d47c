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

struct event_base;
struct site;

struct tftp_config {
	bool enabled;
	struct addr listen;
	char prefix[128]; /* normalised: no leading or trailing '/' */
	unsigned max_blksize;
	unsigned max_windowsize;
	unsigned timeout_ms; /* when the client asks for no timeout */
	unsigned retries;
	unsigned max_transfers;
	unsigned max_transfers_per_peer;
};

void tftp_config_default(struct tftp_config *cfg);

struct tftp_server;

/* Binds the listener. 0, or a negative errno with the reason in err. */
int tftp_server_new(struct event_base *base, struct site *site, const struct tftp_config *cfg,
		    struct tftp_server **ret, char *err, size_t errsz);
/* Drops every transfer in flight and closes the listener. */
void tftp_server_free(struct tftp_server *srv);
/* New limits and timers for transfers that start from now on (the address stays). */
void tftp_server_set_config(struct tftp_server *srv, const struct tftp_config *cfg);
uint16_t tftp_server_port(const struct tftp_server *srv);

#endif
