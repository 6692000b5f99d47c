// SPDX-License-Identifier: MIT
/* Server TLS contexts and client-certificate identities (see tls.h). */
#include "crypto/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

void tls_config_default(struct tls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	str_copy(cfg->certificate, sizeof(cfg->certificate), "tls/server.pem");
	str_copy(cfg->key, sizeof(cfg->key), "tls/server.key");
	cfg->client_certs = TLS_CLIENT_OFF;
	cfg->mac_from = TLS_MAC_FROM_ANY;
	cfg->session_timeout_s = 300;
}

int tls_parse_client_certs(const char *value, enum tls_client_certs *ret)
{
	if (strcmp(value, "off") == 0)
		*ret = TLS_CLIENT_OFF;
	else if (strcmp(value, "optional") == 0)
		*ret = TLS_CLIENT_OPTIONAL;
	else if (strcmp(value, "required") == 0)
		*ret = TLS_CLIENT_REQUIRED;
	else
		return -EINVAL;
	return 0;
}

int tls_parse_mac_from(const char *value, enum tls_mac_from *ret)
{
	if (strcmp(value, "any") == 0)
		*ret = TLS_MAC_FROM_ANY;
	else if (strcmp(value, "cn") == 0)
		*ret = TLS_MAC_FROM_CN;
	else if (strcmp(value, "san") == 0)
		*ret = TLS_MAC_FROM_SAN;
	else
		return -EINVAL;
	return 0;
}

/* base/path, or path itself when it is absolute (or there is no base). */
static int full_path(char *out, size_t outsz, const char *base, const char *path)
{
	int n;

	if (path[0] == '/' || !base || !base[0])
		n = snprintf(out, outsz, "%s", path);
	else
		n = snprintf(out, outsz, "%s/%s", base, path);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

/*
 * "tls: FILE: what: reason", the reason taken from OpenSSL's oldest queued error (the one
 * that says what went wrong first: "No such file or directory" rather than "system lib"),
 * or none when the file holds nothing of the kind wanted.
 */
static int fail(char *err, size_t errsz, const char *file, const char *what, const char *none)
{
	unsigned long e = ERR_peek_error();
	const char *why = NULL;
	char buf[256];

	if (!e) {
		why = "cannot be used";
	} else if (ERR_SYSTEM_ERROR(e)) {
		why = strerror(ERR_GET_REASON(e));
	} else if (ERR_GET_REASON(e) == ERR_R_INTERRUPTED_OR_CANCELLED) {
		why = "encrypted, and there is no one to ask for the passphrase (decrypt it with "
		      "openssl pkey)";
	} else if ((ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ||
		   (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER &&
		    ERR_GET_REASON(e) == ERR_R_UNSUPPORTED)) {
		why = none;
	} else {
		why = ERR_reason_error_string(e);
		if (!why) {
			ERR_error_string_n(e, buf, sizeof(buf));
			why = buf;
		}
	}
	snprintf(err, errsz, "tls: %s: %s: %s", file, what, why);
	ERR_clear_error();
	return -EINVAL;
}

/* Keys are read once at start-up by a daemon: never prompt for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)userdata;
	return -1;
}

static int load_client_ca(SSL_CTX *ctx, const char *ca, char *err, size_t errsz)
{
	STACK_OF(X509_NAME) * names;

	if (SSL_CTX_load_verify_file(ctx, ca) != 1)
		return fail(err, errsz, ca, "client CA", "no PEM certificate found");
	names = SSL_load_client_CA_file(ca);
	if (!names)
		return fail(err, errsz, ca, "client CA names", "no PEM certificate found");
	SSL_CTX_set_client_CA_list(ctx, names);
	/*
	 * A CA in the file is trusted as it is: an administrator may list a vendor's issuing
	 * (intermediate) CA alone, to accept that vendor's devices and nothing else its root
	 * signed.
	 */
	X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx), X509_V_FLAG_PARTIAL_CHAIN);
	return 0;
}

