// SPDX-License-Identifier: MIT
/*
 * /api/v1/groups and /api/v1/defaults (docs/admin.md): the variables of groups and of the
 * site defaults, with the shapes `autoprov device group show --json` and `defaults show
 * --json` print, through the site's inventory (site/inventory.h).
 */
#include <errno.h>
#include <string.h>

#include "admin/api.h"
#include "site/inventory.h"

static void list_groups(struct admin_request *r)
{
	json_t *items = NULL;
	int e = inventory_groups(admin_site(r), &items);

	if (e < 0) {
		admin_inventory_problem(r, e);
		return;
	}
	admin_reply_json(r, 200, json_pack("{s:o}", "groups", items));
}

static void get_group(struct admin_request *r)
{
	json_t *group = NULL;
	int e = inventory_group_get(admin_site(r), r->params[0], &group);

	if (e < 0) {
		admin_inventory_problem(r, e);
		return;
	}
	admin_reply_json(r, 200, group);
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
	json_t *body = admin_body_json(r), *vars, *group = NULL;
	bool created = false;
	int e;

	if (!body)
		return;
	vars = body_vars(r, body, r->params[0]);
	if (vars) {
		e = inventory_group_put(admin_site(r), r->params[0], vars, &group, &created);
		if (e < 0)
			admin_inventory_problem(r, e);
		else
			admin_reply_json(r, created ? 201 : 200, group);
	}
	json_decref(body);
}

static void delete_group(struct admin_request *r)
{
	int e = inventory_group_remove(admin_site(r), r->params[0]);

	if (e < 0) {
		admin_inventory_problem(r, e);
		return;
	}
	admin_reply(r, 204, NULL, NULL, 0);
}

static void get_defaults(struct admin_request *r)
{
	json_t *vars = NULL;
	int e = inventory_defaults_get(admin_site(r), &vars);

	if (e < 0) {
		admin_inventory_problem(r, e);
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
		e = inventory_defaults_put(admin_site(r), vars);
		if (e < 0)
			admin_inventory_problem(r, e);
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
