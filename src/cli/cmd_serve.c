// SPDX-License-Identifier: MIT
/* `autoprov serve`: command-line parsing; the daemon itself is src/server/serve.c. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "server/serve.h"

static void serve_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov serve [--site DIR] [OPTIONS]\n"
		"\n"
		"Serves the provisioning site DIR to endpoints: static files in DIR/files/, and\n"
		"per-device files rendered from DIR/templates/ for the devices of the inventory.\n"
		"\n"
		"  --site DIR         the site to serve (default: the current directory)\n"
		"  --config FILE      configuration file (default: DIR/autoprov.conf, optional)\n"
		"  --tftp ADDR:PORT   TFTP listener, e.g. 0.0.0.0:69 or [::]:69; port 0 picks one;\n"
		"                     'off' (overrides [tftp] listen; off by default: TFTP has\n"
		"                     no logins)\n"
		"  --http ADDR:PORT   HTTP listener, e.g. 0.0.0.0:80; port 0 picks one; 'off'\n"
		"                     (overrides [http] listen; off by default)\n"
		"  --https ADDR:PORT  HTTPS listener, e.g. 0.0.0.0:443 (overrides [https] listen;\n"
		"                     off by default; certificate and key from [https])\n"
		"  --ftp ADDR:PORT    FTP listener (read-only), e.g. 0.0.0.0:21; port 0 picks one;\n"
		"                     'off' (overrides [ftp] listen; off by default)\n"
		"  --sip ADDR:PORT    SIP Plug-and-Play responder (UDP), e.g. 0.0.0.0:5060; port 0\n"
		"                     picks one; 'off' (overrides [sip] listen; off by default;\n"
		"                     multicast 224.0.1.75 with [sip] multicast = on)\n"
		"  --admin ADDR:PORT  the admin API and /metrics, e.g. 127.0.0.1:8080 (overrides\n"
		"                     [admin] listen; off by default; tokens: autoprov token)\n"
		"  --port-file FILE   once listening, write 'PROTO PORT' lines to FILE (atomically)\n"
		"  --user USER        started as root: once listening, run as USER with no\n"
		"                     capabilities, confined to the site (overrides [server] user;\n"
		"                     default autoprov, else nobody; 'root' keeps every privilege)\n"
		"  --workers N|auto   event loops serving the listeners, each on its own thread\n"
		"                     (overrides [server] workers; default 1; auto: one per CPU)\n"
		"  --check            validate the configuration and the site, then exit 0 or 1\n"
		"  -v, --verbose      log debug messages too\n"
		"  -q, --quiet        log warnings and errors only\n"
		"      --syslog       log to syslog instead of stderr\n"
		"      --daemon       detach from the terminal (logs go to syslog)\n"
		"  -h, --help         this text\n"
		"\n"
		"Signals: TERM or INT stop; HUP re-reads the configuration and forgets cached files.\n"
		"Under systemd ($NOTIFY_SOCKET) it reports readiness, status, reloads and\n"
		"watchdog keep-alives ($WATCHDOG_USEC); the daemon stays in the foreground.\n"
		"Documentation: autoprov.conf(5), docs/configuration.md, docs/operations.md,\n"
		"docs/admin.md.\n");
}

int cmd_serve(int argc, char **argv)
{
	enum {
		OPT_SYSLOG = 256,
		OPT_DAEMON,
		OPT_CHECK,
		OPT_PORT_FILE,
		OPT_TFTP,
		OPT_HTTP,
		OPT_HTTPS,
		OPT_FTP,
		OPT_SIP,
		OPT_CONFIG,
		OPT_USER,
		OPT_ADMIN,
		OPT_WORKERS
	};
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "tftp", required_argument, NULL, OPT_TFTP },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "https", required_argument, NULL, OPT_HTTPS },
		{ "ftp", required_argument, NULL, OPT_FTP },
		{ "sip", required_argument, NULL, OPT_SIP },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "user", required_argument, NULL, OPT_USER },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "daemon", no_argument, NULL, OPT_DAEMON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct serve_options opts = { .site_dir = ".", .log_level = LOG_LEVEL_INFO };
	int c;

	while ((c = getopt_long(argc, argv, "s:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': opts.site_dir = optarg; break;
		case OPT_CONFIG: opts.config_path = optarg; break;
		case OPT_TFTP: opts.tftp_listen = optarg; break;
		case OPT_HTTP: opts.http_listen = optarg; break;
		case OPT_HTTPS: opts.https_listen = optarg; break;
		case OPT_FTP: opts.ftp_listen = optarg; break;
		case OPT_SIP: opts.sip_listen = optarg; break;
		case OPT_ADMIN: opts.admin_listen = optarg; break;
		case OPT_PORT_FILE: opts.port_file = optarg; break;
		case OPT_USER: opts.user = optarg; break;
		case OPT_WORKERS: opts.workers = optarg; break;
		case OPT_CHECK: opts.check = true; break;
		case 'v': opts.log_level = LOG_LEVEL_DEBUG; break;
		case 'q': opts.log_level = LOG_LEVEL_WARN; break;
		case OPT_SYSLOG: opts.syslog = true; break;
		case OPT_DAEMON: opts.daemon = true; break;
		case 'h': serve_usage(stdout); return 0;
		default: serve_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "autoprov serve: unexpected argument '%s'\n", argv[optind]);
		serve_usage(stderr);
		return 2;
	}
	return serve_main(&opts);
}
