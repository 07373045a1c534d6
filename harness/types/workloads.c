/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"
#include "hostinfo.h"
#include "util.h"
#include "workloads.h"

static struct wl_info *cat;
static int ncat = -1;
static char cat_err[256];

static void field(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", strcmp(src, "-") ? src : "");
}

static int parse_line(char *line)
{
	char *f[8];
	int nf = 0;

	char *rest = line, *t;
	line[strcspn(line, "\n")] = 0;
	while (nf < 8 && (t = strsep(&rest, "\t")))
		f[nf++] = t;
	if (nf == 4 && !strcmp(f[0], "W")) {
		struct wl_info *c = realloc(cat, (size_t)(ncat + 1) * sizeof(*c));
		if (!c)
			return -1;
		cat = c;
		c = &cat[ncat++];
		memset(c, 0, sizeof(*c));
		field(c->name, sizeof(c->name), f[1]);
		c->needs_disk = !strcmp(f[2], "disk");
		field(c->help, sizeof(c->help), f[3]);
		return 0;
	}
	if (nf == 8 && !strcmp(f[0], "K")) {
		struct wl_info *w = NULL;
		for (int i = 0; i < ncat && !w; i++)
			w = !strcmp(cat[i].name, f[1]) ? &cat[i] : NULL;
		if (!w && !strcmp(f[1], "*")) { /* every job's keys: a workload of its own name */
			if (parse_line((char[]){ "W\t*\t-\tevery job" }))
				return -1;
			w = &cat[ncat - 1];
		}
		if (!w)
			return -1;
		struct wl_key *k = realloc(w->keys, (size_t)(w->nkeys + 1) * sizeof(*k));
		if (!k)
			return -1;
		w->keys = k;
		k = &k[w->nkeys++];
		memset(k, 0, sizeof(*k));
		field(k->name, sizeof(k->name), f[2]);
		k->lo = strtoull(f[3], NULL, 10);
		k->hi = strtoull(f[4], NULL, 10);
		field(k->choices, sizeof(k->choices), f[5]);
		field(k->def, sizeof(k->def), f[6]);
		field(k->help, sizeof(k->help), f[7]);
		return 0;
	}
	return -1;
}

/* Once per process: pvb-linux --keys into a file, then read. */
static int load(void)
{
	char bin[512], out[64], err[256], line[1024];
	char *argv[] = { bin, "--keys", NULL };
	struct child c;
	struct child_io io = { .stdout_path = out };

	if (ncat >= 0)
		return cat_err[0] ? -1 : 0;
	ncat = 0;
	snprintf(bin, sizeof(bin), "%s/pvb-linux", pvb_build_dir());
	snprintf(out, sizeof(out), "/tmp/pvbench-workloads-%d.txt", (int)getpid());
	if (child_spawn(&c, argv, &io, err, sizeof(err)) < 0) {
		snprintf(cat_err, sizeof(cat_err), "the workloads' keys: %s", err);
		return -1;
	}
	if (!child_wait(&c, 10000) || !WIFEXITED(c.status) || WEXITSTATUS(c.status)) {
		child_kill(&c);
		snprintf(cat_err, sizeof(cat_err), "the workloads' keys: %s --keys failed (make builds it)", bin);
		unlink(out);
		return -1;
	}
	FILE *f = fopen(out, "r");
	int n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		n++;
		if (parse_line(line)) {
			snprintf(cat_err, sizeof(cat_err), "the workloads' keys: %s --keys, line %d: not W or K", bin, n);
			break;
		}
	}
	if (f)
		fclose(f);
	else
		snprintf(cat_err, sizeof(cat_err), "the workloads' keys: %s: %s", out, strerror(errno));
	unlink(out);
	return cat_err[0] ? -1 : 0;
}

const struct wl_info *workload_info(const char *name, char *err, size_t errlen)
{
	if (load()) {
		snprintf(err, errlen, "%s", cat_err);
		return NULL;
	}
	for (int i = 0; i < ncat; i++)
		if (!strcmp(cat[i].name, name))
			return &cat[i];
	snprintf(err, errlen, "no workload \"%s\"", name);
	return NULL;
}

