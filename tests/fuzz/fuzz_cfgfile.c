// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for cfg_parse(), cfg_merge() and fip_boot_parse(). Byte 0 picks the
 * format (or the boot file parser), the rest is the file. Invariants: a parsed setting has
 * a non-empty key without blanks or control characters, a value without control
 * characters other than tab, cfg_get() returns the last value of a key, merging a file
 * into an empty one leaves each key once with that value; a boot file's includes are
 * non-empty and within FIP_INCLUDES_MAX; a failure names its line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cfgfile.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, bool is_key)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		CHECK(c >= 0x20 || c == '\t');
		CHECK(c != 0x7f);
		if (is_key)
			CHECK(c != ' ' && c != '\t' && c != '=');
	}
}

static void check_cfg(const struct cfg *c)
{
	struct cfg merged = { NULL, 0 };

	for (size_t i = 0; i < c->n; i++) {
		CHECK(c->entries[i].key[0]);
		check_text(c->entries[i].key, true);
		check_text(c->entries[i].value, false);
	}
	CHECK(cfg_merge(&merged, c) == 0);
	CHECK(merged.n <= c->n);
	for (size_t i = 0; i < merged.n; i++) {
		const char *v = cfg_get(c, merged.entries[i].key);

		CHECK(v && strcmp(v, merged.entries[i].value) == 0);
		/* each key once (checked on small files: quadratic) */
		for (size_t j = i + 1; merged.n <= 256 && j < merged.n; j++)
			CHECK(strcmp(merged.entries[i].key, merged.entries[j].key) != 0);
	}
	cfg_done(&merged);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text, *why = NULL;
	size_t len, line = 0;
	char *copy;
	int r;

	if (size < 1)
		return 0;
	len = size - 1;
	/* an exact-size copy: ASan sees any read beyond len */
	copy = malloc(len ? len : 1);
	CHECK(copy);
	memcpy(copy, data + 1, len);
	text = copy;

	if (data[0] % 4 < 3) {
		enum cfg_format fmt = (enum cfg_format)(data[0] % 4);
		struct cfg c = { NULL, 0 };

		r = cfg_parse(fmt, text, len, &c, &line, &why);
		if (r == 0) {
			check_cfg(&c);
			cfg_done(&c);
		} else {
			CHECK(r == -EINVAL || r == -E2BIG);
			CHECK(why && line >= 1);
		}
	} else {
		struct fip_boot b = { 0 };

		r = fip_boot_parse(text, len, &b, &line, &why);
		if (r == 0) {
			CHECK(b.n <= FIP_INCLUDES_MAX);
			for (size_t i = 0; i < b.n; i++) {
				CHECK(b.includes[i][0]);
				check_text(b.includes[i], false);
			}
			check_cfg(&b.settings);
			CHECK(b.has_overwrite || !b.overwrite);
			fip_boot_done(&b);
		} else {
			CHECK(r == -EINVAL || r == -E2BIG);
			CHECK(why && line >= 1);
		}
	}
	free(copy);
	return 0;
}
