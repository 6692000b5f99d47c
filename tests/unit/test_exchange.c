// SPDX-License-Identifier: MIT
/*
 * The exchange (site/exchange.h): every outcome has a journal text and a level, each
 * protocol's table answers every outcome, the journal texts are the ones databases hold
 * (and journal sampling reads), and the access rule ("a device gets only its own files") for
 * every kind of asker, alone and through exchange_open() on a real site.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tmpdir.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/ftp.h"
#include "proto/http.h"
#include "proto/sip.h"
#include "proto/tftp.h"
#include "site/exchange.h"
#include "site/journal_sample.h"
#include "site/site.h"
#include "store/store.h"

#define DEV_A "0022ee010203"
#define DEV_B "0022ee0a0b0c"

static void test_every_outcome_has_text_and_level(void **state)
{
	for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
		const char *t = outcome_journal_text((enum outcome)o);
		enum log_level l = outcome_log_level((enum outcome)o);

		assert_non_null(t);
		assert_true(t[0] != '\0');
		assert_true(l == LOG_LEVEL_INFO || l == LOG_LEVEL_WARN || l == LOG_LEVEL_DEBUG);
		/* the journal's sampling and pruning tell a success by its text */
		if (o != OUTCOME_NOTIFY_ANSWERED)
			assert_int_equal(!journal_is_miss(t), outcome_is_success((enum outcome)o));
	}
	assert_false(outcome_is_journaled(OUTCOME_BLOCKED));
	assert_true(outcome_is_journaled(OUTCOME_SENT));
}

/* The texts stored today: existing databases, `autoprov log` and tests read them. */
static void test_journal_texts_unchanged(void **state)
{
	static const struct {
		enum outcome o;
		const char *text;
	} want[] = {
		{ OUTCOME_SENT, "sent" },
		{ OUTCOME_PARTIAL, "sent" },
		{ OUTCOME_REDIRECTED, "sent" },
		{ OUTCOME_NOT_MODIFIED, "not modified" },
		{ OUTCOME_NOT_FOUND, "not found" },
		{ OUTCOME_DENIED, "denied" },
		{ OUTCOME_REFUSED, "denied" },
		{ OUTCOME_AUTH_REQUIRED, "denied" },
		{ OUTCOME_AUTH_FAILED, "denied" },
		{ OUTCOME_BLOCKED, "blocked" },
		{ OUTCOME_TOO_LARGE, "error" },
		{ OUTCOME_BUSY, "busy" },
		{ OUTCOME_BAD_REQUEST, "error" },
		{ OUTCOME_NOT_IMPLEMENTED, "error" },
		{ OUTCOME_ERROR, "error" },
		{ OUTCOME_TIMED_OUT, "timed out" },
		{ OUTCOME_ABORTED, "aborted" },
		{ OUTCOME_PNP_URL_SENT, "pnp-url-sent" },
		{ OUTCOME_NOTIFY_TIMEOUT, "notify-timeout" },
		{ OUTCOME_SUBSCRIBE_REPEAT, "subscribe-repeat" },
		{ OUTCOME_BAD_EVENT, "bad-event" },
		{ OUTCOME_SIP_BAD_REQUEST, "bad-request" },
		{ OUTCOME_NOT_ALLOWED, "not-allowed" },
		{ OUTCOME_IGNORED_NO_MAC, "ignored-no-mac" },
		{ OUTCOME_IGNORED_UNKNOWN, "ignored-unknown" },
		{ OUTCOME_IGNORED_OUI, "ignored-oui" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(outcome_journal_text(want[i].o), want[i].text);
	assert_true(journal_is_miss("notify-timeout"));
	assert_int_equal(exchange_outcome_of(-ENOENT), OUTCOME_NOT_FOUND);
	assert_int_equal(exchange_outcome_of(-EACCES), OUTCOME_REFUSED);
	assert_int_equal(exchange_outcome_of(-EFBIG), OUTCOME_TOO_LARGE);
	/* out of descriptors: busy (HTTP 503, FTP 421, TFTP "retry later"), not an error */
	assert_int_equal(exchange_outcome_of(-EMFILE), OUTCOME_BUSY);
	assert_int_equal(exchange_outcome_of(-ENFILE), OUTCOME_BUSY);
	/* a template that fails is the server's fault, on every protocol */
	assert_int_equal(exchange_outcome_of(-EIO), OUTCOME_ERROR);
	assert_int_equal(exchange_outcome_of(-ENOMEM), OUTCOME_ERROR);
}

static void test_tftp_table_complete(void **state)
{
	enum tftp_error code = TFTP_EEXISTS;

	for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
		code = TFTP_EEXISTS;
		assert_non_null(tftp_outcome_answer((enum outcome)o, &code));
		assert_true(code <= TFTP_EOPTNEG && code != TFTP_EEXISTS);
	}
	assert_null(tftp_outcome_answer(_OUTCOME_MAX, &code));
	assert_string_equal(tftp_outcome_answer(OUTCOME_NOT_FOUND, &code), "file not found");
	assert_int_equal(code, TFTP_ENOTFOUND);
	assert_string_equal(tftp_outcome_answer(OUTCOME_DENIED, &code), "access violation");
	assert_int_equal(code, TFTP_EACCESS);
	assert_string_equal(tftp_outcome_answer(OUTCOME_BLOCKED, &code), "blocked");
	assert_int_equal(code, TFTP_EUNDEF);
	assert_string_equal(tftp_outcome_answer(OUTCOME_ERROR, &code), "server error");
	assert_int_equal(code, TFTP_EUNDEF);
}

static void test_http_table_complete(void **state)
{
	const char *text;

	for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
		int st;

		text = NULL;
		st = http_outcome_status((enum outcome)o, &text);
		assert_true(st >= 200 && st < 600);
		assert_non_null(text);
		/* an error has a body; a success is the file's */
		assert_int_equal(st >= 400, text[0] != '\0');
	}
	assert_int_equal(http_outcome_status(_OUTCOME_MAX, NULL), -EINVAL);
	assert_int_equal(http_outcome_status(OUTCOME_SENT, NULL), 200);
	assert_int_equal(http_outcome_status(OUTCOME_NOT_MODIFIED, NULL), 304);
	assert_int_equal(http_outcome_status(OUTCOME_NOT_FOUND, NULL), 404);
	assert_int_equal(http_outcome_status(OUTCOME_DENIED, NULL), 403);
	assert_int_equal(http_outcome_status(OUTCOME_AUTH_REQUIRED, NULL), 401);
	assert_int_equal(http_outcome_status(OUTCOME_BLOCKED, NULL), 429);
	assert_int_equal(http_outcome_status(OUTCOME_ERROR, NULL), 500);
}

