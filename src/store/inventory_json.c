// SPDX-License-Identifier: MIT
/*
 * Devices as JSON: the one shape the admin API and `device list/show --json` print, read back
 * with the same checks as any other device, and an array of them imported in one transaction.
 */
#include "store/inventory_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
		store_copy_err(st, err, errsz);
		return -EINVAL;
	}
	if (json_array_size(devices) > INT32_MAX) {
		store_fail(st, -E2BIG, "too many devices");
		store_copy_err(st, err, errsz);
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
		r = store_mac_seen_add(&seen, d->mac, i + 1, &prev);
		if (r == 1) {
			mac_colons(d->mac, colons);
			r = store_fail(st, -EEXIST, "%zu: %s is also on row %lu", i + 1, colons,
				       prev);
		} else if (r < 0) {
			store_fail(st, r, "out of memory");
		} else {
			r = store_device_write(st, d, replace);
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
	store_mac_seen_done(&seen);
	if (r < 0) {
		store_copy_err(st, err, errsz);
		return r;
	}
	return (int)json_array_size(devices);
}
