// SPDX-License-Identifier: MIT
/*
 * Resync jobs (fleet/resync.h): the targets, the pace of the NOTIFYs, and the watch of the
 * journal for each device's fetch, on the caller's loop.
 */
#include "fleet/resync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec/sip_parse.h"
#include "core/str.h"
#include "site/directory.h"
#include "store/store.h"

#define RESYNC_POLL_MS	    500
#define RESYNC_JOURNAL_PAGE 2000 /* journal rows read in one statement */

struct resync_job {
	struct directory *dir; /* device data: the variables after precedence */
	struct store *st;
	struct resync_options opts;
	struct event_base *base;
	struct sip_server *sip;
	struct resync_target *targets;
	size_t n, cap;
	size_t next;	  /* the next target to send */
	size_t answered;  /* of those sent, how many are done */
	size_t nsendable; /* targets with a contact */
	size_t started;	  /* NOTIFYs started, for the pace */
	int64_t start_mono_ms, last_send_mono_ms;
	int64_t start_real_ms;	       /* wall clock: journal rows from then on */
	int64_t journal_last;	       /* the id of the last journal row looked at */
	size_t journal_rows;	       /* rows of the last page looked at */
	struct resync_target **by_mac; /* the targets in MAC order, to find a row's */
	struct event *ev_pace, *ev_poll;
	bool running, finished;
	void (*done)(void *arg);
	void *done_arg;
};

void resync_options_default(struct resync_options *o)
{
	o->rate = RESYNC_DEFAULT_RATE;
	o->max_inflight = RESYNC_DEFAULT_INFLIGHT;
	o->wait_s = RESYNC_DEFAULT_WAIT;
	o->reboot = false;
}

