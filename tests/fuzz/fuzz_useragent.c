// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for ua_device: any User-Agent must be read within its length, and a
 * MAC it yields must be canonical (12 lower-case hex digits), name a device (not zero,
 * not multicast), and be spelled in the User-Agent itself (its digits, in order, once
 * colons and dashes are set aside).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proto/useragent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char mac[MAC_LEN + 1], again[MAC_LEN + 1], *copy, *flat;
	const char *vendor = NULL, *vendor2 = NULL;
	size_t n = 0;

	/* an exact-size copy: ASan sees any read beyond size */
	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	if (!ua_device(copy, size, mac, &vendor)) {
		free(copy);
		return 0;
	}
	CHECK(vendor && *vendor);
	CHECK(strlen(mac) == MAC_LEN);
	CHECK(strspn(mac, "0123456789abcdef") == MAC_LEN);
	CHECK(strcmp(mac, "000000000000") != 0);
	CHECK(strchr("02468ace", mac[1]) != NULL); /* unicast */

	flat = malloc(size + 1);
	CHECK(flat);
	for (size_t i = 0; i < size; i++)
		if (copy[i] != ':' && copy[i] != '-')
			flat[n++] = lower(copy[i]);
	flat[n] = '\0';
	CHECK(memchr(copy, '\0', size) == NULL); /* a NUL is never accepted */
	CHECK(strstr(flat, mac) != NULL);

	CHECK(ua_device(copy, size, again, &vendor2));
	CHECK(strcmp(mac, again) == 0 && strcmp(vendor, vendor2) == 0);
	free(flat);
	free(copy);
	return 0;
}
