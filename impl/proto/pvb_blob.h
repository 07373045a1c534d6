/* SPDX-License-Identifier: MIT */
/*
 * pvb_blob v1: what a Linux guest's init returns to the host, over a byte channel (QEMU's
 * isa-debugcon at PVB_BLOB_PORT, written to a file on the host; microvm has one UART, the
 * console, and Debian's kernel has virtio-console only as a module). A stream of blobs, each a
 * header and its data, in the order written; the host reads the file after the guest powered off.
 *
 * Owner: the guest's init writes every field; the host only reads, and trusts nothing: magic,
 * lengths (bounded by what is left of the stream and by PVB_BLOB_MAX), the name (NUL-terminated,
 * printable) and the CRC are checked before any data is used. A stream that stops inside a blob
 * (a guest killed while writing) ends at the last whole blob.
 *
 * Blobs: "record" (a pvb_record, as the pvbench guest kernel returns it: validated again by
 * pvb_rec_validate), "status" (the tool's exit status, decimal text), and the tools' own outputs
 * by file name ("cyclictest.json", "fio.json", "stress-ng.yaml").
 */
#ifndef PVB_BLOB_H
#define PVB_BLOB_H

#include <stdint.h>

#define PVB_BLOB_VERSION 1
#define PVB_BLOB_PORT 0x402          /* isa-debugcon's I/O port */
#define PVB_BLOB_MAGIC "PVBBLOB1"    /* 8 bytes, no NUL: also the version */
#define PVB_BLOB_MAX (16u << 20)     /* one blob's data, bytes */

struct pvb_blob_hdr {
	char magic[8];           /* PVB_BLOB_MAGIC */
	char name[24];           /* NUL-terminated, [A-Za-z0-9._-] */
	uint32_t length;         /* data bytes after this header */
	uint32_t crc32;          /* CRC-32 (IEEE, pvb_crc32) of the data */
};

#endif
