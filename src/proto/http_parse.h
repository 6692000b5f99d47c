// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 requests as the server reads them (RFC 9112): the request line and the header
 * fields autoprov uses, the path of a target, byte ranges, entity tags, and the
 * Content-Type of a file name. Pure: no I/O.
 */
#ifndef AUTOPROV_PROTO_HTTP_PARSE_H
#define AUTOPROV_PROTO_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* A field value inside the request buffer, NUL-terminated there; NULL when absent. */
struct http_request {
	enum http_method method;
	const char *method_name; /* as sent, NUL-terminated */
	const char *target;	 /* as sent, NUL-terminated */
	size_t target_len;
	unsigned minor; /* HTTP/1.minor */
	const char *host, *user_agent, *range, *if_none_match, *if_modified_since, *authorization;
	bool keep_alive; /* HTTP/1.1 unless "Connection: close"; 1.0 with "keep-alive" */
	bool has_body;	 /* Content-Length > 0 or a Transfer-Encoding: the server closes after */
};

/*
 * Parses the head (request line and header fields) at the start of buf[0..len). Returns
 * its length once complete (the bytes after it are the next request), 0 while incomplete,
 * or an error with the status to answer: -EMSGSIZE the head exceeds max_head (431),
 * -ENAMETOOLONG the target exceeds max_target (414), -EPROTONOSUPPORT not HTTP/1.x (505),
 * -EINVAL malformed (400): a bad request line, a field name with spaces or
 * non-token characters, a folded line, a control character in a value, a bad or
 * conflicting Content-Length. Lines may end in CRLF or LF; empty lines before the request
 * line are skipped. A complete head is parsed in place: NULs replace the ends of the
 * strings ret points to. A missing Host is accepted (devices' HTTP/1.0 clients omit it).
 */
int http_parse_request(char *buf, size_t len, size_t max_head, size_t max_target,
		       struct http_request *ret);
/*
 * The path of a request target, percent-decoded into out (outsz bytes, NUL-terminated):
 * origin-form up to '?' or '#'; absolute-form ("http://host/path") without its scheme and
 * authority. The decoded path may contain any byte (the resolver refuses NUL and the
 * like). 0, -EINVAL (a bad %-escape or another form), -ENAMETOOLONG.
 */
int http_target_path(const char *target, size_t len, char *out, size_t outsz, size_t *ret_len);

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
