// SPDX-License-Identifier: MIT
/* The TCP listener every TCP protocol accepts through (net/listener.h). */
#include "net/listener.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loglimit.h"

/* the daemon's workers (net_set_workers), fixed before any listener is made */
static unsigned net_workers = 1;

void net_set_workers(unsigned n)
{
	net_workers = n ? n : 1;
}

int net_reuseport(int fd)
{
	int one = 1;

	/* errno stays set for a caller that reports it */
	if (net_workers > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

struct net_listener {
	const char *proto;
	int fd;
	struct addr local;
	bool wildcard;
	struct event *accept_ev;
	struct event *resume_ev; /* the end of a pause for descriptors */
	bool paused;		 /* no room, or out of descriptors */
	const struct net_listener_ops *ops;
	void *arg;
	struct log_limit log_accept;
};

void net_addr_unmap(struct addr *a)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
	struct sockaddr_in s4;

	if (a->ss.ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(&a->ss, 0, sizeof(a->ss));
	memcpy(&a->ss, &s4, sizeof(s4));
	a->len = sizeof(s4);
}

static int listen_socket(const char *proto, const struct addr *a, bool reuseport,
			 struct addr *local, char *err, size_t errsz)
{
	char la[ADDR_STRLEN];
	int one = 1, fd, e;

	addr_format((const struct sockaddr *)&a->ss, la, sizeof(la));
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport && net_reuseport(fd) < 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, SOMAXCONN) < 0) {
		e = errno;
		snprintf(err, errsz, "%s: cannot listen on %s: %s", proto, la, strerror(e));
		goto fail;
	}
	local->len = sizeof(local->ss);
	if (getsockname(fd, (struct sockaddr *)&local->ss, &local->len) < 0) {
		e = errno;
		snprintf(err, errsz, "%s: getsockname: %s", proto, strerror(e));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -e;
}

int net_listen_socket(const char *proto, const struct addr *a, struct addr *local, char *err,
		      size_t errsz)
{
	return listen_socket(proto, a, false, local, err, errsz);
}

static void pause_accepting(struct net_listener *l)
{
	if (!l->paused) {
		l->paused = true;
		event_del(l->accept_ev);
	}
}

void net_listener_resume(struct net_listener *l)
{
	if (l->paused && !evtimer_pending(l->resume_ev, NULL)) {
		l->paused = false;
		event_add(l->accept_ev, NULL);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct net_listener *l = arg;

	(void)fd;
	(void)what;
	/* the protocol may still be full: room() says so on the next readiness */
	l->paused = false;
	event_add(l->accept_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct net_listener *l = arg;

	(void)what;
	for (int i = 0; i < NET_ACCEPT_BATCH; i++) {
		struct addr peer = { .len = sizeof(peer.ss) };
		unsigned held;
		int fd;

		if (!l->ops->room(l->arg)) {
			pause_accepting(l);
			/*
			 * The room may be made on another worker (limits are shared), which
			 * does not know this listener: ask again after a while.
			 */
			if (net_workers > 1 && !evtimer_pending(l->resume_ev, NULL)) {
				struct timeval tv = { 0, NET_ACCEPT_PAUSE_MS * 1000 };

				evtimer_add(l->resume_ev, &tv);
			}
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&peer.ss, &peer.len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				struct timeval tv = { 0, NET_ACCEPT_PAUSE_MS * 1000 };

				/* a waiting connection's descriptor is worth more to a new one */
				if ((errno == EMFILE || errno == ENFILE) && l->ops->free_one(l->arg))
					continue;
				if (log_limit_ok(&l->log_accept, &held))
					log_warn(l->proto,
						 "accept (pausing %d ms; %u more since the last line)",
						 NET_ACCEPT_PAUSE_MS, held);
				pause_accepting(l);
				evtimer_add(l->resume_ev, &tv);
			}
			/* EAGAIN, or a connection that went away before it was accepted */
			return;
		}
		net_addr_unmap(&peer);
		l->ops->accepted(l->arg, fd, &peer);
	}
}

int net_listener_new(struct event_base *base, const char *proto, const struct addr *a,
		     unsigned defer_s, const struct net_listener_ops *ops, void *arg,
		     struct net_listener **ret, char *err, size_t errsz)
{
	struct net_listener *l = calloc(1, sizeof(*l));
	char la[ADDR_STRLEN];
	int defer = (int)defer_s;

	if (!l) {
		snprintf(err, errsz, "%s: out of memory", proto);
		return -ENOMEM;
	}
	l->proto = proto;
	l->ops = ops;
	l->arg = arg;
	l->fd = listen_socket(proto, a, true, &l->local, err, errsz);
	if (l->fd < 0) {
		int r = l->fd;

		free(l);
		return r;
	}
	if (defer > 0)
		(void)setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	l->wildcard = l->local.ss.ss_family == AF_INET
			      ? ((struct sockaddr_in *)&l->local.ss)->sin_addr.s_addr ==
					htonl(INADDR_ANY)
			      : memcmp(&((struct sockaddr_in6 *)&l->local.ss)->sin6_addr,
				       &in6addr_any, sizeof(struct in6_addr)) == 0;
	l->accept_ev = event_new(base, l->fd, EV_READ | EV_PERSIST, on_accept, l);
	l->resume_ev = evtimer_new(base, on_resume, l);
	if (!l->accept_ev || !l->resume_ev || event_add(l->accept_ev, NULL) < 0) {
		snprintf(err, errsz, "%s: cannot watch the listener", proto);
		net_listener_free(l);
		return -ENOMEM;
	}
	log_info(proto, "listening on %s",
		 addr_format((const struct sockaddr *)&l->local.ss, la, sizeof(la)));
	*ret = l;
	return 0;
}

void net_listener_free(struct net_listener *l)
{
	if (!l)
		return;
	if (l->accept_ev)
		event_free(l->accept_ev);
	if (l->resume_ev)
		event_free(l->resume_ev);
	close(l->fd);
	free(l);
}

const struct addr *net_listener_local(const struct net_listener *l)
{
	return &l->local;
}

bool net_listener_wildcard(const struct net_listener *l)
{
	return l->wildcard;
}

uint16_t net_listener_port(const struct net_listener *l)
{
	return addr_port((const struct sockaddr *)&l->local.ss);
}
