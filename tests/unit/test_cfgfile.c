// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/agent/cfgfile.c: the files autoprov's example site serves for each
 * vendor (Algo full and -i files, FIP .cfg and boot files, Flying Voice DBID profiles,
 * AudioCodes and Panasonic .cfg), the seeds' own examples, the line-level edges (BOM,
 * CRLF, no final newline, comments, empty values, duplicates), merging in include order,
 * and every refusal with its line and reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/cfgfile.h"

static struct cfg parse_ok(enum cfg_format fmt, const char *text)
{
	struct cfg c = { NULL, 0 };
	const char *why = NULL;
	size_t line = 0;

	if (cfg_parse(fmt, text, strlen(text), &c, &line, &why) != 0)
		fail_msg("line %zu refused: %s", line, why);
	assert_int_equal(line, 0);
	assert_null(why);
	return c;
}

static void entry_is(const struct cfg *c, size_t i, const char *key, const char *value)
{
	assert_true(i < c->n);
	assert_string_equal(c->entries[i].key, key);
	assert_string_equal(c->entries[i].value, value);
}

static void parse_fails(enum cfg_format fmt, const char *text, size_t len, int err,
			size_t want_line, const char *reason)
{
	struct cfg c = { (struct cfg_entry *)1, 99 };
	const char *why = NULL;
	size_t line = 0;

	assert_int_equal(cfg_parse(fmt, text, len, &c, &line, &why), err);
	assert_int_equal(line, want_line);
	assert_non_null(why);
	if (strcmp(why, reason) != 0)
		fail_msg("reason '%s', expected '%s'", why, reason);
	assert_int_equal(c.n, 99);
}

static void test_algo_files(void **state)
{
	/* examples/site/files/algop8188.conf */
	struct cfg c = parse_ok(CFG_KEYVALUE,
				"# Algo 8188 IP ceiling speaker: generic configuration for every "
				"8188 of the site.\n"
				"# A full file: settings omitted here return to their factory "
				"defaults.\n"
				"admin.pwd = algo\n"
				"net.dhcp = 1\n"
				"prov.enable = 1\n"
				"prov.method = tftp\n"
				"sip.proxy = pbx.example.net\n"
				"sip.port = 5060\n"
				"audio.spk.vol = 7\n");

	assert_int_equal(c.n, 7);
	entry_is(&c, 0, "admin.pwd", "algo");
	entry_is(&c, 3, "prov.method", "tftp");
	entry_is(&c, 6, "audio.spk.vol", "7");
	assert_string_equal(cfg_get(&c, "sip.proxy"), "pbx.example.net");
	assert_null(cfg_get(&c, "sip.poxy"));
	assert_null(cfg_get(&c, "SIP.PROXY"));
	cfg_done(&c);
	cfg_done(&c);

	/* the incremental file, and seed 000's parameters */
	c = parse_ok(CFG_KEYVALUE, "# Algo incremental file (partial provisioning): only these "
				   "settings change.\naudio.spk.vol = 5\n");
	assert_int_equal(c.n, 1);
	entry_is(&c, 0, "audio.spk.vol", "5");
	cfg_done(&c);
	c = parse_ok(CFG_KEYVALUE,
		     "prov.version.firmware = 5.4f\nprov.download.bundle =1\n"
		     "prov.data.tone = tone_file.zip\nprov.data.cacert = my_cert.zip\n"
		     "prov.data.sched = scheduler_data.db\nprov.prod.dir = directory.txt\n"
		     "prov.data.display = filename.db\n");
	assert_string_equal(cfg_get(&c, "prov.version.firmware"), "5.4f");
	assert_string_equal(cfg_get(&c, "prov.download.bundle"), "1");
	assert_string_equal(cfg_get(&c, "prov.prod.dir"), "directory.txt");
	cfg_done(&c);
}

