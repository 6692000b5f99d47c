// SPDX-License-Identifier: MIT
/*
 * The inventory's CSV import and export: a spreadsheet's columns to devices and back, in one
 * transaction each. A row is checked as any other device is (inventory.c).
 */
#include "store/inventory_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "store/csv.h"

/* ---- CSV import ---- */

enum import_kind { COL_MAC, COL_MODEL, COL_PROFILE, COL_GROUP, COL_ENABLED, COL_VAR, COL_JSON };

struct import_column {
	enum import_kind kind;
	const char *name; /* the variable, for COL_VAR and COL_JSON: points into names */
};

/* All of in, up to STORE_CSV_MAX_SIZE bytes, NUL-terminated. */
static int read_all(FILE *in, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		size_t n;

		if (len == cap) {
			char *nbuf;

			if (cap >= STORE_CSV_MAX_SIZE) {
				free(buf);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, in);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(in)) {
		free(buf);
		return -EIO;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* The header row into cols (n of them); a reason in st->errmsg on failure. */
static int import_header(struct store *st, struct csv_reader *rd, struct import_column *cols)
{
	static const enum import_kind kinds[] = { COL_MAC, COL_MODEL, COL_PROFILE, COL_GROUP,
						  COL_ENABLED };
	bool have_mac = false;
	const char *why;

	for (size_t i = 0; i < rd->nfields; i++) {
		char *name = rd->fields[i];
		size_t len = strlen(name);
		bool fixed = false;

		for (size_t k = 0; k < STORE_NDEVICE_COLUMNS; k++) {
			if (strcasecmp(name, store_device_columns[k]) == 0) {
				cols[i].kind = kinds[k];
				cols[i].name = store_device_columns[k];
				fixed = true;
			}
		}
		if (!fixed) {
			cols[i].kind = COL_VAR;
			if (len > 5 && strcmp(name + len - 5, ":json") == 0) {
				cols[i].kind = COL_JSON;
				/* the field text is ours until the next csv_read: cut the suffix */
				name[len - 5] = '\0';
			}
			if (store_check_var_name(name, &why) < 0)
				return store_fail(st, -EINVAL,
						  "1: column '%s': not a variable name (%s)", name,
						  why);
			cols[i].name = name;
		}
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(cols[j].name, cols[i].name) == 0 &&
			    (fixed || strcmp(cols[j].name, cols[i].name) == 0))
				return store_fail(st, -EINVAL, "1: column '%s' twice",
						  cols[i].name);
		if (cols[i].kind == COL_MAC)
			have_mac = true;
	}
	if (!have_mac)
		return store_fail(st, -EINVAL, "1: no 'mac' column");
	return 0;
}

/* One data row into a device and the inventory; a reason in st->errmsg on failure. */
static int import_row(struct store *st, const struct csv_reader *rd,
		      const struct import_column *cols, bool replace, struct mac_seen *seen)
{
	struct device d = { .model = "", .profile = "", .group = "", .enabled = true };
	char colons[MAC_LEN + 6];
	unsigned long prev;
	const char *why;
	int r;

	d.vars = json_object();
	if (!d.vars)
		return store_fail(st, -ENOMEM, "out of memory");
	for (size_t i = 0; i < rd->nfields; i++) {
		const char *cell = rd->fields[i];
		json_error_t jerr;
		json_t *value;

		switch (cols[i].kind) {
		case COL_MAC:
			if (mac_parse(cell, d.mac, &why) < 0) {
				r = store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", cell,
					       why);
				goto out;
			}
			break;
		case COL_MODEL: d.model = (char *)cell; break;
		case COL_PROFILE: d.profile = (char *)cell; break;
		case COL_GROUP: d.group = (char *)cell; break;
		case COL_ENABLED:
			if (cell[0] != '\0' && str_to_bool(cell, &d.enabled) < 0) {
				r = store_fail(st, -EINVAL, "enabled: '%s' is not yes or no", cell);
				goto out;
			}
			break;
		case COL_VAR:
		case COL_JSON:
			if (cell[0] == '\0')
				break;
			if (cols[i].kind == COL_VAR)
				value = json_string(cell);
			else
				value = json_loads(cell, JSON_DECODE_ANY, &jerr);
			if (!value) {
				r = cols[i].kind == COL_VAR
					    ? store_fail(st, -EINVAL, "%s: not valid UTF-8",
							 cols[i].name)
					    : store_fail(st, -EINVAL, "%s: not JSON (%s)",
							 cols[i].name, jerr.text);
				goto out;
			}
			if (json_object_set_new(d.vars, cols[i].name, value) < 0) {
				r = store_fail(st, -ENOMEM, "out of memory");
				goto out;
			}
			break;
		}
	}
	r = store_mac_seen_add(seen, d.mac, rd->record, &prev);
	if (r < 0) {
		store_fail(st, r, "out of memory");
		goto out;
	}
	if (r == 1) {
		mac_colons(d.mac, colons);
		r = store_fail(st, -EEXIST, "%s is also on row %lu", colons, prev);
		goto out;
	}
	r = store_device_write(st, &d, replace);
	if (r == -EEXIST) {
		mac_colons(d.mac, colons);
		store_fail(st, r, "%s is already in the inventory (--replace replaces it)", colons);
	}
out:
	json_decref(d.vars);
	return r;
}

