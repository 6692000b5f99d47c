// SPDX-License-Identifier: MIT
/*
 * The resolver (DESIGN "Resolving a request"): normalise the name, serve files/PATH,
 * else answer STEM.md5 with the MD5 of the sibling that would be served. Every protocol
 * goes through site_resolve(), so they all see the same site.
 */
#include "site/site.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/path.h"
#include "core/str.h"
#include "site/filecache.h"
#include "site/render.h"
#include "site/site_internal.h"
#include "store/store.h"

#define JOURNAL_BATCH_MAX 65536
#define DEFENCE_ENTRIES	  8192 /* addresses, prefixes and trusted MACs counted at once */

/* A journal entry with its strings owned, waiting in the batch. */
struct journal_slot {
	struct journal_entry e;
	char *strings; /* one allocation for every string of e */
};

struct site {
	char *dir;
	int files_fd; /* DIR/files, or -1 when the site has none */
	struct filecache *cache;
	struct store *store;
	struct renderer *renderer;
	struct site_options opts;
	struct journal_slot *journal;
	size_t njournal, journal_cap;
	uint64_t journal_dropped;
	struct auth_failure auth_failures[AUTH_FAILURE_SLOTS];
	struct defence *defence;
};

void site_options_default(struct site_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->cache_size = 64ull << 20;
	opts->max_file_size = 1ull << 30;
	opts->max_name_length = 255;
	str_copy(opts->md5_extensions, sizeof(opts->md5_extensions),
		 "conf cfg xml boot txt zip sfw fw bin img rom db tar gz");
	auth_config_default(&opts->auth);
	defence_config_default(&opts->defence);
}

