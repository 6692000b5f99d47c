// SPDX-License-Identifier: MIT
/*
 * The devices' state (store.h, "the devices' state"): what each device of the inventory is
 * doing, kept by the journal's writer from the rows it appends, in the same transaction (a
 * device's rows of a batch folded into one write by primary key), so the serving loop pays
 * nothing and a list of a million devices is filtered by state without reading the journal or
 * rendering anything.
 *
 * The rules (docs/admin.md, "Device state"): a row is classified (store_journal_kind); a
 * configuration sent makes the device provisioned and records the inventory revision of
 * the moment (config_rev); a failure makes it failing; another success takes a failing
 * device back to what it was; a normal step (a configuration name not found) changes
 * nothing. "Change pending" is decided when read: provisioned, and the revision of the
 * device, its group or the defaults is above config_rev. The doctor decides it exactly for
 * one device by rendering what it would get now (site/doctor.c).
 */
#include "store/store_impl.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

static const char *const status_names[] = {
	[DEVICE_NEVER_SEEN] = "never-seen",	    [DEVICE_PROVISIONING] = "provisioning",
	[DEVICE_PROVISIONED] = "provisioned",	    [DEVICE_FAILING] = "failing",
	[DEVICE_CHANGE_PENDING] = "change-pending",
};

const char *device_status_name(enum device_status s)
{
	return s < _DEVICE_STATUS_MAX ? status_names[s] : "?";
}

int device_status_parse(const char *name, enum device_status *ret)
{
	for (int s = 0; s < _DEVICE_STATUS_MAX; s++)
		if (strcmp(name, status_names[s]) == 0) {
			*ret = (enum device_status)s;
			return 0;
		}
	return -EINVAL;
}

/* The extension of path's last segment, without the dot ("" for none). */
static const char *extension(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');

	return dot ? dot + 1 : "";
}

static bool ext_in(const char *ext, const char *const *list)
{
	for (; *list; list++)
		if (strcasecmp(ext, *list) == 0)
			return true;
	return false;
}

static const char *const firmware_ext[] = { "sfw", "img", "bin", "fw", "rom", "ld", NULL };
static const char *const resource_ext[] = { "zip", "db",  "pem", "crt", "cer", "der",
					    "wav", "png", "jpg", "txt", NULL };

enum file_kind store_file_kind(const char *path)
{
	const char *ext = extension(path ? path : "");

	if (strcasecmp(ext, "md5") == 0)
		return FILE_MD5;
	if (ext_in(ext, firmware_ext))
		return FILE_FIRMWARE;
	if (ext_in(ext, resource_ext))
		return FILE_RESOURCE;
	return FILE_CONFIG;
}

enum journal_kind store_journal_kind(const struct journal_entry *e)
{
	const char *o = e->outcome ? e->outcome : "";
	enum file_kind k = store_file_kind(e->path);

	if ((e->proto && strcmp(e->proto, "sip") == 0) || strcmp(o, "blocked") == 0)
		return JOURNAL_NEUTRAL;
	if (strcmp(o, "sent") == 0)
		return k == FILE_CONFIG ? JOURNAL_CONFIG : JOURNAL_OK;
	if (strcmp(o, "not modified") == 0)
		return JOURNAL_OK;
	if (strcmp(o, "not found") == 0)
		return k == FILE_CONFIG || k == FILE_MD5 ? JOURNAL_STEP : JOURNAL_FAIL;
	return JOURNAL_FAIL;
}

