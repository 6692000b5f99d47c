// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/core/conf.c: INI files written to a temporary directory and loaded
 * through a key table of the tests' own, checking the values that land in the struct and
 * the "PATH:LINE: reason" an operator sees for the first bad line.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/conf.h"

enum colour {
	COLOUR_NONE,
	COLOUR_RED,
	COLOUR_BLUE,
};

struct sample_config {
	unsigned port;
	uint64_t counter;
	uint64_t cache;
	bool verbose;
	char name[8];
	enum colour colour;
};

static int parse_colour(void *field, const char *value, char *err, size_t errsz)
{
	enum colour *c = field;

	if (strcmp(value, "red") == 0) {
		*c = COLOUR_RED;
		return 0;
	}
	if (strcmp(value, "blue") == 0) {
		*c = COLOUR_BLUE;
		return 0;
	}
	snprintf(err, errsz, "'%s' is not a colour", value);
	return -EINVAL;
}

#define FIELD(f) offsetof(struct sample_config, f), sizeof(((struct sample_config *)0)->f)

static const struct conf_key sample_keys[] = {
	{ "net", "port", CONF_UINT, FIELD(port), 1, 65535, NULL },
	{ "net", "counter", CONF_UINT, FIELD(counter), 0, UINT64_MAX, NULL },
	{ "cache", "size", CONF_SIZE, FIELD(cache), 0, 1ull << 30, NULL },
	{ "cache", "verbose", CONF_BOOL, FIELD(verbose), 0, 0, NULL },
	{ "site", "name", CONF_STRING, FIELD(name), 0, 0, NULL },
	{ "site", "colour", CONF_CUSTOM, FIELD(colour), 0, 0, parse_colour },
	CONF_KEY_END,
};

struct conf_test {
	char dir[64];
	char path[128];
	struct sample_config cfg;
	char err[512];
};

static void sample_defaults(struct sample_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 69;
	cfg->counter = 1;
	cfg->cache = 64ull << 20;
	cfg->verbose = false;
	memcpy(cfg->name, "dflt", 5);
	cfg->colour = COLOUR_NONE;
}

static int setup(void **state)
{
	struct conf_test *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	memcpy(t->dir, "/tmp/autoprov-conf-XXXXXX", sizeof("/tmp/autoprov-conf-XXXXXX"));
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/autoprov.conf", t->dir);
	sample_defaults(&t->cfg);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct conf_test *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Writes text as the configuration file and loads it over the defaults. */
static int load(struct conf_test *t, const char *text)
{
	FILE *f = fopen(t->path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	t->err[0] = '\0';
	return conf_load(t->path, sample_keys, &t->cfg, t->err, sizeof(t->err));
}

/* The file must be refused, the error naming the file, line and containing what. */
static void assert_refused_at(struct conf_test *t, const char *text, int line, const char *what)
{
	char where[256];

	assert_int_equal(load(t, text), -EINVAL);
	snprintf(where, sizeof(where), "%s:%d: ", t->path, line);
	if (strncmp(t->err, where, strlen(where)) != 0)
		fail_msg("error '%s' does not start with '%s'", t->err, where);
	if (!strstr(t->err, what))
		fail_msg("error '%s' does not mention '%s'", t->err, what);
}

static void test_values_applied(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "# autoprov test\n"
				 "[net]\n"
				 "port = 6969\n"
				 "counter = 18446744073709551615\n"
				 "\n"
				 "; a comment\n"
				 "[cache]\n"
				 "size = 16M\n"
				 "verbose = yes\n"
				 "[site]\n"
				 "name = lab\n"
				 "colour = blue\n"),
			 0);
	assert_int_equal(t->cfg.port, 6969);
	assert_true(t->cfg.counter == UINT64_MAX);
	assert_true(t->cfg.cache == 16ull << 20);
	assert_true(t->cfg.verbose);
	assert_string_equal(t->cfg.name, "lab");
	assert_int_equal(t->cfg.colour, COLOUR_BLUE);
}

static void test_defaults_kept(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "[net]\nport = 70\n"), 0);
	assert_int_equal(t->cfg.port, 70);
	assert_true(t->cfg.counter == 1);
	assert_true(t->cfg.cache == 64ull << 20);
	assert_string_equal(t->cfg.name, "dflt");
	assert_int_equal(load(t, ""), 0);
	assert_int_equal(load(t, "# only a comment\n\n"), 0);
	assert_int_equal(t->cfg.port, 70);
}

static void test_unsigned_field_written_whole(void **state)
{
	struct conf_test *t = *state;

	/* an unsigned field is written as unsigned: the bytes next to it are not touched */
	assert_int_equal(load(t, "[net]\nport = 65535\n"), 0);
	assert_int_equal(t->cfg.port, 65535);
	assert_true(t->cfg.counter == 1);
	assert_int_equal(load(t, "[net]\nport = 1\n"), 0);
	assert_int_equal(t->cfg.port, 1);
}

static void test_later_value_wins(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "[net]\nport = 1000\n[cache]\nverbose = on\n[net]\nport = 2000\n"),
			 0);
	assert_int_equal(t->cfg.port, 2000);
	assert_true(t->cfg.verbose);
}

static void test_sizes(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "[cache]\nsize = 1G\n"), 0);
	assert_true(t->cfg.cache == 1ull << 30);
	assert_int_equal(load(t, "[cache]\nsize = 512k\n"), 0);
	assert_true(t->cfg.cache == 512ull << 10);
	assert_int_equal(load(t, "[cache]\nsize = 0\n"), 0);
	assert_true(t->cfg.cache == 0);
	assert_refused_at(t, "[cache]\nsize = 2G\n", 2, "out of range");
	assert_refused_at(t, "[cache]\nsize = 1T\n", 2, "not a size");
}

