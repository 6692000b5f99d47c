// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/crypto/tls.c. Keys and certificates are made in memory with the OpenSSL
 * API: the MAC a device certificate names (CN and SAN forms seen in vendors' factory
 * certificates, near misses, ambiguous fields), the configuration parsers, the one-line
 * reasons tls_server_ctx_new gives for broken files, and whole handshakes between a client
 * and a server context over a BIO pair: protocol versions, client certificates (required,
 * optional, expired, unknown CA), the identity of a verified peer, and session resumption
 * (TLS 1.2 session ids and tickets, TLS 1.3 tickets) keeping that identity.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/str.h"
#include "crypto/tls.h"

#define DAY (24L * 3600)

static EVP_PKEY *make_key(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	assert_non_null(key);
	return key;
}

/*
 * A certificate for key with subject CN=cn (none if NULL) and the subjectAltName san in
 * openssl's config syntax (none if NULL), valid from from_days to to_days relative to now,
 * signed by issuer / issuer_key, or self-signed when issuer is NULL.
 */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
		       EVP_PKEY *issuer_key, long from_days, long to_days, bool ca)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from_days * DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to_days * DAY));
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (ca) {
		X509_EXTENSION *e =
			X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");

		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (san) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);

		if (!e)
			fail_msg("subjectAltName '%s' refused", san);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

/* ---- the MAC a certificate names ---- */

static EVP_PKEY *mac_key;

static int mac_setup(void **state)
{
	(void)state;
	mac_key = make_key();
	return 0;
}

static int mac_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(mac_key);
	return 0;
}

/* The MAC tls_cert_mac finds in a self-signed certificate with cn and san, or "" for none. */
static void check_mac(const char *cn, const char *san, enum tls_mac_from from, const char *want)
{
	X509 *x = make_cert(mac_key, cn, san, NULL, NULL, -1, 1, false);
	char mac[MAC_LEN + 1] = "untouched!!!";
	bool found = tls_cert_mac(x, from, mac);

	X509_free(x);
	if (!want[0]) {
		if (found)
			fail_msg("CN '%s' SAN '%s': found %s, expected none", cn ? cn : "(none)",
				 san ? san : "(none)", mac);
		return;
	}
	if (!found)
		fail_msg("CN '%s' SAN '%s': no MAC, expected %s", cn ? cn : "(none)",
			 san ? san : "(none)", want);
	assert_string_equal(mac, want);
}

static void cn_is(const char *cn, const char *want)
{
	check_mac(cn, NULL, TLS_MAC_FROM_CN, want);
	check_mac(cn, NULL, TLS_MAC_FROM_ANY, want);
	check_mac(cn, NULL, TLS_MAC_FROM_SAN, "");
}

static void san_is(const char *san, const char *want)
{
	check_mac("a phone", san, TLS_MAC_FROM_SAN, want);
	check_mac("a phone", san, TLS_MAC_FROM_ANY, want);
	check_mac("a phone", san, TLS_MAC_FROM_CN, "");
}

/* A CN that is just the MAC, in each spelling mac_parse accepts with pairs or no separator. */
static void test_cn_bare(void **state)
{
	(void)state;
	cn_is("0004F2123456", "0004f2123456");
	cn_is("0004f2123456", "0004f2123456");
	cn_is("00:04:f2:12:34:56", "0004f2123456");
	cn_is("00-04-F2-12-34-56", "0004f2123456");
	cn_is("00:04:F2:12:34:56", "0004f2123456");
}

/* Vendor prefixes and suffixes around the MAC token. */
static void test_cn_decorated(void **state)
{
	(void)state;
	cn_is("SEP0004F2123456", "0004f2123456");	   /* Cisco: 'P' is no hex digit */
	cn_is("CP-7975G-SEP001AA2B3C4D5", "001aa2b3c4d5"); /* Cisco MIC style */
	cn_is("Polycom-0004f2123456", "0004f2123456");
	cn_is("yealink 00:15:65:12:34:56", "001565123456");
	cn_is("Yealink SIP-T46S 00-15-65-12-34-56", "001565123456");
	cn_is("MAC:00:15:65:12:34:56", "001565123456"); /* "AC" is hex but not a free pair */
	cn_is("mac=001565123456", "001565123456");
	cn_is("0004f2123456.phones.example", "0004f2123456");
	cn_is("phone (0004f2123456)", "0004f2123456");
}

