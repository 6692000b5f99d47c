// SPDX-License-Identifier: MIT
/*
 * Per-peer sampling of the journal's misses (journal_sample.h). One fixed pool of peer
 * slots, chained from a hash of the address; a slot lives from the first miss of its peer
 * to the end of its window, so the pool holds the peers that missed lately, and a spoofed
 * flood of more addresses than it holds lands in one shared bucket instead of growing it.
 */
#include "site/journal_sample.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/store.h"

#define ADDR_MAX  64 /* an IPv6 address with a zone fits */
#define BUCKETS	  8192
#define OVERFLOW  JOURNAL_SAMPLE_PEERS /* the index of the shared bucket */
#define PROTO_MAX 16
#define NO_SLOT	  (-1)

struct peer_slot {
	char addr[ADDR_MAX];
	char proto[PROTO_MAX];
	char first[JOURNAL_SAMPLE_NAME_MAX + 1];
	char last[JOURNAL_SAMPLE_NAME_MAX + 1];
	int64_t start;	  /* when the window began */
	unsigned written; /* misses admitted in the window */
	uint64_t skipped; /* misses counted, not written */
	int32_t next;	  /* the next slot of the bucket, or of the free list */
	bool used;
};

struct journal_sampler {
	struct peer_slot slots[JOURNAL_SAMPLE_PEERS + 1];
	int32_t buckets[BUCKETS];
	int32_t free_list;
	size_t npeers;
};

bool journal_is_miss(const char *outcome)
{
	if (!outcome)
		return true;
	return !(strcmp(outcome, "sent") == 0 || strcmp(outcome, "not modified") == 0 ||
		 strcmp(outcome, "pnp-url-sent") == 0 || strncmp(outcome, "notify-2", 8) == 0);
}

void journal_peer_host(const char *peer, char *out, size_t outsz)
{
	const char *end = NULL;
	size_t n;

	if (outsz == 0)
		return;
	if (!peer)
		peer = "";
	if (peer[0] == '[') {
		end = strchr(peer, ']');
		if (end)
			peer++;
	} else {
		const char *colon = strchr(peer, ':');

		/* one colon: ADDR:PORT; none or several: not a form we know, kept whole */
		if (colon && !strchr(colon + 1, ':'))
			end = colon;
	}
	n = end ? (size_t)(end - peer) : strlen(peer);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
}

static uint32_t hash_addr(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

int journal_sampler_new(struct journal_sampler **ret)
{
	/* calloc: the pool's pages are only touched as peers come */
	struct journal_sampler *js = calloc(1, sizeof(*js));

	if (!js)
		return -ENOMEM;
	for (size_t i = 0; i < BUCKETS; i++)
		js->buckets[i] = NO_SLOT;
	for (int32_t i = 0; i < JOURNAL_SAMPLE_PEERS; i++)
		js->slots[i].next = i + 1 < JOURNAL_SAMPLE_PEERS ? i + 1 : NO_SLOT;
	js->free_list = 0;
	str_copy(js->slots[OVERFLOW].addr, sizeof(js->slots[OVERFLOW].addr), "*");
	*ret = js;
	return 0;
}

void journal_sampler_free(struct journal_sampler *js)
{
	free(js);
}

/* The slot of addr, made if there is room; the shared bucket when there is none. */
static struct peer_slot *slot_for(struct journal_sampler *js, const char *addr, int64_t now_s)
{
	uint32_t b = hash_addr(addr) % BUCKETS;
	struct peer_slot *s;
	int32_t i;

	for (i = js->buckets[b]; i != NO_SLOT; i = js->slots[i].next)
		if (strcmp(js->slots[i].addr, addr) == 0)
			return &js->slots[i];
	if (js->free_list == NO_SLOT) {
		s = &js->slots[OVERFLOW];
		if (!s->used) {
			s->used = true;
			s->start = now_s;
		}
		return s;
	}
	i = js->free_list;
	s = &js->slots[i];
	js->free_list = s->next;
	str_copy(s->addr, sizeof(s->addr), addr);
	s->proto[0] = s->first[0] = s->last[0] = '\0';
	s->start = now_s;
	s->written = 0;
	s->skipped = 0;
	s->used = true;
	s->next = js->buckets[b];
	js->buckets[b] = i;
	js->npeers++;
	return s;
}

bool journal_sampler_admit(struct journal_sampler *js, const struct journal_entry *e, unsigned rows,
			   int64_t now_s)
{
	char addr[ADDR_MAX];
	struct peer_slot *s;

	if (rows == 0)
		return true;
	journal_peer_host(e->peer, addr, sizeof(addr));
	s = slot_for(js, addr, now_s);
	if (s->written < rows) {
		s->written++;
		return true;
	}
	if (s->skipped == 0) {
		str_copy(s->proto, sizeof(s->proto), e->proto ? e->proto : "-");
		str_copy(s->first, sizeof(s->first), e->path ? e->path : "");
	}
	str_copy(s->last, sizeof(s->last), e->path ? e->path : "");
	s->skipped++;
	return false;
}

/* Takes slot i out of its bucket's chain and back to the free list. */
static void slot_release(struct journal_sampler *js, int32_t i)
{
	struct peer_slot *s = &js->slots[i];
	int32_t *link = &js->buckets[hash_addr(s->addr) % BUCKETS];

	while (*link != NO_SLOT && *link != i)
		link = &js->slots[*link].next;
	if (*link == i)
		*link = s->next;
	s->used = false;
	s->next = js->free_list;
	js->free_list = i;
	js->npeers--;
}

size_t journal_sampler_expire(struct journal_sampler *js, int64_t now_s, unsigned window_s,
			      bool all, void (*fn)(void *arg, const struct journal_aggregate *a),
			      void *arg)
{
	size_t n = 0;

	for (int32_t i = 0; i <= OVERFLOW; i++) {
		struct peer_slot *s = &js->slots[i];

		if (!s->used || (!all && now_s - s->start < (int64_t)window_s))
			continue;
		if (s->skipped > 0) {
			struct journal_aggregate a = {
				.peer = s->addr,
				.proto = s->proto,
				.first = s->first,
				.last = s->last,
				.count = s->skipped,
			};

			fn(arg, &a);
			n++;
		}
		if (i == OVERFLOW) {
			s->used = false;
			s->written = 0;
			s->skipped = 0;
		} else {
			slot_release(js, i);
		}
	}
	return n;
}

size_t journal_sampler_npeers(const struct journal_sampler *js)
{
	return js->npeers + (js->slots[OVERFLOW].used ? 1 : 0);
}
