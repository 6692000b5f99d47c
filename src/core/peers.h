// SPDX-License-Identifier: MIT
/*
 * Connections (transfers, sessions) counted per peer address, for the per-peer limits of
 * every protocol server: a chained hash table of the addresses that have some, each entry
 * freed when its count drops to zero, and their sum. The port is not part of the address.
 *
 * With several workers (docs/architecture.md, "Threads") each worker's protocol server has
 * a table that peer_table_share() turns into an alias of the first worker's: every
 * operation then goes to that one table under its mutex, so a limit per address, per
 * network or overall holds across workers. A table nobody shares takes no lock.
 */
#ifndef AUTOPROV_CORE_PEERS_H
#define AUTOPROV_CORE_PEERS_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
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
	unsigned total;	 /* the sum of every entry's count */
	bool locked;	 /* shared: every operation holds lock */
	pthread_mutex_t lock;
	struct peer_table *owner; /* an alias (peer_table_share): the table that counts */
};

/* An empty table of at least nbuckets buckets. 0 or -ENOMEM. */
int peer_table_init(struct peer_table *t, size_t nbuckets);
/* Frees the table and every entry still in it. */
void peer_table_destroy(struct peer_table *t);
/* How many sa's address has. */
unsigned peer_table_count(struct peer_table *t, const struct sockaddr *sa);
/*
 * Counts one more for sa's address unless it already has max: 0 with *ret the entry to
 * give back with peer_table_release(), -EBUSY at the limit, -ENOMEM.
 */
int peer_table_take(struct peer_table *t, const struct sockaddr *sa, unsigned max,
		    struct peer_count **ret);
void peer_table_release(struct peer_table *t, struct peer_count *p);
/* The sum of every address's count: the connections (transfers) held overall. */
unsigned peer_table_total(struct peer_table *t);
/*
 * Makes t, initialised and empty, an alias of owner (which is locked from now on): call
 * before any thread but the creator uses either. owner must outlive t; destroying t
 * frees t's own buckets only.
 */
void peer_table_share(struct peer_table *t, struct peer_table *owner);

#endif
