// SPDX-License-Identifier: MIT
/*
 * systemd's service notification protocol (sd_notify(3)), spoken over $NOTIFY_SOCKET without
 * libsystemd: READY, STATUS, RELOADING, STOPPING and watchdog keep-alives. Without
 * $NOTIFY_SOCKET (the daemon run by hand, by the tests, by another supervisor) every call
 * does nothing.
 */
#ifndef AUTOPROV_SERVER_NOTIFY_H
#define AUTOPROV_SERVER_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct notifier;

/*
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and connects the socket now, so that
 * the drop of privileges and Landlock later need no access to its path. 0 with *ret NULL
 * when there is no supervisor to tell; -errno (reason in err, *ret untouched) when the
 * variable is set but unusable.
 */
int notifier_open(struct notifier **ret, char *err, size_t errsz);
void notifier_free(struct notifier *n);

/* Sends "READY=1" or "RELOADING=1" etc. as one datagram; a NULL notifier does nothing. */
int notifier_send(struct notifier *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "RELOADING=1" with the MONOTONIC_USEC systemd 253 asks of Type=notify-reload services. */
int notifier_reloading(struct notifier *n);

/* Starts WATCHDOG=1 keep-alives on base every half of $WATCHDOG_USEC, when it is set. */
int notifier_start_watchdog(struct notifier *n, struct event_base *base);

/* The keep-alive interval in microseconds, 0 without a watchdog. */
uint64_t notifier_watchdog_usec(const struct notifier *n);

#endif