/* Near misses: no token of exactly 12 digits or 6 pairs. */
static void test_cn_no_mac(void **state)
{
	(void)state;
	cn_is(NULL, "");
	cn_is("autoprov", "");
	cn_is("0004f212345", "");			   /* 11 digits */
	cn_is("0004f21234567", "");			   /* 13 digits */
	cn_is("a0004f2123456", "");			   /* 'a' makes 13 */
	cn_is("0004f2123456f", "");			   /* likewise after */
	cn_is("00:04:f2:12:34", "");			   /* 5 pairs */
	cn_is("00:04:f2:12:34:56:78", "");		   /* 7 pairs: which 6? */
	cn_is("00:04:f2:12:34:567", "");		   /* the last group has 3 digits */
	cn_is("00:04-f2:12:34:56", "");			   /* mixed separators */
	cn_is("0:04:f2:12:34:56", "");			   /* single digit */
	cn_is("00:04:g2:12:34:56", "");			   /* 'g' */
	cn_is("0004.f212.3456", "");			   /* dotted groups of four are not taken */
	cn_is("00 04 f2 12 34 56", "");			   /* space is no separator */
	cn_is("12345678-1234-1234-1234-123456789abc", ""); /* a UUID: 12 digits at the end,
							       but '-' continues a token */
}

/* Two different MACs in one field name nobody; the same one twice is fine. */
static void test_cn_ambiguous(void **state)
{
	(void)state;
	cn_is("0004f2123456 0004f2654321", "");
	cn_is("SEP0004F2123456/00:04:f2:65:43:21", "");
	cn_is("0004F2123456 = 00:04:f2:12:34:56", "0004f2123456");
}

static void test_san_forms(void **state)
{
	(void)state;
	san_is("URI:urn:dev:mac:0004f2123456", "0004f2123456"); /* RFC 9039 */
	san_is("URI:urn:dev:mac:0004F2123456", "0004f2123456");
	san_is("DNS:sep0004f2123456.phones.example", "0004f2123456");
	san_is("DNS:0004f2123456", "0004f2123456");
	san_is("email:0004f2123456@phones.example", "0004f2123456");
	san_is("DNS:phone.example,URI:urn:dev:mac:0004f2123456", "0004f2123456");
	/* the same MAC in two names, and names without one around it */
	san_is("DNS:0004f2123456.example,IP:127.0.0.1,URI:urn:dev:mac:0004f2123456",
	       "0004f2123456");
	/* other kinds of names are not read */
	san_is("otherName:1.3.6.1.4.1.311.20.2.3;UTF8:0004f2123456", "");
	san_is("IP:127.0.0.1", "");
	/* a device id of another kind (RFC 9039 urn:dev:ow is 16 digits) */
	san_is("URI:urn:dev:ow:10e2073a01080063", "");
	san_is("URI:urn:dev:mac:0024befffe804ff1", "");		 /* an EUI-64 */
	san_is("URI:urn:dev:mac:0024be804ff1:", "0024be804ff1"); /* SenML's base name */
	/* two different MACs in different names, or in one */
	san_is("URI:urn:dev:mac:0004f2123456,DNS:0004f2654321.example", "");
	san_is("DNS:0004f2123456-0004f2654321.example", "");
}