static void test_booleans(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "[cache]\nverbose = true\n"), 0);
	assert_true(t->cfg.verbose);
	assert_int_equal(load(t, "[cache]\nverbose = Off\n"), 0);
	assert_false(t->cfg.verbose);
	assert_refused_at(t, "[cache]\nverbose = maybe\n", 2, "maybe");
}

static void test_unknown_key(void **state)
{
	struct conf_test *t = *state;

	assert_refused_at(t, "[net]\nport = 69\nprot = 70\n", 3, "prot");
	assert_refused_at(t, "[net]\nport = 69\nprot = 70\n", 3, "unknown key");
	/* a key of another section is unknown here */
	assert_refused_at(t, "[net]\nsize = 1M\n", 2, "size");
}

static void test_unknown_section(void **state)
{
	struct conf_test *t = *state;

	/* at the section's own line, also when no key follows it */
	assert_refused_at(t, "[net]\nport = 69\n\n[ftp]\nport = 21\n", 4, "[ftp]");
	assert_refused_at(t, "[Net]\nport = 69\n", 1, "unknown section");
	assert_refused_at(t, "[net]\nport = 69\n[ftp]\n", 3, "unknown section [ftp]");
}

static void test_key_before_section(void **state)
{
	struct conf_test *t = *state;

	assert_refused_at(t, "port = 69\n[net]\nport = 70\n", 1, "port");
	assert_refused_at(t, "# comment\n\nport = 69\n", 3, "section");
}

static void test_out_of_range(void **state)
{
	struct conf_test *t = *state;

	assert_refused_at(t, "[net]\nport = 70000\n", 2, "70000 is out of range (1..65535)");
	assert_refused_at(t, "[net]\nport = 0\n", 2, "out of range");
	assert_refused_at(t, "[net]\ncounter = 18446744073709551616\n", 2, "out of range");
	/* the struct keeps its earlier value */
	assert_int_equal(t->cfg.port, 69);
}

static void test_not_a_number(void **state)
{
	struct conf_test *t = *state;

	assert_refused_at(t, "[net]\nport = abc\n", 2, "'abc' is not a number");
	assert_refused_at(t, "[net]\nport = -1\n", 2, "not a number");
	assert_refused_at(t, "[net]\nport = 69x\n", 2, "not a number");
	assert_refused_at(t, "[net]\nport = 0x45\n", 2, "not a number");
	assert_refused_at(t, "[net]\nport =\n", 2, "not a number");
}

static void test_string_too_long(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "[site]\nname = 1234567\n"), 0);
	assert_string_equal(t->cfg.name, "1234567");
	assert_refused_at(t, "[site]\nname = 12345678\n", 2, "longer than 7");
	assert_refused_at(t, "[site]\n\nname = a very long site name\n", 3, "name");
}

static void test_custom(void **state)
{
	struct conf_test *t = *state;

	assert_int_equal(load(t, "[site]\ncolour = red\n"), 0);
	assert_int_equal(t->cfg.colour, COLOUR_RED);
	assert_refused_at(t, "[site]\ncolour = green\n", 2, "'green' is not a colour");
}

static void test_syntax_error(void **state)
{
	struct conf_test *t = *state;

	assert_refused_at(t, "[net]\nport 69\n", 2, "syntax");
	assert_refused_at(t, "[net]\n[cache\n", 2, "syntax");
}

static void test_first_error_reported(void **state)
{
	struct conf_test *t = *state;

	assert_refused_at(t,
			  "[net]\n"
			  "port = 69\n"
			  "bogus = 1\n"
			  "port = 70000\n"
			  "[nowhere]\n"
			  "x = 1\n",
			  3, "bogus");
	assert_refused_at(t,
			  "[net]\n"
			  "port = 99999\n"
			  "bogus = 1\n",
			  2, "99999");
	/* lines after the first error are not applied either */
	t->cfg.port = 69;
	assert_refused_at(t, "[net]\ncounter = x\nport = 70\n", 2, "counter");
	assert_int_equal(t->cfg.port, 69);
}

static void test_first_error_after_syntax_error(void **state)
{
	struct conf_test *t = *state;

	/*
	 * A syntax error on line 2, then an unknown key on line 4: the line and the reason
	 * reported must both be line 2's.
	 */
	assert_refused_at(t, "[net]\nport 69\n\nbogus = 1\n", 2, "syntax");
}

static void test_long_line(void **state)
{
	struct conf_test *t = *state;
	char text[512];

	/*
	 * inih reads lines into a fixed buffer (200 bytes in Debian's build): a longer line is
	 * refused with its own line number, never split and parsed as two lines.
	 */
	snprintf(text, sizeof(text), "[net]\nport = %0250d\nport = 70\n", 69);
	assert_refused_at(t, text, 2, "longer than");
	assert_int_equal(t->cfg.port, 69);
}

static void test_directory_is_not_a_file(void **state)
{
	struct conf_test *t = *state;

	/* fopen() of a directory succeeds; the read error must not pass for an empty file. */
	assert_true(conf_load(t->dir, sample_keys, &t->cfg, t->err, sizeof(t->err)) < 0);
	assert_non_null(strstr(t->err, t->dir));
}

static void test_missing_file(void **state)
{
	struct conf_test *t = *state;
	char path[192];

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", t->dir);
	assert_int_equal(conf_load(path, sample_keys, &t->cfg, t->err, sizeof(t->err)), -ENOENT);
	assert_non_null(strstr(t->err, path));
	assert_int_equal(t->cfg.port, 69);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_field_written_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_value_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_booleans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_before_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_error_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_error_after_syntax_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_is_not_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
