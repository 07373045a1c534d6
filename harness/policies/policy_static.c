/* SPDX-License-Identifier: MIT */
/* static: every vCPU thread SCHED_FIFO at static_prio for the whole run, as in the seed's
 * "static boost" baseline. Restored on stop. */
#include <stdlib.h>
#include "policy.h"
#include "vm.h"

struct static_state {
	struct sched_saved saved[VM_MAX_VCPUS];
	int nr, boosted;
};

static const struct key_def static_keys[] = {
	{ "static_prio", KT_INT, 1, 98, KEY_LIST, "50", "SCHED_FIFO priority of policy=static" },
	{ 0 },
};

static int static_prepare(struct policy *p, char *err, size_t errlen)
{
	if (!sched_fifo_allowed((int)spec_int(p->spec, "static_prio"), err, errlen))
		return -1;
	p->priv = calloc(1, sizeof(struct static_state));
	return p->priv ? 0 : -1;
}

static int static_start(struct policy *p, const struct vm_view *vm, char *err, size_t errlen)
{
	struct static_state *s = p->priv;
	int prio = (int)spec_int(p->spec, "static_prio");

	for (int i = 0; i < vm->nr_vcpus && i < VM_MAX_VCPUS; i++) {
		if (sched_save_and_set_fifo(&s->saved[i], vm->tids[i], prio, err, errlen))
			return -1; /* stop() restores the ones already set */
		s->nr = i + 1;
		s->boosted++;
	}
	return 0;
}

static void static_stop(struct policy *p)
{
	struct static_state *s = p->priv;

	if (!s)
		return;
	for (int i = 0; i < s->nr; i++)
		sched_restore(&s->saved[i]);
	s->nr = 0;
}

static void static_counters(struct policy *p, struct metric_set *out)
{
	struct static_state *s = p->priv;

	metrics_add(out, "policy.boosted_vcpus", "count", PVB_INFO, METRIC_CPU_VM, s ? s->boosted : 0);
}

static void static_destroy(struct policy *p)
{
	free(p->priv);
	p->priv = NULL;
}

const struct policy_ops policy_static = {
	.name = "static",
	.help = "every vCPU thread SCHED_FIFO static_prio (default 50) for the whole run",
	.keys = static_keys,
	.prepare = static_prepare,
	.start = static_start,
	.stop = static_stop,
	.counters = static_counters,
	.destroy = static_destroy,
};
