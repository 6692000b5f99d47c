// SPDX-License-Identifier: MIT
/*
 * The SIP message layer: parsing one datagram into a struct sip_msg, URIs, parameters,
 * the MAC forms of PnP SUBSCRIBEs and the message builder (Digest is codec/digest.c). The
 * datagram is copied once; folded lines are joined in that copy and every string the
 * message points to is NUL-terminated there.
 */
#include "codec/sip_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

static const struct {
	char compact;
	const char *name;
} compact_forms[] = {
	{ 'v', "Via" },
	{ 'f', "From" },
	{ 't', "To" },
	{ 'i', "Call-ID" },
	{ 'm', "Contact" },
	{ 'l', "Content-Length" },
	{ 'c', "Content-Type" },
	{ 'o', "Event" },
	{ 'u', "Allow-Events" },
	{ 'k', "Supported" },
	{ 'e', "Content-Encoding" },
	{ 's', "Subject" },
};

const char *sip_header_full_name(const char *name)
{
	if (name[0] && !name[1])
		for (size_t i = 0; i < sizeof(compact_forms) / sizeof(compact_forms[0]); i++)
			if (tolower((unsigned char)name[0]) == compact_forms[i].compact)
				return compact_forms[i].name;
	return name;
}

/* RFC 3261 token characters. */
static bool is_token(int c)
{
	return isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}

static bool is_ws(int c)
{
	return c == ' ' || c == '\t';
}

void sip_msg_free(struct sip_msg *m)
{
	if (!m)
		return;
	free(m->buf);
	free(m);
}

const char *sip_msg_header(const struct sip_msg *m, const char *name)
{
	const char *full = sip_header_full_name(name);

	for (size_t i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, full) == 0)
			return m->headers[i].value;
	return NULL;
}

/* Ends the line at *pos (CRLF or LF), NUL-terminates it, and moves *pos past it. */
static char *next_line(char **pos, char *end)
{
	char *start = *pos, *nl = memchr(start, '\n', (size_t)(end - start));

	if (!nl) {
		*pos = end;
		return start;
	}
	*nl = '\0';
	if (nl > start && nl[-1] == '\r')
		nl[-1] = '\0';
	*pos = nl + 1;
	return start;
}

static int parse_request_line(struct sip_msg *m, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (!sp1 || sp1 == line)
		return -EBADMSG;
	for (char *p = line; p < sp1; p++)
		if (!is_token((unsigned char)*p))
			return -EBADMSG;
	sp2 = strrchr(sp1 + 1, ' ');
	if (!sp2 || sp2 == sp1 + 1 || strcasecmp(sp2 + 1, "SIP/2.0") != 0)
		return -EBADMSG;
	*sp1 = '\0';
	*sp2 = '\0';
	for (char *p = sp1 + 1; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -EBADMSG;
	m->is_request = true;
	m->method = line;
	m->uri = sp1 + 1;
	return 0;
}

static int parse_status_line(struct sip_msg *m, char *line)
{
	uint64_t code;

	if (strncasecmp(line, "SIP/2.0 ", 8) != 0)
		return -EBADMSG;
	if (str_to_u64_n(line + 8, 3, 100, 699, &code) < 0 || (line[11] && line[11] != ' '))
		return -EBADMSG;
	m->status = (unsigned)code;
	m->reason = line[11] ? line + 12 : "";
	return 0;
}

/* Splits a Via header value into its comma-separated values (commas in quotes kept). */
static void split_via(struct sip_msg *m, const char *v)
{
	const char *start = v;
	bool quoted = false;

	for (const char *p = v;; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\\' && quoted && p[1])
			p++;
		else if ((*p == ',' && !quoted) || !*p) {
			const char *a = start, *b = p;

			while (a < b && is_ws((unsigned char)*a))
				a++;
			while (b > a && is_ws((unsigned char)b[-1]))
				b--;
			if (b > a) {
				if (m->nvia == SIP_MAX_VIA) {
					m->error = "too many Via values";
					return;
				}
				m->via[m->nvia].p = a;
				m->via[m->nvia].len = (size_t)(b - a);
				m->nvia++;
			}
			if (!*p)
				return;
			start = p + 1;
		}
	}
}

/* "314159 INVITE": number and method; the method is written at *scratch. */
static int parse_cseq(struct sip_msg *m, const char *v)
{
	const char *p = v, *q;
	uint64_t n;

	while (isdigit((unsigned char)*p))
		p++;
	if (p == v || p - v > 10 || str_to_u64_n(v, (size_t)(p - v), 0, UINT32_MAX, &n) < 0)
		return -EINVAL;
	if (!is_ws((unsigned char)*p))
		return -EINVAL;
	while (is_ws((unsigned char)*p))
		p++;
	q = p;
	while (is_token((unsigned char)*q))
		q++;
	if (q == p || *q)
		return -EINVAL;
	m->cseq_num = (uint32_t)n;
	m->cseq_method = p;
	return 0;
}

/* Joins folded lines in headers[0..len): a line break followed by SP or HT becomes spaces. */
static void unfold(char *h, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (h[i] == '\r' && h[i + 1] == '\n' && i + 2 < len &&
		    is_ws((unsigned char)h[i + 2])) {
			h[i] = h[i + 1] = ' ';
			i++;
		} else if (h[i] == '\n' && is_ws((unsigned char)h[i + 1])) {
			h[i] = ' ';
		}
	}
}

