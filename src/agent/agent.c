// SPDX-License-Identifier: MIT
/*
 * libautoprov's core: an endpoint's lifecycle (power-on, passes, timers, reboots), its
 * settings and persistent state, discovery of the provisioning server, and the services the
 * vendor profiles build their flows from (downloads, macro expansion, apply, firmware,
 * resources, events). The profiles in profiles/ hold what differs between vendors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent_internal.h"
#include "agent/url.h"
#include "core/mac.h"
#include "core/md5.h"
#include "core/str.h"
#include "macro/macro.h"

const char *const ap_profiles[] = { "algo", "fip", "spa", "audiocodes", "panasonic", NULL };

static const struct agent_profile *const profiles[] = {
	&agent_profile_algo,	   &agent_profile_fip,	     &agent_profile_spa,
	&agent_profile_audiocodes, &agent_profile_panasonic,
};

/*
 * Settings every profile has (docs/agent.md). Profiles add their own; a profile's table
 * wins over this one.
 */
static const struct agent_default common_defaults[] = {
	{ "server", "" },	     /* static / manual server; "" = none */
	{ "server_method", "auto" }, /* auto: discovery order; static: the server alone */
	{ "protocol", "tftp" },	     /* for a server given without a scheme */
	{ "dhcp", "1" },	     /* use DHCP options */
	{ "user", "" },		     /* credentials when the URL carries none */
	{ "password", "" },
	{ "verify_server", "1" }, /* HTTPS: verify the server's certificate */
	{ "ca_file", "" },	  /* extra trusted CAs for HTTPS */
	{ "cert_file", "" },	  /* client certificate for HTTPS */
	{ "key_file", "" },
	{ "source_address", "" },	 /* local IP address downloads leave from */
	{ "tftp_blksize", "1428" },	 /* RFC 2348 block size asked for */
	{ "fetch_timeout", "30" },	 /* seconds per download */
	{ "max_file_size", "67108864" }, /* bytes */
	{ "resync_periodic", "0" },	 /* seconds between passes; 0 = off */
	{ "resync_error_retry_delay", "3600" },
	{ "random_delay", "0" }, /* at power-on: wait 0..N seconds first */
	{ "max_reboots", "0" },	 /* stop after this many reboots; 0 = never */
	{ "sip_listen", "" },	 /* ADDR:PORT for NOTIFY check-sync; "" = none */
	{ "sip_user", "" },	 /* credentials a NOTIFY must answer a 401 with */
	{ "sip_password", "" },
	{ "checksync_from", "" }, /* addresses a NOTIFY may come from; "" = the server's */
	{ NULL, NULL },
};

static void agent_set_state(struct ap_agent *a, enum agent_state state)
{
	a->state = state;
}

static const char *defaults_get(const struct agent_default *d, const char *key)
{
	for (; d && d->key; d++)
		if (strcmp(d->key, key) == 0)
			return d->value;
	return NULL;
}

static const char *setting_default(const struct ap_agent *a, const char *key)
{
	const char *v = defaults_get(a->profile->defaults, key);
	return v ? v : defaults_get(common_defaults, key);
}

const char *agent_setting(const struct ap_agent *a, const char *key)
{
	const struct agent_config_setting *c = a->profile->config_settings;
	const char *v = NULL;
	for (; c && c->parameter && !v; c++)
		if (strcmp(c->setting, key) == 0)
			v = kvmap_get(&a->config, c->parameter);
	if (!v)
		v = kvmap_get(&a->settings, key);
	if (!v)
		v = setting_default(a, key);
	return v ? v : "";
}

long agent_setting_long(const struct ap_agent *a, const char *key, long def)
{
	const char *v = agent_setting(a, key);
	uint64_t n;
	if (!*v || str_to_u64(v, 0, 1000000000, &n) < 0)
		return def;
	return (long)n;
}

bool agent_setting_bool(const struct ap_agent *a, const char *key)
{
	const char *v = agent_setting(a, key);
	bool b = false;
	return str_to_bool(v, &b) == 0 && b;
}

static double agent_elapsed(const struct ap_agent *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->started.tv_sec) +
	       (double)(now.tv_nsec - a->started.tv_nsec) / 1e9;
}

static void agent_emit(struct ap_agent *a, struct ap_event *ev)
{
	ev->time = agent_elapsed(a);
	if (a->cb.event)
		a->cb.event(a->user, ev);
}

void agent_event(struct ap_agent *a, enum ap_event_kind kind, const char *url, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct ap_event ev = { .kind = kind, .text = text, .url = url };
	agent_emit(a, &ev);
}

