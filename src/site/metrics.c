// SPDX-License-Identifier: MIT
/* The site's counters (metrics.h): what the request path calls, kept to a few additions. */
#include "site/metrics.h"

#include <string.h>
#include <time.h>

static const char *const proto_names[_METRICS_PROTO_MAX] = {
	[METRICS_TFTP] = "tftp", [METRICS_HTTP] = "http", [METRICS_HTTPS] = "https",
	[METRICS_FTP] = "ftp",	 [METRICS_SIP] = "sip",
};

static const uint64_t duration_bounds[] = METRICS_DURATION_BOUNDS;

_Static_assert(sizeof(duration_bounds) / sizeof(duration_bounds[0]) + 1 == METRICS_DURATION_BUCKETS,
	       "one bucket per bound, and +Inf");

enum metrics_proto metrics_proto_of(const char *name)
{
	if (!name)
		return _METRICS_PROTO_MAX;
	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
		if (strcmp(name, proto_names[p]) == 0)
			return (enum metrics_proto)p;
	return _METRICS_PROTO_MAX;
}

const char *metrics_proto_name(enum metrics_proto p)
{
	return (unsigned)p < _METRICS_PROTO_MAX ? proto_names[p] : "other";
}

/*
 * The slot of minute, emptied first when it counted an older minute. Several threads may
 * count: the one that claims the slot (compare and swap of its minute, 0 while it empties
 * it: a reader skips the slot) empties it; a request another thread counts in that instant
 * may be lost, never counted in the wrong minute for long.
 */
static struct metrics_minute *metrics_minute_of(struct site_metrics *m, uint64_t minute)
{
	struct metrics_minute *mm = &m->minutes[minute % METRICS_MINUTES];
	uint64_t seen = metrics_get(&mm->minute);

	if (seen != minute && seen != 0 &&
	    __atomic_compare_exchange_n(&mm->minute, &seen, 0, false, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED)) {
		for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
			for (unsigned o = 0; o < _OUTCOME_MAX; o++)
				metrics_set(&mm->requests[p][o], 0);
		__atomic_store_n(&mm->minute, minute, __ATOMIC_RELEASE);
	} else if (seen == 0) {
		/* never used (or being emptied): claimed for minute if still unused */
		uint64_t zero = 0;

		(void)__atomic_compare_exchange_n(&mm->minute, &zero, minute, false,
						  __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	}
	return mm;
}

void metrics_request(struct site_metrics *m, enum metrics_proto proto, enum outcome o,
		     uint64_t bytes, uint64_t us)
{
	unsigned b = 0;

	if ((unsigned)proto >= _METRICS_PROTO_MAX || (unsigned)o >= _OUTCOME_MAX)
		return;
	while (b < METRICS_DURATION_BUCKETS - 1 && us > duration_bounds[b])
		b++;
	metrics_add(&m->requests[proto][o], 1);
	metrics_add(&metrics_minute_of(m, (uint64_t)time(NULL) / 60)->requests[proto][o], 1);
	if (bytes)
		metrics_add(&m->bytes[proto], bytes);
	metrics_add(&m->duration_bucket[proto][b], 1);
	metrics_add(&m->duration_sum_us[proto], us);
}
