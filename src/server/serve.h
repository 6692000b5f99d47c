// SPDX-License-Identifier: MIT
/* `autoprov serve`: wires the configuration, the site and the listeners to one loop. */
#ifndef AUTOPROV_SERVER_SERVE_H
#define AUTOPROV_SERVER_SERVE_H

#include <stdbool.h>

#include "core/log.h"

struct serve_options {
	const char *site_dir;
	const char *config_path;  /* NULL: DIR/autoprov.conf, optional */
	const char *tftp_listen;  /* NULL: from the configuration */
	const char *http_listen;  /* NULL: from the configuration */
	const char *https_listen; /* NULL: from the configuration */
	const char *ftp_listen;	  /* NULL: from the configuration */
	const char *sip_listen;	  /* NULL: from the configuration */
	const char *admin_listen; /* NULL: from the configuration */
	const char *port_file;	  /* NULL: none */
	const char *user;	  /* NULL: [server] user */
	const char *workers;	  /* NULL: [server] workers */
	bool check;
	enum log_level log_level;
	bool syslog;
	bool daemon;
};

/* Runs the daemon until SIGTERM / SIGINT. Returns the process exit status. */
int serve_main(const struct serve_options *opts);

#endif
