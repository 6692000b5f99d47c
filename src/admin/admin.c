// SPDX-License-Identifier: MIT
/*
 * The admin listener (admin.h): libevent's HTTP server on a loop and a thread of its own.
 * Each request is matched against the route tables, its token checked (a failed token is
 * answered after the growing delay failed logins get: site/auth.h), then handed to the
 * route's handler, which answers through api.h. One log line per request.
 *
 * Why libevent's HTTP server and not the devices' (proto/http.c): the devices' server is
 * built for many small GETs of files from untrusted peers; the admin side needs request
 * bodies (imports), long-lived answers (Server-Sent Events), and few trusted clients.
 */
#include "admin/admin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/api.h"
#include "core/log.h"
#include "core/str.h"
#include "net/listener.h"
#include "site/auth.h"
#include "site/inventory.h"
#include "site/site.h"

#define TAG "admin"
#define ADMIN_NICE 10 /* the admin thread's nice value: below the devices' loop */

static const struct admin_route *const route_tables[] = {
	admin_routes_status,
	admin_routes_metrics,
	admin_routes_doctor,
	admin_routes_devices,
	admin_routes_groups,
	admin_routes_journal,
	admin_routes_openapi,
	admin_routes_resync,
	admin_routes_session,
	admin_routes_dashboard,
	admin_routes_fleet,
	admin_routes_events,
};

struct admin_server {
	struct admin_config cfg;
	struct admin_info info;
	struct site *site; /* the admin side's own */
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *tls;
	uint16_t port;
	int stop_fd[2];
	struct event *ev_stop;
	pthread_t thread;
	bool started;
	/* the body of the request being handled, NUL-terminated */
	char *body;
	/* the inventory's size for /metrics, kept by ev_count (admin_inventory_devices) */
	struct event *ev_count;
	uint64_t devices, seen_24h; /* seen_24h: devices of the inventory seen in the last day */
	bool devices_known;
	int64_t count_next; /* CLOCK_MONOTONIC ms before which no count starts */
	/* copies of info's prefixes: the loop's configuration changes on SIGHUP */
	char *tftp_prefix, *http_prefix;
	struct admin_jobs *jobs; /* resync jobs (api_resync.c) */
	struct admin_sessions *sessions; /* the dashboard's sessions (api_session.c) */
	struct admin_events *events;	 /* the live streams (api_events.c) */
	struct admin_fleet *fleet;	 /* the fleet's overview, kept (api_fleet.c) */
};

void admin_config_default(struct admin_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_body = 64u << 20;
	cfg->timeout_s = 60;
}

/* ---- the inventory's size ---- */

#define COUNT_POLL_MS 1000
#define COUNT_DUTY    20 /* after a count of t ms, none for 20 t ms: at most 5 % of the thread */

static int64_t mono_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * Once a second: the inventory's size, from inventory_device_count (one indexed read while the
 * inventory does not change; a count(*), tens of milliseconds at 1 000 000 devices, when it
 * did). So a scrape never waits for a count, and during a long import the counts take at
 * most 1 / COUNT_DUTY of the admin thread.
 */
static int count_devices(struct admin_server *srv)
{
	int64_t t0 = mono_ms();
	uint64_t n;
	int r = inventory_device_count(srv->site, &n);
	uint64_t seen = 0;
	int64_t took;

	if (r == 0)
		r = inventory_seen_since(srv->site, (int64_t)time(NULL) - 86400, &seen);
	took = mono_ms() - t0;

	srv->count_next = t0 + took * COUNT_DUTY;
	if (r < 0) {
		log_debug(TAG, "the inventory cannot be counted: %s",
			  inventory_strerror(srv->site));
		return r;
	}
	srv->devices = n;
	srv->seen_24h = seen;
	srv->devices_known = true;
	return 0;
}

static void on_count(evutil_socket_t fd, short what, void *arg)
{
	struct admin_server *srv = arg;

	(void)fd;
	(void)what;
	if (mono_ms() >= srv->count_next)
		(void)count_devices(srv);
}

bool admin_inventory_devices(struct admin_request *r, uint64_t *ret, uint64_t *ret_seen_24h)
{
	if (!r->srv->devices_known && count_devices(r->srv) < 0)
		return false;
	*ret = r->srv->devices;
	*ret_seen_24h = r->srv->seen_24h;
	return true;
}

/* ---- answers ---- */

struct site *admin_site(struct admin_request *r)
{
	return r->srv->site;
}

