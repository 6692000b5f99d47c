// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for src/agent/discovery.c: the DHCP option text a hook script or a
 * user writes, the decoders run over every option it holds, and every profile's plan from
 * them. Input: byte 0 picks the discovery switches, the rest is the options text. Checks:
 * refusals come with a reason (and a line within the text), the caps hold, decoders point
 * inside the option, and plans are non-empty lists of printable candidates.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/discovery.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	CHECK(s && *s);
	for (; *s; s++)
		CHECK(*s >= 0x20 && *s <= 0x7e);
}

static void decode_all(const uint8_t *v, size_t len)
{
	char addr[DHCP_OPTION_MAX_LEN / 4][DHCP_IPV4_STRLEN];
	const char *why = NULL;
	const uint8_t *p;
	char *s = NULL;
	size_t n, plen;
	uint32_t en;
	int r;

	r = dhcp_decode_text(v, len, &s, &why);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		check_text(s);
		CHECK(strlen(s) <= len);
		(void)dhcp_server_form(s);
		free(s);
	} else {
		CHECK(why);
	}

	r = dhcp_decode_ipv4_list(v, len, addr, sizeof(addr) / sizeof(addr[0]), &n, &why);
	CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
	CHECK((r == 0) == (len > 0 && len % 4 == 0 && len / 4 <= sizeof(addr) / sizeof(addr[0])));
	if (r == 0) {
		CHECK(n == len / 4);
		for (size_t i = 0; i < n; i++)
			CHECK(strlen(addr[i]) >= 7 && strlen(addr[i]) < DHCP_IPV4_STRLEN);
	}

	for (unsigned sub = 1; sub < 255; sub += 50) {
		r = dhcp_decode_sub_option(v, len, sub, &p, &plen, &why);
		CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
		if (r == 0)
			CHECK(p >= v + 2 && p + plen <= v + len && plen == p[-1] && p[-2] == sub);
	}
	for (unsigned sub = 0; sub < 3; sub++) {
		r = dhcp_decode_vendor_opts(v, len, sub == 2 ? 9 : 0, sub, &p, &plen, &en, &why);
		CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
		if (r == 0) {
			CHECK(p >= v + 8 && p + plen <= v + len);
			CHECK(sub != 2 || en == 9);
		}
	}
}

static void plan_all(const struct dhcp_options *o, uint8_t sw)
{
	static const char *const profiles[] = { "algo", "fip", "spa", "audiocodes", "panasonic" };
	static const unsigned options[] = { 0, 66, 160, 150 };

	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		struct discovery_input in = {
			.profile = profiles[i],
			.dhcp = o,
			.static_server = sw & 1 ? "192.168.1.1/files" : NULL,
			.static_override = sw & 2,
			.dhcp_option = options[(sw >> 2) & 3],
			.ip_mode = (enum discovery_ip_mode)((sw >> 4) % 3),
			.no_pnp = sw & 0x40,
			.no_dhcp = sw & 0x80,
			.no_redirect = sw & 0x10,
			.profile_rule = sw & 0x20 ? "tftp://s/$MA.cfg" : NULL,
			.config_file_name = "IP542N.conf",
			.dhcpv6_enterprise = sw & 0x08 ? 9 : 0,
		};
		struct discovery_candidate *c = NULL;
		const char *why = NULL;
		size_t n = 0;
		int r = discovery_plan(&in, &c, &n, &why);

		CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
		if (r < 0) {
			CHECK(why && !c && n == 0);
			continue;
		}
		CHECK(c && n > 0);
		for (size_t k = 0; k < n; k++) {
			CHECK((unsigned)c[k].source < DISC_SOURCE_MAX);
			if (c[k].source == DISC_PNP || c[k].source == DISC_REDIRECT) {
				CHECK(!c[k].server && !c[k].detail);
				continue;
			}
			check_text(c[k].server);
			if (c[k].detail)
				check_text(c[k].detail);
		}
		discovery_plan_free(c, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_options *o;
	const char *why = NULL;
	size_t line = 0, count;
	int r;

	if (size < 1)
		return 0;
	o = dhcp_options_new();
	CHECK(o);
	r = dhcp_options_load(o, (const char *)data + 1, size - 1, &line, &why);
	CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOSPC);
	count = dhcp_options_count(o);
	if (r < 0) {
		CHECK(why);
		CHECK(line >= 1 && line <= size);
		CHECK(count == 0); /* all or nothing */
	}
	CHECK(count <= DHCP_OPTIONS_MAX);
	for (size_t i = 0; i < count; i++) {
		const uint8_t *v, *again;
		unsigned code;
		size_t len, len2;
		bool v6;

		CHECK(dhcp_options_nth(o, i, &v6, &code, &v, &len) == 0);
		CHECK(v && len <= DHCP_OPTION_MAX_LEN);
		CHECK(code >= 1 && (v6 ? code <= 65535 : code <= 254));
		again = dhcp_options_get(o, v6, code, &len2);
		CHECK(again == v && len2 == len);
		decode_all(v, len);
	}
	CHECK(dhcp_options_nth(o, count, NULL, NULL, NULL, NULL) == -ENOENT);
	plan_all(o, data[0]);
	/* loading the same text again replaces every option with itself */
	if (r == 0) {
		CHECK(dhcp_options_load(o, (const char *)data + 1, size - 1, &line, &why) == 0);
		CHECK(dhcp_options_count(o) == count);
	}
	dhcp_options_free(o);
	return 0;
}
