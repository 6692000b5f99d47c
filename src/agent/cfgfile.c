// SPDX-License-Identifier: MIT
/*
 * Line-oriented parsers of endpoint configuration files. One line reader (BOM, CRLF, line
 * length cap, forbidden bytes) serves every format; what differs is how a setting line is
 * cut into key and value, and what a boot file adds (include:config).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cfgfile.h"
#include "core/str.h"

/* Where a parse is and what went wrong. */
struct reader {
	const char *text;
	size_t len, pos;
	size_t line; /* 1-based number of the line last read */
	const char *why;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **b, const char **e)
{
	while (*b < *e && is_blank(**b))
		(*b)++;
	while (*e > *b && is_blank((*e)[-1]))
		(*e)--;
}

static void reader_init(struct reader *rd, const char *text, size_t len)
{
	*rd = (struct reader){ .text = text, .len = len };
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		rd->pos = 3;
}

/*
 * The next line in [*ret_b, *ret_e), its end of line removed. Returns 1 for a line, 0 at
 * the end of the text, or -EINVAL / -E2BIG with rd->why.
 */
static int reader_next(struct reader *rd, const char **ret_b, const char **ret_e)
{
	const char *b, *e, *nl;

	if (rd->pos >= rd->len)
		return 0;
	rd->line++;
	b = rd->text + rd->pos;
	nl = memchr(b, '\n', rd->len - rd->pos);
	e = nl ? nl : rd->text + rd->len;
	rd->pos = (size_t)(e - rd->text) + (nl ? 1 : 0);
	if (e > b && e[-1] == '\r')
		e--;
	if ((size_t)(e - b) > CFG_LINE_MAX) {
		rd->why = "line longer than 8192 bytes";
		return -E2BIG;
	}
	for (const char *p = b; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == 0) {
			rd->why = "NUL byte in the line";
			return -EINVAL;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			rd->why = "control character in the line";
			return -EINVAL;
		}
	}
	*ret_b = b;
	*ret_e = e;
	return 1;
}

