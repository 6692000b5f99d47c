// SPDX-License-Identifier: MIT
/*
 * What the dashboard reads and does beyond the inventory's resources (docs/admin.md,
 * "Dashboard"): GET /api/v1/fleet (the overview), GET /api/v1/devices/{mac}/variables (with
 * their origins), GET /api/v1/unknown-devices and POST /api/v1/unknown-devices/approve.
 * The data come from the site layer (site/fleet.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "core/mac.h"
#include "core/str.h"
#include "site/fleet.h"
#include "site/metrics.h"
#include "site/site.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

static void fleet_problem(struct admin_request *r, int e)
{
	if (e == -ENOMEM)
		admin_problem(r, 500, NULL, NULL, "out of memory");
	else if (e == -ENOENT)
		admin_problem(r, 404, NULL, NULL, "%s", fleet_strerror(admin_site(r)));
	else
		admin_problem(r, 503, NULL, NULL, "the store: %s", fleet_strerror(admin_site(r)));
}

static enum unknown_devices_mode mode_of(struct admin_request *r)
{
	return site_get_options(admin_site(r))->unknown_devices;
}

static struct site_metrics *serving_metrics(struct admin_request *r)
{
	struct site *serving = admin_info(r)->serving;

	return serving ? site_metrics(serving) : NULL;
}

static void get_fleet(struct admin_request *r)
{
	json_t *body = NULL;
	int e = fleet_overview(admin_site(r), serving_metrics(r), (int64_t)time(NULL), mode_of(r),
			       &body);

	if (e < 0) {
		fleet_problem(r, e);
		return;
	}
	admin_reply_json(r, 200, body);
}

static void get_variables(struct admin_request *r)
{
	char mac[MAC_LEN + 1];
	const char *why;
	json_t *body = NULL;
	int e;

	if (mac_parse(r->params[0], mac, &why) < 0) {
		admin_problem(r, 400, NULL, NULL, "'%s': not a MAC address (%s)", r->params[0],
			      why);
		return;
	}
	e = fleet_variables(admin_site(r), mac, &body);
	if (e == -ENOENT) {
		admin_problem(r, 404, NULL, NULL, "no device %s in the inventory", mac);
		return;
	}
	if (e < 0) {
		fleet_problem(r, e);
		return;
	}
	admin_reply_json(r, 200, body);
}

static void list_unknown(struct admin_request *r)
{
	const char *s = admin_query(r, "limit");
	uint64_t limit = PAGE_DEFAULT;
	json_t *body = NULL;
	int e;

	if (s && str_to_u64(s, 1, PAGE_MAX, &limit) < 0) {
		admin_problem(r, 400, NULL, NULL, "limit: '%s' is not 1..%d", s, PAGE_MAX);
		return;
	}
	if (mode_of(r) == UNKNOWN_DEVICES_IGNORE) {
		admin_reply_json(r, 200, json_pack("{s:[], s:n}", "items", "next"));
		return;
	}
	e = fleet_unknown_page(admin_site(r), admin_query(r, "cursor"), (size_t)limit, &body);
	if (e == -EINVAL) {
		admin_problem(r, 400, NULL, NULL, "cursor: not one this server gave");
		return;
	}
	if (e < 0) {
		fleet_problem(r, e);
		return;
	}
	admin_reply_json(r, 200, body);
}

static void approve(struct admin_request *r)
{
	json_t *body = admin_body_json(r), *macs = NULL;
	const char *group = NULL;
	char err[512] = "";
	size_t n = 0;
	int e;

	if (!body)
		return;
	if (json_unpack(body, "{s:o, s:s !}", "macs", &macs, "group", &group) < 0 ||
	    !json_is_array(macs) || json_array_size(macs) == 0 || json_array_size(macs) > 10000) {
		json_decref(body);
		admin_problem(
			r, 422, NULL, NULL,
			"{\"macs\": [\"MAC\", ...] (1 to 10000), \"group\": \"NAME\"} expected");
		return;
	}
	e = fleet_approve(admin_site(r), macs, group, &n, err, sizeof(err));
	json_decref(body);
	if (e == -EINVAL || e == -ENOENT) {
		admin_problem(r, 422, NULL, NULL, "%s", err);
		return;
	}
	if (e < 0) {
		admin_problem(r, e == -ENOMEM ? 500 : 503, NULL, NULL, "%s", err);
		return;
	}
	admin_reply_json(r, 200, json_pack("{s:I}", "approved", (json_int_t)n));
}

const struct admin_route admin_routes_fleet[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/fleet", ADMIN_READ, get_fleet },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/devices/{mac}/variables", ADMIN_READ, get_variables },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/unknown-devices", ADMIN_READ, list_unknown },
	{ EVHTTP_REQ_POST, ADMIN_API_PREFIX "/unknown-devices/approve", ADMIN_WRITE, approve },
	{ 0, NULL, 0, NULL },
};
