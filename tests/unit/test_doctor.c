// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/site/doctor.c and src/store/state.c: the devices' state rules
 * (classification of rows, transitions, "change pending" by revisions, counts, lists,
 * seen-since) and the doctor's verdicts on crafted journals, appended as the journal's
 * writer appends them, against a temporary site with files and templates.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "site/doctor.h"
#include "site/site.h"
#include "store/store.h"

#define MAC "0022ee010203"
#define MAU "0022EE010203"
#define T0  1700000000

struct fx {
	char dir[64];
	struct site_options opts;
	struct site *site;
	struct store *st;
	int64_t clock; /* seconds of the next row */
};

static void write_file(struct fx *f, const char *name, const char *text)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[PATH_MAX], err[256];

	if (!f)
		return -1;
	memcpy(f->dir, "/tmp/autoprov-doctor-XXXXXX", sizeof("/tmp/autoprov-doctor-XXXXXX"));
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/files", f->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/templates", f->dir);
	mkdir(path, 0755);
	write_file(f, "templates/algom{MAC}.conf", "sip.user = {{sip_user}}\n");
	write_file(f, "files/algop8188.conf", "generic\n");
	site_options_default(&f->opts);
	if (site_open(f->dir, &f->opts, &f->site, err, sizeof(err)) < 0) {
		print_error("site_open: %s\n", err);
		return -1;
	}
	f->st = site_store(f->site);
	f->clock = T0;
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

static void add_device(struct fx *f, const char *mac, const char *profile, const char *var)
{
	struct device *d = device_new(mac);
	char err[256];

	assert_non_null(d);
	free(d->profile);
	d->profile = strdup(profile);
	if (var)
		json_object_set_new(d->vars, "sip_user", json_string(var));
	assert_int_equal(store_device_put(f->st, d, true, err, sizeof(err)), 0);
	device_free(d);
}

/* One journal row as the writer appends it, a second after the last. */
static void row(struct fx *f, const char *proto, const char *peer, const char *mac,
		const char *path, const char *outcome, const char *md5, const char *detail)
{
	struct journal_entry e = {
		.time = { .tv_sec = (time_t)f->clock++ },
		.proto = proto,
		.peer = peer,
		.mac = mac,
		.path = path,
		.outcome = outcome,
		.md5 = md5,
		.detail = detail,
	};

	assert_int_equal(store_journal_append(f->st, &e, 1), 0);
}

static enum device_status status_of(struct fx *f, const char *mac)
{
	struct device_state s;

	assert_int_equal(store_device_state_get(f->st, mac, &s), 0);
	return s.status;
}

static json_t *diagnose(struct fx *f, const char *mac)
{
	struct doctor_options opts = { .site_dir = f->dir };
	char err[256];
	json_t *dg = NULL;

	assert_int_equal(doctor_diagnose(f->site, mac, &opts, &dg, err, sizeof(err)), 0);
	return dg;
}

/* The verdict of code in dg, or NULL. */
static json_t *find(json_t *dg, const char *code)
{
	json_t *vs = json_object_get(dg, "verdicts");

	for (size_t i = 0; i < json_array_size(vs); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(vs, i), "code")),
			   code) == 0)
			return json_array_get(vs, i);
	return NULL;
}

static const char *status_text(json_t *dg)
{
	return json_string_value(json_object_get(json_object_get(dg, "state"), "status"));
}

/* The ids of the rows verdict v cites. */
static json_int_t cited(json_t *v, size_t i)
{
	return json_integer_value(
		json_object_get(json_array_get(json_object_get(v, "rows"), i), "id"));
}

