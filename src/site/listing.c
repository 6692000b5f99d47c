// SPDX-License-Identifier: MIT
/*
 * Directory listings of the site (site.h, "directory listings"): what files/ holds below a
 * directory, read through openat2(RESOLVE_BENEATH) so that no name and no symbolic link
 * reaches outside, plus the names templates render there for the login asking. A rendered
 * name is only listed once the resolver has served it for the same request, so a listing
 * never shows a file a fetch would refuse.
 */
#include "site/site.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/mac.h"
#include "site/directory.h"
#include "site/route.h"
#include "store/store.h"

#define MAX_TEMPLATE_DEPTH 8
#define MAX_ROUTE_NAMES	   4096

struct site_tree {
	int files_fd;	  /* DIR/files, or -1 */
	int templates_fd; /* DIR/templates, or -1 */
};

static int open_dir(const char *dir, const char *sub)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, sub) >= (int)sizeof(path))
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int site_tree_open(const char *dir, struct site_tree **ret)
{
	struct site_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->files_fd = open_dir(dir, "files");
	t->templates_fd = open_dir(dir, "templates");
	*ret = t;
	return 0;
}

void site_tree_free(struct site_tree *tree)
{
	if (!tree)
		return;
	if (tree->files_fd >= 0)
		close(tree->files_fd);
	if (tree->templates_fd >= 0)
		close(tree->templates_fd);
	free(tree);
}

void site_dirents_free(struct site_dirent *entries, size_t n)
{
	if (!entries)
		return;
	for (size_t i = 0; i < n; i++)
		free(entries[i].name);
	free(entries);
}

/* openat2 beneath dirfd; -EACCES for a path that would leave it. */
static int open_beneath(int dirfd, const char *name, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name[0] ? name : ".", &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	if (errno == EXDEV || errno == ELOOP)
		return -EACCES;
	return -errno;
}

/* Whether a request could name this entry: no dot files, control characters or '\'. */
static bool listable(const char *name)
{
	if (name[0] == '.' || name[0] == '\0')
		return false;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
	}
	return true;
}

/* ---- a growing list of entries ---- */

struct listing {
	struct site_dirent *e;
	size_t n, cap;
	size_t nstatic; /* entries from files/, sorted once read */
};

static int listing_add(struct listing *l, const char *name, size_t len, bool dir, uint64_t size,
		       struct timespec mtime)
{
	if (l->n >= SITE_LIST_MAX)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct site_dirent *e = realloc(l->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	l->e[l->n].name = strndup(name, len);
	if (!l->e[l->n].name)
		return -ENOMEM;
	l->e[l->n].dir = dir;
	l->e[l->n].size = size;
	l->e[l->n].mtime = mtime;
	l->n++;
	return 0;
}

static int dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct site_dirent *)a)->name, ((const struct site_dirent *)b)->name);
}

/* Whether name (len bytes) is listed already: files/ first (sorted), then routes. */
static bool listing_has(const struct listing *l, const char *name, size_t len)
{
	char key[NAME_MAX + 1];
	struct site_dirent k = { .name = key };

	if (len > NAME_MAX)
		return true; /* not a name a directory can hold: leave it out */
	memcpy(key, name, len);
	key[len] = '\0';
	if (l->nstatic && bsearch(&k, l->e, l->nstatic, sizeof(*l->e), dirent_cmp))
		return true;
	for (size_t i = l->nstatic; i < l->n; i++)
		if (strcmp(l->e[i].name, key) == 0)
			return true;
	return false;
}

/* ---- files/ ---- */

