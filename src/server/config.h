// SPDX-License-Identifier: MIT
/* The daemon's configuration: DIR/autoprov.conf over built-in defaults. */
#ifndef AUTOPROV_SERVER_CONFIG_H
#define AUTOPROV_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"
#include "proto/ftp.h"
#include "proto/http.h"
#include "proto/sip.h"
#include "proto/tftp.h"
#include "site/site.h"

struct server_config {
	struct site_options site;
	struct tftp_config tftp;
	struct http_config http;
	struct ftp_config ftp;
	struct sip_config sip;
	struct admin_config admin;
	/* [journal] is site.journal */
	char user[64]; /* [server] user: who the daemon runs as when started as root */
	unsigned workers; /* [server] workers: event loops (threads); 0: auto, one per CPU */
};

#define SERVER_WORKERS_MAX 256

void server_config_default(struct server_config *cfg);
/*
 * Loads path over the defaults. A missing file is fine when optional (the site's default
 * file); otherwise 0 or a negative errno with "FILE:LINE: reason" in err.
 */
int server_config_load(struct server_config *cfg, const char *path, bool optional, char *err,
		       size_t errsz);
/* Parses a workers value: "auto" (0) or 1 to SERVER_WORKERS_MAX. 0 or -EINVAL. */
int server_config_parse_workers(const char *value, unsigned *ret);
/* The workers cfg asks for: "auto" is the CPUs online. */
unsigned server_config_workers(const struct server_config *cfg);
/* Parses a listener flag value: "ADDR:PORT" or "off". */
int server_config_parse_listen(const char *value, bool *ret_enabled, struct addr *ret);

#endif
