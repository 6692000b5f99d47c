// SPDX-License-Identifier: MIT
/* What the dashboard shows of the fleet (site/fleet.h). */
#include "site/fleet.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mac.h"
#include "core/str.h"
#include "site/directory.h"
#include "site/metrics.h"
#include "site/site.h"
#include "store/store.h"

#define ALERTS_MAX	 20
#define ALERT_SCAN_ROWS	 2000 /* journal rows looked through for blocked peers, newest first */
#define ALERT_WINDOW_S	 3600
#define UNKNOWN_WINDOW_S 86400

const char *fleet_strerror(struct site *site)
{
	return store_strerror(site_store(site));
}

int unknown_devices_mode_parse(const char *s, enum unknown_devices_mode *ret)
{
	if (strcmp(s, "record") == 0)
		*ret = UNKNOWN_DEVICES_RECORD;
	else if (strcmp(s, "ignore") == 0)
		*ret = UNKNOWN_DEVICES_IGNORE;
	else if (strcmp(s, "register") == 0)
		*ret = UNKNOWN_DEVICES_REGISTER;
	else
		return -EINVAL;
	return 0;
}

/* ---- vendors by OUI ---- */

static const struct {
	const char *oui; /* six lower-case hex digits */
	const char *vendor;
} ouis[] = {
	{ "0022ee", "Algo" },	   { "0021f2", "Flyingvoice" }, { "0080f0", "Panasonic" },
	{ "080023", "Panasonic" }, { "008045", "Panasonic" },	{ "00908f", "AudioCodes" },
	{ "000e08", "Cisco" },	   { "001873", "Cisco" },	{ "001ef7", "Cisco" },
	{ "0004f2", "Poly" },	   { "64167f", "Poly" },	{ "805ec0", "Yealink" },
	{ "001565", "Yealink" },   { "000b82", "Grandstream" }, { "c074ad", "Grandstream" },
};

const char *fleet_vendor_of(const char *mac)
{
	char canon[MAC_LEN + 1];

	if (mac_parse(mac, canon, NULL) < 0)
		return "";
	for (size_t i = 0; i < sizeof(ouis) / sizeof(ouis[0]); i++)
		if (strncmp(canon, ouis[i].oui, 6) == 0)
			return ouis[i].vendor;
	return "";
}

/* ---- the overview ---- */

static json_t *states_json(const uint64_t counts[_DEVICE_STATUS_MAX])
{
	json_t *o = json_object();

	for (int s = 0; o && s < _DEVICE_STATUS_MAX; s++)
		if (json_object_set_new(o, device_status_name((enum device_status)s),
					json_integer((json_int_t)counts[s])) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

int fleet_states(struct site *site, json_t **ret)
{
	uint64_t counts[_DEVICE_STATUS_MAX];
	int r = store_device_state_count(site_store(site), counts);

	if (r < 0)
		return r;
	*ret = states_json(counts);
	return *ret ? 0 : -ENOMEM;
}

static int add_firmware(void *arg, const char *model, const char *version, uint64_t n)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "model", model ? model : "", "version", version,
			      "count", (json_int_t)n);

	return o && json_array_append_new(arg, o) == 0 ? 0 : -ENOMEM;
}

/* "not_found" as the dashboard says it: "not-found". */
static void outcome_label(enum outcome o, char *buf, size_t size)
{
	str_copy(buf, size, outcome_metric_name(o));
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
}

json_t *fleet_requests(struct site_metrics *m, int64_t now)
{
	json_t *a = json_array();
	uint64_t cur = (uint64_t)now / 60;

	if (!a || !m)
		return a;
	for (uint64_t minute = cur - (METRICS_MINUTES - 1); minute <= cur; minute++) {
		const struct metrics_minute *mm = &m->minutes[minute % METRICS_MINUTES];
		char when[32], label[32];
		time_t t = (time_t)(minute * 60);
		struct tm tm;

		if (__atomic_load_n(&mm->minute, __ATOMIC_ACQUIRE) != minute)
			continue;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
			for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
				uint64_t n = metrics_get(&mm->requests[p][o]);
				json_t *row;

				if (!n)
					continue;
				outcome_label((enum outcome)o, label, sizeof(label));
				row = json_pack("{s:s, s:s, s:s, s:I}", "minute", when, "protocol",
						metrics_proto_name((enum metrics_proto)p),
						"outcome", label, "count", (json_int_t)n);
				if (!row || json_array_append_new(a, row) < 0) {
					json_decref(a);
					return NULL;
				}
			}
	}
	return a;
}

