// SPDX-License-Identifier: MIT
/*
 * The journal's writer: what takes journal rows, certificate bindings and rendered-file
 * versions from the loop thread to the database. The loop only appends a copy of each entry to a bounded queue (a
 * mutex-protected double buffer: the loop fills one array while the writer writes the
 * other); a full queue counts the entry as dropped, and the drops are logged at most once a
 * second. In a daemon a thread of its own, with its own SQLite connection, wakes every
 * second (or sooner when the queue is half full), writes the batch in transactions of at most 32 768 rows, writes
 * the file versions the loop keeps in memory (store_set_versions_deferred), takes one
 * bounded step of pruning, and handles a database that refuses writes (a full disk). So the
 * loop never waits for the database. Without a thread (the command-line tools, or a daemon
 * whose database is open exclusively on a full disk) the same work runs synchronously in
 * journal_writer_flush() on the caller's connection, never waiting for a busy database.
 */
#ifndef AUTOPROV_SITE_WRITER_H
#define AUTOPROV_SITE_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct site_metrics;
struct outage;

/* Entries the queue holds (the writer may hold as many more, being written). */
#define JOURNAL_QUEUE_MAX 65536

/* A block of the strings of a batch's entries: filled, never moved, reused once written. */
struct journal_text {
	struct journal_text *next;
	size_t used, size;
	char data[];
};

/*
 * Entries with their strings owned by the batch: copied into blocks the batch keeps from
 * one round to the next, so appending allocates nothing once the blocks are there.
 */
struct journal_batch {
	struct journal_entry *e;
	size_t n, cap;
	struct journal_text *text; /* the blocks, in the order they are filled */
	struct journal_text *fill; /* the one being filled (those before it are full) */
};

void journal_batch_clear(struct journal_batch *b); /* empties it, keeps (some) memory */
void journal_batch_free(struct journal_batch *b);

/*
 * The bounded queue between the loop (journal_queue_push) and the writer
 * (journal_queue_take): order is kept, memory is bounded by max entries, pushing never
 * waits for anything but the mutex, which the writer holds only to swap arrays.
 */
struct journal_queue {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer: entries are waiting, or stop */
	struct journal_batch queued;
	size_t max;
	size_t wake_at;	  /* entries that wake the writer before its timer */
	uint64_t dropped; /* since the last journal_queue_dropped() */
	bool stop;
	struct site_metrics *metrics; /* its length and drops are counted there, or NULL */
	struct outage *outage; /* drops during the store's outage are counted as such, or NULL */
};

int journal_queue_init(struct journal_queue *q, size_t max); /* 0 or -errno */
void journal_queue_destroy(struct journal_queue *q);
/* Copies e (its strings too): 0, or -ENOBUFS (full) / -ENOMEM, the entry counted as dropped. */
int journal_queue_push(struct journal_queue *q, const struct journal_entry *e);
/* Moves every entry queued, in order, to the end of out. Returns how many. */
size_t journal_queue_take(struct journal_queue *q, struct journal_batch *out);
/* Entries dropped since the last call (and resets the count). */
uint64_t journal_queue_dropped(struct journal_queue *q);

struct journal_writer;

/*
 * A writer for the site in dir, writing through st (the loop's connection) until
 * journal_writer_start() gives it a thread. Pruning keeps max_age seconds and max_rows
 * rows (0: no limit). The queue's length, the entries dropped, whether the journal is
 * read-only and the errors of the thread's connection are counted in metrics (kept alive
 * by the caller). 0 or -ENOMEM.
 */
int journal_writer_new(const char *dir, struct store *st, uint64_t max_age, uint64_t max_rows,
		       struct site_metrics *metrics, struct journal_writer **ret);
/*
 * Stops the thread after a final flush of everything queued (waiting for a busy database
 * up to STORE_BUSY_TIMEOUT_MS), or flushes synchronously without one; then frees.
 */
void journal_writer_free(struct journal_writer *w);
/*
 * Opens the thread's own connection to DIR/autoprov.db: before the daemon drops its
 * privileges (the connection is then open whoever owns the files). Not done when st is
 * open exclusively (a full disk at start: no second connection can open; the writer stays
 * synchronous until the database is shared again). 0 or a negative errno with err.
 */
int journal_writer_open(struct journal_writer *w, char *err, size_t errsz);
/*
 * Starts the thread on the connection opened (after the privileges are dropped: a thread
 * inherits the confinement of the one that creates it). Without a connection it is noted
 * that a thread may start, once the database is shared again. 0 or a negative errno.
 */
int journal_writer_start(struct journal_writer *w);
bool journal_writer_threaded(const struct journal_writer *w);
/*
 * The node name rows are written with when they name none ([server] node; "" none). Set
 * before journal_writer_start(): the thread reads it without a lock.
 */
void journal_writer_set_node(struct journal_writer *w, const char *node);
/*
 * The site's outage state (site/outage.h), set before journal_writer_start(). With it, a
 * store that cannot be reached (journal_writer_unreachable) is an outage, not a read-only
 * journal: the batch taken is held, not dropped, the queue fills up to JOURNAL_QUEUE_MAX
 * (beyond, entries are dropped and counted as the outage's), and the store is asked again
 * when the backoff says so; the rows held are written, in order, once it answers.
 */
void journal_writer_set_outage(struct journal_writer *w, struct outage *o);
/*
 * Whether r, a store's error on a write, means the store could not be reached (the rows
 * are held): a database held by another process longer than the wait (-EBUSY, with a
 * thread), a server that cannot be reached (-ENOTCONN, -ECONNREFUSED, -ECONNRESET,
 * -ETIMEDOUT, -EHOSTUNREACH, ...). Other failures (-ENOSPC, -EROFS, -EIO...) make the
 * journal read-only (rows dropped) as before.
 */
bool journal_writer_unreachable(int r, bool threaded);

/* Queues e (a copy); a full queue counts it as dropped. */
void journal_writer_push(struct journal_writer *w, const struct journal_entry *e);
/*
 * Certificate bindings waiting to be written (one per device's first use: few). Queues the
 * binding of fingerprint to the device of canonical MAC mac, written by the next round
 * with store_device_set_var_once (decided once: a device bound meanwhile keeps its
 * binding, and the refusal is logged). 0, or -ENOBUFS when BINDING_QUEUE_MAX wait.
 */
#define BINDING_QUEUE_MAX 1024
int journal_writer_bind(struct journal_writer *w, const char *mac, const char *fingerprint);
/*
 * Queues the registration of the device of canonical MAC mac, disabled, in the pending group
 * ([server] unknown_devices = register: store_device_register_pending), written by the next
 * round with the bindings and in the same bounded queue. 0, or -ENOBUFS.
 */
int journal_writer_register(struct journal_writer *w, const char *mac);
/* New pruning limits (SIGHUP), taken by the writer at its next round. */
void journal_writer_limits(struct journal_writer *w, uint64_t max_age, uint64_t max_rows);
/*
 * Without a thread: one round of the writer on the caller's connection (see above); 0, or
 * -EBUSY when the database is held by another process (the batch is kept). With a thread:
 * nothing (0).
 */
int journal_writer_flush(struct journal_writer *w);
/* Whether the journal is read-only now (the database refuses writes). */
bool journal_writer_readonly(const struct journal_writer *w);

#endif
