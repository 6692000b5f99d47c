// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 server on libevent's evhttp (request parsing, keep-alive and timeouts are
 * evhttp's). Each GET or HEAD goes through the site's resolver like a TFTP read request;
 * the body is the file's snapshot itself, referenced by the output buffer (no copy) and
 * released when it has been sent. Devices that poll get 304s: every response carries the
 * MD5 of its body as ETag, static files their mtime as Last-Modified.
 */
#include "proto/http.h"
#include "proto/http_parse.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/str.h"
#include "site/site.h"
#include "store/store.h"

#define TAG "http"

#define NAME_LOG_MAX 512
#define UA_MAX	     256

void http_config_default(struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = false;
	(void)addr_parse("0.0.0.0:80", &cfg->listen);
	cfg->timeout_s = 30;
	cfg->max_header_size = 8192;
}

struct http_server {
	struct event_base *base;
	struct site *site;
	struct http_config cfg;
	struct evhttp *http;
	struct addr local;
	bool wildcard; /* bound to 0.0.0.0 or ::: each connection tells its own address */
};

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

/* One request, as the log line and the journal entry see it. */
struct exchange {
	struct http_server *srv;
	struct evhttp_request *req;
	const struct sockaddr *peer;
	char peer_text[ADDR_STRLEN];
	char name[NAME_LOG_MAX]; /* the path as requested, escaped */
	char ua[UA_MAX];	 /* the User-Agent, escaped */
	struct site_request sreq;
};

static void record(struct exchange *x, int status, uint64_t bytes, const char *md5,
		   const char *detail)
{
	const char *outcome = status < 300    ? "sent"
			      : status == 304 ? "not modified"
			      : status == 404 ? "not found"
			      : status == 403 ? "denied"
					      : "error";
	struct journal_entry e = {
		.proto = "http",
		.peer = x->peer_text,
		.mac = x->sreq.mac[0] ? x->sreq.mac : NULL,
		.path = x->name,
		.outcome = outcome,
		.bytes = bytes,
		.md5 = md5,
		.user_agent = x->ua[0] ? x->ua : NULL,
	};

	clock_gettime(CLOCK_REALTIME, &e.time);
	site_journal(x->srv->site, &e);
	if (status == 403)
		log_warnx(TAG, "%s \"%s %s\" %d, %llu bytes%s%s", x->peer_text,
			  method_name(evhttp_request_get_command(x->req)), x->name, status,
			  (unsigned long long)bytes, detail ? ": " : "", detail ? detail : "");
	else
		log_info(TAG, "%s \"%s %s\" %d, %llu bytes%s%s", x->peer_text,
			 method_name(evhttp_request_get_command(x->req)), x->name, status,
			 (unsigned long long)bytes, detail ? ": " : "", detail ? detail : "");
}

/* A short plain-text answer for an error. */
static void reply_text(struct exchange *x, int status, const char *reason, const char *text)
{
	struct evbuffer *body = evbuffer_new();
	struct evkeyvalq *out = evhttp_request_get_output_headers(x->req);

	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	if (body)
		evbuffer_add_printf(body, "%s\n", text);
	if (body && evhttp_request_get_command(x->req) == EVHTTP_REQ_HEAD) {
		char n[24];

		/* libevent 2.1 would send a HEAD's body: announce it, send nothing */
		snprintf(n, sizeof(n), "%zu", evbuffer_get_length(body));
		evhttp_add_header(out, "Content-Length", n);
		evbuffer_free(body);
		body = NULL;
	}
	evhttp_send_reply(x->req, status, reason, body);
	if (body)
		evbuffer_free(body);
	record(x, status, 0, NULL, NULL);
}

static void release_file(const void *data, size_t len, void *arg)
{
	site_file_unref(arg);
}

