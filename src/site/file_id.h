// SPDX-License-Identifier: MIT
/*
 * What a file's or a directory's stat says of it, to notice a change: another inode, size,
 * mtime or ctime (a directory's change when an entry is created, renamed or removed in it).
 * The renderer's templates and partials, the file cache's directories.
 */
#ifndef AUTOPROV_SITE_FILE_ID_H
#define AUTOPROV_SITE_FILE_ID_H

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static inline void file_id_of(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static inline bool file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

#endif