void admin_inventory_problem(struct admin_request *r, int e)
{
	const char *why = inventory_strerror(admin_site(r));

	switch (e) {
	case -ENOENT: admin_problem(r, 404, NULL, NULL, "%s", why); break;
	case -EINVAL: admin_problem(r, 422, NULL, NULL, "%s", why); break;
	case -ENOMEM: admin_problem(r, 500, NULL, NULL, "out of memory"); break;
	case -EEXIST: admin_problem(r, 409, NULL, NULL, "%s", why); break;
	case -EBUSY:
		/* locked: try again; else a conflict with the inventory (a group in use) */
		admin_problem(r, strstr(why, "locked") ? 503 : 409, NULL, NULL, "%s", why);
		break;
	default: admin_problem(r, 503, NULL, NULL, "the store: %s", why); break;
	}
}

const struct admin_info *admin_info(struct admin_request *r)
{
	return &r->srv->info;
}

struct event_base *admin_base(struct admin_request *r)
{
	return r->srv->base;
}

struct admin_jobs **admin_jobs(struct admin_request *r)
{
	return &r->srv->jobs;
}

struct admin_fleet **admin_fleet_slot(struct admin_request *r)
{
	return &r->srv->fleet;
}

struct admin_events **admin_events(struct admin_request *r)
{
	return &r->srv->events;
}

struct admin_sessions **admin_sessions(struct admin_request *r)
{
	return &r->srv->sessions;
}

int64_t admin_mono_ms(void)
{
	return mono_ms();
}

bool admin_is_tls(struct admin_request *r)
{
	return r->srv->tls != NULL;
}

