// SPDX-License-Identifier: MIT
/*
 * The HTTP server's answers (proto/http_internal.h): the queue of pieces a connection
 * writes (head lines from its arena, bodies the files' snapshots, referenced until sent),
 * the status of every outcome, conditional requests and ranges, and the one end of every
 * exchange (its log line and journal row).
 */
#include "proto/http_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "site/metrics.h"

#define TAG "http"

/* ---- output ---- */

#define ARENAS_KEPT 1024 /* arenas a server keeps for reuse at most (4 MiB) */

void http_arena_put(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	c->arena_used = 0;
	if (!c->arena)
		return;
	if (srv->narenas < ARENAS_KEPT) {
		*(void **)(void *)c->arena = srv->arenas;
		srv->arenas = c->arena;
		srv->narenas++;
	} else {
		free(c->arena);
	}
	c->arena = NULL;
}

/* Where the next head goes (HEAD_MAX bytes): c's arena, taken when it has none; or NULL. */
static char *head_room(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (!c->arena) {
		if (srv->arenas) {
			c->arena = srv->arenas;
			srv->arenas = *(void **)srv->arenas;
			srv->narenas--;
		} else if (!(c->arena = malloc(OUT_ARENA))) {
			return NULL;
		}
	}
	return c->arena + c->arena_used;
}

void http_out_release(struct http_conn *c)
{
	for (unsigned i = 0; i < c->out_n; i++) {
		struct out_piece *p = &c->out[(c->out_first + i) % OUT_PIECES];

		if (p->file) {
			site_file_unref(p->file);
			metrics_sub(c->srv->m_transfers, 1);
		}
	}
	c->out_first = c->out_n = 0;
	http_arena_put(c);
}

/* Whether another answer fits in the queue (pieces and arena). */
bool http_out_room(const struct http_conn *c)
{
	return c->out_n + 2 <= OUT_PIECES && c->arena_used + HEAD_MAX <= OUT_ARENA;
}

static void out_add(struct http_conn *c, const char *data, size_t len, struct site_file *file)
{
	struct out_piece *p = &c->out[(c->out_first + c->out_n) % OUT_PIECES];

	p->data = data;
	p->len = len;
	p->file = file;
	c->out_n++;
	if (file)
		metrics_add(c->srv->m_transfers, 1);
}

/* ---- answers ---- */

void http_add_header(struct http_exchange *x, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (x->extra_len >= sizeof(x->extra))
		return;
	va_start(ap, fmt);
	n = vsnprintf(x->extra + x->extra_len, sizeof(x->extra) - x->extra_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= sizeof(x->extra) - x->extra_len) {
		x->extra[x->extra_len] = '\0'; /* too long: dropped */
		return;
	}
	x->extra_len += (size_t)n;
	memcpy(x->extra + x->extra_len, "\r\n", 3);
	x->extra_len += 2;
}

