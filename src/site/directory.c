// SPDX-License-Identifier: MIT
/*
 * The device directory (see directory.h).
 *
 * One hash table of entries by MAC, each either a device or "not in the inventory", on
 * two LRU lists with their own bounds: a flood of unknown MACs only ever evicts unknown
 * MACs. Groups are a JSON object name -> vars (null for a group that does not exist), the
 * defaults one object; both loaded when first asked for. directory_sync() reads the change
 * log after the last seq applied: a device change drops that device's entry, a group
 * change drops the group and tells the listener about the cached devices in it, a defaults
 * change drops the defaults and tells the listener everything changed. Nothing is re-read
 * until it is asked for again.
 */
#include "site/directory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/str.h"
#include "site/outage.h"
#include "store/store.h"

#define TAG "directory"

/* Groups cached at most; beyond, the cache is emptied (sites have tens of groups). */
#define MAX_GROUPS 4096
/* Bindings queued and not yet seen in the device's row, at most (the writer's bound). */
#define MAX_PENDING 1024

struct pending_bind {
	char mac[MAC_LEN + 1];
	char fingerprint[72];
	int64_t until; /* monotonic seconds */
};

struct dir_entry {
	char mac[MAC_LEN + 1];
	struct device *device; /* NULL: the inventory has no such device */
	struct dir_entry *hnext;
	struct dir_entry *prev, *next; /* on its LRU list, most recent first */
};

struct lru {
	struct dir_entry *head, *tail;
	size_t n, max;
};

struct directory {
	struct store *store;
	struct outage *outage; /* NULL: failures are only returned */
	struct outage_backoff backoff;
	bool lost; /* the last failure lost the connection: connect again before asking */
	struct dir_entry **buckets;
	size_t nbuckets;
	struct lru devices, unknown;
	json_t *groups;	  /* name -> vars or null */
	json_t *defaults; /* NULL until loaded */
	uint64_t seq;	  /* the last change applied */
	uint64_t rev;	  /* the inventory revision read before the last sync (0: none yet) */

	void (*dropped)(void *arg, const char *mac);
	void *dropped_arg;

	void (*kick)(void *arg);
	void *kick_arg;
	unsigned long iter, synced;
	/* directory_set_watched: the change log is read only once told of changes */
	bool watched, changed;

	int (*bind)(void *arg, const char *mac, const char *fingerprint);
	void *bind_arg;
	struct pending_bind *pending; /* MAX_PENDING, the first npending used */
	size_t npending;
};

static void lru_unlink(struct lru *l, struct dir_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
	l->n--;
}

static void lru_push(struct lru *l, struct dir_entry *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (!l->tail)
		l->tail = e;
	l->n++;
}

static struct dir_entry **slot_of(struct directory *dir, const char *mac)
{
	struct dir_entry **p = &dir->buckets[hash_str(mac) & (dir->nbuckets - 1)];

	for (; *p; p = &(*p)->hnext)
		if (strcmp((*p)->mac, mac) == 0)
			break;
	return p;
}

static void notify(struct directory *dir, const char *mac)
{
	if (dir->dropped)
		dir->dropped(dir->dropped_arg, mac);
}

/* Removes the entry at slot; a device's listener is told. */
static void entry_remove(struct directory *dir, struct dir_entry **slot)
{
	struct dir_entry *e = *slot;

	*slot = e->hnext;
	lru_unlink(e->device ? &dir->devices : &dir->unknown, e);
	if (e->device)
		notify(dir, e->mac);
	device_free(e->device);
	free(e);
}

static void entries_clear(struct directory *dir)
{
	for (size_t i = 0; i < dir->nbuckets; i++)
		while (dir->buckets[i])
			entry_remove(dir, &dir->buckets[i]);
}

