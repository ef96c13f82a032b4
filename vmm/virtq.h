/*
 * Split virtqueues, device side (virtio v1.2 section 2.7); pure, host-tested and fuzzed.
 *
 * The guest driver owns the descriptor table and the available ring, so everything read from
 * them is untrusted. This file enforces what the specification only asks of drivers:
 *   - a chain has at most `size` descriptors (loops end there), `next` indices lie inside
 *     the table they index, the head index inside the queue;
 *   - indirect tables only with VIRTIO_F_INDIRECT_DESC, never nested, never with F_NEXT,
 *     length a non-zero multiple of 16 and at most `size` entries;
 *   - device-readable descriptors come before device-writable ones;
 *   - every buffer [addr, addr+len) lies in guest RAM without wrapping (gmem bounds checks);
 *   - the available index never runs more than `size` entries ahead of the used index;
 *   - the rings are aligned and lie wholly in RAM (checked when the queue is enabled).
 * Each descriptor is copied to local storage exactly once (an indirect table is copied whole
 * before it is walked), and each avail ring entry read once, so a driver changing guest
 * memory concurrently cannot make the device see two values of one field (no double fetch).
 * Ring indices are accessed with single aligned 16-bit loads and stores, with the barriers the
 * ring protocol needs (2.7.13 / 2.7.14), and used-ring writes mark the dirty log.
 *
 * A violation makes virtq_pop return a negative VQ_E_* code; the transport then marks the
 * device broken (DEVICE_NEEDS_RESET). Notification suppression: VIRTIO_F_EVENT_IDX (used_event
 * / avail_event) or, without it, the avail ring's NO_INTERRUPT flag.
 */
#ifndef TERN_VIRTQ_H
#define TERN_VIRTQ_H

#include "kernel/compiler.h"
#include "drivers/virtio.h"
#include "vmm/gmem.h"

#define VIRTQ_MAX_SIZE 256 /* the largest queue Tern's devices offer */

/* Errors from virtq_pop / virtq_check (negative). */
enum {
	VQ_E_RING = -1,         /* ring not in RAM or misaligned */
	VQ_E_AVAIL_IDX = -2,    /* avail idx more than `size` ahead */
	VQ_E_HEAD = -3,         /* head index >= size */
	VQ_E_NEXT = -4,         /* next index outside the table */
	VQ_E_LOOP = -5,         /* chain longer than the queue */
	VQ_E_RANGE = -6,        /* buffer outside guest RAM (or wrapping) */
	VQ_E_INDIRECT = -7,     /* indirect without the feature, or with F_NEXT */
	VQ_E_NESTED = -8,       /* indirect inside an indirect table */
	VQ_E_INDIRECT_LEN = -9, /* indirect table length */
	VQ_E_ORDER = -10,       /* device-readable descriptor after a writable one */
	VQ_E_SIZE = -11,        /* queue size not a power of two in [1, VIRTQ_MAX_SIZE] */
};

/* One buffer of a chain (len > 0, inside RAM). */
struct virtq_seg {
	uint64_t addr;
	uint32_t len;
};

/* A popped descriptor chain: nread device-readable segments, then nwrite writable ones. */
struct virtq_chain {
	uint16_t head;
	uint16_t nread, nwrite;
	uint64_t rlen, wlen; /* bytes in the readable / writable parts */
	struct virtq_seg seg[VIRTQ_MAX_SIZE];
};

struct virtq {
	/* configuration written by the driver through the transport */
	uint16_t size;
	bool ready;
	uint64_t desc, avail, used; /* guest-physical ring addresses */
	/* negotiated features */
	bool f_indirect, f_event_idx;
	/* device state (saved and restored) */
	uint16_t last_avail;     /* next avail ring slot the device takes */
	uint16_t used_idx;       /* next used slot; virtq_flush publishes it */
	uint16_t published;      /* used->idx as last written */
	uint16_t signalled_used; /* used idx when the interrupt decision was last made */
	bool signalled_valid;
	/* internal */
	struct gmem *mem;
	uint16_t avail_idx;               /* avail->idx as last read */
	uint8_t ind[VIRTQ_MAX_SIZE * 16]; /* the indirect table being walked (a private copy) */
};

/* virtq_reset: forget everything (device reset); size becomes max_size. */
void virtq_reset(struct virtq *q, uint16_t max_size);
/* virtq_check: the ring configuration is valid for mem (size, alignment, areas in RAM). */
int virtq_check(const struct virtq *q, const struct gmem *mem);
/* virtq_start: validate and make the queue live with these features (after restore too:
 * keeps last_avail/used_idx). Returns 0 or a VQ_E_* code. */
int virtq_start(struct virtq *q, struct gmem *mem, uint64_t features);
/* virtq_pop: the next available chain into c: 1, 0 when none, or a VQ_E_* error. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);
/* virtq_push: return chain head with len bytes written into its writable part. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* virtq_flush: publish the used index; true if the driver wants an interrupt now. */
bool virtq_flush(struct virtq *q);
/* virtq_arm: ask the driver to notify for the next buffer; true if buffers arrived already
 * (the caller processes them instead of waiting for a notification). */
bool virtq_arm(struct virtq *q);
/* virtq_pending: avail entries not yet taken (reads avail->idx); -1 if it is insane. */
int virtq_pending(struct virtq *q);
/* virtq_need_event: the event-index test of 2.7.10 (new crossed event since old). */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}
const char *virtq_strerror(int err);

/* Walking a chain's readable or writable bytes as (guest address, length) pieces. */
struct virtq_iter {
	const struct virtq_seg *seg;
	unsigned n, i;
	uint64_t off; /* offset inside seg[i] */
};
/* virtq_iter_init: start at byte `skip` of the readable (writable=false) or writable part. */
void virtq_iter_init(struct virtq_iter *it, const struct virtq_chain *c, bool writable,
                     uint64_t skip);
/* virtq_iter_next: the next piece of at most max bytes; false at the end. */
bool virtq_iter_next(struct virtq_iter *it, uint64_t max, uint64_t *gpa, uint64_t *len);
/* virtq_read / virtq_write: copy between buf and the chain's readable / writable bytes starting
 * at off; return the bytes copied (less at the end of the part or if RAM access fails). */
size_t virtq_read(const struct gmem *m, const struct virtq_chain *c, uint64_t off, void *buf,
                  size_t len);
size_t virtq_write(struct gmem *m, const struct virtq_chain *c, uint64_t off, const void *buf,
                   size_t len);

#endif
