/* SPDX-License-Identifier: MIT */
/* pvbench run FILE: expand the experiment, run what the store does not have yet, print tables.
 * Also the shorthands `pvbench channels` and `pvbench memory`: the same, with an experiment of
 * that type made from the options when no file is given. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "compare.h"
#include "engine.h"

static void usage(FILE *f, const char *type)
{
	if (type) {
		/* the example is a key of this very type, with its default */
		const struct exp_type *t = exp_type_find(type);
		const struct key_def *k = NULL;
		for (const struct key_def *d = t ? t->keys : NULL; d && d->name && !k; d++)
			if (*key_default(d) && !strpbrk(key_default(d), ", ")) /* one short value */
				k = d;
		char opt[64] = "";
		for (size_t i = 0; k && k->name[i] && i < sizeof(opt) - 1; i++)
			opt[i] = k->name[i] == '_' ? '-' : k->name[i];
		fprintf(f, "usage: pvbench %s [options] [--KEY VALUE ...] [EXPERIMENT.ini]\n"
			   "Runs an experiment of type %s: the file's, or one made of the options (named\n"
			   "\"%s\"). Every key of the type is an option too", type, type, type);
		if (k)
			fprintf(f, " (--%s %s = %s = %s)", opt, key_default(k), k->name, key_default(k));
		fprintf(f, ";\n`pvbench run --keys --type %s` lists them.\n", type);
	} else
		fprintf(f, "usage: pvbench run [options] EXPERIMENT.ini\n"
			   "Runs every variant x repeat of the experiment (interleaved), skipping runs the\n"
			   "store already has (status ok), stores each run, then prints the comparison tables.\n");
	fprintf(f, "\n"
		   "  --db PATH        result store (default results/pvbench.db)\n"
		   "  --force          run again what is stored already\n"
		   "  --dry-run        print the run order, marking what the store has, and about\n"
		   "                   how long the rest takes here; run nothing\n"
		   "  --set KEY=VALUE  set a [global] key after the file (repeatable)\n"
		   "  --keys           print the keys of the type (--type NAME, or the file's) and exit\n"
		   "  --types          print the experiment types and exit\n"
		   "  --format F       tables as text (default), md, csv or json\n"
		   "Exit status: 0 every run ok or skipped by the host, 1 error before running, 2 some\n"
		   "runs failed (stored as such), 130 interrupted (completed runs are stored).\n");
	const struct exp_type *t = type ? exp_type_find(type) : NULL;
	if (t && t->describe) {
		fprintf(f, "\n%s:\n", type);
		t->describe(f);
	}
}

/* type: NULL for `pvbench run`, else the shorthand's type */
static int run_main(int argc, char **argv, const char *type)
{
	static const struct option opts[] = {
		{ "db", 1, 0, 'd' }, { "force", 0, 0, 'f' }, { "dry-run", 0, 0, 'n' },
		{ "keys", 0, 0, 'k' }, { "types", 0, 0, 'T' }, { "type", 1, 0, 't' },
		{ "set", 1, 0, 's' }, { "format", 1, 0, 'F' }, { "help", 0, 0, 'h' }, { 0 },
	};
	struct engine_opts o = { .db = "results/pvbench.db", .format = CMP_TEXT, .name = type };
	const char *keys_of = type;
	int keys = 0, opt;
	enum cmp_format fmt;
	char *args[256];
	int nargs = 0;

	if (type) { /* the shorthand's type, as if set first */
		o.set_key[o.nsets] = "type";
		o.set_val[o.nsets++] = type;
	}
	/* a shorthand takes --KEY VALUE for its type's keys: turn them into --set KEY=VALUE */
	static char kv[256][160];
	const struct exp_type *t = type ? exp_type_find(type) : NULL;
	const struct key_def *k[ENGINE_MAX_KEYS];
	int nk = t ? engine_keys(t, k, ENGINE_MAX_KEYS) : 0;
	for (int i = 0; i < argc && nargs < 254; i++) {
		int hit = -1;
		char name[64];
		snprintf(name, sizeof(name), "%s", argv[i] + (strncmp(argv[i], "--", 2) ? 0 : 2));
		for (char *c = name; *c; c++)
			*c = *c == '-' ? '_' : *c;
		for (int j = 0; i > 0 && i + 1 < argc && !strncmp(argv[i], "--", 2) && j < nk; j++)
			if (!strcmp(name, k[j]->name) && strcmp(name, "type"))
				hit = j;
		if (hit < 0) {
			args[nargs++] = argv[i];
			continue;
		}
		args[nargs++] = "--set";
		snprintf(kv[nargs], sizeof(kv[0]), "%s=%s", name, argv[++i]);
		args[nargs] = kv[nargs];
		nargs++;
	}
	args[nargs] = NULL;
	optind = 1;
	while ((opt = getopt_long(nargs, args, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': o.db = optarg; break;
		case 'f': o.force = 1; break;
		case 'n': o.dry_run = 1; break;
		case 'k': keys = 1; break;
		case 't': keys_of = optarg; break;
		case 'T':
			for (int i = 0; exp_types[i]; i++)
				printf("%-10s %s\n", exp_types[i]->name, exp_types[i]->help);
			return EXIT_OK;
		case 's':
			if (engine_opts_set(&o, "run", optarg))
				return EXIT_ERROR;
			break;
		case 'F':
			if (compare_format_option(optarg, &fmt))
				return EXIT_ERROR;
			o.format = (int)fmt;
			break;
		case 'h': usage(stdout, type); return EXIT_OK;
		default: usage(stderr, type); return EXIT_ERROR;
		}
	}
	if (keys) {
		const struct exp_type *kt = keys_of ? exp_type_find(keys_of) : exp_types[0];
		if (!kt) {
			fprintf(stderr, "pvbench: --type: unknown type \"%s\" (pvbench run --types)\n", keys_of);
			return EXIT_ERROR;
		}
		engine_print_keys(kt);
		if (kt->describe) {
			printf("\n");
			kt->describe(stdout);
		}
		return EXIT_OK;
	}
	if (optind < nargs - 1 || (!type && optind != nargs - 1)) {
		usage(stderr, type);
		return EXIT_ERROR;
	}
	return engine_run(optind < nargs ? args[optind] : NULL, &o);
}

int cmd_run(int argc, char **argv)
{
	return run_main(argc, argv, NULL);
}

int cmd_channels(int argc, char **argv)
{
	return run_main(argc, argv, "channels");
}

int cmd_memory(int argc, char **argv)
{
	return run_main(argc, argv, "memory");
}