static void test_fip_cfg_files(void **state)
{
	/* examples/site/files/y000000000000.cfg and a rendered templates/{mac}.cfg */
	struct cfg c = parse_ok(CFG_KEYVALUE,
				"#!version:1.0.0.1\n"
				"## Flyingvoice FIP common configuration\n"
				"account.1.sip_server.1.address = pbx.example.net\n"
				"account.1.sip_server.1.port = 5060\n"
				"local_time.time_zone = 0\n"
				"remote_phonebook.data.1.url = http://10.0.0.1/fip/phonebook.xml\n"
				"remote_phonebook.data.1.name = Site directory\n");

	assert_int_equal(c.n, 5);
	entry_is(&c, 3, "remote_phonebook.data.1.url", "http://10.0.0.1/fip/phonebook.xml");
	entry_is(&c, 4, "remote_phonebook.data.1.name", "Site directory");
	cfg_done(&c);

	/* seed 002: parameter=value, empty values, a value with a blank */
	c = parse_ok(CFG_KEYVALUE, "#Enable or disable the account1\naccount.1.enable=\n"
				   "account.1.auth_name= account.1.password=\n"
				   "local_contact.data.url=http://10.20.0.92/testcontact.xml\n"
				   "wui.http_enable=1\nlang.gui=Chinese S\n");
	entry_is(&c, 0, "account.1.enable", "");
	/* the seed's extraction joined two lines: the second '=' is part of the value */
	entry_is(&c, 1, "account.1.auth_name", "account.1.password=");
	assert_string_equal(cfg_get(&c, "lang.gui"), "Chinese S");
	cfg_done(&c);
}

static void test_audiocodes_cfg(void **state)
{
	/* examples/site/templates/audiocodes/{model}.cfg, rendered */
	struct cfg c = parse_ok(CFG_KEYVALUE,
				"# AudioCodes 400HD configuration. DHCP option 160:\n"
				"#   http://10.0.0.1/audiocodes/400HD.img;audiocodes/400HD.cfg\n"
				"system/type=400HD\n"
				"voip/line/0/enabled=1\n"
				"voip/signalling/sip/proxy_address=pbx.example.net\n"
				"voip/signalling/sip/proxy_port=5060\n");

	assert_int_equal(c.n, 4);
	assert_string_equal(cfg_get(&c, "system/type"), "400HD");
	entry_is(&c, 2, "voip/signalling/sip/proxy_address", "pbx.example.net");
	cfg_done(&c);
}

static void test_dbid_parameter_files(void **state)
{
	/* seed 001's param.conf, without the guide's /annotations/ */
	struct cfg c = parse_ok(CFG_DBID, "DBID_DBASE_VERSION=2207\n"
					  "DBID_IPMODE=0\n"
					  "DBID_FIXED_IP_ADDR=192.168.10.207\n"
					  "DBID_SIP_ENABLE=1\t0\t0\t0\n"
					  "DBID_SIP_DIS_NAME=23103_name\n"
					  "DBID_PRV_OPTION66_ENABLED=0\n"
					  "DBID_SIP_PASSWORD=a b=c \n"
					  "DBID_LAST=1\t0\t\t\r\n");

	assert_int_equal(c.n, 8);
	assert_string_equal(cfg_get(&c, "DBID_DBASE_VERSION"), "2207");
	/* tabs separate the four lines' values and are kept */
	assert_string_equal(cfg_get(&c, "DBID_SIP_ENABLE"), "1\t0\t0\t0");
	/* the value byte for byte: blanks and '=' kept, CR of CRLF dropped */
	assert_string_equal(cfg_get(&c, "DBID_SIP_PASSWORD"), "a b=c ");
	assert_string_equal(cfg_get(&c, "DBID_LAST"), "1\t0\t\t");
	cfg_done(&c);

	/* a rendered examples/site/templates/fv{MAC}.conf (front matter stripped) */
	c = parse_ok(CFG_DBID, "DBID_DBASE_VERSION=3\nDBID_SIP_ENABLE=1\t0\t0\t0\n"
			       "DBID_WEB_SIP_SERVER=pbx.example.net\nDBID_SIP_PORT=5060\n"
			       "DBID_SIP_AUTH_ID=2001\nDBID_SIP_AUTH_PASSWORD=s3cret\n"
			       "DBID_SIP_DISPLAY_NAME=2001\n");
	assert_int_equal(c.n, 7);
	assert_string_equal(cfg_get(&c, "DBID_DBASE_VERSION"), "3");
	cfg_done(&c);

	/* keyvalue trims what DBID keeps */
	c = parse_ok(CFG_KEYVALUE, "DBID_SIP_ENABLE=1\t0\t0\t\n");
	assert_string_equal(cfg_get(&c, "DBID_SIP_ENABLE"), "1\t0\t0");
	cfg_done(&c);
}

