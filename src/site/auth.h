// SPDX-License-Identifier: MIT
/*
 * Who may log in, for every protocol that asks (HTTP Basic and Digest, FTP USER/PASS):
 * site-wide users from `[auth] user = NAME:PASSWORD` lines, and devices, whose user name
 * is their MAC (any form mac_parse() accepts) and whose password is their own variable
 * `prov_password` (not inherited from a group or the site defaults: it is a secret of one
 * device). A site user may fetch every file; a device only generic files and its own.
 */
#ifndef AUTOPROV_SITE_AUTH_H
#define AUTOPROV_SITE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mac.h"

#define AUTH_MAX_USERS		 32
#define AUTH_NAME_MAX		 64
#define AUTH_PASSWORD_MAX	 128
#define AUTH_DEVICE_PASSWORD_VAR "prov_password"

struct auth_user {
	char name[AUTH_NAME_MAX + 1];
	char password[AUTH_PASSWORD_MAX + 1];
};

struct auth_config {
	struct auth_user users[AUTH_MAX_USERS];
	unsigned nusers;
	unsigned failure_delay_ms;     /* the first failed login's delay, doubled per failure */
	unsigned max_failure_delay_ms; /* the cap of that delay */
	unsigned guess_interval_ms;    /* least time between two answered failures of one
					  principal, from any number of peers */
};

void auth_config_default(struct auth_config *cfg);
/*
 * Adds a "NAME:PASSWORD" user (a configuration line; the password may contain ':').
 * 0, or -EINVAL / -ENOSPC with the reason in err. A name given twice is an error.
 */
int auth_config_add_user(struct auth_config *cfg, const char *value, char *err, size_t errsz);

/* Whom a user name designates, with the password to check against. */
struct auth_principal {
	char password[AUTH_PASSWORD_MAX + 1];
	char mac[MAC_LEN + 1]; /* the device, or "" for a site user (who may fetch anything) */
};

struct site;
/*
 * Looks user up: the site users first, then a device whose MAC user is and which has an
 * enabled row with a string prov_password. 0, or -ENOENT (no such user, or no password), or
 * DIRECTORY_UNAVAILABLE when the store could not be asked (site/directory.h).
 */
int site_auth_lookup(struct site *site, const char *user, struct auth_principal *ret);

/*
 * Failed logins, counted over the last minutes in bounded tables (fixed slots; a spray of
 * random user names or addresses only competes for slots, and cannot push out an entry
 * with several recent failures): per peer address (not port), per prefix (/24, /64), and
 * per principal tried (user is the name the peer sent: a MAC in any spelling is one
 * device; NULL or "" when it sent none). site_auth_failed() counts the failure and returns
 * the delay in milliseconds the protocol waits before it answers (a timer on the
 * connection, never a sleep): failure_delay_ms doubled per recent failure of the address,
 * its prefix or the principal (the most of the three), up to max_failure_delay_ms, and
 * never earlier than guess_interval_ms after the previous answered failure of the same
 * principal, so one device sees at most 1000 / guess_interval_ms guesses per second from
 * any number of addresses (the delay is longer than max_failure_delay_ms when many
 * connections guess at once). site_auth_succeeded() restarts the count of the principal
 * that proved its password, and nothing else: the peer's address and prefix keep theirs,
 * and no other principal's delay changes.
 */
struct sockaddr;
unsigned site_auth_failed(struct site *site, const struct sockaddr *peer, const char *user);
void site_auth_succeeded(struct site *site, const struct sockaddr *peer, const char *user);

#endif
