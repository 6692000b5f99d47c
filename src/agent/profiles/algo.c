// SPDX-License-Identifier: MIT
/*
 * The Algo profile (seed 000, "Detailed Provisioning Behavior"): one configuration file,
 * the first found of algom<MAC>, algom<MAC>-i, algop<PID>, algop<PID>-i (the -i files
 * only with partial provisioning on); over TFTP its .md5 must match or it is ignored; a file
 * identical to the one applied is ignored; a new one is applied and the device reboots and
 * starts over. Then firmware (prov.version.firmware -> algo-<pid>-<ver>.sfw, whose .md5 must
 * match when there is one; else the .fw with its .md5), then the resources (tones,
 * scheduler, display images, certificates, directory), each fetched only when its .md5
 * differs from the one stored.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/cfgfile.h"
#include "core/md5.h"

static const struct agent_default algo_defaults[] = {
	{ "enabled", "1" },	     /* Provisioning Mode */
	{ "config_path", "" },	     /* Config Download Path */
	{ "firmware_path", "" },     /* Firmware Download Path (also tones, certificates, ...) */
	{ "partial", "0" },	     /* Partial Provisioning: also look for -i files */
	{ "check_sync", "resync" },  /* Check-sync Behavior: resync | reboot */
	{ "sync_start", "" },	     /* Sync Start Time HH:MM:SS; "" = no daily sync */
	{ "sync_end", "" },	     /* Sync End Time: random time in [start, end] */
	{ "sync_days", "" },	     /* Sync Days: e.g. "mon,thu"; "" = daily */
	{ "server_method", "dhcp" }, /* Server Method: dhcp (66 > 160 > 150) | static */
	{ "dhcp_option", "0" },	     /* use only this DHCP option (66, 160, 150); 0 = auto */
	{ NULL, NULL },
};

/*
 * Two-stage provisioning (seed 000 15.1): a configuration from the first server sets how the
 * next pass reaches the second one. The guide names no parameters; these are autoprov's
 * (docs/vendors/algo.md). While the applied configuration names one, it wins over the
 * setting; a full configuration that omits it gives the setting back.
 */
static const struct agent_config_setting algo_config_settings[] = {
	{ "prov.server.method", "server_method" }, /* dhcp | static */
	{ "prov.server.static", "server" },	   /* Static Server, every form the guide lists */
	{ "prov.download.method", "protocol" },	   /* tftp | ftp | http | https */
	{ "prov.server.username", "user" },	   /* not used over TFTP */
	{ "prov.server.password", "password" },
	{ "prov.download.cfgpath", "config_path" },  /* Config Download Path */
	{ "prov.download.fwpath", "firmware_path" }, /* Firmware Download Path */
	{ NULL, NULL },
};

/* The resources of sections 10-14, in the order of section 7. */
static const struct {
	const char *key, *kind;
} resources[] = {
	{ "prov.data.tone", "tone" },	    { "prov.data.sched", "scheduler" },
	{ "prov.data.display", "display" }, { "prov.data.icon", "icon" },
	{ "prov.data.image", "image" },	    { "prov.data.cacert", "cacert" },
	{ "prov.prod.dir", "directory" },
};

#define ALGO_NAMES 4

static void algo_try_config(struct ap_agent *a);
static void algo_firmware(struct ap_agent *a);
static void algo_resource(struct ap_agent *a);

static bool algo_tftp(const struct ap_agent *a)
{
	return strncmp(a->server, "tftp://", 7) == 0 ||
	       (!strstr(a->server, "://") && strcmp(agent_setting(a, "protocol"), "tftp") == 0);
}

/* The name of search step i, or NULL when the step is skipped. */
static void algo_config_name(const struct ap_agent *a, size_t i, char *buf, size_t size)
{
	bool mac = i < 2, incremental = i % 2 == 1;
	snprintf(buf, size, "%s%s%s.conf", mac ? "algom" : "algop", mac ? a->mac_upper : a->model,
		 incremental ? "-i" : "");
}

/* "name.ext" -> "name.md5" (the seed's companion naming). */
static void md5_name(const char *name, char *buf, size_t size)
{
	const char *dot = strrchr(name, '.');
	int stem = dot ? (int)(dot - name) : (int)strlen(name);
	snprintf(buf, size, "%.*s.md5", stem, name);
}

