// SPDX-License-Identifier: MIT
/*
 * The provisioning URL a PnP NOTIFY carries: the [sip] url template of the phone's vendor
 * and model rendered with the request's built-ins and what the device directory knows of
 * the MAC.
 */
#include "proto/sip_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "site/directory.h"
#include "template/mustache.h"

static int set_str(json_t *ctx, const char *key, const char *value)
{
	return json_object_set_new(ctx, key, json_string(value)) < 0 ? -ENOMEM : 0;
}

/*
 * "tftp://10.0.0.1/", "tftp://10.0.0.1:6969/", "tftp://[2001:db8::1]/": this daemon's TFTP
 * listener as the phone reaches it, its port written when it is not 69. A listener on a
 * wildcard address is reached where the phone reached SIP (server_host).
 */
void sip_tftp_url(const struct sip_server *srv, const char *server_host, char *buf, size_t size)
{
	const struct addr *t = &srv->cfg.tftp;
	char h[ADDR_STRLEN];
	const char *host = server_host;
	unsigned port = t->len ? addr_port((const struct sockaddr *)&t->ss) : 69;
	bool v6;

	if (t->len && !sip_is_wildcard(&t->ss))
		host = addr_format_host((const struct sockaddr *)&t->ss, h, sizeof(h));
	v6 = strchr(host, ':') != NULL;
	if (port == 69)
		snprintf(buf, size, v6 ? "tftp://[%s]/" : "tftp://%s/", host);
	else
		snprintf(buf, size, v6 ? "tftp://[%s]:%u/" : "tftp://%s:%u/", host, port);
}

/*
 * The context of the URL template: the request's built-ins, then what the directory adds
 * (the MAC's forms, the device's model, profile and group, the defaults', its group's and
 * its own variables, SN for serial), as for rendered files.
 */
static json_t *url_context(struct sip_server *srv, const char *mac, const char *event_params,
			   const char *server_host, const struct sockaddr *peer, int *ret_err)
{
	json_t *ctx = json_object();
	char v[128], port[8];
	static const char *const params[] = { "vendor", "model", "version", "profile-type" };
	int r = 0;

	if (!ctx)
		return NULL;
	r |= set_str(ctx, "proto", "sip");
	r |= set_str(ctx, "server", server_host);
	snprintf(port, sizeof(port), "%u", srv->port);
	r |= set_str(ctx, "sip_port", port);
	sip_tftp_url(srv, server_host, v, sizeof(v));
	r |= set_str(ctx, "tftp_url", v);
	r |= set_str(ctx, "peer", addr_format_host(peer, v, sizeof(v)));
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (sip_param_get(event_params, params[i], v, sizeof(v)) == 0)
			r |= set_str(ctx, i == 3 ? "profile_type" : params[i], v);
	if (srv->site && r == 0) {
		site_lock(srv->site); /* the directory is the workers' (site.h) */
		r = directory_merge_mac(site_directory(srv->site), mac, ctx);
		site_unlock(srv->site);
	}
	if (r) {
		*ret_err = r == DIRECTORY_UNAVAILABLE ? r : -ENOMEM;
		json_decref(ctx);
		return NULL;
	}
	return ctx;
}

/* The provisioning URL for this SUBSCRIBE into *ret (malloc'd). 0 or -errno (logged). */
int sip_render_url(struct sip_server *srv, const char *mac, const char *event_params,
		   const char *server_host, const struct sockaddr *peer, char **ret)
{
	char vendor[64] = "", model[64] = "", *out = NULL;
	const char *src;
	struct tpl *t = NULL;
	struct tpl_error err;
	struct tpl_options opts = { .max_output = SIP_URL_MAX * 4 };
	json_t *ctx;
	size_t len;
	int r;

	(void)sip_param_get(event_params, "vendor", vendor, sizeof(vendor));
	(void)sip_param_get(event_params, "model", model, sizeof(model));
	if (!model[0] && mac[0] && srv->site) {
		site_lock(srv->site);
		(void)directory_model(site_directory(srv->site), mac, model, sizeof(model));
		site_unlock(srv->site);
	}
	src = sip_config_url(&srv->cfg, vendor, model);
	r = -ENOMEM;
	ctx = url_context(srv, mac, event_params, server_host, peer, &r);
	if (!ctx)
		return r;
	r = tpl_compile("[sip] url", src, strlen(src), &t, &err);
	if (r == 0)
		r = tpl_render(t, ctx, NULL, &opts, &out, &len, &err);
	tpl_free(t);
	json_decref(ctx);
	if (r < 0) {
		log_warnx(TAG, "the URL template '%s' fails: %s", src, err.message);
		return r;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)out[i] < ' ' || out[i] == 0x7f) {
			log_warnx(TAG, "the URL rendered from '%s' has control characters", src);
			free(out);
			return -EINVAL;
		}
	*ret = out;
	return 0;
}