/* --- persistent state: settings, configuration and memo in state_dir/state.json --- */

static json_t *kvmap_to_json(const struct kvmap *m)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < m->n; i++)
		json_object_set_new(o, m->keys[i], json_string(m->values[i]));
	return o;
}

static int kvmap_from_json(struct kvmap *m, json_t *o)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (!json_is_string(v))
			continue;
		int r = kvmap_set(m, key, json_string_value(v));
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_save(struct ap_agent *a)
{
	if (!a->state_dir)
		return 0;
	json_t *root =
		json_pack("{s:o, s:o, s:o}", "settings", kvmap_to_json(&a->settings), "config",
			  kvmap_to_json(&a->config), "memo", kvmap_to_json(&a->memo));
	if (!root)
		return -ENOMEM;
	char path[4096], tmp[4096];
	snprintf(path, sizeof(path), "%s/state.json", a->state_dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", a->state_dir);
	int r = json_dump_file(root, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (r < 0 || rename(tmp, path) < 0) {
		int err = errno ? -errno : -EIO;
		unlink(tmp);
		return err;
	}
	return 0;
}

static int agent_load(struct ap_agent *a, const char **ret_why)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/state.json", a->state_dir);
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : -errno;
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		*ret_why = "the state file is not valid JSON";
		return -EINVAL;
	}
	int r = 0;
	json_t *o;
	if ((o = json_object_get(root, "settings")) && r == 0)
		r = kvmap_from_json(&a->settings, o);
	if ((o = json_object_get(root, "config")) && r == 0)
		r = kvmap_from_json(&a->config, o);
	if ((o = json_object_get(root, "memo")) && r == 0)
		r = kvmap_from_json(&a->memo, o);
	json_decref(root);
	return r;
}

/* --- lifecycle --- */

struct ap_downloader {
	struct fetcher *fetcher;
};

struct ap_downloader *ap_downloader_new(struct event_base *base)
{
	struct ap_downloader *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->fetcher = fetcher_new(base);
	if (!d->fetcher) {
		free(d);
		return NULL;
	}
	return d;
}

void ap_downloader_free(struct ap_downloader *d)
{
	if (!d)
		return;
	fetcher_free(d->fetcher);
	free(d);
}

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg);
static void agent_upgrade_timer_cb(evutil_socket_t fd, short what, void *arg);

