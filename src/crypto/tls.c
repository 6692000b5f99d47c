// SPDX-License-Identifier: MIT
/* Server TLS contexts and client-certificate identities (see tls.h). */
#include "crypto/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

static void full_path(char *out, size_t outsz, const char *base, const char *path)
{
	if (path[0] == '/' || !base)
		snprintf(out, outsz, "%s", path);
	else
		snprintf(out, outsz, "%s/%s", base, path);
}

/* "tls: FILE: what: reason", the reason OpenSSL's first queued error. */
static int fail(char *err, size_t errsz, const char *file, const char *what)
{
	unsigned long e = ERR_get_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errsz, "tls: %s: %s: %s", file, what, why ? why : "cannot be used");
	ERR_clear_error();
	return -EINVAL;
}

int tls_server_ctx_new(const struct tls_config *cfg, const char *base_dir, SSL_CTX **ret, char *err,
		       size_t errsz)
{
	static const unsigned char sid_ctx[] = "autoprov";
	char cert[PATH_MAX + 256], key[PATH_MAX + 256], ca[PATH_MAX + 256];
	SSL_CTX *ctx;
	int r = -EINVAL;

	ERR_clear_error();
	full_path(cert, sizeof(cert), base_dir, cfg->certificate);
	full_path(key, sizeof(key), base_dir, cfg->key);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errsz, "tls: cannot create a context");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* resumption: a server-side cache for session ids, and tickets (1.2 and 1.3) */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_timeout(ctx, cfg->session_timeout_s);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		r = fail(err, errsz, cert, "certificate chain");
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		r = fail(err, errsz, key, "private key");
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errsz, "tls: %s: the key does not match the certificate %s", key,
			 cert);
		goto out;
	}
	if (cfg->client_certs != TLS_CLIENT_OFF) {
		STACK_OF(X509_NAME) * names;
		int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;

		if (!cfg->client_ca[0]) {
			snprintf(err, errsz, "tls: client certificates need [https] client_ca");
			goto out;
		}
		full_path(ca, sizeof(ca), base_dir, cfg->client_ca);
		if (SSL_CTX_load_verify_file(ctx, ca) != 1) {
			r = fail(err, errsz, ca, "client CA");
			goto out;
		}
		names = SSL_load_client_CA_file(ca);
		if (!names) {
			r = fail(err, errsz, ca, "client CA names");
			goto out;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		if (cfg->client_certs == TLS_CLIENT_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	*ret = ctx;
	return 0;
out:
	SSL_CTX_free(ctx);
	return r;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether text[i..] holds a MAC token ending at a boundary; fills got. */
static bool mac_at(const char *text, size_t len, size_t i, char got[MAC_LEN + 1], size_t *end)
{
	size_t n = 0, j = i;
	char sep = 0;

	if (i + MAC_LEN <= len) {
		while (n < MAC_LEN && hexval(text[j]) >= 0)
			got[n++] = (char)(text[j++] | 0x20);
	}
	if (n < MAC_LEN) {
		/* HH:HH:HH:HH:HH:HH or with '-' */
		if (i + 17 > len || (text[i + 2] != ':' && text[i + 2] != '-'))
			return false;
		sep = text[i + 2];
		for (n = 0, j = i; n < MAC_LEN; j += 3) {
			if (hexval(text[j]) < 0 || hexval(text[j + 1]) < 0 ||
			    (n < 10 && text[j + 2] != sep))
				return false;
			got[n++] = (char)(text[j] | 0x20);
			got[n++] = (char)(text[j + 1] | 0x20);
		}
		j--; /* no separator after the last pair */
	}
	if (j < len && (hexval(text[j]) >= 0 || (sep && text[j] == sep)))
		return false;
	got[MAC_LEN] = '\0';
	*end = j;
	return true;
}

/*
 * The one MAC token of text[0..len) (see tls.h). 1 found, 0 none, -1 ambiguous (two
 * different MACs).
 */
static int find_mac(const char *text, size_t len, char mac[MAC_LEN + 1])
{
	char found[MAC_LEN + 1] = "", got[MAC_LEN + 1];

	for (size_t i = 0, end; i < len; i++) {
		if (hexval(text[i]) < 0 || (i > 0 && (hexval(text[i - 1]) >= 0 ||
						      text[i - 1] == ':' || text[i - 1] == '-')))
			continue;
		if (!mac_at(text, len, i, got, &end))
			continue;
		if (found[0] && strcmp(found, got) != 0)
			return -1;
		memcpy(found, got, sizeof(found));
		i = end;
	}
	if (!found[0])
		return 0;
	memcpy(mac, found, sizeof(found));
	return 1;
}

static int cn_mac(X509 *cert, char mac[MAC_LEN + 1])
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *s;

	if (idx < 0)
		return 0;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	return find_mac((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), mac);
}

static int san_mac(X509 *cert, char mac[MAC_LEN + 1])
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char found[MAC_LEN + 1] = "";
	int r = 0;

	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && r >= 0; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		ASN1_IA5STRING *s = NULL;
		char got[MAC_LEN + 1];

		if (g->type == GEN_DNS)
			s = g->d.dNSName;
		else if (g->type == GEN_URI)
			s = g->d.uniformResourceIdentifier;
		else if (g->type == GEN_EMAIL)
			s = g->d.rfc822Name;
		if (!s)
			continue;
		r = find_mac((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s),
			     got);
		if (r > 0) {
			if (found[0] && strcmp(found, got) != 0)
				r = -1;
			else
				memcpy(found, got, sizeof(found));
		}
	}
	GENERAL_NAMES_free(sans);
	if (r < 0 || !found[0])
		return r < 0 ? -1 : 0;
	memcpy(mac, found, sizeof(found));
	return 1;
}

bool tls_cert_mac(X509 *cert, enum tls_mac_from from, char mac[MAC_LEN + 1])
{
	if (from != TLS_MAC_FROM_SAN && cn_mac(cert, mac) > 0)
		return true;
	return from != TLS_MAC_FROM_CN && san_mac(cert, mac) > 0;
}

void tls_peer_identity(SSL *ssl, enum tls_mac_from from, struct tls_identity *ret)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	memset(ret, 0, sizeof(*ret));
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	ret->has_cert = true;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
		for (unsigned i = 0; i < mdlen && i < 32; i++)
			snprintf(ret->fingerprint + 2 * i, 3, "%02x", md[i]);
	X509_NAME_oneline(X509_get_subject_name(cert), ret->subject, sizeof(ret->subject));
	for (char *p = ret->subject; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	if (!tls_cert_mac(cert, from, ret->mac))
		ret->mac[0] = '\0';
}
