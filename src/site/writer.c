// SPDX-License-Identifier: MIT
/*
 * The journal's writer (site/writer.h): the bounded queue the loop appends to, and the
 * rounds that write it. One round: take what is queued (unless the last batch is still
 * waiting for a busy database), write it in transactions of at most 32 768 rows, write the file
 * versions the loop keeps in memory, take one bounded pruning step. A database that refuses writes
 * makes the journal read-only: one warning, entries dropped and counted, a write tried again every
 * second, a line when it resumes. A thread runs a round every second on its own connection;
 * without one, journal_writer_flush() runs a round on the loop's connection.
 */
#include "site/writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mac.h"
#include "core/str.h"
#include "site/directory.h"
#include "site/metrics.h"
#include "site/outage.h"
#include "site/site.h"

/*
 * The thread's round, at the latest: a round's batch is one transaction, in which a device's
 * rows make one write of its state (store/state.c) and the pages of the state and its indexes
 * are written once, so a longer round writes less per row (10 000 devices asking at random:
 * 7.4 -> 6.1 µs a row from 100 to 250 ms at ~60 000 requests/s; 15 -> 10 µs from 250 to 1 000
 * ms at ~20 000); what a request changes is seen in the database that much later.
 */
#define ROUND_MS 1000
/*
 * The thread's connection's page cache: a row updates a page of the journal, of its
 * per-device index and of the devices' state and its indexes, at random for a fleet
 * (measured in docs/architecture.md, "The journal's writer").
 */
#define WRITER_CACHE_MIB 64
/*
 * Rows written in one transaction at most (half the queue, which wakes the thread):
 * a batch of a fleet's rows revisits the pages of the devices' state, so a larger transaction
 * writes fewer pages per row (bench/journal: 16 -> 10 µs a row from 1 000 to 8 192, 10 000
 * devices); the write lock is held ~0.2 s at most (4-5 µs a row).
 */
#define JOURNAL_TX_MAX (JOURNAL_QUEUE_MAX / 2)
#define DROP_SAY_MS  1000
#define RO_RETRY_MS  1000

/* A write about one device: a certificate binding, or a registration (fingerprint ""). */
struct binding {
	char mac[MAC_LEN + 1];
	char fingerprint[72];
};

struct bindings {
	struct binding *a;
	size_t n;
};

struct journal_writer {
	char *dir;
	char node[SITE_NODE_MAX + 1]; /* what rows without a node are written with */
	struct site_metrics *metrics;
	struct store *loop_st; /* the loop's connection: its versions, and rounds without a thread */
	struct store *own;     /* the thread's connection, or NULL */
	struct journal_queue q;
	struct journal_batch inflight; /* taken from the queue, not yet written */
	struct bindings binds;	       /* under q.lock: queued bindings */
	struct bindings binds_inflight;
	struct journal_pruner pruner;
	/* under q.lock: limits from journal_writer_limits() */
	uint64_t new_age, new_rows;
	bool new_limits;

	pthread_t thread;
	bool threaded;	 /* the thread runs */
	bool may_start;	 /* journal_writer_start() was called: privileges are dropped */
	bool start_due;	 /* the database is shared again: start the thread */
	bool probed;	 /* the first round tried a write */
	bool ro;	 /* writes refused (atomic: read by the loop) */
	uint64_t ro_lost; /* entries dropped while read-only */
	int64_t retry_at; /* monotonic ms of the next try while read-only */
	int64_t dropped_said;
	uint64_t dropped;
	bool versions_said;
	struct outage *outage; /* NULL: none (unreachable is read-only) */
	struct outage_backoff backoff;
	bool outage_drops_said; /* the drops of this outage were said */
	bool lost; /* the connection broke (-ENOTCONN): connect again before the next try */
};

static int64_t mono_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- the batch and the queue ---- */

