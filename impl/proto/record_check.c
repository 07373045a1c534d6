/* SPDX-License-Identifier: MIT */
/* Host-side validation of a result record: the guest is untrusted, every field is checked. */
#include <stdio.h>
#include <string.h>
#include "pvb_record.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int name_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == 0 || n == cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      (c >= 'A' && c <= 'Z')))
			return 0;
	}
	return 1;
}

int pvb_rec_validate(const void *buf, size_t size, char *err, size_t errlen)
{
	struct pvb_rec_hdr h;
	const uint8_t *base = buf;
	uint32_t crc, off, n = 0;

	if (size < sizeof(h))
		FAIL("record area too small (%zu bytes)", size);
	memcpy(&h, buf, sizeof(h));
	if (h.magic != PVB_REC_MAGIC)
		FAIL("no result record (magic 0x%08x, want 0x%08x)", h.magic, PVB_REC_MAGIC);
	if (h.version != PVB_REC_VERSION)
		FAIL("result record version %u, this pvbench reads %u", h.version, PVB_REC_VERSION);
	if (h.hdr_size != sizeof(h))
		FAIL("result record header size %u, want %zu", h.hdr_size, sizeof(h));
	if (h.length < sizeof(h) || h.length > size)
		FAIL("result record length %u outside [%zu, %zu] (truncated?)", h.length, sizeof(h),
		     size);
	if (h.status > PVB_STATUS__MAX)
		FAIL("result record status %u unknown", h.status);
	{
		struct pvb_rec_hdr z = h;
		z.magic = 0;
		z.crc32 = 0;
		crc = pvb_crc32(0, &z, sizeof(z));
		crc = pvb_crc32(crc, base + sizeof(z), h.length - sizeof(z));
	}
	if (crc != h.crc32)
		FAIL("result record CRC mismatch (stored 0x%08x, computed 0x%08x): corrupted", h.crc32,
		     crc);
	if (h.nr_cpus > 4096)
		FAIL("result record claims %u CPUs", h.nr_cpus);

	for (off = h.hdr_size; off < h.length; n++) {
		struct pvb_sec s;
		uint64_t end;

		if (h.length - off < sizeof(s))
			FAIL("section %u at offset %u: header truncated", n, off);
		memcpy(&s, base + off, sizeof(s));
		end = (uint64_t)off + sizeof(s) + ((s.len + 7ull) & ~7ull);
		if (end > h.length)
			FAIL("section %u at offset %u: length %u runs past the record end", n, off, s.len);
		if (s.cpu >= h.nr_cpus && s.cpu != PVB_CPU_ALL && s.cpu != PVB_CPU_VM)
			FAIL("section %u: cpu %u but the record has %u CPUs", n, s.cpu, h.nr_cpus);
		const uint8_t *p = base + off + sizeof(s);
		switch (s.type) {
		case PVB_SEC_METRIC: {
			const struct pvb_metric *m = (const void *)p;
			if (s.len != sizeof(*m))
				FAIL("section %u: metric of %u bytes", n, s.len);
			if (!name_ok(m->name, sizeof(m->name)) || !name_ok(m->unit, sizeof(m->unit)))
				FAIL("section %u: metric name or unit not a short identifier", n);
			if (m->better > PVB_BETTER__MAX)
				FAIL("section %u: metric %s: direction %u is none of less, more, info", n, m->name,
				     m->better);
			break;
		}
		case PVB_SEC_HIST: {
			const struct pvb_hist *hi = (const void *)p;
			if (s.len < sizeof(*hi))
				FAIL("section %u: histogram header truncated", n);
			if (!name_ok(hi->name, sizeof(hi->name)))
				FAIL("section %u: histogram name not a short identifier", n);
			if (hi->bucket_ns == 0 || hi->nr_buckets > 1000000 ||
			    s.len != sizeof(*hi) + (uint64_t)hi->nr_buckets * 4)
				FAIL("section %u: histogram of %u buckets does not fill %u bytes", n,
				     hi->nr_buckets, s.len);
			break;
		}
		case PVB_SEC_TEXT:
			if (s.len == 0 || p[s.len - 1] != 0)
				FAIL("section %u: text not NUL-terminated", n);
			break;
		default:
			FAIL("section %u: unknown type %u", n, s.type);
		}
		off = (uint32_t)end;
	}
	if (n != h.nr_sections)
		FAIL("result record has %u sections, header says %u", n, h.nr_sections);
	return 0;
}
