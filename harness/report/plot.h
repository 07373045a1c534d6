/* SPDX-License-Identifier: MIT */
/*
 * Plots of an experiment: pvbench writes the data files (from the store), gnuplot draws them
 * with the templates in plots/ (NAME.gp), as PNG and SVG:
 *   hist-SIDE-NAME     latency histogram per variant (runs summed), log y
 *   cdf-SIDE-NAME      its cumulative distribution per variant, log x
 *   bars-SIDE-METRIC   median per variant with the interquartile range as error bars
 *   series-N           a nightly series: the median per night, change points marked
 * Migration progress curves come with the migration experiment type.
 */
#ifndef PVB_PLOT_H
#define PVB_PLOT_H

#include <stddef.h>

struct store;

struct plot_file {
	char name[96];           /* NAME.png, NAME.svg and NAME.dat in the output directory */
	char title[320];
};

/* The templates' directory: PVBENCH_PLOTS, else plots/ next to the build directory. */
const char *plot_templates(void);

/* Writes every plot of the experiment into dir (made if missing). Returns how many (at most
 * max, listed in out), or -1 with err (gnuplot missing or failing, the store). */
int plot_experiment(struct store *st, const char *exp, const char *dir, struct plot_file *out,
		    int max, char *err, size_t errlen);

#endif
