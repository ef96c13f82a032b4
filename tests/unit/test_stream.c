/*
 * Unit tests for vmm/stream.c (the VM state stream framing): writer/reader round trips with and
 * without the BLAKE2s end hash, field iteration, field_u64 sizes, the writer's error paths, and
 * every reader error: bad magic and version, unknown record types, oversized records, a
 * stream cut at every byte offset, bad end records, and (hashed) a flip of any byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "migrate/blake2s.h"
#include "vmm/stream.h"
#include "tests/unit/mem_source.h"

/* ---- an in-memory sink and source --------------------------------------------------------- */
struct sink {
	uint8_t buf[8192];
	size_t len;
	int writes;
	int fail_at; /* the write with this number (1-based) fails; 0: never */
};

static int sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;
	if (++k->writes == k->fail_at)
		return -1;
	assert_true(k->len + n <= sizeof(k->buf));
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}
static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the sample stream -------------------------------------------------------------------- */
static const uint8_t blob[5] = {'h', 'e', 'l', 'l', 'o'};
static uint8_t ram_a[300], ram_b[1000];

/* write_sample: header, a VM record of fields, an empty record, a RAM record in two parts,
 * a record streamed piecewise, then the END record. */
static int write_sample(struct sink *k, bool hash, struct blake2s_ctx *h)
{
	static uint8_t rec[256];
	struct stream_out s;
	stream_out_init(&s, sink_write, k, rec, sizeof(rec), hash ? h : NULL);
	stream_header(&s);
	stream_begin(&s, REC_VM, 3);
	stream_u64(&s, 1, 0x0123456789abcdefULL);
	uint8_t b1 = 0x7f;
	uint16_t b2 = 0xbeef;
	uint32_t b4 = 0xdeadbeef;
	stream_field(&s, 2, &b1, 1);
	stream_field(&s, 3, &b2, 2);
	stream_field(&s, 4, &b4, 4);
	stream_field(&s, 5, "", 0);
	stream_field(&s, 0xffff, blob, sizeof(blob));
	stream_end_record(&s);
	stream_begin(&s, REC_PIC, 1);
	stream_end_record(&s);
	stream_raw_record(&s, REC_RAM, 2, ram_a, sizeof(ram_a), ram_b, sizeof(ram_b));
	stream_raw_header(&s, REC_FPU, 7, 3 + 4 + 100);
	stream_bytes(&s, "abc", 3);
	stream_bytes(&s, "defg", 4);
	stream_bytes(&s, ram_a, 100);
	if (!k->fail_at)
		assert_int_equal(s.bytes, k->len);
	int rc = stream_finish(&s);
	if (!k->fail_at)
		assert_int_equal(s.bytes, k->len);
	return rc;
}

/* Lengths of the sample's records. */
#define VM_LEN      (6 * FIELD_HDR_SIZE + 8 + 1 + 2 + 4 + 0 + 5)
#define RAM_LEN     (300 + 1000)
#define FPU_LEN     (3 + 4 + 100)
#define SAMPLE_BODY (STREAM_HDR_SIZE + 4 * REC_HDR_SIZE + VM_LEN + RAM_LEN + FPU_LEN)

static void fill_ram(void)
{
	for (size_t i = 0; i < sizeof(ram_a); i++)
		ram_a[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(ram_b); i++)
		ram_b[i] = (uint8_t)(i ^ (i >> 8));
}

/* check_vm_fields: the VM record's fields, in order, through field_next and field_u64. */
static void check_vm_fields(const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, flen;
	const uint8_t *val;
	uint64_t v;
	field_iter_init(&it, rec, len);
	assert_true(field_next(&it, &id, &val, &flen));
	assert_int_equal(id, 1);
	assert_int_equal(flen, 8);
	assert_true(field_u64(val, flen, &v));
	assert_int_equal(v, 0x0123456789abcdefULL);
	assert_true(field_next(&it, &id, &val, &flen));
	assert_int_equal(id, 2);
	assert_true(field_u64(val, flen, &v));
	assert_int_equal(v, 0x7f);
	assert_true(field_next(&it, &id, &val, &flen));
	assert_int_equal(id, 3);
	assert_true(field_u64(val, flen, &v));
	assert_int_equal(v, 0xbeef);
	assert_true(field_next(&it, &id, &val, &flen));
	assert_int_equal(id, 4);
	assert_true(field_u64(val, flen, &v));
	assert_int_equal(v, 0xdeadbeef);
	assert_true(field_next(&it, &id, &val, &flen));
	assert_int_equal(id, 5);
	assert_int_equal(flen, 0);
	assert_false(field_u64(val, flen, &v));
	assert_true(field_next(&it, &id, &val, &flen));
	assert_int_equal(id, 0xffff);
	assert_int_equal(flen, 5);
	assert_memory_equal(val, blob, 5);
	assert_false(field_next(&it, &id, &val, &flen));
	assert_false(it.bad);
	assert_false(field_next(&it, &id, &val, &flen)); /* stays at the end */
}

