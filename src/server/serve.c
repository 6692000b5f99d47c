// SPDX-License-Identifier: MIT
/*
 * The daemon: configuration (file, then command-line overrides), the site, its workers
 * (server/workers.h: one libevent loop per thread, each with every listener), the port
 * file, and signals (TERM / INT stop, HUP re-reads the configuration and forgets cached
 * files), which the main thread's loop (worker 0's) hears and takes to every worker.
 */
#include "server/serve.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "core/log.h"
#include "core/str.h"
#include "crypto/tls.h"
#include "proto/ftp.h"
#include "proto/http.h"
#include "proto/sip.h"
#include "proto/tftp.h"
#include "server/config.h"
#include "server/notify.h"
#include "server/privs.h"
#include "server/workers.h"
#include "net/listener.h"
#include "site/metrics.h"
#include "site/site.h"

struct server {
	const struct serve_options *opts;
	char config_path[PATH_MAX];
	bool config_optional;
	struct server_config cfg;
	struct event_base *base; /* the main thread's loop: worker 0's */
	struct site *site;
	unsigned nworkers;
	struct worker *workers; /* [0] runs on the main thread */
	/* worker 0's servers: the ports bound, what is exposed */
	struct tftp_server *tftp;
	struct http_server *http;
	struct http_server *https;
	struct ftp_server *ftp;
	struct sip_server *sip;
	struct admin_server *admin;
	char node[256];
	char listeners[1024]; /* what /api/v1/status says is served */
	struct event *ev_term, *ev_int, *ev_hup;
	struct event *ev_journal; /* the journal's tick, every JOURNAL_FLUSH_MS */
	struct event *ev_metrics; /* samples for /metrics, every second */
	/* a shared store (PostgreSQL): its notifications, and the poll every second */
	struct event *ev_watch, *ev_watch_poll;
	unsigned watch_ticks;
	struct notifier *notifier; /* systemd's NOTIFY_SOCKET, or NULL */
};

/* What a reload hands to each worker's servers. */
struct reload {
	const struct server_config *cfg;
	SSL_CTX *https_tls, *ftp_tls;
};

static void notify_serving(struct server *s, const char *prefix);

/*
 * An error before the loop runs: "autoprov: reason" on stderr, as command-line tools
 * say it (and through syslog too when the daemon logs there).
 */
__attribute__((format(printf, 2, 3))) static void startup_error(const struct serve_options *opts,
								const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (opts->syslog || opts->daemon)
		log_err(NULL, "%s", msg);
	fprintf(stderr, "autoprov: %s\n", msg);
}

/* Defaults, the file, then the command line. 0 or -errno with the reason in err. */
static int server_load_config(struct server *s, struct server_config *cfg, char *err, size_t errsz)
{
	int r;

	server_config_default(cfg);
	r = server_config_load(cfg, s->config_path, s->config_optional, err, errsz);
	if (r < 0)
		return r;
	if (s->opts->tftp_listen &&
	    server_config_parse_listen(s->opts->tftp_listen, &cfg->tftp.enabled,
				       &cfg->tftp.listen) < 0) {
		snprintf(err, errsz, "--tftp: '%s' is not ADDR:PORT or off", s->opts->tftp_listen);
		return -EINVAL;
	}
	if (s->opts->http_listen &&
	    server_config_parse_listen(s->opts->http_listen, &cfg->http.enabled,
				       &cfg->http.listen) < 0) {
		snprintf(err, errsz, "--http: '%s' is not ADDR:PORT or off", s->opts->http_listen);
		return -EINVAL;
	}
	if (s->opts->https_listen &&
	    server_config_parse_listen(s->opts->https_listen, &cfg->http.https_enabled,
				       &cfg->http.https_listen) < 0) {
		snprintf(err, errsz, "--https: '%s' is not ADDR:PORT or off",
			 s->opts->https_listen);
		return -EINVAL;
	}
	if (s->opts->ftp_listen &&
	    server_config_parse_listen(s->opts->ftp_listen, &cfg->ftp.enabled, &cfg->ftp.listen) <
		    0) {
		snprintf(err, errsz, "--ftp: '%s' is not ADDR:PORT or off", s->opts->ftp_listen);
		return -EINVAL;
	}
	if (s->opts->sip_listen &&
	    server_config_parse_listen(s->opts->sip_listen, &cfg->sip.enabled, &cfg->sip.listen) <
		    0) {
		snprintf(err, errsz, "--sip: '%s' is not ADDR:PORT or off", s->opts->sip_listen);
		return -EINVAL;
	}
	if (s->opts->workers && server_config_parse_workers(s->opts->workers, &cfg->workers) < 0) {
		snprintf(err, errsz, "--workers: '%s' is not a number (1 to %d) or auto",
			 s->opts->workers, SERVER_WORKERS_MAX);
		return -EINVAL;
	}
	if (s->opts->admin_listen &&
	    server_config_parse_listen(s->opts->admin_listen, &cfg->admin.enabled,
				       &cfg->admin.listen) < 0) {
		snprintf(err, errsz, "--admin: '%s' is not ADDR:PORT or off", s->opts->admin_listen);
		return -EINVAL;
	}
	return 0;
}

