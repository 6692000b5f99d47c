// SPDX-License-Identifier: MIT
/*
 * The Flyingvoice FIP profile (seed 002): the MAC-oriented boot file <mac>.boot, else the
 * common y000000000000.boot; its `include:config` files are downloaded top to bottom, URLs
 * relative to the boot file or absolute, and a later file's parameters override an earlier
 * one's. What differs from the settings in force is applied (only the parameters the files
 * name change). Resource files named by `*.url` parameters (phonebooks) are downloaded
 * and stored when their content changed. Network settings take effect after a reboot.
 *
 * Assumption (the seed does not say): a server with neither boot file is asked for the
 * common and MAC-oriented .cfg files directly, as the seed's trace shows phones do.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/cfgfile.h"
#include "agent/url.h"
#include "core/md5.h"

static const struct agent_default fip_defaults[] = {
	{ "pnp", "1" },			      /* SIP PnP on 224.0.1.75 */
	{ "reboot_prefixes", "network." },    /* parameters that take effect after a reboot */
	{ "pnp_address", "224.0.1.75:5060" }, /* where PnP SUBSCRIBEs go */
	{ "pnp_timeout", "5" },		      /* seconds to wait for the NOTIFY */
	{ NULL, NULL },
};

/* Where a pass is: a->step counts within the stage. */
struct fip_pass {
	char *boot_url; /* the boot file found */
	struct fip_boot boot;
	bool no_boot;	 /* neither boot file: the .cfg fallback */
	size_t resource; /* index in a->pending of the next resource */
};

static void fip_boot_step(struct ap_agent *a);
static void fip_include_step(struct ap_agent *a);
static void fip_resources(struct ap_agent *a);

static struct fip_pass *fip(struct ap_agent *a)
{
	return a->priv;
}

static void fip_pass_free(struct ap_agent *a)
{
	struct fip_pass *p = fip(a);
	if (!p)
		return;
	free(p->boot_url);
	fip_boot_done(&p->boot);
	free(p);
	a->priv = NULL;
}

static void fip_pass(struct ap_agent *a)
{
	fip_pass_free(a);
	a->priv = calloc(1, sizeof(struct fip_pass));
	if (!a->priv) {
		agent_pass_end(a, false, "out of memory");
		return;
	}
	a->step = 0;
	fip_boot_step(a);
}

static void fip_fetch_name(struct ap_agent *a, const char *name,
			   void (*next)(struct ap_agent *a, struct fetch_result *r))
{
	char *url = agent_url(a, a->server, NULL, name);
	if (!url) {
		agent_pass_end(a, false, "bad server URL %s", a->server);
		return;
	}
	agent_fetch(a, url, next);
	free(url);
}

static void fip_boot_got(struct ap_agent *a, struct fetch_result *r)
{
	struct fip_pass *p = fip(a);
	if (r->status == FETCH_NOT_FOUND) {
		a->step++;
		fip_boot_step(a);
		return;
	}
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "boot file download failed: %s", r->message);
		return;
	}
	size_t line = 0;
	const char *why = "";
	if (fip_boot_parse(r->body, r->len, &p->boot, &line, &why) < 0) {
		agent_pass_end(a, false, "boot file line %zu: %s", line, why);
		return;
	}
	p->boot_url = strdup(r->url ? r->url : "");
	agent_event(a, AP_EV_DECISION, NULL, "boot file names %zu configuration file%s", p->boot.n,
		    p->boot.n == 1 ? "" : "s");
	a->step = 0;
	fip_include_step(a);
}

static void fip_boot_step(struct ap_agent *a)
{
	struct fip_pass *p = fip(a);
	char name[64];
	switch (a->step) {
	case 0: snprintf(name, sizeof(name), "%s.boot", a->mac_lower); break;
	case 1: snprintf(name, sizeof(name), "y000000000000.boot"); break;
	default:
		agent_event(a, AP_EV_DECISION, NULL,
			    "no boot file: asking for the common and MAC-oriented .cfg files");
		p->no_boot = true;
		a->step = 0;
		fip_include_step(a);
		return;
	}
	fip_fetch_name(a, name, fip_boot_got);
}

/* Parameters of one .cfg file override those of earlier ones. */
static void fip_include_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status == FETCH_NOT_FOUND) {
		agent_event(a, AP_EV_DECISION, r->url, "not on the server: skipped");
	} else if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "configuration download failed: %s", r->message);
		return;
	} else {
		struct cfg cfg = { 0 };
		size_t line = 0;
		const char *why = "";
		if (cfg_parse(CFG_KEYVALUE, r->body, r->len, &cfg, &line, &why) < 0) {
			agent_pass_end(a, false, "%s line %zu: %s", r->url ? r->url : "", line,
				       why);
			return;
		}
		int err = 0;
		for (size_t i = 0; err == 0 && i < cfg.n; i++)
			err = kvmap_set(&a->pending, cfg.entries[i].key, cfg.entries[i].value);
		cfg_done(&cfg);
		if (err < 0) {
			agent_pass_end(a, false, "out of memory");
			return;
		}
	}
	a->step++;
	fip_include_step(a);
}

