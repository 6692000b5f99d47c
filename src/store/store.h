// SPDX-License-Identifier: MIT
/*
 * The site's database (DIR/autoprov.db, SQLite in WAL mode): the inventory of devices,
 * groups and site defaults; the journal of every request; the version counters of
 * rendered files. Created on first open, schema versioned with forward migrations.
 * Variables are JSON objects (jansson): CSV columns and `--var k=v` give strings.
 */
#ifndef AUTOPROV_STORE_STORE_H
#define AUTOPROV_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core/mac.h"

struct store;

/*
 * Opens (creating and migrating if needed) DIR/autoprov.db. err gets a reason.
 * A struct store is one SQLite connection: use it from one thread at a time. Several
 * processes (the daemon, the CLI) may have the file open and write concurrently: writers
 * wait up to STORE_BUSY_TIMEOUT_MS for each other, readers never wait (WAL).
 */
int store_open(const char *site_dir, struct store **ret, char *err, size_t errsz);
/*
 * Opens the store url names: a PostgreSQL connection URI (postgresql://... or
 * postgres://...: the password from the URI, ~/.pgpass or PGPASSWORD, never shown in a
 * message), an SQLite file, a site directory (its autoprov.db) or sqlite:PATH of either;
 * NULL or "": site_dir's autoprov.db, as store_open. A PostgreSQL database is given the
 * schema on first use, as an SQLite file is. err gets a reason, without the password.
 */
int store_open_url(const char *url, const char *site_dir, struct store **ret, char *err,
		   size_t errsz);
/* Another connection to the store st is connected to. */
int store_open_like(const struct store *st, struct store **ret, char *err, size_t errsz);
/* url with its password (in the authority or a password= parameter) as "***", into buf. */
const char *store_redact_url(const char *url, char *buf, size_t size);
/* Whether st is a PostgreSQL database. */
bool store_is_pg(const struct store *st);
/* Whether url names a PostgreSQL database. */
bool store_url_is_pg(const char *url);
/* What st is, for messages: the SQLite file, or the URI without its password. */
const char *store_name(const struct store *st);
void store_close(struct store *st); /* accepts NULL */

/*
 * A WAL database needs its -shm file grown to be read; on a full disk that fails ("disk
 * I/O error"), so store_open then opens it in the exclusive locking mode, which keeps the
 * index in memory: the daemon starts and serves, and other processes cannot open the
 * database meanwhile. store_exclusive says so; store_reconnect (outside any transaction)
 * opens it again, shared if it can now. store_probe_write makes a write that changes
 * nothing: 0 when the database takes writes, else the errno of the failure (-ENOSPC...).
 */
bool store_exclusive(const struct store *st);
int store_reconnect(struct store *st);
int store_probe_write(struct store *st);

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_SCHEMA_VERSION  10

/* The reason for the last failure on st (a message of ours or of SQLite). */
const char *store_strerror(struct store *st);

/*
 * SQLite's failures on a connection, counted for /metrics by kind: busy (another connection
 * held the database longer than the wait), full (no room on the disk), io (an I/O error, a
 * damaged or unreadable file), other. store_count_errors(): from now on each failure of st
 * adds one to counters[kind] (an array of _STORE_ERROR_MAX, incremented with relaxed
 * atomics: another thread may read them); NULL stops counting.
 */
enum store_error_kind {
	STORE_ERROR_BUSY,
	STORE_ERROR_FULL,
	STORE_ERROR_IO,
	STORE_ERROR_OTHER,
	_STORE_ERROR_MAX,
};
void store_count_errors(struct store *st, uint64_t *counters);
/* PRAGMA user_version of the open database (STORE_SCHEMA_VERSION once migrated). */
int store_schema_version(struct store *st, int *ret);

/*
 * Groups calls into one transaction. The outermost begin with write takes the write lock at
 * once (BEGIN IMMEDIATE), so a read-modify-write cannot fail half-way because another
 * process wrote in between; without write it is a read snapshot (all reads inside see one
 * state of the database). Inner begins are savepoints: an inner rollback undoes only its
 * own part. Each begin is ended by exactly one commit or rollback.
 */
int store_begin(struct store *st, bool write);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* ---- inventory ---- */