/* The header's field texts copied out of the reader (reused by every row); cols point in. */
static char *import_names(const struct csv_reader *rd, struct import_column *cols)
{
	size_t total = 0;
	char *names, *p;

	for (size_t i = 0; i < rd->nfields; i++)
		total += strlen(rd->fields[i]) + 1;
	names = malloc(total);
	if (!names)
		return NULL;
	p = names;
	for (size_t i = 0; i < rd->nfields; i++) {
		size_t n = strlen(rd->fields[i]) + 1;

		memcpy(p, rd->fields[i], n);
		if (cols[i].kind == COL_VAR || cols[i].kind == COL_JSON)
			cols[i].name = p;
		p += n;
	}
	return names;
}

int store_import_csv(struct store *st, FILE *in, bool replace, char *err, size_t errsz)
{
	struct import_column *cols = NULL;
	struct mac_seen seen = { 0 };
	struct csv_reader rd;
	const char *text, *why = NULL;
	char *buf = NULL, *names = NULL;
	size_t len, ncols;
	bool in_tx = false;
	int r, count = 0;

	csv_reader_init(&rd, "", 0);
	r = read_all(in, &buf, &len);
	if (r < 0) {
		store_fail(st, r, "%s", r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
		goto out;
	}
	/* spreadsheets often start their CSV with a UTF-8 byte order mark */
	text = buf;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	csv_reader_init(&rd, text, len);

	r = csv_read(&rd, &why);
	if (r <= 0 || rd.blank) {
		r = store_fail(st, r == -ENOMEM ? r : -EINVAL, "1: %s",
			       r < 0 ? why : "no header row");
		goto out;
	}
	ncols = rd.nfields;
	cols = calloc(ncols, sizeof(*cols));
	if (!cols) {
		r = store_fail(st, -ENOMEM, "out of memory");
		goto out;
	}
	r = import_header(st, &rd, cols);
	if (r < 0)
		goto out;
	names = import_names(&rd, cols);
	if (!names) {
		r = store_fail(st, -ENOMEM, "out of memory");
		goto out;
	}

	r = store_begin(st, true);
	if (r < 0)
		goto out;
	in_tx = true;
	while ((r = csv_read(&rd, &why)) == 1) {
		if (rd.blank)
			continue;
		if (rd.nfields != ncols) {
			r = store_fail(st, -EINVAL, "%lu: %zu field%s, %zu expected", rd.record,
				       rd.nfields, rd.nfields == 1 ? "" : "s", ncols);
			goto out;
		}
		r = import_row(st, &rd, cols, replace, &seen);
		if (r < 0) {
			char reason[sizeof(st->errmsg)];

			snprintf(reason, sizeof(reason), "%s", st->errmsg);
			store_fail(st, r, "%lu: %s", rd.record, reason);
			goto out;
		}
		if (count == INT32_MAX) {
			r = store_fail(st, -E2BIG, "%lu: too many rows", rd.record);
			goto out;
		}
		count++;
	}
	if (r < 0) {
		store_fail(st, r, "%lu: %s", rd.record, why);
		goto out;
	}
	in_tx = false;
	r = store_commit(st);
out:
	if (in_tx)
		store_rollback(st);
	csv_reader_done(&rd);
	free(names);
	free(cols);
	free(buf);
	store_mac_seen_done(&seen);
	if (r < 0) {
		store_copy_err(st, err, errsz);
		return r;
	}
	return count;
}

/* ---- CSV export ---- */

struct export_column {
	char *name;
	bool json; /* some value is not a non-empty string: the column holds JSON texts */
};

/* The sorted union of the devices' variable names; a column is JSON when a string would
 * not come back as it was (a number, an object, or "", which a cell cannot tell from unset). */
static int export_columns(struct store *st, struct export_column **ret, size_t *ret_n)
{
	struct export_column *cols = NULL;
	size_t n = 0, cap = 0;
	struct stmt *stmt = NULL;
	int rc, r = 0;

	rc = stmt_prepare(st,
			  store_sql(st,
				    "SELECT j.key, max(j.type <> 'text' OR j.atom = '')"
				    " FROM devices, json_each(devices.vars) AS j"
				    " GROUP BY j.key ORDER BY j.key",
				    "SELECT j.key, bool_or(jsonb_typeof(j.value) <> 'string'"
				    " OR j.value = '\"\"'::jsonb) FROM devices,"
				    " jsonb_each(devices.vars::jsonb) AS j"
				    " GROUP BY j.key ORDER BY j.key COLLATE \"C\""),
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		const char *name = stmt_text(stmt, 0);

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct export_column *ncols = realloc(cols, ncap * sizeof(*ncols));

			if (!ncols) {
				r = store_fail(st, -ENOMEM, "out of memory");
				goto out;
			}
			cols = ncols;
			cap = ncap;
		}
		cols[n].name = strdup(name ? name : "");
		cols[n].json = (int)stmt_int64(stmt, 1) != 0;
		if (!cols[n].name) {
			r = store_fail(st, -ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	if (rc != STMT_DONE)
		r = store_failed(st, rc);
out:
	stmt_finalize(stmt);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(cols[i].name);
		free(cols);
		return r;
	}
	*ret = cols;
	*ret_n = n;
	return 0;
}

struct export_state {
	FILE *out;
	const struct export_column *cols;
	size_t ncols;
	int count;
};

static int export_device(const struct device *d, void *arg)
{
	struct export_state *es = arg;
	FILE *out = es->out;
	int r = 0;

	r |= csv_write_field(out, d->mac);
	r |= putc(',', out) == EOF ? -EIO : 0;
	r |= csv_write_field(out, d->model);
	r |= putc(',', out) == EOF ? -EIO : 0;
	r |= csv_write_field(out, d->profile);
	r |= putc(',', out) == EOF ? -EIO : 0;
	r |= csv_write_field(out, d->group);
	r |= putc(',', out) == EOF ? -EIO : 0;
	r |= csv_write_field(out, d->enabled ? "yes" : "no");
	for (size_t i = 0; i < es->ncols; i++) {
		json_t *value = json_object_get(d->vars, es->cols[i].name);

		r |= putc(',', out) == EOF ? -EIO : 0;
		if (!value)
			continue;
		if (es->cols[i].json) {
			char *text =
				json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);

			if (!text)
				return -ENOMEM;
			r |= csv_write_field(out, text);
			free(text);
		} else {
			r |= csv_write_field(out, json_string_value(value));
		}
	}
	r |= putc('\n', out) == EOF ? -EIO : 0;
	if (r != 0)
		return -EIO;
	es->count++;
	return 0;
}

int store_export_csv(struct store *st, FILE *out)
{
	struct export_column *cols = NULL;
	struct export_state es = { .out = out };
	size_t ncols = 0;
	int r;

	/* one snapshot: the columns found are those of the devices written */
	r = store_begin(st, false);
	if (r < 0)
		return r;
	r = export_columns(st, &cols, &ncols);
	if (r < 0)
		goto out;
	es.cols = cols;
	es.ncols = ncols;
	fputs("mac,model,profile,group,enabled", out);
	for (size_t i = 0; i < ncols; i++) {
		putc(',', out);
		/* variable names need no quoting: letters, digits, '_' and '-' */
		fputs(cols[i].name, out);
		if (cols[i].json)
			fputs(":json", out);
	}
	putc('\n', out);
	r = store_device_foreach(st, export_device, &es);
	if (r == -EIO || (r == 0 && ferror(out)))
		r = store_fail(st, -EIO, "write error");
	else if (r == -ENOMEM)
		r = store_fail(st, r, "out of memory");
out:
	/* a read transaction: ending it cannot lose anything */
	store_rollback(st);
	for (size_t i = 0; i < ncols; i++)
		free(cols[i].name);
	free(cols);
	return r < 0 ? r : es.count;
}
