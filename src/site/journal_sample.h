// SPDX-License-Identifier: MIT
/*
 * Per-peer sampling of the journal's misses. A miss is a row that records no success (not
 * found, denied, ignored, timed out...: see journal_is_miss); a scanner makes millions of
 * them from one address, and each would be a row of the database. So, per peer address
 * and window of time, the first `rows` misses are written as usual and the rest are only
 * counted; when the window ends, one aggregate row says how many more there were, with
 * the first and last names asked. The accounting is pure (no I/O, no clock of its own):
 * the caller passes the time, and writes the rows it is handed.
 */
#ifndef AUTOPROV_SITE_JOURNAL_SAMPLE_H
#define AUTOPROV_SITE_JOURNAL_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal_entry;

/* Peers tracked at once; misses of further peers share one bucket whose peer is "*". */
#define JOURNAL_SAMPLE_PEERS 4096
/* Longest name kept for an aggregate's first and last names (longer ones are cut). */
#define JOURNAL_SAMPLE_NAME_MAX 200

/*
 * Whether a row records no success: every outcome but "sent", "not modified" (HTTP),
 * "pnp-url-sent" and "notify-2xx" (SIP). The same rule, as SQL, is STORE_JOURNAL_MISS_SQL
 * in store/store.h: the rows pruning deletes first.
 */
bool journal_is_miss(const char *outcome);

/*
 * The address of a journal peer "ADDR:PORT" or "[ADDR6]:PORT" into out (NUL-terminated,
 * cut to outsz - 1); a text of another shape is copied as it is.
 */
void journal_peer_host(const char *peer, char *out, size_t outsz);

struct journal_sampler;

int journal_sampler_new(struct journal_sampler **ret); /* 0 or -ENOMEM */
void journal_sampler_free(struct journal_sampler *js); /* accepts NULL */

/*
 * A miss e (its peer, proto, path) at now_s (seconds, any clock that does not go back):
 * true when it is to be written (one of the first `rows` of its peer's window), false when
 * it was only counted. rows 0 admits everything (sampling off).
 */
bool journal_sampler_admit(struct journal_sampler *js, const struct journal_entry *e, unsigned rows,
			   int64_t now_s);

/* What was counted and not written for one peer during one window. */
struct journal_aggregate {
	const char *peer;  /* the address ("*": the peers beyond JOURNAL_SAMPLE_PEERS) */
	const char *proto; /* of the first miss counted */
	const char *first; /* names asked: the first and the last counted */
	const char *last;
	uint64_t count; /* misses counted and not written */
};

/*
 * Ends the windows that began window_s or more before now_s (all of them with all): calls
 * fn for every one that counted misses beyond its rows, then forgets those peers. The
 * aggregate lives during the call. Returns the number of aggregates handed to fn.
 */
size_t journal_sampler_expire(struct journal_sampler *js, int64_t now_s, unsigned window_s,
			      bool all, void (*fn)(void *arg, const struct journal_aggregate *a),
			      void *arg);

/* Peers being tracked (for tests). */
size_t journal_sampler_npeers(const struct journal_sampler *js);

#endif
