/* Split virtqueues, device side; see virtq.h. */
#include "vmm/virtq.h"
#include "kernel/endian.h"
#include "kernel/string.h"

/* Ring layout (2.7.6, 2.7.8): flags u16, idx u16, ring[size], then the event field. */
#define RING_FLAGS 0
#define RING_IDX   2
#define RING_ENTS  4
#define DESC_SIZE  16
#define USED_ELEM  8

/* Full barrier: orders the store of an index against the load of the other side's event
 * field (the store-load case x86 does not order by itself). */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static uint64_t desc_bytes(uint16_t size)
{
	return (uint64_t)size * DESC_SIZE;
}

static uint64_t avail_bytes(uint16_t size)
{
	return 6 + 2ULL * size; /* flags, idx, ring, used_event */
}

static uint64_t used_bytes(uint16_t size)
{
	return 6 + 8ULL * size; /* flags, idx, ring, avail_event */
}

/* ld16 / st16: one aligned 16-bit access to a ring field (never torn, never repeated). */
static bool ld16(const struct virtq *q, uint64_t gpa, uint16_t *v)
{
	uint16_t *p = gmem_hva(q->mem, gpa, 2);
	if (!p || (gpa & 1))
		return false;
	*v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	return true;
}

static void st16(struct virtq *q, uint64_t gpa, uint16_t v)
{
	uint16_t *p = gmem_hva(q->mem, gpa, 2);
	if (!p || (gpa & 1))
		return;
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	gmem_mark_dirty(q->mem, gpa, 2);
}

void virtq_reset(struct virtq *q, uint16_t max_size)
{
	struct gmem *mem = q->mem;
	memset(q, 0, offsetof(struct virtq, ind));
	q->mem = mem;
	q->size = max_size;
}

int virtq_check(const struct virtq *q, const struct gmem *mem)
{
	uint16_t s = q->size;
	if (s == 0 || s > VIRTQ_MAX_SIZE || (s & (s - 1)))
		return VQ_E_SIZE;
	if (!IS_ALIGNED(q->desc, 16) || !IS_ALIGNED(q->avail, 2) || !IS_ALIGNED(q->used, 4))
		return VQ_E_RING;
	if (!gmem_is_ram(mem, q->desc, desc_bytes(s)) ||
	    !gmem_is_ram(mem, q->avail, avail_bytes(s)) ||
	    !gmem_is_ram(mem, q->used, used_bytes(s)))
		return VQ_E_RING;
	return 0;
}

int virtq_start(struct virtq *q, struct gmem *mem, uint64_t features)
{
	int rc = virtq_check(q, mem);
	if (rc)
		return rc;
	q->mem = mem;
	q->f_indirect = (features >> VIRTIO_F_INDIRECT_DESC) & 1;
	q->f_event_idx = (features >> VIRTIO_F_EVENT_IDX) & 1;
	q->avail_idx = q->last_avail; /* re-read avail->idx on the next pop */
	q->ready = true;
	return 0;
}

/* read_avail_idx: avail->idx, rejecting a driver that claims more than `size` outstanding. */
static int read_avail_idx(struct virtq *q)
{
	uint16_t idx;
	if (!ld16(q, q->avail + RING_IDX, &idx))
		return VQ_E_RING;
	if ((uint16_t)(idx - q->used_idx) > q->size)
		return VQ_E_AVAIL_IDX;
	q->avail_idx = idx;
	return 0;
}

int virtq_pending(struct virtq *q)
{
	if (!q->ready)
		return 0;
	if (read_avail_idx(q) < 0)
		return -1;
	return (uint16_t)(q->avail_idx - q->last_avail);
}

/* parse_desc: a descriptor from its 16 little-endian bytes. */
static void parse_desc(const uint8_t *b, struct virtq_desc *d)
{
	d->addr = le64_load(b);
	d->len = le32_load(b + 8);
	d->flags = le16_load(b + 12);
	d->next = le16_load(b + 14);
}

/* add_seg: one buffer of the chain, after the range and order checks. */
static int add_seg(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	if (d->len == 0)
		return 0; /* nothing to transfer; still counted against the chain length */
	if (!gmem_is_ram(q->mem, d->addr, d->len))
		return VQ_E_RANGE;
	struct virtq_seg *s = &c->seg[c->nread + c->nwrite];
	s->addr = d->addr;
	s->len = d->len;
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		c->nwrite++;
		c->wlen += d->len;
	} else {
		if (c->nwrite)
			return VQ_E_ORDER;
		c->nread++;
		c->rlen += d->len;
	}
	return 0;
}

/* load_indirect: copy a whole indirect table once; returns its entry count or an error. */
static int load_indirect(struct virtq *q, const struct virtq_desc *d, bool nested)
{
	if (!q->f_indirect || (d->flags & VIRTQ_DESC_F_NEXT))
		return VQ_E_INDIRECT;
	if (nested)
		return VQ_E_NESTED;
	if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > q->size)
		return VQ_E_INDIRECT_LEN;
	if (!gmem_read(q->mem, d->addr, q->ind, d->len))
		return VQ_E_RANGE;
	return (int)(d->len / DESC_SIZE);
}

