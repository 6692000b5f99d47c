// SPDX-License-Identifier: MIT
/*
 * Seed 001's macro expansion in one left-to-right pass over the input: each `$` either
 * starts a reference that is replaced by its value, or is copied as written. Values go
 * straight to the output, which is what makes the expansion non-recursive.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mac.h"
#include "macro/macro.h"

/* The output: grows by doubling, never beyond MACRO_OUT_MAX bytes (plus the NUL). */
struct outbuf {
	char *data;
	size_t len, cap;
};

static int out_add(struct outbuf *o, const char *s, size_t n)
{
	if (n > MACRO_OUT_MAX - o->len)
		return -E2BIG;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		if (cap > MACRO_OUT_MAX + 1)
			cap = MACRO_OUT_MAX + 1;
		p = realloc(o->data, cap);
		if (!p)
			return -ENOMEM;
		o->data = p;
		o->cap = cap;
	}
	memcpy(o->data + o->len, s, n);
	o->len += n;
	o->data[o->len] = '\0';
	return 0;
}

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static size_t name_len(const char *s)
{
	size_t n = 0;

	while (is_name_char(s[n]))
		n++;
	return n;
}

/* Decimal digits at *s into *ret (saturating: any offset past a value is as good as
 * SIZE_MAX). Returns false when there is no digit. */
static bool parse_index(const char **s, size_t *ret)
{
	const char *p = *s;
	size_t v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		size_t d = (size_t)(*p - '0');

		v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
	}
	*s = p;
	*ret = v;
	return true;
}

/* A reference after a `$`: where its name is, the substring asked for and its length in
 * the input (from the `$`). */
struct reference {
	const char *name;
	size_t name_len;
	size_t offset, count; /* count SIZE_MAX: to the end */
	size_t len;
};

/* Reads the reference at s (which points at the `$`). False: not a reference. */
static bool parse_reference(const char *s, struct reference *ref)
{
	const char *p = s + 1;

	ref->offset = 0;
	ref->count = SIZE_MAX;
	if (*p != '(') {
		ref->name = p;
		ref->name_len = name_len(p);
		ref->len = 1 + ref->name_len;
		return ref->name_len > 0;
	}
	p++;
	ref->name = p;
	ref->name_len = name_len(p);
	if (ref->name_len == 0)
		return false;
	p += ref->name_len;
	if (*p == ':') {
		p++;
		if (!parse_index(&p, &ref->offset))
			return false;
		if (*p == ':') {
			p++;
			if (!parse_index(&p, &ref->count))
				return false;
		}
	}
	if (*p != ')')
		return false;
	ref->len = (size_t)(p + 1 - s);
	return true;
}

int macro_expand(const char *in, const char *(*lookup)(void *ctx, const char *name, size_t len),
		 void *ctx, char **ret_out)
{
	struct outbuf o = { NULL, 0, 0 };
	const char *p = in;
	int r;

	/* an empty input still gives a (malloc'd, empty) string */
	r = out_add(&o, "", 0);
	while (r == 0 && *p) {
		const char *dollar = strchr(p, '$');
		struct reference ref;
		const char *value;

		if (!dollar) {
			r = out_add(&o, p, strlen(p));
			break;
		}
		r = out_add(&o, p, (size_t)(dollar - p));
		if (r < 0)
			break;
		if (dollar[1] == '$') {
			r = out_add(&o, "$", 1);
			p = dollar + 2;
			continue;
		}
		if (!parse_reference(dollar, &ref)) {
			r = out_add(&o, "$", 1);
			p = dollar + 1;
			continue;
		}
		value = lookup ? lookup(ctx, ref.name, ref.name_len) : NULL;
		if (!value) {
			/* unknown: as written, and scanning goes on after it */
			r = out_add(&o, dollar, ref.len);
		} else {
			size_t vlen = strlen(value), n = 0;

			if (ref.offset < vlen) {
				n = vlen - ref.offset;
				if (ref.count < n)
					n = ref.count;
			}
			r = out_add(&o, value + (ref.offset < vlen ? ref.offset : vlen), n);
		}
		p = dollar + ref.len;
	}
	if (r < 0) {
		free(o.data);
		return r;
	}
	*ret_out = o.data;
	return 0;
}

int macro_device_set_mac(struct macro_device *d, const char *mac, const char **ret_why)
{
	char canon[MAC_LEN + 1];
	int r;

	r = mac_parse(mac, canon, ret_why);
	if (r < 0)
		return r;
	memcpy(d->ma, canon, sizeof(d->ma));
	mac_upper(canon, d->mau);
	mac_colons(canon, d->mac);
	return 0;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

const char *macro_device_lookup(void *device, const char *name, size_t len)
{
	const struct macro_device *d = device;
	const char *v = NULL;

	if (name_is(name, len, "MA"))
		v = d->ma;
	else if (name_is(name, len, "MAU"))
		v = d->mau;
	else if (name_is(name, len, "MAC"))
		v = d->mac;
	else if (name_is(name, len, "PN"))
		return d->model;
	else if (name_is(name, len, "PSN"))
		return d->series;
	else if (name_is(name, len, "SN"))
		return d->serial;
	else if (name_is(name, len, "IP"))
		return d->ip;
	else if (name_is(name, len, "SWVER"))
		return d->sw_version;
	else if (name_is(name, len, "HWVER"))
		return d->hw_version;
	/* MAC variables before macro_device_set_mac(): unknown */
	return v && v[0] ? v : NULL;
}
