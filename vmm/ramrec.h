/*
 * RAM records: the REC_RAM payloads of the VM state stream (vmm/stream.h), a run of guest
 * pages (pure; host-tested and fuzzed). Little-endian throughout.
 *
 * Version 1 (HA checkpoints; still loaded):
 *   payload := u64 first  u32 count  u32 reserved  zero[ceil(count / 64)]  page*
 *   zero    := u64 bitmap: bit i%64 of word i/64 set = page first+i is all zero (no data)
 *   page    := 4096 bytes, one per clear bit, in page order
 * Version 2 (migration, snapshots):
 *   payload := u64 first  u32 count  u32 reserved(0)  kind[ceil(count / 4)]  data*
 *   kind    := u8 of four 2-bit codes: page first+i in bits 2*(i%4)+1 .. 2*(i%4) of byte i/4
 *              0 ZERO  all zero, no data
 *              1 RAW   data = the 4096 bytes
 *              2 LZ    data = u16 len, then a migrate/lz.h block of len bytes (1 <= len <=
 *                      RAMREC_LZ_MAX, so always smaller than RAW) that yields exactly 4096
 *              3       invalid; so are nonzero codes past the last page
 *   data    := one per non-ZERO page, in page order
 * In both: 1 <= count <= RAMREC_MAX_PAGES, the pages lie inside guest RAM, and the payload is
 * exactly as long as its pages need. A writer cuts a run into several records when its
 * compressed pages would overflow the encoder's buffer.
 */
#ifndef TERN_RAMREC_H
#define TERN_RAMREC_H

#include "kernel/compiler.h"
#include "migrate/lz.h"

struct stream_out;

#define RAMREC_V1        1
#define RAMREC_V2        2
#define RAMREC_HDR       16
#define RAMREC_MAX_PAGES 512  /* pages per record (2 MiB) */
#define RAMREC_LZ_MAX    4093 /* 2 + len < 4096: compressed only when smaller than raw */
#define RAMREC_LZ_BUF    (64 * 1024)

enum ram_kind { RAM_ZERO = 0, RAM_RAW = 1, RAM_LZ = 2 };

/* What the encoder sent. */
struct ram_stats {
	uint64_t pages, zero, raw, lz; /* pages, and how each went */
	uint64_t lz_bytes;             /* the LZ pages' blocks (4096 each before) */
	uint64_t lz_ns;                /* compressing the raw and LZ pages (with a clock) */
};

/* The version-2 encoder's work area (about 80 KiB: never on a kernel stack). */
struct ram_enc {
	struct lz_table lz;
	uint64_t (*clock)(void); /* optional: times the compressor into st.lz_ns */
	struct ram_stats st;
	const uint8_t *src[RAMREC_MAX_PAGES]; /* the caller's run, page by page */
	uint8_t kind[RAMREC_MAX_PAGES / 4];   /* the record being built */
	uint8_t buf[RAMREC_LZ_BUF];           /* its LZ pages: u16 len + block each */
	size_t buf_len;
};

/* ram_page_fn: the 4096 bytes of guest page n (n < the npages given to ramrec_load). */
typedef uint8_t *(*ram_page_fn)(void *ctx, uint64_t n);

/* ramrec_enc_init: a fresh encoder; clock (may be NULL) times it. */
void ramrec_enc_init(struct ram_enc *e, uint64_t (*clock)(void));
/* ramrec_write: pages e->src[0..count) (guest pages first..first+count-1), count <=
 * RAMREC_MAX_PAGES, as version-2 records; returns s->err. */
int ramrec_write(struct stream_out *s, struct ram_enc *e, uint64_t first, uint32_t count);
/* ramrec_ratio: how many bytes per 1000 of page data the non-zero pages counted from a to b
 * took in the records (1000 if there were none): the compression of a round. */
uint64_t ramrec_ratio(const struct ram_stats *a, const struct ram_stats *b);
/* ramrec_load: check a RAM record of either version against a guest of npages pages, then
 * write its pages through page(); NULL or why it is malformed. A block that fails to
 * decompress is found only while writing: some pages may have changed by then. */
const char *ramrec_load(uint16_t version, const uint8_t *rec, uint32_t len, uint64_t npages,
                        ram_page_fn page, void *ctx);

#endif
