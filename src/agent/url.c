// SPDX-License-Identifier: MIT
/*
 * Provisioning URLs: the lenient parser that takes what administrators type into DHCP
 * options and device web pages (no scheme, unencoded passwords, bare IPv6), the canonical
 * formatter, RFC 3986 reference resolution, SPA profile rules and AudioCodes option 160.
 * Every function works on strings in memory and returns what it allocated to the caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/url.h"
#include "core/str.h"

#define HOST_MAX 255

static const char *const schemes[] = { "tftp", "ftp", "http", "https" };

/* A growing string, capped at PROV_URL_MAX * 4 (a fully percent-encoded URL fits). */
struct sbuf {
	char *data;
	size_t len, cap;
	int err;
};

#define SBUF_MAX (PROV_URL_MAX * 4)

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n > SBUF_MAX - b->len) {
		b->err = -ENAMETOOLONG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* The string built, or NULL (and nothing left allocated) on error. */
static char *sb_finish(struct sbuf *b)
{
	if (!b->err && !b->data)
		sb_add(b, "", 0);
	if (b->err) {
		free(b->data);
		return NULL;
	}
	return b->data;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_unreserved(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Trims blanks: [*b, *e) */
static void trim(const char **b, const char **e)
{
	while (*b < *e && is_blank(**b))
		(*b)++;
	while (*e > *b && is_blank((*e)[-1]))
		(*e)--;
}

/* The known scheme matching [s, s+n) case-insensitively, or NULL. */
static const char *known_scheme(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t k = strlen(schemes[i]), j;

		if (k != n)
			continue;
		for (j = 0; j < n && lower(s[j]) == schemes[i][j]; j++)
			;
		if (j == n)
			return schemes[i];
	}
	return NULL;
}

/* RFC 3986 scheme syntax: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool is_scheme(const char *s, size_t n)
{
	if (n == 0 || !is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* Percent-decodes [s, s+n) into a new string. */
static int decode(const char *s, size_t n, char **ret, const char **ret_why, const char *bad,
		  const char *nul)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
		lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			free(out);
			*ret_why = bad;
			return -EINVAL;
		}
		if (hi == 0 && lo == 0) {
			free(out);
			*ret_why = nul;
			return -EINVAL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	*ret = out;
	return 0;
}

static bool is_ipv6(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, addr) == 1;
}

/* "fe80::1", "fe80::1%25eth0" or "fe80::1%eth0" (brackets removed) into *ret as
 * "fe80::1" or "fe80::1%eth0". */
static int parse_ipv6(const char *s, size_t n, char **ret, const char **why)
{
	const char *pct = memchr(s, '%', n);
	size_t alen = pct ? (size_t)(pct - s) : n;
	const char *zone = NULL;
	size_t zlen = 0;
	char *h;

	if (!is_ipv6(s, alen)) {
		*why = "not a valid IPv6 address between [ ]";
		return -EINVAL;
	}
	if (pct) {
		zone = pct + 1;
		zlen = n - alen - 1;
		if (zlen >= 2 && zone[0] == '2' && zone[1] == '5') {
			zone += 2;
			zlen -= 2;
		}
		if (zlen == 0) {
			*why = "empty IPv6 zone after '%'";
			return -EINVAL;
		}
		for (size_t i = 0; i < zlen; i++)
			if (!is_unreserved(zone[i])) {
				*why = "bad character in the IPv6 zone";
				return -EINVAL;
			}
	}
	h = malloc(n + 1);
	if (!h)
		return -ENOMEM;
	memcpy(h, s, alen);
	if (pct) {
		h[alen] = '%';
		memcpy(h + alen + 1, zone, zlen);
		h[alen + 1 + zlen] = '\0';
	} else {
		h[alen] = '\0';
	}
	*ret = h;
	return 0;
}