/* A growing array of entries, capped at CFG_ENTRIES_MAX. */
static int add_entry(struct cfg *c, size_t *cap, char *key, char *value, const char **why)
{
	if (c->n == CFG_ENTRIES_MAX) {
		*why = "more than 65536 settings";
		return -E2BIG;
	}
	if (c->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct cfg_entry *p = realloc(c->entries, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->entries = p;
		*cap = ncap;
	}
	c->entries[c->n].key = key;
	c->entries[c->n].value = value;
	c->n++;
	return 0;
}

/* Cuts a setting line into a new key and value as fmt writes them. */
static int parse_setting(enum cfg_format fmt, const char *b, const char *e, char **ret_key,
			 char **ret_value, const char **why)
{
	const char *eq = memchr(b, '=', (size_t)(e - b));
	const char *kb = b, *ke, *vb, *ve = e;
	char *key, *value;

	if (!eq) {
		*why = "not a setting: no '='";
		return -EINVAL;
	}
	ke = eq;
	trim(&kb, &ke);
	if (kb == ke) {
		*why = "no name before '='";
		return -EINVAL;
	}
	for (const char *p = kb; p < ke; p++)
		if (is_blank(*p)) {
			*why = "blank inside a setting's name";
			return -EINVAL;
		}
	vb = eq + 1;
	switch (fmt) {
	case CFG_KEYVALUE: trim(&vb, &ve); break;
	case CFG_DBID: break;
	case CFG_PANASONIC:
		trim(&vb, &ve);
		if (vb < ve && *vb == '"') {
			const char *q = ve - 1;

			if (q == vb || *q != '"') {
				*why = "value without its closing '\"'";
				return -EINVAL;
			}
			vb++;
			ve = q;
		}
		break;
	}
	key = str_dup_n(kb, (size_t)(ke - kb));
	value = str_dup_n(vb, (size_t)(ve - vb));
	if (!key || !value) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	*ret_key = key;
	*ret_value = value;
	return 0;
}

static bool is_comment(enum cfg_format fmt, const char *b, const char *e)
{
	trim(&b, &e);
	return b == e || *b == '#' || (fmt == CFG_KEYVALUE && *b == ';');
}

int cfg_parse(enum cfg_format fmt, const char *text, size_t len, struct cfg *ret, size_t *ret_line,
	      const char **ret_why)
{
	struct cfg c = { NULL, 0 };
	struct reader rd;
	size_t cap = 0;
	const char *b, *e;
	int r;

	reader_init(&rd, text, len);
	while ((r = reader_next(&rd, &b, &e)) > 0) {
		char *key, *value;

		if (is_comment(fmt, b, e))
			continue;
		r = parse_setting(fmt, b, e, &key, &value, &rd.why);
		if (r < 0)
			break;
		r = add_entry(&c, &cap, key, value, &rd.why);
		if (r < 0) {
			free(key);
			free(value);
			break;
		}
	}
	if (r < 0) {
		cfg_done(&c);
		if (r != -ENOMEM) {
			if (ret_line)
				*ret_line = rd.line;
			if (ret_why)
				*ret_why = rd.why;
		}
		return r;
	}
	*ret = c;
	return 0;
}

const char *cfg_get(const struct cfg *c, const char *key)
{
	for (size_t i = c->n; i > 0; i--)
		if (strcmp(c->entries[i - 1].key, key) == 0)
			return c->entries[i - 1].value;
	return NULL;
}

/* cfg_merge's view of the entries of both files, in order. */
struct merge_item {
	const struct cfg_entry *entry;
	size_t pos;   /* in into, then from */
	size_t first; /* position where the key first appears (set for group leaders) */
};

static int cmp_key_pos(const void *a, const void *b)
{
	const struct merge_item *x = a, *y = b;
	int c = strcmp(x->entry->key, y->entry->key);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_first(const void *a, const void *b)
{
	const struct merge_item *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

int cfg_merge(struct cfg *into, const struct cfg *from)
{
	size_t total = into->n + from->n, groups = 0;
	struct merge_item *items;
	struct cfg_entry *out;

	if (total == 0)
		return 0;
	items = calloc(total, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		items[i].entry = i < into->n ? &into->entries[i] : &from->entries[i - into->n];
		items[i].pos = i;
	}
	qsort(items, total, sizeof(*items), cmp_key_pos);
	/* one item per key: its first position, its last entry */
	for (size_t i = 0; i < total;) {
		size_t j = i;

		while (j + 1 < total && strcmp(items[j + 1].entry->key, items[i].entry->key) == 0)
			j++;
		items[groups].first = items[i].pos;
		items[groups].entry = items[j].entry;
		groups++;
		i = j + 1;
	}
	qsort(items, groups, sizeof(*items), cmp_first);
	out = calloc(groups, sizeof(*out));
	if (!out) {
		free(items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < groups; i++) {
		out[i].key = strdup(items[i].entry->key);
		out[i].value = strdup(items[i].entry->value);
		if (!out[i].key || !out[i].value) {
			for (size_t k = 0; k <= i; k++) {
				free(out[k].key);
				free(out[k].value);
			}
			free(out);
			free(items);
			return -ENOMEM;
		}
	}
	free(items);
	cfg_done(into);
	into->entries = out;
	into->n = groups;
	return 0;
}

void cfg_done(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	c->entries = NULL;
	c->n = 0;
}

static bool starts_with(const char *b, const char *e, const char *prefix)
{
	size_t n = strlen(prefix);

	return (size_t)(e - b) >= n && memcmp(b, prefix, n) == 0;
}

/* One or more include:config statements from b (which starts with the first one). */
static int parse_includes(struct fip_boot *fb, size_t *cap, const char *b, const char *e,
			  const char **why)
{
	static const char kw[] = "include:config";

	while (b < e) {
		const char *ub, *ue, *close;
		char close_char, *url, **p;

		if (!starts_with(b, e, kw)) {
			*why = "text after the include:config URL";
			return -EINVAL;
		}
		b += sizeof(kw) - 1;
		while (b < e && is_blank(*b))
			b++;
		if (b == e || (*b != '<' && *b != '"')) {
			*why = "include:config without a URL in <> or \"\"";
			return -EINVAL;
		}
		close_char = *b == '<' ? '>' : '"';
		close = memchr(b + 1, close_char, (size_t)(e - b - 1));
		if (!close) {
			*why = close_char == '>' ? "include:config URL without its closing '>'"
						 : "include:config URL without its closing '\"'";
			return -EINVAL;
		}
		ub = b + 1;
		ue = close;
		trim(&ub, &ue);
		if (ub == ue) {
			*why = "empty include:config URL";
			return -EINVAL;
		}
		if (fb->n == FIP_INCLUDES_MAX) {
			*why = "more than 256 include:config lines";
			return -E2BIG;
		}
		if (fb->n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 8;

			p = realloc(fb->includes, ncap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			fb->includes = p;
			*cap = ncap;
		}
		url = str_dup_n(ub, (size_t)(ue - ub));
		if (!url)
			return -ENOMEM;
		fb->includes[fb->n++] = url;
		b = close + 1;
		while (b < e && is_blank(*b))
			b++;
	}
	return 0;
}

int fip_boot_parse(const char *text, size_t len, struct fip_boot *ret, size_t *ret_line,
		   const char **ret_why)
{
	static const char version_tag[] = "#!version:";
	struct fip_boot fb = { 0 };
	struct reader rd;
	size_t inc_cap = 0, set_cap = 0;
	const char *b, *e;
	int r;

	reader_init(&rd, text, len);
	while ((r = reader_next(&rd, &b, &e)) > 0) {
		char *key, *value;

		trim(&b, &e);
		if (rd.line == 1 && starts_with(b, e, version_tag)) {
			const char *vb = b + sizeof(version_tag) - 1;

			trim(&vb, &e);
			fb.version = str_dup_n(vb, (size_t)(e - vb));
			if (!fb.version) {
				r = -ENOMEM;
				break;
			}
			continue;
		}
		if (b == e || *b == '#')
			continue;
		if (starts_with(b, e, "include:config")) {
			r = parse_includes(&fb, &inc_cap, b, e, &rd.why);
			if (r < 0)
				break;
			continue;
		}
		if (!memchr(b, '=', (size_t)(e - b))) {
			rd.why = "neither include:config nor a key = value setting";
			r = -EINVAL;
			break;
		}
		r = parse_setting(CFG_KEYVALUE, b, e, &key, &value, &rd.why);
		if (r < 0)
			break;
		if (strcmp(key, "overwrite_mode") == 0) {
			if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
				free(key);
				free(value);
				rd.why = "overwrite_mode is 0 or 1";
				r = -EINVAL;
				break;
			}
			fb.overwrite = value[0] == '1';
			fb.has_overwrite = true;
		}
		r = add_entry(&fb.settings, &set_cap, key, value, &rd.why);
		if (r < 0) {
			free(key);
			free(value);
			break;
		}
	}
	if (r < 0) {
		fip_boot_done(&fb);
		if (r != -ENOMEM) {
			if (ret_line)
				*ret_line = rd.line;
			if (ret_why)
				*ret_why = rd.why;
		}
		return r;
	}
	*ret = fb;
	return 0;
}

void fip_boot_done(struct fip_boot *b)
{
	if (!b)
		return;
	free(b->version);
	for (size_t i = 0; i < b->n; i++)
		free(b->includes[i]);
	free(b->includes);
	cfg_done(&b->settings);
	*b = (struct fip_boot){ 0 };
}
