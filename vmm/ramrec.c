/* RAM record encoding (version 2) and loading (versions 1 and 2); the format is in ramrec.h. */
#include "vmm/ramrec.h"
#include "kernel/bitmap.h"
#include "kernel/endian.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "vmm/stream.h"

#define PAGE 4096

/* ramrec_enc_init: zero counts, an empty hash table. */
void ramrec_enc_init(struct ram_enc *e, uint64_t (*clock)(void))
{
	memset(e, 0, sizeof(*e));
	lz_table_init(&e->lz);
	e->clock = clock;
}

/* kind_get / kind_set: the 2-bit code of page i in a kind array. */
static unsigned kind_get(const uint8_t *kind, uint32_t i)
{
	return (kind[i / 4] >> (2 * (i % 4))) & 3;
}

static void kind_set(uint8_t *kind, uint32_t i, unsigned k)
{
	kind[i / 4] |= (uint8_t)(k << (2 * (i % 4)));
}

/* encode_page: classify page p as page i of the record being built (compressing it into e->buf
 * when that is smaller than raw) and count it. */
static void encode_page(struct ram_enc *e, const uint8_t *p, uint32_t i)
{
	e->st.pages++;
	if (mem_is_zero(p, PAGE)) {
		e->st.zero++;
		return; /* RAM_ZERO: the kind array starts zeroed */
	}
	uint8_t *out = e->buf + e->buf_len;
	uint64_t t0 = e->clock ? e->clock() : 0;
	size_t n = lz_compress(&e->lz, p, PAGE, out + 2, RAMREC_LZ_MAX);
	if (e->clock)
		e->st.lz_ns += e->clock() - t0;
	if (!n) {
		kind_set(e->kind, i, RAM_RAW);
		e->st.raw++;
		return;
	}
	le16_store(out, (uint16_t)n);
	e->buf_len += 2 + n;
	kind_set(e->kind, i, RAM_LZ);
	e->st.lz++;
	e->st.lz_bytes += n;
}

/* emit_record: the record built in e: n pages from e->src[at], guest pages first... */
static void emit_record(struct stream_out *s, struct ram_enc *e, uint64_t first, uint32_t at,
                        uint32_t n)
{
	uint8_t h[RAMREC_HDR];
	size_t kl = (n + 3) / 4, raw = 0, lz = 0;
	for (uint32_t i = 0; i < n; i++)
		raw += kind_get(e->kind, i) == RAM_RAW;
	le64_store(h, first);
	le32_store(h + 8, n);
	le32_store(h + 12, 0);
	stream_raw_header(s, REC_RAM, RAMREC_V2, RAMREC_HDR + kl + raw * PAGE + e->buf_len);
	stream_bytes(s, h, sizeof(h));
	stream_bytes(s, e->kind, kl);
	for (uint32_t i = 0; i < n; i++) {
		unsigned k = kind_get(e->kind, i);
		if (k == RAM_RAW) {
			stream_bytes(s, e->src[at + i], PAGE);
		} else if (k == RAM_LZ) {
			size_t len = 2 + le16_load(e->buf + lz);
			stream_bytes(s, e->buf + lz, len);
			lz += len;
		}
	}
	ASSERT(lz == e->buf_len);
}

/* ramrec_write: build a record page by page; emit it and start the next when e->buf might not
 * hold another compressed page. */
int ramrec_write(struct stream_out *s, struct ram_enc *e, uint64_t first, uint32_t count)
{
	ASSERT(count > 0 && count <= RAMREC_MAX_PAGES);
	uint32_t start = 0;
	while (start < count && !s->err) {
		uint32_t i = start;
		memset(e->kind, 0, sizeof(e->kind));
		e->buf_len = 0;
		for (; i < count && e->buf_len + 2 + RAMREC_LZ_MAX <= RAMREC_LZ_BUF; i++)
			encode_page(e, e->src[i], i - start);
		emit_record(s, e, first + start, start, i - start);
		start = i;
	}
	return s->err;
}

/* ramrec_ratio: record bytes (LZ blocks with their lengths, raw pages) per 1000 page bytes. */
uint64_t ramrec_ratio(const struct ram_stats *a, const struct ram_stats *b)
{
	uint64_t pages = (b->raw + b->lz) - (a->raw + a->lz);
	uint64_t wire =
	    (b->raw - a->raw) * PAGE + (b->lz_bytes - a->lz_bytes) + 2 * (b->lz - a->lz);
	return pages ? wire * 1000 / (pages * PAGE) : 1000;
}

