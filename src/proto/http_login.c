// SPDX-License-Identifier: MIT
/*
 * The HTTP server's logins (proto/http_internal.h): Basic and Digest challenges and their
 * checks, a failed login's delay, the redirection service's answers, and client
 * certificates bound to devices (on first use, or required).
 */
#include "proto/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec/digest.h"
#include "core/log.h"
#include "site/auth.h"
#include "site/directory.h"

#define TAG "http"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * 401 with one challenge per Digest algorithm and Basic, as configured. A failed login
 * (wrong password, unknown user; user is the name tried, or NULL) waits the site's delay
 * first (site/auth.h): the connection reads nothing more until the timer sends the answer.
 */
static void challenge(struct http_exchange *x, bool stale, bool failed, const char *user,
		      const char *detail)
{
	struct http_conn *c = x->c;
	struct http_server *srv = c->srv;
	const struct http_config *cfg = &srv->cfg;
	char value[512], claimed[MAC_LEN + 1];
	const char *why, *login_mac = x->ex.login_mac;

	if (cfg->auth != HTTP_LOGIN_BASIC) {
		for (unsigned i = 0; i < cfg->ndigest; i++) {
			char nonce[DIGEST_NONCE_LEN + 1];

			if (digest_nonce_make(srv->nonces, now_ms(), nonce, sizeof(nonce)) == 0 &&
			    digest_challenge_format(value, sizeof(value), cfg->realm,
						    cfg->digest[i], nonce, "autoprov", stale) == 0)
				http_add_header(x, "WWW-Authenticate: %s", value);
		}
	}
	if (cfg->auth != HTTP_LOGIN_DIGEST &&
	    digest_challenge_basic_format(value, sizeof(value), cfg->realm) == 0)
		http_add_header(x, "WWW-Authenticate: %s", value);
	x->ex.detail = detail;
	/* a failed login names the device it claimed: the doctor finds the row by its MAC */
	if (failed && user && (!x->ex.login_mac || !x->ex.login_mac[0]) &&
	    mac_parse(user, claimed, &why) == 0)
		x->ex.login_mac = claimed;
	http_respond_outcome(x, failed ? OUTCOME_AUTH_FAILED : OUTCOME_AUTH_REQUIRED, 0, NULL);
	if (x->ex.login_mac == claimed)
		x->ex.login_mac = login_mac;
	if (failed) {
		/* a failed login: the defence's miss */
		(void)site_miss(srv->site, &x->ex.req, NULL);
		unsigned ms = site_auth_failed(srv->site, (struct sockaddr *)&c->peer, user);

		if (ms > 0) {
			http_conn_set_state(c, HTTP_DELAYED);
			c->timer_kind = T_DELAY;
			net_stream_timer(c->stream, ms);
		}
	}
}

/*
 * Whether the request is authenticated (1, with *who the device or "" for a site user),
 * or not (0: a 401 is queued). A verified client certificate naming a device is a login.
 */
int http_check_login(struct http_exchange *x, char who[MAC_LEN + 1])
{
	struct http_conn *c = x->c;
	struct http_server *srv = c->srv;
	const struct http_request *req = x->req;
	struct http_authorization a;
	struct auth_principal p;
	bool ok;
	int r;

	if (c->id.mac[0]) {
		memcpy(who, c->id.mac, MAC_LEN + 1);
		return 1;
	}
	if (!req->authorization) {
		challenge(x, false, false, NULL, NULL);
		return 0;
	}
	if (http_auth_parse(req->authorization, strlen(req->authorization), &a) < 0) {
		challenge(x, false, true, NULL, "malformed Authorization");
		return 0;
	}
	if ((a.scheme == HTTP_AUTH_BASIC && srv->cfg.auth == HTTP_LOGIN_DIGEST) ||
	    (a.scheme == HTTP_AUTH_DIGEST && srv->cfg.auth == HTTP_LOGIN_BASIC)) {
		challenge(x, false, false, NULL, "scheme not offered");
		return 0;
	}
	if (a.scheme == HTTP_AUTH_DIGEST && (strcmp(a.digest.realm, srv->cfg.realm) != 0 ||
					     strcmp(a.digest.uri, req->target) != 0)) {
		challenge(x, false, true, a.username, "Digest realm or uri not this request's");
		return 0;
	}
	r = site_auth_lookup(srv->site, a.username, &p);
	if (r == DIRECTORY_UNAVAILABLE) {
		/* the device's password cannot be read now: "try later", not a failed login */
		http_respond_outcome(x, OUTCOME_UNAVAILABLE, 0, NULL);
		return 0;
	}
	if (a.scheme == HTTP_AUTH_BASIC)
		ok = http_basic_verify(&a, a.username, r == 0 ? p.password : "");
	else
		ok = http_digest_verify(&a, req->method_name, r == 0 ? p.password : "");
	if (r < 0 || !ok) {
		char detail[HTTP_AUTH_USER_MAX + 48];

		snprintf(detail, sizeof(detail), "%s for user '%s'",
			 r < 0 ? "unknown user" : "wrong password", a.username);
		log_escape(detail, sizeof(detail), detail, strlen(detail));
		challenge(x, false, true, a.username, detail);
		return 0;
	}
	if (a.scheme == HTTP_AUTH_DIGEST) {
		r = digest_nonce_check(srv->nonces, a.digest.nonce, a.digest.nc, now_ms(),
				       srv->cfg.nonce_lifetime_s);
		if (r < 0) {
			/* the response proves the password: a new nonce is all the client needs */
			challenge(x, true, false, NULL,
				  r == -EALREADY ? "nonce count reused" : "stale nonce");
			return 0;
		}
	}
	site_auth_succeeded(srv->site, (struct sockaddr *)&c->peer, a.username);
	memcpy(who, p.mac, MAC_LEN + 1);
	return 1;
}

