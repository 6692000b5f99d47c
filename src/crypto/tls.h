// SPDX-License-Identifier: MIT
/*
 * TLS for the servers (HTTPS, and FTPS later): an OpenSSL server context from the site's
 * PEM files (TLS 1.2 and 1.3 only, session resumption by cache and tickets, client
 * certificates off / optional / required against a CA file), and the identity a verified
 * client certificate gives: its SHA-256 fingerprint and the device MAC it carries.
 *
 * Where vendors put the MAC in a phone's factory ("device") certificate, as their manuals
 * and deployed mutual-TLS set-ups show: Poly/Polycom, Yealink, Snom (and newer Algo) write
 * the bare MAC, 12 hex digits, as the subject CN (servers match it against the requested
 * file name); Cisco enterprise phones go by "SEP" + MAC, the name reported in the CN of
 * their manufacturer-installed certificates (not confirmed from a Cisco document); Cisco's
 * multiplatform (3PCC) phones put the MAC in the subject's ST attribute instead (OU = model,
 * L = serial, ST = MAC, per Cisco's provisioning guide), which is not read here: give such
 * phones certificates of your own. RFC 9039 names a device in a SAN URI
 * "urn:dev:mac:0004f2123456" (or a 16-digit EUI-64, which is not a MAC and is not taken);
 * some CAs write the MAC in a DNS name or an e-mail address.
 *
 * The rule: a field names a device when it holds exactly one MAC token, in any case:
 *   - 12 hex digits, or 6 pairs of hex digits with one separator throughout (':' or '-'),
 *   - bounded by characters that are not hex digits, or the ends of the field, so
 *     "SEP0004F2123456", "Polycom-0004f2123456", "yealink 00:15:65:12:34:56" and
 *     "urn:dev:mac:0004f2123456" all name 0004f2123456,
 *   - and not continued across a ':' or '-' by another group of hex digits that stands on
 *     its own (bounded by non-alphanumerics): "00:04:f2:12:34:56:78" (7 pairs) and the
 *     last group of a UUID name nobody, while the "AC" of "MAC:00:15:65:12:34:56" is part
 *     of a word and does not count.
 * Two different MACs name nobody, wherever they are among the fields read (one field,
 * two CN attributes, the SAN's names together, or the CN and the SAN under
 * TLS_MAC_FROM_ANY); the same MAC twice is fine. A certificate that names nobody
 * identifies no device: it gets generic files only (src/proto/http.c). Only the CN attributes of the subject
 * are read, and of the SAN its DNS names, URIs and e-mail addresses (not otherName, IP
 * addresses or directory names). Dotted forms ("0004.f212.3456") are not taken. An all-zero
 * or group MAC is taken as written: the CA vouches for it.
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
 * A server context for cfg, relative paths taken below base_dir (or the working directory
 * when it is NULL or ""). 0 and *ret set, or a negative errno (-EINVAL, -ENAMETOOLONG,
 * -ENOMEM) with a one-line reason naming the file in err, e.g.
 *   "tls: /srv/site/tls/server.key: private key: No such file or directory",
 *   "tls: /srv/site/tls/server.key: certificate and key do not match (certificate ...)".
 * The OpenSSL error queue is left empty either way. The caller frees it with SSL_CTX_free.
 *
 * Session resumption needs a clean close: SSL_free on a connection that was not
 * SSL_shutdown() (close_notify sent) drops its session from the server cache, so a TLS 1.2
 * client resuming by session id then gets a full handshake (tickets are not affected).
 * Sessions and ticket keys belong to the context: a new context (reload) starts afresh.
 * With client certificates, a CA in client_ca is trusted as it is (partial chains are
 * accepted), so a vendor's issuing CA may be listed without its root.
 */
int tls_server_ctx_new(const struct tls_config *cfg, const char *base_dir, SSL_CTX **ret, char *err,
		       size_t errsz);

struct tls_identity {
	bool has_cert;	       /* a certificate was sent and verified */
	char mac[MAC_LEN + 1]; /* the device it names, or "" */
	int macs;	       /* MACs it names: 0, 1, or 2 for two or more different ones */
	char fingerprint[65];  /* SHA-256 of the DER, lower-case hex */
	char subject[256];     /* one line, for logs */
};

/*
 * The identity of the connection's peer certificate, filled only when one was presented and
 * verified (SSL_get_verify_result is X509_V_OK): all empty / false otherwise. Works on a
 * resumed session too (the certificate comes with the session). The subject is
 * X509_NAME_oneline's form ("/CN=..."), with anything outside printable ASCII escaped or
 * replaced, so it can be logged as it is.
 */
void tls_peer_identity(SSL *ssl, enum tls_mac_from from, struct tls_identity *ret);
/*
 * The MAC a certificate carries by the rule above, looking in the CN (TLS_MAC_FROM_CN), the
 * SAN (TLS_MAC_FROM_SAN), or both together (TLS_MAC_FROM_ANY: one MAC in either, or the
 * same in both). tls_cert_macs: 1 with mac filled (canonical: 12 lower-case hex digits),
 * 0 for none, -1 for two different ones (mac untouched). tls_cert_mac: whether it is 1.
 * Exposed for the tests; servers use tls_peer_identity.
 */
int tls_cert_macs(X509 *cert, enum tls_mac_from from, char mac[MAC_LEN + 1]);
bool tls_cert_mac(X509 *cert, enum tls_mac_from from, char mac[MAC_LEN + 1]);

#endif