/* Forgets everything cached; the listener is told once. */
static void forget_all(struct directory *dir)
{
	void (*dropped)(void *, const char *) = dir->dropped;

	dir->dropped = NULL;
	entries_clear(dir);
	dir->dropped = dropped;
	json_object_clear(dir->groups);
	json_decref(dir->defaults);
	dir->defaults = NULL;
	notify(dir, NULL);
}

static int buckets_make(struct directory *dir, size_t cache_size)
{
	size_t n = 64;

	while (n < cache_size * 2 && n < ((size_t)1 << 26))
		n <<= 1;
	dir->buckets = calloc(n, sizeof(*dir->buckets));
	if (!dir->buckets)
		return -ENOMEM;
	dir->nbuckets = n;
	dir->devices.max = cache_size ? cache_size : 1;
	dir->unknown.max = cache_size ? cache_size : 1;
	return 0;
}

int directory_new(struct store *st, size_t cache_size, struct directory **ret)
{
	struct directory *dir = calloc(1, sizeof(*dir));
	int r = -ENOMEM;

	if (!dir)
		return -ENOMEM;
	dir->store = st;
	dir->groups = json_object();
	if (!dir->groups || buckets_make(dir, cache_size) < 0)
		goto fail;
	/* read before anything is loaded: a change made meanwhile is applied later */
	r = store_changes_last(st, &dir->seq);
	if (r < 0)
		goto fail;
	*ret = dir;
	return 0;
fail:
	directory_free(dir);
	return r;
}

void directory_free(struct directory *dir)
{
	if (!dir)
		return;
	dir->dropped = NULL;
	if (dir->buckets)
		entries_clear(dir);
	free(dir->buckets);
	json_decref(dir->groups);
	json_decref(dir->defaults);
	free(dir->pending);
	free(dir);
}

void directory_set_cache_size(struct directory *dir, size_t cache_size)
{
	struct dir_entry **old = dir->buckets;
	size_t nold = dir->nbuckets;

	if (cache_size == dir->devices.max)
		return;
	forget_all(dir);
	if (buckets_make(dir, cache_size) < 0) {
		/* keep the old table, and the old bound */
		dir->buckets = old;
		dir->nbuckets = nold;
		return;
	}
	free(old);
}

void directory_set_listener(struct directory *dir, void (*dropped)(void *arg, const char *mac),
			    void *arg)
{
	dir->dropped = dropped;
	dir->dropped_arg = arg;
}

void directory_set_tick(struct directory *dir, void (*kick)(void *arg), void *arg)
{
	dir->kick = kick;
	dir->kick_arg = arg;
	dir->iter = 1;
}

void directory_tick(struct directory *dir)
{
	dir->iter++;
}

void directory_set_watched(struct directory *dir, bool on)
{
	dir->watched = on;
	dir->changed = true;
}

void directory_changed(struct directory *dir)
{
	dir->changed = true;
}

/* ---- the change log ---- */

/*
 * A change of mac's row: a binding waiting for its write is forgotten once the row has a
 * binding (ours written, or another made first).
 */
static void pending_settle(struct directory *dir, const char *mac)
{
	struct device *d = NULL;

	for (size_t i = 0; i < dir->npending; i++) {
		if (strcmp(dir->pending[i].mac, mac) != 0)
			continue;
		if (store_device_get(dir->store, mac, &d) != 0 ||
		    json_is_string(json_object_get(d->vars, DIRECTORY_CERT_VAR)))
			dir->pending[i] = dir->pending[--dir->npending];
		device_free(d);
		return;
	}
}

static int apply_change(void *arg, uint64_t seq, enum store_change kind, const char *key)
{
	struct directory *dir = arg;
	struct dir_entry **slot;

	switch (kind) {
	case STORE_CHANGE_DEVICE:
		if (dir->npending)
			pending_settle(dir, key);
		slot = slot_of(dir, key);
		if (*slot)
			entry_remove(dir, slot);
		else
			notify(dir, key); /* its files may be cached without it */
		break;
	case STORE_CHANGE_GROUP:
		json_object_del(dir->groups, key);
		for (struct dir_entry *e = dir->devices.head; e; e = e->next)
			if (strcmp(e->device->group, key) == 0)
				notify(dir, e->mac);
		break;
	case STORE_CHANGE_DEFAULTS:
		json_decref(dir->defaults);
		dir->defaults = NULL;
		notify(dir, NULL);
		break;
	}
	dir->seq = seq;
	return 0;
}

