// SPDX-License-Identifier: MIT
/*
 * The HTTP server's configuration values (proto/http.h): the defaults and the parsers of
 * [http] keys.
 */
#include "proto/http_internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "codec/digest.h"
#include "core/str.h"

#define TAG "http"

void http_config_default(struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)addr_parse("0.0.0.0:80", &cfg->listen);
	(void)addr_parse("0.0.0.0:443", &cfg->https_listen);
	cfg->timeout_s = 30;
	cfg->header_timeout_s = 10;
	cfg->max_header_size = 8192;
	cfg->max_uri_length = 2048;
	cfg->max_connections = 10000;
	cfg->max_connections_per_peer = 256;
	cfg->max_connections_per_prefix = 1024;
	cfg->max_handshakes = 1024;
	cfg->auth = HTTP_LOGIN_OFF;
	str_copy(cfg->realm, sizeof(cfg->realm), "autoprov");
	/* MD5 first: clients that read only the first challenge (phones, Python) know MD5 */
	cfg->digest[0] = DIGEST_MD5;
	cfg->digest[1] = DIGEST_SHA256;
	cfg->ndigest = 2;
	cfg->nonce_lifetime_s = 300;
	cfg->user_agent = HTTP_UA_RECORD;
	tls_config_default(&cfg->tls);
	cfg->cert_binding = HTTP_BIND_OFF;
}

int http_parse_login_mode(const char *value, enum http_login_mode *ret)
{
	static const char *const names[] = { "off", "basic", "digest", "any" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(value, names[i]) == 0) {
			*ret = (enum http_login_mode)i;
			return 0;
		}
	return -EINVAL;
}

int http_parse_digest_algorithms(const char *value, struct http_config *cfg)
{
	static const enum digest_algorithm all[] = { DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256,
						     DIGEST_SHA256_SESS };
	enum digest_algorithm got[4];
	unsigned n = 0;

	for (const char *p = value; *p;) {
		size_t len;
		bool found = false;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == 0)
			break;
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && !found; i++) {
			const char *name = digest_algorithm_name(all[i]);

			if (strlen(name) == len && strncasecmp(p, name, len) == 0) {
				for (unsigned j = 0; j < n; j++)
					if (got[j] == all[i])
						return -EINVAL;
				if (n == 4)
					return -EINVAL;
				got[n++] = all[i];
				found = true;
			}
		}
		if (!found)
			return -EINVAL;
		p += len;
	}
	if (n == 0)
		return -EINVAL;
	memcpy(cfg->digest, got, sizeof(got[0]) * n);
	cfg->ndigest = n;
	return 0;
}

int http_parse_ua_policy(const char *value, enum http_ua_policy *ret)
{
	if (strcmp(value, "record") == 0)
		*ret = HTTP_UA_RECORD;
	else if (strcmp(value, "deny-mismatch") == 0)
		*ret = HTTP_UA_DENY;
	else
		return -EINVAL;
	return 0;
}

int http_parse_cert_binding(const char *value, enum http_cert_binding *ret)
{
	if (strcmp(value, "off") == 0)
		*ret = HTTP_BIND_OFF;
	else if (strcmp(value, "first-use") == 0)
		*ret = HTTP_BIND_FIRST_USE;
	else if (strcmp(value, "required") == 0)
		*ret = HTTP_BIND_REQUIRED;
	else
		return -EINVAL;
	return 0;
}
