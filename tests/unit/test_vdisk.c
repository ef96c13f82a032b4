/*
 * Unit tests for vmm/vdisk.c (sparse copy-on-write guest disks with dirty tracking) and
 * vmm/vblk.c (virtio-blk requests): sparse reads, the base image kept by reference and never
 * written, writes across extents, dirty fetch-and-clear, restore helpers, bounds; then block
 * requests of every type through a real virtqueue chain, including bad sectors, read-only
 * disks, misaligned lengths and requests without room for a status byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/bitmap.h"
#include "kernel/endian.h"
#include "vmm/vblk.h"

#define MB (1ULL << 20)

static size_t g_live; /* bytes allocated through the ops */

static void *t_alloc(void *ctx, size_t size)
{
	(void)ctx;
	g_live += size;
	return calloc(1, size);
}

static void t_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	g_live -= size;
	free(p);
}

static const struct vdisk_ops g_ops = {t_alloc, t_free, NULL};

static void test_init(void **state)
{
	(void)state;
	struct vdisk d;
	assert_non_null(vdisk_init(&d, 0, NULL, 0, &g_ops));    /* no size, no image */
	assert_non_null(vdisk_init(&d, 1000, NULL, 0, &g_ops)); /* not a sector multiple */
	assert_non_null(vdisk_init(&d, VDISK_MAX_SIZE + 512, NULL, 0, &g_ops));
	uint8_t img[4096];
	assert_non_null(vdisk_init(&d, 2048, img, sizeof(img), &g_ops)); /* smaller than image */
	assert_null(vdisk_init(&d, 0, img, 1000, &g_ops));               /* image size rounded up */
	assert_int_equal(d.size, 1024);
	vdisk_free(&d);
	assert_int_equal(g_live, 0);
}

static void test_sparse_and_cow(void **state)
{
	(void)state;
	/* an image of 2 extents + 1000 bytes; disk of 8 MiB */
	size_t isz = 2 * VDISK_EXTENT + 1000;
	uint8_t *img = malloc(isz);
	for (size_t i = 0; i < isz; i++)
		img[i] = (uint8_t)(i * 7 + 1);
	uint8_t *keep = malloc(isz);
	memcpy(keep, img, isz);
	struct vdisk d;
	assert_null(vdisk_init(&d, 8 * MB, img, isz, &g_ops));
	assert_int_equal(d.nextents, 4);
	assert_int_equal(d.priv_extents, 1); /* only the partial tail was copied */
	uint8_t buf[8192];
	assert_true(vdisk_read(&d, VDISK_EXTENT - 4096, buf, 8192)); /* across extents 0/1 */
	assert_memory_equal(buf, img + VDISK_EXTENT - 4096, 8192);
	assert_true(vdisk_read(&d, 2 * VDISK_EXTENT + 900, buf, 200)); /* tail, then zeros */
	assert_memory_equal(buf, img + 2 * VDISK_EXTENT + 900, 100);
	for (int i = 100; i < 200; i++)
		assert_int_equal(buf[i], 0);
	assert_true(vdisk_read(&d, 6 * MB, buf, 4096)); /* never written: zeros */
	for (int i = 0; i < 4096; i++)
		assert_int_equal(buf[i], 0);
	assert_null(vdisk_extent_data(&d, 3));
	/* write into extent 1: copied on write, the image is untouched */
	memset(buf, 0xab, 4096);
	assert_true(vdisk_write(&d, VDISK_EXTENT + 4096 + 10, buf, 4096));
	assert_int_equal(d.priv_extents, 2);
	assert_memory_equal(img, keep, isz);
	uint8_t back[4096 + 20];
	assert_true(vdisk_read(&d, VDISK_EXTENT + 4096, back, sizeof(back)));
	assert_memory_equal(back, img + VDISK_EXTENT + 4096, 10);
	assert_int_equal(back[10], 0xab);
	assert_int_equal(back[10 + 4095], 0xab);
	assert_memory_equal(back + 4106, img + VDISK_EXTENT + 4096 + 4106, sizeof(back) - 4106);
	/* bounds */
	assert_false(vdisk_read(&d, 8 * MB - 10, buf, 20));
	assert_false(vdisk_write(&d, 8 * MB, buf, 1));
	assert_false(vdisk_read(&d, ~0ULL - 5, buf, 10));
	assert_true(vdisk_read(&d, 8 * MB - 10, buf, 10));
	vdisk_free(&d);
	assert_int_equal(g_live, 0);
	free(img);
	free(keep);
}

