// SPDX-License-Identifier: MIT
/* Per-address counts: limits, ports ignored, IPv4 and IPv6 apart, entries freed at zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>

#include "core/addr.h"
#include "core/peers.h"

static void test_limits(void **state)
{
	struct peer_table t;
	struct peer_count *a1, *a2, *b1, *six, *x;
	struct addr a, a_other_port, b, v6;

	assert_int_equal(peer_table_init(&t, 3), 0);
	assert_int_equal(t.nbuckets, 4);
	assert_int_equal(addr_parse("10.0.0.1:1000", &a), 0);
	assert_int_equal(addr_parse("10.0.0.1:2000", &a_other_port), 0);
	assert_int_equal(addr_parse("10.0.0.2:1000", &b), 0);
	assert_int_equal(addr_parse("[::1]:1000", &v6), 0);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&a.ss, 2, &a1), 0);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&a_other_port.ss, 2, &a2), 0);
	assert_ptr_equal(a1, a2);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&a.ss, 2, &x), -EBUSY);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&b.ss, 2, &b1), 0);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&v6.ss, 1, &six), 0);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&v6.ss, 1, &x), -EBUSY);
	assert_int_equal(peer_table_take(&t, (struct sockaddr *)&b.ss, 0, &x), -EBUSY);
	assert_int_equal(peer_table_count(&t, (struct sockaddr *)&a.ss), 2);
	assert_int_equal(peer_table_count(&t, (struct sockaddr *)&b.ss), 1);
	peer_table_release(&t, a1);
	assert_int_equal(peer_table_count(&t, (struct sockaddr *)&a.ss), 1);
	peer_table_release(&t, a2);
	assert_int_equal(peer_table_count(&t, (struct sockaddr *)&a.ss), 0);
	peer_table_release(&t, NULL);
	/* b and v6 are still counted: destroy frees them (ASan checks) */
	peer_table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
