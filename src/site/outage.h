// SPDX-License-Identifier: MIT
/*
 * The store's outages, as the serving daemon lives them (docs/scale-out.md, "When the
 * store is unreachable"). Two parts of a site use the store: the loop reads it (the
 * directory: devices, groups, defaults, the change log, file versions) and the journal's
 * writer writes it. When either cannot, the site is in an outage: the loop serves what it
 * holds and answers the rest "try later" (OUTCOME_UNAVAILABLE), the writer holds the
 * journal's rows (bounded; beyond, they are dropped and counted), and each part asks the
 * store again only when its backoff says so (0.25 s doubling to 8 s), so a dead database is
 * not asked once per request. One warning when the outage starts, one line when it ends
 * (with what it cost), whatever the number of requests meanwhile; /metrics has the state.
 *
 * Both backends: SQLite fails this way when another process holds the database or a table
 * cannot be read, PostgreSQL when its server cannot be reached. The part's calls come from
 * its own thread; the shared state is behind a mutex taken only when a part changes state.
 */
#ifndef AUTOPROV_SITE_OUTAGE_H
#define AUTOPROV_SITE_OUTAGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct site_metrics;

/* The parts of a site that use the store. */
enum outage_part {
	OUTAGE_READS = 1u << 0,	 /* the loop's connection: the directory and the renderer */
	OUTAGE_WRITES = 1u << 1, /* the journal writer's connection */
};

#define OUTAGE_BACKOFF_MIN_MS 250
#define OUTAGE_BACKOFF_MAX_MS 8000

/* When a part may ask the store again (owned by the part, used from its thread). */
struct outage_backoff {
	int64_t retry_at; /* monotonic ms; 0: now */
	unsigned delay_ms;
};

struct outage {
	pthread_mutex_t lock;
	unsigned down;	/* atomic: the parts in an outage */
	char name[128]; /* what the lines call the store */
	struct site_metrics *metrics;
	/* under lock, while down */
	int64_t since_ms;
	uint64_t unavailable_at_start, dropped_at_start;
	uint64_t held_written; /* journal rows held and written late in this outage */
};

/* name: what the log lines call the store ("/srv/site/autoprov.db"). 0 or -errno. */
int outage_init(struct outage *o, const char *name, struct site_metrics *metrics);
void outage_destroy(struct outage *o);

/*
 * Whether r, a store's error, means the store could not be asked (a lock held too long,
 * a server that cannot be reached, a table that cannot be read): every error but a
 * missing row (-ENOENT), bad input (-EINVAL), no memory (-ENOMEM) and a stored value that
 * does not parse (-EBADMSG).
 */
bool outage_is_store_failure(int r);

/*
 * part failed with why (the store's message): it is in an outage from now on, and asks
 * again after its backoff (which grows). The first part down starts the outage: one
 * warning.
 */
void outage_fail(struct outage *o, unsigned part, const char *why, struct outage_backoff *b);
/*
 * part succeeded: its backoff is reset; when it was the last part down the outage ends:
 * one line with its length, the requests answered "try later" and the journal rows held
 * then written, or dropped. Cheap when the part was not down (one atomic load).
 */
void outage_ok(struct outage *o, unsigned part, struct outage_backoff *b);
/* Whether part is down. */
bool outage_down(const struct outage *o, unsigned part);
/* Whether b lets its part ask the store now. */
bool outage_due(const struct outage_backoff *b);
/* n journal rows held during the outage were written (for the line that ends it). */
void outage_held_written(struct outage *o, uint64_t n);

#endif