struct device {
	char mac[MAC_LEN + 1]; /* canonical */
	char *model;	       /* "" when unset; never NULL */
	char *profile;	       /* vendor profile: algo, fip, spa, audiocodes, panasonic, or "" */
	char *group;	       /* "" when in no group */
	bool enabled;
	json_t *vars; /* object, owned */
	/*
	 * The inventory revision at which the row last changed (set by the store; ignored by
	 * store_device_put): a cache of what was rendered for the device can key on it.
	 */
	uint64_t rev;
};

/* A new device with empty strings, enabled, no variables; NULL if out of memory. */
struct device *device_new(const char *mac);

void device_free(struct device *d); /* accepts NULL */

/* 0, -ENOENT, -EINVAL (not a MAC; any form is accepted). *ret is the caller's. */
int store_device_get(struct store *st, const char *mac, struct device **ret);
/*
 * Inserts a new device (-EEXIST if the MAC is there) or, with replace, updates it.
 * A group that does not exist is -ENOENT (groups are made with store_group_set).
 * err gets the reason on failure.
 */
int store_device_put(struct store *st, const struct device *d, bool replace, char *err,
		     size_t errsz);
/*
 * Sets the string variable name of the device of mac to value unless it has one, in one
 * transaction (a first-use decision is made once, whoever else writes): 0 when set or
 * already value, -EEXIST when it holds another value, -ENOENT without the device; err
 * gets the reason on failure.
 */
int store_device_set_var_once(struct store *st, const char *mac, const char *name,
			      const char *value, char *err, size_t errsz);
int store_device_remove(struct store *st, const char *mac); /* 0, -ENOENT */
/*
 * Calls fn for every device in MAC order; stops and returns fn's value if it is not 0.
 * d and everything it points to live only during the call (json_incref(d->vars) to keep
 * them). fn must not write to st. One pass is one read snapshot; 10 000 devices take tens
 * of milliseconds.
 */
int store_device_foreach(struct store *st, int (*fn)(const struct device *d, void *arg), void *arg);
/* The same for the devices of group (NULL: any) with profile (NULL: any). */
int store_device_foreach_in(struct store *st, const char *group, const char *profile,
			    int (*fn)(const struct device *d, void *arg), void *arg);

/*
 * Devices as JSON, the one shape the API and `autoprov device --json` print:
 * {"mac", "model", "profile", "group", "enabled", "rev", "vars"} (a new reference, NULL
 * if out of memory).
 */
json_t *store_device_json(const struct device *d);
/*
 * The device obj describes (that shape; absent or null fields take a new device's values:
 * "" strings, enabled, no variables; "rev" is ignored; any other member is an error),
 * checked as the store checks what it writes, but for the group's existence. With mac
 * (any form), obj's "mac" may be absent and must be that MAC if present. 0 with *ret,
 * -EINVAL with the reason in err, -ENOMEM.
 */
int store_device_from_json(const json_t *obj, const char *mac, struct device **ret, char *err,
			   size_t errsz);
/*
 * A JSON array of such devices ("mac" required), imported as store_import_csv() imports
 * rows: one transaction, all or none, err "ROW: reason" (rows count from 1). Returns the
 * number imported.
 */
int store_import_json(struct store *st, const json_t *devices, bool replace, char *err,
		      size_t errsz);

/* What a page of devices is filtered by (NULL: no filter). */
struct device_filter {
	const char *group;   /* "" for the devices in no group */
	const char *profile; /* exactly */
	const char *model;   /* exactly */
	/*
	 * a substring, ASCII case-insensitive, of the model, of a variable's value (strings and
	 * numbers, at any depth) or of the MAC in any form ("0022ee", "00:22:EE"); at most 128
	 * bytes are used
	 */
	const char *text;
	/*
	 * with by_state, only the devices whose state (enum device_status below, as
	 * store_device_state_get tells it) is state: a per-device look-up of its state row, so
	 * a state few devices have reads on until it has found limit
	 */
	bool by_state;
	int state;
	/*
	 * The order (DEVICE_SORT_MAC by default), descending with desc; ties go by MAC. With
	 * another order than the MAC's, a page after the first starts after the keyset
	 * (after_key or after_num, and the MAC given as after) of the previous page's last
	 * device, which store_device_page writes into *key before it hands each device to fn.
	 */
	int sort; /* enum device_sort */
	bool desc;
	bool keyed; /* after_key / after_num are given (else: from the first) */
	const char *after_key;
	int64_t after_num;
	struct device_sort_key *key; /* out, or NULL */
};

