// SPDX-License-Identifier: MIT
/*
 * The CSV reader and field writer of the inventory import and export (see csv.h). The
 * reader walks the buffer once, copying each field into one growing text buffer; field
 * pointers are made only when the record is complete, since the buffer may move as it grows.
 */
#include "store/csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void csv_reader_init(struct csv_reader *r, const char *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
}

void csv_reader_done(struct csv_reader *r)
{
	free(r->fields);
	free(r->offsets);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static int text_push(struct csv_reader *r, char c)
{
	if (r->text_len == r->text_cap) {
		size_t cap = r->text_cap ? r->text_cap * 2 : 256;
		char *text = realloc(r->text, cap);

		if (!text)
			return -ENOMEM;
		r->text = text;
		r->text_cap = cap;
	}
	r->text[r->text_len++] = c;
	return 0;
}

/* Ends the field that started at text offset start. */
static int field_end(struct csv_reader *r, size_t start, const char **ret_why)
{
	int ret;

	if (r->text_len - start > CSV_MAX_FIELD) {
		*ret_why = "field longer than 64 KiB";
		return -E2BIG;
	}
	if (r->nfields == CSV_MAX_FIELDS) {
		*ret_why = "more than 1024 fields";
		return -E2BIG;
	}
	ret = text_push(r, '\0');
	if (ret < 0)
		return ret;
	if (r->nfields == r->fields_cap) {
		size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
		size_t *offsets = realloc(r->offsets, cap * sizeof(*offsets));
		char **fields;

		if (!offsets)
			return -ENOMEM;
		r->offsets = offsets;
		fields = realloc(r->fields, cap * sizeof(*fields));
		if (!fields)
			return -ENOMEM;
		r->fields = fields;
		r->fields_cap = cap;
	}
	r->offsets[r->nfields++] = start;
	return 0;
}

/* At a line end (LF or CRLF) at pos: its length, else 0. */
static size_t line_end_at(const struct csv_reader *r, size_t pos)
{
	if (pos < r->len && r->buf[pos] == '\n')
		return 1;
	if (pos + 1 < r->len && r->buf[pos] == '\r' && r->buf[pos + 1] == '\n')
		return 2;
	return 0;
}

int csv_read(struct csv_reader *r, const char **ret_why)
{
	const char *why = NULL;
	size_t eol;
	int ret;

	r->nfields = 0;
	r->text_len = 0;
	r->blank = false;
	if (r->pos >= r->len)
		return 0;
	r->record++;
	eol = line_end_at(r, r->pos);
	if (eol > 0) {
		r->blank = true;
		r->pos += eol;
		ret = field_end(r, 0, &why);
		if (ret < 0)
			goto fail;
		goto done;
	}

	for (;;) {
		size_t start = r->text_len;

		if (r->pos < r->len && r->buf[r->pos] == '"') {
			r->pos++;
			for (;;) {
				char c;

				if (r->pos >= r->len) {
					why = "unterminated quoted field";
					ret = -EINVAL;
					goto fail;
				}
				c = r->buf[r->pos];
				if (c == '"') {
					if (r->pos + 1 < r->len && r->buf[r->pos + 1] == '"') {
						r->pos += 2;
					} else {
						r->pos++;
						break;
					}
				} else {
					r->pos++;
				}
				if (c == '\0') {
					why = "NUL byte in a field";
					ret = -EINVAL;
					goto fail;
				}
				ret = text_push(r, c);
				if (ret < 0)
					goto fail;
				if (r->text_len - start > CSV_MAX_FIELD) {
					why = "field longer than 64 KiB";
					ret = -E2BIG;
					goto fail;
				}
			}
			if (r->pos < r->len && r->buf[r->pos] != ',' && !line_end_at(r, r->pos)) {
				why = "text after a closing quote (a quote inside a quoted field is "
				      "written \"\")";
				ret = -EINVAL;
				goto fail;
			}
		} else {
			while (r->pos < r->len && r->buf[r->pos] != ',' &&
			       !line_end_at(r, r->pos)) {
				char c = r->buf[r->pos];

				if (c == '"') {
					why = "quote inside an unquoted field (quote the whole field "
					      "and double the quote)";
					ret = -EINVAL;
					goto fail;
				}
				if (c == '\r') {
					why = "carriage return outside quotes";
					ret = -EINVAL;
					goto fail;
				}
				if (c == '\0') {
					why = "NUL byte in a field";
					ret = -EINVAL;
					goto fail;
				}
				ret = text_push(r, c);
				if (ret < 0)
					goto fail;
				if (r->text_len - start > CSV_MAX_FIELD) {
					why = "field longer than 64 KiB";
					ret = -E2BIG;
					goto fail;
				}
				r->pos++;
			}
		}
		ret = field_end(r, start, &why);
		if (ret < 0)
			goto fail;
		if (r->pos < r->len && r->buf[r->pos] == ',') {
			r->pos++;
			continue;
		}
		r->pos += line_end_at(r, r->pos);
		break;
	}

done:
	for (size_t i = 0; i < r->nfields; i++)
		r->fields[i] = r->text + r->offsets[i];
	return 1;

fail:
	if (why && ret_why)
		*ret_why = why;
	else if (ret_why)
		*ret_why = "out of memory";
	return ret;
}

int csv_write_field(FILE *out, const char *s)
{
	size_t len = strlen(s);
	bool quote = strpbrk(s, ",\"\r\n") != NULL ||
		     (len > 0 &&
		      (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t'));

	if (!quote)
		return fputs(s, out) < 0 ? -EIO : 0;
	if (putc('"', out) == EOF)
		return -EIO;
	for (const char *p = s; *p; p++) {
		if (*p == '"' && putc('"', out) == EOF)
			return -EIO;
		if (putc(*p, out) == EOF)
			return -EIO;
	}
	return putc('"', out) == EOF ? -EIO : 0;
}
