/* virtio-blk request execution; see vblk.h. */
#include "vmm/vblk.h"
#include "kernel/endian.h"
#include "kernel/string.h"

#define HDR_BYTES 16

/* data_ok: [sector*512, +len) is inside the disk and len a whole number of sectors. */
static bool data_ok(const struct vdisk *d, uint64_t sector, uint64_t len)
{
	if (len % VDISK_SECTOR || sector > (UINT64_MAX >> 9))
		return false;
	return range_within(sector << 9, len, 0, d->size);
}

/* transfer: move len bytes between the disk at off and the chain part starting at skip. */
static bool transfer(struct vdisk *d, struct gmem *m, const struct virtq_chain *c, bool to_guest,
                     uint64_t skip, uint64_t off, uint64_t len)
{
	struct virtq_iter it;
	uint64_t gpa, n, done = 0;
	virtq_iter_init(&it, c, to_guest, skip);
	while (done < len && virtq_iter_next(&it, len - done, &gpa, &n)) {
		bool ok = to_guest ? vdisk_to_guest(d, off + done, m, gpa, n)
		                   : vdisk_from_guest(d, off + done, m, gpa, n);
		if (!ok)
			return false;
		done += n;
	}
	return done == len;
}

uint32_t vblk_handle(struct vdisk *d, bool ro, const char serial[VIRTIO_BLK_ID_BYTES],
                     struct gmem *m, const struct virtq_chain *c, struct vblk_stats *st)
{
	uint8_t hdr[HDR_BYTES];
	if (c->rlen < HDR_BYTES || c->wlen < 1 || c->wlen > UINT32_MAX ||
	    virtq_read(m, c, 0, hdr, HDR_BYTES) != HDR_BYTES) {
		st->malformed++;
		return 0;
	}
	uint32_t type = le32_load(hdr);
	uint64_t sector = le64_load(hdr + 8);
	uint64_t din = c->wlen - 1;          /* room for read data */
	uint64_t dout = c->rlen - HDR_BYTES; /* bytes to write */
	uint8_t status = VIRTIO_BLK_S_OK;
	uint32_t used = 1;
	switch (type) {
	case VIRTIO_BLK_T_IN:
		st->reads++;
		if (!data_ok(d, sector, din) || !transfer(d, m, c, true, 0, sector << 9, din)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		st->bytes_read += din;
		used = (uint32_t)(din + 1);
		break;
	case VIRTIO_BLK_T_OUT:
		st->writes++;
		if (ro || !data_ok(d, sector, dout) ||
		    !transfer(d, m, c, false, HDR_BYTES, sector << 9, dout)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		st->bytes_written += dout;
		break;
	case VIRTIO_BLK_T_FLUSH:
		st->flushes++; /* memory-backed: every completed write is already durable */
		break;
	case VIRTIO_BLK_T_GET_ID: {
		st->ids++;
		size_t n = (size_t)MIN(din, (uint64_t)VIRTIO_BLK_ID_BYTES);
		used = (uint32_t)(virtq_write(m, c, 0, serial, n) + 1);
		break;
	}
	default:
		st->unsupported++;
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (status == VIRTIO_BLK_S_IOERR)
		st->errors++;
	if (virtq_write(m, c, c->wlen - 1, &status, 1) != 1)
		return 0;
	return used;
}
