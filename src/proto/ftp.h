// SPDX-License-Identifier: MIT
/*
 * The read-only FTP server (RFC 959, 2389, 2428, 3659 subset): control connections and
 * their data connections on the libevent loop, logins of site users and devices (and
 * anonymous ones when allowed), files from the site's resolver as snapshots, listings
 * of the site, and limits on sessions, command lines, idle time and passive listeners.
 */
#ifndef AUTOPROV_PROTO_FTP_H
#define AUTOPROV_PROTO_FTP_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "site/exchange.h"

struct event_base;
struct site;

enum ftp_tls_mode {
	FTP_TLS_OFF,	  /* AUTH TLS refused */
	FTP_TLS_ON,	  /* explicit FTPS offered (AUTH TLS, PBSZ 0, PROT P / C) */
	FTP_TLS_REQUIRED, /* and no login, nor transfer, without it */
};

struct ftp_config {
	bool enabled;
	struct addr listen;
	uint16_t passive_min, passive_max; /* PASV / EPSV ports; 0-0: any the kernel picks */
	bool has_passive_address;
	struct in_addr passive_address; /* PASV's advertised address (NAT), else the local one */
	bool active;			/* PORT and EPRT (to the control peer's address only) */
	bool anonymous;			/* "anonymous" / "ftp" with any password: generic files */
	unsigned max_sessions;
	unsigned max_sessions_per_peer;
	unsigned max_sessions_per_prefix; /* per /24 or /64: the oldest not logged in goes, or 421 */
	unsigned max_command_length; /* bytes of a command line, CR LF excluded */
	unsigned max_login_failures; /* in one session, then it is closed */
	unsigned login_timeout_s;    /* from connection to a successful login */
	unsigned idle_timeout_s;     /* between commands once logged in */
	unsigned data_timeout_s;     /* a data connection not made, not used, or stalled */
	enum ftp_tls_mode tls;	     /* with the certificate of [https] */
};

void ftp_config_default(struct ftp_config *cfg);
/* "50000-50100", one port "50000", or "0" (any). 0 or -EINVAL. */
int ftp_parse_passive_ports(const char *value, uint16_t *ret_min, uint16_t *ret_max);
/* off, on, required. 0 or -EINVAL. */
int ftp_parse_tls_mode(const char *value, enum ftp_tls_mode *ret);

struct ftp_server;

/*
 * Binds the listener. site_dir is the site's directory, for listings (site_tree_open); tls
 * the context of AUTH TLS (referenced; NULL when cfg->tls is off). 0, or a negative errno
 * with the reason in err.
 */
int ftp_server_new(struct event_base *base, struct site *site, const char *site_dir,
		   const struct ftp_config *cfg, SSL_CTX *tls, struct ftp_server **ret, char *err,
		   size_t errsz);
/* Closes every session and the listener. Accepts NULL. */
void ftp_server_free(struct ftp_server *srv);
/*
 * New limits, timers and policies for what happens from now on (the address stays); tls a
 * new context (referenced), or NULL to keep the one there is.
 */
void ftp_server_set_config(struct ftp_server *srv, const struct ftp_config *cfg, SSL_CTX *tls);

/*
 * The reply of an outcome (docs/ftp.md, "Outcomes"): its text, with the reply code in
 * *ret_code. Every outcome has one; NULL only for a value out of range.
 */
const char *ftp_outcome_reply(enum outcome o, unsigned *ret_code);
/*
 * Another worker's server for the same listener (docs/architecture.md, "Threads"): srv
 * counts its sessions in first's tables, so max_sessions and the limits per address and
 * network hold across workers. Before srv's loop runs; first is freed last.
 */
void ftp_server_share(struct ftp_server *srv, struct ftp_server *first);
uint16_t ftp_server_port(const struct ftp_server *srv);

#endif
