// SPDX-License-Identifier: MIT
/*
 * POST /api/v1/resync and GET /api/v1/resync/{job} (docs/admin.md): the resync jobs of
 * fleet/resync.h (what `autoprov resync` runs), on the admin thread's loop, through a SIP
 * NOTIFY client of the admin side's own. A job is answered 202 at once; its per-device
 * results are read as they come. Jobs are kept in memory only, at most ADMIN_JOBS_MAX:
 * the oldest finished one makes room for a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api.h"
#include "core/log.h"
#include "core/mac.h"
#include "core/str.h"
#include "fleet/resync.h"
#include "proto/sip.h"
#include "site/directory.h"
#include "site/inventory.h"
#include "site/site.h"

#define ADMIN_JOBS_MAX	      16
#define ADMIN_JOB_MAX_DEVICES 100000
#define ADMIN_JOB_MAX_WAIT    3600

struct job {
	uint64_t id;
	int64_t created; /* seconds since the epoch */
	char token[65];	 /* who asked */
	struct resync_job *resync;
};

struct admin_jobs {
	struct sip_server *sip; /* the NOTIFY client, made on first use */
	struct job jobs[ADMIN_JOBS_MAX];
	size_t n;
	uint64_t next_id;
};

void admin_jobs_free(struct admin_jobs *jobs)
{
	if (!jobs)
		return;
	/* first the transactions (their callbacks are not called), then the jobs */
	sip_server_free(jobs->sip);
	for (size_t i = 0; i < jobs->n; i++)
		resync_job_free(jobs->jobs[i].resync);
	free(jobs);
}