/* A batch's text block: the size of most; what a batch keeps at least once written. */
#define TEXT_BLOCK 65536
#define TEXT_KEEP  (16 * TEXT_BLOCK)

void journal_batch_clear(struct journal_batch *b)
{
	struct journal_text **at = &b->text;
	size_t used = 0, kept = 0;

	for (struct journal_text *t = b->text; t; t = t->next)
		used += t->used;
	b->n = 0;
	b->fill = NULL;
	/*
	 * The blocks stay for the next entries, as many as this batch filled (the queue's
	 * bound bounds them) or TEXT_KEEP bytes: a load that lasts allocates nothing, and
	 * what a burst took goes with the next smaller batch.
	 */
	while (*at) {
		struct journal_text *t = *at;

		if (t->size == TEXT_BLOCK && (kept < used || kept + t->size <= TEXT_KEEP)) {
			t->used = 0;
			kept += t->size;
			at = &t->next;
		} else {
			*at = t->next;
			free(t);
		}
	}
}

void journal_batch_free(struct journal_batch *b)
{
	while (b->text) {
		struct journal_text *t = b->text;

		b->text = t->next;
		free(t);
	}
	free(b->e);
	b->e = NULL;
	b->fill = NULL;
	b->n = b->cap = 0;
}

/* Room for n more entries in b: 0 or -ENOMEM. */
static int batch_reserve(struct journal_batch *b, size_t n)
{
	struct journal_entry *a;
	size_t cap = b->cap ? b->cap : 256;

	if (b->n + n <= b->cap)
		return 0;
	while (cap < b->n + n)
		cap *= 2;
	a = realloc(b->e, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	b->e = a;
	b->cap = cap;
	return 0;
}

/* A block of b with room for n bytes of text, or NULL (no memory). */
static struct journal_text *text_reserve(struct journal_batch *b, size_t n)
{
	struct journal_text *t, **at;

	if (!b->fill)
		b->fill = b->text;
	for (; b->fill; b->fill = b->fill->next)
		if (b->fill->size - b->fill->used >= n)
			return b->fill;
	for (at = &b->text; *at; at = &(*at)->next)
		;
	t = malloc(sizeof(*t) + (n > TEXT_BLOCK ? n : TEXT_BLOCK));
	if (!t)
		return NULL;
	t->used = 0;
	t->size = n > TEXT_BLOCK ? n : TEXT_BLOCK;
	t->next = NULL;
	*at = t;
	b->fill = t;
	return t;
}

/* Copies s into *pos (advancing it) and returns the copy; NULL stays NULL. */
static const char *pack(char **pos, const char *s)
{
	char *at = *pos;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(at, s, n);
	*pos += n;
	return at;
}

/* Appends a copy of e (its strings in b's text): 0 or -ENOMEM. */
static int batch_append(struct journal_batch *b, const struct journal_entry *e)
{
	const char *strs[] = {
		e->proto, e->peer, e->mac, e->path, e->outcome, e->md5, e->user_agent, e->detail, e->node
	};
	struct journal_text *t;
	struct journal_entry *c;
	size_t total = 0;
	char *pos;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		total += strs[i] ? strlen(strs[i]) + 1 : 0;
	if (batch_reserve(b, 1) < 0 || !(t = text_reserve(b, total)))
		return -ENOMEM;
	pos = t->data + t->used;
	t->used += total;
	c = &b->e[b->n++];
	*c = *e;
	c->proto = pack(&pos, e->proto);
	c->peer = pack(&pos, e->peer);
	c->mac = pack(&pos, e->mac);
	c->path = pack(&pos, e->path);
	c->outcome = pack(&pos, e->outcome);
	c->md5 = pack(&pos, e->md5);
	c->user_agent = pack(&pos, e->user_agent);
	c->detail = pack(&pos, e->detail);
	c->node = pack(&pos, e->node);
	return 0;
}

int journal_queue_init(struct journal_queue *q, size_t max)
{
	int r;

	memset(q, 0, sizeof(*q));
	q->max = max ? max : 1;
	q->wake_at = q->max / 2 ? q->max / 2 : 1;
	r = pthread_mutex_init(&q->lock, NULL);
	if (r != 0)
		return -r;
	r = pthread_cond_init(&q->wake, NULL);
	if (r != 0) {
		pthread_mutex_destroy(&q->lock);
		return -r;
	}
	return 0;
}

void journal_queue_destroy(struct journal_queue *q)
{
	journal_batch_free(&q->queued);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
}

int journal_queue_push(struct journal_queue *q, const struct journal_entry *e)
{
	int r;

	/* a copy of a few hundred bytes into memory the batch already has: the writer never
	 * waits long for it */
	pthread_mutex_lock(&q->lock);
	r = q->queued.n >= q->max ? -ENOBUFS : batch_append(&q->queued, e);
	if (r < 0) {
		q->dropped++;
		if (q->metrics)
			metrics_add(q->outage && outage_down(q->outage, OUTAGE_WRITES)
					    ? &q->metrics->journal_dropped_outage
					    : &q->metrics->journal_dropped_full,
				    1);
		pthread_mutex_unlock(&q->lock);
		return r;
	}
	if (q->metrics)
		metrics_set(&q->metrics->journal_queued, q->queued.n);
	if (q->queued.n == q->wake_at)
		pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

size_t journal_queue_take(struct journal_queue *q, struct journal_batch *out)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->queued.n;
	if (out->n == 0) {
		/* the double buffer: the arrays change places, nothing is copied */
		struct journal_batch b = *out;

		*out = q->queued;
		q->queued = b;
	} else if (n > 0 && batch_reserve(out, n) == 0) {
		struct journal_text **end = &out->text;

		/* the entries, and the blocks holding their strings, go to the end of out */
		memcpy(out->e + out->n, q->queued.e, n * sizeof(*out->e));
		out->n += n;
		while (*end)
			end = &(*end)->next;
		*end = q->queued.text;
		q->queued.text = q->queued.fill = NULL;
		q->queued.n = 0;
	} else {
		n = 0; /* no memory to move them now: they stay queued */
	}
	if (q->metrics)
		metrics_set(&q->metrics->journal_queued, q->queued.n);
	pthread_mutex_unlock(&q->lock);
	return n;
}

uint64_t journal_queue_dropped(struct journal_queue *q)
{
	uint64_t n;

	pthread_mutex_lock(&q->lock);
	n = q->dropped;
	q->dropped = 0;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* ---- the writer ---- */

int journal_writer_new(const char *dir, struct store *st, uint64_t max_age, uint64_t max_rows,
		       struct site_metrics *metrics, struct journal_writer **ret)
{
	struct journal_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->dir = strdup(dir);
	if (!w->dir) {
		free(w);
		return -ENOMEM;
	}
	w->binds.a = calloc(BINDING_QUEUE_MAX, sizeof(*w->binds.a));
	w->binds_inflight.a = calloc(2 * BINDING_QUEUE_MAX, sizeof(*w->binds_inflight.a));
	r = w->binds.a && w->binds_inflight.a ? journal_queue_init(&w->q, JOURNAL_QUEUE_MAX)
					      : -ENOMEM;
	if (r < 0) {
		free(w->binds.a);
		free(w->binds_inflight.a);
		free(w->dir);
		free(w);
		return r;
	}
	w->loop_st = st;
	w->metrics = metrics;
	w->q.metrics = metrics;
	store_journal_pruner_init(&w->pruner, max_age, max_rows);
	*ret = w;
	return 0;
}

void journal_writer_set_node(struct journal_writer *w, const char *node)
{
	str_copy(w->node, sizeof(w->node), node ? node : "");
}

void journal_writer_set_outage(struct journal_writer *w, struct outage *o)
{
	w->outage = o;
	w->q.outage = o;
}

bool journal_writer_unreachable(int r, bool threaded)
{
	switch (r) {
	case -EBUSY: return threaded; /* without a thread, a busy database is waited for */
	case -ENOTCONN:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -EHOSTDOWN:
	case -ENETUNREACH:
	case -ENETDOWN:
	case -EPIPE:
	case -ESHUTDOWN: return true;
	default: return false;
	}
}

/* Whether the writer is in an outage of the store. */
static bool writer_down(const struct journal_writer *w)
{
	return w->outage && outage_down(w->outage, OUTAGE_WRITES);
}

bool journal_writer_threaded(const struct journal_writer *w)
{
	return w->threaded;
}

bool journal_writer_readonly(const struct journal_writer *w)
{
	return __atomic_load_n(&w->ro, __ATOMIC_RELAXED);
}

void journal_writer_push(struct journal_writer *w, const struct journal_entry *e)
{
	(void)journal_queue_push(&w->q, e);
}

int journal_writer_bind(struct journal_writer *w, const char *mac, const char *fingerprint)
{
	struct binding *b;
	int r = -ENOBUFS;

	pthread_mutex_lock(&w->q.lock);
	if (w->binds.n < BINDING_QUEUE_MAX) {
		b = &w->binds.a[w->binds.n];
		if (str_copy(b->mac, sizeof(b->mac), mac) == 0 &&
		    str_copy(b->fingerprint, sizeof(b->fingerprint), fingerprint) == 0) {
			w->binds.n++;
			pthread_cond_signal(&w->q.wake);
			r = 0;
		} else {
			r = -EINVAL;
		}
	}
	pthread_mutex_unlock(&w->q.lock);
	return r;
}

int journal_writer_register(struct journal_writer *w, const char *mac)
{
	return journal_writer_bind(w, mac, "");
}

void journal_writer_limits(struct journal_writer *w, uint64_t max_age, uint64_t max_rows)
{
	pthread_mutex_lock(&w->q.lock);
	w->new_age = max_age;
	w->new_rows = max_rows;
	w->new_limits = true;
	pthread_mutex_unlock(&w->q.lock);
}

/* The connection rounds write through. */
static struct store *writer_store(struct journal_writer *w)
{
	return w->own ? w->own : w->loop_st;
}

/*
 * Writes the batch in flight, JOURNAL_TX_MAX rows a transaction: 0 (it is emptied) or a
 * negative errno (what was written left it; the rest is kept).
 */
static int batch_write(struct journal_writer *w)
{
	struct journal_entry *e = w->inflight.e;
	size_t n = w->inflight.n, done = 0;
	int r = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!e[i].node && w->node[0])
			e[i].node = w->node;
	/*
	 * A transaction per JOURNAL_TX_MAX rows: the store's write lock (one for every node
	 * on PostgreSQL) is never held for a whole backlog, so the CLI, the admin API and the
	 * other nodes get it between two.
	 */
	while (done < n) {
		size_t k = n - done < JOURNAL_TX_MAX ? n - done : JOURNAL_TX_MAX;

		r = store_journal_append(writer_store(w), e + done, k);
		if (r < 0)
			break;
		store_journal_pruner_appended(&w->pruner, k);
		done += k;
	}
	if (done == n) {
		journal_batch_clear(&w->inflight);
		return 0;
	}
	/* what was written leaves the batch (its strings stay until it is cleared); the rest
	 * is kept, in order */
	memmove(e, e + done, (n - done) * sizeof(*e));
	w->inflight.n = n - done;
	return r;
}

/*
 * Writes the bindings taken from the queue (taking the queued ones when none wait, or all
 * of them when final): each is
 * written or refused and said; a busy database (without a thread) keeps the rest.
 */
static void bindings_write(struct journal_writer *w, bool final)
{
	struct bindings *in = &w->binds_inflight;
	size_t done = 0;

	if (in->n == 0 || final) {
		/* in holds BINDING_QUEUE_MAX more than the queue: the queue fits */
		pthread_mutex_lock(&w->q.lock);
		memcpy(in->a + in->n, w->binds.a, w->binds.n * sizeof(*in->a));
		in->n += w->binds.n;
		w->binds.n = 0;
		pthread_mutex_unlock(&w->q.lock);
	}
	for (; done < in->n; done++) {
		const struct binding *b = &in->a[done];
		char err[256];
		int r;

		if (!b->fingerprint[0]) {
			r = store_device_register_pending(writer_store(w), b->mac);
			if (r == -EBUSY || journal_writer_unreachable(r, true))
				break;
			if (r < 0)
				log_warnx("journal", "device %s is not registered as pending: %s",
					  b->mac, store_strerror(writer_store(w)));
			continue;
		}
		r = store_device_set_var_once(writer_store(w), b->mac, DIRECTORY_CERT_VAR,
					      b->fingerprint, err, sizeof(err));
		if (r == -EBUSY || journal_writer_unreachable(r, true))
			break;
		if (r < 0)
			log_warnx("journal",
				  "certificate %s is not bound to device %s: %s (a certificate of "
				  "the device binds again on its next request if none is bound)",
				  b->fingerprint, b->mac, err);
	}
	memmove(in->a, in->a + done, (in->n - done) * sizeof(*in->a));
	in->n -= done;
}

/* The batch taken is lost: the database refuses writes (counted, said when it resumes). */
static void drop_inflight(struct journal_writer *w)
{
	w->ro_lost += w->inflight.n;
	metrics_add(&w->metrics->journal_dropped_readonly, w->inflight.n);
	journal_batch_clear(&w->inflight);
}

/* The database refused a write with r: the journal goes read-only, said once. */
static void go_readonly(struct journal_writer *w, int r, int64_t now)
{
	__atomic_store_n(&w->ro, true, __ATOMIC_RELAXED);
	metrics_set(&w->metrics->journal_readonly, 1);
	w->retry_at = now + RO_RETRY_MS;
	log_warnx(
		"journal",
		"%s/autoprov.db refuses writes (%s): the journal is read-only, requests are counted but "
		"not recorded, and new file versions are kept in memory, until writes "
		"succeed again%s",
		w->dir, strerror(-r),
		store_exclusive(writer_store(w))
			? "; the database is open exclusively (no room for its -shm file): "
			  "other autoprov commands cannot open it until then"
			: "");
}

static int start_thread(struct journal_writer *w);

/* While read-only: a write every second; the batch is dropped while they fail. */
static void retry_readonly(struct journal_writer *w, int64_t now)
{
	struct store *st = writer_store(w);
	int r;

	if (now < w->retry_at)
		return;
	w->retry_at = now + RO_RETRY_MS;
	r = w->inflight.n ? batch_write(w) : store_probe_write(st);
	if (r == -EBUSY)
		return;
	if (r < 0) {
		drop_inflight(w);
		return;
	}
	__atomic_store_n(&w->ro, false, __ATOMIC_RELAXED);
	metrics_set(&w->metrics->journal_readonly, 0);
	log_info("journal",
		 "%s/autoprov.db takes writes again: the journal resumes (%llu requests were not "
		 "recorded meanwhile)",
		 w->dir, (unsigned long long)w->ro_lost);
	w->ro_lost = 0;
	if (!store_exclusive(st))
		return;
	/* only without a thread: a thread's connection is never exclusive */
	r = store_reconnect(st);
	if (r < 0 || store_exclusive(st)) {
		log_warnx("journal", "%s/autoprov.db stays open exclusively: %s", w->dir,
			  r < 0 ? store_strerror(st) : "no room for its -shm file");
		return;
	}
	log_info("journal", "%s/autoprov.db is shared with other autoprov commands again", w->dir);
	/* a daemon: its writer gets its thread, at the end of this round */
	w->start_due = w->may_start;
}

/*
 * One round (see the file's comment). final: everything queued is taken, a busy database
 * is waited for, no pruning. Returns 0 or -EBUSY (the batch is kept).
 */
static int writer_round(struct journal_writer *w, bool final)
{
	struct store *st = writer_store(w);
	int64_t now = mono_ms();
	uint64_t dropped;
	bool more;
	int r = 0;

	pthread_mutex_lock(&w->q.lock);
	if (w->new_limits) {
		store_journal_pruner_set(&w->pruner, w->new_age, w->new_rows);
		w->new_limits = false;
	}
	pthread_mutex_unlock(&w->q.lock);
	dropped = journal_queue_dropped(&w->q);
	if (writer_down(w)) {
		/* one line per outage: the line that ends it says how many */
		if (dropped && !w->outage_drops_said)
			log_warnx("journal",
				  "%zu journal rows are held for the store: requests beyond are "
				  "not recorded until it is back (counted)",
				  w->inflight.n + JOURNAL_QUEUE_MAX);
		w->outage_drops_said |= dropped > 0;
		dropped = 0;
	}
	w->dropped += dropped;
	if (w->dropped && (final || now - w->dropped_said >= DROP_SAY_MS)) {
		log_warnx("journal", "%llu requests not recorded: the journal could not keep up",
			  (unsigned long long)w->dropped);
		w->dropped = 0;
		w->dropped_said = now;
	}
	if (writer_down(w) && !final && !outage_due(&w->backoff))
		return 0; /* the store is not asked before the backoff says so */
	/*
	 * The loop must not wait for a command-line import holding the database: without a
	 * thread a busy database keeps the batch for the next round (its size is bounded). The
	 * thread waits, as every writer does, and the queue takes what comes meanwhile.
	 */
	store_set_wait(st, w->threaded || final ? STORE_BUSY_TIMEOUT_MS : 0);
	if (!w->probed && !final) {
		/* the first round: say at once if the disk takes no writes */
		w->probed = true;
		r = store_probe_write(st);
		if (r < 0 && w->outage && journal_writer_unreachable(r, true))
			outage_fail(w->outage, OUTAGE_WRITES, store_strerror(st), &w->backoff);
		else if (r < 0 && r != -EBUSY)
			go_readonly(w, r, now);
		r = 0;
	}
	bindings_write(w, final);
	if (w->inflight.n == 0 || final)
		(void)journal_queue_take(&w->q, &w->inflight);
	if (w->ro) {
		retry_readonly(w, now);
		if (w->ro) {
			drop_inflight(w);
		}
	} else {
		size_t n = w->inflight.n;

		r = w->lost ? store_reconnect(st) : 0;
		if (r == 0) {
			w->lost = false;
			r = batch_write(w);
		}
		w->lost |= r == -ENOTCONN;
		if (r < 0 && w->outage && journal_writer_unreachable(r, w->threaded || final)) {
			/* held, not dropped: written once the store answers */
			outage_fail(w->outage, OUTAGE_WRITES, store_strerror(st), &w->backoff);
			metrics_set(&w->metrics->journal_held, w->inflight.n);
			store_set_wait(st, STORE_BUSY_TIMEOUT_MS);
			if (final)
				log_warnx("journal",
					  "%zu journal rows held are lost: the store cannot be "
					  "reached at the stop",
					  w->inflight.n);
			return final ? r : 0;
		} else if (r < 0 && r != -EBUSY) {
			go_readonly(w, r, now);
			drop_inflight(w);
			r = 0;
		} else if (r == 0 && writer_down(w)) {
			outage_held_written(w->outage, n);
			metrics_set(&w->metrics->journal_held, 0);
			w->outage_drops_said = false;
			outage_ok(w->outage, OUTAGE_WRITES, &w->backoff);
		}
	}
	if (!w->ro && store_versions_pending(w->loop_st) > 0 &&
	    store_versions_sync_to(w->loop_st, st) == 0 && w->versions_said) {
		log_info("journal", "the file versions kept in memory are written");
		w->versions_said = false;
	}
	if (store_versions_pending(w->loop_st) > 0 && w->ro && !w->versions_said) {
		log_warnx(
			"journal",
			"%zu file versions kept in memory: %s/autoprov.db takes no writes; they are served "
			"and written when it does",
			store_versions_pending(w->loop_st), w->dir);
		w->versions_said = true;
	}
	if (!w->ro && !final) {
		int d = store_journal_prune_step(st, &w->pruner, &more);

		if (d < 0 && d != -EBUSY)
			log_debug("journal", "cannot prune now: %s", store_strerror(st));
	}
	store_set_wait(st, STORE_BUSY_TIMEOUT_MS);
	if (w->start_due) {
		char err[512] = "";

		/* the last thing this round does: from here on the thread owns the writer */
		w->start_due = false;
		if (journal_writer_open(w, err, sizeof(err)) < 0 || start_thread(w) < 0)
			log_warnx("journal", "the journal stays written by the loop: %s",
				  err[0] ? err : "cannot start its thread");
	}
	return r;
}

static void *writer_main(void *arg)
{
	struct journal_writer *w = arg;
	bool stop = false;

	log_set_thread_direct();
	while (!stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += ROUND_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&w->q.lock);
		while (!w->q.stop && w->q.queued.n < w->q.wake_at && w->binds.n == 0 &&
		       pthread_cond_timedwait(&w->q.wake, &w->q.lock, &until) == 0)
			;
		stop = w->q.stop;
		pthread_mutex_unlock(&w->q.lock);
		(void)writer_round(w, stop);
	}
	return NULL;
}

