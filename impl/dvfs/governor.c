/* SPDX-License-Identifier: MIT */
#include "dvfs.h"

uint32_t dvfs_resolve(const struct dvfs_domain *d, uint32_t khz)
{
	for (int i = 0; i < d->nr; i++)
		if (d->khz[i] >= khz)
			return d->khz[i];
	return d->nr ? d->khz[d->nr - 1] : 0;
}

uint32_t dvfs_governor(struct dvfs_domain *d, uint32_t util, uint64_t now_us)
{
	uint32_t max = d->nr ? d->khz[d->nr - 1] : 0, cap = d->capacity ? d->capacity : DVFS_SCALE;
	if (util > cap)
		util = cap;
	/* map_util_freq(): 25% headroom, f = 1.25 * f_max * util / capacity */
	uint64_t want = ((uint64_t)max + (max >> 2)) * util / cap;
	uint32_t next = dvfs_resolve(d, (uint32_t)(want > max ? max : want));
	if (d->changed_once && now_us - d->last_change_us < d->rate_limit_us)
		return d->cur_khz;
	if (next != d->cur_khz || !d->changed_once) {
		d->cur_khz = next;
		d->last_change_us = now_us;
		d->changed_once = 1;
	}
	return d->cur_khz;
}
