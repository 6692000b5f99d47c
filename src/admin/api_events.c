// SPDX-License-Identifier: MIT
/*
 * GET /api/v1/events: the dashboard's live updates as Server-Sent Events (docs/admin.md,
 * "Live events"). One timer of the admin loop, running only while a stream is open, reads
 * what is new every EVENTS_POLL_MS through the admin side's own connection: the journal's
 * rows after the last id sent (event "journal", the row as GET /api/v1/journal shows it),
 * the devices they name and those the inventory's change log names (event "device"), and,
 * once a second, the counts by state of the overview the admin thread keeps (api_fleet.c;
 * event "fleet", when they differ from the last sent). A comment every EVENTS_KEEPALIVE_S keeps
 * proxies from closing an idle stream. Nothing here touches the serving loop: it writes the
 * journal, this reads it.
 *
 * At most EVENTS_STREAMS_MAX streams (503 beyond). A reader that does not keep up, whose
 * connection holds more than EVENTS_BUFFER_MAX bytes unsent (beyond the socket's own
 * EVENTS_SOCKET_BUFFER), is dropped: the admin loop never waits for a client, and memory
 * stays bounded. A new stream starts from now.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "core/log.h"
#include "core/mac.h"
#include "site/fleet.h"
#include "site/inventory.h"

#define TAG "admin"

#define EVENTS_STREAMS_MAX   16
#define EVENTS_BUFFER_MAX    (1u << 20)
#define EVENTS_SOCKET_BUFFER (64 * 1024) /* SO_SNDBUF of a stream (the kernel doubles it) */
#define EVENTS_POLL_MS	     250
#define EVENTS_FLEET_MS	     1000
#define EVENTS_KEEPALIVE_S   15
#define EVENTS_ROWS_MAX	     500 /* journal rows sent per poll; the rest at the next one */
#define EVENTS_DEVICES_MAX   256 /* "device" events per poll (distinct MACs) */

struct stream {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct admin_events *ev;
	char who[72];
	char mac[MAC_LEN + 1]; /* ?mac=: only this device's journal and device events ("": all) */
};

struct admin_events {
	struct site *site;
	struct admin_fleet *fleet; /* the overview kept (api_fleet.c): the "fleet" events' */
	struct event_base *base;
	struct event *timer;
	struct stream *streams[EVENTS_STREAMS_MAX];
	size_t n;
	int64_t last_id;		  /* the last journal row sent */
	uint64_t last_seq;		  /* the last change of the inventory seen */
	int64_t fleet_due, keepalive_due; /* CLOCK_MONOTONIC ms */
	char *fleet_last;		  /* the last "fleet" data sent */
	/* the MACs of this poll's "device" events */
	char macs[EVENTS_DEVICES_MAX][18];
	size_t nmacs;
};

static void stream_remove(struct admin_events *ev, struct stream *s)
{
	for (size_t i = 0; i < ev->n; i++)
		if (ev->streams[i] == s) {
			ev->streams[i] = ev->streams[--ev->n];
			break;
		}
	free(s);
	if (ev->n == 0)
		evtimer_del(ev->timer);
}

/* The client went away. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct stream *s = arg;

	(void)conn;
	log_info(TAG, "event stream of %s closed", s->who);
	/*
	 * libevent detached the unfinished request from the failed connection and left it to
	 * us (evhttp_connection_incoming_fail): ending it frees it. Still attached, the
	 * connection frees it.
	 */
	if (!evhttp_request_get_connection(s->req))
		evhttp_send_reply_end(s->req);
	stream_remove(s->ev, s);
}

/* Drops a stream (a slow reader, or the server stops): its connection is closed. */
static void stream_drop(struct admin_events *ev, struct stream *s, const char *why)
{
	struct evhttp_connection *conn = s->conn;

	log_warnx(TAG, "event stream of %s dropped: %s", s->who, why);
	evhttp_connection_set_closecb(conn, NULL, NULL);
	stream_remove(ev, s);
	evhttp_connection_free(conn);
}

/* Whether a stream wants the events of mac (NULL: events of no device, for every stream). */
static bool wants(const struct stream *s, const char *mac)
{
	return !mac || !s->mac[0] || strcmp(s->mac, mac) == 0;
}