int journal_writer_open(struct journal_writer *w, char *err, size_t errsz)
{
	int r;

	if (w->own)
		return 0;
	if (!store_threadsafe()) {
		snprintf(err, errsz, "SQLite is built without thread support");
		return -ENOTSUP;
	}
	if (store_exclusive(w->loop_st)) {
		snprintf(err, errsz, "%s/autoprov.db is open exclusively", w->dir);
		return -EBUSY;
	}
	r = store_open_like(w->loop_st, &w->own, err, errsz);
	if (r < 0) {
		w->own = NULL;
	} else {
		store_count_errors(w->own, w->metrics->store_errors);
		store_set_cache(w->own, WRITER_CACHE_MIB);
	}
	return r;
}

static int start_thread(struct journal_writer *w)
{
	int r;

	if (w->threaded || !w->own)
		return 0;
	/* from now on the loop keeps new versions in memory and the thread writes them */
	store_set_versions_deferred(w->loop_st, true);
	w->threaded = true;
	r = pthread_create(&w->thread, NULL, writer_main, w);
	if (r != 0) {
		w->threaded = false;
		store_set_versions_deferred(w->loop_st, false);
		store_close(w->own);
		w->own = NULL;
		return -r;
	}
	return 0;
}

int journal_writer_start(struct journal_writer *w)
{
	w->may_start = true;
	return start_thread(w);
}

int journal_writer_flush(struct journal_writer *w)
{
	if (w->threaded)
		return 0;
	return writer_round(w, false);
}

void journal_writer_free(struct journal_writer *w)
{
	if (!w)
		return;
	if (w->threaded) {
		pthread_mutex_lock(&w->q.lock);
		w->q.stop = true;
		pthread_cond_signal(&w->q.wake);
		pthread_mutex_unlock(&w->q.lock);
		pthread_join(w->thread, NULL);
		store_set_versions_deferred(w->loop_st, false);
	} else if (w->loop_st) {
		(void)writer_round(w, true);
	}
	store_close(w->own);
	journal_batch_free(&w->inflight);
	free(w->binds.a);
	free(w->binds_inflight.a);
	journal_queue_destroy(&w->q);
	free(w->dir);
	free(w);
}
