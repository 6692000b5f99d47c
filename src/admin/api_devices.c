// SPDX-License-Identifier: MIT
/*
 * /api/v1/devices (docs/admin.md): the inventory's devices, as `autoprov device` edits
 * them and through the same store functions and checks (store_device_from_json and
 * store_device_json are the one JSON shape of a device): pages of the list with filters,
 * one device with its ETag (its revision), PUT / PATCH (JSON merge patch, RFC 7396) /
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
#include "site/site.h"
#include "store/store.h"

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

/* The answer to a store error: 404, 409, 422 or 503, with the store's reason. */
static void store_problem(struct admin_request *r, int err)
{
	struct store *st = admin_store(r);

	switch (err) {
	case -ENOENT: admin_problem(r, 404, NULL, NULL, "%s", store_strerror(st)); break;
	case -EEXIST:
	case -EBUSY:
		admin_problem(r, err == -EBUSY && strstr(store_strerror(st), "locked") ? 503 : 409,
			      NULL, NULL, "%s", store_strerror(st));
		break;
	case -EINVAL: admin_problem(r, 422, NULL, NULL, "%s", store_strerror(st)); break;
	case -ENOMEM: admin_problem(r, 500, NULL, NULL, "out of memory"); break;
	default: admin_problem(r, 503, NULL, NULL, "the store: %s", store_strerror(st)); break;
	}
}

static void set_etag(struct admin_request *r, uint64_t rev)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long long)rev);
	admin_add_header(r, "ETag", etag);
}

/*
 * If-Match against the device's revision (rev 0: the device does not exist): true when
 * the request may go on, else 412 answered. "*" matches any existing device.
 */
static bool if_match(struct admin_request *r, uint64_t rev)
{
	const char *h = admin_header(r, "If-Match");
	char etag[32];

	if (!h)
		return true;
	snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long long)rev);
	if (rev && strcmp(h, "*") == 0)
		return true;
	/* a list of ETags, weak ones compared as strong (the revision is exact) */
	for (const char *p = h; rev && *p;) {
		size_t n;

		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		n = strcspn(p, " \t,");
		if (n == strlen(etag) && strncmp(p, etag, n) == 0)
			return true;
		p += n;
	}
	admin_problem(r, 412, NULL, NULL,
		      rev ? "If-Match: the device has changed (its ETag is now %s)"
			  : "If-Match: the device does not exist%s",
		      rev ? etag : "");
	return false;
}

/*
 * A device as the API shows it: its JSON and its state (docs/admin.md, "Device state"; one
 * look-up by primary key), as `device show --json` shows them. NULL when out of memory.
 */
