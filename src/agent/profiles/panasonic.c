// SPDX-License-Identifier: MIT
/*
 * The Panasonic KX-UTG profile (seed 003): two-step provisioning. Step 1 downloads the
 * initial configuration file from the provisioning URL found by the discovery table of the
 * device's IP mode; it names the device configuration URL (CFG_STANDARD_FILE_PATH) and the
 * certificate URL (CFG_ROOT_CERTIFICATE_PATH). Step 2 downloads both: the certificate is
 * stored when it changed, the configuration applied when it changed.
 *
 * Decisions where the seed is silent (docs/agent.md): a provisioning URL whose last segment
 * has no '.' is a directory holding `initial_file`; `{MAC}`, `{mac}` and `{MODEL}` in the
 * URLs of the initial file are the phone's macros; a relative URL there is relative to the
 * initial file's (RFC 3986).
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/cfgfile.h"
#include "agent/url.h"
#include "core/md5.h"

static const struct agent_default panasonic_defaults[] = {
	{ "ip_mode", "ipv4" },		      /* ipv4 | ipv6 | dual */
	{ "pnp", "1" },			      /* SIP PnP */
	{ "redirect_server", "" },	      /* redirection server URL; "" = none */
	{ "initial_file", "initial.cfg" },    /* when the provisioning URL is a directory */
	{ "pnp_address", "224.0.1.75:5060" }, /* where PnP SUBSCRIBEs go */
	{ "pnp_timeout", "5" },		      /* seconds to wait for the NOTIFY */
	{ NULL, NULL },
};

struct pana_pass {
	char *initial_url;
	char *config_url, *cert_url;
};

static void pana_config(struct ap_agent *a);

static struct pana_pass *pana(struct ap_agent *a)
{
	return a->priv;
}

static void pana_pass_free(struct ap_agent *a)
{
	struct pana_pass *p = pana(a);
	if (!p)
		return;
	free(p->initial_url);
	free(p->config_url);
	free(p->cert_url);
	free(p);
	a->priv = NULL;
}

/* Replaces the phone's {MAC}, {mac} and {MODEL} macros; malloc'd. */
static char *pana_expand(const struct ap_agent *a, const char *s)
{
	size_t cap = strlen(s) * 2 + 64, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (*s) {
		const char *v = NULL;
		size_t skip = 0;
		if (strncmp(s, "{MAC}", 5) == 0)
			v = a->mac_upper, skip = 5;
		else if (strncmp(s, "{mac}", 5) == 0)
			v = a->mac_lower, skip = 5;
		else if (strncmp(s, "{MODEL}", 7) == 0)
			v = a->model, skip = 7;
		size_t add = v ? strlen(v) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			char *grown = realloc(out, cap);
			if (!grown) {
				free(out);
				return NULL;
			}
			out = grown;
		}
		if (v) {
			memcpy(out + n, v, add);
			s += skip;
		} else {
			out[n] = *s++;
		}
		n += add;
	}
	out[n] = '\0';
	return out;
}

/*
 * A URL of the initial file, macros replaced, resolved against the initial file's URL as
 * RFC 3986 says (`{MAC}.cfg`, `../certs/ca.pem`, `/prov/x.cfg`; a full URL stays as it is).
 * The base is the URL asked for, login included. Malloc'd; NULL when it cannot be.
 */
static char *pana_url(struct ap_agent *a, const char *value)
{
	char *expanded = pana_expand(a, value);
	if (!expanded)
		return NULL;
	char *url = prov_url_resolve(pana(a)->initial_url, expanded);
	free(expanded);
	return url;
}

static void pana_config_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "device configuration download failed: %s", r->message);
		return;
	}
	char md5[33];
	md5_hex(r->body, r->len, md5);
	const char *applied = kvmap_get(&a->memo, "config_md5");
	if (applied && strcmp(applied, md5) == 0) {
		agent_event(a, AP_EV_DECISION, NULL, "the device configuration is the one applied");
		agent_pass_end(a, true,
			       a->changed ? "provisioned: certificate updated"
					  : "provisioned: nothing changed");
		return;
	}
	struct cfg cfg = { 0 };
	size_t line = 0;
	const char *why = "";
	if (cfg_parse(CFG_PANASONIC, r->body, r->len, &cfg, &line, &why) < 0) {
		agent_pass_end(a, false, "device configuration line %zu: %s", line, why);
		return;
	}
	int err = agent_apply_cfg(a, &cfg, true, "the device configuration");
	cfg_done(&cfg);
	if (err == 0)
		err = kvmap_set(&a->memo, "config_md5", md5);
	if (err < 0) {
		agent_pass_end(a, false, "applying the configuration failed: %s", strerror(-err));
		return;
	}
	agent_pass_end(a, true, "provisioned: device configuration applied");
}

