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
 * enabled row with a string prov_password. 0, or -ENOENT (no such user, or no password).
 */
int site_auth_lookup(struct site *site, const char *user, struct auth_principal *ret);

/*
 * Failed logins, counted per peer address (not port) over the last minutes in a bounded
 * table: site_auth_failed() returns the delay in milliseconds the protocol imposes on
 * the peer before it answers (a timer on the connection, never a sleep): failure_delay_ms
 * doubled per recent failure, up to max_failure_delay_ms. A success forgets the peer.
 */
struct sockaddr;
unsigned site_auth_failed(struct site *site, const struct sockaddr *peer);
void site_auth_succeeded(struct site *site, const struct sockaddr *peer);

#endif