static bool anyone_wants(const struct admin_events *ev, const char *mac)
{
	for (size_t i = 0; i < ev->n; i++)
		if (wants(ev->streams[i], mac))
			return true;
	return false;
}

/* Sends text to every stream that wants mac's events; those that do not keep up are dropped. */
static void broadcast(struct admin_events *ev, const char *mac, const char *text, size_t len)
{
	for (size_t i = ev->n; i-- > 0;) {
		struct stream *s = ev->streams[i];
		struct bufferevent *bev = evhttp_connection_get_bufferevent(s->conn);
		struct evbuffer *chunk;

		if (!wants(s, mac))
			continue;
		if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > EVENTS_BUFFER_MAX) {
			stream_drop(ev, s, "it does not read what is sent");
			continue;
		}
		chunk = evbuffer_new();
		if (!chunk || evbuffer_add(chunk, text, len) < 0) {
			evbuffer_free(chunk);
			stream_drop(ev, s, "out of memory");
			continue;
		}
		evhttp_send_reply_chunk(s->req, chunk);
		evbuffer_free(chunk);
	}
}

/* "event: NAME\ndata: JSON\n\n" to every stream (the reference is taken). */
static void send_event(struct admin_events *ev, const char *name, const char *mac, json_t *data)
{
	char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	char *msg = NULL;
	int n;

	json_decref(data);
	if (!text)
		return;
	n = asprintf(&msg, "event: %s\ndata: %s\n\n", name, text);
	free(text);
	if (n > 0)
		broadcast(ev, mac, msg, (size_t)n);
	free(msg);
}

static int note_device(void *arg, const char *mac)
{
	struct admin_events *ev = arg;

	if (!mac || ev->nmacs == EVENTS_DEVICES_MAX)
		return 0;
	for (size_t i = 0; i < ev->nmacs; i++)
		if (strcmp(ev->macs[i], mac) == 0)
			return 0;
	snprintf(ev->macs[ev->nmacs++], sizeof(ev->macs[0]), "%s", mac);
	return 0;
}

static int on_row(void *arg, const struct journal_entry *e)
{
	struct admin_events *ev = arg;

	if (anyone_wants(ev, e->mac ? e->mac : ""))
		send_event(ev, "journal", e->mac ? e->mac : "", inventory_journal_json(e));
	ev->last_id = e->id;
	return note_device(ev, e->mac);
}

