// SPDX-License-Identifier: MIT
/*
 * The file cache behind the resolver: name -> snapshot, validated against the file's
 * identity (device, inode, size, mtime, ctime) on every lookup, with an LRU of files no
 * transfer holds, bounded in bytes.
 */
#ifndef AUTOPROV_SITE_FILECACHE_H
#define AUTOPROV_SITE_FILECACHE_H

#include <stdint.h>

#include "site/site.h"

int filecache_new(uint64_t cache_size, uint64_t max_file_size, struct filecache **ret);
void filecache_free(struct filecache *c);
void filecache_set_limits(struct filecache *c, uint64_t cache_size, uint64_t max_file_size);
/* Forgets every file; files in use are freed when their last reference goes. */
void filecache_flush(struct filecache *c);
/*
 * The snapshot of name below dirfd, read now if not cached or changed on disk.
 * Never follows a path out of dirfd. Errors as site_resolve().
 */
int filecache_get(struct filecache *c, int dirfd, const char *name, struct site_file **ret);

#endif