static void format_time(int64_t sec, char *buf, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *job_json(const struct job *j, bool results)
{
	size_t n = resync_job_count(j->resync), sent = 0, answered = 0, ok = 0, fetched = 0;
	json_t *items = results ? json_array() : NULL, *o;
	char created[32];

	for (size_t i = 0; i < n; i++) {
		const struct resync_target *t = resync_job_target(j->resync, i);

		sent += t->state != RESYNC_NO_CONTACT && t->sent_ms != 0;
		answered += t->state == RESYNC_ANSWERED;
		ok += t->res.status >= 200 && t->res.status < 300;
		fetched += t->fetched;
		if (items) {
			json_t *r = resync_target_json(t);

			if (!r || json_array_append_new(items, r) < 0) {
				json_decref(items);
				return NULL;
			}
		}
	}
	format_time(j->created, created, sizeof(created));
	o = json_pack("{s:I, s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I}}", "id", (json_int_t)j->id,
		      "state", resync_job_finished(j->resync) ? "done" : "running", "created",
		      created, "token", j->token, "counts", "devices", (json_int_t)n, "sent",
		      (json_int_t)sent, "answered", (json_int_t)answered, "ok", (json_int_t)ok,
		      "fetched", (json_int_t)fetched);
	if (o && items && json_object_set_new(o, "results", items) < 0) {
		json_decref(o);
		return NULL;
	}
	if (!o)
		json_decref(items);
	return o;
}

/* A slot for a new job: a free one, or the oldest finished job's. NULL when all run. */
static struct job *job_slot(struct admin_jobs *jobs)
{
	if (jobs->n < ADMIN_JOBS_MAX)
		return &jobs->jobs[jobs->n++];
	for (size_t i = 0; i < jobs->n; i++) {
		if (!resync_job_finished(jobs->jobs[i].resync))
			continue;
		resync_job_free(jobs->jobs[i].resync);
		memmove(&jobs->jobs[i], &jobs->jobs[i + 1],
			(jobs->n - i - 1) * sizeof(jobs->jobs[0]));
		return &jobs->jobs[jobs->n - 1];
	}
	return NULL;
}

/* An unsigned member of body in min..max, or def when absent; false after a 422. */
static bool body_uint(struct admin_request *r, json_t *body, const char *name, uint64_t min,
		      uint64_t max, uint64_t *v)
{
	json_t *m = json_object_get(body, name);

	if (!m)
		return true;
	if (!json_is_integer(m) || json_integer_value(m) < (json_int_t)min ||
	    (uint64_t)json_integer_value(m) > max) {
		admin_problem(r, 422, NULL, NULL, "%s: an integer %llu..%llu is expected", name,
			      (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*v = (uint64_t)json_integer_value(m);
	return true;
}

static void post_resync(struct admin_request *r)
{
	struct admin_jobs **jobsp = admin_jobs(r), *jobs;
	struct site *site = admin_site(r);
	struct directory *dir = site_directory(admin_site(r));
	json_t *body = admin_body_json(r), *macs, *group, *all, *v;
	struct resync_options ro;
	struct resync_job *rj = NULL;
	struct job *j;
	const char *key;
	uint64_t wait, rate, max;
	int e;

	if (!body)
		return;
	resync_options_default(&ro);
	wait = ro.wait_s;
	rate = (uint64_t)ro.rate;
	max = ro.max_inflight;
	if (!json_is_object(body)) {
		admin_problem(r, 422, NULL, NULL, "a JSON object is expected");
		goto out;
	}
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "macs") && strcmp(key, "group") && strcmp(key, "all") &&
		    strcmp(key, "reboot") && strcmp(key, "wait_s") && strcmp(key, "rate") &&
		    strcmp(key, "max_inflight")) {
			admin_problem(r, 422, NULL, NULL,
				      "'%s': not a member (macs, group, all, reboot, wait_s, rate, "
				      "max_inflight)",
				      key);
			goto out;
		}
	}
	macs = json_object_get(body, "macs");
	group = json_object_get(body, "group");
	all = json_object_get(body, "all");
	if ((macs != NULL) + (group != NULL) + (all != NULL && json_is_true(all)) != 1 ||
	    (all && !json_is_boolean(all))) {
		admin_problem(
			r, 422, NULL, NULL,
			"give \"macs\": [...], \"group\": NAME or \"all\": true (one of them)");
		goto out;
	}
	if ((macs && (!json_is_array(macs) || json_array_size(macs) == 0)) ||
	    (group && !json_is_string(group))) {
		admin_problem(r, 422, NULL, NULL,
			      "macs: a non-empty array of MACs; group: a group's name");
		goto out;
	}
	v = json_object_get(body, "reboot");
	if (v && !json_is_boolean(v)) {
		admin_problem(r, 422, NULL, NULL, "reboot: true or false is expected");
		goto out;
	}
	ro.reboot = json_is_true(v);
	if (!body_uint(r, body, "wait_s", 0, ADMIN_JOB_MAX_WAIT, &wait) ||
	    !body_uint(r, body, "rate", 1, 100000, &rate) ||
	    !body_uint(r, body, "max_inflight", 1, 100000, &max))
		goto out;
	ro.wait_s = (unsigned)wait;
	ro.rate = (double)rate;
	ro.max_inflight = (unsigned)max;

	if (!*jobsp) {
		*jobsp = calloc(1, sizeof(**jobsp));
		if (!*jobsp) {
			admin_problem(r, 500, NULL, NULL, "out of memory");
			goto out;
		}
	}
	jobs = *jobsp;
	if (!jobs->sip) {
		struct sip_config cfg;
		char err[256];

		sip_config_default(&cfg);
		cfg.enabled = true;
		(void)addr_parse("0.0.0.0:0", &cfg.listen);
		if (sip_server_new(admin_base(r), NULL, &cfg, &jobs->sip, err, sizeof(err)) < 0) {
			admin_problem(r, 503, NULL, NULL, "cannot send NOTIFYs: %s", err);
			goto out;
		}
	}
	if (resync_job_new(site_store(site), dir, &ro, &rj) < 0) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		goto out;
	}
	if (macs) {
		size_t i;
		json_t *m;

		json_array_foreach(macs, i, m)
		{
			char mac[MAC_LEN + 1];
			const struct device *d;
			const char *why = "a string is expected";

			if (!json_is_string(m) || mac_parse(json_string_value(m), mac, &why) < 0) {
				admin_problem(r, 422, NULL, NULL,
					      "macs[%zu]: not a MAC address (%s)", i, why);
				goto out;
			}
			e = directory_device(dir, mac, &d);
			if (e == 0)
				e = resync_job_add(rj, d);
			if (e < 0) {
				if (e == -ENOENT)
					admin_problem(r, 422, NULL, NULL,
						      "macs[%zu]: %s is not in the inventory", i,
						      json_string_value(m));
				else
					admin_inventory_problem(r, e);
				goto out;
			}
		}
	} else {
		const char *g = group ? json_string_value(group) : NULL;
		json_t *gj = NULL;

		if (g && inventory_group_get(site, g, &gj) < 0) {
			admin_problem(r, 422, NULL, NULL, "group: %s", inventory_strerror(site));
			goto out;
		}
		json_decref(gj);
		e = resync_job_add_group(rj, g, ADMIN_JOB_MAX_DEVICES);
		if (e == -E2BIG) {
			admin_problem(r, 422, NULL, NULL,
				      "more than %d devices: resync them by groups, or with "
				      "`autoprov resync`",
				      ADMIN_JOB_MAX_DEVICES);
			goto out;
		}
		if (e < 0) {
			admin_inventory_problem(r, e);
			goto out;
		}
		if (resync_job_count(rj) == 0) {
			admin_problem(r, 422, NULL, NULL, "no device%s%s", g ? " in group " : "",
				      g ? g : "");
			goto out;
		}
	}
	j = job_slot(jobs);
	if (!j) {
		admin_problem(r, 503, NULL, NULL, "%d resync jobs are running already",
			      ADMIN_JOBS_MAX);
		goto out;
	}
	j->id = ++jobs->next_id;
	j->created = (int64_t)time(NULL);
	str_copy(j->token, sizeof(j->token), r->token.name);
	j->resync = rj;
	rj = NULL;
	e = resync_job_start(j->resync, admin_base(r), jobs->sip, NULL, NULL);
	if (e < 0) {
		/* a job that could not start is finished as it is: kept, with nothing sent */
		admin_problem(r, 500, NULL, NULL, "cannot start the job: %s", strerror(-e));
		goto out;
	}
	log_info("admin", "resync job %llu: %zu device%s (token %s)", (unsigned long long)j->id,
		 resync_job_count(j->resync), resync_job_count(j->resync) == 1 ? "" : "s",
		 j->token);
	{
		char loc[64];

		snprintf(loc, sizeof(loc), ADMIN_API_PREFIX "/resync/%llu",
			 (unsigned long long)j->id);
		admin_add_header(r, "Location", loc);
		admin_reply_json(r, 202, job_json(j, true));
	}
out:
	resync_job_free(rj);
	json_decref(body);
}