static bool fip_needs_reboot(const struct ap_agent *a, const char *key)
{
	char prefixes[256];
	snprintf(prefixes, sizeof(prefixes), "%s", agent_setting(a, "reboot_prefixes"));
	for (char *save = NULL, *t = strtok_r(prefixes, " ,", &save); t;
	     t = strtok_r(NULL, " ,", &save))
		if (strncmp(key, t, strlen(t)) == 0)
			return true;
	return false;
}

/* Applies what differs from the settings in force. */
static void fip_apply(struct ap_agent *a)
{
	struct kvmap diff = { 0 };
	bool reboot = false;
	int err = 0;
	for (size_t i = 0; err == 0 && i < a->pending.n; i++) {
		const char *now = kvmap_get(&a->config, a->pending.keys[i]);
		if (now && strcmp(now, a->pending.values[i]) == 0)
			continue;
		err = kvmap_set(&diff, a->pending.keys[i], a->pending.values[i]);
		reboot = reboot || fip_needs_reboot(a, a->pending.keys[i]);
	}
	if (err == 0 && diff.n == 0)
		agent_event(a, AP_EV_DECISION, NULL,
			    "the %zu parameters downloaded match the settings in force",
			    a->pending.n);
	else if (err == 0)
		err = agent_apply(a, &diff, false, "the boot file's configuration files");
	kvmap_clear(&diff);
	if (err < 0) {
		agent_pass_end(a, false, "applying the configuration failed: %s", strerror(-err));
		return;
	}
	if (reboot) {
		agent_reboot(a, AGENT_BOOT_CONFIG, "network settings changed");
		return;
	}
	fip(a)->resource = 0;
	fip_resources(a);
}

static void fip_include_step(struct ap_agent *a)
{
	struct fip_pass *p = fip(a);
	if (p->no_boot) {
		if (a->step >= 2) {
			fip_apply(a);
			return;
		}
		char name[64];
		snprintf(name, sizeof(name), "%s.cfg",
			 a->step == 0 ? "y000000000000" : a->mac_lower);
		fip_fetch_name(a, name, fip_include_got);
		return;
	}
	if (a->step >= p->boot.n) {
		fip_apply(a);
		return;
	}
	char *url = prov_url_resolve(p->boot_url, p->boot.includes[a->step]);
	if (!url) {
		agent_pass_end(a, false, "bad include:config URL %s", p->boot.includes[a->step]);
		return;
	}
	agent_fetch(a, url, fip_include_got);
	free(url);
}

/* --- resources: the URLs of `*.url` parameters --- */

static bool fip_resource_key(const char *key, const char *value)
{
	size_t n = strlen(key);
	return n > 4 && strcmp(key + n - 4, ".url") == 0 && strstr(value, "://");
}

static void fip_resource_got(struct ap_agent *a, struct fetch_result *r)
{
	struct fip_pass *p = fip(a);
	const char *key = a->config.keys[p->resource];
	if (r->status != FETCH_OK) {
		agent_event(a, AP_EV_DECISION, r->url, "%s not stored: %s", key, r->message);
	} else {
		char memo[300], md5[33];
		snprintf(memo, sizeof(memo), "md5.%s", key);
		md5_hex(r->body, r->len, md5);
		const char *stored = kvmap_get(&a->memo, memo);
		if (stored && strcmp(stored, md5) == 0) {
			agent_event(a, AP_EV_DECISION, NULL, "%s unchanged", key);
		} else {
			const char *slash = strrchr(a->config.values[p->resource], '/');
			const char *kind = strstr(key, "phonebook") || strstr(key, "contact")
						   ? "phonebook"
						   : "resource";
			int err = agent_store_resource(a, kind, slash ? slash + 1 : key, r->body,
						       r->len);
			if (err < 0) {
				agent_pass_end(a, false, "storing %s failed: %s", key,
					       strerror(-err));
				return;
			}
			kvmap_set(&a->memo, memo, md5);
		}
	}
	p->resource++;
	fip_resources(a);
}

static void fip_resources(struct ap_agent *a)
{
	struct fip_pass *p = fip(a);
	for (; p->resource < a->config.n; p->resource++) {
		if (!fip_resource_key(a->config.keys[p->resource], a->config.values[p->resource]))
			continue;
		agent_fetch(a, a->config.values[p->resource], fip_resource_got);
		return;
	}
	fip_pass_free(a);
	agent_pass_end(a, true,
		       a->changed ? "provisioned: settings or resources updated"
				  : "provisioned: nothing changed");
}

const struct agent_profile agent_profile_fip = {
	.name = "fip",
	.defaults = fip_defaults,
	.pass = fip_pass,
	.pass_done = fip_pass_free,
};
