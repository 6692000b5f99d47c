// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the HTTP header values autoprov reads itself: a Range header a
 * peer sends must give either the whole file, "unsatisfiable", or a range inside it; and
 * If-None-Match lists must never crash the matcher.
 */
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

	if (size < 2)
		return 0;
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