/* read_sample: read the whole sample back, checking every record. */
static void read_sample(const uint8_t *p, size_t n, bool hash)
{
	static uint8_t rec[8192];
	struct blake2s_ctx h;
	struct source src = {p, n, 0};
	struct stream_in s;
	stream_in_init(&s, source_read, &src, rec, sizeof(rec), hash ? &h : NULL);
	assert_true(stream_read_header(&s));
	uint16_t type, ver;
	uint32_t len;
	assert_true(stream_next(&s, &type, &ver, &len));
	assert_int_equal(type, REC_VM);
	assert_int_equal(ver, 3);
	assert_int_equal(len, VM_LEN);
	check_vm_fields(rec, len);
	assert_true(stream_next(&s, &type, &ver, &len));
	assert_int_equal(type, REC_PIC);
	assert_int_equal(ver, 1);
	assert_int_equal(len, 0);
	assert_true(stream_next(&s, &type, &ver, &len));
	assert_int_equal(type, REC_RAM);
	assert_int_equal(ver, 2);
	assert_int_equal(len, RAM_LEN);
	assert_memory_equal(rec, ram_a, sizeof(ram_a));
	assert_memory_equal(rec + sizeof(ram_a), ram_b, sizeof(ram_b));
	assert_true(stream_next(&s, &type, &ver, &len));
	assert_int_equal(type, REC_FPU);
	assert_int_equal(ver, 7);
	assert_int_equal(len, FPU_LEN);
	assert_memory_equal(rec, "abcdefg", 7);
	assert_memory_equal(rec + 7, ram_a, 100);
	assert_true(stream_next(&s, &type, &ver, &len));
	assert_int_equal(type, REC_END);
	assert_int_equal(len, hash ? 32 : 0);
	assert_null(s.error);
	assert_int_equal(s.bytes, n);
	assert_int_equal(src.off, n);
}

static void test_roundtrip_plain(void **state)
{
	static struct sink k;
	memset(&k, 0, sizeof(k));
	fill_ram();
	assert_int_equal(write_sample(&k, false, NULL), 0);
	assert_int_equal(k.len, SAMPLE_BODY + REC_HDR_SIZE);
	assert_memory_equal(k.buf, STREAM_MAGIC, 8);
	assert_int_equal(rd32(k.buf + 8), STREAM_VERSION);
	assert_int_equal(rd32(k.buf + 12), 0);
	/* the END record: type 0, version 1, no payload */
	const uint8_t *end = k.buf + k.len - REC_HDR_SIZE;
	assert_int_equal(rd16(end), REC_END);
	assert_int_equal(rd16(end + 2), 1);
	assert_int_equal(rd32(end + 4), 0);
	read_sample(k.buf, k.len, false);
}

static void test_roundtrip_hash(void **state)
{
	static struct sink k;
	struct blake2s_ctx h;
	memset(&k, 0, sizeof(k));
	fill_ram();
	assert_int_equal(write_sample(&k, true, &h), 0);
	assert_int_equal(k.len, SAMPLE_BODY + REC_HDR_SIZE + 32);
	/* the END payload is BLAKE2s-256 of every byte before the END record */
	uint8_t want[32];
	blake2s_256(want, k.buf, SAMPLE_BODY);
	const uint8_t *end = k.buf + SAMPLE_BODY;
	assert_int_equal(rd16(end), REC_END);
	assert_int_equal(rd32(end + 4), 32);
	assert_memory_equal(end + REC_HDR_SIZE, want, 32);
	read_sample(k.buf, k.len, true);
	/* the same records without the hash are the same bytes up to the END record */
	static struct sink plain;
	memset(&plain, 0, sizeof(plain));
	assert_int_equal(write_sample(&plain, false, NULL), 0);
	assert_memory_equal(plain.buf, k.buf, SAMPLE_BODY);
}