static void algo_fail(struct ap_agent *a, struct fetch_result *r, const char *what)
{
	agent_pass_end(a, false, "%s: %s", what, r->message);
}

/* Provisioning Mode: the setting, or prov.enable = 0 in the applied configuration. */
static bool algo_disabled(const struct ap_agent *a)
{
	const char *prov = kvmap_get(&a->config, "prov.enable");
	return !agent_setting_bool(a, "enabled") || (prov && strcmp(prov, "0") == 0);
}

static void algo_pass(struct ap_agent *a)
{
	a->step = 0;
	algo_try_config(a);
}

static void algo_config_apply(struct ap_agent *a)
{
	char name[64], md5[33];
	algo_config_name(a, a->step, name, sizeof(name));
	md5_hex(a->scratch, a->scratch_len, md5);
	const char *applied = kvmap_get(&a->memo, "config_md5");
	if (applied && strcmp(applied, md5) == 0) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "%s is the configuration already applied: ignored", name);
		algo_firmware(a);
		return;
	}
	struct cfg cfg = { 0 };
	size_t line = 0;
	const char *why = "";
	if (cfg_parse(CFG_KEYVALUE, a->scratch, a->scratch_len, &cfg, &line, &why) < 0) {
		agent_event(a, AP_EV_DECISION, NULL, "%s line %zu: %s: ignored", name, line, why);
		algo_firmware(a);
		return;
	}
	bool incremental = a->step % 2 == 1;
	int r = agent_apply_cfg(a, &cfg, !incremental, name);
	cfg_done(&cfg);
	if (r < 0) {
		agent_pass_end(a, false, "applying %s failed: %s", name, strerror(-r));
		return;
	}
	kvmap_set(&a->memo, "config_md5", md5);
	agent_reboot(a, AGENT_BOOT_CONFIG, "a new configuration was applied");
}

static void algo_config_md5(struct ap_agent *a, struct fetch_result *r)
{
	char name[64], want[33], got[33];
	algo_config_name(a, a->step, name, sizeof(name));
	if (r->status != FETCH_OK) {
		if (r->status != FETCH_NOT_FOUND) {
			algo_fail(a, r, "the configuration's .md5");
			return;
		}
		agent_event(a, AP_EV_DECISION, NULL,
			    "%s has no .md5 companion (required over TFTP): ignored", name);
		algo_firmware(a);
		return;
	}
	md5_hex(a->scratch, a->scratch_len, got);
	if (agent_md5_from_text(r->body, r->len, want) < 0 || strcmp(want, got) != 0) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "%s does not match its .md5 (file %s): ignored", name, got);
		algo_firmware(a);
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "%s matches its .md5", name);
	algo_config_apply(a);
}

static void algo_config_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status == FETCH_NOT_FOUND) {
		a->step++;
		algo_try_config(a);
		return;
	}
	if (r->status != FETCH_OK) {
		algo_fail(a, r, "configuration download failed");
		return;
	}
	free(a->scratch);
	a->scratch = r->body;
	a->scratch_len = r->len;
	r->body = NULL;
	if (!algo_tftp(a)) {
		algo_config_apply(a);
		return;
	}
	char name[64], md5[80];
	algo_config_name(a, a->step, name, sizeof(name));
	md5_name(name, md5, sizeof(md5));
	char *url = agent_url(a, a->server, agent_setting(a, "config_path"), md5);
	if (!url) {
		agent_pass_end(a, false, "bad server URL %s", a->server);
		return;
	}
	agent_fetch(a, url, algo_config_md5);
	free(url);
}

static void algo_try_config(struct ap_agent *a)
{
	bool partial = agent_setting_bool(a, "partial");
	while (a->step < ALGO_NAMES && a->step % 2 == 1 && !partial)
		a->step++;
	if (a->step >= ALGO_NAMES) {
		agent_event(a, AP_EV_DECISION, NULL, "no configuration file on the server");
		algo_firmware(a);
		return;
	}
	char name[64];
	algo_config_name(a, a->step, name, sizeof(name));
	char *url = agent_url(a, a->server, agent_setting(a, "config_path"), name);
	if (!url) {
		agent_pass_end(a, false, "bad server URL %s", a->server);
		return;
	}
	agent_fetch(a, url, algo_config_got);
	free(url);
}

