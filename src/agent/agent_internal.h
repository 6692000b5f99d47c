// SPDX-License-Identifier: MIT
/*
 * What the agent core (agent.c) shares with the vendor profiles (profiles/).
 *
 * A profile is a chain of steps: each step starts at most one download with agent_fetch()
 * and names the step that continues with its result, so an endpoint never blocks the loop
 * and thousands share one. A pass (one provisioning attempt) begins in the core with
 * discovery, continues in the profile's pass(), and ends with agent_pass_end(), which
 * schedules what comes next (periodic resync, error retry) from the profile's settings.
 */
#ifndef AUTOPROV_AGENT_INTERNAL_H
#define AUTOPROV_AGENT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "agent/cfgfile.h"
#include "agent/discovery.h"
#include "agent/fetch.h"
#include "agent/kvmap.h"
#include "autoprov/agent.h"

struct ap_agent;

/* A setting's default; a NULL key ends a table. */
struct agent_default {
	const char *key;
	const char *value;
};

/* A setting that an applied configuration may change, by naming its parameter (Algo's
 * two-stage provisioning, seed 000 15.1); a NULL parameter ends a table. */
struct agent_config_setting {
	const char *parameter; /* in the applied configuration, e.g. "prov.server.static" */
	const char *setting;   /* the setting it stands for, e.g. "server" */
};

struct agent_profile {
	const char *name;
	/* The profile's settings and their defaults (the common ones are in agent.c). */
	const struct agent_default *defaults;
	/* Settings the applied configuration overrides while it names them (NULL: none). */
	const struct agent_config_setting *config_settings;
	/* After power-on: whether and when to start a pass (NULL: a pass now). */
	void (*boot)(struct ap_agent *a);
	/*
	 * Whether provisioning is off (NULL: never): a pass then ends at once, before looking
	 * for a server (seed 000: "Verify provisioning is enabled. Exit if disabled.").
	 */
	bool (*disabled)(const struct ap_agent *a);
	/* A pass, with a->server found; it ends with agent_pass_end(). */
	void (*pass)(struct ap_agent *a);
	/* A periodic or retry resync is due (NULL: a pass now). */
	void (*resync)(struct ap_agent *a, const char *trigger);
	/* Frees a->priv (NULL: free()). */
	void (*pass_done)(struct ap_agent *a);
	/* A check-sync NOTIFY arrived (NULL: reboot=true reboots, otherwise a pass). */
	void (*check_sync)(struct ap_agent *a, bool reboot);
};

extern const struct agent_profile agent_profile_algo;
extern const struct agent_profile agent_profile_fip;
extern const struct agent_profile agent_profile_spa;
extern const struct agent_profile agent_profile_audiocodes;
extern const struct agent_profile agent_profile_panasonic;

/* Why the endpoint last booted: SPA-style profiles skip the resync after some reboots. */
enum agent_boot_reason {
	AGENT_BOOT_POWER,
	AGENT_BOOT_CONFIG,   /* after applying a configuration */
	AGENT_BOOT_FIRMWARE, /* after a firmware upgrade */
	AGENT_BOOT_REQUEST,  /* check-sync reboot=true and other requests */
};

/* The state of an endpoint between callbacks (the steps say where it is). */
enum agent_state {
	AGENT_IDLE,	   /* created, or stopped */
	AGENT_WAITING,	   /* a timer runs: random delay, periodic, retry */
	AGENT_DISCOVERING, /* looking for the provisioning server */
	AGENT_PASS,	   /* the profile's steps run */
	AGENT_STATE_MAX,
};

struct ap_agent {
	const struct agent_profile *profile;
	struct event_base *base;
	struct ap_downloader *downloader;
	bool own_downloader;
	struct ap_callbacks cb;
	void *user;
	bool reboot_stops;
	char *state_dir;

	/* Identity: mac in the seed's three forms, the rest copied. */
	char mac_lower[13], mac_upper[13], mac_colons[18];
	char *model, *serial, *firmware, *hardware, *ip;

	struct kvmap settings; /* what the administrator set; persisted */
	struct kvmap config;   /* the configuration applied; persisted */
	struct kvmap memo;     /* remembered checksums and versions; persisted */
	struct dhcp_options *dhcp;

	enum agent_state state;
	enum agent_boot_reason boot_reason;
	struct event *timer;
	void (*timer_fn)(struct ap_agent *a); /* what the timer runs */
	/* SPA's firmware upgrade error timer (seed 001 2.1), apart from the resync timers */
	struct event *upgrade_timer;
	void (*upgrade_fn)(struct ap_agent *a);
	struct fetch *fetch;
	void (*fetch_next)(struct ap_agent *a, struct fetch_result *r);
	char *fetch_url;
	struct timespec started;

	/* The pass in progress. */
	const char *trigger;
	char *server;	     /* where discovery pointed, as given */
	char *server_detail; /* what came with it (option 67, option 160's fw;cfg, ...) */
	int server_source;   /* enum discovery_source */
	bool changed;	     /* this pass changed something */
	bool resync_ok;	     /* failed, but not its resync (SPA: the upgrade): next is periodic */
	size_t step;	     /* a profile's position in a list of files */
	char *scratch;	     /* a profile's text kept between steps */
	size_t scratch_len;
	struct discovery_candidate *candidates; /* discovery's plan, while discovering */
	size_t ncandidates;
	struct agent_pnp *pnp;		   /* a SIP PnP exchange in progress */
	struct agent_checksync *checksync; /* the NOTIFY listener (sip_listen) */
	char server_addrs[4][64];	   /* hosts provisioning came from (numeric), newest first */
	struct kvmap pending;		   /* a profile's collected files / configuration */
	void *priv;			   /* a profile's own state, freed with free() */