int site_open(const char *dir, const struct site_options *opts, struct site **ret, char *err,
	      size_t errsz)
{
	struct site *site;
	char path[PATH_MAX];
	int r;

	site = calloc(1, sizeof(*site));
	if (!site)
		return -ENOMEM;
	site->files_fd = -1;
	site->opts = *opts;
	site->dir = strdup(dir);
	if (!site->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = filecache_new(opts->cache_size, opts->max_file_size, &site->cache);
	if (r < 0)
		goto fail;
	r = defence_new(&opts->defence, DEFENCE_ENTRIES, &site->defence);
	if (r < 0)
		goto fail;
	if (snprintf(path, sizeof(path), "%s/files", dir) >= (int)sizeof(path)) {
		r = -ENAMETOOLONG;
		snprintf(err, errsz, "%s: site path too long", dir);
		goto fail;
	}
	site->files_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (site->files_fd < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	r = store_open(dir, &site->store, err, errsz);
	if (r < 0)
		goto fail;
	r = renderer_new(dir, site->store, opts, &site->renderer, err, errsz);
	if (r < 0)
		goto fail;
	if (site->files_fd < 0 && renderer_nroutes(site->renderer) == 0) {
		r = -ENOENT;
		snprintf(err, errsz, "%s: neither files/ nor templates/ to serve", dir);
		goto fail;
	}
	*ret = site;
	return 0;
fail:
	site_free(site);
	return r;
}

void site_free(struct site *site)
{
	if (!site)
		return;
	if (site->files_fd >= 0)
		close(site->files_fd);
	(void)site_journal_flush(site);
	for (size_t i = 0; i < site->njournal; i++)
		free(site->journal[i].strings);
	free(site->journal);
	renderer_free(site->renderer);
	store_close(site->store);
	filecache_free(site->cache);
	defence_free(site->defence);
	free(site->dir);
	free(site);
}

void site_reload(struct site *site, const struct site_options *opts)
{
	site->opts = *opts;
	filecache_set_limits(site->cache, opts->cache_size, opts->max_file_size);
	filecache_flush(site->cache);
	renderer_reload(site->renderer, opts);
	defence_set_config(site->defence, &opts->defence);
}

/* Copies s into *pos (advancing it) and returns the copy; NULL stays NULL. */
static const char *pack(char **pos, const char *s)
{
	char *at = *pos;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(at, s, n);
	*pos += n;
	return at;
}

void site_journal(struct site *site, const struct journal_entry *e)
{
	const char *strs[] = {
		e->proto, e->peer, e->mac, e->path, e->outcome, e->md5, e->user_agent
	};
	struct journal_slot *slot;
	size_t total = 0;
	char *pos;

	if (site->njournal >= JOURNAL_BATCH_MAX) {
		site->journal_dropped++;
		return;
	}
	if (site->njournal == site->journal_cap) {
		size_t cap = site->journal_cap ? site->journal_cap * 2 : 256;
		struct journal_slot *a = realloc(site->journal, cap * sizeof(*a));

		if (!a) {
			site->journal_dropped++;
			return;
		}
		site->journal = a;
		site->journal_cap = cap;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		total += strs[i] ? strlen(strs[i]) + 1 : 0;
	slot = &site->journal[site->njournal];
	slot->strings = malloc(total ? total : 1);
	if (!slot->strings) {
		site->journal_dropped++;
		return;
	}
	pos = slot->strings;
	slot->e = *e;
	slot->e.proto = pack(&pos, e->proto);
	slot->e.peer = pack(&pos, e->peer);
	slot->e.mac = pack(&pos, e->mac);
	slot->e.path = pack(&pos, e->path);
	slot->e.outcome = pack(&pos, e->outcome);
	slot->e.md5 = pack(&pos, e->md5);
	slot->e.user_agent = pack(&pos, e->user_agent);
	site->njournal++;
}

int site_journal_flush(struct site *site)
{
	struct journal_entry *entries;
	int r;

	if (site->journal_dropped) {
		log_warnx("journal", "%llu requests not recorded: the journal could not keep up",
			  (unsigned long long)site->journal_dropped);
		site->journal_dropped = 0;
	}
	if (site->njournal == 0)
		return 0;
	entries = malloc(site->njournal * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	for (size_t i = 0; i < site->njournal; i++)
		entries[i] = site->journal[i].e;
	/*
	 * The daemon's loop must not wait for a command-line import holding the database:
	 * when it is busy, the batch stays for the next flush (its size is bounded).
	 */
	store_set_wait(site->store, 0);
	r = store_journal_append(site->store, entries, site->njournal);
	store_set_wait(site->store, STORE_BUSY_TIMEOUT_MS);
	free(entries);
	if (r < 0)
		return r; /* kept for the next try; the bound above still holds */
	for (size_t i = 0; i < site->njournal; i++)
		free(site->journal[i].strings);
	site->njournal = 0;
	return 0;
}

int site_journal_prune(struct site *site, uint64_t max_age, uint64_t max_rows)
{
	return store_journal_prune(site->store, max_age, max_rows);
}

const struct site_options *site_options(const struct site *site)
{
	return &site->opts;
}

struct auth_failure *site_auth_failures(struct site *site)
{
	return site->auth_failures;
}

static uint64_t monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct defence *site_defence(struct site *site)
{
	return site->defence;
}

unsigned site_blocked(struct site *site, const struct sockaddr *peer)
{
	return defence_check(site->defence, peer, monotonic_s());
}

unsigned site_miss(struct site *site, const struct site_request *req, const char *mac)
{
	struct defence_event ev;
	char pa[ADDR_STRLEN], what[ADDR_STRLEN + 32];
	unsigned s = defence_miss(site->defence, req->peer, mac, monotonic_s(), &ev);
	struct journal_entry e = {
		.proto = req->proto,
		.mac = mac && mac[0] ? mac : NULL,
		.path = "-",
		.outcome = "blocked",
	};

	if (!ev.blocked)
		return s;
	e.peer = addr_format(req->peer, pa, sizeof(pa));
	addr_format_host(req->peer, what, sizeof(what));
	if (strcmp(ev.what, "prefix") == 0)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "'s /%u", ev.bits);
	else if (strcmp(ev.what, "MAC") == 0)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " (trusted), MAC %s,",
			 mac ? mac : "none");
	log_warnx("defence",
		  "%s blocked for %u s on every protocol: %u requests for devices it may not have "
		  "in %u s (last over %s)",
		  what, ev.seconds, ev.misses, site->opts.defence.miss_window_s,
		  req->proto ? req->proto : "-");
	clock_gettime(CLOCK_REALTIME, &e.time);
	site_journal(site, &e);
	return s;
}

unsigned site_resolved(struct site *site, const struct site_request *req, int r)
{
	if (r != -ENOENT || !req->unknown_mac)
		return 0;
	return site_miss(site, req, req->mac);
}

struct store *site_store(struct site *site)
{
	return site->store;
}

void site_set_tick(struct site *site, void (*kick)(void *arg), void *arg)
{
	renderer_set_tick(site->renderer, kick, arg);
}

void site_tick(struct site *site)
{
	renderer_tick(site->renderer);
}

size_t site_nroutes(const struct site *site)
{
	return renderer_nroutes(site->renderer);
}

/* files/PATH, else a route: what a request for PATH gets, .md5 aside. */
static int resolve_plain(struct site *site, const char *path, struct site_request *req,
			 struct site_file **ret)
{
	int r = site->files_fd >= 0 ? filecache_get(site->cache, site->files_fd, path, ret)
				    : -ENOENT;

	if (r == -ENOENT)
		r = renderer_resolve(site->renderer, path, req, ret);
	return r;
}

/* "STEM.md5" with no such file: "<md5>  <sibling>\n", the md5sum(1) format (docs/md5.md). */
static int resolve_md5(struct site *site, const char *path, struct site_request *req,
		       struct site_file **ret)
{
	size_t stem_len = strlen(path) - 4;
	const char *ext = site->opts.md5_extensions;

	while (*ext) {
		char sibling[PATH_MAX];
		struct site_file *f, *md5;
		const char *base, *hex;
		size_t el = strcspn(ext, " \t,");
		int n, r;

		if (el == 0) {
			ext++;
			continue;
		}
		n = snprintf(sibling, sizeof(sibling), "%.*s.%.*s", (int)stem_len, path, (int)el,
			     ext);
		ext += el;
		if (n < 0 || n >= (int)sizeof(sibling))
			continue;
		r = resolve_plain(site, sibling, req, &f);
		if (r == -ENOENT || r == -EACCES || r == -EIO)
			continue;
		if (r < 0)
			return r;
		hex = site_file_md5(f);
		base = strrchr(f->name, '/');
		base = base ? base + 1 : f->name;
		md5 = calloc(1, sizeof(*md5));
		if (!md5 || !hex) {
			free(md5);
			site_file_unref(f);
			return -ENOMEM;
		}
		md5->refs = 1;
		md5->name = strdup(path);
		md5->size = MD5_HEX_LEN + 2 + strlen(base) + 1;
		md5->data = malloc(md5->size + 1);
		if (!md5->name || !md5->data) {
			free(md5->name);
			free(md5->data);
			free(md5);
			site_file_unref(f);
			return -ENOMEM;
		}
		snprintf((char *)md5->data, md5->size + 1, "%s  %s\n", hex, base);
		site_file_unref(f);
		*ret = md5;
		return 0;
	}
	return -ENOENT;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A name not found: does it name a device the site does not have? The MAC a route bound,
 * else a run of exactly 12 hex digits in the file name (algom0004f2aabbcc.conf,
 * 0004F2AABBCC.cfg; a MAC with separators is not looked for).
 */
static void note_unknown_mac(struct site *site, const char *path, struct site_request *req)
{
	const char *base = strrchr(path, '/');

	if (!req->mac[0]) {
		size_t run = 0;

		base = base ? base + 1 : path;
		for (const char *p = base;; p++) {
			if (*p && is_hex(*p)) {
				run++;
				continue;
			}
			if (run == MAC_LEN) {
				for (size_t i = 0; i < MAC_LEN; i++) {
					char c = p[(ptrdiff_t)i - MAC_LEN];

					req->mac[i] = c >= 'A' && c <= 'F' ? (char)(c + 32) : c;
				}
				req->mac[MAC_LEN] = '\0';
				break;
			}
			run = 0;
			if (!*p)
				break;
		}
		if (!req->mac[0])
			return;
	}
	req->unknown_mac = !renderer_device_known(site->renderer, req->mac);
}

int site_resolve(struct site *site, const char *name, size_t len, struct site_request *req,
		 struct site_file **ret)
{
	char path[PATH_MAX];
	size_t pl;
	int r;

	req->mac[0] = '\0';
	req->unknown_mac = false;
	r = path_normalise(name, len, req->prefix, site->opts.max_name_length, path, sizeof(path));
	if (r == -ENAMETOOLONG)
		return -EACCES;
	if (r < 0)
		return r;
	r = resolve_plain(site, path, req, ret);
	pl = strlen(path);
	if (r == -ENOENT && pl > 4 && strcmp(path + pl - 4, ".md5") == 0)
		r = resolve_md5(site, path, req, ret);
	if (r == -ENOENT && req->peer)
		note_unknown_mac(site, path, req);
	return r;
}

const uint8_t *site_file_netascii(struct site_file *f, size_t *ret_size)
{
	size_t n = f->size;
	uint8_t *out;
	size_t o = 0;

	if (f->netascii) {
		*ret_size = f->netascii_size;
		return f->netascii;
	}
	for (size_t i = 0; i < f->size; i++)
		if (f->data[i] == '\n' || f->data[i] == '\r')
			n++;
	out = malloc(n ? n : 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < f->size; i++) {
		uint8_t c = f->data[i];

		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else if (c == '\r') {
			out[o++] = '\r';
			out[o++] = '\0';
		} else {
			out[o++] = c;
		}
	}
	f->netascii = out;
	f->netascii_size = o;
	*ret_size = o;
	return out;
}

const char *site_file_md5(struct site_file *f)
{
	if (!f->md5[0] && md5_hex(f->data, f->size, f->md5) < 0)
		return NULL;
	return f->md5;
}
