/* SPDX-License-Identifier: MIT */
#include "pvb.h"

#define PVB_WORKLOAD(n) extern const struct pvb_workload pvb_wl_##n;
#include "list.h"
#undef PVB_WORKLOAD

const struct pvb_workload *const pvb_workloads[] = {
#define PVB_WORKLOAD(n) &pvb_wl_##n,
#include "list.h"
#undef PVB_WORKLOAD
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
