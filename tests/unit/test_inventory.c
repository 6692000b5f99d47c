// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/site/inventory.c: device writes (create, put, merge patch) with their
 * expectations of the revision, removal, groups and defaults, journal pages, against a
 * temporary site.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "site/inventory.h"
#include "site/site.h"

#define MAC "0022ee010203"

struct fx {
	char dir[64];
	struct site_options opts;
	struct site *site;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[PATH_MAX], err[256];

	if (!f)
		return -1;
	memcpy(f->dir, "/tmp/autoprov-inv-XXXXXX", sizeof("/tmp/autoprov-inv-XXXXXX"));
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/files", f->dir);
	mkdir(path, 0755);
	site_options_default(&f->opts);
	if (site_open(f->dir, &f->opts, &f->site, err, sizeof(err)) < 0) {
		print_error("site_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	site_free(f->site);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static int write_json(struct fx *f, enum inventory_write how, const char *mac, const char *text,
		      const struct inventory_expect *x, uint64_t *rev, bool *created)
{
	json_t *body = json_loads(text, 0, NULL), *dev = NULL;
	char err[256];
	int e;

	assert_non_null(body);
	e = inventory_device_write(f->site, how, mac, body, x, &dev, rev, created, err,
				   sizeof(err));
	json_decref(body);
	if (e == 0) {
		assert_non_null(dev);
		assert_non_null(json_object_get(dev, "state"));
	} else {
		assert_null(dev);
	}
	json_decref(dev);
	return e;
}

static void test_device_writes(void **state)
{
	struct fx *f = *state;
	struct inventory_expect x = { 0 };
	uint64_t rev = 0, rev2 = 0;
	bool created = false;
	json_t *dev = NULL;

	/* create, then a second create of the same MAC is a conflict */
	assert_int_equal(write_json(f, INVENTORY_CREATE, NULL,
				    "{\"mac\": \"00:22:EE:01:02:03\", \"vars\": {\"a\": \"1\"}}",
				    NULL, &rev, &created),
			 0);
	assert_true(created);
	assert_true(rev > 0);
	assert_int_equal(write_json(f, INVENTORY_CREATE, NULL, "{\"mac\": \"" MAC "\"}", NULL,
				    &rev2, &created),
			 -EEXIST);

	/* If-Match with another revision: -ESTALE and the current one */
	x.given = true;
	x.revs[x.nrevs++] = rev + 100;
	assert_int_equal(write_json(f, INVENTORY_PATCH, MAC, "{\"vars\": {\"b\": \"2\"}}", &x,
				    &rev2, &created),
			 -ESTALE);
	assert_int_equal(rev2, rev);
	/* with the right one: patched, the old variables kept, a new revision */
	x.revs[x.nrevs++] = rev;
	assert_int_equal(write_json(f, INVENTORY_PATCH, MAC,
				    "{\"vars\": {\"b\": \"2\"}, \"rev\": 1}", &x, &rev2, &created),
			 0);
	assert_false(created);
	assert_true(rev2 > rev);
	assert_int_equal(inventory_device_get(f->site, MAC, &dev, &rev), 0);
	assert_int_equal(rev, rev2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(dev, "vars"), "a")),
			    "1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(dev, "vars"), "b")),
			    "2");
	json_decref(dev);

	/* If-None-Match: * on an existing device; a patch that breaks the device */
	x = (struct inventory_expect){ .absent = true };
	assert_int_equal(write_json(f, INVENTORY_PUT, MAC, "{}", &x, &rev2, &created), -ESTALE);
	assert_int_equal(write_json(f, INVENTORY_PATCH, MAC, "{\"profile\": \"nokia\"}", NULL,
				    &rev2, &created),
			 -EINVAL);
	/* a group that does not exist is the body's fault */
	assert_int_equal(
		write_json(f, INVENTORY_PATCH, MAC, "{\"group\": \"nope\"}", NULL, &rev2, &created),
		-EINVAL);
	/* patching a device that does not exist: -ENOENT, or -ESTALE when one was expected */
	assert_int_equal(
		write_json(f, INVENTORY_PATCH, "0022ee000000", "{}", NULL, &rev2, &created),
		-ENOENT);
	x = (struct inventory_expect){ .given = true, .any = true };
	assert_int_equal(write_json(f, INVENTORY_PATCH, "0022ee000000", "{}", &x, &rev2, &created),
			 -ESTALE);
	assert_int_equal(rev2, 0);

	/* remove with an expectation, then without */
	x = (struct inventory_expect){ .given = true, .nrevs = 1, .revs = { 1 } };
	assert_int_equal(inventory_device_remove(f->site, MAC, &x, &rev2), -ESTALE);
	assert_int_equal(inventory_device_remove(f->site, MAC, NULL, &rev2), 0);
	assert_int_equal(inventory_device_remove(f->site, MAC, NULL, &rev2), -ENOENT);
	assert_int_equal(inventory_device_get(f->site, MAC, &dev, &rev), -ENOENT);
}

static void test_pages_and_groups(void **state)
{
	struct fx *f = *state;
	json_t *vars = json_pack("{s:s}", "sip_server", "pbx"), *g = NULL, *items;
	struct device_filter filter = { .group = "office" };
	char last[MAC_LEN + 1], mac[MAC_LEN + 1], body[128];
	uint64_t rev;
	bool created = false, more = true;

	assert_int_equal(inventory_group_put(f->site, "office", vars, &g, &created), 0);
	assert_true(created);
	json_decref(g);
	for (int i = 0; i < 5; i++) {
		snprintf(mac, sizeof(mac), "0022ee0000%02d", i);
		snprintf(body, sizeof(body), "{\"mac\": \"%s\", \"group\": \"%s\"}", mac,
			 i < 3 ? "office" : "");
		assert_int_equal(write_json(f, INVENTORY_PUT, mac, body, NULL, &rev, &created), 0);
	}
	assert_int_equal(inventory_group_put(f->site, "office", vars, &g, &created), 0);
	assert_false(created);
	assert_int_equal(json_integer_value(json_object_get(g, "devices")), 3);
	json_decref(g);

	items = json_array();
	assert_int_equal(inventory_device_page(f->site, &filter, "", 2, items, last, &more, NULL), 0);
	assert_int_equal(json_array_size(items), 2);
	assert_true(more);
	assert_string_equal(last, "0022ee000001");
	assert_int_equal(inventory_device_page(f->site, &filter, last, 2, items, last, &more, NULL), 0);
	assert_int_equal(json_array_size(items), 3);
	assert_false(more);
	json_decref(items);

	/* a group in use cannot go; defaults round trip */
	assert_int_equal(inventory_group_remove(f->site, "office"), -EBUSY);
	assert_int_equal(inventory_groups(f->site, &g), 0);
	assert_int_equal(json_array_size(g), 1);
	json_decref(g);
	assert_int_equal(inventory_defaults_put(f->site, vars), 0);
	assert_int_equal(inventory_defaults_get(f->site, &g), 0);
	assert_true(json_equal(g, vars));
	json_decref(g);
	json_decref(vars);
	assert_int_equal(inventory_group_get(f->site, "nope", &g), -ENOENT);
	assert_non_null(inventory_strerror(f->site));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_device_writes),
		T(test_pages_and_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