/* The part of s before any of stop, into buf when it has a digit: 0 or -ENOENT. */
static int version_token(const char *s, size_t n, char *buf, size_t size)
{
	bool digit = false;

	if (n == 0 || n >= size)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!isprint((unsigned char)s[i]) || s[i] == '"')
			return -ENOENT;
		digit |= isdigit((unsigned char)s[i]) != 0;
	}
	if (!digit)
		return -ENOENT;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int store_firmware_of(const struct journal_entry *e, char *buf, size_t size)
{
	const char *ua = e->user_agent;

	if (e->path && e->outcome && strcmp(e->outcome, "sent") == 0 &&
	    store_file_kind(e->path) == FILE_FIRMWARE) {
		const char *base = strrchr(e->path, '/');
		const char *dot;

		base = base ? base + 1 : e->path;
		dot = strrchr(base, '.');
		/* Algo: algo-<PRODUCT>-<version>.sfw (seed 000) */
		if (strncmp(base, "algo-", 5) == 0) {
			const char *dash = strchr(base + 5, '-');

			if (dash && dot > dash &&
			    version_token(dash + 1, (size_t)(dot - dash - 1), buf, size) == 0)
				return 0;
		}
		if (dot && version_token(base, (size_t)(dot - base), buf, size) == 0)
			return 0;
	}
	if (ua && *ua) {
		size_t first = strcspn(ua, " \t(");
		const char *slash = memchr(ua, '/', first);

		/* PRODUCT/VERSION (AUDC-IPPhone/2.2.8.61, Panasonic_KX-UT113/01.133) */
		if (slash) {
			const char *v = slash + 1;
			size_t n = (size_t)(ua + first - v);

			/* Cisco/SPA504G-7.4.9c: the version follows the model's last '-' */
			if (strncasecmp(ua, "Cisco/", 6) == 0 ||
			    strncasecmp(ua, "Linksys/", 8) == 0) {
				const char *dash = NULL;

				for (const char *p = v; p < ua + first; p++)
					if (*p == '-')
						dash = p;
				if (dash) {
					n = (size_t)(ua + first - dash - 1);
					v = dash + 1;
				}
			}
			return version_token(v, n, buf, size);
		}
		/* VENDOR MODEL VERSION [MAC] (Flyingvoice FIP13G V0.6.24, Yealink, Fanvil) */
		{
			const char *p = ua;

			for (int tok = 0; tok < 2 && *p; tok++) {
				p += strcspn(p, " \t");
				p += strspn(p, " \t");
			}
			if (*p)
				return version_token(p, strcspn(p, " \t"), buf, size);
		}
	}
	return -ENOENT;
}

int store_state_begin(struct store *st, uint64_t *ret_rev)
{
	return store_inventory_revision(st, ret_rev);
}

void store_state_fold_start(struct state_fold *f)
{
	memset(f, 0, sizeof(*f));
}

void store_state_fold_add(struct state_fold *f, const struct journal_entry *e, int64_t id,
			  int64_t usec, uint64_t rev)
{
	struct state_row row = { e, id, usec };
	char firmware[sizeof(f->firmware)];

	if (!f->first.e)
		f->first = row;
	f->last = row;
	if (e->user_agent)
		f->user_agent = e->user_agent;
	if (e->outcome && strcmp(e->outcome, "sent") == 0)
		f->sent = row;
	if (store_firmware_of(e, firmware, sizeof(firmware)) == 0)
		memcpy(f->firmware, firmware, sizeof(firmware));
	switch (store_journal_kind(e)) {
	case JOURNAL_CONFIG:
		f->config = row;
		/* the loop's revision when it served, else the one of this transaction */
		f->config_rev = e->rev && e->rev < rev ? e->rev : rev;
		f->settled = DEVICE_PROVISIONED;
		f->ok_after = false;
		break;
	case JOURNAL_FAIL:
		f->fail = row;
		f->settled = DEVICE_FAILING;
		f->ok_after = false;
		break;
	case JOURNAL_OK: f->ok_after = true; break;
	case JOURNAL_STEP:
	case JOURNAL_NEUTRAL: break;
	}
}

