/*
 * libFuzzer target for the VM state stream reader (vmm/stream.c). The first byte picks the
 * mode: bit 0 turns the BLAKE2s end hash on, bit 1 prepends a valid stream header (so the
 * fuzzer spends its time on records), bits 2-3 pick the reader's record buffer size, bit 4
 * feeds the rest straight to the field iterator instead. The source hands out exactly the
 * input's bytes (an exact-size copy, so ASan sees any overread) and the record buffer is an
 * exact-size allocation. Every record must fit the buffer, every field must lie inside its
 * record, the byte count must never pass the input, and a stream may only end well with an
 * END record whose hash (when on) is that of the bytes before it. RAM records (vmm/ramrec.h,
 * versions 1 and 2) are loaded into a guest of RAM_PAGES separately allocated pages: a
 * record may only write the pages it names, and never a page it refused before writing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/blake2s.h"
#include "vmm/ramrec.h"
#include "vmm/stream.h"
#include "tests/unit/mem_source.h"
#include "tests/fuzz/fuzz_check.h"

#define RAM_PAGES 64

/* The fuzz guest: its pages and which of them a record asked for. */
struct guest {
	uint8_t *page[RAM_PAGES];
	uint64_t lo, hi; /* pages handed out: [lo, hi] */
	int handed;
};

static uint8_t *guest_page(void *ctx, uint64_t n)
{
	struct guest *g = ctx;
	CHECK(n < RAM_PAGES);
	if (!g->handed++)
		g->lo = n;
	CHECK(n >= g->lo && n - g->lo < RAMREC_MAX_PAGES);
	g->hi = n;
	return g->page[n];
}

/* ram: load a RAM record; only pages inside the run it names are written. */
static void ram(uint16_t version, const uint8_t *rec, uint32_t len)
{
	static struct guest g;
	if (!g.page[0])
		for (int i = 0; i < RAM_PAGES; i++)
			g.page[i] = malloc(4096);
	g.handed = 0;
	const char *err = ramrec_load(version, rec, len, RAM_PAGES, guest_page, &g);
	if (!err)
		CHECK(len >= RAMREC_HDR && g.handed && g.lo == rec[0] && g.hi - g.lo + 1 == rec[8]);
}

/* fields: iterate a payload; every value lies inside it and the walk ends or goes bad. */
static void fields(const uint8_t *p, size_t n)
{
	struct field_iter it;
	uint16_t id, len;
	const uint8_t *val;
	size_t seen = 0;
	field_iter_init(&it, p, n);
	while (field_next(&it, &id, &val, &len)) {
		CHECK(val >= p + FIELD_HDR_SIZE && val + len <= p + n);
		seen += FIELD_HDR_SIZE + len;
		uint64_t v = 0;
		bool ok = field_u64(val, len, &v);
		CHECK(ok == (len == 1 || len == 2 || len == 4 || len == 8));
		if (ok && len < 8)
			CHECK(v >> (8 * len) == 0);
	}
	CHECK(seen <= n);
	CHECK(it.bad == (seen != n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	size_t n = size - 1;
	if (mode & 0x10) {
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, data + 1, n);
		fields(p, n);
		free(p);
		return 0;
	}
	bool hash = mode & 1;
	size_t hdr = (mode & 2) ? STREAM_HDR_SIZE : 0;
	static const size_t caps[4] = {0, 31, 32, 4096};
	size_t cap = caps[(mode >> 2) & 3];
	/* the stream: an optional valid header, then the input */
	uint8_t *in = malloc(hdr + n ? hdr + n : 1);
	if (hdr) {
		memcpy(in, STREAM_MAGIC, 8);
		memset(in + 8, 0, 8);
		in[8] = STREAM_VERSION;
	}
	memcpy(in + hdr, data + 1, n);
	size_t total = hdr + n;
	uint8_t *rec = malloc(cap ? cap : 1);
	struct blake2s_ctx h;
	struct source src = {in, total, 0};
	struct stream_in s;
	stream_in_init(&s, source_read, &src, rec, cap, hash ? &h : NULL);
	bool ok = stream_read_header(&s);
	CHECK(ok || s.error);
	for (int i = 0; ok && i < 1000; i++) {
		uint16_t type, ver;
		uint32_t len;
		size_t at = (size_t)s.bytes; /* where this record starts */
		ok = stream_next(&s, &type, &ver, &len);
		CHECK(s.bytes <= total && s.bytes == src.off);
		if (!ok) {
			CHECK(s.error);
			break;
		}
		CHECK(type < REC_TYPE_MAX && len <= cap && len <= REC_MAX_PAYLOAD);
		if (type == REC_END) {
			CHECK(len == (hash ? 32u : 0u));
			if (hash) {
				uint8_t want[32];
				blake2s_256(want, in, at);
				CHECK(memcmp(want, rec, 32) == 0);
			}
			break;
		}
		CHECK(s.bytes == at + REC_HDR_SIZE + len);
		fields(rec, len);
		if (type == REC_RAM)
			ram(ver, rec, len);
	}
	free(rec);
	free(in);
	return 0;
}
