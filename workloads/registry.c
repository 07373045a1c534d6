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

const struct pvb_key pvb_job_keys[] = {
	{ "rt_prio", 0, 99, NULL, "0",
	  "run the workload's tasks at this RT priority, and publish their deadlines for a boost (0: not RT)" },
	{ 0 },
};

static const struct pvb_workload *current;

const struct pvb_workload *pvb_find_workload(const char *name)
{
	for (int i = 0; pvb_workloads[i]; i++)
		if (pvb_streq(pvb_workloads[i]->name, name))
			return current = pvb_workloads[i];
	return NULL;
}

/* Freestanding: the guest has no libc. */
static char *put(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_u64(char *p, char *end, uint64_t v)
{
	char d[24];
	int n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n && p < end)
		*p++ = d[--n];
	return p;
}

static const struct pvb_key *declared(const char *key)
{
	for (const struct pvb_key *k = current ? current->keys : NULL; k && k->name; k++)
		if (pvb_streq(k->name, key))
			return k;
	return NULL;
}

static void refuse(const char *key, const char *what, const struct pvb_key *k)
{
	static char msg[160];
	char *p = msg, *end = msg + sizeof(msg) - 1;
	p = put(p, end, "job: ");
	p = put(p, end, key);
	p = put(p, end, what);
	if (k && k->choices) {
		p = put(p, end, k->choices);
	} else if (k) {
		p = put_u64(p, end, k->lo);
		p = put(p, end, "..");
		p = put_u64(p, end, k->hi);
	}
	*p = 0;
	pvb_fail(msg);
}

static uint64_t dec(const char *s)
{
	uint64_t v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

uint64_t pvb_key_u64(const char *key)
{
	const struct pvb_key *k = declared(key);
	if (!k || k->choices) {
		refuse(key, ": the workload reads a key its table does not declare as a number", NULL);
		return 0;
	}
	uint64_t v = pvb_arg_u64(key, dec(k->def));
	if (v < k->lo || v > k->hi) {
		refuse(key, " must be ", k);
		return dec(k->def);
	}
	return v;
}

const char *pvb_key_str(const char *key)
{
	const struct pvb_key *k = declared(key);
	if (!k) {
		refuse(key, ": the workload reads a key its table does not declare", NULL);
		return "";
	}
	const char *v = pvb_arg(key);
	if (!v)
		return k->def;
	for (const char *c = k->choices; c && *c;) { /* one of "a|b|c" */
		const char *a = v;
		while (*a && *a == *c)
			a++, c++;
		if (!*a && (!*c || *c == '|'))
			return v;
		while (*c && *c != '|')
			c++;
		if (*c)
			c++;
	}
	if (!k->choices)
		return v;
	refuse(key, " must be one of ", k);
	return k->def;
}
