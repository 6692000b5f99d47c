// SPDX-License-Identifier: MIT
/*
 * Discovery of the provisioning server, the pure part: the DHCP option input format, the
 * decoders of the options discovery reads, and each profile's priority table as its seed
 * (/work/shared/seeds) gives it. No I/O, no logging: errors come back as -errno and a
 * static reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/discovery.h"
#include "agent/url.h"
#include "core/str.h"

struct dhcp_option {
	bool v6;
	unsigned code;
	uint8_t *value; /* len bytes and a NUL, so that text options are C strings too */
	size_t len;
};

struct dhcp_options {
	struct dhcp_option opt[DHCP_OPTIONS_MAX];
	size_t n;
};

static void why(const char **ret_why, const char *s)
{
	if (ret_why)
		*ret_why = s;
}

struct dhcp_options *dhcp_options_new(void)
{
	return calloc(1, sizeof(struct dhcp_options));
}

void dhcp_options_clear(struct dhcp_options *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		free(o->opt[i].value);
	o->n = 0;
}

void dhcp_options_free(struct dhcp_options *o)
{
	dhcp_options_clear(o);
	free(o);
}

static struct dhcp_option *find(const struct dhcp_options *o, bool v6, unsigned code)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->opt[i].v6 == v6 && o->opt[i].code == code)
			return (struct dhcp_option *)&o->opt[i];
	return NULL;
}

