/*
 * Unit tests for vmm/ramrec.c (RAM records): version-2 write/load round trips over a guest of
 * mixed pages (zero, incompressible, compressible) with the page counts the encoder reports
 * and runs cut into several records, version-1 loading, and the loader's refusals: bad
 * header, range, codes, lengths, corrupt blocks, every truncation, pages it cannot map, and
 * no guest page written when the record's shape is wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/crypto_test_util.h"

#include "kernel/endian.h"
#include "vmm/ramrec.h"
#include "vmm/stream.h"

#define PAGE   4096
#define NPAGES 1100

/* ---- an in-memory stream ------------------------------------------------------------------ */
struct sink {
	uint8_t *buf;
	size_t len, cap;
};

static int sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;
	if (k->len + n > k->cap) {
		k->cap = (k->len + n) * 2;
		k->buf = realloc(k->buf, k->cap);
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

/* A fake guest: NPAGES pages, one of which (hole) cannot be mapped. */
struct guest {
	uint8_t *mem;
	uint64_t hole;
	int writes;
};

static uint8_t *guest_page(void *ctx, uint64_t n)
{
	struct guest *g = ctx;
	assert_true(n < NPAGES);
	if (n == g->hole)
		return NULL;
	g->writes++;
	return g->mem + n * PAGE;
}

/* fill_guest: page i is zero (i%5==0), random (i%5==1) or text-like; returns the random ones. */
static uint64_t fill_guest(uint8_t *mem)
{
	uint64_t random = 0;
	for (uint64_t i = 0; i < NPAGES; i++) {
		uint8_t *p = mem + i * PAGE;
		memset(p, 0, PAGE);
		if (i % 5 == 1) {
			for (int j = 0; j < PAGE; j++)
				p[j] = (uint8_t)rnd64();
			random++;
		} else if (i % 5) {
			static const char *w[] = {"page ", "of ", "guest ", "memory ", "\n"};
			for (int j = 0; j < PAGE;)
				for (const char *c = w[rnd64() % 5]; *c && j < PAGE; c++)
					p[j++] = (uint8_t)*c;
		}
	}
	return random;
}

static struct ram_enc g_enc;

/* encode: guest pages [first, first+count) through the encoder into k (no stream header). */
static void encode(struct sink *k, const uint8_t *mem, uint64_t first, uint32_t count)
{
	struct stream_out s;
	uint8_t rec[64];
	stream_out_init(&s, sink_write, k, rec, sizeof(rec), NULL);
	for (uint32_t i = 0; i < count; i++)
		g_enc.src[i] = mem + (first + i) * PAGE;
	assert_int_equal(ramrec_write(&s, &g_enc, first, count), 0);
}

/* load_all: every record in k[0..len) into g; the number of records, or -1 on the first error. */
static int load_all(const uint8_t *b, size_t len, struct guest *g, const char **err)
{
	int n = 0;
	for (size_t at = 0; at < len; n++) {
		assert_true(len - at >= REC_HDR_SIZE);
		assert_int_equal(le16_load(b + at), REC_RAM);
		uint16_t ver = le16_load(b + at + 2);
		uint32_t rl = le32_load(b + at + 4);
		assert_true(rl <= len - at - REC_HDR_SIZE);
		*err = ramrec_load(ver, b + at + REC_HDR_SIZE, rl, NPAGES, guest_page, g);
		if (*err)
			return -1;
		at += REC_HDR_SIZE + rl;
	}
	return n;
}

static void test_roundtrip(void **state)
{
	uint8_t *src = malloc(NPAGES * PAGE);
	struct guest g = {calloc(NPAGES, PAGE), ~0ULL, 0};
	uint64_t random = fill_guest(src);
	struct sink k = {0};
	ramrec_enc_init(&g_enc, NULL);
	for (uint64_t p = 0; p < NPAGES; p += RAMREC_MAX_PAGES)
		encode(&k, src, p, (uint32_t)(NPAGES - p < RAMREC_MAX_PAGES ? NPAGES - p : 512));
	const char *err = NULL;
	int recs = load_all(k.buf, k.len, &g, &err);
	assert_null(err);
	assert_memory_equal(g.mem, src, NPAGES * PAGE);
	/* the counts, and runs were cut where the compressed pages filled the buffer */
	assert_int_equal(g_enc.st.pages, NPAGES);
	assert_int_equal(g_enc.st.zero, NPAGES / 5);
	assert_int_equal(g_enc.st.raw, random);
	assert_int_equal(g_enc.st.lz, NPAGES - NPAGES / 5 - random);
	assert_true(g_enc.st.lz_bytes < g_enc.st.lz * PAGE * 7 / 10);
	assert_true(recs > 3);
	struct ram_stats none = {0};
	uint64_t wire = random * PAGE + g_enc.st.lz_bytes + 2 * g_enc.st.lz;
	assert_int_equal(ramrec_ratio(&none, &g_enc.st),
	                 wire * 1000 / ((NPAGES - NPAGES / 5) * PAGE));
	assert_int_equal(ramrec_ratio(&g_enc.st, &g_enc.st), 1000);
	assert_true(k.len < (random * PAGE + g_enc.st.lz_bytes) * 101 / 100);
	/* loading over a dirty guest clears its zero pages too */
	memset(g.mem, 0xee, NPAGES * PAGE);
	assert_int_equal(load_all(k.buf, k.len, &g, &err), recs);
	assert_memory_equal(g.mem, src, NPAGES * PAGE);
	free(src), free(g.mem), free(k.buf);
}

static void test_v1(void **state)
{
	struct guest g = {calloc(NPAGES, PAGE), ~0ULL, 0};
	uint8_t rec[RAMREC_HDR + 8 + 2 * PAGE];
	memset(g.mem, 0xee, NPAGES * PAGE);
	le64_store(rec, 1090);
	le32_store(rec + 8, 4); /* pages 1090..1093: 1 and 3 zero */
	le32_store(rec + 12, 0);
	le64_store(rec + 16, 0xa);
	memset(rec + 24, 0x11, PAGE);
	memset(rec + 24 + PAGE, 0x22, PAGE);
	assert_null(ramrec_load(RAMREC_V1, rec, sizeof(rec), NPAGES, guest_page, &g));
	static const uint8_t want[] = {0x11, 0, 0x22, 0};
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < PAGE; j++)
			assert_int_equal(g.mem[(1090 + i) * PAGE + j], want[i]);
	assert_non_null(ramrec_load(RAMREC_V1, rec, sizeof(rec) - 1, NPAGES, guest_page, &g));
	le64_store(rec + 16, 0xb); /* three zero pages: one page of data too many */
	assert_non_null(ramrec_load(RAMREC_V1, rec, sizeof(rec), NPAGES, guest_page, &g));
	le32_store(rec + 8, 70); /* 70 pages need a bitmap of two words */
	assert_non_null(ramrec_load(RAMREC_V1, rec, 20, NPAGES, guest_page, &g));
	free(g.mem);
}

