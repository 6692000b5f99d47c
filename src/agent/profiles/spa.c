// SPDX-License-Identifier: MIT
/*
 * The SPA-style profile of Flying Voice IP542N / G502N ATAs (seed 001). A resync fetches
 * one parameter file: with Option 66 enabled and received, <Config File Name> from the
 * option's TFTP server; otherwise the Profile Rule, a URL with macros and an optional
 * `[--key K]` to decrypt an encrypted profile. The file is applied only when its
 * DBID_DBASE_VERSION differs from the one applied last; the device then reboots, and that
 * reboot does not resync again. The Upgrade Rule names a firmware image, installed once.
 *
 * Timers: Resync On Reset (after the Resync Random Delay), Resync Periodic, Resync Error
 * Retry Delay, Upgrade Error Retry Delay; a periodic or requested resync waits while a line
 * is busy, at most Forced Resync Delay seconds; Resync After Upgrade.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/cfgfile.h"
#include "agent/discovery.h"
#include "agent/url.h"
#include "core/md5.h"
#include "crypto/enc.h"

static const struct agent_default spa_defaults[] = {
	{ "enabled", "1" },			 /* Provision Enable */
	{ "resync_on_reset", "1" },		 /* Resync On Reset */
	{ "random_delay", "40" },		 /* Resync Random Delay */
	{ "resync_periodic", "3600" },		 /* Resync Periodic */
	{ "resync_error_retry_delay", "3600" },	 /* Resync Error Retry Delay */
	{ "forced_resync_delay", "14400" },	 /* Forced Resync Delay */
	{ "resync_after_upgrade", "1" },	 /* Resync After Upgrade */
	{ "option66", "1" },			 /* Option 66 (overrides the Profile Rule) */
	{ "config_file_name", "" },		 /* Config File Name; "" = <PN>.conf */
	{ "profile_rule", "" },			 /* Profile Rule */
	{ "upgrade_enable", "1" },		 /* Upgrade Enable */
	{ "upgrade_error_retry_delay", "3600" }, /* Upgrade Error Retry Delay */
	{ "upgrade_rule", "" },			 /* Upgrade Rule */
	{ NULL, NULL },
};

/* How often a deferred resync looks at the lines again. */
#define SPA_BUSY_POLL 10

static void spa_upgrade(struct ap_agent *a);
static bool spa_upgrade_wanted(const struct ap_agent *a);

/* Provision Enable off: nothing is asked for; the endpoint runs as it is provisioned. */
static void spa_disabled(struct ap_agent *a, const char *what)
{
	a->changed = false;
	agent_pass_end(a, true, "Provision Enable is off: no %s; provisioned as it is", what);
}

static void spa_resync_now(struct ap_agent *a)
{
	const char *trigger = a->trigger ? a->trigger : "resync";
	if (!agent_setting_bool(a, "enabled") && a->state != AGENT_DISCOVERING &&
	    a->state != AGENT_PASS) {
		spa_disabled(a, trigger);
		return;
	}
	agent_pass_start(a, trigger);
}

/* Defers a resync while a line is busy, at most forced_resync_delay seconds in all. */
static void spa_resync_when_idle(struct ap_agent *a)
{
	long forced = agent_setting_long(a, "forced_resync_delay", 14400);
	long waited = a->step;
	if (a->cb.line_busy && a->cb.line_busy(a->user) && waited < forced) {
		long wait = forced - waited < SPA_BUSY_POLL ? forced - waited : SPA_BUSY_POLL;
		a->step = (size_t)(waited + wait);
		if (waited == 0)
			agent_event(a, AP_EV_DECISION, NULL,
				    "a line is busy: resync deferred (at most %ld s)", forced);
		agent_after(a, (double)wait, spa_resync_when_idle, NULL);
		return;
	}
	a->step = 0;
	spa_resync_now(a);
}

