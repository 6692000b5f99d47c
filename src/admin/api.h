// SPDX-License-Identifier: MIT
/*
 * What the admin API's handlers share (admin/admin.c): a route table per resource, the
 * request as a handler sees it, and the answers: JSON, problem details (RFC 9457), or
 * bytes. Everything here runs on the admin thread.
 */
#ifndef AUTOPROV_ADMIN_API_H
#define AUTOPROV_ADMIN_API_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "site/inventory.h" /* token_info */

struct admin_server;
struct site;

#define ADMIN_API_PREFIX  "/api/v1"
#define ADMIN_MAX_PARAMS  4
#define ADMIN_PARAM_MAX	  1024

enum admin_need {
	ADMIN_OPEN,    /* no token (the OpenAPI document) */
	ADMIN_READ,    /* a read or write token */
	ADMIN_WRITE,   /* a write token */
	ADMIN_METRICS, /* a read token, or none with [admin] metrics = open */
	ADMIN_SESSION, /* none; the session of the cookie if any (CSRF checked for a change) */
};

/* A dashboard's session (admin/api_session.c): ids and CSRF tokens are 64 hex digits. */
#define ADMIN_SESSION_ID_LEN 64
#define ADMIN_SESSIONS_MAX   256
#define ADMIN_SESSION_IDLE_S (8 * 3600)

struct admin_session {
	char id[ADMIN_SESSION_ID_LEN + 1];
	char csrf[ADMIN_SESSION_ID_LEN + 1];
	char user[72];
	enum token_scope scope;
	int64_t last_used; /* CLOCK_MONOTONIC seconds */
	bool used;
};

struct admin_request {
	struct admin_server *srv;
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	const char *path; /* decoded, from "/" (with ADMIN_API_PREFIX) */
	char params[ADMIN_MAX_PARAMS][ADMIN_PARAM_MAX]; /* the route's {x} segments, decoded */
	struct evkeyvalq query;				 /* decoded query parameters */
	struct token_info token;			 /* who asks (name "" when open) */
	struct admin_session *session; /* the cookie's session, when it authorized the request */
	bool answered;
};

/*
 * A route: method (EVHTTP_REQ_GET, ...), a pattern of the path after ADMIN_API_PREFIX
 * ("/devices/{mac}": a {x} segment matches one non-empty segment; "{x*}" at the end the
 * rest of the path), what token it needs, and its handler. Tables end with a NULL handler.
 */
struct admin_route {
	enum evhttp_cmd_type method;
	const char *pattern;
	enum admin_need need;
	void (*handler)(struct admin_request *r);
};

/* The route tables of each resource (admin/api_*.c). */
extern const struct admin_route admin_routes_status[];
extern const struct admin_route admin_routes_metrics[];
extern const struct admin_route admin_routes_doctor[];
extern const struct admin_route admin_routes_devices[];
extern const struct admin_route admin_routes_groups[];
extern const struct admin_route admin_routes_journal[];
extern const struct admin_route admin_routes_openapi[];
extern const struct admin_route admin_routes_resync[];
extern const struct admin_route admin_routes_session[];
extern const struct admin_route admin_routes_dashboard[];
extern const struct admin_route admin_routes_fleet[];
extern const struct admin_route admin_routes_events[];

/* The admin side's own site (its store, directory and renderer). */
struct site *admin_site(struct admin_request *r);
const struct admin_info *admin_info(struct admin_request *r);
/* The admin thread's event loop: what a handler starts (a resync job) runs on it. */
struct event_base *admin_base(struct admin_request *r);
/* The server's resync jobs (admin/api_resync.c), made on first use, freed with the server. */
struct admin_jobs;
struct admin_jobs **admin_jobs(struct admin_request *r);
void admin_jobs_free(struct admin_jobs *jobs);
/* The sessions (admin/api_session.c), made on first login, freed with the server. */
struct admin_sessions;
struct admin_sessions **admin_sessions(struct admin_request *r);
void admin_sessions_free(struct admin_sessions *t);
/* The session whose id the request's cookie carries (its use noted), or NULL. */
struct admin_session *admin_session_of(struct admin_request *r);
/* Whether header (X-CSRF-Token) is s's CSRF token (constant time). */
bool admin_session_csrf_ok(const struct admin_session *s, const char *header);
/* CLOCK_MONOTONIC in milliseconds (the admin thread's timers). */
int64_t admin_mono_ms(void);
/* Whether the listener is HTTPS (cookies are then Secure). */
bool admin_is_tls(struct admin_request *r);
/*
 * A failed login of principal ("admin token", a user name): 401 after the delay of
 * site_auth_failed() (never a sleep), why logged. admin_auth_succeeded() restarts the
 * principal's count.
 */
void admin_unauthorized(struct admin_request *r, const char *principal, const char *why);
void admin_auth_succeeded(struct admin_request *r, const char *principal);

/*
 * The number of devices in the inventory, and of those seen in the last 24 hours, kept by
 * the admin thread (counted again, within a second or two): false when they cannot be read.
 */
bool admin_inventory_devices(struct admin_request *r, uint64_t *ret, uint64_t *ret_seen_24h);

/*
 * The fleet's overview kept by the admin thread (admin/api_fleet.c), made on first use (NULL:
 * out of memory), freed with the server: admin_fleet_overview() is the last one counted (or
 * counts it the first time; NULL when it cannot), and keeps it counted for a minute.
 */
struct admin_fleet;
struct admin_fleet **admin_fleet_slot(struct admin_request *r);
struct admin_fleet *admin_fleet(struct admin_request *r);
const json_t *admin_fleet_overview(struct admin_fleet *f);
void admin_fleet_free(struct admin_fleet *f);
/* The live streams (admin/api_events.c), made on first use, freed with the server. */
struct admin_events;
struct admin_events **admin_events(struct admin_request *r);
void admin_events_free(struct admin_events *ev);
/*
 * Answers a failed inventory call (site/inventory.h): 404, 409, 422, 500 or 503 with the
 * inventory's reason.
 */
void admin_inventory_problem(struct admin_request *r, int e);

/* A query parameter, or NULL. */
const char *admin_query(struct admin_request *r, const char *name);
/* A request header, or NULL. */
const char *admin_header(struct admin_request *r, const char *name);
/* Adds a header to the answer. */
void admin_add_header(struct admin_request *r, const char *name, const char *value);
/* The body (NUL-terminated copy; NULL when empty), its length in *len. Borrowed. */
const char *admin_body(struct admin_request *r, size_t *len);
/*
 * The body as JSON (a new reference): NULL after answering 400 (not JSON) or 415 (not
 * application/json).
 */
json_t *admin_body_json(struct admin_request *r);

/* Answers status with body as JSON (the reference is taken). */
void admin_reply_json(struct admin_request *r, int status, json_t *body);
/* Answers status with len bytes of type. */
void admin_reply(struct admin_request *r, int status, const char *type, const void *data,
		 size_t len);
/*
 * Answers status as application/problem+json (RFC 9457): title is the status's short text
 * unless given, detail says what happened to this request. extra (taken, or NULL) adds
 * members ("errors": [...]).
 */
void admin_problem(struct admin_request *r, int status, const char *title, json_t *extra,
		   const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