static void test_kinds(void **state)
{
	struct journal_entry e = { .proto = "tftp",
				   .path = "algom" MAU ".conf",
				   .outcome = "sent" };
	char v[64];

	(void)state;
	assert_int_equal(store_file_kind("a/algom" MAU ".conf"), FILE_CONFIG);
	assert_int_equal(store_file_kind("algop8188.md5"), FILE_MD5);
	assert_int_equal(store_file_kind("algo-8180-5.4f.sfw"), FILE_FIRMWARE);
	assert_int_equal(store_file_kind("400HD.img"), FILE_FIRMWARE);
	assert_int_equal(store_file_kind("tone_file.zip"), FILE_RESOURCE);
	assert_int_equal(store_journal_kind(&e), JOURNAL_CONFIG);
	e.outcome = "not found";
	assert_int_equal(store_journal_kind(&e), JOURNAL_STEP);
	e.path = "algo-8180-5.4f.sfw";
	assert_int_equal(store_journal_kind(&e), JOURNAL_FAIL);
	e.outcome = "sent";
	assert_int_equal(store_journal_kind(&e), JOURNAL_OK);
	assert_int_equal(store_firmware_of(&e, v, sizeof(v)), 0);
	assert_string_equal(v, "5.4f");
	e.outcome = "denied";
	e.path = "x.cfg";
	assert_int_equal(store_journal_kind(&e), JOURNAL_FAIL);
	e.proto = "sip";
	assert_int_equal(store_journal_kind(&e), JOURNAL_NEUTRAL);

	e = (struct journal_entry){ .path = "x.cfg",
				    .outcome = "sent",
				    .user_agent =
					    "AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)" };
	assert_int_equal(store_firmware_of(&e, v, sizeof(v)), 0);
	assert_string_equal(v, "2.2.8.61");
	e.user_agent = "Cisco/SPA504G-7.4.9c (001565000000)(CCQ162306EA)";
	assert_int_equal(store_firmware_of(&e, v, sizeof(v)), 0);
	assert_string_equal(v, "7.4.9c");
	e.user_agent = "Flyingvoice FIP13G V0.6.24 00:21:F2:22:AE:F1";
	assert_int_equal(store_firmware_of(&e, v, sizeof(v)), 0);
	assert_string_equal(v, "V0.6.24");
	e.user_agent = "Panasonic_KX-UT113/01.133 (0080f0c8c381)";
	assert_int_equal(store_firmware_of(&e, v, sizeof(v)), 0);
	assert_string_equal(v, "01.133");
	e.user_agent = "nothing";
	assert_int_equal(store_firmware_of(&e, v, sizeof(v)), -ENOENT);
	assert_int_equal(device_status_parse("change-pending", &(enum device_status){ 0 }), 0);
	assert_int_equal(device_status_parse("bogus", &(enum device_status){ 0 }), -EINVAL);
}

