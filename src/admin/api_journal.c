// SPDX-License-Identifier: MIT
/*
 * GET /api/v1/journal (docs/admin.md): the journal `autoprov log` prints, as JSON pages
 * filtered by device, time range, outcome and protocol, keyset-paged by the rows' ids
 * (site/inventory.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api.h"
#include "core/str.h"
#include "site/inventory.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

/*
 * A time as YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[.frac][Z] (UTC) into microseconds since the
 * epoch. 0 or -EINVAL.
 */
static int parse_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	int64_t usec = 0;
	time_t t;

	if (!end)
		return -EINVAL;
	if (*end == 'T' || *end == ' ') {
		end = strptime(end + 1, "%H:%M:%S", &tm);
		if (!end)
			return -EINVAL;
		if (*end == '.') {
			int64_t scale = 100000;

			for (end++; *end >= '0' && *end <= '9'; end++) {
				usec += (*end - '0') * scale;
				scale /= 10;
			}
		}
		if (*end == 'Z')
			end++;
	}
	if (*end)
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*ret = (int64_t)t * 1000000 + usec;
	return 0;
}

static void get_journal(struct admin_request *r)
{
	struct journal_filter f = {
		.mac = admin_query(r, "mac"),
		.outcome = admin_query(r, "outcome"),
		.proto = admin_query(r, "proto"),
		.node = admin_query(r, "node"),
	};
	const char *since = admin_query(r, "since"), *until = admin_query(r, "until");
	const char *limit = admin_query(r, "limit"), *cursor = admin_query(r, "cursor");
	size_t n = PAGE_DEFAULT;
	int64_t after = 0, last;
	bool more;
	json_t *items, *body;
	uint64_t v;
	char next[32];
	int e;

	if (limit) {
		if (str_to_u64(limit, 1, PAGE_MAX, &v) < 0) {
			admin_problem(r, 400, NULL, NULL, "limit: '%s' is not 1..%d", limit,
				      PAGE_MAX);
			return;
		}
		n = (size_t)v;
	}
	if (since && parse_time(since, &f.since_usec) < 0) {
		admin_problem(r, 400, NULL, NULL,
			      "since: '%s' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z]",
			      since);
		return;
	}
	if (until && parse_time(until, &f.until_usec) < 0) {
		admin_problem(r, 400, NULL, NULL,
			      "until: '%s' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z]",
			      until);
		return;
	}
	if (cursor) {
		if (cursor[0] != 'j' || str_to_u64(cursor + 1, 0, INT64_MAX, &v) < 0) {
			admin_problem(r, 400, NULL, NULL, "cursor: not one this server gave");
			return;
		}
		after = (int64_t)v;
	}
	items = json_array();
	if (!items) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	e = inventory_journal_page(admin_site(r), &f, after, n, items, &last, &more);
	if (e < 0) {
		json_decref(items);
		if (e == -EINVAL)
			admin_problem(r, 400, NULL, NULL, "mac: %s",
				      inventory_strerror(admin_site(r)));
		else
			admin_inventory_problem(r, e);
		return;
	}
	/*
	 * next is always given, after the last row answered (or where this page started): the
	 * journal grows, and a client that follows it asks again from there later
	 */
	snprintf(next, sizeof(next), "j%lld", (long long)last);
	body = json_pack("{s:o, s:s, s:b}", "entries", items, "next", next, "more", more);
	admin_reply_json(r, body ? 200 : 500, body);
}

const struct admin_route admin_routes_journal[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/journal", ADMIN_READ, get_journal },
	{ 0, NULL, 0, NULL },
};
