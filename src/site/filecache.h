// SPDX-License-Identifier: MIT
/*
 * The file cache behind the resolver: name -> snapshot, validated against the file's
 * identity (device, inode, size, mtime, ctime) on every lookup, with an LRU of files no
 * transfer holds, bounded in bytes.
 */
#ifndef AUTOPROV_SITE_FILECACHE_H
#define AUTOPROV_SITE_FILECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "site/site.h"

int filecache_new(uint64_t cache_size, uint64_t max_file_size, struct filecache **ret);
void filecache_free(struct filecache *c);
void filecache_set_limits(struct filecache *c, uint64_t cache_size, uint64_t max_file_size);
/*
 * Names found missing are remembered (FILECACHE_ABSENT_MAX of them, least recently used
 * out) once a daemon's loop ends its iterations with filecache_tick(): a name known
 * absent costs no syscall, and a file placed since is seen from the next iteration, when
 * the directory that decides (files/, or the deepest existing one on the name's path) is
 * read again. kick(arg) asks for filecache_tick() at the end of the current iteration
 * (site_set_tick()). Without it every lookup looks on disk.
 */
#define FILECACHE_ABSENT_MAX 65536 /* a power of two */
void filecache_set_tick(struct filecache *c, void (*kick)(void *arg), void *arg);
void filecache_tick(struct filecache *c);
/* How many names are known absent. */
size_t filecache_nabsent(struct filecache *c);
/*
 * Forgets every file and every name known absent; files in use are freed when their last
 * reference goes.
 */
void filecache_flush(struct filecache *c);
/*
 * The snapshot of name below dirfd, read now if not cached or changed on disk.
 * Never follows a path out of dirfd. Errors as site_resolve().
 */
int filecache_get(struct filecache *c, int dirfd, const char *name, struct site_file **ret);
/*
 * One more reference to f (the renderer's cache hands out what it holds). Every count is
 * changed under one process-wide lock, which site_file_lock() takes too: workers share
 * snapshots (docs/architecture.md, "Threads").
 */
void site_file_ref(struct site_file *f);
void site_file_lock(void);
void site_file_unlock(void);

#endif
