// SPDX-License-Identifier: MIT
/* Per-address counts: limits, ports ignored, IPv4 and IPv6 apart, entries freed at zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>

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

struct taker {
	struct peer_table *t;
	const struct sockaddr *sa;
};

/* Takes and gives back one count 10 000 times (a worker's connections). */
static void *take_release(void *arg)
{
	struct taker *k = arg;
	struct peer_count *p;

	for (int i = 0; i < 10000; i++)
		if (peer_table_take(k->t, k->sa, 1000, &p) == 0)
			peer_table_release(k->t, p);
	return NULL;
}

/* Two workers' tables, one shared: a limit and the total hold across them, under threads. */
static void test_shared(void **state)
{
	struct peer_table first, second;
	struct peer_count *a1, *a2, *x;
	struct addr a;
	pthread_t th[2];
	struct taker k1 = { &first, NULL }, k2 = { &second, NULL };

	assert_int_equal(addr_parse("10.0.0.1:1000", &a), 0);
	assert_int_equal(peer_table_init(&first, 16), 0);
	assert_int_equal(peer_table_init(&second, 16), 0);
	peer_table_share(&second, &first);
	assert_int_equal(peer_table_take(&first, (struct sockaddr *)&a.ss, 2, &a1), 0);
	assert_int_equal(peer_table_take(&second, (struct sockaddr *)&a.ss, 2, &a2), 0);
	assert_ptr_equal(a1, a2);
	assert_int_equal(peer_table_take(&second, (struct sockaddr *)&a.ss, 2, &x), -EBUSY);
	assert_int_equal(peer_table_count(&first, (struct sockaddr *)&a.ss), 2);
	assert_int_equal(peer_table_total(&second), 2);
	k1.sa = k2.sa = (struct sockaddr *)&a.ss;
	assert_int_equal(pthread_create(&th[0], NULL, take_release, &k1), 0);
	assert_int_equal(pthread_create(&th[1], NULL, take_release, &k2), 0);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	assert_int_equal(peer_table_total(&first), 2);
	peer_table_release(&second, a1);
	peer_table_release(&first, a2);
	assert_int_equal(peer_table_total(&second), 0);
	assert_int_equal(peer_table_count(&second, (struct sockaddr *)&a.ss), 0);
	peer_table_destroy(&second);
	peer_table_destroy(&first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
