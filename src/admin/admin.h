// SPDX-License-Identifier: MIT
/*
 * The admin listener (docs/admin.md): the operator's HTTP(S) API, /metrics, and what later
 * serves the dashboard, on its own address, never on the devices' ports, and on its own
 * thread with its own event loop and its own connection to the site's database, so no
 * administrator's request ever delays a device's. Requests carry a bearer token
 * (`autoprov token`); read tokens may GET, write tokens may change things.
 *
 * The admin side reads and writes the inventory as the command-line tools do: changes go
 * to the database, and the serving loop sees them through the store's change log. The
 * only thing it shares with the loop is the site's counters (relaxed atomics:
 * site/metrics.h), which /metrics reads.
 */
#ifndef AUTOPROV_ADMIN_ADMIN_H
#define AUTOPROV_ADMIN_ADMIN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

struct site;
struct site_options;

struct admin_config {
	bool enabled;
	struct addr listen;
	bool tls;	    /* HTTPS with the site's certificate ([https] certificate and key) */
	bool metrics_open;  /* /metrics without a token */
	uint64_t max_body;  /* bytes of a request body (a bulk import) */
	unsigned timeout_s; /* an idle or stalled connection */
};

void admin_config_default(struct admin_config *cfg);

/*
 * A devices' listener, for GET /devices/{mac}/files/{path}: what a device asking over proto
 * would get depends on the address it reached ({{server_url}}) and the prefix stripped.
 */
struct admin_local {
	const char *proto; /* "tftp", "http", "https", "ftp" */
	struct addr addr;  /* as bound (port included); a wildcard is answered for 127.0.0.1 */
	const char *prefix; /* normalised, "" for none */
};

#define ADMIN_MAX_LOCALS 4

/* What /api/v1/status tells about the daemon (strings owned by the caller, kept alive). */
struct admin_info {
	const char *version;
	const char *node;	/* [server] node: the host name by default */
	const char *listeners;	/* "tftp 127.0.0.1:69, http ..." */
	const char *site_dir;
	int64_t started;	/* CLOCK_REALTIME seconds of the daemon's start */
	struct site *serving;	/* the loop's site: only its counters are read from here */
	/* [tftp] prefix and [http] prefix at start, for the doctor (it renders files again) */
	const char *tftp_prefix, *http_prefix;
	struct admin_local locals[ADMIN_MAX_LOCALS];
	size_t nlocals;
};

struct admin_server;

/*
 * Binds the listener and opens the admin side's own site (DIR, opts) while the daemon may
 * still open anything; nothing runs until admin_server_start(). tls: the context for
 * [admin] tls (taken over: the caller's reference is kept, and this one freed with the
 * server), or NULL. 0 or a negative errno with err.
 */
int admin_server_new(const char *site_dir, const struct site_options *opts,
		     const struct admin_config *cfg, SSL_CTX *tls, const struct admin_info *info,
		     struct admin_server **ret, char *err, size_t errsz);
/* Starts the admin thread (after the privileges are dropped). 0 or a negative errno. */
int admin_server_start(struct admin_server *srv);
/* Stops the thread (requests in progress are cut) and frees. Accepts NULL. */
void admin_server_free(struct admin_server *srv);
uint16_t admin_server_port(const struct admin_server *srv);

#endif