static char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ap_agent_new(struct event_base *base, const struct ap_agent_config *cfg, struct ap_agent **ret,
		 const char **ret_why)
{
	const char *why = NULL;
	const struct agent_profile *profile = NULL;
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (cfg->profile && strcmp(cfg->profile, profiles[i]->name) == 0)
			profile = profiles[i];
	if (!profile) {
		*ret_why = "unknown profile (algo, fip, spa, audiocodes, panasonic)";
		return -EINVAL;
	}
	char mac[MAC_LEN + 1];
	if (!cfg->identity.mac || mac_parse(cfg->identity.mac, mac, &why) < 0) {
		*ret_why = why ? why : "a MAC address is required";
		return -EINVAL;
	}
	struct ap_agent *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->profile = profile;
	a->base = base;
	a->cb = cfg->callbacks;
	a->user = cfg->user;
	a->reboot_stops = cfg->reboot_stops;
	memcpy(a->mac_lower, mac, sizeof(a->mac_lower));
	mac_upper(mac, a->mac_upper);
	mac_colons(mac, a->mac_colons);
	a->model = strdup(cfg->identity.model ? cfg->identity.model : "");
	a->serial = strdup(cfg->identity.serial ? cfg->identity.serial : "");
	a->firmware = strdup(cfg->identity.firmware ? cfg->identity.firmware : "");
	a->hardware = strdup(cfg->identity.hardware ? cfg->identity.hardware : "");
	a->ip = strdup(cfg->identity.ip ? cfg->identity.ip : "");
	a->state_dir = strdup_or_null(cfg->state_dir);
	a->dhcp = dhcp_options_new();
	a->timer = evtimer_new(base, agent_timer_cb, a);
	a->upgrade_timer = evtimer_new(base, agent_upgrade_timer_cb, a);
	int r = -ENOMEM;
	if (!a->model || !a->serial || !a->firmware || !a->hardware || !a->ip ||
	    (cfg->state_dir && !a->state_dir) || !a->dhcp || !a->timer || !a->upgrade_timer)
		goto fail;
	a->stats.first_provisioned = -1;
	if (cfg->downloader) {
		a->downloader = cfg->downloader;
	} else {
		a->downloader = ap_downloader_new(base);
		a->own_downloader = true;
		if (!a->downloader)
			goto fail;
	}
	if (a->state_dir) {
		if (mkdir(a->state_dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			*ret_why = "cannot create the state directory";
			goto fail;
		}
		r = agent_load(a, ret_why);
		if (r < 0) {
			if (r != -EINVAL)
				*ret_why = "cannot read the state directory";
			goto fail;
		}
		/* An installed firmware outlives a reboot; the identity gives the factory one. */
		const char *fw = kvmap_get(&a->memo, "firmware");
		if (fw) {
			free(a->firmware);
			a->firmware = strdup(fw);
			r = -ENOMEM;
			if (!a->firmware)
				goto fail;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	*ret = a;
	return 0;
fail:
	if (r == -ENOMEM)
		*ret_why = "out of memory";
	ap_agent_free(a);
	return r;
}

static void agent_pass_reset(struct ap_agent *a)
{
	free(a->server);
	free(a->server_detail);
	free(a->scratch);
	discovery_plan_free(a->candidates, a->ncandidates);
	a->candidates = NULL;
	a->ncandidates = 0;
	agent_pnp_stop(a);
	if (a->priv && a->profile->pass_done)
		a->profile->pass_done(a);
	free(a->priv);
	a->server = a->server_detail = a->scratch = NULL;
	a->priv = NULL;
	a->scratch_len = 0;
	a->step = 0;
	a->changed = false;
	a->resync_ok = false;
	kvmap_clear(&a->pending);
}

/* Stops timers and transfers (a reboot does this; the check-sync listener stays). */
static void agent_halt(struct ap_agent *a)
{
	if (a->fetch) {
		fetch_cancel(a->fetch);
		a->fetch = NULL;
	}
	free(a->fetch_url);
	a->fetch_url = NULL;
	if (a->timer)
		evtimer_del(a->timer);
	if (a->upgrade_timer)
		evtimer_del(a->upgrade_timer);
	agent_pnp_stop(a);
	agent_set_state(a, AGENT_IDLE);
}

void ap_agent_stop(struct ap_agent *a)
{
	agent_halt(a);
	agent_checksync_stop(a);
}

void ap_agent_free(struct ap_agent *a)
{
	if (!a)
		return;
	ap_agent_stop(a);
	agent_pass_reset(a);
	if (a->timer)
		event_free(a->timer);
	if (a->upgrade_timer)
		event_free(a->upgrade_timer);
	if (a->own_downloader)
		ap_downloader_free(a->downloader);
	dhcp_options_free(a->dhcp);
	kvmap_clear(&a->settings);
	kvmap_clear(&a->config);
	kvmap_clear(&a->memo);
	free(a->model);
	free(a->serial);
	free(a->firmware);
	free(a->hardware);
	free(a->ip);
	free(a->state_dir);
	free(a);
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static long parse_clock(const char *s);

int ap_agent_set(struct ap_agent *a, const char *key, const char *value, const char **ret_why)
{
	const char *def = setting_default(a, key);
	uint64_t n;
	if (!def) {
		*ret_why = "unknown setting for this profile (see docs/agent.md)";
		return -EINVAL;
	}
	/* A setting whose default is a number takes a number (seconds, bytes, a switch). */
	if (*def && all_digits(def) && str_to_u64(value, 0, 1000000000, &n) < 0) {
		*ret_why = "a whole number is expected";
		return -EINVAL;
	}
	if (strncmp(key, "sync_", 5) == 0 && strcmp(key, "sync_days") != 0 && *value &&
	    parse_clock(value) < 0) {
		*ret_why = "a time of day HH:MM[:SS] is expected";
		return -EINVAL;
	}
	if (strcmp(key, "checksync_from") == 0 && agent_checksync_from_check(value, ret_why) < 0)
		return -EINVAL;
	int r = kvmap_set(&a->settings, key, value);
	if (r == 0)
		r = agent_save(a);
	if (r < 0)
		*ret_why = r == -ENOMEM ? "out of memory" : "cannot write the state directory";
	return r;
}

int ap_agent_dhcp_option(struct ap_agent *a, const char *line, const char **ret_why)
{
	return dhcp_options_set(a->dhcp, line, ret_why);
}

int ap_agent_dhcp_file(struct ap_agent *a, const char *path, const char **ret_why)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		*ret_why = "cannot open the DHCP options file";
		return -errno;
	}
	char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf), f);
	bool big = n == sizeof(buf);
	fclose(f);
	if (big) {
		*ret_why = "the DHCP options file is larger than 64 KiB";
		return -EFBIG;
	}
	size_t line = 0;
	return dhcp_options_load(a->dhcp, buf, n, &line, ret_why);
}

