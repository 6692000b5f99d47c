// SPDX-License-Identifier: MIT
/*
 * Mustache templates (the Mustache specification v1.x: interpolation with dotted names
 * and the implicit iterator, sections, inverted sections, comments, partials, set
 * delimiters, standalone lines; lambdas are not supported). Data is JSON (jansson).
 * Configuration files are not HTML: {{x}} is not escaped unless the caller asks for
 * the specification's HTML escaping. Pure: no I/O, no logging.
 */
#ifndef AUTOPROV_TEMPLATE_MUSTACHE_H
#define AUTOPROV_TEMPLATE_MUSTACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct tpl;

struct tpl_error {
	char name[128];    /* the template (or partial) the error is in */
	unsigned line;     /* 1-based */
	char message[200]; /* "unclosed section 'x'", "unexpected '{{/y}}'", ... */
};

/* Compiles src (len bytes) named name. 0, or -EINVAL with err filled; -ENOMEM. */
int tpl_compile(const char *name, const char *src, size_t len, struct tpl **ret,
		struct tpl_error *err);
void tpl_free(struct tpl *t);

struct tpl_partials {
	/*
	 * The source of partial name: 0 with *ret_src / *ret_len (owned by the loader, valid
	 * until tpl_render returns), or -ENOENT, which renders as nothing (the spec's rule).
	 */
	int (*load)(void *arg, const char *name, const char **ret_src, size_t *ret_len);
	void *arg;
};

struct tpl_options {
	bool escape_html;    /* {{x}} HTML-escaped as the spec says ({{{x}}}, {{&x}} never) */
	size_t max_output;   /* 0: 64 MiB */
	unsigned max_depth;  /* nesting of partials and sections; 0: 64 */
};

/*
 * Renders t against ctx into a malloc'd, NUL-terminated *ret of *ret_len bytes.
 * partials and opts may be NULL. On error (a partial that does not compile, nesting or
 * output over the limits) nothing is returned and err says what and where: never a
 * half-rendered result.
 */
int tpl_render(const struct tpl *t, json_t *ctx, const struct tpl_partials *partials,
	       const struct tpl_options *opts, char **ret, size_t *ret_len, struct tpl_error *err);

#endif
