// SPDX-License-Identifier: MIT
/*
 * `autoprov doctor MAC`: why a device did or did not provision, and what to do, from its
 * journal, its state, the inventory and the site as it is now (site/doctor.c, which the
 * admin API's GET /api/v1/devices/{mac}/doctor calls too). docs/doctor.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/mac.h"
#include "server/config.h"
#include "site/doctor.h"
#include "site/site.h"

static void doctor_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov doctor [--site DIR] [--config FILE] [--json] MAC\n"
		"\n"
		"Says in plain words why device MAC did or did not provision, and what to do: never\n"
		"seen, not in the inventory, its own file missing, a .md5 missing (Algo over TFTP),\n"
		"a change not yet fetched, a firmware image missing, denied (password, certificate,\n"
		"blocked address), the last provisioning. Each verdict cites the journal rows it\n"
		"rests on (autoprov log --mac MAC prints them all).\n"
		"\n"
		"  --site DIR         the site (default: the current directory)\n"
		"  --config FILE      configuration file (default: DIR/autoprov.conf)\n"
		"  --json             the diagnosis as one JSON object (as the admin API gives it)\n"
		"  -h, --help         this text\n"
		"\n"
		"Exit status: 0 diagnosed (whatever the verdicts), 1 the site cannot be read, 2 usage.\n"
		"Documentation: docs/doctor.md.\n");
}

/* A listener's address when it names one (not a wildcard, not port 0), else NULL. */
static const struct sockaddr *usable(const struct addr *a)
{
	char host[ADDR_STRLEN];

	if (a->len == 0 || addr_port((const struct sockaddr *)&a->ss) == 0)
		return NULL;
	addr_format_host((const struct sockaddr *)&a->ss, host, sizeof(host));
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		return NULL;
	return (const struct sockaddr *)&a->ss;
}

int cmd_doctor(int argc, char **argv)
{
	enum { OPT_CONFIG = 256 };
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *site_dir = ".", *config = NULL, *why;
	char config_path[PATH_MAX], mac[MAC_LEN + 1], err[512];
	struct server_config cfg;
	struct doctor_options opts;
	struct site *site = NULL;
	json_t *dg = NULL;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': site_dir = optarg; break;
		case OPT_CONFIG: config = optarg; break;
		case 'j': json = true; break;
		case 'h': doctor_usage(stdout); return 0;
		default: doctor_usage(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		doctor_usage(stderr);
		return 2;
	}
	if (mac_parse(argv[optind], mac, &why) < 0) {
		fprintf(stderr, "autoprov doctor: '%s': not a MAC address (%s)\n", argv[optind],
			why);
		return 2;
	}
	if (cli_site_config("autoprov doctor", site_dir, config, &cfg, config_path,
			    sizeof(config_path)) < 0)
		return 1;
	r = site_open(site_dir, &cfg.site, &site, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "autoprov doctor: %s\n", err);
		return 1;
	}
	opts = (struct doctor_options){
		.site_dir = site_dir,
		.local_tftp = usable(&cfg.tftp.listen),
		.local_http = usable(&cfg.http.listen),
		.local_https = usable(&cfg.http.https_listen),
		.local_ftp = usable(&cfg.ftp.listen),
		.prefix_tftp = cfg.tftp.prefix,
		.prefix_http = cfg.http.prefix,
	};
	r = doctor_diagnose(site, mac, &opts, &dg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "autoprov doctor: %s\n", err);
		site_free(site);
		return 1;
	}
	if (json) {
		char *text = json_dumps(dg, JSON_INDENT(2) | JSON_ENSURE_ASCII);

		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		doctor_print(dg, stdout);
	}
	json_decref(dg);
	site_free(site);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "autoprov doctor: cannot write the output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
