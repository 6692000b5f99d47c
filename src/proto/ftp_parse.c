// SPDX-License-Identifier: MIT
/* FTP lines, commands, arguments, replies, listings and TYPE A (see ftp_parse.h). */
#include "proto/ftp_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/path.h"
#include "core/str.h"

/* Telnet (RFC 854) as it may appear on a control connection. */
#define TELNET_IAC  255
#define TELNET_WILL 251
#define TELNET_DONT 254

enum telnet_state {
	TELNET_DATA, /* plain bytes */
	TELNET_CMD,  /* after IAC */
	TELNET_OPT,  /* after IAC WILL / WONT / DO / DONT: the option byte */
};

void ftp_line_init(struct ftp_line_reader *r, char *buf, size_t cap, size_t discard_max)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = cap;
	r->discard_max = discard_max;
	if (cap)
		buf[0] = '\0';
}

void ftp_line_next(struct ftp_line_reader *r)
{
	r->len = 0;
	r->buf[0] = '\0';
}

/* One byte of a line, Telnet removed: false when the byte ends the line. */
static bool line_byte(struct ftp_line_reader *r, uint8_t c, enum ftp_line_event *ev)
{
	if (c == '\n') {
		if (r->skipping) {
			r->skipping = false;
			r->discarded = 0;
			r->len = 0;
			*ev = FTP_LINE_TOO_LONG;
		} else {
			if (r->len && r->buf[r->len - 1] == '\r')
				r->len--;
			*ev = FTP_LINE_READY;
		}
		r->buf[r->len] = '\0';
		return false;
	}
	if (r->skipping) {
		if (++r->discarded > r->discard_max) {
			*ev = FTP_LINE_ABSURD;
			return false;
		}
		return true;
	}
	/* cap - 1 bytes of a line, and room for the CR of its CR LF beyond them */
	if (r->len + 1 >= r->cap && !(c == '\r' && r->len + 1 == r->cap)) {
		r->skipping = true;
		r->discarded = r->len + 1;
		r->len = 0;
		return true;
	}
	r->buf[r->len++] = (char)c;
	return true;
}

size_t ftp_line_feed(struct ftp_line_reader *r, const uint8_t *data, size_t len,
		     enum ftp_line_event *ret)
{
	size_t i = 0;

	*ret = FTP_LINE_MORE;
	while (i < len) {
		uint8_t c = data[i++];

		switch ((enum telnet_state)r->telnet) {
		case TELNET_CMD:
			if (c == TELNET_IAC) {
				r->telnet = TELNET_DATA;
				break; /* IAC IAC: the byte 0xff itself */
			}
			r->telnet = c >= TELNET_WILL && c <= TELNET_DONT ? TELNET_OPT : TELNET_DATA;
			continue;
		case TELNET_OPT: r->telnet = TELNET_DATA; continue;
		case TELNET_DATA:
			if (c == TELNET_IAC) {
				r->telnet = TELNET_CMD;
				continue;
			}
			break;
		}
		if (!line_byte(r, c, ret))
			return i;
	}
	return i;
}

/* ---- commands ---- */

static const char *const verb_names[_FTP_CMD_MAX] = {
	[FTP_CMD_UNKNOWN] = "",	 [FTP_CMD_USER] = "USER", [FTP_CMD_PASS] = "PASS",
	[FTP_CMD_ACCT] = "ACCT", [FTP_CMD_CWD] = "CWD",	  [FTP_CMD_CDUP] = "CDUP",
	[FTP_CMD_REIN] = "REIN", [FTP_CMD_QUIT] = "QUIT", [FTP_CMD_PORT] = "PORT",
	[FTP_CMD_PASV] = "PASV", [FTP_CMD_EPRT] = "EPRT", [FTP_CMD_EPSV] = "EPSV",
	[FTP_CMD_TYPE] = "TYPE", [FTP_CMD_STRU] = "STRU", [FTP_CMD_MODE] = "MODE",
	[FTP_CMD_RETR] = "RETR", [FTP_CMD_REST] = "REST", [FTP_CMD_ABOR] = "ABOR",
	[FTP_CMD_PWD] = "PWD",	 [FTP_CMD_LIST] = "LIST", [FTP_CMD_NLST] = "NLST",
	[FTP_CMD_MLSD] = "MLSD", [FTP_CMD_MLST] = "MLST", [FTP_CMD_SIZE] = "SIZE",
	[FTP_CMD_MDTM] = "MDTM", [FTP_CMD_SYST] = "SYST", [FTP_CMD_STAT] = "STAT",
	[FTP_CMD_HELP] = "HELP", [FTP_CMD_NOOP] = "NOOP", [FTP_CMD_FEAT] = "FEAT",
	[FTP_CMD_OPTS] = "OPTS", [FTP_CMD_ALLO] = "ALLO", [FTP_CMD_SITE] = "SITE",
	[FTP_CMD_SMNT] = "SMNT", [FTP_CMD_AUTH] = "AUTH", [FTP_CMD_PBSZ] = "PBSZ",
	[FTP_CMD_PROT] = "PROT", [FTP_CMD_CCC] = "CCC",	  [FTP_CMD_STOR] = "STOR",
	[FTP_CMD_STOU] = "STOU", [FTP_CMD_APPE] = "APPE", [FTP_CMD_DELE] = "DELE",
	[FTP_CMD_RMD] = "RMD",	 [FTP_CMD_MKD] = "MKD",	  [FTP_CMD_RNFR] = "RNFR",
	[FTP_CMD_RNTO] = "RNTO",
};

