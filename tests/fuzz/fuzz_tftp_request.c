// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the TFTP request path, as the server runs it on every packet that
 * reaches port 69: tftp_parse_request(), tftp_negotiate() under a few server limits, the
 * OACK built from the result (parsed back and compared), the ERROR packet carrying the
 * reason, and log_escape() of the requested name.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "fuzz_check.h"
#include "proto/tftp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tftp_limits limit_sets[] = {
	{ TFTP_BLKSIZE_MAX, 64, 0 },
	{ 512, 1, 5 },
	{ 1468, TFTP_WINDOWSIZE_MAX, 0 },
	{ TFTP_BLKSIZE_MIN, 256, 1 },
};

/* p lies in data[0..size) and a NUL ends it there. */
static bool string_inside(const uint8_t *data, size_t size, const char *p)
{
	const uint8_t *u = (const uint8_t *)p;

	return u >= data && u < data + size && memchr(u, '\0', (size_t)(data + size - u));
}

static void check_request(const uint8_t *data, size_t size, const struct tftp_request *req)
{
	unsigned known = 0;

	CHECK(size >= 2);
	CHECK(req->opcode == TFTP_RRQ || req->opcode == TFTP_WRQ);
	CHECK(data[0] == 0 && data[1] == req->opcode);
	CHECK(req->mode == TFTP_MODE_OCTET || req->mode == TFTP_MODE_NETASCII);
	CHECK((const uint8_t *)req->filename == data + 2);
	CHECK(req->filename_len > 0);
	CHECK(string_inside(data, size, req->filename));
	CHECK(strlen(req->filename) == req->filename_len);
	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++) {
		const char *v = req->options[o], *name = tftp_option_name(o);
		size_t nl = strlen(name);

		if (!v)
			continue;
		known++;
		/* the value follows "NAME\0", NAME being the option's name in any case */
		CHECK(string_inside(data, size, v));
		CHECK((const uint8_t *)v >= data + 2 + req->filename_len + 1 + nl + 1);
		CHECK(v[-1] == '\0');
		CHECK(strncasecmp(v - 1 - nl, name, nl) == 0);
		CHECK(v[-2 - (ptrdiff_t)nl] == '\0');
	}
	CHECK(req->noptions >= known);
	CHECK(req->noptions <= size / 2);
}

static void check_params(const struct tftp_request *req, const struct tftp_limits *lim,
			 uint64_t file_size, const struct tftp_params *p)
{
	bool any = false;

	for (unsigned o = 0; o < _TFTP_OPT_MAX; o++) {
		/* a timeout over the cap is left out of the OACK */
		if (o == TFTP_OPT_TIMEOUT && lim->max_timeout)
			CHECK(!p->acked[o] || req->options[o] != NULL);
		else
			CHECK(p->acked[o] == (req->options[o] != NULL));
		any |= p->acked[o];
	}
	CHECK(p->any == any);
	if (p->acked[TFTP_OPT_BLKSIZE])
		CHECK(p->blksize >= TFTP_BLKSIZE_MIN && p->blksize <= lim->max_blksize);
	else
		CHECK(p->blksize == TFTP_BLKSIZE_DEFAULT);
	if (p->acked[TFTP_OPT_WINDOWSIZE])
		CHECK(p->windowsize >= 1 && p->windowsize <= lim->max_windowsize);
	else
		CHECK(p->windowsize == 1);
	if (p->acked[TFTP_OPT_TIMEOUT])
		CHECK(p->timeout_s >= TFTP_TIMEOUT_MIN && p->timeout_s <= TFTP_TIMEOUT_MAX &&
		      (!lim->max_timeout || p->timeout_s <= lim->max_timeout));
	else
		CHECK(p->timeout_s == 0);
	CHECK(p->tsize == (p->acked[TFTP_OPT_TSIZE] ? file_size : 0));
}

