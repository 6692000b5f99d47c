// SPDX-License-Identifier: MIT
/*
 * `autoprov resync`: makes devices fetch their configuration now, by sending each an
 * out-of-dialog SIP NOTIFY with the event its profile expects (check-sync for Algo, FIP,
 * Panasonic and AudioCodes, resync / reboot for SPA-style devices), paced, answering one
 * Digest challenge with the device's SIP credentials. It then watches the site's journal
 * (which the daemon writes every 100 ms) for a request from each device after its NOTIFY,
 * and reports per device: sent, the final response, and whether the device fetched.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "codec/sip_parse.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/mac.h"
#include "core/str.h"
#include "proto/sip.h"
#include "site/directory.h"
#include "store/store.h"

#define RESYNC_DEFAULT_RATE	50  /* NOTIFYs per second */
#define RESYNC_DEFAULT_INFLIGHT 200 /* transactions at once */
#define RESYNC_DEFAULT_WAIT	30  /* seconds to wait for the fetches */
#define RESYNC_POLL_MS		500

enum target_state {
	TARGET_WAITING,	   /* not sent yet */
	TARGET_SENT,	   /* NOTIFY in flight */
	TARGET_ANSWERED,   /* final response or timeout */
	TARGET_NO_CONTACT, /* nowhere to send it */
};

struct target {
	char mac[MAC_LEN + 1];
	char profile[16];
	char uri[300];
	char contact[ADDR_STRLEN];
	char event[64];
	char *user, *password;
	struct addr to;
	enum target_state state;
	int64_t sent_ms; /* wall clock, ms */
	struct sip_notify_result res;
	bool fetched;
	char fetch_proto[16], fetch_path[256];
	int64_t fetch_ms;
};

struct resync {
	struct directory *dir; /* device data: the variables after precedence */
	struct store *st;
	struct event_base *base;
	struct sip_server *sip;
	struct target *targets;
	size_t n, cap;
	size_t next;	  /* the next target to send */
	size_t answered;  /* of those sent, how many are done */
	size_t nsendable; /* targets with a contact */
	size_t started;	  /* NOTIFYs started, for the pace */
	double rate;
	unsigned max_inflight, wait_s;
	bool reboot;
	int64_t start_mono_ms, last_send_mono_ms;
	struct event *ev_pace, *ev_poll;
	char err[256];
};

static int64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void resync_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov resync [--site DIR] [OPTIONS] MAC... | --group G | --all\n"
		"\n"
		"Sends each device a SIP NOTIFY that makes it fetch its configuration now:\n"
		"Event: check-sync (algo, fip, panasonic, audiocodes; fip and panasonic with\n"
		";reboot=false), check-sync;reboot=true with --reboot, resync (spa) or reboot\n"
		"(spa with --reboot). The device's address is its variable sip_contact\n"
		"(sip:100@10.0.0.5:5060, 10.0.0.5:5062 or 10.0.0.5), else the address it last\n"
		"fetched from (journal), port 5060. A 401 / 407 is answered once with Digest from\n"
		"its variables sip_user and sip_password.\n"
		"\n"
		"  --site DIR         the site (default: the current directory)\n"
		"  --group G          every device of group G\n"
		"  --all              every device of the inventory\n"
		"  --reboot           ask for a reboot too\n"
		"  --wait SECONDS     how long to watch the journal for each device's fetch after\n"
		"                     its NOTIFY (default %d; 0: do not wait)\n"
		"  --rate N[/s]       NOTIFYs started per second (default %d)\n"
		"  --max-inflight N   NOTIFY transactions at once (default %d)\n"
		"  --bind ADDR:PORT   the local address to send from (default 0.0.0.0:0)\n"
		"  --t1 MS            SIP timer T1 (default 500; the NOTIFY gives up after 64*T1)\n"
		"  --json             one JSON object per device instead of the table\n"
		"  -h, --help         this text\n"
		"\n"
		"Exit status: 0 when every device answered 2xx, 1 otherwise, 2 on bad usage.\n"
		"Documentation: docs/sip.md.\n",
		RESYNC_DEFAULT_WAIT, RESYNC_DEFAULT_RATE, RESYNC_DEFAULT_INFLIGHT);
}