const char *admin_query(struct admin_request *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

const char *admin_header(struct admin_request *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

void admin_add_header(struct admin_request *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

const char *admin_body(struct admin_request *r, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);

	*len = n;
	if (n == 0)
		return NULL;
	if (!r->srv->body) {
		r->srv->body = malloc(n + 1);
		if (!r->srv->body)
			return NULL;
		evbuffer_copyout(in, r->srv->body, n);
		r->srv->body[n] = '\0';
	}
	return r->srv->body;
}

json_t *admin_body_json(struct admin_request *r)
{
	const char *type = admin_header(r, "Content-Type");
	json_error_t jerr;
	const char *body;
	size_t len;
	json_t *j;

	if (!type || strncasecmp(type, "application/json", 16) != 0 ||
	    (type[16] && type[16] != ';' && type[16] != ' ')) {
		admin_problem(r, 415, NULL, NULL, "the body must be application/json");
		return NULL;
	}
	body = admin_body(r, &len);
	if (!body) {
		admin_problem(r, 400, NULL, NULL, "a JSON body is expected");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		admin_problem(r, 400, NULL, NULL, "the body is not JSON: line %d, column %d: %s",
			      jerr.line, jerr.column, jerr.text);
	return j;
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

static void log_answer(struct admin_request *r, int status, size_t len)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	char *host = NULL;
	ev_uint16_t port = 0;

	if (conn)
		evhttp_connection_get_peer(conn, &host, &port);
	log_info(TAG, "%s:%u \"%s %s\" %d, %zu bytes, token %s", host ? host : "-", port,
		 method_name(r->method), r->path, status, len,
		 r->token.name[0] ? r->token.name : "-");
}

void admin_reply(struct admin_request *r, int status, const char *type, const void *data,
		 size_t len)
{
	struct evbuffer *out = evbuffer_new();

	if (r->answered)
		return;
	r->answered = true;
	if (type)
		admin_add_header(r, "Content-Type", type);
	if (!evhttp_find_header(evhttp_request_get_output_headers(r->req), "Cache-Control"))
		admin_add_header(r, "Cache-Control", "no-store");
	if (out && len && r->method != EVHTTP_REQ_HEAD)
		evbuffer_add(out, data, len);
	log_answer(r, status, len);
	evhttp_send_reply(r->req, status, NULL, out);
	evbuffer_free(out);
}

void admin_reply_json(struct admin_request *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	json_decref(body);
	if (!text) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	admin_reply(r, status, "application/json", text, strlen(text));
	free(text);
}

static const char *status_title(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

void admin_problem(struct admin_request *r, int status, const char *title, json_t *extra,
		   const char *detail_fmt, ...)
{
	char detail[1024];
	json_t *p;
	char *text;
	va_list ap;

	va_start(ap, detail_fmt);
	vsnprintf(detail, sizeof(detail), detail_fmt, ap);
	va_end(ap);
	p = json_pack("{s:s, s:i, s:s, s:s}", "title", title ? title : status_title(status),
		      "status", status, "detail", detail, "instance", r->path);
	if (p && extra)
		json_object_update(p, extra);
	json_decref(extra);
	text = p ? json_dumps(p, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(p);
	if (status >= 500)
		log_warnx(TAG, "\"%s %s\": %s", method_name(r->method), r->path, detail);
	admin_reply(r, status, "application/problem+json", text ? text : "{}",
		    text ? strlen(text) : 2);
	free(text);
}

/* ---- tokens ---- */

struct delayed {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct event *ev;
	char *body;
	char path[256];
};

static void delayed_free(struct delayed *d)
{
	evhttp_connection_set_closecb(d->conn, NULL, NULL);
	event_free(d->ev);
	free(d->body);
	free(d);
}

static void on_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	struct evbuffer *out = evbuffer_new();

	(void)fd;
	(void)what;
	if (out)
		evbuffer_add(out, d->body, strlen(d->body));
	evhttp_send_reply(d->req, 401, "Unauthorized", out);
	evbuffer_free(out);
	delayed_free(d);
}

/* The client went away before its delayed answer: it is not sent. */
static void on_delayed_close(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	delayed_free(arg);
}

/*
 * A failed login: 401 after the delay site_auth_failed() gives (the peer's address, its
 * prefix and the principal each slow down), never a sleep.
 */
void admin_unauthorized(struct admin_request *r, const char *principal, const char *why)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	const struct sockaddr *peer = conn ? evhttp_connection_get_addr(conn) : NULL;
	unsigned ms = peer ? site_auth_failed(r->srv->site, peer, principal) : 0;
	struct delayed *d;
	json_t *p;

	log_warnx(TAG, "\"%s %s\": %s (answered in %u ms)", method_name(r->method), r->path, why,
		  ms);
	admin_add_header(r, "WWW-Authenticate", "Bearer realm=\"autoprov\", error=\"invalid_token\"");
	admin_add_header(r, "Content-Type", "application/problem+json");
	admin_add_header(r, "Cache-Control", "no-store");
	p = json_pack("{s:s, s:i, s:s, s:s}", "title", "Unauthorized", "status", 401, "detail",
		      strcmp(principal, "admin token") == 0 ? "the token is not valid"
							    : "wrong user or password",
		      "instance", r->path);
	d = calloc(1, sizeof(*d));
	if (d) {
		d->body = p ? json_dumps(p, JSON_COMPACT) : NULL;
		d->ev = evtimer_new(r->srv->base, on_delayed, d);
	}
	json_decref(p);
	if (!d || !d->body || !d->ev || !conn) {
		if (d) {
			event_free(d->ev);
			free(d->body);
			free(d);
		}
		admin_reply(r, 401, NULL, NULL, 0);
		return;
	}
	d->req = r->req;
	d->conn = conn;
	r->answered = true;
	log_answer(r, 401, 0);
	evhttp_connection_set_closecb(conn, on_delayed_close, d);
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	evtimer_add(d->ev, &tv);
}

void admin_auth_succeeded(struct admin_request *r, const char *principal)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	const struct sockaddr *peer = conn ? evhttp_connection_get_addr(conn) : NULL;

	if (peer)
		site_auth_succeeded(r->srv->site, peer, principal);
}

/* A request with the session's cookie: a change must carry its CSRF token (else 403). */
static bool session_allows(struct admin_request *r, struct admin_session *s, enum admin_need need)
{
	r->session = s;
	str_copy(r->token.name, sizeof(r->token.name), s->user);
	r->token.scope = s->scope;
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD &&
	    !admin_session_csrf_ok(s, admin_header(r, "X-CSRF-Token"))) {
		admin_problem(r, 403, NULL, NULL,
			      "a change made with a session needs its CSRF token in X-CSRF-Token");
		return false;
	}
	if (need == ADMIN_WRITE && s->scope != TOKEN_WRITE) {
		admin_problem(r, 403, NULL, NULL, "'%s' has read scope: this needs write", s->user);
		return false;
	}
	return true;
}

/* Whether the request may go on: its token suffices for need (else it is answered). */
static bool authorize(struct admin_request *r, enum admin_need need)
{
	const char *h = admin_header(r, "Authorization");
	int r_check;

	if (need == ADMIN_OPEN)
		return true;
	if (need == ADMIN_SESSION || !h) {
		struct admin_session *s = admin_session_of(r);

		if (s)
			return session_allows(r, s, need);
		if (need == ADMIN_SESSION)
			return true;
	}
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
		admin_add_header(r, "WWW-Authenticate", "Bearer realm=\"autoprov\"");
		admin_problem(r, 401, NULL, NULL,
			      "a token is required: Authorization: Bearer TOKEN (autoprov token add)");
		return false;
	}
	r_check = inventory_token_check(admin_site(r), h + 7, (int64_t)time(NULL), &r->token);
	if (r_check == -ENOENT || r_check == -EKEYEXPIRED) {
		memset(&r->token, 0, sizeof(r->token));
		admin_unauthorized(r, "admin token",
				   r_check == -ENOENT ? "unknown token"
						      : inventory_strerror(admin_site(r)));
		return false;
	}
	if (r_check < 0) {
		memset(&r->token, 0, sizeof(r->token));
		admin_problem(r, 503, NULL, NULL, "cannot check the token: %s",
			      inventory_strerror(admin_site(r)));
		return false;
	}
	if (need == ADMIN_WRITE && r->token.scope != TOKEN_WRITE) {
		admin_problem(r, 403, NULL, NULL, "token '%s' is a read token: this needs write",
			      r->token.name);
		return false;
	}
	return true;
}

