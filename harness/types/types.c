/* SPDX-License-Identifier: MIT */
/* The experiment types: one file each, one line here. The first is what a file without `type`
 * (and `run --keys` without --type) means. */
#include "engine.h"

extern const struct exp_type type_guest, type_channels, type_memory, type_migration, type_null;

const struct exp_type *const exp_types[] = {
	&type_guest,
	&type_channels,
	&type_memory,
	&type_migration,
	&type_null,
	NULL,
};
