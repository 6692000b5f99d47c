// SPDX-License-Identifier: MIT
/*
 * `autoprov resync`: makes devices fetch their configuration now, by sending each an
 * out-of-dialog SIP NOTIFY with the event its profile expects (check-sync for Algo, FIP,
 * Panasonic and AudioCodes, resync / reboot for SPA-style devices), paced, answering one
 * Digest challenge with the device's SIP credentials. It then watches the site's journal
 * (which the daemon writes every second) for a request from each device after its NOTIFY,
 * and reports per device: sent, the final response, and whether the device fetched.
 * The job itself is fleet/resync.c, which the admin API's POST /resync runs too.
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
#include "fleet/resync.h"
#include "proto/sip.h"
#include "site/directory.h"
#include "store/store.h"

static void on_done(void *arg)
{
	event_base_loopbreak(arg);
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

static void print_results(const struct resync_job *job, bool json)
{
	if (!json)
		printf("%-17s %-24s %-24s %-28s %s\n", "MAC", "CONTACT", "EVENT", "RESPONSE",
		       "FETCHED");
	for (size_t i = 0; i < resync_job_count(job); i++) {
		const struct resync_target *t = resync_job_target(job, i);
		char colons[MAC_LEN + 6], resp[96], fetched[300];

		mac_colons(t->mac, colons);
		if (t->state == RESYNC_NO_CONTACT)
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
			snprintf(fetched, sizeof(fetched), resync_job_waits(job) ? "no" : "-");
		if (json) {
			json_t *o = resync_target_json(t);
			char *line;

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
	struct resync_options ro;
	struct resync_job *job = NULL;
	struct directory *dir = NULL;
	struct event_base *base = NULL;
	struct sip_server *sip = NULL;
	struct store *st = NULL;
	struct sip_config cfg;
	char err[256];
	bool all = false, json = false;
	uint64_t v;
	int c, status = 1, r;

	sip_config_default(&cfg);
	resync_options_default(&ro);
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': site_dir = optarg; break;
		case OPT_GROUP: group = optarg; break;
		case OPT_ALL: all = true; break;
		case OPT_REBOOT: ro.reboot = true; break;
		case OPT_JSON: json = true; break;
		case OPT_BIND: bind_to = optarg; break;
		case OPT_WAIT:
			if (str_to_u64(optarg, 0, 86400, &v) < 0) {
				fprintf(stderr, "autoprov resync: --wait: '%s' is not 0..86400\n",
					optarg);
				return 2;
			}
			ro.wait_s = (unsigned)v;
			break;
		case OPT_RATE:
			if (parse_rate(optarg, &ro.rate) < 0) {
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
			ro.max_inflight = (unsigned)v;
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
	if (cli_open_store("autoprov resync", site_dir, NULL, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "autoprov resync: %s\n", err);
		return 1;
	}
	if (directory_new(st, 64, &dir) < 0 || resync_job_new(st, dir, &ro, &job) < 0) {
		fprintf(stderr, "autoprov resync: %s\n", store_strerror(st));
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			char mac[MAC_LEN + 1];
			const struct device *d;

			r = mac_parse(argv[i], mac, NULL) < 0 ? -EINVAL
							       : directory_device(dir, mac, &d);
			if (r < 0) {
				fprintf(stderr, "autoprov resync: %s: %s\n", argv[i],
					r == -ENOENT   ? "not in the inventory"
					: r == -EINVAL ? "not a MAC address"
						       : strerror(-r));
				goto out;
			}
			r = resync_job_add(job, d);
			if (r < 0)
				goto out;
		}
	} else {
		r = resync_job_add_group(job, group, 0);
		if (r < 0) {
			fprintf(stderr, "autoprov resync: cannot read the inventory: %s\n",
				r == -ENOMEM ? "out of memory" : store_strerror(st));
			goto out;
		}
		if (resync_job_count(job) == 0) {
			fprintf(stderr, "autoprov resync: no device%s%s\n",
				group ? " in group " : "", group ? group : "");
			goto out;
		}
	}
	for (size_t i = 0; i < resync_job_count(job); i++) {
		const struct resync_target *t = resync_job_target(job, i);

		if (t->note[0])
			fprintf(stderr, "autoprov resync: %s: %s\n", t->mac, t->note);
	}
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "autoprov resync: cannot create the event loop\n");
		goto out;
	}
	if (sip_server_new(base, NULL, &cfg, &sip, err, sizeof(err)) < 0) {
		fprintf(stderr, "autoprov resync: %s\n", err);
		goto out;
	}
	if (resync_job_start(job, base, sip, on_done, base) < 0) {
		fprintf(stderr, "autoprov resync: out of memory\n");
		goto out;
	}
	event_base_dispatch(base);
	print_results(job, json);
	status = 0;
	for (size_t i = 0; i < resync_job_count(job); i++) {
		const struct resync_target *t = resync_job_target(job, i);

		if (t->res.status < 200 || t->res.status >= 300)
			status = 1;
	}
out:
	sip_server_free(sip);
	resync_job_free(job);
	if (base)
		event_base_free(base);
	directory_free(dir);
	store_close(st);
	return status;
}
