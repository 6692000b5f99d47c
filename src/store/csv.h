// SPDX-License-Identifier: MIT
/*
 * CSV as RFC 4180 writes it (quoted fields may hold commas, quotes and line breaks; a quote
 * inside is doubled), read from a buffer in memory so the parser does no I/O and can be fed
 * anything by the tests. Records end in CRLF or LF. Strict where leniency would change data
 * silently: a quote inside an unquoted field, text after a closing quote and an unterminated
 * quote are errors, not guesses.
 */
#ifndef AUTOPROV_STORE_CSV_H
#define AUTOPROV_STORE_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Caps on what one record may make us allocate. */
#define CSV_MAX_FIELD  (64u << 10) /* bytes in one field */
#define CSV_MAX_FIELDS 1024	   /* fields in one record */

struct csv_reader {
	const char *buf;
	size_t len, pos;
	unsigned long record; /* number of the record last read, from 1 */
	bool blank;	      /* the record last read was an empty line */

	/* the current record: fields[i] points into text, each NUL-terminated */
	char **fields;
	size_t nfields;

	char *text;
	size_t text_len, text_cap;
	size_t *offsets;
	size_t fields_cap;
};

void csv_reader_init(struct csv_reader *r, const char *buf, size_t len);
void csv_reader_done(struct csv_reader *r);

/*
 * Reads the next record: 1 with r->fields[0..r->nfields) (valid until the next call), 0 at
 * the end of the input, -EINVAL (malformed) or -E2BIG (over a cap) with *ret_why a reason,
 * -ENOMEM. An empty line is a record of one empty field with r->blank set.
 */
int csv_read(struct csv_reader *r, const char **ret_why);

/* Writes s as one field, quoted when it must be (or when spreadsheets would trim it). */
int csv_write_field(FILE *out, const char *s);

#endif
