// SPDX-License-Identifier: MIT
/*
 * A resync job: makes devices fetch their configuration now, by sending each an
 * out-of-dialog SIP NOTIFY with the event its profile expects (check-sync for Algo, FIP,
 * Panasonic and AudioCodes, resync / reboot for SPA-style devices), paced, answering one
 * Digest challenge with the device's SIP credentials; then it watches the site's journal
 * for a request from each device after its NOTIFY. Per device: the contact, the final
 * response, and whether (and what) the device fetched.
 *
 * `autoprov resync` runs one on a loop of its own; the admin listener (POST /api/v1/resync)
 * runs them on its loop. Everything runs on the loop's thread; st and dir are that
 * thread's.
 */
#ifndef AUTOPROV_FLEET_RESYNC_H
#define AUTOPROV_FLEET_RESYNC_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/mac.h"
#include "proto/sip.h"

struct device;
struct directory;
struct store;

#define RESYNC_DEFAULT_RATE	50  /* NOTIFYs per second */
#define RESYNC_DEFAULT_INFLIGHT 200 /* transactions at once */
#define RESYNC_DEFAULT_WAIT	30  /* seconds to wait for the fetches */

struct resync_options {
	double rate;	       /* NOTIFYs started per second */
	unsigned max_inflight; /* transactions at once */
	unsigned wait_s;       /* seconds to watch the journal after the last NOTIFY; 0: no */
	bool reboot;	       /* ask for a reboot too */
};

void resync_options_default(struct resync_options *o);

enum resync_state {
	RESYNC_WAITING,	   /* not sent yet */
	RESYNC_SENT,	   /* NOTIFY in flight */
	RESYNC_ANSWERED,   /* final response or timeout */
	RESYNC_NO_CONTACT, /* nowhere to send it */
};

struct resync_job;

struct resync_target {
	struct resync_job *job;
	char mac[MAC_LEN + 1];
	char profile[16];
	char uri[300];
	char contact[ADDR_STRLEN];
	char event[64];
	char *user, *password;
	char note[128]; /* why there is no contact, when there is none */
	struct addr to;
	enum resync_state state;
	int64_t sent_ms; /* wall clock, ms */
	struct sip_notify_result res;
	bool fetched;
	char fetch_proto[16], fetch_path[256];
	int64_t fetch_ms;
};

/* A job over st and dir (not owned: they outlive it). 0 or -ENOMEM. */
int resync_job_new(struct store *st, struct directory *dir, const struct resync_options *o,
		   struct resync_job **ret);
/*
 * Adds device d (before the start): its contact is its variable sip_contact (sip:URI,
 * ADDR[:PORT] or ADDR), else the address it last fetched from (journal), port 5060;
 * without one it is not sent (note says why). 0 or -ENOMEM.
 */
int resync_job_add(struct resync_job *job, const struct device *d);
/*
 * Adds every device of group (NULL: the whole inventory), at most max (0: no limit;
 * -E2BIG beyond). 0, or a negative errno (the store's reason in store_strerror()).
 */
int resync_job_add_group(struct resync_job *job, const char *group, size_t max);
/*
 * Starts sending on base through sip (a NOTIFY client: sip_server_new with no site), both
 * outliving the job's run. done(arg) is called once, from the loop, when every NOTIFY is
 * answered and the wait is over (or nothing was to be sent). 0 or a negative errno.
 */
int resync_job_start(struct resync_job *job, struct event_base *base, struct sip_server *sip,
		     void (*done)(void *arg), void *arg);
bool resync_job_finished(const struct resync_job *job);
size_t resync_job_count(const struct resync_job *job);
const struct resync_target *resync_job_target(const struct resync_job *job, size_t i);
/* Whether the job watched (or watches) the journal for fetches. */
bool resync_job_waits(const struct resync_job *job);
/*
 * A target as JSON (the one shape `autoprov resync --json` and the API print): mac,
 * profile, contact, event, sent, status, reason, authenticated, fetched, and fetch_proto,
 * fetch_path, fetch_after_ms when it fetched. A new reference, NULL if out of memory.
 */
json_t *resync_target_json(const struct resync_target *t);
/*
 * Frees the job. A running job's NOTIFYs must be over first (the sip server freed, which
 * drops its transactions without their callbacks, or the job finished). Accepts NULL.
 */
void resync_job_free(struct resync_job *job);

#endif
