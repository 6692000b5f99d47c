// SPDX-License-Identifier: MIT
/*
 * `autoprov render`: what the server would send for a path, through the same resolver
 * (static file, route, .md5 companion), written to stdout byte for byte.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/mac.h"
#include "server/config.h"
#include "site/site.h"

static void render_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov render [--site DIR] [OPTIONS] MAC PATH\n"
		"\n"
		"Prints exactly what the server would send device MAC asking for PATH: a file of\n"
		"DIR/files/, a template rendered for the device, or a .md5 companion.\n"
		"\n"
		"  --site DIR         the site (default: the current directory)\n"
		"  --config FILE      configuration file (default: DIR/autoprov.conf)\n"
		"  --proto NAME       the protocol the request comes over (default: tftp)\n"
		"  --server ADDR:PORT the address the device talks to, for {{server_url}}\n"
		"                     (default: [tftp] listen, or 127.0.0.1:69 if it is a wildcard)\n"
		"  --peer ADDR        the device's address, for {{peer}} (default: none)\n"
		"  -h, --help         this text\n"
		"\n"
		"Exit status: 0 sent, 1 not found or a template error, 2 usage.\n");
}

static int parse_host(const char *s, struct addr *ret)
{
	char buf[ADDR_STRLEN + 8];

	if (addr_parse(s, ret) == 0)
		return 0;
	snprintf(buf, sizeof(buf), strchr(s, ':') ? "[%s]:0" : "%s:0", s);
	return addr_parse(buf, ret);
}

int cmd_render(int argc, char **argv)
{
	enum { OPT_CONFIG = 256, OPT_PROTO, OPT_SERVER, OPT_PEER };
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "proto", required_argument, NULL, OPT_PROTO },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *site_dir = ".", *config = NULL, *proto = "tftp", *server = NULL, *peer = NULL;
	char config_path[PATH_MAX], mac[MAC_LEN + 1], err[512];
	struct server_config cfg;
	struct site_request req;
	struct addr local, peer_addr;
	struct site_file *f = NULL;
	struct site *site = NULL;
	const char *why;
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': site_dir = optarg; break;
		case OPT_CONFIG: config = optarg; break;
		case OPT_PROTO: proto = optarg; break;
		case OPT_SERVER: server = optarg; break;
		case OPT_PEER: peer = optarg; break;
		case 'h': render_usage(stdout); return 0;
		default: render_usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		render_usage(stderr);
		return 2;
	}
	if (mac_parse(argv[optind], mac, &why) < 0) {
		fprintf(stderr, "autoprov render: '%s': not a MAC address (%s)\n", argv[optind],
			why);
		return 2;
	}
	if (cli_site_config("autoprov render", site_dir, config, &cfg, config_path,
			    sizeof(config_path)) < 0)
		return 1;
	local = cfg.tftp.listen;
	if (server) {
		if (parse_host(server, &local) < 0) {
			fprintf(stderr, "autoprov render: --server: '%s' is not ADDR:PORT\n",
				server);
			return 2;
		}
	} else {
		char host[ADDR_STRLEN];

		addr_format_host((struct sockaddr *)&local.ss, host, sizeof(host));
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
			(void)addr_parse("127.0.0.1:69", &local);
	}
	if (peer && parse_host(peer, &peer_addr) < 0) {
		fprintf(stderr, "autoprov render: --peer: '%s' is not an address\n", peer);
		return 2;
	}
	r = site_open(site_dir, &cfg.site, &site, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "autoprov render: %s\n", err);
		return 1;
	}
	req = (struct site_request){
		.proto = proto,
		.peer = peer ? (struct sockaddr *)&peer_addr.ss : NULL,
		.local = (struct sockaddr *)&local.ss,
		.prefix = cfg.tftp.prefix,
	};
	r = site_resolve(site, argv[optind + 1], strlen(argv[optind + 1]), &req, &f);
	if (r == 0 && req.mac[0] && strcmp(req.mac, mac) != 0) {
		fprintf(stderr, "autoprov render: %s is device %s's file, not %s's\n",
			argv[optind + 1], req.mac, mac);
		goto out;
	}
	switch (r) {
	case 0:
		if (fwrite(f->data, 1, f->size, stdout) != f->size || fflush(stdout) != 0) {
			fprintf(stderr, "autoprov render: cannot write: %s\n", strerror(errno));
			goto out;
		}
		status = 0;
		break;
	case -ENOENT:
		fprintf(stderr,
			"autoprov render: %s: not found (no such file, no route, or the device is "
			"unknown or disabled)\n",
			argv[optind + 1]);
		break;
	case -EACCES:
		fprintf(stderr, "autoprov render: %s: refused name\n", argv[optind + 1]);
		break;
	case -EIO:
		fprintf(stderr, "autoprov render: %s: template error (above)\n", argv[optind + 1]);
		break;
	default:
		fprintf(stderr, "autoprov render: %s: %s\n", argv[optind + 1], strerror(-r));
		break;
	}
out:
	site_file_unref(f);
	site_free(site);
	return status;
}
