// SPDX-License-Identifier: MIT
/*
 * /api/v1/devices (docs/admin.md): the inventory's devices, through the site's inventory
 * (site/inventory.h: the same JSON shape and checks as `autoprov device`): pages of the list with
 * filters, one device with its ETag (its revision), PUT / PATCH (JSON merge patch, RFC 7396) /
 * DELETE with an optional If-Match, bulk imports (CSV or JSON, all or nothing), and the
 * files a device would get, resolved by the admin side's own site as `autoprov render`
 * resolves them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "core/addr.h"
#include "core/mac.h"
#include "core/str.h"
#include "site/exchange.h"
#include "site/inventory.h"
#include "site/site.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

/* ---- helpers ---- */

/* The route's {mac} as a canonical MAC, or a 400 answered and -EINVAL. */
static int path_mac(struct admin_request *r, char mac[MAC_LEN + 1])
{
	const char *why;

	if (mac_parse(r->params[0], mac, &why) < 0) {
		admin_problem(r, 400, NULL, NULL, "'%s': not a MAC address (%s)", r->params[0],
			      why);
		return -EINVAL;
	}
	return 0;
}

static void set_etag(struct admin_request *r, uint64_t rev)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long long)rev);
	admin_add_header(r, "ETag", etag);
}

/*
 * If-Match (a list of ETags, weak ones compared as strong: the revision is exact, or "*")
 * and If-None-Match: * as what the write expects of the device's revision.
 */
static void expectation(struct admin_request *r, struct inventory_expect *x)
{
	const char *h = admin_header(r, "If-Match"), *none = admin_header(r, "If-None-Match");

	*x = (struct inventory_expect){ .absent = none && strcmp(none, "*") == 0 };
	if (!h)
		return;
	x->given = true;
	for (const char *p = h; *p;) {
		size_t n;

		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		n = strcspn(p, " \t,");
		if (n == 1 && *p == '*') {
			x->any = true;
		} else if (n > 2 && p[0] == '"' && p[n - 1] == '"' &&
			   x->nrevs < INVENTORY_EXPECT_MAX) {
			char num[24];
			uint64_t v;

			if (n - 2 < sizeof(num)) {
				memcpy(num, p + 1, n - 2);
				num[n - 2] = '\0';
				if (str_to_u64(num, 1, UINT64_MAX, &v) == 0)
					x->revs[x->nrevs++] = v;
			}
		}
		p += n;
	}
}

/* The answer to an expectation that did not hold (-ESTALE): 412. */
static void stale(struct admin_request *r, const struct inventory_expect *x, uint64_t rev)
{
	if (x->absent && rev)
		admin_problem(r, 412, NULL, NULL, "If-None-Match: the device exists");
	else if (rev)
		admin_problem(r, 412, NULL, NULL,
			      "If-Match: the device has changed (its ETag is now \"%llu\")",
			      (unsigned long long)rev);
	else
		admin_problem(r, 412, NULL, NULL, "If-Match: the device does not exist");
}

/* The answer to a failed write: err (the body's fault) or the inventory's reason. */
static void write_problem(struct admin_request *r, int e, const struct inventory_expect *x,
			  uint64_t rev, const char *err)
{
	if (e == -ESTALE)
		stale(r, x, rev);
	else if (e == -EINVAL && err[0])
		admin_problem(r, 422, NULL, NULL, "%s", err);
	else
		admin_inventory_problem(r, e);
}

static void reply_device(struct admin_request *r, int status, json_t *dev, uint64_t rev)
{
	set_etag(r, rev);
	if (status == 201) {
		char loc[64];

		snprintf(loc, sizeof(loc), ADMIN_API_PREFIX "/devices/%s",
			 json_string_value(json_object_get(dev, "mac")));
		admin_add_header(r, "Location", loc);
	}
	admin_reply_json(r, status, dev);
}

/*
 * ---- cursors: opaque to the client ----
 * In MAC order "d" + the last MAC of the page; in another order (or descending) "k", the
 * order's number, "a" or "d", "-", the last MAC, "-", and its sort key (a decimal number,
 * or the text in hex), so a cursor only continues the order it came from.
 */