static void test_ftp_table_complete(void **state)
{
	unsigned code;

	for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
		code = 0;
		assert_non_null(ftp_outcome_reply((enum outcome)o, &code));
		assert_true(code >= 200 && code < 600);
		/* a failure is never a positive completion */
		if (!outcome_is_success((enum outcome)o) && o != OUTCOME_NOTIFY_ANSWERED)
			assert_true(code >= 400);
	}
	assert_null(ftp_outcome_reply(_OUTCOME_MAX, &code));
	assert_string_equal(ftp_outcome_reply(OUTCOME_NOT_FOUND, &code), "File not found.");
	assert_int_equal(code, 550);
	assert_string_equal(ftp_outcome_reply(OUTCOME_DENIED, &code), "Permission denied.");
	assert_int_equal(code, 550);
	assert_non_null(ftp_outcome_reply(OUTCOME_BLOCKED, &code));
	assert_int_equal(code, 421);
	assert_non_null(ftp_outcome_reply(OUTCOME_ERROR, &code));
	assert_int_equal(code, 451);
}

static void test_sip_table_complete(void **state)
{
	const char *reason;

	for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
		int st;

		reason = NULL;
		st = sip_outcome_status((enum outcome)o, &reason);
		assert_true(st == 0 || (st >= 200 && st < 700));
		assert_non_null(reason);
		assert_int_equal(st == 0, reason[0] == '\0');
	}
	assert_int_equal(sip_outcome_status(_OUTCOME_MAX, NULL), -EINVAL);
	/* a spoofed SUBSCRIBE reflects nothing: no answer while ignored or blocked */
	assert_int_equal(sip_outcome_status(OUTCOME_IGNORED_UNKNOWN, NULL), 0);
	assert_int_equal(sip_outcome_status(OUTCOME_BLOCKED, NULL), 0);
	assert_int_equal(sip_outcome_status(OUTCOME_BAD_EVENT, NULL), 489);
	assert_int_equal(sip_outcome_status(OUTCOME_BUSY, NULL), 503);
	assert_int_equal(sip_outcome_status(OUTCOME_NOT_ALLOWED, NULL), 405);
	assert_int_equal(sip_outcome_status(OUTCOME_PNP_URL_SENT, NULL), 200);
}