int tls_server_ctx_new(const struct tls_config *cfg, const char *base_dir, SSL_CTX **ret, char *err,
		       size_t errsz)
{
	static const unsigned char sid_ctx[] = "autoprov";
	char cert[PATH_MAX + 256], key[PATH_MAX + 256], ca[PATH_MAX + 256];
	SSL_CTX *ctx;
	unsigned long e;
	int r = -EINVAL;

	if (full_path(cert, sizeof(cert), base_dir, cfg->certificate) < 0 ||
	    full_path(key, sizeof(key), base_dir, cfg->key) < 0 ||
	    full_path(ca, sizeof(ca), base_dir, cfg->client_ca) < 0) {
		snprintf(err, errsz, "tls: %s: path too long", base_dir ? base_dir : "");
		return -ENAMETOOLONG;
	}
	if (cfg->client_certs != TLS_CLIENT_OFF && !cfg->client_ca[0]) {
		snprintf(err, errsz, "tls: client certificates need a client_ca file");
		return -EINVAL;
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ERR_clear_error();
		snprintf(err, errsz, "tls: cannot create a context");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
	/*
	 * TLS 1.3: AES-128-GCM first (the suite every client has; its SHA-256 transcript and
	 * key schedule cost less than SHA-384's), ChaCha20 for a client that puts it first (a
	 * phone without AES instructions).
	 */
	(void)SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
					    "TLS_AES_256_GCM_SHA384");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* one read takes what the socket has (a Finished and the request behind it) */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/*
	 * Resumption: a server-side cache for TLS 1.2 session ids, and tickets (TLS 1.2 and 1.3)
	 * under keys this context makes, so sessions do not outlive it. The session id context
	 * is what lets a session with a client certificate be resumed at all.
	 */
	/*
	 * The cache is bounded (the least recently used session goes when it is full, an
	 * expired one is refused when asked for), so it is never walked whole: OpenSSL's
	 * automatic flush scans every entry each 255 handshakes.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	/*
	 * One TLS 1.3 ticket per full handshake, not OpenSSL's two: a phone resumes one
	 * connection at a time, and each ticket costs an encryption and a write.
	 */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, cfg->session_timeout_s);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		r = fail(err, errsz, cert, "certificate", "no PEM certificate found");
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			goto mismatch;
		r = fail(err, errsz, key, "private key", "no PEM private key found");
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto mismatch;
	if (cfg->client_certs != TLS_CLIENT_OFF) {
		int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;

		r = load_client_ca(ctx, ca, err, errsz);
		if (r < 0)
			goto out;
		if (cfg->client_certs == TLS_CLIENT_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	*ret = ctx;
	return 0;
mismatch:
	ERR_clear_error();
	snprintf(err, errsz, "tls: %s: certificate and key do not match (certificate %s)", key,
		 cert);
	r = -EINVAL;
out:
	SSL_CTX_free(ctx);
	return r;
}

/* ---- the MAC a certificate names: ASCII only, whatever the locale ---- */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_sep(char c)
{
	return c == ':' || c == '-';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Whether the separator at t[at] joins a group of hex digits that stands on its own (bounded
 * by something that is not a letter or digit): "aa" in "aa:00:11:22:33:44:55", "1234" in a
 * UUID, but not "AC" in "MAC:00:15:65:12:34:56" nor "m" in "Polycom-0004f2123456".
 */
static bool free_group_before(const char *t, size_t at)
{
	size_t s = at;

	if (s == 0 || !is_hex(t[s - 1]))
		return false;
	while (s > 0 && is_hex(t[s - 1]))
		s--;
	return s == 0 || !is_alnum(t[s - 1]);
}

static bool free_group_after(const char *t, size_t len, size_t at)
{
	size_t e = at + 1;

	if (e >= len || !is_hex(t[e]))
		return false;
	while (e < len && is_hex(t[e]))
		e++;
	return e == len || !is_alnum(t[e]);
}

/*
 * The MAC token starting at t[i] (t[i - 1] is no hex digit): 12 hex digits, or 6 pairs with
 * one separator, not followed by a hex digit and not continued by a free group on either
 * side. Fills got and *end (one past the token).
 */
static bool token_at(const char *t, size_t len, size_t i, char got[MAC_LEN + 1], size_t *end)
{
	size_t j = i, n = 0;

	while (j < len && is_hex(t[j]))
		j++;
	if (j - i == MAC_LEN) {
		for (size_t k = 0; k < MAC_LEN; k++)
			got[k] = lower(t[i + k]);
	} else if (j - i == 2 && j < len && is_sep(t[j])) {
		char sep = t[j];

		for (j = i; n < MAC_LEN; n += 2) {
			if (j + 1 >= len || !is_hex(t[j]) || !is_hex(t[j + 1]))
				return false;
			got[n] = lower(t[j]);
			got[n + 1] = lower(t[j + 1]);
			j += 2;
			if (n + 2 < MAC_LEN) {
				if (j >= len || t[j] != sep)
					return false;
				j++;
			}
		}
		if (j < len && is_hex(t[j]))
			return false;
	} else {
		return false;
	}
	if (i > 0 && is_sep(t[i - 1]) && free_group_before(t, i - 1))
		return false;
	if (j < len && is_sep(t[j]) && free_group_after(t, len, j))
		return false;
	got[MAC_LEN] = '\0';
	*end = j;
	return true;
}

/*
 * Adds the MAC tokens of t[0..len) to *found (see tls.h): 0 so far one MAC or none, -1 two
 * different ones.
 */
static int scan(const char *t, size_t len, char found[MAC_LEN + 1])
{
	char got[MAC_LEN + 1];
	size_t end;

	for (size_t i = 0; i < len; i++) {
		if (!is_hex(t[i]) || (i > 0 && is_hex(t[i - 1])))
			continue;
		if (!token_at(t, len, i, got, &end))
			continue;
		if (found[0] && strcmp(found, got) != 0)
			return -1;
		memcpy(found, got, MAC_LEN + 1);
		i = end - 1;
	}
	return 0;
}

/* Adds the MAC tokens of the subject's CN attributes to found: 0, or -1 for two different. */
static int cn_macs(X509 *cert, char found[MAC_LEN + 1])
{
	X509_NAME *name = X509_get_subject_name(cert);
	int r = 0;

	for (int idx = -1; r == 0;) {
		unsigned char *utf8 = NULL;
		int len;

		idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx);
		if (idx < 0)
			break;
		/* BMPString and UniversalString become ASCII-compatible */
		len = ASN1_STRING_to_UTF8(&utf8,
					  X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
		if (len < 0)
			continue;
		r = scan((const char *)utf8, (size_t)len, found);
		OPENSSL_free(utf8);
	}
	return r;
}

/* Likewise for the DNS, URI and email names of the subjectAltName extension. */
static int san_macs(X509 *cert, char found[MAC_LEN + 1])
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int r = 0;

	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && r == 0; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		ASN1_IA5STRING *s = NULL;

		if (g->type == GEN_DNS)
			s = g->d.dNSName;
		else if (g->type == GEN_URI)
			s = g->d.uniformResourceIdentifier;
		else if (g->type == GEN_EMAIL)
			s = g->d.rfc822Name;
		if (s)
			r = scan((const char *)ASN1_STRING_get0_data(s),
				 (size_t)ASN1_STRING_length(s), found);
	}
	GENERAL_NAMES_free(sans);
	return r;
}