bool ap_agent_converged(const struct ap_agent *a)
{
	return a->converged;
}

void ap_agent_stats(const struct ap_agent *a, struct ap_stats *ret)
{
	*ret = a->stats;
}

/* --- timers and the lifecycle --- */

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ap_agent *a = arg;
	void (*fn)(struct ap_agent *) = a->timer_fn;
	a->timer_fn = NULL;
	if (a->state == AGENT_WAITING) /* not a pass that kept the timer (agent_pass_start_at) */
		agent_set_state(a, AGENT_IDLE);
	if (fn)
		fn(a);
}

static void agent_upgrade_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ap_agent *a = arg;
	void (*fn)(struct ap_agent *) = a->upgrade_fn;
	a->upgrade_fn = NULL;
	if (fn)
		fn(a);
}

void agent_upgrade_after(struct ap_agent *a, double seconds, void (*fn)(struct ap_agent *a),
			 const char *why)
{
	struct timeval tv = { .tv_sec = seconds > 0 ? (time_t)seconds : 0 };
	a->upgrade_fn = fn;
	evtimer_add(a->upgrade_timer, &tv);
	if (why)
		agent_event(a, AP_EV_TIMER, NULL, "%s in %.0f s", why, seconds);
}

void agent_after(struct ap_agent *a, double seconds, void (*fn)(struct ap_agent *a),
		 const char *why)
{
	if (seconds < 0)
		seconds = 0;
	struct timeval tv = { .tv_sec = (time_t)seconds,
			      .tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6) };
	a->timer_fn = fn;
	evtimer_add(a->timer, &tv);
	agent_set_state(a, AGENT_WAITING);
	if (why)
		agent_event(a, AP_EV_TIMER, NULL, "%s in %.0f s", why, seconds);
}

static const char *const boot_reasons[] = {
	[AGENT_BOOT_POWER] = "power-on",
	[AGENT_BOOT_CONFIG] = "reboot after a configuration change",
	[AGENT_BOOT_FIRMWARE] = "reboot after a firmware upgrade",
	[AGENT_BOOT_REQUEST] = "reboot on request",
};

static void agent_power_on_pass(struct ap_agent *a)
{
	agent_pass_start(a, a->boot_reason == AGENT_BOOT_POWER ? "power-on" : "after the reboot");
}

static void agent_boot(struct ap_agent *a)
{
	agent_event(a, AP_EV_STEP, NULL, "boot: %s (firmware %s)", boot_reasons[a->boot_reason],
		    *a->firmware ? a->firmware : "unknown");
	if (a->profile->boot) {
		a->profile->boot(a);
		return;
	}
	long delay = agent_setting_long(a, "random_delay", 0);
	if (delay > 0 && a->boot_reason == AGENT_BOOT_POWER) {
		agent_after(a, (double)(random() % (delay + 1)), agent_power_on_pass,
			    "random delay: first pass");
		return;
	}
	agent_power_on_pass(a);
}

int ap_agent_start(struct ap_agent *a)
{
	ap_agent_stop(a);
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	const char *why = "";
	int r = agent_checksync_start(a, &why);
	if (r < 0) {
		agent_event(a, AP_EV_ERROR, NULL, "%s: %s", why, strerror(-r));
		return r;
	}
	a->boot_reason = AGENT_BOOT_POWER;
	a->converged = false;
	agent_event(a, AP_EV_STEP, NULL, "%s endpoint %s, model %s", a->profile->name, a->mac_upper,
		    *a->model ? a->model : "unknown");
	agent_boot(a);
	return 0;
}

int ap_agent_check_sync(struct ap_agent *a, bool reboot)
{
	agent_event(a, AP_EV_STEP, NULL, "check-sync received%s", reboot ? " (reboot=true)" : "");
	if (a->profile->check_sync) {
		a->profile->check_sync(a, reboot);
		return 0;
	}
	if (reboot)
		agent_reboot(a, AGENT_BOOT_REQUEST, "check-sync with reboot=true");
	else
		agent_pass_start(a, "check-sync");
	return 0;
}

static void agent_boot_again(struct ap_agent *a)
{
	agent_boot(a);
}

