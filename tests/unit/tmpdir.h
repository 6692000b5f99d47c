// SPDX-License-Identifier: MIT
/* The unit tests' temporary directories: removed whole, whatever a test left in them. */
#ifndef AUTOPROV_TESTS_TMPDIR_H
#define AUTOPROV_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int tmpdir_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it (symbolic links themselves, not what they name). */
static inline void tmpdir_remove(const char *dir)
{
	nftw(dir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
