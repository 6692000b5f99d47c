// SPDX-License-Identifier: MIT
/*
 * The inventory as the operator's surfaces change it (site/inventory.h): each call is one
 * read, or one write transaction of the site's store with its checks (the expected
 * revision, the body) made under the write lock, so nobody writes in between.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "site/inventory.h"
#include "site/site.h"

const char *inventory_strerror(struct site *s)
{
	return store_strerror(site_store(s));
}

/* ---- devices ---- */

json_t *inventory_device_json(struct site *s, const struct device *d)
{
	json_t *obj = store_device_json(d);
	struct device_state st;

	if (obj && store_device_state_get(site_store(s), d->mac, &st) == 0 &&
	    json_object_set_new(obj, "state", store_device_state_json(&st)) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static int device_answer(struct site *s, const struct device *d, json_t **ret, uint64_t *rev)
{
	*ret = inventory_device_json(s, d);
	if (rev)
		*rev = d->rev;
	return *ret ? 0 : -ENOMEM;
}

int inventory_device_get(struct site *s, const char *mac, json_t **ret, uint64_t *rev)
{
	struct device *d = NULL;
	int e = store_device_get(site_store(s), mac, &d);

	if (e == 0)
		e = device_answer(s, d, ret, rev);
	device_free(d);
	return e;
}

struct page {
	struct site *site;
	json_t *items;
	size_t limit, n;
	char *last;
	bool more;
	const struct device_sort_key *key; /* the store's key of the device handed to page_add */
	struct device_sort_key *last_key;  /* the page's last device's, or NULL */
};

static int page_add(const struct device *d, void *arg)
{
	struct page *p = arg;
	json_t *obj;

	if (p->n == p->limit) {
		p->more = true;
		return 1;
	}
	obj = inventory_device_json(p->site, d);
	if (!obj || json_array_append_new(p->items, obj) < 0)
		return -ENOMEM;
	str_copy(p->last, MAC_LEN + 1, d->mac);
	if (p->key && p->last_key)
		*p->last_key = *p->key;
	p->n++;
	return 0;
}

int inventory_device_page(struct site *s, const struct device_filter *f, const char *after,
			  size_t limit, json_t *items, char last[MAC_LEN + 1], bool *more,
			  struct device_sort_key *last_key)
{
	struct device_sort_key key = { 0 };
	struct device_filter sorted = *f;
	struct page p = { .site = s,
			  .items = items,
			  .limit = limit,
			  .last = last,
			  .key = &key,
			  .last_key = last_key };
	char from[MAC_LEN + 1];
	int e;

	sorted.key = &key;
	f = &sorted;
	str_copy(from, sizeof(from), after); /* after may be last */
	last[0] = '\0';
	/* one more than the page: whether there is a next one */
	e = store_device_page(site_store(s), f, from, limit + 1, page_add, &p);
	*more = p.more;
	return e < 0 ? e : 0;
}

static bool expected(const struct inventory_expect *x, uint64_t rev)
{
	if (!x)
		return true;
	if (x->absent && rev)
		return false;
	if (!x->given)
		return true;
	if (!rev)
		return false;
	if (x->any)
		return true;
	for (size_t i = 0; i < x->nrevs; i++)
		if (x->revs[i] == rev)
			return true;
	return false;
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

/* The whole device a patch makes of old (the revision is the server's: never patched). */
static int patched(const struct device *old, json_t *patch, struct device **ret, char *err,
		   size_t errsize)
{
	json_t *doc = store_device_json(old), *p = json_deep_copy(patch);
	int e = -ENOMEM;

	if (!doc || !p) {
		json_decref(doc);
		json_decref(p);
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	json_object_del(doc, "rev");
	json_object_del(p, "rev");
	doc = merge_patch(doc, p);
	if (doc)
		e = store_device_from_json(doc, old->mac, ret, err, errsize);
	else
		snprintf(err, errsize, "out of memory");
	json_decref(doc);
	json_decref(p);
	return e;
}

int inventory_device_write(struct site *s, enum inventory_write how, const char *mac, json_t *body,
			   const struct inventory_expect *x, json_t **ret, uint64_t *rev,
			   bool *created, char *err, size_t errsize)
{
	struct store *st = site_store(s);
	struct device *old = NULL, *d = NULL;
	char key[MAC_LEN + 1];
	int e;

	*ret = NULL;
	*rev = 0;
	err[0] = '\0';
	if (how == INVENTORY_PATCH && !json_is_object(body)) {
		snprintf(err, errsize, "a merge patch of a device is a JSON object");
		return -EINVAL;
	}
	if (how != INVENTORY_PATCH) {
		e = store_device_from_json(body, mac, &d, err, errsize);
		if (e < 0)
			return e;
		mac = d->mac;
	}
	str_copy(key, sizeof(key), mac);
	e = store_begin(st, true);
	if (e < 0)
		goto out;
	if (how != INVENTORY_CREATE) {
		e = store_device_get(st, key, &old);
		if (e < 0 && e != -ENOENT)
			goto rollback;
		if (!expected(x, old ? old->rev : 0)) {
			*rev = old ? old->rev : 0;
			e = -ESTALE;
			goto rollback;
		}
		if (how == INVENTORY_PATCH) {
			if (!old) /* e is -ENOENT */
				goto rollback;
			e = patched(old, body, &d, err, errsize);
			if (e < 0)
				goto rollback;
		}
	}
	e = store_device_put(st, d, old != NULL, err, errsize);
	/* a group that does not exist is the body's fault, not a missing resource */
	if (e == -ENOENT)
		e = -EINVAL;
	if (e < 0)
		goto rollback;
	e = store_commit(st);
	if (e < 0)
		goto out;
	if (created)
		*created = old == NULL;
	e = inventory_device_get(s, key, ret, rev);
	goto out;
rollback:
	store_rollback(st);
out:
	device_free(old);
	device_free(d);
	return e;
}

int inventory_device_remove(struct site *s, const char *mac, const struct inventory_expect *x,
			    uint64_t *rev)
{
	struct store *st = site_store(s);
	struct device *old = NULL;
	int e = store_begin(st, true);

	*rev = 0;
	if (e < 0)
		return e;
	e = store_device_get(st, mac, &old);
	if (e < 0 && e != -ENOENT)
		goto rollback;
	if (!expected(x, old ? old->rev : 0)) {
		*rev = old ? old->rev : 0;
		e = -ESTALE;
		goto rollback;
	}
	if (!old) /* e is -ENOENT */
		goto rollback;
	e = store_device_remove(st, mac);
	if (e < 0)
		goto rollback;
	device_free(old);
	return store_commit(st);
rollback:
	device_free(old);
	store_rollback(st);
	return e;
}

int inventory_import_csv(struct site *s, FILE *in, bool replace, char *err, size_t errsize)
{
	return store_import_csv(site_store(s), in, replace, err, errsize);
}

int inventory_import_json(struct site *s, json_t *devices, bool replace, char *err, size_t errsize)
{
	return store_import_json(site_store(s), devices, replace, err, errsize);
}

/* ---- groups and defaults ---- */

static json_t *group_json(const char *name, json_t *vars, uint64_t devices)
{
	return json_pack("{s:s, s:I, s:O}", "name", name, "devices", (json_int_t)devices, "vars",
			 vars);
}

struct group_list {
	struct store *st;
	json_t *items;
};

static int group_one(const char *name, json_t *vars, void *arg)
{
	struct group_list *gl = arg;
	uint64_t n = 0;
	json_t *obj;
	int e = store_group_count_devices(gl->st, name, &n);

	if (e < 0)
		return e;
	obj = group_json(name, vars, n);
	if (!obj || json_array_append_new(gl->items, obj) < 0)
		return -ENOMEM;
	return 0;
}

int inventory_groups(struct site *s, json_t **ret)
{
	struct group_list gl = { .st = site_store(s), .items = json_array() };
	int e;

	*ret = NULL;
	if (!gl.items)
		return -ENOMEM;
	/* one snapshot: the counts are those of the groups listed */
	e = store_begin(gl.st, false);
	if (e == 0) {
		e = store_group_foreach(gl.st, group_one, &gl);
		store_rollback(gl.st);
	}
	if (e < 0) {
		json_decref(gl.items);
		return e;
	}
	*ret = gl.items;
	return 0;
}

/* The group as {"name", "devices", "vars"}, in the caller's transaction. */
static int group_read(struct store *st, const char *name, json_t **ret)
{
	json_t *vars = NULL;
	uint64_t n = 0;
	int e = store_group_get(st, name, &vars);

	if (e == 0)
		e = store_group_count_devices(st, name, &n);
	if (e == 0) {
		*ret = group_json(name, vars, n);
		e = *ret ? 0 : -ENOMEM;
	}
	json_decref(vars);
	return e;
}

int inventory_group_get(struct site *s, const char *name, json_t **ret)
{
	struct store *st = site_store(s);
	int e = store_begin(st, false);

	*ret = NULL;
	if (e == 0) {
		e = group_read(st, name, ret);
		store_rollback(st);
	}
	return e;
}

int inventory_group_put(struct site *s, const char *name, json_t *vars, json_t **ret, bool *created)
{
	struct store *st = site_store(s);
	json_t *old = NULL;
	int e = store_begin(st, true);

	*ret = NULL;
	if (e < 0)
		return e;
	e = store_group_get(st, name, &old);
	json_decref(old);
	*created = e == -ENOENT;
	if (e == 0 || e == -ENOENT)
		e = store_group_set(st, name, vars);
	if (e == 0)
		e = group_read(st, name, ret);
	if (e < 0) {
		store_rollback(st);
		return e;
	}
	e = store_commit(st);
	if (e < 0) {
		json_decref(*ret);
		*ret = NULL;
	}
	return e;
}

int inventory_group_remove(struct site *s, const char *name)
{
	return store_group_remove(site_store(s), name);
}

int inventory_defaults_get(struct site *s, json_t **vars)
{
	return store_defaults_get(site_store(s), vars);
}

int inventory_defaults_put(struct site *s, json_t *vars)
{
	return store_defaults_set(site_store(s), vars);
}

/* ---- the journal ---- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *inventory_journal_json(const struct journal_entry *e)
{
	time_t t = (time_t)e->time.tv_sec;
	char day[32], when[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when, sizeof(when), "%s.%03ldZ", day, e->time.tv_nsec / 1000000);
	return json_pack("{s:I, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o}", "id",
			 (json_int_t)e->id, "time", when, "time_us",
			 (json_int_t)e->time.tv_sec * 1000000 + e->time.tv_nsec / 1000, "proto",
			 str_or_null(e->proto), "peer", str_or_null(e->peer), "mac",
			 str_or_null(e->mac), "path", str_or_null(e->path), "outcome",
			 str_or_null(e->outcome), "bytes", (json_int_t)e->bytes, "md5",
			 str_or_null(e->md5), "user_agent", str_or_null(e->user_agent), "node",
			 str_or_null(e->node), "detail", str_or_null(e->detail));
}

struct journal_page {
	json_t *items;
	size_t limit, n;
	int64_t *last;
	bool more;
};

static int journal_add(void *arg, const struct journal_entry *e)
{
	struct journal_page *p = arg;
	json_t *obj;

	if (p->n == p->limit) {
		p->more = true;
		return 1;
	}
	obj = inventory_journal_json(e);
	if (!obj || json_array_append_new(p->items, obj) < 0)
		return -ENOMEM;
	*p->last = e->id;
	p->n++;
	return 0;
}

int inventory_journal_page(struct site *s, const struct journal_filter *f, int64_t after,
			   size_t limit, json_t *items, int64_t *last, bool *more)
{
	struct journal_page p = { .items = items, .limit = limit, .last = last };
	int e;

	*last = after;
	e = store_journal_page(site_store(s), f, after, limit + 1, journal_add, &p);
	*more = p.more;
	return e < 0 ? e : 0;
}

/* ---- counts, state, tokens ---- */

int inventory_device_count(struct site *s, uint64_t *ret)
{
	return store_device_count(site_store(s), ret);
}

int inventory_schema(struct site *s, int *ret)
{
	return store_schema_version(site_store(s), ret);
}

const char *inventory_store_kind(struct site *s)
{
	return store_is_pg(site_store(s)) ? "postgresql" : "sqlite";
}

const char *inventory_store_path(struct site *s)
{
	/* SQLite: the site's file, named as the site sees it; PostgreSQL: the URI, no password */
	return store_is_pg(site_store(s)) ? store_name(site_store(s)) : "autoprov.db";
}

int inventory_state_counts(struct site *s, uint64_t *counts, int64_t since, uint64_t *seen)
{
	int e = store_device_state_count(site_store(s), counts);

	if (e == 0 && since >= 0)
		e = store_device_state_seen_since(site_store(s), since, seen);
	return e;
}

int inventory_seen_since(struct site *s, int64_t since, uint64_t *ret)
{
	return store_device_state_seen_since(site_store(s), since, ret);
}

int inventory_token_check(struct site *s, const char *secret, int64_t now, struct token_info *ret)
{
	return store_token_check(site_store(s), secret, now, ret);
}
