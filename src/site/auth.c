// SPDX-License-Identifier: MIT
/*
 * Logins (site/auth.h): the site users of the configuration, devices by MAC with their own
 * prov_password variable, and the counts of failures (per address, per prefix, per
 * principal tried) that set the delay a protocol imposes before it answers a failed login.
 */
#include "site/auth.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/addr.h"
#include "core/str.h"
#include "site/directory.h"
#include "site/metrics.h"
#include "site/site_internal.h"

/* Failures older than this are forgotten. */
#define FAILURE_MEMORY_S 600

void auth_config_default(struct auth_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->failure_delay_ms = 1000;
	cfg->max_failure_delay_ms = 16000;
	cfg->guess_interval_ms = 500;
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

static int lookup_locked(struct site *site, const char *user, struct auth_principal *ret);

int site_auth_lookup(struct site *site, const char *user, struct auth_principal *ret)
{
	int r;

	site_lock(site);
	r = lookup_locked(site, user, ret);
	site_unlock(site);
	return r;
}

static int lookup_locked(struct site *site, const char *user, struct auth_principal *ret)
{
	const struct auth_config *cfg = &site_options(site)->auth;
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
	/* the rule (enabled, its own non-empty prov_password) is the directory's */
	r = directory_login(site_directory(site), ret->mac, ret->password, AUTH_PASSWORD_MAX + 1);
	if (r < 0) {
		ret->mac[0] = '\0';
		/* the store could not be asked: not a wrong login */
		return r == DIRECTORY_UNAVAILABLE ? r : -ENOENT;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static socklen_t peer_len(const struct sockaddr *peer)
{
	return peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in);
}

/* The peer's /24 (IPv4) or /64 (IPv6), port zero, into out. */
static void prefix_of(const struct sockaddr *peer, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out, peer, peer_len(peer));
	if (peer->sa_family == AF_INET6) {
		memset(out->sin6_addr.s6_addr + 8, 0, 8);
		out->sin6_port = 0;
		out->sin6_flowinfo = 0;
		out->sin6_scope_id = 0;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_addr.s_addr &= htonl(0xffffff00u);
		sin->sin_port = 0;
	}
}

static bool live(const struct auth_failure *f, uint64_t now_s)
{
	return f->failures && now_s - f->last_s < FAILURE_MEMORY_S;
}

/*
 * One slot per hash in a fixed table. A collision gives the slot to the newcomer only when
 * the entry there is forgotten or has no more failures, so a spray of other names or
 * addresses cannot wash out the count of one under attack.
 */
static struct auth_failure *addr_slot(struct auth_failure *tab, size_t n,
				      const struct sockaddr *key, bool create)
{
	struct auth_failure *f = &tab[addr_hash(key, false) % n];
	uint64_t now = now_ms() / 1000;

	if (live(f, now) && addr_same_host((const struct sockaddr *)&f->peer, key))
		return f;
	if (!create || (live(f, now) && f->failures > 1))
		return NULL;
	memset(f, 0, sizeof(*f));
	memcpy(&f->peer, key, peer_len(key));
	return f;
}

/* FNV-1a over the seed and the name; the seed keeps the slots unpredictable to a peer. */
static uint64_t principal_key(struct auth_failures *t, const char *user)
{
	char mac[MAC_LEN + 1];
	const char *name = user;
	uint64_t h = 0xcbf29ce484222325ull;

	while (!t->seed) {
		if (RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1)
			t->seed = (uint64_t)now_ms() | 1;
	}
	/* every spelling of a MAC is one device */
	if (mac_parse(user, mac, NULL) == 0)
		name = mac;
	for (size_t i = 0; i < sizeof(t->seed); i++)
		h = (h ^ (uint8_t)(t->seed >> (8 * i))) * 0x100000001b3ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h | 1;
}

static struct auth_failure *user_slot(struct auth_failures *t, const char *user, bool create)
{
	uint64_t key = principal_key(t, user);
	struct auth_failure *f = &t->by_user[key % AUTH_PRINCIPAL_SLOTS];
	uint64_t now = now_ms();

	if (f->key == key && (live(f, now / 1000) || f->next_ms > now))
		return f;
	if (!create || (live(f, now / 1000) && f->failures > 1) || f->next_ms > now)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->key = key;
	return f;
}

/* failure_delay_ms doubled per earlier failure, up to max_failure_delay_ms. */
static uint64_t grown(const struct auth_config *cfg, unsigned failures)
{
	uint64_t delay = cfg->failure_delay_ms;

	for (unsigned i = 0; i < failures && delay < cfg->max_failure_delay_ms; i++)
		delay *= 2;
	return delay < cfg->max_failure_delay_ms ? delay : cfg->max_failure_delay_ms;
}

static unsigned count(struct auth_failure *f, uint64_t now_s)
{
	unsigned before;

	if (!f)
		return 0;
	before = f->failures;
	f->failures++;
	f->last_s = now_s;
	return before;
}

static unsigned failed_locked(struct site *site, const struct sockaddr *peer, const char *user);

unsigned site_auth_failed(struct site *site, const struct sockaddr *peer, const char *user)
{
	unsigned delay;

	site_lock(site);
	delay = failed_locked(site, peer, user);
	site_unlock(site);
	return delay;
}

static unsigned failed_locked(struct site *site, const struct sockaddr *peer, const char *user)
{
	const struct auth_config *cfg = &site_options(site)->auth;
	struct auth_failures *t = site_auth_failures(site);
	uint64_t now = now_ms(), delay, at;
	unsigned most = 0, n;

	metrics_add(&site_metrics(site)->login_failures, 1);
	if (peer) {
		struct sockaddr_in6 prefix;

		prefix_of(peer, &prefix);
		n = count(addr_slot(t->by_addr, AUTH_FAILURE_SLOTS, peer, true), now / 1000);
		most = n > most ? n : most;
		n = count(addr_slot(t->by_prefix, AUTH_PREFIX_SLOTS, (struct sockaddr *)&prefix,
				    true),
			  now / 1000);
		most = n > most ? n : most;
	}
	delay = grown(cfg, most);
	if (user && user[0]) {
		struct auth_failure *f = user_slot(t, user, true);

		n = count(f, now / 1000);
		if (grown(cfg, n) > delay)
			delay = grown(cfg, n);
		at = now + delay;
		/* one answered failure per guess_interval and principal, whoever asks */
		if (f && f->next_ms > at)
			at = f->next_ms;
		if (f)
			f->next_ms = at + cfg->guess_interval_ms;
		delay = at - now;
	}
	return delay < UINT_MAX ? (unsigned)delay : UINT_MAX;
}

void site_auth_succeeded(struct site *site, const struct sockaddr *peer, const char *user)
{
	struct auth_failure *f;

	(void)peer;
	if (!user || !user[0])
		return;
	/* the principal proved its password: its own count restarts, its pacing stays */
	site_lock(site);
	f = user_slot(site_auth_failures(site), user, false);
	if (f) {
		f->failures = 0;
		f->last_s = 0;
	}
	site_unlock(site);
}
