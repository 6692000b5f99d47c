// SPDX-License-Identifier: MIT
/*
 * The few HTTP header values autoprov interprets itself (evhttp parses the rest): byte
 * ranges, entity tags, and the Content-Type of a file name. Pure: no I/O.
 */
#ifndef AUTOPROV_PROTO_HTTP_PARSE_H
#define AUTOPROV_PROTO_HTTP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The one range of a Range header ("bytes=a-b", "bytes=a-", "bytes=-n") over size bytes.
 * Returns 1 with [*first, *last] inside the file, 0 to send the whole file (no header, a
 * malformed one, or several ranges), -1 when unsatisfiable (416).
 */
int http_parse_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last);
/* Whether an If-None-Match list names etag (quoted, as sent in ETag) or is "*". */
bool http_etag_matches(const char *list, const char *etag);
/* The Content-Type for a file name, by its extension. */
const char *http_content_type(const char *name);

#endif
