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
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/path.h"
#include "core/str.h"
#include "site/directory.h"
#include "site/filecache.h"
#include "site/journal_sample.h"
#include "site/metrics.h"
#include "site/outage.h"
#include "site/render.h"
#include "site/site_internal.h"
#include "site/writer.h"
#include "store/store.h"

#define DEFENCE_ENTRIES	  8192 /* addresses, prefixes and trusted MACs counted at once */

struct site {
	char *dir;
	int files_fd; /* DIR/files, or -1 when the site has none */
	struct filecache *cache;
	struct store *store;
	struct directory *directory;
	struct renderer *renderer;
	struct site_options opts;
	struct journal_writer *writer; /* the queue and what writes it (site/writer.h) */
	struct journal_sampler *sampler;
	struct auth_failures auth_failures;
	struct defence *defence;
	struct site_metrics metrics; /* relaxed atomics only: another thread reads them */
	pthread_mutex_t lock;	     /* recursive: the workers share the site (site_lock) */
	struct outage outage;	     /* the store's, for the directory and the writer */
	bool outage_ready;
	/* hand-placed .md5 files found wrong for a device, for their journal rows (md5_note) */
	struct md5_note md5_notes[MD5_NOTES];
	unsigned md5_notes_next;
};

static void journal_aggregate(void *arg, const struct journal_aggregate *a);
static const char *md5_note_find(struct site *site, const char *mac, const char *md5);

bool site_store_url_is_pg(const char *url)
{
	return store_url_is_pg(url);
}

const char *site_redact_store_url(const char *url, char *buf, size_t size)
{
	return store_redact_url(url, buf, size);
}

int site_check_node_name(const char *name, const char **ret_why)
{
	size_t n = strlen(name);

	if (n == 0 || n > SITE_NODE_MAX) {
		*ret_why = "1 to 63 characters expected";
		return -EINVAL;
	}
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')) {
			*ret_why = "only letters, digits, '.', '-' and '_'";
			return -EINVAL;
		}
	return 0;
}

/* The host name, up to its first dot if the whole does not fit; "autoprov" without one. */
static void default_node(char *buf, size_t size)
{
	char host[256] = "";
	const char *why;

	if (gethostname(host, sizeof(host) - 1) == 0 && strlen(host) > SITE_NODE_MAX)
		host[strcspn(host, ".")] = '\0';
	if (site_check_node_name(host, &why) < 0)
		str_copy(host, sizeof(host), "autoprov");
	str_copy(buf, size, host);
}

void site_options_default(struct site_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	default_node(opts->node, sizeof(opts->node));
	opts->cache_size = 64ull << 20;
	opts->max_file_size = 1ull << 30;
	opts->max_name_length = 255;
	opts->device_cache = DIRECTORY_CACHE_DEFAULT;
	str_copy(opts->md5_extensions, sizeof(opts->md5_extensions),
		 "conf cfg xml boot txt zip sfw fw bin img rom db tar gz");
	auth_config_default(&opts->auth);
	opts->journal.max_age_days = 90;
	opts->journal.max_rows = 10000000;
	opts->journal.miss_rows = 20;
	opts->journal.miss_window = 60;
	defence_config_default(&opts->defence);
}

static int64_t mono_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static uint64_t journal_max_age(const struct site_options *opts)
{
	return (uint64_t)opts->journal.max_age_days * 86400;
}

