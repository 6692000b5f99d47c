// SPDX-License-Identifier: MIT
/*
 * sd_notify over $NOTIFY_SOCKET: one AF_UNIX datagram per message, "KEY=VALUE" lines. The
 * address is a path, or an abstract name when it starts with '@'. The socket is connected
 * once at start (before the privileges go) and kept; a lost datagram is not retried, as
 * libsystemd does not retry either.
 */
#include "server/notify.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define TAG "systemd"

struct notifier {
	int fd;
	uint64_t watchdog_usec; /* 0: no watchdog */
	struct event *ev_watchdog;
};

/* $WATCHDOG_USEC for this process: 0 when unset, zero, malformed or meant for another pid. */
static uint64_t watchdog_from_env(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (!usec || !*usec)
		return 0;
	if (pid && *pid) {
		unsigned long p = strtoul(pid, &end, 10);

		if (*end || p != (unsigned long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	return v;
}

int notifier_open(struct notifier **ret, char *err, size_t errsz)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct notifier *n;
	socklen_t len;
	size_t plen;
	int fd;

	if (!path || !*path) {
		*ret = NULL;
		return 0;
	}
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "NOTIFY_SOCKET '%s' is not a socket path or @name", path);
		return -EINVAL;
	}
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, len) < 0) {
		int e = errno;

		snprintf(err, errsz, "NOTIFY_SOCKET %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	n->fd = fd;
	n->watchdog_usec = watchdog_from_env();
	/* what we were told is for us alone: a child must not notify in our name */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*ret = n;
	return 0;
}

void notifier_free(struct notifier *n)
{
	if (!n)
		return;
	if (n->ev_watchdog)
		event_free(n->ev_watchdog);
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}

static int send_text(struct notifier *n, const char *text, size_t len)
{
	if (send(n->fd, text, len, MSG_NOSIGNAL) < 0) {
		log_warn(TAG, "cannot notify the service manager");
		return -errno;
	}
	return 0;
}

int notifier_send(struct notifier *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int len;

	if (!n)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		return -EINVAL;
	if ((size_t)len >= sizeof(msg))
		len = sizeof(msg) - 1; /* a STATUS= line cut short is still a status */
	return send_text(n, msg, (size_t)len);
}

int notifier_reloading(struct notifier *n)
{
	struct timespec ts;

	if (!n)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return notifier_send(n, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading",
			     (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;

	send_text(n, "WATCHDOG=1", 10);
}

int notifier_start_watchdog(struct notifier *n, struct event_base *base)
{
	struct timeval tv;
	uint64_t half;

	if (!n || !n->watchdog_usec)
		return 0;
	half = n->watchdog_usec / 2;
	tv.tv_sec = (time_t)(half / 1000000u);
	tv.tv_usec = (suseconds_t)(half % 1000000u);
	n->ev_watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, n);
	if (!n->ev_watchdog || event_add(n->ev_watchdog, &tv) < 0)
		return -ENOMEM;
	send_text(n, "WATCHDOG=1", 10);
	log_info(TAG, "watchdog: a keep-alive every %" PRIu64 " ms", half / 1000u);
	return 0;
}

uint64_t notifier_watchdog_usec(const struct notifier *n)
{
	return n ? n->watchdog_usec : 0;
}