static int cursor_parse(const char *s, char mac[MAC_LEN + 1])
{
	if (!s || s[0] != 'd' || strlen(s + 1) != MAC_LEN || mac_parse(s + 1, mac, NULL) < 0 ||
	    strcmp(mac, s + 1) != 0)
		return -EINVAL;
	return 0;
}

static int keyed_cursor_parse(const char *s, struct device_filter *f, char mac[MAC_LEN + 1],
			      char *text, size_t size)
{
	const char *k;
	size_t n;

	if (strlen(s) < 5 + MAC_LEN || s[0] != 'k' || s[1] != (char)('0' + f->sort) ||
	    s[2] != (f->desc ? 'd' : 'a') || s[3] != '-' || s[4 + MAC_LEN] != '-')
		return -EINVAL;
	memcpy(mac, s + 4, MAC_LEN);
	mac[MAC_LEN] = '\0';
	if (mac_parse(mac, text, NULL) < 0 || strcmp(mac, text) != 0)
		return -EINVAL;
	k = s + 5 + MAC_LEN;
	f->keyed = true;
	if (f->sort == DEVICE_SORT_STATE || f->sort == DEVICE_SORT_LAST_SEEN) {
		uint64_t v;

		if (str_to_u64(k, 0, INT64_MAX, &v) < 0)
			return -EINVAL;
		f->after_num = (int64_t)v;
		return 0;
	}
	n = strlen(k);
	if (n % 2 || n / 2 >= size)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned c;

		if (sscanf(k + 2 * i, "%2x", &c) != 1 || !c)
			return -EINVAL;
		text[i] = (char)c;
	}
	text[n / 2] = '\0';
	f->after_key = text;
	return 0;
}

static void keyed_cursor_make(const struct device_filter *f, const char *mac,
			      const struct device_sort_key *key, char *buf, size_t size)
{
	size_t o =
		(size_t)snprintf(buf, size, "k%c%c-%s-", '0' + f->sort, f->desc ? 'd' : 'a', mac);

	if (f->sort == DEVICE_SORT_MAC)
		return;
	if (key->numeric) {
		snprintf(buf + o, size - o, "%lld", (long long)key->num);
		return;
	}
	for (const char *p = key->text; *p && o + 3 < size; p++)
		o += (size_t)snprintf(buf + o, size - o, "%02x", (unsigned char)*p);
}

/* ---- GET /devices ---- */

/* ?limit= as 1..PAGE_MAX (PAGE_DEFAULT when absent); false after a 400. */
static bool page_limit(struct admin_request *r, size_t *ret)
{
	const char *s = admin_query(r, "limit");
	uint64_t v = PAGE_DEFAULT;

	if (s && str_to_u64(s, 1, PAGE_MAX, &v) < 0) {
		admin_problem(r, 400, NULL, NULL, "limit: '%s' is not 1..%d", s, PAGE_MAX);
		return false;
	}
	*ret = (size_t)v;
	return true;
}

