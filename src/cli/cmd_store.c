// SPDX-License-Identifier: MIT
/*
 * `autoprov store copy`: a site's data from one store into another (store_copy), e.g. from
 * the site's SQLite file into the PostgreSQL database several nodes will share, or back.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

#define PROG "autoprov store"

static void store_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov store copy --from STORE --to STORE [--journal]\n"
		"\n"
		"Copies a site's inventory (devices, groups, defaults, the certificates bound to\n"
		"devices), rendered-file versions, admin tokens and unknown devices (the MACs\n"
		"that asked and are not in the inventory) from one store into another, all or\n"
		"nothing; the target must hold no device, group, token or version yet.\n"
		"\n"
		"  --from STORE       where the site's data is\n"
		"  --to STORE         where it goes (created, with its schema, if need be)\n"
		"  --journal          the journal of requests too (and the devices' state it gives)\n"
		"  -h, --help         this text\n"
		"\n"
		"STORE: postgresql://USER@HOST/DB (a libpq URI; the password from the URI,\n"
		"~/.pgpass or PGPASSWORD, never shown), a site directory (its autoprov.db), an\n"
		"SQLite file (FILE.db) or sqlite:PATH.\n");
}

int cmd_store(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "journal", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *from_url = NULL, *to_url = NULL;
	struct store *from = NULL, *to = NULL;
	struct store_copy_counts n;
	bool journal = false;
	char err[1024];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': from_url = optarg; break;
		case 't': to_url = optarg; break;
		case 'j': journal = true; break;
		case 'h': store_usage(stdout); return 0;
		default: store_usage(stderr); return 2;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "copy") != 0) {
		if (optind < argc)
			fprintf(stderr, PROG ": unknown command '%s' (copy)\n", argv[optind]);
		else
			store_usage(stderr);
		return 2;
	}
	if (optind + 1 != argc || !from_url || !to_url || !*from_url || !*to_url) {
		fprintf(stderr, PROG " copy: --from STORE and --to STORE expected, nothing else\n");
		return 2;
	}
	if (store_open_url(from_url, NULL, &from, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": cannot open the source: %s\n", err);
		return 1;
	}
	if (store_open_url(to_url, NULL, &to, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": cannot open the target: %s\n", err);
		store_close(from);
		return 1;
	}
	if (strcmp(store_name(from), store_name(to)) == 0) {
		fprintf(stderr, PROG ": %s: the source and the target are one store\n",
			store_name(from));
		r = -EINVAL;
	} else {
		r = store_copy(from, to, journal, &n, err, sizeof(err));
		if (r < 0)
			fprintf(stderr, PROG ": nothing copied: %s\n", err);
		else
			fprintf(stderr,
				PROG ": %s -> %s: %llu devices, %llu groups, %llu versions, %llu "
				     "tokens, %llu journal rows, %llu unknown devices\n",
				store_name(from), store_name(to), (unsigned long long)n.devices,
				(unsigned long long)n.groups, (unsigned long long)n.versions,
				(unsigned long long)n.tokens, (unsigned long long)n.journal,
				(unsigned long long)n.unknown);
	}
	store_close(to);
	store_close(from);
	return r < 0 ? 1 : 0;
}