static void test_dirty(void **state)
{
	(void)state;
	struct vdisk d;
	assert_null(vdisk_init(&d, 4 * MB, NULL, 0, &g_ops));
	uint64_t out[BITMAP_WORDS(1024)];
	memset(out, 0, sizeof(out));
	uint8_t buf[8192] = {1};
	assert_true(vdisk_write(&d, 4096 * 3 + 100, buf, 4096)); /* blocks 3 and 4 */
	assert_true(vdisk_write(&d, 2 * MB - 512, buf, 1024));   /* blocks 511 and 512 */
	assert_int_equal(vdisk_dirty_fetch(&d, out), 4);
	assert_true(bitmap_test(out, 3) && bitmap_test(out, 4));
	assert_true(bitmap_test(out, 511) && bitmap_test(out, 512));
	memset(out, 0, sizeof(out));
	assert_int_equal(vdisk_dirty_fetch(&d, out), 0); /* cleared */
	uint8_t tmp[512];
	assert_true(vdisk_read(&d, 0, tmp, sizeof(tmp))); /* reads do not dirty */
	assert_int_equal(vdisk_dirty_fetch(&d, out), 0);
	vdisk_free(&d);
}

static void test_restore_helpers(void **state)
{
	(void)state;
	uint8_t *img = malloc(VDISK_EXTENT);
	for (size_t i = 0; i < VDISK_EXTENT; i++)
		img[i] = (uint8_t)(i >> 9);
	struct vdisk d;
	assert_null(vdisk_init(&d, 2 * VDISK_EXTENT, img, VDISK_EXTENT, &g_ops));
	uint8_t b[4096];
	memset(b, 5, sizeof(b));
	assert_true(vdisk_write(&d, VDISK_EXTENT + 4096, b, 4096));
	vdisk_zero_all(&d);
	assert_int_equal(d.priv_extents, 0);
	assert_null(vdisk_extent_data(&d, 0));
	assert_null(vdisk_extent_data(&d, 1));
	/* rebuild extent 0 with the image's bytes: shared again, no copy kept */
	for (uint64_t off = 0; off < VDISK_EXTENT; off += 4096)
		assert_true(vdisk_write(&d, off, img + off, 4096));
	assert_int_equal(d.priv_extents, 1);
	vdisk_settle_extent(&d, 0);
	assert_int_equal(d.priv_extents, 0);
	assert_ptr_equal(vdisk_extent_data(&d, 0), img);
	/* an all-zero rewrite of extent 1 is dropped */
	memset(b, 0, sizeof(b));
	assert_true(vdisk_write(&d, VDISK_EXTENT, b, 4096));
	vdisk_settle_extent(&d, 1);
	assert_null(vdisk_extent_data(&d, 1));
	/* different contents are kept */
	memset(b, 9, sizeof(b));
	assert_true(vdisk_write(&d, 0, b, 4096));
	vdisk_settle_extent(&d, 0);
	assert_int_equal(d.priv_extents, 1);
	vdisk_free(&d);
	assert_int_equal(g_live, 0);
	free(img);
}

/* ---- virtio-blk requests ------------------------------------------------------------------- */

static struct gmem *make_gmem(void)
{
	struct gmem *m = calloc(1, sizeof(*m));
	assert_true(gmem_layout(m, 4 * MB, 4 * MB));
	m->chunk_hva = calloc(m->nchunks, sizeof(uint8_t *));
	for (uint64_t i = 0; i < m->nchunks; i++)
		m->chunk_hva[i] = calloc(1, GMEM_CHUNK_SIZE);
	return m;
}

