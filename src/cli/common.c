// SPDX-License-Identifier: MIT
/* What several subcommands share (cli/cli.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <ini.h>

#include "cli/cli.h"
#include "core/log.h"
#include "server/config.h"
#include "site/site.h"
#include "store/store.h"

int cli_site_config(const char *prog, const char *site_dir, const char *config,
		    struct server_config *cfg, char *path, size_t pathsz)
{
	char err[512];

	log_init(LOG_LEVEL_WARN, false);
	if (config)
		snprintf(path, pathsz, "%s", config);
	else
		snprintf(path, pathsz, "%s/autoprov.conf", site_dir);
	server_config_default(cfg);
	if (server_config_load(cfg, path, !config, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

/* [store] url of a configuration file, for cli_open_store */
struct store_url_scan {
	char url[1024];
	bool too_long;
};

static int scan_store_url(void *arg, const char *section, const char *name, const char *value)
{
	struct store_url_scan *u = arg;

	if (strcmp(section, "store") == 0 && strcmp(name, "url") == 0) {
		if (strlen(value) >= sizeof(u->url))
			u->too_long = true;
		else
			snprintf(u->url, sizeof(u->url), "%s", value);
	}
	return 1; /* the rest is serve's to check (serve --check) */
}

int cli_open_store(const char *prog, const char *site_dir, const char *config, struct store **ret,
		   char *err, size_t errsz)
{
	struct store_url_scan u = { .url = "" };
	char path[4096], shown[256];
	int line;

	/*
	 * Only [store] url is read: a command on the inventory needs nothing else, and a key
	 * serve would refuse elsewhere in the file does not stop it. Which store it is, though,
	 * is never guessed: a file that is not INI, or a URL that is not PostgreSQL's, is an
	 * error.
	 */
	(void)prog;
	if (config)
		snprintf(path, sizeof(path), "%s", config);
	else
		snprintf(path, sizeof(path), "%s/autoprov.conf", site_dir);
	line = ini_parse(path, scan_store_url, &u);
	if (line > 0 || (line < 0 && config)) {
		snprintf(err, errsz, line > 0 ? "%s:%d: not an INI line" : "%s: cannot be read", path,
			 line);
		return -EINVAL;
	}
	if (u.too_long || (u.url[0] && !site_store_url_is_pg(u.url))) {
		snprintf(err, errsz, "%s: [store] url '%s' is not a PostgreSQL URI", path,
			 site_redact_store_url(u.url, shown, sizeof(shown)));
		return -EINVAL;
	}
	return store_open_url(u.url, site_dir, ret, err, errsz);
}
