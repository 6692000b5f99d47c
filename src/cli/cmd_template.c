// SPDX-License-Identifier: MIT
/* Placeholder while the command is written (issue 3). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_template(int argc, char **argv)
{
	fputs("autoprov template: not built yet\n", stderr);
	return 2;
}