/* --- firmware --- */

/*
 * Seed 000 7.4a: "the appropriate .fw & .md5 or .sfw files". algo-<pid>-<ver>.sfw first (the
 * name of the guide's file table), then the .fw of the same stem; a->step says which
 * (0: .sfw, 1: .fw). A .fw needs its .md5; an .sfw is taken alone, but a .md5 beside it
 * must match.
 */
static const char *const firmware_ext[] = { "sfw", "fw" };

static void algo_firmware_name(const struct ap_agent *a, const char *ext, char *buf, size_t size)
{
	snprintf(buf, size, "algo-%s-%s.%s", a->model,
		 kvmap_get(&a->config, "prov.version.firmware"), ext);
}

static void algo_firmware_install(struct ap_agent *a)
{
	const char *version = kvmap_get(&a->config, "prov.version.firmware");
	int err = agent_install_firmware(a, version, a->scratch, a->scratch_len);
	if (err < 0) {
		agent_pass_end(a, false, "installing firmware %s failed: %s", version,
			       strerror(-err));
		return;
	}
	agent_reboot(a, AGENT_BOOT_FIRMWARE, "new firmware installed");
}

static void algo_firmware_md5(struct ap_agent *a, struct fetch_result *r)
{
	const char *version = kvmap_get(&a->config, "prov.version.firmware");
	const char *ext = firmware_ext[a->step];
	char want[33], got[33];
	if (r->status == FETCH_NOT_FOUND && a->step == 0) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "firmware %s: an .sfw image without a .md5 beside it is accepted",
			    version);
		algo_firmware_install(a);
		return;
	}
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "firmware %s (.%s) not installed: its .md5 %s", version,
			       ext, r->status == FETCH_NOT_FOUND ? "is missing" : r->message);
		return;
	}
	md5_hex(a->scratch, a->scratch_len, got);
	if (agent_md5_from_text(r->body, r->len, want) < 0 || strcmp(want, got) != 0) {
		agent_pass_end(a, false,
			       "firmware %s (.%s) not installed: it does not match its .md5",
			       version, ext);
		return;
	}
	algo_firmware_install(a);
}

static void algo_firmware_try(struct ap_agent *a);

static void algo_firmware_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status == FETCH_NOT_FOUND &&
	    a->step + 1 < sizeof(firmware_ext) / sizeof(firmware_ext[0])) {
		a->step++;
		algo_firmware_try(a);
		return;
	}
	if (r->status != FETCH_OK) {
		algo_fail(a, r, "firmware download failed");
		return;
	}
	free(a->scratch);
	a->scratch = r->body;
	a->scratch_len = r->len;
	r->body = NULL;
	char name[128], md5[140];
	algo_firmware_name(a, firmware_ext[a->step], name, sizeof(name));
	md5_name(name, md5, sizeof(md5));
	char *url = agent_url(a, a->server, agent_setting(a, "firmware_path"), md5);
	if (url)
		agent_fetch(a, url, algo_firmware_md5);
	free(url);
}

static void algo_firmware_try(struct ap_agent *a)
{
	char name[128];
	algo_firmware_name(a, firmware_ext[a->step], name, sizeof(name));
	char *url = agent_url(a, a->server, agent_setting(a, "firmware_path"), name);
	if (!url) {
		agent_pass_end(a, false, "bad server URL %s", a->server);
		return;
	}
	agent_fetch(a, url, algo_firmware_got);
	free(url);
}

static void algo_firmware(struct ap_agent *a)
{
	const char *version = kvmap_get(&a->config, "prov.version.firmware");
	if (!version || !*version || strcmp(version, a->firmware) == 0) {
		if (version && *version)
			agent_event(a, AP_EV_DECISION, NULL, "firmware %s is installed", version);
		a->step = 0;
		algo_resource(a);
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "firmware %s wanted, %s installed", version,
		    *a->firmware ? a->firmware : "unknown");
	a->step = 0;
	algo_firmware_try(a);
}

/* --- resources: .md5 first, the file only when it differs from the stored one --- */

static void algo_resource_next(struct ap_agent *a)
{
	a->step++;
	algo_resource(a);
}

