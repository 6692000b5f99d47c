// SPDX-License-Identifier: MIT
/*
 * Rendered files (see render.h and docs/templates.md).
 *
 * Templates are scanned from DIR/templates/ into routes, tried longest-literal first. A
 * request that matches renders the template against a context built by the device
 * directory (device > group > defaults > built-ins: site/directory.h), applies the route's
 * options (a version number that rises with the content, encryption), and caches the
 * result as a site_file snapshot. A cached result is served again until its template or a
 * partial changes on disk, or the directory says what it was made from changed: a device's
 * change (or its group's) drops that device's files, a change of the defaults every file.
 * The cache is indexed by key and by the device's MAC for that. The directory applies the
 * store's change log before the first request of each loop iteration, so a device changed
 * with `autoprov device set` is never served stale.
 */
#include "site/render.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/md5.h"
#include "crypto/enc.h"
#include "site/filecache.h"
#include "site/file_id.h"
#include "site/metrics.h"
#include "site/route.h"
#include "template/mustache.h"

#define TAG "render"

#define MAX_TEMPLATE_SIZE (4u << 20)
#define MAX_PARTIAL_DEPS  16
#define MAX_SCAN_DEPTH	  8
/* Stands for the version number while the content is hashed; replaced afterwards. */
#define VERSION_SENTINEL "\x1e\x1f@autoprov-version@\x1f\x1e"

/* One template: its route, its options and its compiled form. */
struct template
{
	char *path; /* below templates/, also the route pattern */
	struct route *route;
	struct tpl *tpl; /* NULL when it does not compile (error logged) */
	struct file_id id;
	char *encrypt_var;     /* front matter "encrypt = VAR" */
	char *version_var;     /* front matter "version = NAME" */
	bool uses_peer;	       /* mentions "peer": rendered per request, never cached */
	unsigned body_line;    /* the template body's first line in the file */
	unsigned long checked; /* the iteration its file was last checked in */
};

struct partial_dep {
	char name[128];
	struct file_id id;
	bool missing;
};

struct render_entry {
	char *path;
	struct site_file *file; /* the cache's own reference */
	const struct template *tmpl;
	char mac[MAC_LEN + 1]; /* the device it was rendered for, "" for none */
	struct partial_dep *deps; /* MAX_PARTIAL_DEPS, allocated by the first partial */
	unsigned ndeps;
	unsigned long checked; /* the iteration its partials were last checked in */
	struct render_entry *next;  /* in its bucket by key */
	struct render_entry *mnext; /* in its bucket by MAC (when mac is set) */
};

struct renderer {
	char *site_dir;
	int templates_fd, partials_fd; /* -1 when the site has none */
	struct store *store;	  /* version counters */
	struct directory *dir; /* devices, groups, defaults */
	struct site_options opts;

	struct template **templates; /* sorted: longest literal first */
	size_t ntemplates;
	struct file_id *dir_ids; /* of every directory scanned, to notice new templates */
	char **dir_paths;
	size_t ndirs;

	/*
	 * With a kick function, what is on disk and in the database is checked once per loop
	 * iteration rather than once per request: a change committed while an iteration runs
	 * is concurrent with the requests it serves, and the next iteration sees it. The
	 * caller ends an iteration with renderer_tick(); kick asks it to.
	 */
	void (*kick)(void *arg);
	void *kick_arg;
	unsigned long iter;
	unsigned long dirs_checked;

	struct render_entry **cache, **by_mac; /* cache_buckets each, grown with nentries */
	size_t cache_buckets, nentries;
	uint64_t cache_bytes;
	struct site_metrics *metrics; /* hits, misses, and the two above as gauges */
};

/* ---- templates ---- */

static void template_free(struct template *t)
{
	if (!t)
		return;
	route_free(t->route);
	tpl_free(t->tpl);
	free(t->path);
	free(t->encrypt_var);
	free(t->version_var);
	free(t);
}

/* Reads a whole file below dirfd (no path may leave it). */
static int read_beneath(int dirfd, const char *name, char **ret, size_t *ret_len,
			struct file_id *ret_id)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_TEMPLATE_SIZE) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -ENOENT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	if (ret_id)
		file_id_of(&st, ret_id);
	return 0;
}

