// SPDX-License-Identifier: MIT
/*
 * `autoprov agent`: one endpoint, run by libautoprov against any provisioning server, with a
 * timeline of every step and decision (or JSON lines with --json). It runs until the
 * endpoint settles (a pass ends with nothing more to do, or fails) unless --stay keeps it
 * running for its timers. What the endpoint would install can be written to --output DIR.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "autoprov/agent.h"
#include "cli/cli.h"

static void agent_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov agent --profile PROFILE --mac MAC [OPTIONS]\n"
		"\n"
		"Runs one endpoint's provisioning as its vendor documents describe it, against any\n"
		"server, and prints a timeline of every step and decision.\n"
		"\n"
		"  --profile NAME        algo, fip, spa, audiocodes or panasonic\n"
		"  --mac MAC             the endpoint's MAC address\n"
		"  --model NAME          product / model ($PN): 8188, FIP16, IP542N, 400HD, ...\n"
		"  --serial SN           serial number ($SN)\n"
		"  --firmware VERSION    running firmware ($SWVER) when the state has none\n"
		"  --hardware VERSION    hardware version ($HWVER)\n"
		"  --ip ADDR             the endpoint's address ($IP)\n"
		"  --server URL          static / manual server, used alone (same as --set\n"
		"                        server=URL --set server_method=static)\n"
		"  --set KEY=VALUE       a device setting (docs/agent.md lists them per profile)\n"
		"  --dhcp-option C=V     a DHCP option as received: 66=10.0.0.1, 150=hex:0a000001,\n"
		"                        6:17=hex:... (repeatable)\n"
		"  --dhcp-file FILE      the options a DHCP client hook wrote\n"
		"  --state DIR           persistent state (applied configuration, firmware,\n"
		"                        checksums); default: in memory, a factory-fresh endpoint\n"
		"  --output DIR          write what is applied, installed and stored into DIR\n"
		"  --stay                keep running (periodic resync, retries) until interrupted\n"
		"  --timeout SECONDS     give up after this long (default 300; 0 = never)\n"
		"  --json                one JSON object per event instead of the timeline\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 provisioned, 1 the last pass failed or the timeout passed, 2 usage.\n");
}

struct agent_run {
	struct event_base *base;
	bool json, stay, failed, settled;
	const char *output;
	unsigned reboots;
};

static const char *const kind_names[] = {
	[AP_EV_STEP] = "step",	   [AP_EV_DECISION] = "decision", [AP_EV_FETCH] = "fetch",
	[AP_EV_APPLY] = "apply",   [AP_EV_FIRMWARE] = "firmware", [AP_EV_RESOURCE] = "resource",
	[AP_EV_REBOOT] = "reboot", [AP_EV_DONE] = "done",	  [AP_EV_ERROR] = "error",
	[AP_EV_TIMER] = "timer",
};

static void print_event(struct agent_run *run, const struct ap_event *ev)
{
	if (run->json) {
		json_t *o = json_pack("{s:f, s:s, s:s}", "time", ev->time, "event",
				      kind_names[ev->kind], "text", ev->text);
		if (ev->url)
			json_object_set_new(o, "url", json_string(ev->url));
		if (ev->kind == AP_EV_FETCH) {
			json_object_set_new(o, "status", json_string(ev->status));
			json_object_set_new(o, "bytes", json_integer(ev->bytes));
		}
		if (ev->kind == AP_EV_DONE) {
			json_object_set_new(o, "ok", json_boolean(ev->ok));
			json_object_set_new(o, "changed", json_boolean(ev->changed));
		}
		char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line)
			printf("%s\n", line);
		free(line);
		json_decref(o);
	} else if (ev->kind == AP_EV_FETCH) {
		printf("%8.3f  %-9s %-10s %s (%ld bytes)\n", ev->time, "fetch", ev->status,
		       ev->url ? ev->url : "", ev->bytes);
		if (strcmp(ev->status, "ok") != 0 && *ev->text)
			printf("%8s  %-9s %s\n", "", "", ev->text);
	} else {
		printf("%8.3f  %-9s %s\n", ev->time, kind_names[ev->kind], ev->text);
	}
	fflush(stdout);
}

static void on_event(void *user, const struct ap_event *ev)
{
	struct agent_run *run = user;
	print_event(run, ev);
	if (ev->kind == AP_EV_DONE || ev->kind == AP_EV_ERROR) {
		run->failed = ev->kind == AP_EV_ERROR;
		run->settled = true;
		if (!run->stay)
			event_base_loopexit(run->base, NULL);
	}
}

static int write_output(const struct agent_run *run, const char *name, const void *data, size_t len)
{
	if (!run->output)
		return 0;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", run->output, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	size_t n = fwrite(data, 1, len, f);
	int r = fclose(f);
	return n == len && r == 0 ? 0 : -EIO;
}

static int on_apply(void *user, const char *const *keys, const char *const *values, size_t n,
		    bool full)
{
	struct agent_run *run = user;
	if (!run->output)
		return 0;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/applied.txt", run->output);
	FILE *f = fopen(path, "a");
	if (!f)
		return -errno;
	fprintf(f, "# %s\n", full ? "full" : "incremental");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s = %s\n", keys[i], values[i]);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int on_firmware(void *user, const char *version, const void *data, size_t len)
{
	char name[300];
	snprintf(name, sizeof(name), "firmware-%s", version);
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	return write_output(user, name, data, len);
}

static int on_resource(void *user, const char *kind, const char *name, const void *data, size_t len)
{
	char file[300];
	snprintf(file, sizeof(file), "%s-%s", kind, name);
	for (char *p = file; *p; p++)
		if (*p == '/')
			*p = '_';
	return write_output(user, file, data, len);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int cmd_agent(int argc, char **argv)
{
	enum {
		OPT_MODEL = 256,
		OPT_SERIAL,
		OPT_FIRMWARE,
		OPT_HARDWARE,
		OPT_IP,
		OPT_SERVER,
		OPT_SET,
		OPT_DHCP_OPTION,
		OPT_DHCP_FILE,
		OPT_STATE,
		OPT_OUTPUT,
		OPT_STAY,
		OPT_TIMEOUT,
		OPT_JSON,
		OPT_PROFILE,
		OPT_MAC
	};
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "mac", required_argument, NULL, OPT_MAC },
		{ "model", required_argument, NULL, OPT_MODEL },
		{ "serial", required_argument, NULL, OPT_SERIAL },
		{ "firmware", required_argument, NULL, OPT_FIRMWARE },
		{ "hardware", required_argument, NULL, OPT_HARDWARE },
		{ "ip", required_argument, NULL, OPT_IP },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "set", required_argument, NULL, OPT_SET },
		{ "dhcp-option", required_argument, NULL, OPT_DHCP_OPTION },
		{ "dhcp-file", required_argument, NULL, OPT_DHCP_FILE },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "stay", no_argument, NULL, OPT_STAY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ap_agent_config cfg = { 0 };
	struct agent_run run = { 0 };
	const char *sets[256], *options[256], *dhcp_file = NULL;
	size_t nsets = 0, noptions = 0;
	long timeout = 300;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PROFILE: cfg.profile = optarg; break;
		case OPT_MAC: cfg.identity.mac = optarg; break;
		case OPT_MODEL: cfg.identity.model = optarg; break;
		case OPT_SERIAL: cfg.identity.serial = optarg; break;
		case OPT_FIRMWARE: cfg.identity.firmware = optarg; break;
		case OPT_HARDWARE: cfg.identity.hardware = optarg; break;
		case OPT_IP: cfg.identity.ip = optarg; break;
		case OPT_STATE: cfg.state_dir = optarg; break;
		case OPT_OUTPUT: run.output = optarg; break;
		case OPT_STAY: run.stay = true; break;
		case OPT_JSON: run.json = true; break;
		case OPT_DHCP_FILE: dhcp_file = optarg; break;
		case OPT_TIMEOUT: {
			char *end;
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (errno || *end || timeout < 0) {
				fprintf(stderr,
					"autoprov agent: --timeout: '%s' is not a number of "
					"seconds\n",
					optarg);
				return 2;
			}
			break;
		}
		case OPT_SERVER:
		case OPT_SET:
			if (nsets >= sizeof(sets) / sizeof(sets[0]) - 2) {
				fprintf(stderr, "autoprov agent: too many --set\n");
				return 2;
			}
			if (c == OPT_SERVER) {
				static char server[2048];
				snprintf(server, sizeof(server), "server=%s", optarg);
				sets[nsets++] = "server_method=static";
				sets[nsets++] = server;
			} else {
				sets[nsets++] = optarg;
			}
			break;
		case OPT_DHCP_OPTION:
			if (noptions == sizeof(options) / sizeof(options[0])) {
				fprintf(stderr, "autoprov agent: too many --dhcp-option\n");
				return 2;
			}
			options[noptions++] = optarg;
			break;
		case 'h': agent_usage(stdout); return 0;
		default: agent_usage(stderr); return 2;
		}
	}
	if (optind != argc || !cfg.profile || !cfg.identity.mac) {
		fprintf(stderr, "autoprov agent: --profile and --mac are required\n\n");
		agent_usage(stderr);
		return 2;
	}
	if (run.output && mkdir(run.output, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "autoprov agent: --output %s: %s\n", run.output, strerror(errno));
		return 1;
	}
	run.base = event_base_new();
	if (!run.base) {
		fprintf(stderr, "autoprov agent: cannot create the event loop\n");
		return 1;
	}
	cfg.user = &run;
	cfg.callbacks = (struct ap_callbacks){
		.apply = on_apply,
		.install_firmware = on_firmware,
		.store_resource = on_resource,
		.event = on_event,
	};
	struct ap_agent *a = NULL;
	const char *why = "";
	int status = 1;
	int r = ap_agent_new(run.base, &cfg, &a, &why);
	if (r < 0) {
		fprintf(stderr, "autoprov agent: %s\n", why);
		status = r == -EINVAL ? 2 : 1;
		goto done;
	}
	/* A server that changes the configuration at every pass must not loop forever. */
	(void)ap_agent_set(a, "max_reboots", "20", &why);
	for (size_t i = 0; i < nsets; i++) {
		char key[128];
		const char *eq = strchr(sets[i], '=');
		if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof(key)) {
			fprintf(stderr, "autoprov agent: --set '%s': KEY=VALUE expected\n",
				sets[i]);
			status = 2;
			goto done;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - sets[i]), sets[i]);
		if (ap_agent_set(a, key, eq + 1, &why) < 0) {
			fprintf(stderr, "autoprov agent: --set %s: %s\n", key, why);
			status = 2;
			goto done;
		}
	}
	for (size_t i = 0; i < noptions; i++) {
		if (ap_agent_dhcp_option(a, options[i], &why) < 0) {
			fprintf(stderr, "autoprov agent: --dhcp-option '%s': %s\n", options[i],
				why);
			status = 2;
			goto done;
		}
	}
	if (dhcp_file && ap_agent_dhcp_file(a, dhcp_file, &why) < 0) {
		fprintf(stderr, "autoprov agent: --dhcp-file %s: %s\n", dhcp_file, why);
		goto done;
	}
	struct event *sigint = evsignal_new(run.base, SIGINT, on_signal, run.base);
	struct event *sigterm = evsignal_new(run.base, SIGTERM, on_signal, run.base);
	if (sigint)
		event_add(sigint, NULL);
	if (sigterm)
		event_add(sigterm, NULL);
	if (timeout > 0) {
		struct timeval tv = { .tv_sec = timeout };
		event_base_loopexit(run.base, &tv);
	}
	ap_agent_start(a);
	event_base_dispatch(run.base);
	if (!run.settled && !run.stay)
		fprintf(stderr, "autoprov agent: gave up after %ld s without settling\n", timeout);
	status = run.settled && !run.failed ? 0 : 1;
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
done:
	ap_agent_free(a);
	event_base_free(run.base);
	return status;
}
