// SPDX-License-Identifier: MIT
/*
 * TFTP packets (RFC 1350) and option negotiation (RFC 2347, 2348, 2349, 7440), with no
 * I/O: parse what a peer sent, decide what to grant, build what to send back. The
 * unit tests and the fuzzers drive these functions directly.
 */
#ifndef AUTOPROV_PROTO_TFTP_PARSE_H
#define AUTOPROV_PROTO_TFTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tftp_opcode {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

enum tftp_error {
	TFTP_EUNDEF = 0,    /* see the message */
	TFTP_ENOTFOUND = 1, /* file not found */
	TFTP_EACCESS = 2,   /* access violation */
	TFTP_ENOSPACE = 3,  /* disk full or allocation exceeded */
	TFTP_EBADOP = 4,    /* illegal TFTP operation */
	TFTP_EBADID = 5,    /* unknown transfer ID */
	TFTP_EEXISTS = 6,   /* file already exists */
	TFTP_ENOUSER = 7,   /* no such user */
	TFTP_EOPTNEG = 8,   /* option negotiation refused (RFC 2347) */
};

enum tftp_mode {
	TFTP_MODE_OCTET,
	TFTP_MODE_NETASCII,
};

/* The options autoprov knows; any other option is ignored (RFC 2347). */
enum tftp_option {
	TFTP_OPT_BLKSIZE,
	TFTP_OPT_TSIZE,
	TFTP_OPT_TIMEOUT,
	TFTP_OPT_WINDOWSIZE,
	_TFTP_OPT_MAX,
};

#define TFTP_BLKSIZE_DEFAULT 512
#define TFTP_BLKSIZE_MIN     8
#define TFTP_BLKSIZE_MAX     65464
#define TFTP_WINDOWSIZE_MAX  65535
#define TFTP_TIMEOUT_MIN     1
#define TFTP_TIMEOUT_MAX     255

/* A parsed RRQ or WRQ. Pointers point into the packet; nothing is allocated. */
struct tftp_request {
	enum tftp_opcode opcode;
	const char *filename; /* NUL-terminated inside the packet */
	size_t filename_len;
	enum tftp_mode mode;
	/* value of each known option, NULL when absent (the first occurrence wins) */
	const char *options[_TFTP_OPT_MAX];
	unsigned noptions; /* all options, known or not */
};

/*
 * Parses a request. Returns 0; -EBADMSG for a malformed packet (truncated, a string
 * without NUL, an option without value); -EPROTO for an opcode that is not RRQ/WRQ;
 * -EPROTONOSUPPORT for a mode other than octet / netascii. *ret_why gets a short reason
 * for the error packet and the log.
 */
int tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *ret,
		       const char **ret_why);

/* Opcode and 16-bit number of an ACK / DATA / ERROR packet. -EBADMSG if too short. */
int tftp_parse_header(const uint8_t *pkt, size_t len, enum tftp_opcode *ret_opcode,
		      uint16_t *ret_num);

/* What the server allows a client to ask for. */
struct tftp_limits {
	unsigned max_blksize;	 /* <= TFTP_BLKSIZE_MAX */
	unsigned max_windowsize; /* <= TFTP_WINDOWSIZE_MAX */
	unsigned max_timeout;	 /* seconds; a larger `timeout` is not acknowledged; 0: no cap */
};

/* The outcome of negotiation: what the transfer uses, and which options the OACK carries. */
struct tftp_params {
	unsigned blksize;
	unsigned windowsize;
	unsigned timeout_s; /* 0: the server's own retransmission timeout */
	uint64_t tsize;
	bool acked[_TFTP_OPT_MAX]; /* options to acknowledge in the OACK */
	bool any;		   /* an OACK is due */
};

/*
 * Decides the transfer's parameters. file_size is what will be sent (after netascii
 * conversion). Returns 0, or -EINVAL with *ret_why set: the client must get ERROR 8.
 */
int tftp_negotiate(const struct tftp_request *req, const struct tftp_limits *limits,
		   uint64_t file_size, struct tftp_params *ret, const char **ret_why);

/* Builders return the packet length, or 0 if cap is too small. */
size_t tftp_build_error(uint8_t *buf, size_t cap, enum tftp_error code, const char *msg);
size_t tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_params *p);
/* The 4-byte DATA header (the payload follows it, sent from the file's own memory). */
void tftp_build_data_header(uint8_t hdr[4], uint16_t block);

const char *tftp_option_name(enum tftp_option opt);

#endif
