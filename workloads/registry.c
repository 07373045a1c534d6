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
	for (int i = 0; pvb_workloads[i]; i++)
		if (pvb_streq(pvb_workloads[i]->name, name))
			return pvb_workloads[i];
	return NULL;
}
