// SPDX-License-Identifier: MIT
/*
 * TLS for the servers (HTTPS, and FTPS later): an OpenSSL server context from the site's
 * PEM files (TLS 1.2 and 1.3 only, session resumption by cache and tickets, client
 * certificates off / optional / required against a CA file), and the identity a verified
 * client certificate gives: its SHA-256 fingerprint and the device MAC it carries.
 *
 * Where a device certificate carries its MAC: vendors' factory certificates put it in the
 * subject CN (Polycom, Yealink: the bare MAC; Cisco: "SEP" + MAC) or in a SAN (RFC 9039's
 * "urn:dev:mac:<hex>" URI, or a DNS name). The rule: a field names a device when it holds
 * exactly one MAC token — 12 hex digits, or 6 hex pairs with one separator kind (':' or
 * '-') — bounded by characters that are neither hex digits nor separators, or the field's
 * ends ("SEP0004F2123456" works: 'P' is no hex digit). Two different MACs in one field
 * name nobody; an all-zero or group MAC is still taken as written (the CA vouches for it).
 */
#ifndef AUTOPROV_CRYPTO_TLS_H
#define AUTOPROV_CRYPTO_TLS_H

#include <limits.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/mac.h"

enum tls_client_certs { TLS_CLIENT_OFF, TLS_CLIENT_OPTIONAL, TLS_CLIENT_REQUIRED };
enum tls_mac_from { TLS_MAC_FROM_ANY, TLS_MAC_FROM_CN, TLS_MAC_FROM_SAN };

struct tls_config {
	char certificate[PATH_MAX]; /* PEM chain, leaf first; relative to the base directory */
	char key[PATH_MAX];	    /* PEM private key */
	char client_ca[PATH_MAX];   /* PEM CAs of client certificates; "" for none */
	enum tls_client_certs client_certs;
	enum tls_mac_from mac_from;
	unsigned session_timeout_s;
};

/* tls/server.pem, tls/server.key, no client certificates, MAC from anywhere, 300 s. */
void tls_config_default(struct tls_config *cfg);
int tls_parse_client_certs(const char *value,
			   enum tls_client_certs *ret);		   /* off optional required */
int tls_parse_mac_from(const char *value, enum tls_mac_from *ret); /* any cn san */

/*
 * A server context for cfg, relative paths taken below base_dir. 0, or a negative errno
 * with a one-line reason naming the file in err. The caller frees it with SSL_CTX_free.
 */
int tls_server_ctx_new(const struct tls_config *cfg, const char *base_dir, SSL_CTX **ret, char *err,
		       size_t errsz);

struct tls_identity {
	bool has_cert;	       /* a certificate was sent and verified */
	char mac[MAC_LEN + 1]; /* the device it names, or "" */
	char fingerprint[65];  /* SHA-256 of the DER, lower-case hex */
	char subject[256];     /* one line, for logs */
};

/* The identity of the connection's verified peer certificate (all empty without one). */
void tls_peer_identity(SSL *ssl, enum tls_mac_from from, struct tls_identity *ret);
/* The MAC a certificate carries by the rule above: true with mac filled. */
bool tls_cert_mac(X509 *cert, enum tls_mac_from from, char mac[MAC_LEN + 1]);

#endif