static const struct {
	const char *name;
	enum ftp_verb verb;
} verb_aliases[] = {
	{ "XCWD", FTP_CMD_CWD }, { "XCUP", FTP_CMD_CDUP }, { "XPWD", FTP_CMD_PWD },
	{ "XMKD", FTP_CMD_MKD }, { "XRMD", FTP_CMD_RMD },
};

const char *ftp_verb_name(enum ftp_verb verb)
{
	return verb < _FTP_CMD_MAX ? verb_names[verb] : "";
}

bool ftp_verb_secret(enum ftp_verb verb)
{
	return verb == FTP_CMD_PASS || verb == FTP_CMD_ACCT;
}

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int ftp_parse_command(const char *line, size_t len, struct ftp_command *ret)
{
	size_t n = 0;

	memset(ret, 0, sizeof(*ret));
	ret->arg = "";
	while (n < len && n < 5 && is_alpha(line[n]))
		n++;
	if (n < 3 || n > 4 || (n < len && line[n] != ' '))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		ret->name[i] = (char)(line[i] >= 'a' ? line[i] - 'a' + 'A' : line[i]);
	ret->name[n] = '\0';
	if (n < len) {
		ret->arg = line + n + 1;
		ret->arg_len = len - n - 1;
	}
	ret->verb = FTP_CMD_UNKNOWN;
	for (unsigned v = 1; v < _FTP_CMD_MAX; v++)
		if (strcmp(verb_names[v], ret->name) == 0) {
			ret->verb = (enum ftp_verb)v;
			return 0;
		}
	for (size_t i = 0; i < sizeof(verb_aliases) / sizeof(verb_aliases[0]); i++)
		if (strcmp(verb_aliases[i].name, ret->name) == 0) {
			ret->verb = verb_aliases[i].verb;
			return 0;
		}
	return 0;
}

/* ---- arguments ---- */

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int ftp_parse_type(const char *arg, size_t len, bool *ret_ascii)
{
	char t;

	if (len == 0)
		return -EINVAL;
	t = upper(arg[0]);
	switch (t) {
	case 'I':
		if (len != 1)
			return -EINVAL;
		*ret_ascii = false;
		return 0;
	case 'A':
		if (len == 1 || (len == 3 && arg[1] == ' ' && upper(arg[2]) == 'N')) {
			*ret_ascii = true;
			return 0;
		}
		if (len == 3 && arg[1] == ' ' && (upper(arg[2]) == 'T' || upper(arg[2]) == 'C'))
			return -EOPNOTSUPP;
		return -EINVAL;
	case 'L':
		if (len == 3 && arg[1] == ' ' && arg[2] == '8') {
			*ret_ascii = false;
			return 0;
		}
		if (len >= 3 && arg[1] == ' ')
			return -EOPNOTSUPP;
		return -EINVAL;
	case 'E': return -EOPNOTSUPP;
	default: return -EINVAL;
	}
}

int ftp_parse_rest(const char *arg, size_t len, uint64_t *ret)
{
	return str_to_u64_n(arg, len, 0, INT64_MAX, ret) < 0 ? -EINVAL : 0;
}

