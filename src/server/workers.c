// SPDX-License-Identifier: MIT
/*
 * The daemon's workers (workers.h): one libevent loop per thread, each with its servers on
 * SO_REUSEPORT sockets, all serving the one site. The main thread reaches another
 * worker's thread through an eventfd (worker_call): a reload, a stop.
 */
#include "server/workers.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "proto/ftp.h"
#include "proto/http.h"
#include "proto/sip.h"
#include "proto/tftp.h"
#include "server/config.h"
#include "site/site.h"

/* the worker whose loop runs on this thread: the site's checks end its iteration */
static _Thread_local struct worker *this_worker;

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush();
}

/* A line was logged: flush once the events of this loop iteration have run. */
static void log_kick(void *arg)
{
	struct worker *w = arg;

	event_active(w->ev_log, 0, 0);
}

static void on_site_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	site_tick(w->site);
}

/*
 * The site asks for site_tick() at the end of this loop iteration (site_set_tick): the
 * iteration of the worker that asked, whichever it is.
 */
static void site_kick(void *arg)
{
	(void)arg;
	if (this_worker)
		event_active(this_worker->ev_tick, 0, 0);
}

static void on_call(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	w->call(w, w->call_arg);
	sem_post(&w->called);
}

int worker_init(struct worker *w, unsigned id, struct site *site, struct event_base *base,
		bool log_batching, char *err, size_t errsz)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->site = site;
	w->callfd = -1;
	w->log_batching = log_batching;
	if (!base) {
		struct event_config *ecfg = event_config_new();

		/* one thread per loop: libevent's locks are not needed */
		if (ecfg) {
			event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
			base = event_base_new_with_config(ecfg);
			event_config_free(ecfg);
		}
		if (!base) {
			snprintf(err, errsz, "worker %u: cannot create its event loop", id);
			return -ENOMEM;
		}
	}
	w->base = base;
	w->ev_tick = event_new(base, -1, 0, on_site_tick, w);
	w->ev_log = event_new(base, -1, 0, on_log_flush, w);
	if (!w->ev_tick || !w->ev_log) {
		snprintf(err, errsz, "worker %u: cannot create its loop's events", id);
		return -ENOMEM;
	}
	if (id > 0) {
		w->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->callfd < 0 || sem_init(&w->called, 0, 0) < 0) {
			snprintf(err, errsz, "worker %u: eventfd: %s", id, strerror(errno));
			return -errno;
		}
		w->ev_call = event_new(base, w->callfd, EV_READ | EV_PERSIST, on_call, w);
		if (!w->ev_call || event_add(w->ev_call, NULL) < 0) {
			snprintf(err, errsz, "worker %u: cannot watch its eventfd", id);
			return -ENOMEM;
		}
	} else {
		/* the main thread: its loop is this worker's */
		this_worker = w;
		site_set_tick(site, site_kick, NULL);
		if (log_batching)
			log_set_batching(log_kick, w);
	}
	return 0;
}

/* cfg's address a with the port worker 0 bound (its port 0 resolved). */
static struct addr bound(const struct addr *a, uint16_t port)
{
	struct addr r = *a;

	addr_set_port(&r, port);
	return r;
}