void directory_set_outage(struct directory *dir, struct outage *o)
{
	dir->outage = o;
}

bool directory_down(const struct directory *dir)
{
	return dir->outage && outage_down(dir->outage, OUTAGE_READS);
}

static bool down(const struct directory *dir)
{
	return directory_down(dir);
}

int directory_failed(struct directory *dir, int r)
{
	if (!outage_is_store_failure(r))
		return r;
	dir->lost |= r == -ENOTCONN;
	if (dir->outage)
		outage_fail(dir->outage, OUTAGE_READS, store_strerror(dir->store), &dir->backoff);
	return DIRECTORY_UNAVAILABLE;
}

/* directory_sync() now. */
static int sync_now(struct directory *dir)
{
	uint64_t last, rev;
	int r;

	if (dir->lost) {
		/* a PostgreSQL connection that broke is made again, at the backoff's pace */
		r = store_reconnect(dir->store);
		if (r < 0)
			goto failed;
		dir->lost = false;
	}
	/*
	 * Read before the changes: what is served after this sync is made from this revision
	 * or a later one (the devices' state compares it, store/state.c). Every change to the
	 * inventory raises it in its own transaction (the triggers of both backends): the
	 * revision of the last sync that read the change log means nothing new to read (one
	 * statement per loop iteration, not two). In an outage the log is read all the same:
	 * reading it is what says the store answers again.
	 */
	r = store_inventory_revision(dir->store, &rev);
	if (r < 0)
		goto failed;
	if (rev != dir->rev || rev == 0 || down(dir)) {
		r = store_changes_since(dir->store, dir->seq, apply_change, dir);
		if (r == -ESTALE) {
			/* too far behind (or back from a long outage): start again, nothing cached
			 */
			r = store_changes_last(dir->store, &last);
			if (r < 0)
				goto failed;
			log_debug(TAG, "change log pruned past %llu: forgetting what is cached",
				  (unsigned long long)dir->seq);
			forget_all(dir);
			dir->seq = last;
		} else if (r < 0) {
			goto failed;
		}
		dir->rev = rev;
	}
	if (dir->outage)
		outage_ok(dir->outage, OUTAGE_READS, &dir->backoff);
	return 0;
failed:
	r = directory_failed(dir, r);
	/* in an outage what is cached is served: nothing is known to have changed */
	return dir->outage && r == DIRECTORY_UNAVAILABLE ? 0 : r;
}

int directory_sync(struct directory *dir)
{
	int r;

	if (dir->watched && !dir->changed)
		return 0; /* a remote database: no round trip until told of a change */
	if (dir->kick) {
		if (dir->synced == dir->iter)
			return 0;
		dir->synced = dir->iter;
		dir->kick(dir->kick_arg);
	}
	if (down(dir) && !outage_due(&dir->backoff))
		return 0;
	/* a change announced while the log is read is read on the next sync */
	dir->changed = false;
	r = sync_now(dir);
	if (down(dir))
		dir->changed = true; /* read it all once the store answers */
	return r;
}

void directory_retry(struct directory *dir)
{
	if (down(dir) && outage_due(&dir->backoff))
		(void)sync_now(dir);
}

uint64_t directory_revision(const struct directory *dir)
{
	return dir->rev;
}

/* ---- devices ---- */

