// SPDX-License-Identifier: MIT
/*
 * `autoprov sim`: a fleet of endpoints on one loop, each a libautoprov agent with its state
 * in memory, sharing downloaders (SIM_AGENTS_PER_DOWNLOADER endpoints each). Devices come
 * from a CSV (mac, model, profile, and any setting as a column) or are generated from a MAC
 * base. They power on together (a boot storm) or spread over --spread seconds, and each
 * runs until its provisioning settles.
 * The report: provisioned, failed with reasons, reboots, bytes, time to provisioned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "autoprov/agent.h"
#include "cli/cli.h"
#include "core/mac.h"
#include "store/csv.h"

static void sim_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov sim (--devices N --profile P [--mac-base MAC] | --from CSV)\n"
		"                    [OPTIONS]\n"
		"\n"
		"Boots a fleet of simulated endpoints against a provisioning server, all in one\n"
		"process, and reports how provisioning went.\n"
		"\n"
		"  --devices N           generate N endpoints (MACs counting up from --mac-base)\n"
		"  --profile NAME        their profile: algo, fip, spa, audiocodes, panasonic\n"
		"  --model NAME          their model (default per profile: 8188, FIP16, IP542N,\n"
		"                        400HD, KX-UTG300)\n"
		"  --mac-base MAC        the first MAC (default 0022EE000000)\n"
		"  --from CSV            endpoints from a CSV with a header row: mac (required),\n"
		"                        model, profile, and settings as further columns\n"
		"  --server URL          static server for every endpoint (sets server_method=static)\n"
		"  --set KEY=VALUE       a setting for every endpoint (repeatable; docs/agent.md)\n"
		"  --dhcp-option C=V     a DHCP option every endpoint receives (repeatable)\n"
		"  --source-base ADDR    each endpoint downloads from its own IPv4 address, counting\n"
		"                        up from ADDR (e.g. 127.1.0.1: every 127/8 address is local)\n"
		"  --spread SECONDS      power-on times spread uniformly over SECONDS (default 0:\n"
		"                        all at once)\n"
		"  --timeout SECONDS     stop waiting after this long (default 600)\n"
		"  --json                the report as JSON\n"
		"  -v, --verbose         every endpoint's timeline on stderr\n"
		"  -h, --help            this text\n"
		"\n"
		"An endpoint is provisioned when a pass ends well (a change that needs a reboot\n"
		"is followed by the reboot and another pass first); one\n"
		"whose pass failed retries after its profile's error retry delay (set\n"
		"resync_error_retry_delay to shorten it). Exit status: 0 every endpoint\n"
		"provisioned, 1 some did not, 2 usage.\n");
}

/*
 * Endpoints per downloader (one libcurl multi handle each). A multi handle keeps every
 * connection to one host:port in one list that libcurl walks whenever a transfer starts,
 * looking for one to reuse: with the whole fleet on one handle against one server, that is
 * quadratic in the fleet (10 000 endpoints spent more CPU in that walk than the servers
 * did in serving). Small groups keep the walk short and a multi handle's fixed cost small.
 */
#define SIM_AGENTS_PER_DOWNLOADER 64

struct sim;

/* Failure reasons grouped, most frequent first. */
struct reason {
	const char *text;
	size_t count;
};

struct sim_device {
	struct sim *sim;
	struct ap_agent *agent;
	struct event *power_on;
	char mac[13];
	bool provisioned;
	bool failed_once;
	double time; /* seconds from the storm's start to provisioned */
};

struct sim {
	struct event_base *base;
	struct sim_device *devices;
	size_t n, provisioned, failures;
	struct ap_downloader **downloaders;
	size_t ndownloaders;
	bool verbose, tty;
	struct timespec start;
	struct event *progress;
	/* Every failed pass while the storm lasted, by reason (texts owned). */
	struct reason *pass_reasons;
	size_t npass_reasons;
};

#define SIM_MAX_REASONS 64