/*
 * The TLS context of FTPS and of the admin listener: [https]'s certificate and key, without
 * asking for client certificates (FTP clients and browsers do not send them). what names
 * the setting in errors ("ftp: [ftp] tls"). 0 or -errno with the reason in err.
 */
static int plain_tls_ctx(const struct server_config *cfg, const char *site_dir, const char *what,
			 SSL_CTX **ret, char *err, size_t errsz)
{
	struct tls_config tls = cfg->http.tls;
	char why[400];
	int r;

	tls.client_certs = TLS_CLIENT_OFF;
	r = tls_server_ctx_new(&tls, site_dir, ret, why, sizeof(why));
	if (r < 0)
		snprintf(err, errsz, "%s: %s", what, why);
	return r;
}

/* "tftp 41234" lines, written to FILE.tmp and renamed so readers never see half a file. */
static int write_port_file(struct server *s)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->opts->port_file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (s->tftp)
		fprintf(f, "tftp %u\n", tftp_server_port(s->tftp));
	if (s->http)
		fprintf(f, "http %u\n", http_server_port(s->http));
	if (s->https)
		fprintf(f, "https %u\n", http_server_port(s->https));
	if (s->ftp)
		fprintf(f, "ftp %u\n", ftp_server_port(s->ftp));
	if (s->sip)
		fprintf(f, "sip %u\n", sip_server_port(s->sip));
	if (s->admin)
		fprintf(f, "admin %u\n", admin_server_port(s->admin));
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		int e = errno;

		fclose(f);
		unlink(tmp);
		return -e;
	}
	fclose(f);
	if (rename(tmp, s->opts->port_file) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	log_info(NULL, "%s: stopping", strsignal((int)sig));
	notifier_send(s->notifier, "STOPPING=1\nSTATUS=stopping (%s)", strsignal((int)sig));
	event_base_loopbreak(s->base);
}