static int parse_port(const char *s, size_t n, unsigned *ret, const char **why)
{
	uint64_t v;

	if (n == 0) { /* "host:" is allowed by RFC 3986: the default port */
		*ret = 0;
		return 0;
	}
	if (str_to_u64_n(s, n, 1, 65535, &v) < 0) {
		*why = "the port is not a number from 1 to 65535";
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

/* host[:port] or a bare IPv6 address (bracketed ones are read by the caller). */
static int parse_hostport(const char *s, size_t n, struct prov_url *u, const char **why)
{
	const char *colon;
	size_t hlen;

	if (memchr(s, ':', n) && is_ipv6(s, n)) {
		u->host = str_dup_n(s, n);
		return u->host ? 0 : -ENOMEM;
	}
	colon = memchr(s, ':', n);
	hlen = colon ? (size_t)(colon - s) : n;
	if (hlen == 0) {
		*why = "no server name or address";
		return -EINVAL;
	}
	if (hlen > HOST_MAX) {
		*why = "server name longer than 255 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < hlen; i++)
		if (!is_unreserved(s[i])) {
			*why = s[i] == ' ' ? "space in the server name"
					   : "bad character in the server name";
			return -EINVAL;
		}
	if (colon) {
		int r = parse_port(colon + 1, n - hlen - 1, &u->port, why);

		if (r < 0)
			return r;
	}
	u->host = str_dup_n(s, hlen);
	return u->host ? 0 : -ENOMEM;
}

int prov_url_parse(const char *s, const char *default_scheme, struct prov_url *ret,
		   const char **ret_why)
{
	struct prov_url u = { .scheme = "" };
	const char *why = NULL, *b = s, *e = s + strlen(s), *sep, *auth, *auth_end, *at;
	const char *scheme;
	int r = -EINVAL;

	trim(&b, &e);
	if ((size_t)(e - b) > PROV_URL_MAX) {
		why = "URL longer than 4096 bytes";
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (b == e) {
		why = "empty URL";
		goto fail;
	}
	for (const char *p = b; p < e; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			why = "control character in the URL";
			goto fail;
		}

	sep = NULL;
	for (const char *p = b; p + 3 <= e; p++)
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			sep = p;
			break;
		}
	if (sep && is_scheme(b, (size_t)(sep - b))) {
		scheme = known_scheme(b, (size_t)(sep - b));
		if (!scheme) {
			why = "unsupported protocol (tftp, ftp, http or https)";
			r = -EPROTONOSUPPORT;
			goto fail;
		}
		auth = sep + 3;
	} else {
		if (!default_scheme) {
			why = "no protocol (tftp://, ftp://, http:// or https://)";
			goto fail;
		}
		scheme = known_scheme(default_scheme, strlen(default_scheme));
		if (!scheme) {
			why = "unsupported default protocol (tftp, ftp, http or https)";
			r = -EPROTONOSUPPORT;
			goto fail;
		}
		auth = b;
	}
	memcpy(u.scheme, scheme, strlen(scheme) + 1);

	/* the authority runs to the first '/': a password may hold '?' or '#' unencoded */
	auth_end = memchr(auth, '/', (size_t)(e - auth));
	if (!auth_end)
		auth_end = e;
	u.path = str_dup_n(auth_end, (size_t)(e - auth_end));
	if (!u.path) {
		r = -ENOMEM;
		goto fail;
	}
	if (auth == auth_end) {
		if (auth_end == e) {
			why = "no server name or address";
			goto fail;
		}
		/* only a path: the caller supplies the server */
		u.host = str_dup_n("", 0);
		if (!u.host) {
			r = -ENOMEM;
			goto fail;
		}
		*ret = u;
		return 0;
	}

	at = NULL;
	for (const char *p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);

		r = decode(auth, ulen, &u.user, &why, "bad %-escape in the user name",
			   "%00 in the user name");
		if (r < 0)
			goto fail;
		if (colon) {
			r = decode(colon + 1, (size_t)(at - colon - 1), &u.password, &why,
				   "bad %-escape in the password", "%00 in the password");
			if (r < 0)
				goto fail;
		}
		auth = at + 1;
	}
	if (auth == auth_end) {
		why = "no server name or address";
		r = -EINVAL;
		goto fail;
	}
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(auth_end - auth));

		if (!close) {
			why = "'[' without ']' around the IPv6 address";
			r = -EINVAL;
			goto fail;
		}
		r = parse_ipv6(auth + 1, (size_t)(close - auth - 1), &u.host, &why);
		if (r < 0)
			goto fail;
		if (close + 1 < auth_end) {
			if (close[1] != ':') {
				why = "text after the IPv6 address";
				r = -EINVAL;
				goto fail;
			}
			r = parse_port(close + 2, (size_t)(auth_end - close - 2), &u.port, &why);
			if (r < 0)
				goto fail;
		}
	} else {
		r = parse_hostport(auth, (size_t)(auth_end - auth), &u, &why);
		if (r < 0)
			goto fail;
	}
	*ret = u;
	return 0;

fail:
	prov_url_done(&u);
	if (ret_why && why)
		*ret_why = why;
	return r;
}

static void encode_byte(struct sbuf *b, char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3] = { '%', hex[(unsigned char)c >> 4], hex[(unsigned char)c & 15] };

	sb_add(b, esc, 3);
}