static void check_headers(struct sip_msg *m)
{
	if (m->error)
		return;
	if (m->nvia == 0)
		m->error = "missing Via";
	else if (!m->from)
		m->error = "missing From";
	else if (!m->to)
		m->error = "missing To";
	else if (!m->call_id || !m->call_id[0])
		m->error = "missing Call-ID";
	else if (!m->cseq)
		m->error = "missing CSeq";
	else if (!m->cseq_method)
		m->error = "bad CSeq";
	else if (m->is_request && strcmp(m->cseq_method, m->method) != 0 &&
		 strcmp(m->method, "ACK") != 0 && strcmp(m->method, "CANCEL") != 0)
		m->error = "CSeq method does not match the request";
}

int sip_parse(const void *data, size_t len, struct sip_msg **ret)
{
	struct sip_msg *m;
	char *pos, *end, *hend, *body, *line;
	const char *clen = NULL;
	int r;

	if (len > SIP_MAX_DATAGRAM)
		return -EMSGSIZE;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->buf = malloc(len + 1);
	if (!m->buf) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->buf, data, len);
	m->buf[len] = '\0';
	m->expires = -1;
	pos = m->buf;
	end = m->buf + len;
	while (pos < end && (*pos == '\r' || *pos == '\n'))
		pos++;
	if (pos == end)
		goto bad;
	/* the end of the head: an empty line, or the end of the datagram */
	hend = end;
	body = end;
	for (char *p = pos; p < end; p++) {
		if (*p != '\n')
			continue;
		if (p + 1 < end && p[1] == '\n') {
			hend = p + 1;
			body = p + 2;
			break;
		}
		if (p + 2 < end && p[1] == '\r' && p[2] == '\n') {
			hend = p + 1;
			body = p + 3;
			break;
		}
	}
	/* a NUL in the head is never SIP (binary noise); in a body it may be */
	if (memchr(pos, '\0', (size_t)(hend - pos)))
		goto bad;
	line = next_line(&pos, hend);
	r = strncasecmp(line, "SIP/2.0 ", 8) == 0 ? parse_status_line(m, line)
						  : parse_request_line(m, line);
	if (r < 0)
		goto bad;
	unfold(pos, (size_t)(hend - pos));
	while (pos < hend) {
		char *name, *colon, *v, *e;

		line = next_line(&pos, hend);
		if (!line[0])
			continue;
		colon = strchr(line, ':');
		if (!colon) {
			if (!m->error)
				m->error = "bad header line";
			continue;
		}
		e = colon;
		while (e > line && is_ws((unsigned char)e[-1]))
			e--;
		*e = '\0';
		name = line;
		for (char *p = name; *p; p++)
			if (!is_token((unsigned char)*p)) {
				if (!m->error)
					m->error = "bad header name";
				name = NULL;
				break;
			}
		if (!name || !name[0]) {
			if (!m->error)
				m->error = "bad header name";
			continue;
		}
		v = colon + 1;
		while (is_ws((unsigned char)*v))
			v++;
		e = v + strlen(v);
		while (e > v && is_ws((unsigned char)e[-1]))
			e--;
		*e = '\0';
		if (m->nheaders == SIP_MAX_HEADERS) {
			if (!m->error)
				m->error = "too many headers";
			continue;
		}
		name = (char *)sip_header_full_name(name);
		m->headers[m->nheaders].name = name;
		m->headers[m->nheaders].value = v;
		m->nheaders++;
		if (strcasecmp(name, "Via") == 0) {
			split_via(m, v);
		} else if (strcasecmp(name, "From") == 0) {
			if (!m->from)
				m->from = v;
		} else if (strcasecmp(name, "To") == 0) {
			if (!m->to)
				m->to = v;
		} else if (strcasecmp(name, "Call-ID") == 0) {
			if (!m->call_id)
				m->call_id = v;
		} else if (strcasecmp(name, "CSeq") == 0) {
			if (!m->cseq) {
				m->cseq = v;
				(void)parse_cseq(m, v);
			}
		} else if (strcasecmp(name, "Contact") == 0) {
			if (!m->contact)
				m->contact = v;
		} else if (strcasecmp(name, "Event") == 0) {
			if (!m->event)
				m->event = v;
		} else if (strcasecmp(name, "Content-Type") == 0) {
			if (!m->content_type)
				m->content_type = v;
		} else if (strcasecmp(name, "Content-Length") == 0) {
			if (clen && strcmp(clen, v) != 0 && !m->error)
				m->error = "conflicting Content-Length";
			clen = v;
		} else if (strcasecmp(name, "Expires") == 0) {
			uint64_t n;

			if (str_to_u64(v, 0, UINT32_MAX, &n) == 0)
				m->expires = (int64_t)n;
		}
	}
	m->body = body;
	m->body_len = (size_t)(end - body);
	if (clen) {
		uint64_t n;

		if (str_to_u64(clen, 0, SIP_MAX_DATAGRAM, &n) < 0) {
			if (!m->error)
				m->error = "bad Content-Length";
		} else if (n > m->body_len) {
			if (!m->error)
				m->error = "Content-Length larger than the datagram";
		} else {
			m->body_len = (size_t)n;
		}
	}
	check_headers(m);
	*ret = m;
	return 0;
