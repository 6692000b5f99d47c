// SPDX-License-Identifier: MIT
/*
 * The HTTP/1.1 and HTTPS server: GET and HEAD of the site's files through the same
 * resolver as TFTP, with the caching headers devices polling every hour need, logins
 * (Basic, Digest) and client certificates that bind a device to its own files, the
 * redirection service, and limits that keep slow or abusive clients from exhausting it.
 * Connections are ours (non-blocking sockets on the libevent loop, OpenSSL driven
 * directly for HTTPS); the request head is parsed by proto/http_parse.h.
 */
#ifndef AUTOPROV_PROTO_HTTP_H
#define AUTOPROV_PROTO_HTTP_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "crypto/tls.h"
#include "proto/http_auth.h"
#include "site/exchange.h"

struct event_base;
struct site;

enum http_login_mode {
	HTTP_LOGIN_OFF,	   /* no logins asked */
	HTTP_LOGIN_BASIC,  /* Basic only (over HTTPS, or where Digest clients are missing) */
	HTTP_LOGIN_DIGEST, /* Digest only (SHA-256 and MD5) */
	HTTP_LOGIN_ANY,	   /* Digest or Basic, the client's choice */
};

enum http_ua_policy {
	HTTP_UA_RECORD, /* the User-Agent's MAC goes to the log and journal */
	HTTP_UA_DENY,	/* and a request for another MAC's file is 403 */
};

enum http_cert_binding {
	HTTP_BIND_OFF,	     /* a verified certificate's MAC is the device */
	HTTP_BIND_FIRST_USE, /* the first certificate a device uses is recorded and then required */
	HTTP_BIND_REQUIRED,  /* the certificate must be the one recorded (prov_cert_sha256) */
};

#define HTTP_CERT_VAR "prov_cert_sha256"
#define HTTP_URL_VAR  "prov_url"

struct http_config {
	bool enabled;
	struct addr listen;
	char prefix[128];		   /* normalised: no leading or trailing '/' */
	unsigned timeout_s;		   /* keep-alive idle time, and a stalled send */
	unsigned header_timeout_s;	   /* from connection or last answer to a whole head */
	unsigned max_header_size;	   /* bytes of request line and headers */
	unsigned max_uri_length;	   /* bytes of the request target */
	unsigned max_connections; /* beyond: the oldest waiting one goes, or none accepted */
	unsigned max_connections_per_peer; /* beyond: 503 and close */
	unsigned max_connections_per_prefix; /* per /24 or /64: the oldest waiting one goes, or 503 */
	enum http_login_mode auth;
	char realm[64];
	enum digest_algorithm digest[4]; /* offered in this order */
	unsigned ndigest;
	unsigned nonce_lifetime_s;
	enum http_ua_policy user_agent;
	char redirect_url[256]; /* the redirection service's default URL; "" derives one */

	/* HTTPS (the same settings over TLS, on its own listener) */
	bool https_enabled;
	struct addr https_listen;
	struct tls_config tls;
	enum http_cert_binding cert_binding;
	unsigned max_handshakes; /* in progress at once; beyond, the oldest is given up */
};

void http_config_default(struct http_config *cfg);
int http_parse_login_mode(const char *value, enum http_login_mode *ret);
/* "MD5 SHA-256": a space-separated list of MD5, MD5-sess, SHA-256, SHA-256-sess. */
int http_parse_digest_algorithms(const char *value, struct http_config *cfg);
int http_parse_ua_policy(const char *value, enum http_ua_policy *ret);
int http_parse_cert_binding(const char *value, enum http_cert_binding *ret);

struct http_server;

/*
 * Binds a listener: plain HTTP on cfg->listen when tls is NULL, else HTTPS on
 * cfg->https_listen with tls (referenced). 0, or a negative errno with the reason in err.
 */
int http_server_new(struct event_base *base, struct site *site, const struct http_config *cfg,
		    SSL_CTX *tls, struct http_server **ret, char *err, size_t errsz);
/* Closes the listener and every connection. */
void http_server_free(struct http_server *srv);
/* New settings and TLS context (NULL: keep); the address stays. */
void http_server_set_config(struct http_server *srv, const struct http_config *cfg, SSL_CTX *tls);

/*
 * The wire answer of an outcome (docs/http.md, "Outcomes"): its status, and in *ret_text
 * (when not NULL) the short text of an error's body. -EINVAL for a value out of range.
 */
int http_outcome_status(enum outcome o, const char **ret_text);
/*
 * Another worker's server for the same listener (docs/architecture.md, "Threads"): srv
 * counts its connections in first's tables (max_connections and the limits per address
 * and network hold across workers) and checks Digest nonces first issued. Before srv's
 * loop runs; first is freed last.
 */
void http_server_share(struct http_server *srv, struct http_server *first);
uint16_t http_server_port(const struct http_server *srv);

#endif