/* Where each mode looks, and which wins. */
static void test_from(void **state)
{
	(void)state;
	/* CN and SAN disagree: ANY names nobody, CN takes the CN, SAN the SAN */
	check_mac("0004f2111111", "URI:urn:dev:mac:0004f2222222", TLS_MAC_FROM_ANY, "");
	check_mac("0004f2111111", "URI:urn:dev:mac:0004f2111111", TLS_MAC_FROM_ANY, "0004f2111111");
	check_mac("0004f2111111", "URI:urn:dev:mac:0004f2222222", TLS_MAC_FROM_CN, "0004f2111111");
	check_mac("0004f2111111", "URI:urn:dev:mac:0004f2222222", TLS_MAC_FROM_SAN, "0004f2222222");
	/* a CN without a MAC: ANY takes the SAN's; a CN naming two: nobody, whatever the SAN */
	check_mac("phone", "URI:urn:dev:mac:0004f2222222", TLS_MAC_FROM_ANY, "0004f2222222");
	check_mac("0004f2111111 0004f2333333", "URI:urn:dev:mac:0004f2222222", TLS_MAC_FROM_ANY,
		  "");
	check_mac(NULL, "URI:urn:dev:mac:0004f2222222", TLS_MAC_FROM_ANY, "0004f2222222");
	check_mac(NULL, NULL, TLS_MAC_FROM_ANY, "");
}

/* Only the CN attribute counts, not the other attributes of the subject. */
static void test_other_attributes(void **state)
{
	X509 *x = make_cert(mac_key, "phone", NULL, NULL, NULL, -1, 1, false);
	X509_NAME *name = X509_get_subject_name(x);
	char mac[MAC_LEN + 1];

	(void)state;
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
						    (const unsigned char *)"0004f2123456", -1, -1,
						    0),
			 1);
	assert_false(tls_cert_mac(x, TLS_MAC_FROM_ANY, mac));
	X509_free(x);
}

/* ---- configuration values ---- */

static void test_parsers(void **state)
{
	enum tls_client_certs cc = TLS_CLIENT_REQUIRED;
	enum tls_mac_from mf = TLS_MAC_FROM_SAN;
	struct tls_config cfg;

	(void)state;
	assert_int_equal(tls_parse_client_certs("off", &cc), 0);
	assert_int_equal(cc, TLS_CLIENT_OFF);
	assert_int_equal(tls_parse_client_certs("optional", &cc), 0);
	assert_int_equal(cc, TLS_CLIENT_OPTIONAL);
	assert_int_equal(tls_parse_client_certs("required", &cc), 0);
	assert_int_equal(cc, TLS_CLIENT_REQUIRED);
	assert_int_equal(tls_parse_client_certs("yes", &cc), -EINVAL);
	assert_int_equal(tls_parse_client_certs("", &cc), -EINVAL);
	assert_int_equal(tls_parse_client_certs("Required", &cc), -EINVAL);
	assert_int_equal(cc, TLS_CLIENT_REQUIRED);

	assert_int_equal(tls_parse_mac_from("cn", &mf), 0);
	assert_int_equal(mf, TLS_MAC_FROM_CN);
	assert_int_equal(tls_parse_mac_from("any", &mf), 0);
	assert_int_equal(mf, TLS_MAC_FROM_ANY);
	assert_int_equal(tls_parse_mac_from("san", &mf), 0);
	assert_int_equal(mf, TLS_MAC_FROM_SAN);
	assert_int_equal(tls_parse_mac_from("subject", &mf), -EINVAL);
	assert_int_equal(mf, TLS_MAC_FROM_SAN);

	memset(&cfg, 0x55, sizeof(cfg));
	tls_config_default(&cfg);
	assert_string_equal(cfg.certificate, "tls/server.pem");
	assert_string_equal(cfg.key, "tls/server.key");
	assert_string_equal(cfg.client_ca, "");
	assert_int_equal(cfg.client_certs, TLS_CLIENT_OFF);
	assert_int_equal(cfg.mac_from, TLS_MAC_FROM_ANY);
	assert_int_equal(cfg.session_timeout_s, 300);
}

/* ---- a PKI in a temporary directory ---- */

struct pki {
	char dir[64];
	EVP_PKEY *ca_key, *other_key, *server_key, *dev_key;
	X509 *ca, *other_ca, *server;
	X509 *dev_good, *dev_san, *dev_expired, *dev_foreign;
};

static struct pki pki;

