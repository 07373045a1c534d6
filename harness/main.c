/* SPDX-License-Identifier: MIT */
/* pvbench: guest/host cooperative scheduling benchmarks for KVM. One subcommand per cmd_*.c. */
#include <stdio.h>
#include <string.h>
#include "child.h"
#include "cli.h"
#include "util.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "run", cmd_run, "run an experiment file: matrix, store, comparison tables" },
	{ "ab", cmd_ab, "A/B test two variants of an experiment: noise floor, intervals, verdicts" },
	{ "nightly", cmd_nightly, "run a suite as tonight's session; flag change points in its history" },
	{ "reproduce", cmd_reproduce, "a seed's published table next to pvbench's runs, a verdict per cell" },
	{ "plot", cmd_plot, "an experiment's plots (gnuplot): histograms, CDFs, bars, nightly series" },
	{ "push", cmd_push, "copy this host's runs into a central PostgreSQL store" },
	{ "report", cmd_report, "a static HTML dashboard of a store (a host's or a central one)" },
	{ "compare", cmd_compare, "print an experiment's stored runs as comparison tables" },
	{ "channels", cmd_channels, "cost of each guest->host notification channel (own VMM)" },
	{ "memory", cmd_memory, "time for N vCPUs to write all memory: demand vs prepared (own VMM)" },
	{ "guest", cmd_guest, "guest run: boot one guest, run one job, print its table" },
};

static const char *cmd_name(int i, const void *arg)
{
	(void)arg;
	return (size_t)i < sizeof(cmds) / sizeof(cmds[0]) ? cmds[i].name : NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvbench COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'pvbench COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	child_signals_install();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	const char *near = nearest_name(argv[1], cmd_name, NULL);
	if (near) { /* a typo: the one line that fixes it, not the whole usage */
		fprintf(stderr, "pvbench: unknown command \"%s\": did you mean %s?\n", argv[1], near);
		return EXIT_ERROR;
	}
	fprintf(stderr, "pvbench: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_ERROR;
}
