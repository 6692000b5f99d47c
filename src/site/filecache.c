// SPDX-License-Identifier: MIT
/*
 * File cache (see filecache.h). Files are read whole into memory and checked to have
 * stayed the same while being read, so what a transfer sends is one version of the file.
 * Opening goes through openat2(RESOLVE_BENEATH): no name, "..", or symbolic link can
 * reach a file outside the directory.
 */
#include "site/filecache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/log.h"
#include "site/file_id.h"

#define FILECACHE_READ_TRIES 3
/*
 * File times come from a coarse clock (a scheduler tick on many kernels): a file rewritten
 * in place with the same size within one tick of the read that cached it keeps its
 * identity. A snapshot read that soon after the file's last change is not trusted again.
 */
#define FILECACHE_RACY_NS  (100 * 1000000LL)
#define ABSENT_DIR_BUCKETS 256 /* a power of two */

/*
 * Names known absent from files/. Each entry depends on one directory: the deepest one
 * that exists on the name's path, whose entries decide the answer (a name created,
 * renamed or removed in it changes its mtime and ctime; a missing intermediate directory
 * appearing changes its parent's). A directory is read at most once per loop iteration,
 * by the first lookup that needs it; an entry found absent after its directory was read,
 * the directory unchanged since, is absent still. A change committed while an iteration
 * runs is concurrent with the requests it serves and the next iteration sees it, as the
 * renderer does for templates (render.c, check_due()).
 */
struct absent_dir {
	char *path; /* below files/, "" for files/ itself */
	uint32_t hash;
	struct absent_dir *hnext;
	unsigned refs;	       /* entries depending on it */
	struct file_id id;     /* at its last read */
	bool trusted;	       /* a directory whose times were not racy when read */
	unsigned long checked; /* the iteration it was last read in */
	unsigned long gen;     /* bumped whenever a read finds it changed */
};

struct absent_entry {
	char *name;
	uint32_t hash;
	struct absent_entry *hnext;
	struct absent_entry *lru_prev, *lru_next; /* most recently used first */
	struct absent_dir *dir;
	unsigned long gen; /* the generation of dir it was found absent in */
};

/* A lookup's note, before its stat, of the directory that would decide its absence. */
struct absent_mark {
	struct absent_dir *dir;
	unsigned long gen;
};

struct filecache {
	struct site_file **buckets;
	size_t nbuckets; /* a power of two */
	size_t nfiles;
	uint64_t cache_size, max_file_size;
	/* unreferenced files, most recently used first */
	struct site_file *lru_head, *lru_tail;
	uint64_t lru_bytes;

	/* names known absent (FILECACHE_ABSENT_MAX at most), only with a kick */
	void (*kick)(void *arg);
	void *kick_arg;
	unsigned long iter;
	struct absent_entry **absent; /* FILECACHE_ABSENT_MAX / 4 buckets, or NULL */
	size_t nabsent;
	struct absent_entry *absent_head, *absent_tail;
	struct absent_dir *absent_dirs[ABSENT_DIR_BUCKETS];
	unsigned long gens; /* the last generation given to a directory */
};

/*
 * Every snapshot's reference count and the caches' lists of unreferenced files: the
 * workers of a daemon (docs/architecture.md, "Threads") share the site's snapshots, and a
 * transfer drops its reference on its own worker, outside the site's lock.
 */
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

static void absent_clear(struct filecache *c);

static void site_file_free(struct site_file *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->data);
	free(f->netascii);
	free(f);
}

static void lru_remove(struct filecache *c, struct site_file *f)
{
	if (!f->in_lru)
		return;
	if (f->lru_prev)
		f->lru_prev->lru_next = f->lru_next;
	else
		c->lru_head = f->lru_next;
	if (f->lru_next)
		f->lru_next->lru_prev = f->lru_prev;
	else
		c->lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
	f->in_lru = false;
	c->lru_bytes -= f->size;
}

