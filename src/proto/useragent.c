// SPDX-License-Identifier: MIT
/*
 * The device's MAC from a User-Agent (see useragent.h): the string is split into
 * tokens once, then each vendor's form is tried in turn; each knows the one place its
 * MAC stands.
 */
#include "proto/useragent.h"

#include <string.h>
#include <strings.h>

/* No phone sends more; anything longer is not one of the forms. */
#define MAX_TOKENS 32

struct token {
	const char *p;
	size_t n;
};

struct ua {
	const char *p; /* the whole User-Agent */
	size_t len;
	struct token t[MAX_TOKENS];
	size_t n;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

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

/* Whether t is exactly lit, in any case. */
static bool tok_is(const struct token *t, const char *lit)
{
	return t->n == strlen(lit) && strncasecmp(t->p, lit, t->n) == 0;
}

static bool has_prefix(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && strncasecmp(p, lit, l) == 0;
}

static bool contains(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	for (size_t i = 0; i + l <= n; i++)
		if (strncasecmp(p + i, lit, l) == 0)
			return true;
	return false;
}

/*
 * A MAC written as 12 hex digits (sep 0) or as six pairs separated by sep, exactly n
 * bytes, into the canonical form; false when it is not one, or names no device (all
 * zeros, or multicast, which includes broadcast).
 */
static bool take_mac(const char *p, size_t n, char sep, char out[MAC_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char mac[MAC_LEN + 1];
	size_t k = 0;
	bool zero = true;

	if (n != (sep ? 17u : 12u))
		return false;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (sep && i % 3 == 2) {
			if (p[i] != sep)
				return false;
			continue;
		}
		v = hex_value(p[i]);
		if (v < 0)
			return false;
		zero = zero && v == 0;
		mac[k++] = hex[v];
	}
	mac[k] = '\0';
	if (zero || (hex_value(mac[1]) & 1)) /* the I/G bit of the first octet */
		return false;
	memcpy(out, mac, sizeof(mac));
	return true;
}

/* "28.72.0.1", "V0.6.24": an optional V, then digits with at least one dot. */
static bool is_version(const struct token *t)
{
	size_t i = 0, dots = 0;

	if (t->n > 0 && (t->p[0] == 'V' || t->p[0] == 'v'))
		i = 1;
	if (i == t->n)
		return false;
	for (; i < t->n; i++) {
		char c = t->p[i];

		if (c == '.') {
			/* no leading, trailing or doubled dots */
			if (i == 0 || i + 1 == t->n || t->p[i + 1] == '.' || t->p[i - 1] == 'V' ||
			    t->p[i - 1] == 'v')
				return false;
			dots++;
		} else if (c < '0' || c > '9') {
			return false;
		}
	}
	return dots > 0;
}

/*
 * "VENDOR MODEL... VERSION MAC": the first token is the vendor's name, the last but one
 * a version, the last the MAC (with colons, or bare when bare is allowed); between
 * min and max tokens in all.
 */
static bool version_then_mac(const struct ua *u, const char *vendor, size_t min, size_t max,
			     bool bare, char mac[MAC_LEN + 1])
{
	const struct token *last = &u->t[u->n - 1];

	if (u->n < min || u->n > max || !tok_is(&u->t[0], vendor) || !is_version(&u->t[u->n - 2]))
		return false;
	return take_mac(last->p, last->n, ':', mac) || (bare && take_mac(last->p, last->n, 0, mac));
}

static bool yealink(const struct ua *u, char mac[MAC_LEN + 1])
{
	/* the DECT base and the VP530 video phone may leave out the vendor's name */
	if (u->n == 3 &&
	    (tok_is(&u->t[0], "W52P") || tok_is(&u->t[0], "VP530") || tok_is(&u->t[0], "VP530P"))) {
		const struct token *last = &u->t[2];

		return is_version(&u->t[1]) && take_mac(last->p, last->n, ':', mac);
	}
	return version_then_mac(u, "yealink", 4, 5, true, mac);
}

static bool fanvil(const struct ua *u, char mac[MAC_LEN + 1])
{
	const struct token *last = &u->t[u->n - 1];

	return u->n == 4 && tok_is(&u->t[0], "fanvil") && is_version(&u->t[2]) &&
	       take_mac(last->p, last->n, 0, mac);
}

static bool flyingvoice(const struct ua *u, char mac[MAC_LEN + 1])
{
	return version_then_mac(u, "flyingvoice", 4, 4, false, mac);
}

static bool htek(const struct ua *u, char mac[MAC_LEN + 1])
{
	return version_then_mac(u, "htek", 4, 4, false, mac);
}

/* FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 (SN:0004f2123456) Type/Application */
static bool polycom(const struct ua *u, char mac[MAC_LEN + 1])
{
	const struct token *sn;

	if (u->n < 3 || !tok_is(&u->t[0], "FileTransport") ||
	    !has_prefix(u->t[1].p, u->t[1].n, "Polycom") || !contains(u->t[1].p, u->t[1].n, "-UA/"))
		return false;
	sn = &u->t[2];
	return sn->n == 4 + 12 + 1 && has_prefix(sn->p, sn->n, "(SN:") && sn->p[sn->n - 1] == ')' &&
	       take_mac(sn->p + 4, 12, 0, mac);
}

/* Cisco/SPA504G-7.4.9c (001565000000)(CCQ162306EA): the MAC, then the serial number. */
static bool cisco(const struct ua *u, char mac[MAC_LEN + 1])
{
	const struct token *g;

	if (u->n != 2 || !has_prefix(u->t[0].p, u->t[0].n, "Cisco/"))
		return false;
	g = &u->t[1];
	/* "(" 12 ")(" serial ")" with a serial of one character at least */
	if (g->n < 1 + 12 + 2 + 1 + 1 || g->p[0] != '(' || g->p[13] != ')' || g->p[14] != '(' ||
	    g->p[g->n - 1] != ')')
		return false;
	for (size_t i = 15; i + 1 < g->n; i++)
		if (!((g->p[i] >= '0' && g->p[i] <= '9') || (g->p[i] >= 'A' && g->p[i] <= 'Z') ||
		      (g->p[i] >= 'a' && g->p[i] <= 'z')))
			return false;
	return take_mac(g->p + 1, 12, 0, mac);
}

/* Grandstream ... DevId 000b828aa872 */
static bool grandstream(const struct ua *u, char mac[MAC_LEN + 1])
{
	if (u->n < 4 || !tok_is(&u->t[0], "Grandstream"))
		return false;
	for (size_t i = 2; i + 1 < u->n; i++)
		if (tok_is(&u->t[i], "DevId"))
			return take_mac(u->t[i + 1].p, u->t[i + 1].n, 0, mac);
	return false;
}

/* Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 BUILD [(DATE)] 000413922D24 ...) */
static bool snom(const struct ua *u, char mac[MAC_LEN + 1])
{
	const struct token *model;
	int depth = 1; /* inside "(compatible;" */

	if (u->n < 5 || !has_prefix(u->t[0].p, u->t[0].n, "Mozilla/") ||
	    !tok_is(&u->t[1], "(compatible;"))
		return false;
	model = &u->t[2];
	if (!has_prefix(model->p, model->n, "snom") || model->n < 8 ||
	    strncasecmp(model->p + model->n - 4, "-SIP", 4) != 0 || !is_version(&u->t[3]))
		return false;
	for (size_t i = 4; i < u->n && depth > 0; i++) {
		const struct token *t = &u->t[i];

		/* the MAC may be the last word of the group: "000413741767)" */
		size_t n = t->n > 0 && t->p[t->n - 1] == ')' ? t->n - 1 : t->n;

		if (depth == 1 && take_mac(t->p, n, 0, mac))
			return true;
		for (size_t k = 0; k < t->n; k++)
			depth += t->p[k] == '(' ? 1 : t->p[k] == ')' ? -1 : 0;
	}
	return false;
}

/* Panasonic_KX-UT113/01.133 (0080f0c8c381) */
static bool panasonic(const struct ua *u, char mac[MAC_LEN + 1])
{
	const struct token *g = &u->t[1];

	if (u->n != 2 || !has_prefix(u->t[0].p, u->t[0].n, "Panasonic_") ||
	    !memchr(u->t[0].p, '/', u->t[0].n))
		return false;
	return g->n == 14 && g->p[0] == '(' && g->p[13] == ')' && take_mac(g->p + 1, 12, 0, mac);
}

/*
 * AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC), or the gateways' default
 * Mozilla/4.0 (compatible; AudioCodes; NAME;VER;MAC;CONF) where NAME may hold spaces.
 */
static bool audiocodes(const struct ua *u, char mac[MAC_LEN + 1])
{
	static const char gw[] = "Mozilla/4.0 (compatible; AudioCodes; ";

	if (u->n == 3 && has_prefix(u->t[0].p, u->t[0].n, "AUDC-IPPhone") &&
	    memchr(u->t[0].p, '/', u->t[0].n)) {
		const struct token *model = &u->t[1], *m = &u->t[2];

		return model->n >= 3 && model->p[0] == '(' && model->p[model->n - 1] == ';' &&
		       m->n == 13 && m->p[12] == ')' && take_mac(m->p, 12, 0, mac);
	}
	if (has_prefix(u->p, u->len, gw) && u->p[u->len - 1] == ')') {
		const char *p = u->p + strlen(gw), *end = u->p + u->len - 1, *f[4];
		size_t nf = 0;

		/* exactly four ';'-separated fields: NAME, VER, MAC, CONF */
		f[nf++] = p;
		for (; p < end; p++) {
			if (*p != ';')
				continue;
			if (nf == 4)
				return false;
			f[nf++] = p + 1;
		}
		return nf == 4 && take_mac(f[2], (size_t)(f[3] - 1 - f[2]), 0, mac);
	}
	return false;
}

/* Gigaset N870 IP PRO/83.V2.43.0+build.5f0a106;7C2F80123456[;Handset=50] */
static bool gigaset(const struct ua *u, char mac[MAC_LEN + 1])
{
	const struct token *last = &u->t[u->n - 1];
	const char *semi, *next;

	if (u->n < 3 || !tok_is(&u->t[0], "Gigaset"))
		return false;
	semi = memchr(last->p, ';', last->n);
	if (!semi || !memchr(last->p, '/', (size_t)(semi - last->p)))
		return false;
	semi++;
	next = memchr(semi, ';', (size_t)(last->p + last->n - semi));
	return take_mac(semi, (size_t)((next ? next : last->p + last->n) - semi), 0, mac);
}

/* Aastra6731i MAC:00-08-5D-29-4C-6B V:3.3.1.4365-SIP, and the same from Mitel */
static bool mac_colon_dashes(const struct ua *u, const char *vendor, char mac[MAC_LEN + 1])
{
	const struct token *m = &u->t[1];

	return u->n == 3 && has_prefix(u->t[0].p, u->t[0].n, vendor) && m->n == 4 + 17 &&
	       has_prefix(m->p, m->n, "MAC:") && has_prefix(u->t[2].p, u->t[2].n, "V:") &&
	       take_mac(m->p + 4, 17, '-', mac);
}

static bool aastra(const struct ua *u, char mac[MAC_LEN + 1])
{
	return mac_colon_dashes(u, "Aastra", mac);
}

static bool mitel(const struct ua *u, char mac[MAC_LEN + 1])
{
	return mac_colon_dashes(u, "Mitel", mac);
}

static const struct {
	const char *vendor;
	bool (*match)(const struct ua *u, char mac[MAC_LEN + 1]);
} forms[] = {
	{ "yealink", yealink },
	{ "polycom", polycom },
	{ "cisco", cisco },
	{ "grandstream", grandstream },
	{ "snom", snom },
	{ "fanvil", fanvil },
	{ "flyingvoice", flyingvoice },
	{ "htek", htek },
	{ "panasonic", panasonic },
	{ "audiocodes", audiocodes },
	{ "gigaset", gigaset },
	{ "aastra", aastra },
	{ "mitel", mitel },
};

bool ua_device(const char *ua, size_t len, char mac[MAC_LEN + 1], const char **ret_vendor)
{
	struct ua u = { .p = ua, .len = len };
	char found[MAC_LEN + 1];

	if (!ua)
		return false;
	for (size_t i = 0; i < len;) {
		size_t start;

		if (is_space(ua[i])) {
			i++;
			continue;
		}
		if (ua[i] == '\0')
			return false;
		if (u.n == MAX_TOKENS)
			return false;
		for (start = i; i < len && !is_space(ua[i]) && ua[i] != '\0'; i++)
			;
		u.t[u.n].p = ua + start;
		u.t[u.n].n = i - start;
		u.n++;
	}
	if (u.n < 2)
		return false;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (forms[i].match(&u, found)) {
			memcpy(mac, found, sizeof(found));
			if (ret_vendor)
				*ret_vendor = forms[i].vendor;
			return true;
		}
	}
	return false;
}