static void test_panasonic_quoted(void **state)
{
	/* examples/site/templates/panasonic/initial.cfg and {MAC}.cfg, rendered */
	struct cfg c = parse_ok(
		CFG_PANASONIC,
		"# PCC Standard Format File # DO NOT CHANGE THIS LINE!\n"
		"# Panasonic KX-UTG initial file (step 1 of two-step provisioning): where the "
		"device's\n"
		"CFG_STANDARD_FILE_PATH=\"http://10.0.0.1/panasonic/{MAC}.cfg\"\n"
		"CFG_ROOT_CERTIFICATE_PATH=\"http://10.0.0.1/panasonic/ca.pem\"\n"
		"PHONE_NUMBER_1=\"2001\"\n"
		"SIP_PASS_1=\"a \"quoted\" #pass\" \n"
		"EMPTY=\"\"\n"
		"BARE = plain value \n");

	assert_int_equal(c.n, 6);
	assert_string_equal(cfg_get(&c, "CFG_STANDARD_FILE_PATH"),
			    "http://10.0.0.1/panasonic/{MAC}.cfg");
	assert_string_equal(cfg_get(&c, "CFG_ROOT_CERTIFICATE_PATH"),
			    "http://10.0.0.1/panasonic/ca.pem");
	assert_string_equal(cfg_get(&c, "PHONE_NUMBER_1"), "2001");
	assert_string_equal(cfg_get(&c, "SIP_PASS_1"), "a \"quoted\" #pass");
	assert_string_equal(cfg_get(&c, "EMPTY"), "");
	assert_string_equal(cfg_get(&c, "BARE"), "plain value");
	cfg_done(&c);

	parse_fails(CFG_PANASONIC, "# PCC\nA=\"1\"\nB=\"open\n", 20, -EINVAL, 3,
		    "value without its closing '\"'");
	parse_fails(CFG_PANASONIC, "B=\"\n", 4, -EINVAL, 1, "value without its closing '\"'");
	parse_fails(CFG_PANASONIC, "B=\"x\" y\n", 8, -EINVAL, 1, "value without its closing '\"'");
}

static void test_line_edges(void **state)
{
	/* BOM, CRLF, blank and comment lines, no final newline, '#' inside a value */
	static const char text[] = "\xef\xbb\xbf"
				   "# comment\r\n"
				   "\r\n"
				   "   ; semicolon comment\r\n"
				   "\t# indented comment\n"
				   "  a.b  =  1 2  \r\n"
				   "pwd = x#y ;z\n"
				   "empty =\n"
				   "eq==\n"
				   "last=end";
	struct cfg c = parse_ok(CFG_KEYVALUE, text);

	assert_int_equal(c.n, 5);
	entry_is(&c, 0, "a.b", "1 2");
	entry_is(&c, 1, "pwd", "x#y ;z");
	entry_is(&c, 2, "empty", "");
	entry_is(&c, 3, "eq", "=");
	entry_is(&c, 4, "last", "end");
	cfg_done(&c);

	/* an empty text, a BOM alone, only comments */
	c = parse_ok(CFG_KEYVALUE, "");
	assert_int_equal(c.n, 0);
	assert_null(cfg_get(&c, "x"));
	cfg_done(&c);
	c = parse_ok(CFG_KEYVALUE, "\xef\xbb\xbf");
	assert_int_equal(c.n, 0);
	cfg_done(&c);
	c = parse_ok(CFG_DBID, "# only\n\n#comments");
	assert_int_equal(c.n, 0);
	cfg_done(&c);

	/* ';' is a comment only in key = value files */
	parse_fails(CFG_DBID, ";x\n", 3, -EINVAL, 1, "not a setting: no '='");

	/* the length given is what is read: a NUL-free prefix of a longer buffer */
	c = (struct cfg){ NULL, 0 };
	assert_int_equal(cfg_parse(CFG_KEYVALUE, "a=1\nb=2\n", 4, &c, NULL, NULL), 0);
	assert_int_equal(c.n, 1);
	entry_is(&c, 0, "a", "1");
	cfg_done(&c);
}

