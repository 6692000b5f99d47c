// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/agent/url.c: the static-server forms of the Algo guide (seed 000),
 * Panasonic's URL formats (seed 003), the profile-rule syntax and `[--key K]` of seed 001,
 * the FIP server URLs and relative includes (seed 002, with RFC 3986's resolution
 * examples), AudioCodes option 160 (seed 004 and the example site's template), and the
 * refusals with their reasons.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/url.h"

/* Parses s and checks every field; canon is what prov_url_format() must give. */
static void parses(const char *s, const char *def, const char *scheme, const char *user,
		   const char *password, const char *host, unsigned port, const char *path,
		   const char *canon)
{
	struct prov_url u = { .scheme = "" }, again = { .scheme = "" };
	const char *why = NULL;
	char *f, *f2;

	if (prov_url_parse(s, def, &u, &why) != 0)
		fail_msg("'%s' refused: %s", s, why ? why : "(no reason)");
	assert_null(why);
	assert_string_equal(u.scheme, scheme);
	if (user)
		assert_string_equal(u.user, user);
	else
		assert_null(u.user);
	if (password)
		assert_string_equal(u.password, password);
	else
		assert_null(u.password);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_string_equal(u.path, path);
	f = prov_url_format(&u);
	assert_non_null(f);
	if (strcmp(f, canon) != 0)
		fail_msg("'%s' formatted as '%s', expected '%s'", s, f, canon);
	/* the canonical form parses back to the same URL */
	assert_int_equal(prov_url_parse(f, NULL, &again, NULL), 0);
	f2 = prov_url_format(&again);
	assert_string_equal(f, f2);
	free(f);
	free(f2);
	prov_url_done(&u);
	prov_url_done(&again);
	prov_url_done(&u); /* twice is harmless */
}

static void refused(const char *s, const char *def, int err, const char *reason)
{
	struct prov_url u = { .scheme = "x", .port = 7 };
	const char *why = NULL;
	int r = prov_url_parse(s, def, &u, &why);

	if (r != err)
		fail_msg("'%s': %d, expected %d (%s)", s, r, err, why ? why : "");
	assert_non_null(why);
	if (strcmp(why, reason) != 0)
		fail_msg("'%s': reason '%s', expected '%s'", s, why, reason);
	assert_string_equal(u.scheme, "x");
	assert_int_equal(u.port, 7);
}

static void test_algo_static_server(void **state)
{
	/* seed 000, Static Server: "All the following examples are valid"; TFTP is the
	 * default download method */
	parses("192.168.1.1", "tftp", "tftp", NULL, NULL, "192.168.1.1", 0, "",
	       "tftp://192.168.1.1");
	parses("provserver.mydomain.com", "tftp", "tftp", NULL, NULL, "provserver.mydomain.com", 0,
	       "", "tftp://provserver.mydomain.com");
	parses("ftp://192.168.1.1", "tftp", "ftp", NULL, NULL, "192.168.1.1", 0, "",
	       "ftp://192.168.1.1");
	parses("192.168.1.1/files", "tftp", "tftp", NULL, NULL, "192.168.1.1", 0, "/files",
	       "tftp://192.168.1.1/files");
	parses("user:pwd@192.168.1.1", "ftp", "ftp", "user", "pwd", "192.168.1.1", 0, "",
	       "ftp://user:pwd@192.168.1.1");
	/* written "user: pwd@192.168.1.1" in the guide: the blank is part of the password */
	parses("user: pwd@192.168.1.1", "ftp", "ftp", "user", " pwd", "192.168.1.1", 0, "",
	       "ftp://user:%20pwd@192.168.1.1");
	/* the download method chosen on the device */
	parses("192.168.1.1", "https", "https", NULL, NULL, "192.168.1.1", 0, "",
	       "https://192.168.1.1");
	parses("192.168.1.1", "HTTP", "http", NULL, NULL, "192.168.1.1", 0, "",
	       "http://192.168.1.1");
	/* blanks around the value, as a DHCP option or a web form may leave them */
	parses("  192.168.1.1/files \r\n", "tftp", "tftp", NULL, NULL, "192.168.1.1", 0, "/files",
	       "tftp://192.168.1.1/files");
	parses("192.168.1.1:6969", "tftp", "tftp", NULL, NULL, "192.168.1.1", 6969, "",
	       "tftp://192.168.1.1:6969");
	parses("fe80::1", "tftp", "tftp", NULL, NULL, "fe80::1", 0, "", "tftp://[fe80::1]");
	parses("[2001:db8::5]:8080/prov", "http", "http", NULL, NULL, "2001:db8::5", 8080, "/prov",
	       "http://[2001:db8::5]:8080/prov");
}

static void test_panasonic_forms(void **state)
{
	/* seed 003: <protocol>://<username>:<password>@<IP address> or <domain>:<port> */
	parses("http://admin:secret@192.168.0.10", NULL, "http", "admin", "secret", "192.168.0.10",
	       0, "", "http://admin:secret@192.168.0.10");
	parses("https://admin:secret@prov.example.com:8443/panasonic/", NULL, "https", "admin",
	       "secret", "prov.example.com", 8443, "/panasonic/",
	       "https://admin:secret@prov.example.com:8443/panasonic/");
	parses("ftp://prov.example.com:2121/initial.cfg", NULL, "ftp", NULL, NULL,
	       "prov.example.com", 2121, "/initial.cfg", "ftp://prov.example.com:2121/initial.cfg");
	parses("TFTP://10.0.0.1/panasonic/initial.cfg", NULL, "tftp", NULL, NULL, "10.0.0.1", 0,
	       "/panasonic/initial.cfg", "tftp://10.0.0.1/panasonic/initial.cfg");
	/* "IP address" alone, when the caller has a default protocol */
	parses("10.0.0.1", "tftp", "tftp", NULL, NULL, "10.0.0.1", 0, "", "tftp://10.0.0.1");
}

static void test_full_urls(void **state)
{
	/* seed 001's profile rule examples */
	parses("tftp://prov.call.com/cpe/CW0021f2011b19.conf", NULL, "tftp", NULL, NULL,
	       "prov.call.com", 0, "/cpe/CW0021f2011b19.conf",
	       "tftp://prov.call.com/cpe/CW0021f2011b19.conf");
	parses("http://neptune.speak.net:8080/prov/G502/0021F2011B19.conf", NULL, "http", NULL,
	       NULL, "neptune.speak.net", 8080, "/prov/G502/0021F2011B19.conf",
	       "http://neptune.speak.net:8080/prov/G502/0021F2011B19.conf");
	/* seed 002's server URLs, spaces in paths kept (and encoded when formatted) */
	parses("tftp://10.20.0.92/", NULL, "tftp", NULL, NULL, "10.20.0.92", 0, "/",
	       "tftp://10.20.0.92/");
	parses("ftp://test1:123456@10.3.6.234/", NULL, "ftp", "test1", "123456", "10.3.6.234", 0,
	       "/", "ftp://test1:123456@10.3.6.234/");
	parses("http://10.2.11.101:8088/ProvisioningDir", NULL, "http", NULL, NULL, "10.2.11.101",
	       8088, "/ProvisioningDir", "http://10.2.11.101:8088/ProvisioningDir");
	parses("http://10.20.0.88/HTTP Directory/sip.cfg", NULL, "http", NULL, NULL, "10.20.0.88",
	       0, "/HTTP Directory/sip.cfg", "http://10.20.0.88/HTTP%20Directory/sip.cfg");
	/* the path as given: query, escapes, '@' and ':' */
	parses("http://h/a%20b/c?x=1&y=@:#f", NULL, "http", NULL, NULL, "h", 0,
	       "/a%20b/c?x=1&y=@:#f", "http://h/a%20b/c?x=1&y=@:#f");
	/* IPv6 literals and zones */
	parses("tftp://[fe80::1%25eth0]:69/x", NULL, "tftp", NULL, NULL, "fe80::1%eth0", 69, "/x",
	       "tftp://[fe80::1%25eth0]:69/x");
	parses("tftp://[fe80::1%eth0]/x", NULL, "tftp", NULL, NULL, "fe80::1%eth0", 0, "/x",
	       "tftp://[fe80::1%25eth0]/x");
	parses("http://[::ffff:10.0.0.1]/", NULL, "http", NULL, NULL, "::ffff:10.0.0.1", 0, "/",
	       "http://[::ffff:10.0.0.1]/");
	/* "host:" is the default port (RFC 3986) */
	parses("http://h:/x", NULL, "http", NULL, NULL, "h", 0, "/x", "http://h/x");
	parses("http://h:65535", NULL, "http", NULL, NULL, "h", 65535, "", "http://h:65535");
}

static void test_credentials(void **state)
{
	/* percent-decoded, re-encoded where needed */
	parses("ftp://us%40er:p%3Aw%2Fd@h/", NULL, "ftp", "us@er", "p:w/d", "h", 0, "/",
	       "ftp://us%40er:p:w%2Fd@h/");
	/* a password with '@' unencoded: the last '@' ends the user info */
	parses("ftp://u:p@ss@h/x", NULL, "ftp", "u", "p@ss", "h", 0, "/x", "ftp://u:p%40ss@h/x");
	/* '?' and '#' unencoded in a password (the authority runs to the first '/') */
	parses("ftp://u:a?b#c@h/x", NULL, "ftp", "u", "a?b#c", "h", 0, "/x",
	       "ftp://u:a%3Fb%23c@h/x");
	parses("ftp://u@h", NULL, "ftp", "u", NULL, "h", 0, "", "ftp://u@h");
	parses("ftp://u:@h", NULL, "ftp", "u", "", "h", 0, "", "ftp://u:@h");
	parses("ftp://:p@h", NULL, "ftp", "", "p", "h", 0, "", "ftp://:p@h");
	parses("http://a:b@[::1]:81/", NULL, "http", "a", "b", "::1", 81, "/",
	       "http://a:b@[::1]:81/");
	parses("ftp://%C3%A9:%e2%82%ac@h", NULL, "ftp", "\xc3\xa9", "\xe2\x82\xac", "h", 0, "",
	       "ftp://%C3%A9:%E2%82%AC@h");
}

static void test_path_only(void **state)
{
	/* seed 001: [scheme://][server IP or domain[:port]]/file path */
	parses("/cpe/CW0021f2011b19.conf", "tftp", "tftp", NULL, NULL, "", 0,
	       "/cpe/CW0021f2011b19.conf", "tftp:///cpe/CW0021f2011b19.conf");
	parses("http:///prov/x.conf", NULL, "http", NULL, NULL, "", 0, "/prov/x.conf",
	       "http:///prov/x.conf");
}

/* What RFC 3986 does not allow in a path is percent-encoded, for every scheme. */
static void test_format_encodes_the_path(void **state)
{
	parses("tftp://10.20.0.92/HTTP Directory/sip.cfg", NULL, "tftp", NULL, NULL, "10.20.0.92",
	       0, "/HTTP Directory/sip.cfg", "tftp://10.20.0.92/HTTP%20Directory/sip.cfg");
	parses("ftp://u:p w@h/a b/\"q\"<x>[1]{2}|^`\\.cfg", NULL, "ftp", "u", "p w", "h", 0,
	       "/a b/\"q\"<x>[1]{2}|^`\\.cfg",
	       "ftp://u:p%20w@h/a%20b/%22q%22%3Cx%3E%5B1%5D%7B2%7D%7C%5E%60%5C.cfg");
	/* an escape already there stays, a lone '%' does not */
	parses("https://h/100%/a%2Fb%zz", NULL, "https", NULL, NULL, "h", 0, "/100%/a%2Fb%zz",
	       "https://h/100%25/a%2Fb%25zz");
	/* a UTF-8 name, byte by byte */
	parses("http://h/t\xc3\xa9l.cfg", NULL, "http", NULL, NULL, "h", 0, "/t\xc3\xa9l.cfg",
	       "http://h/t%C3%A9l.cfg");
}

static void on_server(const char *url, const char *server, const char *want)
{
	char *s = NULL;
	const char *why = NULL;

	if (prov_url_on_server(url, server, "tftp", &s, &why) != 0)
		fail_msg("'%s' on '%s' refused: %s", url, server ? server : "(null)",
			 why ? why : "");
	assert_string_equal(s, want);
	free(s);
}

/* seed 001: a Profile Rule without a server uses the one the device has (option 66) */
static void test_on_server(void **state)
{
	const char *why = NULL;
	char *s = NULL;

	on_server("/IP542N.conf", "10.0.0.1", "tftp://10.0.0.1/IP542N.conf");
	on_server("/cfg/0021f2011b19.conf", "tftp://10.0.0.1:6969/old/",
		  "tftp://10.0.0.1:6969/cfg/0021f2011b19.conf");
	on_server("/x.conf", "http://u:pw@prov.example.net:8080/p",
		  "http://u:pw@prov.example.net:8080/x.conf");
	/* the rule's scheme wins over the server's */
	on_server("http:///prov/x.conf", "tftp://10.0.0.1", "http://10.0.0.1/prov/x.conf");
	/* a rule with a server is kept, canonical */
	on_server("HTTP://h/a b.conf", "10.0.0.1", "http://h/a%20b.conf");
	on_server("h2/x.conf", "10.0.0.1", "tftp://h2/x.conf");
	assert_int_equal(prov_url_on_server("/x.conf", NULL, "tftp", &s, &why), -EINVAL);
	assert_string_equal(why, "the URL names no server and none is known");
	why = NULL;
	assert_int_equal(prov_url_on_server("/x.conf", "/y", "tftp", &s, &why), -EINVAL);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(prov_url_on_server("gopher:///x", "h", "tftp", &s, &why),
			 -EPROTONOSUPPORT);
	assert_null(s);
}

static void test_refusals(void **state)
{
	refused("", "tftp", -EINVAL, "empty URL");
	refused("  \t ", "tftp", -EINVAL, "empty URL");
	refused("192.168.1.1", NULL, -EINVAL, "no protocol (tftp://, ftp://, http:// or https://)");
	refused("sftp://h/x", NULL, -EPROTONOSUPPORT,
		"unsupported protocol (tftp, ftp, http or https)");
	refused("gopher://h", "tftp", -EPROTONOSUPPORT,
		"unsupported protocol (tftp, ftp, http or https)");
	refused("h", "scp", -EPROTONOSUPPORT,
		"unsupported default protocol (tftp, ftp, http or https)");
	refused("http://", NULL, -EINVAL, "no server name or address");
	refused("http://u:p@/x", NULL, -EINVAL, "no server name or address");
	refused("http://:80/x", NULL, -EINVAL, "no server name or address");
	refused("http://h:0/", NULL, -EINVAL, "the port is not a number from 1 to 65535");
	refused("http://h:65536/", NULL, -EINVAL, "the port is not a number from 1 to 65535");
	refused("http://h:8o/", NULL, -EINVAL, "the port is not a number from 1 to 65535");
	refused("http://h:-1/", NULL, -EINVAL, "the port is not a number from 1 to 65535");
	refused("http://h:80:81/", NULL, -EINVAL, "the port is not a number from 1 to 65535");
	refused("http://bad host/", NULL, -EINVAL, "space in the server name");
	refused("http://b!d/", NULL, -EINVAL, "bad character in the server name");
	refused("http://[fe80::1/", NULL, -EINVAL, "'[' without ']' around the IPv6 address");
	refused("http://[fe80::g]/", NULL, -EINVAL, "not a valid IPv6 address between [ ]");
	refused("http://[10.0.0.1]/", NULL, -EINVAL, "not a valid IPv6 address between [ ]");
	refused("http://[::1]x/", NULL, -EINVAL, "text after the IPv6 address");
	refused("http://[::1%25]/", NULL, -EINVAL, "empty IPv6 zone after '%'");
	refused("http://[::1%25a/b]/", NULL, -EINVAL, "'[' without ']' around the IPv6 address");
	refused("http://[::1%25a:b]/", NULL, -EINVAL, "bad character in the IPv6 zone");
	refused("ftp://u%4:p@h/", NULL, -EINVAL, "bad %-escape in the user name");
	refused("ftp://u:p%zz@h/", NULL, -EINVAL, "bad %-escape in the password");
	refused("ftp://u:p%@h/", NULL, -EINVAL, "bad %-escape in the password");
	refused("ftp://u%00:p@h/", NULL, -EINVAL, "%00 in the user name");
	refused("ftp://u:%00@h/", NULL, -EINVAL, "%00 in the password");
	refused("http://h/a\nb", NULL, -EINVAL, "control character in the URL");
	refused("http://h/a\x7f", NULL, -EINVAL, "control character in the URL");
}

static void test_lengths(void **state)
{
	char *s = malloc(PROV_URL_MAX + 2);
	struct prov_url u = { .scheme = "" };
	char host[300];

	assert_non_null(s);
	memcpy(s, "http://h/", 9);
	memset(s + 9, 'a', PROV_URL_MAX - 9);
	s[PROV_URL_MAX] = '\0';
	assert_int_equal(prov_url_parse(s, NULL, &u, NULL), 0);
	prov_url_done(&u);
	s[PROV_URL_MAX] = 'a';
	s[PROV_URL_MAX + 1] = '\0';
	refused(s, NULL, -ENAMETOOLONG, "URL longer than 4096 bytes");
	free(s);

	memset(host, 'a', 255);
	host[255] = '\0';
	assert_int_equal(prov_url_parse(host, "tftp", &u, NULL), 0);
	prov_url_done(&u);
	memset(host, 'a', 256);
	host[256] = '\0';
	refused(host, "tftp", -EINVAL, "server name longer than 255 characters");
}

static void joins(const char *base, const char *name, const char *want)
{
	char *s = prov_url_join(base, name);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_join(void **state)
{
	/* seed 000: {tftp,ftp,http,https}://server/[Config_Download_Path]/algop8188.conf */
	joins("tftp://192.168.1.1", "algop8188.conf", "tftp://192.168.1.1/algop8188.conf");
	joins("tftp://192.168.1.1/files", "algom0022EE010203.conf",
	      "tftp://192.168.1.1/files/algom0022EE010203.conf");
	joins("tftp://192.168.1.1/files/", "algop8188.md5",
	      "tftp://192.168.1.1/files/algop8188.md5");
	joins("http://h/", "/fw/algo-8188-5.4f.sfw", "http://h/fw/algo-8188-5.4f.sfw");
	joins("http://h", "", "http://h");
	joins("http://h/", "///", "http://h/");
	joins("", "x", "/x");
}

static void resolves(const char *base, const char *ref, const char *want)
{
	char *s = prov_url_resolve(base, ref);

	if (!s)
		fail_msg("'%s' against '%s': NULL", ref, base);
	if (strcmp(s, want) != 0)
		fail_msg("'%s' against '%s': '%s', expected '%s'", ref, base, s, want);
	free(s);
}

static void test_resolve_fip(void **state)
{
	const char *boot = "tftp://10.20.0.92/y000000000000.boot";

	/* seed 002: relative to the boot file, or absolute */
	resolves(boot, "time.cfg", "tftp://10.20.0.92/time.cfg");
	resolves(boot, "sip.cfg", "tftp://10.20.0.92/sip.cfg");
	resolves(boot, "HTTP Directory/sip.cfg", "tftp://10.20.0.92/HTTP Directory/sip.cfg");
	resolves(boot, "http://10.20.0.88/HTTP Directory/sip.cfg",
		 "http://10.20.0.88/HTTP Directory/sip.cfg");
	resolves(boot, "http://10.20.0.92/mac.cfg", "http://10.20.0.92/mac.cfg");
	/* the example site's boot files */
	resolves("http://127.0.0.1:8080/0021f2000001.boot", "fip/site.cfg",
		 "http://127.0.0.1:8080/fip/site.cfg");
	resolves("http://127.0.0.1:8080/0021f2000001.boot", "0021f2000001.cfg",
		 "http://127.0.0.1:8080/0021f2000001.cfg");
	/* credentials and port carry over; a boot file in a directory */
	resolves("ftp://test1:123456@10.3.6.234:2121/prov/y000000000000.boot", "../common.cfg",
		 "ftp://test1:123456@10.3.6.234:2121/common.cfg");
	resolves("http://[fe80::1]:8080/p/b.boot", "x.cfg", "http://[fe80::1]:8080/p/x.cfg");
	resolves("http://h", "x.cfg", "http://h/x.cfg");
}

static void test_resolve_rfc3986(void **state)
{
	const char *base = "http://a/b/c/d;p?q";

	/* RFC 3986 5.4.1, normal examples */
	resolves(base, "g:h", "g:h");
	resolves(base, "g", "http://a/b/c/g");
	resolves(base, "./g", "http://a/b/c/g");
	resolves(base, "g/", "http://a/b/c/g/");
	resolves(base, "/g", "http://a/g");
	resolves(base, "//g", "http://g");
	resolves(base, "?y", "http://a/b/c/d;p?y");
	resolves(base, "g?y", "http://a/b/c/g?y");
	resolves(base, "#s", "http://a/b/c/d;p?q#s");
	resolves(base, "g#s", "http://a/b/c/g#s");
	resolves(base, "g?y#s", "http://a/b/c/g?y#s");
	resolves(base, ";x", "http://a/b/c/;x");
	resolves(base, "g;x", "http://a/b/c/g;x");
	resolves(base, "g;x?y#s", "http://a/b/c/g;x?y#s");
	resolves(base, "", "http://a/b/c/d;p?q");
	resolves(base, ".", "http://a/b/c/");
	resolves(base, "./", "http://a/b/c/");
	resolves(base, "..", "http://a/b/");
	resolves(base, "../", "http://a/b/");
	resolves(base, "../g", "http://a/b/g");
	resolves(base, "../..", "http://a/");
	resolves(base, "../../", "http://a/");
	resolves(base, "../../g", "http://a/g");
	/* 5.4.2, abnormal examples */
	resolves(base, "../../../g", "http://a/g");
	resolves(base, "../../../../g", "http://a/g");
	resolves(base, "/./g", "http://a/g");
	resolves(base, "/../g", "http://a/g");
	resolves(base, "g.", "http://a/b/c/g.");
	resolves(base, ".g", "http://a/b/c/.g");
	resolves(base, "g..", "http://a/b/c/g..");
	resolves(base, "..g", "http://a/b/c/..g");
	resolves(base, "./../g", "http://a/b/g");
	resolves(base, "./g/.", "http://a/b/c/g/");
	resolves(base, "g/./h", "http://a/b/c/g/h");
	resolves(base, "g/../h", "http://a/b/c/h");
	resolves(base, "g;x=1/./y", "http://a/b/c/g;x=1/y");
	resolves(base, "g;x=1/../y", "http://a/b/c/y");
	resolves(base, "g?y/./x", "http://a/b/c/g?y/./x");
	resolves(base, "g?y/../x", "http://a/b/c/g?y/../x");
	resolves(base, "g#s/./x", "http://a/b/c/g#s/./x");
	resolves(base, "g#s/../x", "http://a/b/c/g#s/../x");
	resolves(base, "http:g", "http:g");
}

static void test_resolve_refusals(void **state)
{
	char *big = malloc(PROV_URL_MAX + 2);

	/* the base must be absolute */
	assert_null(prov_url_resolve("y000000000000.boot", "x.cfg"));
	assert_null(prov_url_resolve("/dir/b.boot", "x.cfg"));
	assert_non_null(big);
	memset(big, 'a', PROV_URL_MAX + 1);
	big[PROV_URL_MAX + 1] = '\0';
	assert_null(prov_url_resolve("http://h/", big));
	free(big);
}

static void rule(const char *s, const char *key, const char *url)
{
	struct profile_rule r = { NULL, NULL };
	const char *why = NULL;

	if (profile_rule_parse(s, &r, &why) != 0)
		fail_msg("rule '%s' refused: %s", s, why);
	if (key)
		assert_string_equal(r.key, key);
	else
		assert_null(r.key);
	assert_string_equal(r.url, url);
	profile_rule_done(&r);
	profile_rule_done(&r);
}

static void rule_refused(const char *s, const char *reason)
{
	struct profile_rule r = { (char *)"k", (char *)"u" };
	const char *why = NULL;

	assert_int_equal(profile_rule_parse(s, &r, &why), -EINVAL);
	assert_non_null(why);
	if (strcmp(why, reason) != 0)
		fail_msg("rule '%s': reason '%s', expected '%s'", s, why, reason);
	assert_string_equal(r.key, "k");
	assert_string_equal(r.url, "u");
}

static void test_profile_rules(void **state)
{
	/* seed 001 */
	rule("[--key 123456]tftp://192.168.1.1/path/param-enc.conf", "123456",
	     "tftp://192.168.1.1/path/param-enc.conf");
	rule("https://192.168.20.17/param_$MAU.conf", NULL,
	     "https://192.168.20.17/param_$MAU.conf");
	rule("tftp://prov.call.com/cpe/CW$MA.conf", NULL, "tftp://prov.call.com/cpe/CW$MA.conf");
	rule("[--key 'key']tftp://h/p.conf", "key", "tftp://h/p.conf");
	/* the example site */
	rule("[--key KEY]tftp://SERVER/fvenc$MAU.conf", "KEY", "tftp://SERVER/fvenc$MAU.conf");
	/* blanks and quotes */
	rule("  [ --key  \"a b]c\" ]  http://h/x  ", "a b]c", "http://h/x");
	rule("[--key 123456 ]/cfg/x.conf", "123456", "/cfg/x.conf");
	rule("[--key\tk]x", "k", "x");
	rule("[]http://h/x", NULL, "http://h/x");
	rule("[ ] http://h/x", NULL, "http://h/x");
	rule("http://h/x [not an option]", NULL, "http://h/x [not an option]");

	rule_refused("", "no URL in the rule");
	rule_refused("[--key 1]", "no URL in the rule");
	rule_refused("[--key 1] \t", "no URL in the rule");
	rule_refused("[--key 1 http://h/x", "'[' without ']'");
	rule_refused("[--key]http://h/x", "--key without a key");
	rule_refused("[--key ]http://h/x", "--key without a key");
	rule_refused("[--key \"\"]http://h/x", "empty key");
	rule_refused("[--key \"abc]http://h/x", "unclosed quote in the key");
	rule_refused("[--key a --key b]http://h/x", "--key given twice");
	rule_refused("[--uid a]http://h/x", "unknown option in [ ] (only --key)");
	rule_refused("[--keys a]http://h/x", "unknown option in [ ] (only --key)");
	rule_refused("[key a]http://h/x", "unknown option in [ ] (only --key)");
}

static void opt160(const char *v, const char *server, const char *fw, const char *cfg)
{
	char *s = NULL, *f = NULL, *c = NULL;
	const char *why = NULL;

	if (ac_opt160_parse(v, &s, &f, &c, &why) != 0)
		fail_msg("option 160 '%s' refused: %s", v, why);
	assert_string_equal(s, server);
	if (fw)
		assert_string_equal(f, fw);
	else
		assert_null(f);
	if (cfg)
		assert_string_equal(c, cfg);
	else
		assert_null(c);
	free(s);
	free(f);
	free(c);
}

static void opt160_refused(const char *v, int err, const char *reason)
{
	char *s = (char *)"s", *f = (char *)"f", *c = (char *)"c";
	const char *why = NULL;

	assert_int_equal(ac_opt160_parse(v, &s, &f, &c, &why), err);
	assert_non_null(why);
	if (strcmp(why, reason) != 0)
		fail_msg("option 160 '%s': reason '%s', expected '%s'", v, why, reason);
	assert_string_equal(s, "s");
	assert_string_equal(f, "f");
	assert_string_equal(c, "c");
}

static void test_option160(void **state)
{
	/* seed 004's four forms, each protocol */
	opt160("tftp://prov.example.net/400HD.img;400hd.cfg", "tftp://prov.example.net/",
	       "tftp://prov.example.net/400HD.img", "tftp://prov.example.net/400hd.cfg");
	opt160("http://10.0.0.1", "http://10.0.0.1/", NULL, NULL);
	opt160("https://prov.example.net/", "https://prov.example.net/", NULL, NULL);
	opt160("ftp://10.0.0.1/450HD.img", "ftp://10.0.0.1/", "ftp://10.0.0.1/450HD.img", NULL);
	opt160("tftp://prov.example.net/;400hd.cfg", "tftp://prov.example.net/", NULL,
	       "tftp://prov.example.net/400hd.cfg");
	/* docs/agent layout and the example site's template: names with directories, taken
	 * from the server's root */
	opt160("http://10.0.0.1/fw/420HD.img;cfg/420HD.cfg", "http://10.0.0.1/",
	       "http://10.0.0.1/fw/420HD.img", "http://10.0.0.1/cfg/420HD.cfg");
	opt160("http://127.0.0.1:8080/audiocodes/400HD.img;audiocodes/400HD.cfg",
	       "http://127.0.0.1:8080/", "http://127.0.0.1:8080/audiocodes/400HD.img",
	       "http://127.0.0.1:8080/audiocodes/400HD.cfg");
	/* credentials, IPv6, a directory without firmware, an empty configuration name */
	opt160("ftp://u:p%40w@[2001:db8::1]:2121/400HD.img;400hd.cfg",
	       "ftp://u:p%40w@[2001:db8::1]:2121/", "ftp://u:p%40w@[2001:db8::1]:2121/400HD.img",
	       "ftp://u:p%40w@[2001:db8::1]:2121/400hd.cfg");
	opt160("http://h/dir/;x.cfg", "http://h/dir/", NULL, "http://h/dir/x.cfg");
	opt160("http://h/fw.img;", "http://h/", "http://h/fw.img", NULL);
	opt160("http://h/fw.img; x.cfg \r\n", "http://h/", "http://h/fw.img", "http://h/x.cfg");
	opt160("HTTP://h/fw.img;http://other/c.cfg", "http://h/", "http://h/fw.img",
	       "http://other/c.cfg");
	opt160("http://h/;/abs/c.cfg", "http://h/", NULL, "http://h/abs/c.cfg");

	opt160_refused("10.0.0.1/400HD.img;400hd.cfg", -EINVAL,
		       "no protocol (tftp://, ftp://, http:// or https://)");
	opt160_refused("scp://h/x.img", -EPROTONOSUPPORT,
		       "unsupported protocol (tftp, ftp, http or https)");
	opt160_refused("http:///x.img", -EINVAL, "no server name or address");
	opt160_refused("http://h;x/y", -EINVAL, "bad character in the server name");
	opt160_refused("http://h/x.img;gopher://o/c.cfg", -EPROTONOSUPPORT,
		       "unsupported protocol (tftp, ftp, http or https)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_algo_static_server),
		cmocka_unit_test(test_panasonic_forms),
		cmocka_unit_test(test_full_urls),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_path_only),
		cmocka_unit_test(test_format_encodes_the_path),
		cmocka_unit_test(test_on_server),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_resolve_fip),
		cmocka_unit_test(test_resolve_rfc3986),
		cmocka_unit_test(test_resolve_refusals),
		cmocka_unit_test(test_profile_rules),
		cmocka_unit_test(test_option160),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
