/*
 * libFuzzer target for the device side of split virtqueues (vmm/virtq.c) and the virtio-blk
 * request engine on top of it (vmm/vblk.c, vmm/vdisk.c): the input is a hostile driver.
 *
 * Input: byte 0 picks the queue size (1 << (b % 9)), byte 1 the features (bit 0 INDIRECT_DESC,
 * bit 1 EVENT_IDX) and the mode (bit 2: execute requests as virtio-blk, else just pop and
 * return chains), bytes 2-3 where the rings go (a 256-byte step inside the input area, so
 * misaligned and overlapping rings happen); the rest is copied into guest RAM at address 0:
 * descriptor tables, rings, indirect tables, request headers all come from the fuzzer.
 * Guest RAM is 4 MiB low + 2 MiB above 4 GiB (so addresses in the hole and past the end exist).
 *
 * Checks: no memory error (ASan/UBSan); every popped chain has at most `size` segments, each
 * inside RAM with a non-zero length and readable ones first, and lengths that add up; the
 * return code is 0, 1 or a VQ_E_* value; processing stops after an error as the transport
 * does; the used index only moves by what was pushed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/endian.h"
#include "vmm/vblk.h"
#include "tests/fuzz/fuzz_check.h"

#define RAM      (6ULL << 20)
#define HOLE     (4ULL << 20)
#define AREA     (256 * 1024)
#define MAX_POPS 64

static struct gmem g_m;
static uint8_t *g_chunks[3];

static void *f_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return calloc(1, size);
}

static void f_free(void *ctx, void *p, size_t size)
{
	(void)ctx, (void)size;
	free(p);
}

static const struct vdisk_ops g_ops = {f_alloc, f_free, NULL};

static void init_mem(void)
{
	if (g_m.chunk_hva)
		return;
	gmem_layout(&g_m, RAM, HOLE);
	g_m.chunk_hva = g_chunks;
	for (int i = 0; i < 3; i++)
		g_chunks[i] = calloc(1, GMEM_CHUNK_SIZE);
}

/* check_chain: the invariants every popped chain must satisfy. */
static void check_chain(const struct virtq *q, const struct virtq_chain *c)
{
	CHECK(c->head < q->size);
	CHECK((unsigned)c->nread + c->nwrite <= q->size);
	uint64_t r = 0, w = 0;
	for (unsigned i = 0; i < (unsigned)c->nread + c->nwrite; i++) {
		CHECK(c->seg[i].len > 0);
		CHECK(gmem_is_ram(&g_m, c->seg[i].addr, c->seg[i].len));
		if (i < c->nread)
			r += c->seg[i].len;
		else
			w += c->seg[i].len;
	}
	CHECK(r == c->rlen && w == c->wlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq q;
	static struct virtq_chain c;
	if (size < 4 || size > AREA)
		return 0;
	init_mem();
	memset(g_chunks[0], 0, AREA + 0x10000);
	memcpy(g_chunks[0], data + 4, size - 4);
	memset(&q, 0, sizeof(q));
	virtq_reset(&q, (uint16_t)(1u << (data[0] % 9)));
	uint64_t features = ((data[1] & 1) ? 1ULL << VIRTIO_F_INDIRECT_DESC : 0) |
	                    ((data[1] & 2) ? 1ULL << VIRTIO_F_EVENT_IDX : 0);
	bool blk = data[1] & 4;
	uint16_t place = le16_load(data + 2);
	q.desc = (uint64_t)(place & 0xf) * 256;
	q.avail = (uint64_t)((place >> 4) & 0xf) * 256 + 0x1000;
	q.used = (uint64_t)((place >> 8) & 0xf) * 256 + 0x2000 + ((place >> 12) & 3);
	if (virtq_start(&q, &g_m, features) != 0)
		return 0;
	struct vdisk d;
	CHECK(vdisk_init(&d, 1 << 20, NULL, 0, &g_ops) == NULL);
	struct vblk_stats st;
	memset(&st, 0, sizeof(st));
	static const char serial[VIRTIO_BLK_ID_BYTES] = "fuzz";
	uint16_t used_before = q.used_idx;
	unsigned pushed = 0;
	for (int i = 0; i < MAX_POPS; i++) {
		int rc = virtq_pop(&q, &c);
		CHECK(rc <= 1 && rc >= VQ_E_SIZE);
		if (rc < 0)
			break; /* the transport marks the device broken here */
		if (rc == 0) {
			if (!virtq_arm(&q))
				break;
			continue;
		}
		check_chain(&q, &c);
		uint32_t len = blk ? vblk_handle(&d, (data[1] & 8) != 0, serial, &g_m, &c, &st) : 0;
		CHECK(len <= c.wlen);
		virtq_push(&q, c.head, len);
		pushed++;
		if (i % 4 == 3)
			(void)virtq_flush(&q);
	}
	(void)virtq_flush(&q);
	CHECK((uint16_t)(q.used_idx - used_before) == pushed);
	vdisk_free(&d);
	return 0;
}
