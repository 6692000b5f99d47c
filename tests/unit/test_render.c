// SPDX-License-Identifier: MIT
/*
 * Rendered files through the site's resolver: variable precedence (device > group >
 * defaults > built-ins), unknown and disabled devices, the render cache (shared while
 * nothing changes, renewed when the device, its group, the defaults, the template or a
 * partial change), version counters and encryption options.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "crypto/enc.h"
#include "site/site.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	struct site *site;
};

static void write_file(struct fixture *f, const char *rel, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct site_options opts;
	char path[128], err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/autoprov-render-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/templates", f->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/partials", f->dir);
	mkdir(path, 0755);
	write_file(f, "templates/dev{MAC}.cfg",
		   "mac={{MAC}} model={{model}} a={{a}} b={{b}} c={{c}} {{> part}}\n");
	write_file(f, "templates/generic-{model}.cfg", "model={{model}} c={{c}}\n");
	write_file(f, "templates/v{mac}.cfg", "---\nversion = VER\n---\nVER={{VER}} a={{a}}\n");
	write_file(f, "templates/e{mac}.cfg", "---\nencrypt = key\n---\nsecret {{a}}\n");
	write_file(f, "partials/part", "p={{c}}");
	site_options_default(&opts);
	assert_int_equal(site_open(f->dir, &opts, &f->site, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	site_free(f->site);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void set_vars(json_t *vars, const char *k1, const char *v1, const char *k2, const char *v2)
{
	if (k1)
		json_object_set_new(vars, k1, json_string(v1));
	if (k2)
		json_object_set_new(vars, k2, json_string(v2));
}

static void put_device(struct fixture *f, const char *mac, const char *group, bool enabled,
		       const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct device *d = device_new(mac);
	char err[256];

	assert_non_null(d);
	free(d->model);
	d->model = strdup("8188");
	free(d->group);
	d->group = strdup(group);
	d->enabled = enabled;
	set_vars(d->vars, k1, v1, k2, v2);
	assert_int_equal(store_device_put(site_store(f->site), d, true, err, sizeof(err)), 0);
	device_free(d);
}

static void set_group(struct fixture *f, const char *name, const char *k1, const char *v1,
		      const char *k2, const char *v2)
{
	json_t *vars = json_object();

	set_vars(vars, k1, v1, k2, v2);
	assert_int_equal(store_group_set(site_store(f->site), name, vars), 0);
	json_decref(vars);
}

static void set_defaults(struct fixture *f, const char *k1, const char *v1, const char *k2,
			 const char *v2)
{
	json_t *vars = json_object();

	set_vars(vars, k1, v1, k2, v2);
	assert_int_equal(store_defaults_set(site_store(f->site), vars), 0);
	json_decref(vars);
}

static int resolve(struct fixture *f, const char *path, struct site_file **ret)
{
	struct site_request req = { .proto = "tftp" };

	return site_resolve(f->site, path, strlen(path), &req, ret);
}

static struct site_file *resolve_ok(struct fixture *f, const char *path, const char *expect)
{
	struct site_file *file = NULL;

	assert_int_equal(resolve(f, path, &file), 0);
	if (expect) {
		assert_int_equal(file->size, strlen(expect));
		assert_memory_equal(file->data, expect, file->size);
	}
	return file;
}

static void test_precedence(void **state)
{
	struct fixture *f = *state;

	set_defaults(f, "a", "default-a", "c", "default-c");
	set_group(f, "g", "a", "group-a", "b", "group-b");
	put_device(f, "0022ee010203", "g", true, "a", "device-a", NULL, NULL);
	/* a: device over group over defaults; b: group; c: defaults (also in the partial) */
	site_file_unref(resolve_ok(f, "dev0022EE010203.cfg",
				   "mac=00:22:ee:01:02:03 model=8188 a=device-a b=group-b "
				   "c=default-c p=default-c\n"));
	/* a route without a MAC renders from the defaults and its bound segment */
	site_file_unref(resolve_ok(f, "generic-T46.cfg", "model=T46 c=default-c\n"));
}

