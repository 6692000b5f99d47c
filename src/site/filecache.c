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
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/log.h"

#define FILECACHE_READ_TRIES 3
/*
 * File times come from a coarse clock (a scheduler tick on many kernels): a file rewritten
 * in place with the same size within one tick of the read that cached it keeps its
 * identity. A snapshot read that soon after the file's last change is not trusted again.
 */
#define FILECACHE_RACY_NS (100 * 1000000LL)

struct filecache {
	struct site_file **buckets;
	size_t nbuckets; /* a power of two */
	size_t nfiles;
	uint64_t cache_size, max_file_size;
	/* unreferenced files, most recently used first */
	struct site_file *lru_head, *lru_tail;
	uint64_t lru_bytes;
};

/*
 * Every snapshot's reference count and the caches' lists of unreferenced files: the
 * workers of a daemon (docs/architecture.md, "Threads") share the site's snapshots, and a
 * transfer drops its reference on its own worker, outside the site's lock.
 */
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

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
	pthread_mutex_unlock(&files_lock);
}

void filecache_free(struct filecache *c)
{
	if (!c)
		return;
	filecache_flush(c);
	free(c->buckets);
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

int filecache_get(struct filecache *c, int dirfd, const char *name, struct site_file **ret)
{
	uint32_t hash = hash_str(name);
	struct site_file *f, *fresh = NULL;
	struct stat st;
	int r;

	if (fstatat(dirfd, name, &st, 0) < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
			return -ENOENT;
		if (errno == ELOOP)
			return -EACCES;
		return -errno;
	}
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