/* walk: follow the chain from head, direct descriptors then at most one indirect table. */
static int walk(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	c->head = head;
	c->nread = c->nwrite = 0;
	c->rlen = c->wlen = 0;
	if (head >= q->size)
		return VQ_E_HEAD;
	unsigned count = 0, table_len = 0; /* table_len > 0 while inside an indirect table */
	uint16_t i = head;
	for (;;) {
		struct virtq_desc d;
		uint8_t raw[DESC_SIZE];
		if (table_len) {
			memcpy(raw, q->ind + (size_t)i * DESC_SIZE, DESC_SIZE);
		} else if (!gmem_read(q->mem, q->desc + (uint64_t)i * DESC_SIZE, raw, DESC_SIZE)) {
			return VQ_E_RING;
		}
		parse_desc(raw, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			int n = load_indirect(q, &d, table_len != 0);
			if (n < 0)
				return n;
			table_len = (unsigned)n;
			i = 0;
			continue;
		}
		if (++count > q->size)
			return VQ_E_LOOP;
		int rc = add_seg(q, c, &d);
		if (rc)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= (table_len ? table_len : q->size))
			return VQ_E_NEXT;
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->ready)
		return 0;
	if (q->last_avail == q->avail_idx) {
		int rc = read_avail_idx(q);
		if (rc)
			return rc;
		if (q->last_avail == q->avail_idx)
			return 0;
	}
	uint16_t head;
	if (!ld16(q, q->avail + RING_ENTS + 2ULL * (q->last_avail & (q->size - 1)), &head))
		return VQ_E_RING;
	q->last_avail++;
	return walk(q, head, c);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint8_t e[USED_ELEM];
	le32_store(e, head);
	le32_store(e + 4, len);
	gmem_write(q->mem,
	           q->used + RING_ENTS + (uint64_t)USED_ELEM * (q->used_idx & (q->size - 1)), e,
	           USED_ELEM);
	q->used_idx++;
}

bool virtq_flush(struct virtq *q)
{
	if (!q->ready || q->published == q->used_idx)
		return false;
	st16(q, q->used + RING_IDX, q->used_idx); /* release: the elements are visible first */
	q->published = q->used_idx;
	mb();
	if (q->f_event_idx) {
		uint16_t event, old = q->signalled_used;
		bool valid = q->signalled_valid;
		q->signalled_used = q->used_idx;
		q->signalled_valid = true;
		if (!ld16(q, q->avail + RING_ENTS + 2ULL * q->size, &event))
			return true;
		return !valid || virtq_need_event(event, q->used_idx, old);
	}
	uint16_t flags;
	if (!ld16(q, q->avail + RING_FLAGS, &flags))
		return true;
	return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

bool virtq_arm(struct virtq *q)
{
	if (!q->ready)
		return false;
	if (q->f_event_idx)
		st16(q, q->used + RING_ENTS + (uint64_t)USED_ELEM * q->size, q->last_avail);
	else
		st16(q, q->used + RING_FLAGS, 0);
	mb();
	uint16_t idx;
	if (!ld16(q, q->avail + RING_IDX, &idx))
		return false;
	return idx != q->last_avail;
}

const char *virtq_strerror(int err)
{
	switch (err) {
	case VQ_E_RING:
		return "ring outside guest RAM or misaligned";
	case VQ_E_AVAIL_IDX:
		return "available index more than the queue size ahead";
	case VQ_E_HEAD:
		return "head descriptor index out of range";
	case VQ_E_NEXT:
		return "next descriptor index out of range";
	case VQ_E_LOOP:
		return "descriptor chain longer than the queue (loop?)";
	case VQ_E_RANGE:
		return "buffer outside guest RAM";
	case VQ_E_INDIRECT:
		return "indirect descriptor not negotiated or with F_NEXT";
	case VQ_E_NESTED:
		return "nested indirect table";
	case VQ_E_INDIRECT_LEN:
		return "bad indirect table length";
	case VQ_E_ORDER:
		return "device-readable buffer after a writable one";
	case VQ_E_SIZE:
		return "bad queue size";
	default:
		return "virtqueue error";
	}
}

/* ---- chain data ------------------------------------------------------------------------ */

void virtq_iter_init(struct virtq_iter *it, const struct virtq_chain *c, bool writable,
                     uint64_t skip)
{
	it->seg = c->seg + (writable ? c->nread : 0);
	it->n = writable ? c->nwrite : c->nread;
	it->i = 0;
	it->off = 0;
	while (it->i < it->n && skip >= it->seg[it->i].len - it->off) {
		skip -= it->seg[it->i].len - it->off;
		it->i++;
	}
	it->off += skip * (it->i < it->n);
}

bool virtq_iter_next(struct virtq_iter *it, uint64_t max, uint64_t *gpa, uint64_t *len)
{
	if (it->i >= it->n || max == 0)
		return false;
	const struct virtq_seg *s = &it->seg[it->i];
	uint64_t n = MIN(max, s->len - it->off);
	*gpa = s->addr + it->off;
	*len = n;
	it->off += n;
	if (it->off == s->len) {
		it->i++;
		it->off = 0;
	}
	return true;
}

size_t virtq_read(const struct gmem *m, const struct virtq_chain *c, uint64_t off, void *buf,
                  size_t len)
{
	struct virtq_iter it;
	uint64_t gpa, n;
	size_t done = 0;
	virtq_iter_init(&it, c, false, off);
	while (done < len && virtq_iter_next(&it, len - done, &gpa, &n)) {
		if (!gmem_read(m, gpa, (uint8_t *)buf + done, n))
			break;
		done += n;
	}
	return done;
}

size_t virtq_write(struct gmem *m, const struct virtq_chain *c, uint64_t off, const void *buf,
                   size_t len)
{
	struct virtq_iter it;
	uint64_t gpa, n;
	size_t done = 0;
	virtq_iter_init(&it, c, true, off);
	while (done < len && virtq_iter_next(&it, len - done, &gpa, &n)) {
		if (!gmem_write(m, gpa, (const uint8_t *)buf + done, n))
			break;
		done += n;
	}
	return done;
}
