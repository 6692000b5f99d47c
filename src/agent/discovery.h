// SPDX-License-Identifier: MIT
/*
 * Discovery of the provisioning server, the pure part: the DHCP options an endpoint
 * received (in the text form the agent and the DHCP client hooks share, docs/agent.md),
 * decoders for the options discovery reads, and each profile's discovery order exactly as
 * its seed gives it. No I/O: SIP PnP and the redirection server appear in a plan as steps
 * the agent performs itself.
 *
 * Functions return 0 or a negative errno; where a reason helps, *ret_why is set on failure
 * to a static sentence the caller prints (it is not set on success).
 */
#ifndef AUTOPROV_AGENT_DISCOVERY_H
#define AUTOPROV_AGENT_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on what an options file or a DHCP server can make us hold. */
#define DHCP_OPTION_MAX_LEN 1024 /* bytes of one option's value */
#define DHCP_OPTIONS_MAX    128	 /* options held at once (DHCPv4 and DHCPv6 together) */
#define DHCP_LINE_MAX	    4096 /* characters of one input line */
#define DHCP_IPV4_STRLEN    16	 /* "255.255.255.255" and its NUL */

/* The raw DHCPv4 and DHCPv6 options as received; each (family, code) is held once. */
struct dhcp_options;

struct dhcp_options *dhcp_options_new(void);
/* Accepts NULL. */
void dhcp_options_free(struct dhcp_options *o);
/* Forgets every option (a new lease). */
void dhcp_options_clear(struct dhcp_options *o);

/*
 * Adds one option from a line "CODE=VALUE" (DHCPv4, CODE 1..254) or "6:CODE=VALUE" (DHCPv6,
 * CODE 1..65535). VALUE is printable ASCII taken as it is (trailing spaces, tabs and CR
 * removed), or "hex:" and an even number of hex digits; option 150 also takes a
 * comma-separated list of dotted IPv4 addresses. An option given again replaces the earlier
 * value (a command-line option overrides the file). -EINVAL (bad syntax), -E2BIG (value or
 * line over the caps), -ENOSPC (DHCP_OPTIONS_MAX reached), -ENOMEM.
 */
int dhcp_options_set(struct dhcp_options *o, const char *line, const char **ret_why);

/*
 * Adds every option of a text (one dhcp_options_set() line per line, '#' comment lines and
 * blank lines ignored, LF or CRLF). All or nothing: on failure nothing is added, and
 * *ret_line (if not NULL) is the 1-based number of the offending line (0 when the options
 * are good but too many together with those already held: -ENOSPC).
 */
int dhcp_options_load(struct dhcp_options *o, const char *text, size_t len, size_t *ret_line,
		      const char **ret_why);

/* The value of an option (not NUL-terminated in general; may be empty), or NULL if absent. */
const uint8_t *dhcp_options_get(const struct dhcp_options *o, bool v6, unsigned code,
				size_t *ret_len);

/* How many options are held, and the i-th one in the order they were first added
 * (-ENOENT past the end), for printing what was received. */
size_t dhcp_options_count(const struct dhcp_options *o);
int dhcp_options_nth(const struct dhcp_options *o, size_t i, bool *ret_v6, unsigned *ret_code,
		     const uint8_t **ret_value, size_t *ret_len);

/*
 * An option as text (66, 67, 159, 160, DHCPv6 59): trailing NULs (some DHCP servers send
 * one) and surrounding spaces removed; the rest must be printable ASCII and not empty.
 * *ret is malloc'd. -EINVAL (not text, empty), -ENOMEM.
 */
int dhcp_decode_text(const uint8_t *v, size_t len, char **ret, const char **ret_why);

/* What a server option such as 66 holds. */
enum dhcp_server_form {
	DHCP_SERVER_URL,  /* "<scheme>://..." */
	DHCP_SERVER_IPV4, /* a dotted IPv4 address */
	DHCP_SERVER_HOST, /* a host name (letters, digits, '-' and '.') */
	DHCP_SERVER_OTHER /* anything else: host:port, host/path, user:pwd@host, ... */
};
enum dhcp_server_form dhcp_server_form(const char *s);

/*
 * Option 150 (TFTP server addresses): a non-empty multiple of 4 bytes. Writes at most max
 * dotted addresses into ret and their number into *ret_n. -EINVAL (malformed), -E2BIG (more
 * than max).
 */
int dhcp_decode_ipv4_list(const uint8_t *v, size_t len, char (*ret)[DHCP_IPV4_STRLEN], size_t max,
			  size_t *ret_n, const char **ret_why);

/*
 * Option 43 (vendor-encapsulated): sub-options code(1) length(1) value, pad (0) and end
 * (255) as RFC 2132 has them. Finds sub-option `sub` (1..254); *ret points into v.
 * -ENOENT (absent), -EINVAL (a sub-option runs past the end).
 */
int dhcp_decode_sub_option(const uint8_t *v, size_t len, unsigned sub, const uint8_t **ret,
			   size_t *ret_len, const char **ret_why);

/*
 * DHCPv6 option 17 (vendor-specific information, RFC 8415 21.17): enterprise number(4) then
 * sub-options code(2) length(2) value. Finds sub-option `sub` when the enterprise number is
 * `enterprise` (0: any); *ret points into v, *ret_enterprise (may be NULL) is the number.
 * -ENOENT (absent, or another enterprise), -EINVAL (malformed).
 */
