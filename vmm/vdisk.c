/* Guest disks in host memory; see vdisk.h. */
#include "vmm/vdisk.h"
#include "kernel/bitmap.h"
#include "kernel/string.h"

const char *vdisk_init(struct vdisk *d, uint64_t size, const uint8_t *image, uint64_t image_size,
                       const struct vdisk_ops *ops)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	if (!image)
		image_size = 0;
	if (size == 0)
		size = ALIGN_UP(image_size, (uint64_t)VDISK_SECTOR);
	if (size == 0 || size > VDISK_MAX_SIZE || !IS_ALIGNED(size, (uint64_t)VDISK_SECTOR))
		return "disk size must be a multiple of 512 bytes, at most 64G";
	if (image_size > size)
		return "disk size is smaller than its image";
	d->size = size;
	d->nextents = (size + VDISK_EXTENT - 1) >> VDISK_EXTENT_SHIFT;
	d->nblocks = (size + VDISK_BLOCK - 1) >> VDISK_BLOCK_SHIFT;
	d->ext = ops->alloc(ops->ctx, d->nextents * sizeof(*d->ext));
	d->dirty = ops->alloc(ops->ctx, BITMAP_WORDS(d->nblocks) * 8);
	if (!d->ext || !d->dirty) {
		vdisk_free(d);
		return "out of memory for the disk's tables";
	}
	d->image = image;
	d->image_extents = image_size >> VDISK_EXTENT_SHIFT;
	for (uint64_t i = 0; i < d->image_extents; i++)
		d->ext[i].base = image + (i << VDISK_EXTENT_SHIFT);
	uint64_t tail = image_size & (VDISK_EXTENT - 1);
	if (tail) { /* the image's last partial extent becomes a private copy */
		uint64_t i = d->image_extents;
		d->ext[i].priv = ops->alloc(ops->ctx, VDISK_EXTENT);
		if (!d->ext[i].priv) {
			vdisk_free(d);
			return "out of memory for the disk image";
		}
		d->priv_extents++;
		memcpy(d->ext[i].priv, image + (i << VDISK_EXTENT_SHIFT), tail);
	}
	return NULL;
}

void vdisk_free(struct vdisk *d)
{
	const struct vdisk_ops *ops = d->ops;
	if (d->ext) {
		for (uint64_t i = 0; i < d->nextents; i++)
			if (d->ext[i].priv)
				ops->free(ops->ctx, d->ext[i].priv, VDISK_EXTENT);
		ops->free(ops->ctx, d->ext, d->nextents * sizeof(*d->ext));
	}
	if (d->dirty)
		ops->free(ops->ctx, d->dirty, BITMAP_WORDS(d->nblocks) * 8);
	memset(d, 0, sizeof(*d));
	d->ops = ops;
}

/* in_range: [off, off+len) inside the disk. */
static bool in_range(const struct vdisk *d, uint64_t off, uint64_t len)
{
	return d->ext && range_within(off, len, 0, d->size);
}

const uint8_t *vdisk_extent_data(const struct vdisk *d, uint64_t i)
{
	if (i >= d->nextents)
		return NULL;
	return d->ext[i].priv ? d->ext[i].priv : d->ext[i].base;
}

/* writable: the private copy of extent i, made on first write. */
static uint8_t *writable(struct vdisk *d, uint64_t i)
{
	struct vdisk_extent *e = &d->ext[i];
	if (e->priv)
		return e->priv;
	e->priv = d->ops->alloc(d->ops->ctx, VDISK_EXTENT);
	if (!e->priv)
		return NULL;
	d->priv_extents++;
	if (e->base)
		memcpy(e->priv, e->base, VDISK_EXTENT);
	return e->priv;
}

/* mark_dirty: blocks touched by [off, off+len), len > 0. */
static void mark_dirty(struct vdisk *d, uint64_t off, uint64_t len)
{
	for (uint64_t b = off >> VDISK_BLOCK_SHIFT; b <= (off + len - 1) >> VDISK_BLOCK_SHIFT; b++)
		bitmap_set_atomic(d->dirty, b);
}

/* A piece of a transfer inside one extent. */
struct piece {
	uint64_t ext, eoff, n;
};