void agent_reboot(struct ap_agent *a, enum agent_boot_reason why, const char *reason)
{
	agent_halt(a);
	a->stats.reboots++;
	agent_event(a, AP_EV_REBOOT, NULL, "reboot: %s", reason);
	agent_save(a);
	if (a->cb.reboot)
		a->cb.reboot(a->user, reason);
	long max = agent_setting_long(a, "max_reboots", 0);
	if (a->reboot_stops || (max > 0 && a->stats.reboots >= (unsigned)max)) {
		if (!a->reboot_stops)
			agent_event(a, AP_EV_ERROR, NULL, "stopped after %ld reboots (max_reboots)",
				    max);
		return;
	}
	a->boot_reason = why;
	a->converged = false;
	/* From the loop, so the profile step that asked for the reboot unwinds first. */
	agent_after(a, 0, agent_boot_again, NULL);
}

/* --- passes --- */

static void agent_resync(struct ap_agent *a, const char *trigger)
{
	if (a->profile->resync)
		a->profile->resync(a, trigger);
	else
		agent_pass_start(a, trigger);
}

static void agent_periodic(struct ap_agent *a)
{
	agent_resync(a, "periodic resync");
}

static void agent_sync(struct ap_agent *a)
{
	agent_resync(a, "sync window");
}

static void agent_retry(struct ap_agent *a)
{
	agent_resync(a, "error retry");
}

/* "HH:MM:SS" (or "HH:MM") as seconds after midnight; -1 if it is not one. */
static long parse_clock(const char *s)
{
	unsigned h = 0, m = 0, sec = 0;
	int n = 0;
	if (sscanf(s, "%2u:%2u%n:%2u%n", &h, &m, &n, &sec, &n) < 2 || s[n] || h > 23 || m > 59 ||
	    sec > 59)
		return -1;
	return (long)(h * 3600 + m * 60 + sec);
}

/*
 * Seconds until the next sync of the daily window (Algo's Sync Start Time, Sync End Time
 * and Sync Days: a random time between start and end, on the days listed), or -1 when no
 * window is set or it is malformed.
 */
static long agent_sync_window(const struct ap_agent *a)
{
	static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	long start = parse_clock(agent_setting(a, "sync_start"));
	if (start < 0)
		return -1;
	long end =
		*agent_setting(a, "sync_end") ? parse_clock(agent_setting(a, "sync_end")) : start;
	if (end < 0)
		return -1;
	if (end < start)
		end += 86400;
	const char *only = agent_setting(a, "sync_days");
	time_t now = time(NULL);
	for (int d = 0; d < 8; d++) {
		struct tm tm;
		time_t day = now + (time_t)d * 86400;
		localtime_r(&day, &tm);
		if (*only && !strstr(only, days[tm.tm_wday]))
			continue;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		time_t at = mktime(&tm) + start + (end > start ? random() % (end - start + 1) : 0);
		if (at > now)
			return (long)(at - now);
	}
	return -1;
}

void agent_pass_end(struct ap_agent *a, bool ok, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	agent_set_state(a, AGENT_IDLE);
	struct ap_event ev = {
		.kind = ok ? AP_EV_DONE : AP_EV_ERROR, .text = text, .ok = ok, .changed = a->changed
	};
	if (ok) {
		a->converged = !a->changed;
		if (a->stats.first_provisioned < 0)
			a->stats.first_provisioned = agent_elapsed(a);
	} else {
		a->converged = false;
		str_copy(a->stats.last_error, sizeof(a->stats.last_error), text);
	}
	agent_save(a);
	agent_emit(a, &ev);
	if (a->state != AGENT_IDLE)
		return; /* the event callback stopped or restarted the agent */
	if (evtimer_pending(a->timer, NULL)) {
		agent_set_state(a, AGENT_WAITING); /* a pass that kept the resync timer */
		return;
	}
	bool resync_ok = ok || a->resync_ok;
	long next = resync_ok ? agent_setting_long(a, "resync_periodic", 0)
			      : agent_setting_long(a, "resync_error_retry_delay", 0);
	long window = resync_ok ? agent_sync_window(a) : -1;
	if (window >= 0 && (next <= 0 || window < next))
		agent_after(a, (double)window, agent_sync, "sync window: next pass");
	else if (next > 0)
		agent_after(a, (double)next, resync_ok ? agent_periodic : agent_retry,
			    resync_ok ? "periodic resync" : "error retry");
}

