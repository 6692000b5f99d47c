// SPDX-License-Identifier: MIT
/* Subcommands of the autoprov binary: each takes argc/argv after its name. */
#ifndef AUTOPROV_CLI_CLI_H
#define AUTOPROV_CLI_CLI_H

int cmd_serve(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_md5(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_dhcp(int argc, char **argv);
int cmd_resync(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/*
 * What the commands that act as the daemon would (render, doctor, dhcp) read first: the
 * defaults, then config (NULL: SITE/autoprov.conf, which may be missing). path gets the file
 * read; errors are printed as "PROG: reason". Warnings only are logged. 0 or -1.
 */
#include <stddef.h>
struct server_config;
int cli_site_config(const char *prog, const char *site_dir, const char *config,
		    struct server_config *cfg, char *path, size_t pathsz);
/*
 * The site's store: the one its configuration (config, NULL: SITE/autoprov.conf, which may
 * be missing) names in [store] url, else SITE/autoprov.db. Only that key is read (the rest
 * is serve's to check); a file that is not INI or a URL that is not PostgreSQL's is an
 * error. A negative errno with the reason in err (no password in it).
 */
struct store;
int cli_open_store(const char *prog, const char *site_dir, const char *config, struct store **ret,
		   char *err, size_t errsz);

#endif