/* Appends src to dst[*n..], {MAC} and {mac} replaced by the device's MAC. */
static void expand_mac(char *dst, size_t dstsz, const char *src, const char *mac)
{
	size_t n = 0;

	for (const char *p = src; *p && n + 1 < dstsz;) {
		if (strncmp(p, "{mac}", 5) == 0 || strncmp(p, "{MAC}", 5) == 0) {
			for (int i = 0; i < MAC_LEN && n + 1 < dstsz; i++)
				dst[n++] = p[1] == 'M'
						   ? (char)(mac[i] >= 'a' ? mac[i] - 32 : mac[i])
						   : mac[i];
			p += 5;
		} else {
			dst[n++] = *p++;
		}
	}
	dst[n] = '\0';
}

/*
 * The redirection service, GET <prefix>redirect/<MAC>: 302 to the device's provisioning
 * URL: its variable prov_url (or its group's, or the site's), else [http] redirect_url,
 * else this server's own URL with the prefix. {MAC} / {mac} in the URL become the MAC.
 */
void http_redirect(struct http_exchange *x, const char *mac_text, const char *who)
{
	struct http_conn *c = x->c;
	struct http_server *srv = c->srv;
	struct directory *dir = site_directory(srv->site);
	char mac[MAC_LEN + 1], url[512], host[ADDR_STRLEN + 8], body[600];
	char *var = NULL;
	int enabled = -ENOENT;
	json_t *v;

	if (mac_parse(mac_text, mac, NULL) == 0) {
		site_lock(srv->site); /* the directory is the workers' (site.h) */
		enabled = directory_enabled(dir, mac);
		if (enabled > 0) {
			/* the device's prov_url, else its group's, else the site's (directory.h) */
			v = directory_var_of(dir, mac, HTTP_URL_VAR);
			if (json_is_string(v))
				var = strdup(json_string_value(v));
		}
		site_unlock(srv->site);
	}
	if (enabled <= 0 || (who[0] && strcmp(who, mac) != 0)) {
		unsigned blocked = 0;

		/* unknown, or another device's (told apart from unknown by nothing): a miss */
		if (mac_parse(mac_text, mac, NULL) == 0 &&
		    (enabled < 0 || (who[0] && strcmp(who, mac) != 0))) {
			memcpy(x->ex.req.mac, mac, sizeof(mac));
			blocked = site_miss(srv->site, &x->ex.req, mac);
		}
		x->ex.blocked_for = blocked;
		http_respond_outcome(x, blocked > 0 ? OUTCOME_BLOCKED : OUTCOME_NOT_FOUND, 0,
				     blocked > 0 ? NULL : "unknown device\n");
		free(var);
		return;
	}
	memcpy(x->ex.req.mac, mac, sizeof(mac));
	if (var || srv->cfg.redirect_url[0]) {
		expand_mac(url, sizeof(url), var ? var : srv->cfg.redirect_url, mac);
	} else {
		const char *h = x->req->host;

		if (!h || !*h || strpbrk(h, " /\\\"<>"))
			h = addr_format((struct sockaddr *)&c->local, host, sizeof(host));
		snprintf(url, sizeof(url), "%s://%s/%s%s", srv->proto, h, srv->cfg.prefix,
			 srv->cfg.prefix[0] ? "/" : "");
	}
	free(var);
	if (strpbrk(url, "\r\n")) {
		http_respond_outcome(x, OUTCOME_ERROR, 0, "bad redirect URL\n");
		return;
	}
	http_add_header(x, "Location: %s", url);
	http_add_header(x, "Content-Type: text/plain; charset=utf-8");
	snprintf(body, sizeof(body), "%s\n", url);
	http_respond(x, 302, strlen(body), body, strlen(body), NULL);
	http_finish(x, OUTCOME_REDIRECTED, 302, 0, NULL);
}

