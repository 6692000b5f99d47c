// SPDX-License-Identifier: MIT
/*
 * The SIP message layer (RFC 3261 subset) for one UDP datagram: requests and responses,
 * header names in any case and in their compact forms, folded lines, several Via values,
 * Content-Length; name-addr / addr-spec URIs and their parameters; the forms vendors put
 * a MAC in; a builder for requests and responses. Digest authentication (401 / 407
 * answered with Authorization / Proxy-Authorization) is codec/digest.h.
 * Pure: no I/O, no logging, no clock. The server (proto/sip.c, cli/cmd_resync.c) and the
 * endpoint library (agent/) both use it: it lives in the codec layer (src/codec/, library
 * apcodec), which links only with core.
 */
#ifndef AUTOPROV_CODEC_SIP_PARSE_H
#define AUTOPROV_CODEC_SIP_PARSE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mac.h"

#define SIP_MAX_DATAGRAM 65535 /* larger inputs are -EMSGSIZE */
#define SIP_MAX_HEADERS	 64    /* header lines of one message */
#define SIP_MAX_VIA	 16    /* Via values of one message */

/* A counted string inside a message's buffer (not NUL-terminated). */
struct sip_span {
	const char *p;
	size_t len;
};

struct sip_header {
	const char *name;  /* the full name when it was a known compact form ("Via" for "v") */
	const char *value; /* unfolded, trimmed, NUL-terminated */
};

/*
 * One parsed datagram. Every string points into buf (owned; NUL-terminated there) or to a
 * constant. Absent headers are NULL.
 */
struct sip_msg {
	bool is_request;
	const char *method; /* request: "SUBSCRIBE", ... */
	const char *uri;    /* request: the Request-URI */
	unsigned status;    /* response: 100..699 */
	const char *reason; /* response: the reason phrase ("" when none) */

	struct sip_header headers[SIP_MAX_HEADERS];
	size_t nheaders;
	struct sip_span via[SIP_MAX_VIA]; /* each Via value, in order (top first) */
	size_t nvia;

	const char *from, *to, *call_id, *cseq, *contact, *event, *content_type;
	uint32_t cseq_num;	 /* CSeq's number */
	const char *cseq_method; /* CSeq's method, NUL-terminated (a copy inside buf) */
	int64_t expires;	 /* Expires header, -1 when absent or not a number */

	const char *body; /* Content-Length bytes (or the rest of the datagram) */
	size_t body_len;

	/*
	 * NULL when the message is well-formed; otherwise why not ("missing Call-ID",
	 * "Content-Length larger than the datagram", ...): a request is then answered 400
	 * with this as the reason phrase, a response is dropped.
	 */
	const char *error;

	char *buf;
};

/*
 * Parses one datagram data[0..len). Returns 0 with *ret (sip_msg_free), possibly with
 * (*ret)->error set; -EBADMSG when the first line is neither a request line nor a status
 * line (garbage: drop it without an answer); -EMSGSIZE over SIP_MAX_DATAGRAM; -ENOMEM.
 * Lines end in CRLF or LF; empty lines before the first line are skipped (keep-alives).
 */
int sip_parse(const void *data, size_t len, struct sip_msg **ret);
void sip_msg_free(struct sip_msg *m); /* accepts NULL */

/* The first header named name (full or compact form, any case), or NULL. */
const char *sip_msg_header(const struct sip_msg *m, const char *name);
/* "v" -> "Via", ...; the name itself when it is not a known compact form. */
const char *sip_header_full_name(const char *name);

/* ---- URIs and addresses ---- */

struct sip_uri {
	char scheme[8];	    /* "sip" or "sips" (lower case) */
	char user[128];	    /* as written (percent escapes kept), "" when none */
	char password[128]; /* after ':' in the user part ("MAC:0004f2..." has one), or "" */
	char host[256];	    /* without brackets for IPv6 */
	uint16_t port;	    /* 0 when absent */
	char params[512];   /* ";transport=udp;..." as written, "" when none */
};

/* "sip:user:pw@host:port;params?headers". 0 or -EINVAL (-ENAMETOOLONG a part too long). */
int sip_uri_parse(const char *s, size_t len, struct sip_uri *ret);

/*
 * A name-addr ("Display" <sip:...>;tag=x) or addr-spec (sip:...;tag=x) header value:
 * the URI and the header parameters after it (for an addr-spec, everything after the
 * first ';' is a header parameter, as RFC 3261 20.10 says).
 */
struct sip_name_addr {
	char display[128];
	char uri[512];
	char params[512]; /* ";tag=abc;..." or "" */
};
int sip_name_addr_parse(const char *value, struct sip_name_addr *ret);

/*
 * The value of parameter name in a ";a=b;c;d=\"e\"" list (names case-insensitive;
 * quotes removed). 0 (value "" for a flag), -ENOENT, -ENAMETOOLONG.
 */
int sip_param_get(const char *params, const char *name, char *out, size_t outsz);

struct sip_via {
	char transport[16]; /* "UDP", as written */
	char host[256];
	uint16_t port; /* 0 when absent */
	char params[512];
};
int sip_via_parse(const char *p, size_t len, struct sip_via *ret);

/* "ua-profile;vendor=x": type "ua-profile" (lower case), params ";vendor=x". 0 or -EINVAL. */
int sip_event_parse(const char *value, char *type, size_t typesz, const char **ret_params);

/*
 * The MAC in a URI's user part (and password: "sip:MAC:0004f2aabbcc@..." parses as user
 * "MAC", password "0004f2aabbcc"), in the forms phones send. 0 or -EINVAL.
 */
int sip_mac_from_uri(const struct sip_uri *u, char ret[MAC_LEN + 1]);

/*
 * The MAC in a URI user part in the forms phones send: "MAC%3a0004138A1B2C",
 * "MAC=00304fa99948", "MAC:0004f2...", "MAC0021f222b01d", 12 hex digits alone, or a MAC
 * with separators that core/mac.h accepts. Canonical (lower case) into ret. 0 or -EINVAL.
 */
int sip_mac_from_user(const char *user, char ret[MAC_LEN + 1]);

/* ---- building messages ---- */

/* Text appended to a caller's buffer; the first error sticks (checked once at the end). */
struct sip_builder {
	char *buf;
	size_t size, len;
	int error; /* 0, or -ENOSPC once something did not fit */
};

void sip_builder_init(struct sip_builder *b, char *buf, size_t size);
void sip_build_request_line(struct sip_builder *b, const char *method, const char *uri);
void sip_build_status_line(struct sip_builder *b, unsigned code, const char *reason);
/* "Name: value\r\n" with the value formatted. */
void sip_build_header(struct sip_builder *b, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Content-Type (when body_len > 0 and content_type is not NULL), Content-Length, the empty
 * line and the body. Returns the message's length, or -ENOSPC.
 */
int sip_build_finish(struct sip_builder *b, const char *content_type, const void *body,
		     size_t body_len);

/*
 * Begins a response to request req: status line, every Via in order, From, To (with
 * ";tag=to_tag" added when to_tag is not NULL and To has no tag), Call-ID and CSeq copied.
 * The caller adds headers and calls sip_build_finish(). Headers req lacks are left out
 * (a 400 to a broken request carries what there is).
 */
void sip_build_response_start(struct sip_builder *b, const struct sip_msg *req, unsigned code,
			      const char *reason, const char *to_tag);

#endif