/* A string variable of the device after precedence (the directory's); NULL when none. */
static const char *device_var(struct directory *dir, const struct device *d, const char *name)
{
	json_t *v = directory_var(dir, d, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *profile_event(const char *profile, bool reboot)
{
	if (strcmp(profile, "spa") == 0)
		return reboot ? "reboot" : "resync";
	if (reboot)
		return "check-sync;reboot=true";
	if (strcmp(profile, "fip") == 0 || strcmp(profile, "panasonic") == 0)
		return "check-sync;reboot=false";
	return "check-sync";
}

/* "sip:100@10.0.0.5:5060", "10.0.0.5:5062", "[::1]:5062" or "10.0.0.5" into t. 0 or -EINVAL. */
static int parse_contact(const char *s, struct target *t)
{
	char buf[ADDR_STRLEN + 8];
	struct sip_uri u;

	if (strncasecmp(s, "sip:", 4) == 0) {
		if (sip_uri_parse(s, strlen(s), &u) < 0)
			return -EINVAL;
		if (snprintf(buf, sizeof(buf), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u", u.host,
			     u.port ? u.port : 5060) >= (int)sizeof(buf) ||
		    addr_parse(buf, &t->to) < 0)
			return -EINVAL;
		if (str_copy(t->uri, sizeof(t->uri), s) < 0)
			return -EINVAL;
	} else {
		if (addr_parse(s, &t->to) < 0) {
			if (snprintf(buf, sizeof(buf), strchr(s, ':') ? "[%s]:5060" : "%s:5060",
				     s) >= (int)sizeof(buf) ||
			    addr_parse(buf, &t->to) < 0)
				return -EINVAL;
		}
		snprintf(t->uri, sizeof(t->uri), "sip:%s",
			 addr_format((struct sockaddr *)&t->to.ss, buf, sizeof(buf)));
	}
	addr_format((struct sockaddr *)&t->to.ss, t->contact, sizeof(t->contact));
	return 0;
}

/* The address the device's newest journal entry came from. */
static int last_peer_cb(void *arg, const struct journal_entry *e)
{
	if (e->peer)
		str_copy(arg, ADDR_STRLEN + 2, e->peer);
	return 1;
}

/* The device's first fetch (any protocol but SIP) since the NOTIFY went out. */
static int fetch_cb(void *arg, const struct journal_entry *e)
{
	struct target *t = arg;

	if (e->proto && strcmp(e->proto, "sip") == 0)
		return 0;
	str_copy(t->fetch_path, sizeof(t->fetch_path), e->path ? e->path : "");
	t->fetched = true;
	t->fetch_ms = (int64_t)e->time.tv_sec * 1000 + e->time.tv_nsec / 1000000;
	str_copy(t->fetch_proto, sizeof(t->fetch_proto), e->proto ? e->proto : "");
	return 1;
}

struct collect {
	struct resync *rs;
	int r;
};

static int add_target(struct resync *rs, const struct device *d)
{
	const char *contact, *user, *password;
	struct target *t;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct target *n = realloc(rs->targets, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rs->targets = n;
		rs->cap = cap;
	}
	t = &rs->targets[rs->n];
	memset(t, 0, sizeof(*t));
	str_copy(t->mac, sizeof(t->mac), d->mac);
	str_copy(t->profile, sizeof(t->profile), d->profile);
	str_copy(t->event, sizeof(t->event), profile_event(d->profile, rs->reboot));
	user = device_var(rs->dir, d, "sip_user");
	t->user = user ? strdup(user) : NULL;
	password = device_var(rs->dir, d, "sip_password");
	t->password = password ? strdup(password) : NULL;
	contact = device_var(rs->dir, d, "sip_contact");
	rs->n++;
	if (contact) {
		if (parse_contact(contact, t) < 0) {
			fprintf(stderr,
				"autoprov resync: %s: sip_contact '%s' is not a SIP URI or "
				"ADDR[:PORT]\n",
				t->mac, contact);
			t->state = TARGET_NO_CONTACT;
			return 0;
		}
	} else {
		char peer[ADDR_STRLEN + 2] = "", host[ADDR_STRLEN];
		struct addr a;

		(void)store_journal_foreach(rs->st, t->mac, 0, true, last_peer_cb, peer);
		if (!peer[0] || addr_parse(peer, &a) < 0) {
			t->state = TARGET_NO_CONTACT;
			return 0;
		}
		addr_format_host((struct sockaddr *)&a.ss, host, sizeof(host));
		if (parse_contact(host, t) < 0) {
			t->state = TARGET_NO_CONTACT;
			return 0;
		}
	}
	rs->nsendable++;
	return 0;
}

static int collect_cb(const struct device *d, void *arg)
{
	struct collect *c = arg;

	return add_target(c->rs, d);
}

static void check_fetches(struct resync *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct target *t = &rs->targets[i];

		if (t->state == TARGET_WAITING || t->state == TARGET_NO_CONTACT || t->fetched)
			continue;
		(void)store_journal_foreach(rs->st, t->mac, t->sent_ms * 1000, false, fetch_cb, t);
	}
}

static bool all_fetched(const struct resync *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->targets[i].state == TARGET_ANSWERED && !rs->targets[i].fetched &&
		    rs->targets[i].res.status >= 200 && rs->targets[i].res.status < 300)
			return false;
	return true;
}

