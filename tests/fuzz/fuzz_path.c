// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for path_normalise(), the one gate between a requested name and the
 * file system. Input: byte 0 picks the prefix and the name limit, byte 1 the room for the
 * result, the rest is the name. On success the result must be a plain relative path with
 * no ".." (or any dot) component, no control character, no backslash, and fit its buffer;
 * every refusal must be for a reason path.h gives.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/path.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prefixes[] = { NULL, "", "tftpboot", "boot/pxe", "a" };

static bool is_sep(char c)
{
	return c == '/' || c == '\\';
}

/* What the name holds, seen independently of path.c. */
struct name_scan {
	bool bad;      /* a control character or a ".." component */
	bool has_part; /* a component other than "" and "." */
};

static struct name_scan scan(const char *name, size_t len)
{
	struct name_scan s = { false, false };
	size_t i = 0;

	while (i < len) {
		size_t start, clen;

		while (i < len && is_sep(name[i]))
			i++;
		start = i;
		while (i < len && !is_sep(name[i])) {
			unsigned char c = (unsigned char)name[i];

			if (c < 0x20 || c == 0x7f)
				s.bad = true;
			i++;
		}
		clen = i - start;
		if (clen == 2 && name[start] == '.' && name[start + 1] == '.')
			s.bad = true;
		else if (clen > 0 && !(clen == 1 && name[start] == '.'))
			s.has_part = true;
	}
	return s;
}

static void check_result(const char *ret, size_t retsz)
{
	size_t n;
	const char *c;

	CHECK(memchr(ret, '\0', retsz));
	n = strlen(ret);
	CHECK(n > 0 && n <= retsz - 1);
	CHECK(ret[0] != '/' && ret[n - 1] != '/');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)ret[i];

		CHECK(ch >= 0x20 && ch != 0x7f && ch != '\\');
	}
	CHECK(!strstr(ret, "//"));
	/* no "." or ".." component */
	for (c = ret; c; c = strchr(c, '/')) {
		size_t clen;

		if (*c == '/')
			c++;
		clen = strcspn(c, "/");
		CHECK(clen > 0);
		CHECK(!(clen == 1 && c[0] == '.'));
		CHECK(!(clen == 2 && c[0] == '.' && c[1] == '.'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *prefix, *name;
	size_t len, maxlen, retsz, fullsz;
	char *ret, *full, *again;
	struct name_scan s;
	int r, rfull;

	if (size < 2)
		return 0;
	prefix = prefixes[(data[0] & 0x7f) % (sizeof(prefixes) / sizeof(prefixes[0]))];
	maxlen = data[0] & 0x80 ? SIZE_MAX : 255;
	retsz = data[1] == 0 ? 4096 : data[1];
	name = (const char *)data + 2;
	len = size - 2;
	s = scan(name, len);

	/* buffers of the exact size, so that ASan sees a write past them */
	ret = malloc(retsz);
	fullsz = len + 1;
	full = malloc(fullsz);
	again = malloc(fullsz);
	CHECK(ret && full && again);

	r = path_normalise(name, len, prefix, maxlen, ret, retsz);
	/* the same name with room for anything and no prefix: the reference */
	rfull = path_normalise(name, len, NULL, SIZE_MAX, full, fullsz);
	CHECK(rfull == 0 || rfull == -EACCES || rfull == -ENOENT);
	CHECK((rfull == -EACCES) == s.bad);
	CHECK((rfull == -ENOENT) == (!s.bad && !s.has_part));

	switch (r) {
	case 0: {
		size_t pl = prefix ? strlen(prefix) : 0;
		const char *expect = full;

		CHECK(!s.bad && len <= maxlen && rfull == 0);
		check_result(ret, retsz);
		/* the reference, less the prefix when it is a whole leading directory */
		if (pl && strlen(full) > pl && strncmp(full, prefix, pl) == 0 && full[pl] == '/')
			expect = full + pl + 1;
		CHECK(strcmp(ret, expect) == 0);
		/* a normalised name normalises to itself */
		CHECK(path_normalise(ret, strlen(ret), NULL, SIZE_MAX, again, fullsz) == 0);
		CHECK(strcmp(again, ret) == 0);
		break;
	}
	case -EACCES: CHECK(s.bad); break;
	case -ENOENT: CHECK(!s.bad && !s.has_part); break;
	case -ENAMETOOLONG:
		CHECK(len > maxlen || s.bad || (rfull == 0 && strlen(full) >= retsz));
		break;
	default: CHECK(!"unexpected return value");
	}
	/* any name with a ".." component or a control character is refused */
	if (s.bad)
		CHECK(r == -EACCES || r == -ENAMETOOLONG);

	free(ret);
	free(full);
	free(again);
	return 0;
}
