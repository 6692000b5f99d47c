// SPDX-License-Identifier: MIT
/*
 * `autoprov log`: the journal of requests, oldest first, for the whole site or one device,
 * optionally since a date or for a recent period ("2h"): the first thing to read when a
 * device did not pick up its configuration. Times are UTC, as the journal stores them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/mac.h"
#include "core/str.h"
#include "site/site.h"
#include "store/store.h"

static void log_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov log [--site DIR] [--mac MAC] [--node NAME] [--since T]\n"
		"\n"
		"Prints the journal of requests of the site DIR, oldest first, one line each:\n"
		"TIME PROTO PEER MAC \"PATH\" OUTCOME BYTES MD5 NODE [\"USER-AGENT\"]\n"
		"('-': unknown). NODE is the node that served the request ([server] node).\n"
		"\n"
		"  --site DIR         the site (default: the current directory)\n"
		"  --mac MAC          only the requests of this device\n"
		"  --node NAME        only the requests this node served\n"
		"  --since T          only requests from T on: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS\n"
		"                     (UTC), or a period back from now: 30s, 10m, 2h, 3d, 1w\n"
		"  -h, --help         this text\n");
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at s within min..max. */
static int digits(const char *s, size_t n, uint64_t min, uint64_t max, unsigned *ret)
{
	uint64_t v;

	if (strlen(s) < n || str_to_u64_n(s, n, min, max, &v) < 0)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/*
 * T as --since takes it, into seconds since the epoch. timegm() is not used: the date is
 * checked field by field so that 2024-02-30 is an error, not March the 1st.
 */
static int parse_since(const char *s, time_t now, time_t *ret)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t len = strlen(s);
	unsigned y, mo, d, h = 0, mi = 0, se = 0;
	uint64_t n, unit = 0;

	if (len >= 2 && s[0] >= '0' && s[0] <= '9' && !strchr(s, '-')) {
		switch (s[len - 1]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -EINVAL;
		}
		if (str_to_u64_n(s, len - 1, 0, (uint64_t)now / unit, &n) < 0)
			return -EINVAL;
		*ret = now - (time_t)(n * unit);
		return 0;
	}
	if (len != 10 && len != 19 && !(len == 20 && s[19] == 'Z'))
		return -EINVAL;
	if (digits(s, 4, 1970, 9999, &y) < 0 || s[4] != '-' || digits(s + 5, 2, 1, 12, &mo) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, 1, mdays[mo - 1], &d) < 0)
		return -EINVAL;
	/* February 29th only in leap years */
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	if (len > 10 && (s[10] != 'T' || digits(s + 11, 2, 0, 23, &h) < 0 || s[13] != ':' ||
			 digits(s + 14, 2, 0, 59, &mi) < 0 || s[16] != ':' ||
			 digits(s + 17, 2, 0, 59, &se) < 0))
		return -EINVAL;
	*ret = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se);
	return 0;
}

int cmd_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "mac", required_argument, NULL, 'm' },
		{ "node", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *site = ".", *mac_arg = NULL, *node = NULL, *why;
	char mac[MAC_LEN + 1], err[512];
	struct store *st = NULL;
	time_t since = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': site = optarg; break;
		case 'm': mac_arg = optarg; break;
		case 'n':
			node = optarg;
			if (site_check_node_name(node, &why) < 0) {
				fprintf(stderr, "autoprov log: --node '%s': %s\n", node, why);
				return 2;
			}
			break;
		case 'S':
			if (parse_since(optarg, time(NULL), &since) < 0) {
				fprintf(stderr,
					"autoprov log: --since '%s': YYYY-MM-DD, "
					"YYYY-MM-DDTHH:MM:SS or a period like 10m, 2h, 3d "
					"expected\n",
					optarg);
				return 2;
			}
			break;
		case 'h': log_usage(stdout); return 0;
		default: log_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "autoprov log: unexpected argument '%s'\n", argv[optind]);
		log_usage(stderr);
		return 2;
	}
	if (mac_arg && mac_parse(mac_arg, mac, &why) < 0) {
		fprintf(stderr, "autoprov log: '%s': not a MAC address (%s)\n", mac_arg, why);
		return 1;
	}
	if (store_open(site, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "autoprov log: cannot open the journal: %s\n", err);
		return 1;
	}
	r = store_journal_print(st, mac_arg ? mac : NULL, node, since, stdout);
	if (r < 0)
		fprintf(stderr, "autoprov log: %s\n", store_strerror(st));
	store_close(st);
	if (r >= 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "autoprov log: cannot write the output: %s\n", strerror(errno));
		return 1;
	}
	return r < 0 ? 1 : 0;
}
