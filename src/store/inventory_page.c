// SPDX-License-Identifier: MIT
/*
 * Pages of devices: keyset paging in MAC order or by a sort key, filtered by group, profile,
 * model, state or a text, for the admin API and `autoprov device list`.
 */
#include "store/inventory_internal.h"

#include <errno.h>
#include <string.h>

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
#define SORT_NAME_PG                                                                                \
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

		r = store_device_from_row(st, stmt, &d);
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