/* expect_fail: reading p..p+n must fail with an error containing msg (NULL: any) and never
 * deliver a good END record. */
static void expect_fail(const uint8_t *p, size_t n, bool hash, size_t cap, const char *msg)
{
	uint8_t *rec = malloc(cap ? cap : 1);
	struct blake2s_ctx h;
	struct source src = {p, n, 0};
	struct stream_in s;
	stream_in_init(&s, source_read, &src, rec, cap, hash ? &h : NULL);
	bool ok = stream_read_header(&s);
	for (int i = 0; ok && i < 100; i++) {
		uint16_t type, ver;
		uint32_t len;
		ok = stream_next(&s, &type, &ver, &len);
		if (ok) {
			assert_true(len <= cap);
			if (type == REC_END)
				fail_msg("stream of %zu bytes accepted", n);
		}
	}
	assert_false(ok);
	assert_non_null(s.error);
	if (msg && !strstr(s.error, msg))
		fail_msg("error \"%s\", expected \"%s\"", s.error, msg);
	assert_true(s.bytes <= n);
	free(rec);
}

static void test_bad_header(void **state)
{
	static struct sink k;
	memset(&k, 0, sizeof(k));
	fill_ram();
	assert_int_equal(write_sample(&k, false, NULL), 0);
	static uint8_t c[sizeof(k.buf)];
	for (int i = 0; i < 8; i++) {
		memcpy(c, k.buf, k.len);
		c[i] ^= 0x20;
		expect_fail(c, k.len, false, 8192, "not a Tern VM state stream");
	}
	const uint32_t versions[] = {0, STREAM_VERSION + 1, 0x100 | STREAM_VERSION, 0xffffffff};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		memcpy(c, k.buf, k.len);
		wr32(c + 8, versions[i]);
		expect_fail(c, k.len, false, 8192, "unsupported state stream version");
	}
	/* the flags word is reserved: readers ignore it (the hash still covers it) */
	memcpy(c, k.buf, k.len);
	wr32(c + 12, 0x80000001);
	read_sample(c, k.len, false);
	expect_fail(c, 0, false, 8192, "ended early");
	expect_fail(c, STREAM_HDR_SIZE - 1, false, 8192, "ended early");
}

static void test_bad_records(void **state)
{
	static struct sink k;
	memset(&k, 0, sizeof(k));
	fill_ram();
	assert_int_equal(write_sample(&k, false, NULL), 0);
	static uint8_t c[sizeof(k.buf)];
	uint8_t *first = c + STREAM_HDR_SIZE; /* the VM record's header */
	const uint16_t types[] = {REC_TYPE_MAX, REC_TYPE_MAX + 1, 0x100, 0xffff};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memcpy(c, k.buf, k.len);
		first[0] = (uint8_t)types[i];
		first[1] = (uint8_t)(types[i] >> 8);
		expect_fail(c, k.len, false, 8192, "unknown record type");
	}
	/* every known type is accepted as framing (what it holds is the caller's business) */
	for (uint16_t t = 1; t < REC_TYPE_MAX; t++) {
		memcpy(c, k.buf, k.len);
		first[0] = (uint8_t)t;
		struct source src = {c, k.len, 0};
		static uint8_t rec[8192];
		struct stream_in s;
		stream_in_init(&s, source_read, &src, rec, sizeof(rec), NULL);
		uint16_t type, ver;
		uint32_t len;
		assert_true(stream_read_header(&s));
		assert_true(stream_next(&s, &type, &ver, &len));
		assert_int_equal(type, t);
	}
	/* a record bigger than the reader's buffer or than REC_MAX_PAYLOAD */
	memcpy(c, k.buf, k.len);
	expect_fail(c, k.len, false, VM_LEN - 1, "record too large");
	expect_fail(c, k.len, false, RAM_LEN - 1, "record too large"); /* VM fits, RAM not */
	wr32(first + 4, REC_MAX_PAYLOAD + 1);
	expect_fail(c, k.len, false, REC_MAX_PAYLOAD + 16, "record too large");
	wr32(first + 4, 0xffffffff);
	expect_fail(c, k.len, false, 8192, "record too large");
	/* exactly the reader's capacity is fine */
	memcpy(c, k.buf, k.len);
	{
		uint8_t *rec = malloc(RAM_LEN);
		struct source src = {c, k.len, 0};
		struct stream_in s;
		stream_in_init(&s, source_read, &src, rec, RAM_LEN, NULL);
		uint16_t type, ver;
		uint32_t len;
		assert_true(stream_read_header(&s));
		for (int i = 0; i < 5; i++)
			assert_true(stream_next(&s, &type, &ver, &len));
		assert_int_equal(type, REC_END);
		free(rec);
	}
	/* a length that runs past the end of the stream */
	memcpy(c, k.buf, k.len);
	wr32(first + 4, (uint32_t)(k.len - STREAM_HDR_SIZE - REC_HDR_SIZE + 1));
	expect_fail(c, k.len, false, 8192, "ended early");
}