static void write_pem(const char *name, X509 *cert, EVP_PKEY *key)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki.dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	if (cert)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki.dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static const char *const pki_files[] = {
	"ca.pem",    "other-ca.pem", "cas.pem",	    "server.pem", "server.key", "chain.pem",
	"other.key", "locked.key",   "garbage.pem", "empty.pem",  NULL,
};

static int pki_setup(void **state)
{
	FILE *f;
	char path[128];

	(void)state;
	str_copy(pki.dir, sizeof(pki.dir), "/tmp/test_tls.XXXXXX");
	assert_non_null(mkdtemp(pki.dir));
	pki.ca_key = make_key();
	pki.other_key = make_key();
	pki.server_key = make_key();
	pki.dev_key = make_key();
	pki.ca = make_cert(pki.ca_key, "test CA", NULL, NULL, NULL, -1, 3650, true);
	pki.other_ca = make_cert(pki.other_key, "unknown CA", NULL, NULL, NULL, -1, 3650, true);
	pki.server = make_cert(pki.server_key, "localhost", "DNS:localhost,IP:127.0.0.1", pki.ca,
			       pki.ca_key, -1, 365, false);
	pki.dev_good =
		make_cert(pki.dev_key, "SEP0004F2123456", NULL, pki.ca, pki.ca_key, -1, 365, false);
	pki.dev_san = make_cert(pki.dev_key, "phone\x01\n", "URI:urn:dev:mac:0004f2abcdef", pki.ca,
				pki.ca_key, -1, 365, false);
	pki.dev_expired =
		make_cert(pki.dev_key, "0004f2123456", NULL, pki.ca, pki.ca_key, -400, -35, false);
	pki.dev_foreign = make_cert(pki.dev_key, "0004f2123456", NULL, pki.other_ca, pki.other_key,
				    -1, 365, false);
	write_pem("ca.pem", pki.ca, NULL);
	write_pem("other-ca.pem", pki.other_ca, NULL);
	write_pem("server.pem", pki.server, NULL);
	write_pem("server.key", NULL, pki.server_key);
	write_pem("other.key", NULL, pki.other_key);
	snprintf(path, sizeof(path), "%s/locked.key", pki.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pki.server_key, EVP_aes_128_cbc(), NULL, 0, NULL,
					      (void *)"secret"),
			 1);
	fclose(f);
	write_text("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
				  "-----END CERTIFICATE-----\n");
	write_text("empty.pem", "");
	/* one file with both CAs, and a server chain with the CA after the leaf */
	snprintf(path, sizeof(path), "%s/cas.pem", pki.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_X509(f, pki.other_ca);
	PEM_write_X509(f, pki.ca);
	fclose(f);
	snprintf(path, sizeof(path), "%s/chain.pem", pki.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_X509(f, pki.server);
	PEM_write_X509(f, pki.ca);
	fclose(f);
	return 0;
}

static int pki_teardown(void **state)
{
	char path[128];

	(void)state;
	for (int i = 0; pki_files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", pki.dir, pki_files[i]);
		unlink(path);
	}
	rmdir(pki.dir);
	EVP_PKEY_free(pki.ca_key);
	EVP_PKEY_free(pki.other_key);
	EVP_PKEY_free(pki.server_key);
	EVP_PKEY_free(pki.dev_key);
	X509_free(pki.ca);
	X509_free(pki.other_ca);
	X509_free(pki.server);
	X509_free(pki.dev_good);
	X509_free(pki.dev_san);
	X509_free(pki.dev_expired);
	X509_free(pki.dev_foreign);
	return 0;
}

static void config(struct tls_config *cfg, const char *cert, const char *key,
		   enum tls_client_certs cc, const char *ca)
{
	tls_config_default(cfg);
	str_copy(cfg->certificate, sizeof(cfg->certificate), cert);
	str_copy(cfg->key, sizeof(cfg->key), key);
	str_copy(cfg->client_ca, sizeof(cfg->client_ca), ca);
	cfg->client_certs = cc;
}

/* tls_server_ctx_new fails with -EINVAL and a reason that contains each of the words. */
static void assert_ctx_fails(const struct tls_config *cfg, const char *base, const char *word1,
			     const char *word2)
{
	SSL_CTX *ctx = (SSL_CTX *)0x1;
	char err[512] = "";

	assert_int_equal(tls_server_ctx_new(cfg, base, &ctx, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(ctx, (SSL_CTX *)0x1);
	if (!strstr(err, word1) || (word2 && !strstr(err, word2)))
		fail_msg("reason '%s' lacks '%s' / '%s'", err, word1, word2 ? word2 : "");
	assert_non_null(strstr(err, "tls: "));
	assert_null(strchr(err, '\n'));
	assert_int_equal(ERR_peek_error(), 0); /* nothing left queued for the next caller */
}

static void test_ctx_errors(void **state)
{
	struct tls_config cfg;
	char abs_path[256];

	(void)state;
	config(&cfg, "missing.pem", "server.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "missing.pem: ", "No such file");
	config(&cfg, "server.pem", "missing.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "/missing.key: ", "No such file");
	config(&cfg, "server.pem", "other.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "certificate and key do not match", "other.key");
	/* an encrypted key is refused, without asking for a passphrase on the terminal */
	config(&cfg, "server.pem", "locked.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "locked.key: private key: encrypted", NULL);
	config(&cfg, "garbage.pem", "server.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "garbage.pem: ", NULL);
	config(&cfg, "empty.pem", "server.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "empty.pem: ", "no PEM certificate found");
	config(&cfg, "server.pem", "empty.pem", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "empty.pem: ", "no PEM private key found");
	config(&cfg, "server.key", "server.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "server.key: ", "no PEM certificate found");
	config(&cfg, "server.pem", "server.pem", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, pki.dir, "server.pem: ", "no PEM private key found");
	/* client certificates without a CA file, with a missing one, an empty one */
	config(&cfg, "server.pem", "server.key", TLS_CLIENT_REQUIRED, "");
	assert_ctx_fails(&cfg, pki.dir, "client_ca", NULL);
	config(&cfg, "server.pem", "server.key", TLS_CLIENT_OPTIONAL, "");
	assert_ctx_fails(&cfg, pki.dir, "client_ca", NULL);
	config(&cfg, "server.pem", "server.key", TLS_CLIENT_REQUIRED, "devices.pem");
	assert_ctx_fails(&cfg, pki.dir, "devices.pem: ", "No such file");
	config(&cfg, "server.pem", "server.key", TLS_CLIENT_REQUIRED, "empty.pem");
	assert_ctx_fails(&cfg, pki.dir, "empty.pem: ", NULL);
	/* an absolute path is not taken below the base directory */
	snprintf(abs_path, sizeof(abs_path), "%s/nope.pem", pki.dir);
	config(&cfg, abs_path, "server.key", TLS_CLIENT_OFF, "");
	assert_ctx_fails(&cfg, "/elsewhere", abs_path, NULL);
}

static void test_ctx_ok(void **state)
{
	struct tls_config cfg;
	SSL_CTX *ctx = NULL;
	char err[512] = "untouched", abs_cert[256], abs_key[256];

	(void)state;
	config(&cfg, "server.pem", "server.key", TLS_CLIENT_OFF, "");
	assert_int_equal(tls_server_ctx_new(&cfg, pki.dir, &ctx, err, sizeof(err)), 0);
	assert_non_null(ctx);
	assert_string_equal(err, "untouched");
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	assert_int_equal(SSL_CTX_get_timeout(ctx), 300);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_false(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_ENABLE_PARTIAL_WRITE);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	assert_true(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_free(ctx);

	/* absolute paths, a chain file, a CA file with two CAs */
	snprintf(abs_cert, sizeof(abs_cert), "%s/chain.pem", pki.dir);
	snprintf(abs_key, sizeof(abs_key), "%s/server.key", pki.dir);
	config(&cfg, abs_cert, abs_key, TLS_CLIENT_REQUIRED, "cas.pem");
	cfg.session_timeout_s = 60;
	ctx = NULL;
	assert_int_equal(tls_server_ctx_new(&cfg, pki.dir, &ctx, err, sizeof(err)), 0);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER |
							       SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
							       SSL_VERIFY_CLIENT_ONCE);
	assert_int_equal(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx)), 2);
	assert_int_equal(SSL_CTX_get_timeout(ctx), 60);
	SSL_CTX_free(ctx);

	config(&cfg, "server.pem", "server.key", TLS_CLIENT_OPTIONAL, "ca.pem");
	ctx = NULL;
	assert_int_equal(tls_server_ctx_new(&cfg, pki.dir, &ctx, err, sizeof(err)), 0);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE);
	SSL_CTX_free(ctx);
}

/* ---- handshakes over a BIO pair ---- */

static SSL_CTX *server_ctx(enum tls_client_certs cc)
{
	struct tls_config cfg;
	SSL_CTX *ctx = NULL;
	char err[512];

	config(&cfg, "chain.pem", "server.key", cc, cc == TLS_CLIENT_OFF ? "" : "ca.pem");
	if (tls_server_ctx_new(&cfg, pki.dir, &ctx, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return ctx;
}

/* A client context limited to version (0: any), presenting cert (NULL: none). */
static SSL_CTX *client_ctx(int version, X509 *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	if (version) {
		/* let the client offer old versions, so it is the server that says no */
		assert_int_equal(SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0"), 1);
		SSL_CTX_set_min_proto_version(ctx, version);
		SSL_CTX_set_max_proto_version(ctx, version);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	if (cert) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, pki.dev_key), 1);
	}
	return ctx;
}

struct conn {
	SSL *client, *server;
	int client_ok, server_ok; /* 1 done, -1 failed */
};

/*
 * Runs a handshake to its end, then lets the client read what the server sent after it
 * (TLS 1.3 tickets, or the alert for a client certificate the server refused).
 */
static void handshake(struct conn *c, SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *resume)
{
	BIO *cbio, *sbio;
	char buf[16];

	memset(c, 0, sizeof(*c));
	c->client = SSL_new(cctx);
	c->server = SSL_new(sctx);
	assert_non_null(c->client);
	assert_non_null(c->server);
	assert_int_equal(BIO_new_bio_pair(&cbio, 0, &sbio, 0), 1);
	SSL_set_bio(c->client, cbio, cbio);
	SSL_set_bio(c->server, sbio, sbio);
	SSL_set_connect_state(c->client);
	SSL_set_accept_state(c->server);
	if (resume)
		assert_int_equal(SSL_set_session(c->client, resume), 1);
	for (int round = 0; round < 20 && (!c->client_ok || !c->server_ok); round++) {
		int r;

		if (!c->client_ok) {
			r = SSL_do_handshake(c->client);
			if (r == 1)
				c->client_ok = 1;
			else if (SSL_get_error(c->client, r) != SSL_ERROR_WANT_READ)
				c->client_ok = -1;
		}
		if (!c->server_ok) {
			r = SSL_do_handshake(c->server);
			if (r == 1)
				c->server_ok = 1;
			else if (SSL_get_error(c->server, r) != SSL_ERROR_WANT_READ)
				c->server_ok = -1;
		}
		if (c->client_ok < 0 || c->server_ok < 0)
			break;
	}
	if (c->server_ok < 0 && c->client_ok >= 0) {
		/* the client reads the server's alert, in the handshake or just after it */
		if (c->client_ok == 0)
			c->client_ok = SSL_do_handshake(c->client) == 1 ? 1 : -1;
		if (c->client_ok == 1 && SSL_read(c->client, buf, sizeof(buf)) <= 0)
			c->client_ok = -1;
	}
	if (c->client_ok == 1 && c->server_ok == 1) {
		assert_int_equal(SSL_write(c->server, "ok", 2), 2);
		assert_int_equal(SSL_read(c->client, buf, sizeof(buf)), 2);
	}
	ERR_clear_error();
}

/*
 * Closes with close_notify both ways. Without SSL_shutdown, SSL_free takes the session for a
 * bad one and drops it from the server's cache: no TLS 1.2 resumption by session id.
 */
static void conn_done(struct conn *c)
{
	if (c->client_ok == 1 && c->server_ok == 1) {
		SSL_shutdown(c->client);
		SSL_shutdown(c->server);
	}
	SSL_free(c->client);
	SSL_free(c->server);
}

static void test_versions(void **state)
{
	SSL_CTX *sctx = server_ctx(TLS_CLIENT_OFF);
	static const struct {
		int version;
		int ok;
	} cases[] = {
		{ TLS1_VERSION, -1 },
		{ TLS1_1_VERSION, -1 },
		{ TLS1_2_VERSION, 1 },
		{ TLS1_3_VERSION, 1 },
		{ 0, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL_CTX *cctx = client_ctx(cases[i].version, NULL);
		struct conn c;

		handshake(&c, cctx, sctx, NULL);
		if (c.server_ok != cases[i].ok)
			fail_msg("version %#x: server %d, expected %d", cases[i].version,
				 c.server_ok, cases[i].ok);
		if (cases[i].ok == 1) {
			assert_int_equal(SSL_version(c.server),
					 cases[i].version ? cases[i].version : TLS1_3_VERSION);
			/* no client certificate asked for: no identity */
			struct tls_identity id;

			memset(&id, 0x55, sizeof(id));
			tls_peer_identity(c.server, TLS_MAC_FROM_ANY, &id);
			assert_false(id.has_cert);
			assert_string_equal(id.mac, "");
			assert_string_equal(id.fingerprint, "");
			assert_string_equal(id.subject, "");
		}
		conn_done(&c);
		SSL_CTX_free(cctx);
	}
	SSL_CTX_free(sctx);
}

static void fingerprint(X509 *cert, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;

	assert_int_equal(X509_digest(cert, EVP_sha256(), md, &len), 1);
	assert_int_equal(len, 32);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The server's handshake outcome for a client presenting cert, and the identity it saw. */
static int client_cert_case(enum tls_client_certs cc, int version, X509 *cert,
			    struct tls_identity *id)
{
	SSL_CTX *sctx = server_ctx(cc), *cctx = client_ctx(version, cert);
	struct conn c;
	int ok;

	handshake(&c, cctx, sctx, NULL);
	ok = c.server_ok;
	memset(id, 0x55, sizeof(*id));
	tls_peer_identity(c.server, TLS_MAC_FROM_ANY, id);
	if (ok == 1)
		assert_int_equal(c.client_ok, 1);
	else
		assert_int_equal(c.client_ok, -1); /* the client learns it was refused */
	conn_done(&c);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return ok;
}

static void test_client_certs(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	struct tls_identity id;
	char fp[65];

	(void)state;
	for (size_t v = 0; v < 2; v++) {
		int ver = versions[v];

		/* required */
		assert_int_equal(client_cert_case(TLS_CLIENT_REQUIRED, ver, NULL, &id), -1);
		assert_false(id.has_cert);
		assert_int_equal(client_cert_case(TLS_CLIENT_REQUIRED, ver, pki.dev_expired, &id),
				 -1);
		assert_false(id.has_cert);
		assert_int_equal(client_cert_case(TLS_CLIENT_REQUIRED, ver, pki.dev_foreign, &id),
				 -1);
		assert_false(id.has_cert);
		assert_int_equal(client_cert_case(TLS_CLIENT_REQUIRED, ver, pki.dev_good, &id), 1);
		assert_true(id.has_cert);
		assert_string_equal(id.mac, "0004f2123456");
		fingerprint(pki.dev_good, fp);
		assert_string_equal(id.fingerprint, fp);
		assert_string_equal(id.subject, "/CN=SEP0004F2123456");

		/* optional: none is fine, a bad one is not */
		assert_int_equal(client_cert_case(TLS_CLIENT_OPTIONAL, ver, NULL, &id), 1);
		assert_false(id.has_cert);
		assert_string_equal(id.mac, "");
		assert_string_equal(id.fingerprint, "");
		assert_int_equal(client_cert_case(TLS_CLIENT_OPTIONAL, ver, pki.dev_expired, &id),
				 -1);
		assert_int_equal(client_cert_case(TLS_CLIENT_OPTIONAL, ver, pki.dev_foreign, &id),
				 -1);
		assert_int_equal(client_cert_case(TLS_CLIENT_OPTIONAL, ver, pki.dev_san, &id), 1);
		assert_true(id.has_cert);
		assert_string_equal(id.mac, "0004f2abcdef");
		/* control characters in the subject do not reach the log line */
		for (const char *p = id.subject; *p; p++)
			assert_true((unsigned char)*p >= ' ' && *p != 0x7f);
		assert_non_null(strstr(id.subject, "/CN=phone"));

		/* off: a certificate is not even asked for */
		assert_int_equal(client_cert_case(TLS_CLIENT_OFF, ver, pki.dev_good, &id), 1);
		assert_false(id.has_cert);
	}
}

/* A second connection resumes the first's session, and the identity comes with it. */
static void resume_case(int version, bool tickets, X509 *cert)
{
	SSL_CTX *sctx = server_ctx(cert ? TLS_CLIENT_REQUIRED : TLS_CLIENT_OFF);
	SSL_CTX *cctx = client_ctx(version, cert);
	SSL_SESSION *sess;
	struct tls_identity id;
	struct conn c;

	if (!tickets)
		SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
	handshake(&c, cctx, sctx, NULL);
	assert_int_equal(c.server_ok, 1);
	assert_false(SSL_session_reused(c.client));
	sess = SSL_get1_session(c.client);
	assert_non_null(sess);
	assert_true(SSL_SESSION_is_resumable(sess));
	if (version == TLS1_2_VERSION)
		assert_int_equal(SSL_SESSION_has_ticket(sess), tickets);
	conn_done(&c);

	handshake(&c, cctx, sctx, sess);
	assert_int_equal(c.server_ok, 1);
	if (!SSL_session_reused(c.client))
		fail_msg("version %#x tickets %d: not resumed", version, tickets);
	assert_true(SSL_session_reused(c.server));
	tls_peer_identity(c.server, TLS_MAC_FROM_ANY, &id);
	assert_int_equal(id.has_cert, cert != NULL);
	if (cert)
		assert_string_equal(id.mac, "0004f2123456");
	conn_done(&c);
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_resumption(void **state)
{
	(void)state;
	resume_case(TLS1_2_VERSION, false, NULL); /* session id, server cache */
	resume_case(TLS1_2_VERSION, true, NULL);
	resume_case(TLS1_3_VERSION, true, NULL);
	resume_case(TLS1_2_VERSION, false, pki.dev_good);
	resume_case(TLS1_2_VERSION, true, pki.dev_good);
	resume_case(TLS1_3_VERSION, true, pki.dev_good);
}

int main(void)
{
	const struct CMUnitTest mac_tests[] = {
		cmocka_unit_test(test_cn_bare),		 cmocka_unit_test(test_cn_decorated),
		cmocka_unit_test(test_cn_no_mac),	 cmocka_unit_test(test_cn_ambiguous),
		cmocka_unit_test(test_san_forms),	 cmocka_unit_test(test_from),
		cmocka_unit_test(test_other_attributes), cmocka_unit_test(test_parsers),
	};
	const struct CMUnitTest ctx_tests[] = {
		cmocka_unit_test(test_ctx_errors), cmocka_unit_test(test_ctx_ok),
		cmocka_unit_test(test_versions),   cmocka_unit_test(test_client_certs),
		cmocka_unit_test(test_resumption),
	};
	int failed = cmocka_run_group_tests_name("tls_mac", mac_tests, mac_setup, mac_teardown);

	return failed + cmocka_run_group_tests_name("tls_ctx", ctx_tests, pki_setup, pki_teardown);
}
