// SPDX-License-Identifier: MIT
/* INI loading through inih, validated against a key table (see conf.h). */
#include "core/conf.h"

#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

struct conf_load_state {
	const struct conf_key *keys;
	void *obj;
	char reason[256]; /* of the first error the handler found */
	bool failed;
	int failed_line;

	/* the reader's side: inih sees lines through conf_read_line() */
	FILE *file;
	char *line;
	size_t line_cap;
	int lineno;
	int long_line;	      /* first line longer than inih takes, 0 if none */
	int bad_section_line; /* first [section] the table does not know, 0 if none */
	char bad_section[64];
	int long_max;
	int read_errno;
};

static int conf_set(const struct conf_key *k, void *obj, const char *value, char *err, size_t errsz)
{
	void *field = (char *)obj + k->offset;
	uint64_t v;
	int r;

	switch (k->type) {
	case CONF_UINT:
	case CONF_SIZE:
		r = k->type == CONF_UINT ? str_to_u64(value, k->min, k->max, &v)
					 : str_to_size(value, k->min, k->max, &v);
		if (r == -EINVAL) {
			snprintf(err, errsz, "'%s' is not a %s", value,
				 k->type == CONF_UINT ? "number" : "size");
			return r;
		}
		if (r < 0) {
			snprintf(err, errsz, "%s is out of range (%llu..%llu)", value,
				 (unsigned long long)k->min, (unsigned long long)k->max);
			return r;
		}
		if (k->size == sizeof(unsigned))
			*(unsigned *)field = (unsigned)v;
		else
			*(uint64_t *)field = v;
		return 0;
	case CONF_BOOL:
		if (str_to_bool(value, (bool *)field) < 0) {
			snprintf(err, errsz, "'%s' is not a boolean (yes/no)", value);
			return -EINVAL;
		}
		return 0;
	case CONF_STRING:
		if (str_copy(field, k->size, value) < 0) {
			snprintf(err, errsz, "value longer than %zu characters", k->size - 1);
			return -ENAMETOOLONG;
		}
		return 0;
	case CONF_CUSTOM: return k->parse(field, value, err, errsz);
	}
	return -EINVAL;
}

/* inih callback: nonzero to go on, 0 marks this line as the error line. */
static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_load_state *st = user;
	bool section_known = false;
	char why[200];

	if (st->failed)
		return 1; /* keep the first error, ignore what follows */
	st->failed_line = st->lineno;
	for (const struct conf_key *k = st->keys; k->section; k++) {
		if (strcmp(k->section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(k->name, name) != 0)
			continue;
		if (conf_set(k, st->obj, value, why, sizeof(why)) < 0) {
			snprintf(st->reason, sizeof(st->reason), "[%s] %s: %s", section, name, why);
			st->failed = true;
			return 0;
		}
		return 1;
	}
	if (section_known)
		snprintf(st->reason, sizeof(st->reason), "[%s]: unknown key '%s'", section, name);
	else if (section[0] == '\0')
		snprintf(st->reason, sizeof(st->reason), "key '%s' outside of any [section]", name);
	else
		snprintf(st->reason, sizeof(st->reason), "unknown section [%s]", section);
	st->failed = true;
	return 0;
}

/* Notes a "[name]" line naming a section no key belongs to (inih reports none). */
static void check_section(struct conf_load_state *st, const char *line)
{
	const char *p = line + strspn(line, " \t");
	const char *end;
	size_t n;

	if (*p != '[')
		return;
	end = strchr(++p, ']');
	if (!end)
		return; /* inih reports the syntax error */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	n = (size_t)(end - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	for (const struct conf_key *k = st->keys; k->section; k++)
		if (strlen(k->section) == n && strncmp(k->section, p, n) == 0)
			return;
	st->bad_section_line = st->lineno;
	snprintf(st->bad_section, sizeof(st->bad_section), "%.*s", (int)(n < 60 ? n : 60), p);
}

/*
 * inih's reader: one line per call, counted, so that errors carry the right line number;
 * a line longer than inih's buffer is noted rather than split into two lines.
 */
static char *conf_read_line(char *str, int num, void *stream)
{
	struct conf_load_state *st = stream;
	ssize_t n;

	errno = 0;
	n = getline(&st->line, &st->line_cap, st->file);
	if (n < 0) {
		if (ferror(st->file))
			st->read_errno = errno ? errno : EIO;
		return NULL;
	}
	st->lineno++;
	if (n > num - 1) {
		if (!st->long_line) {
			st->long_line = st->lineno;
			st->long_max = num - 2;
		}
		n = num - 1;
	}
	memcpy(str, st->line, (size_t)n);
	str[n] = '\0';
	if (!st->bad_section_line)
		check_section(st, str);
	return str;
}

int conf_load(const char *path, const struct conf_key *keys, void *obj, char *err, size_t errsz)
{
	struct conf_load_state st = { .keys = keys, .obj = obj };
	int line;

	st.file = fopen(path, "re");
	if (!st.file) {
		int e = errno;

		snprintf(err, errsz, "%s: %s", path, strerror(e));
		return -e;
	}
	line = ini_parse_stream(conf_read_line, &st, conf_handler, &st);
	fclose(st.file);
	free(st.line);
	if (st.read_errno) {
		snprintf(err, errsz, "%s: %s", path, strerror(st.read_errno));
		return -st.read_errno;
	}
	if (line < 0) {
		snprintf(err, errsz, "%s: cannot parse", path);
		return -EINVAL;
	}
	/* The earliest of: a line too long, an unknown section, inih's or the handler's error. */
	if (st.bad_section_line && (line == 0 || st.bad_section_line <= line) &&
	    (!st.long_line || st.bad_section_line < st.long_line)) {
		snprintf(err, errsz, "%s:%d: unknown section [%s]", path, st.bad_section_line,
			 st.bad_section);
		return -EINVAL;
	}
	if (st.long_line && (line == 0 || st.long_line <= line)) {
		snprintf(err, errsz, "%s:%d: line longer than %d characters", path, st.long_line,
			 st.long_max);
		return -EINVAL;
	}
	if (line == 0)
		return 0;
	if (!st.failed || st.failed_line != line)
		snprintf(st.reason, sizeof(st.reason),
			 "syntax error (expected [section] or key = value)");
	snprintf(err, errsz, "%s:%d: %s", path, line, st.reason);
	return -EINVAL;
}
