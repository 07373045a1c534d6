/* SPDX-License-Identifier: MIT */
/* The workload catalogue: one line per workload file. */
#include "pvb.h"

extern const struct pvb_workload pvb_wl_cyclic, pvb_wl_fault, pvb_wl_hang;

const struct pvb_workload *const pvb_workloads[] = {
	&pvb_wl_cyclic,
	&pvb_wl_fault,
	&pvb_wl_hang,
	NULL,
};

const struct pvb_workload *pvb_find_workload(const char *name)
{
	for (int i = 0; pvb_workloads[i]; i++) {
		const char *a = pvb_workloads[i]->name, *b = name;
		while (*a && *a == *b)
			a++, b++;
		if (!*a && !*b)
			return pvb_workloads[i];
	}
	return NULL;
}