/* A decimal number of at most 3 digits up to max, from *p; advances *p. */
static int small_number(const char **p, const char *end, unsigned max, unsigned *ret)
{
	unsigned v = 0, digits = 0;

	while (*p < end && **p >= '0' && **p <= '9' && digits < 5) {
		v = v * 10 + (unsigned)(**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || (*p < end && **p >= '0' && **p <= '9') || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int ftp_parse_port(const char *arg, size_t len, struct sockaddr_in *ret)
{
	const char *p = arg, *end = arg + len;
	unsigned v[6];

	for (int i = 0; i < 6; i++) {
		while (i == 0 && p < end && *p == ' ')
			p++;
		if (small_number(&p, end, 255, &v[i]) < 0)
			return -EINVAL;
		if (i < 5) {
			if (p == end || *p != ',')
				return -EINVAL;
			p++;
		}
	}
	if (p != end)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->sin_family = AF_INET;
	ret->sin_addr.s_addr = htonl(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);
	ret->sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
	return 0;
}

int ftp_parse_eprt(const char *arg, size_t len, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	const char *p = arg, *end = arg + len, *field[3];
	size_t flen[3];
	char d, host[INET6_ADDRSTRLEN];
	unsigned af, port;

	if (len < 2)
		return -EINVAL;
	d = *p++;
	if (d < 33 || d > 126)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		const char *s = p;

		while (p < end && *p != d)
			p++;
		if (p == end)
			return -EINVAL;
		field[i] = s;
		flen[i] = (size_t)(p - s);
		p++;
	}
	if (p != end)
		return -EINVAL;
	p = field[0];
	if (small_number(&p, field[0] + flen[0], 999, &af) < 0 || p != field[0] + flen[0])
		return -EINVAL;
	if (af != 1 && af != 2)
		return -EAFNOSUPPORT;
	p = field[2];
	if (small_number(&p, field[2] + flen[2], 65535, &port) < 0 || p != field[2] + flen[2])
		return -EINVAL;
	if (flen[1] == 0 || flen[1] >= sizeof(host))
		return -EINVAL;
	memcpy(host, field[1], flen[1]);
	host[flen[1]] = '\0';
	memset(ret, 0, sizeof(*ret));
	if (af == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*sin6);
	}
	return 0;
}

int ftp_parse_epsv(const char *arg, size_t len, int *ret_family, bool *ret_all)
{
	unsigned v;
	const char *p = arg;

	*ret_family = 0;
	*ret_all = false;
	if (len == 0)
		return 0;
	if (len == 3 && upper(arg[0]) == 'A' && upper(arg[1]) == 'L' && upper(arg[2]) == 'L') {
		*ret_all = true;
		return 0;
	}
	if (small_number(&p, arg + len, 999, &v) < 0 || p != arg + len)
		return -EINVAL;
	if (v == 1)
		*ret_family = AF_INET;
	else if (v == 2)
		*ret_family = AF_INET6;
	else
		return -EAFNOSUPPORT;
	return 0;
}

/* ---- replies ---- */

static int fits(int n, size_t sz)
{
	return n < 0 || (size_t)n >= sz ? -ENOSPC : n;
}

int ftp_format_pasv(char *buf, size_t sz, const struct in_addr *a, uint16_t port)
{
	uint32_t h = ntohl(a->s_addr);

	return fits(snprintf(buf, sz, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", h >> 24,
			     (h >> 16) & 255, (h >> 8) & 255, h & 255, port >> 8, port & 255),
		    sz);
}

int ftp_format_epsv(char *buf, size_t sz, uint16_t port)
{
	return fits(snprintf(buf, sz, "Entering Extended Passive Mode (|||%u|)", port), sz);
}

size_t ftp_format_reply(char *buf, size_t sz, unsigned code, bool more, const char *text)
{
	size_t o, room;
	int n = snprintf(buf, sz, "%03u%c", code % 1000, more ? '-' : ' ');

	o = (size_t)n;
	room = sz - o - 3; /* CR LF NUL */
	for (size_t i = 0; text[i] && i < room; i++) {
		char c = text[i];

		buf[o++] = c == '\r' || c == '\n' ? ' ' : c;
	}
	buf[o++] = '\r';
	buf[o++] = '\n';
	buf[o] = '\0';
	return o;
}

int ftp_quote_path(char *buf, size_t sz, const char *path)
{
	size_t o = 0;

	if (sz < 4)
		return -ENOSPC;
	buf[o++] = '"';
	buf[o++] = '/';
	for (const char *p = path; *p; p++) {
		if (o + (*p == '"' ? 2 : 1) + 2 > sz)
			return -ENOSPC;
		if (*p == '"')
			buf[o++] = '"';
		buf[o++] = *p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return (int)o;
}

/* ---- names ---- */

int ftp_path_resolve(const char *cwd, const char *arg, size_t len, size_t maxlen, char *out,
		     size_t outsz)
{
	char joined[4096];
	size_t cl = strlen(cwd);
	size_t o = 0;
	int r;

	if (len > maxlen)
		return -ENAMETOOLONG;
	if (len == 0 || (arg[0] != '/' && arg[0] != '\\')) {
		if (cl + 1 + len >= sizeof(joined))
			return -ENAMETOOLONG;
		memcpy(joined, cwd, cl);
		o = cl;
		joined[o++] = '/';
	}
	if (o + len >= sizeof(joined))
		return -ENAMETOOLONG;
	memcpy(joined + o, arg, len);
	o += len;
	r = path_normalise(joined, o, NULL, sizeof(joined), out, outsz);
	if (r == -ENOENT) {
		if (outsz == 0)
			return -ENAMETOOLONG;
		out[0] = '\0';
		return 0;
	}
	if (r == 0 && strlen(out) > maxlen)
		return -ENAMETOOLONG;
	return r;
}

void ftp_path_parent(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash)
		*slash = '\0';
	else
		path[0] = '\0';
}

/* ---- listings ---- */

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int ftp_format_list(char *buf, size_t sz, const struct ftp_fact *f, time_t now)
{
	struct tm tm;
	char when[32];
	/* ls(1): the time for the last six months, the year for anything older or future */
	const time_t half_year = 183 * 24 * 3600;

	if (!gmtime_r(&f->mtime, &tm))
		memset(&tm, 0, sizeof(tm));
	if (f->mtime > now - half_year && f->mtime <= now + 3600)
		snprintf(when, sizeof(when), "%s %2d %02d:%02d", months[tm.tm_mon % 12], tm.tm_mday,
			 tm.tm_hour, tm.tm_min);
	else
		snprintf(when, sizeof(when), "%s %2d %5d", months[tm.tm_mon % 12], tm.tm_mday,
			 tm.tm_year + 1900);
	return fits(snprintf(buf, sz, "%s %3u ftp      ftp      %12llu %s %s\r\n",
			     f->dir ? "dr-xr-xr-x" : "-r--r--r--", f->dir ? 2u : 1u,
			     (unsigned long long)f->size, when, f->name),
		    sz);
}

int ftp_format_time(char *buf, size_t sz, time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	return fits(snprintf(buf, sz, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec),
		    sz);
}

int ftp_format_mlsx(char *buf, size_t sz, const struct ftp_fact *f)
{
	char when[32];

	if (ftp_format_time(when, sizeof(when), f->mtime) < 0)
		return -ENOSPC;
	if (f->dir)
		return fits(snprintf(buf, sz, "type=dir;modify=%s;perm=el; %s\r\n", when, f->name),
			    sz);
	return fits(snprintf(buf, sz, "type=file;size=%llu;modify=%s;perm=r; %s\r\n",
			     (unsigned long long)f->size, when, f->name),
		    sz);
}

/* ---- TYPE A ---- */

uint64_t ftp_ascii_size(const uint8_t *data, size_t len)
{
	uint64_t n = len;

	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			n++;
	return n;
}

size_t ftp_ascii_convert(struct ftp_ascii *st, const uint8_t *src, size_t srclen, uint8_t *dst,
			 size_t dstcap, size_t *ret_consumed)
{
	size_t i = 0, o = 0;

	while (i < srclen && o < dstcap) {
		uint8_t c = src[i];

		if (c == '\n' && !st->prev_cr) {
			if (dstcap - o < 2)
				break;
			dst[o++] = '\r';
		}
		dst[o++] = c;
		st->prev_cr = c == '\r';
		i++;
	}
	*ret_consumed = i;
	return o;
}

int ftp_ascii_seek(const uint8_t *data, size_t len, uint64_t offset, size_t *ret_src,
		   struct ftp_ascii *ret_state)
{
	uint64_t out = 0;
	bool prev_cr = false;
	size_t i = 0;

	while (out < offset && i < len) {
		uint8_t c = data[i];
		unsigned w = c == '\n' && !prev_cr ? 2 : 1;

		if (out + w > offset) {
			/* between the CR we add and its LF: send the LF alone */
			prev_cr = true;
			out = offset;
			break;
		}
		out += w;
		prev_cr = c == '\r';
		i++;
	}
	if (out < offset)
		return -ERANGE;
	*ret_src = i;
	ret_state->prev_cr = prev_cr;
	return 0;
}