static void algo_resource_got(struct ap_agent *a, struct fetch_result *r)
{
	const char *name = kvmap_get(&a->config, resources[a->step].key);
	char memo[64], got[33];
	if (r->status != FETCH_OK) {
		agent_event(a, AP_EV_DECISION, NULL, "%s not installed: %s", name, r->message);
		algo_resource_next(a);
		return;
	}
	md5_hex(r->body, r->len, got);
	if (strcmp(got, a->scratch) != 0) {
		agent_event(a, AP_EV_DECISION, NULL, "%s does not match its .md5: not installed",
			    name);
		algo_resource_next(a);
		return;
	}
	int err = agent_store_resource(a, resources[a->step].kind, name, r->body, r->len);
	if (err < 0) {
		agent_pass_end(a, false, "storing %s failed: %s", name, strerror(-err));
		return;
	}
	snprintf(memo, sizeof(memo), "md5.%s", resources[a->step].key);
	kvmap_set(&a->memo, memo, got);
	algo_resource_next(a);
}

static void algo_resource_md5(struct ap_agent *a, struct fetch_result *r)
{
	const char *name = kvmap_get(&a->config, resources[a->step].key);
	char memo[64], want[33];
	snprintf(memo, sizeof(memo), "md5.%s", resources[a->step].key);
	if (r->status != FETCH_OK) {
		agent_event(a, AP_EV_DECISION, NULL, "%s: no .md5 (%s): not fetched", name,
			    fetch_status_name(r->status));
		algo_resource_next(a);
		return;
	}
	if (agent_md5_from_text(r->body, r->len, want) < 0) {
		agent_event(a, AP_EV_DECISION, NULL, "%s: its .md5 holds no MD5: not fetched",
			    name);
		algo_resource_next(a);
		return;
	}
	const char *stored = kvmap_get(&a->memo, memo);
	if (stored && strcmp(stored, want) == 0) {
		agent_event(a, AP_EV_DECISION, NULL, "%s unchanged (same .md5): not fetched", name);
		algo_resource_next(a);
		return;
	}
	free(a->scratch);
	a->scratch = strdup(want);
	char *url = agent_url(a, a->server, agent_setting(a, "firmware_path"), name);
	if (!a->scratch || !url) {
		free(url);
		agent_pass_end(a, false, "bad resource name %s", name);
		return;
	}
	agent_fetch(a, url, algo_resource_got);
	free(url);
}

static void algo_resource(struct ap_agent *a)
{
	for (; a->step < sizeof(resources) / sizeof(resources[0]); a->step++) {
		char memo[64];
		snprintf(memo, sizeof(memo), "md5.%s", resources[a->step].key);
		const char *name = kvmap_get(&a->config, resources[a->step].key);
		if (!name || !*name) {
			/* Removed from the configuration: the next time it is named, it is new. */
			kvmap_set(&a->memo, memo, NULL);
			continue;
		}
		if (strchr(name, '/')) {
			agent_event(a, AP_EV_DECISION, NULL,
				    "%s = %s: a file name without a path is expected: skipped",
				    resources[a->step].key, name);
			continue;
		}
		char md5[300];
		md5_name(name, md5, sizeof(md5));
		char *url = agent_url(a, a->server, agent_setting(a, "firmware_path"), md5);
		if (!url) {
			agent_pass_end(a, false, "bad server URL %s", a->server);
			return;
		}
		agent_fetch(a, url, algo_resource_md5);
		free(url);
		return;
	}
	agent_pass_end(a, true,
		       a->changed ? "provisioned: resources updated"
				  : "provisioned: configuration, firmware and resources "
				    "match the server");
}

static void algo_check_sync(struct ap_agent *a, bool reboot)
{
	/* Seed 000 section 6: "check-sync is only supported when Provisioning Mode is
	 * enabled". The listener has answered the NOTIFY already. */
	if (algo_disabled(a)) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "check-sync ignored: provisioning is disabled (no pass, no reboot)");
		return;
	}
	if (reboot || strcmp(agent_setting(a, "check_sync"), "reboot") == 0)
		agent_reboot(a, AGENT_BOOT_REQUEST, "check-sync");
	else
		agent_pass_start(a, "check-sync");
}

const struct agent_profile agent_profile_algo = {
	.name = "algo",
	.defaults = algo_defaults,
	.config_settings = algo_config_settings,
	.disabled = algo_disabled,
	.pass = algo_pass,
	.check_sync = algo_check_sync,
};
