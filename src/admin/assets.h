// SPDX-License-Identifier: MIT
/*
 * The dashboard's files (src/admin/dashboard/), built into the binary by
 * src/admin/embed_dir.py: served by admin/api_dashboard.c at / and /ui/NAME.
 */
#ifndef AUTOPROV_ADMIN_ASSETS_H
#define AUTOPROV_ADMIN_ASSETS_H

#include <stddef.h>

struct admin_asset {
	const char *name; /* relative to the directory: "index.html", "app.js" */
	const char *type; /* Content-Type, by the extension */
	const char *etag; /* a strong ETag of the content, quoted */
	const unsigned char *data;
	size_t len;
};

/* Every file, ended by an entry whose name is NULL. */
extern const struct admin_asset admin_dashboard_assets[];

#endif
