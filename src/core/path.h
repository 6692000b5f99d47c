// SPDX-License-Identifier: MIT
/*
 * Path safety: every protocol turns a requested name into a path below the site's
 * files/ with path_normalise() before anything touches the file system.
 */
#ifndef AUTOPROV_CORE_PATH_H
#define AUTOPROV_CORE_PATH_H

#include <stddef.h>

/*
 * Normalises the requested name (len bytes, not NUL-terminated) into ret: '\' becomes '/',
 * leading '/', empty and "." components are dropped, and a leading directory equal to
 * prefix (itself a normalised relative path, or NULL / "") is stripped.
 * Returns 0; -EACCES for a ".." component, a NUL or a control character;
 * -ENAMETOOLONG when len exceeds maxlen or the result does not fit in retsz;
 * -ENOENT when nothing is left (the name of the root directory).
 */
int path_normalise(const char *name, size_t len, const char *prefix, size_t maxlen, char *ret,
		   size_t retsz);

#endif
