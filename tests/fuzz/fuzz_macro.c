// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for macro_expand(): any input expands within the output cap, without
 * reading past it. With no variables known, the result is the input with each `$$` made
 * one `$` (unknown references are copied as written); with a device's variables, an input
 * without `$` comes back unchanged and every result stays under MACRO_OUT_MAX.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "macro/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The expected result when no variable is known. */
static char *collapse_dollars(const char *in)
{
	char *out = malloc(strlen(in) + 1), *o = out;

	CHECK(out);
	while (*in) {
		if (in[0] == '$' && in[1] == '$')
			in++;
		*o++ = *in++;
	}
	*o = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct macro_device d = { 0 };
	char *in, *out = NULL, *want;
	int r;

	in = malloc(size + 1);
	CHECK(in);
	memcpy(in, data, size);
	in[size] = '\0';

	r = macro_expand(in, NULL, NULL, &out);
	want = collapse_dollars(in);
	if (strlen(want) <= MACRO_OUT_MAX) {
		CHECK(r == 0);
		CHECK(strcmp(out, want) == 0);
		free(out);
	} else {
		CHECK(r == -E2BIG);
	}
	free(want);

	CHECK(macro_device_set_mac(&d, "0021F2011B19", NULL) == 0);
	d.model = "G502";
	d.serial = "$MA$(MAU:1:2)";
	d.ip = "";
	d.sw_version = "v3.3.8";
	out = NULL;
	r = macro_expand(in, macro_device_lookup, &d, &out);
	CHECK(r == 0 || r == -E2BIG);
	if (r == 0) {
		CHECK(strlen(out) <= MACRO_OUT_MAX);
		if (!strchr(in, '$'))
			CHECK(strcmp(out, in) == 0);
		free(out);
	} else {
		CHECK(out == NULL);
	}
	free(in);
	return 0;
}