static int64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int resync_job_new(struct store *st, struct directory *dir, const struct resync_options *o,
		   struct resync_job **ret)
{
	struct resync_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->st = st;
	job->dir = dir;
	job->opts = *o;
	*ret = job;
	return 0;
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
static int parse_contact(const char *s, struct resync_target *t)
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

int resync_job_add(struct resync_job *job, const struct device *d)
{
	const char *contact, *user, *password;
	struct resync_target *t;

	if (job->running)
		return -EBUSY;
	if (job->n == job->cap) {
		size_t cap = job->cap ? job->cap * 2 : 64;
		struct resync_target *n = realloc(job->targets, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		job->targets = n;
		job->cap = cap;
	}
	t = &job->targets[job->n];
	memset(t, 0, sizeof(*t));
	str_copy(t->mac, sizeof(t->mac), d->mac);
	str_copy(t->profile, sizeof(t->profile), d->profile);
	str_copy(t->event, sizeof(t->event), profile_event(d->profile, job->opts.reboot));
	user = device_var(job->dir, d, "sip_user");
	password = device_var(job->dir, d, "sip_password");
	t->user = user ? strdup(user) : NULL;
	t->password = password ? strdup(password) : NULL;
	if ((user && !t->user) || (password && !t->password)) {
		free(t->user);
		free(t->password);
		return -ENOMEM;
	}
	contact = device_var(job->dir, d, "sip_contact");
	job->n++;
	if (contact) {
		if (parse_contact(contact, t) < 0) {
			snprintf(t->note, sizeof(t->note),
				 "sip_contact is not a SIP URI or ADDR[:PORT]");
			t->state = RESYNC_NO_CONTACT;
			return 0;
		}
	} else {
		char peer[ADDR_STRLEN + 2] = "", host[ADDR_STRLEN];
		struct addr a;

		(void)store_journal_foreach(job->st, t->mac, 0, true, last_peer_cb, peer);
		if (!peer[0] || addr_parse(peer, &a) < 0) {
			snprintf(t->note, sizeof(t->note),
				 "no contact: no sip_contact, and never seen in the journal");
			t->state = RESYNC_NO_CONTACT;
			return 0;
		}
		addr_format_host((struct sockaddr *)&a.ss, host, sizeof(host));
		if (parse_contact(host, t) < 0) {
			snprintf(t->note, sizeof(t->note), "no contact");
			t->state = RESYNC_NO_CONTACT;
			return 0;
		}
	}
	job->nsendable++;
	return 0;
}

struct collect {
	struct resync_job *job;
	size_t max;
};

static int collect_cb(const struct device *d, void *arg)
{
	struct collect *c = arg;

	if (c->max && c->job->n >= c->max)
		return -E2BIG;
	return resync_job_add(c->job, d);
}

int resync_job_add_group(struct resync_job *job, const char *group, size_t max)
{
	struct collect c = { .job = job, .max = max };

	return store_device_foreach_in(job->st, group, NULL, collect_cb, &c);
}

static int target_cmp(const void *a, const void *b)
{
	const struct resync_target *const *x = a, *const *y = b;

	return strcmp((*x)->mac, (*y)->mac);
}

/* A journal row: the first fetch (any protocol but SIP) of a target since its NOTIFY. */
static int fetch_cb(void *arg, const struct journal_entry *e)
{
	struct resync_job *job = arg;
	struct resync_target key, *kp = &key, **found;

	job->journal_last = e->id;
	job->journal_rows++;
	if (!e->mac || (e->proto && strcmp(e->proto, "sip") == 0) ||
	    str_copy(key.mac, sizeof(key.mac), e->mac) < 0)
		return 0;
	found = bsearch(&kp, job->by_mac, job->n, sizeof(*job->by_mac), target_cmp);
	if (!found)
		return 0;
	for (; found > job->by_mac && strcmp(found[-1]->mac, key.mac) == 0; found--)
		;
	for (; found < job->by_mac + job->n && strcmp((*found)->mac, key.mac) == 0; found++) {
		struct resync_target *t = *found;
		int64_t ms = (int64_t)e->time.tv_sec * 1000 + e->time.tv_nsec / 1000000;

		if (t->fetched || t->state == RESYNC_WAITING || t->state == RESYNC_NO_CONTACT ||
		    ms < t->sent_ms)
			continue;
		str_copy(t->fetch_path, sizeof(t->fetch_path), e->path ? e->path : "");
		str_copy(t->fetch_proto, sizeof(t->fetch_proto), e->proto ? e->proto : "");
		t->fetch_ms = ms;
		t->fetched = true;
	}
	return 0;
}

/*
 * The journal's rows since the last look, once for every target: the cost follows what
 * the devices fetched meanwhile, not the number of targets.
 */
static void check_fetches(struct resync_job *job)
{
	struct journal_filter f = { .since_usec = job->start_real_ms * 1000 };

	do {
		job->journal_rows = 0;
		if (store_journal_page(job->st, &f, job->journal_last, RESYNC_JOURNAL_PAGE,
				       fetch_cb, job) < 0)
			return;
	} while (job->journal_rows == RESYNC_JOURNAL_PAGE);
}

static bool all_fetched(const struct resync_job *job)
{
	for (size_t i = 0; i < job->n; i++)
		if (job->targets[i].state == RESYNC_ANSWERED && !job->targets[i].fetched &&
		    job->targets[i].res.status >= 200 && job->targets[i].res.status < 300)
			return false;
	return true;
}

static void finish(struct resync_job *job)
{
	if (job->opts.wait_s)
		check_fetches(job);
	event_del(job->ev_pace);
	event_del(job->ev_poll);
	job->running = false;
	job->finished = true;
	if (job->done)
		job->done(job->done_arg);
}

static void maybe_finish(struct resync_job *job)
{
	int64_t now = now_ms(CLOCK_MONOTONIC);

	if (!job->running || job->next < job->n || job->answered < job->nsendable)
		return;
	if (job->opts.wait_s == 0 || all_fetched(job) ||
	    now >= job->last_send_mono_ms + (int64_t)job->opts.wait_s * 1000)
		finish(job);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct resync_job *job = arg;

	(void)fd;
	(void)what;
	if (job->opts.wait_s)
		check_fetches(job);
	maybe_finish(job);
}

static void notify_done(void *arg, const struct sip_notify_result *res)
{
	struct resync_target *t = arg;
	struct resync_job *job = t->job;

	t->res = *res;
	t->state = RESYNC_ANSWERED;
	job->answered++;
	maybe_finish(job);
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
	struct resync_job *job = arg;
	int64_t now = now_ms(CLOCK_MONOTONIC);
	double allowed = (double)(now - job->start_mono_ms) / 1000.0 * job->opts.rate + 1;

	(void)fd;
	(void)what;
	while (job->next < job->n && (double)job->started < allowed &&
	       sip_notify_pending(job->sip) < job->opts.max_inflight) {
		struct resync_target *t = &job->targets[job->next++];
		struct sip_notify n = { .to = t->to,
					.uri = t->uri,
					.event = t->event,
					.user = t->user,
					.password = t->password };
		int r;

		if (t->state == RESYNC_NO_CONTACT)
			continue;
		t->job = job;
		t->sent_ms = now_ms(CLOCK_REALTIME);
		t->state = RESYNC_SENT;
		job->started++;
		job->last_send_mono_ms = now;
		r = sip_notify_start(job->sip, &n, notify_done, t);
		if (r < 0) {
			t->state = RESYNC_ANSWERED;
			snprintf(t->res.reason, sizeof(t->res.reason), "%s", strerror(-r));
			job->answered++;
		}
	}
	if (job->next < job->n)
		event_add(job->ev_pace, &(struct timeval){ .tv_usec = 10000 });
	maybe_finish(job);
}

int resync_job_start(struct resync_job *job, struct event_base *base, struct sip_server *sip,
		     void (*done)(void *arg), void *arg)
{
	if (job->running || job->finished)
		return -EBUSY;
	job->base = base;
	job->sip = sip;
	job->done = done;
	job->done_arg = arg;
	job->ev_pace = event_new(base, -1, 0, on_pace, job);
	job->ev_poll = event_new(base, -1, EV_PERSIST, on_poll, job);
	job->by_mac = malloc((job->n ? job->n : 1) * sizeof(*job->by_mac));
	if (!job->ev_pace || !job->ev_poll || !job->by_mac)
		return -ENOMEM;
	for (size_t i = 0; i < job->n; i++) {
		job->by_mac[i] = &job->targets[i];
		job->targets[i].job = job;
	}
	qsort(job->by_mac, job->n, sizeof(*job->by_mac), target_cmp);
	job->start_real_ms = now_ms(CLOCK_REALTIME);
	job->running = true;
	job->start_mono_ms = job->last_send_mono_ms = now_ms(CLOCK_MONOTONIC);
	event_active(job->ev_pace, 0, 0);
	event_add(job->ev_poll, &(struct timeval){ .tv_usec = RESYNC_POLL_MS * 1000 });
	return 0;
}

bool resync_job_finished(const struct resync_job *job)
{
	return job->finished;
}

size_t resync_job_count(const struct resync_job *job)
{
	return job->n;
}

const struct resync_target *resync_job_target(const struct resync_job *job, size_t i)
{
	return i < job->n ? &job->targets[i] : NULL;
}

bool resync_job_waits(const struct resync_job *job)
{
	return job->opts.wait_s != 0;
}

json_t *resync_target_json(const struct resync_target *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:s, s:b, s:b}", "mac", t->mac,
			      "profile", t->profile, "contact", t->contact, "event", t->event,
			      "sent", t->state != RESYNC_NO_CONTACT && t->sent_ms != 0, "status",
			      (int)t->res.status, "reason",
			      t->state == RESYNC_NO_CONTACT ? "no contact" : t->res.reason,
			      "authenticated", t->res.authenticated, "fetched", t->fetched);

	if (o && t->fetched) {
		json_object_set_new(o, "fetch_proto", json_string(t->fetch_proto));
		json_object_set_new(o, "fetch_path", json_string(t->fetch_path));
		json_object_set_new(o, "fetch_after_ms", json_integer(t->fetch_ms - t->sent_ms));
	}
	return o;
}

void resync_job_free(struct resync_job *job)
{
	if (!job)
		return;
	if (job->ev_pace)
		event_free(job->ev_pace);
	if (job->ev_poll)
		event_free(job->ev_poll);
	for (size_t i = 0; i < job->n; i++) {
		free(job->targets[i].user);
		free(job->targets[i].password);
	}
	free(job->targets);
	free(job->by_mac);
	free(job);
}
