// SPDX-License-Identifier: MIT
/*
 * The inventory: devices, groups and the site defaults, and their CSV import and export.
 * Everything that enters goes through the same checks (store_check_*), whether it comes from
 * the command line or from a spreadsheet, so the daemon can trust what it reads back.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "store/csv.h"

#define NAME_MAX_LEN 64

static const char *const profiles[] = { "algo", "fip", "spa", "audiocodes", "panasonic" };

/* The CSV's own columns: fields of every device, so never variable names. */
static const char *const device_columns[] = { "mac", "model", "profile", "group", "enabled" };

#define DEVICE_COLUMNS "mac, model, profile, coalesce(group_name, ''), enabled, vars, rev"
#define DEVICE_NCOLUMNS 7 /* the key of a sorted page follows */

struct device *device_new(const char *mac)
{
	struct device *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (mac)
		str_copy(d->mac, sizeof(d->mac), mac);
	d->model = strdup("");
	d->profile = strdup("");
	d->group = strdup("");
	d->vars = json_object();
	d->enabled = true;
	if (!d->model || !d->profile || !d->group || !d->vars) {
		device_free(d);
		return NULL;
	}
	return d;
}

void device_free(struct device *d)
{
	if (!d)
		return;
	free(d->model);
	free(d->profile);
	free(d->group);
	json_decref(d->vars);
	free(d);
}

/* ---- what the store accepts ---- */

static bool is_name_char(char c, bool dot)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || (dot && c == '.');
}

int store_check_var_name(const char *name, const char **ret_why)
{
	size_t len = strlen(name);

	if (len == 0) {
		*ret_why = "empty";
		return -EINVAL;
	}
	if (len > NAME_MAX_LEN) {
		*ret_why = "longer than 64 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char(name[i], false)) {
			/* a dot would read as a path in templates: {{a.b}} is b inside a */
			*ret_why = "letters, digits, '_' and '-' only";
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(device_columns) / sizeof(device_columns[0]); i++) {
		if (strcasecmp(name, device_columns[i]) == 0) {
			*ret_why = "a field of every device, not a variable";
			return -EINVAL;
		}
	}
	return 0;
}

int store_check_group_name(const char *name, const char **ret_why)
{
	size_t len = strlen(name);

	if (len == 0) {
		*ret_why = "empty";
		return -EINVAL;
	}
	if (len > NAME_MAX_LEN) {
		*ret_why = "longer than 64 characters";
		return -EINVAL;
	}
	/* group names may end up in paths and routes: nothing a path could misread */
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char(name[i], true)) {
			*ret_why = "letters, digits, '.', '_' and '-' only";
			return -EINVAL;
		}
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*ret_why = "not a name";
		return -EINVAL;
	}
	return 0;
}

int store_check_model(const char *model, const char **ret_why)
{
	size_t len = strlen(model);

	if (len > NAME_MAX_LEN) {
		*ret_why = "longer than 64 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)model[i];

		if (c < 0x20 || c > 0x7e) {
			*ret_why = "printable ASCII only";
			return -EINVAL;
		}
	}
	return 0;
}

int store_check_profile(const char *profile, const char **ret_why)
{
	if (profile[0] == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profile, profiles[i]) == 0)
			return 0;
	*ret_why = "one of algo, fip, spa, audiocodes, panasonic";
	return -EINVAL;
}

/* vars (NULL: none) must be an object of well-named variables. */
static int check_vars(struct store *st, const json_t *vars)
{
	const char *key, *why;
	json_t *value;

	if (!vars)
		return 0;
	if (!json_is_object(vars))
		return store_fail(st, -EINVAL, "variables must be a JSON object");
	json_object_foreach((json_t *)vars, key, value)
	{
		if (store_check_var_name(key, &why) < 0)
			return store_fail(st, -EINVAL, "'%s': not a variable name (%s)", key, why);
	}
	return 0;
}

/* 1 if group name exists, 0 if not, or a negative errno. */
static int group_exists(struct store *st, const char *name)
{
	struct stmt *stmt;
	int rc, r;

	r = store_stmt(st, STMT_GROUP_EXISTS, "SELECT 1 FROM groups WHERE name = ?1", &stmt);
	if (r < 0)
		return r;
	stmt_bind_text(stmt, 1, name);
	rc = stmt_step(stmt);
	r = rc == STMT_ROW ? 1 : rc == STMT_DONE ? 0 : store_failed(st, rc);
	stmt_reset(stmt);
	return r;
}

/* ---- devices ---- */