/* Takes value (malloc'd, len + NUL) whatever happens. */
static int put(struct dhcp_options *o, bool v6, unsigned code, uint8_t *value, size_t len,
	       const char **ret_why)
{
	struct dhcp_option *p = find(o, v6, code);

	if (!p) {
		if (o->n == DHCP_OPTIONS_MAX) {
			free(value);
			why(ret_why, "too many DHCP options");
			return -ENOSPC;
		}
		p = &o->opt[o->n++];
		p->v6 = v6;
		p->code = code;
	} else {
		free(p->value);
	}
	p->value = value;
	p->len = len;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "a.b.c.d,a.b.c.d" -> 4 bytes per address. */
static int parse_ipv4_list(const char *s, size_t n, uint8_t *out, size_t *ret_len,
			   const char **ret_why)
{
	size_t len = 0, i = 0;

	while (i <= n) {
		size_t j = i;
		char addr[DHCP_IPV4_STRLEN];
		struct in_addr in;

		while (j < n && s[j] != ',')
			j++;
		if (j - i >= sizeof(addr) || j == i) {
			why(ret_why,
			    "option 150 takes dotted IPv4 addresses separated by commas, or hex:");
			return -EINVAL;
		}
		memcpy(addr, s + i, j - i);
		addr[j - i] = '\0';
		if (inet_pton(AF_INET, addr, &in) != 1) {
			why(ret_why,
			    "option 150 takes dotted IPv4 addresses separated by commas, or hex:");
			return -EINVAL;
		}
		if (len + 4 > DHCP_OPTION_MAX_LEN) {
			why(ret_why, "option value longer than 1024 bytes");
			return -E2BIG;
		}
		memcpy(out + len, &in.s_addr, 4);
		len += 4;
		i = j + 1;
	}
	*ret_len = len;
	return 0;
}

/* One line, without its end of line; n excludes trailing blanks already. */
static int set_n(struct dhcp_options *o, const char *line, size_t n, const char **ret_why)
{
	static const char bad_syntax[] = "expected CODE=VALUE or 6:CODE=VALUE";
	const char *eq, *v;
	size_t vlen, len = 0;
	bool v6 = false;
	uint64_t code;
	uint8_t *value;
	int r;

	if (n > DHCP_LINE_MAX) {
		why(ret_why, "line longer than 4096 characters");
		return -E2BIG;
	}
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	if (n >= 2 && line[0] == '6' && line[1] == ':') {
		v6 = true;
		line += 2;
		n -= 2;
	}
	eq = memchr(line, '=', n);
	if (!eq) {
		why(ret_why, bad_syntax);
		return -EINVAL;
	}
	r = str_to_u64_n(line, (size_t)(eq - line), 1, v6 ? 65535 : 254, &code);
	if (r < 0) {
		why(ret_why, r == -ERANGE ? (v6 ? "DHCPv6 option code out of range 1..65535"
						: "DHCP option code out of range 1..254")
					  : bad_syntax);
		return -EINVAL;
	}
	v = eq + 1;
	vlen = n - (size_t)(v - line);
	value = malloc(vlen + 1 > DHCP_OPTION_MAX_LEN + 1 ? DHCP_OPTION_MAX_LEN + 1 : vlen + 1);
	if (!value) {
		why(ret_why, "out of memory");
		return -ENOMEM;
	}
	if (vlen >= 4 && memcmp(v, "hex:", 4) == 0) {
		const char *h = v + 4;
		size_t hn = vlen - 4;

		if (hn % 2) {
			why(ret_why, "hex: needs an even number of hex digits");
			r = -EINVAL;
			goto fail;
		}
		if (hn / 2 > DHCP_OPTION_MAX_LEN) {
			why(ret_why, "option value longer than 1024 bytes");
			r = -E2BIG;
			goto fail;
		}
		for (size_t i = 0; i < hn; i += 2) {
			int hi = hexval(h[i]), lo = hexval(h[i + 1]);

			if (hi < 0 || lo < 0) {
				why(ret_why, "hex: takes only hex digits");
				r = -EINVAL;
				goto fail;
			}
			value[len++] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		for (size_t i = 0; i < vlen; i++) {
			unsigned char c = (unsigned char)v[i];

			if (c < 0x20 || c > 0x7e) {
				why(ret_why,
				    "a text value must be printable ASCII (use hex: for bytes)");
				r = -EINVAL;
				goto fail;
			}
		}
		if (!v6 && code == 150) {
			/* the addresses take fewer bytes than their text: the cap is on bytes */
			r = parse_ipv4_list(v, vlen, value, &len, ret_why);
			if (r < 0)
				goto fail;
		} else if (vlen > DHCP_OPTION_MAX_LEN) {
			why(ret_why, "option value longer than 1024 bytes");
			r = -E2BIG;
			goto fail;
		} else {
			memcpy(value, v, vlen);
			len = vlen;
		}
	}
	value[len] = 0;
	return put(o, v6, (unsigned)code, value, len, ret_why);
fail:
	free(value);
	return r;
}

int dhcp_options_set(struct dhcp_options *o, const char *line, const char **ret_why)
{
	size_t n = strnlen(line, DHCP_LINE_MAX + 1);

	if (memchr(line, '\n', n)) {
		why(ret_why, "one option per line");
		return -EINVAL;
	}
	return set_n(o, line, n, ret_why);
}

int dhcp_options_load(struct dhcp_options *o, const char *text, size_t len, size_t *ret_line,
		      const char **ret_why)
{
	struct dhcp_options *tmp;
	size_t pos = 0, lineno = 0;
	int r = 0;

	tmp = dhcp_options_new();
	if (!tmp) {
		why(ret_why, "out of memory");
		return -ENOMEM;
	}
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		size_t k = 0;

		lineno++;
		pos += n + (nl ? 1 : 0);
		if (memchr(s, '\0', n)) {
			why(ret_why, "NUL byte in the options text");
			r = -EINVAL;
			goto fail;
		}
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == n || s[k] == '#')
			continue;
		r = set_n(tmp, s, n, ret_why);
		if (r < 0)
			goto fail;
	}
	/* All lines are good: move them over, unless together they are too many. */
	for (size_t i = 0, added = 0; i < tmp->n; i++) {
		if (!find(o, tmp->opt[i].v6, tmp->opt[i].code) &&
		    o->n + ++added > DHCP_OPTIONS_MAX) {
			why(ret_why, "too many DHCP options");
			r = -ENOSPC;
			lineno = 0; /* no one line is at fault */
			goto fail;
		}
	}
	for (size_t i = 0; i < tmp->n; i++) {
		struct dhcp_option *p = &tmp->opt[i];

		(void)put(o, p->v6, p->code, p->value, p->len, NULL);
		p->value = NULL;
	}
	dhcp_options_free(tmp);
	return 0;
fail:
	if (ret_line)
		*ret_line = lineno;
	dhcp_options_free(tmp);
	return r;
}