bad:
	sip_msg_free(m);
	return -EBADMSG;
}

/* ---- URIs and addresses ---- */

static int copy_n(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (n >= dstsz)
		return -ENAMETOOLONG;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* "host", "host:port", "[v6]", "[v6]:port" in s[0..len). */
static int parse_hostport(const char *s, size_t len, char *host, size_t hostsz, uint16_t *port)
{
	const char *hend, *pstart = NULL;
	uint64_t n;

	*port = 0;
	if (len == 0)
		return -EINVAL;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (!rb || rb == s + 1)
			return -EINVAL;
		if (copy_n(host, hostsz, s + 1, (size_t)(rb - s - 1)) < 0)
			return -ENAMETOOLONG;
		hend = rb + 1;
		if (hend < s + len) {
			if (*hend != ':')
				return -EINVAL;
			pstart = hend + 1;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		hend = colon ? colon : s + len;
		if (hend == s)
			return -EINVAL;
		if (copy_n(host, hostsz, s, (size_t)(hend - s)) < 0)
			return -ENAMETOOLONG;
		for (const char *p = s; p < hend; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
				return -EINVAL;
		if (colon)
			pstart = colon + 1;
	}
	if (pstart) {
		if (str_to_u64_n(pstart, (size_t)(s + len - pstart), 1, 65535, &n) < 0)
			return -EINVAL;
		*port = (uint16_t)n;
	}
	return 0;
}

int sip_uri_parse(const char *s, size_t len, struct sip_uri *ret)
{
	struct sip_uri u;
	const char *p, *end = s + len, *hp, *hpend, *at;
	size_t slen;
	int r;

	memset(&u, 0, sizeof(u));
	for (const char *q = s; q < end; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f || *q == '<' || *q == '>')
			return -EINVAL;
	if (len > 4 && strncasecmp(s, "sip:", 4) == 0)
		slen = 3;
	else if (len > 5 && strncasecmp(s, "sips:", 5) == 0)
		slen = 4;
	else
		return -EINVAL;
	for (size_t i = 0; i < slen; i++)
		u.scheme[i] = (char)tolower((unsigned char)s[i]);
	p = s + slen + 1;
	/* headers ('?') are dropped; parameters start at the first ';' after the host */
	{
		const char *q = memchr(p, '?', (size_t)(end - p));

		if (q)
			end = q;
	}
	at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *uend = colon ? colon : at;

		if (uend == p)
			return -EINVAL;
		r = copy_n(u.user, sizeof(u.user), p, (size_t)(uend - p));
		if (r == 0 && colon)
			r = copy_n(u.password, sizeof(u.password), colon + 1,
				   (size_t)(at - colon - 1));
		if (r < 0)
			return r;
		hp = at + 1;
	} else {
		hp = p;
	}
	hpend = memchr(hp, ';', (size_t)(end - hp));
	if (!hpend)
		hpend = end;
	r = parse_hostport(hp, (size_t)(hpend - hp), u.host, sizeof(u.host), &u.port);
	if (r < 0)
		return r;
	r = copy_n(u.params, sizeof(u.params), hpend, (size_t)(end - hpend));
	if (r < 0)
		return r;
	*ret = u;
	return 0;
}

int sip_name_addr_parse(const char *value, struct sip_name_addr *ret)
{
	struct sip_name_addr na;
	const char *p = value, *lt, *gt, *rest;
	int r;

	memset(&na, 0, sizeof(na));
	while (is_ws((unsigned char)*p))
		p++;
	if (*p == '"') {
		const char *q = p + 1;
		size_t n = 0;

		for (; *q && *q != '"'; q++) {
			if (*q == '\\' && q[1])
				q++;
			if (n + 1 < sizeof(na.display))
				na.display[n++] = *q;
		}
		if (*q != '"')
			return -EINVAL;
		na.display[n] = '\0';
		p = q + 1;
	}
	lt = strchr(p, '<');
	if (lt) {
		const char *d = p, *de = lt;

		if (!na.display[0]) {
			while (d < de && is_ws((unsigned char)*d))
				d++;
			while (de > d && is_ws((unsigned char)de[-1]))
				de--;
			if (de > d &&
			    copy_n(na.display, sizeof(na.display), d, (size_t)(de - d)) < 0)
				return -ENAMETOOLONG;
		}
		gt = strchr(lt, '>');
		if (!gt)
			return -EINVAL;
		r = copy_n(na.uri, sizeof(na.uri), lt + 1, (size_t)(gt - lt - 1));
		if (r < 0)
			return r;
		rest = gt + 1;
	} else {
		const char *semi;

		if (na.display[0])
			return -EINVAL;
		semi = strchr(p, ';');
		gt = semi ? semi : p + strlen(p);
		while (gt > p && is_ws((unsigned char)gt[-1]))
			gt--;
		r = copy_n(na.uri, sizeof(na.uri), p, (size_t)(gt - p));
		if (r < 0)
			return r;
		rest = semi ? semi : "";
	}
	if (!na.uri[0])
		return -EINVAL;
	while (is_ws((unsigned char)*rest))
		rest++;
	if (*rest && *rest != ';')
		return -EINVAL;
	r = copy_n(na.params, sizeof(na.params), rest, strlen(rest));
	if (r < 0)
		return r;
	*ret = na;
	return 0;
}

int sip_param_get(const char *params, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name);
	const char *p = params;

	while (*p) {
		const char *n, *ne, *v = NULL, *ve = NULL;

		while (*p == ';' || is_ws((unsigned char)*p))
			p++;
		n = p;
		while (*p && *p != '=' && *p != ';' && !is_ws((unsigned char)*p))
			p++;
		ne = p;
		while (is_ws((unsigned char)*p))
			p++;
		if (*p == '=') {
			p++;
			while (is_ws((unsigned char)*p))
				p++;
			if (*p == '"') {
				v = ++p;
				while (*p && *p != '"') {
					if (*p == '\\' && p[1])
						p++;
					p++;
				}
				ve = p;
				if (*p)
					p++;
			} else {
				v = p;
				while (*p && *p != ';' && !is_ws((unsigned char)*p))
					p++;
				ve = p;
			}
		}
		while (*p && *p != ';')
			p++;
		if ((size_t)(ne - n) == nlen && nlen && strncasecmp(n, name, nlen) == 0) {
			if (!v)
				return outsz ? (out[0] = '\0', 0) : -ENAMETOOLONG;
			return copy_n(out, outsz, v, (size_t)(ve - v));
		}
	}
	return -ENOENT;
}