/* run_header: first and count of a record of either version, checked against the guest. */
static const char *run_header(const uint8_t *rec, uint32_t len, uint64_t npages, uint64_t *first,
                              uint32_t *count)
{
	if (len < RAMREC_HDR)
		return "RAM record too short";
	*first = le64_load(rec);
	*count = le32_load(rec + 8);
	if (*count == 0 || *count > RAMREC_MAX_PAGES || *first >= npages ||
	    *count > npages - *first)
		return "RAM record outside guest memory";
	return NULL;
}

/* load_v1: the zero bitmap, then every other page raw. */
static const char *load_v1(const uint8_t *rec, uint32_t len, uint64_t first, uint32_t count,
                           ram_page_fn page, void *ctx)
{
	size_t hl = RAMREC_HDR + BITMAP_WORDS(count) * 8, nonzero = 0;
	if (len < hl)
		return "RAM record too short";
	const uint8_t *zero = rec + RAMREC_HDR;
	for (uint32_t i = 0; i < count; i++)
		nonzero += !((zero[i / 8] >> (i % 8)) & 1);
	if (len != hl + nonzero * PAGE)
		return "RAM record length does not match its pages";
	const uint8_t *data = rec + hl;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *p = page(ctx, first + i);
		if (!p)
			return "RAM record outside guest memory";
		if ((zero[i / 8] >> (i % 8)) & 1) {
			memset(p, 0, PAGE);
		} else {
			memcpy(p, data, PAGE);
			data += PAGE;
		}
	}
	return NULL;
}

/* v2_check: every page code is known, every LZ length in range, and the pages' data add up
 * to exactly the payload. */
static const char *v2_check(const uint8_t *rec, uint32_t len, uint32_t count)
{
	size_t kl = (count + 3) / 4, at = RAMREC_HDR + kl;
	if (len < at)
		return "RAM record too short";
	const uint8_t *kind = rec + RAMREC_HDR;
	if (le32_load(rec + 12) != 0 || (count % 4 && kind[kl - 1] >> (2 * (count % 4))))
		return "RAM record: bad reserved bits";
	for (uint32_t i = 0; i < count; i++) {
		unsigned k = kind_get(kind, i);
		size_t need = k == RAM_RAW ? PAGE : k == RAM_LZ ? 2 : 0;
		if (k > RAM_LZ)
			return "RAM record: bad page code";
		if (need > len - at)
			return "RAM record length does not match its pages";
		if (k == RAM_LZ) {
			size_t n = le16_load(rec + at);
			if (n == 0 || n > RAMREC_LZ_MAX)
				return "RAM record: bad compressed page length";
			if (n > len - at - 2)
				return "RAM record length does not match its pages";
			need += n;
		}
		at += need;
	}
	return at == len ? NULL : "RAM record length does not match its pages";
}

/* load_v2: check the whole record, then write its pages (decompressing the LZ ones). */
static const char *load_v2(const uint8_t *rec, uint32_t len, uint64_t first, uint32_t count,
                           ram_page_fn page, void *ctx)
{
	const char *err = v2_check(rec, len, count);
	if (err)
		return err;
	const uint8_t *kind = rec + RAMREC_HDR;
	const uint8_t *d = kind + (count + 3) / 4;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *p = page(ctx, first + i);
		unsigned k = kind_get(kind, i);
		if (!p)
			return "RAM record outside guest memory";
		if (k == RAM_ZERO) {
			memset(p, 0, PAGE);
		} else if (k == RAM_RAW) {
			memcpy(p, d, PAGE);
			d += PAGE;
		} else {
			size_t n = le16_load(d);
			if (!lz_decompress(d + 2, n, p, PAGE))
				return "RAM record: a compressed page is corrupt";
			d += 2 + n;
		}
	}
	return NULL;
}

/* ramrec_load: the shared header, then the version's own checks and writes. */
const char *ramrec_load(uint16_t version, const uint8_t *rec, uint32_t len, uint64_t npages,
                        ram_page_fn page, void *ctx)
{
	uint64_t first;
	uint32_t count;
	const char *err = run_header(rec, len, npages, &first, &count);
	if (err)
		return err;
	if (version == RAMREC_V1)
		return load_v1(rec, len, first, count, page, ctx);
	if (version == RAMREC_V2)
		return load_v2(rec, len, first, count, page, ctx);
	return "unsupported RAM record version";
}