static void agent_discovered(struct ap_agent *a)
{
	discovery_plan_free(a->candidates, a->ncandidates);
	a->candidates = NULL;
	a->ncandidates = 0;
	if (!a->server) {
		agent_pass_end(a, false,
			       "no provisioning server: no static server, DHCP option or other "
			       "source gave one");
		return;
	}
	agent_set_state(a, AGENT_PASS);
	a->profile->pass(a);
}

static void agent_use_server(struct ap_agent *a, int source, const char *server, const char *detail)
{
	a->server = strdup(server);
	a->server_detail = strdup_or_null(detail);
	a->server_source = source;
	agent_event(a, AP_EV_DECISION, a->server, "server from %s: %s%s%s",
		    discovery_source_name(source), server, detail ? " with " : "",
		    detail ? detail : "");
}

static void agent_next_candidate(struct ap_agent *a);
static int agent_fetch_with(struct ap_agent *a, const char *url, int max_redirects,
			    size_t head_bytes,
			    void (*next)(struct ap_agent *a, struct fetch_result *r));

/*
 * The redirection server answers with a redirection (3xx, not followed) to the
 * provisioning URL, which becomes the server: a directory (http://host/prov/,
 * tftp://host/dir/), a file, any protocol.
 */
static void agent_redirected(struct ap_agent *a, struct fetch_result *r)
{
	if (r->redirect_url) {
		agent_use_server(a, DISC_REDIRECT, r->redirect_url, NULL);
		agent_discovered(a);
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "redirection server: %s, next source",
		    r->status == FETCH_OK ? "no redirection" : r->message);
	a->step++;
	agent_next_candidate(a);
}

void agent_pnp_done(struct ap_agent *a, const char *url)
{
	if (url) {
		agent_use_server(a, DISC_PNP, url, NULL);
		agent_discovered(a);
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "SIP PnP: no NOTIFY received, next source");
	a->step++;
	agent_next_candidate(a);
}

/* The first candidate that gives a server is used (every seed's rule: a lower-priority
 * source is only asked when a higher one gave nothing). */
static void agent_next_candidate(struct ap_agent *a)
{
	for (; a->step < a->ncandidates && !a->server; a->step++) {
		const struct discovery_candidate *c = &a->candidates[a->step];
		if (c->server) {
			agent_use_server(a, (int)c->source, c->server, c->detail);
			break;
		}
		if (c->source == DISC_REDIRECT && *agent_setting(a, "redirect_server")) {
			free(a->scratch);
			a->scratch = agent_expand(a, agent_setting(a, "redirect_server"));
			if (a->scratch) {
				/* started, or the pass ended with the reason (a bad URL) */
				agent_fetch_with(a, a->scratch, -1, 0, agent_redirected);
				return;
			}
			continue;
		}
		if (c->source == DISC_PNP && agent_pnp_start(a) == 0)
			return;
		agent_event(a, AP_EV_DECISION, NULL, "%s: not available, next source",
			    discovery_source_name(c->source));
	}
	agent_discovered(a);
}

static void agent_discover(struct ap_agent *a)
{
	const char *method = agent_setting(a, "server_method");
	struct discovery_input in = {
		.profile = a->profile->name,
		.dhcp = agent_setting_bool(a, "dhcp") ? a->dhcp : NULL,
		.static_server = *agent_setting(a, "server") ? agent_setting(a, "server") : NULL,
		.static_override = strcmp(method, "static") == 0,
		.dhcp_option = (unsigned)agent_setting_long(a, "dhcp_option", 0),
		.no_pnp = !agent_setting_bool(a, "pnp"),
		.no_dhcp =
			!agent_setting_bool(a, "dhcp") || (strcmp(a->profile->name, "spa") == 0 &&
							   !agent_setting_bool(a, "option66")),
		.no_redirect = !*agent_setting(a, "redirect_server"),
		.profile_rule =
			*agent_setting(a, "profile_rule") ? agent_setting(a, "profile_rule") : NULL,
		.config_file_name = *agent_setting(a, "config_file_name")
					    ? agent_setting(a, "config_file_name")
					    : NULL,
		.ip_mode = strcmp(agent_setting(a, "ip_mode"), "ipv6") == 0   ? DISC_IP_V6
			   : strcmp(agent_setting(a, "ip_mode"), "dual") == 0 ? DISC_IP_DUAL
									      : DISC_IP_V4,
	};
	const char *why = "no candidate";
	int r = discovery_plan(&in, &a->candidates, &a->ncandidates, &why);
	if (r < 0) {
		agent_pass_end(a, false, "no provisioning server: %s", why);
		return;
	}
	a->step = 0;
	agent_next_candidate(a);
}