/* The directory's certificate bindings are written by the journal's writer. */
static int bind_cert(void *arg, const char *mac, const char *fingerprint)
{
	return journal_writer_bind(arg, mac, fingerprint);
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
	{
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&site->lock, &a);
		pthread_mutexattr_destroy(&a);
	}
	site->dir = strdup(dir);
	if (!site->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = filecache_new(opts->cache_size, opts->max_file_size, &site->cache);
	if (r < 0)
		goto fail;
	r = journal_sampler_new(&site->sampler);
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
	if (opts->store_url[0]) {
		char shown[256];

		snprintf(path, sizeof(path), "the store %s",
			 store_redact_url(opts->store_url, shown, sizeof(shown)));
	} else
		snprintf(path, sizeof(path), "the store of %s", dir);
	r = outage_init(&site->outage, path, &site->metrics);
	if (r < 0)
		goto fail;
	site->outage_ready = true;
	r = store_open_url(opts->store_url, dir, &site->store, err, errsz);
	if (r < 0)
		goto fail;
	store_count_errors(site->store, site->metrics.store_errors);
	r = directory_new(site->store, opts->device_cache, &site->directory);
	if (r < 0) {
		snprintf(err, errsz, "%s: %s", store_name(site->store),
			 store_strerror(site->store));
		goto fail;
	}
	r = journal_writer_new(dir, site->store, journal_max_age(opts), opts->journal.max_rows,
			       &site->metrics, &site->writer);
	if (r < 0) {
		snprintf(err, errsz, "%s: the journal's writer: %s", dir, strerror(-r));
		goto fail;
	}
	journal_writer_set_node(site->writer, opts->node);
	journal_writer_set_outage(site->writer, &site->outage);
	directory_set_outage(site->directory, &site->outage);
	directory_set_binder(site->directory, bind_cert, site->writer);
	r = renderer_new(dir, site->store, site->directory, opts, &site->metrics, &site->renderer,
			 err, errsz);
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
	if (site->writer) {
		/* the windows end: their counts are the last rows */
		journal_sampler_expire(site->sampler, mono_ms() / 1000,
				       site->opts.journal.miss_window, true, journal_aggregate,
				       site);
		journal_writer_free(site->writer);
	}
	journal_sampler_free(site->sampler);
	renderer_free(site->renderer);
	directory_free(site->directory);
	store_close(site->store);
	filecache_free(site->cache);
	defence_free(site->defence);
	if (site->outage_ready)
		outage_destroy(&site->outage);
	free(site->dir);
	pthread_mutex_destroy(&site->lock);
	free(site);
}

void site_lock(struct site *site)
{
	pthread_mutex_lock(&site->lock);
}

void site_unlock(struct site *site)
{
	pthread_mutex_unlock(&site->lock);
}

void site_reload(struct site *site, const struct site_options *opts)
{
	char url[sizeof(site->opts.store_url)];

	site_lock(site);
	/* the store in use stays the one the site was opened with */
	memcpy(url, site->opts.store_url, sizeof(url));
	if (strcmp(url, opts->store_url) != 0)
		log_warnx("store", "[store] url changed: it applies at the next start; %s stays in use",
			  store_name(site->store));
	site->opts = *opts;
	memcpy(site->opts.store_url, url, sizeof(url));
	filecache_set_limits(site->cache, opts->cache_size, opts->max_file_size);
	filecache_flush(site->cache);
	renderer_reload(site->renderer, opts);
	journal_writer_limits(site->writer, journal_max_age(opts), opts->journal.max_rows);
	directory_set_cache_size(site->directory, opts->device_cache);
	defence_set_config(site->defence, &opts->defence);
	site_unlock(site);
}

void site_journal(struct site *site, const struct journal_entry *e)
{
	struct journal_entry copy;
	char detail[MD5_NOTE_MAX];
	const char *note = NULL;
	size_t pl = e->path ? strlen(e->path) : 0;
	bool admit;

	/* a scanner's misses: the first of each window as rows, the rest as one count */
	site_lock(site);
	admit = !journal_is_miss(e->outcome) ||
		journal_sampler_admit(site->sampler, e, site->opts.journal.miss_rows,
				      mono_ms() / 1000);
	/* a wrong .md5 sent: its row says so (whichever protocol's exchange ends it) */
	if (admit && e->md5 && !e->detail && pl > 4 && strcmp(e->path + pl - 4, ".md5") == 0 &&
	    (note = md5_note_find(site, e->mac ? e->mac : "", e->md5)) != NULL)
		str_copy(detail, sizeof(detail), note);
	site_unlock(site);
	if (note) {
		copy = *e;
		copy.detail = detail;
		e = &copy;
	}
	if (admit)
		journal_writer_push(site->writer, e);
}