static void sim_tally(struct sim *s, const char *text)
{
	size_t i = 0;
	while (i < s->npass_reasons && strcmp(s->pass_reasons[i].text, text) != 0)
		i++;
	if (i == s->npass_reasons) {
		if (i == SIM_MAX_REASONS) {
			text = "(other reasons)";
			for (i = 0;
			     i < s->npass_reasons && strcmp(s->pass_reasons[i].text, text) != 0;)
				i++;
		}
		if (i == s->npass_reasons) {
			if (!s->pass_reasons)
				s->pass_reasons =
					calloc(SIM_MAX_REASONS + 1, sizeof(*s->pass_reasons));
			char *copy = s->pass_reasons ? strdup(text) : NULL;
			if (!copy)
				return;
			s->pass_reasons[s->npass_reasons++] = (struct reason){ copy, 0 };
		}
	}
	s->pass_reasons[i].count++;
}

static double sim_now(const struct sim *s)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - s->start.tv_sec) + (double)(t.tv_nsec - s->start.tv_nsec) / 1e9;
}

static void sim_event(void *user, const struct ap_event *ev)
{
	struct sim_device *d = user;
	struct sim *s = d->sim;
	if (s->verbose) {
		bool url = ev->url && !strstr(ev->text, ev->url);
		fprintf(stderr, "%s %8.3f %s%s%s\n", d->mac, ev->time, ev->text, url ? " " : "",
			url ? ev->url : "");
	}
	if (ev->kind == AP_EV_ERROR) {
		s->failures++;
		sim_tally(s, ev->text);
		d->failed_once = true;
	}
	if (ev->kind == AP_EV_DONE && ev->ok && !d->provisioned) {
		d->provisioned = true;
		d->time = sim_now(s);
		if (++s->provisioned == s->n)
			event_base_loopexit(s->base, NULL);
	}
}

static void sim_power_on(evutil_socket_t fd, short what, void *arg)
{
	struct sim_device *d = arg;
	ap_agent_start(d->agent);
}

static void sim_progress(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	const int width = 40;
	int done = (int)(s->n ? s->provisioned * (size_t)width / s->n : 0);
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu provisioned, %zu failed passes, %.1f s", done,
		"########################################", width - done, "", s->provisioned, s->n,
		s->failures, sim_now(s));
	fflush(stderr);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	/* The nearest rank: the smallest value with at least p of the values at or below it. */
	size_t rank = (size_t)(p * (double)n);
	if ((double)rank < p * (double)n)
		rank++;
	return sorted[rank ? rank - 1 : 0];
}

static int cmp_reason(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->text, y->text);
}

