// SPDX-License-Identifier: MIT
/*
 * GET /api/v1/journal (docs/admin.md): the journal `autoprov log` prints, as JSON pages
 * filtered by device, time range, outcome and protocol, keyset-paged by the rows' ids
 * (store_journal_page).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api.h"
#include "core/str.h"
#include "store/store.h"

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

static void format_time(int64_t sec, long nsec, char *buf, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char day[32];

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", day, nsec / 1000000);
}

struct page {
	json_t *items;
	size_t limit, n;
	int64_t last;
	bool more;
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *admin_journal_entry_json(const struct journal_entry *e)
{
	char when[64];

	format_time(e->time.tv_sec, e->time.tv_nsec, when, sizeof(when));
	return json_pack("{s:I, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "id",
			(json_int_t)e->id, "time", when, "time_us",
			(json_int_t)e->time.tv_sec * 1000000 + e->time.tv_nsec / 1000, "proto",
			str_or_null(e->proto), "peer", str_or_null(e->peer), "mac",
			str_or_null(e->mac), "path", str_or_null(e->path), "outcome",
			str_or_null(e->outcome), "bytes", (json_int_t)e->bytes, "md5",
			str_or_null(e->md5), "user_agent", str_or_null(e->user_agent));
}

static int page_add(void *arg, const struct journal_entry *e)
{
	struct page *p = arg;
	json_t *obj;

	if (p->n == p->limit) {
		p->more = true;
		return 1;
	}
	obj = admin_journal_entry_json(e);
	if (!obj || json_array_append_new(p->items, obj) < 0)
		return -ENOMEM;
	p->last = e->id;
	p->n++;
	return 0;
}

static void get_journal(struct admin_request *r)
{
	struct journal_filter f = {
		.mac = admin_query(r, "mac"),
		.outcome = admin_query(r, "outcome"),
		.proto = admin_query(r, "proto"),
	};
	const char *since = admin_query(r, "since"), *until = admin_query(r, "until");
	const char *limit = admin_query(r, "limit"), *cursor = admin_query(r, "cursor");
	struct page p = { .limit = PAGE_DEFAULT };
	int64_t after = 0;
	uint64_t v;
	char next[32];
	json_t *body;
	int e;

	if (limit) {
		if (str_to_u64(limit, 1, PAGE_MAX, &v) < 0) {
			admin_problem(r, 400, NULL, NULL, "limit: '%s' is not 1..%d", limit,
				      PAGE_MAX);
			return;
		}
		p.limit = (size_t)v;
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
	p.items = json_array();
	if (!p.items) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	e = store_journal_page(admin_store(r), &f, after, p.limit + 1, page_add, &p);
	if (e < 0) {
		json_decref(p.items);
		if (e == -EINVAL)
			admin_problem(r, 400, NULL, NULL, "mac: %s",
				      store_strerror(admin_store(r)));
		else if (e == -ENOMEM)
			admin_problem(r, 500, NULL, NULL, "out of memory");
		else
			admin_problem(r, 503, NULL, NULL, "the store: %s",
				      store_strerror(admin_store(r)));
		return;
	}
	/*
	 * next is always given, after the last row answered (or where this page started): the
	 * journal grows, and a client that follows it asks again from there later
	 */
	snprintf(next, sizeof(next), "j%lld", (long long)(p.n ? p.last : after));
	body = json_pack("{s:o, s:s, s:b}", "entries", p.items, "next", next, "more", p.more);
	admin_reply_json(r, body ? 200 : 500, body);
}

const struct admin_route admin_routes_journal[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/journal", ADMIN_READ, get_journal },
	{ 0, NULL, 0, NULL },
};