const uint8_t *dhcp_options_get(const struct dhcp_options *o, bool v6, unsigned code,
				size_t *ret_len)
{
	const struct dhcp_option *p = o ? find(o, v6, code) : NULL;

	if (!p)
		return NULL;
	if (ret_len)
		*ret_len = p->len;
	return p->value;
}

size_t dhcp_options_count(const struct dhcp_options *o)
{
	return o ? o->n : 0;
}

int dhcp_options_nth(const struct dhcp_options *o, size_t i, bool *ret_v6, unsigned *ret_code,
		     const uint8_t **ret_value, size_t *ret_len)
{
	if (!o || i >= o->n)
		return -ENOENT;
	if (ret_v6)
		*ret_v6 = o->opt[i].v6;
	if (ret_code)
		*ret_code = o->opt[i].code;
	if (ret_value)
		*ret_value = o->opt[i].value;
	if (ret_len)
		*ret_len = o->opt[i].len;
	return 0;
}

int dhcp_decode_text(const uint8_t *v, size_t len, char **ret, const char **ret_why)
{
	size_t start = 0;
	char *s;

	while (len > 0 && v[len - 1] == 0)
		len--;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	while (start < len && (v[start] == ' ' || v[start] == '\t'))
		start++;
	if (start == len) {
		why(ret_why, "the option is empty");
		return -EINVAL;
	}
	for (size_t i = start; i < len; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e) {
			why(ret_why, "the option is not printable text");
			return -EINVAL;
		}
	}
	s = malloc(len - start + 1);
	if (!s) {
		why(ret_why, "out of memory");
		return -ENOMEM;
	}
	memcpy(s, v + start, len - start);
	s[len - start] = '\0';
	*ret = s;
	return 0;
}

enum dhcp_server_form dhcp_server_form(const char *s)
{
	const char *p = strstr(s, "://");
	struct in_addr in;
	size_t i;

	if (p && p > s) {
		for (i = 0; s + i < p; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			      (i > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
					 s[i] == '-' || s[i] == '.'))))
				break;
		if (s + i == p)
			return DHCP_SERVER_URL;
	}
	if (inet_pton(AF_INET, s, &in) == 1)
		return DHCP_SERVER_IPV4;
	if (!*s || *s == '.' || *s == '-')
		return DHCP_SERVER_OTHER;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return DHCP_SERVER_OTHER;
	return DHCP_SERVER_HOST;
}

int dhcp_decode_ipv4_list(const uint8_t *v, size_t len, char (*ret)[DHCP_IPV4_STRLEN], size_t max,
			  size_t *ret_n, const char **ret_why)
{
	if (len == 0 || len % 4) {
		why(ret_why, "option 150 is not a list of 4-byte IPv4 addresses");
		return -EINVAL;
	}
	if (len / 4 > max) {
		why(ret_why, "option 150 holds too many addresses");
		return -E2BIG;
	}
	for (size_t i = 0; i < len / 4; i++)
		snprintf(ret[i], DHCP_IPV4_STRLEN, "%u.%u.%u.%u", v[4 * i], v[4 * i + 1],
			 v[4 * i + 2], v[4 * i + 3]);
	*ret_n = len / 4;
	return 0;
}

int dhcp_decode_sub_option(const uint8_t *v, size_t len, unsigned sub, const uint8_t **ret,
			   size_t *ret_len, const char **ret_why)
{
	size_t i = 0;

	while (i < len) {
		unsigned code = v[i];
		size_t l;

		if (code == 0) { /* pad */
			i++;
			continue;
		}
		if (code == 255) /* end */
			break;
		if (i + 2 > len || i + 2 + v[i + 1] > len) {
			why(ret_why, "a vendor sub-option runs past the end of option 43");
			return -EINVAL;
		}
		l = v[i + 1];
		if (code == sub) {
			*ret = v + i + 2;
			*ret_len = l;
			return 0;
		}
		i += 2 + l;
	}
	why(ret_why, "option 43 has no such sub-option");
	return -ENOENT;
}

