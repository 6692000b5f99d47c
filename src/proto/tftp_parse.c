// SPDX-License-Identifier: MIT
/* TFTP packet parsing, option negotiation and packet building (see tftp_parse.h). */
#include "proto/tftp_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

static const char *const option_names[_TFTP_OPT_MAX] = {
	[TFTP_OPT_BLKSIZE] = "blksize",
	[TFTP_OPT_TSIZE] = "tsize",
	[TFTP_OPT_TIMEOUT] = "timeout",
	[TFTP_OPT_WINDOWSIZE] = "windowsize",
};

const char *tftp_option_name(enum tftp_option opt)
{
	return opt < _TFTP_OPT_MAX ? option_names[opt] : "?";
}

/* The NUL-terminated string at pkt[*pos], advancing *pos past its NUL; NULL if none. */
static const char *take_string(const uint8_t *pkt, size_t len, size_t *pos, size_t *ret_len)
{
	const uint8_t *start = pkt + *pos;
	const uint8_t *nul;

	if (*pos >= len)
		return NULL;
	nul = memchr(start, '\0', len - *pos);
	if (!nul)
		return NULL;
	*ret_len = (size_t)(nul - start);
	*pos += *ret_len + 1;
	return (const char *)start;
}

int tftp_parse_header(const uint8_t *pkt, size_t len, enum tftp_opcode *ret_opcode,
		      uint16_t *ret_num)
{
	if (len < 4)
		return -EBADMSG;
	*ret_opcode = (enum tftp_opcode)((pkt[0] << 8) | pkt[1]);
	*ret_num = (uint16_t)((pkt[2] << 8) | pkt[3]);
	return 0;
}

int tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *ret,
		       const char **ret_why)
{
	struct tftp_request req;
	const char *mode;
	size_t pos = 2, n, mode_len;
	unsigned opcode;

	memset(&req, 0, sizeof(req));
	if (len < 2) {
		*ret_why = "truncated packet";
		return -EBADMSG;
	}
	opcode = (unsigned)((pkt[0] << 8) | pkt[1]);
	if (opcode != TFTP_RRQ && opcode != TFTP_WRQ) {
		*ret_why = "illegal operation: not a request";
		return -EPROTO;
	}
	req.opcode = (enum tftp_opcode)opcode;
	req.filename = take_string(pkt, len, &pos, &req.filename_len);
	if (!req.filename) {
		*ret_why = "malformed request: file name not terminated";
		return -EBADMSG;
	}
	if (req.filename_len == 0) {
		*ret_why = "malformed request: empty file name";
		return -EBADMSG;
	}
	mode = take_string(pkt, len, &pos, &mode_len);
	if (!mode) {
		*ret_why = "malformed request: mode not terminated";
		return -EBADMSG;
	}
	if (mode_len == 5 && strncasecmp(mode, "octet", 5) == 0) {
		req.mode = TFTP_MODE_OCTET;
	} else if (mode_len == 8 && strncasecmp(mode, "netascii", 8) == 0) {
		req.mode = TFTP_MODE_NETASCII;
	} else {
		*ret_why = "unsupported transfer mode (octet or netascii)";
		return -EPROTONOSUPPORT;
	}

	while (pos < len) {
		const char *name, *value;
		size_t vlen;

		name = take_string(pkt, len, &pos, &n);
		if (!name) {
			*ret_why = "malformed request: option not terminated";
			return -EBADMSG;
		}
		value = take_string(pkt, len, &pos, &vlen);
		if (!value) {
			*ret_why = "malformed request: option without value";
			return -EBADMSG;
		}
		req.noptions++;
		for (unsigned o = 0; o < _TFTP_OPT_MAX; o++) {
			if (strlen(option_names[o]) == n &&
			    strncasecmp(name, option_names[o], n) == 0) {
				if (!req.options[o])
					req.options[o] = value;
				break;
			}
		}
	}
	*ret = req;
	return 0;
}