static void spa_boot(struct ap_agent *a)
{
	if (!agent_setting_bool(a, "enabled")) {
		spa_disabled(a, "resync at this boot");
		return;
	}
	bool resync = false;
	const char *why = "";
	switch (a->boot_reason) {
	case AGENT_BOOT_POWER:
	case AGENT_BOOT_REQUEST:
		resync = agent_setting_bool(a, "resync_on_reset");
		why = "Resync On Reset";
		break;
	case AGENT_BOOT_FIRMWARE:
		resync = agent_setting_bool(a, "resync_after_upgrade");
		why = "Resync After Upgrade";
		break;
	case AGENT_BOOT_CONFIG: why = "no resync after a reboot for a parameter update"; break;
	}
	if (!resync) {
		const char *what = a->boot_reason == AGENT_BOOT_CONFIG ? why : "disabled";
		/* Upgrade Enable: "independently of resync actions", so at this boot too */
		if (spa_upgrade_wanted(a)) {
			agent_event(a, AP_EV_DECISION, NULL, "%s: no resync at this boot", what);
			agent_pass_start_at(a, "Upgrade Rule at boot", spa_upgrade);
			return;
		}
		a->changed = false;
		agent_pass_end(a, true, "%s: no resync at this boot", what);
		return;
	}
	a->trigger = why;
	long delay = agent_setting_long(a, "random_delay", 0);
	if (delay > 0 && a->boot_reason == AGENT_BOOT_POWER) {
		agent_after(a, (double)(random() % (delay + 1)), spa_resync_now,
			    "Resync Random Delay: resync");
		return;
	}
	spa_resync_now(a);
}

static void spa_apply(struct ap_agent *a, const char *text, size_t len, const char *source)
{
	struct cfg cfg = { 0 };
	size_t line = 0;
	const char *why = "";
	if (cfg_parse(CFG_DBID, text, len, &cfg, &line, &why) < 0) {
		agent_pass_end(a, false, "%s line %zu: %s", source, line, why);
		return;
	}
	const char *version = cfg_get(&cfg, "DBID_DBASE_VERSION");
	char md5[33];
	md5_hex(text, len, md5);
	const char *applied = kvmap_get(&a->memo, version ? "dbase_version" : "profile_md5");
	if (applied && strcmp(applied, version ? version : md5) == 0) {
		if (version)
			agent_event(a, AP_EV_DECISION, NULL,
				    "DBID_DBASE_VERSION %s is the version applied: not applied",
				    version);
		else
			agent_event(a, AP_EV_DECISION, NULL,
				    "no DBID_DBASE_VERSION and the same content as applied: "
				    "not applied");
		cfg_done(&cfg);
		spa_upgrade(a);
		return;
	}
	int err = agent_apply_cfg(a, &cfg, false, source);
	if (err == 0 && version)
		err = kvmap_set(&a->memo, "dbase_version", version);
	if (err == 0)
		err = kvmap_set(&a->memo, "profile_md5", md5);
	/* The one provisioning parameter the seed names. */
	const char *opt66 = cfg_get(&cfg, "DBID_PRV_OPTION66_ENABLED");
	if (err == 0 && opt66)
		err = kvmap_set(&a->settings, "option66", strcmp(opt66, "0") ? "1" : "0");
	cfg_done(&cfg);
	if (err < 0) {
		agent_pass_end(a, false, "applying %s failed: %s", source, strerror(-err));
		return;
	}
	agent_reboot(a, AGENT_BOOT_CONFIG, "new parameters applied");
}

static void spa_profile_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status != FETCH_OK) {
		/* the upgrade does not depend on the resync: it runs, then the pass fails */
		free(a->priv);
		a->priv = strdup(r->message);
		if (a->priv && spa_upgrade_wanted(a)) {
			agent_event(a, AP_EV_DECISION, NULL,
				    "resync failed; the Upgrade Rule is checked all the same");
			spa_upgrade(a);
			return;
		}
		agent_pass_end(a, false, "resync failed: %s", r->message);
		return;
	}
	const char *key = a->scratch; /* the --key of the rule, or NULL */
	if (!key) {
		spa_apply(a, r->body, r->len, r->url ? r->url : "the profile");
		return;
	}
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	int err = enc_decrypt(key, r->body, r->len, &plain, &plain_len);
	if (err < 0) {
		agent_pass_end(a, false, "the profile cannot be decrypted with its --key: %s",
			       err == -EBADMSG	? "it is not an encrypted profile"
			       : err == -EACCES ? "wrong key"
						: strerror(-err));
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "profile decrypted with the rule's --key");
	spa_apply(a, (const char *)plain, plain_len, "the decrypted profile");
	free(plain);
}