int dhcp_decode_vendor_opts(const uint8_t *v, size_t len, uint32_t enterprise, unsigned sub,
			    const uint8_t **ret, size_t *ret_len, uint32_t *ret_enterprise,
			    const char **ret_why)
{
	uint32_t en;
	size_t i = 4;

	if (len < 4) {
		why(ret_why, "DHCPv6 vendor option shorter than its enterprise number");
		return -EINVAL;
	}
	en = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	/* Check the whole option first: a malformed one is refused whatever it holds. */
	while (i < len) {
		size_t l;

		if (i + 4 > len) {
			why(ret_why, "a DHCPv6 vendor sub-option header runs past the end");
			return -EINVAL;
		}
		l = (size_t)v[i + 2] << 8 | v[i + 3];
		if (i + 4 + l > len) {
			why(ret_why, "a DHCPv6 vendor sub-option runs past the end");
			return -EINVAL;
		}
		i += 4 + l;
	}
	if (enterprise && en != enterprise) {
		why(ret_why, "the DHCPv6 vendor option is another vendor's");
		return -ENOENT;
	}
	for (i = 4; i < len;) {
		unsigned code = (unsigned)v[i] << 8 | v[i + 1];
		size_t l = (size_t)v[i + 2] << 8 | v[i + 3];

		if (code == sub) {
			*ret = v + i + 4;
			*ret_len = l;
			if (ret_enterprise)
				*ret_enterprise = en;
			return 0;
		}
		i += 4 + l;
	}
	why(ret_why, "the DHCPv6 vendor option has no such sub-option");
	return -ENOENT;
}

static const char *const source_names[DISC_SOURCE_MAX] = {
	[DISC_MANUAL] = "manual configuration", [DISC_STATIC] = "static server",
	[DISC_PNP] = "SIP PnP (224.0.1.75)",	[DISC_DHCP_66] = "DHCP option 66",
	[DISC_DHCP_150] = "DHCP option 150",	[DISC_DHCP_159] = "DHCP option 159",
	[DISC_DHCP_160] = "DHCP option 160",	[DISC_DHCPV6] = "DHCPv6 vendor option sub-option 1",
	[DISC_REDIRECT] = "redirection server", [DISC_PROFILE_RULE] = "Profile Rule",
};

const char *discovery_source_name(enum discovery_source s)
{
	if ((unsigned)s >= DISC_SOURCE_MAX)
		return "unknown source";
	return source_names[s];
}

/* A plan being built. The first malformed option is remembered for the reason given when
 * nothing else is found. */
struct plan {
	const struct discovery_input *in;
	struct discovery_candidate *c;
	size_t n, cap;
	const char *bad; /* why a present option was not usable */
	int err;	 /* -ENOMEM once an allocation failed */
};

static bool set(const char *s)
{
	return s && *s;
}

/* Adds a candidate; server and detail are taken (may be NULL). */
static void add(struct plan *p, enum discovery_source source, char *server, char *detail)
{
	if (p->err)
		goto fail;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct discovery_candidate *c = realloc(p->c, cap * sizeof(*c));

		if (!c) {
			p->err = -ENOMEM;
			goto fail;
		}
		p->c = c;
		p->cap = cap;
	}
	p->c[p->n++] = (struct discovery_candidate){ source, server, detail };
	return;
fail:
	free(server);
	free(detail);
}

static char *dup_or_fail(struct plan *p, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		p->err = -ENOMEM;
	return d;
}

static void add_string(struct plan *p, enum discovery_source source, const char *server,
		       const char *detail)
{
	char *s = dup_or_fail(p, server), *d = dup_or_fail(p, detail);

	add(p, source, s, d);
}

/* The text of a DHCP option received, used or not; NULL if absent or malformed
 * (remembered). */
