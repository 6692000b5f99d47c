// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the provisioning URL parsers. Byte 0 picks the function, the rest
 * is its input (for the two-string ones, split at the first newline). Invariants: a
 * parsed URL has a known scheme, a host, a port within 1..65535 or 0 and a path that is
 * empty or starts with '/', and its canonical form parses back to itself; a profile rule
 * has a URL with no surrounding blank; option 160 gives a server directory ending in '/'
 * and URLs that parse; joins and resolutions never fail but for their documented reasons.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/url.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known(const char *scheme)
{
	return !strcmp(scheme, "tftp") || !strcmp(scheme, "ftp") || !strcmp(scheme, "http") ||
	       !strcmp(scheme, "https");
}

static void check_url(const char *s, const char *def)
{
	struct prov_url u = { .scheme = "" }, again = { .scheme = "" };
	const char *why = NULL;
	char *f, *f2;
	int r = prov_url_parse(s, def, &u, &why);

	if (r < 0) {
		CHECK(r == -EINVAL || r == -EPROTONOSUPPORT || r == -ENAMETOOLONG);
		CHECK(why != NULL);
		return;
	}
	CHECK(known(u.scheme));
	CHECK(u.host && u.path);
	CHECK(u.port <= 65535);
	CHECK(u.path[0] == '\0' || u.path[0] == '/');
	CHECK(u.host[0] || u.path[0]);
	CHECK(!u.password || u.user);
	f = prov_url_format(&u);
	CHECK(f);
	r = prov_url_parse(f, NULL, &again, &why);
	if (strlen(f) > PROV_URL_MAX) {
		/* Percent-encoding can take an accepted URL past the length limit. */
		CHECK(r == -ENAMETOOLONG);
		free(f);
		prov_url_done(&u);
		return;
	}
	CHECK(r == 0);
	/*
	 * The parts survive the round trip; the path and the login as written or
	 * percent-encoded (the parser keeps what it was given, the formatter encodes what RFC
	 * 3986 requires): equal once formatted, below.
	 */
	CHECK(!strcmp(u.scheme, again.scheme) && !u.user == !again.user &&
	      !u.password == !again.password && !strcmp(u.host, again.host) &&
	      u.port == again.port);
	f2 = prov_url_format(&again);
	CHECK(f2 && strcmp(f, f2) == 0);
	free(f);
	free(f2);
	prov_url_done(&u);
	prov_url_done(&again);
}

static void check_rule(const char *s)
{
	struct profile_rule r = { NULL, NULL };
	const char *why = NULL;
	int rc = profile_rule_parse(s, &r, &why);
	size_t n;

	if (rc < 0) {
		CHECK(rc == -EINVAL || rc == -ENAMETOOLONG);
		CHECK(why != NULL);
		return;
	}
	n = strlen(r.url);
	CHECK(n > 0 && r.url[0] != ' ' && r.url[n - 1] != ' ');
	CHECK(!r.key || r.key[0]);
	profile_rule_done(&r);
}

static void check_opt160(const char *s)
{
	char *server = NULL, *fw = NULL, *cfg = NULL;
	const char *why = NULL;
	struct prov_url u = { .scheme = "" };
	int r = ac_opt160_parse(s, &server, &fw, &cfg, &why);

	if (r < 0) {
		CHECK(r == -EINVAL || r == -EPROTONOSUPPORT || r == -ENAMETOOLONG);
		CHECK(why != NULL);
		return;
	}
	CHECK(server && server[strlen(server) - 1] == '/');
	CHECK(prov_url_parse(server, NULL, &u, NULL) == 0);
	CHECK(u.host[0]);
	prov_url_done(&u);
	if (fw) {
		CHECK(prov_url_parse(fw, NULL, &u, NULL) == 0);
		prov_url_done(&u);
	}
	if (cfg) {
		CHECK(prov_url_parse(cfg, NULL, &u, NULL) == 0);
		prov_url_done(&u);
	}
	free(server);
	free(fw);
	free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *second;
	char *s;

	if (size < 1)
		return 0;
	in = malloc(size);
	CHECK(in);
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	second = strchr(in, '\n');

	switch (data[0] % 6) {
	case 0: check_url(in, NULL); break;
	case 1: check_url(in, "tftp"); break;
	case 2: check_rule(in); break;
	case 3: check_opt160(in); break;
	case 4:
		if (second)
			*second++ = '\0';
		s = prov_url_join(in, second ? second : "");
		CHECK(s);
		CHECK(strncmp(s, in, strlen(in)) == 0);
		free(s);
		break;
	case 5:
		if (second)
			*second++ = '\0';
		s = prov_url_resolve(in, second ? second : "");
		if (s) {
			CHECK(strlen(s) <= 4 * PROV_URL_MAX);
			free(s);
		}
		break;
	}
	free(in);
	return 0;
}
