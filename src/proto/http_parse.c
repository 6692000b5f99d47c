// SPDX-License-Identifier: MIT
/* HTTP header values autoprov interprets itself (see http_parse.h). No I/O. */
#include "proto/http_parse.h"

#include <string.h>
#include <strings.h>

#include "core/str.h"

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
	{ "xml", "application/xml" },
	{ "cfg", "text/plain" },
	{ "conf", "text/plain" },
	{ "boot", "text/plain" },
	{ "txt", "text/plain" },
	{ "md5", "text/plain" },
	{ "ini", "text/plain" },
	{ "zip", "application/zip" },
	{ "pem", "application/x-pem-file" },
	{ "crt", "application/x-pem-file" },
	{ "json", "application/json" },
};

const char *http_content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
			if (strcasecmp(dot + 1, content_types[i].ext) == 0)
				return content_types[i].type;
	return "application/octet-stream";
}

/*
 * The one range of "bytes=a-b", "bytes=a-" or "bytes=-n" over size bytes.
 * Returns 1 with [*first, *last], 0 to send the whole file (no range, or a form we do not
 * serve: several ranges), -1 when unsatisfiable.
 */
int http_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	const char *dash, *spec;
	uint64_t a, b;

	if (!h || strncasecmp(h, "bytes=", 6) != 0)
		return 0;
	spec = h + 6;
	if (strchr(spec, ','))
		return 0;
	dash = strchr(spec, '-');
	if (!dash)
		return 0;
	if (dash == spec) { /* the last n bytes */
		if (str_to_u64(dash + 1, 1, UINT64_MAX, &b) < 0)
			return 0;
		if (size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (str_to_u64_n(spec, (size_t)(dash - spec), 0, UINT64_MAX, &a) < 0)
		return 0;
	if (dash[1] == '\0')
		b = UINT64_MAX;
	else if (str_to_u64(dash + 1, 0, UINT64_MAX, &b) < 0 || b < a)
		return 0;
	if (a >= size)
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

/* Whether an If-None-Match list names etag (or is "*"). */
bool http_etag_matches(const char *list, const char *etag)
{
	const char *p = list;
	size_t el = strlen(etag);

	while (p && *p) {
		p += strspn(p, " \t,");
		if (p[0] == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, el) == 0 && (p[el] == '\0' || p[el] == ',' || p[el] == ' '))
			return true;
		p = strchr(p, ',');
	}
	return false;
}