/* read_empty: a stream of header and END only, read with a buffer of cap bytes. */
static void read_empty(const uint8_t *p, size_t n, bool hash, size_t cap)
{
	uint8_t *rec = malloc(cap);
	struct blake2s_ctx h;
	struct source src = {p, n, 0};
	struct stream_in r;
	stream_in_init(&r, source_read, &src, rec, cap, hash ? &h : NULL);
	uint16_t type, ver;
	uint32_t len;
	assert_true(stream_read_header(&r));
	assert_true(stream_next(&r, &type, &ver, &len));
	assert_int_equal(type, REC_END);
	assert_int_equal(r.bytes, n);
	free(rec);
}

/* test_truncated: every proper prefix of a stream fails, with and without the hash. */
static void test_truncated(void **state)
{
	static struct sink k;
	struct blake2s_ctx h;
	fill_ram();
	for (int hash = 0; hash < 2; hash++) {
		memset(&k, 0, sizeof(k));
		assert_int_equal(write_sample(&k, hash, &h), 0);
		for (size_t n = 0; n < k.len; n++) {
			uint8_t *c =
			    malloc(n ? n : 1); /* exactly n bytes: ASan sees any overread */
			memcpy(c, k.buf, n);
			expect_fail(c, n, hash, 8192, "ended early");
			free(c);
		}
	}
}

/* test_bad_end: END records that do not match the reader's expectation. */
static void test_bad_end(void **state)
{
	static struct sink k, kh;
	struct blake2s_ctx h;
	fill_ram();
	memset(&k, 0, sizeof(k));
	memset(&kh, 0, sizeof(kh));
	assert_int_equal(write_sample(&k, false, NULL), 0);
	assert_int_equal(write_sample(&kh, true, &h), 0);
	/* hashed stream, reader without a hash: the transport was supposed to authenticate */
	expect_fail(kh.buf, kh.len, false, 8192, "unexpected hash in the end record");
	/* plain stream, reader with a hash: the hash is missing */
	expect_fail(k.buf, k.len, true, 8192, "bad end record");
	/* a hash of the wrong length */
	static uint8_t c[sizeof(kh.buf)];
	uint8_t *end = c + SAMPLE_BODY;
	const uint32_t lens[] = {0, 16, 31, 33, 64};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memcpy(c, kh.buf, kh.len);
		wr32(end + 4, lens[i]);
		expect_fail(c, kh.len + 64, true, 8192, "bad end record");
	}
	/* an END record of another version (its header is outside the hash it carries) */
	const uint16_t vers[] = {0, 2, 0x100, 0xffff};
	for (size_t i = 0; i < sizeof(vers) / sizeof(vers[0]); i++) {
		memcpy(c, kh.buf, kh.len);
		end[2] = (uint8_t)vers[i];
		end[3] = (uint8_t)(vers[i] >> 8);
		expect_fail(c, kh.len, true, 8192, "bad end record");
		memcpy(c, k.buf, k.len);
		end[2] = (uint8_t)vers[i];
		end[3] = (uint8_t)(vers[i] >> 8);
		expect_fail(c, k.len, false, 8192, "bad end record");
	}
	/* END with a hash longer than the reader's buffer */
	static struct sink e;
	memset(&e, 0, sizeof(e));
	struct stream_out s;
	uint8_t rec[8];
	stream_out_init(&s, sink_write, &e, rec, sizeof(rec), &h);
	stream_header(&s);
	assert_int_equal(stream_finish(&s), 0);
	expect_fail(e.buf, e.len, true, 31, "record too large");
	read_empty(e.buf, e.len, true, 32);
	/* the hash cut short: the read error is reported, not a generic one */
	expect_fail(kh.buf, kh.len - 1, true, 8192, "ended early");
}