/* The orders of a page: by MAC, the variable "name", model, group, state or last seen. */
enum device_sort {
	DEVICE_SORT_MAC,
	DEVICE_SORT_NAME,
	DEVICE_SORT_MODEL,
	DEVICE_SORT_GROUP,
	DEVICE_SORT_STATE,
	DEVICE_SORT_LAST_SEEN,
	_DEVICE_SORT_MAX,
};

/*
 * A device's sort key: text (name, model, group) or a number (state, last seen). A text key
 * is the value's first DEVICE_SORT_KEY_CHARS characters (UTF-8: up to 4 bytes each), so that
 * it fits here and in a cursor whole; values alike that far go by MAC.
 */
#define DEVICE_SORT_KEY_CHARS 120
struct device_sort_key {
	bool numeric;
	char text[DEVICE_SORT_KEY_CHARS * 4 + 1];
	int64_t num;
};

/* "mac", "name", "model", "group", "state", "last_seen": 0 or -EINVAL. */
int device_sort_parse(const char *name, enum device_sort *ret);

/*
 * Calls fn for at most limit devices matching f with a MAC after after (canonical; NULL or
 * "": from the first), in MAC order, as store_device_foreach does. Keyset paging: the cost
 * of a page does not grow with the inventory (but filters that match few devices read on
 * until they have found limit).
 */
int store_device_page(struct store *st, const struct device_filter *f, const char *after,
		      size_t limit, int (*fn)(const struct device *d, void *arg), void *arg);

/* Groups: variables by group name. Setting creates the group. */
int store_group_set(struct store *st, const char *name, json_t *vars);
int store_group_get(struct store *st, const char *name, json_t **ret_vars); /* -ENOENT */
int store_group_remove(struct store *st, const char *name); /* -EBUSY while devices use it */
/* In name order; name and vars live only during the call, as for store_device_foreach. */
int store_group_foreach(struct store *st, int (*fn)(const char *name, json_t *vars, void *arg),
			void *arg);
/* The number of devices in group name (0 for a group that does not exist; NULL: all). */
int store_group_count_devices(struct store *st, const char *name, uint64_t *ret);
/*
 * The number of devices in the inventory, for what asks often (/metrics): counted (count(*)
 * walks an index: tens of milliseconds at 1 000 000 devices) only when the inventory
 * revision moved since the last count on this connection, else the count kept, for the
 * price of one prepared statement.
 */
int store_device_count(struct store *st, uint64_t *ret);

/*
 * What the store accepts, with a reason for what it does not (the CLI checks arguments with
 * these before it opens the database):
 *  - variable names: 1 to 64 of [A-Za-z0-9_-], not one of the CSV's own columns (mac,
 *    model, profile, group, enabled, in any case);
 *  - group names: 1 to 64 of [A-Za-z0-9._-];
 *  - models: 1 to 64 printable ASCII characters (or "" for none);
 *  - profiles: algo, fip, spa, audiocodes, panasonic (or "" for none).
 */
int store_check_var_name(const char *name, const char **ret_why);
int store_check_group_name(const char *name, const char **ret_why);
int store_check_model(const char *model, const char **ret_why);
int store_check_profile(const char *profile, const char **ret_why);

/* Site defaults: one object of variables. */
int store_defaults_set(struct store *st, json_t *vars);
int store_defaults_get(struct store *st, json_t **ret_vars);

/*
 * CSV import: header row "mac,model,profile,group,enabled,..." (mac required; other
 * columns optional, unknown columns become string variables; an empty cell leaves the
 * variable unset). All rows in one transaction: on any bad row (bad MAC, duplicate MAC in
 * the file or already in the inventory unless replace, unknown group) nothing changes and
 * err says "ROW: reason" (row 1 is the header). Returns the number of devices imported.
 * A column named "NAME:json" holds JSON texts (what export writes for variables that are
 * not all non-empty strings). The input is read whole, up to STORE_CSV_MAX_SIZE bytes.
 */
int store_import_csv(struct store *st, FILE *in, bool replace, char *err, size_t errsz);
/* The same format back: import(export(x)) is x. Returns the number of devices written. */
int store_export_csv(struct store *st, FILE *out);

#define STORE_CSV_MAX_SIZE (256u << 20)