static int add_alert(json_t *alerts, const char *kind, int64_t usec, const char *mac,
		     const char *peer, const char *path, const char *detail)
{
	char when[32];
	json_t *o;

	if (json_array_size(alerts) >= ALERTS_MAX)
		return 1;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", kind, "at",
		      store_time_text(usec, when, sizeof(when)), "mac", mac ? mac : "", "peer",
		      peer ? peer : "", "path", path ? path : "", "detail", detail ? detail : "");
	return o && json_array_append_new(alerts, o) == 0 ? 0 : -ENOMEM;
}

/* Whether alerts holds one of kind for mac and path already (the newest is kept). */
static bool alert_known(const json_t *alerts, const char *kind, const char *mac, const char *path)
{
	size_t i;
	json_t *a;

	json_array_foreach(alerts, i, a)
	{
		if (strcmp(json_string_value(json_object_get(a, "kind")), kind) == 0 &&
		    strcmp(json_string_value(json_object_get(a, "mac")), mac ? mac : "") == 0 &&
		    strcmp(json_string_value(json_object_get(a, "path")), path ? path : "") == 0)
			return true;
	}
	return false;
}

struct scan {
	json_t *alerts;
	int64_t since_usec;
	unsigned rows;
};

/*
 * In the journal's rows of the last hour, newest first: the peers the enumeration defence
 * blocked (rows "blocked"), and the hand-placed .md5 files a device was sent that do not
 * match their sibling (rows "sent" whose detail the serving side wrote: site.c, md5_check),
 * one alert per device and file.
 */
static int scan_journal(void *arg, const struct journal_entry *e)
{
	struct scan *s = arg;
	int64_t usec = (int64_t)e->time.tv_sec * 1000000 + e->time.tv_nsec / 1000;

	if (usec < s->since_usec || ++s->rows > ALERT_SCAN_ROWS)
		return 1;
	if (e->outcome && strcmp(e->outcome, "blocked") == 0)
		return add_alert(s->alerts, "blocked-peer", usec, e->mac, e->peer, e->path,
				 e->detail);
	if (e->outcome && strcmp(e->outcome, "sent") == 0 && e->detail &&
	    strncmp(e->detail, SITE_MD5_MISMATCH, strlen(SITE_MD5_MISMATCH)) == 0 &&
	    !alert_known(s->alerts, "md5-mismatch", e->mac, e->path))
		return add_alert(s->alerts, "md5-mismatch", usec, e->mac, e->peer, e->path,
				 e->detail);
	return 0;
}

static int add_failing(void *arg, const struct device_state *d)
{
	char detail[DEVICE_STATE_TEXT * 3];

	snprintf(detail, sizeof(detail), "%s: %s%s%s", d->fail_path, d->fail_outcome,
		 d->fail_detail[0] ? ", " : "", d->fail_detail);
	return add_alert(arg, "device-failing", d->fail_time, d->mac, d->last_peer, d->fail_path,
			 detail);
}

static int alerts_of(struct site *site, struct site_metrics *m, int64_t now, json_t *alerts)
{
	struct store *st = site_store(site);
	struct scan s = { .alerts = alerts, .since_usec = (now - ALERT_WINDOW_S) * 1000000 };
	int r;

	if (m) {
		uint64_t errors = 0;

		for (int k = 0; k < _STORE_ERROR_MAX; k++)
			errors += metrics_get(&m->store_errors[k]);
		if (errors) {
			char detail[96];

			snprintf(detail, sizeof(detail),
				 "%" PRIu64 " database errors since the start (see /metrics)",
				 errors);
			r = add_alert(alerts, "store-error", now * 1000000, NULL, NULL, NULL,
				      detail);
			if (r < 0)
				return r;
		}
	}
	/* since 0: the scan stops at the first row older than the window, never reads on */
	r = store_journal_foreach(st, NULL, 0, true, scan_journal, &s);
	if (r < 0)
		return r;
	r = store_device_state_list(st, DEVICE_FAILING, false, "", ALERTS_MAX, add_failing, alerts);
	return r < 0 ? r : 0;
}

int fleet_overview(struct site *site, struct site_metrics *serving, int64_t now,
		   enum unknown_devices_mode mode, json_t **ret)
{
	struct store *st = site_store(site);
	uint64_t counts[_DEVICE_STATUS_MAX], unknown = 0;
	json_t *firmware = json_array(), *alerts = json_array(), *requests, *body = NULL;
	int r;

