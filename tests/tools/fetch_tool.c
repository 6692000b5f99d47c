// SPDX-License-Identifier: MIT
/*
 * fetch_tool: a test-only driver of src/agent/fetch.h. It starts every URL given at once
 * on one libevent loop with one fetcher, waits for all of them, and prints one line per URL,
 * in the order given, with tab-separated fields:
 *
 *     INDEX  STATUS  CODE  BYTES  MD5  SECONDS  MESSAGE  URL
 *
 * STATUS is fetch_status_name() (or "cancelled", "start failed"); MD5 is the body's, or "-".
 * It also checks the contract: done() exactly once, never from inside fetch_start().
 * Exit status: 0 every fetch ok, 1 some did not, 2 usage or set-up error, 3 contract broken.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "agent/fetch.h"
#include "core/md5.h"
#include "core/str.h"

enum slot_state { SLOT_RUNNING, SLOT_DONE, SLOT_CANCELLED, SLOT_START_FAILED };

struct slot {
	const char *url;
	struct fetch *fetch;
	enum slot_state state;
	unsigned calls;
	enum fetch_status status;
	long code;
	size_t len;
	char md5[MD5_HEX_LEN + 1];
	double seconds;
	char message[256];
};

struct run {
	struct event_base *base;
	struct fetcher *fetcher;
	struct slot *slots;
	size_t nslots;
	size_t pending;
	bool starting;	      /* inside fetch_start(): a done() now breaks the contract */
	bool free_on_first;   /* fetcher_free() from the first done() */
	bool cancel_on_first; /* fetch_cancel() the others from the first done() */
	bool broken;	      /* a contract violation was seen */
};

static struct run run;

static void usage(FILE *out)
{
	fprintf(out, "usage: fetch_tool [options] URL...\n"
		     "  --timeout MS --connect-timeout MS --stall-timeout MS\n"
		     "  --ca FILE --insecure --cert FILE --key FILE\n"
		     "  --user U --password P --auth any|basic|digest\n"
		     "  --blksize N --max-size BYTES --user-agent S --active --max-redirects N\n"
		     "  --repeat N            start each URL N times\n"
		     "  --cancel-after MS     fetch_cancel() what is still running after MS\n"
		     "  --free-after MS       fetcher_free() with what is still running after MS\n"
		     "  --free-on-first       fetcher_free() from inside the first done()\n");
}

static void settle(struct slot *s, enum slot_state state)
{
	s->state = state;
	s->fetch = NULL;
	if (run.pending > 0 && --run.pending == 0)
		event_base_loopexit(run.base, NULL);
}

/* Marks what still runs as cancelled; with_cancel: through fetch_cancel() (else the
 * fetcher was freed, and the fetches with it). */
static void cancel_rest(bool with_cancel, const char *why)
{
	for (size_t i = 0; i < run.nslots; i++) {
		struct slot *s = &run.slots[i];

		if (s->state != SLOT_RUNNING)
			continue;
		if (with_cancel && s->fetch)
			fetch_cancel(s->fetch);
		snprintf(s->message, sizeof(s->message), "%s", why);
		settle(s, SLOT_CANCELLED);
	}
}

static void on_done(struct fetch_result *r, void *arg)
{
	struct slot *s = arg;

	s->calls++;
	if (run.starting) {
		fprintf(stderr, "fetch_tool: done() called from inside fetch_start() for %s\n",
			s->url);
		run.broken = true;
	}
	if (s->calls > 1 || s->state != SLOT_RUNNING) {
		fprintf(stderr, "fetch_tool: done() called again (or after cancel) for %s\n",
			s->url);
		run.broken = true;
		return;
	}
	if (r->status == FETCH_OK && !r->body) {
		fprintf(stderr, "fetch_tool: FETCH_OK without a body for %s\n", s->url);
		run.broken = true;
	}
	s->status = r->status;
	s->code = r->response_code;
	s->len = r->len;
	s->seconds = r->seconds;
	snprintf(s->message, sizeof(s->message), "%s", r->message);
	if (r->body) {
		char *body = r->body;

		/* take the body, as a caller may */
		r->body = NULL;
		if (md5_hex(body, r->len, s->md5) < 0)
			snprintf(s->md5, sizeof(s->md5), "?");
		free(body);
	} else {
		snprintf(s->md5, sizeof(s->md5), "-");
	}
	settle(s, SLOT_DONE);
	if (run.cancel_on_first) {
		run.cancel_on_first = false;
		cancel_rest(true, "cancelled");
	}
	if (run.free_on_first) {
		run.free_on_first = false;
		fetcher_free(run.fetcher);
		run.fetcher = NULL;
		cancel_rest(false, "freed with the fetcher");
	}
}

