// SPDX-License-Identifier: MIT
/*
 * At most one log line a second per kind of event, for what a flood can make happen
 * thousands of times a second (refused connections, dropped sessions, timeouts): the first
 * event of a second is logged with how many of its kind were held back since the last
 * line, the others are only counted. One struct log_limit per kind, zeroed to start.
 */
#ifndef AUTOPROV_CORE_LOGLIMIT_H
#define AUTOPROV_CORE_LOGLIMIT_H

#include <stdbool.h>
#include <time.h>

struct log_limit {
	time_t second;	     /* the second of the last line */
	unsigned suppressed; /* events since that line that were not logged */
};

/*
 * Counts one event: true when it may be logged now, with *ret_suppressed the events of its
 * kind held back since the previous line (then reset); false when it was only counted.
 */
static inline bool log_limit_ok(struct log_limit *l, unsigned *ret_suppressed)
{
	time_t now = time(NULL);

	if (now == l->second) {
		if (l->suppressed < ~0u)
			l->suppressed++;
		return false;
	}
	l->second = now;
	*ret_suppressed = l->suppressed;
	l->suppressed = 0;
	return true;
}

#endif
