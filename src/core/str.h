// SPDX-License-Identifier: MIT
/*
 * Range-checked parsing of numbers, sizes and booleans (the strtonum habit: a value
 * out of range is an error the caller can name, never a silent wrap).
 */
#ifndef AUTOPROV_CORE_STR_H
#define AUTOPROV_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal digits only, no sign, no spaces. 0, -EINVAL (not a number), -ERANGE. */
int str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* The same over a counted string (not NUL-terminated). */
int str_to_u64_n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *ret);
/* A decimal number with an optional K, M or G suffix (powers of 1024). */
int str_to_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* yes/no, true/false, on/off, 1/0, any case. 0 or -EINVAL. */
int str_to_bool(const char *s, bool *ret);

/* Copies at most dstsz-1 bytes and NUL-terminates; -ENAMETOOLONG if it did not fit. */
int str_copy(char *dst, size_t dstsz, const char *src);
/* The n bytes at s (NULs included) as a new NUL-terminated string; NULL on no memory. */
char *str_dup_n(const char *s, size_t n);

/*
 * A string made by appending into a caller's buffer of size bytes (> 0): what does not fit
 * is cut, the string always NUL-terminated. For a line built per request, without printf.
 */
struct str_buf {
	char *s;
	size_t size, len;
	bool cut; /* something did not fit */
};

void str_buf_init(struct str_buf *b, char *s, size_t size);
/* Appends s (NULL: nothing). */
void str_buf_add(struct str_buf *b, const char *s);
/* Appends v in decimal. */
void str_buf_add_u64(struct str_buf *b, uint64_t v);

#endif
