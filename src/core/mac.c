// SPDX-License-Identifier: MIT
/*
 * MAC address parsing and formatting. Administrators paste MACs from labels, switch tables
 * and spreadsheets, so four spellings are accepted; everything else is refused with a reason
 * precise enough to spot the typo (a wrong digit count, the offending character, a separator
 * in the wrong place), because a silently "fixed" MAC provisions the wrong phone.
 */
#include "core/mac.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * Reasons that carry a number or a character are formatted here; one buffer per thread keeps
 * mac_parse usable from the daemon's workers without an allocation the caller must free.
 */
static _Thread_local char mac_why[64];

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_separator(char c)
{
	return c == ':' || c == '-' || c == '.';
}

int mac_parse(const char *s, char ret[MAC_LEN + 1], const char **ret_why)
{
	static const char hex[] = "0123456789abcdef";
	char out[MAC_LEN + 1];
	char sep = 0;
	size_t digits = 0, len = strlen(s), group, n = 0;
	const char *why;

	/*
	 * Counting comes first: "xyz" is better explained as "3 hex digits, 12 expected" than
	 * as "'x' is not a hex digit", and a long paste of the wrong thing too.
	 */
	for (size_t i = 0; i < len; i++) {
		if (!is_separator(s[i])) {
			digits++;
			continue;
		}
		if (sep != 0 && s[i] != sep) {
			why = "mixed separators";
			goto fail;
		}
		sep = s[i];
	}
	if (digits != MAC_LEN) {
		snprintf(mac_why, sizeof(mac_why), "%zu hex digit%s, %d expected", digits,
			 digits == 1 ? "" : "s", MAC_LEN);
		why = mac_why;
		goto fail;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_separator(s[i]) || hex_value(s[i]) >= 0)
			continue;
		if (c > 0x20 && c < 0x7f)
			snprintf(mac_why, sizeof(mac_why), "'%c' is not a hex digit", c);
		else
			snprintf(mac_why, sizeof(mac_why), "'\\x%02x' is not a hex digit", c);
		why = mac_why;
		goto fail;
	}

	/* Colons and dashes separate pairs (00:22:ee:...), dots quads (Cisco's 0022.ee01.0203). */
	group = sep == 0 ? MAC_LEN : sep == '.' ? 4 : 2;
	if (len != MAC_LEN + (sep == 0 ? 0 : MAC_LEN / group - 1)) {
		why = "misplaced separator";
		goto fail;
	}
	for (size_t i = 0; i < len; i++) {
		/* within the string, every (group+1)th character is the separator */
		bool want_sep = sep != 0 && i % (group + 1) == group;

		if (want_sep != is_separator(s[i])) {
			why = "misplaced separator";
			goto fail;
		}
		if (!want_sep)
			out[n++] = hex[hex_value(s[i])];
	}
	out[n] = '\0';
	memcpy(ret, out, sizeof(out));
	return 0;

fail:
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

void mac_upper(const char *mac, char ret[MAC_LEN + 1])
{
	for (size_t i = 0; i < MAC_LEN; i++) {
		char c = mac[i];

		ret[i] = c >= 'a' && c <= 'f' ? (char)(c - 'a' + 'A') : c;
	}
	ret[MAC_LEN] = '\0';
}

void mac_colons(const char *mac, char ret[MAC_LEN + 5 + 1])
{
	size_t n = 0;

	for (size_t i = 0; i < MAC_LEN; i++) {
		if (i > 0 && i % 2 == 0)
			ret[n++] = ':';
		ret[n++] = mac[i];
	}
	ret[n] = '\0';
}