/*
 * The parameters of a fold: ?1 mac; ?2, ?3 the first row's time and id; ?4..?10 the last
 * row's time, id, proto, peer, user agent (the last one given), path, outcome; ?11 a file
 * was sent, ?12..?15 its time, id, path, md5; ?16 a configuration was sent, ?17..?22 its
 * time, id, path, md5, proto, revision; ?23 a failure, ?24..?28 its time, id, path, outcome,
 * detail; ?29 the firmware; ?30 the status the last configuration or failure settles (0:
 * none); ?31 another success came after it.
 *
 * The status: what ?30 settles, then a success takes a failing device back to provisioned
 * if it ever had a configuration, else provisioning (what the rows one by one would do: a
 * success changes only a failing device, and a configuration or failure settles it whatever
 * it was).
 */
/* an existing row changed by the fold: each kind's columns only if a row of the kind came */
#define FOLD_SET                                                                                   \
	"last_seen = ?4, last_id = ?5, last_proto = ?6, last_peer = ?7,"                           \
	" last_user_agent = coalesce(?8, device_state.last_user_agent),"                           \
	" last_path = ?9, last_outcome = ?10,"                                                     \
	" sent_time = CASE WHEN ?11 <> 0 THEN ?12 ELSE device_state.sent_time END,"                \
	" sent_id = CASE WHEN ?11 <> 0 THEN ?13 ELSE device_state.sent_id END,"                    \
	" sent_path = CASE WHEN ?11 <> 0 THEN ?14 ELSE device_state.sent_path END,"                \
	" sent_md5 = CASE WHEN ?11 <> 0 THEN ?15 ELSE device_state.sent_md5 END,"                  \
	" config_time = CASE WHEN ?16 <> 0 THEN ?17 ELSE device_state.config_time END,"            \
	" config_id = CASE WHEN ?16 <> 0 THEN ?18 ELSE device_state.config_id END,"                \
	" config_path = CASE WHEN ?16 <> 0 THEN ?19 ELSE device_state.config_path END,"            \
	" config_md5 = CASE WHEN ?16 <> 0 THEN ?20 ELSE device_state.config_md5 END,"              \
	" config_proto = CASE WHEN ?16 <> 0 THEN ?21 ELSE device_state.config_proto END,"          \
	" config_rev = CASE WHEN ?16 <> 0 THEN ?22 ELSE device_state.config_rev END,"              \
	" fail_time = CASE WHEN ?23 <> 0 THEN ?24 ELSE device_state.fail_time END,"                \
	" fail_id = CASE WHEN ?23 <> 0 THEN ?25 ELSE device_state.fail_id END,"                    \
	" fail_path = CASE WHEN ?23 <> 0 THEN ?26 ELSE device_state.fail_path END,"                \
	" fail_outcome = CASE WHEN ?23 <> 0 THEN ?27 ELSE device_state.fail_outcome END,"          \
	" fail_detail = CASE WHEN ?23 <> 0 THEN ?28 ELSE device_state.fail_detail END,"            \
	" firmware = coalesce(?29, device_state.firmware),"                                        \
	" status = CASE WHEN ?31 <> 0"                                                             \
	"  AND (CASE WHEN ?30 <> 0 THEN ?30 ELSE device_state.status END) = 3"                     \
	"  THEN (CASE WHEN (CASE WHEN ?16 <> 0 THEN ?17 ELSE device_state.config_time END) > 0"    \
	"   THEN 2 ELSE 1 END)"                                                                    \
	"  ELSE (CASE WHEN ?30 <> 0 THEN ?30 ELSE device_state.status END) END"
