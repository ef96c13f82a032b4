/*
 * virtio-blk requests (virtio v1.2 section 5.2) against a vdisk; pure, host-tested and fuzzed.
 *
 * A request is one descriptor chain: a 16-byte device-readable header (type, reserved,
 * sector), the data (device-readable for writes, device-writable for reads), and a final
 * device-writable status byte. The layout is taken as a byte stream, not as descriptor
 * boundaries (VIRTIO_F_VERSION_1 implies any layout). The header is copied once; data moves
 * directly between guest memory and the disk's extents.
 */
#ifndef TERN_VBLK_H
#define TERN_VBLK_H

#include "kernel/compiler.h"
#include "vmm/vdisk.h"
#include "vmm/virtq.h"

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

struct vblk_stats {
	uint64_t reads, writes, flushes, ids, bytes_read, bytes_written;
	uint64_t errors; /* IOERR: out of range, read-only, misaligned, out of memory */
	uint64_t unsupported;
	uint64_t malformed; /* no room for the header or the status byte: returned unanswered */
};

/* vblk_handle: execute the request in c; returns the bytes written into the chain (the used
 * length). A read-only disk fails writes with IOERR. */
uint32_t vblk_handle(struct vdisk *d, bool ro, const char serial[VIRTIO_BLK_ID_BYTES],
                     struct gmem *m, const struct virtq_chain *c, struct vblk_stats *st);

#endif