static void table_remove(struct filecache *c, struct site_file *f)
{
	struct site_file **p = &c->buckets[f->hash & (c->nbuckets - 1)];

	for (; *p; p = &(*p)->hnext) {
		if (*p == f) {
			*p = f->hnext;
			c->nfiles--;
			break;
		}
	}
	f->hnext = NULL;
	f->cache = NULL;
}

/* Takes f out of the cache; frees it unless a transfer still holds it. files_lock held. */
static void filecache_drop(struct filecache *c, struct site_file *f)
{
	lru_remove(c, f);
	table_remove(c, f);
	if (f->refs == 0)
		site_file_free(f);
}

/* files_lock held. */
static void filecache_trim(struct filecache *c)
{
	while (c->lru_tail && c->lru_bytes > c->cache_size)
		filecache_drop(c, c->lru_tail);
}

void site_file_ref(struct site_file *f)
{
	pthread_mutex_lock(&files_lock);
	f->refs++;
	pthread_mutex_unlock(&files_lock);
}

void site_file_lock(void)
{
	pthread_mutex_lock(&files_lock);
}

void site_file_unlock(void)
{
	pthread_mutex_unlock(&files_lock);
}

static int table_grow(struct filecache *c)
{
	size_t n = c->nbuckets * 2;
	struct site_file **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct site_file *f = c->buckets[i], *next;

		for (; f; f = next) {
			next = f->hnext;
			f->hnext = b[f->hash & (n - 1)];
			b[f->hash & (n - 1)] = f;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
	return 0;
}

int filecache_new(uint64_t cache_size, uint64_t max_file_size, struct filecache **ret)
{
	struct filecache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->nbuckets = 1024;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	c->cache_size = cache_size;
	c->max_file_size = max_file_size;
	*ret = c;
	return 0;
}

void filecache_flush(struct filecache *c)
{
	pthread_mutex_lock(&files_lock);
	for (size_t i = 0; i < c->nbuckets; i++)
		while (c->buckets[i])
			filecache_drop(c, c->buckets[i]);
	absent_clear(c);
	pthread_mutex_unlock(&files_lock);
}

void filecache_free(struct filecache *c)
{
	if (!c)
		return;
	filecache_flush(c);
	free(c->buckets);
	free(c->absent);
	free(c);
}

void filecache_set_limits(struct filecache *c, uint64_t cache_size, uint64_t max_file_size)
{
	c->cache_size = cache_size;
	c->max_file_size = max_file_size;
	pthread_mutex_lock(&files_lock);
	filecache_trim(c);
	pthread_mutex_unlock(&files_lock);
}

static bool same_identity(const struct site_file *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino && (off_t)f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       f->ctime.tv_sec == st->st_ctim.tv_sec && f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static bool is_racy(const struct site_file *f)
{
	long long d = (long long)(f->read_at.tv_sec - f->mtime.tv_sec) * 1000000000LL +
		      (f->read_at.tv_nsec - f->mtime.tv_nsec);

	return d >= 0 && d < FILECACHE_RACY_NS;
}

static int open_beneath(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	if (errno == EXDEV || errno == ELOOP)
		return -EACCES; /* the path would leave the directory */
	return -errno;
}

/* Reads the whole of fd into a snapshot; -EAGAIN if the file changed meanwhile. */
static int read_snapshot(struct filecache *c, int fd, struct site_file *f)
{
	struct stat before, after;
	size_t got = 0;
	uint8_t *data;

	clock_gettime(CLOCK_REALTIME, &f->read_at);
	if (fstat(fd, &before) < 0)
		return -errno;
	if (S_ISDIR(before.st_mode))
		return -ENOENT;
	if (!S_ISREG(before.st_mode))
		return -EACCES;
	if ((uint64_t)before.st_size > c->max_file_size)
		return -EFBIG;
	data = malloc((size_t)before.st_size + 1);
	if (!data)
		return -ENOMEM;
	/* One byte more than expected tells a file that grew while we read it. */
	while (got < (size_t)before.st_size + 1) {
		ssize_t n = pread(fd, data + got, (size_t)before.st_size + 1 - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(data);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (fstat(fd, &after) < 0 || got != (size_t)before.st_size ||
	    after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
	    after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
	    after.st_ctim.tv_nsec != before.st_ctim.tv_nsec) {
		free(data);
		return -EAGAIN;
	}
	f->data = data;
	f->size = got;
	f->dev = after.st_dev;
	f->ino = after.st_ino;
	f->mtime = after.st_mtim;
	f->ctime = after.st_ctim;
	return 0;
}

/* A new snapshot of name, not yet in the cache. */
static int read_file(struct filecache *c, int dirfd, const char *name, struct site_file **ret)
{
	struct site_file *f;
	int r = -EAGAIN;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->name = strdup(name);
	if (!f->name) {
		free(f);
		return -ENOMEM;
	}
	for (int tries = 0; tries < FILECACHE_READ_TRIES && r == -EAGAIN; tries++) {
		int fd = open_beneath(dirfd, name);

		if (fd < 0) {
			r = fd;
			break;
		}
		r = read_snapshot(c, fd, f);
		close(fd);
	}
	if (r < 0) {
		site_file_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

static void filecache_insert(struct filecache *c, struct site_file *f, uint32_t hash)
{
	if (c->nfiles >= c->nbuckets)
		(void)table_grow(c); /* a longer chain is still correct */
	f->refs = 1;
	f->hash = hash;
	f->cache = c;
	f->hnext = c->buckets[hash & (c->nbuckets - 1)];
	c->buckets[hash & (c->nbuckets - 1)] = f;
	c->nfiles++;
	log_debug("site", "loaded %s (%zu bytes)", f->name, f->size);
}

/* The cached snapshot of name, or NULL. files_lock held. */
static struct site_file *lookup(struct filecache *c, const char *name, uint32_t hash)
{
	struct site_file *f = c->buckets[hash & (c->nbuckets - 1)];

	for (; f; f = f->hnext)
		if (f->hash == hash && strcmp(f->name, name) == 0)
			break;
	return f;
}

/* ---- names known absent (see struct absent_dir) ---- */

static long long ns_between(const struct timespec *from, const struct timespec *to)
{
	return (long long)(to->tv_sec - from->tv_sec) * 1000000000LL +
	       (to->tv_nsec - from->tv_nsec);
}

/* A directory changed too recently (or dated ahead) for its times to tell the next change. */
static bool dir_is_racy(const struct stat *st, const struct timespec *now)
{
	return ns_between(&st->st_mtim, now) < FILECACHE_RACY_NS ||
	       ns_between(&st->st_ctim, now) < FILECACHE_RACY_NS;
}

/* The directory record for the first len bytes of path, or NULL. files_lock held. */
static struct absent_dir *absent_dir_find(struct filecache *c, const char *path, size_t len)
{
	uint32_t hash = hash_bytes(HASH_INIT, path, len);
	struct absent_dir *d = c->absent_dirs[hash & (ABSENT_DIR_BUCKETS - 1)];

	for (; d; d = d->hnext)
		if (d->hash == hash && strlen(d->path) == len && memcmp(d->path, path, len) == 0)
			break;
	return d;
}

/* The record found or a new one, untrusted; NULL when out of memory. files_lock held. */
static struct absent_dir *absent_dir_get(struct filecache *c, const char *path, size_t len)
{
	struct absent_dir *d = absent_dir_find(c, path, len);

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strndup(path, len))) {
		free(d);
		return NULL;
	}
	d->hash = hash_bytes(HASH_INIT, path, len);
	d->gen = ++c->gens;
	d->hnext = c->absent_dirs[d->hash & (ABSENT_DIR_BUCKETS - 1)];
	c->absent_dirs[d->hash & (ABSENT_DIR_BUCKETS - 1)] = d;
	return d;
}

/* Frees d once no entry depends on it. files_lock held. */
static void absent_dir_put(struct filecache *c, struct absent_dir *d)
{
	struct absent_dir **p = &c->absent_dirs[d->hash & (ABSENT_DIR_BUCKETS - 1)];

	if (d->refs > 0)
		return;
	for (; *p; p = &(*p)->hnext) {
		if (*p == d) {
			*p = d->hnext;
			break;
		}
	}
	free(d->path);
	free(d);
}

/*
 * Reads d again, once per iteration: a directory changed (or gone) since its last read
 * takes a new generation, and every entry found absent in it goes. files_lock held.
 */
static void absent_dir_check(struct filecache *c, int dirfd, struct absent_dir *d)
{
	struct stat st;
	struct timespec now;
	struct file_id id = { 0 };
	bool is_dir;

	if (d->checked == c->iter)
		return;
	d->checked = c->iter;
	c->kick(c->kick_arg);
	clock_gettime(CLOCK_REALTIME, &now);
	is_dir = (d->path[0] ? fstatat(dirfd, d->path, &st, 0) : fstat(dirfd, &st)) == 0 &&
		 S_ISDIR(st.st_mode);
	if (is_dir)
		file_id_of(&st, &id);
	if (!is_dir || !d->trusted || !file_id_same(&id, &d->id))
		d->gen = ++c->gens;
	d->id = id;
	d->trusted = is_dir && !dir_is_racy(&st, &now);
}

static void absent_unlink(struct filecache *c, struct absent_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->absent_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->absent_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void absent_push(struct filecache *c, struct absent_entry *e)
{
	e->lru_next = c->absent_head;
	if (c->absent_head)
		c->absent_head->lru_prev = e;
	else
		c->absent_tail = e;
	c->absent_head = e;
}

static struct absent_entry **absent_slot(struct filecache *c, const char *name, uint32_t hash)
{
	struct absent_entry **p = &c->absent[hash & (FILECACHE_ABSENT_MAX / 4 - 1)];

	for (; *p; p = &(*p)->hnext)
		if ((*p)->hash == hash && strcmp((*p)->name, name) == 0)
			break;
	return p;
}

/* files_lock held. */
static void absent_drop(struct filecache *c, struct absent_entry *e)
{
	struct absent_entry **p = absent_slot(c, e->name, e->hash);

	*p = e->hnext;
	absent_unlink(c, e);
	c->nabsent--;
	e->dir->refs--;
	absent_dir_put(c, e->dir);
	free(e->name);
	free(e);
}

/* files_lock held. */
static void absent_clear(struct filecache *c)
{
	while (c->absent_head)
		absent_drop(c, c->absent_head);
}

/* name is absent below d as d's generation gen says; the least used entry goes if full. */
static void absent_insert(struct filecache *c, const char *name, uint32_t hash,
			  struct absent_dir *d)
{
	struct absent_entry **p, *e;

	if (!c->absent && !(c->absent = calloc(FILECACHE_ABSENT_MAX / 4, sizeof(*c->absent))))
		return;
	d->refs++; /* the new entry's, taken first: the drops below may release d's last */
	p = absent_slot(c, name, hash);
	if (*p)
		absent_drop(c, *p); /* another worker's, just before */
	if (c->nabsent >= FILECACHE_ABSENT_MAX)
		absent_drop(c, c->absent_tail);
	e = calloc(1, sizeof(*e));
	if (!e || !(e->name = strdup(name))) {
		free(e);
		d->refs--;
		absent_dir_put(c, d);
		return;
	}
	e->hash = hash;
	e->dir = d;
	e->gen = d->gen;
	p = absent_slot(c, name, hash); /* the drops above may have emptied the bucket */
	e->hnext = *p;
	*p = e;
	absent_push(c, e);
	c->nabsent++;
}

/*
 * Whether name is known absent: without a syscall, but for its directory's first read in
 * this iteration. Otherwise *mark notes the directory that would decide it, if read in
 * this iteration already (so before the caller's stat). files_lock held.
 */
static bool absent_known(struct filecache *c, int dirfd, const char *name, uint32_t hash,
			 struct absent_mark *mark)
{
	const char *slash = strrchr(name, '/');
	struct absent_entry *e;
	struct absent_dir *d;

	mark->dir = NULL;
	if (!c->kick || !c->absent)
		return false;
	e = *absent_slot(c, name, hash);
	if (e) {
		absent_dir_check(c, dirfd, e->dir);
		if (e->gen == e->dir->gen && e->dir->trusted) {
			absent_unlink(c, e);
			absent_push(c, e);
			return true;
		}
		absent_drop(c, e);
	}
	d = absent_dir_find(c, name, slash ? (size_t)(slash - name) : 0);
	if (d && d->checked == c->iter && d->trusted) {
		mark->dir = d;
		mark->gen = d->gen;
	}
	return false;
}

/* A path of plain components: no "", "." or ".." (which a directory's times do not cover). */
static bool absent_cacheable(const char *name)
{
	const char *p = name;

	if (strlen(name) >= PATH_MAX)
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/*
 * The deepest directory on name's path that exists ("" for dirfd itself), read now: the
 * length of its path in *len, its stat in *st. -1 when the answer also depends on a
 * symbolic link (a dangling one may come to point somewhere) or cannot be read.
 */
static int deepest_dir(int dirfd, const char *name, size_t *len, struct stat *st)
{
	char path[PATH_MAX];
	struct stat p;

	if (fstat(dirfd, st) < 0)
		return -1;
	*len = 0;
	for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
		size_t n = (size_t)(s - name);

		memcpy(path, name, n);
		path[n] = '\0';
		if (fstatat(dirfd, path, &p, 0) == 0 && S_ISDIR(p.st_mode)) {
			*st = p;
			*len = n;
			continue;
		}
		/* missing or a file: the directory above decides, unless it is a link */
		if (fstatat(dirfd, path, &p, AT_SYMLINK_NOFOLLOW) == 0)
			return S_ISLNK(p.st_mode) ? -1 : 0;
		return errno == ENOENT ? 0 : -1;
	}
	return 0;
}

/* name was just not found: remember it, against the directory that decides it. */
static void absent_add(struct filecache *c, int dirfd, const char *name, uint32_t hash,
		       const struct absent_mark *mark)
{
	const char *slash = strrchr(name, '/');
	size_t len = slash ? (size_t)(slash - name) : 0;
	struct absent_dir *d;
	struct timespec now;
	struct stat st;
	struct file_id id;

	if (!absent_cacheable(name))
		return;
	pthread_mutex_lock(&files_lock);
	if (c->kick && mark->dir) {
		/* its directory, read before the stat that missed, and unchanged since */
		d = absent_dir_find(c, name, len);
		if (d == mark->dir && d->gen == mark->gen) {
			absent_insert(c, name, hash, d);
			pthread_mutex_unlock(&files_lock);
			return;
		}
	}
	pthread_mutex_unlock(&files_lock);
	/* read the directory that decides, then look for the name again */
	clock_gettime(CLOCK_REALTIME, &now);
	if (deepest_dir(dirfd, name, &len, &st) < 0 || dir_is_racy(&st, &now))
		return;
	file_id_of(&st, &id);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    (errno != ENOENT && errno != ENOTDIR))
		return;
	pthread_mutex_lock(&files_lock);
	if (c->kick && (d = absent_dir_get(c, name, len))) {
		if (!d->trusted || !file_id_same(&id, &d->id)) {
			d->id = id;
			d->gen = ++c->gens;
		}
		d->trusted = true;
		if (d->checked != c->iter) {
			d->checked = c->iter;
			c->kick(c->kick_arg);
		}
		absent_insert(c, name, hash, d);
		absent_dir_put(c, d); /* freed if nothing depends on it */
	}
	pthread_mutex_unlock(&files_lock);
}

void filecache_set_tick(struct filecache *c, void (*kick)(void *arg), void *arg)
{
	pthread_mutex_lock(&files_lock);
	absent_clear(c);
	c->kick = kick;
	c->kick_arg = arg;
	c->iter = 1;
	pthread_mutex_unlock(&files_lock);
}

void filecache_tick(struct filecache *c)
{
	pthread_mutex_lock(&files_lock);
	c->iter++;
	pthread_mutex_unlock(&files_lock);
}

size_t filecache_nabsent(struct filecache *c)
{
	size_t n;

	pthread_mutex_lock(&files_lock);
	n = c->nabsent;
	pthread_mutex_unlock(&files_lock);
	return n;
}

/* errno of a failed stat of a name, as site_resolve() says it */
static int stat_error(int e)
{
	if (e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG)
		return -ENOENT;
	if (e == ELOOP)
		return -EACCES;
	return -e;
}

int filecache_get(struct filecache *c, int dirfd, const char *name, struct site_file **ret)
{
	uint32_t hash = hash_str(name);
	struct site_file *f, *fresh = NULL;
	struct absent_mark mark = { NULL, 0 };
	struct stat st;
	bool known;
	int r;

	pthread_mutex_lock(&files_lock);
	known = absent_known(c, dirfd, name, hash, &mark);
	pthread_mutex_unlock(&files_lock);
	if (known)
		return -ENOENT;
	/* not following a last link, so a missing name is one no link may come to reach */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			absent_add(c, dirfd, name, hash, &mark);
			return -ENOENT;
		}
		return stat_error(errno);
	}
	if (S_ISLNK(st.st_mode) && fstatat(dirfd, name, &st, 0) < 0)
		return stat_error(errno);
	if (S_ISDIR(st.st_mode))
		return -ENOENT;

	pthread_mutex_lock(&files_lock);
	f = lookup(c, name, hash);
	if (f && same_identity(f, &st) && !is_racy(f))
		goto reuse;
	/* read without the lock: another worker may drop its references meanwhile */
	pthread_mutex_unlock(&files_lock);
	r = read_file(c, dirfd, name, &fresh);
	pthread_mutex_lock(&files_lock);
	f = lookup(c, name, hash);
	/*
	 * Same bytes: keep sharing the snapshot transfers already hold, with the new
	 * identity. A transfer on another worker may be reading its times (Last-Modified,
	 * MDTM): while one holds it only read_at (read under the site's lock) may change; a
	 * file touched meanwhile gets a new snapshot.
	 */
	if (f && r == 0 && fresh->size == f->size && memcmp(fresh->data, f->data, f->size) == 0 &&
	    (f->refs == 0 || (f->dev == fresh->dev && f->ino == fresh->ino &&
			      !memcmp(&f->mtime, &fresh->mtime, sizeof(f->mtime)) &&
			      !memcmp(&f->ctime, &fresh->ctime, sizeof(f->ctime))))) {
		if (f->refs == 0) {
			f->dev = fresh->dev;
			f->ino = fresh->ino;
			f->mtime = fresh->mtime;
			f->ctime = fresh->ctime;
		}
		f->read_at = fresh->read_at;
		site_file_free(fresh);
		goto reuse;
	}
	if (f)
		filecache_drop(c, f); /* changed on disk: the next reader gets the new one */
	if (r < 0) {
		pthread_mutex_unlock(&files_lock);
		return r;
	}
	filecache_insert(c, fresh, hash);
	pthread_mutex_unlock(&files_lock);
	*ret = fresh;
	return 0;
reuse:
	lru_remove(c, f);
	f->refs++;
	pthread_mutex_unlock(&files_lock);
	*ret = f;
	return 0;
}

void site_file_unref(struct site_file *f)
{
	struct filecache *c;

	if (!f)
		return;
	pthread_mutex_lock(&files_lock);
	if (--f->refs > 0) {
		pthread_mutex_unlock(&files_lock);
		return;
	}
	c = f->cache;
	if (!c) {
		pthread_mutex_unlock(&files_lock);
		site_file_free(f);
		return;
	}
	f->lru_prev = NULL;
	f->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = f;
	else
		c->lru_tail = f;
	c->lru_head = f;
	f->in_lru = true;
	c->lru_bytes += f->size;
	filecache_trim(c);
	pthread_mutex_unlock(&files_lock);
}