/* a new row: what the fold makes of no state (status 1, no configuration) */
#define FOLD_INSERT                                                                                \
	"INSERT INTO device_state (mac, first_seen, first_id, last_seen, last_id, last_proto,"     \
	" last_peer, last_user_agent, last_path, last_outcome, sent_time, sent_id, sent_path,"     \
	" sent_md5, config_time, config_id, config_path, config_md5, config_proto, config_rev,"    \
	" fail_time, fail_id, fail_path, fail_outcome, fail_detail, firmware, status)"             \
	" SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"                                         \
	"  CASE WHEN ?11 <> 0 THEN ?12 ELSE 0 END,"                                                \
	"  CASE WHEN ?11 <> 0 THEN ?13 ELSE 0 END,"                                                \
	"  CASE WHEN ?11 <> 0 THEN ?14 ELSE NULL END,"                                             \
	"  CASE WHEN ?11 <> 0 THEN ?15 ELSE NULL END,"                                             \
	"  CASE WHEN ?16 <> 0 THEN ?17 ELSE 0 END,"                                                \
	"  CASE WHEN ?16 <> 0 THEN ?18 ELSE 0 END,"                                                \
	"  CASE WHEN ?16 <> 0 THEN ?19 ELSE NULL END,"                                             \
	"  CASE WHEN ?16 <> 0 THEN ?20 ELSE NULL END,"                                             \
	"  CASE WHEN ?16 <> 0 THEN ?21 ELSE NULL END,"                                             \
	"  CASE WHEN ?16 <> 0 THEN ?22 ELSE 0 END,"                                                \
	"  CASE WHEN ?23 <> 0 THEN ?24 ELSE 0 END,"                                                \
	"  CASE WHEN ?23 <> 0 THEN ?25 ELSE 0 END,"                                                \
	"  CASE WHEN ?23 <> 0 THEN ?26 ELSE NULL END,"                                             \
	"  CASE WHEN ?23 <> 0 THEN ?27 ELSE NULL END,"                                             \
	"  CASE WHEN ?23 <> 0 THEN ?28 ELSE NULL END,"                                             \
	"  ?29,"                                                                                   \
	"  CASE WHEN ?31 <> 0 AND (CASE WHEN ?30 <> 0 THEN ?30 ELSE 1 END) = 3"                    \
	"   THEN (CASE WHEN ?16 <> 0 THEN 2 ELSE 1 END)"                                           \
	"   ELSE (CASE WHEN ?30 <> 0 THEN ?30 ELSE 1 END) END"                                     \
	" WHERE EXISTS (SELECT 1 FROM devices WHERE mac = ?1)"

/* Binds f's ?2..?31 (above) to stmt. */
static void fold_bind(struct stmt *stmt, const struct state_fold *f)
{
	const struct state_row *sent = &f->sent, *config = &f->config, *fail = &f->fail;

	stmt_bind_text(stmt, 1, f->last.e->mac);
	stmt_bind_int64(stmt, 2, f->first.usec);
	stmt_bind_int64(stmt, 3, f->first.id);
	stmt_bind_int64(stmt, 4, f->last.usec);
	stmt_bind_int64(stmt, 5, f->last.id);
	stmt_bind_text(stmt, 6, f->last.e->proto);
	stmt_bind_text(stmt, 7, f->last.e->peer);
	stmt_bind_text(stmt, 8, f->user_agent);
	stmt_bind_text(stmt, 9, f->last.e->path);
	stmt_bind_text(stmt, 10, f->last.e->outcome);
	stmt_bind_int64(stmt, 11, sent->e != NULL);
	stmt_bind_int64(stmt, 12, sent->e ? sent->usec : 0);
	stmt_bind_int64(stmt, 13, sent->e ? sent->id : 0);
	stmt_bind_text(stmt, 14, sent->e ? sent->e->path : NULL);
	stmt_bind_text(stmt, 15, sent->e ? sent->e->md5 : NULL);
	stmt_bind_int64(stmt, 16, config->e != NULL);
	stmt_bind_int64(stmt, 17, config->e ? config->usec : 0);
	stmt_bind_int64(stmt, 18, config->e ? config->id : 0);
	stmt_bind_text(stmt, 19, config->e ? config->e->path : NULL);
	stmt_bind_text(stmt, 20, config->e ? config->e->md5 : NULL);
	stmt_bind_text(stmt, 21, config->e ? config->e->proto : NULL);
	stmt_bind_int64(stmt, 22, (int64_t)f->config_rev);
	stmt_bind_int64(stmt, 23, fail->e != NULL);
	stmt_bind_int64(stmt, 24, fail->e ? fail->usec : 0);
	stmt_bind_int64(stmt, 25, fail->e ? fail->id : 0);
	stmt_bind_text(stmt, 26, fail->e ? fail->e->path : NULL);
	stmt_bind_text(stmt, 27, fail->e ? fail->e->outcome : NULL);
	stmt_bind_text(stmt, 28, fail->e ? fail->e->detail : NULL);
	stmt_bind_text(stmt, 29, f->firmware[0] ? f->firmware : NULL);
	stmt_bind_int64(stmt, 30, f->settled);
	stmt_bind_int64(stmt, 31, f->ok_after);
}