void agent_pass_start_at(struct ap_agent *a, const char *trigger, void (*step)(struct ap_agent *a))
{
	if (a->state == AGENT_DISCOVERING || a->state == AGENT_PASS) {
		agent_event(a, AP_EV_DECISION, NULL, "%s: a pass is already running", trigger);
		return;
	}
	agent_pass_reset(a);
	a->trigger = trigger;
	a->stats.passes++;
	agent_event(a, AP_EV_STEP, NULL, "pass %u (%s)", a->stats.passes, trigger);
	agent_set_state(a, AGENT_PASS);
	step(a);
}

void agent_pass_start(struct ap_agent *a, const char *trigger)
{
	if (a->state == AGENT_DISCOVERING || a->state == AGENT_PASS) {
		agent_event(a, AP_EV_DECISION, NULL, "%s: a pass is already running", trigger);
		return;
	}
	if (a->timer)
		evtimer_del(a->timer);
	agent_pass_reset(a);
	a->trigger = trigger;
	a->stats.passes++;
	agent_event(a, AP_EV_STEP, NULL, "pass %u (%s)", a->stats.passes, trigger);
	agent_set_state(a, AGENT_DISCOVERING);
	if (a->profile->disabled && a->profile->disabled(a)) {
		agent_pass_end(a, true, "provisioning is disabled: nothing to do");
		return;
	}
	agent_discover(a);
}

/* --- services for the profiles --- */

static void agent_fetch_done(struct fetch_result *r, void *arg)
{
	struct ap_agent *a = arg;
	void (*next)(struct ap_agent *, struct fetch_result *) = a->fetch_next;
	a->fetch = NULL;
	a->fetch_next = NULL;
	a->stats.fetches++;
	if (r->status == FETCH_OK) {
		a->stats.bytes += r->len;
		/* where provisioning comes from: the check-sync listener trusts that host */
		agent_checksync_server_seen(a, r->peer_ip);
	} else if (r->status != FETCH_NOT_FOUND && !r->redirect_url)
		a->stats.fetch_failures++;
	struct ap_event ev = {
		.kind = AP_EV_FETCH,
		.text = r->message,
		.url = a->fetch_url,
		.status = fetch_status_name(r->status),
		.bytes = r->status == FETCH_OK ? (long)r->len : 0,
	};
	agent_emit(a, &ev);
	free(a->fetch_url);
	a->fetch_url = NULL;
	if (next)
		next(a, r);
}

/*
 * agent_fetch(), following at most max_redirects HTTP redirections (0: fetch.c's default,
 * negative: none, the 3xx is the answer), reading only head_bytes when not 0.
 */
static int agent_fetch_with(struct ap_agent *a, const char *url, int max_redirects,
			    size_t head_bytes,
			    void (*next)(struct ap_agent *a, struct fetch_result *r))
{
	struct fetch_options o = {
		.head_bytes = head_bytes,
		.timeout_ms = agent_setting_long(a, "fetch_timeout", 30) * 1000,
		.ca_file = *agent_setting(a, "ca_file") ? agent_setting(a, "ca_file") : NULL,
		.insecure = !agent_setting_bool(a, "verify_server"),
		.cert_file = *agent_setting(a, "cert_file") ? agent_setting(a, "cert_file") : NULL,
		.key_file = *agent_setting(a, "key_file") ? agent_setting(a, "key_file") : NULL,
		.user = *agent_setting(a, "user") ? agent_setting(a, "user") : NULL,
		.password = *agent_setting(a, "password") ? agent_setting(a, "password") : NULL,
		.tftp_blksize = (unsigned)agent_setting_long(a, "tftp_blksize", 0),
		.max_size = (size_t)agent_setting_long(a, "max_file_size", 64 << 20),
		.source_address = *agent_setting(a, "source_address")
					  ? agent_setting(a, "source_address")
					  : NULL,
		.max_redirects = max_redirects,
	};
	/* every URL leaves canonical, encoded where RFC 3986 says (FIP names have spaces) */
	char *wire = NULL;
	const char *why = "bad URL";
	int err = prov_url_on_server(url, NULL, NULL, &wire, &why);
	if (err < 0) {
		agent_pass_end(a, false, "cannot download %s: %s", url,
			       err == -ENOMEM ? strerror(ENOMEM) : why);
		return err;
	}
	free(a->fetch_url);
	a->fetch_url = wire;
	a->fetch_next = next;
	a->fetch = fetch_start(a->downloader->fetcher, wire, &o, agent_fetch_done, a);
	if (!a->fetch) {
		err = errno ? -errno : -EINVAL;
		agent_pass_end(a, false, "cannot download %s: %s", wire, strerror(-err));
		return err;
	}
	return 0;
}