static void test_duplicates_last_wins(void **state)
{
	struct cfg c = parse_ok(CFG_KEYVALUE, "a = 1\nb = 2\na = 3\n");

	/* kept in file order; the last one wins */
	assert_int_equal(c.n, 3);
	entry_is(&c, 0, "a", "1");
	entry_is(&c, 2, "a", "3");
	assert_string_equal(cfg_get(&c, "a"), "3");
	cfg_done(&c);
}

static void test_refusals_with_line(void **state)
{
	parse_fails(CFG_KEYVALUE, "a = 1\nno equals here\n", 21, -EINVAL, 2,
		    "not a setting: no '='");
	/* seed 002's extraction lost an '=': the file is refused at that line */
	parse_fails(CFG_KEYVALUE, "#c\naccount.1.display_name\n", 26, -EINVAL, 2,
		    "not a setting: no '='");
	parse_fails(CFG_KEYVALUE, " = 1\n", 5, -EINVAL, 1, "no name before '='");
	parse_fails(CFG_KEYVALUE, "a b = 1\n", 8, -EINVAL, 1, "blank inside a setting's name");
	parse_fails(CFG_KEYVALUE, "a = 1\nb = x\0y\n", 14, -EINVAL, 2, "NUL byte in the line");
	parse_fails(CFG_KEYVALUE, "a = \x01\n", 6, -EINVAL, 1, "control character in the line");
	parse_fails(CFG_KEYVALUE, "a = 1\rb = 2\n", 12, -EINVAL, 1,
		    "control character in the line");
	parse_fails(CFG_DBID, "X=\x7f", 3, -EINVAL, 1, "control character in the line");
	parse_fails(CFG_PANASONIC, "# ok\n\x1b[0m\n", 9, -EINVAL, 2,
		    "control character in the line");
}

static void test_line_and_entry_limits(void **state)
{
	size_t n = CFG_LINE_MAX + 3;
	char *text = malloc(CFG_ENTRIES_MAX * 4 + 8);
	struct cfg c = { NULL, 0 };
	size_t i;

	assert_non_null(text);
	/* a line of exactly CFG_LINE_MAX bytes, then one byte more */
	text[0] = 'k';
	text[1] = '=';
	memset(text + 2, 'v', CFG_LINE_MAX - 2);
	text[CFG_LINE_MAX] = '\n';
	assert_int_equal(cfg_parse(CFG_KEYVALUE, text, CFG_LINE_MAX + 1, &c, NULL, NULL), 0);
	assert_int_equal(strlen(cfg_get(&c, "k")), CFG_LINE_MAX - 2);
	cfg_done(&c);
	/* CRLF does not count */
	text[CFG_LINE_MAX] = '\r';
	text[CFG_LINE_MAX + 1] = '\n';
	assert_int_equal(cfg_parse(CFG_KEYVALUE, text, CFG_LINE_MAX + 2, &c, NULL, NULL), 0);
	cfg_done(&c);
	text[CFG_LINE_MAX] = 'v';
	text[CFG_LINE_MAX + 1] = '\n';
	parse_fails(CFG_KEYVALUE, text, n - 1, -E2BIG, 1, "line longer than 8192 bytes");

	/* CFG_ENTRIES_MAX settings, then one more */
	for (i = 0; i < CFG_ENTRIES_MAX; i++)
		memcpy(text + 4 * i, "a=1\n", 4);
	assert_int_equal(cfg_parse(CFG_DBID, text, 4 * i, &c, NULL, NULL), 0);
	assert_int_equal(c.n, CFG_ENTRIES_MAX);
	cfg_done(&c);
	memcpy(text + 4 * i, "b=2\n", 4);
	parse_fails(CFG_DBID, text, 4 * i + 4, -E2BIG, CFG_ENTRIES_MAX + 1,
		    "more than 65536 settings");
	free(text);
}

