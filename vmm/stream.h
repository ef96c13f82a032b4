/*
 * The VM state stream format (pure; host-tested and fuzzed). Snapshots and live migration use
 * the same bytes.
 *
 *   stream  := header record* end
 *   header  := "TERNVMST" u32 format-version u32 flags
 *   record  := u16 type  u16 version  u32 length  payload[length]
 *   payload of state records := field*          (self-describing, order-free)
 *   field   := u16 id  u16 length  value[length] (little-endian integers of 1-8 bytes, or bytes)
 *   end     := record of type REC_END whose payload is the BLAKE2s-256 of every byte before it
 *              (empty when the transport already authenticates every byte, as migration's AEAD)
 *
 * Readers check every length against what remains, every record type/version against what
 * they know, and every field length against the field's expected size; unknown fields inside a
 * known record are skipped (forward compatible), unknown record types are an error.
 */
#ifndef TERN_STREAM_H
#define TERN_STREAM_H

#include "kernel/compiler.h"

#define STREAM_MAGIC    "TERNVMST"
#define STREAM_VERSION  1
#define STREAM_HDR_SIZE 16
#define REC_HDR_SIZE    8
#define FIELD_HDR_SIZE  4
#define REC_MAX_PAYLOAD (4u << 20) /* no record is bigger than this */

enum rec_type {
	REC_END = 0,
	REC_VM = 1,   /* configuration that must match: memory size, vCPU count */
	REC_VCPU = 2, /* architectural state of one vCPU */
	REC_LAPIC = 3,
	REC_FPU = 4, /* XSAVE area of one vCPU */
	REC_IOAPIC = 5,
	REC_PIC = 6,
	REC_PIT = 7,
	REC_RTC = 8,
	REC_UART = 9,
	REC_ACPI_PM = 10,
	REC_PCI = 11,
	REC_RAM = 12,    /* a run of guest pages: version 1 raw + zero bitmap, version 2
	                  * per-page zero/raw/LZ (vmm/ramrec.h) */
	REC_DEVICE = 13, /* reserved for device models added later (virtio) */
	REC_TYPE_MAX
};

/* Output: bytes go to a sink callback (an in-memory chain, a socket, ...). */
struct stream_out {
	int (*write)(void *ctx, const void *buf, size_t len); /* 0 or -1 */
	void *ctx;
	int err;
	uint64_t bytes;
	void *hash; /* running BLAKE2s state (struct blake2s_ctx) */
	/* the record being built (fields are buffered so the length is known) */
	uint8_t *rec;
	size_t rec_len, rec_cap;
	uint16_t rec_type, rec_version;
};

void stream_out_init(struct stream_out *s, int (*write)(void *, const void *, size_t), void *ctx,
                     uint8_t *rec_buf, size_t rec_cap, void *hash_ctx);
void stream_header(struct stream_out *s);
/* stream_begin / stream_end_record: frame a state record made of fields. */
void stream_begin(struct stream_out *s, uint16_t type, uint16_t version);
void stream_field(struct stream_out *s, uint16_t id, const void *val, uint16_t len);
void stream_u64(struct stream_out *s, uint16_t id, uint64_t v);
void stream_end_record(struct stream_out *s);
/* stream_raw_record: a record whose payload is given whole (RAM pages). */
void stream_raw_record(struct stream_out *s, uint16_t type, uint16_t version, const void *a,
                       size_t alen, const void *b, size_t blen);
/* stream_raw_header / stream_bytes: a record streamed piecewise; the pieces must add up to
 * len exactly. */
void stream_raw_header(struct stream_out *s, uint16_t type, uint16_t version, size_t len);
void stream_bytes(struct stream_out *s, const void *buf, size_t len);
/* stream_finish: the END record with the hash; returns 0 or -1 on any earlier error. */
int stream_finish(struct stream_out *s);

/* Input: a whole record at a time from a source callback. */
struct stream_in {
	int (*read)(void *ctx, void *buf, size_t len); /* 0 (exactly len bytes) or -1 */
	void *ctx;
	void *hash;
	uint8_t *rec;
	size_t rec_cap;
	uint64_t bytes;
	const char *error;
};

void stream_in_init(struct stream_in *s, int (*read)(void *, void *, size_t), void *ctx,
                    uint8_t *rec_buf, size_t rec_cap, void *hash_ctx);
/* stream_read_header: magic and version; false with s->error set. */
bool stream_read_header(struct stream_in *s);
/* stream_next: the next record into s->rec; false on error. REC_END is checked against the
 * hash of everything before it and returned with *type = REC_END. */
bool stream_next(struct stream_in *s, uint16_t *type, uint16_t *version, uint32_t *len);

/* Field iteration over a state record's payload. */
struct field_iter {
	const uint8_t *p;
	size_t left;
	bool bad;
};
void field_iter_init(struct field_iter *it, const uint8_t *payload, size_t len);
/* field_next: the next field; false at the end or if malformed (it->bad). */
bool field_next(struct field_iter *it, uint16_t *id, const uint8_t **val, uint16_t *len);
/* field_u64: a little-endian integer of 1, 2, 4 or 8 bytes; false if the size is wrong. */
bool field_u64(const uint8_t *val, uint16_t len, uint64_t *out);

#endif
