// SPDX-License-Identifier: MIT
/* GET /api/v1/status: what this daemon is and serves (docs/admin.md). */
#include <time.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "site/inventory.h"

static void get_status(struct admin_request *r)
{
	const struct admin_info *info = admin_info(r);
	struct site *site = admin_site(r);
	uint64_t devices = 0;
	int schema = 0;
	json_t *body;

	if (inventory_device_count(site, &devices) < 0 || inventory_schema(site, &schema) < 0) {
		admin_problem(r, 503, NULL, NULL, "the store cannot be read: %s",
			      inventory_strerror(site));
		return;
	}
	body = json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s, s:i}, s:{s:I}}", "version",
			 info->version, "node", info->node, "uptime_s",
			 (json_int_t)(time(NULL) - info->started), "site", info->site_dir,
			 "listeners", info->listeners, "store", "kind", inventory_store_kind(site),
			 "path", inventory_store_path(site), "schema", schema, "inventory",
			 "devices", (json_int_t)devices);
	admin_reply_json(r, body ? 200 : 500, body);
}

const struct admin_route admin_routes_status[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/status", ADMIN_READ, get_status },
	{ 0, NULL, 0, NULL },
};