static void free_gmem(struct gmem *m)
{
	for (uint64_t i = 0; i < m->nchunks; i++)
		free(m->chunk_hva[i]);
	free(m->chunk_hva);
	free(m);
}

#define HDR 0x1000
#define DAT 0x2000
#define STS 0x9000

/* req: a chain header(16) + data(len, writable for reads) + status(1). */
static void req(struct gmem *m, struct virtq_chain *c, uint32_t type, uint64_t sector, uint32_t len,
                bool data_writable)
{
	uint8_t h[16];
	memset(h, 0, sizeof(h));
	le32_store(h, type);
	le64_store(h + 8, sector);
	assert_true(gmem_write(m, HDR, h, 16));
	uint8_t ff = 0xff;
	assert_true(gmem_write(m, STS, &ff, 1));
	memset(c, 0, sizeof(*c));
	c->seg[0] = (struct virtq_seg){HDR, 16};
	c->nread = 1;
	c->rlen = 16;
	unsigned n = 1;
	if (len && !data_writable) {
		c->seg[n++] = (struct virtq_seg){DAT, len};
		c->nread++;
		c->rlen += len;
	}
	if (len && data_writable) {
		c->seg[n++] = (struct virtq_seg){DAT, len};
		c->nwrite++;
		c->wlen += len;
	}
	c->seg[n] = (struct virtq_seg){STS, 1};
	c->nwrite++;
	c->wlen++;
}

static uint8_t status(struct gmem *m)
{
	uint8_t s;
	assert_true(gmem_read(m, STS, &s, 1));
	return s;
}

static void test_blk_requests(void **state)
{
	(void)state;
	struct gmem *m = make_gmem();
	struct vdisk d;
	assert_null(vdisk_init(&d, 1 * MB, NULL, 0, &g_ops));
	struct vblk_stats st;
	memset(&st, 0, sizeof(st));
	static struct virtq_chain c;
	char serial[VIRTIO_BLK_ID_BYTES] = "tern-serial-0001";
	uint8_t pat[4096];
	for (int i = 0; i < 4096; i++)
		pat[i] = (uint8_t)(i * 3);
	/* write 4 KiB at sector 8, read it back */
	assert_true(gmem_write(m, DAT, pat, 4096));
	req(m, &c, VIRTIO_BLK_T_OUT, 8, 4096, false);
	assert_int_equal(vblk_handle(&d, false, serial, m, &c, &st), 1);
	assert_int_equal(status(m), VIRTIO_BLK_S_OK);
	assert_true(gmem_fill(m, DAT, 0, 4096));
	req(m, &c, VIRTIO_BLK_T_IN, 8, 4096, true);
	assert_int_equal(vblk_handle(&d, false, serial, m, &c, &st), 4097);
	assert_int_equal(status(m), VIRTIO_BLK_S_OK);
	uint8_t back[4096];
	assert_true(gmem_read(m, DAT, back, 4096));
	assert_memory_equal(back, pat, 4096);
	/* out of range, overflowing sector, misaligned length */
	req(m, &c, VIRTIO_BLK_T_IN, 2047, 1024, true);
	vblk_handle(&d, false, serial, m, &c, &st);
	assert_int_equal(status(m), VIRTIO_BLK_S_IOERR);
	req(m, &c, VIRTIO_BLK_T_OUT, ~0ULL >> 8, 512, false);
	vblk_handle(&d, false, serial, m, &c, &st);
	assert_int_equal(status(m), VIRTIO_BLK_S_IOERR);
	req(m, &c, VIRTIO_BLK_T_IN, 0, 100, true);
	vblk_handle(&d, false, serial, m, &c, &st);
	assert_int_equal(status(m), VIRTIO_BLK_S_IOERR);
	/* read-only disk */
	req(m, &c, VIRTIO_BLK_T_OUT, 0, 512, false);
	vblk_handle(&d, true, serial, m, &c, &st);
	assert_int_equal(status(m), VIRTIO_BLK_S_IOERR);
	/* flush, id, unsupported */
	req(m, &c, VIRTIO_BLK_T_FLUSH, 0, 0, false);
	assert_int_equal(vblk_handle(&d, false, serial, m, &c, &st), 1);
	assert_int_equal(status(m), VIRTIO_BLK_S_OK);
	req(m, &c, VIRTIO_BLK_T_GET_ID, 0, 20, true);
	assert_int_equal(vblk_handle(&d, false, serial, m, &c, &st), 21);
	assert_int_equal(status(m), VIRTIO_BLK_S_OK);
	assert_true(gmem_read(m, DAT, back, 20));
	assert_memory_equal(back, serial, 20);
	req(m, &c, 99, 0, 0, false);
	vblk_handle(&d, false, serial, m, &c, &st);
	assert_int_equal(status(m), VIRTIO_BLK_S_UNSUPP);
	/* malformed: no status byte, short header */
	req(m, &c, VIRTIO_BLK_T_IN, 0, 512, true);
	c.nwrite = 0;
	c.wlen = 0;
	assert_int_equal(vblk_handle(&d, false, serial, m, &c, &st), 0);
	req(m, &c, VIRTIO_BLK_T_FLUSH, 0, 0, false);
	c.seg[0].len = 8;
	c.rlen = 8;
	assert_int_equal(vblk_handle(&d, false, serial, m, &c, &st), 0);
	assert_int_equal(st.malformed, 2);
	assert_int_equal(st.errors, 4);
	assert_int_equal(st.writes, 3);
	assert_int_equal(st.bytes_written, 4096);
	vdisk_free(&d);
	free_gmem(m);
}