/* one_record: a version-2 record of 8 pages (zero, raw, LZ, LZ, zero, raw, LZ, LZ) at first */
static size_t one_record(uint8_t **out, uint64_t first)
{
	uint8_t *src = calloc(8, PAGE);
	for (int i = 0; i < 8; i++)
		for (int j = 0; i % 4 && j < PAGE; j++)
			src[i * PAGE + j] =
			    (uint8_t)(i % 4 == 1 ? rnd64() : (uint64_t)(j / 16 + i));
	struct sink k = {0};
	ramrec_enc_init(&g_enc, NULL);
	struct stream_out s;
	uint8_t rb[64];
	stream_out_init(&s, sink_write, &k, rb, sizeof(rb), NULL);
	for (int i = 0; i < 8; i++)
		g_enc.src[i] = src + i * PAGE;
	assert_int_equal(ramrec_write(&s, &g_enc, first, 8), 0);
	assert_int_equal(g_enc.st.lz, 4);
	assert_int_equal(g_enc.st.raw, 2);
	free(src);
	size_t len = k.len - REC_HDR_SIZE;
	assert_int_equal(le32_load(k.buf + 4), len);
	*out = malloc(len);
	memcpy(*out, k.buf + REC_HDR_SIZE, len);
	free(k.buf);
	return len;
}

/* refused: loading rec[0..len) fails and writes no guest page. */
static void refused(const uint8_t *rec, size_t len, uint16_t ver, const char *what)
{
	struct guest g = {calloc(NPAGES, PAGE), ~0ULL, 0};
	const char *err = ramrec_load(ver, rec, (uint32_t)len, NPAGES, guest_page, &g);
	if (!err)
		fail_msg("accepted: %s", what);
	if (g.writes)
		fail_msg("%s: %d pages written before it was refused (%s)", what, g.writes, err);
	free(g.mem);
}

