/* SPDX-License-Identifier: MIT */
/* The experiment types: one file each, one line here. */
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
