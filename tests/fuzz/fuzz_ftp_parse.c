// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for what an FTP client sends: control lines fed whole and in pieces must
 * give the same lines (each within the limit, NUL-terminated); every line goes through the
 * command parser and every argument parser; a path from any argument stays a normalised
 * site path; a reply built from any text is one line; and TYPE A conversion of the input,
 * from any REST offset, gives exactly the tail of the whole converted stream.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proto/ftp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP	     64
#define DISCARD_MAX  256
#define MAX_LINES    256
#define MAX_OUT_TEXT 8192

struct lines {
	char text[MAX_OUT_TEXT];
	size_t len;
	unsigned n, too_long;
	bool absurd;
};

static void check_args(const char *line, size_t len)
{
	struct ftp_command c;
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	socklen_t sl;
	uint64_t off;
	int family;
	bool b;
	char path[256], reply[128];
	size_t rl;

	if (ftp_parse_command(line, len, &c) < 0)
		return;
	CHECK(c.arg_len == 0 || (c.arg >= line && c.arg + c.arg_len <= line + len));
	CHECK(strlen(c.name) >= 3 && strlen(c.name) <= 4);
	(void)ftp_parse_type(c.arg, c.arg_len, &b);
	(void)ftp_parse_rest(c.arg, c.arg_len, &off);
	(void)ftp_parse_port(c.arg, c.arg_len, &sin);
	if (ftp_parse_eprt(c.arg, c.arg_len, &ss, &sl) == 0)
		CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	(void)ftp_parse_epsv(c.arg, c.arg_len, &family, &b);
	if (ftp_path_resolve("dir/sub", c.arg, c.arg_len, 200, path, sizeof(path)) == 0) {
		CHECK(path[0] != '/');
		CHECK(!strstr(path, "//") && !strchr(path, '\\'));
		CHECK(strcmp(path, "..") != 0 && strncmp(path, "../", 3) != 0 &&
		      !strstr(path, "/../") &&
		      (strlen(path) < 3 || strcmp(path + strlen(path) - 3, "/..") != 0));
		for (const char *p = path; *p; p++)
			CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
		ftp_path_parent(path);
	}
	rl = ftp_format_reply(reply, sizeof(reply), 550, false, line);
	CHECK(rl < sizeof(reply) && rl >= 6 && reply[rl] == '\0');
	CHECK(reply[rl - 2] == '\r' && reply[rl - 1] == '\n');
	for (size_t i = 0; i + 2 < rl; i++)
		CHECK(reply[i] != '\r' && reply[i] != '\n');
}

/* Feeds data in pieces whose sizes come from the data itself (or whole: step 0). */
static void read_lines(const uint8_t *data, size_t size, unsigned step, struct lines *out)
{
	char buf[CAP];
	struct ftp_line_reader r;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	ftp_line_init(&r, buf, sizeof(buf), DISCARD_MAX);
	while (i < size && !out->absurd) {
		enum ftp_line_event ev;
		size_t n = step ? 1 + (data[i] % step) : size - i;
		size_t used;

		if (n > size - i)
			n = size - i;
		used = ftp_line_feed(&r, data + i, n, &ev);
		CHECK(used >= 1 && used <= n);
		CHECK(r.len < CAP || (r.len == CAP && buf[CAP - 1] == '\r'));
		i += used;
		switch (ev) {
		case FTP_LINE_MORE: CHECK(used == n); break;
		case FTP_LINE_READY:
			CHECK(r.len < CAP && buf[r.len] == '\0');
			if (step == 0)
				check_args(buf, r.len);
			if (out->n < MAX_LINES && out->len + r.len + 1 <= MAX_OUT_TEXT) {
				memcpy(out->text + out->len, buf, r.len);
				out->len += r.len;
				out->text[out->len++] = '\n';
				out->n++;
			}
			ftp_line_next(&r);
			break;
		case FTP_LINE_TOO_LONG: out->too_long++; break;
		case FTP_LINE_ABSURD: out->absurd = true; break;
		}
	}
}

static void check_ascii(const uint8_t *data, size_t size)
{
	uint64_t total = ftp_ascii_size(data, size);
	uint8_t *whole = malloc(total + 1), *tail;
	struct ftp_ascii st = { 0 };
	size_t o = 0, src = 0, used, cap;
	uint64_t offset;

	CHECK(whole);
	while (src < size) {
		size_t n = ftp_ascii_convert(&st, data + src, size - src, whole + o,
					     total - o < 2 ? 2 : total - o, &used);

		CHECK(n > 0 || used > 0);
		src += used;
		o += n;
		CHECK(o <= total);
	}
	CHECK(o == total);
	offset = size ? data[0] % (total + 2) : 0;
	cap = size > 1 ? 2 + data[1] % 7 : 2;
	if (ftp_ascii_seek(data, size, offset, &src, &st) < 0) {
		CHECK(offset > total);
		free(whole);
		return;
	}
	CHECK(offset <= total);
	tail = malloc(total - offset + cap);
	CHECK(tail);
	o = 0;
	while (src < size) {
		size_t n = ftp_ascii_convert(&st, data + src, size - src, tail + o, cap, &used);

		CHECK(n <= cap && (n > 0 || used > 0));
		src += used;
		o += n;
		CHECK(o <= total - offset);
	}
	CHECK(o == total - offset);
	CHECK(memcmp(tail, whole + offset, o) == 0);
	free(tail);
	free(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lines whole, pieces;

	read_lines(data, size, 0, &whole);
	read_lines(data, size, 7, &pieces);
	/* the same lines however the bytes arrive */
	CHECK(whole.absurd == pieces.absurd);
	if (!whole.absurd) {
		CHECK(whole.n == pieces.n && whole.too_long == pieces.too_long);
		CHECK(whole.len == pieces.len && memcmp(whole.text, pieces.text, whole.len) == 0);
	}
	check_ascii(data, size);
	return 0;
}