/* ---- routing ---- */

/* Whether path matches pattern, with the {x} segments decoded into r->params. */
static bool match(struct admin_request *r, const char *pattern, const char *path)
{
	unsigned np = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{') {
			const char *close = strchr(pattern, '}');
			bool rest = close && close[-1] == '*';
			size_t n = rest ? strlen(path) : strcspn(path, "/");
			char seg[ADMIN_PARAM_MAX * 3], *dec;
			size_t dlen;

			if (!close || n == 0 || np == ADMIN_MAX_PARAMS)
				return false;
			if (n >= sizeof(seg))
				return false;
			memcpy(seg, path, n);
			seg[n] = '\0';
			dec = evhttp_uridecode(seg, 0, &dlen);
			if (!dec || dlen >= ADMIN_PARAM_MAX || memchr(dec, '\0', dlen)) {
				free(dec);
				return false;
			}
			memcpy(r->params[np++], dec, dlen + 1);
			free(dec);
			pattern = close + 1;
			path += n;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return !*pattern && !*path;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct admin_server *srv = arg;
	struct admin_request r = { .srv = srv, .req = req };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const struct admin_route *found = NULL;
	char allow[128] = "";

	r.method = evhttp_request_get_command(req);
	r.path = path && path[0] ? path : "/";
	r.query.tqh_first = NULL;
	r.query.tqh_last = &r.query.tqh_first;
	if (query && evhttp_parse_query_str(query, &r.query) < 0) {
		admin_problem(&r, 400, NULL, NULL, "the query string cannot be read");
		goto out;
	}
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]) && !found; t++)
		for (const struct admin_route *rt = route_tables[t]; rt->handler; rt++) {
			if (!match(&r, rt->pattern, r.path))
				continue;
			if (rt->method == r.method ||
			    (r.method == EVHTTP_REQ_HEAD && rt->method == EVHTTP_REQ_GET)) {
				found = rt;
				break;
			}
			if (strlen(allow) + 12 < sizeof(allow))
				snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow),
					 "%s%s", allow[0] ? ", " : "", method_name(rt->method));
		}
	if (!found) {
		if (allow[0]) {
			admin_add_header(&r, "Allow", allow);
			admin_problem(&r, 405, NULL, NULL, "%s is not allowed here; allowed: %s",
				      method_name(r.method), allow);
		} else {
			admin_problem(&r, 404, NULL, NULL, "no such resource");
		}
		goto out;
	}
	if (!authorize(&r, found->need == ADMIN_METRICS
				   ? (srv->cfg.metrics_open ? ADMIN_OPEN : ADMIN_READ)
				   : found->need))
		goto out;
	found->handler(&r);
	if (!r.answered)
		admin_problem(&r, 500, NULL, NULL, "the handler gave no answer");
out:
	evhttp_clear_headers(&r.query);
	free(srv->body);
	srv->body = NULL;
}

/* ---- the listener and its thread ---- */

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);

	if (!ssl)
		return NULL;
	/*
	 * The site's context reads ahead (crypto/tls.c, for the devices' server); libevent's
	 * OpenSSL bufferevent waits for the socket to be readable, so a record read ahead into
	 * the SSL object would wait there unseen: not on this connection.
	 */
	SSL_set_read_ahead(ssl, 0);
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct admin_server *srv = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(srv->base);
}

int admin_server_new(const char *site_dir, const struct site_options *opts,
		     const struct admin_config *cfg, SSL_CTX *tls, const struct admin_info *info,
		     struct admin_server **ret, char *err, size_t errsz)
{
	struct admin_server *srv = calloc(1, sizeof(*srv));
	struct addr local;
	int fd, r;