/*
 * A counter that changes whenever any connection commits a change to the inventory
 * (devices, groups, defaults): the server compares it to decide to reload its snapshot.
 * One prepared statement on a one-row table: cheap enough to poll every second. Read it
 * before loading a snapshot (or in the same store_begin(st, false)): a change made while
 * loading then shows up as a new revision on the next poll.
 */
int store_inventory_revision(struct store *st, uint64_t *ret);

/*
 * The change log: every insert, update or delete of a device, a group or the defaults,
 * by any connection (triggers in the schema), appends a change with a sequence number
 * that only grows and is never given twice. A daemon keeps what it caches current by
 * applying the changes after the last seq it saw: the cost follows the changes, never the
 * inventory's size. The log keeps at least the last STORE_CHANGES_KEEP changes: every
 * connection prunes it when it closes, once STORE_CHANGES_PRUNE_EVERY more have come.
 */
enum store_change {
	STORE_CHANGE_DEVICE = 1,   /* key: the device's MAC (canonical) */
	STORE_CHANGE_GROUP = 2,	   /* key: the group's name */
	STORE_CHANGE_DEFAULTS = 3, /* key: "" */
};

#define STORE_CHANGES_KEEP	  16384
#define STORE_CHANGES_PRUNE_EVERY 1024

/*
 * Deletes the changes older than the last STORE_CHANGES_KEEP, when there are at least
 * STORE_CHANGES_PRUNE_EVERY of them (one DELETE; store_close calls it, not waiting for a
 * busy database). 0 or a negative errno.
 */
int store_changes_prune(struct store *st);
/* The seq of the last change ever recorded (0: none yet). */
int store_changes_last(struct store *st, uint64_t *ret);
/*
 * Calls fn for every change after seq, oldest first; stops and returns fn's value if it
 * is not 0. -ESTALE when changes after seq were pruned already (fn may have been called
 * for the rest): the caller forgets everything it caches and starts again from
 * store_changes_last() (read before it reloads anything). key lives only during the call;
 * fn must not use st. With nothing new, one prepared statement that finds no row.
 */
int store_changes_since(struct store *st, uint64_t seq,
			int (*fn)(void *arg, uint64_t seq, enum store_change kind, const char *key),
			void *arg);

/*
 * Watching for changes, for a daemon on a shared database (PostgreSQL): another connection
 * that LISTENs to the notification every change of the inventory sends at commit, only a
 * wake-up (the changes are read from the change log, by sequence number).
 * store_watch_open() returns the socket to watch for reading (-ENOTSUP for SQLite, whose
 * daemon reads the change log on every loop iteration: a local read); store_watch_read(),
 * when it is readable, 1 when changes were announced, 0 when not, or a negative errno when
 * the connection is lost (it is closed: open it again later, and read the change log, since
 * notifications sent meanwhile are lost). Never blocks but for store_watch_open's connect.
 */
int store_watch_open(struct store *st);
int store_watch_read(struct store *st);
void store_watch_close(struct store *st); /* store_close closes it too */

/* ---- journal ---- */

struct journal_entry {
	struct timespec time;
	const char *proto;   /* "tftp", "http", ... */
	const char *peer;    /* "ADDR:PORT" */
	const char *mac;     /* canonical, or NULL */
	const char *path;    /* as requested, escaped */
	const char *outcome; /* "sent", "not found", "denied", "timed out", "aborted", "error" */
	uint64_t bytes;
	const char *md5;	/* of what was sent, or NULL */
	const char *user_agent; /* or NULL */
	/*
	 * Why a request was refused or failed, in words ("wrong credentials", "the certificate
	 * is another device's", "the template fails"), or NULL (schema 5).
	 */
	const char *detail;
	/*
	 * The node that served the request ([server] node: several nodes write one journal),
	 * or NULL: unknown (rows written before schema 6).
	 */
	const char *node;
	int64_t id; /* the row's id when read (store_journal_foreach); ignored when appended */
	/*
	 * The inventory revision what was sent is made from, at the latest (the serving loop's
	 * directory_revision()); 0: unknown, the revision when the row is written is taken.
	 * Not stored in the journal: the devices' state keeps it (config_rev).
	 */
	uint64_t rev;
};

/*
 * How long this connection waits for another writer (STORE_BUSY_TIMEOUT_MS when opened);
 * 0 makes a busy database an immediate -EBUSY, for callers that must not block.
 */