int sip_via_parse(const char *p, size_t len, struct sip_via *ret)
{
	struct sip_via v;
	const char *end = p + len, *q, *t, *hp, *hpend;
	int r;

	memset(&v, 0, sizeof(v));
	/* SIP / 2.0 / UDP host:port;params (spaces allowed around '/') */
	q = p;
	for (int i = 0; i < 2; i++) {
		while (q < end && is_token((unsigned char)*q))
			q++;
		while (q < end && is_ws((unsigned char)*q))
			q++;
		if (q == end || *q != '/')
			return -EINVAL;
		q++;
		while (q < end && is_ws((unsigned char)*q))
			q++;
	}
	t = q;
	while (q < end && is_token((unsigned char)*q))
		q++;
	if (q == t || copy_n(v.transport, sizeof(v.transport), t, (size_t)(q - t)) < 0)
		return -EINVAL;
	while (q < end && is_ws((unsigned char)*q))
		q++;
	hp = q;
	hpend = hp;
	while (hpend < end && *hpend != ';' && !is_ws((unsigned char)*hpend))
		hpend++;
	r = parse_hostport(hp, (size_t)(hpend - hp), v.host, sizeof(v.host), &v.port);
	if (r < 0)
		return r;
	while (hpend < end && is_ws((unsigned char)*hpend))
		hpend++;
	if (hpend < end && *hpend != ';')
		return -EINVAL;
	r = copy_n(v.params, sizeof(v.params), hpend, (size_t)(end - hpend));
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

int sip_event_parse(const char *value, char *type, size_t typesz, const char **ret_params)
{
	const char *p = value, *t;
	size_t n;

	while (is_ws((unsigned char)*p))
		p++;
	t = p;
	while (is_token((unsigned char)*p))
		p++;
	n = (size_t)(p - t);
	if (n == 0 || n >= typesz)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		type[i] = (char)tolower((unsigned char)t[i]);
	type[n] = '\0';
	while (is_ws((unsigned char)*p))
		p++;
	if (*p && *p != ';')
		return -EINVAL;
	*ret_params = p;
	return 0;
}

int sip_mac_from_user(const char *user, char ret[MAC_LEN + 1])
{
	const char *p = user, *why;
	char tmp[64];
	size_t n = 0;

	if (strncasecmp(p, "MAC", 3) == 0 && !isxdigit((unsigned char)p[3]))
		p += 3;
	else if (strncasecmp(p, "MAC", 3) == 0 && strlen(p) == 15)
		p += 3; /* "MAC0021f222b01d" (without a separator) */
	if (strncasecmp(p, "%3a", 3) == 0 || strncasecmp(p, "%3d", 3) == 0)
		p += 3;
	else if (*p == ':' || *p == '=')
		p++;
	/* percent-decode the separators of "00%3a04%3a..." */
	while (*p && n + 1 < sizeof(tmp)) {
		if (p[0] == '%' && p[1] == '3' && (p[2] == 'a' || p[2] == 'A')) {
			tmp[n++] = ':';
			p += 3;
		} else {
			tmp[n++] = *p++;
		}
	}
	if (*p)
		return -EINVAL;
	tmp[n] = '\0';
	return mac_parse(tmp, ret, &why) < 0 ? -EINVAL : 0;
}

int sip_mac_from_uri(const struct sip_uri *u, char ret[MAC_LEN + 1])
{
	char both[sizeof(u->user) + sizeof(u->password) + 1];

	if (!u->password[0])
		return sip_mac_from_user(u->user, ret);
	snprintf(both, sizeof(both), "%s:%s", u->user, u->password);
	return sip_mac_from_user(both, ret);
}

/* ---- building messages ---- */

void sip_builder_init(struct sip_builder *b, char *buf, size_t size)
{
	b->buf = buf;
	b->size = size;
	b->len = 0;
	b->error = size ? 0 : -ENOSPC;
	if (size)
		buf[0] = '\0';
}

__attribute__((format(printf, 2, 0))) static void vappend(struct sip_builder *b, const char *fmt,
							  va_list ap)
{
	int n;

	if (b->error)
		return;
	n = vsnprintf(b->buf + b->len, b->size - b->len, fmt, ap);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->error = -ENOSPC;
		b->buf[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

__attribute__((format(printf, 2, 3))) static void append(struct sip_builder *b, const char *fmt,
							 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(b, fmt, ap);
	va_end(ap);
}

void sip_build_request_line(struct sip_builder *b, const char *method, const char *uri)
{
	append(b, "%s %s SIP/2.0\r\n", method, uri);
}

void sip_build_status_line(struct sip_builder *b, unsigned code, const char *reason)
{
	append(b, "SIP/2.0 %03u %s\r\n", code, reason);
}

void sip_build_header(struct sip_builder *b, const char *name, const char *fmt, ...)
{
	va_list ap;

	append(b, "%s: ", name);
	va_start(ap, fmt);
	vappend(b, fmt, ap);
	va_end(ap);
	append(b, "\r\n");
}

int sip_build_finish(struct sip_builder *b, const char *content_type, const void *body,
		     size_t body_len)
{
	if (body_len && content_type)
		append(b, "Content-Type: %s\r\n", content_type);
	append(b, "Content-Length: %zu\r\n\r\n", body_len);
	if (b->error)
		return b->error;
	if (body_len > b->size - b->len - 1) {
		b->error = -ENOSPC;
		return b->error;
	}
	if (body_len)
		memcpy(b->buf + b->len, body, body_len);
	b->len += body_len;
	b->buf[b->len] = '\0';
	return (int)b->len;
}

void sip_build_response_start(struct sip_builder *b, const struct sip_msg *req, unsigned code,
			      const char *reason, const char *to_tag)
{
	char tag[128];

	sip_build_status_line(b, code, reason);
	for (size_t i = 0; i < req->nvia; i++)
		append(b, "Via: %.*s\r\n", (int)req->via[i].len, req->via[i].p);
	if (req->from)
		sip_build_header(b, "From", "%s", req->from);
	if (req->to) {
		struct sip_name_addr na;
		bool has_tag = sip_name_addr_parse(req->to, &na) == 0 &&
			       sip_param_get(na.params, "tag", tag, sizeof(tag)) == 0;

		if (to_tag && !has_tag)
			sip_build_header(b, "To", "%s;tag=%s", req->to, to_tag);
		else
			sip_build_header(b, "To", "%s", req->to);
	}
	if (req->call_id)
		sip_build_header(b, "Call-ID", "%s", req->call_id);
	if (req->cseq)
		sip_build_header(b, "CSeq", "%s", req->cseq);
}