static void pana_config(struct ap_agent *a)
{
	agent_fetch(a, pana(a)->config_url, pana_config_got);
}

static void pana_cert_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "certificate download failed: %s", r->message);
		return;
	}
	char md5[33];
	md5_hex(r->body, r->len, md5);
	const char *stored = kvmap_get(&a->memo, "md5.certificate");
	if (stored && strcmp(stored, md5) == 0) {
		agent_event(a, AP_EV_DECISION, NULL, "the certificate is the one stored");
	} else {
		const char *slash = strrchr(pana(a)->cert_url, '/');
		int err = agent_store_resource(a, "cacert", slash ? slash + 1 : "certificate",
					       r->body, r->len);
		if (err == 0)
			err = kvmap_set(&a->memo, "md5.certificate", md5);
		if (err < 0) {
			agent_pass_end(a, false, "storing the certificate failed: %s",
				       strerror(-err));
			return;
		}
	}
	pana_config(a);
}

static void pana_initial_got(struct ap_agent *a, struct fetch_result *r)
{
	struct pana_pass *p = pana(a);
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "initial file download failed: %s", r->message);
		return;
	}
	struct cfg cfg = { 0 };
	size_t line = 0;
	const char *why = "";
	if (cfg_parse(CFG_PANASONIC, r->body, r->len, &cfg, &line, &why) < 0) {
		agent_pass_end(a, false, "initial file line %zu: %s", line, why);
		return;
	}
	const char *config = cfg_get(&cfg, "CFG_STANDARD_FILE_PATH");
	const char *cert = cfg_get(&cfg, "CFG_ROOT_CERTIFICATE_PATH");
	bool bad = false;
	if (config && *config)
		bad = !(p->config_url = pana_url(a, config));
	if (cert && *cert && !bad)
		bad = !(p->cert_url = pana_url(a, cert));
	cfg_done(&cfg);
	if (bad) {
		agent_pass_end(a, false, "the initial file's URLs cannot be resolved against %s",
			       p->initial_url);
		return;
	}
	if (!p->config_url) {
		agent_pass_end(a, false,
			       "the initial file names no device configuration "
			       "(CFG_STANDARD_FILE_PATH)");
		return;
	}
	agent_event(a, AP_EV_DECISION, p->config_url, "step 2: device configuration %s%s%s",
		    p->config_url, p->cert_url ? ", certificate " : "",
		    p->cert_url ? p->cert_url : "");
	if (p->cert_url)
		agent_fetch(a, p->cert_url, pana_cert_got);
	else
		pana_config(a);
}

static void pana_pass(struct ap_agent *a)
{
	struct pana_pass *p = calloc(1, sizeof(*p));
	a->priv = p;
	if (!p) {
		agent_pass_end(a, false, "out of memory");
		return;
	}
	const char *slash = strrchr(a->server, '/');
	const char *scheme = strstr(a->server, "://");
	bool dir = !slash || (scheme && slash < scheme + 3) || !strchr(slash, '.');
	p->initial_url = dir ? agent_url(a, a->server, NULL, agent_setting(a, "initial_file"))
			     : agent_url(a, a->server, NULL, NULL);
	if (!p->initial_url) {
		agent_pass_end(a, false, "bad provisioning URL %s", a->server);
		return;
	}
	agent_event(a, AP_EV_STEP, p->initial_url, "step 1: initial file");
	agent_fetch(a, p->initial_url, pana_initial_got);
}

const struct agent_profile agent_profile_panasonic = {
	.name = "panasonic",
	.defaults = panasonic_defaults,
	.pass = pana_pass,
	.pass_done = pana_pass_free,
};