int worker_listen(struct worker *w, const struct worker *first, const struct server_config *cfg,
		  const char *site_dir, SSL_CTX *https_tls, SSL_CTX *ftp_tls, char *err,
		  size_t errsz)
{
	int r;

	if (cfg->tftp.enabled) {
		struct tftp_config c = cfg->tftp;

		if (first)
			c.listen = bound(&c.listen, tftp_server_port(first->tftp));
		r = tftp_server_new(w->base, w->site, &c, &w->tftp, err, errsz);
		if (r < 0)
			return r;
		if (first)
			tftp_server_share(w->tftp, first->tftp);
	}
	if (cfg->http.enabled || cfg->http.https_enabled) {
		struct http_config c = cfg->http;

		if (first && first->http)
			c.listen = bound(&c.listen, http_server_port(first->http));
		if (first && first->https)
			c.https_listen = bound(&c.https_listen, http_server_port(first->https));
		if (cfg->http.enabled) {
			r = http_server_new(w->base, w->site, &c, NULL, &w->http, err, errsz);
			if (r < 0)
				return r;
			if (first)
				http_server_share(w->http, first->http);
		}
		if (cfg->http.https_enabled) {
			r = http_server_new(w->base, w->site, &c, https_tls, &w->https, err, errsz);
			if (r < 0)
				return r;
			if (first)
				http_server_share(w->https, first->https);
		}
	}
	if (cfg->ftp.enabled) {
		struct ftp_config c = cfg->ftp;

		if (first)
			c.listen = bound(&c.listen, ftp_server_port(first->ftp));
		r = ftp_server_new(w->base, w->site, site_dir, &c, ftp_tls, &w->ftp, err, errsz);
		if (r < 0)
			return r;
		if (first)
			ftp_server_share(w->ftp, first->ftp);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	this_worker = w;
	if (w->log_batching)
		log_set_batching(log_kick, w);
	if (event_base_dispatch(w->base) < 0)
		log_warnx(NULL, "worker %u: event loop failed", w->id);
	log_set_batching(NULL, NULL); /* writes what is batched */
	this_worker = NULL;
	return NULL;
}

int worker_start(struct worker *w)
{
	sigset_t all, old;
	int r;

	if (w->id == 0)
		return 0;
	/* signals are the main thread's (its loop watches them) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -r;
	w->started = true;
	return 0;
}

void worker_call(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg)
{
	uint64_t one = 1;

	if (!w->started) {
		fn(w, arg);
		return;
	}
	w->call = fn;
	w->call_arg = arg;
	if (write(w->callfd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
		log_warn(NULL, "worker %u: cannot reach its thread", w->id);
		return;
	}
	while (sem_wait(&w->called) < 0 && errno == EINTR)
		;
}

void worker_set_config(struct worker *w, const struct server_config *cfg, SSL_CTX *https_tls,
		       SSL_CTX *ftp_tls)
{
	if (w->tftp)
		tftp_server_set_config(w->tftp, &cfg->tftp);
	if (w->http)
		http_server_set_config(w->http, &cfg->http, NULL);
	if (w->https)
		http_server_set_config(w->https, &cfg->http, https_tls);
	if (w->ftp)
		ftp_server_set_config(w->ftp, &cfg->ftp, ftp_tls);
	if (w->sip)
		sip_server_set_config(w->sip, &cfg->sip);
}

static void break_loop(struct worker *w, void *arg)
{
	(void)arg;
	event_base_loopbreak(w->base);
}

void worker_stop(struct worker *w)
{
	if (!w->started)
		return;
	worker_call(w, break_loop, NULL);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void worker_done(struct worker *w)
{
	tftp_server_free(w->tftp);
	http_server_free(w->http);
	http_server_free(w->https);
	ftp_server_free(w->ftp);
	sip_server_free(w->sip);
	w->tftp = NULL;
	w->http = w->https = NULL;
	w->ftp = NULL;
	w->sip = NULL;
	if (w->ev_call)
		event_free(w->ev_call);
	if (w->ev_tick) {
		if (w->id == 0)
			site_set_tick(w->site, NULL, NULL);
		event_free(w->ev_tick);
	}
	if (w->ev_log) {
		if (w->id == 0 && w->log_batching)
			log_set_batching(NULL, NULL);
		event_free(w->ev_log);
	}
	w->ev_call = w->ev_tick = w->ev_log = NULL;
	if (w->callfd >= 0) {
		close(w->callfd);
		sem_destroy(&w->called);
		w->callfd = -1;
	}
	if (w->id > 0 && w->base)
		event_base_free(w->base);
	w->base = NULL;
	if (w->id == 0)
		this_worker = NULL;
}