static void test_refusals(void **state)
{
	uint8_t *r;
	size_t len = one_record(&r, 100);
	uint8_t *c = malloc(len + 1);
	struct {
		size_t off;
		uint64_t val;
		int size;
		const char *what;
	} edits[] = {
	    {0, NPAGES, 8, "first past the guest"},
	    {0, NPAGES - 7, 8, "run past the guest"},
	    {8, 0, 4, "no pages"},
	    {8, RAMREC_MAX_PAGES + 1, 4, "too many pages"},
	    {12, 1, 4, "reserved not zero"},
	    {16, 0xff, 1, "code 3"},
	    {17, 0x03, 1, "code 3 in the second byte"},
	    {8, 7, 4, "a code past the last page"},
	    {16, 0x04 | 0x10 | 0x80, 1, "codes that do not match the data"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(c, r, len);
		for (int b = 0; b < edits[i].size; b++)
			c[edits[i].off + b] = (uint8_t)(edits[i].val >> (8 * b));
		refused(c, len, RAMREC_V2, edits[i].what);
	}
	/* LZ lengths: the first LZ page's u16 follows the header, codes and one raw page */
	size_t lz_at = RAMREC_HDR + 2 + PAGE;
	uint16_t lz_len = le16_load(r + lz_at);
	uint16_t lens[] = {0, RAMREC_LZ_MAX + 1, 0xffff, (uint16_t)(lz_len + 1)};
	for (size_t i = 0; i < 4; i++) {
		memcpy(c, r, len);
		le16_store(c + lz_at, lens[i]);
		refused(c, len, RAMREC_V2, "bad LZ length");
	}
	memcpy(c, r, len);
	c[len] = 0;
	refused(c, len + 1, RAMREC_V2, "a byte too many");
	for (size_t n = 0; n < len; n++)
		refused(r, n, RAMREC_V2, "truncated");
	refused(r, len, 3, "unknown version");
	refused(r, len, 0, "version 0");
	free(c);
	free(r);
}

/* lz_page_record: a one-page version-2 record at page 5 whose LZ block has exactly size bytes
 * (a literal run, then one match finishing the page); its payload length. */
static size_t lz_page_record(uint8_t *r, size_t size)
{
	size_t lits = size - 21, m = PAGE - lits - LZ_MIN_MATCH; /* m >= 15: one ext byte */
	le64_store(r, 5);
	le32_store(r + 8, 1);
	le32_store(r + 12, 0);
	r[16] = RAM_LZ;
	le16_store(r + 17, (uint16_t)size);
	uint8_t *b = r + 19, *q = b;
	*q++ = 0xff;
	for (size_t v = lits - 15;; v -= 255) { /* the literal count's extension */
		*q++ = (uint8_t)(v < 255 ? v : 255);
		if (v < 255)
			break;
	}
	for (size_t i = 0; i < lits; i++)
		*q++ = (uint8_t)(i * 7);
	le16_store(q, 1);
	q += 2;
	*q++ = (uint8_t)(m - 15);
	*q++ = 0x00; /* the last token: no literals */
	assert_int_equal(q - b, size);
	return 19 + size;
}

/* the edges of the shape: the largest LZ block, no pages, codes past the last page */
static void test_edges(void **state)
{
	uint8_t r[32 + PAGE];
	struct guest g = {calloc(NPAGES, PAGE), ~0ULL, 0};
	size_t len = lz_page_record(r, RAMREC_LZ_MAX);
	assert_null(ramrec_load(RAMREC_V2, r, (uint32_t)len, NPAGES, guest_page, &g));
	size_t lits = RAMREC_LZ_MAX - 21; /* then the last literal repeated (offset 1) */
	for (size_t i = 0; i < PAGE; i++)
		assert_int_equal(g.mem[5 * PAGE + i], (uint8_t)(MIN(i, lits - 1) * 7));
	len = lz_page_record(r, RAMREC_LZ_MAX + 1); /* decodes, but not smaller than raw */
	refused(r, len, RAMREC_V2, "an LZ block of 4094 bytes");
	le64_store(r, 5);
	le32_store(r + 8, 0);
	le32_store(r + 12, 0);
	refused(r, RAMREC_HDR, RAMREC_V2, "no pages, nothing else");
	le32_store(r + 8, 1);
	r[16] = RAM_ZERO | 3 << 2;
	refused(r, RAMREC_HDR + 1, RAMREC_V2, "a code past the last page");
	r[16] = RAM_ZERO;
	assert_null(ramrec_load(RAMREC_V2, r, RAMREC_HDR + 1, NPAGES, guest_page, &g));
	free(g.mem);
}

/* a corrupt block is found while writing; a hole in guest memory too */
static void test_bad_pages(void **state)
{
	uint8_t *r;
	size_t len = one_record(&r, 200);
	struct guest g = {calloc(NPAGES, PAGE), ~0ULL, 0};
	assert_null(ramrec_load(RAMREC_V2, r, (uint32_t)len, NPAGES, guest_page, &g));
	size_t lz_at = RAMREC_HDR + 2 + PAGE;
	r[lz_at + 2] = 0xff; /* the first token now wants 15+ literals and a longer match */
	r[lz_at + 3] = 0xff;
	assert_non_null(ramrec_load(RAMREC_V2, r, (uint32_t)len, NPAGES, guest_page, &g));
	free(r);
	len = one_record(&r, 200);
	g.hole = 203;
	assert_non_null(ramrec_load(RAMREC_V2, r, (uint32_t)len, NPAGES, guest_page, &g));
	free(r);
	free(g.mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_v1),
	    cmocka_unit_test(test_refusals),  cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_bad_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