/*
 * Every field the mode reads counts together: a CN and a SAN that name two different MACs
 * name nobody (a CA that put two devices in one certificate vouches for neither).
 */
int tls_cert_macs(X509 *cert, enum tls_mac_from from, char mac[MAC_LEN + 1])
{
	char found[MAC_LEN + 1] = "";

	if (from != TLS_MAC_FROM_SAN && cn_macs(cert, found) < 0)
		return -1;
	if (from != TLS_MAC_FROM_CN && san_macs(cert, found) < 0)
		return -1;
	if (!found[0])
		return 0;
	memcpy(mac, found, MAC_LEN + 1);
	return 1;
}

bool tls_cert_mac(X509 *cert, enum tls_mac_from from, char mac[MAC_LEN + 1])
{
	return tls_cert_macs(cert, from, mac) > 0;
}

void tls_peer_identity(SSL *ssl, enum tls_mac_from from, struct tls_identity *ret)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	memset(ret, 0, sizeof(*ret));
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
		ERR_clear_error();
		return;
	}
	ret->has_cert = true;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(ret->fingerprint + 2 * i, 3, "%02x", md[i]);
	/* X509_NAME_oneline writes bytes outside 0x20..0x7e as \xXX; this is belt and braces */
	if (!X509_NAME_oneline(X509_get_subject_name(cert), ret->subject, sizeof(ret->subject)))
		ret->subject[0] = '\0';
	for (char *p = ret->subject; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	ret->macs = tls_cert_macs(cert, from, ret->mac);
	if (ret->macs <= 0) {
		ret->mac[0] = '\0';
		ret->macs = ret->macs < 0 ? 2 : 0;
	}
	ERR_clear_error();
}
