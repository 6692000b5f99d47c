// SPDX-License-Identifier: MIT
/*
 * A pretend endpoint built on libautoprov, as a firmware would embed it: an Algo 8188 paging
 * speaker whose "hardware" is three callbacks (apply settings, install firmware, reboot) and
 * whose main loop is its own libevent loop. It provisions itself from SERVER (rebooting as its
 * vendor's flow asks) and exits 0 when a pass ends with it provisioned, 1 when a pass fails or
 * none has ended within 60 s.
 *
 * Build it against the installed library:
 *     cc -o embed embed.c $(pkg-config --cflags --libs autoprov)
 * Run it against `autoprov serve` on examples/site:
 *     ./embed http://127.0.0.1:8080 0022EE010203
 */
#include <autoprov/agent.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

struct speaker {
	struct event_base *base;
	struct ap_agent *agent;
	char firmware[32];
	unsigned settings, reboots;
	bool settled, provisioned;
};

static int apply(void *user, const char *const *keys, const char *const *values, size_t n,
		 bool full)
{
	struct speaker *sp = user;

	for (size_t i = 0; i < n; i++)
		printf("apply  %s = %s\n", keys[i], values[i]);
	sp->settings += (unsigned)n;
	printf("applied %zu settings (%s)\n", n, full ? "full" : "incremental");
	return 0;
}

static int install_firmware(void *user, const char *version, const void *data, size_t len)
{
	struct speaker *sp = user;

	(void)data; /* a real endpoint writes the image to flash here */
	snprintf(sp->firmware, sizeof(sp->firmware), "%s", version);
	printf("firmware %s installed (%zu bytes)\n", version, len);
	return 0;
}

static void reboot(void *user, const char *reason)
{
	struct speaker *sp = user;

	sp->reboots++;
	printf("reboot: %s\n", reason);
}

static void on_event(void *user, const struct ap_event *ev)
{
	struct speaker *sp = user;

	printf("%7.3f  %s\n", ev->time, ev->text);
	if (ev->kind == AP_EV_DONE || ev->kind == AP_EV_ERROR) {
		sp->settled = true;
		sp->provisioned = ev->kind == AP_EV_DONE && ev->ok;
		event_base_loopexit(sp->base, NULL);
	}
}

int main(int argc, char **argv)
{
	struct speaker sp = { .firmware = "5.3" };
	struct timeval limit = { .tv_sec = 60 };
	struct ap_agent_config cfg = {
		.profile = "algo",
		.identity = { .mac = argc > 2 ? argv[2] : "0022EE010203", .model = "8188",
			      .firmware = sp.firmware },
		.callbacks = { .apply = apply, .install_firmware = install_firmware,
			       .reboot = reboot, .event = on_event },
		.user = &sp,
	};
	const char *why = NULL;
	int status = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: embed SERVER_URL [MAC]\n");
		return 2;
	}
	sp.base = event_base_new();
	if (!sp.base || ap_agent_new(sp.base, &cfg, &sp.agent, &why) < 0) {
		fprintf(stderr, "embed: %s\n", why ? why : "cannot start");
		goto out;
	}
	if (ap_agent_set(sp.agent, "server", argv[1], &why) < 0 ||
	    ap_agent_set(sp.agent, "server_method", "static", &why) < 0) {
		fprintf(stderr, "embed: %s\n", why);
		goto out;
	}
	event_base_loopexit(sp.base, &limit);
	if (ap_agent_start(sp.agent) < 0)
		goto out;
	event_base_dispatch(sp.base);
	if (sp.provisioned) {
		printf("provisioned: %u settings, firmware %s, %u reboots\n", sp.settings,
		       sp.firmware, sp.reboots);
		status = 0;
	} else if (sp.settled) {
		printf("not provisioned: the pass failed\n");
	} else {
		printf("not provisioned within %ld s\n", (long)limit.tv_sec);
	}
out:
	ap_agent_free(sp.agent);
	if (sp.base)
		event_base_free(sp.base);
	return status;
}