/* test_flip_any_byte: with the hash, changing any byte anywhere is detected. */
static void test_flip_any_byte(void **state)
{
	static struct sink k;
	static uint8_t c[sizeof(k.buf)];
	struct blake2s_ctx h;
	fill_ram();
	memset(&k, 0, sizeof(k));
	assert_int_equal(write_sample(&k, true, &h), 0);
	int integrity = 0;
	for (size_t i = 0; i < k.len; i++) {
		const uint8_t masks[] = {0x01, 0x80};
		for (int m = 0; m < 2; m++) {
			memcpy(c, k.buf, k.len);
			c[i] ^= masks[m];
			expect_fail(c, k.len, true, 8192, NULL);
			/* a flip inside a payload or the digest can only be caught by the hash */
			struct source src = {c, k.len, 0};
			static uint8_t rec[8192];
			struct stream_in s;
			stream_in_init(&s, source_read, &src, rec, sizeof(rec), &h);
			uint16_t type = 1, ver;
			uint32_t len;
			bool ok = stream_read_header(&s);
			while (ok && type != REC_END)
				ok = stream_next(&s, &type, &ver, &len);
			if (s.error && !strcmp(s.error, "stream integrity check failed"))
				integrity++;
		}
	}
	/* every payload byte, the flags, versions and the digest: far more than half */
	assert_true(integrity > (int)k.len);
}

static void test_fields(void **state)
{
	struct field_iter it;
	uint16_t id, len;
	const uint8_t *val;
	/* empty payload: the end, not malformed */
	field_iter_init(&it, NULL, 0);
	assert_false(field_next(&it, &id, &val, &len));
	assert_false(it.bad);
	/* 1..3 bytes: a truncated field header */
	const uint8_t three[3] = {1, 0, 0};
	for (size_t n = 1; n <= 3; n++) {
		uint8_t *p = malloc(n);
		memcpy(p, three, n);
		field_iter_init(&it, p, n);
		assert_false(field_next(&it, &id, &val, &len));
		assert_true(it.bad);
		free(p);
	}
	/* a zero-length field is fine */
	uint8_t *z = malloc(4);
	memcpy(z, (uint8_t[]){7, 0, 0, 0}, 4);
	field_iter_init(&it, z, 4);
	assert_true(field_next(&it, &id, &val, &len));
	assert_int_equal(id, 7);
	assert_int_equal(len, 0);
	assert_false(field_next(&it, &id, &val, &len));
	assert_false(it.bad);
	free(z);
	/* a value running past the payload, by one byte and by a lot */
	uint8_t *p = malloc(4 + 8);
	memcpy(p, (uint8_t[]){1, 0, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 12);
	field_iter_init(&it, p, 12);
	assert_false(field_next(&it, &id, &val, &len));
	assert_true(it.bad);
	p[2] = 8;
	field_iter_init(&it, p, 12);
	assert_true(field_next(&it, &id, &val, &len));
	assert_int_equal(len, 8);
	assert_ptr_equal(val, p + 4);
	p[2] = 0xff;
	p[3] = 0xff;
	field_iter_init(&it, p, 12);
	assert_false(field_next(&it, &id, &val, &len));
	assert_true(it.bad);
	free(p);
	/* a good field followed by a truncated one: the first is returned, then bad */
	uint8_t *q = malloc(4 + 1 + 2);
	memcpy(q, (uint8_t[]){2, 0, 1, 0, 0xaa, 3, 0}, 7);
	field_iter_init(&it, q, 7);
	assert_true(field_next(&it, &id, &val, &len));
	assert_int_equal(id, 2);
	assert_int_equal(*val, 0xaa);
	assert_false(field_next(&it, &id, &val, &len));
	assert_true(it.bad);
	free(q);
}

static void test_field_u64(void **state)
{
	const uint8_t v[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	uint64_t out;
	assert_true(field_u64(v, 1, &out));
	assert_int_equal(out, 0x01);
	assert_true(field_u64(v, 2, &out));
	assert_int_equal(out, 0x2301);
	assert_true(field_u64(v, 4, &out));
	assert_int_equal(out, 0x67452301);
	assert_true(field_u64(v, 8, &out));
	assert_int_equal(out, 0xefcdab8967452301ULL);
	const uint16_t bad[] = {0, 3, 5, 6, 7, 9, 16, 0xffff};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = 42;
		assert_false(field_u64(v, bad[i], &out));
		assert_int_equal(out, 42); /* untouched */
	}
	/* stream_u64 writes what field_u64 reads */
	static struct sink k;
	memset(&k, 0, sizeof(k));
	uint8_t rec[64];
	struct stream_out s;
	stream_out_init(&s, sink_write, &k, rec, sizeof(rec), NULL);
	const uint64_t vals[] = {0, 1, 0xff, 0x100, UINT64_MAX, 0x8000000000000000ULL};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		stream_begin(&s, REC_VM, 1);
		stream_u64(&s, 9, vals[i]);
		struct field_iter it;
		uint16_t id, len;
		const uint8_t *val;
		field_iter_init(&it, rec, s.rec_len);
		assert_true(field_next(&it, &id, &val, &len));
		assert_true(field_u64(val, len, &out));
		assert_int_equal(out, vals[i]);
	}
}

