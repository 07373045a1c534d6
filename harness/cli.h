/* SPDX-License-Identifier: MIT */
/* Subcommands (one per cmd_*.c) and the small parsing helpers they share. */
#ifndef PVB_CLI_H
#define PVB_CLI_H

#include <stdint.h>
#include "engine.h" /* EXIT_* */
#include "util.h"

int cmd_guest(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_ab(int argc, char **argv);
int cmd_nightly(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_channels(int argc, char **argv);
int cmd_memory(int argc, char **argv);

/* Decimal integer in [lo, hi]; -1 with a message on stderr naming what. */
int parse_int(const char *what, const char *s, long long lo, long long hi, long long *out);
/* Reads an INI file of one section (a nightly suite's [suite]): set() gets each key and value and
 * says why it refuses one. 0, or -1 with "file:line: key: why" in err. */
int cli_ini_options(const char *path, const char *section,
		    int (*set)(void *arg, const char *key, const char *value, char *why, size_t whylen),
		    void *arg, char *err, size_t errlen);
/* A command-line option that is also an experiment-file key: --pace-us V goes to the same set()
 * as "pace_us = V" in cli_ini_options. 0, or -1 after "pvbench: --pace-us: why" on stderr. */
int cli_set_option(const char *longname, const char *value,
		   int (*set)(void *arg, const char *key, const char *value, char *why, size_t whylen),
		   void *arg);

/* --format for the commands that print text or JSON: 0 (*json set), or -1 after "pvbench CMD:
 * --format: why" on stderr. */
int cli_text_or_json(const char *cmd, const char *value, int *json);

#endif