	bool converged;
	bool check_sync_pending;
	struct ap_stats stats;
};

/* The value of a setting: the applied configuration's when it names the setting's parameter
 * (profile->config_settings), else the setting, else its default; "" for a key the profile
 * does not have. */
const char *agent_setting(const struct ap_agent *a, const char *key);
/* A setting as a number of seconds / a count; def if unset or not a number. */
long agent_setting_long(const struct ap_agent *a, const char *key, long def);
bool agent_setting_bool(const struct ap_agent *a, const char *key);

void agent_event(struct ap_agent *a, enum ap_event_kind kind, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Downloads url, then calls next with the result (the body may be taken: set r->body NULL).
 * A URL that cannot be started ends the pass with an error and returns -errno. */
int agent_fetch(struct ap_agent *a, const char *url,
		void (*next)(struct ap_agent *a, struct fetch_result *r));
/* The same for the first head_bytes bytes only (fetch_options.head_bytes). */
int agent_fetch_head(struct ap_agent *a, const char *url, size_t head_bytes,
		     void (*next)(struct ap_agent *a, struct fetch_result *r));

/* Expands the seed's macros ($MA, $(MAU:4:2), ...) in s; malloc'd, NULL on no memory. */
char *agent_expand(const struct ap_agent *a, const char *s);
/* The URL of `name` in the directory of the server URL `server` (+ an optional path dir);
 * name NULL: the server URL itself, normalised. malloc'd; NULL if server is not a URL. */
char *agent_url(const struct ap_agent *a, const char *server, const char *dir, const char *name);

/* Applies a configuration (full: the applied configuration is replaced; otherwise merged). */
int agent_apply(struct ap_agent *a, const struct kvmap *cfg, bool full, const char *source);
/* The same for the entries of a parsed file (cfgfile.h). */
int agent_apply_cfg(struct ap_agent *a, const struct cfg *cfg, bool full, const char *source);
int agent_install_firmware(struct ap_agent *a, const char *version, const void *data, size_t len);
int agent_store_resource(struct ap_agent *a, const char *kind, const char *name, const void *data,
			 size_t len);
/* The endpoint reboots: the callback runs, then it powers on again (a new boot). */
void agent_reboot(struct ap_agent *a, enum agent_boot_reason why, const char *reason);
/* Ends the pass: ok or failed with a reason; schedules the next one per the settings. */
void agent_pass_end(struct ap_agent *a, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Starts a pass now (trigger: "power-on", "periodic", "check-sync", ...). */
void agent_pass_start(struct ap_agent *a, const char *trigger);
/* Starts a pass that needs no provisioning server at step (SPA's Upgrade Rule, a URL of its
 * own); a resync timer already set stays as it is. Nothing if a pass is running. */
void agent_pass_start_at(struct ap_agent *a, const char *trigger, void (*step)(struct ap_agent *a));
/* Runs fn after `seconds` on the upgrade error timer (replacing what it held). */
void agent_upgrade_after(struct ap_agent *a, double seconds, void (*fn)(struct ap_agent *a),
			 const char *why);
/* Runs fn after `seconds` (replacing any pending timer). */
void agent_after(struct ap_agent *a, double seconds, void (*fn)(struct ap_agent *a),
		 const char *why);
/* Saves settings, configuration and memo to the state directory (no-op in memory). */
int agent_save(struct ap_agent *a);

/* SIP PnP (pnp.c): SUBSCRIBE to pnp_address, then agent_pnp_done() with the NOTIFY's URL
 * or NULL after pnp_timeout. -errno if it cannot start (the next source is asked). */
int agent_pnp_start(struct ap_agent *a);
void agent_pnp_stop(struct ap_agent *a);
void agent_pnp_done(struct ap_agent *a, const char *url);

/* The NOTIFY check-sync listener (checksync.c) on the sip_listen setting, if set. */
int agent_checksync_start(struct ap_agent *a, const char **ret_why);
void agent_checksync_stop(struct ap_agent *a);
/* A download from ip ("" ignored) succeeded: the provisioning server the listener trusts
 * when sip_password and checksync_from are unset (the last few addresses are kept). */
void agent_checksync_server_seen(struct ap_agent *a, const char *ip);
/* Whether value is a valid checksync_from: numeric addresses separated by commas or
 * spaces. 0, or -EINVAL with *ret_why. */
int agent_checksync_from_check(const char *value, const char **ret_why);

/* Answers the SIP request m (received on fd from `to`) with code, reason and one optional
 * header (checksync.c; PnP uses it for the NOTIFY's 200). */
struct sip_msg;
void agent_sip_reply(int fd, const struct sip_msg *m, unsigned code, const char *reason,
		     const char *header, const char *value, const struct sockaddr_storage *to,
		     socklen_t tolen);

/* The MD5 in a .md5 companion (first 32 hex digits, lower-cased into ret[33]); -EINVAL if none. */
int agent_md5_from_text(const char *text, size_t len, char ret[33]);

#endif
