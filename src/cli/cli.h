// SPDX-License-Identifier: MIT
/* Subcommands of the autoprov binary: each takes argc/argv after its name. */
#ifndef AUTOPROV_CLI_CLI_H
#define AUTOPROV_CLI_CLI_H

int cmd_serve(int argc, char **argv);

#endif