static void test_unknown_disabled_wrong_case(void **state)
{
	struct fixture *f = *state;
	struct site_file *file = NULL;

	assert_int_equal(resolve(f, "dev0022EE999999.cfg", &file), -ENOENT);
	put_device(f, "0022ee999999", "", false, NULL, NULL, NULL, NULL);
	assert_int_equal(resolve(f, "dev0022EE999999.cfg", &file), -ENOENT);
	put_device(f, "0022ee999999", "", true, NULL, NULL, NULL, NULL);
	site_file_unref(resolve_ok(f, "dev0022EE999999.cfg", NULL));
	/* {MAC} is upper case only */
	assert_int_equal(resolve(f, "dev0022ee999999.cfg", &file), -ENOENT);
	assert_null(file);
}

static void test_cache(void **state)
{
	struct fixture *f = *state;
	struct site_file *a, *b, *c;

	put_device(f, "0022ee010203", "", true, "a", "one", NULL, NULL);
	put_device(f, "0022ee010204", "", true, "a", "other", NULL, NULL);
	a = resolve_ok(f, "dev0022EE010203.cfg", NULL);
	b = resolve_ok(f, "dev0022EE010203.cfg", NULL);
	assert_ptr_equal(a, b); /* one rendering, shared */
	site_file_unref(b);
	/* another device's change leaves this file's cached rendering as it is */
	put_device(f, "0022ee010204", "", true, "a", "changed", NULL, NULL);
	b = resolve_ok(f, "dev0022EE010203.cfg", NULL);
	assert_ptr_equal(a, b);
	site_file_unref(b);
	/* its own change renders again; the old snapshot stays whole for whoever holds it */
	put_device(f, "0022ee010203", "", true, "a", "two", NULL, NULL);
	c = resolve_ok(f, "dev0022EE010203.cfg",
		       "mac=00:22:ee:01:02:03 model=8188 a=two b= c= p=\n");
	assert_ptr_not_equal(a, c);
	assert_non_null(memmem(a->data, a->size, "a=one", 5));
	site_file_unref(a);
	site_file_unref(c);
	/* the defaults, then a partial, then the template */
	set_defaults(f, "c", "new-c", NULL, NULL);
	site_file_unref(resolve_ok(f, "dev0022EE010203.cfg",
				   "mac=00:22:ee:01:02:03 model=8188 a=two b= c=new-c p=new-c\n"));
	write_file(f, "partials/part", "P={{c}}!");
	site_file_unref(resolve_ok(f, "dev0022EE010203.cfg",
				   "mac=00:22:ee:01:02:03 model=8188 a=two b= c=new-c P=new-c!\n"));
	write_file(f, "templates/dev{MAC}.cfg", "changed {{a}}\n");
	site_file_unref(resolve_ok(f, "dev0022EE010203.cfg", "changed two\n"));
}

static void test_version(void **state)
{
	struct fixture *f = *state;

	put_device(f, "0022ee010203", "", true, "a", "x", NULL, NULL);
	site_file_unref(resolve_ok(f, "v0022ee010203.cfg", "VER=1 a=x\n"));
	put_device(f, "0022ee010203", "", true, "a", "y", NULL, NULL);
	site_file_unref(resolve_ok(f, "v0022ee010203.cfg", "VER=2 a=y\n"));
	/* back to an earlier content is a change too; the same content is not */
	put_device(f, "0022ee010203", "", true, "a", "x", NULL, NULL);
	site_file_unref(resolve_ok(f, "v0022ee010203.cfg", "VER=3 a=x\n"));
	put_device(f, "0022ee010203", "", true, "a", "x", "unused", "1");
	site_file_unref(resolve_ok(f, "v0022ee010203.cfg", "VER=3 a=x\n"));
}

static void test_encrypted(void **state)
{
	struct fixture *f = *state;
	struct site_file *file = NULL;
	unsigned char *plain;
	size_t len;

	put_device(f, "0022ee010203", "", true, "a", "s3cret", NULL, NULL);
	/* no key variable: not served */
	assert_int_equal(resolve(f, "e0022ee010203.cfg", &file), -EIO);
	put_device(f, "0022ee010203", "", true, "a", "s3cret", "key", "k");
	file = resolve_ok(f, "e0022ee010203.cfg", NULL);
	assert_int_equal(enc_decrypt("k", file->data, file->size, &plain, &len), 0);
	assert_int_equal(len, strlen("secret s3cret\n"));
	assert_memory_equal(plain, "secret s3cret\n", len);
	free(plain);
	site_file_unref(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_disabled_wrong_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
