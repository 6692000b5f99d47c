// SPDX-License-Identifier: MIT
/* Placeholder while the command is written (issue 3). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_md5(int argc, char **argv)
{
	fputs("autoprov md5: not built yet\n", stderr);
	return 2;
}

int cmd_encrypt(int argc, char **argv)
{
	fputs("autoprov encrypt: not built yet\n", stderr);
	return 2;
}

int cmd_decrypt(int argc, char **argv)
{
	fputs("autoprov decrypt: not built yet\n", stderr);
	return 2;
}
