// SPDX-License-Identifier: MIT
/* What several subcommands share (cli/cli.h). */
#include <errno.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/log.h"
#include "server/config.h"
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

int cli_open_store(const char *prog, const char *site_dir, const char *config, struct store **ret,
		   char *err, size_t errsz)
{
	struct server_config cfg;
	char path[4096];
	int r;

	if (cli_site_config(prog, site_dir, config, &cfg, path, sizeof(path)) < 0) {
		snprintf(err, errsz, "%s: the configuration is not valid", path);
		return -EINVAL;
	}
	r = store_open_url(cfg.site.store_url, site_dir, ret, err, errsz);
	return r;
}
