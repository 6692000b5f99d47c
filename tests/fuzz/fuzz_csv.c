// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the CSV reader that `autoprov device import` feeds with an
 * administrator's (or anybody's) file. Every record must respect the caps; and a file
 * that reads without error must read back the same after being written out again with
 * csv_write_field(), which is what `autoprov device export` relies on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "store/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 64

struct records {
	char *text; /* every field, NUL-separated, records separated by an extra marker */
	size_t len;
	size_t n;
};

/* Reads all of buf; returns false on a read error (then nothing is compared). */
static bool read_all(const char *buf, size_t len, struct records *ret)
{
	struct csv_reader r;
	const char *why;
	FILE *f;
	int rc;

	memset(ret, 0, sizeof(*ret));
	f = open_memstream(&ret->text, &ret->len);
	CHECK(f);
	csv_reader_init(&r, buf, len);
	while ((rc = csv_read(&r, &why)) == 1) {
		CHECK(r.nfields >= 1 && r.nfields <= CSV_MAX_FIELDS);
		for (size_t i = 0; i < r.nfields; i++) {
			CHECK(strlen(r.fields[i]) <= CSV_MAX_FIELD);
			fprintf(f, "%s%c", r.fields[i], '\0');
		}
		fputc('\x1e', f);
		if (++ret->n > MAX_RECORDS)
			break;
	}
	if (rc < 0)
		CHECK(why && why[0]);
	csv_reader_done(&r);
	fclose(f);
	return rc >= 0;
}

/* Writes the records of buf back as CSV. */
static char *write_all(const char *buf, size_t len, size_t *ret_len)
{
	struct csv_reader r;
	const char *why;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, ret_len);

	CHECK(f);
	csv_reader_init(&r, buf, len);
	while (csv_read(&r, &why) == 1 && n++ <= MAX_RECORDS) {
		for (size_t i = 0; i < r.nfields; i++) {
			if (i)
				fputc(',', f);
			CHECK(csv_write_field(f, r.fields[i]) == 0);
		}
		fputc('\n', f);
	}
	csv_reader_done(&r);
	fclose(f);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct records first, second;
	char *again;
	size_t again_len;

	if (!read_all((const char *)data, size, &first) || first.n > MAX_RECORDS ||
	    memchr(data, '\0', size)) {
		free(first.text);
		return 0;
	}
	again = write_all((const char *)data, size, &again_len);
	CHECK(read_all(again, again_len, &second));
	CHECK(first.n == second.n);
	CHECK(first.len == second.len && memcmp(first.text, second.text, first.len) == 0);
	free(first.text);
	free(second.text);
	free(again);
	return 0;
}
