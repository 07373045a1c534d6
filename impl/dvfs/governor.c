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

uint32_t dvfs_cpu_util(enum dvfs_mode m, const struct dvfs_thread_in *t, int n, uint32_t other,
		       uint32_t guest_cap, uint32_t capacity)
{
	uint64_t sum = other;
	uint32_t floor = 0;

	if (m == DVFS_PERFORMANCE)
		return capacity;
	if (m == DVFS_POWERSAVE)
		return 0;
	for (int i = 0; i < n; i++) {
		uint32_t g = t[i].guest < guest_cap ? t[i].guest : guest_cap, h = t[i].host;
		if (m == DVFS_UTIL_GUEST && t[i].runnable && g > h)
			h = g;
		if (m == DVFS_UCLAMP_MIN && t[i].runnable && g > floor)
			floor = g;
		sum += h;
	}
	if (sum < floor)
		sum = floor;
	return sum > capacity ? capacity : (uint32_t)sum;
}