static const struct wl_key *find_key(const struct wl_info *w, const char *name)
{
	for (int i = 0; w && i < w->nkeys; i++)
		if (!strcmp(w->keys[i].name, name))
			return &w->keys[i];
	return NULL;
}

/* the keys of a NULL-ended list of workloads, one after the other: a workload's own and every job's */
static const char *wl_key_name(int i, const void *arg)
{
	for (const struct wl_info *const *w = arg; *w; w++) {
		if (i < (*w)->nkeys)
			return (*w)->keys[i].name;
		i -= (*w)->nkeys;
	}
	return NULL;
}

static int one_of(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *c = choices; *c; c += strcspn(c, "|"), c += *c == '|')
		if (strcspn(c, "|") == n && !strncmp(c, v, n))
			return 1;
	return 0;
}

int workload_check_args(const struct wl_info *w, const char *args, const char *const *own, char *why,
			size_t whylen)
{
	const struct wl_info *every = workload_info("*", why, whylen);
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", args);
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(t, '=');
		if (!eq || eq == t) {
			snprintf(why, whylen, "job_args: \"%s\": not KEY=VALUE", t);
			return -1;
		}
		*eq = 0;
		const char *v = eq + 1;
		for (int i = 0; own && own[i]; i++)
			if (!strcmp(own[i], t)) {
				snprintf(why, whylen, "job_args: %s: the experiment sets it (its own key)", t);
				return -1;
			}
		const struct wl_key *k = find_key(w, t);
		if (!k)
			k = find_key(every, t);
		if (!k) {
			const struct wl_info *both[] = { w, every, NULL };
			const char *near = nearest_name(t, wl_key_name, both);
			size_t o = (size_t)snprintf(why, whylen, "job_args: %s: not a key of workload %s%s%s%s (its keys:", t,
						    w->name, near ? ": did you mean " : "", near ? near : "",
						    near ? "?" : "");
			for (int i = 0; i < w->nkeys && o < whylen; i++)
				o += (size_t)snprintf(why + o, whylen - o, "%s %s", i ? "," : "", w->keys[i].name);
			for (int i = 0; every && i < every->nkeys && o < whylen; i++)
				o += (size_t)snprintf(why + o, whylen - o, "%s%s", i ? ", " : "; every job's: ", every->keys[i].name);
			if (o < whylen)
				snprintf(why + o, whylen - o, ")");
			return -1;
		}
		if (k->choices[0] && !one_of(k->choices, v)) {
			snprintf(why, whylen, "job_args: %s=%s: not one of %s", t, v, k->choices);
			return -1;
		}
		if (!k->choices[0]) {
			char *end;
			errno = 0;
			unsigned long long x = strtoull(v, &end, 0);
			if (errno || end == v || *end || *v == '-' || x < k->lo || x > k->hi) {
				snprintf(why, whylen, "job_args: %s=%s: takes an integer in [%llu, %llu]", t, v, k->lo, k->hi);
				return -1;
			}
		}
	}
	return 0;
}

void workloads_describe(FILE *f)
{
	char err[256];
	if (!workload_info("*", err, sizeof(err))) {
		fprintf(f, "workloads: %s\n", err);
		return;
	}
	fprintf(f, "workloads (workload = NAME; their keys go in job_args = KEY=VALUE ...):\n");
	for (int i = 0; i < ncat; i++) {
		const struct wl_info *w = &cat[i];
		if (!strcmp(w->name, "*"))
			fprintf(f, "  every job's keys (any workload):\n");
		else
			fprintf(f, "  %-10s %s%s\n", w->name, w->help, w->needs_disk ? " (a block device: vmm = qemu)" : "");
		for (int k = 0; k < w->nkeys; k++) {
			char range[128];
			if (w->keys[k].choices[0])
				snprintf(range, sizeof(range), "%s", w->keys[k].choices);
			else
				snprintf(range, sizeof(range), "%llu..%llu", w->keys[k].lo, w->keys[k].hi);
			fprintf(f, "      %-15s %-22s %-7s %s\n", w->keys[k].name, range, w->keys[k].def, w->keys[k].help);
		}
	}
}
