// SPDX-License-Identifier: MIT
/*
 * What the inventory's files share (store/inventory.c, devices, groups, defaults and the
 * checks; inventory_csv.c, the CSV import and export; inventory_json.c, devices as JSON;
 * inventory_page.c, pages of devices): the columns a device is read with, the one write of a
 * device, and the set of MACs an import has seen. Private to store/.
 */
#ifndef AUTOPROV_STORE_INVENTORY_INTERNAL_H
#define AUTOPROV_STORE_INVENTORY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_impl.h"

#define DEVICE_COLUMNS	"mac, model, profile, coalesce(group_name, ''), enabled, vars, rev"
#define DEVICE_NCOLUMNS 7 /* the key of a sorted page follows */

/* The CSV's own columns: fields of every device, so never variable names. */
#define STORE_NDEVICE_COLUMNS 5
extern const char *const store_device_columns[STORE_NDEVICE_COLUMNS];

/* Checks d and writes it, inside the caller's write transaction. */
int store_device_write(struct store *st, const struct device *d, bool replace);
/* The row at stmt (DEVICE_COLUMNS) into d: strings borrowed from stmt, vars a new reference. */
int store_device_from_row(struct store *st, struct stmt *stmt, struct device *d);
/* The store's last reason into err (errsz bytes; err NULL: nothing). */
void store_copy_err(struct store *st, char *err, size_t errsz);

/* The MACs seen so far and their rows: open addressing over the 48-bit value. */
struct mac_seen {
	uint64_t *keys; /* value + 1; 0 is an empty slot */
	unsigned long *rows;
	size_t cap, n;
};

/* 0 when added, 1 when already there (with its row in *ret_row), -ENOMEM. */
int store_mac_seen_add(struct mac_seen *s, const char *mac, unsigned long row,
		       unsigned long *ret_row);
void store_mac_seen_done(struct mac_seen *s);

#endif