static void http_date(time_t t, char *buf, size_t bufsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void serve_file(struct exchange *x, struct site_file *f)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(x->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(x->req);
	const char *md5 = site_file_md5(f), *ims, *inm;
	char etag[MD5_HEX_LEN + 3], date[64], cr[96];
	bool has_mtime = f->mtime.tv_sec != 0;
	uint64_t first = 0, last = f->size ? f->size - 1 : 0, len = f->size;
	struct evbuffer *body;
	int status = 200, r;

	snprintf(etag, sizeof(etag), "\"%s\"", md5 ? md5 : "");
	evhttp_add_header(out, "Content-Type", http_content_type(f->name));
	if (md5)
		evhttp_add_header(out, "ETag", etag);
	if (has_mtime) {
		http_date(f->mtime.tv_sec, date, sizeof(date));
		evhttp_add_header(out, "Last-Modified", date);
	}
	evhttp_add_header(out, "Accept-Ranges", "bytes");

	inm = evhttp_find_header(in, "If-None-Match");
	ims = evhttp_find_header(in, "If-Modified-Since");
	if ((inm && md5 && http_etag_matches(inm, etag)) || (!inm && ims && has_mtime)) {
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		if (inm || (strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm) &&
			    timegm(&tm) >= f->mtime.tv_sec)) {
			evhttp_send_reply(x->req, 304, "Not Modified", NULL);
			record(x, 304, 0, NULL, NULL);
			site_file_unref(f);
			return;
		}
	}

	r = http_parse_range(evhttp_find_header(in, "Range"), f->size, &first, &last);
	if (r < 0) {
		snprintf(cr, sizeof(cr), "bytes */%zu", f->size);
		evhttp_add_header(out, "Content-Range", cr);
		evhttp_remove_header(out, "Content-Type");
		site_file_unref(f);
		reply_text(x, 416, "Range Not Satisfiable", "range not satisfiable");
		return;
	}
	if (r > 0) {
		status = 206;
		len = last - first + 1;
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%zu", (unsigned long long)first,
			 (unsigned long long)last, f->size);
		evhttp_add_header(out, "Content-Range", cr);
	}
	snprintf(cr, sizeof(cr), "%llu", (unsigned long long)len);
	evhttp_add_header(out, "Content-Length", cr); /* also for HEAD, which sends no body */
	if (evhttp_request_get_command(x->req) == EVHTTP_REQ_HEAD) {
		/* libevent 2.1 sends whatever body it is given, also for HEAD */
		site_file_unref(f);
		evhttp_send_reply(x->req, status, status == 206 ? "Partial Content" : "OK", NULL);
		record(x, status, 0, NULL, NULL);
		return;
	}
	body = evbuffer_new();
	if (!body || (len > 0 && evbuffer_add_reference(body, f->data + first, (size_t)len,
							release_file, f) < 0)) {
		if (body)
			evbuffer_free(body);
		site_file_unref(f);
		reply_text(x, 500, "Internal Server Error", "out of resources");
		return;
	}
	/* an empty body holds no reference: the file is released now */
	if (len == 0)
		site_file_unref(f);
	evhttp_send_reply(x->req, status, status == 206 ? "Partial Content" : "OK", body);
	evbuffer_free(body);
	record(x, status, len, status == 200 ? md5 : NULL, NULL);
}

/* The answer has been written: end the connection (CONNECT would otherwise stay open). */
static void close_after_reply(struct evhttp_request *req, void *arg)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(arg);

	if (bev)
		shutdown(bufferevent_getfd(bev), SHUT_RDWR);
}