static void encode(struct sbuf *b, const char *s, bool colon_ok)
{
	for (; *s; s++) {
		char c = *s;

		if (is_unreserved(c) || is_sub_delim(c) || (colon_ok && c == ':'))
			sb_add(b, &c, 1);
		else
			encode_byte(b, c);
	}
}

/*
 * A path (with its query and fragment) as RFC 3986 allows it: what pchar, '/', '?' and
 * '#' allow stays, an escape already there stays, any other byte (a space, a lone '%',
 * '"', '<', '[', a byte of a UTF-8 name) is percent-encoded.
 */
static void encode_path(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;

		if (is_unreserved(c) || is_sub_delim(c) || (c != '\0' && strchr(":@/?#", c)) ||
		    (c == '%' && hex_value(s[1]) >= 0 && hex_value(s[2]) >= 0))
			sb_add(b, &c, 1);
		else
			encode_byte(b, c);
	}
}

char *prov_url_format(const struct prov_url *u)
{
	struct sbuf b = { 0 };
	const char *host = u->host ? u->host : "";

	sb_str(&b, u->scheme);
	sb_str(&b, "://");
	if (u->user) {
		encode(&b, u->user, false);
		if (u->password) {
			sb_add(&b, ":", 1);
			encode(&b, u->password, true);
		}
		sb_add(&b, "@", 1);
	}
	if (strchr(host, ':')) {
		const char *pct = strchr(host, '%');

		sb_add(&b, "[", 1);
		if (pct) {
			sb_add(&b, host, (size_t)(pct - host));
			sb_str(&b, "%25");
			sb_str(&b, pct + 1);
		} else {
			sb_str(&b, host);
		}
		sb_add(&b, "]", 1);
	} else {
		sb_str(&b, host);
	}
	if (u->port) {
		char port[8];
		int n = snprintf(port, sizeof(port), ":%u", u->port);

		sb_add(&b, port, (size_t)n);
	}
	if (u->path)
		encode_path(&b, u->path);
	return sb_finish(&b);
}

/* Whether s (blanks before it ignored) starts with "scheme://". */
static bool has_scheme(const char *s)
{
	const char *sep;

	while (is_blank(*s))
		s++;
	sep = strstr(s, "://");
	return sep && is_scheme(s, (size_t)(sep - s));
}

int prov_url_on_server(const char *url, const char *server, const char *default_scheme, char **ret,
		       const char **ret_why)
{
	struct prov_url u = { .scheme = "" }, srv = { .scheme = "" };
	const char *why = NULL;
	char *out = NULL;
	int r;

	r = prov_url_parse(url, default_scheme, &u, &why);
	if (r < 0)
		goto done;
	if (u.host[0]) {
		out = prov_url_format(&u);
		r = out ? 0 : -ENOMEM;
		goto done;
	}
	if (!server || !*server) {
		why = PROV_URL_NO_SERVER;
		r = -EINVAL;
		goto done;
	}
	r = prov_url_parse(server, default_scheme, &srv, &why);
	if (r < 0)
		goto done;
	if (!srv.host[0]) {
		why = PROV_URL_NO_SERVER;
		r = -EINVAL;
		goto done;
	}
	/* the server's host, port and login; the URL's path, and its scheme if it has one */
	free(srv.path);
	srv.path = u.path;
	u.path = NULL;
	if (has_scheme(url))
		memcpy(srv.scheme, u.scheme, sizeof(srv.scheme));
	out = prov_url_format(&srv);
	r = out ? 0 : -ENOMEM;
done:
	prov_url_done(&u);
	prov_url_done(&srv);
	if (r < 0) {
		if (ret_why && why)
			*ret_why = why;
		return r;
	}
	*ret = out;
	return 0;
}

void prov_url_done(struct prov_url *u)
{
	if (!u)
		return;
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->path);
	*u = (struct prov_url){ .scheme = "" };
}

char *prov_url_join(const char *base, const char *name)
{
	struct sbuf b = { 0 };
	size_t blen = strlen(base);

	while (*name == '/')
		name++;
	sb_add(&b, base, blen);
	if (*name) {
		if (blen == 0 || base[blen - 1] != '/')
			sb_add(&b, "/", 1);
		sb_str(&b, name);
	}
	return sb_finish(&b);
}

/* RFC 3986 appendix B: the five parts of a reference; a part absent has p NULL. */
struct part {
	const char *p;
	size_t n;
};

struct uri_ref {
	struct part scheme, authority, path, query, fragment;
};

