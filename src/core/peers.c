// SPDX-License-Identifier: MIT
/* Counts per peer address (see peers.h). */
#include "core/peers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

int peer_table_init(struct peer_table *t, size_t nbuckets)
{
	size_t n = 1;

	while (n < nbuckets)
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	t->nbuckets = t->buckets ? n : 0;
	return t->buckets ? 0 : -ENOMEM;
}

void peer_table_destroy(struct peer_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct peer_count *p = t->buckets[i];

			t->buckets[i] = p->next;
			free(p);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
}

static struct peer_count *find(const struct peer_table *t, const struct sockaddr *sa, uint32_t hash)
{
	struct peer_count *p = t->buckets[hash & (t->nbuckets - 1)];

	for (; p; p = p->next)
		if (p->hash == hash && addr_same_host((const struct sockaddr *)&p->host, sa))
			return p;
	return NULL;
}

unsigned peer_table_count(const struct peer_table *t, const struct sockaddr *sa)
{
	struct peer_count *p = find(t, sa, addr_hash(sa, false));

	return p ? p->n : 0;
}

int peer_table_take(struct peer_table *t, const struct sockaddr *sa, unsigned max,
		    struct peer_count **ret)
{
	uint32_t hash = addr_hash(sa, false);
	struct peer_count *p = find(t, sa, hash);

	if (p && p->n >= max)
		return -EBUSY;
	if (!p) {
		if (max == 0)
			return -EBUSY;
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(&p->host, sa,
		       sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in));
		p->hash = hash;
		p->next = t->buckets[hash & (t->nbuckets - 1)];
		t->buckets[hash & (t->nbuckets - 1)] = p;
	}
	p->n++;
	*ret = p;
	return 0;
}

void peer_table_release(struct peer_table *t, struct peer_count *p)
{
	struct peer_count **pp;

	if (!p || --p->n > 0)
		return;
	for (pp = &t->buckets[p->hash & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
}
