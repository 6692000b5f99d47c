// SPDX-License-Identifier: MIT
/* MAC addresses in the forms administrators and devices write them. */
#ifndef AUTOPROV_CORE_MAC_H
#define AUTOPROV_CORE_MAC_H

#include <stdbool.h>

#define MAC_LEN 12 /* canonical form: 12 lower-case hex digits, e.g. 0022ee010203 */

/*
 * Parses "00:22:ee:01:02:03", "00-22-EE-01-02-03", "0022.ee01.0203" or "0022EE010203"
 * (either case; one separator style throughout) into the canonical form in ret (13 bytes).
 * Returns 0, or -EINVAL with *ret_why a short reason ("11 hex digits, 12 expected",
 * "'g' is not a hex digit", "mixed separators", ...).
 */
int mac_parse(const char *s, char ret[MAC_LEN + 1], const char **ret_why);

/* From the canonical form: "0022EE010203" (upper) and "00:22:ee:01:02:03" (colons). */
void mac_upper(const char *mac, char ret[MAC_LEN + 1]);
void mac_colons(const char *mac, char ret[MAC_LEN + 5 + 1]);

#endif
