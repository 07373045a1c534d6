/* SPDX-License-Identifier: MIT */
/*
 * iopath: MB/s through a block device (seed 000's FIO rows). fio-like: rw = read, write,
 * randread or randwrite, bs_kb per request, iodepth in flight, over the first size_mb of the
 * device, on `jobs` vCPUs (each its own queue; the others halt). The guest's side is the path
 * FIO's is in a VM: post, kick, sleep until the device's interrupt, reap, post again. So the
 * vCPU is mostly idle and the host's device thread does the copying: both run at whatever
 * frequency the host's governor gives them.
 *
 * Keys: rw (read), bs_kb (4), iodepth (4), size_mb (32), jobs (1), duration_ms (5000).
 * Reports mbps (MB/s), iops, lat_avg (submit to reap), errors, and the reaps that found nothing
 * by their 1 ms deadline (a completion seen late).
 */
#include "pvb.h"
#include "pvb_record.h"

#define IO_MAX_DEPTH 32

static uint64_t bs, iodepth, span, jobs, duration_ms, disk;
static int write_op, random_op;
static uint8_t *bufs[16];
static struct io_cpu { uint64_t bytes, ios, lat_ticks, errors, empty; } st[16];

static int io_setup(unsigned nr_cpus)
{
	const char *rw = pvb_key_str("rw");
	bs = pvb_key_u64("bs_kb") * 1024;
	iodepth = pvb_key_u64("iodepth");
	span = pvb_key_u64("size_mb") << 20;
	jobs = pvb_key_u64("jobs");
	duration_ms = pvb_key_u64("duration_ms");
	if (pvb_failed())
		return -1;
	write_op = pvb_streq(rw, "write") || pvb_streq(rw, "randwrite");
	random_op = pvb_streq(rw, "randread") || pvb_streq(rw, "randwrite");
	if (!write_op && !random_op && !pvb_streq(rw, "read")) {
		pvb_fail("iopath: rw must be read, write, randread or randwrite");
		return -1;
	}
	if (bs < 512 || bs > (1u << 20) || iodepth < 1 || iodepth > IO_MAX_DEPTH || jobs < 1 || jobs > nr_cpus ||
	    jobs > 16) {
		pvb_fail("iopath: bs_kb 1..1024, iodepth 1..32, jobs 1..vCPUs");
		return -1;
	}
	if (pvb_io_open(&disk))
		return -1;
	if (span > disk)
		span = disk;
	if (span < bs) {
		pvb_fail("iopath: the device is smaller than one request");
		return -1;
	}
	for (unsigned j = 0; j < jobs; j++)
		if (!(bufs[j] = pvb_alloc(bs * iodepth)))
			return -1;
	return 0;
}

static int io_run(const struct pvb_ctx *ctx)
{
	pvb_barrier();
	if (ctx->cpu >= jobs)
		return 0;
	struct io_cpu *s = &st[ctx->cpu];
	uint64_t end = pvb_now() + pvb_ns_to_ticks(duration_ms * 1000000), next = 0, x = 0x9e3779b97f4a7c15ull + ctx->cpu;
	uint64_t posted[IO_MAX_DEPTH], slots = span / bs;
	unsigned head = 0, tail = 0; /* requests in flight: [tail, head), in order */
	unsigned errors = 0;
	uint8_t *buf = bufs[ctx->cpu];
	for (;;) {
		uint64_t now = pvb_now();
		while (head - tail < iodepth && now < end) {
			uint64_t blk;
			if (random_op) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				blk = x % slots;
			} else {
				blk = next++ % slots;
			}
			if (pvb_io_submit(buf + (head % iodepth) * bs, blk * bs, (uint32_t)bs, write_op))
				break;
			posted[head % IO_MAX_DEPTH] = now;
			head++;
		}
		if (head == tail)
			break;
		pvb_io_kick();
		unsigned n = pvb_io_reap(now + pvb_ns_to_ticks(1000000), &errors);
		if (!n) {
			s->empty++;
			if (pvb_now() > end + pvb_ns_to_ticks(1000000000)) { /* a device that stopped */
				pvb_fail("iopath: requests not completed 1 s after the end");
				return -1;
			}
		}
		uint64_t t = pvb_now();
		for (; n; n--, tail++) {
			s->lat_ticks += t - posted[tail % IO_MAX_DEPTH];
			s->ios++;
			s->bytes += bs;
		}
	}
	s->errors = errors;
	return 0;
}

static void io_finish(unsigned nr_cpus)
{
	uint64_t bytes = 0, ios = 0, lat = 0, errors = 0, empty = 0;
	for (unsigned c = 0; c < jobs; c++) {
		pvb_metric(c, "iops", "count", PVB_MORE, (int64_t)(st[c].ios * 1000 / duration_ms));
		bytes += st[c].bytes, ios += st[c].ios, lat += st[c].lat_ticks, errors += st[c].errors,
			empty += st[c].empty;
	}
	pvb_metric(PVB_CPU_VM, "mbps", "MBps_e3", PVB_MORE, (int64_t)(bytes / duration_ms)); /* bytes/ms: MB/s x 1000 */
	pvb_metric(PVB_CPU_VM, "iops", "count", PVB_MORE, (int64_t)(ios * 1000 / duration_ms));
	pvb_metric(PVB_CPU_VM, "lat_avg", "ns", PVB_LESS, ios ? (int64_t)pvb_ticks_to_ns(lat / ios) : 0);
	pvb_metric(PVB_CPU_VM, "io_errors", "count", PVB_LESS, (int64_t)errors);
	pvb_metric(PVB_CPU_VM, "reaps_empty", "count", PVB_LESS, (int64_t)empty);
}

static const struct pvb_key iopath_keys[] = {
	{ "rw", 0, 0, "read|write|randread|randwrite", "read", "the access pattern" },
	{ "bs_kb", 1, 1024, NULL, "4", "request size, KiB" },
	{ "iodepth", 1, 32, NULL, "4", "requests in flight per job" },
	{ "size_mb", 1, 1048576, NULL, "32", "the span of the device used, MiB" },
	{ "jobs", 1, 64, NULL, "1", "CPUs issuing I/O (at most the vCPUs)" },
	{ "duration_ms", 1, 86400000, NULL, "5000", "how long, ms" },
	{ 0 },
};

const struct pvb_workload pvb_wl_iopath = {
	.keys = iopath_keys,
	.needs = PVB_NEEDS_DISK,
	.name = "iopath",
	.help = "MB/s through the block device (FIO-like)",
	.setup = io_setup,
	.run = io_run,
	.finish = io_finish,
};
