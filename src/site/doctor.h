// SPDX-License-Identifier: MIT
/*
 * The doctor: why a device did or did not provision, in plain words, from its journal rows,
 * its state, the inventory and the site as it is now, with what to do. One place, called
 * by `autoprov doctor` and by GET /api/v1/devices/{mac}/doctor (docs/doctor.md).
 *
 * It knows each profile's flow from the vendor documents (docs/vendors/): Algo's search
 * order and its .md5 rule over TFTP; FIP's boot file, its includes and the .cfg; the SPA
 * profile and DBID_DBASE_VERSION; AudioCodes' firmware-then-configuration; Panasonic's
 * two steps. Each verdict cites the journal rows it rests on.
 */
#ifndef AUTOPROV_SITE_DOCTOR_H
#define AUTOPROV_SITE_DOCTOR_H

#include <jansson.h>
#include <stddef.h>
#include <sys/socket.h>

struct site;

/* Rows of the device's journal read, newest first. */
#define DOCTOR_ROWS_MAX 1000

struct doctor_options {
	const char *site_dir; /* for the commands it suggests (--site DIR) */
	/*
	 * The address a device reaches over each protocol, for {{server_url}} when a file is
	 * rendered again to compare it with what was sent; NULL when unknown.
	 */
	const struct sockaddr *local_tftp, *local_http, *local_https, *local_ftp;
	/* [tftp] prefix and [http] prefix (HTTPS too), stripped as the server strips them */
	const char *prefix_tftp, *prefix_http;
};

/*
 * Diagnoses the device of canonical MAC mac: 0 with *ret, a JSON object (docs/doctor.md):
 * {"mac", "in_inventory", "profile", "model", "enabled", "state": {...}, "summary",
 * "verdicts": [{"code", "level", "title", "detail", "action", "rows": [{"id", "time",
 * "proto", "peer", "path", "outcome", "detail"}]}]}; or a negative errno (the store's,
 * -ENOMEM) with err set.
 */
int doctor_diagnose(struct site *site, const char *mac, const struct doctor_options *opts,
		    json_t **ret, char *err, size_t errsz);

/* Prints a diagnosis as text (the CLI's form). */
#include <stdio.h>
void doctor_print(const json_t *diagnosis, FILE *out);

#endif
