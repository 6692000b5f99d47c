// SPDX-License-Identifier: MIT
/*
 * The rendered-file versions (store_version): a key's version goes up when its content's MD5
 * changes. A store that takes no writes keeps them in memory, indexed by key, until they
 * can be written (store_versions_sync).
 */
#include "store/store_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

/* 0 with the stored version and whether content_md5 matches, -ENOENT if key has none. */
static int version_get(struct store *st, const char *key, const char *content_md5,
		       uint64_t *ret_version, bool *ret_same)
{
	struct stmt *stmt;
	int rc, r;

	r = store_stmt(st, STMT_VERSION_GET,
		       "SELECT content_md5, version FROM versions WHERE key = ?1", &stmt);
	if (r < 0)
		return r;
	stmt_bind_text(stmt, 1, key);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW) {
		*ret_same = strcmp(stmt_text(stmt, 0), content_md5) == 0;
		*ret_version = (uint64_t)stmt_int64(stmt, 1);
		r = 0;
	} else {
		r = rc == STMT_DONE ? -ENOENT : store_failed(st, rc);
	}
	stmt_reset(stmt);
	return r;
}

static int version_put(struct store *st, const char *key, const char *content_md5, uint64_t version)
{
	struct stmt *stmt;
	int rc, r;

	r = store_stmt(st, STMT_VERSION_PUT,
		       "INSERT INTO versions (key, content_md5, version) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT (key) DO UPDATE SET content_md5 = excluded.content_md5,"
		       " version = excluded.version",
		       &stmt);
	if (r < 0)
		return r;
	stmt_bind_text(stmt, 1, key);
	stmt_bind_text(stmt, 2, content_md5);
	stmt_bind_int64(stmt, 3, (int64_t)version);
	rc = stmt_step(stmt);
	r = rc == STMT_DONE ? 0 : store_failed(st, rc);
	stmt_reset(stmt);
	return r;
}

/*
 * The index of the pending versions by key (store_impl.h), so a site whose database takes
 * no writes (65 536 versions kept) still finds one in a few probes.
 */
#define PENDING_GONE UINT32_MAX

/* The index slot holding key, or the empty slot where it would go. */
static uint32_t *pending_slot(struct store *st, const char *key)
{
	size_t mask = st->pending_slots - 1, i = hash_str(key) & mask;
	uint32_t *s;

	for (;; i = (i + 1) & mask) {
		s = &st->pending_index[i];
		if (*s == 0 || (*s != PENDING_GONE && strcmp(st->pending[*s - 1].key, key) == 0))
			return s;
	}
}

/* Rebuilds the index for room for n versions: 0 or -ENOMEM. */
static int pending_reindex(struct store *st, size_t n)
{
	size_t slots = 16;
	uint32_t *idx;

	while (slots < 4 * n)
		slots *= 2;
	idx = calloc(slots, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	free(st->pending_index);
	st->pending_index = idx;
	st->pending_slots = slots;
	st->pending_gone = 0;
	for (size_t i = 0; i < st->npending; i++)
		*pending_slot(st, st->pending[i].key) = (uint32_t)(i + 1);
	return 0;
}

static struct pending_version *pending_find(struct store *st, const char *key)
{
	uint32_t *s;

	if (st->npending == 0)
		return NULL;
	s = pending_slot(st, key);
	return *s ? &st->pending[*s - 1] : NULL;
}

/* Removes p, moving the last version into its place. */
static void pending_remove(struct store *st, struct pending_version *p)
{
	size_t at = (size_t)(p - st->pending), last = st->npending - 1;

	*pending_slot(st, p->key) = PENDING_GONE;
	st->pending_gone++;
	free(p->key);
	free(p->content_md5);
	if (at != last) {
		st->pending[at] = st->pending[last];
		*pending_slot(st, st->pending[at].key) = (uint32_t)(at + 1);
	}
	st->npending--;
}

/* Keeps version of key in memory: 0, or -ENOMEM / -ENOSPC (too many waiting). */
static int pending_keep(struct store *st, const char *key, const char *content_md5,
			uint64_t version)
{
	struct pending_version *p = pending_find(st, key);
	char *md5 = strdup(content_md5);

	if (!md5)
		return -ENOMEM;
	if (p) {
		free(p->content_md5);
		p->content_md5 = md5;
		p->version = version;
		return 0;
	}
	if (st->npending >= STORE_VERSIONS_PENDING_MAX) {
		free(md5);
		return -ENOSPC;
	}
	if (st->npending == st->pending_cap) {
		size_t cap = st->pending_cap ? st->pending_cap * 2 : 16;
		struct pending_version *a = realloc(st->pending, cap * sizeof(*a));

		if (!a) {
			free(md5);
			return -ENOMEM;
		}
		st->pending = a;
		st->pending_cap = cap;
	}
	if ((st->npending + st->pending_gone + 1) * 2 > st->pending_slots &&
	    pending_reindex(st, st->npending + 1) < 0) {
		free(md5);
		return -ENOMEM;
	}
	p = &st->pending[st->npending];
	p->key = strdup(key);
	if (!p->key) {
		free(md5);
		return -ENOMEM;
	}
	p->content_md5 = md5;
	p->version = version;
	*pending_slot(st, key) = (uint32_t)(++st->npending);
	return 0;
}

void store_pending_clear(struct store *st)
{
	for (size_t i = 0; i < st->npending; i++) {
		free(st->pending[i].key);
		free(st->pending[i].content_md5);
	}
	st->npending = 0;
	free(st->pending_index);
	st->pending_index = NULL;
	st->pending_slots = st->pending_gone = 0;
}

size_t store_versions_pending(struct store *st)
{
	size_t n;

	pthread_mutex_lock(&st->pending_lock);
	n = st->npending;
	pthread_mutex_unlock(&st->pending_lock);
	return n;
}

void store_set_versions_deferred(struct store *st, bool on)
{
	pthread_mutex_lock(&st->pending_lock);
	st->versions_deferred = on;
	pthread_mutex_unlock(&st->pending_lock);
}

bool store_threadsafe(void)
{
	return sqlite3_threadsafe() != 0;
}

static void pending_free(struct pending_version *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].content_md5);
	}
	free(p);
}