int tftp_negotiate(const struct tftp_request *req, const struct tftp_limits *limits,
		   uint64_t file_size, struct tftp_params *ret, const char **ret_why)
{
	struct tftp_params p;
	uint64_t v;
	int r;

	memset(&p, 0, sizeof(p));
	p.blksize = TFTP_BLKSIZE_DEFAULT;
	p.windowsize = 1;

	if (req->options[TFTP_OPT_BLKSIZE]) {
		r = str_to_u64(req->options[TFTP_OPT_BLKSIZE], TFTP_BLKSIZE_MIN, UINT64_MAX, &v);
		if (r < 0) {
			*ret_why = "blksize must be a number of at least 8";
			return -EINVAL;
		}
		/* RFC 2348: the server may grant less than asked. */
		p.blksize = v > limits->max_blksize ? limits->max_blksize : (unsigned)v;
		p.acked[TFTP_OPT_BLKSIZE] = true;
	}
	if (req->options[TFTP_OPT_TSIZE]) {
		/* RFC 2349: in a read request the client sends 0 and gets the size. */
		r = str_to_u64(req->options[TFTP_OPT_TSIZE], 0, UINT64_MAX, &v);
		if (r < 0) {
			*ret_why = "tsize must be a number";
			return -EINVAL;
		}
		p.tsize = file_size;
		/*
		 * An empty file goes without tsize: curl (and the libcurl in much endpoint
		 * firmware) takes "tsize 0" in an OACK for an error and aborts. RFC 2347 lets
		 * a server leave out any option; the one empty DATA block says the size.
		 */
		p.acked[TFTP_OPT_TSIZE] = file_size > 0;
	}
	if (req->options[TFTP_OPT_TIMEOUT]) {
		r = str_to_u64(req->options[TFTP_OPT_TIMEOUT], TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX,
			       &v);
		if (r < 0) {
			*ret_why = "timeout must be 1..255 seconds";
			return -EINVAL;
		}
		/*
		 * RFC 2349 lets the server only accept the value as asked or leave the option
		 * out of the OACK: over the cap, it is left out and the server's own timeout
		 * applies, so no client makes a transfer's slot last minutes.
		 */
		if (!limits->max_timeout || v <= limits->max_timeout) {
			p.timeout_s = (unsigned)v;
			p.acked[TFTP_OPT_TIMEOUT] = true;
		}
	}
	if (req->options[TFTP_OPT_WINDOWSIZE]) {
		r = str_to_u64(req->options[TFTP_OPT_WINDOWSIZE], 1, UINT64_MAX, &v);
		if (r < 0) {
			*ret_why = "windowsize must be a number of at least 1";
			return -EINVAL;
		}
		p.windowsize = v > limits->max_windowsize ? limits->max_windowsize : (unsigned)v;
		p.acked[TFTP_OPT_WINDOWSIZE] = true;
	}
	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++)
		p.any |= p.acked[o];
	*ret = p;
	return 0;
}

size_t tftp_build_error(uint8_t *buf, size_t cap, enum tftp_error code, const char *msg)
{
	size_t ml = strlen(msg);

	if (cap < 5)
		return 0;
	if (ml > cap - 5)
		ml = cap - 5;
	buf[0] = 0;
	buf[1] = TFTP_ERROR;
	buf[2] = (uint8_t)(code >> 8);
	buf[3] = (uint8_t)code;
	memcpy(buf + 4, msg, ml);
	buf[4 + ml] = '\0';
	return 5 + ml;
}

size_t tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_params *p)
{
	size_t o = 2;

	if (cap < 2)
		return 0;
	buf[0] = 0;
	buf[1] = TFTP_OACK;
	for (unsigned opt = 0; opt < _TFTP_OPT_MAX; opt++) {
		unsigned long long v = 0;
		int n;

		if (!p->acked[opt])
			continue;
		switch ((enum tftp_option)opt) {
		case TFTP_OPT_BLKSIZE: v = p->blksize; break;
		case TFTP_OPT_TSIZE: v = p->tsize; break;
		case TFTP_OPT_TIMEOUT: v = p->timeout_s; break;
		case TFTP_OPT_WINDOWSIZE: v = p->windowsize; break;
		case _TFTP_OPT_MAX: break;
		}
		n = snprintf((char *)buf + o, cap - o, "%s%c%llu", option_names[opt], '\0', v);
		if (n < 0 || (size_t)n + 1 > cap - o)
			return 0;
		o += (size_t)n + 1;
	}
	return o;
}

void tftp_build_data_header(uint8_t hdr[4], uint16_t block)
{
	hdr[0] = 0;
	hdr[1] = TFTP_DATA;
	hdr[2] = (uint8_t)(block >> 8);
	hdr[3] = (uint8_t)block;
}