void store_set_wait(struct store *st, unsigned ms);
/*
 * SQLite: this connection's page cache, at most mib MiB (SQLite's default is 2 MiB), kept
 * across reconnections; nothing on PostgreSQL (its server caches). For the journal's writer,
 * whose every row touches a page of each index it updates.
 */
void store_set_cache(struct store *st, unsigned mib);
/*
 * SQLite: a device's rows are found through a table filled this many rows at a time
 * (store/journal.c, "A device's rows"); for tests. Default STORE_JOURNAL_MERGE_ROWS.
 */
#define STORE_JOURNAL_MERGE_ROWS 65536
void store_set_journal_merge(struct store *st, unsigned rows);

/* Appends n entries in one transaction. */
int store_journal_append(struct store *st, const struct journal_entry *e, size_t n);

/*
 * The rows pruning by max_rows deletes first, as SQL: the misses, every row but a success
 * ("sent", "not modified", "pnp-url-sent", "notify-2xx"); journal_is_miss() in
 * site/journal_sample.h is the same rule in C. So a flood of misses never pushes the
 * devices' own fetches out: they go only once no miss is left.
 */
#define STORE_JOURNAL_MISS_SQL                                                                     \
	"(outcome IS NULL OR (outcome NOT IN ('sent', 'not modified', 'pnp-url-sent')"             \
	" AND outcome NOT LIKE 'notify-2%'))"

/* Rows one prune step deletes at most, and ids it looks through at most. */
#define STORE_JOURNAL_PRUNE_BATCH 2000
#define STORE_JOURNAL_SCAN_IDS	  20000
#define STORE_JOURNAL_COUNT_IDS	  200000

/*
 * Pruning in small steps, for a daemon that must never hold its loop for long: each
 * store_journal_prune_step() deletes at most STORE_JOURNAL_PRUNE_BATCH rows and reads at
 * most a few STORE_JOURNAL_COUNT_IDS ids. The pruner first counts the rows (in steps), then
 * keeps the count with store_journal_pruner_appended() and its own deletions, and counts
 * again hourly (another process may have deleted rows).
 */
struct journal_pruner {
	uint64_t max_age;    /* seconds; 0: no limit */
	uint64_t max_rows;   /* 0: no limit */
	bool counted;	     /* rows is known */
	int64_t count_next;  /* while counting: the next id to count from (0: not started) */
	uint64_t rows;	     /* rows in the journal */
	int64_t miss_cursor; /* no miss is left below this id (pruning by rows) */
	int64_t age_due;     /* CLOCK_MONOTONIC second of the next pass by age (0: now) */
	int64_t recount_due; /* CLOCK_MONOTONIC second of the next count */
};

void store_journal_pruner_init(struct journal_pruner *p, uint64_t max_age, uint64_t max_rows);
/* New limits; the count and the cursors are kept, the next pass by age is now. */
void store_journal_pruner_set(struct journal_pruner *p, uint64_t max_age, uint64_t max_rows);
/* n rows were appended. */
void store_journal_pruner_appended(struct journal_pruner *p, size_t n);
/*
 * One bounded step (counting, by rows: misses first, or by age). Returns the rows
 * deleted, or a negative errno; *ret_more says whether there is more to do right away.
 * Cheap when there is nothing to do: no statement runs.
 */
int store_journal_prune_step(struct store *st, struct journal_pruner *p, bool *ret_more);
/*
 * Deletes entries older than max_age seconds (0: no limit) and beyond max_rows newest
 * (0: no limit; misses first, as above), step by step until done. Returns the number of
 * entries deleted.
 */
int store_journal_prune(struct store *st, uint64_t max_age, uint64_t max_rows);
/*
 * Prints entries (oldest first) matching mac (NULL: all), written by node (NULL: any) since
 * t (0: all), one per line: TIME PROTO PEER MAC "PATH" OUTCOME BYTES MD5 NODE
 * ["USER-AGENT"], with TIME in UTC (2024-05-01T12:00:00.123Z), "-" for what is unknown.
 * Returns the number printed.
 */
int store_journal_print(struct store *st, const char *mac, const char *node, time_t since,
			FILE *out);
/*
 * Calls fn for each entry matching mac (NULL: all) from since_usec (microseconds since the
 * epoch; 0: all), oldest first or newest first. The entry is valid during the call; fn
 * returns 0 to go on, 1 to stop, or a negative errno that is returned.
 */
