/* SPDX-License-Identifier: MIT */
/* main.c - mailroom's entry point; every role is reached through the CLI. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
