/*
 * swimctl.c - the control client's entry point; everything is in cli.c and
 * the files cli_int.h lists.
 */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv, stdout, stderr);
}
