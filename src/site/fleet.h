// SPDX-License-Identifier: MIT
/*
 * What the dashboard shows of the fleet (docs/admin.md, "Dashboard"), read through the
 * admin side's own site: the counts by state, unknown devices and firmware per model in
 * one pass of the inventory (store_fleet_counts), requests per minute from the serving
 * loop's counters (a ring of minutes kept by exchange_close: site/metrics.h, never the
 * journal), alerts, a device's variables with where each comes from (directory_explain),
 * the unknown devices with the vendor their OUI tells, and their approval into a group.
 */
#ifndef AUTOPROV_SITE_FLEET_H
#define AUTOPROV_SITE_FLEET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct site;
struct site_metrics;

/* [server] unknown_devices: what becomes of MACs the inventory does not hold. */
enum unknown_devices_mode {
	UNKNOWN_DEVICES_RECORD,	  /* listed (the default) */
	UNKNOWN_DEVICES_IGNORE,	  /* not listed */
	UNKNOWN_DEVICES_REGISTER, /* added to the group "pending", disabled, until approved */
};

/* The reason of the last failure of a call below (the store's). */
const char *fleet_strerror(struct site *site);

/* "ignore", "record", "register": 0, or -EINVAL. */
int unknown_devices_mode_parse(const char *s, enum unknown_devices_mode *ret);

/* The vendor the MAC's OUI tells ("Algo", "Flyingvoice"...), or "" (any form of MAC). */
const char *fleet_vendor_of(const char *mac);

/*
 * The fleet's overview at now (seconds since the epoch) as the dashboard's GET
 * /api/v1/fleet shows it: {"states", "unknown", "requests", "firmware", "alerts"};
 * serving: the loop's counters (NULL: no requests). 0 with *ret, or a negative errno
 * (the store's reason: store_strerror(site_store(site))).
 */
int fleet_overview(struct site *site, struct site_metrics *serving, int64_t now,
		   enum unknown_devices_mode mode, json_t **ret);
/* Only the states: {"never-seen": n, ...} (the "fleet" event of the live stream). */
int fleet_states(struct site *site, json_t **ret);
/* The requests per minute of the last hour from the serving loop's counters. */
json_t *fleet_requests(struct site_metrics *serving, int64_t now);

/*
 * The variables of the device of canonical MAC mac after precedence, each with its origin:
 * [{"name", "value", "origin": "device|group|defaults|builtin", "group"?}] in name order.
 * 0 with *ret, -ENOENT (no such device), or a negative errno.
 */
int fleet_variables(struct site *site, const char *mac, json_t **ret);

/*
 * A page of unknown devices (most recently seen first) after cursor (NULL: the first):
 * {"items": [...], "next": cursor|null}. -EINVAL for a cursor this did not give.
 */
int fleet_unknown_page(struct site *site, const char *cursor, size_t limit, json_t **ret);

/*
 * Adds each MAC of macs (strings, any form) to group, enabled, in one transaction: a new
 * device, or a pending one (group STORE_PENDING_GROUP) moved there. *ret_n the number
 * approved. -EINVAL (a bad MAC), -ENOENT (no such group), -EEXIST (a MAC of the inventory
 * in another group), or the store's error; err says which.
 */
int fleet_approve(struct site *site, const json_t *macs, const char *group, size_t *ret_n,
		  char *err, size_t errsz);

/*
 * For the live stream: the id of the journal's newest row (0: none) and the seq of the last
 * change of the inventory; then the rows after an id (at most limit, oldest first:
 * fn(arg, e) as store_journal_page) and the devices changed after a seq (fn(arg, mac) for
 * each change of a device; -ESTALE when changes after seq were pruned: start again from
 * fleet_changes_last).
 */
struct journal_entry;
int fleet_journal_last(struct site *site, int64_t *ret_id);
int fleet_journal_after(struct site *site, int64_t after_id, size_t limit,
			int (*fn)(void *arg, const struct journal_entry *e), void *arg);
int fleet_changes_last(struct site *site, uint64_t *ret_seq);
int fleet_devices_changed(struct site *site, uint64_t after_seq, uint64_t *ret_seq,
			  int (*fn)(void *arg, const char *mac), void *arg);

#endif
