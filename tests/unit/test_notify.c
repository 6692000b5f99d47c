// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/server/notify.c: without $NOTIFY_SOCKET nothing is sent and nothing
 * fails; with one (a path or an @abstract name) each message is one datagram; the watchdog
 * interval is read only when it is meant for this process; a malformed address is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/notify.h"

/* A bound datagram socket standing in for systemd; name: a path, or "@..." (abstract). */
static int listener(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sun,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
			 0);
	return fd;
}

static void receive(int fd, const char *want)
{
	char buf[1100];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_no_socket_is_no_notifier(void **state)
{
	struct notifier *n = (struct notifier *)1;
	char err[128];

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notifier_open(&n, err, sizeof(err)), 0);
	assert_null(n);
	assert_int_equal(notifier_send(n, "READY=1"), 0);
	assert_int_equal(notifier_reloading(n), 0);
	assert_int_equal(notifier_start_watchdog(n, NULL), 0);
	notifier_free(n);
}

static void test_path_socket_one_datagram_per_message(void **state)
{
	char path[] = "/tmp/autoprov-notify-XXXXXX", sock[64], err[128];
	struct notifier *n = NULL;
	int fd;

	assert_non_null(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/notify", path);
	fd = listener(sock);
	setenv("NOTIFY_SOCKET", sock, 1);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(notifier_open(&n, err, sizeof(err)), 0);
	assert_non_null(n);
	assert_null(getenv("NOTIFY_SOCKET")); /* not passed on to children */
	assert_int_equal(notifier_send(n, "READY=1\nSTATUS=serving %s", "/srv/site"), 0);
	receive(fd, "READY=1\nSTATUS=serving /srv/site");
	assert_int_equal(notifier_reloading(n), 0);
	{
		char buf[256];
		ssize_t r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		assert_true(r > 0);
		buf[r] = '\0';
		assert_non_null(strstr(buf, "RELOADING=1\nMONOTONIC_USEC="));
	}
	assert_int_equal(notifier_watchdog_usec(n), 0);
	notifier_free(n);
	close(fd);
	unlink(sock);
	rmdir(path);
}

static void test_abstract_socket_and_watchdog(void **state)
{
	char name[64], err[128], pid[32];
	struct notifier *n = NULL;
	int fd;

	snprintf(name, sizeof(name), "@autoprov-test-%ld", (long)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "30000000", 1);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notifier_open(&n, err, sizeof(err)), 0);
	assert_int_equal(notifier_watchdog_usec(n), 30000000);
	assert_int_equal(notifier_send(n, "STOPPING=1"), 0);
	receive(fd, "STOPPING=1");
	notifier_free(n);

	/* a watchdog meant for another process is not ours */
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "30000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(notifier_open(&n, err, sizeof(err)), 0);
	assert_int_equal(notifier_watchdog_usec(n), 0);
	notifier_free(n);
	close(fd);
}

static void test_bad_address_is_refused(void **state)
{
	struct notifier *n = NULL;
	char err[128];

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notifier_open(&n, err, sizeof(err)), -EINVAL);
	assert_null(n);
	assert_non_null(strstr(err, "relative/path"));
	setenv("NOTIFY_SOCKET", "/nonexistent/autoprov/notify", 1);
	assert_int_equal(notifier_open(&n, err, sizeof(err)), -ENOENT);
	assert_null(n);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_socket_is_no_notifier),
		cmocka_unit_test(test_path_socket_one_datagram_per_message),
		cmocka_unit_test(test_abstract_socket_and_watchdog),
		cmocka_unit_test(test_bad_address_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
