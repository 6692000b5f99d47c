// SPDX-License-Identifier: MIT
/*
 * What the dashboard reads and does beyond the inventory's resources (docs/admin.md,
 * "Dashboard"): GET /api/v1/fleet (the overview), GET /api/v1/devices/{mac}/variables (with
 * their origins), GET /api/v1/unknown-devices and POST /api/v1/unknown-devices/approve.
 * The data come from the site layer (site/fleet.h).
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "core/log.h"
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

/*
 * ---- the overview, kept ----
 * Counting 100 000 devices by state, model and firmware takes a pass of the inventory (a
 * few hundred milliseconds on a busy machine): the admin thread keeps the last overview and
 * counts again on a timer, once a second at most, only when the journal or the inventory
 * moved (or the overview is FLEET_MAX_AGE_MS old: its windows move with the clock), and
 * after a count of t ms not before 20 t ms (at most 5 % of the admin thread), as the
 * inventory's size for /metrics is kept (admin.c). GET /api/v1/fleet and the event
 * streams' "fleet" answer from it, with the requests per minute read fresh. The timer
 * stops a minute after the last one asked.
 */
#define FLEET_POLL_MS	 1000
#define FLEET_DUTY	 20
#define FLEET_MAX_AGE_MS 30000
#define FLEET_WANTED_MS	 60000

struct admin_fleet {
	struct site *site;
	struct site_metrics *serving;
	enum unknown_devices_mode mode;
	struct event *timer;
	bool timer_on;
	json_t *overview;
	int64_t computed_ms, next_ms, wanted_until_ms, took_ms;
	int64_t journal_id;
	uint64_t seq;
};

/* Counts again now: 0, or the error (the last overview is kept). */
static int fleet_count(struct admin_fleet *f, int64_t journal_id, uint64_t seq)
{
	int64_t t0 = admin_mono_ms();
	json_t *o = NULL;
	int e = fleet_overview(f->site, f->serving, (int64_t)time(NULL), f->mode, &o);

	f->took_ms = admin_mono_ms() - t0;
	f->next_ms = t0 + (f->took_ms * FLEET_DUTY > FLEET_POLL_MS ? f->took_ms * FLEET_DUTY
								   : FLEET_POLL_MS);
	if (e < 0) {
		log_debug("admin", "the fleet cannot be counted: %s", fleet_strerror(f->site));
		return e;
	}
	json_decref(f->overview);
	f->overview = o;
	f->computed_ms = t0;
	f->journal_id = journal_id;
	f->seq = seq;
	return 0;
}

static void on_fleet_timer(evutil_socket_t fd, short what, void *arg)
{
	struct admin_fleet *f = arg;
	int64_t now = admin_mono_ms(), id = 0;
	uint64_t seq = 0;

	(void)fd;
	(void)what;
	if (now > f->wanted_until_ms) {
		event_del(f->timer);
		f->timer_on = false;
		return;
	}
	if (now < f->next_ms || fleet_journal_last(f->site, &id) < 0 ||
	    fleet_changes_last(f->site, &seq) < 0)
		return;
	if (id != f->journal_id || seq != f->seq || now - f->computed_ms >= FLEET_MAX_AGE_MS)
		(void)fleet_count(f, id, seq);
}

struct admin_fleet *admin_fleet(struct admin_request *r)
{
	struct admin_fleet **fp = admin_fleet_slot(r), *f = *fp;

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->timer = event_new(admin_base(r), -1, EV_PERSIST, on_fleet_timer, f);
	if (!f->timer) {
		free(f);
		return NULL;
	}
	f->site = admin_site(r);
	f->serving = serving_metrics(r);
	f->mode = mode_of(r);
	*fp = f;
	return f;
}

void admin_fleet_free(struct admin_fleet *f)
{
	if (!f)
		return;
	event_free(f->timer);
	json_decref(f->overview);
	free(f);
}

const json_t *admin_fleet_overview(struct admin_fleet *f)
{
	int64_t now = admin_mono_ms(), id = 0;
	uint64_t seq = 0;

	f->wanted_until_ms = now + FLEET_WANTED_MS;
	if (!f->timer_on) {
		f->timer_on = event_add(f->timer, &(struct timeval){ .tv_sec = FLEET_POLL_MS / 1000,
								     .tv_usec = FLEET_POLL_MS %
										1000 * 1000 }) == 0;
	}
	/* the first time, or after a failure: counted now */
	if (!f->overview && fleet_journal_last(f->site, &id) == 0 &&
	    fleet_changes_last(f->site, &seq) == 0)
		(void)fleet_count(f, id, seq);
	return f->overview;
}

static void get_fleet(struct admin_request *r)
{
	struct admin_fleet *f = admin_fleet(r);
	const json_t *o = f ? admin_fleet_overview(f) : NULL;
	json_t *body;
	char age[32];

	if (!f) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	if (!o) {
		fleet_problem(r, -EIO);
		return;
	}
	body = json_deep_copy(o);
	if (body)
		json_object_set_new(body, "requests",
				    fleet_requests(serving_metrics(r), (int64_t)time(NULL)));
	/* how old the counts are, in seconds (RFC 9111's Age) */
	snprintf(age, sizeof(age), "%lld", (long long)((admin_mono_ms() - f->computed_ms) / 1000));
	admin_add_header(r, "Age", age);
	admin_reply_json(r, body ? 200 : 500, body);
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
	if (e == -EINVAL || e == -ENOENT || e == -EEXIST) {
		admin_problem(r, e == -EEXIST ? 409 : 422, NULL, NULL, "%s", err);
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
