// SPDX-License-Identifier: MIT
/* HTTP header values autoprov interprets itself (see http_parse.h). No I/O. */
#include "proto/http_parse.h"

#include <errno.h>
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

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the head: the index after the empty line, or 0 if there is none yet. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Whether a comma-separated list (Connection) holds token, in any case. */
static bool list_has(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; *p;) {
		size_t len;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == n && strncasecmp(p, token, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static int parse_request_line(char *line, size_t max_target, struct http_request *ret)
{
	char *sp1 = strchr(line, ' '), *sp2, *version;

	if (!sp1 || sp1 == line || sp1 - line > 32)
		return -EINVAL;
	*sp1 = '\0';
	for (char *p = line; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return -EINVAL;
	ret->method_name = line;
	ret->method = strcmp(line, "GET") == 0	  ? HTTP_GET
		      : strcmp(line, "HEAD") == 0 ? HTTP_HEAD
						  : HTTP_OTHER;
	ret->target = sp1 + 1;
	sp2 = strchr(ret->target, ' ');
	if (!sp2)
		return -EINVAL; /* HTTP/0.9 */
	*sp2 = '\0';
	ret->target_len = (size_t)(sp2 - ret->target);
	if (ret->target_len == 0)
		return -EINVAL;
	if (ret->target_len > max_target)
		return -ENAMETOOLONG;
	for (const char *p = ret->target; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	version = sp2 + 1;
	if (strncmp(version, "HTTP/", 5) != 0 || !(version[5] >= '0' && version[5] <= '9') ||
	    version[6] != '.' || !(version[7] >= '0' && version[7] <= '9') || version[8])
		return -EINVAL;
	if (version[5] != '1')
		return -EPROTONOSUPPORT;
	ret->minor = (unsigned)(version[7] - '0');
	return 0;
}

static int parse_content_length(const char *value, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*value)
		return -EINVAL;
	for (const char *p = value; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ret = v;
	return 0;
}

int http_parse_request(char *buf, size_t len, size_t max_head, size_t max_target,
		       struct http_request *ret)
{
	size_t end, skip = 0;
	char *line, *next, *stop;
	const char *connection = NULL;
	bool have_length = false;
	uint64_t length = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	/* empty lines before the request line (RFC 9112 2.2) */
	while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	end = head_end(buf + skip, len - skip);
	if (end == 0) {
		if (len > max_head)
			return -EMSGSIZE;
		/* a request line already longer than any allowed target */
		if (!memchr(buf + skip, '\n', len - skip) && len - skip > max_target + 64)
			return -ENAMETOOLONG;
		return 0;
	}
	end += skip;
	if (end > max_head)
		return -EMSGSIZE;
	if (memchr(buf, '\0', end))
		return -EINVAL;
	stop = buf + end;
	for (line = buf + skip; line < stop; line = next) {
		char *nl = memchr(line, '\n', (size_t)(stop - line)), *colon, *value, *vend;

		next = nl + 1;
		if (nl > line && nl[-1] == '\r')
			nl--;
		*nl = '\0';
		if (line == buf + skip) {
			r = parse_request_line(line, max_target, ret);
			if (r < 0)
				return r;
			continue;
		}
		if (*line == '\0')
			break; /* the empty line ending the head */
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return -EINVAL; /* no name; also a folded line starting with a space */
		for (char *p = line; p < colon; p++)
			if (!is_tchar((unsigned char)*p))
				return -EINVAL;
		*colon = '\0';
		value = colon + 1;
		value += strspn(value, " \t");
		vend = value + strlen(value);
		while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		*vend = '\0';
		for (char *p = value; p < vend; p++)
			if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
				return -EINVAL;
		if (strcasecmp(line, "Host") == 0)
			ret->host = value;
		else if (strcasecmp(line, "User-Agent") == 0)
			ret->user_agent = value;
		else if (strcasecmp(line, "Range") == 0)
			ret->range = value;
		else if (strcasecmp(line, "If-None-Match") == 0)
			ret->if_none_match = value;
		else if (strcasecmp(line, "If-Modified-Since") == 0)
			ret->if_modified_since = value;
		else if (strcasecmp(line, "Authorization") == 0)
			ret->authorization = value;
		else if (strcasecmp(line, "Connection") == 0)
			connection = value;
		else if (strcasecmp(line, "Transfer-Encoding") == 0)
			ret->has_body = true;
		else if (strcasecmp(line, "Content-Length") == 0) {
			uint64_t v;

			if (parse_content_length(value, &v) < 0 || (have_length && v != length))
				return -EINVAL;
			have_length = true;
			length = v;
		}
	}
	if (length > 0)
		ret->has_body = true;
	ret->keep_alive = ret->minor >= 1 ? !(connection && list_has(connection, "close"))
					  : connection && list_has(connection, "keep-alive");
	return (int)end;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_target_path(const char *target, size_t len, char *out, size_t outsz, size_t *ret_len)
{
	size_t n = 0, i = 0;

	if (len >= 7 && strncasecmp(target, "http://", 7) == 0)
		i = 7;
	else if (len >= 8 && strncasecmp(target, "https://", 8) == 0)
		i = 8;
	if (i) {
		/* absolute-form: the path starts after the authority */
		while (i < len && target[i] != '/' && target[i] != '?' && target[i] != '#')
			i++;
		if (i == len || target[i] != '/') {
			target = "/";
			len = 1;
			i = 0;
		}
	} else if (len == 0 || target[0] != '/') {
		return -EINVAL; /* "*" and authority-form */
	}
	for (; i < len && target[i] != '?' && target[i] != '#'; i++) {
		char c = target[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_value(target[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(target[i + 2]) : -1;

			if (lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= outsz)
			return -ENAMETOOLONG;
		out[n++] = c;
	}
	out[n] = '\0';
	*ret_len = n;
	return 0;
}