static int refuse_all(void *arg, const char *mac, const char **why)
{
	*why = arg;
	return -EACCES;
}

static void test_access_rule(void **state)
{
	struct principal anon = { .kind = PRINCIPAL_ANONYMOUS, .anonymous_device_files = true };
	struct principal tftp_deny = { .kind = PRINCIPAL_ANONYMOUS };
	struct principal user = { .kind = PRINCIPAL_USER };
	struct principal dev = { .kind = PRINCIPAL_DEVICE, .mac = DEV_A, .how = "login" };
	struct principal cert = { .kind = PRINCIPAL_DEVICE, .mac = DEV_A, .how = "certificate" };
	struct principal nobody = { .kind = PRINCIPAL_NOBODY, .nobody_why = "names no MAC" };
	struct principal ua = { .kind = PRINCIPAL_ANONYMOUS,
				.anonymous_device_files = true,
				.claimed_mac = DEV_B,
				.claim_binds = true };
	struct principal bound = { .kind = PRINCIPAL_DEVICE,
				   .mac = DEV_A,
				   .how = "certificate",
				   .check = refuse_all,
				   .check_arg = (void *)"not bound" };
	const char *why;

	/* a generic file: anyone's */
	for (const struct principal *p = &anon; p; p = p == &anon ? &tftp_deny : NULL)
		assert_int_equal(exchange_access(p, "", &why), 0);
	assert_int_equal(exchange_access(&nobody, "", &why), 0);
	assert_int_equal(exchange_access(&bound, NULL, &why), 0);

	assert_int_equal(exchange_access(&anon, DEV_A, &why), 0);
	assert_int_equal(exchange_access(&user, DEV_A, &why), 0);
	assert_int_equal(exchange_access(&dev, DEV_A, &why), 0);
	assert_int_equal(exchange_access(&cert, DEV_A, &why), 0);

	why = NULL;
	assert_int_equal(exchange_access(&tftp_deny, DEV_A, &why), -EPERM);
	assert_string_equal(why, "access violation");
	assert_int_equal(exchange_access(&dev, DEV_B, &why), -EPERM);
	assert_string_equal(why, "the login is another device's");
	assert_int_equal(exchange_access(&cert, DEV_B, &why), -EPERM);
	assert_string_equal(why, "the certificate is another device's");
	assert_int_equal(exchange_access(&nobody, DEV_A, &why), -EPERM);
	assert_string_equal(why, "names no MAC");
	assert_int_equal(exchange_access(&ua, DEV_A, &why), -EPERM);
	assert_string_equal(why, "the User-Agent names another device");
	assert_int_equal(exchange_access(&ua, DEV_B, &why), 0);
	ua.claim_binds = false; /* user_agent = log: a hint only */
	assert_int_equal(exchange_access(&ua, DEV_A, &why), 0);
	assert_int_equal(exchange_access(&bound, DEV_A, &why), -EPERM);
	assert_string_equal(why, "not bound");
}

/* ---- exchange_open on a real site ---- */

struct site_test {
	char dir[64];
	struct site_options opts;
	struct site *site;
};

static void put(struct site_test *t, const char *name, const char *text)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/files/%s", t->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static int setup(void **state)
{
	struct site_test *t = calloc(1, sizeof(*t));
	char files[PATH_MAX], err[256];

	if (!t)
		return -1;
	memcpy(t->dir, "/tmp/autoprov-exch-XXXXXX", sizeof("/tmp/autoprov-exch-XXXXXX"));
	if (!mkdtemp(t->dir))
		goto fail;
	snprintf(files, sizeof(files), "%s/files", t->dir);
	if (mkdir(files, 0755) < 0)
		goto fail;
	site_options_default(&t->opts);
	if (site_open(t->dir, &t->opts, &t->site, err, sizeof(err)) < 0)
		goto fail;
	*state = t;
	return 0;
fail:
	free(t);
	return -1;
}

