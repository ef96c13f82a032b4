/* Output-commit frame buffer; see outbuf.h. */
#include "ha/outbuf.h"
#include "kernel/panic.h"
#include "kernel/string.h"

void outbuf_init(struct outbuf *b, struct outbuf_slot *slots, unsigned cap)
{
	ASSERT(slots && cap > 0);
	memset(b, 0, sizeof(*b));
	b->slot = slots;
	b->cap = cap;
}

bool outbuf_push(struct outbuf *b, uint64_t epoch, int port, const void *const *piece,
                 const size_t *plen, unsigned n, size_t len)
{
	if (len == 0 || len > OUTBUF_FRAME_MAX || b->count == b->cap) {
		b->dropped++;
		return false;
	}
	struct outbuf_slot *s = &b->slot[(b->head + b->count) % b->cap];
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		if (plen[i] > len - off) {
			b->dropped++;
			return false; /* the pieces add up to more than len: refuse */
		}
		memcpy(s->data + off, piece[i], plen[i]);
		off += plen[i];
	}
	if (off != len) {
		b->dropped++;
		return false;
	}
	/* epochs only grow: a frame never overtakes an older one */
	if (b->count) {
		const struct outbuf_slot *last = &b->slot[(b->head + b->count - 1) % b->cap];
		ASSERT(epoch >= last->epoch);
	}
	s->epoch = epoch;
	s->port = port;
	s->len = (uint16_t)len;
	b->count++;
	b->held++;
	b->bytes_held += len;
	return true;
}

bool outbuf_pop_ready(struct outbuf *b, uint64_t acked, struct outbuf_slot *out)
{
	if (!b->count || b->slot[b->head].epoch > acked)
		return false;
	const struct outbuf_slot *s = &b->slot[b->head];
	out->epoch = s->epoch;
	out->port = s->port;
	out->len = s->len;
	memcpy(out->data, s->data, s->len);
	b->head = (b->head + 1) % b->cap;
	b->count--;
	b->released++;
	return true;
}

unsigned outbuf_waiting(const struct outbuf *b)
{
	return b->count;
}
