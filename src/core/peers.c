// SPDX-License-Identifier: MIT
/* Counts per peer address (see peers.h). */
#include "core/peers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

/* The table that counts (t, or the one it aliases), locked when shared. */
static struct peer_table *table_enter(struct peer_table *t)
{
	if (t->owner)
		t = t->owner;
	if (t->locked)
		pthread_mutex_lock(&t->lock);
	return t;
}

static void table_leave(struct peer_table *t)
{
	if (t->locked)
		pthread_mutex_unlock(&t->lock);
}

int peer_table_init(struct peer_table *t, size_t nbuckets)
{
	size_t n = 1;

	t->total = 0;
	t->locked = false;
	t->owner = NULL;

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
	if (t->locked)
		pthread_mutex_destroy(&t->lock);
	t->locked = false;
}

void peer_table_share(struct peer_table *t, struct peer_table *owner)
{
	if (owner->owner)
		owner = owner->owner;
	if (!owner->locked) {
		pthread_mutex_init(&owner->lock, NULL);
		owner->locked = true;
	}
	t->owner = owner;
}

unsigned peer_table_total(struct peer_table *t)
{
	unsigned n;

	t = table_enter(t);
	n = t->total;
	table_leave(t);
	return n;
}

static struct peer_count *find(const struct peer_table *t, const struct sockaddr *sa, uint32_t hash)
{
	struct peer_count *p = t->buckets[hash & (t->nbuckets - 1)];

	for (; p; p = p->next)
		if (p->hash == hash && addr_same_host((const struct sockaddr *)&p->host, sa))
			return p;
	return NULL;
}

unsigned peer_table_count(struct peer_table *t, const struct sockaddr *sa)
{
	struct peer_count *p;
	unsigned n;

	t = table_enter(t);
	p = find(t, sa, addr_hash(sa, false));
	n = p ? p->n : 0;
	table_leave(t);
	return n;
}

int peer_table_take(struct peer_table *t, const struct sockaddr *sa, unsigned max,
		    struct peer_count **ret)
{
	uint32_t hash = addr_hash(sa, false);
	struct peer_count *p;
	int r = 0;

	t = table_enter(t);
	p = find(t, sa, hash);
	if ((p && p->n >= max) || (!p && max == 0)) {
		r = -EBUSY;
		goto out;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(&p->host, sa,
		       sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in));
		p->hash = hash;
		p->next = t->buckets[hash & (t->nbuckets - 1)];
		t->buckets[hash & (t->nbuckets - 1)] = p;
	}
	p->n++;
	t->total++;
	*ret = p;
out:
	table_leave(t);
	return r;
}

void peer_table_release(struct peer_table *t, struct peer_count *p)
{
	struct peer_count **pp;

	if (!p)
		return;
	t = table_enter(t);
	t->total--;
	if (--p->n == 0) {
		for (pp = &t->buckets[p->hash & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next)
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		free(p);
	}
	table_leave(t);
}
