// SPDX-License-Identifier: MIT
/*
 * Routes: a template's path below DIR/templates/ is the pattern of the names it serves.
 * {MAC} binds 12 upper-case hex digits, {mac} 12 lower-case ones, {name} one non-empty
 * path segment (no '/'); everything else matches itself, case-sensitively.
 */
#ifndef AUTOPROV_SITE_ROUTE_H
#define AUTOPROV_SITE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mac.h"

#define ROUTE_MAX_VARS	8
#define ROUTE_VALUE_MAX 128

struct route;

struct route_match {
	bool has_mac;
	char mac[MAC_LEN + 1]; /* canonical (lower case) */
	unsigned nvars;
	struct {
		const char *name; /* owned by the route */
		char value[ROUTE_VALUE_MAX];
	} vars[ROUTE_MAX_VARS];
};

/* 0, or -EINVAL with the reason in err ("unclosed '{'", "two {MAC} in one route", ...). */
int route_compile(const char *pattern, struct route **ret, char *err, size_t errsz);
void route_free(struct route *r);
const char *route_pattern(const struct route *r);
/* Characters that must match literally: routes with more are tried first. */
size_t route_literal_len(const struct route *r);
bool route_has_mac(const struct route *r);
/* Whether path matches; on a match *ret holds the bindings. */
bool route_match(const struct route *r, const char *path, struct route_match *ret);

#endif