int agent_fetch(struct ap_agent *a, const char *url,
		void (*next)(struct ap_agent *a, struct fetch_result *r))
{
	return agent_fetch_with(a, url, 0, 0, next);
}

int agent_fetch_head(struct ap_agent *a, const char *url, size_t head_bytes,
		     void (*next)(struct ap_agent *a, struct fetch_result *r))
{
	return agent_fetch_with(a, url, 0, head_bytes, next);
}

char *agent_expand(const struct ap_agent *a, const char *s)
{
	struct macro_device d = {
		.model = a->model,
		.serial = a->serial,
		.ip = a->ip,
		.sw_version = a->firmware,
		.hw_version = a->hardware,
	};
	char *out = NULL;
	if (macro_device_set_mac(&d, a->mac_lower, NULL) < 0 ||
	    macro_expand(s, macro_device_lookup, &d, &out) < 0)
		return NULL;
	return out;
}

char *agent_url(const struct ap_agent *a, const char *server, const char *dir, const char *name)
{
	struct prov_url u = { 0 };
	const char *why = NULL;
	if (prov_url_parse(server, agent_setting(a, "protocol"), &u, &why) < 0)
		return NULL;
	char *base = prov_url_format(&u);
	prov_url_done(&u);
	if (!base || !name)
		return base;
	char rel[1024];
	if (dir && *dir)
		snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	else
		snprintf(rel, sizeof(rel), "%s", name);
	char *url = prov_url_join(base, rel);
	free(base);
	return url;
}

int agent_apply(struct ap_agent *a, const struct kvmap *cfg, bool full, const char *source)
{
	if (a->cb.apply) {
		int r = a->cb.apply(a->user, (const char *const *)cfg->keys,
				    (const char *const *)cfg->values, cfg->n, full);
		if (r < 0)
			return r;
	}
	int r = 0;
	if (full)
		r = kvmap_copy(&a->config, cfg);
	for (size_t i = 0; !full && r == 0 && i < cfg->n; i++)
		r = kvmap_set(&a->config, cfg->keys[i], cfg->values[i]);
	if (r < 0)
		return r;
	a->stats.applies++;
	a->changed = true;
	agent_event(a, AP_EV_APPLY, NULL, "applied %zu settings from %s (%s)", cfg->n, source,
		    full ? "full: omitted settings back to defaults" : "incremental");
	return agent_save(a);
}

int agent_apply_cfg(struct ap_agent *a, const struct cfg *cfg, bool full, const char *source)
{
	struct kvmap settings = { 0 };
	int r = 0;
	for (size_t i = 0; r == 0 && i < cfg->n; i++)
		r = kvmap_set(&settings, cfg->entries[i].key, cfg->entries[i].value);
	if (r == 0)
		r = agent_apply(a, &settings, full, source);
	kvmap_clear(&settings);
	return r;
}

int agent_install_firmware(struct ap_agent *a, const char *version, const void *data, size_t len)
{
	if (a->cb.install_firmware) {
		int r = a->cb.install_firmware(a->user, version, data, len);
		if (r < 0)
			return r;
	}
	char *copy = strdup(version);
	if (!copy || kvmap_set(&a->memo, "firmware", version) < 0) {
		free(copy);
		return -ENOMEM;
	}
	free(a->firmware);
	a->firmware = copy;
	a->stats.firmware_installs++;
	a->changed = true;
	agent_event(a, AP_EV_FIRMWARE, NULL, "installed firmware %s (%zu bytes)", version, len);
	return agent_save(a);
}

int agent_store_resource(struct ap_agent *a, const char *kind, const char *name, const void *data,
			 size_t len)
{
	if (a->cb.store_resource) {
		int r = a->cb.store_resource(a->user, kind, name, data, len);
		if (r < 0)
			return r;
	}
	a->stats.resources++;
	a->changed = true;
	agent_event(a, AP_EV_RESOURCE, NULL, "stored %s %s (%zu bytes)", kind, name, len);
	return 0;
}

int agent_md5_from_text(const char *text, size_t len, char ret[33])
{
	size_t i = 0, n = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	for (; i < len && n < 32; i++, n++) {
		char c = text[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
		ret[n] = c;
	}
	if (n != 32 ||
	    (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n'))
		return -EINVAL;
	ret[32] = '\0';
	return 0;
}
