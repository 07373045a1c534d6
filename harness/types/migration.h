/* SPDX-License-Identifier: MIT */
/* The migration type's two engines -- QEMU's (the reference, migration_qemu.c) and pvbench's own
 * (migration_own.c, over impl/migration) -- and what they measure alike (type_migration.c). */
#ifndef PVB_MIGRATION_H
#define PVB_MIGRATION_H

#include <stdint.h>
#include "engine.h"
#include "metrics.h"

/* The guest's progress (pvb_progress.h): totals of writers and readers, each vCPU's into per. */
int mig_progress(const unsigned char *mem, int vcpus, int writers, double *wr, double *rd, double *per);

/* The guest's write and read rates over a phase (before, during, after the migration). */
struct phase_rate { double t0, w0, r0, t1, w1, r1; int have; };
void rate_mark(struct phase_rate *p, int end, double t, double w, double r);
void rate_out(struct metric_set *m, const char *name, const struct phase_rate *p);

/* Each vCPU thread's share of wall_ms that it really ran (its CPU time since cpu0), and the means
 * of writers and readers: seed 003's table B. */
void mig_runtime(struct metric_set *m, const int *tids, const int64_t *cpu0, int vcpus, int writers, double wall_ms);

/* A whole run on each engine, once the type found the host can (a skip otherwise). */
void migration_run_qemu(const struct run_spec *r, const struct run_env *env, struct run_result *out);
void migration_run_own(const struct run_spec *r, const struct run_env *env, struct run_result *out);

#endif
