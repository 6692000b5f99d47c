// SPDX-License-Identifier: MIT
/*
 * The enumeration defence: requests that name a device the site does not have or may not
 * give the peer ("misses": an unknown MAC, another device's file, a failed login) counted
 * per peer address and per prefix (/24, /64) in a fixed-size table; past a budget the
 * address or prefix is blocked for a while on every protocol. Protocol-neutral and free of
 * I/O: the caller passes the time and logs or journals what a call reports.
 *
 * Counting rules. A miss that names the same MAC as the address's previous miss is not
 * counted again: a device's own search order (algom<MAC>.conf, algom-i<MAC>.conf, ...)
 * costs it one miss at most. From a trusted source (a NAT in front of many devices),
 * misses are not counted per address: each (address, MAC) pair may miss trusted_max_misses
 * times per window, and past that the requests naming that MAC are refused as blocked
 * until block_time has passed; the address itself is never blocked.
 */
#ifndef AUTOPROV_SITE_DEFENCE_H
#define AUTOPROV_SITE_DEFENCE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DEFENCE_TRUSTED_MAX 32

/* An address range: family AF_INET or AF_INET6, addr in network order, bits of it. */
struct defence_net {
	int family;
	uint8_t addr[16];
	unsigned bits;
};

struct defence_config {
	bool enabled;
	unsigned max_misses;	     /* per address and window: past it, the address is blocked */
	unsigned prefix_max_misses;  /* per prefix and window */
	unsigned trusted_max_misses; /* per (trusted address, MAC) and window */
	unsigned miss_window_s;
	unsigned block_time_s;
	unsigned prefix_v4; /* bits of an IPv4 prefix (24) */
	unsigned prefix_v6; /* bits of an IPv6 prefix (64) */
	struct defence_net trusted[DEFENCE_TRUSTED_MAX];
	unsigned ntrusted;
};

void defence_config_default(struct defence_config *cfg);
/*
 * Adds the ranges of a "CIDR CIDR ..." list (10.0.0.0/8 192.0.2.7 2001:db8::/32; a bare
 * address is one host). 0, -EINVAL (a bad range) or -E2BIG (more than DEFENCE_TRUSTED_MAX).
 */
int defence_config_add_trusted(struct defence_config *cfg, const char *value);

/* What a miss did: set when the call started a block (once per block). */
struct defence_event {
	bool blocked;	  /* a block started */
	const char *what; /* "address", "prefix" or "MAC" */
	unsigned bits;	  /* of the prefix blocked */
	unsigned misses;  /* counted in the window */
	unsigned seconds; /* of the block */
};

/* Totals since the table was made, for metrics. */
struct defence_stats {
	uint64_t misses;  /* misses reported */
	uint64_t counted; /* of them, counted against a budget */
	uint64_t blocks;  /* blocks started */
	uint64_t refused; /* requests answered "blocked" (defence_check said so) */
	uint64_t evicted; /* entries given up to make room */
};

struct defence;

/* A table of a fixed number of entries (rounded to a whole number of sets). 0 or -ENOMEM. */
int defence_new(const struct defence_config *cfg, size_t entries, struct defence **ret);
void defence_free(struct defence *def);
/* New budgets; counts and blocks in progress stay. */
void defence_set_config(struct defence *def, const struct defence_config *cfg);
const struct defence_config *defence_config(const struct defence *def);

/* Whether peer is inside a trusted range. */
bool defence_trusted(const struct defence *def, const struct sockaddr *peer);

/*
 * Seconds peer's address or prefix stays blocked (0: allowed). Cheap: nothing is looked up
 * while no block is in force. def may be NULL (allowed).
 */
unsigned defence_check(struct defence *def, const struct sockaddr *peer, uint64_t now_s);

/*
 * Counts a miss of peer; mac is the canonical MAC the request named, or NULL (a failed
 * login). Returns the seconds this request is refused for (0: answer it as usual, e.g.
 * not found), with *ret_event saying whether this miss started a block.
 */
unsigned defence_miss(struct defence *def, const struct sockaddr *peer, const char *mac,
		      uint64_t now_s, struct defence_event *ret_event);

void defence_get_stats(const struct defence *def, struct defence_stats *ret);
/*
 * What is blocked at now_s: ret[0] addresses, ret[1] prefixes, ret[2] (trusted address,
 * MAC) pairs. Looks at every entry of the table (a few thousand): once a second, not per
 * request.
 */
void defence_count_blocked(const struct defence *def, uint64_t now_s, unsigned ret[3]);

#endif
