/* SPDX-License-Identifier: MIT */
/* reproduce's plan: the tables chosen, the runs they judge, and what running those costs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "hostinfo.h"
#include "reproduce.h"
#include "reproduce_plan.h"
#include "store.h"
#include "util.h"

int repro_chosen(const struct choice *c, const char *file, char *id, size_t idn)
{
	int want = c->all;
	snprintf(id, idn, "%.*s", (int)(strlen(file) - 5), file);
	for (int a = 0; a < c->n; a++)
		want |= !strncmp(id, c->prefix[a], strlen(c->prefix[a]));
	return want;
}

int repro_judged(const struct run_spec *r, void *arg)
{
	const struct judges *j = arg;
	for (int i = 0; i < j->n; i++)
		if (reproduce_wants(j->ref[i], r))
			return 1;
	return 0;
}

void repro_judges_of(struct judges *j, struct dirent **ents, int nents, const char *dir, const struct choice *c,
		      const char *experiment)
{
	char path[1024], id[256], err[512];
	j->n = 0;
	for (int i = 0; i < nents && j->n < 64; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		cJSON *ref = repro_chosen(c, ents[i]->d_name, id, sizeof(id)) ? reproduce_load(path, err, sizeof(err)) : NULL;
		if (ref && !strcmp(cJSON_GetObjectItem(ref, "experiment")->valuestring, experiment))
			j->ref[j->n++] = ref;
		else
			cJSON_Delete(ref);
	}
}

void repro_judges_free(struct judges *j)
{
	for (int i = 0; i < j->n; i++)
		cJSON_Delete(j->ref[i]);
	j->n = 0;
}

/* The --set options an experiment's type has keys for; the others are said and left out (with
 * --all, one --set meets every type: accel is not the memory type's). */
void repro_sets_for(const struct engine_opts *eo, const char *path, struct engine_opts *out)
{
	static struct experiment e;
	char err[512];
	*out = *eo;
	if (experiment_parse(path, &e, err, sizeof(err)))
		return; /* the run says why */
	out->nsets = 0;
	for (int i = 0; i < eo->nsets; i++) {
		int has = 0;
		for (int k = 0; k < e.nkeys; k++)
			has |= !strcmp(e.keys[k]->name, eo->set_key[i]);
		if (has) {
			out->set_key[out->nsets] = eo->set_key[i];
			out->set_val[out->nsets++] = eo->set_val[i];
		} else {
			fprintf(stderr, "pvbench reproduce: %s has no key %s: --set %s=%s left out there\n", e.name,
				eo->set_key[i], eo->set_key[i], eo->set_val[i]);
		}
	}
}

/* Before --run: what the tables' experiments cost, from their matrices and each run's duration,
 * leaving out the runs the store has; a run's overhead as measured on this host from the runs of
 * its experiment stored, else ENGINE_UNMEASURED_MS (engine_run_ms). */
struct repro_cost repro_estimate(struct dirent **ents, int nents, const char *dir, const struct choice *c,
				 const struct engine_opts *eo, FILE *out)
{
	static struct experiment e;
	static char exps[16][512];
	double ms = 0;
	int runs = 0, n = 0;
	char err[512];

	for (int i = 0; i < nents; i++) { /* the experiments the chosen tables need, once each */
		char path[1024], id[256];
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		cJSON *ref = repro_chosen(c, ents[i]->d_name, id, sizeof(id)) ? reproduce_load(path, err, sizeof(err)) : NULL;
		const char *x = ref ? cJSON_GetObjectItem(ref, "experiment")->valuestring : NULL;
		int seen = 0;
		for (int k = 0; x && k < n; k++)
			seen |= !strcmp(exps[k], x);
		if (x && !seen && n < 16)
			snprintf(exps[n++], sizeof(exps[0]), "%s", x);
		cJSON_Delete(ref);
	}
	static struct judges jd;
	struct hostinfo hi;
	hostinfo_read(&hi, err, sizeof(err));
	struct store *st = store_open_existing(eo->db, err, sizeof(err)); /* none yet: nothing stored */
	int stored = 0, measured = 0, skipped = 0, each_runs[16] = { 0 };
	double each_ms[16] = { 0 };
	for (int i = 0; i < n; i++) {
		struct run_spec *r;
		int nr;
		double ms0 = ms;
		int runs0 = runs;
		struct engine_opts here;
		repro_sets_for(eo, exps[i], &here);
		if (engine_load(exps[i], &here, &e, err, sizeof(err)) || experiment_matrix(&e, &r, &nr, err, sizeof(err)))
			continue; /* the run itself will say why */
		repro_judges_of(&jd, ents, nents, dir, c, exps[i]);
		double over = engine_overhead_ms(st, e.name, hi.host);
		measured += over > 0;
		for (int k = 0; k < nr; k++) {
			if (!repro_judged(&r[k], &jd))
				continue;
			if (st && store_run_done(st, e.name, "", r[k].identity, r[k].rep)) {
				stored++;
				continue;
			}
			ms += engine_run_ms(&r[k], over, !hi.no_kvm[0]);
			skipped += hi.no_kvm[0] && engine_run_needs_kvm(&r[k]);
			runs++;
		}
		repro_judges_free(&jd);
		free(r);
		each_ms[i] = ms - ms0;
		each_runs[i] = runs - runs0;
	}
	store_close(st);
	char skip[64] = "";
	if (skipped)
		snprintf(skip, sizeof(skip), ", %d skipped at once here: no KVM", skipped);
	fprintf(out, "pvbench reproduce: %d runs the tables judge are to run (%d stored already%s), in %d "
		"experiment%s: about %.1f min (a run's overhead measured on this host for %d of them, %.0f s for "
		"the rest)\n", runs, stored, skip, n, n == 1 ? "" : "s", ms / 60000, measured, ENGINE_UNMEASURED_MS / 1000);
	for (int i = 0; i < n; i++) /* where the time goes, for a --set that scales it down */
		if (each_runs[i])
			fprintf(out, "  %-32s %4d runs  about %5.1f min\n", exps[i], each_runs[i], each_ms[i] / 60000);
	return (struct repro_cost){ .runs = runs, .stored = stored, .experiments = n, .measured = measured, .ms = ms };
}

