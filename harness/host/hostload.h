/* SPDX-License-Identifier: MIT */
/* Host load around a run: started before, verified running, stopped after on every path. */
#ifndef PVB_HOSTLOAD_H
#define PVB_HOSTLOAD_H

#include <stddef.h>
#include "child.h"

struct hostload {
	char name[16];
	struct child c;          /* pid 0 for "idle" */
};

/* Known loads: "idle" (nothing), "busy" (stress-ng --cpu <online CPUs>); the i-th name, NULL
 * past the last (a key's choices). */
const char *hostload_choice(int i);
/* Starts it and checks that its workers run. 0, or -1 with a sentence in err. */
int hostload_start(struct hostload *l, const char *name, char *err, size_t errlen);
void hostload_stop(struct hostload *l);

#endif
