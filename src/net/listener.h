// SPDX-License-Identifier: MIT
/*
 * A TCP listener on the loop, the one every TCP protocol accepts through (HTTP, HTTPS,
 * FTP): bound with SOMAXCONN, accepting in batches, addresses normalised once (an
 * IPv4-mapped IPv6 address becomes the IPv4 one, so one phone is one address in every log
 * and table), and the same answer to running out of descriptors everywhere: the protocol
 * may close a connection that waits (free_one), else accepting pauses for
 * NET_ACCEPT_PAUSE_MS, with a rate-limited warning.
 *
 * Before each accept the protocol is asked whether it has room (room): when it has none,
 * accepting pauses until it calls net_listener_resume() (a connection ended, a reload
 * raised a limit); new connections wait in the kernel's backlog meanwhile. With several
 * workers it asks again every NET_ACCEPT_PAUSE_MS too: the room may be made on another.
 *
 * Workers (docs/architecture.md, "Threads"): with net_set_workers(N > 1) every listener
 * socket, TCP here and the UDP ones the protocols make (net_reuseport), is bound with
 * SO_REUSEPORT, so that each worker has its own socket on the same port and the kernel
 * spreads connections (datagrams by their addresses) over them.
 */
#ifndef AUTOPROV_NET_LISTENER_H
#define AUTOPROV_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

struct event_base;
struct net_listener;

#define NET_ACCEPT_BATCH    64	/* accepts per readiness event: other events get their turn */
#define NET_ACCEPT_PAUSE_MS 100 /* out of descriptors with none to free: accepting again after */

struct net_listener_ops {
	/*
	 * Room for one more connection (closing a waiting one if the protocol does that when
	 * full)? false pauses accepting until net_listener_resume(); the protocol says why.
	 */
	bool (*room)(void *arg);
	/* Out of descriptors: close a connection that waits; true when one was closed. */
	bool (*free_one)(void *arg);
	/* A new connection: fd (non-blocking, close-on-exec) is the protocol's now. */
	void (*accepted)(void *arg, int fd, const struct addr *peer);
};

/*
 * Binds a (port 0: any free port) and listens. defer_s > 0: the kernel hands over a
 * connection only once it has data or after defer_s seconds (TCP_DEFER_ACCEPT: a
 * protocol whose client speaks first). proto names it in messages. 0 or a negative errno
 * with err ("http: cannot listen on 0.0.0.0:80: Permission denied").
 */
int net_listener_new(struct event_base *base, const char *proto, const struct addr *a,
		     unsigned defer_s, const struct net_listener_ops *ops, void *arg,
		     struct net_listener **ret, char *err, size_t errsz);
void net_listener_free(struct net_listener *l); /* closes the socket; accepts NULL */
/* Accepting again after the protocol had no room (not during a pause for descriptors). */
void net_listener_resume(struct net_listener *l);

/* The address bound (the port chosen for port 0), and whether it is a wildcard. */
const struct addr *net_listener_local(const struct net_listener *l);
bool net_listener_wildcard(const struct net_listener *l);
uint16_t net_listener_port(const struct net_listener *l);

/*
 * The number of workers that will bind the same addresses (1: none share; the default).
 * Set once at start, before any listener is made.
 */
void net_set_workers(unsigned n);
/* SO_REUSEPORT on fd when there are several workers; 0 or a negative errno. */
int net_reuseport(int fd);

/* a as the IPv4 address when it is an IPv4-mapped IPv6 one. */
void net_addr_unmap(struct addr *a);

/*
 * A listening socket on a (SO_REUSEADDR, SOMAXCONN, non-blocking, close-on-exec), with the
 * address bound in *local: for a listener whose accepts are another library's (the admin
 * side's). The descriptor, or a negative errno with err.
 */
int net_listen_socket(const char *proto, const struct addr *a, struct addr *local, char *err,
		      size_t errsz);

#endif
