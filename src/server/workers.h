// SPDX-License-Identifier: MIT
/*
 * The daemon's workers ([server] workers, docs/architecture.md "Threads"): N libevent
 * loops, each on its own thread (worker 0 on the main thread, which also keeps the
 * signals, the journal's tick, the metrics' samples and systemd's watchdog), each with its
 * own servers for the same listeners: SO_REUSEPORT sockets (net/listener.h), so that the
 * kernel spreads connections and TFTP requests over them. A connection, an FTP session
 * (control and data), a TFTP transfer stays on the worker that took it; SIP PnP runs on
 * worker 0 only. Every worker serves the one site (site.h: shared under its lock), and the
 * servers of workers 1..N-1 count their connections in worker 0's tables
 * (http_server_share and the like), so every limit holds across workers.
 */
#ifndef AUTOPROV_SERVER_WORKERS_H
#define AUTOPROV_SERVER_WORKERS_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>

struct event;
struct event_base;
struct server_config;
struct site;

struct worker {
	unsigned id; /* 0: the main thread's */
	struct site *site;
	struct event_base *base;
	struct tftp_server *tftp;
	struct http_server *http;
	struct http_server *https;
	struct ftp_server *ftp;
	struct sip_server *sip; /* worker 0 only */
	struct event *ev_log;	/* writes the lines logged during one loop iteration */
	struct event *ev_tick;	/* ends the site's loop iteration (see site_set_tick) */
	struct event *ev_call;	/* callfd readable: run call on this thread */
	int callfd;		/* an eventfd, -1 for worker 0 */
	void (*call)(struct worker *w, void *arg);
	void *call_arg;
	sem_t called;
	pthread_t thread;
	bool started;
	bool log_batching; /* lines batched per loop iteration (not with syslog) */
};

/*
 * Worker id of site, on base (worker 0: the main loop's) or on a new loop (base NULL).
 * log_batching: lines logged on the worker's loop are written once per iteration. 0, or
 * -errno with the reason in err.
 */
int worker_init(struct worker *w, unsigned id, struct site *site, struct event_base *base,
		bool log_batching, char *err, size_t errsz);
/*
 * The worker's servers for cfg's TCP and TFTP listeners (SIP is worker 0's, made by the
 * caller: sip_server_new on its loop). Worker 0 binds cfg's addresses (port 0: any);
 * another binds the ports first bound and shares first's limits. https_tls and ftp_tls
 * (NULL when off) are referenced by the servers. 0, or -errno with the reason in err.
 */
int worker_listen(struct worker *w, const struct worker *first, const struct server_config *cfg,
		  const char *site_dir, SSL_CTX *https_tls, SSL_CTX *ftp_tls, char *err,
		  size_t errsz);
/* Runs a worker other than 0 on its thread, every signal blocked there. 0 or -errno. */
int worker_start(struct worker *w);
/*
 * Runs fn(w, arg) on w's thread and returns once it has run (at once for worker 0 and a
 * worker not started). For the main thread only.
 */
void worker_call(struct worker *w, void (*fn)(struct worker *w, void *arg), void *arg);
/* A reloaded configuration for the worker's servers (on its thread: worker_call). */
void worker_set_config(struct worker *w, const struct server_config *cfg, SSL_CTX *https_tls,
		       SSL_CTX *ftp_tls);
/* Stops w's loop and joins its thread (nothing for worker 0 or one not started). */
void worker_stop(struct worker *w);
/* Frees w's servers, events and loop (not worker 0's loop, the caller's). Accepts a zeroed w. */
void worker_done(struct worker *w);

#endif