/* The redirection service's MAC when name is <prefix>/redirect/<MAC>, else NULL. */
const char *http_redirect_mac(const struct http_server *srv, const char *path)
{
	size_t plen = strlen(srv->cfg.prefix);

	while (*path == '/')
		path++;
	if (plen) {
		if (strncmp(path, srv->cfg.prefix, plen) != 0 || path[plen] != '/')
			return NULL;
		path += plen + 1;
	}
	return strncmp(path, "redirect/", 9) == 0 ? path + 9 : NULL;
}

/*
 * A certificate bound to devices (HTTP_BIND_*): the file's device must have it recorded
 * (prov_cert_sha256), or record it now under first-use. 0, or -EACCES with *why set.
 */
static int check_binding_locked(struct http_conn *c, const char *mac, const char **why);

static int check_binding(struct http_conn *c, const char *mac, const char **why)
{
	int r;

	site_lock(c->srv->site); /* the directory is the workers' (site.h) */
	r = check_binding_locked(c, mac, why);
	site_unlock(c->srv->site);
	return r;
}

static int check_binding_locked(struct http_conn *c, const char *mac, const char **why)
{
	struct directory *dir = site_directory(c->srv->site);
	const char *fp = NULL;
	int r = -EACCES;

	if (c->srv->cfg.cert_binding == HTTP_BIND_OFF)
		return 0;
	r = directory_cert(dir, mac, &fp);
	if (r == DIRECTORY_UNAVAILABLE)
		return r; /* cannot tell: "try later" */
	if (r < 0) {
		*why = "no device row to bind the certificate to";
		return -EACCES;
	}
	r = -EACCES;
	if (fp) {
		if (strcasecmp(fp, c->id.fingerprint) == 0)
			r = 0;
		else
			*why = "the certificate is not the one bound to the device";
	} else if (c->srv->cfg.cert_binding == HTTP_BIND_FIRST_USE && strcmp(c->id.mac, mac) != 0) {
		/* a certificate of no device, of two, or of another is never recorded */
		*why = "first-use binds only a certificate naming the device's MAC";
	} else if (c->srv->cfg.cert_binding == HTTP_BIND_FIRST_USE) {
		char err[256];

		if (directory_bind_cert(dir, mac, c->id.fingerprint, err, sizeof(err)) == 0) {
			log_info(c->srv->proto, "%s: certificate %s bound to device %s (first use)",
				 c->peer_text, c->id.fingerprint, mac);
			r = 0;
		} else {
			log_warnx(c->srv->proto, "cannot bind a certificate to %s: %s", mac, err);
			*why = "the certificate could not be recorded";
		}
	} else {
		*why = "no certificate bound to the device";
	}
	return r;
}

/*
 * Why a verified certificate without exactly one MAC identifies no device: it gets generic
 * files only (and nothing under client_certificates = required).
 */
const char *http_cert_names_nobody(const struct http_conn *c)
{
	return c->id.macs > 1 ? "the certificate names several MACs"
			      : "the certificate names no MAC";
}

/*
 * The access rule's extra check of a device's file for a client with a certificate: one
 * naming no device gets generic files only (unless a login says who it is), and a bound
 * certificate must be the device's (check_binding).
 */
int http_cert_check(void *arg, const char *mac, const char **why)
{
	struct http_exchange *x = arg;
	struct http_conn *c = x->c;

	if (!c->id.mac[0] && x->who->kind != PRINCIPAL_DEVICE) {
		*why = http_cert_names_nobody(c);
		return -EACCES;
	}
	return check_binding(c, mac, why);
}
