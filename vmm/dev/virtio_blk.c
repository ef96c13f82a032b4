/*
 * virtio-blk device model (virtio v1.2 section 5.2): one request queue of 256 entries over a
 * vdisk held in host memory. Requests run synchronously in the notifying thread (vmm/vblk.c
 * does the work); completion interrupts follow EVENT_IDX.
 * Offered: SEG_MAX, GEOMETRY, BLK_SIZE (512), TOPOLOGY (4 KiB physical blocks), FLUSH
 * (acknowledged at once: writes are complete when they are acknowledged), RO for read-only
 * disks; GET_ID answers the configured serial.
 */
#include "vmm/dev/vdevs.h"
#include "kernel/endian.h"
#include "kernel/heap.h"
#include "kernel/string.h"
#include "vmm/vblk.h"
#include "vmm/vm.h"

#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define QSIZE                 256
#define CFG_SIZE              36 /* up to num_queues (5.2.4) */

struct vblk_dev {
	struct vdisk *disk;
	bool ro;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct vblk_stats st;
};

/* blk_cfg: struct virtio_blk_config. */
static void blk_cfg(struct vdev *d, uint8_t *c)
{
	struct vblk_dev *b = d->priv;
	uint64_t sectors = b->disk->size / VDISK_SECTOR;
	le64_store(c + 0, sectors);    /* capacity */
	le32_store(c + 12, QSIZE - 2); /* seg_max: header and status need two */
	uint64_t cyl = sectors / (16 * 63);
	le16_store(c + 16, (uint16_t)MIN(cyl, 65535ULL)); /* geometry: cylinders, heads, sectors */
	c[18] = 16;
	c[19] = 63;
	le32_store(c + 20, VDISK_SECTOR); /* blk_size */
	c[24] = 3;                        /* physical_block_exp: 4 KiB */
	c[25] = 0;                        /* alignment_offset */
	le16_store(c + 26, 8);            /* min_io_size (logical blocks) */
	le32_store(c + 28, 0);            /* opt_io_size: none */
	le16_store(c + 34, 1);            /* num_queues */
}

static uint32_t blk_chain(struct vdev *d, unsigned q, struct virtq_chain *c)
{
	struct vblk_dev *b = d->priv;
	(void)q;
	return vblk_handle(b->disk, b->ro, b->serial, &d->vm->mem, c, &b->st);
}

static void blk_notify(struct vdev *d, unsigned q)
{
	vdev_process(d, q, blk_chain);
}

static const struct vdev_ops g_blk_ops = {
    .name = "virtio-blk",
    .type = VIRTIO_ID_BLOCK,
    .class_rev = 0x01000001, /* mass storage / SCSI, revision 1 */
    .nqueues = 1,
    .qsize = QSIZE,
    .cfg_size = CFG_SIZE,
    .cfg_read = blk_cfg,
    .notify = blk_notify,
};

struct vdev *vblk_create(struct vm *vm, struct vdisk *disk, const struct vm_disk_config *cfg,
                         int index)
{
	struct vblk_dev *b = kzalloc(sizeof(*b));
	if (!b)
		return NULL;
	b->disk = disk;
	b->ro = cfg->ro;
	memcpy(b->serial, cfg->serial, MIN(strlen(cfg->serial), sizeof(b->serial)));
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_GEOMETRY) |
	             (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH) |
	             (1ULL << VIRTIO_BLK_F_TOPOLOGY) | (cfg->ro ? 1ULL << VIRTIO_BLK_F_RO : 0);
	struct vdev *d = vdev_create(vm, &g_blk_ops, f, b, index);
	if (!d)
		kfree(b);
	return d;
}

bool vblk_is(const struct vdev *d)
{
	return d->ops == &g_blk_ops;
}

void vblk_destroy(struct vdev *d)
{
	kfree(d->priv);
	vdev_destroy(d);
}

const struct vblk_stats *vblk_stats(const struct vdev *d)
{
	return &((const struct vblk_dev *)d->priv)->st;
}
