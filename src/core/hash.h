// SPDX-License-Identifier: MIT
/* FNV-1a, for the daemon's in-memory tables (file cache, render cache, peers). */
#ifndef AUTOPROV_CORE_HASH_H
#define AUTOPROV_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_INIT 2166136261u

/* Continues hash h over len bytes; start with HASH_INIT. */
static inline uint32_t hash_bytes(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static inline uint32_t hash_str(const char *s)
{
	uint32_t h = HASH_INIT;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
