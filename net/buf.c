/*
 * Buffer memory: every allocation the stack makes (connections, queued send data, out-of-order
 * segments, frames waiting for ARP) goes through the caller's allocator with a per-stack byte
 * limit, so a flood cannot exhaust the kernel heap. Also the token buckets used to rate-limit
 * replies to untrusted input.
 */
#include "net/net_internal.h"

/* Each block carries its size in a 16-byte header (keeps 16-byte alignment). */
struct mem_hdr {
	size_t size;
	size_t magic;
};
#define MEM_MAGIC 0x6e657462756621ULL

/* net_alloc: memory within the stack's limit (NULL on failure, counted). */
void *net_alloc(struct net_stack *s, size_t size)
{
	size_t total = size + sizeof(struct mem_hdr);
	if (total < size || s->stats.mem_used + total > s->cfg.mem_limit) {
		s->stats.alloc_failures++;
		return NULL;
	}
	struct mem_hdr *h = s->mem.alloc(s->mem.ctx, total);
	if (!h) {
		s->stats.alloc_failures++;
		return NULL;
	}
	h->size = total;
	h->magic = MEM_MAGIC;
	s->stats.mem_used += total;
	if (s->stats.mem_used > s->stats.mem_peak)
		s->stats.mem_peak = s->stats.mem_used;
	return h + 1;
}

/* net_zalloc: zeroed net_alloc. */
void *net_zalloc(struct net_stack *s, size_t size)
{
	void *p = net_alloc(s, size);
	if (p)
		memset(p, 0, size);
	return p;
}

/* net_free: give back memory from net_alloc (NULL is ignored). */
void net_free(struct net_stack *s, void *p)
{
	if (!p)
		return;
	struct mem_hdr *h = (struct mem_hdr *)p - 1;
	ASSERT(h->magic == MEM_MAGIC && h->size <= s->stats.mem_used);
	h->magic = 0;
	s->stats.mem_used -= h->size;
	s->mem.free(s->mem.ctx, h);
}

/* net_bucket_take: token-bucket rate limit; true if one token was available. */
bool net_bucket_take(struct net_bucket *b, uint64_t now_us)
{
	if (b->rate == 0)
		return true; /* unlimited */
	if (now_us - b->last_us >= 1000000) {
		b->tokens = b->rate;
		b->last_us = now_us;
	} else if (now_us > b->last_us) {
		uint64_t add = (now_us - b->last_us) * b->rate / 1000000;
		if (add) {
			uint64_t t = b->tokens + add;
			b->tokens = t > b->rate ? b->rate : (uint32_t)t;
			b->last_us = now_us;
		}
	}
	if (b->tokens == 0)
		return false;
	b->tokens--;
	return true;
}

/* net_drop: count a dropped packet (and on nif, if given, as an rx drop). */
void net_drop(struct net_stack *s, struct netif *nif, enum net_drop_reason r)
{
	if ((unsigned)r < NET_DROP__COUNT)
		s->stats.drops[r]++;
	if (nif)
		nif->stats.rx_dropped++;
}
