// SPDX-License-Identifier: MIT
/*
 * `autoprov token`: the bearer tokens of the admin API (docs/admin.md). A token is printed
 * once, when it is made; the site keeps only its SHA-256, so a lost token is removed and
 * made again, never recovered.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/str.h"
#include "store/store.h"

#define PROG "autoprov token"

static void token_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov token [--site DIR] add NAME [--scope read|write] [--expires DAYS]\n"
		"       autoprov token [--site DIR] list [--json]\n"
		"       autoprov token [--site DIR] rm NAME\n"
		"\n"
		"Bearer tokens of the admin API ([admin] listen): `add` prints the new token once\n"
		"(the site keeps only its SHA-256); `list` shows names, scopes and dates, never a\n"
		"token; `rm` revokes one at once.\n"
		"\n"
		"  --site DIR         the site (default: the current directory)\n"
		"  --scope SCOPE      read (GET, /metrics) or write (changes too); default read\n"
		"  --expires DAYS     the token stops working after DAYS days (default: never)\n"
		"  --json             list as a JSON array\n"
		"  -h, --help         this text\n");
}

static void date_text(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || !gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_copy(buf, size, "-");
}

struct list_state {
	bool json;
	json_t *array;
	unsigned n;
};

static int list_one(void *arg, const struct token_info *t)
{
	struct list_state *ls = arg;
	char created[32], expires[32], used[32];

	date_text(t->created, created, sizeof(created));
	date_text(t->expires, expires, sizeof(expires));
	date_text(t->last_used, used, sizeof(used));
	ls->n++;
	if (ls->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "name", t->name, "scope",
				      t->scope == TOKEN_WRITE ? "write" : "read", "created",
				      created, "expires", t->expires ? expires : NULL,
				      "last_used", t->last_used ? used : NULL);

		return o && json_array_append_new(ls->array, o) == 0 ? 0 : -ENOMEM;
	}
	if (ls->n == 1)
		printf("%-24s %-6s %-21s %-21s %s\n", "NAME", "SCOPE", "CREATED", "EXPIRES",
		       "LAST USED");
	printf("%-24s %-6s %-21s %-21s %s\n", t->name, t->scope == TOKEN_WRITE ? "write" : "read",
	       created, expires, used);
	return 0;
}

int cmd_token(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "scope", required_argument, NULL, 'S' },
		{ "expires", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *site = ".", *verb, *why;
	enum token_scope scope = TOKEN_READ;
	bool json = false;
	uint64_t days = 0;
	char err[512], secret[STORE_TOKEN_LEN + 1];
	struct store *st = NULL;
	int c, r, ret = 1;

	/* options anywhere: `token add NAME --scope write` */
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': site = optarg; break;
		case 'S':
			if (strcmp(optarg, "read") == 0) {
				scope = TOKEN_READ;
			} else if (strcmp(optarg, "write") == 0) {
				scope = TOKEN_WRITE;
			} else {
				fprintf(stderr, PROG ": --scope '%s': read or write expected\n",
					optarg);
				return 2;
			}
			break;
		case 'e':
			if (str_to_u64(optarg, 1, 36500, &days) < 0) {
				fprintf(stderr, PROG ": --expires '%s': a number of days (1 to 36500) "
						    "expected\n",
					optarg);
				return 2;
			}
			break;
		case 'j': json = true; break;
		case 'h': token_usage(stdout); return 0;
		default: token_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		token_usage(stderr);
		return 2;
	}
	verb = argv[optind++];
	if (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "rm") != 0) {
		fprintf(stderr, PROG ": unknown command '%s' (add, list or rm)\n", verb);
		return 2;
	}
	if (strcmp(verb, "list") == 0 ? optind != argc : optind + 1 != argc) {
		fprintf(stderr, PROG " %s: %s\n", verb,
			strcmp(verb, "list") == 0 ? "takes no argument" : "one NAME expected");
		return 2;
	}
	if (strcmp(verb, "list") != 0 && store_check_token_name(argv[optind], &why) < 0) {
		fprintf(stderr, PROG ": '%s': %s\n", argv[optind], why);
		return 2;
	}
	if (cli_open_store(PROG, site, NULL, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": cannot open the site's database: %s\n", err);
		return 1;
	}
	if (strcmp(verb, "add") == 0) {
		int64_t expires = days ? (int64_t)time(NULL) + (int64_t)days * 86400 : 0;

		r = store_token_add(st, argv[optind], scope, expires, secret, sizeof(secret));
		if (r == 0) {
			printf("%s\n", secret);
			explicit_bzero(secret, sizeof(secret));
			fprintf(stderr,
				PROG ": token '%s' (%s) made; it is shown this once: keep it now\n",
				argv[optind], scope == TOKEN_WRITE ? "write" : "read");
			ret = 0;
		}
	} else if (strcmp(verb, "rm") == 0) {
		r = store_token_remove(st, argv[optind]);
		ret = r < 0;
	} else {
		struct list_state ls = { .json = json, .array = json ? json_array() : NULL };

		r = json && !ls.array ? -ENOMEM : store_token_foreach(st, list_one, &ls);
		if (r == 0 && json) {
			json_dumpf(ls.array, stdout, JSON_INDENT(2));
			putchar('\n');
		} else if (r == 0 && ls.n == 0) {
			printf("no tokens (autoprov token add NAME makes one)\n");
		}
		json_decref(ls.array);
		ret = r < 0;
	}
	if (r < 0)
		fprintf(stderr, PROG ": %s\n", r == -ENOMEM ? "out of memory" : store_strerror(st));
	store_close(st);
	if (ret == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
		return 1;
	}
	return ret;
}