void http_add_field(struct http_exchange *x, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	/* "name: value\r\n" and the NUL */
	if (x->extra_len + nl + vl + 5 > sizeof(x->extra))
		return;
	memcpy(x->extra + x->extra_len, name, nl);
	memcpy(x->extra + x->extra_len + nl, ": ", 2);
	memcpy(x->extra + x->extra_len + nl + 2, value, vl);
	memcpy(x->extra + x->extra_len + nl + 2 + vl, "\r\n", 3);
	x->extra_len += nl + vl + 4;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

static const char *http_date_now(struct http_server *srv)
{
	time_t now = time(NULL);

	if (now != srv->date_second) {
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		srv->date_second = now;
	}
	return srv->date;
}

/*
 * The wire answer of every outcome (docs/http.md, "Outcomes"): a status and, for errors, a
 * short text. A caller may give another status of the same outcome (400, 414, 431, 505 are
 * each a bad request).
 */
static const struct http_answer {
	int status;
	const char *text;
} answers[_OUTCOME_MAX] = {
	[OUTCOME_SENT] = { 200, "" },
	[OUTCOME_PARTIAL] = { 206, "" },
	[OUTCOME_REDIRECTED] = { 302, "" },
	[OUTCOME_NOT_MODIFIED] = { 304, "" },
	[OUTCOME_NOT_FOUND] = { 404, "not found\n" },
	[OUTCOME_DENIED] = { 403, "forbidden\n" },
	[OUTCOME_REFUSED] = { 403, "access violation\n" },
	[OUTCOME_AUTH_REQUIRED] = { 401, "authentication required\n" },
	[OUTCOME_AUTH_FAILED] = { 401, "authentication required\n" },
	[OUTCOME_BLOCKED] = { 429, "blocked: too many requests for unknown devices\n" },
	[OUTCOME_TOO_LARGE] = { 500, "file too large to serve\n" },
	[OUTCOME_BUSY] = { 503, "busy, retry later\n" },
	[OUTCOME_UNAVAILABLE] = { 503, "unavailable, retry later\n" },
	[OUTCOME_BAD_REQUEST] = { 400, "bad request\n" },
	[OUTCOME_NOT_IMPLEMENTED] = { 405, "only GET and HEAD\n" },
	[OUTCOME_ERROR] = { 500, "server error\n" },
	[OUTCOME_TIMED_OUT] = { 408, "request timeout\n" },
	[OUTCOME_ABORTED] = { 400, "aborted\n" },
	[OUTCOME_PNP_URL_SENT] = { 500, "server error\n" },
	[OUTCOME_NOTIFY_ANSWERED] = { 500, "server error\n" },
	[OUTCOME_NOTIFY_TIMEOUT] = { 500, "server error\n" },
	[OUTCOME_SUBSCRIBE_REPEAT] = { 500, "server error\n" },
	[OUTCOME_BAD_EVENT] = { 400, "bad request\n" },
	[OUTCOME_SIP_BAD_REQUEST] = { 400, "bad request\n" },
	[OUTCOME_NOT_ALLOWED] = { 405, "only GET and HEAD\n" },
	[OUTCOME_IGNORED_NO_MAC] = { 404, "not found\n" },
	[OUTCOME_IGNORED_UNKNOWN] = { 404, "not found\n" },
	[OUTCOME_IGNORED_OUI] = { 404, "not found\n" },
};

int http_outcome_status(enum outcome o, const char **ret_text)
{
	if ((unsigned)o >= _OUTCOME_MAX || !answers[o].status)
		return -EINVAL;
	if (ret_text)
		*ret_text = answers[o].text;
	return answers[o].status;
}

/* Ends x's exchange: its log line (with the status sent) and journal row. */
void http_finish(struct http_exchange *x, enum outcome o, int status, uint64_t bytes,
		 const char *md5)
{
	char answer[24];
	struct str_buf b;

	str_buf_init(&b, answer, sizeof(answer));
	str_buf_add_u64(&b, (uint64_t)status);
	x->ex.verb = x->req && x->req->method_name ? x->req->method_name : "-";
	x->ex.verb_quoted = true;
	x->ex.user_agent = x->ua;
	/* the device logged in, else the one a failed login claimed (challenge()) */
	if (x->c->id.mac[0] || !x->ex.login_mac)
		x->ex.login_mac = x->c->id.mac;
	exchange_close(&x->ex, o, answer, bytes, md5, NULL);
}

/*
 * Queues an answer: status line, the common fields, x's extra fields, Content-Length
 * (length), then body unless HEAD: len bytes of file, referenced, or a short text, copied.
 */
void http_respond(struct http_exchange *x, int status, uint64_t length, const char *body,
		  size_t len, struct site_file *file)
{
	struct http_conn *c = x->c;
	char *head = head_room(c);
	bool head_only = x->req && x->req->method == HTTP_HEAD;
	struct str_buf b;
	int n;

	if (x->req && !x->req->keep_alive)
		c->close_after = true;
	if (!head) {
		/* no memory for the head: the connection ends without an answer */
		c->close_after = true;
		if (file)
			site_file_unref(file);
		return;
	}
	str_buf_init(&b, head, HEAD_MAX);
	str_buf_add(&b, "HTTP/1.1 ");
	str_buf_add_u64(&b, (uint64_t)status);
	str_buf_add(&b, " ");
	str_buf_add(&b, reason_phrase(status));
	str_buf_add(&b, "\r\nServer: autoprov\r\nDate: ");
	str_buf_add(&b, http_date_now(c->srv));
	str_buf_add(&b, "\r\nContent-Length: ");
	str_buf_add_u64(&b, length);
	str_buf_add(&b, "\r\n");
	str_buf_add(&b, x->extra);
	str_buf_add(&b, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
	n = (int)b.len;
	if (b.cut) {
		/* the fields did not fit (a very long Location): answer without them */
		n = snprintf(head, HEAD_MAX,
			     "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n");
		c->close_after = true;
		len = 0;
		if (file)
			site_file_unref(file);
		file = NULL;
	}
	if (!head_only && !file && len > 0 && c->arena_used + (size_t)n + len <= OUT_ARENA) {
		/* a short text: after the head, in the same piece */
		memcpy(head + n, body, len);
		n += (int)len;
		len = 0;
	}
	c->arena_used += (size_t)n;
	out_add(c, head, (size_t)n, NULL);
	if (head_only || len == 0) {
		if (file)
			site_file_unref(file);
		return;
	}
	out_add(c, body, len, file);
}

/*
 * The answer of outcome o that is not a file: its status (status, or the table's when 0)
 * and short text (text, or the table's), and the exchange ends. A blocked peer gets 429
 * with Retry-After and the connection closes.
 */
void http_respond_outcome(struct http_exchange *x, enum outcome o, int status, const char *text)
{
	const char *t = "";
	int st = http_outcome_status(o, &t);

	if (status)
		st = status;
	if (text)
		t = text;
	if (o == OUTCOME_BLOCKED) {
		x->c->close_after = true;
		http_add_header(x, "Retry-After: %u", x->ex.blocked_for);
	} else if (o == OUTCOME_UNAVAILABLE) {
		/* the store cannot be reached: the device's own retry comes back later */
		http_add_header(x, "Retry-After: %u", HTTP_UNAVAILABLE_RETRY_S);
	} else if (o == OUTCOME_BUSY) {
		http_add_header(x, "Retry-After: " HTTP_BUSY_RETRY);
	}
	http_add_header(x, "Content-Type: text/plain; charset=utf-8");
	http_respond(x, st, strlen(t), t, strlen(t), NULL);
	http_finish(x, o, st, 0, NULL);
}

/* An answer to a request that could not be parsed: then the connection closes. */
void http_respond_bad(struct http_conn *c, enum outcome o, int status, const char *text,
		      const char *detail)
{
	struct http_exchange x = { .c = c };

	exchange_begin(&x.ex, c->srv->site, c->srv->proto, (struct sockaddr *)&c->peer,
		       (struct sockaddr *)&c->local, "-");
	x.ex.detail = detail;
	c->close_after = true;
	c->unread = true;
	str_copy(x.name, sizeof(x.name), "-");
	http_respond_outcome(&x, o, status, text);
}

void http_serve_file(struct http_exchange *x, struct site_file *f)
{
	struct http_request *req = x->req;
	const char *md5 = site_file_md5(f);
	char etag[MD5_HEX_LEN + 3];
	bool has_mtime = f->mtime.tv_sec != 0;
	uint64_t first = 0, last = f->size ? f->size - 1 : 0, len = f->size;
	int status = 200, r;

	etag[0] = '"';
	memcpy(etag + 1, md5 ? md5 : "", md5 ? MD5_HEX_LEN : 0);
	memcpy(etag + 1 + (md5 ? MD5_HEX_LEN : 0), "\"", 2);
	if (md5)
		http_add_field(x, "ETag", etag);
	if (has_mtime) {
		char date[64];
		struct tm tm;

		gmtime_r(&f->mtime.tv_sec, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		http_add_field(x, "Last-Modified", date);
	}
	if ((req->if_none_match && md5 && http_etag_matches(req->if_none_match, etag)) ||
	    (!req->if_none_match && req->if_modified_since && has_mtime)) {
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		if (req->if_none_match ||
		    (strptime(req->if_modified_since, "%a, %d %b %Y %H:%M:%S GMT", &tm) &&
		     timegm(&tm) >= f->mtime.tv_sec)) {
			/* a 304 has no Content-Length of its own: the field would describe the body
			 */
			struct http_conn *c = x->c;
			char *head = head_room(c);
			int n = -1;

			if (!req->keep_alive)
				c->close_after = true;
			if (head)
				n = snprintf(head, HEAD_MAX,
					     "HTTP/1.1 304 Not Modified\r\nServer: autoprov\r\nDate: "
					     "%s\r\n%s%s\r\n",
					     http_date_now(c->srv), x->extra,
					     c->close_after ? "Connection: close\r\n" : "");
			else
				c->close_after = true;
			if (n > 0 && n < HEAD_MAX) {
				out_add(c, head, (size_t)n, NULL);
				c->arena_used += (size_t)n;
			}
			http_finish(x, OUTCOME_NOT_MODIFIED, 304, 0, NULL);
			site_file_unref(f);
			return;
		}
	}
	http_add_field(x, "Accept-Ranges", "bytes");
	r = http_parse_range(req->range, f->size, &first, &last);
	if (r < 0) {
		http_add_header(x, "Content-Range: bytes */%zu", f->size);
		site_file_unref(f);
		http_respond_outcome(x, OUTCOME_BAD_REQUEST, 416, "range not satisfiable\n");
		return;
	}
	if (r > 0) {
		status = 206;
		len = last - first + 1;
		http_add_header(x, "Content-Range: bytes %llu-%llu/%zu", (unsigned long long)first,
				(unsigned long long)last, f->size);
	}
	http_add_field(x, "Content-Type", http_content_type(f->name));
	http_respond(x, status, len, (const char *)f->data + first, (size_t)len, f);
	http_finish(x, status == 206 ? OUTCOME_PARTIAL : OUTCOME_SENT, status,
		    req->method == HTTP_HEAD ? 0 : len,
		    status == 200 && req->method != HTTP_HEAD ? md5 : NULL);
}