static void list_devices(struct admin_request *r)
{
	struct device_filter f = {
		.group = admin_query(r, "group"),
		.profile = admin_query(r, "profile"),
		.model = admin_query(r, "model"),
		.text = admin_query(r, "q"),
	};
	struct device_sort_key key = { 0 };
	enum device_sort by = DEVICE_SORT_MAC;
	const char *cursor = admin_query(r, "cursor"), *sort = admin_query(r, "sort");
	const char *order = admin_query(r, "order");
	/* a cursor: "k" sort order "-" MAC "-" the key in hex */
	char after[MAC_LEN + 1] = "", last[MAC_LEN + 1], next[MAC_LEN + 8 + 2 * sizeof(key.text)];
	char keytext[sizeof(key.text)];

	json_t *items, *body;
	size_t limit;
	bool more, keyed;
	int e;

	if (!page_limit(r, &limit))
		return;
	if (sort && device_sort_parse(sort, &by) < 0) {
		admin_problem(r, 400, NULL, NULL,
			      "sort: mac, name, model, group, state or last_seen expected");
		return;
	}
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		admin_problem(r, 400, NULL, NULL, "order: asc or desc expected");
		return;
	}
	f.sort = (int)by;
	f.desc = order && strcmp(order, "desc") == 0;
	keyed = by != DEVICE_SORT_MAC || f.desc;
	if (cursor && (keyed ? keyed_cursor_parse(cursor, &f, after, keytext, sizeof(keytext))
			     : cursor_parse(cursor, after)) < 0) {
		admin_problem(r, 400, NULL, NULL, "cursor: not one this server gave");
		return;
	}
	if (f.text && !f.text[0])
		f.text = NULL;
	if (admin_query(r, "state")) {
		enum device_status s;

		if (device_status_parse(admin_query(r, "state"), &s) < 0) {
			admin_problem(r, 400, NULL, NULL,
				      "state: never-seen, provisioning, provisioned, failing or "
				      "change-pending expected");
			return;
		}
		f.by_state = true;
		f.state = (int)s;
	}
	items = json_array();
	if (!items) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	e = inventory_device_page(admin_site(r), &f, after, limit, items, last, &more, &key);
	if (e < 0) {
		json_decref(items);
		admin_inventory_problem(r, e);
		return;
	}
	if (keyed)
		keyed_cursor_make(&f, last, &key, next, sizeof(next));
	else
		snprintf(next, sizeof(next), "d%s", last);
	body = json_pack("{s:o, s:o}", "devices", items, "next",
			 more ? json_string(next) : json_null());
	admin_reply_json(r, body ? 200 : 500, body);
}

/* ---- one device ---- */

static void get_device(struct admin_request *r)
{
	char mac[MAC_LEN + 1];
	json_t *dev = NULL;
	uint64_t rev = 0;
	int e;

	if (path_mac(r, mac) < 0)
		return;
	e = inventory_device_get(admin_site(r), mac, &dev, &rev);
	if (e < 0) {
		admin_inventory_problem(r, e);
		return;
	}
	reply_device(r, 200, dev, rev);
}

/* POST, PUT and PATCH: the body written as how says, answered with the device written. */
static void write_device(struct admin_request *r, enum inventory_write how, const char *mac,
			 json_t *body)
{
	struct inventory_expect x;
	json_t *dev = NULL;
	uint64_t rev = 0;
	bool created = false;
	char err[512];
	int e;

	expectation(r, &x);
	e = inventory_device_write(admin_site(r), how, mac, body,
				   how == INVENTORY_CREATE ? NULL : &x, &dev, &rev, &created, err,
				   sizeof(err));
	if (e < 0) {
		write_problem(r, e, &x, rev, err);
		return;
	}
	reply_device(r, created ? 201 : 200, dev, rev);
}

static void create_device(struct admin_request *r)
{
	json_t *body = admin_body_json(r);

	if (!body)
		return;
	write_device(r, INVENTORY_CREATE, NULL, body);
	json_decref(body);
}

static void put_device(struct admin_request *r)
{
	char mac[MAC_LEN + 1];
	json_t *body;

	if (path_mac(r, mac) < 0)
		return;
	body = admin_body_json(r);
	if (!body)
		return;
	write_device(r, INVENTORY_PUT, mac, body);
	json_decref(body);
}

static void patch_device(struct admin_request *r)
{
	const char *type = admin_header(r, "Content-Type");
	char mac[MAC_LEN + 1];
	json_t *patch;
	json_error_t jerr;
	const char *text;
	size_t len;

	if (path_mac(r, mac) < 0)
		return;
	if (!type || (strncasecmp(type, "application/merge-patch+json", 28) != 0 &&
		      strncasecmp(type, "application/json", 16) != 0)) {
		admin_problem(r, 415, NULL, NULL,
			      "the body must be application/merge-patch+json (RFC 7396)");
		return;
	}
	text = admin_body(r, &len);
	patch = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!patch) {
		admin_problem(r, 400, NULL, NULL, "the body is not JSON%s%s", text ? ": " : "",
			      text ? jerr.text : "");
		return;
	}
	write_device(r, INVENTORY_PATCH, mac, patch);
	json_decref(patch);
}