/* Runs the statement in slot which (sql) with f bound; its changes go to *changes. */
static int fold_run(struct store *st, enum store_stmt which, const char *sql,
		    const struct state_fold *f, int64_t *changes)
{
	struct stmt *stmt;
	int rc, r;

	r = store_stmt(st, which, sql, &stmt);
	if (r < 0)
		return r;
	fold_bind(stmt, f);
	rc = stmt_step(stmt);
	r = rc == STMT_DONE ? 0 : store_failed(st, rc);
	stmt_reset(stmt);
	if (r == 0 && changes)
		*changes = store_changes(st);
	return r;
}

int store_state_write(struct store *st, const struct state_fold *f, bool *ret_taken)
{
	int64_t n = 0;
	int r;

	*ret_taken = true; /* PostgreSQL: not known in its pipeline */
	if (st->pg)
		return fold_run(st, STMT_STATE_UPSERT,
				FOLD_INSERT " ON CONFLICT (mac) DO UPDATE SET " FOLD_SET, f, NULL);
	/*
	 * SQLite: the row is there but for a device's first request, so an UPDATE by primary
	 * key first (an upsert would look the device up and try an insert each time).
	 */
	r = fold_run(st, STMT_STATE_UPDATE, "UPDATE device_state SET " FOLD_SET " WHERE mac = ?1",
		     f, &n);
	if (r == 0 && n == 0)
		r = fold_run(st, STMT_STATE_INSERT, FOLD_INSERT, f, &n);
	*ret_taken = n > 0;
	return r;
}

/* The columns every read selects, in this order, then the current revision. */
#define STATE_COLUMNS                                                                              \
	"s.mac, s.first_seen, s.first_id, s.last_seen, s.last_id, s.last_proto, s.last_peer,"      \
	" s.last_user_agent, s.last_path, s.last_outcome, s.sent_time, s.sent_id, s.sent_path,"    \
	" s.sent_md5, s.config_time, s.config_id, s.config_path, s.config_md5, s.config_proto,"    \
	" s.config_rev, s.fail_time, s.fail_id, s.fail_path, s.fail_outcome, s.fail_detail,"       \
	" s.firmware, s.status"

#define CURRENT_REV STORE_CURRENT_REV_SQL

static void text_col(struct stmt *stmt, int col, char *buf, size_t size)
{
	const char *t = stmt_text(stmt, col);

	snprintf(buf, size, "%s", t ? t : ""); /* display texts: a long one is cut */
}

