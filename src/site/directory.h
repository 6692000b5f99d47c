// SPDX-License-Identifier: MIT
/*
 * The device directory: the one place that knows devices. Which device a MAC is, its
 * variables after precedence (device > group > defaults > built-ins, implemented here
 * once), its login password, its certificate binding, and recording a binding.
 *
 * Devices are read by indexed point look-ups and kept in a bounded LRU cache, with a
 * bounded cache of MACs the inventory does not hold (the enumeration defence asks about
 * unknown MACs at a peer's pace). Groups and the defaults are cached whole (they are few).
 * The caches are kept current from the store's change log (store_changes_since): the
 * changes after the last seq seen are applied, at most once per loop iteration, so the
 * cost follows the changes, never the inventory's size. Whoever caches what it made from
 * a device (the renderer) listens: it is told which device's data changed or left the
 * cache, or that everything did.
 *
 * Everything here runs on one thread (the store's connection is not shared).
 */
#ifndef AUTOPROV_SITE_DIRECTORY_H
#define AUTOPROV_SITE_DIRECTORY_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct directory;
struct device; /* store/store.h: for the site's own modules */
struct store;
struct outage;

/*
 * What every call below returns when the store could not be asked (it cannot be reached,
 * or failed): never -ENOENT, which says the inventory has no such thing. Requests that
 * need what the directory does not hold then get the protocol's "try later"
 * (OUTCOME_UNAVAILABLE).
 */
#define DIRECTORY_UNAVAILABLE (-ENOTCONN)

#define DIRECTORY_CACHE_DEFAULT 20000

/*
 * A directory over st (not owned; it outlives the directory) keeping at most cache_size
 * devices, and as many unknown MACs. 0 or -ENOMEM, or the store's error.
 */
int directory_new(struct store *st, size_t cache_size, struct directory **ret);
void directory_free(struct directory *dir); /* accepts NULL */
/* A new bound; what is cached is forgotten (the listener is told). */
void directory_set_cache_size(struct directory *dir, size_t cache_size);

/*
 * dropped(arg, mac) is called when what a device's files are made from may have changed
 * (its row, its group, the device left the cache); mac NULL: anything may have (the
 * defaults changed, the log was too far ahead).
 */
void directory_set_listener(struct directory *dir, void (*dropped)(void *arg, const char *mac),
			    void *arg);

/*
 * For a daemon: changes are applied at most once per loop iteration, on the first use in
 * the iteration; kick(arg) asks for directory_tick() when the iteration ends. Without it
 * (the command-line tools) every call applies the changes first.
 */
void directory_set_tick(struct directory *dir, void (*kick)(void *arg), void *arg);
void directory_tick(struct directory *dir);

/*

 * For a daemon on a database others write too, whose change log is a network round trip
 * away: with on, the log is read only after directory_changed() (a notification, a
 * reconnection, a slow poll: the caller's), at most once per loop iteration as above.
 */
void directory_set_watched(struct directory *dir, bool on);
void directory_changed(struct directory *dir);

/*
 * The site's outage state (site/outage.h; NULL: none, a failure is only returned). With
 * one, a store that fails puts the directory's reads in an outage: what is cached is
 * served as it is (the changes cannot be read, so nothing is known to have changed), what
 * is not is DIRECTORY_UNAVAILABLE at once, without asking the store, until the backoff lets
 * the directory ask again; the first sync that succeeds applies every change made meanwhile
 * (or forgets everything, when the log was pruned past it) before anything is served.
 */
void directory_set_outage(struct directory *dir, struct outage *o);
/*
 * r, a store's error on the directory's connection: when it is a failure of the store
 * (outage_is_store_failure) it is noted as for the directory's own reads (the renderer's
 * file versions share the connection), and DIRECTORY_UNAVAILABLE is returned; else r.
 */
int directory_failed(struct directory *dir, int r);
/*
 * Applies the changes recorded since the last call (if due). 0 or a negative errno; with
 * an outage state, a store that fails is 0 (what is cached stays served) and noted.
 */
int directory_sync(struct directory *dir);
/* Whether the directory's reads are in an outage now (the store is not asked). */
bool directory_down(const struct directory *dir);
/* In an outage, asks the store again when the backoff says so (a timer's, without requests). */
void directory_retry(struct directory *dir);
/*
 * The inventory revision read before the last sync: whatever the directory answers now is
 * made from it or a later one (0 before the first sync). The journal's rows carry it, for
 * the devices' state ("change pending").
 */