int store_journal_foreach(struct store *st, const char *mac, int64_t since_usec,
			  bool newest_first, int (*fn)(void *arg, const struct journal_entry *e),
			  void *arg);

/* ---- the devices' state (store/state.c) ---- */

/*
 * What a device is doing, from its journal rows (docs/admin.md, "Device state"). Kept for
 * the devices of the inventory by the journal's writer, in the transaction that appends
 * the rows (store_journal_append): nothing on the serving loop.
 */
enum device_status {
	DEVICE_NEVER_SEEN,    /* no row of the journal names it */
	DEVICE_PROVISIONING,  /* seen, no configuration file sent yet */
	DEVICE_PROVISIONED,   /* its last configuration was sent, nothing failed since */
	DEVICE_FAILING,	      /* its last request that mattered failed (denied, missing...) */
	DEVICE_CHANGE_PENDING, /* provisioned, and the inventory changed for it since */
	_DEVICE_STATUS_MAX,
};

/* "never-seen", "provisioning", "provisioned", "failing", "change-pending". */
const char *device_status_name(enum device_status s);
/* The status named name: 0, or -EINVAL. */
int device_status_parse(const char *name, enum device_status *ret);

/* What a journal row tells about its device's provisioning. */
enum journal_kind {
	JOURNAL_CONFIG,	 /* a configuration file was sent */
	JOURNAL_OK,	 /* another success: a .md5, firmware, a resource, "not modified" */
	JOURNAL_STEP,	 /* a normal step: a configuration name not found (search orders) */
	JOURNAL_FAIL,	 /* denied, error, timed out, aborted, busy, firmware or resource missing */
	JOURNAL_NEUTRAL, /* SIP (PnP, check-sync), the defence's "blocked" row */
};

/* What a requested name is, by its extension. */
enum file_kind {
	FILE_CONFIG,   /* anything else: .conf .cfg .boot .xml ... */
	FILE_MD5,      /* a .md5 companion */
	FILE_FIRMWARE, /* .sfw .img .bin .fw .rom .ld */
	FILE_RESOURCE, /* .zip .db .pem .crt .cer .der .wav .png .jpg .txt */
};

enum file_kind store_file_kind(const char *path);
enum journal_kind store_journal_kind(const struct journal_entry *e);
/*
 * The firmware version a row shows, into buf: from a firmware image it was sent
 * (algo-8180-5.4f.sfw gives 5.4f, another image its name without the extension), else from
 * its User-Agent (PRODUCT/VERSION, or VENDOR MODEL VERSION ...). 0, or -ENOENT.
 */
int store_firmware_of(const struct journal_entry *e, char *buf, size_t size);

#define DEVICE_STATE_TEXT 256

struct device_state {
	char mac[MAC_LEN + 1];
	enum device_status status; /* with pending from revisions (store_device_state_get) */
	bool known;		   /* the row exists (else: never seen) */
	int64_t first_seen, last_seen; /* microseconds since the epoch */
	int64_t first_id, last_id;     /* journal ids */
	char last_proto[16], last_peer[64], last_user_agent[DEVICE_STATE_TEXT];
	char last_path[DEVICE_STATE_TEXT], last_outcome[32];
	/* the last file sent (any), and the last configuration file sent */
	int64_t sent_time, sent_id;
	char sent_path[DEVICE_STATE_TEXT], sent_md5[33];
	int64_t config_time, config_id;
	char config_path[DEVICE_STATE_TEXT], config_md5[33], config_proto[16];
	uint64_t config_rev;   /* the inventory revision when it was written */
	uint64_t current_rev;  /* max(device, group, defaults) revision now (0: no device) */
	int64_t fail_time, fail_id;
	char fail_path[DEVICE_STATE_TEXT], fail_outcome[32], fail_detail[DEVICE_STATE_TEXT];
	char firmware[64];
};

/*
 * The state of the device of canonical MAC mac: 0 with *ret (status NEVER_SEEN and known
 * false when nothing recorded it), -ENOENT when it is not in the inventory and has no state.
 */
int store_device_state_get(struct store *st, const char *mac, struct device_state *ret);
/*
 * The devices of the inventory by state: counts[s] for each enum device_status. One pass
 * over the inventory with a primary-key look-up per device (no rendering).
 */