static void spa_pass(struct ap_agent *a)
{
	if (!agent_setting_bool(a, "enabled")) {
		agent_pass_end(a, true, "provisioning is disabled: nothing to do");
		return;
	}
	free(a->scratch);
	a->scratch = NULL;
	char *url = NULL;
	if (a->server_source == DISC_PROFILE_RULE) {
		struct profile_rule rule = { 0 };
		const char *why = "";
		char *expanded = agent_expand(a, a->server);
		if (!expanded || profile_rule_parse(expanded, &rule, &why) < 0) {
			free(expanded);
			agent_pass_end(a, false, "bad Profile Rule %s: %s", a->server, why);
			return;
		}
		free(expanded);
		/* seed 001: the server is optional in a rule; then it is option 66's */
		if (prov_url_on_server(rule.url, a->server_detail, agent_setting(a, "protocol"),
				       &url, &why) < 0) {
			agent_pass_end(a, false, "bad Profile Rule %s: %s", a->server,
				       strcmp(why, PROV_URL_NO_SERVER) == 0
					       ? "it names no server and no DHCP option 66 "
						 "was received"
					       : why);
			profile_rule_done(&rule);
			return;
		}
		if (a->server_detail)
			agent_event(a, AP_EV_DECISION, url,
				    "the Profile Rule names no server: DHCP option 66's, %s",
				    a->server_detail);
		if (rule.key)
			a->scratch = strdup(rule.key);
		profile_rule_done(&rule);
	} else {
		const char *name = agent_setting(a, "config_file_name");
		char def[128];
		if (!*name) {
			snprintf(def, sizeof(def), "%s.conf", a->model);
			name = def;
		}
		char *expanded = agent_expand(a, name);
		url = expanded ? agent_url(a, a->server, NULL, expanded) : NULL;
		free(expanded);
	}
	if (!url) {
		agent_pass_end(a, false, "no usable profile URL from %s", a->server);
		return;
	}
	agent_fetch(a, url, spa_profile_got);
	free(url);
}

/* --- Upgrade Rule --- */

/*
 * Upgrade Enable "enables firmware upgrade operations independently of resync actions"
 * (seed 001 2.1): the rule is checked at every boot, after every resync (failed or not),
 * and when its own error timer (Upgrade Error Retry Delay) runs out, alone; never only
 * by waiting for a periodic resync.
 */
static bool spa_upgrade_wanted(const struct ap_agent *a)
{
	return agent_setting_bool(a, "upgrade_enable") && *agent_setting(a, "upgrade_rule");
}

/* Ends a pass after its upgrade step: a resync that failed (a->priv, its reason) fails it. */
static void spa_end(struct ap_agent *a, const char *text)
{
	if (a->priv) {
		agent_pass_end(a, false, "resync failed: %s", (const char *)a->priv);
		return;
	}
	agent_pass_end(a, true, "%s", text);
}

static void spa_upgrade_retry(struct ap_agent *a)
{
	agent_pass_start_at(a, "Upgrade Error Retry", spa_upgrade);
}

static void spa_upgrade_got(struct ap_agent *a, struct fetch_result *r)
{
	long retry = agent_setting_long(a, "upgrade_error_retry_delay", 3600);
	if (r->status != FETCH_OK) {
		if (retry > 0)
			agent_upgrade_after(a, (double)retry, spa_upgrade_retry,
					    "Upgrade Error Retry Delay: upgrade");
		if (a->priv) { /* the resync failed too: its failure ends the pass */
			agent_event(a, AP_EV_DECISION, r->url, "upgrade failed: %s", r->message);
			spa_end(a, "");
			return;
		}
		a->resync_ok = true; /* the resync timers go on as after a good resync */
		agent_pass_end(a, false, "upgrade failed: %s", r->message);
		return;
	}
	/* The image's name (without its extension) stands for its version. */
	const char *url = a->scratch;
	const char *slash = strrchr(url, '/');
	char version[128];
	snprintf(version, sizeof(version), "%s", slash ? slash + 1 : url);
	char *dot = strrchr(version, '.');
	if (dot && dot != version)
		*dot = '\0';
	int err = agent_install_firmware(a, version, r->body, r->len);
	if (err == 0)
		err = kvmap_set(&a->memo, "upgrade_url", url);
	if (err < 0) {
		agent_pass_end(a, false, "installing firmware failed: %s", strerror(-err));
		return;
	}
	agent_reboot(a, AGENT_BOOT_FIRMWARE, "firmware upgraded");
}

