// SPDX-License-Identifier: MIT
/*
 * FTP as the server reads and writes it (RFC 959, 2389, 2428, 3659): the control
 * connection's lines (with a length limit and Telnet sequences dropped), commands and
 * their arguments (TYPE, REST, PORT, EPRT, EPSV), the replies PASV / EPSV give, paths
 * relative to the working directory, listing lines (LIST, MLSD / MLST), and TYPE A's
 * LF -> CR LF conversion, which must cope with a REST offset. Pure: no I/O.
 */
#ifndef AUTOPROV_PROTO_FTP_PARSE_H
#define AUTOPROV_PROTO_FTP_PARSE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* ---- control connection lines ---- */

enum ftp_line_event {
	FTP_LINE_MORE,	   /* every byte consumed, no line ended yet */
	FTP_LINE_READY,	   /* buf holds a line (without CR LF), NUL-terminated */
	FTP_LINE_TOO_LONG, /* a line longer than the limit ended; it was discarded */
	FTP_LINE_ABSURD,   /* more than discard_max bytes without a line end: give up */
};

/*
 * Lines of the control connection, fed in any split of the bytes. A line ends at LF (a CR
 * before it is dropped); Telnet commands (IAC ...) are removed and IAC IAC is a 0xff byte.
 * buf (cap bytes) holds at most cap - 1 bytes of a line; a longer one is skipped up to its
 * end and reported as FTP_LINE_TOO_LONG.
 */
struct ftp_line_reader {
	char *buf;
	size_t cap;
	size_t len;
	size_t discard_max; /* bytes of one over-long line tolerated before FTP_LINE_ABSURD */
	size_t discarded;   /* of the current over-long line */
	bool skipping;
	uint8_t telnet; /* state of a Telnet sequence in progress */
};

void ftp_line_init(struct ftp_line_reader *r, char *buf, size_t cap, size_t discard_max);
/*
 * Consumes bytes from data until a line is complete or data is used up; returns the number
 * consumed and the event in *ret. After FTP_LINE_READY the caller handles buf and calls
 * ftp_line_next() before feeding more.
 */
size_t ftp_line_feed(struct ftp_line_reader *r, const uint8_t *data, size_t len,
		     enum ftp_line_event *ret);
void ftp_line_next(struct ftp_line_reader *r);

/* ---- commands ---- */

enum ftp_verb {
	FTP_CMD_UNKNOWN,
	/* access control */
	FTP_CMD_USER,
	FTP_CMD_PASS,
	FTP_CMD_ACCT,
	FTP_CMD_CWD,
	FTP_CMD_CDUP,
	FTP_CMD_REIN,
	FTP_CMD_QUIT,
	/* transfer parameters */
	FTP_CMD_PORT,
	FTP_CMD_PASV,
	FTP_CMD_EPRT,
	FTP_CMD_EPSV,
	FTP_CMD_TYPE,
	FTP_CMD_STRU,
	FTP_CMD_MODE,
	/* service */
	FTP_CMD_RETR,
	FTP_CMD_REST,
	FTP_CMD_ABOR,
	FTP_CMD_PWD,
	FTP_CMD_LIST,
	FTP_CMD_NLST,
	FTP_CMD_MLSD,
	FTP_CMD_MLST,
	FTP_CMD_SIZE,
	FTP_CMD_MDTM,
	FTP_CMD_SYST,
	FTP_CMD_STAT,
	FTP_CMD_HELP,
	FTP_CMD_NOOP,
	FTP_CMD_FEAT,
	FTP_CMD_OPTS,
	FTP_CMD_ALLO,
	FTP_CMD_SITE,
	FTP_CMD_SMNT,
	/* security (RFC 2228, 4217) */
	FTP_CMD_AUTH,
	FTP_CMD_PBSZ,
	FTP_CMD_PROT,
	FTP_CMD_CCC,
	/* writes: refused by a read-only server */
	FTP_CMD_STOR,
	FTP_CMD_STOU,
	FTP_CMD_APPE,
	FTP_CMD_DELE,
	FTP_CMD_RMD,
	FTP_CMD_MKD,
	FTP_CMD_RNFR,
	FTP_CMD_RNTO,
	_FTP_CMD_MAX,
};

struct ftp_command {
	enum ftp_verb verb;
	char name[5];	 /* the verb as sent, upper case (for logs); "" if not a verb */
	const char *arg; /* after the first space (in the line); "" when none */
	size_t arg_len;
};

/*
 * Splits a line into verb and argument. The verb is 3 or 4 letters in any case (XPWD,
 * XCWD, XCUP, XMKD, XRMD are their RFC 775 aliases); one space separates the argument,
 * which is kept as it is (file names may hold spaces). -EINVAL for an empty line or
 * one that does not start with a verb; an unknown verb is FTP_CMD_UNKNOWN with its name.
 */
int ftp_parse_command(const char *line, size_t len, struct ftp_command *ret);
const char *ftp_verb_name(enum ftp_verb verb);
/* Commands whose argument is a password or otherwise not for logs. */
bool ftp_verb_secret(enum ftp_verb verb);