static struct job *find_job(struct admin_request *r)
{
	struct admin_jobs *jobs = *admin_jobs(r);
	uint64_t id;

	if (str_to_u64(r->params[0], 1, UINT64_MAX, &id) < 0) {
		admin_problem(r, 404, NULL, NULL, "'%s': not a job", r->params[0]);
		return NULL;
	}
	for (size_t i = 0; jobs && i < jobs->n; i++)
		if (jobs->jobs[i].id == id)
			return &jobs->jobs[i];
	admin_problem(r, 404, NULL, NULL, "no job %llu (jobs are kept in memory, the last %d)",
		      (unsigned long long)id, ADMIN_JOBS_MAX);
	return NULL;
}

static void get_job(struct admin_request *r)
{
	struct job *j = find_job(r);

	if (j)
		admin_reply_json(r, 200, job_json(j, true));
}

static void list_jobs(struct admin_request *r)
{
	struct admin_jobs *jobs = *admin_jobs(r);
	json_t *items = json_array();

	for (size_t i = 0; items && jobs && i < jobs->n; i++) {
		json_t *o = job_json(&jobs->jobs[i], false);

		if (!o || json_array_append_new(items, o) < 0) {
			json_decref(items);
			items = NULL;
		}
	}
	if (!items) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	admin_reply_json(r, 200, json_pack("{s:o}", "jobs", items));
}

const struct admin_route admin_routes_resync[] = {
	{ EVHTTP_REQ_POST, ADMIN_API_PREFIX "/resync", ADMIN_WRITE, post_resync },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/resync", ADMIN_READ, list_jobs },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/resync/{job}", ADMIN_READ, get_job },
	{ 0, NULL, 0, NULL },
};