static void delete_device(struct admin_request *r)
{
	struct inventory_expect x;
	char mac[MAC_LEN + 1];
	uint64_t rev = 0;
	int e;

	if (path_mac(r, mac) < 0)
		return;
	expectation(r, &x);
	e = inventory_device_remove(admin_site(r), mac, &x, &rev);
	if (e < 0)
		write_problem(r, e, &x, rev, "");
	else
		admin_reply(r, 204, NULL, NULL, 0);
}

/* ---- POST /devices/import ---- */

/* An import's error "ROW: reason" as 422 with "row". */
static void import_problem(struct admin_request *r, int e, const char *err)
{
	char *end;
	unsigned long row = strtoul(err, &end, 10);

	if (e == -ENOMEM) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	if (e == -EBUSY || e == -EROFS || e == -ENOSPC || e == -EIO) {
		admin_problem(r, 503, NULL, NULL, "the store: %s", err);
		return;
	}
	if (end != err && *end == ':') {
		end++;
		end += strspn(end, " ");
		admin_problem(r, 422, NULL, json_pack("{s:I}", "row", (json_int_t)row),
			      "row %lu: %s", row, end);
		return;
	}
	admin_problem(r, 422, NULL, NULL, "%s", err);
}

static void import_devices(struct admin_request *r)
{
	const char *type = admin_header(r, "Content-Type"), *replace_s = admin_query(r, "replace");
	bool replace = false;
	char err[512];
	int n;

	if (replace_s && str_to_bool(replace_s, &replace) < 0) {
		admin_problem(r, 400, NULL, NULL, "replace: '%s' is not true or false", replace_s);
		return;
	}
	if (type && strncasecmp(type, "text/csv", 8) == 0) {
		size_t len;
		const char *body = admin_body(r, &len);
		FILE *in = fmemopen((void *)(body ? body : ""), body ? len : 0, "r");

		if (!in) {
			admin_problem(r, 500, NULL, NULL, "out of memory");
			return;
		}
		n = inventory_import_csv(admin_site(r), in, replace, err, sizeof(err));
		fclose(in);
	} else if (type && strncasecmp(type, "application/json", 16) == 0) {
		json_t *devices = admin_body_json(r);

		if (!devices)
			return;
		n = inventory_import_json(admin_site(r), devices, replace, err, sizeof(err));
		json_decref(devices);
	} else {
		admin_problem(r, 415, NULL, NULL,
			      "the body must be text/csv (as `autoprov device import` reads) or "
			      "application/json (an array of devices)");
		return;
	}
	if (n < 0) {
		import_problem(r, n, err);
		return;
	}
	admin_reply_json(r, 200, json_pack("{s:i}", "imported", n));
}

/* ---- GET /devices/{mac}/files/{path} ---- */

static int parse_host(const char *s, struct addr *ret)
{
	char buf[ADDR_STRLEN + 8];

	if (addr_parse(s, ret) == 0)
		return 0;
	snprintf(buf, sizeof(buf), strchr(s, ':') ? "[%s]:0" : "%s:0", s);
	return addr_parse(buf, ret);
}