/* A row (STATE_COLUMNS at col, CURRENT_REV after, d.mac before) into s. */
static void state_from_row(struct stmt *stmt, int col, struct device_state *s)
{
	memset(s, 0, sizeof(*s));
	text_col(stmt, 0, s->mac, sizeof(s->mac));
	if (stmt_is_null(stmt, col)) {
		s->status = DEVICE_NEVER_SEEN;
		s->current_rev = (uint64_t)stmt_int64(stmt, col + 27);
		return;
	}
	s->known = true;
	s->first_seen = stmt_int64(stmt, col + 1);
	s->first_id = stmt_int64(stmt, col + 2);
	s->last_seen = stmt_int64(stmt, col + 3);
	s->last_id = stmt_int64(stmt, col + 4);
	text_col(stmt, col + 5, s->last_proto, sizeof(s->last_proto));
	text_col(stmt, col + 6, s->last_peer, sizeof(s->last_peer));
	text_col(stmt, col + 7, s->last_user_agent, sizeof(s->last_user_agent));
	text_col(stmt, col + 8, s->last_path, sizeof(s->last_path));
	text_col(stmt, col + 9, s->last_outcome, sizeof(s->last_outcome));
	s->sent_time = stmt_int64(stmt, col + 10);
	s->sent_id = stmt_int64(stmt, col + 11);
	text_col(stmt, col + 12, s->sent_path, sizeof(s->sent_path));
	text_col(stmt, col + 13, s->sent_md5, sizeof(s->sent_md5));
	s->config_time = stmt_int64(stmt, col + 14);
	s->config_id = stmt_int64(stmt, col + 15);
	text_col(stmt, col + 16, s->config_path, sizeof(s->config_path));
	text_col(stmt, col + 17, s->config_md5, sizeof(s->config_md5));
	text_col(stmt, col + 18, s->config_proto, sizeof(s->config_proto));
	s->config_rev = (uint64_t)stmt_int64(stmt, col + 19);
	s->fail_time = stmt_int64(stmt, col + 20);
	s->fail_id = stmt_int64(stmt, col + 21);
	text_col(stmt, col + 22, s->fail_path, sizeof(s->fail_path));
	text_col(stmt, col + 23, s->fail_outcome, sizeof(s->fail_outcome));
	text_col(stmt, col + 24, s->fail_detail, sizeof(s->fail_detail));
	text_col(stmt, col + 25, s->firmware, sizeof(s->firmware));
	switch ((int)stmt_int64(stmt, col + 26)) {
	case 2: s->status = DEVICE_PROVISIONED; break;
	case 3: s->status = DEVICE_FAILING; break;
	default: s->status = DEVICE_PROVISIONING; break;
	}
	s->current_rev = (uint64_t)stmt_int64(stmt, col + 27);
	if (s->status == DEVICE_PROVISIONED && s->current_rev > s->config_rev)
		s->status = DEVICE_CHANGE_PENDING;
}

int store_device_state_get(struct store *st, const char *mac, struct device_state *ret)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st,
			  "SELECT d.mac, " STATE_COLUMNS ", " CURRENT_REV
			  " FROM devices d LEFT JOIN device_state s ON s.mac = d.mac"
			  " LEFT JOIN groups g ON g.name = d.group_name WHERE d.mac = ?1",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_text(stmt, 1, mac);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW) {
		state_from_row(stmt, 1, ret);
		r = 0;
	} else if (rc == STMT_DONE) {
		r = store_fail(st, -ENOENT, "no device %s", mac);
	} else {
		r = store_failed(st, rc);
	}
	stmt_finalize(stmt);
	return r;
}

/* The state as SQL, for counting and filtering (the rule of state_from_row). */
#define STATE_SQL STORE_STATE_SQL