static void reload_worker(struct worker *w, void *arg)
{
	const struct reload *r = arg;

	worker_set_config(w, r->cfg, r->https_tls, r->ftp_tls);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct server_config cfg;
	SSL_CTX *tls = NULL, *ftp_tls = NULL;
	char err[512];

	notifier_reloading(s->notifier);
	if (server_load_config(s, &cfg, err, sizeof(err)) < 0) {
		log_warnx(NULL, "reload refused, keeping the running configuration: %s", err);
		notify_serving(s, "reload refused, see the log; ");
		return;
	}
	if (s->https &&
	    tls_server_ctx_new(&cfg.http.tls, s->opts->site_dir, &tls, err, sizeof(err)) < 0) {
		log_warnx(NULL, "reload refused, keeping the running configuration: %s", err);
		notify_serving(s, "reload refused, see the log; ");
		return;
	}
	if (cfg.tftp.enabled != s->cfg.tftp.enabled ||
	    memcmp(&cfg.tftp.listen, &s->cfg.tftp.listen, sizeof(cfg.tftp.listen)) != 0 ||
	    cfg.http.enabled != s->cfg.http.enabled ||
	    memcmp(&cfg.http.listen, &s->cfg.http.listen, sizeof(cfg.http.listen)) != 0 ||
	    cfg.http.https_enabled != s->cfg.http.https_enabled ||
	    memcmp(&cfg.http.https_listen, &s->cfg.http.https_listen,
		   sizeof(cfg.http.https_listen)) != 0)
		log_warnx(NULL, "listener addresses change only at restart");
	if (cfg.ftp.enabled != s->cfg.ftp.enabled ||
	    memcmp(&cfg.ftp.listen, &s->cfg.ftp.listen, sizeof(cfg.ftp.listen)) != 0)
		log_warnx(NULL, "the FTP listener's address changes only at restart");
	if (cfg.sip.enabled != s->cfg.sip.enabled ||
	    memcmp(&cfg.sip.listen, &s->cfg.sip.listen, sizeof(cfg.sip.listen)) != 0 ||
	    cfg.sip.multicast != s->cfg.sip.multicast ||
	    strcmp(cfg.sip.interfaces, s->cfg.sip.interfaces) != 0)
		log_warnx(NULL, "the SIP listener's address and groups change only at restart");
	if (server_config_workers(&cfg) != s->nworkers)
		log_warnx(NULL, "the number of workers changes only at restart");
	cfg.sip.tftp = s->cfg.sip.tftp; /* the listener stays */
	cfg.workers = s->cfg.workers;
	s->cfg = cfg;
	site_reload(s->site, &cfg.site);
	if (s->ftp && cfg.ftp.tls != FTP_TLS_OFF &&
	    plain_tls_ctx(&cfg, s->opts->site_dir, "ftp: [ftp] tls", &ftp_tls, err, sizeof(err)) <
		    0)
		log_warnx(NULL, "%s: FTPS keeps its certificate", err);
	/* each worker on its own thread, one after the other; all have it when this returns */
	for (unsigned i = 0; i < s->nworkers; i++)
		worker_call(
			&s->workers[i], reload_worker,
			&(struct reload){ .cfg = &s->cfg, .https_tls = tls, .ftp_tls = ftp_tls });
	if (ftp_tls)
		SSL_CTX_free(ftp_tls);
	if (tls)
		SSL_CTX_free(tls);
	log_info(NULL, "configuration re-read, file cache cleared%s",
		 s->nworkers > 1 ? " (every worker)" : "");
	notify_serving(s, "");
}

/*
 * Ten times a second the loop ends the journal's sampling windows due. The journal itself
 * is written by the writer's thread (site_journal_start), so that no request waits for the
 * database; only when that thread could not start does this tick write it, on the loop.
 */
#define JOURNAL_FLUSH_MS 100

static void on_journal_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (site_journal_flush(s->site) == -EBUSY)
		log_debug("journal", "database busy, will write at the next tick");
}

/* What the loop's modules count on their own goes to /metrics once a second. */
static void on_metrics_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	site_metrics_sample(s->site);
}

/* The change log is read every SITE_POLL_S anyway: a notification lost is late, not lost. */
static void on_store_watch(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (site_watch_read(s->site) < 0) {
		/* site_watch_read said so; the poll opens it again */
		event_free(s->ev_watch);
		s->ev_watch = NULL;
	}
}

static int store_watch_start(struct server *s)
{
	int fd = site_watch_open(s->site);

	if (fd < 0)
		return fd;
	s->ev_watch = event_new(s->base, fd, EV_READ | EV_PERSIST, on_store_watch, s);
	if (!s->ev_watch || event_add(s->ev_watch, NULL) < 0) {
		if (s->ev_watch)
			event_free(s->ev_watch);
		s->ev_watch = NULL;
		site_watch_close(s->site);
		return -ENOMEM;
	}
	return fd;
}

static void on_store_poll(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (!s->ev_watch) {
		/* lost: every second, the log (changes are then a second late at most) */
		site_changes_poll(s->site);
		(void)store_watch_start(s);
		return;
	}
	if (++s->watch_ticks % SITE_POLL_S == 0)
		site_changes_poll(s->site);
}