static void test_merge_in_include_order(void **state)
{
	/* seed 002: later files override earlier ones; examples/site's include order */
	struct cfg common =
		parse_ok(CFG_KEYVALUE, "account.1.sip_server.1.address = pbx.example.net\n"
				       "account.1.sip_server.1.port = 5060\n"
				       "local_time.time_zone = 0\n");
	struct cfg site = parse_ok(CFG_KEYVALUE, "voice.tone.country = United States\n"
						 "local_time.time_zone = +1\n");
	struct cfg mac = parse_ok(CFG_KEYVALUE, "account.1.enable = 1\n"
						"account.1.sip_server.1.address = 10.0.0.5\n"
						"account.1.enable = 0\n");
	struct cfg empty = { NULL, 0 };

	assert_int_equal(cfg_merge(&common, &site), 0);
	assert_int_equal(cfg_merge(&common, &mac), 0);
	assert_int_equal(common.n, 5);
	entry_is(&common, 0, "account.1.sip_server.1.address", "10.0.0.5");
	entry_is(&common, 1, "account.1.sip_server.1.port", "5060");
	entry_is(&common, 2, "local_time.time_zone", "+1");
	entry_is(&common, 3, "voice.tone.country", "United States");
	entry_is(&common, 4, "account.1.enable", "0");
	/* merging nothing, into nothing, and into itself */
	assert_int_equal(cfg_merge(&common, &empty), 0);
	assert_int_equal(common.n, 5);
	assert_int_equal(cfg_merge(&empty, &site), 0);
	assert_int_equal(empty.n, 2);
	entry_is(&empty, 1, "local_time.time_zone", "+1");
	assert_int_equal(cfg_merge(&common, &common), 0);
	assert_int_equal(common.n, 5);
	entry_is(&common, 4, "account.1.enable", "0");
	/* duplicates within one file collapse to their last value at their first place */
	assert_int_equal(cfg_merge(&mac, &(struct cfg){ NULL, 0 }), 0);
	assert_int_equal(mac.n, 2);
	entry_is(&mac, 0, "account.1.enable", "0");
	cfg_done(&common);
	cfg_done(&site);
	cfg_done(&mac);
	cfg_done(&empty);
}

static struct fip_boot boot_ok(const char *text)
{
	struct fip_boot b = { 0 };
	const char *why = NULL;
	size_t line = 0;

	if (fip_boot_parse(text, strlen(text), &b, &line, &why) != 0)
		fail_msg("boot line %zu refused: %s", line, why);
	return b;
}

static void test_boot_files(void **state)
{
	/* examples/site/files/y000000000000.boot */
	struct fip_boot b =
		boot_ok("#!version:1.0.0.1\n"
			"## Flyingvoice FIP common boot file: every phone reads it unless "
			"it has a <mac>.boot.\n"
			"## Later files override earlier ones.\n"
			"include:config <y000000000000.cfg>\n"
			"include:config \"fip/site.cfg\"\n"
			"overwrite_mode = 1\n");

	assert_string_equal(b.version, "1.0.0.1");
	assert_int_equal(b.n, 2);
	assert_string_equal(b.includes[0], "y000000000000.cfg");
	assert_string_equal(b.includes[1], "fip/site.cfg");
	assert_true(b.has_overwrite);
	assert_true(b.overwrite);
	assert_int_equal(b.settings.n, 1);
	assert_string_equal(cfg_get(&b.settings, "overwrite_mode"), "1");
	fip_boot_done(&b);
	fip_boot_done(&b);

	/* seed 002's examples: no version line, <> and "", absolute URLs with spaces */
	b = boot_ok("# comment\n"
		    "include:config <time.cfg>\n"
		    "include:config \"xxx.cfg\"\n"
		    "include:config \"http://10.20.0.88/HTTP Directory/sip.cfg\"\n"
		    "include:config <HTTP Directory/sip.cfg>\n");
	assert_null(b.version);
	assert_int_equal(b.n, 4);
	assert_string_equal(b.includes[0], "time.cfg");
	assert_string_equal(b.includes[1], "xxx.cfg");
	assert_string_equal(b.includes[2], "http://10.20.0.88/HTTP Directory/sip.cfg");
	assert_string_equal(b.includes[3], "HTTP Directory/sip.cfg");
	assert_false(b.has_overwrite);
	assert_false(b.overwrite);
	fip_boot_done(&b);

	/* the seed's two statements on one line, CRLF, BOM, blanks, overwrite_mode 0 */
	b = boot_ok("\xef\xbb\xbf#!version:1.0.0.1\r\n"
		    "  include:config <test.cfg> include:config \"http://10.20.0.92/mac.cfg\"\r\n"
		    "include:config< a.cfg >\r\n"
		    "\r\n"
		    "overwrite_mode=0\r\n"
		    "specific_model.excluded_mode = 0");
	assert_string_equal(b.version, "1.0.0.1");
	assert_int_equal(b.n, 3);
	assert_string_equal(b.includes[0], "test.cfg");
	assert_string_equal(b.includes[1], "http://10.20.0.92/mac.cfg");
	assert_string_equal(b.includes[2], "a.cfg");
	assert_true(b.has_overwrite);
	assert_false(b.overwrite);
	assert_string_equal(cfg_get(&b.settings, "specific_model.excluded_mode"), "0");
	fip_boot_done(&b);

	/* "#!version" on a later line is a comment; an empty file is an empty boot file */
	b = boot_ok("# x\n#!version:2\n");
	assert_null(b.version);
	fip_boot_done(&b);
	b = boot_ok("");
	assert_int_equal(b.n, 0);
	fip_boot_done(&b);
}