/*
 * Front matter: an optional block at the top of a template between two lines of "---",
 * holding "key = value" lines (encrypt, version). Returns the body's offset, or -EINVAL
 * with the reason in err.
 */
static int parse_front_matter(struct template *t, const char *src, size_t len, char *err,
			      size_t errsz, unsigned *ret_line)
{
	const char *p = src, *end = src + len;
	unsigned line = 1;

	*ret_line = 1;
	if (len < 4 || strncmp(src, "---\n", 4) != 0)
		return 0;
	p += 4;
	line++;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char key[32], value[128];
		const char *eq;

		if (ll == 3 && strncmp(p, "---", 3) == 0) {
			*ret_line = line + 1;
			return (int)(nl ? nl + 1 - src : end - src);
		}
		eq = memchr(p, '=', ll);
		if (ll > 0 && p[0] != '#') {
			size_t kl, vl;
			const char *v;

			if (!eq) {
				snprintf(err, errsz, "line %u: expected key = value", line);
				return -EINVAL;
			}
			kl = (size_t)(eq - p);
			while (kl > 0 && p[kl - 1] == ' ')
				kl--;
			v = eq + 1;
			while (v < p + ll && *v == ' ')
				v++;
			vl = (size_t)(p + ll - v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\r'))
				vl--;
			if (kl == 0 || kl >= sizeof(key) || vl == 0 || vl >= sizeof(value)) {
				snprintf(err, errsz, "line %u: bad option", line);
				return -EINVAL;
			}
			memcpy(key, p, kl);
			key[kl] = '\0';
			memcpy(value, v, vl);
			value[vl] = '\0';
			if (strcmp(key, "encrypt") == 0) {
				free(t->encrypt_var);
				t->encrypt_var = strdup(value);
			} else if (strcmp(key, "version") == 0) {
				free(t->version_var);
				t->version_var = strdup(value);
			} else {
				snprintf(err, errsz,
					 "line %u: unknown option '%s' (encrypt, version)", line,
					 key);
				return -EINVAL;
			}
		}
		line++;
		if (!nl)
			break;
		p = nl + 1;
	}
	snprintf(err, errsz, "front matter not closed by '---'");
	return -EINVAL;
}

/* Loads one template; a template that does not compile is kept, with tpl NULL. */
static int template_load(struct renderer *rd, const char *path, struct template **ret)
{
	struct template *t = calloc(1, sizeof(*t));
	char err[256], *src = NULL;
	size_t len;
	int r, body;

	if (!t)
		return -ENOMEM;
	t->path = strdup(path);
	if (!t->path) {
		r = -ENOMEM;
		goto fail;
	}
	r = route_compile(path, &t->route, err, sizeof(err));
	if (r < 0) {
		log_warnx(TAG, "templates/%s: not a route: %s", path, err);
		goto fail;
	}
	r = read_beneath(rd->templates_fd, path, &src, &len, &t->id);
	if (r < 0) {
		log_warnx(TAG, "templates/%s: %s", path, strerror(-r));
		goto fail;
	}
	body = parse_front_matter(t, src, len, err, sizeof(err), &t->body_line);
	if (body < 0) {
		log_warnx(TAG, "templates/%s: front matter: %s", path, err);
	} else {
		struct tpl_error te;

		t->uses_peer = memmem(src + body, len - (size_t)body, "peer", 4) != NULL;
		if (tpl_compile(path, src + body, len - (size_t)body, &t->tpl, &te) < 0)
			log_warnx(TAG, "templates/%s:%u: %s", path, te.line + t->body_line - 1,
				  te.message);
	}
	free(src);
	*ret = t;
	return 0;
fail:
	free(src);
	template_free(t);
	return r;
}

static int template_cmp(const void *a, const void *b)
{
	const struct template *x = *(struct template *const *)a, *y = *(struct template *const *)b;
	size_t lx = route_literal_len(x->route), ly = route_literal_len(y->route);

	if (lx != ly)
		return lx > ly ? -1 : 1;
	return strcmp(x->path, y->path);
}