static void sim_report(struct sim *s, bool json, double elapsed)
{
	struct ap_stats total = { 0 };
	double *times = calloc(s->n ? s->n : 1, sizeof(*times));
	struct reason *reasons = calloc(s->n ? s->n : 1, sizeof(*reasons));
	struct ap_stats *st = calloc(s->n ? s->n : 1, sizeof(*st));
	size_t nt = 0, nr = 0, recovered = 0;
	if (!times || !reasons || !st) {
		fprintf(stderr, "autoprov sim: out of memory for the report\n");
		goto done;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct sim_device *d = &s->devices[i];
		ap_agent_stats(d->agent, &st[i]);
		total.passes += st[i].passes;
		total.fetches += st[i].fetches;
		total.fetch_failures += st[i].fetch_failures;
		total.applies += st[i].applies;
		total.firmware_installs += st[i].firmware_installs;
		total.resources += st[i].resources;
		total.reboots += st[i].reboots;
		total.bytes += st[i].bytes;
		if (d->provisioned) {
			times[nt++] = d->time;
			recovered += d->failed_once;
			continue;
		}
		const char *why = *st[i].last_error ? st[i].last_error : "still provisioning";
		size_t j = 0;
		while (j < nr && strcmp(reasons[j].text, why) != 0)
			j++;
		if (j == nr)
			reasons[nr++] = (struct reason){ why, 0 };
		reasons[j].count++;
	}
	qsort(times, nt, sizeof(*times), cmp_double);
	qsort(reasons, nr, sizeof(*reasons), cmp_reason);
	if (s->npass_reasons)
		qsort(s->pass_reasons, s->npass_reasons, sizeof(*s->pass_reasons), cmp_reason);
	double p50 = percentile(times, nt, 0.5), p99 = percentile(times, nt, 0.99);
	double rate = elapsed > 0 ? (double)nt / elapsed : 0;
	if (json) {
		json_t *fails = json_array();
		for (size_t i = 0; i < nr; i++)
			json_array_append_new(fails,
					      json_pack("{s:s, s:I}", "reason", reasons[i].text,
							"devices", (json_int_t)reasons[i].count));
		json_t *passes = json_array();
		for (size_t i = 0; i < s->npass_reasons; i++)
			json_array_append_new(
				passes, json_pack("{s:s, s:I}", "reason", s->pass_reasons[i].text,
						  "passes", (json_int_t)s->pass_reasons[i].count));
		json_t *o = json_pack(
			"{s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
			"s:f, s:f}",
			"devices", (json_int_t)s->n, "provisioned", (json_int_t)nt, "failed",
			(json_int_t)(s->n - nt), "failures", fails, "failed_passes",
			(json_int_t)s->failures, "failed_pass_reasons", passes, "recovered",
			(json_int_t)recovered, "passes", (json_int_t)total.passes, "fetches",
			(json_int_t)total.fetches, "applies", (json_int_t)total.applies,
			"firmware_installs", (json_int_t)total.firmware_installs, "reboots",
			(json_int_t)total.reboots, "bytes", (json_int_t)total.bytes, "seconds",
			elapsed, "p50", p50, "p99", p99, "provisioned_per_second", rate);
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(o);
		goto done;
	}
	printf("devices       %zu\n", s->n);
	printf("provisioned   %zu (%.1f per second)\n", nt, rate);
	printf("failed        %zu\n", s->n - nt);
	for (size_t i = 0; i < nr; i++)
		printf("  %6zu  %s\n", reasons[i].count, reasons[i].text);
	printf("failed passes %zu (%zu endpoints recovered by retrying)\n", s->failures, recovered);
	for (size_t i = 0; i < s->npass_reasons; i++)
		printf("  %6zu  %s\n", s->pass_reasons[i].count, s->pass_reasons[i].text);
	printf("passes        %u, downloads %u (%u failed), applies %u, firmware %u, reboots %u\n",
	       total.passes, total.fetches, total.fetch_failures, total.applies,
	       total.firmware_installs, total.reboots);
	printf("bytes         %llu\n", total.bytes);
	printf("time to provisioned  p50 %.3f s, p99 %.3f s; all in %.3f s\n", p50, p99, elapsed);
done:
	free(times);
	free(reasons);
	free(st);
}

/* Settings and identity of one device, from the command line and its CSV row. */
struct sim_spec {
	const char *profile, *model;
	const char *const *sets;
	size_t nsets;
	const char *const *options;
	size_t noptions;
	bool own_addresses;   /* --source-base: endpoint i sends from source_base + i */
	uint32_t source_base; /* host order */
};

static const char *default_model(const char *profile)
{
	static const char *const models[][2] = {
		{ "algo", "8188" },	   { "fip", "FIP16" },		 { "spa", "IP542N" },
		{ "audiocodes", "400HD" }, { "panasonic", "KX-UTG300" },
	};
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strcmp(profile, models[i][0]) == 0)
			return models[i][1];
	return "";
}

static int apply_set(struct ap_agent *a, const char *kv, const char *mac)
{
	char key[128];
	const char *eq = strchr(kv, '='), *why = "";
	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "autoprov sim: --set '%s': KEY=VALUE expected\n", kv);
		return -EINVAL;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	if (ap_agent_set(a, key, eq + 1, &why) < 0) {
		fprintf(stderr, "autoprov sim: %s: setting %s: %s\n", mac, key, why);
		return -EINVAL;
	}
	return 0;
}

/* The downloader of the next device: a new one every SIM_AGENTS_PER_DOWNLOADER devices. */
static struct ap_downloader *sim_downloader(struct sim *s)
{
	size_t k = s->n / SIM_AGENTS_PER_DOWNLOADER;
	if (k < s->ndownloaders)
		return s->downloaders[k];
	struct ap_downloader **grown = realloc(s->downloaders, (k + 1) * sizeof(*s->downloaders));
	if (!grown)
		return NULL;
	s->downloaders = grown;
	s->downloaders[k] = ap_downloader_new(s->base);
	if (!s->downloaders[k])
		return NULL;
	s->ndownloaders = k + 1;
	return s->downloaders[k];
}