/* test_writer_errors: a full record buffer, a failing sink, an oversized raw record. */
static void test_writer_errors(void **state)
{
	static struct sink k;
	struct stream_out s;
	uint8_t rec[16];
	/* fields that do not fit the record buffer */
	memset(&k, 0, sizeof(k));
	stream_out_init(&s, sink_write, &k, rec, sizeof(rec), NULL);
	stream_header(&s);
	stream_begin(&s, REC_VM, 1);
	stream_u64(&s, 1, 1); /* 12 bytes */
	assert_int_equal(s.err, 0);
	stream_field(&s, 2, "abcd", 1); /* 5 more: 17 > 16 */
	assert_int_equal(s.err, -1);
	assert_int_equal(s.rec_len, 12);
	stream_end_record(&s);
	assert_int_equal(stream_finish(&s), -1);
	assert_int_equal(k.len, STREAM_HDR_SIZE); /* nothing after the error reached the sink */
	/* exactly full is fine */
	memset(&k, 0, sizeof(k));
	stream_out_init(&s, sink_write, &k, rec, sizeof(rec), NULL);
	stream_begin(&s, REC_VM, 1);
	stream_u64(&s, 1, 1);
	stream_field(&s, 2, "", 0);
	assert_int_equal(s.rec_len, 16);
	assert_int_equal(s.err, 0);
	/* a sink that fails on its n-th write: finish reports it, nothing more is written */
	for (int n = 1; n <= 8; n++) {
		memset(&k, 0, sizeof(k));
		k.fail_at = n;
		struct blake2s_ctx h;
		fill_ram();
		assert_int_equal(write_sample(&k, n & 1, &h), -1);
		assert_int_equal(k.writes, n);
	}
	/* raw records over REC_MAX_PAYLOAD are refused before anything is written */
	memset(&k, 0, sizeof(k));
	stream_out_init(&s, sink_write, &k, rec, sizeof(rec), NULL);
	stream_raw_header(&s, REC_RAM, 1, REC_MAX_PAYLOAD + 1);
	assert_int_equal(s.err, -1);
	assert_int_equal(k.len, 0);
	memset(&k, 0, sizeof(k));
	stream_out_init(&s, sink_write, &k, rec, sizeof(rec), NULL);
	stream_raw_header(&s, REC_RAM, 1, REC_MAX_PAYLOAD);
	assert_int_equal(s.err, 0);
	assert_int_equal(k.len, REC_HDR_SIZE);
	assert_int_equal(rd32(k.buf + 4), REC_MAX_PAYLOAD);
}

/* test_empty_stream: header + END only, both modes; and a reader's byte count. */
static void test_empty_stream(void **state)
{
	static struct sink k;
	uint8_t rec[8], in[64];
	struct blake2s_ctx h;
	for (int hash = 0; hash < 2; hash++) {
		memset(&k, 0, sizeof(k));
		struct stream_out s;
		stream_out_init(&s, sink_write, &k, rec, sizeof(rec), hash ? &h : NULL);
		stream_header(&s);
		assert_int_equal(stream_finish(&s), 0);
		assert_int_equal(k.len, STREAM_HDR_SIZE + REC_HDR_SIZE + (hash ? 32 : 0));
		read_empty(k.buf, k.len, hash, sizeof(in));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_plain), cmocka_unit_test(test_roundtrip_hash),
	    cmocka_unit_test(test_bad_header),      cmocka_unit_test(test_bad_records),
	    cmocka_unit_test(test_truncated),       cmocka_unit_test(test_bad_end),
	    cmocka_unit_test(test_flip_any_byte),   cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_field_u64),       cmocka_unit_test(test_writer_errors),
	    cmocka_unit_test(test_empty_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