static void templates_clear(struct renderer *rd)
{
	for (size_t i = 0; i < rd->ntemplates; i++)
		template_free(rd->templates[i]);
	free(rd->templates);
	rd->templates = NULL;
	rd->ntemplates = 0;
	for (size_t i = 0; i < rd->ndirs; i++)
		free(rd->dir_paths[i]);
	free(rd->dir_paths);
	free(rd->dir_ids);
	rd->dir_paths = NULL;
	rd->dir_ids = NULL;
	rd->ndirs = 0;
}

static int add_dir(struct renderer *rd, const char *rel, const struct stat *st)
{
	char **paths = realloc(rd->dir_paths, (rd->ndirs + 1) * sizeof(*paths));
	struct file_id *ids;

	if (!paths)
		return -ENOMEM;
	rd->dir_paths = paths;
	ids = realloc(rd->dir_ids, (rd->ndirs + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	rd->dir_ids = ids;
	rd->dir_paths[rd->ndirs] = strdup(rel);
	if (!rd->dir_paths[rd->ndirs])
		return -ENOMEM;
	file_id_of(st, &rd->dir_ids[rd->ndirs]);
	rd->ndirs++;
	return 0;
}

static int scan_dir(struct renderer *rd, const char *rel, unsigned depth)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, r = 0;

	fd = openat(rd->templates_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || add_dir(rd, rel, &st) < 0) {
		close(fd);
		return -ENOMEM;
	}
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while (r == 0 && (de = readdir(dir))) {
		char path[PATH_MAX];
		struct template *t, **a;

		if (de->d_name[0] == '.')
			continue; /* ., .., and hidden files (editor swap files) */
		if (snprintf(path, sizeof(path), "%s%s%s", strcmp(rel, ".") == 0 ? "" : rel,
			     strcmp(rel, ".") == 0 ? "" : "/", de->d_name) >= (int)sizeof(path))
			continue;
		if (fstatat(rd->templates_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < MAX_SCAN_DEPTH)
				r = scan_dir(rd, path, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || template_load(rd, path, &t) < 0)
			continue;
		a = realloc(rd->templates, (rd->ntemplates + 1) * sizeof(*a));
		if (!a) {
			template_free(t);
			r = -ENOMEM;
			break;
		}
		rd->templates = a;
		rd->templates[rd->ntemplates++] = t;
	}
	closedir(dir);
	return r;
}

static int templates_scan(struct renderer *rd)
{
	int r;

	templates_clear(rd);
	if (rd->templates_fd < 0)
		return 0;
	r = scan_dir(rd, ".", 0);
	if (rd->ntemplates > 1)
		qsort(rd->templates, rd->ntemplates, sizeof(*rd->templates), template_cmp);
	log_debug(TAG, "%zu templates", rd->ntemplates);
	return r;
}

/* ---- render cache ---- */

static void cache_entry_free(struct render_entry *e)
{
	if (!e)
		return;
	site_file_unref(e->file);
	free(e->deps);
	free(e->path);
	free(e);
}

/* The cache's size, for /metrics: after every change of nentries and cache_bytes. */
static void cache_gauges(struct renderer *rd)
{
	metrics_set(&rd->metrics->render_entries, rd->nentries);
	metrics_set(&rd->metrics->render_bytes, rd->cache_bytes);
}

static void cache_clear(struct renderer *rd)
{
	for (size_t i = 0; i < rd->cache_buckets; i++) {
		rd->by_mac[i] = NULL;
		while (rd->cache[i]) {
			struct render_entry *e = rd->cache[i];

			rd->cache[i] = e->next;
			cache_entry_free(e);
		}
	}
	rd->cache_bytes = 0;
	rd->nentries = 0;
	cache_gauges(rd);
}

static struct render_entry **mac_slot(struct renderer *rd, const struct render_entry *e)
{
	struct render_entry **p = &rd->by_mac[hash_str(e->mac) & (rd->cache_buckets - 1)];

	while (*p != e)
		p = &(*p)->mnext;
	return p;
}

static struct render_entry **cache_slot(struct renderer *rd, const char *path)
{
	struct render_entry **p = &rd->cache[hash_str(path) & (rd->cache_buckets - 1)];

	for (; *p; p = &(*p)->next)
		if (strcmp((*p)->path, path) == 0)
			break;
	return p;
}

static void cache_remove(struct renderer *rd, struct render_entry **slot)
{
	struct render_entry *e = *slot;

	*slot = e->next;
	if (e->mac[0]) {
		struct render_entry **m = mac_slot(rd, e);

		*m = e->mnext;
	}
	rd->cache_bytes -= e->file->size;
	rd->nentries--;
	cache_gauges(rd);
	cache_entry_free(e);
}

/* Links e into both indexes. */
static void cache_link(struct renderer *rd, struct render_entry *e)
{
	struct render_entry **slot = &rd->cache[hash_str(e->path) & (rd->cache_buckets - 1)];

	e->next = *slot;
	*slot = e;
	if (e->mac[0]) {
		slot = &rd->by_mac[hash_str(e->mac) & (rd->cache_buckets - 1)];
		e->mnext = *slot;
		*slot = e;
	}
	rd->nentries++;
}

/* Doubles the buckets once there are more entries than buckets (chains stay short). */
static void cache_grow(struct renderer *rd)
{
	size_t n = rd->cache_buckets * 2, old_n = rd->cache_buckets;
	struct render_entry **cache, **by_mac, **old = rd->cache;

	if (rd->nentries <= rd->cache_buckets || n > ((size_t)1 << 24))
		return;
	cache = calloc(n, sizeof(*cache));
	by_mac = calloc(n, sizeof(*by_mac));
	if (!cache || !by_mac) {
		free(cache);
		free(by_mac);
		return;
	}
	free(rd->by_mac);
	rd->cache = cache;
	rd->by_mac = by_mac;
	rd->cache_buckets = n;
	rd->nentries = 0;
	for (size_t i = 0; i < old_n; i++) {
		while (old[i]) {
			struct render_entry *e = old[i];

			old[i] = e->next;
			cache_link(rd, e);
		}
	}
	free(old);
}

/* The directory's listener: drops the files of device mac (NULL: every file). */
static void cache_drop_device(void *arg, const char *mac)
{
	struct renderer *rd = arg;
	struct render_entry *e, **slot;

	if (!mac) {
		cache_clear(rd);
		return;
	}
	while ((e = rd->by_mac[hash_str(mac) & (rd->cache_buckets - 1)])) {
		while (e && strcmp(e->mac, mac) != 0)
			e = e->mnext;
		if (!e)
			break;
		slot = cache_slot(rd, e->path);
		cache_remove(rd, slot);
	}
}

/* Whether a check stamped *stamp is due in this iteration (always, without a kick). */
static bool check_due(struct renderer *rd, unsigned long *stamp)
{
	if (!rd->kick)
		return true;
	if (*stamp == rd->iter)
		return false;
	*stamp = rd->iter;
	rd->kick(rd->kick_arg);
	return true;
}

/* Whether the file at rel below dirfd is still the one id describes. */
static bool unchanged(int dirfd, const char *rel, const struct file_id *id)
{
	struct stat st;
	struct file_id now;

	if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	file_id_of(&st, &now);
	return file_id_same(&now, id);
}

/*
 * Templates are scanned again, and the render cache emptied, when a directory changed
 * (a template added, removed or replaced) or the template about to be used was edited.
 * Returns the template again by its path after a rescan, or NULL.
 */
static const struct template *templates_refresh(struct renderer *rd, struct template *t)
{
	bool changed = false;
	char path[PATH_MAX];

	if (t && check_due(rd, &t->checked))
		changed = !unchanged(rd->templates_fd, t->path, &t->id);
	if (!t && check_due(rd, &rd->dirs_checked))
		for (size_t i = 0; i < rd->ndirs && !changed; i++)
			changed = !unchanged(rd->templates_fd, rd->dir_paths[i], &rd->dir_ids[i]);
	if (!changed)
		return t;
	log_debug(TAG, "templates changed: scanning again");
	if (t)
		snprintf(path, sizeof(path), "%s", t->path);
	cache_clear(rd);
	(void)templates_scan(rd);
	if (!t)
		return NULL;
	for (size_t i = 0; i < rd->ntemplates; i++)
		if (strcmp(rd->templates[i]->path, path) == 0)
			return rd->templates[i];
	return NULL;
}

int renderer_device_known(struct renderer *rd, const char *mac)
{
	return directory_known(rd->dir, mac);
}

/* ---- context ---- */

static int set_str(json_t *ctx, const char *key, const char *value)
{
	return json_object_set_new(ctx, key, json_string(value)) < 0 ? -ENOMEM : 0;
}

/* "tftp://10.0.0.1/" or "tftp://[fe80::1]:6969/": the URL of this server for the protocol. */
static void server_url(const struct site_request *req, char *buf, size_t bufsz)
{
	char host[ADDR_STRLEN];
	uint16_t port;

	if (!req->local) {
		snprintf(buf, bufsz, "%s://localhost/", req->proto);
		return;
	}
	addr_format_host(req->local, host, sizeof(host));
	port = addr_port(req->local);
	if (req->local->sa_family == AF_INET6)
		snprintf(buf, bufsz, port == 69 ? "%s://[%s]/" : "%s://[%s]:%u/", req->proto, host,
			 port);
	else
		snprintf(buf, bufsz, port == 69 ? "%s://%s/" : "%s://%s:%u/", req->proto, host,
			 port);
}

/*
 * The context of a render: the request's built-ins, then what the directory adds (the
 * device's built-ins, the defaults, its group's and its own variables).
 */
static int build_context(struct renderer *rd, const struct template *t, const struct route_match *m,
			 const struct device *d, const struct site_request *req, json_t **ret)
{
	json_t *ctx = json_object();
	char buf[256];
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	r |= set_str(ctx, "proto", req->proto);
	server_url(req, buf, sizeof(buf));
	r |= set_str(ctx, "server_url", buf);
	if (req->local)
		r |= set_str(ctx, "server", addr_format_host(req->local, buf, sizeof(buf)));
	if (req->peer)
		r |= set_str(ctx, "peer", addr_format_host(req->peer, buf, sizeof(buf)));
	for (unsigned i = 0; i < m->nvars; i++)
		r |= set_str(ctx, m->vars[i].name, m->vars[i].value);
	if (r < 0) {
		r = -ENOMEM;
		goto fail;
	}
	/* the defaults and the group may have to be read: the store may not answer */
	r = directory_merge(rd->dir, d, NULL, ctx);
	if (r < 0)
		goto fail;
	if (t->version_var && set_str(ctx, t->version_var, VERSION_SENTINEL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = ctx;
	return 0;
fail:
	json_decref(ctx);
	return r == DIRECTORY_UNAVAILABLE ? r : -ENOMEM;
}

/* ---- rendering ---- */

struct partial_loader {
	struct renderer *rd;
	struct render_entry *entry; /* records what was loaded */
	char *sources[MAX_PARTIAL_DEPS];
	unsigned nsources;
};

static int load_partial(void *arg, const char *name, const char **ret_src, size_t *ret_len)
{
	struct partial_loader *pl = arg;
	struct render_entry *e = pl->entry;
	struct partial_dep *dep;
	char file[sizeof(dep->name)];
	size_t len;
	char *src;
	int r;

	/* names stay below partials/ and short enough to record with ".mustache" added */
	if (pl->rd->partials_fd < 0 || strstr(name, "..") || name[0] == '/' || !name[0] ||
	    strlen(name) > sizeof(dep->name) - sizeof(".mustache"))
		return -ENOENT;
	if (e->ndeps >= MAX_PARTIAL_DEPS || pl->nsources >= MAX_PARTIAL_DEPS)
		return -ENOENT;
	/* most renders use no partial: an entry costs its deps only when it has some */
	if (!e->deps && !(e->deps = calloc(MAX_PARTIAL_DEPS, sizeof(*e->deps))))
		return -ENOMEM;
	dep = &e->deps[e->ndeps];
	memset(dep, 0, sizeof(*dep));
	snprintf(dep->name, sizeof(dep->name), "%s", name);
	r = read_beneath(pl->rd->partials_fd, name, &src, &len, &dep->id);
	if (r == -ENOENT || r == -ELOOP) {
		snprintf(file, sizeof(file), "%s.mustache", name);
		r = read_beneath(pl->rd->partials_fd, file, &src, &len, &dep->id);
		if (r == 0)
			snprintf(dep->name, sizeof(dep->name), "%s", file);
	}
	e->ndeps++;
	if (r < 0) {
		/* missing: still a dependency, so that creating it is noticed */
		snprintf(dep->name, sizeof(dep->name), "%s", name);
		dep->missing = true;
		return -ENOENT;
	}
	pl->sources[pl->nsources++] = src;
	*ret_src = src;
	*ret_len = len;
	return 0;
}

/* Whether the partials a cached render used are still what they were. */
static bool deps_unchanged(struct renderer *rd, struct render_entry *e)
{
	if (e->ndeps == 0 || !check_due(rd, &e->checked))
		return true;
	for (unsigned i = 0; i < e->ndeps; i++) {
		const struct partial_dep *dep = &e->deps[i];
		struct stat st;
		struct file_id id;
		bool exists = rd->partials_fd >= 0 &&
			      fstatat(rd->partials_fd, dep->name, &st, AT_SYMLINK_NOFOLLOW) == 0;

		if (dep->missing) {
			char file[sizeof(dep->name) + sizeof(".mustache")];

			snprintf(file, sizeof(file), "%s.mustache", dep->name);
			if (exists || (rd->partials_fd >= 0 && fstatat(rd->partials_fd, file, &st,
								       AT_SYMLINK_NOFOLLOW) == 0))
				return false;
			continue;
		}
		if (!exists)
			return false;
		file_id_of(&st, &id);
		if (!file_id_same(&id, &dep->id))
			return false;
	}
	return true;
}

/* Replaces every sentinel in out with the version number. */
static int apply_version(char **out, size_t *len, uint64_t version)
{
	char num[24];
	size_t sl = strlen(VERSION_SENTINEL), nl, n = 0, o = 0;
	const char *p = *out, *end = *out + *len, *hit;
	char *res;

	nl = (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)version);
	for (hit = p; (hit = memmem(hit, (size_t)(end - hit), VERSION_SENTINEL, sl)); hit += sl)
		n++;
	res = malloc(*len - n * sl + n * nl + 1);
	if (!res)
		return -ENOMEM;
	while ((hit = memmem(p, (size_t)(end - p), VERSION_SENTINEL, sl))) {
		memcpy(res + o, p, (size_t)(hit - p));
		o += (size_t)(hit - p);
		memcpy(res + o, num, nl);
		o += nl;
		p = hit + sl;
	}
	memcpy(res + o, p, (size_t)(end - p));
	o += (size_t)(end - p);
	res[o] = '\0';
	free(*out);
	*out = res;
	*len = o;
	return 0;
}

static struct site_file *file_from(const char *path, char *data, size_t len)
{
	struct site_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->refs = 1;
	f->name = strdup(path);
	if (!f->name) {
		free(f);
		return NULL;
	}
	f->data = (uint8_t *)data;
	f->size = len;
	return f;
}

/* Renders t for path into a new cache entry (not inserted). -EIO on errors, logged. */
static int render(struct renderer *rd, const struct template *t, const char *path, const char *key,
		  json_t *ctx, const struct device *d, struct render_entry **ret)
{
	struct tpl_options topts = { .escape_html = rd->opts.escape_html };
	struct partial_loader pl = { .rd = rd };
	struct render_entry *e = calloc(1, sizeof(*e));
	struct tpl_error te;
	uint64_t version = 0;
	char *out = NULL;
	size_t len = 0;
	int r;

	if (!e)
		return -ENOMEM;
	pl.entry = e;
	e->tmpl = t;
	r = tpl_render(t->tpl, ctx, &(struct tpl_partials){ load_partial, &pl }, &topts, &out, &len,
		       &te);
	for (unsigned i = 0; i < pl.nsources; i++)
		free(pl.sources[i]);
	if (r < 0) {
		bool in_partial = strcmp(te.name, t->path) != 0;

		log_warnx(TAG, "%s%s:%u: %s (serving %s as not found)",
			  in_partial ? "partials/" : "templates/", te.name,
			  in_partial ? te.line : te.line + t->body_line - 1, te.message, path);
		r = -EIO;
		goto fail;
	}
	if (t->version_var) {
		char md5[MD5_HEX_LEN + 1];

		r = md5_hex(out, len, md5);
		if (r == 0) {
			/* a store in an outage is not asked before its backoff says so */
			r = directory_down(rd->dir) ? DIRECTORY_UNAVAILABLE
						    : store_version(rd->store, path, md5, &version);
			/* the version cannot be known: "try later", not a failing template */
			if (r < 0 && (r == DIRECTORY_UNAVAILABLE ||
				      directory_failed(rd->dir, r) == DIRECTORY_UNAVAILABLE)) {
				r = DIRECTORY_UNAVAILABLE;
				goto fail;
			}
		}
		if (r == 0)
			r = apply_version(&out, &len, version);
		if (r < 0) {
			log_warnx(TAG, "%s: cannot keep its version: %s", path, strerror(-r));
			r = -EIO;
			goto fail;
		}
	}
	if (t->encrypt_var) {
		json_t *secret = json_object_get(ctx, t->encrypt_var);
		unsigned char *enc;
		size_t enc_len;

		if (!json_is_string(secret) || json_string_length(secret) == 0) {
			log_warnx(TAG,
				  "%s: no variable '%s' to encrypt with%s%s (serving as not found)",
				  path, t->encrypt_var, d ? " for device " : "", d ? d->mac : "");
			r = -EIO;
			goto fail;
		}
		r = enc_encrypt(json_string_value(secret), out, len, NULL, &enc, &enc_len);
		if (r < 0) {
			log_warnx(TAG, "%s: cannot encrypt: %s", path, strerror(-r));
			r = -EIO;
			goto fail;
		}
		free(out);
		out = (char *)enc;
		len = enc_len;
	}
	e->path = strdup(key);
	e->file = file_from(path, out, len);
	if (e->file)
		e->file->version = version;
	if (!e->path || !e->file) {
		if (!e->file)
			free(out);
		r = -ENOMEM;
		goto fail_entry;
	}
	*ret = e;
	return 0;
fail:
	free(out);
fail_entry:
	cache_entry_free(e);
	return r;
}

int renderer_resolve(struct renderer *rd, const char *path, struct site_request *req,
		     struct site_file **ret)
{
	struct template *t = NULL;
	const struct device *d = NULL;
	struct render_entry **slot, *e;
	char url[300], key[PATH_MAX + sizeof(url)];
	struct route_match m;
	json_t *ctx;
	int r;

	if (rd->ndirs == 0)
		return -ENOENT; /* the site has no templates/ */
	(void)templates_refresh(rd, NULL);
	for (size_t i = 0; i < rd->ntemplates && !t; i++)
		if (route_match(rd->templates[i]->route, path, &m))
			t = rd->templates[i];
	if (t)
		t = (struct template *)templates_refresh(rd, t); /* edited in place since read? */
	if (!t)
		return -ENOENT;
	if (m.has_mac) {
		memcpy(req->mac, m.mac, sizeof(req->mac));
		r = directory_device(rd->dir, m.mac, &d);
		if (r < 0 && r != -ENOENT)
			return r == DIRECTORY_UNAVAILABLE ? r : -EIO;
		/* an unknown or disabled device is told what any missing file tells it */
		if (r == -ENOENT || !d->enabled)
			return -ENOENT;
		for (unsigned i = 0; i < m.nvars; i++) {
			const char *field = strcmp(m.vars[i].name, "model") == 0     ? d->model
					    : strcmp(m.vars[i].name, "profile") == 0 ? d->profile
					    : strcmp(m.vars[i].name, "group") == 0   ? d->group
										     : NULL;

			if (field && field[0] && strcmp(field, m.vars[i].value) != 0)
				return -ENOENT;
		}
	} else if ((r = directory_sync(rd->dir)) < 0) {
		return r == DIRECTORY_UNAVAILABLE ? r : -EIO;
	}
	if (!t->tpl)
		return -EIO; /* its error was logged when it was loaded */

	/*
	 * The same path rendered for another protocol or server address differs
	 * ({{server_url}}): the cache keeps one rendering per (protocol, URL, path).
	 */
	server_url(req, url, sizeof(url));
	if (snprintf(key, sizeof(key), "%s %s", url, path) >= (int)sizeof(key))
		return -ENAMETOOLONG;
	slot = cache_slot(rd, key);
	e = *slot;
	if (e && (e->tmpl != t || !deps_unchanged(rd, e)))
		cache_remove(rd, slot), e = NULL;
	if (e)
		goto hit;

	metrics_add(&rd->metrics->render_misses, 1);
	r = build_context(rd, t, &m, d, req, &ctx);
	if (r < 0)
		return r;
	r = render(rd, t, path, key, ctx, d, &e);
	if (r == 0 && !t->uses_peer) {
		if (d)
			memcpy(e->mac, d->mac, sizeof(e->mac));
		if (rd->cache_bytes + e->file->size > rd->opts.cache_size)
			cache_clear(rd); /* simple and exact: the next requests render again */
		cache_link(rd, e);
		cache_grow(rd);
		rd->cache_bytes += e->file->size;
		cache_gauges(rd);
		site_file_ref(e->file);
		*ret = e->file;
		json_decref(ctx);
		return 0;
	}
	json_decref(ctx);
	if (r < 0)
		return r;
	/* rendered for this request only */
	*ret = e->file;
	e->file = NULL;
	cache_entry_free(e);
	return 0;
hit:
	metrics_add(&rd->metrics->render_hits, 1);
	site_file_ref(e->file);
	*ret = e->file;
	return 0;
}

/* ---- life cycle ---- */

static int open_subdir(const char *site_dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", site_dir, name) >= (int)sizeof(path))
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int renderer_new(const char *site_dir, struct store *store, struct directory *dir,
		 const struct site_options *opts, struct site_metrics *metrics,
		 struct renderer **ret, char *err, size_t errsz)
{
	struct renderer *rd = calloc(1, sizeof(*rd));
	int r = -ENOMEM;

	if (!rd)
		return -ENOMEM;
	rd->store = store;
	rd->dir = dir;
	rd->metrics = metrics;
	rd->opts = *opts;
	rd->templates_fd = open_subdir(site_dir, "templates");
	rd->partials_fd = open_subdir(site_dir, "partials");
	rd->site_dir = strdup(site_dir);
	rd->cache_buckets = 4096;
	rd->cache = calloc(rd->cache_buckets, sizeof(*rd->cache));
	rd->by_mac = calloc(rd->cache_buckets, sizeof(*rd->by_mac));
	if (!rd->site_dir || !rd->cache || !rd->by_mac)
		goto fail;
	r = templates_scan(rd);
	if (r < 0) {
		snprintf(err, errsz, "%s/templates: %s", site_dir, strerror(-r));
		goto fail;
	}
	directory_set_listener(dir, cache_drop_device, rd);
	*ret = rd;
	return 0;
fail:
	renderer_free(rd);
	return r;
}

void renderer_free(struct renderer *rd)
{
	if (!rd)
		return;
	if (rd->cache && rd->by_mac)
		cache_clear(rd);
	if (rd->dir)
		directory_set_listener(rd->dir, NULL, NULL);
	templates_clear(rd);
	free(rd->cache);
	free(rd->by_mac);
	if (rd->templates_fd >= 0)
		close(rd->templates_fd);
	if (rd->partials_fd >= 0)
		close(rd->partials_fd);
	free(rd->site_dir);
	free(rd);
}

void renderer_reload(struct renderer *rd, const struct site_options *opts)
{
	rd->opts = *opts;
	cache_clear(rd);
	(void)templates_scan(rd);
}

void renderer_set_tick(struct renderer *rd, void (*kick)(void *arg), void *arg)
{
	rd->kick = kick;
	rd->kick_arg = arg;
	rd->iter = 1;
}

void renderer_tick(struct renderer *rd)
{
	rd->iter++;
}

size_t renderer_nroutes(const struct renderer *rd)
{
	return rd->ntemplates;
}
