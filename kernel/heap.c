/*
 * kmalloc/kfree. Every block carries a 16-byte header naming its class, so kfree needs no size.
 * Classes are 32..4096 bytes (header included); bigger requests take whole pages.
 */
#include "kernel/heap.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"

#define HEAP_MAGIC 0x48656170u /* "Heap" */
#define HEAP_FREED 0x46726565u /* "Free" */
#define MIN_SHIFT  5
#define MAX_SHIFT  12
#define NCLASSES   (MAX_SHIFT - MIN_SHIFT + 1)
#define LARGE_FLAG 0x100u

struct hdr {
	uint32_t magic;
	uint32_t cls; /* size class index, or LARGE_FLAG | page order */
	uint64_t size;
};

struct free_obj {
	uint32_t magic; /* HEAP_FREED, overlays hdr.magic */
	uint32_t pad;
	struct free_obj *next;
};

static struct free_obj *g_free[NCLASSES];
static struct spinlock g_lock = SPINLOCK_INIT("heap");
static uint64_t g_in_use, g_allocs;

/* class_of: smallest class whose blocks hold n bytes (header included). */
static int class_of(size_t n)
{
	int c = 0;
	while ((1UL << (MIN_SHIFT + c)) < n)
		c++;
	return c;
}

/* refill: carve one fresh page into blocks of class c (lock held). */
static bool refill(int c)
{
	uint64_t pa = pmm_alloc(0);
	if (!pa)
		return false;
	size_t bs = 1UL << (MIN_SHIFT + c);
	char *page = P2V(pa);
	for (size_t off = 0; off + bs <= PAGE_SIZE; off += bs) {
		struct free_obj *o = (struct free_obj *)(page + off);
		o->magic = HEAP_FREED;
		o->next = g_free[c];
		g_free[c] = o;
	}
	return true;
}

/* kmalloc: uninitialised memory of at least size bytes, 16-byte aligned; NULL if none. */
void *kmalloc(size_t size)
{
	if (size > (1ULL << 40))
		return NULL;
	size_t need = size + sizeof(struct hdr);
	struct hdr *h;
	if (need > (1UL << MAX_SHIFT)) {
		unsigned order = pmm_order_for(need);
		uint64_t pa = pmm_alloc(order);
		if (!pa)
			return NULL;
		h = P2V(pa);
		h->cls = LARGE_FLAG | order;
	} else {
		int c = class_of(need);
		spin_lock(&g_lock);
		if (!g_free[c] && !refill(c)) {
			spin_unlock(&g_lock);
			return NULL;
		}
		h = (struct hdr *)g_free[c];
		g_free[c] = g_free[c]->next;
		spin_unlock(&g_lock);
		h->cls = c;
	}
	h->magic = HEAP_MAGIC;
	h->size = size;
	__atomic_add_fetch(&g_in_use, size, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_allocs, 1, __ATOMIC_RELAXED);
	return h + 1;
}

/* kzalloc: zeroed kmalloc. */
void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

/* kfree: release a kmalloc block; panics on a corrupted or doubly freed header. */
void kfree(void *p)
{
	if (!p)
		return;
	struct hdr *h = (struct hdr *)p - 1;
	if (h->magic != HEAP_MAGIC)
		panic("kfree(%p): bad header %#x%s", p, h->magic,
		      h->magic == HEAP_FREED ? " (double free)" : "");
	h->magic = HEAP_FREED;
	__atomic_sub_fetch(&g_in_use, h->size, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&g_allocs, 1, __ATOMIC_RELAXED);
	if (h->cls & LARGE_FLAG) {
		pmm_free(V2P(h), h->cls & 0xff);
		return;
	}
	ASSERT(h->cls < NCLASSES);
	spin_lock(&g_lock);
	struct free_obj *o = (struct free_obj *)h;
	o->magic = HEAP_FREED;
	o->next = g_free[h->cls];
	g_free[h->cls] = o;
	spin_unlock(&g_lock);
}

/* heap_get_stats: bytes requested and blocks outstanding. */
void heap_get_stats(struct heap_stats *s)
{
	s->bytes_in_use = g_in_use;
	s->allocations = g_allocs;
}
