// SPDX-License-Identifier: MIT
/*
 * Table-driven INI configuration: a table of { section, key, type, offset } entries
 * fills one struct (inih does the lexing). An unknown section or key, or a bad value,
 * is an error that names the file and the line.
 */
#ifndef AUTOPROV_CORE_CONF_H
#define AUTOPROV_CORE_CONF_H

#include <stddef.h>
#include <stdint.h>

enum conf_type {
	CONF_UINT,   /* unsigned or uint64_t (by size), decimal, within min..max */
	CONF_SIZE,   /* uint64_t with an optional K/M/G suffix, within min..max */
	CONF_BOOL,   /* bool */
	CONF_STRING, /* char[size], NUL-terminated */
	CONF_CUSTOM, /* parse() decides */
};

struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t offset;
	size_t size;
	uint64_t min, max;
	/* CONF_CUSTOM: 0, or a negative errno with a reason written to err. */
	int (*parse)(void *field, const char *value, char *err, size_t errsz);
};

#define CONF_KEY_END                                                                               \
	{                                                                                          \
		NULL, NULL, CONF_UINT, 0, 0, 0, 0, NULL                                            \
	}

/*
 * Applies the file's keys over what obj already holds (the caller fills defaults first).
 * Returns 0; -ENOENT (or another errno) if the file cannot be read, with err saying so;
 * -EINVAL with "PATH:LINE: reason" in err for the first bad line.
 */
int conf_load(const char *path, const struct conf_key *keys, void *obj, char *err, size_t errsz);

#endif
