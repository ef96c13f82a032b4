/*
 * A guest disk held in host memory (pure; host-tested): the backing store of virtio-blk.
 *
 * The disk is split into 2 MiB extents. An extent reads from its private copy if it has one,
 * else from the read-only base image it was created from (a file on the boot stick, kept by
 * reference), else as zeros; the first write to an extent copies it (or allocates it zeroed).
 * So an empty 1 GiB disk costs nothing until written, and the stick's file is never changed.
 * Every write sets the disk's dirty bits (4 KiB blocks, atomically), which
 * vdisk_dirty_fetch collects and clears, as vm_dirty_fetch does for RAM: storage can then be
 * copied while the guest runs (migration) and the rest sent at the end.
 *
 * Memory comes through caller-provided ops (pmm pages in Tern, malloc in tests). The caller
 * serialises writers (the device's queue lock); dirty fetching may run concurrently.
 */
#ifndef TERN_VDISK_H
#define TERN_VDISK_H

#include "kernel/compiler.h"
#include "vmm/gmem.h"

#define VDISK_SECTOR            512
#define VDISK_BLOCK_SHIFT       12 /* dirty-tracking granularity: 4 KiB */
#define VDISK_BLOCK             (1ULL << VDISK_BLOCK_SHIFT)
#define VDISK_EXTENT_SHIFT      21
#define VDISK_EXTENT            (1ULL << VDISK_EXTENT_SHIFT)
#define VDISK_BLOCKS_PER_EXTENT (VDISK_EXTENT / VDISK_BLOCK)
#define VDISK_MAX_SIZE          (64ULL << 30)

struct vdisk_ops {
	/* alloc: size zeroed bytes (an extent, or a table); NULL when out of memory */
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p, size_t size);
	void *ctx;
};

struct vdisk_extent {
	uint8_t *priv;       /* private copy, or NULL */
	const uint8_t *base; /* base image bytes (whole extent), or NULL = zeros */
};

struct vdisk {
	uint64_t size; /* bytes, a multiple of 512 */
	uint64_t nextents;
	uint64_t nblocks; /* 4 KiB blocks (the last may be partial) */
	struct vdisk_extent *ext;
	uint64_t *dirty;        /* nblocks bits */
	const uint8_t *image;   /* the base image (read-only), for restore de-duplication */
	uint64_t image_extents; /* extents wholly inside the image */
	uint64_t priv_extents;  /* private copies allocated */
	const struct vdisk_ops *ops;
};

/* vdisk_init: size bytes (0: the image's size rounded up to 512), based on image (may be
 * NULL). Returns NULL or an error text. */
const char *vdisk_init(struct vdisk *d, uint64_t size, const uint8_t *image, uint64_t image_size,
                       const struct vdisk_ops *ops);
void vdisk_free(struct vdisk *d);
/* vdisk_read / vdisk_write: bytes at off with a host buffer; false if out of range (or, for
 * writes, out of memory: nothing is half-written per extent). */
bool vdisk_read(const struct vdisk *d, uint64_t off, void *buf, uint64_t len);
bool vdisk_write(struct vdisk *d, uint64_t off, const void *buf, uint64_t len);
/* vdisk_to_guest / vdisk_from_guest: the same, straight to/from guest memory (one copy). */
bool vdisk_to_guest(const struct vdisk *d, uint64_t off, struct gmem *m, uint64_t gpa,
                    uint64_t len);
bool vdisk_from_guest(struct vdisk *d, uint64_t off, const struct gmem *m, uint64_t gpa,
                      uint64_t len);
/* vdisk_dirty_fetch: OR the dirty blocks into out (nblocks bits) and clear them; returns how
 * many were set. */
uint64_t vdisk_dirty_fetch(struct vdisk *d, uint64_t *out);
/* vdisk_dirty_fetch_extent: as vdisk_dirty_fetch for extent e's blocks only: out gets
 * VDISK_BLOCKS_PER_EXTENT bits (bit b = block e * VDISK_BLOCKS_PER_EXTENT + b). */
uint64_t vdisk_dirty_fetch_extent(struct vdisk *d, uint64_t e, uint64_t *out);
/* vdisk_extent_data: the contents of extent i (NULL: all zeros). */
const uint8_t *vdisk_extent_data(const struct vdisk *d, uint64_t i);
/* vdisk_zero_all: every extent zero, private copies freed (start of a restore). */
void vdisk_zero_all(struct vdisk *d);
/* vdisk_settle_extent: after extent i was rewritten (restore), share the base image again if
 * the contents equal it, or drop the copy if it is all zeros. */
void vdisk_settle_extent(struct vdisk *d, uint64_t i);

#endif
