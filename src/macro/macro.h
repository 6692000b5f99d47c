// SPDX-License-Identifier: MIT
/*
 * Macro expansion of Cisco-SPA-style profile rules, as seed 001 (Flying Voice IP542N /
 * G502N) defines it: `$NAME`, `$(NAME)`, `$$`, `$(NAME:p)` and `$(NAME:p:q)`; unknown names
 * are left as written and an expanded value is never expanded again. Also the standard
 * variables of a device (MA, MAU, MAC, PN, PSN, SN, IP, SWVER, HWVER). Pure code: no I/O.
 */
#ifndef AUTOPROV_MACRO_MACRO_H
#define AUTOPROV_MACRO_MACRO_H

#include <stddef.h>

/** Longest result macro_expand() builds; a longer one is -E2BIG. */
#define MACRO_OUT_MAX 65536

/**
 * Expands the macros of @p in into a malloc'd string (*ret_out, the caller frees it).
 * @p lookup gives the value of variable NAME (@p len bytes, not NUL-terminated), or NULL
 * when the name is unknown; a value must stay valid until macro_expand() returns.
 *
 * - `$$` is a single `$` (so `$$MAU` gives `$MAU`, not the MAC);
 * - `$NAME`: NAME is the longest run of letters, digits and `_` after the `$` (write
 *   `$(NAME)` when a letter or digit follows the name: `$(MAU)config.cfg`);
 * - `$(NAME)`: the same, delimited;
 * - `$(NAME:p)`, `$(NAME:p:q)`: the substring of the value from offset p (0-based), of
 *   length q, or to the end when q is absent; p beyond the end gives "", q beyond the end
 *   stops at the end (p and q are decimal digits only);
 * - an unknown name, a `$` followed by no name, an unclosed `$(` or a malformed `$(...)`
 *   is copied as written;
 * - quotes are not special; values are inserted as they are and never expanded again.
 *
 * @p lookup may be NULL (no variable is known). Returns 0, -E2BIG when the result would
 * exceed MACRO_OUT_MAX bytes, or -ENOMEM.
 */
int macro_expand(const char *in, const char *(*lookup)(void *ctx, const char *name, size_t len),
		 void *ctx, char **ret_out);

/**
 * A device's identity, as the standard variables of seed 001 show it. Start from
 * `struct macro_device d = { 0 };`, fill the string fields (NULL: that variable is unknown and
 * stays unexpanded) and set the MAC with macro_device_set_mac(); the struct only points at the
 * strings, it does not own them.
 */
struct macro_device {
	const char *model;	/**< PN: product name, e.g. "G502" or "VOIP ATA" */
	const char *series;	/**< PSN: product series (Cisco), e.g. "525" */
	const char *serial;	/**< SN: serial number, e.g. "E3C08109000051" */
	const char *ip;		/**< IP: the device's (WAN) IP address */
	const char *sw_version; /**< SWVER, e.g. "v3.3.8" */
	const char *hw_version; /**< HWVER, e.g. "v1.0.1" */
	/* Set by macro_device_set_mac(); all empty: the MAC variables are unknown. */
	char ma[13];  /**< MA: 0021f2011b19 */
	char mau[13]; /**< MAU: 0021F2011B19 */
	char mac[18]; /**< MAC: 00:21:f2:01:1b:19 */
};

/**
 * Sets MA, MAU and MAC from @p mac in any form core/mac.h accepts ("0021F2011B19",
 * "00:21:f2:01:1b:19", ...). Returns 0, or -EINVAL with *ret_why (optional) a reason;
 * @p d is untouched on failure.
 */
int macro_device_set_mac(struct macro_device *d, const char *mac, const char **ret_why);

/**
 * A lookup for macro_expand() over a struct macro_device (@p device): MA, MAU, MAC, PN, PSN, SN,
 * IP, SWVER, HWVER (case-sensitive, as in the seed). Any other name, or a field left NULL, is
 * unknown. A profile that knows more variables (GPP_A...) wraps this function.
 */
const char *macro_device_lookup(void *device, const char *name, size_t len);

#endif