int store_device_state_count(struct store *st, uint64_t counts[_DEVICE_STATUS_MAX]);
/*
 * Calls fn for the devices of the inventory in MAC order after after_mac ("" from the
 * start), at most limit (0: all), whose status is status (or any with all true); stops and
 * returns fn's value if it is not 0. s lives only during the call.
 */
int store_device_state_list(struct store *st, enum device_status status, bool all,
			    const char *after_mac, size_t limit,
			    int (*fn)(void *arg, const struct device_state *s), void *arg);
/*
 * The state as JSON, as `device show --json` and the admin API show it: {"status", and when
 * it was seen: "first_seen", "last_seen", "last_address", "last_user_agent", "last_sent",
 * "last_config"... "firmware"}. NULL when out of memory.
 */
json_t *store_device_state_json(const struct device_state *s);
/* Microseconds since the epoch as 2024-05-01T12:00:00Z into buf ("-" if it cannot be). */
const char *store_time_text(int64_t usec, char *buf, size_t size);
/* Devices of the inventory seen at or after since (seconds since the epoch): one index range. */
int store_device_state_seen_since(struct store *st, int64_t since, uint64_t *ret);
/* ---- the fleet, for the dashboard (store/fleet.c) ---- */

/*
 * The devices of the inventory by state (counts[s], as store_device_state_count) and, in
 * the same pass, by model and firmware: firmware(arg, model, version, n) for each pair
 * with a known firmware ("" model for none); a non-zero return stops and is returned.
 */
int store_fleet_counts(struct store *st, uint64_t counts[_DEVICE_STATUS_MAX],
		       int (*firmware)(void *arg, const char *model, const char *version,
				       uint64_t n),
		       void *arg);

/*
 * Unknown devices: MACs journal rows named that the inventory does not hold, or holds in
 * the group STORE_PENDING_GROUP ([server] unknown_devices = register), recorded by the
 * journal's writer (store_unknown_record, called by store_journal_append for each row with
 * a MAC) with the first STORE_UNKNOWN_FILES names they asked for. A device entering the
 * inventory in another group leaves the list; pruning by age forgets the old ones.
 */
#define STORE_PENDING_GROUP   "pending"
#define STORE_UNKNOWN_FILES   16
#define STORE_UNKNOWN_FILES_S "16"

struct unknown_device {
	const char *mac;
	int64_t first_seen, last_seen; /* microseconds since the epoch */
	uint64_t requests;
	const char *files;     /* a JSON array of names, as stored */
	const char *last_peer; /* or NULL */
	bool pending;	       /* in the inventory, in the pending group */
};

int store_unknown_record(struct store *st, const struct journal_entry *e, int64_t usec);
/* Unknown devices seen at or after since_usec: one index range. */
int store_unknown_count_since(struct store *st, int64_t since_usec, uint64_t *ret);
/*
 * Calls fn for at most limit unknown devices, the most recently seen first, after the
 * keyset (before_seen, before_mac) of the last one of the previous page (before_seen 0:
 * from the first). u lives only during the call; fn returns 0 to go on, else that is
 * returned (1: stop).
 */
int store_unknown_page(struct store *st, int64_t before_seen, const char *before_mac, size_t limit,
		       int (*fn)(void *arg, const struct unknown_device *u), void *arg);
/* Forgets the unknown device of canonical MAC mac (none: 0). */
int store_unknown_forget(struct store *st, const char *mac);
/*
 * Adds the device of canonical MAC mac, disabled, to the group STORE_PENDING_GROUP (made if
 * missing), in a transaction of its own; nothing when the MAC is already in the inventory.
 */
int store_device_register_pending(struct store *st, const char *mac);

/* What a page of the journal is filtered by (NULL, 0: no filter). */
struct journal_filter {
	const char *mac;     /* any form */
	int64_t since_usec;  /* at or after (microseconds since the epoch) */
	int64_t until_usec;  /* before */
	const char *outcome; /* exactly ("sent", "not found", ...) */
	const char *proto;   /* exactly ("tftp", ...) */
	const char *node;    /* exactly: the rows one node wrote */
};

/*
 * Calls fn for at most limit entries matching f with an id above after_id, in id order
 * (the order they were appended, that is time order), as store_journal_foreach does; each
 * entry has its id. Keyset paging by id; rows are kept by their times, a time range
 * narrowed to ids by a binary search (ids grow with time, but for rows written late after
 * an outage: journal.c's JOURNAL_LATE_IDS), so no time index is needed. -EINVAL for a bad
 * MAC.
 */