/* One window's misses not written one by one: "N more misses", first ... last name. */
static void journal_aggregate(void *arg, const struct journal_aggregate *a)
{
	struct site *site = arg;
	char outcome[64], path[2 * JOURNAL_SAMPLE_NAME_MAX + 8];
	struct journal_entry e = {
		.proto = a->proto,
		.peer = a->peer,
		.path = path,
		.outcome = outcome,
	};

	clock_gettime(CLOCK_REALTIME, &e.time);
	snprintf(outcome, sizeof(outcome), "%llu more misses", (unsigned long long)a->count);
	if (a->count == 1 || strcmp(a->first, a->last) == 0)
		snprintf(path, sizeof(path), "%s", a->first);
	else
		snprintf(path, sizeof(path), "%s ... %s", a->first, a->last);
	journal_writer_push(site->writer, &e);
}

int site_journal_flush(struct site *site)
{
	int r;

	/* without the writer's thread the round runs on the site's connection: the workers' */
	site_lock(site);
	journal_sampler_expire(site->sampler, mono_ms() / 1000, site->opts.journal.miss_window,
			       false, journal_aggregate, site);
	/* an outage ends when the store answers again, requests or not */
	directory_retry(site->directory);
	r = journal_writer_flush(site->writer);
	site_unlock(site);
	return r;
}

int site_journal_open(struct site *site, char *err, size_t errsz)
{
	return journal_writer_open(site->writer, err, errsz);
}

int site_journal_start(struct site *site)
{
	return journal_writer_start(site->writer);
}

bool site_journal_readonly(const struct site *site)
{
	return journal_writer_readonly(site->writer);
}

const struct site_options *site_options(const struct site *site)
{
	return &site->opts;
}

struct auth_failures *site_auth_failures(struct site *site)
{
	return &site->auth_failures;
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
	unsigned s;

	site_lock(site);
	s = defence_check(site->defence, peer, monotonic_s());
	site_unlock(site);
	return s;
}

static unsigned miss_locked(struct site *site, const struct site_request *req, const char *mac);

unsigned site_miss(struct site *site, const struct site_request *req, const char *mac)
{
	unsigned s;

	site_lock(site);
	s = miss_locked(site, req, mac);
	site_unlock(site);
	return s;
}

