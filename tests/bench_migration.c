/* SPDX-License-Identifier: MIT */
/*
 * Migration throughput: a nearly idle guest of 512 MiB (every page data, none
 * dirtied) migrated with no bandwidth cap by QEMU (two local processes) and, where there is KVM,
 * by pvbench's own engine (impl/migration: the own VMM to a second process), the two interleaved
 * in one pvbench run, against a plain memcpy of the same size; the ratios are the figures. QEMU
 * under TCG where there is no KVM, and the own engine then not measured (both said in the output).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "stats.h"
#include "testlib.h"

#define REPS 3
#define SIZE_MB 512

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void)
{
	bench_refuse_nested("bench_migration");
	char dir[] = "/tmp/pvbench-bench-migration-XXXXXX", ini[128], db[128], bin[512], err[256];
	int tcg = access("/dev/kvm", R_OK | W_OK) != 0;
	double mig[REPS], own[REPS], cpy[REPS];
	if (!mkdtemp(dir))
		return 1;
	snprintf(ini, sizeof(ini), "%s/m.ini", dir);
	snprintf(db, sizeof(db), "%s/m.db", dir);
	snprintf(bin, sizeof(bin), "%s/pvbench", build_dir());
	FILE *f = fopen(ini, "w");
	fprintf(f, "[global]\ntype = migration\nvcpus = 1\nwriters = 0\nrate_mbps = 10\nsize_mb = %d\nbandwidth_mbps = 100000\n"
		   "migrate_after = 500ms\nrun_after = 200ms\nrepeat = %d\n%s", SIZE_MB, REPS,
		tcg ? "accel = tcg\n" : "vmm = qemu, pvbench\n");
	fclose(f);
	size_t n = (size_t)SIZE_MB << 20;
	char *a = malloc(n), *b = malloc(n);
	memset(a, 1, n);
	memset(b, 2, n);
	child_signals_install();
	for (int r = 0; r < REPS; r++) {
		double t = now_s();
		memcpy(b, a, n);
		cpy[r] = (double)n / (now_s() - t) / (1 << 30);
		a[r] ^= b[n - 1 - (size_t)r]; /* keep the copy */
	}
	/* the migrations: one pvbench run, REPS repetitions */
	char *argv[] = { bin, "run", ini, "--db", db, NULL };
	struct child c;
	if (child_spawn(&c, argv, NULL, err, sizeof(err)) || !child_wait(&c, 600000)) {
		fprintf(stderr, "bench_migration: %s\n", err);
		return 1;
	}
	for (int r = 0; r < REPS; r++) {
		char sql[300];
		snprintf(sql, sizeof(sql), "SELECT m.value FROM metrics m JOIN runs u ON u.id = m.run_id "
					   "WHERE m.name = 'link_mbps' AND u.rep = %d AND u.variant NOT LIKE '%%pvbench%%'", r + 1);
		mig[r] = store_value(db, sql) * 1e6 / (1 << 30);
		snprintf(sql, sizeof(sql), "SELECT m.value FROM metrics m JOIN runs u ON u.id = m.run_id "
					   "WHERE m.name = 'link_mbps' AND u.rep = %d AND u.variant LIKE '%%vmm=pvbench%%'", r + 1);
		own[r] = tcg ? 0 : store_value(db, sql) * 1e6 / (1 << 30);
	}
	printf("\n# migration throughput, %d MiB nearly idle guest (readers at 10 MB/s), no cap%s: median [min..max] of %d\n", SIZE_MB,
	       tcg ? " (TCG: no KVM here)" : "", REPS);
	printf("QEMU pre-copy over a unix socket   %6.2f GiB/s [%.2f..%.2f]\n", stats_median(mig, REPS),
	       -stats_max((double[]){ -mig[0], -mig[1], -mig[2] }, REPS), stats_max(mig, REPS));
	if (tcg)
		printf("pvbench's own pre-copy            not measured: its VMM needs /dev/kvm\n");
	else
		printf("pvbench's own pre-copy            %6.2f GiB/s [%.2f..%.2f]\n", stats_median(own, REPS),
		       -stats_max((double[]){ -own[0], -own[1], -own[2] }, REPS), stats_max(own, REPS));
	printf("memcpy of the same size            %6.2f GiB/s [%.2f..%.2f]\n", stats_median(cpy, REPS),
	       -stats_max((double[]){ -cpy[0], -cpy[1], -cpy[2] }, REPS), stats_max(cpy, REPS));
	printf("ratio QEMU / memcpy                %6.3f\n", stats_median(mig, REPS) / stats_median(cpy, REPS));
	if (!tcg)
		printf("ratio own / memcpy                 %6.3f\n", stats_median(own, REPS) / stats_median(cpy, REPS));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(a);
	free(b);
	return system(cmd);
}
