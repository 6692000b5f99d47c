// SPDX-License-Identifier: MIT
/*
 * A small ordered string map: an agent's settings, its applied configuration and its
 * remembered checksums. Keys keep their first insertion order (a configuration applied in
 * file order stays in file order); a set of an existing key replaces its value in place.
 * Maps are small (hundreds of entries), so lookups are linear.
 */
#ifndef AUTOPROV_AGENT_KVMAP_H
#define AUTOPROV_AGENT_KVMAP_H

#include <stddef.h>

struct kvmap {
	char **keys;
	char **values;
	size_t n, cap;
};

/* The value of key, or NULL. */
const char *kvmap_get(const struct kvmap *m, const char *key);
/* Sets key to value (copied); value NULL removes the key. */
int kvmap_set(struct kvmap *m, const char *key, const char *value);
/* Sets key to len bytes of value (copied, NUL added). */
int kvmap_setn(struct kvmap *m, const char *key, const char *value, size_t len);
void kvmap_clear(struct kvmap *m);
/* Replaces dst's contents by a copy of src's. */
int kvmap_copy(struct kvmap *dst, const struct kvmap *src);

#endif
