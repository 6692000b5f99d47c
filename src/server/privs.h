// SPDX-License-Identifier: MIT
/* Dropping root once the listeners are bound: user, capabilities, no-new-privs, Landlock. */
#ifndef AUTOPROV_SERVER_PRIVS_H
#define AUTOPROV_SERVER_PRIVS_H

#include <stddef.h>

#include "server/config.h"
#include "server/serve.h"

/*
 * Called once every listener is bound. Started as root, the process becomes --user /
 * [server] user (autoprov, else nobody with a warning; "root" keeps everything with a
 * warning): the database files are chowned to it, then supplementary groups, gid and uid
 * are set and verified, every capability goes (bounding and ambient sets included),
 * no-new-privileges is set, and where the kernel has Landlock file access is confined to
 * the site (read) and its database (read-write) plus the files SIGHUP re-reads.
 * Everything SIGHUP re-reads (the site's directories, config_path, the TLS files) must be
 * readable by the new user: otherwise this fails naming the path and the user.
 * Not started as root: nothing to do. 0, or a negative errno with the reason in err (the
 * daemon must then exit: it may be half-way through).
 */
int privs_drop(const struct serve_options *opts, const char *config_path,
	       const struct server_config *cfg, char *err, size_t errsz);

#endif
