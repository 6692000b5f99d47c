// SPDX-License-Identifier: MIT
/* The store's outages (outage.h): the state each part reports, the backoff, the two lines. */
#include "site/outage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/str.h"
#include "site/metrics.h"

#define TAG "store"

static int64_t mono_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int outage_init(struct outage *o, const char *name, struct site_metrics *metrics)
{
	int r;

	memset(o, 0, sizeof(*o));
	str_copy(o->name, sizeof(o->name), name);
	o->metrics = metrics;
	r = pthread_mutex_init(&o->lock, NULL);
	return r ? -r : 0;
}

void outage_destroy(struct outage *o)
{
	pthread_mutex_destroy(&o->lock);
}

bool outage_is_store_failure(int r)
{
	return r < 0 && r != -ENOENT && r != -EINVAL && r != -ENOMEM && r != -EBADMSG;
}

static uint64_t unavailable_total(const struct site_metrics *m)
{
	uint64_t n = 0;

	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
		n += metrics_get(&m->requests[p][OUTCOME_UNAVAILABLE]);
	return n;
}

static const char *part_name(unsigned part)
{
	return part == OUTAGE_READS ? "reading the inventory" : "writing the journal";
}

void outage_fail(struct outage *o, unsigned part, const char *why, struct outage_backoff *b)
{
	int64_t now = mono_ms();

	b->delay_ms = b->delay_ms ? b->delay_ms * 2 : OUTAGE_BACKOFF_MIN_MS;
	if (b->delay_ms > OUTAGE_BACKOFF_MAX_MS)
		b->delay_ms = OUTAGE_BACKOFF_MAX_MS;
	b->retry_at = now + b->delay_ms;
	if (__atomic_load_n(&o->down, __ATOMIC_RELAXED) & part)
		return;
	pthread_mutex_lock(&o->lock);
	if (o->down == 0) {
		o->since_ms = now;
		o->held_written = 0;
		o->unavailable_at_start = unavailable_total(o->metrics);
		o->dropped_at_start = metrics_get(&o->metrics->journal_dropped_outage);
		metrics_set(&o->metrics->store_down, 1);
		metrics_add(&o->metrics->store_outages, 1);
		log_warnx(TAG,
			  "%s cannot be reached (%s: %s): serving what is held, \"try later\" for "
			  "what needs it, journal rows held until it is back",
			  o->name, part_name(part), why && why[0] ? why : "failed");
	}
	__atomic_fetch_or(&o->down, part, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&o->lock);
}

void outage_ok(struct outage *o, unsigned part, struct outage_backoff *b)
{
	if (!(__atomic_load_n(&o->down, __ATOMIC_RELAXED) & part))
		return;
	b->delay_ms = 0;
	b->retry_at = 0;
	pthread_mutex_lock(&o->lock);
	__atomic_fetch_and(&o->down, ~part, __ATOMIC_RELAXED);
	if (o->down == 0) {
		int64_t ms = mono_ms() - o->since_ms;

		metrics_set(&o->metrics->store_down, 0);
		log_info(
			TAG,
			"%s is back after %lld.%01lld s: %llu requests were answered \"try later\", "
			"%llu journal rows held were written, %llu dropped",
			o->name, (long long)(ms / 1000), (long long)(ms % 1000 / 100),
			(unsigned long long)(unavailable_total(o->metrics) -
					     o->unavailable_at_start),
			(unsigned long long)o->held_written,
			(unsigned long long)(metrics_get(&o->metrics->journal_dropped_outage) -
					     o->dropped_at_start));
	}
	pthread_mutex_unlock(&o->lock);
}

bool outage_down(const struct outage *o, unsigned part)
{
	return (__atomic_load_n(&o->down, __ATOMIC_RELAXED) & part) != 0;
}

bool outage_due(const struct outage_backoff *b)
{
	return b->retry_at == 0 || mono_ms() >= b->retry_at;
}

void outage_held_written(struct outage *o, uint64_t n)
{
	pthread_mutex_lock(&o->lock);
	o->held_written += n;
	pthread_mutex_unlock(&o->lock);
}
