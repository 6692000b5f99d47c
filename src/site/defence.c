// SPDX-License-Identifier: MIT
/*
 * The enumeration defence's table (see defence.h): a set-associative cache of counters
 * keyed by address, prefix, or (trusted address, MAC). Its size is fixed when made: a
 * scanner with random spoofed sources evicts entries (the least useful first: stale ones,
 * then those with the fewest misses) instead of growing memory; blocks in force are the
 * last to go.
 */
#include "site/defence.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/hash.h"
#include "core/mac.h"
#include "core/str.h"

#define WAYS 8

enum key_kind {
	KIND_FREE = 0,
	KIND_ADDRESS,
	KIND_PREFIX,
	KIND_TRUSTED_MAC, /* a trusted address and the MAC its misses named */
};

/* Compared with memcmp: always zero-filled before use. */
struct key {
	uint8_t kind;
	uint8_t family; /* 4 or 6 */
	uint8_t bits;
	uint8_t addr[16];
	char mac[MAC_LEN + 1]; /* KIND_TRUSTED_MAC: "" for a failed login */
};

struct entry {
	struct key key;
	uint32_t hash;
	unsigned misses; /* counted in the current window */
	uint64_t window_start;
	uint64_t blocked_until; /* 0: not blocked */
	uint64_t last_seen;
	char last_mac[MAC_LEN + 1]; /* KIND_ADDRESS: the MAC of the previous miss, or "" */
};

struct defence {
	struct defence_config cfg;
	struct entry *entries;
	size_t nsets;		/* a power of two; WAYS entries each */
	uint64_t block_horizon; /* no address or prefix block lasts beyond this */
	struct defence_stats stats;
};

void defence_config_default(struct defence_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = true;
	cfg->max_misses = 20;
	cfg->prefix_max_misses = 1000;
	cfg->trusted_max_misses = 20;
	cfg->miss_window_s = 60;
	cfg->block_time_s = 300;
	cfg->prefix_v4 = 24;
	cfg->prefix_v6 = 64;
}

static int parse_net(const char *s, size_t len, struct defence_net *ret)
{
	char text[INET6_ADDRSTRLEN + 8];
	const char *slash;
	struct defence_net n = { 0 };
	unsigned max;

	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, len);
	text[len] = '\0';
	slash = strchr(text, '/');
	if (slash)
		text[slash - text] = '\0';
	if (inet_pton(AF_INET, text, n.addr) == 1) {
		n.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, n.addr) == 1) {
		n.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	n.bits = max;
	if (slash) {
		const char *p = slash + 1;
		unsigned bits = 0;

		if (!*p || strlen(p) > 3)
			return -EINVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > max)
			return -EINVAL;
		n.bits = bits;
	}
	*ret = n;
	return 0;
}

int defence_config_add_trusted(struct defence_config *cfg, const char *value)
{
	struct defence_config c = *cfg;
	const char *p = value;

	while (*p) {
		size_t len = strcspn(p, " \t,");

		if (len == 0) {
			p++;
			continue;
		}
		if (c.ntrusted >= DEFENCE_TRUSTED_MAX)
			return -E2BIG;
		if (parse_net(p, len, &c.trusted[c.ntrusted]) < 0)
			return -EINVAL;
		c.ntrusted++;
		p += len;
	}
	*cfg = c;
	return 0;
}

int defence_new(const struct defence_config *cfg, size_t entries, struct defence **ret)
{
	struct defence *def = calloc(1, sizeof(*def));
	size_t nsets = 1;

	if (!def)
		return -ENOMEM;
	while (nsets * WAYS < entries)
		nsets <<= 1;
	def->entries = calloc(nsets * WAYS, sizeof(*def->entries));
	if (!def->entries) {
		free(def);
		return -ENOMEM;
	}
	def->nsets = nsets;
	def->cfg = *cfg;
	*ret = def;
	return 0;
}

void defence_free(struct defence *def)
{
	if (!def)
		return;
	free(def->entries);
	free(def);
}

void defence_set_config(struct defence *def, const struct defence_config *cfg)
{
	def->cfg = *cfg;
}

const struct defence_config *defence_config(const struct defence *def)
{
	return &def->cfg;
}