static int sim_add(struct sim *s, const char *mac, const char *profile, const char *model,
		   const struct sim_spec *spec, const char *const *cols, const char *const *vals,
		   size_t ncols)
{
	struct sim_device *d = &s->devices[s->n];
	struct ap_downloader *dl = sim_downloader(s);
	if (!dl) {
		fprintf(stderr, "autoprov sim: cannot create a downloader\n");
		return -ENOMEM;
	}
	char ip[INET_ADDRSTRLEN] = "";
	if (spec->own_addresses) {
		if (spec->source_base + (uint32_t)s->n < spec->source_base) {
			fprintf(stderr, "autoprov sim: --source-base: too few addresses left\n");
			return -EINVAL;
		}
		struct in_addr in = { .s_addr = htonl(spec->source_base + (uint32_t)s->n) };
		inet_ntop(AF_INET, &in, ip, sizeof(ip));
	}
	struct ap_agent_config cfg = {
		.profile = profile,
		.identity = { .mac = mac,
			      .model = model && *model ? model : default_model(profile),
			      .ip = *ip ? ip : NULL },
		.callbacks = { .event = sim_event },
		.user = d,
		.downloader = dl,
	};
	const char *why = "";
	d->sim = s;
	snprintf(d->mac, sizeof(d->mac), "%s", mac);
	if (ap_agent_new(s->base, &cfg, &d->agent, &why) < 0) {
		fprintf(stderr, "autoprov sim: device %s: %s\n", mac, why);
		return -EINVAL;
	}
	s->n++;
	(void)ap_agent_set(d->agent, "max_reboots", "20", &why);
	if (*ip)
		(void)ap_agent_set(d->agent, "source_address", ip, &why);
	for (size_t i = 0; i < spec->nsets; i++)
		if (apply_set(d->agent, spec->sets[i], mac) < 0)
			return -EINVAL;
	for (size_t i = 0; i < ncols; i++) {
		if (!*vals[i])
			continue;
		if (ap_agent_set(d->agent, cols[i], vals[i], &why) < 0) {
			fprintf(stderr, "autoprov sim: %s: column %s: %s\n", mac, cols[i], why);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < spec->noptions; i++)
		if (ap_agent_dhcp_option(d->agent, spec->options[i], &why) < 0) {
			fprintf(stderr, "autoprov sim: --dhcp-option '%s': %s\n", spec->options[i],
				why);
			return -EINVAL;
		}
	d->power_on = evtimer_new(s->base, sim_power_on, d);
	return d->power_on ? 0 : -ENOMEM;
}

static int sim_from_csv(struct sim *s, const char *path, const struct sim_spec *spec)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "autoprov sim: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			char *grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = grown;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	/* Agents keep a pointer to their device: the array never moves. A record is at least
	 * one line, so the lines bound the devices. */
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	s->devices = calloc(lines, sizeof(*s->devices));
	if (!s->devices) {
		free(buf);
		return -ENOMEM;
	}
	struct csv_reader r;
	csv_reader_init(&r, buf, len);
	const char *why = "";
	char **header = NULL;
	size_t ncols = 0, mac_col = (size_t)-1, model_col = (size_t)-1, profile_col = (size_t)-1;
	int status = 0, k;
	while ((k = csv_read(&r, &why)) == 1) {
		if (r.blank)
			continue;
		if (!header) {
			ncols = r.nfields;
			header = calloc(ncols, sizeof(*header));
			for (size_t i = 0; header && i < ncols; i++) {
				header[i] = strdup(r.fields[i]);
				if (strcmp(r.fields[i], "mac") == 0)
					mac_col = i;
				else if (strcmp(r.fields[i], "model") == 0)
					model_col = i;
				else if (strcmp(r.fields[i], "profile") == 0)
					profile_col = i;
			}
			if (mac_col == (size_t)-1) {
				fprintf(stderr,
					"autoprov sim: %s: the header has no 'mac' column\n", path);
				status = -EINVAL;
				break;
			}
			continue;
		}
		if (r.nfields != ncols) {
			fprintf(stderr,
				"autoprov sim: %s record %lu: %zu fields, the header has %zu\n",
				path, r.record, r.nfields, ncols);
			status = -EINVAL;
			break;
		}
		const char *profile = profile_col != (size_t)-1 && *r.fields[profile_col]
					      ? r.fields[profile_col]
					      : spec->profile;
		if (!profile) {
			fprintf(stderr,
				"autoprov sim: %s record %lu: no profile (column or "
				"--profile)\n",
				path, r.record);
			status = -EINVAL;
			break;
		}
		const char *cols[64], *vals[64];
		size_t nextra = 0;
		for (size_t i = 0; i < ncols && nextra < 64; i++) {
			if (i == mac_col || i == model_col || i == profile_col)
				continue;
			cols[nextra] = header[i];
			vals[nextra++] = r.fields[i];
		}
		if ((status = sim_add(s, r.fields[mac_col], profile,
				      model_col != (size_t)-1 ? r.fields[model_col] : spec->model,
				      spec, cols, vals, nextra)) < 0)
			break;
	}
	if (k < 0) {
		fprintf(stderr, "autoprov sim: %s record %lu: %s\n", path, r.record, why);
		status = k;
	}
	for (size_t i = 0; header && i < ncols; i++)
		free(header[i]);
	free(header);
	csv_reader_done(&r);
	free(buf);
	return status;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int cmd_sim(int argc, char **argv)
{
	enum {
		OPT_DEVICES = 256,
		OPT_PROFILE,
		OPT_MODEL,
		OPT_MAC_BASE,
		OPT_FROM,
		OPT_SERVER,
		OPT_SET,
		OPT_DHCP_OPTION,
		OPT_SPREAD,
		OPT_SOURCE_BASE,
		OPT_TIMEOUT,
		OPT_JSON
	};
	static const struct option longopts[] = {
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "model", required_argument, NULL, OPT_MODEL },
		{ "mac-base", required_argument, NULL, OPT_MAC_BASE },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "set", required_argument, NULL, OPT_SET },
		{ "dhcp-option", required_argument, NULL, OPT_DHCP_OPTION },
		{ "spread", required_argument, NULL, OPT_SPREAD },
		{ "source-base", required_argument, NULL, OPT_SOURCE_BASE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sets[256], *options[64], *from = NULL, *mac_base = "0022EE000000";
	char server[2048];
	struct sim_spec spec = { .sets = sets, .options = options };
	struct sim s = { 0 };
	long devices = 0, timeout = 600;
	double spread = 0;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		char *end = NULL;
		errno = 0;
		switch (c) {
		case OPT_DEVICES:
			devices = strtol(optarg, &end, 10);
			if (errno || *end || devices < 1 || devices > 1000000) {
				fprintf(stderr, "autoprov sim: --devices: 1 to 1000000\n");
				return 2;
			}
			break;
		case OPT_TIMEOUT:
			timeout = strtol(optarg, &end, 10);
			if (errno || *end || timeout < 1) {
				fprintf(stderr, "autoprov sim: --timeout: a number of seconds\n");
				return 2;
			}
			break;
		case OPT_SPREAD:
			spread = strtod(optarg, &end);
			if (errno || *end || spread < 0 || spread > 86400) {
				fprintf(stderr, "autoprov sim: --spread: 0 to 86400 seconds\n");
				return 2;
			}
			break;
		case OPT_PROFILE: spec.profile = optarg; break;
		case OPT_MODEL: spec.model = optarg; break;
		case OPT_MAC_BASE: mac_base = optarg; break;
		case OPT_SOURCE_BASE: {
			struct in_addr in;
			if (inet_pton(AF_INET, optarg, &in) != 1) {
				fprintf(stderr, "autoprov sim: --source-base: an IPv4 address\n");
				return 2;
			}
			spec.own_addresses = true;
			spec.source_base = ntohl(in.s_addr);
			break;
		}
		case OPT_FROM: from = optarg; break;
		case OPT_JSON: json = true; break;
		case 'v': s.verbose = true; break;
		case OPT_SERVER:
		case OPT_SET:
			if (spec.nsets >= sizeof(sets) / sizeof(sets[0]) - 2) {
				fprintf(stderr, "autoprov sim: too many --set\n");
				return 2;
			}
			if (c == OPT_SERVER) {
				snprintf(server, sizeof(server), "server=%s", optarg);
				sets[spec.nsets++] = "server_method=static";
				sets[spec.nsets++] = server;
			} else {
				sets[spec.nsets++] = optarg;
			}
			break;
		case OPT_DHCP_OPTION:
			if (spec.noptions == sizeof(options) / sizeof(options[0])) {
				fprintf(stderr, "autoprov sim: too many --dhcp-option\n");
				return 2;
			}
			options[spec.noptions++] = optarg;
			break;
		case 'h': sim_usage(stdout); return 0;
		default: sim_usage(stderr); return 2;
		}
	}
	if (optind != argc || (!from && (!devices || !spec.profile)) || (from && devices)) {
		fprintf(stderr,
			"autoprov sim: either --devices N with --profile, or --from CSV\n\n");
		sim_usage(stderr);
		return 2;
	}
	char base_mac[MAC_LEN + 1];
	const char *why = "";
	if (!from && mac_parse(mac_base, base_mac, &why) < 0) {
		fprintf(stderr, "autoprov sim: --mac-base: %s\n", why);
		return 2;
	}
	/* Every endpoint may hold a socket at once. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
	s.base = event_base_new();
	int status = 1;
	if (!s.base) {
		fprintf(stderr, "autoprov sim: cannot create the event loop\n");
		goto done;
	}
	if (from) {
		if (sim_from_csv(&s, from, &spec) < 0)
			goto done;
	} else {
		s.devices = calloc((size_t)devices, sizeof(*s.devices));
		if (!s.devices)
			goto done;
		unsigned long long first = strtoull(base_mac, NULL, 16);
		for (long i = 0; i < devices; i++) {
			char mac[MAC_LEN + 1];
			snprintf(mac, sizeof(mac), "%012llx",
				 (first + (unsigned long long)i) & 0xffffffffffffULL);
			if (sim_add(&s, mac, spec.profile, spec.model, &spec, NULL, NULL, 0) < 0) {
				status = 2;
				goto done;
			}
		}
	}
	if (s.n == 0) {
		fprintf(stderr, "autoprov sim: no devices\n");
		goto done;
	}
	struct event *sigint = evsignal_new(s.base, SIGINT, on_signal, s.base);
	if (sigint)
		event_add(sigint, NULL);
	s.tty = isatty(STDERR_FILENO) && !s.verbose;
	if (s.tty) {
		s.progress = event_new(s.base, -1, EV_PERSIST, sim_progress, &s);
		struct timeval tick = { .tv_usec = 200000 };
		if (s.progress)
			event_add(s.progress, &tick);
	}
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	srandom((unsigned)s.start.tv_nsec);
	for (size_t i = 0; i < s.n; i++) {
		double at = spread > 0 ? spread * ((double)random() / RAND_MAX) : 0;
		struct timeval tv = { .tv_sec = (time_t)at,
				      .tv_usec = (suseconds_t)((at - (double)(time_t)at) * 1e6) };
		evtimer_add(s.devices[i].power_on, &tv);
	}
	struct timeval limit = { .tv_sec = timeout };
	event_base_loopexit(s.base, &limit);
	event_base_dispatch(s.base);
	double elapsed = sim_now(&s);
	if (s.tty) {
		sim_progress(-1, 0, &s);
		fputc('\n', stderr);
	}
	sim_report(&s, json, elapsed);
	status = s.provisioned == s.n ? 0 : 1;
	if (sigint)
		event_free(sigint);
done:
	for (size_t i = 0; i < s.n; i++) {
		ap_agent_free(s.devices[i].agent);
		if (s.devices[i].power_on)
			event_free(s.devices[i].power_on);
	}
	free(s.devices);
	for (size_t i = 0; i < s.npass_reasons; i++)
		free((char *)s.pass_reasons[i].text);
	free(s.pass_reasons);
	if (s.progress)
		event_free(s.progress);
	for (size_t i = 0; i < s.ndownloaders; i++)
		ap_downloader_free(s.downloaders[i]);
	free(s.downloaders);
	if (s.base)
		event_base_free(s.base);
	return status;
}