static void maybe_finish(struct resync *rs)
{
	int64_t now = now_ms(CLOCK_MONOTONIC);

	if (rs->next < rs->n || rs->answered < rs->nsendable)
		return;
	if (rs->wait_s == 0 || all_fetched(rs) ||
	    now >= rs->last_send_mono_ms + (int64_t)rs->wait_s * 1000)
		event_base_loopbreak(rs->base);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct resync *rs = arg;

	if (rs->wait_s)
		check_fetches(rs);
	maybe_finish(rs);
}

struct done_ctx {
	struct resync *rs;
	struct target *t;
};

static void notify_done(void *arg, const struct sip_notify_result *res)
{
	struct done_ctx *c = arg;
	struct resync *rs = c->rs;

	c->t->res = *res;
	c->t->state = TARGET_ANSWERED;
	rs->answered++;
	free(c);
	maybe_finish(rs);
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
	struct resync *rs = arg;
	int64_t now = now_ms(CLOCK_MONOTONIC);
	double allowed = (double)(now - rs->start_mono_ms) / 1000.0 * rs->rate + 1;

	while (rs->next < rs->n && (double)rs->started < allowed &&
	       sip_notify_pending(rs->sip) < rs->max_inflight) {
		struct target *t = &rs->targets[rs->next++];
		struct sip_notify n = { .to = t->to,
					.uri = t->uri,
					.event = t->event,
					.user = t->user,
					.password = t->password };
		struct done_ctx *c;
		int r;

		if (t->state == TARGET_NO_CONTACT)
			continue;
		c = malloc(sizeof(*c));
		if (!c) {
			t->state = TARGET_ANSWERED;
			snprintf(t->res.reason, sizeof(t->res.reason), "out of memory");
			rs->answered++;
			continue;
		}
		c->rs = rs;
		c->t = t;
		t->sent_ms = now_ms(CLOCK_REALTIME);
		t->state = TARGET_SENT;
		rs->started++;
		rs->last_send_mono_ms = now;
		r = sip_notify_start(rs->sip, &n, notify_done, c);
		if (r < 0) {
			free(c);
			t->state = TARGET_ANSWERED;
			snprintf(t->res.reason, sizeof(t->res.reason), "%s", strerror(-r));
			rs->answered++;
		}
	}
	if (rs->next < rs->n)
		event_add(rs->ev_pace, &(struct timeval){ .tv_usec = 10000 });
	maybe_finish(rs);
}

