// SPDX-License-Identifier: MIT
/*
 * The inventory: devices, groups and the site defaults. Everything that enters goes through
 * the same checks (store_check_*), whether it comes from the command line, the admin API or
 * a spreadsheet, so the daemon can trust what it reads back. Beside it: the CSV import and
 * export (inventory_csv.c), devices as JSON (inventory_json.c), pages of devices
 * (inventory_page.c).
 */
#include "store/inventory_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

#define NAME_MAX_LEN 64

static const char *const profiles[] = { "algo", "fip", "spa", "audiocodes", "panasonic" };

/* The CSV's own columns: fields of every device, so never variable names. */
const char *const store_device_columns[STORE_NDEVICE_COLUMNS] = { "mac", "model", "profile",
								  "group", "enabled" };

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
	for (size_t i = 0; i < STORE_NDEVICE_COLUMNS; i++) {
		if (strcasecmp(name, store_device_columns[i]) == 0) {
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
int store_device_write(struct store *st, const struct device *d, bool replace)
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

void store_copy_err(struct store *st, char *err, size_t errsz)
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
	r = store_device_write(st, d, replace);
	if (r < 0) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	if (r < 0)
		store_copy_err(st, err, errsz);
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
	r = store_device_write(st, d, true);
	if (r < 0) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	device_free(d);
	if (r < 0)
		store_copy_err(st, err, errsz);
	return r;
}

/* The row at stmt (DEVICE_COLUMNS) into d: strings borrowed from stmt, vars a new reference. */
int store_device_from_row(struct store *st, struct stmt *stmt, struct device *d)
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
	r = store_device_from_row(st, stmt, &row);
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

		r = store_device_from_row(st, stmt, &d);
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

/* ---- the MACs an import has seen ---- */

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
int store_mac_seen_add(struct mac_seen *s, const char *mac, unsigned long row,
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

void store_mac_seen_done(struct mac_seen *s)
{
	free(s->keys);
	free(s->rows);
}
