// SPDX-License-Identifier: MIT
/*
 * /api/v1/groups and /api/v1/defaults (docs/admin.md): the variables of groups and of the
 * site defaults, with the shapes `autoprov device group show --json` and `defaults show
 * --json` print, through the same store functions.
 */
#include <errno.h>
#include <string.h>

#include "admin/api.h"
#include "store/store.h"

static json_t *group_json(const char *name, json_t *vars, uint64_t devices)
{
	return json_pack("{s:s, s:I, s:O}", "name", name, "devices", (json_int_t)devices, "vars",
			 vars);
}

static void problem_of(struct admin_request *r, int e)
{
	struct store *st = admin_store(r);

	if (e == -ENOENT)
		admin_problem(r, 404, NULL, NULL, "%s", store_strerror(st));
	else if (e == -EINVAL)
		admin_problem(r, 422, NULL, NULL, "%s", store_strerror(st));
	else if (e == -EBUSY && !strstr(store_strerror(st), "locked"))
		admin_problem(r, 409, NULL, NULL, "%s", store_strerror(st));
	else if (e == -ENOMEM)
		admin_problem(r, 500, NULL, NULL, "out of memory");
	else
		admin_problem(r, 503, NULL, NULL, "the store: %s", store_strerror(st));
}

struct group_list {
	struct store *st;
	json_t *items;
};

static int group_one(const char *name, json_t *vars, void *arg)
{
	struct group_list *gl = arg;
	uint64_t n = 0;
	json_t *obj;
	int e = store_group_count_devices(gl->st, name, &n);

	if (e < 0)
		return e;
	obj = group_json(name, vars, n);
	if (!obj || json_array_append_new(gl->items, obj) < 0)
		return -ENOMEM;
	return 0;
}

static void list_groups(struct admin_request *r)
{
	struct group_list gl = { .st = admin_store(r), .items = json_array() };
	int e;

	if (!gl.items) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	/* one snapshot: the counts are those of the groups listed */
	e = store_begin(gl.st, false);
	if (e == 0) {
		e = store_group_foreach(gl.st, group_one, &gl);
		store_rollback(gl.st);
	}
	if (e < 0) {
		json_decref(gl.items);
		problem_of(r, e);
		return;
	}
	admin_reply_json(r, 200, json_pack("{s:o}", "groups", gl.items));
}

static void get_group(struct admin_request *r)
{
	struct store *st = admin_store(r);
	json_t *vars = NULL;
	uint64_t n = 0;
	int e;

	e = store_begin(st, false);
	if (e == 0) {
		e = store_group_get(st, r->params[0], &vars);
		if (e == 0)
			e = store_group_count_devices(st, r->params[0], &n);
		store_rollback(st);
	}
	if (e < 0) {
		json_decref(vars);
		problem_of(r, e);
		return;
	}
	admin_reply_json(r, 200, group_json(r->params[0], vars, n));
	json_decref(vars);
}

/*
 * The "vars" of a body {"vars": {...}} (other members: those the server gives, which
 * must agree or are ignored). A borrowed reference, or NULL after answering.
 */
static json_t *body_vars(struct admin_request *r, json_t *body, const char *name)
{
	const char *key;
	json_t *v, *vars = json_object_get(body, "vars");

	if (!json_is_object(body) || !json_is_object(vars)) {
		admin_problem(r, 422, NULL, NULL, "{\"vars\": {...}} is expected");
		return NULL;
	}
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "vars") == 0 || strcmp(key, "devices") == 0)
			continue;
		if (name && strcmp(key, "name") == 0) {
			if (!json_is_string(v) || strcmp(json_string_value(v), name) != 0) {
				admin_problem(r, 422, NULL, NULL, "name: not the group's name '%s'",
					      name);
				return NULL;
			}
			continue;
		}
		admin_problem(r, 422, NULL, NULL, "'%s': not a member here (vars)", key);
		return NULL;
	}
	return vars;
}

static void put_group(struct admin_request *r)
{
	struct store *st = admin_store(r);
	json_t *body = admin_body_json(r), *vars, *old = NULL;
	uint64_t n = 0;
	bool existed;
	int e;

	if (!body)
		return;
	vars = body_vars(r, body, r->params[0]);
	if (!vars)
		goto out;
	e = store_begin(st, true);
	if (e < 0) {
		problem_of(r, e);
		goto out;
	}
	e = store_group_get(st, r->params[0], &old);
	existed = e == 0;
	if (e == -ENOENT)
		e = 0;
	if (e == 0)
		e = store_group_set(st, r->params[0], vars);
	if (e == 0)
		e = store_group_count_devices(st, r->params[0], &n);
	if (e < 0) {
		store_rollback(st);
		problem_of(r, e);
		goto out;
	}
	e = store_commit(st);
	if (e < 0) {
		problem_of(r, e);
		goto out;
	}
	admin_reply_json(r, existed ? 200 : 201, group_json(r->params[0], vars, n));
out:
	json_decref(old);
	json_decref(body);
}

static void delete_group(struct admin_request *r)
{
	int e = store_group_remove(admin_store(r), r->params[0]);

	if (e < 0) {
		problem_of(r, e);
		return;
	}
	admin_reply(r, 204, NULL, NULL, 0);
}

static void get_defaults(struct admin_request *r)
{
	json_t *vars = NULL;
	int e = store_defaults_get(admin_store(r), &vars);

	if (e < 0) {
		problem_of(r, e);
		return;
	}
	admin_reply_json(r, 200, json_pack("{s:o}", "vars", vars));
}

static void put_defaults(struct admin_request *r)
{
	json_t *body = admin_body_json(r), *vars;
	int e;

	if (!body)
		return;
	vars = body_vars(r, body, NULL);
	if (vars) {
		e = store_defaults_set(admin_store(r), vars);
		if (e < 0)
			problem_of(r, e);
		else
			admin_reply_json(r, 200, json_pack("{s:O}", "vars", vars));
	}
	json_decref(body);
}

const struct admin_route admin_routes_groups[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/groups", ADMIN_READ, list_groups },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/groups/{name}", ADMIN_READ, get_group },
	{ EVHTTP_REQ_PUT, ADMIN_API_PREFIX "/groups/{name}", ADMIN_WRITE, put_group },
	{ EVHTTP_REQ_DELETE, ADMIN_API_PREFIX "/groups/{name}", ADMIN_WRITE, delete_group },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/defaults", ADMIN_READ, get_defaults },
	{ EVHTTP_REQ_PUT, ADMIN_API_PREFIX "/defaults", ADMIN_WRITE, put_defaults },
	{ 0, NULL, 0, NULL },
};
