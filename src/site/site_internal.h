// SPDX-License-Identifier: MIT
/* What the site's own modules share beyond site.h: not for the protocols. */
#ifndef AUTOPROV_SITE_SITE_INTERNAL_H
#define AUTOPROV_SITE_SITE_INTERNAL_H

#include <netinet/in.h>
#include <stdint.h>

#include "site/site.h"

/* A peer's recent failed logins (site/auth.c); sockaddr_in6 holds an IPv4 address too. */
struct auth_failure {
	struct sockaddr_in6 peer;
	unsigned failures;
	uint64_t last_s;
};

#define AUTH_FAILURE_SLOTS 4096

const struct site_options *site_options(const struct site *site);
/* AUTH_FAILURE_SLOTS entries, zeroed at site_open. */
struct auth_failure *site_auth_failures(struct site *site);

#endif
