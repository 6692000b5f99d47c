// SPDX-License-Identifier: MIT
/* The configuration table of autoprov.conf (docs/configuration.md lists every key). */
#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/path.h"
#include "core/str.h"

void server_config_default(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	site_options_default(&cfg->site);
	tftp_config_default(&cfg->tftp);
	http_config_default(&cfg->http);
	ftp_config_default(&cfg->ftp);
	sip_config_default(&cfg->sip);
	admin_config_default(&cfg->admin);
	str_copy(cfg->user, sizeof(cfg->user), "autoprov");
	cfg->workers = 1;
}

int server_config_parse_workers(const char *value, unsigned *ret)
{
	char *end;
	unsigned long n;

	if (strcmp(value, "auto") == 0) {
		*ret = 0;
		return 0;
	}
	if (value[0] < '0' || value[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoul(value, &end, 10);
	if (errno || *end || n < 1 || n > SERVER_WORKERS_MAX)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

unsigned server_config_workers(const struct server_config *cfg)
{
	long n;

	if (cfg->workers)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > SERVER_WORKERS_MAX ? SERVER_WORKERS_MAX : (unsigned)n;
}

int server_config_parse_listen(const char *value, bool *ret_enabled, struct addr *ret)
{
	if (strcmp(value, "off") == 0) {
		*ret_enabled = false;
		return 0;
	}
	if (addr_parse(value, ret) < 0)
		return -EINVAL;
	*ret_enabled = true;
	return 0;
}

/* Its field is the whole tftp_config: "off" clears enabled, an address sets it. */
static int parse_tftp_listen(void *field, const char *value, char *err, size_t errsz)
{
	struct tftp_config *tftp = field;

	if (server_config_parse_listen(value, &tftp->enabled, &tftp->listen) < 0) {
		snprintf(err, errsz, "'%s' is not ADDR:PORT (127.0.0.1:69, [::]:69) or off", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_http_listen(void *field, const char *value, char *err, size_t errsz)
{
	struct http_config *http = field;

	if (server_config_parse_listen(value, &http->enabled, &http->listen) < 0) {
		snprintf(err, errsz, "'%s' is not ADDR:PORT (127.0.0.1:80, [::]:80) or off", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_prefix(void *field, const char *value, char *err, size_t errsz)
{
	char norm[sizeof(((struct tftp_config *)0)->prefix)];
	int r;

	if (value[0] == '\0') {
		((char *)field)[0] = '\0';
		return 0;
	}
	r = path_normalise(value, strlen(value), NULL, sizeof(norm) - 1, norm, sizeof(norm));
	if (r < 0) {
		snprintf(err, errsz, "'%s' is not a directory name below the site", value);
		return -EINVAL;
	}
	memcpy(field, norm, strlen(norm) + 1);
	return 0;
}

static int parse_node(void *field, const char *value, char *err, size_t errsz)
{
	const char *why;

	if (site_check_node_name(value, &why) < 0) {
		snprintf(err, errsz, "'%s' is not a node name: %s", value, why);
		return -EINVAL;
	}
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

/* [store] url: a PostgreSQL connection URI ("" keeps the site's SQLite file). */
static int parse_store_url(void *field, const char *value, char *err, size_t errsz)
{
	size_t size = sizeof(((struct site_options *)0)->store_url);
	char shown[256];

	if (value[0] != '\0' && !site_store_url_is_pg(value)) {
		snprintf(err, errsz, "'%s' is not a PostgreSQL URI (postgresql://...)",
			 site_redact_store_url(value, shown, sizeof(shown)));
		return -EINVAL;
	}
	if (strlen(value) >= size) {
		snprintf(err, errsz, "the URI is longer than %zu bytes", size - 1);
		return -EINVAL;
	}
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

/* Each line adds a user: the field is the whole auth_config. */
static int parse_auth_user(void *field, const char *value, char *err, size_t errsz)
{
	return auth_config_add_user(field, value, err, errsz);
}

static int parse_https_listen(void *field, const char *value, char *err, size_t errsz)
{
	struct http_config *http = field;

	if (server_config_parse_listen(value, &http->https_enabled, &http->https_listen) < 0) {
		snprintf(err, errsz, "'%s' is not ADDR:PORT (127.0.0.1:443, [::]:443) or off", value);
		return -EINVAL;
	}
	return 0;
}

/* An enumerated value: parse() maps the name, names lists them for the error. */
#define ENUM_PARSER(fn, type, parse, names)                                                        \
	static int fn(void *field, const char *value, char *err, size_t errsz)                   \
	{                                                                                          \
		if (parse(value, (type *)field) < 0) {                                             \
			snprintf(err, errsz, "'%s' is not one of: %s", value, names);              \
			return -EINVAL;                                                            \
		}                                                                                  \
		return 0;                                                                          \
	}

ENUM_PARSER(parse_auth_mode, enum http_login_mode, http_parse_login_mode, "off basic digest any")
ENUM_PARSER(parse_ua_policy, enum http_ua_policy, http_parse_ua_policy, "record deny-mismatch")
ENUM_PARSER(parse_cert_binding, enum http_cert_binding, http_parse_cert_binding,
	    "off first-use required")
ENUM_PARSER(parse_client_certs, enum tls_client_certs, tls_parse_client_certs,
	    "off optional required")
ENUM_PARSER(parse_mac_from, enum tls_mac_from, tls_parse_mac_from, "any cn san")
ENUM_PARSER(parse_tftp_device_files, enum tftp_device_files, tftp_parse_device_files, "allow deny")

/* The field is the whole http_config. */
static int parse_digest_algorithms(void *field, const char *value, char *err, size_t errsz)
{
	if (http_parse_digest_algorithms(value, field) < 0) {
		snprintf(err, errsz,
			 "'%s' is not a list of up to 4 of MD5 MD5-sess SHA-256 SHA-256-sess", value);
		return -EINVAL;
	}
	return 0;
}

/* The field is the whole ftp_config: "off" clears enabled, an address sets it. */
static int parse_ftp_listen(void *field, const char *value, char *err, size_t errsz)
{
	struct ftp_config *ftp = field;

	if (server_config_parse_listen(value, &ftp->enabled, &ftp->listen) < 0) {
		snprintf(err, errsz, "'%s' is not ADDR:PORT (127.0.0.1:21, [::]:21) or off", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_ftp_passive_ports(void *field, const char *value, char *err, size_t errsz)
{
	struct ftp_config *ftp = field;

	if (ftp_parse_passive_ports(value, &ftp->passive_min, &ftp->passive_max) < 0) {
		snprintf(err, errsz, "'%s' is not a port range (50000-50100, 1024 up) or 0", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_ftp_tls(void *field, const char *value, char *err, size_t errsz)
{
	if (ftp_parse_tls_mode(value, field) < 0) {
		snprintf(err, errsz, "'%s' is not one of: off on required", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_ftp_passive_address(void *field, const char *value, char *err, size_t errsz)
{
	struct ftp_config *ftp = field;

	ftp->has_passive_address = value[0] != '\0';
	if (ftp->has_passive_address && inet_pton(AF_INET, value, &ftp->passive_address) != 1) {
		snprintf(err, errsz, "'%s' is not an IPv4 address", value);
		return -EINVAL;
	}
	return 0;
}

/* The field is the whole sip_config: "off" clears enabled, an address sets it. */
static int parse_admin_listen(void *field, const char *value, char *err, size_t errsz)
{
	struct admin_config *admin = field;

	if (server_config_parse_listen(value, &admin->enabled, &admin->listen) < 0) {
		snprintf(err, errsz, "'%s' is not ADDR:PORT (127.0.0.1:8080) or off", value);
		return -EINVAL;
	}
	return 0;
}

/* [admin] metrics: open (no token) or token. */
static int parse_admin_metrics(void *field, const char *value, char *err, size_t errsz)
{
	bool *open = field;

	if (strcmp(value, "open") == 0 || strcmp(value, "token") == 0) {
		*open = value[0] == 'o';
		return 0;
	}
	snprintf(err, errsz, "'%s' is not open or token", value);
	return -EINVAL;
}

static int parse_sip_listen(void *field, const char *value, char *err, size_t errsz)
{
	struct sip_config *sip = field;

	if (server_config_parse_listen(value, &sip->enabled, &sip->listen) < 0) {
		snprintf(err, errsz, "'%s' is not ADDR:PORT (0.0.0.0:5060) or off", value);
		return -EINVAL;
	}
	return 0;
}

ENUM_PARSER(parse_sip_answer, enum sip_answer, sip_parse_answer, "all known oui")

/* Each line adds OUIs: the field is the whole sip_config. */
static int parse_sip_oui(void *field, const char *value, char *err, size_t errsz)
{
	int r = sip_config_add_oui(field, value);

	if (r == -E2BIG)
		snprintf(err, errsz, "more than %d OUIs", SIP_OUI_MAX);
	else if (r < 0)
		snprintf(err, errsz, "'%s' is not a list of OUIs (0004F2 00:30:4f ...)", value);
	return r;
}

/* Each line adds a rule "VENDOR[/MODEL] URL": the field is the whole sip_config. */
static int parse_sip_url_for(void *field, const char *value, char *err, size_t errsz)
{
	int r = sip_config_add_url_rule(field, value);

	if (r == -E2BIG)
		snprintf(err, errsz, "more than %d url_for lines", SIP_URL_RULES_MAX);
	else if (r < 0)
		snprintf(err, errsz, "'%s' is not VENDOR[/MODEL] URL", value);
	return r;
}

/* A login name (useradd's characters): never empty, never a path or an option. */
static int parse_user(void *field, const char *value, char *err, size_t errsz)
{
	size_t n = strlen(value);

	if (n == 0 || n >= sizeof(((struct server_config *)0)->user) || value[0] == '-' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-$") != n) {
		snprintf(err, errsz, "'%s' is not a user name (autoprov, nobody, root)", value);
		return -EINVAL;
	}
	memcpy(field, value, n + 1);
	return 0;
}

static int parse_workers(void *field, const char *value, char *err, size_t errsz)
{
	if (server_config_parse_workers(value, field) == 0)
		return 0;
	snprintf(err, errsz, "'%s' is not a number of workers (1 to %d) or auto", value,
		 SERVER_WORKERS_MAX);
	return -EINVAL;
}

/* Each line adds ranges: the field is the whole defence_config. */
static int parse_defence_trusted(void *field, const char *value, char *err, size_t errsz)
{
	int r = defence_config_add_trusted(field, value);

	if (r == -E2BIG)
		snprintf(err, errsz, "more than %d trusted ranges", DEFENCE_TRUSTED_MAX);
	else if (r < 0)
		snprintf(err, errsz, "'%s' is not a list of CIDR ranges (10.0.0.0/8 2001:db8::/32)",
			 value);
	return r;
}

#define SITE(k) offsetof(struct server_config, site.k)
#define TFTP(k) offsetof(struct server_config, tftp.k)
#define HTTP(k) offsetof(struct server_config, http.k)
#define FTP(k)	offsetof(struct server_config, ftp.k)
#define SIP(k)	offsetof(struct server_config, sip.k)
#define ADMIN(k) offsetof(struct server_config, admin.k)

static const struct conf_key config_keys[] = {
	{ "server", "cache_size", CONF_SIZE, SITE(cache_size), sizeof(uint64_t), 0, 1ull << 40,
	  NULL },
	{ "server", "max_file_size", CONF_SIZE, SITE(max_file_size), sizeof(uint64_t), 0,
	  1ull << 40, NULL },
	{ "server", "device_cache", CONF_UINT, SITE(device_cache), sizeof(unsigned), 1, 10000000,
	  NULL },
	{ "server", "max_name_length", CONF_UINT, SITE(max_name_length), sizeof(unsigned), 1, 4000,
	  NULL },
	{ "server", "md5_extensions", CONF_STRING, SITE(md5_extensions),
	  sizeof(((struct site_options *)0)->md5_extensions), 0, 0, NULL },
	{ "server", "user", CONF_CUSTOM, offsetof(struct server_config, user), 0, 0, 0,
	  parse_user },
	{ "server", "workers", CONF_CUSTOM, offsetof(struct server_config, workers), 0, 0, 0,
	  parse_workers },
	{ "server", "node", CONF_CUSTOM, SITE(node), 0, 0, 0, parse_node },
	{ "templates", "escape_html", CONF_BOOL, SITE(escape_html), sizeof(bool), 0, 0, NULL },
	{ "auth", "user", CONF_CUSTOM, SITE(auth), 0, 0, 0, parse_auth_user },
	{ "auth", "failure_delay", CONF_UINT, SITE(auth.failure_delay_ms), sizeof(unsigned), 0,
	  600000, NULL },
	{ "auth", "max_failure_delay", CONF_UINT, SITE(auth.max_failure_delay_ms),
	  sizeof(unsigned), 0, 600000, NULL },
	{ "auth", "guess_interval", CONF_UINT, SITE(auth.guess_interval_ms), sizeof(unsigned), 0,
	  60000, NULL },
	{ "defence", "enabled", CONF_BOOL, SITE(defence.enabled), sizeof(bool), 0, 0, NULL },
	{ "defence", "max_misses", CONF_UINT, SITE(defence.max_misses), sizeof(unsigned), 1,
	  1000000, NULL },
	{ "defence", "prefix_max_misses", CONF_UINT, SITE(defence.prefix_max_misses),
	  sizeof(unsigned), 1, 1000000, NULL },
	{ "defence", "trusted_max_misses", CONF_UINT, SITE(defence.trusted_max_misses),
	  sizeof(unsigned), 1, 1000000, NULL },
	{ "defence", "miss_window", CONF_UINT, SITE(defence.miss_window_s), sizeof(unsigned), 1,
	  86400, NULL },
	{ "defence", "block_time", CONF_UINT, SITE(defence.block_time_s), sizeof(unsigned), 1,
	  86400, NULL },
	{ "defence", "prefix_v4", CONF_UINT, SITE(defence.prefix_v4), sizeof(unsigned), 8, 32,
	  NULL },
	{ "defence", "prefix_v6", CONF_UINT, SITE(defence.prefix_v6), sizeof(unsigned), 16, 128,
	  NULL },
	{ "defence", "trusted", CONF_CUSTOM, SITE(defence), 0, 0, 0, parse_defence_trusted },
	{ "store", "url", CONF_CUSTOM, SITE(store_url), 0, 0, 0, parse_store_url },
	{ "journal", "max_age_days", CONF_UINT, SITE(journal.max_age_days), sizeof(unsigned), 0,
	  36500, NULL },
	{ "journal", "max_rows", CONF_UINT, SITE(journal.max_rows), sizeof(uint64_t), 0,
	  1000000000000ull, NULL },
	{ "journal", "miss_rows", CONF_UINT, SITE(journal.miss_rows), sizeof(unsigned), 0,
	  1000000, NULL },
	{ "journal", "miss_window", CONF_UINT, SITE(journal.miss_window), sizeof(unsigned), 1,
	  86400, NULL },
	{ "http", "listen", CONF_CUSTOM, offsetof(struct server_config, http), 0, 0, 0,
	  parse_http_listen },
	{ "http", "prefix", CONF_CUSTOM, HTTP(prefix), 0, 0, 0, parse_prefix },
	{ "http", "timeout", CONF_UINT, HTTP(timeout_s), sizeof(unsigned), 1, 3600, NULL },
	{ "http", "max_header_size", CONF_UINT, HTTP(max_header_size), sizeof(unsigned), 1024,
	  1048576, NULL },
	{ "http", "header_timeout", CONF_UINT, HTTP(header_timeout_s), sizeof(unsigned), 1, 3600,
	  NULL },
	{ "http", "max_uri_length", CONF_UINT, HTTP(max_uri_length), sizeof(unsigned), 64, 65536,
	  NULL },
	{ "http", "max_connections", CONF_UINT, HTTP(max_connections), sizeof(unsigned), 1,
	  1000000, NULL },
	{ "http", "max_connections_per_peer", CONF_UINT, HTTP(max_connections_per_peer),
	  sizeof(unsigned), 1, 1000000, NULL },
	{ "http", "max_connections_per_prefix", CONF_UINT, HTTP(max_connections_per_prefix),
	  sizeof(unsigned), 1, 1000000, NULL },
	{ "http", "auth", CONF_CUSTOM, HTTP(auth), 0, 0, 0, parse_auth_mode },
	{ "http", "realm", CONF_STRING, HTTP(realm), sizeof(((struct http_config *)0)->realm), 0,
	  0, NULL },
	{ "http", "digest_algorithms", CONF_CUSTOM, offsetof(struct server_config, http), 0, 0, 0,
	  parse_digest_algorithms },
	{ "http", "nonce_lifetime", CONF_UINT, HTTP(nonce_lifetime_s), sizeof(unsigned), 1, 86400,
	  NULL },
	{ "http", "user_agent", CONF_CUSTOM, HTTP(user_agent), 0, 0, 0, parse_ua_policy },
	{ "http", "redirect_url", CONF_STRING, HTTP(redirect_url),
	  sizeof(((struct http_config *)0)->redirect_url), 0, 0, NULL },
	{ "https", "listen", CONF_CUSTOM, offsetof(struct server_config, http), 0, 0, 0,
	  parse_https_listen },
	{ "https", "certificate", CONF_STRING, HTTP(tls.certificate),
	  sizeof(((struct tls_config *)0)->certificate), 0, 0, NULL },
	{ "https", "key", CONF_STRING, HTTP(tls.key), sizeof(((struct tls_config *)0)->key), 0, 0,
	  NULL },
	{ "https", "client_certificates", CONF_CUSTOM, HTTP(tls.client_certs), 0, 0, 0,
	  parse_client_certs },
	{ "https", "client_ca", CONF_STRING, HTTP(tls.client_ca),
	  sizeof(((struct tls_config *)0)->client_ca), 0, 0, NULL },
	{ "https", "client_mac_from", CONF_CUSTOM, HTTP(tls.mac_from), 0, 0, 0, parse_mac_from },
	{ "https", "client_binding", CONF_CUSTOM, HTTP(cert_binding), 0, 0, 0, parse_cert_binding },
	{ "https", "session_timeout", CONF_UINT, HTTP(tls.session_timeout_s), sizeof(unsigned), 1,
	  86400, NULL },
	{ "https", "max_handshakes", CONF_UINT, HTTP(max_handshakes), sizeof(unsigned), 1, 1000000,
	  NULL },
	{ "ftp", "listen", CONF_CUSTOM, offsetof(struct server_config, ftp), 0, 0, 0,
	  parse_ftp_listen },
	{ "ftp", "passive_ports", CONF_CUSTOM, offsetof(struct server_config, ftp), 0, 0, 0,
	  parse_ftp_passive_ports },
	{ "ftp", "passive_address", CONF_CUSTOM, offsetof(struct server_config, ftp), 0, 0, 0,
	  parse_ftp_passive_address },
	{ "ftp", "active", CONF_BOOL, FTP(active), sizeof(bool), 0, 0, NULL },
	{ "ftp", "anonymous", CONF_BOOL, FTP(anonymous), sizeof(bool), 0, 0, NULL },
	{ "ftp", "max_sessions", CONF_UINT, FTP(max_sessions), sizeof(unsigned), 1, 1000000, NULL },
	{ "ftp", "max_sessions_per_peer", CONF_UINT, FTP(max_sessions_per_peer), sizeof(unsigned),
	  1, 1000000, NULL },
	{ "ftp", "max_sessions_per_prefix", CONF_UINT, FTP(max_sessions_per_prefix),
	  sizeof(unsigned), 1, 1000000, NULL },
	{ "ftp", "max_command_length", CONF_UINT, FTP(max_command_length), sizeof(unsigned), 64,
	  8192, NULL },
	{ "ftp", "max_login_failures", CONF_UINT, FTP(max_login_failures), sizeof(unsigned), 1, 100,
	  NULL },
	{ "ftp", "login_timeout", CONF_UINT, FTP(login_timeout_s), sizeof(unsigned), 1, 3600,
	  NULL },
	{ "ftp", "idle_timeout", CONF_UINT, FTP(idle_timeout_s), sizeof(unsigned), 1, 86400, NULL },
	{ "ftp", "data_timeout", CONF_UINT, FTP(data_timeout_s), sizeof(unsigned), 1, 3600, NULL },
	{ "ftp", "tls", CONF_CUSTOM, FTP(tls), 0, 0, 0, parse_ftp_tls },
	{ "sip", "listen", CONF_CUSTOM, offsetof(struct server_config, sip), 0, 0, 0,
	  parse_sip_listen },
	{ "sip", "multicast", CONF_BOOL, SIP(multicast), sizeof(bool), 0, 0, NULL },
	{ "sip", "interfaces", CONF_STRING, SIP(interfaces),
	  sizeof(((struct sip_config *)0)->interfaces), 0, 0, NULL },
	{ "sip", "answer", CONF_CUSTOM, SIP(answer), 0, 0, 0, parse_sip_answer },
	{ "sip", "oui", CONF_CUSTOM, offsetof(struct server_config, sip), 0, 0, 0, parse_sip_oui },
	{ "sip", "url", CONF_STRING, SIP(url), sizeof(((struct sip_config *)0)->url), 0, 0, NULL },
	{ "sip", "url_for", CONF_CUSTOM, offsetof(struct server_config, sip), 0, 0, 0,
	  parse_sip_url_for },
	{ "sip", "t1", CONF_UINT, SIP(t1_ms), sizeof(unsigned), 10, 10000, NULL },
	{ "sip", "t2", CONF_UINT, SIP(t2_ms), sizeof(unsigned), 100, 60000, NULL },
	{ "sip", "max_subscriptions", CONF_UINT, SIP(max_subscriptions), sizeof(unsigned), 1,
	  1000000, NULL },
	{ "sip", "max_per_source", CONF_UINT, SIP(max_per_source), sizeof(unsigned), 1, 1000000,
	  NULL },
	{ "tftp", "listen", CONF_CUSTOM, offsetof(struct server_config, tftp), 0, 0, 0,
	  parse_tftp_listen },
	{ "tftp", "prefix", CONF_CUSTOM, TFTP(prefix), 0, 0, 0, parse_prefix },
	{ "tftp", "max_blksize", CONF_UINT, TFTP(max_blksize), sizeof(unsigned), 512, 65464, NULL },
	{ "tftp", "max_windowsize", CONF_UINT, TFTP(max_windowsize), sizeof(unsigned), 1, 256,
	  NULL },
	{ "tftp", "timeout", CONF_UINT, TFTP(timeout_ms), sizeof(unsigned), 10, 255000, NULL },
	{ "tftp", "max_timeout", CONF_UINT, TFTP(max_timeout_s), sizeof(unsigned), 1, 255, NULL },
	{ "tftp", "retries", CONF_UINT, TFTP(retries), sizeof(unsigned), 1, 100, NULL },
	{ "tftp", "max_transfers", CONF_UINT, TFTP(max_transfers), sizeof(unsigned), 1, 1000000,
	  NULL },
	{ "tftp", "max_transfers_per_peer", CONF_UINT, TFTP(max_transfers_per_peer),
	  sizeof(unsigned), 1, 1000000, NULL },
	{ "tftp", "max_transfers_per_prefix", CONF_UINT, TFTP(max_transfers_per_prefix),
	  sizeof(unsigned), 0, 1000000, NULL },
	{ "tftp", "prefix_length_v4", CONF_UINT, TFTP(prefix_v4), sizeof(unsigned), 8, 32, NULL },
	{ "tftp", "prefix_length_v6", CONF_UINT, TFTP(prefix_v6), sizeof(unsigned), 16, 128, NULL },
	{ "tftp", "device_files", CONF_CUSTOM, TFTP(device_files), 0, 0, 0,
	  parse_tftp_device_files },
	{ "admin", "listen", CONF_CUSTOM, offsetof(struct server_config, admin), 0, 0, 0,
	  parse_admin_listen },
	{ "admin", "tls", CONF_BOOL, ADMIN(tls), sizeof(bool), 0, 0, NULL },
	{ "admin", "metrics", CONF_CUSTOM, ADMIN(metrics_open), 0, 0, 0, parse_admin_metrics },
	{ "admin", "max_body", CONF_SIZE, ADMIN(max_body), sizeof(uint64_t), 4096, 1ull << 32,
	  NULL },
	{ "admin", "timeout", CONF_UINT, ADMIN(timeout_s), sizeof(unsigned), 1, 3600, NULL },
	CONF_KEY_END,
};

int server_config_load(struct server_config *cfg, const char *path, bool optional, char *err,
		       size_t errsz)
{
	int r = conf_load(path, config_keys, cfg, err, errsz);

	if (r == -ENOENT && optional)
		return 0;
	return r;
}