/* The entries of files/PATH. -ENOENT, -ENOTDIR, -ENOMEM; 0 also when files/ is absent. */
static int list_static(struct site_tree *tree, const char *path, struct listing *l)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (tree->files_fd < 0)
		return path[0] ? -ENOENT : 0;
	fd = open_beneath(tree->files_fd, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOTDIR : -ENOENT;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;

		if (!listable(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			/* followed the way a fetch would: only while it stays beneath files/ */
			int lfd;

			if (snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "/" : "",
				     de->d_name) >= (int)sizeof(sub))
				continue;
			lfd = open_beneath(tree->files_fd, sub, O_PATH);
			if (lfd < 0)
				continue;
			if (fstat(lfd, &st) < 0) {
				close(lfd);
				continue;
			}
			close(lfd);
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (listing_add(l, de->d_name, strlen(de->d_name), S_ISDIR(st.st_mode),
				S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, st.st_mtim) < 0) {
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

/* ---- routes ---- */

/* Template paths below templates/ (the route patterns), as render.c scans them. */
struct patterns {
	char **p;
	size_t n;
};

static void patterns_free(struct patterns *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->p[i]);
	free(ps->p);
}

static int scan_templates(int templates_fd, const char *rel, unsigned depth, struct patterns *ps)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(templates_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		char **a;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", strcmp(rel, ".") == 0 ? "" : rel,
			     strcmp(rel, ".") == 0 ? "" : "/", de->d_name) >= (int)sizeof(path))
			continue;
		if (fstatat(templates_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < MAX_TEMPLATE_DEPTH)
				r = scan_templates(templates_fd, path, depth + 1, ps);
			continue;
		}
		if (!S_ISREG(st.st_mode) || ps->n >= MAX_ROUTE_NAMES)
			continue;
		a = realloc(ps->p, (ps->n + 1) * sizeof(*a));
		if (!a) {
			r = -ENOMEM;
			break;
		}
		ps->p = a;
		ps->p[ps->n] = strdup(path);
		if (!ps->p[ps->n]) {
			r = -ENOMEM;
			break;
		}
		ps->n++;
	}
	closedir(d);
	return r;
}

/* What a device binds in a route: its MAC, and the fields of its row. */
struct binding {
	bool device;
	char mac_lower[MAC_LEN + 1], mac_upper[MAC_LEN + 1];
	char model[ROUTE_VALUE_MAX], profile[ROUTE_VALUE_MAX], group[ROUTE_VALUE_MAX];
};

static void binding_of(struct site *site, const char *mac, struct binding *b)
{
	const struct device *d = NULL;

	memset(b, 0, sizeof(*b));
	if (!mac || !mac[0])
		return;
	b->device = true;
	snprintf(b->mac_lower, sizeof(b->mac_lower), "%s", mac);
	mac_upper(mac, b->mac_upper);
	if (directory_device(site_directory(site), mac, &d) == 0) {
		snprintf(b->model, sizeof(b->model), "%s", d->model);
		snprintf(b->profile, sizeof(b->profile), "%s", d->profile);
		snprintf(b->group, sizeof(b->group), "%s", d->group);
	}
}

/*
 * The name a route pattern gives for the binding, in out: false when it has a variable the
 * binding has no value for (any variable without a device).
 */
static bool route_name(const char *pattern, const struct binding *b, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = pattern; *p;) {
		const char *value = NULL;
		size_t vl;

		if (*p != '{') {
			if (o + 1 >= outsz)
				return false;
			out[o++] = *p++;
			continue;
		}
		if (!b->device)
			return false;
		if (strncmp(p, "{MAC}", 5) == 0)
			value = b->mac_upper;
		else if (strncmp(p, "{mac}", 5) == 0)
			value = b->mac_lower;
		else if (strncmp(p, "{model}", 7) == 0)
			value = b->model;
		else if (strncmp(p, "{profile}", 9) == 0)
			value = b->profile;
		else if (strncmp(p, "{group}", 7) == 0)
			value = b->group;
		if (!value || !value[0] || strchr(value, '/'))
			return false;
		vl = strlen(value);
		if (o + vl >= outsz)
			return false;
		memcpy(out + o, value, vl);
		o += vl;
		p = strchr(p, '}') + 1;
	}
	out[o] = '\0';
	return true;
}

/* Whether name lies below directory dir ("" the top); *ret_rest is what follows. */
static bool below(const char *name, const char *dir, const char **ret_rest)
{
	size_t dl = strlen(dir);

	if (dl == 0) {
		*ret_rest = name;
		return true;
	}
	if (strncmp(name, dir, dl) != 0 || name[dl] != '/')
		return false;
	*ret_rest = name + dl + 1;
	return true;
}

/* Whether the login may see what the resolver serves for name, and its size and time. */
static bool route_entry_ok(struct site *site, const char *name, const char *mac,
			   const struct site_request *req, uint64_t *ret_size,
			   struct timespec *ret_mtime)
{
	struct site_request r = *req;
	struct site_file *f;

