// SPDX-License-Identifier: MIT
/* Requested-name normalisation shared by TFTP, HTTP and FTP (see path.h). */
#include "core/path.h"

#include <errno.h>
#include <string.h>

int path_normalise(const char *name, size_t len, const char *prefix, size_t maxlen, char *ret,
		   size_t retsz)
{
	size_t o = 0, i = 0;

	if (len > maxlen)
		return -ENAMETOOLONG;
	if (retsz == 0)
		return -ENAMETOOLONG;

	while (i < len) {
		size_t start, clen;

		while (i < len && (name[i] == '/' || name[i] == '\\'))
			i++;
		start = i;
		for (; i < len && name[i] != '/' && name[i] != '\\'; i++) {
			unsigned char c = (unsigned char)name[i];

			if (c < 0x20 || c == 0x7f)
				return -EACCES;
		}
		clen = i - start;
		if (clen == 0 || (clen == 1 && name[start] == '.'))
			continue;
		if (clen == 2 && name[start] == '.' && name[start + 1] == '.')
			return -EACCES;
		if (o + (o ? 1 : 0) + clen >= retsz)
			return -ENAMETOOLONG;
		if (o)
			ret[o++] = '/';
		memcpy(ret + o, name + start, clen);
		o += clen;
	}
	ret[o] = '\0';

	if (prefix && prefix[0]) {
		size_t pl = strlen(prefix);

		if (o > pl && strncmp(ret, prefix, pl) == 0 && ret[pl] == '/') {
			memmove(ret, ret + pl + 1, o - pl);
			o -= pl + 1;
		}
	}
	return o ? 0 : -ENOENT;
}