static char *option_received(struct plan *p, bool v6, unsigned code)
{
	static const char *const malformed[] = { "DHCP option 66 is not usable text",
						 "DHCP option 67 is not usable text",
						 "DHCP option 159 is not usable text",
						 "DHCP option 160 is not usable text" };
	const uint8_t *v;
	size_t len;
	char *s = NULL;
	int r;

	if (!p->in->dhcp)
		return NULL;
	v = dhcp_options_get(p->in->dhcp, v6, code, &len);
	if (!v)
		return NULL;
	r = dhcp_decode_text(v, len, &s, NULL);
	if (r == -ENOMEM)
		p->err = r;
	if (r < 0 && !p->bad)
		p->bad = malformed[code == 66 ? 0 : code == 67 ? 1 : code == 159 ? 2 : 3];
	return r < 0 ? NULL : s;
}

/* The text of a received DHCP option when DHCP is used; NULL if absent or malformed. */
static char *option_text(struct plan *p, bool v6, unsigned code)
{
	return p->in->no_dhcp ? NULL : option_received(p, v6, code);
}

static void add_option(struct plan *p, enum discovery_source source, unsigned code)
{
	char *s = option_text(p, false, code);

	if (s)
		add(p, source, s, NULL);
}

static void add_150(struct plan *p)
{
	char addr[DHCP_OPTION_MAX_LEN / 4][DHCP_IPV4_STRLEN];
	const uint8_t *v;
	size_t len, n;

	if (p->in->no_dhcp || !p->in->dhcp)
		return;
	v = dhcp_options_get(p->in->dhcp, false, 150, &len);
	if (!v)
		return;
	if (dhcp_decode_ipv4_list(v, len, addr, sizeof(addr) / sizeof(addr[0]), &n, NULL) < 0) {
		if (!p->bad)
			p->bad = "DHCP option 150 is not a list of IPv4 addresses";
		return;
	}
	for (size_t i = 0; i < n; i++)
		add_string(p, DISC_DHCP_150, addr[i], NULL);
}

static void add_dhcpv6(struct plan *p)
{
	const uint8_t *v, *url;
	size_t len, ulen;
	char *s;
	int r;

	if (p->in->no_dhcp || !p->in->dhcp)
		return;
	v = dhcp_options_get(p->in->dhcp, true, 17, &len);
	if (!v)
		return;
	r = dhcp_decode_vendor_opts(v, len, p->in->dhcpv6_enterprise, 1, &url, &ulen, NULL, NULL);
	if (r == 0)
		r = dhcp_decode_text(url, ulen, &s, NULL);
	if (r == -ENOMEM)
		p->err = r;
	if (r < 0) {
		if (!p->bad)
			p->bad = r == -ENOENT ? "the DHCPv6 vendor option has no sub-option 1 for "
						"this device"
					      : "the DHCPv6 vendor option is malformed";
		return;
	}
	add(p, DISC_DHCPV6, s, NULL);
}

/*
 * Seed 000 (Algo), 4.1: "The priority order from highest to lowest is: 1. Option 66
 * 2. Option 160 3. Option 150"; "A configuration option is also provided to manually specify
 * which DHCP Option number to use"; 4.2 / section 2: Server Method "DHCP ... (default), or a
 * static address" -> static alone when the method is Static (or DHCP is off).
 */
static int plan_algo(struct plan *p, const char **ret_why)
{
	const struct discovery_input *in = p->in;

	if (in->static_override || in->no_dhcp) {
		if (!set(in->static_server)) {
			why(ret_why, in->static_override
					     ? "Server Method is Static but no static server is set"
					     : "DHCP is off and no static server is set");
			return -ENOENT;
		}
		add_string(p, DISC_STATIC, in->static_server, NULL);
		return 0;
	}
	switch (in->dhcp_option) {
	case 0:
		add_option(p, DISC_DHCP_66, 66);
		add_option(p, DISC_DHCP_160, 160);
		add_150(p);
		break;
	case 66: add_option(p, DISC_DHCP_66, 66); break;
	case 160: add_option(p, DISC_DHCP_160, 160); break;
	case 150: add_150(p); break;
	default: why(ret_why, "the DHCP option to use must be 66, 160 or 150"); return -EINVAL;
	}
	if (p->n == 0 && !p->err)
		why(ret_why, p->bad ? p->bad
			     : in->dhcp_option
				     ? "the DHCP option chosen manually was not received"
				     : "no DHCP option 66, 160 or 150 received (static server: "
				       "Server Method is DHCP)");
	return 0;
}