int store_journal_page(struct store *st, const struct journal_filter *f, int64_t after_id,
		       size_t limit, int (*fn)(void *arg, const struct journal_entry *e),
		       void *arg);

/* ---- rendered-file versions ---- */

/*
 * The version number of the rendered file key: unchanged while content_md5 (the MD5 of
 * the content without its version) is the one stored, else incremented (starting at 1)
 * and stored with it. Survives restarts.
 */
int store_version(struct store *st, const char *key, const char *content_md5,
		  uint64_t *ret_version);
/*
 * When the new version cannot be written (a full disk, a read-only file, a database held
 * too long by another process), store_version() still succeeds: the version is kept in
 * memory, on this connection, and served from there until store_versions_sync() writes it.
 * Nothing is ever refused because a counter could not be written; a version kept only in
 * memory is lost if the process ends first, and the next render numbers the content again
 * from what the database holds.
 */
#define STORE_VERSIONS_PENDING_MAX 65536
/* Versions waiting in memory. */
size_t store_versions_pending(struct store *st);
/* Writes the versions waiting in memory in one transaction: 0 or a negative errno. */
int store_versions_sync(struct store *st);
/*
 * For a daemon whose loop must not wait for the database: with deferred on, a new version
 * is never written by store_version() (which then only reads); it is kept in memory and
 * served from there until a writer thread writes it with store_versions_sync_to(st, its own
 * connection), in one transaction, and only then forgets it. So the number rises once per
 * content change, whichever connection writes it, and survives a restart once written (a
 * clean stop writes it). st's versions may be read and written from two threads; every
 * other call on st stays the one thread's.
 */
void store_set_versions_deferred(struct store *st, bool on);
int store_versions_sync_to(struct store *st, struct store *to);
/* Whether SQLite was built to be used from several threads (one connection per thread). */
bool store_threadsafe(void);

/* ---- copying a site's data between stores (store/copy.c) ---- */

struct store_copy_counts {
	uint64_t devices, groups, versions, tokens, journal, unknown;
};

/*
 * Copies the defaults, groups, devices (their variables: the certificate bindings too),
 * rendered-file versions, tokens and unknown devices of from, and with journal its journal,
 * into to, which
 * must hold no device, group, token or version (-EEXIST). All or nothing: one write
 * transaction on to, reading one snapshot of from. The backends may differ (SQLite to
 * PostgreSQL and back). 0 with the counts, or a negative errno with the reason in err.
 */
int store_copy(struct store *from, struct store *to, bool journal,
	       struct store_copy_counts *ret_counts, char *err, size_t errsz);

/* ---- admin API tokens (store/tokens.c) ---- */

enum token_scope { TOKEN_READ, TOKEN_WRITE };

struct token_info {
	char name[65];
	enum token_scope scope;
	int64_t created, expires, last_used; /* seconds since the epoch; 0: never */
};

/* A token name: 1 to 64 of [A-Za-z0-9._-], not starting with '-'. 0 or -EINVAL with why. */
int store_check_token_name(const char *name, const char **ret_why);
/*
 * A new token named name (expires: seconds since the epoch, 0 for never): the secret is
 * written to secret (at least STORE_TOKEN_LEN + 1 bytes), only its SHA-256 is stored.
 * 0, -EEXIST (the name is taken), -EINVAL, or the store's error.
 */
#define STORE_TOKEN_LEN 46 /* "ap_" + 43 characters of base64url (32 random bytes) */
int store_token_add(struct store *st, const char *name, enum token_scope scope, int64_t expires,
		    char *secret, size_t secretsz);
int store_token_remove(struct store *st, const char *name); /* 0, -ENOENT */
/* Calls fn for every token in name order; stops and returns fn's value if it is not 0. */
int store_token_foreach(struct store *st, int (*fn)(void *arg, const struct token_info *t),
			void *arg);
/*
 * The token whose secret is secret, valid at now (seconds): 0 with *ret, -ENOENT (no such
 * token), -EKEYEXPIRED (it expired), or the store's error. Records when it was last used
 * (at most once a minute per token, so reads stay reads).
 */
int store_token_check(struct store *st, const char *secret, int64_t now, struct token_info *ret);

#endif