int directory_device(struct directory *dir, const char *mac, const struct device **ret)
{
	struct dir_entry **slot, *e;
	struct device *d = NULL;
	struct lru *l;
	int r;

	r = directory_sync(dir);
	if (r < 0)
		return r;
	slot = slot_of(dir, mac);
	e = *slot;
	if (e) {
		l = e->device ? &dir->devices : &dir->unknown;
		lru_unlink(l, e);
		lru_push(l, e);
		if (!e->device)
			return -ENOENT;
		*ret = e->device;
		return 0;
	}
	if (down(dir))
		return DIRECTORY_UNAVAILABLE; /* not asked again before the backoff says so */
	r = store_device_get(dir->store, mac, &d);
	if (r < 0 && r != -ENOENT)
		return directory_failed(dir, r);
	e = calloc(1, sizeof(*e));
	if (!e) {
		device_free(d);
		return -ENOMEM;
	}
	str_copy(e->mac, sizeof(e->mac), mac);
	e->device = d;
	l = d ? &dir->devices : &dir->unknown;
	if (l->n >= l->max)
		entry_remove(dir, slot_of(dir, l->tail->mac));
	slot = slot_of(dir, mac); /* the removal may have changed the chain */
	e->hnext = *slot;
	*slot = e;
	lru_push(l, e);
	if (!d)
		return -ENOENT;
	*ret = d;
	return 0;
}