	if (!srv) {
		snprintf(err, errsz, "admin: out of memory");
		return -ENOMEM;
	}
	srv->cfg = *cfg;
	srv->info = *info;
	srv->tftp_prefix = strdup(info->tftp_prefix ? info->tftp_prefix : "");
	srv->http_prefix = strdup(info->http_prefix ? info->http_prefix : "");
	srv->info.tftp_prefix = srv->tftp_prefix;
	srv->info.http_prefix = srv->http_prefix;
	srv->stop_fd[0] = srv->stop_fd[1] = -1;
	r = site_open(site_dir, opts, &srv->site, err, errsz);
	if (r < 0)
		goto fail;
	srv->base = event_base_new();
	srv->http = srv->base ? evhttp_new(srv->base) : NULL;
	if (!srv->http || pipe2(srv->stop_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errsz, "admin: cannot create its event loop");
		r = -ENOMEM;
		goto fail;
	}
	srv->ev_stop = event_new(srv->base, srv->stop_fd[0], EV_READ, on_stop, srv);
	srv->ev_count = event_new(srv->base, -1, EV_PERSIST, on_count, srv);
	if (!srv->ev_stop || event_add(srv->ev_stop, NULL) < 0 || !srv->ev_count ||
	    event_add(srv->ev_count, &(struct timeval){ .tv_sec = COUNT_POLL_MS / 1000,
						       .tv_usec = COUNT_POLL_MS % 1000 * 1000 }) < 0) {
		snprintf(err, errsz, "admin: cannot create its event loop");
		r = -ENOMEM;
		goto fail;
	}
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->max_body);
	evhttp_set_max_headers_size(srv->http, 64 * 1024);
	evhttp_set_timeout(srv->http, (int)cfg->timeout_s);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						      EVHTTP_REQ_DELETE);
	evhttp_set_default_content_type(srv->http, "application/json");
	evhttp_set_gencb(srv->http, on_request, srv);
	if (tls) {
		SSL_CTX_up_ref(tls);
		srv->tls = tls;
		evhttp_set_bevcb(srv->http, tls_bev, tls);
	}
	fd = net_listen_socket(TAG, &cfg->listen, &local, err, errsz);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	if (!evhttp_accept_socket_with_handle(srv->http, fd)) {
		close(fd);
		snprintf(err, errsz, "admin: cannot watch its listener");
		r = -ENOMEM;
		goto fail;
	}
	srv->port = addr_port((const struct sockaddr *)&local.ss);
	*ret = srv;
	return 0;
fail:
	admin_server_free(srv);
	return r;
}

static void *admin_main(void *arg)
{
	struct admin_server *srv = arg;

	log_set_thread_direct();
	event_active(srv->ev_count, EV_TIMEOUT, 0); /* the first count, before any scrape */
	/*
	 * The devices come first: on Linux a thread has a nice value of its own (PRIO_PROCESS
	 * with 0 is the calling thread), so under contention for the CPU the serving loop wins
	 * and an import or a page of a million devices waits instead.
	 */
	if (setpriority(PRIO_PROCESS, 0, ADMIN_NICE) < 0)
		log_warn(TAG, "cannot lower the admin thread's priority");
	event_base_dispatch(srv->base);
	return NULL;
}

int admin_server_start(struct admin_server *srv)
{
	int r = pthread_create(&srv->thread, NULL, admin_main, srv);

	if (r != 0)
		return -r;
	srv->started = true;
	return 0;
}

void admin_server_free(struct admin_server *srv)
{
	if (!srv)
		return;
	if (srv->started) {
		(void)!write(srv->stop_fd[1], "", 1);
		pthread_join(srv->thread, NULL);
	}
	/* the streams first: their connections are the server's */
	admin_events_free(srv->events);
	if (srv->http)
		evhttp_free(srv->http);
	/* their events and sockets are the loop's: before the loop goes */
	admin_jobs_free(srv->jobs);
	admin_sessions_free(srv->sessions);
	admin_fleet_free(srv->fleet);
	if (srv->ev_stop)
		event_free(srv->ev_stop);
	if (srv->ev_count)
		event_free(srv->ev_count);
	if (srv->base)
		event_base_free(srv->base);
	for (int i = 0; i < 2; i++)
		if (srv->stop_fd[i] >= 0)
			close(srv->stop_fd[i]);
	if (srv->tls)
		SSL_CTX_free(srv->tls);
	site_free(srv->site);
	free(srv->body);
	free(srv->tftp_prefix);
	free(srv->http_prefix);
	free(srv);
}

uint16_t admin_server_port(const struct admin_server *srv)
{
	return srv->port;
}