/* Seed 002 (FIP), "Obtaining the Provisioning Server Address": Plug and Play (PnP) Server,
 * DHCP Option66, Static Provision, in that order; PnP and option 66 are on by default. */
static int plan_fip(struct plan *p, const char **ret_why)
{
	const struct discovery_input *in = p->in;

	if (in->static_override) {
		if (!set(in->static_server)) {
			why(ret_why, "static provisioning is forced but no URL is set");
			return -ENOENT;
		}
		add_string(p, DISC_STATIC, in->static_server, NULL);
		return 0;
	}
	if (!in->no_pnp)
		add(p, DISC_PNP, NULL, NULL);
	add_option(p, DISC_DHCP_66, 66);
	if (set(in->static_server))
		add_string(p, DISC_STATIC, in->static_server, NULL);
	if (p->n == 0 && !p->err)
		why(ret_why,
		    p->bad ? p->bad
			   : "PnP is off, no DHCP option 66 received and no static URL set");
	return 0;
}

/*
 * Seed 001 (SPA style): "Option 66: If or not enable DHCP option 66 to override server. If
 * enable, the parameter 'Profile Rule' has no effect" (default Yes); "Option 66 cannot
 * simultaneously work with Profile Rule ... only one of them works at one time", and the
 * Config File Name is "used for In-house provision mode only" (with option 66).
 */
/* Whether a Profile Rule (raw: [--key K], macros) names its server; true when in doubt. */
static bool rule_names_server(const char *raw)
{
	struct profile_rule rule = { 0 };
	struct prov_url u = { .scheme = "" };
	bool named = true;

	if (profile_rule_parse(raw, &rule, NULL) == 0 &&
	    prov_url_parse(rule.url, "tftp", &u, NULL) == 0)
		named = u.host[0] != '\0';
	prov_url_done(&u);
	profile_rule_done(&rule);
	return named;
}

static int plan_spa(struct plan *p, const char **ret_why)
{
	const struct discovery_input *in = p->in;

	if (in->static_override) {
		if (!set(in->static_server)) {
			why(ret_why, "the static server is forced but not set");
			return -ENOENT;
		}
		add_string(p, DISC_STATIC, in->static_server, NULL);
		return 0;
	}
	if (!in->no_dhcp) {
		char *s = option_text(p, false, 66);

		if (s) {
			add(p, DISC_DHCP_66, s,
			    set(in->config_file_name) ? dup_or_fail(p, in->config_file_name)
						      : NULL);
		} else if (!p->err) {
			why(ret_why, p->bad ? p->bad
					    : "Option 66 is enabled but no DHCP option 66 was "
					      "received (the Profile Rule has no effect then)");
		}
		return 0;
	}
	if (set(in->profile_rule)) {
		/* "[scheme://][server IP or domain[:port]]/file path": a rule without a server
		 * uses the one the device has, option 66's, received even when not obeyed */
		char *server =
			rule_names_server(in->profile_rule) ? NULL : option_received(p, false, 66);

		add(p, DISC_PROFILE_RULE, dup_or_fail(p, in->profile_rule), server);
	} else
		why(ret_why, "Option 66 is disabled and the Profile Rule is empty");
	return 0;
}

/* Seed 004 (AudioCodes) 2.1.2: "By default, the IP phone uses Option 160 which has highest
 * priority. If absent, the IP phone uses Options 66/67 for TFTP" (66: the TFTP server, 67:
 * the file name). */
static int plan_audiocodes(struct plan *p, const char **ret_why)
{
	const struct discovery_input *in = p->in;
	char *s;

	if (in->static_override) {
		if (!set(in->static_server)) {
			why(ret_why, "the static server is forced but not set");
			return -ENOENT;
		}
		add_string(p, DISC_STATIC, in->static_server, NULL);
		return 0;
	}
	add_option(p, DISC_DHCP_160, 160); /* whole: url.c splits its <fw>;<cfg> forms */
	s = option_text(p, false, 66);
	if (s)
		add(p, DISC_DHCP_66, s, option_text(p, false, 67));
	if (p->n == 0 && !p->err)
		why(ret_why, p->bad ? p->bad : "no DHCP option 160 or 66 received");
	return 0;
}

