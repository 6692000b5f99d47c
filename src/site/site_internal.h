// SPDX-License-Identifier: MIT
/* What the site's own modules share beyond site.h: not for the protocols. */
#ifndef AUTOPROV_SITE_SITE_INTERNAL_H
#define AUTOPROV_SITE_SITE_INTERNAL_H

#include <netinet/in.h>
#include <stdint.h>

#include "site/site.h"

/*
 * Recent failed logins (site/auth.c), counted in three bounded tables: per peer address, per
 * prefix (/24, /64) and per principal tried (a device's MAC or a user name, by a keyed
 * hash). sockaddr_in6 holds an IPv4 address too.
 */
struct auth_failure {
	struct sockaddr_in6 peer; /* the address, or the prefix with the host bits zero */
	uint64_t key;		  /* the principal's keyed hash (by_user) */
	unsigned failures;
	uint64_t last_s;
	uint64_t next_ms; /* by_user: the earliest time its next failure may be answered */
};

#define AUTH_FAILURE_SLOTS	  4096
#define AUTH_PREFIX_SLOTS	  1024
#define AUTH_PRINCIPAL_SLOTS	  4096

struct auth_failures {
	struct auth_failure by_addr[AUTH_FAILURE_SLOTS];
	struct auth_failure by_prefix[AUTH_PREFIX_SLOTS];
	struct auth_failure by_user[AUTH_PRINCIPAL_SLOTS];
	uint64_t seed; /* of the principals' hash, random, set on first use */
};

/*
 * A hand-placed .md5 found wrong for a device (site.c, md5_check): the device's MAC ("" none),
 * the MD5 of the .md5's bytes, and the journal row's detail ("" a free slot).
 */
#define MD5_NOTES    64
#define MD5_NOTE_MAX 160

struct md5_note {
	char mac[MAC_LEN + 1];
	char md5[MD5_HEX_LEN + 1];
	char detail[MD5_NOTE_MAX];
};

const struct site_options *site_options(const struct site *site);
/* The site's failed-login tables, zeroed at site_open. */
struct auth_failures *site_auth_failures(struct site *site);

#endif