static void http_on_request(struct evhttp_request *req, void *arg)
{
	struct http_server *srv = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *target = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct exchange x = { .srv = srv, .req = req };
	struct sockaddr_storage local;
	socklen_t local_len = sizeof(local);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *origin = NULL;
	const char *ua = evhttp_find_header(evhttp_request_get_input_headers(req), "User-Agent");
	struct site_file *f = NULL;
	size_t len = 0;
	char *decoded;
	int r;

	/*
	 * An origin-form target ("/a/b?q") is the path up to '?' or '#'; evhttp would read
	 * "//a/b" as the host "a" and the path "/b".
	 */
	if (target && target[0] == '/') {
		origin = strndup(target, strcspn(target, "?#"));
		if (origin)
			path = origin;
	}
	x.peer = conn ? evhttp_connection_get_addr(conn) : NULL;
	if (x.peer)
		addr_format(x.peer, x.peer_text, sizeof(x.peer_text));
	else
		snprintf(x.peer_text, sizeof(x.peer_text), "?");
	log_escape(x.name, sizeof(x.name), path ? path : "", path ? strlen(path) : 0);
	if (ua)
		log_escape(x.ua, sizeof(x.ua), ua, strlen(ua));
	x.sreq = (struct site_request){
		.proto = "http",
		.peer = x.peer,
		.local = (struct sockaddr *)&srv->local.ss,
		.prefix = srv->cfg.prefix,
	};
	/* the address this connection reached, for {{server_url}}: asked only of a wildcard */
	if (conn && srv->wildcard) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);

		if (bev &&
		    getsockname(bufferevent_getfd(bev), (struct sockaddr *)&local, &local_len) == 0)
			x.sreq.local = (struct sockaddr *)&local;
	}

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		/* after an answer to CONNECT libevent would wait for a tunnel: close instead */
		if (cmd == EVHTTP_REQ_CONNECT && conn)
			evhttp_request_set_on_complete_cb(req, close_after_reply, conn);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(&x, 405, "Method Not Allowed", "only GET and HEAD");
		free(origin);
		return;
	}
	decoded = path ? evhttp_uridecode(path, 0, &len) : NULL;
	free(origin);
	if (!decoded) {
		reply_text(&x, 400, "Bad Request", "bad request");
		return;
	}
	r = site_resolve(srv->site, decoded, len, &x.sreq, &f);
	free(decoded);
	switch (r) {
	case 0: serve_file(&x, f); return;
	case -ENOENT:
	case -EIO: reply_text(&x, 404, "Not Found", "not found"); return;
	case -EACCES: reply_text(&x, 403, "Forbidden", "access violation"); return;
	default: reply_text(&x, 500, "Internal Server Error", "cannot read the file"); return;
	}
}

static void apply_config(struct http_server *srv)
{
	evhttp_set_timeout(srv->http, (int)srv->cfg.timeout_s);
	evhttp_set_max_headers_size(srv->http, srv->cfg.max_header_size);
	evhttp_set_max_body_size(srv->http, 4096);
	/* every method reaches the callback, which answers 405 to all but GET and HEAD */
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
						      EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
}

int http_server_new(struct event_base *base, struct site *site, const struct http_config *cfg,
		    struct http_server **ret, char *err, size_t errsz)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct evhttp_bound_socket *bound;
	char la[ADDR_STRLEN], host[ADDR_STRLEN];
	int r;

	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->site = site;
	srv->cfg = *cfg;
	addr_format((const struct sockaddr *)&cfg->listen.ss, la, sizeof(la));
	srv->http = evhttp_new(base);
	if (!srv->http) {
		r = -ENOMEM;
		snprintf(err, errsz, "http: cannot create the server");
		goto fail;
	}
	apply_config(srv);
	evhttp_set_gencb(srv->http, http_on_request, srv);
	addr_format_host((const struct sockaddr *)&cfg->listen.ss, host, sizeof(host));
	bound = evhttp_bind_socket_with_handle(srv->http, host,
					       addr_port((const struct sockaddr *)&cfg->listen.ss));
	if (!bound) {
		r = -EADDRNOTAVAIL;
		snprintf(err, errsz, "http: cannot listen on %s: %s", la, strerror(errno));
		goto fail;
	}
	srv->local.len = sizeof(srv->local.ss);
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&srv->local.ss,
			&srv->local.len) < 0) {
		r = -errno;
		snprintf(err, errsz, "http: getsockname: %s", strerror(errno));
		goto fail;
	}
	srv->wildcard = srv->local.ss.ss_family == AF_INET
				? ((struct sockaddr_in *)&srv->local.ss)->sin_addr.s_addr ==
					  htonl(INADDR_ANY)
				: memcmp(&((struct sockaddr_in6 *)&srv->local.ss)->sin6_addr,
					 &in6addr_any, sizeof(struct in6_addr)) == 0;
	log_info(TAG, "listening on %s",
		 addr_format((struct sockaddr *)&srv->local.ss, la, sizeof(la)));
	*ret = srv;
	return 0;
fail:
	http_server_free(srv);
	return r;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->http)
		evhttp_free(srv->http);
	free(srv);
}

void http_server_set_config(struct http_server *srv, const struct http_config *cfg)
{
	struct addr listen = srv->cfg.listen;

	srv->cfg = *cfg;
	srv->cfg.listen = listen;
	apply_config(srv);
}

uint16_t http_server_port(const struct http_server *srv)
{
	return addr_port((const struct sockaddr *)&srv->local.ss);
}
