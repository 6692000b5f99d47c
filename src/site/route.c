// SPDX-License-Identifier: MIT
/*
 * Route patterns (see route.h): compiled into literal and variable parts, matched with
 * bounded backtracking (a route has at most ROUTE_MAX_VARS variables).
 */
#include "site/route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum route_part_kind {
	PART_LITERAL,
	PART_MAC_UPPER, /* {MAC} */
	PART_MAC_LOWER, /* {mac} */
	PART_SEGMENT,	/* {name} */
};

struct route_part {
	enum route_part_kind kind;
	char *text; /* literal text, or the variable's name */
	size_t len;
};

struct route {
	char *pattern;
	struct route_part parts[2 * ROUTE_MAX_VARS + 1];
	size_t nparts;
	size_t literal_len;
	bool has_mac;
};

void route_free(struct route *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nparts; i++)
		free(r->parts[i].text);
	free(r->pattern);
	free(r);
}

static int add_part(struct route *r, enum route_part_kind kind, const char *text, size_t len)
{
	struct route_part *p = &r->parts[r->nparts];

	p->text = strndup(text, len);
	if (!p->text)
		return -ENOMEM;
	p->kind = kind;
	p->len = len;
	r->nparts++;
	if (kind == PART_LITERAL)
		r->literal_len += len;
	return 0;
}

int route_compile(const char *pattern, struct route **ret, char *err, size_t errsz)
{
	struct route *r = calloc(1, sizeof(*r));
	const char *p = pattern;
	unsigned nvars = 0;
	int rc = -ENOMEM;

	if (!r)
		return -ENOMEM;
	r->pattern = strdup(pattern);
	if (!r->pattern)
		goto fail;
	while (*p) {
		const char *open = strchr(p, '{');
		const char *close;
		size_t nl;

		if (!open) {
			if ((rc = add_part(r, PART_LITERAL, p, strlen(p))) < 0)
				goto fail;
			break;
		}
		if (open > p && (rc = add_part(r, PART_LITERAL, p, (size_t)(open - p))) < 0)
			goto fail;
		close = strchr(open, '}');
		nl = close ? (size_t)(close - open - 1) : 0;
		rc = -EINVAL;
		if (!close) {
			snprintf(err, errsz, "unclosed '{'");
			goto fail;
		}
		if (nl == 0 || memchr(open + 1, '/', nl) || memchr(open + 1, '{', nl)) {
			snprintf(err, errsz, "'{%.*s}' is not a variable name", (int)nl, open + 1);
			goto fail;
		}
		if (++nvars > ROUTE_MAX_VARS) {
			snprintf(err, errsz, "more than %d variables", ROUTE_MAX_VARS);
			goto fail;
		}
		if (r->nparts > 0 && r->parts[r->nparts - 1].kind == PART_SEGMENT) {
			/* {a}{b}: no way to tell where one ends */
			snprintf(err, errsz, "two variables side by side");
			goto fail;
		}
		if (nl == 3 &&
		    (memcmp(open + 1, "MAC", 3) == 0 || memcmp(open + 1, "mac", 3) == 0)) {
			if (r->has_mac) {
				snprintf(err, errsz, "more than one MAC in a route");
				goto fail;
			}
			r->has_mac = true;
			rc = add_part(r, open[1] == 'M' ? PART_MAC_UPPER : PART_MAC_LOWER, open + 1,
				      3);
		} else {
			rc = add_part(r, PART_SEGMENT, open + 1, nl);
		}
		if (rc < 0)
			goto fail;
		p = close + 1;
	}
	*ret = r;
	return 0;
fail:
	route_free(r);
	return rc;
}

const char *route_pattern(const struct route *r)
{
	return r->pattern;
}

size_t route_literal_len(const struct route *r)
{
	return r->literal_len;
}

bool route_has_mac(const struct route *r)
{
	return r->has_mac;
}

static bool is_hex(char c, bool upper)
{
	return (c >= '0' && c <= '9') || (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f'));
}

/*
 * Matches parts[i..] against s; records bindings in m. The path comes from a peer:
 * *budget bounds the backtracking whatever the pattern and the path.
 */
static bool match_from(const struct route *r, size_t i, const char *s, struct route_match *m,
		       unsigned *budget)
{
	const struct route_part *p;

	if (*budget == 0)
		return false;
	(*budget)--;
	if (i == r->nparts)
		return *s == '\0';
	p = &r->parts[i];
	switch (p->kind) {
	case PART_LITERAL:
		return strncmp(s, p->text, p->len) == 0 &&
		       match_from(r, i + 1, s + p->len, m, budget);
	case PART_MAC_UPPER:
	case PART_MAC_LOWER:
		for (unsigned k = 0; k < MAC_LEN; k++)
			if (!is_hex(s[k], p->kind == PART_MAC_UPPER))
				return false;
		for (unsigned k = 0; k < MAC_LEN; k++)
			m->mac[k] = (char)(s[k] >= 'A' && s[k] <= 'F' ? s[k] - 'A' + 'a' : s[k]);
		m->mac[MAC_LEN] = '\0';
		m->has_mac = true;
		return match_from(r, i + 1, s + MAC_LEN, m, budget);
	case PART_SEGMENT: {
		size_t seg = strcspn(s, "/");
		unsigned slot = m->nvars;

		if (seg >= ROUTE_VALUE_MAX)
			seg = ROUTE_VALUE_MAX - 1;
		/* the longest segment first, giving back one character at a time */
		for (size_t n = seg; n >= 1; n--) {
			m->nvars = slot + 1;
			m->vars[slot].name = p->text;
			memcpy(m->vars[slot].value, s, n);
			m->vars[slot].value[n] = '\0';
			if (match_from(r, i + 1, s + n, m, budget))
				return true;
		}
		m->nvars = slot;
		return false;
	}
	}
	return false;
}

bool route_match(const struct route *r, const char *path, struct route_match *ret)
{
	struct route_match m;
	unsigned budget = 4096;

	memset(&m, 0, sizeof(m));
	if (!match_from(r, 0, path, &m, &budget))
		return false;
	*ret = m;
	return true;
}
