// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for what the HTTP server parses itself: a request head must parse to
 * a length inside the input, "incomplete", or an error, with every field it points to
 * inside the buffer; target paths decode into their buffer; a Range header must give
 * either the whole file, "unsatisfiable", or a range inside it; If-None-Match lists must
 * never crash the matcher.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proto/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h;
	uint64_t file_size, first = 0, last = 0;
	int r;

	struct http_request req;
	char path[256];
	size_t plen;

	if (size < 2)
		return 0;
	h = malloc(size);
	CHECK(h);
	memcpy(h, data, size);
	r = http_parse_request(h, size, 1024 + data[0] * 16, 64 + data[1] * 8, &req);
	CHECK(r == 0 || r == -EMSGSIZE || r == -ENAMETOOLONG || r == -EPROTONOSUPPORT ||
	      r == -EINVAL || (r > 0 && (size_t)r <= size));
	if (r > 0) {
		CHECK(req.target >= h && req.target + req.target_len < h + size);
		CHECK(strlen(req.target) == req.target_len);
		if (req.user_agent)
			CHECK(req.user_agent >= h && req.user_agent < h + r);
		if (http_target_path(req.target, req.target_len, path, sizeof(path), &plen) == 0)
			CHECK(plen < sizeof(path));
	}
	free(h);
	file_size = (uint64_t)data[0] << (data[1] & 31);
	h = malloc(size - 1);
	CHECK(h);
	memcpy(h, data + 2, size - 2);
	h[size - 2] = '\0';
	r = http_parse_range(h, file_size, &first, &last);
	CHECK(r >= -1 && r <= 1);
	if (r == 1)
		CHECK(first <= last && last < file_size);
	(void)http_etag_matches(h, "\"0123456789abcdef0123456789abcdef\"");
	(void)http_content_type(h);
	free(h);
	return 0;
}
