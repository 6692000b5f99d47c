// SPDX-License-Identifier: MIT
/*
 * Connections (transfers, sessions) counted per peer address, for the per-peer limits of
 * every protocol server: a chained hash table of the addresses that have some, each entry
 * freed when its count drops to zero. The port is not part of the address.
 */
#ifndef AUTOPROV_CORE_PEERS_H
#define AUTOPROV_CORE_PEERS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct peer_count {
	struct sockaddr_in6 host; /* holds an IPv4 address too */
	uint32_t hash;
	unsigned n;
	struct peer_count *next;
};

struct peer_table {
	struct peer_count **buckets;
	size_t nbuckets; /* a power of two */
};

/* An empty table of at least nbuckets buckets. 0 or -ENOMEM. */
int peer_table_init(struct peer_table *t, size_t nbuckets);
/* Frees the table and every entry still in it. */
void peer_table_destroy(struct peer_table *t);
/* How many sa's address has. */
unsigned peer_table_count(const struct peer_table *t, const struct sockaddr *sa);
/*
 * Counts one more for sa's address unless it already has max: 0 with *ret the entry to
 * give back with peer_table_release(), -EBUSY at the limit, -ENOMEM.
 */
int peer_table_take(struct peer_table *t, const struct sockaddr *sa, unsigned max,
		    struct peer_count **ret);
void peer_table_release(struct peer_table *t, struct peer_count *p);

#endif