/* test_blk_layout: the header split over descriptors and data in many pieces */
static void test_blk_layout(void **state)
{
	(void)state;
	struct gmem *m = make_gmem();
	struct vdisk d;
	assert_null(vdisk_init(&d, 1 * MB, NULL, 0, &g_ops));
	struct vblk_stats st;
	memset(&st, 0, sizeof(st));
	static struct virtq_chain c;
	uint8_t h[16] = {0};
	le32_store(h, VIRTIO_BLK_T_OUT);
	le64_store(h + 8, 1);
	assert_true(gmem_write(m, HDR, h, 16));
	uint8_t pat[1024];
	for (int i = 0; i < 1024; i++)
		pat[i] = (uint8_t)(i ^ 0x5a);
	memset(&c, 0, sizeof(c));
	c.seg[0] = (struct virtq_seg){HDR, 10};
	c.seg[1] = (struct virtq_seg){HDR + 10, 6};
	for (int i = 0; i < 8; i++) { /* 8 pieces of 128 bytes, scattered */
		assert_true(gmem_write(m, DAT + 0x400 * i, pat + 128 * i, 128));
		c.seg[2 + i] = (struct virtq_seg){DAT + 0x400 * i, 128};
	}
	c.nread = 10;
	c.rlen = 16 + 1024;
	c.seg[10] = (struct virtq_seg){STS, 1};
	c.nwrite = 1;
	c.wlen = 1;
	static const char ser[VIRTIO_BLK_ID_BYTES] = "x";
	assert_int_equal(vblk_handle(&d, false, ser, m, &c, &st), 1);
	assert_int_equal(status(m), VIRTIO_BLK_S_OK);
	uint8_t back[1024];
	assert_true(vdisk_read(&d, 512, back, 1024));
	assert_memory_equal(back, pat, 1024);
	vdisk_free(&d);
	free_gmem(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),         cmocka_unit_test(test_sparse_and_cow),
	    cmocka_unit_test(test_dirty),        cmocka_unit_test(test_restore_helpers),
	    cmocka_unit_test(test_blk_requests), cmocka_unit_test(test_blk_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