static void split_ref(const char *s, struct uri_ref *r)
{
	const char *p = s, *q;

	memset(r, 0, sizeof(*r));
	q = s + strcspn(s, ":/?#");
	if (*q == ':' && is_scheme(s, (size_t)(q - s))) {
		r->scheme = (struct part){ s, (size_t)(q - s) };
		p = q + 1;
	}
	if (p[0] == '/' && p[1] == '/') {
		q = p + 2 + strcspn(p + 2, "/?#");
		r->authority = (struct part){ p + 2, (size_t)(q - p - 2) };
		p = q;
	}
	q = p + strcspn(p, "?#");
	r->path = (struct part){ p, (size_t)(q - p) };
	p = q;
	if (*p == '?') {
		q = p + 1 + strcspn(p + 1, "#");
		r->query = (struct part){ p + 1, (size_t)(q - p - 1) };
		p = q;
	}
	if (*p == '#')
		r->fragment = (struct part){ p + 1, strlen(p + 1) };
}

/* RFC 3986 5.2.4, on a NUL-terminated copy, in place (the output never outgrows it). */
static void remove_dot_segments(char *path)
{
	char *in = path, *out = path;

	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0'; /* "/" remains */
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			if (in[3] == '/')
				in += 3;
			else
				in[2] = '/', in += 2; /* "/.." -> "/" */
			while (out > path && *--out != '/')
				;
			*out = '\0';
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			in += strlen(in);
		} else {
			/* the first segment, with its leading '/' if any */
			size_t n = (*in == '/') + strcspn(in + (*in == '/'), "/");

			memmove(out, in, n);
			out += n;
			in += n;
		}
	}
	*out = '\0';
}

char *prov_url_resolve(const char *base, const char *ref)
{
	struct uri_ref b, r;
	struct part scheme, authority, query;
	struct sbuf path = { 0 }, out = { 0 };
	char *merged;

	if (strlen(base) > PROV_URL_MAX || strlen(ref) > PROV_URL_MAX)
		return NULL;
	split_ref(base, &b);
	split_ref(ref, &r);
	if (!b.scheme.p)
		return NULL;

	if (r.scheme.p) {
		scheme = r.scheme;
		authority = r.authority;
		sb_add(&path, r.path.p, r.path.n);
		query = r.query;
	} else {
		scheme = b.scheme;
		if (r.authority.p) {
			authority = r.authority;
			sb_add(&path, r.path.p, r.path.n);
			query = r.query;
		} else {
			authority = b.authority;
			if (r.path.n == 0) {
				sb_add(&path, b.path.p, b.path.n);
				query = r.query.p ? r.query : b.query;
			} else {
				if (r.path.p[0] != '/') {
					/* merge: the base path up to its last '/' */
					if (b.authority.p && b.path.n == 0) {
						sb_add(&path, "/", 1);
					} else {
						size_t k = b.path.n;

						while (k > 0 && b.path.p[k - 1] != '/')
							k--;
						sb_add(&path, b.path.p, k);
					}
				}
				sb_add(&path, r.path.p, r.path.n);
				query = r.query;
			}
		}
	}
	merged = sb_finish(&path);
	if (!merged)
		return NULL;
	remove_dot_segments(merged);

	sb_add(&out, scheme.p, scheme.n);
	sb_add(&out, ":", 1);
	if (authority.p) {
		sb_add(&out, "//", 2);
		sb_add(&out, authority.p, authority.n);
	}
	sb_str(&out, merged);
	if (query.p) {
		sb_add(&out, "?", 1);
		sb_add(&out, query.p, query.n);
	}
	if (r.fragment.p) {
		sb_add(&out, "#", 1);
		sb_add(&out, r.fragment.p, r.fragment.n);
	}
	free(merged);
	return sb_finish(&out);
}