/* TYPE A [N], TYPE I, TYPE L 8. 0, -EINVAL (syntax: 501), -EOPNOTSUPP (E, A T, A C: 504). */
int ftp_parse_type(const char *arg, size_t len, bool *ret_ascii);
/* REST's decimal offset. 0 or -EINVAL. */
int ftp_parse_rest(const char *arg, size_t len, uint64_t *ret);
/* PORT h1,h2,h3,h4,p1,p2. 0 or -EINVAL. */
int ftp_parse_port(const char *arg, size_t len, struct sockaddr_in *ret);
/*
 * EPRT |af|address|port| with any delimiter from '!' to '~'. 0, -EINVAL (syntax: 501),
 * -EAFNOSUPPORT (a protocol other than 1 or 2: 522).
 */
int ftp_parse_eprt(const char *arg, size_t len, struct sockaddr_storage *ret, socklen_t *ret_len);
/*
 * EPSV's argument: none (*ret_family 0), 1 (AF_INET), 2 (AF_INET6) or ALL (*ret_all).
 * 0, -EINVAL, -EAFNOSUPPORT for another number.
 */
int ftp_parse_epsv(const char *arg, size_t len, int *ret_family, bool *ret_all);

/* "Entering Passive Mode (h1,h2,h3,h4,p1,p2)." for a, in buf. Length or -ENOSPC. */
int ftp_format_pasv(char *buf, size_t sz, const struct in_addr *a, uint16_t port);
/* "Entering Extended Passive Mode (|||port|)". Length or -ENOSPC. */
int ftp_format_epsv(char *buf, size_t sz, uint16_t port);

/*
 * One reply line "CODE text\r\n" (or "CODE-text\r\n" when more lines follow); CR, LF and
 * NUL in text become spaces, and a text too long for buf is cut. Length (always < sz;
 * sz must be at least 8).
 */
size_t ftp_format_reply(char *buf, size_t sz, unsigned code, bool more, const char *text);
/*
 * PWD's quoted name: "/" + path (a normalised site path, "" for the top), each '"'
 * doubled (RFC 959 appendix II). Length or -ENOSPC.
 */
int ftp_quote_path(char *buf, size_t sz, const char *path);

/* ---- names ---- */

/*
 * The site path an argument names from the working directory cwd (a normalised path, ""
 * for the top): an absolute argument starts from the top. The result is normalised as
 * every protocol's names are (core/path.h: '\' is '/', "." and empty parts dropped), ""
 * being the top. A ".." part is refused (-EACCES), as are control characters; -ENAMETOOLONG
 * beyond maxlen or outsz.
 */
int ftp_path_resolve(const char *cwd, const char *arg, size_t len, size_t maxlen, char *out,
		     size_t outsz);
/* The parent of a normalised path, in place ("" stays ""). */
void ftp_path_parent(char *path);

/* ---- listings ---- */

struct ftp_fact {
	const char *name; /* one path segment */
	bool dir;
	uint64_t size;
	time_t mtime;
};

/*
 * An `ls -l` line as LIST sends it, "-r--r--r--   1 ftp ftp  2048 Jan 02 03:04 name\r\n"
 * (with the year instead of the time beyond six months from now). Length or -ENOSPC.
 */
int ftp_format_list(char *buf, size_t sz, const struct ftp_fact *f, time_t now);
/* An RFC 3659 facts line, "type=file;size=2048;modify=20240102030405;perm=r; name\r\n". */
int ftp_format_mlsx(char *buf, size_t sz, const struct ftp_fact *f);
/* "YYYYMMDDHHMMSS" in UTC, as MDTM and modify= give it. Length or -ENOSPC. */
int ftp_format_time(char *buf, size_t sz, time_t t);

/* ---- TYPE A ---- */

/*
 * TYPE A sends a file with every LF not already preceded by CR as CR LF (a file that
 * already has CR LF line ends goes out unchanged). The state carries a CR across calls.
 */
struct ftp_ascii {
	bool prev_cr;
};

/* Bytes the file takes in TYPE A. */
uint64_t ftp_ascii_size(const uint8_t *data, size_t len);
/*
 * Converts from src into dst until either is used up; returns the bytes written and sets
 * *ret_consumed. A CR LF pair for one LF is never split: dst needs at least 2 bytes.
 */
size_t ftp_ascii_convert(struct ftp_ascii *st, const uint8_t *src, size_t srclen, uint8_t *dst,
			 size_t dstcap, size_t *ret_consumed);
/*
 * Where the TYPE A stream at offset starts in the file: *ret_src and the state to convert
 * from there (an offset between a CR and its LF starts at that LF with prev_cr set).
 * 0, or -ERANGE when offset is beyond the converted size.
 */
int ftp_ascii_seek(const uint8_t *data, size_t len, uint64_t offset, size_t *ret_src,
		   struct ftp_ascii *ret_state);

#endif
