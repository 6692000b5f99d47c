// SPDX-License-Identifier: MIT
/*
 * What the doctor's files share (site/doctor.c, the journal read and the verdicts every
 * device gets; site/doctor_vendor.c, the verdicts of one vendor's flow): the rows read, the
 * diagnosis being made, and the helpers that make a verdict. Private to site/.
 */
#ifndef AUTOPROV_SITE_DOCTOR_INTERNAL_H
#define AUTOPROV_SITE_DOCTOR_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/mac.h"
#include "site/doctor.h"
#include "site/journal_sample.h"
#include "store/store.h"

struct site;
struct site_file;

struct row {
	int64_t id, usec;
	uint64_t bytes;
	char *proto, *peer, *path, *outcome, *md5, *ua, *detail, *node;
	enum journal_kind kind;
	enum file_kind fkind;
	bool attributed; /* no MAC: a generic file its address fetched meanwhile */
};

struct doc {
	struct site *site;
	const struct doctor_options *opts;
	char mac[MAC_LEN + 1], mau[MAC_LEN + 1], colons[MAC_LEN + 6];
	bool in_inventory, enabled;
	char profile[32], model[65];
	struct row *rows; /* oldest first */
	size_t n, cap;
	json_t *verdicts;
	bool pending_exact; /* a file sent differs from its rendering now */
	bool pending_checked;
};

/* Whether a and b are both set and equal. */
bool doctor_is(const char *a, const char *b);
/* Whether the row's request was answered with the file. */
bool doctor_sent(const struct row *r);
/* The last segment of a path. */
const char *doctor_base_name(const char *path);
/* The verdict code, level, title, action (added to doc's verdicts); detail and rows by the caller.
 */
__attribute__((format(printf, 5, 6))) json_t *doctor_verdict(struct doc *doc, const char *code,
							     const char *level, const char *action,
							     const char *title_fmt, ...);
/* Sets v's key to the formatted text (v NULL: nothing). */
__attribute__((format(printf, 3, 4))) void doctor_set_text(json_t *v, const char *key,
							   const char *fmt, ...);
/* Adds the row to the verdict's "rows" (at most 20, once each). */
void doctor_cite(json_t *v, const struct row *r);
/* "--site DIR " for the commands suggested, or "" when it is the current directory. */
void doctor_site_arg(const struct doc *doc, char *buf, size_t size);
/*
 * What the device would get now for path over proto: 0 with *ret (a reference), or the
 * resolver's error. No peer: nothing is journaled or counted by the defence.
 */
int doctor_resolve_now(struct doc *doc, const char *proto, const char *path, struct site_file **ret,
		       char ret_mac[MAC_LEN + 1]);
/* The newest row before index `before` that is a configuration sent, or -1. */
ssize_t doctor_last_config_sent(const struct doc *doc, size_t before);

/* The verdicts of the vendors' flows (site/doctor_vendor.c). */
void doctor_algo_md5(struct doc *doc);
void doctor_fip_includes(struct doc *doc);
void doctor_panasonic_steps(struct doc *doc);
void doctor_audiocodes_order(struct doc *doc);
void doctor_sip_pnp(struct doc *doc);

#endif