static void poll_once(struct admin_events *ev)
{
	int64_t now = admin_mono_ms();
	uint64_t seq = ev->last_seq;
	int r;

	ev->nmacs = 0;
	r = fleet_journal_after(ev->site, ev->last_id, EVENTS_ROWS_MAX, on_row, ev);
	if (r < 0)
		log_debug(TAG, "events: the journal cannot be read: %s", fleet_strerror(ev->site));
	r = fleet_devices_changed(ev->site, ev->last_seq, &seq, note_device, ev);
	if (r == -ESTALE)
		r = fleet_changes_last(ev->site, &seq);
	if (r < 0)
		log_debug(TAG, "events: the change log cannot be read: %s",
			  fleet_strerror(ev->site));
	ev->last_seq = seq;
	for (size_t i = 0; i < ev->nmacs && ev->n; i++)
		if (anyone_wants(ev, ev->macs[i]))
			send_event(ev, "device", ev->macs[i],
				   json_pack("{s:s}", "mac", ev->macs[i]));
	if (now >= ev->fleet_due && ev->n) {
		const json_t *o = admin_fleet_overview(ev->fleet);
		json_t *states = json_object_get(o, "states");
		char *text = states ? json_dumps(states, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		ev->fleet_due = now + EVENTS_FLEET_MS;
		if (text && (!ev->fleet_last || strcmp(text, ev->fleet_last) != 0)) {
			free(ev->fleet_last);
			ev->fleet_last = text;
			text = NULL;
			send_event(ev, "fleet", NULL, json_incref(states));
		}
		free(text);
	}
	if (now >= ev->keepalive_due && ev->n) {
		ev->keepalive_due = now + EVENTS_KEEPALIVE_S * 1000;
		broadcast(ev, NULL, ": keep-alive\n\n", 14);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_once(arg);
}

void admin_events_free(struct admin_events *ev)
{
	if (!ev)
		return;
	while (ev->n)
		stream_drop(ev, ev->streams[ev->n - 1], "the server stops");
	if (ev->timer)
		event_free(ev->timer);
	free(ev->fleet_last);
	free(ev);
}

static void get_events(struct admin_request *r)
{
	struct admin_events **evp = admin_events(r);
	struct admin_events *ev = *evp;
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	struct stream *s;

	if (!ev) {
		ev = calloc(1, sizeof(*ev));
		if (ev)
			ev->timer = event_new(admin_base(r), -1, EV_PERSIST, on_timer, ev);
		if (!ev || !ev->timer) {
			free(ev);
			admin_problem(r, 500, NULL, NULL, "out of memory");
			return;
		}
		ev->site = admin_site(r);
		ev->base = admin_base(r);
		ev->fleet = admin_fleet(r);
		if (!ev->fleet) {
			event_free(ev->timer);
			free(ev);
			admin_problem(r, 500, NULL, NULL, "out of memory");
			return;
		}
		*evp = ev;
	}
	if (ev->n == EVENTS_STREAMS_MAX) {
		admin_add_header(r, "Retry-After", "30");
		admin_problem(r, 503, NULL, NULL, "%d event streams are open already",
			      EVENTS_STREAMS_MAX);
		return;
	}
	if (!conn || !(s = calloc(1, sizeof(*s)))) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	if (admin_query(r, "mac")) {
		const char *why;

		if (mac_parse(admin_query(r, "mac"), s->mac, &why) < 0) {
			free(s);
			admin_problem(r, 400, NULL, NULL, "mac: '%s' is not a MAC address (%s)",
				      admin_query(r, "mac"), why);
			return;
		}
	}
	if (ev->n == 0) {
		/* the first stream: from now on */
		if (fleet_journal_last(ev->site, &ev->last_id) < 0 ||
		    fleet_changes_last(ev->site, &ev->last_seq) < 0) {
			free(s);
			admin_problem(r, 503, NULL, NULL, "the store: %s",
				      fleet_strerror(ev->site));
			return;
		}
		free(ev->fleet_last);
		ev->fleet_last = NULL;
		ev->fleet_due = 0;
		ev->keepalive_due = admin_mono_ms() + EVENTS_KEEPALIVE_S * 1000;
		evtimer_add(ev->timer, &(struct timeval){ .tv_usec = EVENTS_POLL_MS * 1000 });
	}
	s->req = r->req;
	s->conn = conn;
	s->ev = ev;
	snprintf(s->who, sizeof(s->who), "%s", r->token.name[0] ? r->token.name : "-");
	ev->streams[ev->n++] = s;
	evhttp_connection_set_closecb(conn, on_close, s);
	admin_add_header(r, "Content-Type", "text/event-stream");
	admin_add_header(r, "Cache-Control", "no-store");
	admin_add_header(r, "X-Accel-Buffering", "no");
	r->answered = true;
	log_info(TAG, "event stream of %s opened (%zu open)", s->who, ev->n);
	evhttp_send_reply_start(r->req, 200, "OK");
	/*
	 * The client sends nothing more: no read timeout ([admin] timeout would cut the stream),
	 * a write timeout still (a reader that stopped, and the buffer's bound, drop it).
	 */
	{
		struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
		int sndbuf = EVENTS_SOCKET_BUFFER;

		if (bev)
			bufferevent_set_timeouts(
				bev, NULL, &(struct timeval){ .tv_sec = EVENTS_KEEPALIVE_S * 4 });
		/*
		 * the kernel's share of what a reader may owe, fixed: autotuned, the socket's
		 * buffer would hold megabytes more than EVENTS_BUFFER_MAX before the bound sees any
		 */
		if (bev && bufferevent_getfd(bev) >= 0 &&
		    setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_SNDBUF, &sndbuf,
			       sizeof(sndbuf)) < 0)
			log_debug(TAG, "event stream: SO_SNDBUF: %s", strerror(errno));
	}
	/* the first bytes at once: the client knows the stream is open */
	{
		struct evbuffer *hello = evbuffer_new();

		if (hello) {
			evbuffer_add_printf(hello, "retry: 3000\n: autoprov events\n\n");
			evhttp_send_reply_chunk(r->req, hello);
			evbuffer_free(hello);
		}
	}
}

const struct admin_route admin_routes_events[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/events", ADMIN_READ, get_events },
	{ 0, NULL, 0, NULL },
};