/* Checks d and writes it, inside the caller's write transaction. */
static int device_write(struct store *st, const struct device *d, bool replace)
{
	const char *model = d->model ? d->model : "", *profile = d->profile ? d->profile : "";
	const char *group = d->group ? d->group : "", *why;
	char mac[MAC_LEN + 1], colons[MAC_LEN + 6];
	struct stmt *stmt;
	char *vars;
	int rc, r;

	if (mac_parse(d->mac, mac, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", d->mac, why);
	if (store_check_model(model, &why) < 0)
		return store_fail(st, -EINVAL, "model '%s': %s", model, why);
	if (store_check_profile(profile, &why) < 0)
		return store_fail(st, -EINVAL, "profile '%s': %s", profile, why);
	if (group[0] != '\0') {
		if (store_check_group_name(group, &why) < 0)
			return store_fail(st, -EINVAL, "'%s': not a group name (%s)", group, why);
		r = group_exists(st, group);
		if (r < 0)
			return r;
		if (r == 0)
			return store_fail(st, -ENOENT, "no group '%s'", group);
	}
	r = check_vars(st, d->vars);
	if (r < 0)
		return r;

	if (replace)
		r = store_stmt(
			st, STMT_DEVICE_UPSERT,
			"INSERT INTO devices (mac, model, profile, group_name, enabled, vars)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (mac) DO UPDATE SET"
			" model = excluded.model, profile = excluded.profile,"
			" group_name = excluded.group_name, enabled = excluded.enabled,"
			" vars = excluded.vars",
			&stmt);
	else
		r = store_stmt(
			st, STMT_DEVICE_INSERT,
			"INSERT INTO devices (mac, model, profile, group_name, enabled, vars)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			&stmt);
	if (r < 0)
		return r;
	vars = store_vars_dump(d->vars);
	if (!vars)
		return store_fail(st, -ENOMEM, "out of memory");
	stmt_bind_text(stmt, 1, mac);
	stmt_bind_text(stmt, 2, model);
	stmt_bind_text(stmt, 3, profile);
	if (group[0] != '\0')
		stmt_bind_text(stmt, 4, group);
	stmt_bind_int64(stmt, 5, d->enabled ? 1 : 0);
	stmt_bind_text(stmt, 6, vars);
	free(vars);
	rc = stmt_step(stmt);
	if (rc == STMT_DONE) {
		r = 0;
	} else if (rc == -EEXIST) {
		mac_colons(mac, colons);
		r = store_fail(st, -EEXIST, "%s is already in the inventory", colons);
	} else {
		r = store_failed(st, rc);
	}
	/* do not keep pointers to d */
	stmt_reset(stmt);
	return r;
}

static void copy_err(struct store *st, char *err, size_t errsz)
{
	if (err && errsz > 0)
		snprintf(err, errsz, "%s", st->errmsg);
}

int store_device_put(struct store *st, const struct device *d, bool replace, char *err,
		     size_t errsz)
{
	int r;

	r = store_begin(st, true);
	if (r < 0)
		goto out;
	r = device_write(st, d, replace);
	if (r < 0) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	if (r < 0)
		copy_err(st, err, errsz);
	return r;
}

int store_device_set_var_once(struct store *st, const char *mac, const char *name,
			      const char *value, char *err, size_t errsz)
{
	struct device *d = NULL;
	json_t *old;
	int r;

	r = store_begin(st, true);
	if (r < 0)
		goto out;
	r = store_device_get(st, mac, &d);
	if (r < 0) {
		store_rollback(st);
		goto out;
	}
	old = json_object_get(d->vars, name);
	if (json_is_string(old)) {
		store_rollback(st);
		r = strcmp(json_string_value(old), value) == 0 ? 0 : -EEXIST;
		if (r < 0)
			store_fail(st, r, "device %s already has %s", d->mac, name);
		goto out;
	}
	if (json_object_set_new(d->vars, name, json_string(value)) < 0) {
		store_rollback(st);
		r = store_fail(st, -ENOMEM, "out of memory");
		goto out;
	}
	r = device_write(st, d, true);
	if (r < 0) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	device_free(d);
	if (r < 0)
		copy_err(st, err, errsz);
	return r;
}

/* The row at stmt (DEVICE_COLUMNS) into d: strings borrowed from stmt, vars a new reference. */
static int device_from_row(struct store *st, struct stmt *stmt, struct device *d)
{
	const char *mac = stmt_text(stmt, 0);
	int r;

	memset(d, 0, sizeof(*d));
	if (!mac || str_copy(d->mac, sizeof(d->mac), mac) < 0)
		return store_fail(st, -EBADMSG, "a device with a bad MAC in the database");
	d->model = (char *)stmt_text(stmt, 1);
	d->profile = (char *)stmt_text(stmt, 2);
	d->group = (char *)stmt_text(stmt, 3);
	d->enabled = (int)stmt_int64(stmt, 4) != 0;
	d->rev = (uint64_t)stmt_int64(stmt, 6);
	if (!d->model || !d->profile || !d->group)
		return store_fail(st, -ENOMEM, "out of memory");
	r = store_vars_load(st, stmt_text(stmt, 5), &d->vars);
	if (r < 0)
		return store_fail(st, r, "device %s: stored variables are not a JSON object",
				  d->mac);
	return 0;
}

int store_device_get(struct store *st, const char *mac, struct device **ret)
{
	char canon[MAC_LEN + 1];
	struct device row, *d = NULL;
	struct stmt *stmt;
	const char *why;
	int rc, r;

	if (mac_parse(mac, canon, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", mac, why);
	r = store_stmt(st, STMT_DEVICE_GET, "SELECT " DEVICE_COLUMNS " FROM devices WHERE mac = ?1",
		       &stmt);
	if (r < 0)
		return r;
	stmt_bind_text(stmt, 1, canon);
	rc = stmt_step(stmt);
	if (rc != STMT_ROW) {
		char colons[MAC_LEN + 6];

		mac_colons(canon, colons);
		r = rc == STMT_DONE ? store_fail(st, -ENOENT, "%s is not in the inventory", colons)
				    : store_failed(st, rc);
		goto out;
	}
	r = device_from_row(st, stmt, &row);
	if (r < 0)
		goto out;
	d = calloc(1, sizeof(*d));
	if (!d) {
		json_decref(row.vars);
		r = store_fail(st, -ENOMEM, "out of memory");
		goto out;
	}
	*d = row;
	d->model = strdup(row.model);
	d->profile = strdup(row.profile);
	d->group = strdup(row.group);
	if (!d->model || !d->profile || !d->group) {
		device_free(d);
		r = store_fail(st, -ENOMEM, "out of memory");
		goto out;
	}
	*ret = d;
out:
	stmt_reset(stmt);
	return r;
}

int store_device_remove(struct store *st, const char *mac)
{
	char canon[MAC_LEN + 1], colons[MAC_LEN + 6];
	struct stmt *stmt = NULL;
	const char *why;
	int rc, r;

	if (mac_parse(mac, canon, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a MAC address (%s)", mac, why);
	rc = stmt_prepare(st, "DELETE FROM devices WHERE mac = ?1", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_text(stmt, 1, canon);
	rc = stmt_step(stmt);
	if (rc != STMT_DONE) {
		r = store_failed(st, rc);
	} else if (store_changes(st) == 0) {
		mac_colons(canon, colons);
		r = store_fail(st, -ENOENT, "%s is not in the inventory", colons);
	} else {
		r = 0;
	}
	stmt_finalize(stmt);
	return r;
}

int store_device_foreach_in(struct store *st, const char *group, const char *profile,
			    int (*fn)(const struct device *d, void *arg), void *arg)
{
	char sql[256];
	struct stmt *stmt = NULL;
	int rc, r = 0;

	/* spelled out so that the index on group_name serves "--group G" */
	snprintf(sql, sizeof(sql),
		 "SELECT " DEVICE_COLUMNS " FROM devices WHERE TRUE%s%s ORDER BY mac",
		 !group	    ? ""
		 : group[0] ? " AND group_name = ?1"
			    : " AND group_name IS NULL",
		 profile ? " AND profile = ?2" : "");
	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (group && group[0])
		stmt_bind_text(stmt, 1, group);
	if (profile)
		stmt_bind_text(stmt, 2, profile);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		struct device d;

		r = device_from_row(st, stmt, &d);
		if (r < 0)
			break;
		r = fn(&d, arg);
		json_decref(d.vars);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_device_foreach(struct store *st, int (*fn)(const struct device *d, void *arg), void *arg)
{
	return store_device_foreach_in(st, NULL, NULL, fn, arg);
}

/* ---- groups and defaults ---- */

/* Runs sql with ?1 = text1 (or NULL) and ?2 = text2 (or NULL); no result rows. */
static int exec_bound(struct store *st, const char *sql, const char *text1, const char *text2)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (text1)
		stmt_bind_text(stmt, 1, text1);
	if (text2)
		stmt_bind_text(stmt, 2, text2);
	rc = stmt_step(stmt);
	r = rc == STMT_DONE ? 0 : store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

/* The vars of the first row of sql with ?1 = name: 0, -ENOENT, or an error. */
static int vars_query(struct store *st, const char *sql, const char *name, json_t **ret_vars)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (name)
		stmt_bind_text(stmt, 1, name);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW)
		r = store_vars_load(st, stmt_text(stmt, 0), ret_vars);
	else if (rc == STMT_DONE)
		r = -ENOENT;
	else
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_group_set(struct store *st, const char *name, json_t *vars)
{
	const char *why;
	char *text;
	int r;

	if (store_check_group_name(name, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': not a group name (%s)", name, why);
	r = check_vars(st, vars);
	if (r < 0)
		return r;
	text = store_vars_dump(vars);
	if (!text)
		return store_fail(st, -ENOMEM, "out of memory");
	r = exec_bound(st,
		       "INSERT INTO groups (name, vars) VALUES (?1, ?2)"
		       " ON CONFLICT (name) DO UPDATE SET vars = excluded.vars",
		       name, text);
	free(text);
	return r;
}

int store_group_get(struct store *st, const char *name, json_t **ret_vars)
{
	int r = vars_query(st, "SELECT vars FROM groups WHERE name = ?1", name, ret_vars);

	if (r == -ENOENT)
		return store_fail(st, r, "no group '%s'", name);
	return r;
}

int store_group_count_devices(struct store *st, const char *name, uint64_t *ret)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st,
			  name ? "SELECT count(*) FROM devices WHERE group_name = ?1"
			       : "SELECT count(*) FROM devices",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (name)
		stmt_bind_text(stmt, 1, name);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW) {
		*ret = (uint64_t)stmt_int64(stmt, 0);
		r = 0;
	} else {
		r = store_failed(st, rc);
	}
	stmt_finalize(stmt);
	return r;
}

int store_device_count(struct store *st, uint64_t *ret)
{
	uint64_t rev, n = 0;
	int r;

	/* one read snapshot: the count is the revision's */
	r = store_begin(st, false);
	if (r < 0)
		return r;
	r = store_inventory_revision(st, &rev);
	if (r == 0 && st->count_valid && rev == st->count_rev) {
		n = st->count;
	} else if (r == 0) {
		r = store_group_count_devices(st, NULL, &n);
		if (r == 0) {
			st->count = n;
			st->count_rev = rev;
			st->count_valid = true;
		}
	}
	if (r < 0) {
		store_rollback(st);
		return r;
	}
	r = store_commit(st);
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

int store_group_remove(struct store *st, const char *name)
{
	uint64_t n;
	int r;

	r = store_begin(st, true);
	if (r < 0)
		return r;
	r = store_group_count_devices(st, name, &n);
	if (r < 0)
		goto fail;
	if (n > 0) {
		r = store_fail(st, -EBUSY, "group '%s' has %llu device%s", name,
			       (unsigned long long)n, n == 1 ? "" : "s");
		goto fail;
	}
	r = exec_bound(st, "DELETE FROM groups WHERE name = ?1", name, NULL);
	if (r < 0)
		goto fail;
	if (store_changes(st) == 0) {
		r = store_fail(st, -ENOENT, "no group '%s'", name);
		goto fail;
	}
	return store_commit(st);

fail:
	store_rollback(st);
	return r;
}

int store_group_foreach(struct store *st, int (*fn)(const char *name, json_t *vars, void *arg),
			void *arg)
{
	struct stmt *stmt = NULL;
	int rc, r = 0;

	rc = stmt_prepare(st, "SELECT name, vars FROM groups ORDER BY name", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		const char *name = stmt_text(stmt, 0);
		json_t *vars;

		r = store_vars_load(st, stmt_text(stmt, 1), &vars);
		if (r < 0)
			break;
		r = fn(name ? name : "", vars, arg);
		json_decref(vars);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_defaults_set(struct store *st, json_t *vars)
{
	char *text;
	int r;

	r = check_vars(st, vars);
	if (r < 0)
		return r;
	text = store_vars_dump(vars);
	if (!text)
		return store_fail(st, -ENOMEM, "out of memory");
	r = exec_bound(st, "UPDATE defaults SET vars = ?1 WHERE id = 1", text, NULL);
	free(text);
	return r;
}

int store_defaults_get(struct store *st, json_t **ret_vars)
{
	int r = vars_query(st, "SELECT vars FROM defaults WHERE id = 1", NULL, ret_vars);

	if (r == -ENOENT)
		return store_fail(st, -EBADMSG, "the defaults row is missing");
	return r;
}

/* ---- CSV import ---- */

enum import_kind { COL_MAC, COL_MODEL, COL_PROFILE, COL_GROUP, COL_ENABLED, COL_VAR, COL_JSON };

struct import_column {
	enum import_kind kind;
	const char *name; /* the variable, for COL_VAR and COL_JSON: points into names */
};

/* The MACs seen so far and their rows: open addressing over the 48-bit value. */
struct mac_seen {
	uint64_t *keys; /* value + 1; 0 is an empty slot */
	unsigned long *rows;
	size_t cap, n;
};

static uint64_t mac_value(const char *mac)
{
	uint64_t v = 0;

	for (size_t i = 0; i < MAC_LEN; i++)
		v = v << 4 | (uint64_t)(mac[i] <= '9' ? mac[i] - '0' : mac[i] - 'a' + 10);
	return v;
}

static size_t mac_slot(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: vendor prefixes make the high bits alike, the multiply mixes */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

/* 0 when added, 1 when already there (with its row in *ret_row), -ENOMEM. */
static int mac_seen_add(struct mac_seen *s, const char *mac, unsigned long row,
			unsigned long *ret_row)
{
	uint64_t key = mac_value(mac) + 1;
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *keys = calloc(cap, sizeof(*keys));
		unsigned long *rows = calloc(cap, sizeof(*rows));

		if (!keys || !rows) {
			free(keys);
			free(rows);
			return -ENOMEM;
		}
		for (size_t j = 0; j < s->cap; j++) {
			if (s->keys[j] == 0)
				continue;
			for (i = mac_slot(s->keys[j], cap); keys[i] != 0; i = (i + 1) & (cap - 1))
				;
			keys[i] = s->keys[j];
			rows[i] = s->rows[j];
		}
		free(s->keys);
		free(s->rows);
		s->keys = keys;
		s->rows = rows;
		s->cap = cap;
	}
	for (i = mac_slot(key, s->cap); s->keys[i] != 0; i = (i + 1) & (s->cap - 1)) {
		if (s->keys[i] == key) {
			*ret_row = s->rows[i];
			return 1;
		}
	}
	s->keys[i] = key;
	s->rows[i] = row;
	s->n++;
	return 0;
}

static void mac_seen_done(struct mac_seen *s)
{
	free(s->keys);
	free(s->rows);
}

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

		for (size_t k = 0; k < sizeof(device_columns) / sizeof(device_columns[0]); k++) {
			if (strcasecmp(name, device_columns[k]) == 0) {
				cols[i].kind = kinds[k];
				cols[i].name = device_columns[k];
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
	r = mac_seen_add(seen, d.mac, rd->record, &prev);
	if (r < 0) {
		store_fail(st, r, "out of memory");
		goto out;
	}
	if (r == 1) {
		mac_colons(d.mac, colons);
		r = store_fail(st, -EEXIST, "%s is also on row %lu", colons, prev);
		goto out;
	}
	r = device_write(st, &d, replace);
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
	mac_seen_done(&seen);
	if (r < 0) {
		copy_err(st, err, errsz);
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

/* ---- devices as JSON: one shape for the API and `device list/show --json` ---- */

json_t *store_device_json(const struct device *d)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:O}", "mac", d->mac, "model", d->model,
			 "profile", d->profile, "group", d->group, "enabled", d->enabled, "rev",
			 (json_int_t)d->rev, "vars", d->vars ? d->vars : json_object());
}

/* A string field of obj: absent or null is "", else it must be a string. */
static int json_field(const json_t *obj, const char *name, const char **ret, char *err,
		      size_t errsz)
{
	json_t *v = json_object_get(obj, name);

	if (!v || json_is_null(v)) {
		*ret = "";
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errsz, "%s: a string is expected", name);
		return -EINVAL;
	}
	*ret = json_string_value(v);
	return 0;
}

int store_device_from_json(const json_t *obj, const char *mac, struct device **ret, char *err,
			   size_t errsz)
{
	/* rev and state: what the API shows, accepted back and ignored (a GET, then a PUT) */
	static const char *const known[] = { "mac",	"model", "profile", "group",
					     "enabled", "vars",	 "rev",	    "state" };
	const char *key, *s, *why;
	char canon[MAC_LEN + 1], given[MAC_LEN + 1];
	struct device *d = NULL;
	json_t *v;

	if (!json_is_object(obj)) {
		snprintf(err, errsz, "a device is a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		bool ok = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(err, errsz,
				 "'%s': not a field of a device (mac, model, profile, group, "
				 "enabled, vars)",
				 key);
			return -EINVAL;
		}
	}
	v = json_object_get(obj, "mac");
	if (v && !json_is_string(v)) {
		snprintf(err, errsz, "mac: a string is expected");
		return -EINVAL;
	}
	if (v && mac_parse(json_string_value(v), given, &why) < 0) {
		snprintf(err, errsz, "'%s': not a MAC address (%s)", json_string_value(v), why);
		return -EINVAL;
	}
	if (mac) {
		if (mac_parse(mac, canon, &why) < 0) {
			snprintf(err, errsz, "'%s': not a MAC address (%s)", mac, why);
			return -EINVAL;
		}
		if (v && strcmp(given, canon) != 0) {
			snprintf(err, errsz, "mac: %s is not the device's MAC %s", given, canon);
			return -EINVAL;
		}
	} else if (!v) {
		snprintf(err, errsz, "mac: required");
		return -EINVAL;
	} else {
		memcpy(canon, given, sizeof(canon));
	}
	d = device_new(canon);
	if (!d)
		goto nomem;
	if (json_field(obj, "model", &s, err, errsz) < 0)
		goto fail;
	if (store_check_model(s, &why) < 0) {
		snprintf(err, errsz, "model '%s': %s", s, why);
		goto fail;
	}
	free(d->model);
	if (!(d->model = strdup(s)))
		goto nomem;
	if (json_field(obj, "profile", &s, err, errsz) < 0)
		goto fail;
	if (store_check_profile(s, &why) < 0) {
		snprintf(err, errsz, "profile '%s': %s", s, why);
		goto fail;
	}
	free(d->profile);
	if (!(d->profile = strdup(s)))
		goto nomem;
	if (json_field(obj, "group", &s, err, errsz) < 0)
		goto fail;
	if (s[0] && store_check_group_name(s, &why) < 0) {
		snprintf(err, errsz, "'%s': not a group name (%s)", s, why);
		goto fail;
	}
	free(d->group);
	if (!(d->group = strdup(s)))
		goto nomem;
	v = json_object_get(obj, "enabled");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			snprintf(err, errsz, "enabled: true or false is expected");
			goto fail;
		}
		d->enabled = json_is_true(v);
	}
	v = json_object_get(obj, "vars");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v)) {
			snprintf(err, errsz, "vars: a JSON object is expected");
			goto fail;
		}
		json_t *value;

		json_object_foreach(v, key, value)
		{
			if (store_check_var_name(key, &why) < 0) {
				snprintf(err, errsz, "vars: '%s': not a variable name (%s)", key,
					 why);
				goto fail;
			}
		}
		json_decref(d->vars);
		d->vars = json_deep_copy(v);
		if (!d->vars)
			goto nomem;
	}
	*ret = d;
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
	device_free(d);
	return -ENOMEM;
fail:
	device_free(d);
	return -EINVAL;
}

int store_import_json(struct store *st, const json_t *devices, bool replace, char *err,
		      size_t errsz)
{
	struct mac_seen seen = { 0 };
	char why[256], colons[MAC_LEN + 6];
	size_t i;
	json_t *obj;
	int r = 0;

	if (!json_is_array(devices)) {
		store_fail(st, -EINVAL, "a JSON array of devices is expected");
		copy_err(st, err, errsz);
		return -EINVAL;
	}
	if (json_array_size(devices) > INT32_MAX) {
		store_fail(st, -E2BIG, "too many devices");
		copy_err(st, err, errsz);
		return -E2BIG;
	}
	r = store_begin(st, true);
	if (r < 0)
		goto out;
	json_array_foreach(devices, i, obj)
	{
		struct device *d = NULL;
		unsigned long prev;

		/* rows count from 1, as a CSV's records do (there, row 1 is the header) */
		r = store_device_from_json(obj, NULL, &d, why, sizeof(why));
		if (r < 0) {
			store_fail(st, r, "%zu: %s", i + 1, why);
			break;
		}
		r = mac_seen_add(&seen, d->mac, i + 1, &prev);
		if (r == 1) {
			mac_colons(d->mac, colons);
			r = store_fail(st, -EEXIST, "%zu: %s is also on row %lu", i + 1, colons,
				       prev);
		} else if (r < 0) {
			store_fail(st, r, "out of memory");
		} else {
			r = device_write(st, d, replace);
			if (r < 0) {
				snprintf(why, sizeof(why), "%s", st->errmsg);
				store_fail(st, r, "%zu: %s", i + 1, why);
			}
		}
		device_free(d);
		if (r < 0)
			break;
	}
	if (r < 0)
		store_rollback(st);
	else
		r = store_commit(st);
out:
	mac_seen_done(&seen);
	if (r < 0) {
		copy_err(st, err, errsz);
		return r;
	}
	return (int)json_array_size(devices);
}

/* ---- pages of devices ---- */

/* Groups of at most this many devices are paged through their index. */
#define PAGE_SMALL_GROUP 20000

/*
 * 1 when group ("" for none) has at most PAGE_SMALL_GROUP devices, 0 when more, or an
 * error: the index is counted up to the bound, never further.
 */
static int group_is_small(struct store *st, const char *group)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st,
			  group[0] ? "SELECT count(*) FROM (SELECT 1 FROM devices WHERE"
				     " group_name = ?1 LIMIT ?2) AS g"
				   : "SELECT count(*) FROM (SELECT 1 FROM devices WHERE"
				     " group_name IS NULL LIMIT ?2) AS g",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (group[0])
		stmt_bind_text(stmt, 1, group);
	stmt_bind_int64(stmt, 2, PAGE_SMALL_GROUP + 1);
	rc = stmt_step(stmt);
	r = rc == STMT_ROW ? (int)stmt_int64(stmt, 0) <= PAGE_SMALL_GROUP : store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return true;
	return false;
}

static const char *const sort_names[_DEVICE_SORT_MAX] = {
	[DEVICE_SORT_MAC] = "mac",     [DEVICE_SORT_NAME] = "name",
	[DEVICE_SORT_MODEL] = "model", [DEVICE_SORT_GROUP] = "group",
	[DEVICE_SORT_STATE] = "state", [DEVICE_SORT_LAST_SEEN] = "last_seen",
};

/* The key of each order as SQL over a row of devices (NULL: the MAC alone). */
/* Text keys: their first DEVICE_SORT_KEY_CHARS (120) characters (struct device_sort_key). */
static const char *const sort_sql[_DEVICE_SORT_MAX] = {
	[DEVICE_SORT_MAC] = NULL,
	[DEVICE_SORT_NAME] = "substr(CASE json_type(vars, '$.name') WHEN 'text' THEN"
			     " json_extract(vars, '$.name') ELSE '' END, 1, 120)",
	[DEVICE_SORT_MODEL] = "substr(model, 1, 120)",
	[DEVICE_SORT_GROUP] = "coalesce(group_name, '')",
	[DEVICE_SORT_STATE] = STORE_STATE_OF_DEVICES_ROW,
	[DEVICE_SORT_LAST_SEEN] = "coalesce((SELECT last_seen FROM device_state s"
				  " WHERE s.mac = devices.mac), 0)",
};

/* PostgreSQL's of DEVICE_SORT_NAME (vars is JSON text there too) */
#define SORT_NAME_PG                                                                               \
	"substr(CASE jsonb_typeof(vars::jsonb -> 'name') WHEN 'string' THEN vars::jsonb ->> 'name'" \
	" ELSE '' END, 1, 120)"
_Static_assert(DEVICE_SORT_KEY_CHARS == 120, "the text keys' SQL says 120");

int device_sort_parse(const char *name, enum device_sort *ret)
{
	for (int i = 0; i < _DEVICE_SORT_MAX; i++)
		if (strcmp(name, sort_names[i]) == 0) {
			*ret = (enum device_sort)i;
			return 0;
		}
	return -EINVAL;
}

/*
 * A page sorted by state reads the states one after the other, each in MAC order through
 * the index of the stored status (schema 8): the devices of the page, not every device's
 * state computed and the inventory sorted. "Never seen" is the devices without a state row;
 * provisioned and change pending share the status 2, told apart by the revisions (as
 * STORE_STATE_OF_DEVICES_ROW does). Stored statuses are 1, 2 and 3.
 */
struct state_pass {
	int state;     /* enum device_status */
	bool after;    /* after the MAC given (the cursor's state), else from its first */
	size_t *ret_n; /* out: the devices the pass gave */
};

/*
 * SQLite is told the indexes (INDEXED BY): without statistics it would read each device's
 * row, and its group's, by their primary keys, variables and all, for the revisions alone.
 */
#define PASS_STATUS(n, join)                                                                       \
	"(SELECT mac AS smac, config_rev AS screv FROM device_state WHERE status = " n             \
	") AS ds " join " ON devices.mac = ds.smac"
#define PASS_PENDING(idx)                                                                          \
	"max(devices.rev, coalesce((SELECT g.rev FROM groups g " idx                               \
	" WHERE g.name = devices.group_name), 0), (SELECT rev FROM defaults WHERE id = 1))"        \
	" > ds.screv"
#define LITE_JOIN    "CROSS JOIN devices INDEXED BY devices_revs"
#define LITE_PENDING PASS_PENDING("INDEXED BY groups_revs")
#define PG_PENDING   PASS_PENDING("")

static void state_pass_sql(const struct store *st, int state, const char **ret_from,
			   const char **ret_cond, const char **ret_mac)
{
	static const char *const lite[] = { PASS_STATUS("1", LITE_JOIN),
					    PASS_STATUS("2", LITE_JOIN),
					    PASS_STATUS("3", LITE_JOIN) };
	static const char *const pg[] = { PASS_STATUS("1", "JOIN devices"),
					  PASS_STATUS("2", "JOIN devices"),
					  PASS_STATUS("3", "JOIN devices") };
	const char *const *from = st->pg ? pg : lite;

	*ret_cond = "";
	*ret_mac = "ds.smac";
	switch (state) {
	case DEVICE_NEVER_SEEN:
		*ret_from = "devices";
		*ret_cond =
			" AND NOT EXISTS (SELECT 1 FROM device_state s WHERE s.mac = devices.mac)";
		*ret_mac = "mac";
		break;
	case DEVICE_PROVISIONING: *ret_from = from[0]; break;
	case DEVICE_PROVISIONED:
		*ret_from = from[1];
		*ret_cond =
			store_sql(st, " AND NOT (" LITE_PENDING ")", " AND NOT (" PG_PENDING ")");
		break;
	case DEVICE_FAILING: *ret_from = from[2]; break;
	default:
		*ret_from = from[1];
		*ret_cond = store_sql(st, " AND (" LITE_PENDING ")", " AND (" PG_PENDING ")");
		break;
	}
}

static int device_page(struct store *st, const struct device_filter *f, const char *after,
		       size_t limit, int (*fn)(const struct device *d, void *arg), void *arg,
		       const struct state_pass *pass);

int store_device_page(struct store *st, const struct device_filter *f, const char *after,
		      size_t limit, int (*fn)(const struct device *d, void *arg), void *arg)
{
	size_t got = 0, n;
	int first, r = 0;

	if (!f || f->sort != DEVICE_SORT_STATE)
		return device_page(st, f, after, limit, fn, arg, NULL);
	/* the states in order from the cursor's; with by_state, that state only */
	first = f->keyed ? (int)f->after_num : f->desc ? _DEVICE_STATUS_MAX - 1 : 0;
	for (int s = first; r == 0 && got < limit && s >= 0 && s < _DEVICE_STATUS_MAX;
	     s += f->desc ? -1 : 1) {
		struct state_pass pass = { .state = s, .ret_n = &n };

		if (f->by_state && s != f->state)
			continue;
		pass.after = f->keyed && f->after_num == s;
		n = 0;
		r = device_page(st, f, after, limit - got, fn, arg, &pass);
		got += n;
	}
	return r;
}

static int device_page(struct store *st, const struct device_filter *f, const char *after,
		       size_t limit, int (*fn)(const struct device *d, void *arg), void *arg,
		       const struct state_pass *pass)
{
	char sql[4096], pattern[3 * 130 + 3], macq[MAC_LEN + 1], keyset[512], order[512];
	char state_key[8];
	const char *key = NULL, *from = "devices", *cond = "", *pass_mac = "mac";
	bool numeric = false, desc;
	struct stmt *stmt = NULL;
	int rc, r = 0, small = 0;
	size_t len;

	/*
	 * Keyset paging in MAC order: each page starts where the last one ended, by the
	 * primary key, so the first page of a million devices is as cheap as of ten. A group
	 * goes by its index only when it is small: the index gives its devices out of MAC
	 * order, to be sorted for each page; a large group fills a page soon in MAC order.
	 */
	if (f && f->group) {
		small = group_is_small(st, f->group);
		if (small < 0)
			return small;
	}
	if (f && f->sort > DEVICE_SORT_MAC && f->sort < _DEVICE_SORT_MAX) {
		key = st->pg && f->sort == DEVICE_SORT_NAME ? SORT_NAME_PG : sort_sql[f->sort];
		numeric = f->sort == DEVICE_SORT_STATE || f->sort == DEVICE_SORT_LAST_SEEN;
	}
	desc = f && f->desc;
	if (pass) {
		/* one state: its number as the key, its devices in MAC order */
		state_pass_sql(st, pass->state, &from, &cond, &pass_mac);
		snprintf(state_key, sizeof(state_key), "%d", pass->state);
		key = state_key;
	}
	if (pass && pass->after)
		snprintf(keyset, sizeof(keyset), "%s %s ?5", pass_mac, desc ? "<" : ">");
	else if (pass)
		snprintf(keyset, sizeof(keyset), "1 = 1");
	else if (key && f->keyed)
		snprintf(keyset, sizeof(keyset), "(%s, mac) %s (?10, ?5)", key, desc ? "<" : ">");
	else if (key)
		snprintf(keyset, sizeof(keyset), "1 = 1");
	else
		snprintf(keyset, sizeof(keyset),
			 desc && (!after || !after[0]) ? "1 = 1"
			 : desc			       ? "mac < ?5"
						       : "mac > ?5");
	if (pass)
		snprintf(order, sizeof(order), "%s%s", pass_mac, desc ? " DESC" : "");
	else
		snprintf(order, sizeof(order), "%s%s%smac%s", key ? key : "",
			 key && desc ? " DESC" : "", key ? ", " : "", desc ? " DESC" : "");
	snprintf(sql, sizeof(sql),
		 "SELECT " DEVICE_COLUMNS "%s%s FROM %s WHERE %s%s%s%s%s%s%s ORDER BY %s"
		 " LIMIT ?6",
		 key ? ", " : "", key ? key : "", from, keyset, cond,
		 !f || !f->group ? ""
		 : f->group[0]
			 ? (small || st->pg ? " AND group_name = ?1" : " AND +group_name = ?1")
		 : small || st->pg ? " AND group_name IS NULL"
				   : " AND +group_name IS NULL",
		 f && f->profile ? " AND profile = ?2" : "", f && f->model ? " AND model = ?3" : "",
		 !f || !f->text ? ""
		 : st->pg	? " AND (mac LIKE ?7 ESCAPE '\\' OR model ILIKE ?4 ESCAPE '\\'"
				  " OR (strpos(lower(vars), lower(?8)) > 0 AND EXISTS (SELECT 1 FROM"
				  " jsonb_path_query(devices.vars::jsonb, 'strict $.**') AS j WHERE"
				  " jsonb_typeof(j) IN ('string', 'number') AND j #>> '{}' ILIKE ?4"
				  " ESCAPE '\\')))"
				: " AND (mac LIKE ?7 ESCAPE '\\' OR model LIKE ?4 ESCAPE '\\'"
				  " OR (instr(lower(vars), lower(?8)) > 0 AND EXISTS (SELECT 1 FROM"
				  " json_tree(devices.vars) AS j WHERE j.type IN ('text', 'integer',"
				  " 'real') AND j.atom LIKE ?4 ESCAPE '\\')))",
		 f && f->by_state && !pass ? " AND " STORE_STATE_OF_DEVICES_ROW " = ?9" : "", order);
	rc = stmt_prepare(st, sql, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	if (f && f->group && f->group[0])
		stmt_bind_text(stmt, 1, f->group);
	if (f && f->profile)
		stmt_bind_text(stmt, 2, f->profile);
	if (f && f->model)
		stmt_bind_text(stmt, 3, f->model);
	if (f && f->text) {
		/* a substring, case-insensitive (ASCII); % _ \ are the text's own */
		char *p = pattern;
		size_t m = 0;

		len = strlen(f->text);
		if (len > 128)
			len = 128;
		*p++ = '%';
		for (size_t i = 0; i < len; i++) {
			if (f->text[i] == '%' || f->text[i] == '_' || f->text[i] == '\\')
				*p++ = '\\';
			*p++ = f->text[i];
		}
		*p++ = '%';
		*p = '\0';
		stmt_bind_text(stmt, 4, pattern);
		/*
		 * a cheap test of the stored text first, where the text is as stored (JSON
		 * escapes quotes, backslashes and control characters): the JSON walk only then
		 */
		if (strpbrk(f->text, "\"\\") || has_control(f->text))
			stmt_bind_text(stmt, 8, "");
		else
			stmt_bind_textn(stmt, 8, f->text, len);
		/* the MAC in any form: its hex digits, in order, lower case */
		for (size_t i = 0; i < len && m < MAC_LEN; i++) {
			char c = f->text[i];

			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
				macq[m++] = c;
			else if (c != ':' && c != '-' && c != '.') {
				m = 0;
				break;
			}
		}
		macq[m] = '\0';
		if (m == 0) {
			stmt_bind_null(stmt, 7);
		} else {
			char mp[MAC_LEN + 3];

			snprintf(mp, sizeof(mp), "%%%s%%", macq);
			stmt_bind_text(stmt, 7, mp);
		}
	}
	stmt_bind_text(stmt, 5, after ? after : "");
	stmt_bind_int64(stmt, 6, (int64_t)limit);
	if (f && f->by_state && !pass)
		stmt_bind_int64(stmt, 9, f->state);
	if (key && f->keyed && !pass) {
		if (numeric)
			stmt_bind_int64(stmt, 10, f->after_num);
		else
			stmt_bind_text(stmt, 10, f->after_key ? f->after_key : "");
	}
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		struct device d;

		r = device_from_row(st, stmt, &d);
		if (r < 0)
			break;
		if (key && f->key) {
			const char *t = stmt_text(stmt, DEVICE_NCOLUMNS);

			f->key->numeric = numeric;
			f->key->num = numeric ? stmt_int64(stmt, DEVICE_NCOLUMNS) : 0;
			snprintf(f->key->text, sizeof(f->key->text), "%s", t ? t : "");
		}
		if (pass)
			(*pass->ret_n)++;
		r = fn(&d, arg);
		json_decref(d.vars);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}