static void server_done(struct server *s)
{
	if (s->ev_watch)
		event_free(s->ev_watch);
	if (s->ev_watch_poll)
		event_free(s->ev_watch_poll);
	if (s->ev_journal)
		event_free(s->ev_journal);
	if (s->ev_metrics)
		event_free(s->ev_metrics);
	notifier_free(s->notifier);
	/* the others first: their servers count in worker 0's tables */
	for (unsigned i = s->nworkers; i-- > 0;)
		worker_stop(&s->workers[i]);
	for (unsigned i = s->nworkers; i-- > 0;)
		worker_done(&s->workers[i]);
	free(s->workers);
	admin_server_free(s->admin);
	if (s->ev_term)
		event_free(s->ev_term);
	if (s->ev_int)
		event_free(s->ev_int);
	if (s->ev_hup)
		event_free(s->ev_hup);
	/*
	 * Stopping already: a second TERM (a supervisor repeating itself) must not kill the
	 * process before the journal's last rows are written (freeing the events gave the
	 * signals their default action back).
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	site_free(s->site);
	if (s->base)
		event_base_free(s->base);
	libevent_global_shutdown();
}

/* "proto ADDR:PORT (what protects it)" appended to line at *o, for log_exposure(). */
static void exposure_item(char *line, size_t linesz, size_t *o, const char *proto,
			  const struct addr *listen, uint16_t port, const char *guard)
{
	struct sockaddr_storage ss = listen->ss;
	char la[ADDR_STRLEN];
	int n;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	n = snprintf(line + *o, linesz - *o, "%s%s %s (%s)", *o ? ", " : "", proto,
		     addr_format((struct sockaddr *)&ss, la, sizeof(la)), guard);
	if (n > 0 && (size_t)n < linesz - *o)
		*o += (size_t)n;
}

/* "tftp 0.0.0.0:69 (no login, every file), http ..." for every listener; "" for none. */
static void exposure_line(const struct server *s, char *line, size_t linesz)
{
	const struct server_config *c = &s->cfg;
	bool logins = c->http.auth != HTTP_LOGIN_OFF;
	const char *http_guard = logins ? "logins" : "no login";
	char https_guard[64];
	size_t o = 0;

	line[0] = '\0';
	snprintf(https_guard, sizeof(https_guard), "%s%s", logins ? "logins" : "no login",
		 c->http.tls.client_certs == TLS_CLIENT_REQUIRED ? ", client certificates required"
		 : c->http.tls.client_certs == TLS_CLIENT_OPTIONAL
			 ? ", client certificates optional"
			 : "");
	if (s->tftp)
		exposure_item(line, linesz, &o, "tftp", &c->tftp.listen,
			      tftp_server_port(s->tftp),
			      c->tftp.device_files == TFTP_DEVICE_FILES_DENY
				      ? "no login, generic files only"
				      : "no login, every file");
	if (s->http)
		exposure_item(line, linesz, &o, "http", &c->http.listen,
			      http_server_port(s->http), http_guard);
	if (s->https)
		exposure_item(line, linesz, &o, "https", &c->http.https_listen,
			      http_server_port(s->https), https_guard);
	if (s->ftp)
		exposure_item(line, linesz, &o, "ftp", &c->ftp.listen,
			      ftp_server_port(s->ftp),
			      c->ftp.anonymous ? "logins, anonymous for generic files" : "logins");
	if (s->sip)
		exposure_item(line, linesz, &o, "sip", &c->sip.listen, sip_server_port(s->sip),
			      "no login, answers only");
	if (s->admin)
		exposure_item(line, linesz, &o, "admin", &c->admin.listen,
			      admin_server_port(s->admin),
			      c->admin.metrics_open ? "tokens, /metrics open" : "tokens");
}

/* READY=1 and what is served, for `systemctl status`; prefix says what just happened. */
static void notify_serving(struct server *s, const char *prefix)
{
	char line[1024];

	if (!s->notifier)
		return;
	exposure_line(s, line, sizeof(line));
	notifier_send(s->notifier, "READY=1\nSTATUS=%sserving %s (%zu templates): %s", prefix,
		      s->opts->site_dir, site_nroutes(s->site), line[0] ? line : "no listener");
}

/*
 * One line at start saying what is exposed, each listener and whether logins or client
 * certificates protect it; and a warning when logins or certificates guard HTTP while TFTP,
 * which has neither, still hands out every device's files.
 */
/* A bound devices' listener, for the admin side's GET /devices/{mac}/files/{path}. */
static void admin_local_add(struct admin_info *info, const char *proto, const struct addr *listen,
			    uint16_t port, const char *prefix)
{
	struct admin_local *l;

	if (!proto || info->nlocals == ADMIN_MAX_LOCALS)
		return;
	l = &info->locals[info->nlocals++];
	l->proto = proto;
	l->addr = *listen;
	l->prefix = prefix;
	if (l->addr.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&l->addr.ss)->sin_port = htons(port);
	else if (l->addr.ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&l->addr.ss)->sin6_port = htons(port);
}

static void log_exposure(struct server *s)
{
	const struct server_config *c = &s->cfg;
	bool logins = c->http.auth != HTTP_LOGIN_OFF;
	bool certs = c->http.tls.client_certs != TLS_CLIENT_OFF;
	char line[1024];

	exposure_line(s, line, sizeof(line));
	if (line[0])
		log_info(NULL, "exposed: %s", line);
	str_copy(s->listeners, sizeof(s->listeners), line);
	if (s->tftp && c->tftp.device_files == TFTP_DEVICE_FILES_ALLOW &&
	    ((logins && (s->http || s->https)) || (certs && s->https)))
		log_warnx("tftp",
			  "%s are on, but TFTP serves every device's files without them: "
			  "set [tftp] device_files = deny, or turn TFTP off",
			  logins && certs && s->https ? "HTTP logins and client certificates"
			  : logins		      ? "HTTP logins"
						      : "client certificates");
}

/* Every connection is a descriptor: take all the system allows this process. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn(NULL, "cannot raise the limit of open files");
	}
}

/*
 * The workers and their servers, bound now (before the privileges drop); worker 0's loop
 * is s->base. Their threads start later (worker_start). 0, or -errno with err.
 */
static int start_workers(struct server *s, char *err, size_t errsz)
{
	bool batching = !s->opts->syslog && !s->opts->daemon;
	SSL_CTX *https_tls = NULL, *ftp_tls = NULL;
	int r = 0;

	s->workers = calloc(server_config_workers(&s->cfg), sizeof(*s->workers));
	if (!s->workers) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	net_set_workers(server_config_workers(&s->cfg));
	if (s->cfg.http.https_enabled)
		r = tls_server_ctx_new(&s->cfg.http.tls, s->opts->site_dir, &https_tls, err, errsz);
	if (r == 0 && s->cfg.ftp.enabled && s->cfg.ftp.tls != FTP_TLS_OFF)
		r = plain_tls_ctx(&s->cfg, s->opts->site_dir, "ftp: [ftp] tls", &ftp_tls, err,
				  errsz);
	for (unsigned i = 0; r == 0 && i < server_config_workers(&s->cfg); i++) {
		struct worker *w = &s->workers[i];

		r = worker_init(w, i, s->site, i == 0 ? s->base : NULL, batching, err, errsz);
		s->nworkers = i + 1; /* worker_done() undoes what init did */
		if (r == 0)
			r = worker_listen(w, i == 0 ? NULL : &s->workers[0], &s->cfg,
					  s->opts->site_dir, https_tls, ftp_tls, err, errsz);
		if (r == 0 && i == 0) {
			s->tftp = w->tftp;
			s->http = w->http;
			s->https = w->https;
			s->ftp = w->ftp;
			/* the PnP URL names the TFTP listener as bound (port 0 resolved) */
			if (s->tftp) {
				s->cfg.sip.tftp = s->cfg.tftp.listen;
				addr_set_port(&s->cfg.sip.tftp, tftp_server_port(s->tftp));
			}
		}
	}
	/*
	 * SIP on worker 0 only: a phone's SUBSCRIBE and the answer to our NOTIFY must meet
	 * the same transaction, and every socket on the port would get its own copy of a
	 * multicast SUBSCRIBE. One SUBSCRIBE per phone boot is no load to spread.
	 */
	if (r == 0 && s->cfg.sip.enabled) {
		r = sip_server_new(s->base, s->site, &s->cfg.sip, &s->workers[0].sip, err, errsz);
		s->sip = s->workers[0].sip;
	}
	if (https_tls)
		SSL_CTX_free(https_tls);
	if (ftp_tls)
		SSL_CTX_free(ftp_tls);
	return r;
}

int serve_main(const struct serve_options *opts)
{
	struct server s = { .opts = opts };
	struct event_config *ecfg;
	char err[512];
	int status = 1, r;

	log_init(opts->log_level, opts->syslog || opts->daemon);
	if (opts->config_path) {
		snprintf(s.config_path, sizeof(s.config_path), "%s", opts->config_path);
	} else {
		snprintf(s.config_path, sizeof(s.config_path), "%s/autoprov.conf", opts->site_dir);
		s.config_optional = true;
	}
	if (server_load_config(&s, &s.cfg, err, sizeof(err)) < 0) {
		startup_error(opts, "%s", err);
		return 1;
	}
	r = site_open(opts->site_dir, &s.cfg.site, &s.site, err, sizeof(err));
	if (r < 0) {
		startup_error(opts, "site: %s", err);
		return 1;
	}
	if (opts->check) {
		if (s.cfg.http.https_enabled) {
			SSL_CTX *tls;

			if (tls_server_ctx_new(&s.cfg.http.tls, opts->site_dir, &tls, err,
					       sizeof(err)) < 0) {
				startup_error(opts, "%s", err);
				site_free(s.site);
				return 1;
			}
			SSL_CTX_free(tls);
		}
		if (s.cfg.admin.enabled && s.cfg.admin.tls) {
			SSL_CTX *tls;

			if (plain_tls_ctx(&s.cfg, opts->site_dir, "admin: [admin] tls", &tls, err,
					  sizeof(err)) < 0) {
				startup_error(opts, "%s", err);
				site_free(s.site);
				return 1;
			}
			SSL_CTX_free(tls);
		}
		if (s.cfg.ftp.enabled && s.cfg.ftp.tls != FTP_TLS_OFF) {
			SSL_CTX *tls;

			if (plain_tls_ctx(&s.cfg, opts->site_dir, "ftp: [ftp] tls", &tls, err, sizeof(err)) < 0) {
				startup_error(opts, "%s", err);
				site_free(s.site);
				return 1;
			}
			SSL_CTX_free(tls);
		}
		site_free(s.site);
		if (s.config_optional && access(s.config_path, F_OK) < 0)
			printf("%s: not present, defaults apply; configuration OK\n",
			       s.config_path);
		else
			printf("%s: configuration OK\n", s.config_path);
		return 0;
	}
	if (opts->daemon && daemon(1, 0) < 0) {
		startup_error(opts, "cannot detach: %s", strerror(errno));
		goto out;
	}

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
		s.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (!s.base) {
		startup_error(opts, "cannot create the event loop");
		goto out;
	}
	r = start_workers(&s, err, sizeof(err));
	if (r < 0) {
		startup_error(opts, "%s", err);
		goto out;
	}
	if (s.cfg.admin.enabled) {
		SSL_CTX *tls = NULL;
		struct admin_info info = {
			.version = AUTOPROV_VERSION,
			.node = s.node,
			.listeners = s.listeners,
			.site_dir = opts->site_dir,
			.started = (int64_t)time(NULL),
			.serving = s.site,
			.tftp_prefix = s.cfg.tftp.prefix,
			.http_prefix = s.cfg.http.prefix,
		};

		admin_local_add(&info, s.tftp ? "tftp" : NULL, &s.cfg.tftp.listen,
				s.tftp ? tftp_server_port(s.tftp) : 0, s.cfg.tftp.prefix);
		admin_local_add(&info, s.http ? "http" : NULL, &s.cfg.http.listen,
				s.http ? http_server_port(s.http) : 0, s.cfg.http.prefix);
		admin_local_add(&info, s.https ? "https" : NULL, &s.cfg.http.https_listen,
				s.https ? http_server_port(s.https) : 0, s.cfg.http.prefix);
		admin_local_add(&info, s.ftp ? "ftp" : NULL, &s.cfg.ftp.listen,
				s.ftp ? ftp_server_port(s.ftp) : 0, "");
		if (gethostname(s.node, sizeof(s.node) - 1) < 0)
			str_copy(s.node, sizeof(s.node), "localhost");
		r = s.cfg.admin.tls ? plain_tls_ctx(&s.cfg, opts->site_dir, "admin: [admin] tls",
						    &tls, err, sizeof(err))
				    : 0;
		if (r == 0)
			r = admin_server_new(opts->site_dir, &s.cfg.site, &s.cfg.admin, tls, &info,
					     &s.admin, err, sizeof(err));
		if (tls)
			SSL_CTX_free(tls);
		if (r < 0) {
			startup_error(opts, "%s", err);
			goto out;
		}
	}
	if (!s.tftp && !s.http && !s.https && !s.ftp && !s.sip)
		log_warnx(NULL, "no listener enabled: nothing will be served (TFTP is off unless "
				"--tftp or [tftp] listen names an address)");
	s.ev_term = evsignal_new(s.base, SIGTERM, on_stop, &s);
	s.ev_int = evsignal_new(s.base, SIGINT, on_stop, &s);
	s.ev_hup = evsignal_new(s.base, SIGHUP, on_reload, &s);
	if (!s.ev_term || !s.ev_int || !s.ev_hup || evsignal_add(s.ev_term, NULL) < 0 ||
	    evsignal_add(s.ev_int, NULL) < 0 || evsignal_add(s.ev_hup, NULL) < 0) {
		startup_error(opts, "cannot watch signals");
		goto out;
	}
	s.ev_journal = event_new(s.base, -1, EV_PERSIST, on_journal_tick, &s);
	if (!s.ev_journal ||
	    event_add(s.ev_journal, &(struct timeval){ .tv_usec = JOURNAL_FLUSH_MS * 1000 }) < 0) {
		startup_error(opts, "cannot schedule the journal");
		goto out;
	}
	s.ev_metrics = event_new(s.base, -1, EV_PERSIST, on_metrics_tick, &s);
	if (!s.ev_metrics || event_add(s.ev_metrics, &(struct timeval){ .tv_sec = 1 }) < 0) {
		startup_error(opts, "cannot schedule the metrics' samples");
		goto out;
	}
	/* a shared store: changes other nodes make are announced (SQLite: none needed) */
	if (store_watch_start(&s) >= 0) {
		s.ev_watch_poll = event_new(s.base, -1, EV_PERSIST, on_store_poll, &s);
		if (!s.ev_watch_poll ||
		    event_add(s.ev_watch_poll, &(struct timeval){ .tv_sec = 1 }) < 0) {
			startup_error(opts, "cannot schedule the store's poll");
			goto out;
		}
	}
	/* before the port file, which tells a supervisor (and the tests) that start-up is done */
	log_exposure(&s);
	log_flush();
	if (opts->port_file) {
		r = write_port_file(&s);
		if (r < 0) {
			startup_error(opts, "%s: %s", opts->port_file, strerror(-r));
			goto out;
		}
	}
	/*
	 * The journal's writer gets its own connection while the daemon may still open
	 * anything, and its thread once the privileges are dropped (the thread is confined as
	 * the loop's). Without it the loop writes the journal, as the command-line tools do.
	 */
	if (site_journal_open(s.site, err, sizeof(err)) < 0)
		log_warnx("journal", "the journal is written by the loop: %s", err);
	/* connected now: after the drop its path may be out of reach */
	r = notifier_open(&s.notifier, err, sizeof(err));
	if (r < 0)
		log_warnx("systemd", "%s: the service manager will not hear from us", err);
	/* bound, port file written: root is no longer needed */
	if (privs_drop(opts, s.config_path, &s.cfg, err, sizeof(err)) < 0) {
		startup_error(opts, "%s", err);
		goto out;
	}
	if (s.admin && admin_server_start(s.admin) < 0) {
		startup_error(opts, "admin: cannot start its thread");
		goto out;
	}
	r = site_journal_start(s.site);
	if (r < 0)
		log_warnx("journal", "cannot start the journal's thread (%s): the loop writes it",
			  strerror(-r));
	/* after the drop, as the writer: a thread is confined as the one that creates it */
	for (unsigned i = 1; i < s.nworkers; i++) {
		r = worker_start(&s.workers[i]);
		if (r < 0) {
			startup_error(opts, "worker %u: cannot start its thread: %s", i,
				      strerror(-r));
			goto out;
		}
	}
	log_info(NULL, "autoprov %s serving %s (%zu templates, %u worker%s)", AUTOPROV_VERSION,
		 opts->site_dir, site_nroutes(s.site), s.nworkers, s.nworkers == 1 ? "" : "s");
	notify_serving(&s, "");
	if (notifier_start_watchdog(s.notifier, s.base) < 0) {
		startup_error(opts, "cannot schedule the watchdog's keep-alives");
		goto out;
	}
	if (event_base_dispatch(s.base) < 0) {
		startup_error(opts, "event loop failed");
		goto out;
	}
	status = 0;
out:
	server_done(&s);
	return status;
}
