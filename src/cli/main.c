// SPDX-License-Identifier: MIT
/* autoprov: one binary, one subcommand per task (DESIGN "One binary, subcommands"). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "serve", cmd_serve, "serve a provisioning site over TFTP, HTTP(S), FTP and SIP" },
	{ "device", cmd_device, "the inventory: add, set, show, list, rm, import, export" },
	{ "render", cmd_render, "print what the server would send a device for a path" },
	{ "template", cmd_template, "render a template against JSON data" },
	{ "log", cmd_log, "print the journal of requests" },
	{ "doctor", cmd_doctor, "why a device did or did not provision, and what to do" },
	{ "token", cmd_token, "bearer tokens of the admin API: add, list, rm" },
	{ "store", cmd_store, "copy a site's data between stores (SQLite, PostgreSQL)" },
	{ "md5", cmd_md5, "print a file's MD5 as .md5 companions carry it" },
	{ "encrypt", cmd_encrypt, "encrypt a profile (openssl enc -aes-256-cbc -md md5)" },
	{ "decrypt", cmd_decrypt, "decrypt a profile encrypted that way" },
	{ "resync", cmd_resync, "make devices fetch their configuration now (SIP NOTIFY)" },
	{ "dhcp", cmd_dhcp, "print DHCP server options that point endpoints at this server" },
	{ "agent", cmd_agent, "run one endpoint's provisioning against a server, with a timeline" },
	{ "sim", cmd_sim, "boot a fleet of simulated endpoints against a server and report" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: autoprov COMMAND [OPTIONS]\n\n"
		     "autoprov provisions SIP phones and IP endpoints.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'autoprov COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("autoprov %s\n", AUTOPROV_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "autoprov: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
