// SPDX-License-Identifier: MIT
/* GET /api/v1/status: what this daemon is and serves (docs/admin.md). */
#include <time.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "store/store.h"

static void get_status(struct admin_request *r)
{
	const struct admin_info *info = admin_info(r);
	struct store *st = admin_store(r);
	uint64_t devices = 0;
	int schema = 0;
	json_t *body;

	if (store_group_count_devices(st, NULL, &devices) < 0 ||
	    store_schema_version(st, &schema) < 0) {
		admin_problem(r, 503, NULL, NULL, "the store cannot be read: %s", store_strerror(st));
		return;
	}
	body = json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s, s:i}, s:{s:I}}", "version",
			 info->version, "node", info->node, "uptime_s",
			 (json_int_t)(time(NULL) - info->started), "site", info->site_dir,
			 "listeners", info->listeners, "store", "kind", "sqlite", "path",
			 "autoprov.db", "schema", schema, "inventory", "devices",
			 (json_int_t)devices);
	admin_reply_json(r, body ? 200 : 500, body);
}

const struct admin_route admin_routes_status[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/status", ADMIN_READ, get_status },
	{ 0, NULL, 0, NULL },
};