/* A copy of st's pending versions (under its lock): 0 or -ENOMEM. */
static int pending_copy(struct store *st, struct pending_version **ret, size_t *ret_n)
{
	struct pending_version *c = NULL;
	size_t n;
	int r = 0;

	pthread_mutex_lock(&st->pending_lock);
	n = st->npending;
	if (n > 0) {
		c = calloc(n, sizeof(*c));
		r = c ? 0 : -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		c[i].key = strdup(st->pending[i].key);
		c[i].content_md5 = strdup(st->pending[i].content_md5);
		c[i].version = st->pending[i].version;
		if (!c[i].key || !c[i].content_md5)
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&st->pending_lock);
	if (r < 0) {
		pending_free(c, n);
		return r;
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

/* Forgets the pending versions of st that are still the ones written (w, n of them). */
static void pending_forget(struct store *st, const struct pending_version *w, size_t n)
{
	pthread_mutex_lock(&st->pending_lock);
	for (size_t i = 0; i < n; i++) {
		struct pending_version *p = pending_find(st, w[i].key);

		/* a newer content of the same file came meanwhile: it waits for the next sync */
		if (!p || p->version != w[i].version || strcmp(p->content_md5, w[i].content_md5))
			continue;
		pending_remove(st, p);
	}
	pthread_mutex_unlock(&st->pending_lock);
}

int store_versions_sync_to(struct store *st, struct store *to)
{
	struct pending_version *w = NULL;
	size_t n = 0;
	int r;

	r = pending_copy(st, &w, &n);
	if (r < 0 || n == 0)
		return r;
	r = store_begin(to, true);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct pending_version *p = &w[i];
		uint64_t stored = 0;
		bool same = false;

		r = version_get(to, p->key, p->content_md5, &stored, &same);
		if (r < 0 && r != -ENOENT)
			goto fail;
		if (r == 0 && same)
			continue; /* another process stored this very content meanwhile */
		/* never a number the database already gave other content */
		r = version_put(to, p->key, p->content_md5,
				r == 0 && stored >= p->version ? stored + 1 : p->version);
		if (r < 0)
			goto fail;
	}
	r = store_commit(to);
	if (r == 0)
		pending_forget(st, w, n);
	goto out;
fail:
	store_rollback(to);
out:
	pending_free(w, n);
	return r;
}

int store_versions_sync(struct store *st)
{
	return store_versions_sync_to(st, st);
}

int store_version(struct store *st, const char *key, const char *content_md5, uint64_t *ret_version)
{
	struct pending_version *p;
	uint64_t version = 0, next;
	bool same = false, deferred;
	int r, r_write;

	/* a version only in memory is newer than the database's */
	pthread_mutex_lock(&st->pending_lock);
	p = pending_find(st, key);
	if (p) {
		r = 0;
		if (strcmp(p->content_md5, content_md5) != 0)
			r = pending_keep(st, key, content_md5, p->version + 1);
		if (r == 0)
			*ret_version = pending_find(st, key)->version;
		pthread_mutex_unlock(&st->pending_lock);
		return r;
	}
	deferred = st->versions_deferred;
	pthread_mutex_unlock(&st->pending_lock);
	/* the usual case, an unchanged file, needs no write lock */
	r = version_get(st, key, content_md5, &version, &same);
	if (r == 0 && same) {
		*ret_version = version;
		return 0;
	}
	if (r < 0 && r != -ENOENT)
		return r;
	next = r == -ENOENT ? 1 : version + 1;
	if (deferred) {
		/* the writer's thread writes it: this thread never waits for the lock */
		r_write = -ENOSPC;
		goto keep;
	}

	r_write = store_begin(st, true);
	if (r_write < 0)
		goto keep;
	/* again under the lock: another process may have stored this very content */
	r = version_get(st, key, content_md5, &version, &same);
	if (r < 0 && r != -ENOENT) {
		store_rollback(st);
		return r;
	}
	if (r == 0 && same) {
		r_write = store_commit(st);
		if (r_write < 0)
			goto keep_same;
		*ret_version = version;
		return 0;
	}
	next = r == -ENOENT ? 1 : version + 1;
	r_write = version_put(st, key, content_md5, next);
	if (r_write < 0) {
		store_rollback(st);
		goto keep;
	}
	r_write = store_commit(st); /* rolls back itself on failure */
	if (r_write < 0)
		goto keep;
	*ret_version = next;
	return 0;

keep_same:
	*ret_version = version;
	return 0;
keep:
	/* the database cannot take it now (or the writer takes it): serve it, write it later */
	pthread_mutex_lock(&st->pending_lock);
	r = pending_keep(st, key, content_md5, next);
	pthread_mutex_unlock(&st->pending_lock);
	if (r < 0)
		return r_write;
	*ret_version = next;
	return 0;
}
