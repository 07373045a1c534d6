/* SPDX-License-Identifier: MIT */
#ifndef PVB_HTML_H
#define PVB_HTML_H

#include <stddef.h>

struct store;

/* Writes the dashboard (html.c) into dir: index.html, exp-NAME.html, plots/. published_dir: the
 * published tables (results/published). 0, or -1 with err. */
int report_html(struct store *st, const char *store_label, const char *dir, const char *published_dir,
		char *err, size_t errlen);

#endif