static json_t *device_json(struct store *st, const struct device *d)
{
	json_t *obj = store_device_json(d);
	struct device_state s;

	if (obj && store_device_state_get(st, d->mac, &s) == 0 &&
	    json_object_set_new(obj, "state", store_device_state_json(&s)) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static void reply_device(struct admin_request *r, int status, const struct device *d)
{
	set_etag(r, d->rev);
	admin_reply_json(r, status, device_json(admin_store(r), d));
}

/* The device of mac read back after a write, answered with status (in the transaction). */
static void reply_written(struct admin_request *r, int status, const char *mac)
{
	struct device *d = NULL;
	int e = store_device_get(admin_store(r), mac, &d);

	if (e < 0) {
		store_problem(r, e);
		return;
	}
	if (status == 201) {
		char loc[64];

		snprintf(loc, sizeof(loc), ADMIN_API_PREFIX "/devices/%s", d->mac);
		admin_add_header(r, "Location", loc);
	}
	reply_device(r, status, d);
	device_free(d);
}

/* ---- cursors: opaque to the client, "d" + the last MAC of the page ---- */

static void cursor_make(const char *mac, char *buf, size_t size)
{
	snprintf(buf, size, "d%s", mac);
}

static int cursor_parse(const char *s, char mac[MAC_LEN + 1])
{
	if (!s || s[0] != 'd' || strlen(s + 1) != MAC_LEN || mac_parse(s + 1, mac, NULL) < 0 ||
	    strcmp(mac, s + 1) != 0)
		return -EINVAL;
	return 0;
}

/* ---- GET /devices ---- */

struct page {
	struct store *st;
	json_t *items;
	size_t limit, n;
	char last[MAC_LEN + 1];
	bool more;
};

static int page_add(const struct device *d, void *arg)
{
	struct page *p = arg;
	json_t *obj;

	if (p->n == p->limit) {
		p->more = true;
		return 1;
	}
	obj = device_json(p->st, d);
	if (!obj || json_array_append_new(p->items, obj) < 0)
		return -ENOMEM;
	str_copy(p->last, sizeof(p->last), d->mac);
	p->n++;
	return 0;
}

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
	const char *cursor = admin_query(r, "cursor");
	struct page p = { .st = admin_store(r) };
	char after[MAC_LEN + 1] = "", next[MAC_LEN + 2];
	json_t *body;
	int e;

	if (!page_limit(r, &p.limit))
		return;
	if (cursor && cursor_parse(cursor, after) < 0) {
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
	p.items = json_array();
	if (!p.items) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	/* one more than the page: whether there is a next one */
	e = store_device_page(admin_store(r), &f, after, p.limit + 1, page_add, &p);
	if (e < 0) {
		json_decref(p.items);
		store_problem(r, e);
		return;
	}
	cursor_make(p.last, next, sizeof(next));
	body = json_pack("{s:o, s:o}", "devices", p.items, "next",
			 p.more ? json_string(next) : json_null());
	admin_reply_json(r, body ? 200 : 500, body);
}

/* ---- one device ---- */

static void get_device(struct admin_request *r)
{
	char mac[MAC_LEN + 1];
	struct device *d = NULL;
	int e;

	if (path_mac(r, mac) < 0)
		return;
	e = store_device_get(admin_store(r), mac, &d);
	if (e < 0) {
		store_problem(r, e);
		return;
	}
	reply_device(r, 200, d);
	device_free(d);
}

/*
 * Writes d (a new device, or in place of the one there), in the caller's write
 * transaction, and answers. Returns 0 when the caller commits, else the answer is given.
 */
static int write_device(struct admin_request *r, const struct device *d, bool replace)
{
	char err[512];
	int e = store_device_put(admin_store(r), d, replace, err, sizeof(err));

	/* a group that does not exist is the body's fault, not a missing resource */
	if (e == -ENOENT)
		admin_problem(r, 422, NULL, NULL, "%s", err);
	else if (e < 0)
		store_problem(r, e);
	return e;
}

/* Ends the write transaction: commits, or answers the store's error. 0 when committed. */
static int finish(struct admin_request *r, int e)
{
	struct store *st = admin_store(r);

	if (e < 0) {
		store_rollback(st);
		return e;
	}
	e = store_commit(st);
	if (e < 0)
		store_problem(r, e);
	return e;
}

static void create_device(struct admin_request *r)
{
	json_t *body = admin_body_json(r);
	struct store *st = admin_store(r);
	struct device *d = NULL;
	char err[512];
	int e;

	if (!body)
		return;
	e = store_device_from_json(body, NULL, &d, err, sizeof(err));
	json_decref(body);
	if (e < 0) {
		admin_problem(r, e == -ENOMEM ? 500 : 422, NULL, NULL, "%s", err);
		return;
	}
	e = store_begin(st, true);
	if (e < 0) {
		store_problem(r, e);
		device_free(d);
		return;
	}
	e = write_device(r, d, false);
	if (finish(r, e) == 0)
		reply_written(r, 201, d->mac);
	device_free(d);
}

static void put_device(struct admin_request *r)
{
	struct store *st = admin_store(r);
	struct device *d = NULL, *old = NULL;
	char mac[MAC_LEN + 1], err[512];
	json_t *body;
	int e;

	if (path_mac(r, mac) < 0)
		return;
	body = admin_body_json(r);
	if (!body)
		return;
	e = store_device_from_json(body, mac, &d, err, sizeof(err));
	json_decref(body);
	if (e < 0) {
		admin_problem(r, e == -ENOMEM ? 500 : 422, NULL, NULL, "%s", err);
		return;
	}
	/* the check and the write under one lock: nobody writes in between */
	e = store_begin(st, true);
	if (e < 0) {
		store_problem(r, e);
		goto out;
	}
	e = store_device_get(st, mac, &old);
	if (e < 0 && e != -ENOENT) {
		store_problem(r, e);
		store_rollback(st);
		goto out;
	}
	if (!if_match(r, old ? old->rev : 0)) {
		store_rollback(st);
		goto out;
	}
	if (!old && admin_header(r, "If-None-Match") == NULL) {
		/* PUT makes the device: fine */
	} else if (old && admin_header(r, "If-None-Match") &&
		   strcmp(admin_header(r, "If-None-Match"), "*") == 0) {
		admin_problem(r, 412, NULL, NULL, "If-None-Match: the device exists");
		store_rollback(st);
		goto out;
	}
	e = write_device(r, d, old != NULL);
	if (finish(r, e) == 0)
		reply_written(r, old ? 200 : 201, mac);
out:
	device_free(old);
	device_free(d);
}

/*
 * RFC 7396: patch applied to target (modified in place, or replaced: the result is
 * returned, a new reference; target's reference is taken). NULL if out of memory.
 */
static json_t *merge_patch(json_t *target, json_t *patch)
{
	const char *key;
	json_t *value;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_incref(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
		if (!target)
			return NULL;
	}
	json_object_foreach(patch, key, value)
	{
		if (json_is_null(value)) {
			json_object_del(target, key);
		} else {
			json_t *sub = merge_patch(json_incref(json_object_get(target, key)), value);

			if (!sub || json_object_set_new(target, key, sub) < 0) {
				json_decref(target);
				return NULL;
			}
		}
	}
	return target;
}

static void patch_device(struct admin_request *r)
{
	const char *type = admin_header(r, "Content-Type");
	struct store *st = admin_store(r);
	struct device *old = NULL, *d = NULL;
	char mac[MAC_LEN + 1], err[512];
	json_t *patch = NULL, *doc = NULL;
	json_error_t jerr;
	const char *text;
	size_t len;
	int e;

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
	if (!json_is_object(patch)) {
		admin_problem(r, 422, NULL, NULL, "a merge patch of a device is a JSON object");
		goto out;
	}
	e = store_begin(st, true);
	if (e < 0) {
		store_problem(r, e);
		goto out;
	}
	e = store_device_get(st, mac, &old);
	if (e < 0) {
		if (e == -ENOENT && admin_header(r, "If-Match"))
			if_match(r, 0);
		else
			store_problem(r, e);
		store_rollback(st);
		goto out;
	}
	if (!if_match(r, old->rev)) {
		store_rollback(st);
		goto out;
	}
	doc = store_device_json(old);
	if (doc) {
		/* the revision is the server's: a patch cannot set it */
		json_object_del(doc, "rev");
		json_object_del(patch, "rev");
	}
	doc = doc ? merge_patch(doc, patch) : NULL;
	if (!doc) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		store_rollback(st);
		goto out;
	}
	e = store_device_from_json(doc, mac, &d, err, sizeof(err));
	if (e < 0) {
		admin_problem(r, e == -ENOMEM ? 500 : 422, NULL, NULL, "%s", err);
		store_rollback(st);
		goto out;
	}
	e = write_device(r, d, true);
	if (finish(r, e) == 0)
		reply_written(r, 200, mac);
out:
	json_decref(patch);
	json_decref(doc);
	device_free(old);
	device_free(d);
}

static void delete_device(struct admin_request *r)
{
	struct store *st = admin_store(r);
	struct device *old = NULL;
	char mac[MAC_LEN + 1];
	int e;

	if (path_mac(r, mac) < 0)
		return;
	e = store_begin(st, true);
	if (e < 0) {
		store_problem(r, e);
		return;
	}
	e = store_device_get(st, mac, &old);
	if (e < 0) {
		if (e == -ENOENT && admin_header(r, "If-Match"))
			if_match(r, 0);
		else
			store_problem(r, e);
		store_rollback(st);
		return;
	}
	if (!if_match(r, old->rev)) {
		store_rollback(st);
		device_free(old);
		return;
	}
	device_free(old);
	e = store_device_remove(st, mac);
	if (e < 0)
		store_problem(r, e);
	if (finish(r, e) == 0)
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
	struct store *st = admin_store(r);
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
		n = store_import_csv(st, in, replace, err, sizeof(err));
		fclose(in);
	} else if (type && strncasecmp(type, "application/json", 16) == 0) {
		json_t *devices = admin_body_json(r);

		if (!devices)
			return;
		n = store_import_json(st, devices, replace, err, sizeof(err));
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
	if (e == 0 && req.mac[0] && strcmp(req.mac, mac) != 0) {
		admin_problem(r, 404, NULL, NULL, "%s is device %s's file, not %s's", path, req.mac,
			      mac);
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