	if (!firmware || !alerts) {
		r = -ENOMEM;
		goto out;
	}
	r = store_begin(st, false); /* one snapshot */
	if (r < 0)
		goto out;
	r = store_fleet_counts(st, counts, add_firmware, firmware);
	if (r == 0 && mode != UNKNOWN_DEVICES_IGNORE)
		r = store_unknown_count_since(st, (now - UNKNOWN_WINDOW_S) * 1000000, &unknown);
	if (r == 0)
		r = alerts_of(site, serving, now, alerts);
	store_rollback(st);
	if (r < 0)
		goto out;
	requests = fleet_requests(serving, now);
	body = json_pack("{s:o, s:I, s:o, s:O, s:O}", "states", states_json(counts), "unknown",
			 (json_int_t)unknown, "requests", requests ? requests : json_null(),
			 "firmware", firmware, "alerts", alerts);
	r = body ? 0 : -ENOMEM;
out:
	json_decref(firmware);
	json_decref(alerts);
	*ret = body;
	return r;
}

/* ---- a device's variables ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fleet_variables(struct site *site, const char *mac, json_t **ret)
{
	struct store *st = site_store(site);
	struct directory *dir = site_directory(site);
	json_t *ctx = json_object(), *origins = json_object(), *items = json_array();
	const struct device *d = NULL;
	const char **names = NULL;
	const char *key;
	json_t *value;
	size_t n = 0;
	int r;

	if (!ctx || !origins || !items) {
		r = -ENOMEM;
		goto out;
	}
	r = store_begin(st, false);
	if (r < 0)
		goto out;
	r = directory_device(dir, mac, &d);
	if (r == 0)
		r = directory_explain(dir, d, ctx, origins);
	store_rollback(st);
	if (r < 0)
		goto out;
	names = malloc((json_object_size(ctx) + 1) * sizeof(*names));
	if (!names) {
		r = -ENOMEM;
		goto out;
	}
	json_object_foreach(ctx, key, value) names[n++] = key;
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		const char *of = json_string_value(json_object_get(origins, names[i]));
		const char *origin = "builtin";
		json_t *item;

		if (!of)
			of = "built-in";
		if (strcmp(of, "device") == 0 || strcmp(of, "defaults") == 0)
			origin = of;
		else if (strncmp(of, "group ", 6) == 0)
			origin = "group";
		item = json_pack("{s:s, s:O, s:s}", "name", names[i], "value",
				 json_object_get(ctx, names[i]), "origin", origin);
		if (item && strcmp(origin, "group") == 0)
			json_object_set_new(item, "group", json_string(of + 6));
		if (!item || json_array_append_new(items, item) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = json_pack("{s:O}", "items", items);
	r = *ret ? 0 : -ENOMEM;
out:
	free(names);
	json_decref(ctx);
	json_decref(origins);
	json_decref(items);
	return r;
}

/* ---- unknown devices ---- */

/* Cursors: "u" + last_seen (microseconds) + "-" + MAC, the keyset of the page's last one. */
static int cursor_parse(const char *s, int64_t *ret_seen, char mac[MAC_LEN + 1])
{
	char *end;
	long long v;

	if (!s || s[0] != 'u' || !isdigit((unsigned char)s[1]))
		return -EINVAL;
	v = strtoll(s + 1, &end, 10);
	if (v <= 0 || *end != '-' || strlen(end + 1) != MAC_LEN ||
	    mac_parse(end + 1, mac, NULL) < 0 || strcmp(mac, end + 1) != 0)
		return -EINVAL;
	*ret_seen = v;
	return 0;
}

struct unknown_page {
	json_t *items;
	size_t limit;
	bool more;
	int64_t last_seen;
	char last_mac[MAC_LEN + 1];
};

static int add_unknown(void *arg, const struct unknown_device *u)
{
	struct unknown_page *p = arg;
	char first[32], last[32];
	json_t *files, *o;

	if (json_array_size(p->items) == p->limit) {
		p->more = true;
		return 1;
	}
	files = json_loads(u->files ? u->files : "[]", 0, NULL);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:b}", "mac", u->mac, "vendor",
		      fleet_vendor_of(u->mac), "first_seen",
		      store_time_text(u->first_seen, first, sizeof(first)), "last_seen",
		      store_time_text(u->last_seen, last, sizeof(last)), "requests",
		      (json_int_t)u->requests, "files", files ? files : json_array(),
		      "last_address", u->last_peer ? u->last_peer : "", "pending", u->pending);
	if (!o || json_array_append_new(p->items, o) < 0)
		return -ENOMEM;
	p->last_seen = u->last_seen;
	str_copy(p->last_mac, sizeof(p->last_mac), u->mac);
	return 0;
}

