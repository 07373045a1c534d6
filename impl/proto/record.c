/* SPDX-License-Identifier: MIT */
/* Result record writer and CRC-32. Freestanding: no libc, so the guest kernel links it too. */
#include "pvb_record.h"

static uint32_t crc_table[256];

void pvb_crc32_init(void)
{
	if (crc_table[1])
		return;
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t pvb_crc32(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	pvb_crc32_init();
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void copy_name(char *dst, const char *src, size_t cap)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	for (; i < cap; i++)
		dst[i] = 0;
}

static void *sec_alloc(struct pvb_rec_writer *w, uint16_t type, uint16_t cpu, uint32_t len)
{
	uint32_t need = (uint32_t)sizeof(struct pvb_sec) + ((len + 7u) & ~7u);
	struct pvb_sec *s;

	if (w->overflowed || need > w->cap - w->len) {
		w->overflowed = 1;
		return NULL;
	}
	s = (struct pvb_sec *)(w->buf + w->len);
	s->type = type;
	s->cpu = cpu;
	s->len = len;
	/* zero the padding so the CRC does not depend on stale bytes */
	for (uint32_t i = sizeof(*s) + len; i < need; i++)
		w->buf[w->len + i] = 0;
	w->len += need;
	w->nr_sections++;
	return s + 1;
}

void pvb_rec_begin(struct pvb_rec_writer *w, void *buf, uint32_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = sizeof(struct pvb_rec_hdr);
	w->nr_sections = 0;
	w->overflowed = cap < sizeof(struct pvb_rec_hdr);
	if (!w->overflowed)
		((struct pvb_rec_hdr *)buf)->magic = 0; /* a stale record must not survive */
}

void pvb_rec_metric(struct pvb_rec_writer *w, uint16_t cpu, const char *name, const char *unit,
		    enum pvb_better better, int64_t value)
{
	struct pvb_metric *m = sec_alloc(w, PVB_SEC_METRIC, cpu, sizeof(*m));

	if (!m)
		return;
	copy_name(m->name, name, sizeof(m->name));
	m->better = (uint8_t)better;
	copy_name(m->unit, unit, sizeof(m->unit));
	m->value = value;
}

void pvb_rec_hist(struct pvb_rec_writer *w, uint16_t cpu, const char *name, uint32_t bucket_ns,
		  const uint32_t *counts, uint32_t nr_buckets, uint64_t overflow)
{
	struct pvb_hist *h = sec_alloc(w, PVB_SEC_HIST, cpu,
				       (uint32_t)sizeof(*h) + nr_buckets * (uint32_t)sizeof(uint32_t));

	if (!h)
		return;
	copy_name(h->name, name, sizeof(h->name));
	h->bucket_ns = bucket_ns;
	h->nr_buckets = nr_buckets;
	h->overflow = overflow;
	for (uint32_t i = 0; i < nr_buckets; i++)
		h->counts[i] = counts[i];
}

void pvb_rec_text(struct pvb_rec_writer *w, uint16_t cpu, const char *text)
{
	uint32_t n = 0;
	char *t;

	while (n < 1023 && text[n])
		n++;
	t = sec_alloc(w, PVB_SEC_TEXT, cpu, n + 1);
	if (!t)
		return;
	for (uint32_t i = 0; i < n; i++)
		t[i] = text[i];
	t[n] = 0;
}

uint32_t pvb_rec_seal(struct pvb_rec_writer *w, uint32_t status, uint32_t nr_cpus)
{
	struct pvb_rec_hdr *h = (struct pvb_rec_hdr *)w->buf;

	if (w->cap < sizeof(*h))
		return 0;
	if (w->overflowed) {
		/* keep what fit, but say so: a short record must not pass as complete */
		status = PVB_STATUS_FAILED;
	}
	h->magic = 0;
	h->version = PVB_REC_VERSION;
	h->hdr_size = sizeof(*h);
	h->length = w->len;
	h->crc32 = 0;
	h->status = status;
	h->nr_sections = w->nr_sections;
	h->nr_cpus = nr_cpus;
	h->reserved = w->overflowed;
	h->crc32 = pvb_crc32(0, w->buf, w->len);
	__atomic_store_n(&h->magic, PVB_REC_MAGIC, __ATOMIC_RELEASE);
	return w->len;
}

const struct pvb_sec *pvb_rec_next(const void *rec, const struct pvb_sec *prev)
{
	const struct pvb_rec_hdr *h = rec;
	const uint8_t *base = rec, *p;

	if (!prev)
		p = base + h->hdr_size;
	else
		p = (const uint8_t *)(prev + 1) + ((prev->len + 7u) & ~7u);
	if (p + sizeof(struct pvb_sec) > base + h->length)
		return NULL;
	return (const struct pvb_sec *)p;
}
