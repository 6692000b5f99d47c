// SPDX-License-Identifier: MIT
/*
 * The site's counters (site/metrics.c): protocols by name, a request counted once with its
 * bytes and its duration's bucket, and a /metrics label for every outcome, each its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "site/exchange.h"
#include "site/metrics.h"

static void test_protocols(void **state)
{
	(void)state;
	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
		assert_int_equal(metrics_proto_of(metrics_proto_name(p)), p);
	assert_int_equal(metrics_proto_of("https"), METRICS_HTTPS);
	assert_int_equal(metrics_proto_of("render"), _METRICS_PROTO_MAX);
	assert_int_equal(metrics_proto_of(NULL), _METRICS_PROTO_MAX);
}

static void test_request_and_its_bucket(void **state)
{
	static const uint64_t bounds[] = METRICS_DURATION_BOUNDS;
	struct site_metrics m;

	(void)state;
	memset(&m, 0, sizeof(m));
	metrics_request(&m, METRICS_TFTP, OUTCOME_SENT, 2048, 0);
	metrics_request(&m, METRICS_TFTP, OUTCOME_SENT, 2048, bounds[0]); /* le is inclusive */
	metrics_request(&m, METRICS_TFTP, OUTCOME_NOT_FOUND, 0, bounds[0] + 1);
	metrics_request(&m, METRICS_HTTP, OUTCOME_SENT, 10, 3600ull * 1000000); /* over them all */
	metrics_request(&m, _METRICS_PROTO_MAX, OUTCOME_SENT, 10, 1);		/* not counted */
	assert_int_equal(metrics_get(&m.requests[METRICS_TFTP][OUTCOME_SENT]), 2);
	assert_int_equal(metrics_get(&m.requests[METRICS_TFTP][OUTCOME_NOT_FOUND]), 1);
	assert_int_equal(metrics_get(&m.bytes[METRICS_TFTP]), 4096);
	assert_int_equal(metrics_get(&m.duration_bucket[METRICS_TFTP][0]), 2);
	assert_int_equal(metrics_get(&m.duration_bucket[METRICS_TFTP][1]), 1);
	assert_int_equal(metrics_get(&m.duration_sum_us[METRICS_TFTP]), 2 * bounds[0] + 1);
	assert_int_equal(
		metrics_get(&m.duration_bucket[METRICS_HTTP][METRICS_DURATION_BUCKETS - 1]), 1);
	assert_int_equal(metrics_get(&m.requests[METRICS_HTTP][OUTCOME_SENT]), 1);
}

static void test_every_outcome_has_its_own_label(void **state)
{
	(void)state;
	for (unsigned a = 0; a < _OUTCOME_MAX; a++) {
		const char *name = outcome_metric_name(a);

		assert_non_null(name);
		assert_true(name[0]);
		assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz_"), strlen(name));
		for (unsigned b = 0; b < a; b++)
			assert_string_not_equal(name, outcome_metric_name(b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_request_and_its_bucket),
		cmocka_unit_test(test_every_outcome_has_its_own_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