	if (site_resolve(site, name, strlen(name), &r, &f) < 0)
		return false;
	if (r.mac[0] && (!mac || strcmp(r.mac, mac) != 0)) {
		site_file_unref(f);
		return false;
	}
	*ret_size = f->size;
	if (f->mtime.tv_sec)
		*ret_mtime = f->mtime;
	else if (f->read_at.tv_sec)
		*ret_mtime = f->read_at;
	else
		clock_gettime(CLOCK_REALTIME, ret_mtime);
	site_file_unref(f);
	return true;
}

/* Adds the names routes give below path; *ret_any says whether any name lies below it. */
static int list_routes(struct site *site, struct site_tree *tree, const char *path, const char *mac,
		       const struct site_request *req, struct listing *l, bool *ret_any)
{
	struct patterns ps = { 0 };
	struct binding b;
	int r = 0;

	*ret_any = false;
	if (tree->templates_fd < 0)
		return 0;
	r = scan_templates(tree->templates_fd, ".", 0, &ps);
	if (r < 0)
		goto out;
	binding_of(site, mac, &b);
	for (size_t i = 0; i < ps.n && r == 0; i++) {
		char name[PATH_MAX];
		const char *rest, *slash;
		struct timespec mtime = { 0 };
		uint64_t size = 0;

		if (!route_name(ps.p[i], &b, name, sizeof(name)) || !below(name, path, &rest) ||
		    !rest[0])
			continue;
		*ret_any = true;
		if (!l)
			continue;
		slash = strchr(rest, '/');
		if (slash) {
			/* a directory on the way to the rendered name */
			size_t len = (size_t)(slash - rest);
			char seg[NAME_MAX + 1];

			if (len > NAME_MAX)
				continue;
			memcpy(seg, rest, len);
			seg[len] = '\0';
			if (!listable(seg) || listing_has(l, rest, len))
				continue;
			clock_gettime(CLOCK_REALTIME, &mtime);
			r = listing_add(l, rest, len, true, 0, mtime);
			continue;
		}
		if (!listable(rest) || listing_has(l, rest, strlen(rest)))
			continue;
		if (route_entry_ok(site, name, mac, req, &size, &mtime))
			r = listing_add(l, rest, strlen(rest), false, size, mtime);
	}
out:
	patterns_free(&ps);
	return r;
}

static int list_locked(struct site *site, struct site_tree *tree, const char *path, const char *mac,
		       const struct site_request *req, struct site_dirent **ret, size_t *ret_n);

int site_list(struct site *site, struct site_tree *tree, const char *path, const char *mac,
	      const struct site_request *req, struct site_dirent **ret, size_t *ret_n)
{
	int r;

	site_lock(site);
	r = list_locked(site, tree, path, mac, req, ret, ret_n);
	site_unlock(site);
	return r;
}

static int list_locked(struct site *site, struct site_tree *tree, const char *path, const char *mac,
		       const struct site_request *req, struct site_dirent **ret, size_t *ret_n)
{
	struct listing l = { 0 };
	bool any;
	int rs, r;

	rs = list_static(tree, path, &l);
	if (rs == -ENOMEM || rs == -ENOTDIR) {
		r = rs;
		goto fail;
	}
	if (l.n > 1)
		qsort(l.e, l.n, sizeof(*l.e), dirent_cmp);
	l.nstatic = l.n;
	r = list_routes(site, tree, path, mac, req, &l, &any);
	if (r < 0)
		goto fail;
	if (rs == -ENOENT && !any) {
		r = -ENOENT;
		goto fail;
	}
	if (l.n > 1)
		qsort(l.e, l.n, sizeof(*l.e), dirent_cmp);
	*ret = l.e;
	*ret_n = l.n;
	return 0;
fail:
	site_dirents_free(l.e, l.n);
	return r;
}

int site_dir_check(struct site *site, struct site_tree *tree, const char *path, const char *mac)
{
	bool any = false;
	int fd, r;

	if (!path[0])
		return 0;
	if (tree->files_fd >= 0) {
		fd = open_beneath(tree->files_fd, path, O_RDONLY | O_DIRECTORY);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (fd == -ENOTDIR)
			return -ENOTDIR;
	}
	site_lock(site);
	r = list_routes(site, tree, path, mac, NULL, NULL, &any);
	site_unlock(site);
	if (r < 0)
		return r;
	return any ? 0 : -ENOENT;
}