static unsigned miss_locked(struct site *site, const struct site_request *req, const char *mac)
{
	struct defence_event ev;
	char pa[ADDR_STRLEN], what[ADDR_STRLEN + 32], detail[ADDR_STRLEN + 128];
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
	snprintf(detail, sizeof(detail), "%s blocked for %u s: %u requests for devices it may not have",
		 what, ev.seconds, ev.misses);
	e.detail = detail;
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

struct site_metrics *site_metrics(struct site *site)
{
	return &site->metrics;
}

void site_metrics_sample(struct site *site)
{
	struct site_metrics *m = &site->metrics;
	struct defence_stats st;
	unsigned blocked[3];

	site_lock(site);
	defence_get_stats(site->defence, &st);
	defence_count_blocked(site->defence, monotonic_s(), blocked);
	site_unlock(site);
	metrics_set(&m->defence_misses, st.misses);
	metrics_set(&m->defence_blocks, st.blocks);
	metrics_set(&m->defence_refused, st.refused);
	for (unsigned i = 0; i < 3; i++)
		metrics_set(&m->defence_blocked[i], blocked[i]);
}

int site_watch_open(struct site *site)
{
	int fd;

	site_lock(site); /* the store's connection and the directory are the workers' */
	fd = store_watch_open(site->store);
	if (fd >= 0)
		directory_set_watched(site->directory, true); /* and catches up */
	site_unlock(site);
	if (fd < 0)
		return fd;
	log_info("store",
		 "%s: changes made by other nodes are announced (LISTEN), the change log is read "
		 "when they are and every %d s",
		 store_name(site->store), SITE_POLL_S);
	return fd;
}

int site_watch_read(struct site *site)
{
	int r;

	site_lock(site);
	r = store_watch_read(site->store);
	if (r != 0)
		directory_changed(site->directory);
	site_unlock(site);
	if (r < 0)
		log_warnx("store",
			  "%s: the notifications are lost (%s): the change log is read every "
			  "second until they are back",
			  store_name(site->store), store_strerror(site->store));
	return r < 0 ? r : 0;
}

void site_watch_close(struct site *site)
{
	site_lock(site);
	store_watch_close(site->store);
	site_unlock(site);
}

void site_changes_poll(struct site *site)
{
	site_lock(site);
	directory_changed(site->directory);
	site_unlock(site);
}

const struct site_options *site_get_options(const struct site *site)
{
	return &site->opts;
}

struct store *site_store(struct site *site)
{
	return site->store;
}

struct directory *site_directory(struct site *site)
{
	return site->directory;
}

void site_set_tick(struct site *site, void (*kick)(void *arg), void *arg)
{
	renderer_set_tick(site->renderer, kick, arg);
	directory_set_tick(site->directory, kick, arg);
	filecache_set_tick(site->cache, kick, arg);
}

void site_tick(struct site *site)
{
	site_lock(site);
	renderer_tick(site->renderer);
	directory_tick(site->directory);
	filecache_tick(site->cache);
	site_unlock(site);
}

size_t site_nroutes(const struct site *site)
{
	/* the templates are scanned again on whichever worker notices a change */
	pthread_mutex_t *lock = (pthread_mutex_t *)&site->lock;
	size_t n;

	pthread_mutex_lock(lock);
	n = renderer_nroutes(site->renderer);
	pthread_mutex_unlock(lock);
	return n;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The MAC a name carries: 12 hex digits in a row, in either case, anywhere in the path (a
 * longer run is tried at each offset: "abc0022ee010203.cfg"). The first that is a device of
 * the inventory wins (1); else the first candidate (0); -ENOENT when the name carries none,
 * -EIO when the inventory cannot be read. ret_mac is canonical (lower case).
 */
static int name_mac(struct site *site, const char *path, char ret_mac[MAC_LEN + 1])
{
	size_t i = 0, len = strlen(path);
	int found = -ENOENT;

	while (i < len) {
		size_t run = 0;

		while (i + run < len && is_hex(path[i + run]))
			run++;
		for (size_t off = 0; run >= MAC_LEN && off + MAC_LEN <= run; off++) {
			char mac[MAC_LEN + 1];
			int r;

			for (size_t k = 0; k < MAC_LEN; k++) {
				char c = path[i + off + k];

				mac[k] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
			}
			mac[MAC_LEN] = '\0';
			r = renderer_device_known(site->renderer, mac);
			if (r < 0)
				return r == DIRECTORY_UNAVAILABLE ? r : -EIO;
			if (r > 0 || found == -ENOENT)
				memcpy(ret_mac, mac, MAC_LEN + 1);
			if (r > 0)
				return 1;
			found = 0;
		}
		i += run ? run : 1;
	}
	return found;
}

/*
 * A static file whose name carries the MAC of a device of the inventory is that device's,
 * like a rendered one (a site migrated from a plain TFTP server keeps algom0022ee010203.conf
 * or SEP0022EE010203.cnf.xml under files/). Sets req->mac, or leaves it empty. Returns 0,
 * or DIRECTORY_UNAVAILABLE (-EIO) when the inventory cannot be read (fails): whose file it is
 * decides who may have it.
 */
static int static_file_owner(struct site *site, const char *path, struct site_request *req)
{
	char mac[MAC_LEN + 1];
	int r = name_mac(site, path, mac);

	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 1)
		memcpy(req->mac, mac, sizeof(req->mac));
	return 0;
}

/*
 * files/PATH, else a route: what a request for PATH gets, .md5 aside. *ret_placed (if not
 * NULL): whether it is a file of files/.
 */
static int resolve_plain(struct site *site, const char *path, struct site_request *req,
			 struct site_file **ret, bool *ret_placed)
{
	int r = site->files_fd >= 0 ? filecache_get(site->cache, site->files_fd, path, ret)
				    : -ENOENT;

	if (ret_placed)
		*ret_placed = r == 0;
	if (r == 0) {
		int e = static_file_owner(site, path, req);

		if (e < 0) {
			site_file_unref(*ret);
			return e;
		}
		return 0;
	}
	if (r == -ENOENT)
		r = renderer_resolve(site->renderer, path, req, ret);
	return r;
}

/*
 * The sibling of "STEM.md5": the first STEM.EXT the site serves, EXT in [server]
 * md5_extensions in order (docs/md5.md). 0 with *ret referenced, -ENOENT, or an error.
 */
static int resolve_sibling(struct site *site, const char *path, struct site_request *req,
			   struct site_file **ret)
{
	size_t stem_len = strlen(path) - 4;
	const char *ext = site->opts.md5_extensions;

	while (*ext) {
		char sibling[PATH_MAX];
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
		r = resolve_plain(site, sibling, req, ret, NULL);
		if (r == -ENOENT || r == -EACCES || r == -EIO)
			continue;
		return r;
	}
	return -ENOENT;
}

/* "STEM.md5" with no such file: "<md5>  <sibling>\n", the md5sum(1) format (docs/md5.md). */
static int resolve_md5(struct site *site, const char *path, struct site_request *req,
		       struct site_file **ret)
{
	struct site_file *f, *md5;
	const char *base, *hex;
	int r = resolve_sibling(site, path, req, &f);

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

/*
 * The notes of wrong .md5 files: one per (device, MD5 of the .md5's bytes), the newest
 * MD5_NOTES kept. Resolving writes them (md5_check); the journal row of the transfer that
 * sent those bytes to that device takes its note as its detail (site_journal), whichever
 * protocol ends it. Under the site's lock.
 */
static struct md5_note *md5_note_slot(struct site *site, const char *mac, const char *md5)
{
	for (unsigned i = 0; i < MD5_NOTES; i++) {
		struct md5_note *n = &site->md5_notes[i];

		if (n->detail[0] && strcmp(n->md5, md5) == 0 && strcmp(n->mac, mac) == 0)
			return n;
	}
	return NULL;
}

/* The note of mac's, else of a file of no device (the row may name the device that asked). */
static const char *md5_note_find(struct site *site, const char *mac, const char *md5)
{
	struct md5_note *n = md5_note_slot(site, mac, md5);

	if (!n && mac[0])
		n = md5_note_slot(site, "", md5);

	return n ? n->detail : NULL;
}

/*
 * files/STEM.md5 is served as it is (docs/md5.md): a device that checks it against STEM.EXT
 * ignores the file when they disagree (the doctor's md5-mismatch). Compares its first 32
 * characters with the MD5 of what the sibling serves this same request; a disagreement is
 * logged and noted for the journal row, an agreement clears the note.
 */
static void md5_check(struct site *site, const char *path, const struct site_request *req,
		      struct site_file *f)
{
	struct site_request sreq = *req; /* the sibling's resolution changes nothing of req */
	struct site_file *sib = NULL;
	const char *hex, *mine = site_file_md5(f), *base;
	struct md5_note *n;
	char says[MD5_HEX_LEN + 1] = "";
	bool ok;

	if (!mine || resolve_sibling(site, path, &sreq, &sib) < 0)
		return;
	hex = site_file_md5(sib);
	ok = !hex ||
	     (f->size >= MD5_HEX_LEN && strncasecmp((const char *)f->data, hex, MD5_HEX_LEN) == 0);
	n = md5_note_slot(site, req->mac, mine);
	if (ok) {
		if (n)
			n->detail[0] = '\0';
		site_file_unref(sib);
		return;
	}
	if (!n) {
		n = &site->md5_notes[site->md5_notes_next++ % MD5_NOTES];
		str_copy(n->mac, sizeof(n->mac), req->mac);
		memcpy(n->md5, mine, sizeof(n->md5));
	}
	for (size_t i = 0; i < MD5_HEX_LEN && i < f->size && is_hex((char)f->data[i]); i++)
		says[i] = (char)f->data[i];
	if (strlen(says) != MD5_HEX_LEN)
		snprintf(says, sizeof(says), "no MD5");
	base = strrchr(sib->name, '/');
	base = base ? base + 1 : sib->name;
	snprintf(n->detail, sizeof(n->detail), SITE_MD5_MISMATCH "it says %s, %s has MD5 %s", says,
		 base, hex);
	log_warnx("md5", "files/%s%s%s does not match %s: %s", path, req->mac[0] ? " for " : "",
		  req->mac, sib->name, n->detail);
	site_file_unref(sib);
}

/*
 * A name not found: does it name a device the site does not have? The MAC a route bound,
 * else one the name carries (name_mac()); a known device's MAC is not held against it (its
 * own search order asks for names that do not exist), nor is one the inventory cannot tell.
 */
static void note_unknown_mac(struct site *site, const char *path, struct site_request *req)
{
	if (!req->mac[0]) {
		char mac[MAC_LEN + 1];

		if (name_mac(site, path, mac) < 0)
			return;
		memcpy(req->mac, mac, sizeof(req->mac));
	}
	req->unknown_mac = renderer_device_known(site->renderer, req->mac) == 0;
	/*
	 * [server] unknown_devices = register: the writer adds it, disabled, to the pending group
	 * (a full queue drops the registration: its next request queues it again)
	 */
	if (req->unknown_mac && site->opts.unknown_devices == UNKNOWN_DEVICES_REGISTER &&
	    site->writer)
		(void)journal_writer_register(site->writer, req->mac);
}

int site_resolve(struct site *site, const char *name, size_t len, struct site_request *req,
		 struct site_file **ret)
{
	char path[PATH_MAX];
	bool placed;
	size_t pl;
	int r;

	req->mac[0] = '\0';
	req->unknown_mac = false;
	site_lock(site);
	r = path_normalise(name, len, req->prefix, site->opts.max_name_length, path, sizeof(path));
	if (r == -ENAMETOOLONG)
		r = -EACCES;
	if (r < 0)
		goto out;
	r = resolve_plain(site, path, req, ret, &placed);
	pl = strlen(path);
	if (r == 0 && placed && req->peer && pl > 4 && strcmp(path + pl - 4, ".md5") == 0)
		md5_check(site, path, req, *ret); /* files/STEM.md5, placed by hand */
	if (r == -ENOENT && pl > 4 && strcmp(path + pl - 4, ".md5") == 0)
		r = resolve_md5(site, path, req, ret);
	if (r == -ENOENT && req->peer)
		note_unknown_mac(site, path, req);
out:
	site_unlock(site);
	return r;
}

/*
 * A snapshot's netascii form and MD5 are computed once, on the first worker that asks,
 * outside the snapshots' lock (a firmware image takes a while), and kept by the first to
 * finish; once set they never change.
 */
const uint8_t *site_file_netascii(struct site_file *f, size_t *ret_size)
{
	size_t n = f->size;
	uint8_t *out;
	size_t o = 0;

	site_file_lock();
	out = f->netascii;
	o = f->netascii_size;
	site_file_unlock();
	if (out) {
		*ret_size = o;
		return out;
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
	site_file_lock();
	if (f->netascii) {
		free(out);
	} else {
		f->netascii = out;
		f->netascii_size = o;
	}
	out = f->netascii;
	*ret_size = f->netascii_size;
	site_file_unlock();
	return out;
}

const char *site_file_md5(struct site_file *f)
{
	char hex[MD5_HEX_LEN + 1];
	bool known;

	site_file_lock();
	known = f->md5[0] != '\0';
	site_file_unlock();
	if (known)
		return f->md5;
	if (md5_hex(f->data, f->size, hex) < 0)
		return NULL;
	site_file_lock();
	if (!f->md5[0])
		memcpy(f->md5, hex, sizeof(f->md5));
	site_file_unlock();
	return f->md5;
}