static void boot_fails(const char *text, int err, size_t want_line, const char *reason)
{
	struct fip_boot b = { .n = 42 };
	const char *why = NULL;
	size_t line = 0;

	assert_int_equal(fip_boot_parse(text, strlen(text), &b, &line, &why), err);
	assert_int_equal(line, want_line);
	assert_non_null(why);
	if (strcmp(why, reason) != 0)
		fail_msg("reason '%s', expected '%s'", why, reason);
	assert_int_equal(b.n, 42);
}

static void test_boot_refusals(void **state)
{
	boot_fails("include:config time.cfg\n", -EINVAL, 1,
		   "include:config without a URL in <> or \"\"");
	boot_fails("include:config\n", -EINVAL, 1, "include:config without a URL in <> or \"\"");
	boot_fails("#\ninclude:config <time.cfg\n", -EINVAL, 2,
		   "include:config URL without its closing '>'");
	boot_fails("include:config \"time.cfg\n", -EINVAL, 1,
		   "include:config URL without its closing '\"'");
	boot_fails("include:config <>\n", -EINVAL, 1, "empty include:config URL");
	boot_fails("include:config < >\n", -EINVAL, 1, "empty include:config URL");
	/* the seed's table shows <xxx.cfg></xxx.cfg>, an HTML remnant */
	boot_fails("include:config <xxx.cfg></xxx.cfg>\n", -EINVAL, 1,
		   "text after the include:config URL");
	boot_fails("include:config <a.cfg> # note\n", -EINVAL, 1,
		   "text after the include:config URL");
	boot_fails("include:file <a.cfg>\n", -EINVAL, 1,
		   "neither include:config nor a key = value setting");
	boot_fails("overwrite_mode = yes\n", -EINVAL, 1, "overwrite_mode is 0 or 1");
	boot_fails("a\x01=1\n", -EINVAL, 1, "control character in the line");
}

static void test_boot_include_cap(void **state)
{
	size_t per = strlen("include:config <a.cfg>\n");
	char *text = malloc(per * (FIP_INCLUDES_MAX + 1) + 1);
	struct fip_boot b = { 0 };
	size_t line = 0;
	const char *why = NULL;

	assert_non_null(text);
	for (size_t i = 0; i <= FIP_INCLUDES_MAX; i++)
		memcpy(text + per * i, "include:config <a.cfg>\n", per);
	assert_int_equal(fip_boot_parse(text, per * FIP_INCLUDES_MAX, &b, NULL, NULL), 0);
	assert_int_equal(b.n, FIP_INCLUDES_MAX);
	fip_boot_done(&b);
	assert_int_equal(fip_boot_parse(text, per * (FIP_INCLUDES_MAX + 1), &b, &line, &why),
			 -E2BIG);
	assert_int_equal(line, FIP_INCLUDES_MAX + 1);
	assert_string_equal(why, "more than 256 include:config lines");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_algo_files),
		cmocka_unit_test(test_fip_cfg_files),
		cmocka_unit_test(test_audiocodes_cfg),
		cmocka_unit_test(test_dbid_parameter_files),
		cmocka_unit_test(test_panasonic_quoted),
		cmocka_unit_test(test_line_edges),
		cmocka_unit_test(test_duplicates_last_wins),
		cmocka_unit_test(test_refusals_with_line),
		cmocka_unit_test(test_line_and_entry_limits),
		cmocka_unit_test(test_merge_in_include_order),
		cmocka_unit_test(test_boot_files),
		cmocka_unit_test(test_boot_refusals),
		cmocka_unit_test(test_boot_include_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