uint64_t directory_revision(const struct directory *dir);

/*
 * The device of canonical MAC mac (enabled or not): 0 with *ret, valid until the next call
 * into the directory; -ENOENT when the inventory has none; another negative errno when
 * the inventory cannot be read.
 */
int directory_device(struct directory *dir, const char *mac, const struct device **ret);
/* 1 when the inventory has the device (enabled or not), 0 when not, or a negative errno. */
int directory_known(struct directory *dir, const char *mac);

/*
 * Adds what the directory knows to a context the caller filled with the request's own
 * built-ins: with mac (canonical, or NULL) the MAC in the seeds' forms (mac, MA, MAU,
 * MAC); with d its model, profile and group; then the defaults' variables, the group's
 * and the device's, each over the one before; and SN as an alias of serial when the
 * result has serial and no SN. 0, -ENOMEM, or the store's error.
 */
int directory_merge(struct directory *dir, const struct device *d, const char *mac, json_t *ctx);

/*
 * directory_merge() of d into ctx, and into origins where each variable of ctx comes from:
 * "built-in", "defaults", "group NAME", "device" or "alias of serial" (for `device show`,
 * the doctor and the dashboard). 0, -ENOMEM, or the store's error.
 */
int directory_explain(struct directory *dir, const struct device *d, json_t *ctx,
		      json_t *origins);

/*
 * The variable name of d after precedence (device > group > defaults): borrowed, valid
 * until the next call into the directory; NULL when none has it.
 */
json_t *directory_var(struct directory *dir, const struct device *d, const char *name);

/*
 * The same by MAC, for protocols (they never see a struct device): directory_enabled()
 * 1 for an enabled device, 0 a disabled one, -ENOENT none, or the store's error;
 * directory_model() the device's model ("" for none) or -ENOENT; directory_merge_mac()
 * directory_merge() with the device of mac if there is one (mac only, else);
 * directory_var_of() directory_var() for the device of mac (NULL: none, or no device).
 */
int directory_enabled(struct directory *dir, const char *mac);
int directory_model(struct directory *dir, const char *mac, char *buf, size_t size);
int directory_merge_mac(struct directory *dir, const char *mac, json_t *ctx);
json_t *directory_var_of(struct directory *dir, const char *mac, const char *name);

/* The variable holding a device's own login password, and the one binding a certificate. */
#define DIRECTORY_PASSWORD_VAR "prov_password"
#define DIRECTORY_CERT_VAR     "prov_cert_sha256"

/*
 * The login password of the device of canonical MAC mac into password (size bytes): its
 * own variable prov_password (not its group's), a non-empty string shorter than size.
 * 0, -ENOENT (no such device, disabled, no password), or DIRECTORY_UNAVAILABLE.
 */
int directory_login(struct directory *dir, const char *mac, char *password, size_t size);

/*
 * The certificate fingerprint bound to the device (its own prov_cert_sha256): 0 with
 * *ret_fingerprint (borrowed as for directory_device, NULL when none is bound), -ENOENT
 * when there is no such device.
 */
int directory_cert(struct directory *dir, const char *mac, const char **ret_fingerprint);
/*
 * Records fingerprint as the device's binding, when it has none (first use). With a binder
 * (a daemon: the journal's writer) the write is queued and the binding holds at once for
 * directory_cert() while it waits (DIRECTORY_BIND_PENDING_S at most: a write refused by
 * the database leaves the device unbound); without one it is written now. 0, or a negative
 * errno with err set (-EAGAIN: too many bindings waiting).
 */
int directory_bind_cert(struct directory *dir, const char *mac, const char *fingerprint,
			char *err, size_t errsz);
/* bind(arg, mac, fingerprint) queues a binding's write: 0, or a negative errno. */
void directory_set_binder(struct directory *dir,
			  int (*bind)(void *arg, const char *mac, const char *fingerprint), void *arg);
#define DIRECTORY_BIND_PENDING_S 60

/* Devices cached, unknown MACs cached, and the last change applied (for tests and stats). */
void directory_stats(const struct directory *dir, size_t *ret_devices, size_t *ret_unknown,
		     uint64_t *ret_seq);

#endif