static int teardown(void **state)
{
	struct site_test *t = *state;

	site_free(t->site);
	tmpdir_remove(t->dir);
	free(t);
	return 0;
}

static enum outcome open_as(struct site_test *t, const char *name, const struct principal *p,
			    struct exchange *x)
{
	exchange_begin(x, t->site, "test", NULL, NULL, name);
	return exchange_open(x, NULL, name, strlen(name), p);
}

static void test_open(void **state)
{
	struct site_test *t = *state;
	struct principal anon = { .kind = PRINCIPAL_ANONYMOUS, .anonymous_device_files = true };
	struct principal deny = { .kind = PRINCIPAL_ANONYMOUS };
	struct principal a = { .kind = PRINCIPAL_DEVICE, .mac = DEV_A, .how = "login" };
	struct principal b = { .kind = PRINCIPAL_DEVICE, .mac = DEV_B, .how = "login" };
	struct exchange x;
	char err[200];

	for (const char *m = DEV_A; m; m = m == (const char *)DEV_A ? DEV_B : NULL) {
		struct device *d = device_new(m);

		assert_non_null(d);
		assert_int_equal(store_device_put(site_store(t->site), d, false, err, sizeof(err)),
				 0);
		device_free(d);
	}
	put(t, "algom" DEV_A ".conf", "a\n");
	put(t, "generic.cfg", "g\n");

	assert_int_equal(open_as(t, "generic.cfg", &deny, &x), OUTCOME_SENT);
	assert_non_null(x.file);
	assert_string_equal(x.req.mac, "");
	exchange_close(&x, OUTCOME_SENT, NULL, 2, site_file_md5(x.file), NULL);
	assert_null(x.file);

	assert_int_equal(open_as(t, "algom" DEV_A ".conf", &a, &x), OUTCOME_SENT);
	assert_string_equal(x.req.mac, DEV_A);
	exchange_close(&x, OUTCOME_SENT, NULL, 2, NULL, NULL);
	assert_int_equal(open_as(t, "algom" DEV_A ".conf", &anon, &x), OUTCOME_SENT);
	exchange_close(&x, OUTCOME_SENT, NULL, 2, NULL, NULL);

	/* another device's file, over any protocol */
	assert_int_equal(open_as(t, "algom" DEV_A ".conf", &b, &x), OUTCOME_DENIED);
	assert_null(x.file);
	assert_string_equal(x.detail, "the login is another device's");
	exchange_close(&x, OUTCOME_DENIED, NULL, 0, NULL, NULL);

	/* device_files = deny: a known and an unknown device's name get the same answer */
	assert_int_equal(open_as(t, "algom" DEV_A ".conf", &deny, &x), OUTCOME_DENIED);
	exchange_close(&x, OUTCOME_DENIED, NULL, 0, NULL, NULL);
	assert_int_equal(open_as(t, "algom" DEV_B ".conf", &deny, &x), OUTCOME_NOT_FOUND);
	exchange_close(&x, OUTCOME_NOT_FOUND, NULL, 0, NULL, NULL);
	assert_int_equal(open_as(t, "missing.cfg", &a, &x), OUTCOME_NOT_FOUND);
	exchange_close(&x, OUTCOME_NOT_FOUND, NULL, 0, NULL, NULL);
	assert_int_equal(open_as(t, "../etc/passwd", &anon, &x), OUTCOME_REFUSED);
	exchange_close(&x, OUTCOME_REFUSED, NULL, 0, NULL, NULL);
	exchange_close(&x, OUTCOME_SENT, NULL, 0, NULL, NULL); /* a second close: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_outcome_has_text_and_level),
		cmocka_unit_test(test_journal_texts_unchanged),
		cmocka_unit_test(test_tftp_table_complete),
		cmocka_unit_test(test_http_table_complete),
		cmocka_unit_test(test_ftp_table_complete),
		cmocka_unit_test(test_sip_table_complete),
		cmocka_unit_test(test_access_rule),
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