static void on_cancel_timer(evutil_socket_t fd, short what, void *arg)
{
	cancel_rest(true, "cancelled");
}

static void on_free_timer(evutil_socket_t fd, short what, void *arg)
{
	fetcher_free(run.fetcher);
	run.fetcher = NULL;
	cancel_rest(false, "freed with the fetcher");
}

static int number(const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
	int r = str_to_u64(s, 0, max, ret);

	if (r < 0)
		fprintf(stderr, "fetch_tool: %s: bad number '%s'\n", opt, s);
	return r;
}

static const char *state_name(const struct slot *s)
{
	switch (s->state) {
	case SLOT_DONE: return fetch_status_name(s->status);
	case SLOT_CANCELLED: return "cancelled";
	case SLOT_START_FAILED: return "start failed";
	default: return "running";
	}
}

int main(int argc, char **argv)
{
	enum {
		OPT_TIMEOUT = 256,
		OPT_CONNECT,
		OPT_STALL,
		OPT_CA,
		OPT_INSECURE,
		OPT_CERT,
		OPT_KEY,
		OPT_USER,
		OPT_PASSWORD,
		OPT_AUTH,
		OPT_BLKSIZE,
		OPT_MAX_SIZE,
		OPT_UA,
		OPT_ACTIVE,
		OPT_REDIRECTS,
		OPT_REPEAT,
		OPT_CANCEL_AFTER,
		OPT_FREE_AFTER,
		OPT_FREE_ON_FIRST,
		OPT_CANCEL_ON_FIRST,
	};
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT },
		{ "stall-timeout", required_argument, NULL, OPT_STALL },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "user", required_argument, NULL, OPT_USER },
		{ "password", required_argument, NULL, OPT_PASSWORD },
		{ "auth", required_argument, NULL, OPT_AUTH },
		{ "blksize", required_argument, NULL, OPT_BLKSIZE },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "user-agent", required_argument, NULL, OPT_UA },
		{ "active", no_argument, NULL, OPT_ACTIVE },
		{ "max-redirects", required_argument, NULL, OPT_REDIRECTS },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "cancel-after", required_argument, NULL, OPT_CANCEL_AFTER },
		{ "free-after", required_argument, NULL, OPT_FREE_AFTER },
		{ "free-on-first", no_argument, NULL, OPT_FREE_ON_FIRST },
		{ "cancel-on-first", no_argument, NULL, OPT_CANCEL_ON_FIRST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fetch_options o = { 0 };
	uint64_t v, repeat = 1, cancel_after = 0, free_after = 0;
	struct event *cancel_timer = NULL, *free_timer = NULL;
	struct rlimit rl;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TIMEOUT:
		case OPT_CONNECT:
		case OPT_STALL:
			if (number("timeout", optarg, 86400000, &v) < 0)
				return 2;
			if (c == OPT_TIMEOUT)
				o.timeout_ms = (long)v;
			else if (c == OPT_CONNECT)
				o.connect_timeout_ms = (long)v;
			else
				o.stall_timeout_ms = (long)v;
			break;
		case OPT_CA: o.ca_file = optarg; break;
		case OPT_INSECURE: o.insecure = true; break;
		case OPT_CERT: o.cert_file = optarg; break;
		case OPT_KEY: o.key_file = optarg; break;
		case OPT_USER: o.user = optarg; break;
		case OPT_PASSWORD: o.password = optarg; break;
		case OPT_AUTH:
			if (!strcmp(optarg, "any"))
				o.auth = FETCH_AUTH_ANY;
			else if (!strcmp(optarg, "basic"))
				o.auth = FETCH_AUTH_BASIC;
			else if (!strcmp(optarg, "digest"))
				o.auth = FETCH_AUTH_DIGEST;
			else {
				fprintf(stderr, "fetch_tool: --auth any|basic|digest\n");
				return 2;
			}
			break;
		case OPT_BLKSIZE:
			if (number("--blksize", optarg, 65535, &v) < 0)
				return 2;
			o.tftp_blksize = (unsigned)v;
			break;
		case OPT_MAX_SIZE:
			if (number("--max-size", optarg, SIZE_MAX, &v) < 0)
				return 2;
			o.max_size = (size_t)v;
			break;
		case OPT_UA: o.user_agent = optarg; break;
		case OPT_ACTIVE: o.ftp_active = true; break;
		case OPT_REDIRECTS:
			if (!strcmp(optarg, "none"))
				o.max_redirects = -1;
			else if (number("--max-redirects", optarg, 100, &v) < 0)
				return 2;
			else
				o.max_redirects = (int)v;
			break;
		case OPT_REPEAT:
			if (number("--repeat", optarg, 100000, &repeat) < 0 || repeat == 0)
				return 2;
			break;
		case OPT_CANCEL_AFTER:
			if (number("--cancel-after", optarg, 86400000, &cancel_after) < 0)
				return 2;
			break;
		case OPT_FREE_AFTER:
			if (number("--free-after", optarg, 86400000, &free_after) < 0)
				return 2;
			break;
		case OPT_FREE_ON_FIRST: run.free_on_first = true; break;
		case OPT_CANCEL_ON_FIRST: run.cancel_on_first = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* thousands of sockets at once */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	run.nslots = (size_t)(argc - optind) * repeat;
	run.slots = calloc(run.nslots, sizeof(*run.slots));
	run.base = event_base_new();
	if (!run.slots || !run.base) {
		fprintf(stderr, "fetch_tool: out of memory\n");
		return 2;
	}
	run.fetcher = fetcher_new(run.base);
	if (!run.fetcher) {
		fprintf(stderr, "fetch_tool: fetcher_new: %s\n", strerror(errno));
		return 2;
	}
	for (size_t i = 0; i < run.nslots; i++) {
		struct slot *s = &run.slots[i];

		s->url = argv[optind + (int)(i / repeat)];
		run.starting = true;
		s->fetch = fetch_start(run.fetcher, s->url, &o, on_done, s);
		run.starting = false;
		if (!s->fetch) {
			s->state = SLOT_START_FAILED;
			snprintf(s->message, sizeof(s->message), "fetch_start: %s",
				 strerror(errno));
			continue;
		}
		run.pending++;
	}
	if (cancel_after) {
		struct timeval tv = { (time_t)(cancel_after / 1000),
				      (suseconds_t)(cancel_after % 1000) * 1000 };

		cancel_timer = evtimer_new(run.base, on_cancel_timer, NULL);
		evtimer_add(cancel_timer, &tv);
	}
	if (free_after) {
		struct timeval tv = { (time_t)(free_after / 1000),
				      (suseconds_t)(free_after % 1000) * 1000 };

		free_timer = evtimer_new(run.base, on_free_timer, NULL);
		evtimer_add(free_timer, &tv);
	}
	if (fetcher_active(run.fetcher) != run.pending) {
		fprintf(stderr, "fetch_tool: fetcher_active() %u, expected %zu\n",
			fetcher_active(run.fetcher), run.pending);
		run.broken = true;
	}
	if (run.pending > 0)
		event_base_dispatch(run.base);

	for (size_t i = 0; i < run.nslots; i++) {
		struct slot *s = &run.slots[i];
		bool done = s->state == SLOT_DONE;

		if (!done || s->status != FETCH_OK)
			status = 1;
		printf("%zu\t%s\t%ld\t%zu\t%s\t%.3f\t%s\t%s\n", i, state_name(s),
		       done ? s->code : 0, done ? s->len : 0, done ? s->md5 : "-", s->seconds,
		       s->message, s->url);
	}
	fflush(stdout);
	if (cancel_timer)
		event_free(cancel_timer);
	if (free_timer)
		event_free(free_timer);
	fetcher_free(run.fetcher);
	event_base_free(run.base);
	free(run.slots);
	return run.broken ? 3 : status;
}