int profile_rule_parse(const char *s, struct profile_rule *ret, const char **ret_why)
{
	const char *b = s, *e = s + strlen(s), *why = NULL;
	char *key = NULL, *url = NULL;
	int r = -EINVAL;

	trim(&b, &e);
	if ((size_t)(e - b) > PROV_URL_MAX) {
		why = "rule longer than 4096 bytes";
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (b < e && *b == '[') {
		const char *p = b + 1;

		if (!memchr(b, ']', (size_t)(e - b))) {
			why = "'[' without ']'";
			goto fail;
		}

		for (;;) {
			while (p < e && is_blank(*p))
				p++;
			if (p == e) {
				why = "'[' without ']'";
				goto fail;
			}
			if (*p == ']') {
				p++;
				break;
			}
			if ((size_t)(e - p) < 5 || strncmp(p, "--key", 5) != 0 ||
			    (p + 5 < e && !is_blank(p[5]) && p[5] != ']')) {
				why = "unknown option in [ ] (only --key)";
				goto fail;
			}
			if (key) {
				why = "--key given twice";
				goto fail;
			}
			p += 5;
			while (p < e && is_blank(*p))
				p++;
			if (p < e && (*p == '"' || *p == '\'')) {
				const char *close = memchr(p + 1, *p, (size_t)(e - p - 1));

				if (!close) {
					why = "unclosed quote in the key";
					goto fail;
				}
				key = str_dup_n(p + 1, (size_t)(close - p - 1));
				p = close + 1;
			} else {
				const char *k = p;

				while (p < e && !is_blank(*p) && *p != ']')
					p++;
				if (p == k) {
					why = "--key without a key";
					goto fail;
				}
				key = str_dup_n(k, (size_t)(p - k));
			}
			if (!key) {
				r = -ENOMEM;
				goto fail;
			}
			if (!key[0]) {
				why = "empty key";
				goto fail;
			}
		}
		b = p;
		while (b < e && is_blank(*b))
			b++;
	}
	if (b == e) {
		why = "no URL in the rule";
		goto fail;
	}
	url = str_dup_n(b, (size_t)(e - b));
	if (!url) {
		r = -ENOMEM;
		goto fail;
	}
	ret->key = key;
	ret->url = url;
	return 0;

fail:
	free(key);
	if (ret_why && why)
		*ret_why = why;
	return r;
}

void profile_rule_done(struct profile_rule *r)
{
	if (!r)
		return;
	free(r->key);
	free(r->url);
	r->key = NULL;
	r->url = NULL;
}

int ac_opt160_parse(const char *v, char **ret_server, char **ret_firmware, char **ret_config,
		    const char **ret_why)
{
	struct prov_url u = { .scheme = "" };
	const char *b = v, *e = v + strlen(v), *sep, *slash, *semi = NULL, *why = NULL;
	char *head = NULL, *server = NULL, *firmware = NULL, *config = NULL, *path;
	int r;

	trim(&b, &e);
	if ((size_t)(e - b) > PROV_URL_MAX) {
		why = "option 160 longer than 4096 bytes";
		r = -ENAMETOOLONG;
		goto fail;
	}
	/* the ';' that separates the configuration is searched for in the path only */
	sep = NULL;
	for (const char *p = b; p + 3 <= e; p++)
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			sep = p;
			break;
		}
	slash = sep ? memchr(sep + 3, '/', (size_t)(e - sep - 3)) : NULL;
	if (slash)
		semi = memchr(slash, ';', (size_t)(e - slash));
	head = str_dup_n(b, (size_t)((semi ? semi : e) - b));
	if (!head) {
		r = -ENOMEM;
		goto fail;
	}
	r = prov_url_parse(head, NULL, &u, &why);
	if (r < 0)
		goto fail;
	if (!u.host[0]) {
		why = "no server name or address";
		r = -EINVAL;
		goto fail;
	}
	if (u.path[0] && u.path[strlen(u.path) - 1] != '/') {
		firmware = prov_url_format(&u);
		if (!firmware) {
			r = -ENOMEM;
			goto fail;
		}
		u.path[0] = '\0'; /* the server is the root */
	}
	path = u.path;
	if (!path[0]) {
		free(u.path);
		u.path = str_dup_n("/", 1);
		if (!u.path) {
			r = -ENOMEM;
			goto fail;
		}
	}
	server = prov_url_format(&u);
	if (!server) {
		r = -ENOMEM;
		goto fail;
	}
	/* Percent-encoding may take the URLs past what a URL may be. */
	if (strlen(server) > PROV_URL_MAX || (firmware && strlen(firmware) > PROV_URL_MAX)) {
		why = "the server's URL is longer than 4096 bytes once encoded";
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (semi) {
		const char *cb = semi + 1, *ce = e;

		trim(&cb, &ce);
		if (cb < ce) {
			char *name = str_dup_n(cb, (size_t)(ce - cb));
			struct prov_url check = { .scheme = "" };

			if (!name) {
				r = -ENOMEM;
				goto fail;
			}
			config = prov_url_resolve(server, name);
			free(name);
			if (!config) {
				r = -ENOMEM;
				goto fail;
			}
			r = prov_url_parse(config, NULL, &check, &why);
			prov_url_done(&check);
			if (r < 0)
				goto fail;
		}
	}
	prov_url_done(&u);
	free(head);
	*ret_server = server;
	*ret_firmware = firmware;
	*ret_config = config;
	return 0;

fail:
	prov_url_done(&u);
	free(head);
	free(server);
	free(firmware);
	free(config);
	if (ret_why && why)
		*ret_why = why;
	return r;
}
