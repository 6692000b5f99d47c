// SPDX-License-Identifier: MIT
/**
 * @file agent.h
 * libautoprov: the endpoint side of zero-touch provisioning, for firmware to embed.
 *
 * An agent is one endpoint: a vendor profile (the flow of one of the vendor documents),
 * an identity (MAC, model, versions), the device's provisioning settings, and what discovery
 * received (DHCP options, a static server). Started, it finds the provisioning server,
 * downloads and verifies files, and hands what it accepts to the caller's callbacks: apply
 * these settings, install this firmware, store this resource, reboot. Every step and
 * decision is reported as an event, so a caller can print a timeline.
 *
 * The agent runs on the caller's libevent loop (many agents may share one loop and one
 * downloader) and never blocks. Its persistent state (applied configuration, firmware
 * version, resource checksums, settings) lives in a state directory, or only in memory.
 *
 * Functions return 0 or a negative errno. The library does not log.
 */
#ifndef AUTOPROV_AGENT_H
#define AUTOPROV_AGENT_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct ap_agent;
struct ap_downloader;

/** The endpoint's identity; strings are copied by ap_agent_new(). */
struct ap_identity {
	const char *mac;      /**< 12 hex digits, with or without separators (required) */
	const char *model;    /**< product name / ID, e.g. "8188", "FIP16", "IP542N", "400HD" */
	const char *serial;   /**< serial number ($SN), may be NULL */
	const char *firmware; /**< running firmware version ($SWVER), may be NULL */
	const char *hardware; /**< hardware version ($HWVER), may be NULL */
	const char *ip;	      /**< the endpoint's IP address ($IP), may be NULL */
};

/** What an event reports; see struct ap_event. */
enum ap_event_kind {
	AP_EV_STEP,	/**< a step begins (power-on, discovery, a pass) */
	AP_EV_DECISION, /**< a choice and its reason (file ignored, same version, ...) */
	AP_EV_FETCH,	/**< a download finished, successfully or not */
	AP_EV_APPLY,	/**< settings applied */
	AP_EV_FIRMWARE, /**< firmware installed */
	AP_EV_RESOURCE, /**< a resource stored */
	AP_EV_REBOOT,	/**< the endpoint reboots */
	AP_EV_DONE,	/**< a provisioning pass ended; `ok` says how */
	AP_EV_ERROR,	/**< a pass failed; a retry is scheduled if the profile retries */
	AP_EV_TIMER,	/**< the next pass is scheduled */
};

/** One timeline entry; valid only during the callback. */
struct ap_event {
	enum ap_event_kind kind;
	double time;	    /**< seconds since ap_agent_start() */
	const char *text;   /**< one readable sentence */
	const char *url;    /**< the URL concerned, or NULL */
	const char *status; /**< AP_EV_FETCH: "ok", "not found", "timed out", ... */
	long bytes;	    /**< AP_EV_FETCH: bytes received */
	bool ok;	    /**< AP_EV_DONE: the endpoint is provisioned */
	bool changed;	    /**< AP_EV_DONE: this pass changed something */
};

/**
 * What the endpoint does with what provisioning decides. Every member may be NULL (the
 * action then only happens in the agent's state). `data` pointers are valid only during the
 * call. A callback returning a negative errno makes the step fail (the timeline says so).
 */
struct ap_callbacks {
	/** Settings to apply: key/value pairs in file order. `full`: omitted settings return
	 * to their defaults; otherwise they are left as they are (incremental). */
	int (*apply)(void *user, const char *const *keys, const char *const *values, size_t n,
		     bool full);
	/** Install firmware `version` (the image is `data`). */
	int (*install_firmware)(void *user, const char *version, const void *data, size_t len);
	/** Store a resource (`kind`: "tone", "cacert", "phonebook", ...; `name`: its file name). */
	int (*store_resource)(void *user, const char *kind, const char *name, const void *data,
			      size_t len);
	/** The endpoint reboots now. The agent restarts its own flow afterwards (as after a power
	 * cycle) unless ap_agent_config.reboot_stops is set. */
	void (*reboot)(void *user, const char *reason);
	/** True while a call is up: SPA-style profiles defer resyncs then. */
	bool (*line_busy)(void *user);
	/** A timeline entry. */
	void (*event)(void *user, const struct ap_event *ev);
};

/** Everything an agent is created with; strings are copied. */
struct ap_agent_config {
	const char *profile; /**< "algo", "fip", "spa", "audiocodes", "panasonic" */
	struct ap_identity identity;
	const char *state_dir; /**< NULL: state in memory only */
	struct ap_callbacks callbacks;
	void *user;			  /**< passed to every callback */
	struct ap_downloader *downloader; /**< shared downloader; NULL: the agent makes its own */
	bool reboot_stops;		  /**< stop at a reboot instead of powering on again */
};

/** Profile names, NULL-terminated, for --help and validation. */
extern const char *const ap_profiles[];

/**
 * A downloader drives every transfer of the agents that share it (one libcurl multi handle
 * on `base`). Free it after the agents that use it.
 */
struct ap_downloader *ap_downloader_new(struct event_base *base);
void ap_downloader_free(struct ap_downloader *d);

/** Creates an agent on `base`. *ret_why (static) says what is wrong on -EINVAL. */
int ap_agent_new(struct event_base *base, const struct ap_agent_config *cfg, struct ap_agent **ret,
		 const char **ret_why);
void ap_agent_free(struct ap_agent *a);

/**
 * Sets a device setting (what an administrator would set in the web interface), e.g.
 * "server" (static server), "protocol", "partial" (Algo), "profile_rule", "option66" (SPA),
 * "resync_periodic"; for the check-sync listener "sip_listen", "sip_user", "sip_password"
 * and "checksync_from" (addresses a NOTIFY may come from; empty: only the provisioning
 * server's, unless sip_password is set). docs/agent.md lists each profile's settings and
 * defaults and who may make the endpoint act. Settings
 * persist in the state directory; a configuration file applied later may change them.
 */
int ap_agent_set(struct ap_agent *a, const char *key, const char *value, const char **ret_why);

/** Adds one received DHCP option, "CODE=VALUE" or "6:CODE=VALUE" (docs/agent.md). */
int ap_agent_dhcp_option(struct ap_agent *a, const char *line, const char **ret_why);
/** Adds the options of a file written by the project's DHCP client hooks. */
int ap_agent_dhcp_file(struct ap_agent *a, const char *path, const char **ret_why);

/**
 * Powers the endpoint on: the profile's boot flow starts on the loop, and the check-sync
 * listener opens when the sip_listen setting names an address (-errno if it cannot; the
 * reason is also reported as an AP_EV_ERROR event).
 */
int ap_agent_start(struct ap_agent *a);

/** A SIP NOTIFY check-sync (or resync) arrived; `reboot`: its reboot=true parameter. */
int ap_agent_check_sync(struct ap_agent *a, bool reboot);

/** True once a pass ended with the endpoint provisioned and nothing left to change. */
bool ap_agent_converged(const struct ap_agent *a);

/** The agent's counters, for reports. */
struct ap_stats {
	unsigned passes, fetches, fetch_failures, applies, firmware_installs, resources, reboots;
	unsigned long long bytes;
	double first_provisioned; /**< seconds from start to the first successful pass, or -1 */
	char last_error[160];	  /**< the last failed pass's reason, "" if none */
};
void ap_agent_stats(const struct ap_agent *a, struct ap_stats *ret);

/** Stops timers, transfers and the check-sync listener; the agent does nothing more until
 * started again. */
void ap_agent_stop(struct ap_agent *a);

#endif