int directory_known(struct directory *dir, const char *mac)
{
	const struct device *d;
	int r = directory_device(dir, mac, &d);

	return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

/* ---- groups and defaults ---- */

static int defaults_of(struct directory *dir, json_t **ret)
{
	int r;

	if (!dir->defaults) {
		if (down(dir))
			return DIRECTORY_UNAVAILABLE;
		r = store_defaults_get(dir->store, &dir->defaults);
		if (r == -ENOENT)
			dir->defaults = json_object();
		else if (r < 0)
			return directory_failed(dir, r);
		if (!dir->defaults)
			return -ENOMEM;
	}
	*ret = dir->defaults;
	return 0;
}

/* The group's variables (borrowed), NULL for a group that does not exist. */
static int group_of(struct directory *dir, const char *name, json_t **ret)
{
	json_t *vars = json_object_get(dir->groups, name);
	int r;

	if (!vars) {
		if (down(dir))
			return DIRECTORY_UNAVAILABLE;
		r = store_group_get(dir->store, name, &vars);
		if (r == -ENOENT)
			vars = json_null();
		else if (r < 0)
			return directory_failed(dir, r);
		if (json_object_size(dir->groups) >= MAX_GROUPS)
			json_object_clear(dir->groups);
		if (json_object_set_new(dir->groups, name, vars) < 0)
			return -ENOMEM;
	}
	*ret = json_is_object(vars) ? vars : NULL;
	return 0;
}

/* Where each variable of a context comes from (directory_explain), or NULL. */
struct origins {
	json_t *of; /* name -> "built-in", "defaults", "group NAME", "device" */
	const char *now;
};

static int note_origin(struct origins *o, const char *key)
{
	if (!o || !o->of)
		return 0;
	return json_object_set_new(o->of, key, json_string(o->now)) < 0 ? -ENOMEM : 0;
}

static int set_str(json_t *ctx, struct origins *o, const char *key, const char *value)
{
	if (json_object_set_new(ctx, key, json_string(value)) < 0)
		return -ENOMEM;
	return note_origin(o, key);
}

/* Each variable of vars over what ctx has (variable names hold no dots: store.h). */
static int merge_vars(json_t *ctx, struct origins *o, json_t *vars)
{
	const char *key;
	json_t *value;

	if (!vars)
		return 0;
	if (!o)
		return json_object_update(ctx, vars) < 0 ? -ENOMEM : 0;
	json_object_foreach(vars, key, value)
	{
		if (json_object_set(ctx, key, value) < 0 || note_origin(o, key) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int merge(struct directory *dir, const struct device *d, const char *mac, json_t *ctx,
		 json_t *origins)
{
	struct origins ob = { .of = origins, .now = "built-in" }, *o = origins ? &ob : NULL;
	json_t *defaults = NULL, *group = NULL;
	char group_origin[96];
	int r = 0;

	if (d)
		mac = d->mac;
	if (mac && mac[0]) {
		char mau[MAC_LEN + 1], colons[MAC_LEN + 6];

		mac_upper(mac, mau);
		mac_colons(mac, colons);
		r |= set_str(ctx, o, "mac", mac);
		r |= set_str(ctx, o, "MA", mac);
		r |= set_str(ctx, o, "MAU", mau);
		r |= set_str(ctx, o, "MAC", colons);
	}
	if (d) {
		if (d->model[0])
			r |= set_str(ctx, o, "model", d->model);
		if (d->profile[0])
			r |= set_str(ctx, o, "profile", d->profile);
		if (d->group[0])
			r |= set_str(ctx, o, "group", d->group);
	}
	if (r < 0)
		return -ENOMEM;
	/* the store is not read with a device in hand: d stays valid (see directory.h) */
	r = defaults_of(dir, &defaults);
	if (r == 0 && d && d->group[0])
		r = group_of(dir, d->group, &group);
	if (r < 0)
		return r;
	ob.now = "defaults";
	if (merge_vars(ctx, o, defaults) < 0)
		return -ENOMEM;
	snprintf(group_origin, sizeof(group_origin), "group %s", d ? d->group : "");
	ob.now = group_origin;
	if (merge_vars(ctx, o, group) < 0)
		return -ENOMEM;
	ob.now = "device";
	if (d && merge_vars(ctx, o, d->vars) < 0)
		return -ENOMEM;
	/* serial: the device's own variable, as SN in the seeds' macro names */
	ob.now = "alias of serial";
	if (d && json_object_get(ctx, "serial") && !json_object_get(ctx, "SN") &&
	    (json_object_set(ctx, "SN", json_object_get(ctx, "serial")) < 0 ||
	     note_origin(o, "SN") < 0))
		return -ENOMEM;
	return 0;
}

int directory_merge(struct directory *dir, const struct device *d, const char *mac, json_t *ctx)
{
	return merge(dir, d, mac, ctx, NULL);
}

int directory_explain(struct directory *dir, const struct device *d, json_t *ctx,
		      json_t *origins)
{
	return merge(dir, d, NULL, ctx, origins);
}

json_t *directory_var(struct directory *dir, const struct device *d, const char *name)
{
	json_t *v = json_object_get(d->vars, name), *vars = NULL;

	if (v)
		return v;
	if (d->group[0] && group_of(dir, d->group, &vars) == 0 && (v = json_object_get(vars, name)))
		return v;
	if (defaults_of(dir, &vars) == 0)
		return json_object_get(vars, name);
	return NULL;
}

int directory_enabled(struct directory *dir, const char *mac)
{
	const struct device *d;
	int r = directory_device(dir, mac, &d);

	return r < 0 ? r : d->enabled ? 1 : 0;
}

int directory_model(struct directory *dir, const char *mac, char *buf, size_t size)
{
	const struct device *d;
	int r = directory_device(dir, mac, &d);

	if (r < 0)
		return r;
	str_copy(buf, size, d->model);
	return 0;
}

int directory_merge_mac(struct directory *dir, const char *mac, json_t *ctx)
{
	const struct device *d = NULL;
	int r = mac && mac[0] ? directory_device(dir, mac, &d) : -ENOENT;

	if (r < 0 && r != -ENOENT)
		return r;
	return directory_merge(dir, r == 0 ? d : NULL, mac, ctx);
}

json_t *directory_var_of(struct directory *dir, const char *mac, const char *name)
{
	const struct device *d;

	if (directory_device(dir, mac, &d) < 0)
		return NULL;
	return directory_var(dir, d, name);
}

/* ---- credentials ---- */

int directory_login(struct directory *dir, const char *mac, char *password, size_t size)
{
	const struct device *d;
	json_t *pw;
	int r = directory_device(dir, mac, &d);

	if (r == DIRECTORY_UNAVAILABLE)
		return r; /* not "no such login": the store could not be asked */
	if (r < 0)
		return -ENOENT;
	pw = json_object_get(d->vars, DIRECTORY_PASSWORD_VAR);
	if (!d->enabled || !json_is_string(pw) || json_string_length(pw) == 0 ||
	    json_string_length(pw) >= size)
		return -ENOENT;
	str_copy(password, size, json_string_value(pw));
	return 0;
}

void directory_set_binder(struct directory *dir,
			  int (*bind)(void *arg, const char *mac, const char *fingerprint), void *arg)
{
	dir->bind = bind;
	dir->bind_arg = arg;
}

static int64_t mono_s(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec;
}

/* The binding of mac waiting for its write, or NULL; expired ones are forgotten. */
static const char *pending_of(struct directory *dir, const char *mac)
{
	int64_t now = mono_s();
	const char *found = NULL;
	size_t i = 0;

	while (i < dir->npending) {
		struct pending_bind *p = &dir->pending[i];

		if (p->until <= now) {
			*p = dir->pending[--dir->npending];
			continue;
		}
		if (strcmp(p->mac, mac) == 0)
			found = p->fingerprint;
		i++;
	}
	return found;
}

int directory_cert(struct directory *dir, const char *mac, const char **ret_fingerprint)
{
	const struct device *d;
	json_t *fp;
	int r = directory_device(dir, mac, &d);

	if (r < 0)
		return r;
	fp = json_object_get(d->vars, DIRECTORY_CERT_VAR);
	/* the row's binding first: one made elsewhere before ours was written wins */
	*ret_fingerprint = json_is_string(fp)	  ? json_string_value(fp)
			   : dir->npending ? pending_of(dir, mac)
					   : NULL;
	return 0;
}

int directory_bind_cert(struct directory *dir, const char *mac, const char *fingerprint,
			char *err, size_t errsz)
{
	struct pending_bind *p;
	struct dir_entry **slot;
	int r;

	if (!dir->bind) {
		r = store_device_set_var_once(dir->store, mac, DIRECTORY_CERT_VAR, fingerprint, err,
					      errsz);
		/* read again when next asked for (the change log says so too, later) */
		slot = slot_of(dir, mac);
		if (*slot)
			entry_remove(dir, slot);
		return r;
	}
	if (pending_of(dir, mac)) {
		snprintf(err, errsz, "another certificate's binding is being recorded");
		return -EEXIST;
	}
	if (!dir->pending) {
		dir->pending = calloc(MAX_PENDING, sizeof(*dir->pending));
		if (!dir->pending) {
			snprintf(err, errsz, "out of memory");
			return -ENOMEM;
		}
	}
	p = &dir->pending[dir->npending];
	if (dir->npending == MAX_PENDING || str_copy(p->mac, sizeof(p->mac), mac) < 0 ||
	    str_copy(p->fingerprint, sizeof(p->fingerprint), fingerprint) < 0) {
		snprintf(err, errsz, "too many bindings are waiting to be written");
		return -EAGAIN;
	}
	r = dir->bind(dir->bind_arg, mac, fingerprint);
	if (r < 0) {
		snprintf(err, errsz, "too many bindings are waiting to be written");
		return r;
	}
	p->until = mono_s() + DIRECTORY_BIND_PENDING_S;
	dir->npending++;
	return 0;
}

void directory_stats(const struct directory *dir, size_t *ret_devices, size_t *ret_unknown,
		     uint64_t *ret_seq)
{
	if (ret_devices)
		*ret_devices = dir->devices.n;
	if (ret_unknown)
		*ret_unknown = dir->unknown.n;
	if (ret_seq)
		*ret_seq = dir->seq;
}