static uint64_t decimal(const uint8_t *s, size_t len)
{
	uint64_t v = 0;

	CHECK(len > 0 && len <= 20);
	for (size_t i = 0; i < len; i++) {
		CHECK(s[i] >= '0' && s[i] <= '9');
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/* Builds the OACK into buffers of exactly the capacity given, and reads it back. */
static void check_oack(const struct tftp_params *p)
{
	uint8_t *buf = malloc(512);
	size_t n, pos = 2;
	unsigned next = 0;

	CHECK(buf);
	n = tftp_build_oack(buf, 512, p);
	CHECK(n >= 2);
	CHECK(buf[0] == 0 && buf[1] == TFTP_OACK);
	while (pos < n) {
		const uint8_t *name = buf + pos, *value, *end;
		uint64_t v = 0;
		unsigned o;

		end = memchr(name, '\0', n - pos);
		CHECK(end);
		value = end + 1;
		CHECK(value < buf + n);
		end = memchr(value, '\0', (size_t)(buf + n - value));
		CHECK(end);
		/* acknowledged options in the fixed order, each once */
		for (o = next; o < _TFTP_OPT_MAX; o++)
			if (strcmp((const char *)name, tftp_option_name(o)) == 0)
				break;
		CHECK(o < _TFTP_OPT_MAX && p->acked[o]);
		for (unsigned skipped = next; skipped < o; skipped++)
			CHECK(!p->acked[skipped]);
		v = decimal(value, (size_t)(end - value));
		switch ((enum tftp_option)o) {
		case TFTP_OPT_BLKSIZE: CHECK(v == p->blksize); break;
		case TFTP_OPT_TSIZE: CHECK(v == p->tsize); break;
		case TFTP_OPT_TIMEOUT: CHECK(v == p->timeout_s); break;
		case TFTP_OPT_WINDOWSIZE: CHECK(v == p->windowsize); break;
		case _TFTP_OPT_MAX: CHECK(0); break;
		}
		next = o + 1;
		pos = (size_t)(end - buf) + 1;
	}
	CHECK(pos == n);
	for (unsigned o = next; o < _TFTP_OPT_MAX; o++)
		CHECK(!p->acked[o]);
	free(buf);

	/* all or nothing, never past cap */
	for (size_t cap = n - 1; cap <= n; cap++) {
		uint8_t *exact = malloc(cap ? cap : 1);

		CHECK(exact);
		CHECK(tftp_build_oack(exact, cap, p) == (cap == n ? n : 0));
		free(exact);
	}
}

static void check_error_packet(enum tftp_error code, const char *msg)
{
	size_t ml = strlen(msg);
	const size_t caps[] = { 0, 4, 5, 6, ml + 4, ml + 5, ml + 6, 516 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i], n;
		uint8_t *buf = malloc(cap ? cap : 1);

		CHECK(buf);
		n = tftp_build_error(buf, cap, code, msg);
		if (cap < 5) {
			CHECK(n == 0);
		} else {
			CHECK(n >= 5 && n <= cap && n <= ml + 5);
			CHECK(buf[0] == 0 && buf[1] == TFTP_ERROR);
			CHECK(((unsigned)buf[2] << 8 | buf[3]) == (unsigned)code);
			CHECK(buf[n - 1] == '\0');
			CHECK(memcmp(buf + 4, msg, n - 5) == 0);
			if (cap >= ml + 5)
				CHECK(n == ml + 5);
		}
		free(buf);
	}
}

static void check_escape(const char *src, size_t len)
{
	const size_t sizes[] = { 1, 2, 3, 4, 5, 16, 200 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *dst = malloc(sizes[i]);
		size_t n;

		CHECK(dst);
		CHECK(log_escape(dst, sizes[i], src, len) == dst);
		CHECK(memchr(dst, '\0', sizes[i]));
		n = strlen(dst);
		for (size_t j = 0; j < n; j++)
			CHECK(dst[j] >= 0x20 && dst[j] < 0x7f);
		free(dst);
	}
}

static void check_header(const uint8_t *data, size_t size)
{
	enum tftp_opcode op;
	uint16_t num;
	int r = tftp_parse_header(data, size, &op, &num);

	if (size < 4) {
		CHECK(r == -EBADMSG);
		return;
	}
	CHECK(r == 0);
	CHECK((unsigned)op == ((unsigned)data[0] << 8 | data[1]));
	CHECK(num == ((unsigned)data[2] << 8 | data[3]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tftp_request req;
	const char *why = NULL;
	int r;

	check_header(data, size);
	r = tftp_parse_request(data, size, &req, &why);
	if (r < 0) {
		CHECK(r == -EBADMSG || r == -EPROTO || r == -EPROTONOSUPPORT);
		CHECK(why && why[0]);
		check_error_packet(TFTP_EBADOP, why);
		return 0;
	}
	check_request(data, size, &req);
	check_escape(req.filename, req.filename_len);
	/* the server may echo what the peer sent in an error message */
	check_error_packet(TFTP_ENOTFOUND, req.filename);

	for (size_t i = 0; i < sizeof(limit_sets) / sizeof(limit_sets[0]); i++) {
		const struct tftp_limits *lim = &limit_sets[i];
		uint64_t file_size = i == 0 ? UINT64_MAX : (uint64_t)size * 1000003u * i;
		struct tftp_params p;

		why = NULL;
		r = tftp_negotiate(&req, lim, file_size, &p, &why);
		if (r < 0) {
			CHECK(r == -EINVAL);
			CHECK(why && why[0]);
			check_error_packet(TFTP_EOPTNEG, why);
			continue;
		}
		check_params(&req, lim, file_size, &p);
		check_oack(&p);
	}
	return 0;
}
