// SPDX-License-Identifier: MIT
/* The agent's ordered string map (kvmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kvmap.h"

static ssize_t kvmap_find(const struct kvmap *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return (ssize_t)i;
	return -1;
}

const char *kvmap_get(const struct kvmap *m, const char *key)
{
	ssize_t i = kvmap_find(m, key);
	return i < 0 ? NULL : m->values[i];
}

int kvmap_setn(struct kvmap *m, const char *key, const char *value, size_t len)
{
	ssize_t i = kvmap_find(m, key);
	char *copy = strndup(value, len);
	if (!copy)
		return -ENOMEM;
	if (i >= 0) {
		free(m->values[i]);
		m->values[i] = copy;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		char **k = realloc(m->keys, cap * sizeof(*k));
		if (k)
			m->keys = k;
		char **v = k ? realloc(m->values, cap * sizeof(*v)) : NULL;
		if (!v) {
			free(copy);
			return -ENOMEM;
		}
		m->values = v;
		m->cap = cap;
	}
	m->keys[m->n] = strdup(key);
	if (!m->keys[m->n]) {
		free(copy);
		return -ENOMEM;
	}
	m->values[m->n++] = copy;
	return 0;
}

int kvmap_set(struct kvmap *m, const char *key, const char *value)
{
	if (value)
		return kvmap_setn(m, key, value, strlen(value));
	ssize_t i = kvmap_find(m, key);
	if (i < 0)
		return 0;
	free(m->keys[i]);
	free(m->values[i]);
	memmove(m->keys + i, m->keys + i + 1, (m->n - (size_t)i - 1) * sizeof(*m->keys));
	memmove(m->values + i, m->values + i + 1, (m->n - (size_t)i - 1) * sizeof(*m->values));
	m->n--;
	return 0;
}

void kvmap_clear(struct kvmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	*m = (struct kvmap){ 0 };
}

int kvmap_copy(struct kvmap *dst, const struct kvmap *src)
{
	struct kvmap copy = { 0 };
	for (size_t i = 0; i < src->n; i++) {
		int r = kvmap_set(&copy, src->keys[i], src->values[i]);
		if (r < 0) {
			kvmap_clear(&copy);
			return r;
		}
	}
	kvmap_clear(dst);
	*dst = copy;
	return 0;
}