/* next_piece: the part of [off, off+left) inside off's extent. */
static struct piece next_piece(uint64_t off, uint64_t left)
{
	struct piece p;
	p.ext = off >> VDISK_EXTENT_SHIFT;
	p.eoff = off & (VDISK_EXTENT - 1);
	p.n = MIN(left, VDISK_EXTENT - p.eoff);
	return p;
}

bool vdisk_read(const struct vdisk *d, uint64_t off, void *buf, uint64_t len)
{
	if (!in_range(d, off, len))
		return false;
	for (uint64_t done = 0; done < len;) {
		struct piece p = next_piece(off + done, len - done);
		const uint8_t *src = vdisk_extent_data(d, p.ext);
		if (src)
			memcpy((uint8_t *)buf + done, src + p.eoff, p.n);
		else
			memset((uint8_t *)buf + done, 0, p.n);
		done += p.n;
	}
	return true;
}

bool vdisk_write(struct vdisk *d, uint64_t off, const void *buf, uint64_t len)
{
	if (!in_range(d, off, len))
		return false;
	for (uint64_t done = 0; done < len;) {
		struct piece p = next_piece(off + done, len - done);
		uint8_t *dst = writable(d, p.ext);
		if (!dst)
			return false;
		memcpy(dst + p.eoff, (const uint8_t *)buf + done, p.n);
		mark_dirty(d, off + done, p.n);
		done += p.n;
	}
	return true;
}

bool vdisk_to_guest(const struct vdisk *d, uint64_t off, struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (!in_range(d, off, len) || add_overflows(gpa, len))
		return false;
	for (uint64_t done = 0; done < len;) {
		struct piece p = next_piece(off + done, len - done);
		const uint8_t *src = vdisk_extent_data(d, p.ext);
		bool ok = src ? gmem_write(m, gpa + done, src + p.eoff, p.n)
		              : gmem_fill(m, gpa + done, 0, p.n);
		if (!ok)
			return false;
		done += p.n;
	}
	return true;
}

bool vdisk_from_guest(struct vdisk *d, uint64_t off, const struct gmem *m, uint64_t gpa,
                      uint64_t len)
{
	if (!in_range(d, off, len) || add_overflows(gpa, len))
		return false;
	if (len && !gmem_is_ram(m, gpa, len))
		return false;
	for (uint64_t done = 0; done < len;) {
		struct piece p = next_piece(off + done, len - done);
		uint8_t *dst = writable(d, p.ext);
		if (!dst || !gmem_read(m, gpa + done, dst + p.eoff, p.n))
			return false;
		mark_dirty(d, off + done, p.n);
		done += p.n;
	}
	return true;
}

uint64_t vdisk_dirty_fetch(struct vdisk *d, uint64_t *out)
{
	return d->dirty ? bitmap_fetch_clear(d->dirty, out, d->nblocks) : 0;
}

uint64_t vdisk_dirty_fetch_extent(struct vdisk *d, uint64_t e, uint64_t *out)
{
	if (!d->dirty || e >= d->nextents)
		return 0;
	uint64_t first = e * VDISK_BLOCKS_PER_EXTENT; /* a multiple of 64: whole words */
	uint64_t count = MIN((uint64_t)VDISK_BLOCKS_PER_EXTENT, d->nblocks - first);
	return bitmap_fetch_clear(d->dirty + first / 64, out, count);
}

void vdisk_zero_all(struct vdisk *d)
{
	for (uint64_t i = 0; i < d->nextents; i++) {
		struct vdisk_extent *e = &d->ext[i];
		if (e->priv) {
			d->ops->free(d->ops->ctx, e->priv, VDISK_EXTENT);
			d->priv_extents--;
		}
		e->priv = NULL;
		e->base = NULL;
	}
}

void vdisk_settle_extent(struct vdisk *d, uint64_t i)
{
	if (i >= d->nextents || !d->ext[i].priv)
		return;
	struct vdisk_extent *e = &d->ext[i];
	const uint8_t *orig = i < d->image_extents ? d->image + (i << VDISK_EXTENT_SHIFT) : NULL;
	bool same = orig && memcmp(e->priv, orig, VDISK_EXTENT) == 0;
	if (!same && !mem_is_zero(e->priv, VDISK_EXTENT))
		return;
	d->ops->free(d->ops->ctx, e->priv, VDISK_EXTENT);
	d->priv_extents--;
	e->priv = NULL;
	e->base = same ? orig : NULL;
}