static void print_results(const struct resync *rs, bool json)
{
	if (!json)
		printf("%-17s %-24s %-24s %-28s %s\n", "MAC", "CONTACT", "EVENT", "RESPONSE",
		       "FETCHED");
	for (size_t i = 0; i < rs->n; i++) {
		const struct target *t = &rs->targets[i];
		char colons[MAC_LEN + 6], resp[96], fetched[300];

		mac_colons(t->mac, colons);
		if (t->state == TARGET_NO_CONTACT)
			snprintf(resp, sizeof(resp), "not sent: no contact");
		else if (t->res.status)
			snprintf(resp, sizeof(resp), "%u %s%s", t->res.status, t->res.reason,
				 t->res.authenticated ? " (auth)" : "");
		else
			snprintf(resp, sizeof(resp), "%s",
				 t->res.reason[0] ? t->res.reason : "not sent");
		if (t->fetched)
			snprintf(fetched, sizeof(fetched), "yes, %s \"%s\" after %lld ms",
				 t->fetch_proto, t->fetch_path,
				 (long long)(t->fetch_ms - t->sent_ms));
		else
			snprintf(fetched, sizeof(fetched), rs->wait_s ? "no" : "-");
		if (json) {
			json_t *o = json_pack(
				"{s:s, s:s, s:s, s:s, s:b, s:i, s:s, s:b, s:b}", "mac", t->mac,
				"profile", t->profile, "contact", t->contact, "event", t->event,
				"sent", t->state != TARGET_NO_CONTACT && t->sent_ms != 0, "status",
				(int)t->res.status, "reason",
				t->state == TARGET_NO_CONTACT ? "no contact" : t->res.reason,
				"authenticated", t->res.authenticated, "fetched", t->fetched);
			char *line;

			if (o && t->fetched) {
				json_object_set_new(o, "fetch_proto", json_string(t->fetch_proto));
				json_object_set_new(o, "fetch_path", json_string(t->fetch_path));
				json_object_set_new(o, "fetch_after_ms",
						    json_integer(t->fetch_ms - t->sent_ms));
			}
			line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
			if (line)
				printf("%s\n", line);
			free(line);
			json_decref(o);
		} else {
			printf("%-17s %-24s %-24s %-28s %s\n", colons,
			       t->contact[0] ? t->contact : "-", t->event, resp, fetched);
		}
	}
}

static int parse_rate(const char *s, double *ret)
{
	char buf[32];
	char *slash;
	uint64_t n;

	if (str_copy(buf, sizeof(buf), s) < 0)
		return -EINVAL;
	slash = strchr(buf, '/');
	if (slash) {
		if (strcmp(slash, "/s") != 0)
			return -EINVAL;
		*slash = '\0';
	}
	if (str_to_u64(buf, 1, 100000, &n) < 0)
		return -EINVAL;
	*ret = (double)n;
	return 0;
}

