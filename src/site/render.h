// SPDX-License-Identifier: MIT
/*
 * The site's rendered files: templates (DIR/templates/, whose paths are routes), their
 * partials (DIR/partials/), and the render cache; device data comes from the directory
 * (site/directory.h), which tells the renderer what to drop when the inventory changes. Used by the resolver in site.c; not by protocols directly.
 */
#ifndef AUTOPROV_SITE_RENDER_H
#define AUTOPROV_SITE_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "site/directory.h"
#include "site/site.h"
#include "store/store.h"

struct renderer;

/*
 * store: for the version counters; dir: device data; metrics: where the cache's hits,
 * misses and size are counted (all three outlive the renderer).
 */
struct site_metrics;
int renderer_new(const char *site_dir, struct store *store, struct directory *dir,
		 const struct site_options *opts, struct site_metrics *metrics,
		 struct renderer **ret, char *err, size_t errsz);
void renderer_free(struct renderer *rd);
/* New options; templates rescanned and the render cache emptied. */
void renderer_reload(struct renderer *rd, const struct site_options *opts);

/*
 * Renders path (normalised) if a route matches it. Returns 0 with *ret (a reference),
 * -ENOENT when no route matches or the route's device is unknown or disabled, -EIO for
 * a template or render error (logged, with the template's name and line).
 * req->mac is set when a route bound a MAC.
 */
int renderer_resolve(struct renderer *rd, const char *path, struct site_request *req,
		     struct site_file **ret);

/*
 * Whether the inventory has a device (enabled or not) of canonical MAC mac: 1, 0, or a
 * negative errno when the inventory cannot be read.
 */
int renderer_device_known(struct renderer *rd, const char *mac);

/*
 * Checks of templates, partials and the inventory at most once per loop iteration:
 * kick(arg) asks the caller to call renderer_tick() when the iteration ends.
 */
void renderer_set_tick(struct renderer *rd, void (*kick)(void *arg), void *arg);
void renderer_tick(struct renderer *rd);

/* Number of routes (templates) found by the last scan. */
size_t renderer_nroutes(const struct renderer *rd);

#endif
