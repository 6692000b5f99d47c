// SPDX-License-Identifier: MIT
/*
 * GET /api/v1/devices/{mac}/doctor: the doctor's diagnosis (site/doctor.c, the same as
 * `autoprov doctor --json`), and GET /api/v1/device-states: the devices of the inventory
 * counted by state, and those seen since a time (docs/admin.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "core/mac.h"
#include "core/str.h"
#include "site/doctor.h"
#include "site/inventory.h"

static void get_doctor(struct admin_request *r)
{
	const struct admin_info *info = admin_info(r);
	struct doctor_options opts = {
		.site_dir = info->site_dir,
		.prefix_tftp = info->tftp_prefix,
		.prefix_http = info->http_prefix,
	};
	char mac[MAC_LEN + 1], err[512];
	const char *why;
	json_t *dg = NULL;

	if (mac_parse(r->params[0], mac, &why) < 0) {
		admin_problem(r, 400, NULL, NULL, "'%s' is not a MAC address (%s)", r->params[0],
			      why);
		return;
	}
	if (doctor_diagnose(admin_site(r), mac, &opts, &dg, err, sizeof(err)) < 0) {
		admin_problem(r, 503, NULL, NULL, "%s", err);
		return;
	}
	admin_reply_json(r, 200, dg);
}

/* ?seen_since=SECONDS (since the epoch) adds how many devices were seen since then. */
static void get_states(struct admin_request *r)
{
	const char *since = admin_query(r, "seen_since");
	uint64_t counts[_DEVICE_STATUS_MAX], seen = 0, s = 0;
	json_t *body, *by;

	if (since && str_to_u64(since, 0, (uint64_t)INT64_MAX / 1000000, &s) < 0) {
		admin_problem(r, 400, NULL, NULL, "seen_since: seconds since the epoch expected");
		return;
	}
	if (inventory_state_counts(admin_site(r), counts, since ? (int64_t)s : -1, &seen) < 0) {
		admin_problem(r, 503, NULL, NULL, "the store cannot be read: %s",
			      inventory_strerror(admin_site(r)));
		return;
	}
	by = json_object();
	for (int i = 0; by && i < _DEVICE_STATUS_MAX; i++)
		json_object_set_new(by, device_status_name((enum device_status)i),
				    json_integer((json_int_t)counts[i]));
	body = json_pack("{s:o}", "states", by);
	if (body && since)
		json_object_set_new(body, "seen_since", json_integer((json_int_t)seen));
	admin_reply_json(r, body ? 200 : 500, body);
}

const struct admin_route admin_routes_doctor[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/devices/{mac}/doctor", ADMIN_READ, get_doctor },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/device-states", ADMIN_READ, get_states },
	{ 0, NULL, 0, NULL },
};
