// SPDX-License-Identifier: MIT
/*
 * The dashboard's files (docs/dashboard.md): GET / is index.html, GET /ui/NAME any file of
 * src/admin/dashboard/, built into the binary (admin/assets.h). No token: the pages hold
 * nothing of the site; what they show comes from /api/v1 with a session. Every answer
 * carries a strict Content-Security-Policy (the pages have no inline script or style), an
 * ETag (If-None-Match gives 304) and Cache-Control: no-cache (checked on every load, so a
 * new binary's pages are never mixed with an old one's).
 */
#include <string.h>

#include "admin/api.h"
#include "admin/assets.h"

#define CSP                                                                                        \
	"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "          \
	"connect-src 'self'; frame-ancestors 'none'"

static const struct admin_asset *asset_find(const char *name)
{
	for (const struct admin_asset *a = admin_dashboard_assets; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* Whether If-None-Match names etag (a list, or "*"). */
static bool none_match(const char *h, const char *etag)
{
	size_t n = strlen(etag);

	if (!h)
		return false;
	if (strcmp(h, "*") == 0)
		return true;
	for (const char *p = h; *p;) {
		size_t len;

		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		len = strcspn(p, " \t,");
		if (len == n && strncmp(p, etag, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static void send_asset(struct admin_request *r, const struct admin_asset *a)
{
	if (!a) {
		admin_problem(r, 404, NULL, NULL, "no such file of the dashboard");
		return;
	}
	admin_add_header(r, "Content-Security-Policy", CSP);
	admin_add_header(r, "X-Content-Type-Options", "nosniff");
	admin_add_header(r, "Referrer-Policy", "no-referrer");
	admin_add_header(r, "X-Frame-Options", "DENY");
	admin_add_header(r, "Cache-Control", "no-cache");
	admin_add_header(r, "ETag", a->etag);
	if (none_match(admin_header(r, "If-None-Match"), a->etag)) {
		admin_reply(r, 304, NULL, NULL, 0);
		return;
	}
	admin_reply(r, 200, a->type, a->data, a->len);
}

static void get_index(struct admin_request *r)
{
	send_asset(r, asset_find("index.html"));
}

static void get_file(struct admin_request *r)
{
	send_asset(r, asset_find(r->params[0]));
}

const struct admin_route admin_routes_dashboard[] = {
	{ EVHTTP_REQ_GET, "/", ADMIN_OPEN, get_index },
	{ EVHTTP_REQ_GET, "/ui/{name*}", ADMIN_OPEN, get_file },
	{ 0, NULL, 0, NULL },
};
