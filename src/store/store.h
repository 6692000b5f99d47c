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

/* Opens (creating and migrating if needed) DIR/autoprov.db. err gets a reason. */
int store_open(const char *site_dir, struct store **ret, char *err, size_t errsz);
void store_close(struct store *st);

/* ---- inventory ---- */

struct device {
	char mac[MAC_LEN + 1]; /* canonical */
	char *model;           /* "" when unset; never NULL */
	char *profile;         /* vendor profile: algo, fip, spa, audiocodes, panasonic, or "" */
	char *group;           /* "" when in no group */
	bool enabled;
	json_t *vars; /* object, owned */
};

void device_free(struct device *d);

/* 0, -ENOENT. *ret is the caller's. */
int store_device_get(struct store *st, const char *mac, struct device **ret);
/*
 * Inserts a new device (-EEXIST if the MAC is there) or, with replace, updates it.
 * A group that does not exist is -ENOENT (groups are made with store_group_set).
 * err gets the reason on failure.
 */
int store_device_put(struct store *st, const struct device *d, bool replace, char *err,
		     size_t errsz);
int store_device_remove(struct store *st, const char *mac); /* 0, -ENOENT */
/* Calls fn for every device in MAC order; stops and returns fn's value if it is not 0. */
int store_device_foreach(struct store *st, int (*fn)(const struct device *d, void *arg),
			 void *arg);

/* Groups: variables by group name. Setting creates the group. */
int store_group_set(struct store *st, const char *name, json_t *vars);
int store_group_get(struct store *st, const char *name, json_t **ret_vars); /* -ENOENT */
int store_group_remove(struct store *st, const char *name); /* -EBUSY while devices use it */
int store_group_foreach(struct store *st, int (*fn)(const char *name, json_t *vars, void *arg),
			void *arg);

/* Site defaults: one object of variables. */
int store_defaults_set(struct store *st, json_t *vars);
int store_defaults_get(struct store *st, json_t **ret_vars);

/*
 * CSV import: header row "mac,model,profile,group,enabled,..." (mac required; other
 * columns optional, unknown columns become string variables; an empty cell leaves the
 * variable unset). All rows in one transaction: on any bad row (bad MAC, duplicate MAC in
 * the file or already in the inventory unless replace, unknown group) nothing changes and
 * err says "ROW: reason" (row 1 is the header). Returns the number of devices imported.
 */
int store_import_csv(struct store *st, FILE *in, bool replace, char *err, size_t errsz);
/* The same format back: import(export(x)) is x. */
int store_export_csv(struct store *st, FILE *out);

/*
 * A counter that changes whenever any connection commits a change to the inventory
 * (devices, groups, defaults): the server compares it to decide to reload its snapshot.
 */
int store_inventory_revision(struct store *st, uint64_t *ret);

/* ---- journal ---- */

struct journal_entry {
	struct timespec time;
	const char *proto;   /* "tftp", "http", ... */
	const char *peer;    /* "ADDR:PORT" */
	const char *mac;     /* canonical, or NULL */
	const char *path;    /* as requested, escaped */
	const char *outcome; /* "sent", "not found", "denied", "timed out", "aborted", "error" */
	uint64_t bytes;
	const char *md5;        /* of what was sent, or NULL */
	const char *user_agent; /* or NULL */
};

/* Appends n entries in one transaction. */
int store_journal_append(struct store *st, const struct journal_entry *e, size_t n);
/* Deletes entries older than max_age seconds (0: no limit) and beyond max_rows newest. */
int store_journal_prune(struct store *st, uint64_t max_age, uint64_t max_rows);
/* Prints entries (oldest first) matching mac (NULL: all) since t (0: all), one per line. */
int store_journal_print(struct store *st, const char *mac, time_t since, FILE *out);

/* ---- rendered-file versions ---- */

/*
 * The version number of the rendered file key: unchanged while content_md5 (the MD5 of
 * the content without its version) is the one stored, else incremented (starting at 1)
 * and stored with it. Survives restarts.
 */
int store_version(struct store *st, const char *key, const char *content_md5,
		  uint64_t *ret_version);

#endif