void defence_get_stats(const struct defence *def, struct defence_stats *ret)
{
	if (def)
		*ret = def->stats;
	else
		memset(ret, 0, sizeof(*ret));
}

void defence_count_blocked(const struct defence *def, uint64_t now_s, unsigned ret[3])
{
	ret[0] = ret[1] = ret[2] = 0;
	if (!def)
		return;
	for (size_t i = 0; i < def->nsets * WAYS; i++) {
		const struct entry *e = &def->entries[i];

		if (e->key.kind != KIND_FREE && e->blocked_until > now_s)
			ret[e->key.kind - KIND_ADDRESS]++;
	}
}

/* The host of sa as (family, bytes); an IPv4-mapped IPv6 address is IPv4. false: neither. */
static bool host_of(const struct sockaddr *sa, uint8_t *ret_family, uint8_t ret_addr[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(ret_addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(ret_addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*ret_family = 4;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(ret_addr, a + 12, 4);
			*ret_family = 4;
		} else {
			memcpy(ret_addr, a, 16);
			*ret_family = 6;
		}
		return true;
	}
	return false;
}

static bool in_net(const struct defence_net *n, uint8_t family, const uint8_t addr[16])
{
	uint8_t a[16], b[16];
	size_t len = family == 4 ? 4 : 16;

	if ((n->family == AF_INET) != (family == 4))
		return false;
	memcpy(a, addr, len);
	memcpy(b, n->addr, len);
	addr_mask_bits(a, len, n->bits);
	addr_mask_bits(b, len, n->bits);
	return memcmp(a, b, len) == 0;
}

static bool trusted(const struct defence_config *cfg, uint8_t family, const uint8_t addr[16])
{
	for (unsigned i = 0; i < cfg->ntrusted; i++)
		if (in_net(&cfg->trusted[i], family, addr))
			return true;
	return false;
}

bool defence_trusted(const struct defence *def, const struct sockaddr *peer)
{
	uint8_t family, addr[16];

	return def && peer && host_of(peer, &family, addr) && trusted(&def->cfg, family, addr);
}

static uint32_t key_hash(const struct key *k)
{
	return hash_bytes(HASH_INIT, k, sizeof(*k));
}

/* Whether a is a better entry to give up than b. */
static bool worse(const struct defence *def, const struct entry *a, const struct entry *b,
		  uint64_t now)
{
	bool ab = a->blocked_until > now, bb = b->blocked_until > now;
	bool as = now - a->window_start >= def->cfg.miss_window_s;
	bool bs = now - b->window_start >= def->cfg.miss_window_s;

	if (ab != bb)
		return bb; /* a block in force is kept */
	if (ab)
		return a->blocked_until < b->blocked_until;
	if (as != bs)
		return as; /* a stale window goes first */
	if (a->misses != b->misses)
		return a->misses < b->misses;
	return a->last_seen < b->last_seen;
}

/* The entry of k, or NULL; with create, a new one (evicting the worst of its set). */
static struct entry *lookup(struct defence *def, const struct key *k, bool create, uint64_t now)
{
	uint32_t h = key_hash(k);
	struct entry *set = &def->entries[(h & (def->nsets - 1)) * WAYS], *victim = NULL;

	for (unsigned i = 0; i < WAYS; i++) {
		struct entry *e = &set[i];

		if (e->key.kind == KIND_FREE) {
			if (!victim || victim->key.kind != KIND_FREE)
				victim = e;
			continue;
		}
		if (e->hash == h && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
		if (!victim || (victim->key.kind != KIND_FREE && worse(def, e, victim, now)))
			victim = e;
	}
	if (!create)
		return NULL;
	if (victim->key.kind != KIND_FREE)
		def->stats.evicted++;
	memset(victim, 0, sizeof(*victim));
	victim->key = *k;
	victim->hash = h;
	victim->window_start = now;
	return victim;
}

/* Starts a new window when the current one is over. */
static void roll(const struct defence *def, struct entry *e, uint64_t now)
{
	if (now - e->window_start >= def->cfg.miss_window_s) {
		e->window_start = now;
		e->misses = 0;
	}
	e->last_seen = now;
}

static void make_key(struct key *k, enum key_kind kind, uint8_t family, const uint8_t addr[16],
		     unsigned bits)
{
	size_t len = family == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->kind = (uint8_t)kind;
	k->family = family;
	k->bits = (uint8_t)bits;
	memcpy(k->addr, addr, len);
	addr_mask_bits(k->addr, len, bits);
}

static unsigned prefix_bits(const struct defence *def, uint8_t family)
{
	return family == 4 ? def->cfg.prefix_v4 : def->cfg.prefix_v6;
}

static unsigned left(uint64_t until, uint64_t now)
{
	uint64_t s = until - now;

	return s > UINT32_MAX ? UINT32_MAX : (unsigned)s;
}

unsigned defence_check(struct defence *def, const struct sockaddr *peer, uint64_t now_s)
{
	uint8_t family, addr[16];
	struct key k;
	struct entry *e;

	if (!def || !def->cfg.enabled || !peer || now_s >= def->block_horizon)
		return 0;
	if (!host_of(peer, &family, addr))
		return 0;
	make_key(&k, KIND_ADDRESS, family, addr, family == 4 ? 32 : 128);
	e = lookup(def, &k, false, now_s);
	if (!e || e->blocked_until <= now_s) {
		make_key(&k, KIND_PREFIX, family, addr, prefix_bits(def, family));
		e = lookup(def, &k, false, now_s);
	}
	if (!e || e->blocked_until <= now_s)
		return 0;
	def->stats.refused++;
	return left(e->blocked_until, now_s);
}

static unsigned block(struct defence *def, struct entry *e, const char *what, uint64_t now,
		      struct defence_event *ev)
{
	e->blocked_until = now + def->cfg.block_time_s;
	if (e->key.kind != KIND_TRUSTED_MAC && e->blocked_until > def->block_horizon)
		def->block_horizon = e->blocked_until;
	def->stats.blocks++;
	ev->blocked = true;
	ev->what = what;
	ev->bits = e->key.bits;
	ev->misses = e->misses;
	ev->seconds = def->cfg.block_time_s;
	return def->cfg.block_time_s;
}

unsigned defence_miss(struct defence *def, const struct sockaddr *peer, const char *mac,
		      uint64_t now_s, struct defence_event *ret_event)
{
	uint8_t family, addr[16];
	struct entry *e, *p;
	struct key k;

	memset(ret_event, 0, sizeof(*ret_event));
	if (!def || !def->cfg.enabled || !peer || !host_of(peer, &family, addr))
		return 0;
	def->stats.misses++;
	if (mac && !mac[0])
		mac = NULL;

	if (trusted(&def->cfg, family, addr)) {
		make_key(&k, KIND_TRUSTED_MAC, family, addr, family == 4 ? 32 : 128);
		if (mac)
			str_copy(k.mac, sizeof(k.mac), mac);
		e = lookup(def, &k, true, now_s);
		if (e->blocked_until > now_s)
			return left(e->blocked_until, now_s);
		roll(def, e, now_s);
		e->misses++;
		def->stats.counted++;
		if (e->misses > def->cfg.trusted_max_misses)
			return block(def, e, "MAC", now_s, ret_event);
		return 0;
	}

	make_key(&k, KIND_ADDRESS, family, addr, family == 4 ? 32 : 128);
	e = lookup(def, &k, true, now_s);
	if (e->blocked_until > now_s)
		return left(e->blocked_until, now_s);
	roll(def, e, now_s);
	/* the same device again (its own search order): counted once */
	if (mac && strcmp(e->last_mac, mac) == 0)
		return 0;
	str_copy(e->last_mac, sizeof(e->last_mac), mac ? mac : "");
	e->misses++;
	def->stats.counted++;

	make_key(&k, KIND_PREFIX, family, addr, prefix_bits(def, family));
	p = lookup(def, &k, true, now_s);
	/* the address's entry may have been the victim: find it again */
	make_key(&k, KIND_ADDRESS, family, addr, family == 4 ? 32 : 128);
	e = lookup(def, &k, false, now_s);
	if (p->blocked_until <= now_s) {
		roll(def, p, now_s);
		p->misses++;
	}
	if (e && e->misses >= def->cfg.max_misses)
		return block(def, e, "address", now_s, ret_event);
	if (p->blocked_until > now_s)
		return left(p->blocked_until, now_s);
	if (p->misses >= def->cfg.prefix_max_misses)
		return block(def, p, "prefix", now_s, ret_event);
	return 0;
}