int fleet_unknown_page(struct site *site, const char *cursor, size_t limit, json_t **ret)
{
	struct unknown_page p = { .items = json_array(), .limit = limit };
	char mac[MAC_LEN + 1] = "", next[64];
	int64_t seen = 0;
	int r;

	if (!p.items)
		return -ENOMEM;
	if (cursor && cursor_parse(cursor, &seen, mac) < 0) {
		json_decref(p.items);
		return -EINVAL;
	}
	r = store_unknown_page(site_store(site), seen, mac, limit + 1, add_unknown, &p);
	if (r < 0) {
		json_decref(p.items);
		return r;
	}
	snprintf(next, sizeof(next), "u%" PRId64 "-%s", p.last_seen, p.last_mac);
	*ret = json_pack("{s:o, s:o}", "items", p.items, "next",
			 p.more ? json_string(next) : json_null());
	return *ret ? 0 : -ENOMEM;
}

int fleet_approve(struct site *site, const json_t *macs, const char *group, size_t *ret_n,
		  char *err, size_t errsz)
{
	struct store *st = site_store(site);
	json_t *vars = NULL;
	size_t i, n = 0;
	json_t *v;
	int r;

	*ret_n = 0;
	r = store_begin(st, true);
	if (r < 0) {
		snprintf(err, errsz, "%s", store_strerror(st));
		return r;
	}
	r = store_group_get(st, group, &vars);
	json_decref(vars);
	if (r < 0) {
		snprintf(err, errsz, r == -ENOENT ? "no group '%s'" : "%s",
			 r == -ENOENT ? group : store_strerror(st));
		goto fail;
	}
	json_array_foreach(macs, i, v)
	{
		char mac[MAC_LEN + 1];
		struct device *d = NULL;
		const char *why = "not a string";

		if (!json_is_string(v) || mac_parse(json_string_value(v), mac, &why) < 0) {
			snprintf(err, errsz, "macs[%zu]: not a MAC address (%s)", i, why);
			r = -EINVAL;
			goto fail;
		}
		r = store_device_get(st, mac, &d);
		if (r == -ENOENT) {
			d = device_new(mac);
			r = d ? 0 : -ENOMEM;
		} else if (r == 0 && strcmp(d->group, STORE_PENDING_GROUP) != 0) {
			/* only the unknown and the pending: a device of the inventory is edited */
			snprintf(err, errsz, "device %s is in the inventory already (group '%s')",
				 mac, d->group);
			device_free(d);
			r = -EEXIST;
			goto fail;
		}
		if (r == 0) {
			free(d->group);
			d->group = strdup(group);
			d->enabled = true;
			r = d->group ? store_device_put(st, d, true, err, errsz) : -ENOMEM;
		} else {
			snprintf(err, errsz, "%s", store_strerror(st));
		}
		device_free(d);
		if (r == 0)
			r = store_unknown_forget(st, mac);
		if (r < 0)
			goto fail;
		n++;
	}
	r = store_commit(st);
	if (r < 0) {
		snprintf(err, errsz, "%s", store_strerror(st));
		return r;
	}
	*ret_n = n;
	return 0;
fail:
	store_rollback(st);
	return r;
}

/* ---- the live stream ---- */

static int newest(void *arg, const struct journal_entry *e)
{
	*(int64_t *)arg = e->id;
	return 1;
}

int fleet_journal_last(struct site *site, int64_t *ret_id)
{
	*ret_id = 0;
	return store_journal_foreach(site_store(site), NULL, 0, true, newest, ret_id);
}

int fleet_journal_after(struct site *site, int64_t after_id, size_t limit,
			int (*fn)(void *arg, const struct journal_entry *e), void *arg)
{
	struct journal_filter f = { 0 };

	return store_journal_page(site_store(site), &f, after_id, limit, fn, arg);
}

int fleet_changes_last(struct site *site, uint64_t *ret_seq)
{
	return store_changes_last(site_store(site), ret_seq);
}

struct changed {
	int (*fn)(void *arg, const char *mac);
	void *arg;
	uint64_t seq;
};

static int on_change(void *arg, uint64_t seq, enum store_change kind, const char *key)
{
	struct changed *c = arg;

	c->seq = seq;
	return kind == STORE_CHANGE_DEVICE ? c->fn(c->arg, key) : 0;
}

int fleet_devices_changed(struct site *site, uint64_t after_seq, uint64_t *ret_seq,
			  int (*fn)(void *arg, const char *mac), void *arg)
{
	struct changed c = { .fn = fn, .arg = arg, .seq = after_seq };
	int r = store_changes_since(site_store(site), after_seq, on_change, &c);

	*ret_seq = c.seq;
	return r;
}
