/*
 * Output commit (Remus): a FIFO of frames an HA guest sent, each tagged with the checkpoint
 * epoch it was sent in. Frames of epoch e may leave the host only once checkpoint e (the
 * state that produced them) is acknowledged by the standby: after a failover the network
 * never sees anything from a future the standby does not have. Pure: storage is the caller's,
 * the caller serialises calls (one lock).
 */
#ifndef TERN_HA_OUTBUF_H
#define TERN_HA_OUTBUF_H

#include "kernel/compiler.h"

#define OUTBUF_FRAME_MAX 1518 /* VSW_MAX_FRAME */

struct outbuf_slot {
	uint64_t epoch;
	int port;
	uint16_t len;
	uint8_t data[OUTBUF_FRAME_MAX];
};

struct outbuf {
	struct outbuf_slot *slot; /* cap slots, caller-provided */
	unsigned cap, head, count;
	uint64_t held, released, dropped, bytes_held; /* counters */
};

/* outbuf_init: an empty buffer over cap slots. */
void outbuf_init(struct outbuf *b, struct outbuf_slot *slots, unsigned cap);
/* outbuf_push: keep a frame (gather list of pieces) of epoch; false (dropped) if full or
 * the frame is empty or too large. */
bool outbuf_push(struct outbuf *b, uint64_t epoch, int port, const void *const *piece,
                 const size_t *plen, unsigned n, size_t len);
/* outbuf_pop_ready: the oldest frame if its epoch <= acked, copied out; false if none. */
bool outbuf_pop_ready(struct outbuf *b, uint64_t acked, struct outbuf_slot *out);
/* outbuf_waiting: frames held. */
unsigned outbuf_waiting(const struct outbuf *b);

#endif
