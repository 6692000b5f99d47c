// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/macro/macro.c: every macro example of seed 001 (Flying Voice auto
 * provisioning overview) for a device with MAC 0021F2011B19, then the edges the seed's
 * rules imply: unknown names and malformed references left as written, no recursion,
 * substrings out of range, the output cap, and the device variables.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro/macro.h"

/* The seed's example device. */
static struct macro_device seed_device(void)
{
	struct macro_device d = { 0 };

	assert_int_equal(macro_device_set_mac(&d, "0021F2011B19", NULL), 0);
	d.model = "G502";
	d.serial = "E3C08109000051";
	d.ip = "201.45.12.89";
	d.sw_version = "v3.3.8";
	d.hw_version = "v1.0.1";
	return d;
}

static void expands(struct macro_device *d, const char *in, const char *want)
{
	char *out = NULL;

	assert_int_equal(macro_expand(in, macro_device_lookup, d, &out), 0);
	assert_non_null(out);
	if (strcmp(out, want) != 0)
		fail_msg("'%s' expanded to '%s', expected '%s'", in, out, want);
	free(out);
}

static void test_seed_variables(void **state)
{
	struct macro_device d = seed_device();

	/* the seed's table */
	expands(&d, "$MA", "0021f2011b19");
	expands(&d, "$MAU", "0021F2011B19");
	expands(&d, "$MAC", "00:21:f2:01:1b:19");
	expands(&d, "$PN", "G502");
	expands(&d, "$SN", "E3C08109000051");
	expands(&d, "$IP", "201.45.12.89");
	expands(&d, "$SWVER", "v3.3.8");
	expands(&d, "$HWVER", "v1.0.1");
	d.model = "VOIP ATA";
	expands(&d, "$PN", "VOIP ATA");
}

static void test_seed_examples(void **state)
{
	struct macro_device d = seed_device();

	/* "The form $MAU expands to 0021F2011B19." */
	expands(&d, "$MAU", "0021F2011B19");
	/* "$(MAU)config.cfg macro-expands into 0021F2011B19config.cfg" */
	expands(&d, "$(MAU)config.cfg", "0021F2011B19config.cfg");
	/* "$STRANGE$MAU.cfg macro-expands into $STRANGE0021F2011B19.cfg" */
	expands(&d, "$STRANGE$MAU.cfg", "$STRANGE0021F2011B19.cfg");
	/* "$$MAU expands into $MAU (the $$ is expanded), and not 0021F2011B19"; the seed's
	 * table says "$0021F2011B19", which contradicts "not applied recursively" */
	expands(&d, "$$MAU", "$MAU");
	/* "$(MAU:4) macro-expands into the string F2011B19" */
	expands(&d, "$(MAU:4)", "F2011B19");
	/* "$(MAU:8:2) macro-expands into the string 1B" */
	expands(&d, "$(MAU:8:2)", "1B");
	/* the URLs of the seed */
	expands(&d, "https://192.168.20.17/param_$MAU.conf",
		"https://192.168.20.17/param_0021F2011B19.conf");
	expands(&d, "tftp://prov.call.com/cpe/CW$MA.conf",
		"tftp://prov.call.com/cpe/CW0021f2011b19.conf");
	expands(&d, "http://neptune.speak.net:8080/prov/$PN/$MAU.conf",
		"http://neptune.speak.net:8080/prov/G502/0021F2011B19.conf");
	expands(&d, "http://www.flyingvoice.com/fv$(MAU).conf",
		"http://www.flyingvoice.com/fv0021F2011B19.conf");
	expands(&d, "tftp://www.flyingvoice.com/fv$(MAU).conf",
		"tftp://www.flyingvoice.com/fv0021F2011B19.conf");
	/* "The substitution works even within a quoted string" */
	expands(&d, "\"$MA\"", "\"0021f2011b19\"");
	expands(&d, "'$(MAU:0:6)'", "'0021F2'");
	/* the example site's encrypted profile rule */
	expands(&d, "[--key KEY]tftp://SERVER/fvenc$MAU.conf",
		"[--key KEY]tftp://SERVER/fvenc0021F2011B19.conf");
}

static void test_name_runs_and_case(void **state)
{
	struct macro_device d = seed_device();

	/* a name runs as far as letters, digits and '_' go: MAUconfig is unknown */
	expands(&d, "$MAUconfig.cfg", "$MAUconfig.cfg");
	expands(&d, "$MA_x", "$MA_x");
	expands(&d, "$(MA)_x", "0021f2011b19_x");
	expands(&d, "$MA.cfg", "0021f2011b19.cfg");
	expands(&d, "$MA-$MAU", "0021f2011b19-0021F2011B19");
	expands(&d, "a$MA$MA", "a0021f2011b190021f2011b19");
	/* names are case-sensitive */
	expands(&d, "$ma $Mau", "$ma $Mau");
	/* unknown names, delimited or not, with or without a substring */
	expands(&d, "$(STRANGE)", "$(STRANGE)");
	expands(&d, "$(STRANGE:1:2)x", "$(STRANGE:1:2)x");
	expands(&d, "$GPP_A", "$GPP_A");
}

