// SPDX-License-Identifier: MIT
/* Number, size and boolean parsers shared by the configuration and the protocols. */
#include "core/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int str_to_u64_n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	bool overflow = false;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	return str_to_u64_n(s, strlen(s), min, max, ret);
}

int str_to_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	size_t len = strlen(s);
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (len > 0) {
		switch (s[len - 1]) {
		case 'k':
		case 'K': shift = 10; break;
		case 'm':
		case 'M': shift = 20; break;
		case 'g':
		case 'G': shift = 30; break;
		default: break;
		}
	}
	r = str_to_u64_n(s, shift ? len - 1 : len, 0, UINT64_MAX >> shift, &v);
	if (r < 0)
		return r;
	v <<= shift;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int str_to_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int str_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);

	if (dstsz == 0)
		return -ENAMETOOLONG;
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

char *str_dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void str_buf_init(struct str_buf *b, char *s, size_t size)
{
	b->s = s;
	b->size = size;
	b->len = 0;
	b->cut = false;
	s[0] = '\0';
}

static void buf_add_n(struct str_buf *b, const char *s, size_t n)
{
	if (n > b->size - 1 - b->len) {
		n = b->size - 1 - b->len;
		b->cut = true;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void str_buf_add(struct str_buf *b, const char *s)
{
	if (s)
		buf_add_n(b, s, strlen(s));
}

void str_buf_add_u64(struct str_buf *b, uint64_t v)
{
	char digits[20];
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_add_n(b, digits + i, sizeof(digits) - i);
}