static void test_state_rules(void **state)
{
	struct fx *f = *state;
	uint64_t counts[_DEVICE_STATUS_MAX], n;
	struct device_state s;

	add_device(f, MAC, "algo", "2001");
	add_device(f, "0022ee010204", "algo", NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_NEVER_SEEN);
	/* a normal step of the search order: provisioning */
	row(f, "tftp", "192.0.2.1:1000", MAC, "algom" MAU "-i.conf", "not found", NULL, NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_PROVISIONING);
	/* a configuration sent: provisioned, with the revision of the moment */
	row(f, "tftp", "192.0.2.1:1001", MAC, "algom" MAU ".conf", "sent",
	    "0123456789abcdef0123456789abcdef", NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_PROVISIONED);
	/* a failure, then another success: failing, then provisioned again */
	row(f, "http", "192.0.2.1:1002", MAC, "tone.zip", "denied", NULL, "wrong credentials");
	assert_int_equal(status_of(f, MAC), DEVICE_FAILING);
	assert_int_equal(store_device_state_get(f->st, MAC, &s), 0);
	assert_string_equal(s.fail_detail, "wrong credentials");
	row(f, "tftp", "192.0.2.1:1003", MAC, "algom" MAU ".md5", "sent", "ffff", NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_PROVISIONED);
	/* SIP and a not-found step change nothing */
	row(f, "sip", "192.0.2.1:5060", MAC, "check-sync", "notify-timeout", NULL, NULL);
	row(f, "tftp", "192.0.2.1:1004", MAC, "algom" MAU "-i.conf", "not found", NULL, NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_PROVISIONED);
	assert_int_equal(store_device_state_get(f->st, MAC, &s), 0);
	assert_true(s.known);
	assert_int_equal(s.first_seen, (int64_t)T0 * 1000000);
	assert_int_equal(s.last_seen, (int64_t)(T0 + 5) * 1000000);
	assert_string_equal(s.config_path, "algom" MAU ".conf");
	assert_string_equal(s.sent_path, "algom" MAU ".md5");
	assert_string_equal(s.last_peer, "192.0.2.1:1004");
	/* the inventory changes for it: change pending, by revisions */
	add_device(f, MAC, "algo", "2002");
	assert_int_equal(status_of(f, MAC), DEVICE_CHANGE_PENDING);
	/* the other device has never been seen */
	assert_int_equal(store_device_state_count(f->st, counts), 0);
	assert_int_equal(counts[DEVICE_CHANGE_PENDING], 1);
	assert_int_equal(counts[DEVICE_NEVER_SEEN], 1);
	assert_int_equal(counts[DEVICE_PROVISIONED], 0);
	/* a configuration sent again: provisioned; then the defaults change: pending again */
	row(f, "tftp", "192.0.2.1:1005", MAC, "algom" MAU ".conf", "sent", "aa", NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_PROVISIONED);
	{
		json_t *vars = json_pack("{s:s}", "ntp", "pool.ntp.org");

		assert_int_equal(store_defaults_set(f->st, vars), 0);
		json_decref(vars);
	}
	assert_int_equal(status_of(f, MAC), DEVICE_CHANGE_PENDING);
	/* a firmware image missing: failing */
	row(f, "tftp", "192.0.2.1:1005", MAC, "algo-8188-5.4f.sfw", "not found", NULL, NULL);
	assert_int_equal(status_of(f, MAC), DEVICE_FAILING);
	/* an unknown MAC keeps no state: its history is the journal's */
	row(f, "tftp", "192.0.2.9:1", "0022eeffffff", "algom0022EEFFFFFF.conf", "not found", NULL,
	    NULL);
	assert_int_equal(store_device_state_get(f->st, "0022eeffffff", &s), -ENOENT);
	assert_int_equal(store_device_state_seen_since(f->st, T0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_device_state_seen_since(f->st, T0 + 100, &n), 0);
	assert_int_equal(n, 0);
	/* removing the device removes its state */
	assert_int_equal(store_device_remove(f->st, MAC), 0);
	assert_int_equal(store_device_state_seen_since(f->st, 0, &n), 0);
	assert_int_equal(n, 0);
}

static int count_list(void *arg, const struct device_state *s)
{
	(*(int *)arg)++;
	return 0;
}

/* A fetch served before the loop saw a change, written after it: still pending. */
static void test_state_served_revision(void **state)
{
	struct fx *f = *state;
	uint64_t before;
	struct journal_entry e = {
		.time = { .tv_sec = T0 },
		.proto = "tftp",
		.peer = "192.0.2.1:1",
		.mac = MAC,
		.path = "algom" MAU ".conf",
		.outcome = "sent",
		.md5 = "aa",
	};

	add_device(f, MAC, "algo", "1");
	assert_int_equal(store_inventory_revision(f->st, &before), 0);
	add_device(f, MAC, "algo", "2"); /* committed while the loop served the old file */
	e.rev = before;
	assert_int_equal(store_journal_append(f->st, &e, 1), 0);
	assert_int_equal(status_of(f, MAC), DEVICE_CHANGE_PENDING);
	/* the next fetch, served from the new revision */
	e.rev = 0;
	assert_int_equal(store_journal_append(f->st, &e, 1), 0);
	assert_int_equal(status_of(f, MAC), DEVICE_PROVISIONED);
}

static void test_state_list(void **state)
{
	struct fx *f = *state;
	int n = 0;

	add_device(f, "0022ee000001", "algo", NULL);
	add_device(f, "0022ee000002", "algo", NULL);
	add_device(f, "0022ee000003", "algo", NULL);
	row(f, "tftp", "192.0.2.1:1", "0022ee000002", "x.cfg", "sent", "aa", NULL);
	assert_int_equal(
		store_device_state_list(f->st, DEVICE_NEVER_SEEN, false, "", 0, count_list, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(store_device_state_list(f->st, DEVICE_NEVER_SEEN, false, "0022ee000001", 0,
						 count_list, &n),
			 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(store_device_state_list(f->st, 0, true, "", 2, count_list, &n), 0);
	assert_int_equal(n, 2);
	/* the stored states go by their index; pending by the revisions */
	n = 0;
	assert_int_equal(
		store_device_state_list(f->st, DEVICE_PROVISIONED, false, "", 0, count_list, &n),
		0);
	assert_int_equal(n, 1);
	add_device(f, "0022ee000002", "algo", "changed");
	n = 0;
	assert_int_equal(
		store_device_state_list(f->st, DEVICE_PROVISIONED, false, "", 0, count_list, &n),
		0);
	assert_int_equal(n, 0);
	assert_int_equal(
		store_device_state_list(f->st, DEVICE_CHANGE_PENDING, false, "", 0, count_list, &n),
		0);
	assert_int_equal(n, 1);
	row(f, "tftp", "192.0.2.1:1", "0022ee000003", "x.cfg", "timed out", NULL, NULL);
	n = 0;
	assert_int_equal(
		store_device_state_list(f->st, DEVICE_FAILING, false, "", 0, count_list, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(store_device_state_list(f->st, DEVICE_FAILING, false, "0022ee000003", 0,
						 count_list, &n),
			 0);
	assert_int_equal(n, 0);
}

static void test_doctor_never_seen_and_unknown(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	add_device(f, MAC, "algo", "1");
	dg = diagnose(f, MAC);
	assert_non_null(find(dg, "never-seen"));
	assert_string_equal(status_text(dg), "never-seen");
	json_decref(dg);
	dg = diagnose(f, "0022eeffffff");
	v = find(dg, "unknown");
	assert_non_null(v);
	assert_non_null(
		strstr(json_string_value(json_object_get(v, "action")), "add 00:22:ee:ff:ff:ff"));
	json_decref(dg);
}

static void test_doctor_not_in_inventory_generic(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	/* Algo's search order: its own names, then the generic file (no MAC in the row) */
	row(f, "tftp", "192.0.2.7:1", "0022eeffffff", "algom0022EEFFFFFF.conf", "not found", NULL,
	    NULL);
	row(f, "tftp", "192.0.2.7:2", "0022eeffffff", "algom0022EEFFFFFF-i.conf", "not found", NULL,
	    NULL);
	row(f, "tftp", "192.0.2.7:3", NULL, "algop8188.conf", "sent", "aa", NULL);
	row(f, "tftp", "192.0.2.99:3", NULL, "algop8188.conf", "sent", "aa", NULL);
	dg = diagnose(f, "0022eeffffff");
	v = find(dg, "not-in-inventory");
	assert_non_null(v);
	assert_non_null(strstr(json_string_value(json_object_get(v, "action")), "--profile algo"));
	assert_non_null(strstr(json_string_value(json_object_get(v, "action")), "--model 8188"));
	v = find(dg, "generic-instead-of-own");
	assert_non_null(v);
	assert_int_equal(cited(v, 0), 2);
	assert_int_equal(cited(v, 1), 3);
	/* another address's generic fetch is not this device's */
	assert_int_equal(json_integer_value(json_object_get(dg, "rows_read")), 3);
	json_decref(dg);
}

static void test_doctor_md5(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	add_device(f, MAC, "algo", "1");
	row(f, "tftp", "192.0.2.1:1", MAC, "algom" MAU ".conf", "sent", "aa", NULL);
	dg = diagnose(f, MAC);
	v = find(dg, "md5-never-fetched");
	assert_non_null(v);
	assert_int_equal(cited(v, 0), 1);
	json_decref(dg);
	row(f, "tftp", "192.0.2.1:2", MAC, "algom" MAU ".md5", "not found", NULL, NULL);
	dg = diagnose(f, MAC);
	assert_null(find(dg, "md5-never-fetched"));
	v = find(dg, "md5-not-found");
	assert_non_null(v);
	assert_int_equal(cited(v, 1), 2);
	json_decref(dg);
	/* over HTTP an Algo device asks for no .md5: its latest configuration says nothing */
	row(f, "http", "192.0.2.1:3", MAC, "algom" MAU ".conf", "sent", "aa", NULL);
	dg = diagnose(f, MAC);
	assert_null(find(dg, "md5-not-found"));
	assert_null(find(dg, "md5-never-fetched"));
	json_decref(dg);
}

static void test_doctor_denials(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	add_device(f, MAC, "spa", "1");
	/* the challenge a login starts with, answered by a try: no "no-credentials" */
	row(f, "http", "192.0.2.1:1", NULL, "fv" MAU ".conf", "denied", NULL,
	    "credentials asked for");
	row(f, "http", "192.0.2.1:1", MAC, "fv" MAU ".conf", "denied", NULL, "wrong credentials");
	row(f, "https", "192.0.2.1:2", MAC, "fv" MAU ".conf", "denied", NULL,
	    "the certificate is another device's");
	row(f, "tftp", "192.0.2.1:3", MAC, "-", "blocked", NULL,
	    "192.0.2.1 blocked for 60 s: 40 requests for devices it may not have");
	dg = diagnose(f, MAC);
	v = find(dg, "wrong-password");
	assert_non_null(v);
	assert_non_null(strstr(json_string_value(json_object_get(v, "action")), "prov_password"));
	assert_int_equal(cited(v, 0), 2);
	assert_null(find(dg, "no-credentials"));
	assert_non_null(find(dg, "certificate"));
	v = find(dg, "blocked");
	assert_non_null(v);
	assert_non_null(
		strstr(json_string_value(json_object_get(v, "detail")), "blocked for 60 s"));
	assert_string_equal(status_text(dg), "failing");
	json_decref(dg);
	/* the right password since: the old denial is not held against it */
	row(f, "http", "192.0.2.1:4", MAC, "fv" MAU ".conf", "sent", "aa", NULL);
	dg = diagnose(f, MAC);
	assert_null(find(dg, "wrong-password"));
	assert_null(find(dg, "certificate"));
	json_decref(dg);
}

static void test_doctor_missing_firmware_and_pending(void **state)
{
	struct fx *f = *state;
	struct site_file *file = NULL;
	struct site_request req = { .proto = "tftp" };
	char md5[33];
	json_t *dg, *v;

	add_device(f, MAC, "algo", "2001");
	assert_int_equal(site_resolve(f->site, "algom" MAU ".conf", strlen("algom" MAU ".conf"),
				      &req, &file),
			 0);
	memcpy(md5, site_file_md5(file), 33);
	site_file_unref(file);
	row(f, "tftp", "192.0.2.1:1", MAC, "algom" MAU ".conf", "sent", md5, NULL);
	row(f, "tftp", "192.0.2.1:2", MAC, "algom" MAU ".md5", "sent", "bb", NULL);
	row(f, "tftp", "192.0.2.1:3", NULL, "algo-8188-5.4f.sfw", "not found", NULL, NULL);
	dg = diagnose(f, MAC);
	v = find(dg, "missing-file");
	assert_non_null(v);
	assert_non_null(
		strstr(json_string_value(json_object_get(v, "detail")), "prov.version.firmware"));
	assert_int_equal(cited(v, 0), 3);
	assert_null(find(dg, "change-pending"));
	assert_non_null(find(dg, "last-provisioning"));
	json_decref(dg);
	/* what it would get now differs from what it got */
	add_device(f, MAC, "algo", "2002");
	dg = diagnose(f, MAC);
	v = find(dg, "change-pending");
	assert_non_null(v);
	assert_non_null(strstr(json_string_value(json_object_get(v, "action")), "autoprov resync"));
	assert_int_equal(cited(v, 0), 1);
	json_decref(dg);
	/* the inventory changed but not the file: the render decides, not the revision */
	add_device(f, MAC, "algo", "2001");
	dg = diagnose(f, MAC);
	assert_null(find(dg, "change-pending"));
	json_decref(dg);
}

static void test_doctor_prefix(void **state)
{
	struct fx *f = *state;
	struct doctor_options opts = { .site_dir = f->dir, .prefix_tftp = "prov" };
	char err[256];
	json_t *dg = NULL;

	add_device(f, MAC, "algo", "1");
	row(f, "tftp", "192.0.2.1:1", MAC, "prov/algom" MAU ".conf", "sent", "aa", NULL);
	dg = diagnose(f, MAC);
	assert_non_null(find(dg, "config-gone")); /* without the prefix: no such file */
	json_decref(dg);
	assert_int_equal(doctor_diagnose(f->site, MAC, &opts, &dg, err, sizeof(err)), 0);
	assert_null(find(dg, "config-gone"));
	assert_non_null(find(dg, "change-pending")); /* "aa" is not its MD5 */
	json_decref(dg);
}

static void test_doctor_fip_include(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	write_file(
		f, "files/y000000000000.boot",
		"#!version:1.0.0.1\ninclude:config <y000000000000.cfg>\ninclude:config <extra.cfg>\n");
	write_file(f, "files/y000000000000.cfg", "common\n");
	add_device(f, MAC, "fip", "1");
	row(f, "tftp", "192.0.2.1:1", MAC, MAC ".boot", "not found", NULL, NULL);
	row(f, "tftp", "192.0.2.1:2", NULL, "y000000000000.boot", "sent", "aa", NULL);
	row(f, "tftp", "192.0.2.1:3", NULL, "y000000000000.cfg", "sent", "bb", NULL);
	row(f, "tftp", "192.0.2.1:4", NULL, "extra.cfg", "not found", NULL, NULL);
	dg = diagnose(f, MAC);
	v = find(dg, "include-missing");
	assert_non_null(v);
	assert_non_null(strstr(json_string_value(json_object_get(v, "title")), "extra.cfg"));
	assert_non_null(find(dg, "generic-instead-of-own"));
	json_decref(dg);
}

static void test_doctor_spa_dbase_version(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	write_file(f, "templates/fv{MAC}.conf",
		   "DBID_DBASE_VERSION=7\nDBID_SIP_ACCOUNT={{sip_user}}\n");
	add_device(f, MAC, "spa", "1");
	row(f, "tftp", "192.0.2.1:1", MAC, "fv" MAU ".conf", "sent",
	    "0123456789abcdef0123456789abcdef", NULL);
	dg = diagnose(f, MAC);
	v = find(dg, "change-pending");
	assert_non_null(v);
	assert_non_null(
		strstr(json_string_value(json_object_get(v, "detail")), "DBID_DBASE_VERSION=7"));
	assert_string_equal(status_text(dg), "change-pending");
	assert_null(find(dg, "md5-never-fetched")); /* not an Algo device */
	json_decref(dg);
}

static void test_doctor_audiocodes_firmware_first(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	write_file(f, "files/450HD.img", "image");
	write_file(f, "files/450hd.cfg", "cfg");
	add_device(f, MAC, "audiocodes", "1");
	row(f, "http", "192.0.2.1:1", MAC, "/450HD.img", "sent", "aa", NULL);
	dg = diagnose(f, MAC);
	v = find(dg, "audiocodes-firmware-first");
	assert_non_null(v);
	assert_int_equal(cited(v, 0), 1);
	json_decref(dg);
	row(f, "http", "192.0.2.1:2", MAC, "/450hd.cfg", "sent", "bb", NULL);
	dg = diagnose(f, MAC);
	assert_null(find(dg, "audiocodes-firmware-first"));
	json_decref(dg);
}

static void test_doctor_sip_pnp(void **state)
{
	struct fx *f = *state;
	json_t *dg, *v;

	add_device(f, MAC, "fip", "1");
	row(f, "sip", "192.0.2.1:5060", MAC, "sip:MAC" MAC "@224.0.1.75", "pnp-url-sent", NULL,
	    NULL);
	row(f, "sip", "192.0.2.1:5060", MAC, "sip:192.0.2.1:5060", "notify-timeout", NULL, NULL);
	dg = diagnose(f, MAC);
	v = find(dg, "pnp-notify-unanswered");
	assert_non_null(v);
	assert_int_equal(cited(v, 0), 2);
	assert_string_equal(status_text(dg), "provisioning");
	json_decref(dg);
	/* it fetched since: nothing to say about PnP */
	row(f, "tftp", "192.0.2.1:1000", MAC, MAC ".boot", "not found", NULL, NULL);
	dg = diagnose(f, MAC);
	assert_null(find(dg, "pnp-notify-unanswered"));
	json_decref(dg);
	row(f, "sip", "192.0.2.1:5060", MAC, "sip:MAC" MAC "@224.0.1.75", "ignored-unknown", NULL,
	    NULL);
	dg = diagnose(f, MAC);
	assert_non_null(find(dg, "pnp-ignored"));
	json_decref(dg);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		T(test_state_rules),
		T(test_state_served_revision),
		T(test_state_list),
		T(test_doctor_never_seen_and_unknown),
		T(test_doctor_not_in_inventory_generic),
		T(test_doctor_md5),
		T(test_doctor_denials),
		T(test_doctor_missing_firmware_and_pending),
		T(test_doctor_prefix),
		T(test_doctor_fip_include),
		T(test_doctor_spa_dbase_version),
		T(test_doctor_audiocodes_firmware_first),
		T(test_doctor_sip_pnp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