static void get_file(struct admin_request *r)
{
	const struct admin_info *info = admin_info(r);
	const char *proto = admin_query(r, "proto"), *server = admin_query(r, "server");
	const char *peer = admin_query(r, "peer"), *path = r->params[1], *prefix = NULL, *md5;
	const struct admin_local *lo = NULL;
	struct addr local, peer_addr;
	struct site_request req;
	struct site_file *f = NULL;
	struct principal who;
	const char *why = NULL;
	char mac[MAC_LEN + 1], host[ADDR_STRLEN], hdr[64];
	int e;

	if (path_mac(r, mac) < 0)
		return;
	if (!proto)
		proto = info->nlocals ? info->locals[0].proto : "tftp";
	if (strcmp(proto, "tftp") && strcmp(proto, "http") && strcmp(proto, "https") &&
	    strcmp(proto, "ftp")) {
		admin_problem(r, 400, NULL, NULL, "proto: '%s' is not tftp, http, https or ftp",
			      proto);
		return;
	}
	for (size_t i = 0; i < info->nlocals; i++)
		if (strcmp(info->locals[i].proto, proto) == 0)
			lo = &info->locals[i];
	if (lo) {
		local = lo->addr;
		prefix = lo->prefix && lo->prefix[0] ? lo->prefix : NULL;
		addr_format_host((struct sockaddr *)&local.ss, host, sizeof(host));
		/* a wildcard: the device reached some address of ours; say the loopback's */
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
			uint16_t port = addr_port((struct sockaddr *)&local.ss);

			snprintf(host, sizeof(host), "127.0.0.1:%u", port);
			(void)addr_parse(host, &local);
		}
	} else {
		(void)addr_parse("127.0.0.1:69", &local);
	}
	if (server && parse_host(server, &local) < 0) {
		admin_problem(r, 400, NULL, NULL, "server: '%s' is not ADDR:PORT", server);
		return;
	}
	if (peer && parse_host(peer, &peer_addr) < 0) {
		admin_problem(r, 400, NULL, NULL, "peer: '%s' is not an address", peer);
		return;
	}
	req = (struct site_request){
		.proto = proto,
		.peer = peer ? (struct sockaddr *)&peer_addr.ss : NULL,
		.local = (struct sockaddr *)&local.ss,
		.prefix = prefix,
	};
	e = site_resolve(admin_site(r), path, strlen(path), &req, &f);
	/* what the device gets: serving's access rule, for the device as if it logged in */
	who = (struct principal){ .kind = PRINCIPAL_DEVICE, .how = "login" };
	memcpy(who.mac, mac, sizeof(who.mac));
	if (e == 0 && exchange_access(&who, req.mac, &why) < 0) {
		admin_problem(r, 404, NULL, NULL, "%s is device %s's file, not %s's (%s)", path,
			      req.mac, mac, why);
		goto out;
	}
	switch (e) {
	case 0: break;
	case -ENOENT:
		admin_problem(r, 404, NULL, NULL,
			      "%s: not found (no such file, no route, or the device is unknown or "
			      "disabled)",
			      path);
		goto out;
	case -EACCES: admin_problem(r, 403, NULL, NULL, "%s: refused name", path); goto out;
	case -EIO:
		admin_problem(r, 422, NULL, NULL,
			      "%s: the template fails (the daemon's log says "
			      "where)",
			      path);
		goto out;
	default: admin_problem(r, 503, NULL, NULL, "%s: %s", path, strerror(-e)); goto out;
	}
	md5 = site_file_md5(f);
	if (md5) {
		admin_add_header(r, "X-Autoprov-MD5", md5);
		snprintf(hdr, sizeof(hdr), "\"%s\"", md5);
		admin_add_header(r, "ETag", hdr);
	}
	if (f->version) {
		snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)f->version);
		admin_add_header(r, "X-Autoprov-Version", hdr);
	}
	admin_add_header(r, "X-Autoprov-Device", req.mac[0] ? req.mac : "-");
	admin_reply(r, 200, "application/octet-stream", f->data, f->size);
out:
	site_file_unref(f);
}

const struct admin_route admin_routes_devices[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/devices", ADMIN_READ, list_devices },
	{ EVHTTP_REQ_POST, ADMIN_API_PREFIX "/devices", ADMIN_WRITE, create_device },
	{ EVHTTP_REQ_POST, ADMIN_API_PREFIX "/devices/import", ADMIN_WRITE, import_devices },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/devices/{mac}", ADMIN_READ, get_device },
	{ EVHTTP_REQ_PUT, ADMIN_API_PREFIX "/devices/{mac}", ADMIN_WRITE, put_device },
	{ EVHTTP_REQ_PATCH, ADMIN_API_PREFIX "/devices/{mac}", ADMIN_WRITE, patch_device },
	{ EVHTTP_REQ_DELETE, ADMIN_API_PREFIX "/devices/{mac}", ADMIN_WRITE, delete_device },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/devices/{mac}/files/{path*}", ADMIN_READ, get_file },
	{ 0, NULL, 0, NULL },
};
