// SPDX-License-Identifier: MIT
/*
 * The inventory as the operator's surfaces read and change it (the admin API, the
 * dashboard): devices with their state, groups, defaults, imports, journal pages, counts
 * and tokens, each write in one transaction of the site's store with its checks. Callers
 * above site/ (admin/) go through here and never call the store: the store's backend, its
 * transactions and its JSON shapes stay behind this one door.
 *
 * Errors are negative errno values; inventory_strerror() says why in words:
 *   -ENOENT  no such device or group        -EINVAL  the body is wrong (err says how)
 *   -EEXIST  the device exists (a create)   -ESTALE  an expectation (struct
 *   -EBUSY   the store is locked or busy             inventory_expect) did not hold
 *   -ENOMEM  out of memory                  other    the store failed (I/O, full, ...)
 * Everything here runs on the caller's thread with the site's own store connection.
 */
#ifndef AUTOPROV_SITE_INVENTORY_H
#define AUTOPROV_SITE_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/mac.h"
#include "store/store.h" /* the data types only: device_filter, journal_*, token_info */

struct site;

/* What went wrong in the last failed call, in words. */
const char *inventory_strerror(struct site *s);

/* ---- devices ---- */

/*
 * What a write expects of the device's current revision (its ETag): `given` with revs[] and
 * `any` as an If-Match (any: the device must exist; revs: its revision is one of them), and
 * `absent` as If-None-Match: * (the device must not exist). A failed expectation is -ESTALE
 * with the device's revision (0: it does not exist) in *rev.
 */
#define INVENTORY_EXPECT_MAX 8
struct inventory_expect {
	bool given, any, absent;
	uint64_t revs[INVENTORY_EXPECT_MAX];
	size_t nrevs;
};

/* A device as the API shows it, its state included. NULL when out of memory. */
json_t *inventory_device_json(struct site *s, const struct device *d);

/* One device (a new reference in *ret) and its revision. */
int inventory_device_get(struct site *s, const char *mac, json_t **ret, uint64_t *rev);

/*
 * A page of the devices matching f, after the MAC `after` ("" from the start): up to limit
 * devices appended to items; *more says whether more follow and last is the page's last MAC.
 */
int inventory_device_page(struct site *s, const struct device_filter *f, const char *after,
			  size_t limit, json_t *items, char last[MAC_LEN + 1], bool *more);

enum inventory_write {
	INVENTORY_CREATE, /* body is a whole device; -EEXIST when it exists */
	INVENTORY_PUT,	  /* body is a whole device, made or replaced */
	INVENTORY_PATCH,  /* body is a JSON merge patch (RFC 7396) of an existing device */
};

/*
 * Writes the device mac (NULL for a create: the body's) as `how` says, checking x (NULL:
 * nothing expected) and the body under one write lock. On success *ret is the device as
 * written (a new reference), *rev its revision, *created whether it is new; on -EINVAL err
 * says what is wrong with the body.
 */
int inventory_device_write(struct site *s, enum inventory_write how, const char *mac, json_t *body,
			   const struct inventory_expect *x, json_t **ret, uint64_t *rev,
			   bool *created, char *err, size_t errsize);

/* Removes the device mac, checking x (NULL: nothing expected); *rev as for a write. */
int inventory_device_remove(struct site *s, const char *mac, const struct inventory_expect *x,
			    uint64_t *rev);

/*
 * Bulk imports, all or nothing (CSV as `autoprov device import` reads; JSON an array of
 * devices): the number of devices written, or an error with "ROW: reason" in err.
 */
int inventory_import_csv(struct site *s, FILE *in, bool replace, char *err, size_t errsize);
int inventory_import_json(struct site *s, json_t *devices, bool replace, char *err, size_t errsize);

/* ---- groups and defaults ---- */

/* Every group as {"name", "devices", "vars"}, in one snapshot: *ret a new array. */
int inventory_groups(struct site *s, json_t **ret);
/* One group as {"name", "devices", "vars"} (a new reference). */
int inventory_group_get(struct site *s, const char *name, json_t **ret);
/* Sets a group's variables; *ret as for inventory_group_get, *created whether it is new. */
int inventory_group_put(struct site *s, const char *name, json_t *vars, json_t **ret,
			bool *created);
int inventory_group_remove(struct site *s, const char *name);
int inventory_defaults_get(struct site *s, json_t **vars);
int inventory_defaults_put(struct site *s, json_t *vars);

/* ---- the journal ---- */

/* A journal row as the API shows it. NULL when out of memory. */
json_t *inventory_journal_json(const struct journal_entry *e);

/*
 * A page of the journal rows matching f with ids after `after`: up to limit rows appended
 * to items; *last the last id appended (after when none), *more whether more follow.
 */
int inventory_journal_page(struct site *s, const struct journal_filter *f, int64_t after,
			   size_t limit, json_t *items, int64_t *last, bool *more);

/* ---- counts, state, tokens ---- */

/* The number of devices (an indexed read while the inventory does not change). */
int inventory_device_count(struct site *s, uint64_t *ret);
/* The store's schema version. */
int inventory_schema(struct site *s, int *ret);
/* The store's backend ("sqlite", "postgresql") and where it is (a URI without its password). */
const char *inventory_store_kind(struct site *s);
const char *inventory_store_path(struct site *s);
/* Devices by state (counts[_DEVICE_STATUS_MAX]); with since >= 0, *seen those seen since. */
int inventory_state_counts(struct site *s, uint64_t *counts, int64_t since, uint64_t *seen);
/* Devices of the inventory that made a request since `since` (seconds since the epoch). */
int inventory_seen_since(struct site *s, int64_t since, uint64_t *ret);
/* Checks a bearer token's secret at time now: 0 with *ret, -ENOENT, -EKEYEXPIRED, or else. */
int inventory_token_check(struct site *s, const char *secret, int64_t now, struct token_info *ret);

#endif
