// SPDX-License-Identifier: MIT
/*
 * The site's counters, for /metrics (docs/admin.md): one struct owned by the site, written
 * by the thread that serves (the loop) and the journal's writer, read by the admin thread.
 * Every field is read and written only with relaxed atomics (no lock, no fence: a scrape may
 * see one counter a request ahead of another, never a torn value), and each is changed at
 * one place: exchange_close() for requests, bytes and durations, each protocol server for
 * what it has in flight, the renderer for its cache, the writer for its queue, auth.c for
 * failed logins, the store for its errors, site_metrics_sample() once a second for the
 * enumeration defence.
 */
#ifndef AUTOPROV_SITE_METRICS_H
#define AUTOPROV_SITE_METRICS_H

#include <stdint.h>

#include "site/exchange.h"
#include "store/store.h"

/* The protocols counted, in the order /metrics lists them. */
enum metrics_proto {
	METRICS_TFTP,
	METRICS_HTTP,
	METRICS_HTTPS,
	METRICS_FTP,
	METRICS_SIP,
	_METRICS_PROTO_MAX,
};

/* Upper bounds of the duration histogram's buckets, in microseconds (+Inf follows). */
#define METRICS_DURATION_BOUNDS                                                                    \
	{                                                                                          \
		1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,         \
			5000000, 10000000, 30000000, 60000000, 300000000                           \
	}
#define METRICS_DURATION_BUCKETS 16 /* the bounds and +Inf */

/*
 * Requests per minute by protocol and outcome over the last METRICS_MINUTES minutes (the
 * dashboard's chart): a ring of minutes, slot (minute % METRICS_MINUTES), each saying which
 * minute since the epoch it counts; exchange_close() empties a slot when its minute comes
 * round again. A reader takes a slot whose minute is the one it wants.
 */
#define METRICS_MINUTES 60

struct metrics_minute {
	uint64_t minute; /* minutes since the epoch (CLOCK_REALTIME) */
	uint64_t requests[_METRICS_PROTO_MAX][_OUTCOME_MAX];
};

struct site_metrics {
	struct metrics_minute minutes[METRICS_MINUTES];
	/* exchange_close() */
	uint64_t requests[_METRICS_PROTO_MAX][_OUTCOME_MAX];
	uint64_t bytes[_METRICS_PROTO_MAX];
	uint64_t duration_bucket[_METRICS_PROTO_MAX][METRICS_DURATION_BUCKETS]; /* not cumulative */
	uint64_t duration_sum_us[_METRICS_PROTO_MAX];
	/* gauges of the protocol servers */
	uint64_t transfers[_METRICS_PROTO_MAX];	  /* files being sent; SIP: NOTIFYs unanswered */
	uint64_t connections[_METRICS_PROTO_MAX]; /* open connections (HTTP, HTTPS, FTP) */
	/* the renderer */
	uint64_t render_hits, render_misses;
	uint64_t render_entries, render_bytes; /* gauges */
	/* the journal's writer */
	uint64_t journal_queued; /* gauge: entries waiting for the writer */
	uint64_t journal_dropped_full;
	uint64_t journal_dropped_readonly;
	uint64_t journal_readonly; /* gauge: 1 while the database refuses writes */
	uint64_t journal_dropped_outage; /* beyond the bound while the store was unreachable */
	uint64_t journal_held;		 /* gauge: rows the writer holds for an unreachable store */
	/* site/outage.c */
	uint64_t store_down;	/* gauge: 1 during an outage of the store */
	uint64_t store_outages; /* outages started */
	/* auth.c */
	uint64_t login_failures;
	/* the store's connections (store_count_errors) */
	uint64_t store_errors[_STORE_ERROR_MAX];
	/* the enumeration defence, sampled once a second (site_metrics_sample) */
	uint64_t defence_misses, defence_blocks, defence_refused;
	uint64_t defence_blocked[3]; /* gauges: addresses, prefixes, trusted (address, MAC) */
};

static inline void metrics_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline void metrics_sub(uint64_t *gauge, uint64_t n)
{
	__atomic_fetch_sub(gauge, n, __ATOMIC_RELAXED);
}

static inline void metrics_set(uint64_t *gauge, uint64_t v)
{
	__atomic_store_n(gauge, v, __ATOMIC_RELAXED);
}

static inline uint64_t metrics_get(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* The protocol of name ("tftp", "http", ...); _METRICS_PROTO_MAX for one not counted. */
enum metrics_proto metrics_proto_of(const char *name);
/* The label of p ("tftp", ...). */
const char *metrics_proto_name(enum metrics_proto p);

/* Counts one request of proto ended with o, bytes sent, that took us microseconds. */
void metrics_request(struct site_metrics *m, enum metrics_proto proto, enum outcome o,
		     uint64_t bytes, uint64_t us);

struct site;
/* The site's counters (owned by the site; the address never changes). */
struct site_metrics *site_metrics(struct site *site);
/*
 * Copies what the loop's modules keep on their own into the counters: the defence's totals
 * and the peers it blocks now. For a timer on the loop (once a second).
 */
void site_metrics_sample(struct site *site);

#endif
