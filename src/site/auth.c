// SPDX-License-Identifier: MIT
/*
 * Logins (site/auth.h): the site users of the configuration, devices by MAC with their own
 * prov_password variable, and the per-peer count of failures that sets the delay a
 * protocol imposes before it answers a failed login.
 */
#include "site/auth.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/addr.h"
#include "core/str.h"
#include "site/site_internal.h"
#include "store/store.h"

/* Failures older than this are forgotten. */
#define FAILURE_MEMORY_S 600

void auth_config_default(struct auth_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->failure_delay_ms = 1000;
	cfg->max_failure_delay_ms = 16000;
}

int auth_config_add_user(struct auth_config *cfg, const char *value, char *err, size_t errsz)
{
	const char *colon = strchr(value, ':');
	size_t nlen = colon ? (size_t)(colon - value) : 0;

	if (!colon || nlen == 0 || colon[1] == '\0') {
		snprintf(err, errsz, "'%s' is not NAME:PASSWORD", value);
		return -EINVAL;
	}
	if (nlen > AUTH_NAME_MAX || strlen(colon + 1) > AUTH_PASSWORD_MAX) {
		snprintf(err, errsz, "user names have at most %d characters, passwords %d",
			 AUTH_NAME_MAX, AUTH_PASSWORD_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c <= ' ' || c == 0x7f) {
			snprintf(err, errsz, "a user name has no spaces or control characters");
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < cfg->nusers; i++) {
		if (strlen(cfg->users[i].name) == nlen &&
		    memcmp(cfg->users[i].name, value, nlen) == 0) {
			snprintf(err, errsz, "user '%.*s' is given twice", (int)nlen, value);
			return -EINVAL;
		}
	}
	if (cfg->nusers == AUTH_MAX_USERS) {
		snprintf(err, errsz, "at most %d users", AUTH_MAX_USERS);
		return -ENOSPC;
	}
	memcpy(cfg->users[cfg->nusers].name, value, nlen);
	cfg->users[cfg->nusers].name[nlen] = '\0';
	str_copy(cfg->users[cfg->nusers].password, sizeof(cfg->users[0].password), colon + 1);
	cfg->nusers++;
	return 0;
}

int site_auth_lookup(struct site *site, const char *user, struct auth_principal *ret)
{
	const struct auth_config *cfg = &site_options(site)->auth;
	struct device *d = NULL;
	json_t *pw;
	int r;

	memset(ret, 0, sizeof(*ret));
	for (unsigned i = 0; i < cfg->nusers; i++) {
		if (strcmp(cfg->users[i].name, user) == 0) {
			str_copy(ret->password, sizeof(ret->password), cfg->users[i].password);
			return 0;
		}
	}
	if (mac_parse(user, ret->mac, NULL) < 0)
		return -ENOENT;
	r = store_device_get(site_store(site), ret->mac, &d);
	if (r < 0) {
		ret->mac[0] = '\0';
		return -ENOENT;
	}
	pw = json_object_get(d->vars, AUTH_DEVICE_PASSWORD_VAR);
	if (!d->enabled || !json_is_string(pw) || json_string_length(pw) == 0 ||
	    json_string_length(pw) > AUTH_PASSWORD_MAX) {
		device_free(d);
		ret->mac[0] = '\0';
		return -ENOENT;
	}
	str_copy(ret->password, sizeof(ret->password), json_string_value(pw));
	device_free(d);
	return 0;
}

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static struct auth_failure *failure_slot(struct site *site, const struct sockaddr *peer,
					 bool create)
{
	struct auth_failure *tab = site_auth_failures(site);
	uint32_t h = addr_hash(peer, false) % AUTH_FAILURE_SLOTS;
	uint64_t now = now_s();

	/* one slot per hash: a collision replaces an older peer, whose count is then lost */
	if (tab[h].failures && now - tab[h].last_s < FAILURE_MEMORY_S &&
	    addr_same_host((const struct sockaddr *)&tab[h].peer, peer))
		return &tab[h];
	if (!create)
		return NULL;
	memset(&tab[h], 0, sizeof(tab[h]));
	memcpy(&tab[h].peer, peer,
	       peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	return &tab[h];
}

unsigned site_auth_failed(struct site *site, const struct sockaddr *peer)
{
	const struct auth_config *cfg = &site_options(site)->auth;
	struct auth_failure *f;
	uint64_t delay = cfg->failure_delay_ms;

	if (!peer)
		return delay;
	f = failure_slot(site, peer, true);
	f->last_s = now_s();
	for (unsigned i = 0; i < f->failures && delay < cfg->max_failure_delay_ms; i++)
		delay *= 2;
	f->failures++;
	return delay < cfg->max_failure_delay_ms ? (unsigned)delay : cfg->max_failure_delay_ms;
}

void site_auth_succeeded(struct site *site, const struct sockaddr *peer)
{
	struct auth_failure *f = peer ? failure_slot(site, peer, false) : NULL;

	if (f)
		memset(f, 0, sizeof(*f));
}
