// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the Mustache templates: the input is a template, then optionally
 * "\n%%\n" and the JSON data (an empty object without it). The template is compiled and
 * rendered twice, against a fixed set of partials (recursive, failing to compile, with
 * their own delimiters, indented): once with the default options and once escaping with
 * tight limits. Either a render succeeds with a NUL-terminated result within the limit,
 * the same each time, or it fails with -EINVAL / -E2BIG, returns nothing and says where.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "template/mustache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEPARATOR "\n%%\n"

static const struct {
	const char *name;
	const char *src;
} partials[] = {
	{ "a", "A{{x}}\n" },
	{ "list", "  {{#l}}\n  {{>a}}\n  {{/l}}\n" },
	{ "rec", "{{#n}}{{>rec}}{{/n}}[{{.}}]" },
	{ "loop", "x\n {{>loop}}\n" },
	{ "bad", "ok\n{{#x}}" },
	{ "delim", "{{=| |=}}|x| |>a|" },
	{ "dot", "{{.}}{{#.}}{{>dot}}{{/.}}" },
};

static int load(void *arg, const char *name, const char **ret_src, size_t *ret_len)
{
	unsigned *calls = arg;

	(*calls)++;
	for (size_t i = 0; i < sizeof(partials) / sizeof(partials[0]); i++) {
		if (strcmp(partials[i].name, name) == 0) {
			*ret_src = partials[i].src;
			*ret_len = strlen(partials[i].src);
			return 0;
		}
	}
	return -ENOENT;
}

static void check_error(const struct tpl_error *err)
{
	CHECK(memchr(err->name, '\0', sizeof(err->name)));
	CHECK(memchr(err->message, '\0', sizeof(err->message)));
	CHECK(err->message[0] != '\0');
	CHECK(err->line >= 1);
}

/* Renders twice with opts: the same result, or the same error, and nothing leaked. */
static void render(const struct tpl *t, json_t *ctx, const struct tpl_options *opts,
		   size_t max_calls)
{
	char *out[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	int r[2];

	for (int i = 0; i < 2; i++) {
		unsigned calls = 0;
		struct tpl_error err;
		char *ret = (char *)&calls; /* must not change on error */
		size_t ret_len = 7;

		memset(&err, 0, sizeof(err));
		r[i] = tpl_render(t, ctx, &(struct tpl_partials){ load, &calls }, opts, &ret,
				  &ret_len, &err);
		/* each partial is asked for once per render, however often it is used */
		CHECK(calls <= max_calls);
		if (r[i] == 0) {
			CHECK(ret != (char *)&calls);
			CHECK(ret[ret_len] == '\0');
			CHECK(!opts->max_output || ret_len <= opts->max_output);
			out[i] = ret;
			len[i] = ret_len;
		} else {
			CHECK(r[i] == -EINVAL || r[i] == -E2BIG);
			CHECK(ret == (char *)&calls && ret_len == 7);
			check_error(&err);
		}
	}
	CHECK(r[0] == r[1]);
	if (r[0] == 0)
		CHECK(len[0] == len[1] && memcmp(out[0], out[1], len[0]) == 0);
	free(out[0]);
	free(out[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tpl_options defaults = { .max_output = 1 << 20 };
	static const struct tpl_options tight = { .escape_html = true,
						  .max_output = 4096,
						  .max_depth = 6 };
	const char *src = (const char *)data;
	const char *sep = memmem(src, size, SEPARATOR, strlen(SEPARATOR));
	size_t tpl_len = sep ? (size_t)(sep - src) : size;
	struct tpl_error err;
	struct tpl *t = NULL;
	size_t max_calls = 4; /* a, rec, loop, dot */
	json_t *ctx;
	int r;

	if (sep) {
		const char *json = sep + strlen(SEPARATOR);

		ctx = json_loadb(json, size - tpl_len - strlen(SEPARATOR),
				 JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (!ctx)
			return 0;
	} else {
		ctx = json_object();
		CHECK(ctx);
	}

	memset(&err, 0, sizeof(err));
	r = tpl_compile("fuzz", src, tpl_len, &t, &err);
	if (r < 0) {
		size_t lines = 1;

		CHECK(r == -EINVAL);
		CHECK(t == NULL);
		check_error(&err);
		CHECK(strcmp(err.name, "fuzz") == 0);
		for (size_t i = 0; i < tpl_len; i++)
			lines += src[i] == '\n';
		CHECK(err.line <= lines);
		json_decref(ctx);
		return 0;
	}
	/* a partial tag has a '>' in the template, or is one of those the partials use */
	for (size_t i = 0; i < tpl_len; i++)
		max_calls += src[i] == '>';
	render(t, ctx, &defaults, max_calls);
	render(t, ctx, &tight, max_calls);
	tpl_free(t);
	json_decref(ctx);
	return 0;
}
