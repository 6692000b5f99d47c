// SPDX-License-Identifier: MIT
/*
 * The HTTP/1.1 server (libevent's evhttp): GET and HEAD of the site's files through the
 * same resolver as TFTP, with the caching headers devices polling every hour need.
 */
#ifndef AUTOPROV_PROTO_HTTP_H
#define AUTOPROV_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

struct event_base;
struct site;

struct http_config {
	bool enabled;
	struct addr listen;
	char prefix[128];	  /* normalised: no leading or trailing '/' */
	unsigned timeout_s;	  /* idle and header timeout */
	unsigned max_header_size; /* bytes of request line and headers */
};

void http_config_default(struct http_config *cfg);

struct http_server;

/* Binds the listener. 0, or a negative errno with the reason in err. */
int http_server_new(struct event_base *base, struct site *site, const struct http_config *cfg,
		    struct http_server **ret, char *err, size_t errsz);
/* Closes the listener and every connection. */
void http_server_free(struct http_server *srv);
/* New prefix and limits (the address stays). */
void http_server_set_config(struct http_server *srv, const struct http_config *cfg);
uint16_t http_server_port(const struct http_server *srv);

#endif