int store_device_state_count(struct store *st, uint64_t counts[_DEVICE_STATUS_MAX])
{
	struct stmt *stmt = NULL;
	int rc, r = 0;

	memset(counts, 0, _DEVICE_STATUS_MAX * sizeof(counts[0]));
	rc = stmt_prepare(st,
			  "SELECT " STATE_SQL " AS state, count(*) FROM devices d"
			  " LEFT JOIN device_state s ON s.mac = d.mac"
			  " LEFT JOIN groups g ON g.name = d.group_name GROUP BY state",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		int s = (int)stmt_int64(stmt, 0);

		if (s >= 0 && s < _DEVICE_STATUS_MAX)
			counts[s] = (uint64_t)stmt_int64(stmt, 1);
	}
	if (rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_device_state_list(struct store *st, enum device_status status, bool all,
			    const char *after_mac, size_t limit,
			    int (*fn)(void *arg, const struct device_state *s), void *arg)
{
	/*
	 * A stored status goes by the index on (status, mac): a page of failing devices
	 * reads that page, not the inventory. "Never seen" is the devices without a row, and
	 * every state at once is the inventory in MAC order.
	 */
	static const char *const by_status = "SELECT d.mac, " STATE_COLUMNS ", " CURRENT_REV
					     " FROM device_state s JOIN devices d ON d.mac = s.mac"
					     " LEFT JOIN groups g ON g.name = d.group_name"
					     " WHERE s.status = ?3 AND s.mac > ?1"
					     " AND (?3 <> 2 OR (CASE WHEN " CURRENT_REV
					     " > s.config_rev THEN 1 ELSE 0 END) = ?2)"
					     " ORDER BY s.mac LIMIT ?4";
	static const char *const by_mac =
		"SELECT d.mac, " STATE_COLUMNS ", " CURRENT_REV
		" FROM devices d LEFT JOIN device_state s ON s.mac = d.mac"
		" LEFT JOIN groups g ON g.name = d.group_name"
		" WHERE d.mac > ?1 AND (?2 OR s.mac IS NULL)"
		" ORDER BY d.mac LIMIT ?4";
	struct stmt *stmt = NULL;
	struct device_state s;
	bool stored = !all && status != DEVICE_NEVER_SEEN;
	int rc, r = 0, code;

	switch (status) {
	case DEVICE_PROVISIONING: code = 1; break;
	case DEVICE_FAILING: code = 3; break;
	default: code = 2; break;
	}
	rc = stmt_prepare(st, stored ? by_status : by_mac, &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_text(stmt, 1, after_mac ? after_mac : "");
	/* by status: ?2 whether pending; by MAC: ?2 every state */
	stmt_bind_int64(stmt, 2, stored ? status == DEVICE_CHANGE_PENDING : all);
	stmt_bind_int64(stmt, 3, code);
	stmt_bind_int64(stmt, 4, limit ? (int64_t)limit : -1);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		state_from_row(stmt, 1, &s);
		r = fn(arg, &s);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_device_state_seen_since(struct store *st, int64_t since, uint64_t *ret)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st, "SELECT count(*) FROM device_state WHERE last_seen >= ?1", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_int64(stmt, 1, (int64_t)since * 1000000);
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

/* Microseconds since the epoch as 2024-05-01T12:00:00Z. */
const char *store_time_text(int64_t usec, char *buf, size_t size)
{
	time_t sec = (time_t)(usec / 1000000);
	struct tm tm;

	if (!gmtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "-");
	return buf;
}

json_t *store_device_state_json(const struct device_state *s)
{
	char t[32];
	json_t *j = json_pack("{s:s}", "status", device_status_name(s->status));

	if (!j || !s->known)
		return j;
	json_object_set_new(j, "first_seen",
			    json_string(store_time_text(s->first_seen, t, sizeof(t))));
	json_object_set_new(j, "last_seen",
			    json_string(store_time_text(s->last_seen, t, sizeof(t))));
	json_object_set_new(j, "last_address", json_string(s->last_peer));
	json_object_set_new(j, "last_user_agent", json_string(s->last_user_agent));
	if (s->sent_time) {
		json_object_set_new(j, "last_sent", json_string(s->sent_path));
		json_object_set_new(j, "last_sent_md5", json_string(s->sent_md5));
		json_object_set_new(j, "last_sent_at",
				    json_string(store_time_text(s->sent_time, t, sizeof(t))));
	}
	if (s->config_time) {
		json_object_set_new(j, "last_config", json_string(s->config_path));
		json_object_set_new(j, "last_config_md5", json_string(s->config_md5));
		json_object_set_new(j, "last_config_at",
				    json_string(store_time_text(s->config_time, t, sizeof(t))));
	}
	if (s->firmware[0])
		json_object_set_new(j, "firmware", json_string(s->firmware));
	return j;
}