/*
 * Seed 003 (Panasonic) 2.2 "Priority of the different methods": IPv4 only: manual, SIP
 * PnP, DHCP option 160, 159, 66, redirection server; IPv6 only: manual, DHCPv6 sub-option 1;
 * both: manual, SIP PnP, 160, 159, 66, DHCPv6 sub-option 1, redirection server.
 */
static int plan_panasonic(struct plan *p, const char **ret_why)
{
	const struct discovery_input *in = p->in;
	bool v4 = in->ip_mode != DISC_IP_V6;

	if (in->ip_mode != DISC_IP_V4 && in->ip_mode != DISC_IP_V6 && in->ip_mode != DISC_IP_DUAL) {
		why(ret_why, "unknown IP mode");
		return -EINVAL;
	}
	if (set(in->static_server))
		add_string(p, DISC_MANUAL, in->static_server, NULL);
	if (in->static_override) {
		if (p->n == 0 && !p->err) {
			why(ret_why, "manual configuration is forced but no URL is set");
			return -ENOENT;
		}
		return 0;
	}
	if (v4) {
		if (!in->no_pnp)
			add(p, DISC_PNP, NULL, NULL);
		add_option(p, DISC_DHCP_160, 160);
		add_option(p, DISC_DHCP_159, 159);
		add_option(p, DISC_DHCP_66, 66);
	}
	if (in->ip_mode != DISC_IP_V4)
		add_dhcpv6(p);
	if (v4 && !in->no_redirect)
		add(p, DISC_REDIRECT, NULL, NULL);
	if (p->n == 0 && !p->err)
		why(ret_why, p->bad ? p->bad
			     : v4 ? "no manual URL, no DHCP option 160, 159 or 66, and SIP PnP and "
				    "the redirection server are off"
				  : "no manual URL and no DHCPv6 vendor sub-option 1 (IPv6 only)");
	return 0;
}

static const struct {
	const char *name;
	int (*plan)(struct plan *p, const char **ret_why);
} profiles[] = {
	{ "algo", plan_algo },
	{ "fip", plan_fip },
	{ "spa", plan_spa },
	{ "audiocodes", plan_audiocodes },
	{ "panasonic", plan_panasonic },
};

int discovery_plan(const struct discovery_input *in, struct discovery_candidate **ret,
		   size_t *ret_n, const char **ret_why)
{
	struct plan p = { .in = in };
	const char *reason = "no source of a provisioning server";
	int r = -EINVAL;
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (in->profile && strcmp(in->profile, profiles[i].name) == 0)
			break;
	if (i == sizeof(profiles) / sizeof(profiles[0])) {
		why(ret_why, "unknown profile");
		return -EINVAL;
	}
	r = profiles[i].plan(&p, &reason);
	if (r == 0 && p.err)
		r = p.err;
	if (r == 0 && p.n == 0)
		r = -ENOENT;
	if (r < 0) {
		why(ret_why, r == -ENOMEM ? "out of memory" : reason);
		discovery_plan_free(p.c, p.n);
		return r;
	}
	*ret = p.c;
	*ret_n = p.n;
	return 0;
}

void discovery_plan_free(struct discovery_candidate *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].server);
		free(c[i].detail);
	}
	free(c);
}

/*
 * No profile moves on after its server's downloads fail; a source that gives nothing
 * passes to the next. Seed 000: "The highest priority Option returned in the DHCP response
 * is the only one that will be used even if no provisioning files are found on this
 * server." Seed 001: Option 66 and the Profile Rule: "only one of them works at one time".
 * Seed 002: "After obtaining the provisioning server address in one of the ways introduced
 * above, the phone will request to download". Seed 004: Option 160, "If absent, the IP
 * phone uses Options 66/67" (absent, not failing). Seed 003 gives an "order of priority"
 * and says nothing of failures, so the first method that gives a URL is the one used.
 */
bool discovery_fallthrough(const char *profile)
{
	(void)profile;
	return false;
}