int dhcp_decode_vendor_opts(const uint8_t *v, size_t len, uint32_t enterprise, unsigned sub,
			    const uint8_t **ret, size_t *ret_len, uint32_t *ret_enterprise,
			    const char **ret_why);

/* Where a candidate server comes from. */
enum discovery_source {
	DISC_MANUAL,	   /* panasonic: "Manual configuration" */
	DISC_STATIC,	   /* algo: Static Server; fip: static provision; any: the override */
	DISC_PNP,	   /* SIP PnP: SUBSCRIBE to 224.0.1.75, the NOTIFY gives the URL */
	DISC_DHCP_66,	   /* DHCP option 66 (with 67 for audiocodes, Config File Name for spa) */
	DISC_DHCP_150,	   /* DHCP option 150, one candidate per address */
	DISC_DHCP_159,	   /* DHCP option 159 */
	DISC_DHCP_160,	   /* DHCP option 160 */
	DISC_DHCPV6,	   /* DHCPv6 vendor option (17) sub-option 1 */
	DISC_REDIRECT,	   /* the vendor's redirection server */
	DISC_PROFILE_RULE, /* spa: the Profile Rule */
	DISC_SOURCE_MAX,
};

/* "DHCP option 66", "SIP PnP", ... for the timeline; "unknown source" out of range. */
const char *discovery_source_name(enum discovery_source s);

/* Panasonic's three tables: which addresses the device has. */
enum discovery_ip_mode {
	DISC_IP_V4 = 0, /* IPv4 address only (the default) */
	DISC_IP_V6,	/* IPv6 address only */
	DISC_IP_DUAL,	/* IPv4 and IPv6 addresses */
};

/*
 * What discovery works from. A zeroed struct (plus profile) is each seed's default: PnP,
 * DHCP and the redirection server enabled, IPv4 only, automatic DHCP option choice.
 * Strings are borrowed for the call; NULL and "" both mean unset.
 */
struct discovery_input {
	const char *profile;		 /* "algo", "fip", "spa", "audiocodes", "panasonic" */
	const struct dhcp_options *dhcp; /* what was received; NULL: nothing */
	/* algo: Static Server; fip: the static provisioning URL; panasonic: the manual URL;
	 * spa and audiocodes: used only with static_override. */
	const char *static_server;
	/* Use static_server alone. algo: Server Method = Static (seed 000); for the other
	 * profiles an agent setting the seeds do not describe (testing without DHCP). */
	bool static_override;
	/* algo: "manually specify which DHCP Option number to use" (66, 160 or 150); 0: the
	 * automatic choice. Ignored by the other profiles. */
	unsigned dhcp_option;
	enum discovery_ip_mode ip_mode; /* panasonic */
	bool no_pnp;			/* fip, panasonic: SIP PnP disabled */
	bool no_dhcp;			/* DHCP disabled; spa: the "Option 66" switch set to No */
	bool no_redirect;		/* panasonic: redirection server disabled */
	const char *profile_rule;	/* spa: Profile Rule, raw (macros, [--key K]) */
	const char *config_file_name;	/* spa: Config File Name used with option 66 */
	uint32_t dhcpv6_enterprise;	/* panasonic: option 17 enterprise number; 0: any */
};

/* One place to look for the server, in the order the profile tries them. */
struct discovery_candidate {
	enum discovery_source source;
	/* The server, base URL or file URL as the source gave it (raw: url.c normalises it);
	 * NULL for DISC_PNP and DISC_REDIRECT, which the agent performs and which give nothing
	 * when they fail. */
	char *server;
	/* What came with it, or NULL: audiocodes: option 67 (the file name) with option 66;
	 * spa: the Config File Name with option 66, and option 66 (the device's server)
	 * with a Profile Rule that names no server. Option 160 comes whole in server, its
	 * AudioCodes "<proto>://host/<fw>;<cfg>" forms included (url.c splits them). */
	char *detail;
};

/*
 * The candidates of in->profile in priority order; sources that are off or absent are left
 * out, a malformed option counts as absent. The agent uses the first candidate that gives a
 * server (see discovery_fallthrough()); the ones after a candidate with a server are never
 * reached and only tell the timeline what else was received. On success *ret_n >= 1 and
 * *ret is freed with discovery_plan_free(). -ENOENT: nothing to try, *ret_why says why
 * ("Option 66 is enabled but no DHCP option 66 was received ..."); -EINVAL (unknown
 * profile, bad dhcp_option or ip_mode), -ENOMEM.
 */
int discovery_plan(const struct discovery_input *in, struct discovery_candidate **ret,
		   size_t *ret_n, const char **ret_why);
/* Accepts NULL. */
void discovery_plan_free(struct discovery_candidate *c, size_t n);

/*
 * Whether the profile moves on to the next candidate when downloads from a server that a
 * candidate gave fail (no profile does; discovery.c cites the seeds). A candidate that
 * gives no server (PnP without NOTIFY, no redirection) always moves on.
 */
bool discovery_fallthrough(const char *profile);

#endif