int cmd_resync(int argc, char **argv)
{
	enum {
		OPT_GROUP = 256,
		OPT_ALL,
		OPT_REBOOT,
		OPT_WAIT,
		OPT_RATE,
		OPT_INFLIGHT,
		OPT_JSON,
		OPT_BIND,
		OPT_T1
	};
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "reboot", no_argument, NULL, OPT_REBOOT },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "max-inflight", required_argument, NULL, OPT_INFLIGHT },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "t1", required_argument, NULL, OPT_T1 },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *site_dir = ".", *group = NULL, *bind_to = "0.0.0.0:0";
	struct resync rs = { .rate = RESYNC_DEFAULT_RATE,
			     .max_inflight = RESYNC_DEFAULT_INFLIGHT,
			     .wait_s = RESYNC_DEFAULT_WAIT };
	struct sip_config cfg;
	bool all = false, json = false;
	uint64_t v;
	int c, status = 1, r;

	sip_config_default(&cfg);
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': site_dir = optarg; break;
		case OPT_GROUP: group = optarg; break;
		case OPT_ALL: all = true; break;
		case OPT_REBOOT: rs.reboot = true; break;
		case OPT_JSON: json = true; break;
		case OPT_BIND: bind_to = optarg; break;
		case OPT_WAIT:
			if (str_to_u64(optarg, 0, 86400, &v) < 0) {
				fprintf(stderr, "autoprov resync: --wait: '%s' is not 0..86400\n",
					optarg);
				return 2;
			}
			rs.wait_s = (unsigned)v;
			break;
		case OPT_RATE:
			if (parse_rate(optarg, &rs.rate) < 0) {
				fprintf(stderr,
					"autoprov resync: --rate: '%s' is not N or N/s "
					"(1..100000)\n",
					optarg);
				return 2;
			}
			break;
		case OPT_INFLIGHT:
			if (str_to_u64(optarg, 1, 100000, &v) < 0) {
				fprintf(stderr,
					"autoprov resync: --max-inflight: '%s' is not "
					"1..100000\n",
					optarg);
				return 2;
			}
			rs.max_inflight = (unsigned)v;
			break;
		case OPT_T1:
			if (str_to_u64(optarg, 10, 10000, &v) < 0) {
				fprintf(stderr, "autoprov resync: --t1: '%s' is not 10..10000\n",
					optarg);
				return 2;
			}
			cfg.t1_ms = (unsigned)v;
			if (cfg.t2_ms < cfg.t1_ms)
				cfg.t2_ms = cfg.t1_ms;
			break;
		case 'h': resync_usage(stdout); return 0;
		default: resync_usage(stderr); return 2;
		}
	}
	if ((optind < argc) + (group != NULL) + all != 1) {
		fprintf(stderr, "autoprov resync: give MACs, --group G or --all (one of them)\n");
		resync_usage(stderr);
		return 2;
	}
	if (addr_parse(bind_to, &cfg.listen) < 0) {
		fprintf(stderr, "autoprov resync: --bind: '%s' is not ADDR:PORT\n", bind_to);
		return 2;
	}
	cfg.enabled = true;
	log_init(LOG_LEVEL_WARN, false);
	if (store_open(site_dir, &rs.st, rs.err, sizeof(rs.err)) < 0) {
		fprintf(stderr, "autoprov resync: %s\n", rs.err);
		return 1;
	}
	if (directory_new(rs.st, 64, &rs.dir) < 0) {
		fprintf(stderr, "autoprov resync: %s\n", store_strerror(rs.st));
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			char mac[MAC_LEN + 1];
			const struct device *d;

			r = mac_parse(argv[i], mac, NULL) < 0 ? -EINVAL
							       : directory_device(rs.dir, mac, &d);
			if (r < 0) {
				fprintf(stderr, "autoprov resync: %s: %s\n", argv[i],
					r == -ENOENT   ? "not in the inventory"
					: r == -EINVAL ? "not a MAC address"
						       : strerror(-r));
				goto out;
			}
			r = add_target(&rs, d);
			if (r < 0)
				goto out;
		}
	} else {
		struct collect col = { .rs = &rs };

		r = store_device_foreach_in(rs.st, group, NULL, collect_cb, &col);
		if (r < 0) {
			fprintf(stderr, "autoprov resync: cannot read the inventory: %s\n",
				store_strerror(rs.st));
			goto out;
		}
		if (rs.n == 0) {
			fprintf(stderr, "autoprov resync: no device%s%s\n",
				group ? " in group " : "", group ? group : "");
			goto out;
		}
	}
	rs.base = event_base_new();
	if (!rs.base) {
		fprintf(stderr, "autoprov resync: cannot create the event loop\n");
		goto out;
	}
	if (sip_server_new(rs.base, NULL, &cfg, &rs.sip, rs.err, sizeof(rs.err)) < 0) {
		fprintf(stderr, "autoprov resync: %s\n", rs.err);
		goto out;
	}
	rs.ev_pace = event_new(rs.base, -1, 0, on_pace, &rs);
	rs.ev_poll = event_new(rs.base, -1, EV_PERSIST, on_poll, &rs);
	if (!rs.ev_pace || !rs.ev_poll) {
		fprintf(stderr, "autoprov resync: out of memory\n");
		goto out;
	}
	rs.start_mono_ms = rs.last_send_mono_ms = now_ms(CLOCK_MONOTONIC);
	event_active(rs.ev_pace, 0, 0);
	event_add(rs.ev_poll, &(struct timeval){ .tv_usec = RESYNC_POLL_MS * 1000 });
	event_base_dispatch(rs.base);
	if (rs.wait_s)
		check_fetches(&rs);
	print_results(&rs, json);
	status = 0;
	for (size_t i = 0; i < rs.n; i++)
		if (rs.targets[i].res.status < 200 || rs.targets[i].res.status >= 300)
			status = 1;
out:
	if (rs.ev_pace)
		event_free(rs.ev_pace);
	if (rs.ev_poll)
		event_free(rs.ev_poll);
	sip_server_free(rs.sip);
	if (rs.base)
		event_base_free(rs.base);
	for (size_t i = 0; i < rs.n; i++) {
		free(rs.targets[i].user);
		free(rs.targets[i].password);
	}
	free(rs.targets);
	directory_free(rs.dir);
	store_close(rs.st);
	return status;
}