/* DHCP option 66 as text (malloc'd), or NULL when none was received (or DHCP is off). */
static char *spa_option66(const struct ap_agent *a)
{
	size_t len = 0;
	const uint8_t *v = a->dhcp && agent_setting_bool(a, "dhcp")
				   ? dhcp_options_get(a->dhcp, false, 66, &len)
				   : NULL;
	const char *why;
	char *s = NULL;
	if (v && dhcp_decode_text(v, len, &s, &why) < 0)
		s = NULL;
	return s;
}

/*
 * The Upgrade Rule's URL, expanded and complete: "[scheme://][server[:port]]/file path"
 * (seed 001 2.2), a rule naming no server takes DHCP option 66's, as a Profile Rule does,
 * also in the upgrade's own pass at a boot without resync. NULL after ending the pass.
 */
static char *spa_upgrade_url(struct ap_agent *a, const char *rule)
{
	char *expanded = agent_expand(a, rule), *url = NULL, *opt66 = NULL;
	const char *why = "";
	int err = expanded ? prov_url_on_server(expanded, NULL, agent_setting(a, "protocol"),
						&url, &why)
			   : -ENOMEM;
	if (err < 0 && strcmp(why, PROV_URL_NO_SERVER) == 0) {
		opt66 = a->server_detail && a->server_source == DISC_PROFILE_RULE
				? strdup(a->server_detail)
				: spa_option66(a);
		err = prov_url_on_server(expanded, opt66, agent_setting(a, "protocol"), &url, &why);
		if (err == 0)
			agent_event(a, AP_EV_DECISION, url,
				    "the Upgrade Rule names no server: DHCP option 66's, %s", opt66);
	}
	if (err < 0)
		agent_pass_end(a, false, "bad Upgrade Rule %s: %s", rule,
			       err == -ENOMEM			     ? strerror(ENOMEM)
			       : strcmp(why, PROV_URL_NO_SERVER) == 0 ? "it names no server and no "
									"DHCP option 66 was received"
								      : why);
	free(expanded);
	free(opt66);
	return err < 0 ? NULL : url;
}

static void spa_upgrade(struct ap_agent *a)
{
	const char *rule = agent_setting(a, "upgrade_rule");
	/* a->server: after a resync; otherwise the upgrade's own pass */
	const char *done = a->server ? (a->changed ? "resynced" : "resynced: nothing changed")
				     : "the Upgrade Rule's image is installed";
	if (!spa_upgrade_wanted(a)) {
		spa_end(a, a->server ? done : "no Upgrade Rule (or Upgrade Enable off)");
		return;
	}
	char *url = spa_upgrade_url(a, rule);
	if (!url)
		return; /* the pass is ended */
	const char *installed = kvmap_get(&a->memo, "upgrade_url");
	if (url && installed && strcmp(installed, url) == 0) {
		agent_event(a, AP_EV_DECISION, NULL, "the Upgrade Rule's image is installed");
		free(url);
		spa_end(a, done);
		return;
	}
	if (url && strncmp(url, "https://", 8) == 0) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "the Upgrade Rule uses HTTPS, which these devices cannot upgrade "
			    "over (seed 001 4.2): not upgraded");
		free(url);
		spa_end(a, a->server ? "resynced; upgrade skipped" : "upgrade skipped");
		return;
	}
	free(a->scratch);
	a->scratch = url;
	agent_fetch(a, url, spa_upgrade_got);
}

static void spa_resync(struct ap_agent *a, const char *trigger)
{
	if (a->state == AGENT_DISCOVERING || a->state == AGENT_PASS) {
		/* the upgrade's own pass kept the resync timer: it is set again when it ends */
		agent_event(a, AP_EV_DECISION, NULL, "%s: a pass is already running", trigger);
		return;
	}
	a->trigger = trigger;
	a->step = 0;
	spa_resync_when_idle(a);
}

static void spa_check_sync(struct ap_agent *a, bool reboot)
{
	if (reboot)
		agent_reboot(a, AGENT_BOOT_REQUEST, "NOTIFY reboot");
	else
		spa_resync(a, "NOTIFY resync");
}

const struct agent_profile agent_profile_spa = {
	.name = "spa",
	.defaults = spa_defaults,
	.boot = spa_boot,
	.pass = spa_pass,
	.check_sync = spa_check_sync,
	.resync = spa_resync,
};