static void test_dollar_edges(void **state)
{
	struct macro_device d = seed_device();

	expands(&d, "", "");
	expands(&d, "no macro", "no macro");
	expands(&d, "$", "$");
	expands(&d, "x$", "x$");
	expands(&d, "$$", "$");
	expands(&d, "$$$", "$$");
	expands(&d, "$$$$", "$$");
	expands(&d, "$$$MA", "$0021f2011b19");
	expands(&d, "$ MA", "$ MA");
	expands(&d, "$/x", "$/x");
	expands(&d, "100$", "100$");
	/* unclosed or malformed parentheses stay as written */
	expands(&d, "$(MA", "$(MA");
	expands(&d, "$(", "$(");
	expands(&d, "$()", "$()");
	expands(&d, "$(MA:)", "$(MA:)");
	expands(&d, "$(MA:1:)", "$(MA:1:)");
	expands(&d, "$(MA:x)", "$(MA:x)");
	expands(&d, "$(MA:-1)", "$(MA:-1)");
	expands(&d, "$(MA:1:2:3)", "$(MA:1:2:3)");
	expands(&d, "$(MA )", "$(MA )");
	expands(&d, "$( MA)", "$( MA)");
	/* after a malformed one, the next reference still expands */
	expands(&d, "$(MA$MA)", "$(MA0021f2011b19)");
	expands(&d, "$(MA:$MAU)", "$(MA:0021F2011B19)");
}

static void test_substrings_out_of_range(void **state)
{
	struct macro_device d = seed_device();

	expands(&d, "$(MAU:0)", "0021F2011B19");
	expands(&d, "$(MAU:0:0)", "");
	expands(&d, "$(MAU:0:12)", "0021F2011B19");
	expands(&d, "$(MAU:11)", "9");
	/* offset at or past the end: empty; length past the end: to the end */
	expands(&d, "$(MAU:12)", "");
	expands(&d, "$(MAU:13)x", "x");
	expands(&d, "$(MAU:10:100)", "19");
	expands(&d, "$(MAU:99999999999999999999999999:5)", "");
	expands(&d, "$(MAU:2:99999999999999999999999999)", "21F2011B19");
	expands(&d, "$(MAU:004:02)", "F2");
	expands(&d, "$(MAC:0:2)-$(MAC:15)", "00-19");
}

static void test_no_recursion(void **state)
{
	struct macro_device d = seed_device();

	/* a value holding a macro is inserted as it is */
	d.serial = "$MA";
	expands(&d, "$SN", "$MA");
	d.model = "$$";
	expands(&d, "$PN$PN", "$$$$");
	d.model = "$(MAU:1)";
	expands(&d, "x$(PN)y", "x$(MAU:1)y");
}

static void test_unset_fields_unknown(void **state)
{
	struct macro_device d = { 0 };

	/* nothing set: every name is unknown */
	expands(&d, "$MA$MAU$MAC$PN$PSN$SN$IP$SWVER$HWVER", "$MA$MAU$MAC$PN$PSN$SN$IP$SWVER$HWVER");
	assert_int_equal(macro_device_set_mac(&d, "00:21:f2:01:1b:19", NULL), 0);
	d.series = "525";
	expands(&d, "$MAU/$PSN/$SN", "0021F2011B19/525/$SN");
	/* an empty value is a known, empty variable */
	d.serial = "";
	expands(&d, "[$SN]", "[]");
}

static void test_set_mac_any_spelling(void **state)
{
	struct macro_device d = { 0 };
	const char *why = NULL;

	assert_int_equal(macro_device_set_mac(&d, "0021f2011b1", &why), -EINVAL);
	assert_non_null(why);
	assert_string_equal(d.ma, "");
	assert_int_equal(macro_device_set_mac(&d, "00-21-F2-01-1B-19", &why), 0);
	assert_string_equal(d.ma, "0021f2011b19");
	assert_string_equal(d.mau, "0021F2011B19");
	assert_string_equal(d.mac, "00:21:f2:01:1b:19");
}

static const char *no_vars(void *ctx, const char *name, size_t len)
{
	return NULL;
}

static const char *big_value(void *ctx, const char *name, size_t len)
{
	return ctx;
}

static void test_null_lookup_and_cap(void **state)
{
	char *out = NULL, *in, *value;

	assert_int_equal(macro_expand("$A $$ $(B:1)", NULL, NULL, &out), 0);
	assert_string_equal(out, "$A $ $(B:1)");
	free(out);
	assert_int_equal(macro_expand("$A", no_vars, NULL, &out), 0);
	assert_string_equal(out, "$A");
	free(out);

	/* 1000 bytes per reference: 65 references pass the cap */
	value = malloc(1001);
	assert_non_null(value);
	memset(value, 'v', 1000);
	value[1000] = '\0';
	in = malloc(3 * 66 + 1);
	assert_non_null(in);
	for (int i = 0; i < 66; i++)
		memcpy(in + 3 * i, "$X ", 3);
	in[3 * 65] = '\0';
	assert_int_equal(macro_expand(in, big_value, value, &out), 0);
	assert_int_equal(strlen(out), 65 * 1001);
	free(out);
	in[3 * 65] = '$';
	in[3 * 66] = '\0';
	out = (char *)"untouched";
	assert_int_equal(macro_expand(in, big_value, value, &out), -E2BIG);
	assert_string_equal(out, "untouched");
	free(in);
	free(value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_variables),
		cmocka_unit_test(test_seed_examples),
		cmocka_unit_test(test_name_runs_and_case),
		cmocka_unit_test(test_dollar_edges),
		cmocka_unit_test(test_substrings_out_of_range),
		cmocka_unit_test(test_no_recursion),
		cmocka_unit_test(test_unset_fields_unknown),
		cmocka_unit_test(test_set_mac_any_spelling),
		cmocka_unit_test(test_null_lookup_and_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
