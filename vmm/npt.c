/* Nested page tables, vendor-neutral; see npt.h. Pure apart from npt_kernel_mem. */
#include "vmm/npt.h"
#include "kernel/bitmap.h"
#include "vmm/gmem.h"

#define LEVELS          4
#define ENTRIES         512
#define IDX(gpa, level) (((gpa) >> (12 + 9 * (level))) & (ENTRIES - 1))

/* table_va: the entries of the table at hpa. */
static uint64_t *table_va(struct npt *n, uint64_t hpa)
{
	return n->mem->hva(hpa);
}

bool npt_init(struct npt *n, const struct npt_format *fmt, const struct npt_mem_ops *mem)
{
	n->fmt = fmt;
	n->mem = mem;
	n->logging = n->hw_log = n->wp_log = false;
	n->table_pages = 0;
	spin_init(&n->lock, "npt");
	n->root = 0; /* npt_destroy has nothing to free if the allocation fails */
	if (!mem->alloc(&n->root))
		return false;
	n->table_pages = 1;
	return true;
}

/* slot: the entry for gpa at level, creating missing tables above it if create; NULL on no
 * memory, or if a table is missing and !create. */
static uint64_t *slot(struct npt *n, uint64_t gpa, int level, bool create)
{
	uint64_t *t = table_va(n, n->root);
	for (int l = LEVELS - 1; l > level; l--) {
		uint64_t *e = &t[IDX(gpa, l)];
		if (!n->fmt->present(*e)) {
			uint64_t hpa;
			if (!create)
				return NULL;
			if (!n->mem->alloc(&hpa))
				return NULL;
			n->table_pages++;
			*e = n->fmt->table(hpa);
		} else if (l <= 2 && (*e & n->fmt->large_bit)) {
			return NULL; /* a large leaf is in the way: caller maps at its level */
		}
		t = table_va(n, *e & n->fmt->addr_mask);
	}
	return &t[IDX(gpa, level)];
}

static void free_level(struct npt *n, uint64_t hpa, int l);

/* npt_map: large pages where alignment allows, 4 KiB elsewhere. */
bool npt_map(struct npt *n, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm)
{
	const uint64_t big = 1ULL << 21;
	bool ok = true;
	if (gpa >= NPT_GPA_LIMIT || size > NPT_GPA_LIMIT - gpa)
		return false;
	spin_lock(&n->lock);
	for (uint64_t off = 0; off < size && ok;) {
		int level = (!n->logging && IS_ALIGNED(gpa + off, big) &&
		             IS_ALIGNED(hpa + off, big) && size - off >= big)
		                ? 1
		                : 0;
		uint64_t *e = slot(n, gpa + off, level, true);
		if (!e) {
			ok = false;
			break;
		}
		if (level && n->fmt->present(*e) && !(*e & n->fmt->large_bit)) {
			/* a 2 MiB page replaces a table of 4 KiB ones: free that table */
			free_level(n, *e & n->fmt->addr_mask, 0);
			n->table_pages--;
		}
		*e = n->fmt->leaf(hpa + off, level, perm);
		off += level ? big : 4096;
	}
	spin_unlock(&n->lock);
	return ok;
}

/* leaf_entry: the leaf mapping gpa and its level, or NULL (lock held). */
static uint64_t *leaf_entry(struct npt *n, uint64_t gpa, int *level)
{
	uint64_t *t = table_va(n, n->root);
	for (int l = LEVELS - 1; l >= 0; l--) {
		uint64_t *e = &t[IDX(gpa, l)];
		if (!n->fmt->present(*e))
			return NULL;
		if (l == 0 || (l <= 2 && (*e & n->fmt->large_bit))) {
			*level = l;
			return e;
		}
		t = table_va(n, *e & n->fmt->addr_mask);
	}
	return NULL;
}

bool npt_lookup(struct npt *n, uint64_t gpa, uint64_t *hpa, unsigned *level)
{
	int l;
	if (gpa >= NPT_GPA_LIMIT)
		return false; /* would alias a lower address: the tables index 48 bits */
	spin_lock(&n->lock);
	uint64_t *e = leaf_entry(n, gpa, &l);
	bool ok = e != NULL;
	if (ok) {
		uint64_t page = 1ULL << (12 + 9 * l);
		*hpa = (*e & n->fmt->addr_mask & ~(page - 1)) | (gpa & (page - 1));
		*level = (unsigned)l;
	}
	spin_unlock(&n->lock);
	return ok;
}

void npt_unmap(struct npt *n, uint64_t gpa, uint64_t size)
{
	if (gpa >= NPT_GPA_LIMIT)
		return;
	size = MIN(size, NPT_GPA_LIMIT - gpa);
	spin_lock(&n->lock);
	for (uint64_t off = 0; off < size;) {
		int l;
		uint64_t *e = leaf_entry(n, gpa + off, &l);
		uint64_t step = 1ULL << (12 + 9 * (e ? l : 0));
		if (e)
			*e = 0;
		off += step - ((gpa + off) & (step - 1));
	}
	spin_unlock(&n->lock);
}

/* free_level: free the tables below entry table t at level l. */
static void free_level(struct npt *n, uint64_t hpa, int l)
{
	uint64_t *t = table_va(n, hpa);
	if (l > 0) {
		for (int i = 0; i < ENTRIES; i++) {
			uint64_t e = t[i];
			if (n->fmt->present(e) && !(l <= 2 && (e & n->fmt->large_bit)))
				free_level(n, e & n->fmt->addr_mask, l - 1);
		}
	}
	n->mem->free(hpa);
}

void npt_destroy(struct npt *n)
{
	if (n->root)
		free_level(n, n->root, LEVELS - 1);
	n->root = 0;
	n->table_pages = 0;
}

/* split: replace the 2 MiB leaf *e by a table of 4 KiB leaves with the same permissions. */
static bool split(struct npt *n, uint64_t *e)
{
	uint64_t pt_hpa;
	uint64_t *pt = n->mem->alloc(&pt_hpa);
	if (!pt)
		return false;
	n->table_pages++;
	uint64_t base = *e & n->fmt->addr_mask & ~((1ULL << 21) - 1);
	unsigned perm = n->fmt->perm(*e);
	for (int i = 0; i < ENTRIES; i++)
		pt[i] = n->fmt->leaf(base + ((uint64_t)i << 12), 0, perm);
	__atomic_store_n(e, n->fmt->table(pt_hpa), __ATOMIC_RELEASE);
	return true;
}

/* for_each_ram_pde: call fn on the level-1 entry of every 2 MiB block of guest RAM. */
static bool for_each_ram_pde(struct npt *n, const struct gmem *m,
                             bool (*fn)(struct npt *n, const struct gmem *m, uint64_t gpa,
                                        uint64_t *pde, uint64_t *arg),
                             uint64_t *arg)
{
	for (int s = 0; s < m->nslots; s++) {
		for (uint64_t off = 0; off < m->slot[s].size; off += 1ULL << 21) {
			uint64_t gpa = m->slot[s].gpa + off;
			uint64_t *pde = slot(n, gpa, 1, false);
			if (!pde) {
				/* no tables there (RAM not mapped: nothing to allocate for it) or a
				 * 1 GiB leaf, which npt_map never creates */
				continue;
			}
			if (!fn(n, m, gpa, pde, arg))
				return false;
		}
	}
	return true;
}

/* set_writable: a present 4 KiB leaf with its write permission on or off (rebuilt from the
 * format: the hardware-set bits are dropped, which the write-protect mode does not use). */
static void set_writable(struct npt *n, uint64_t *e, bool on)
{
	uint64_t old = __atomic_load_n(e, __ATOMIC_RELAXED);
	if (!n->fmt->present(old))
		return;
	unsigned perm = n->fmt->perm(old);
	perm = on ? perm | NPT_W : perm & ~NPT_W;
	__atomic_store_n(e, n->fmt->leaf(old & n->fmt->addr_mask, 0, perm), __ATOMIC_RELEASE);
}

/* start_fn: split one block and clear dirty bits of its 4 KiB entries (wp_log: write-protect
 * them). */
static bool start_fn(struct npt *n, const struct gmem *m, uint64_t gpa, uint64_t *pde,
                     uint64_t *arg)
{
	(void)m, (void)gpa, (void)arg;
	if (!n->fmt->present(*pde))
		return true;
	if ((*pde & n->fmt->large_bit) && !split(n, pde))
		return false;
	uint64_t *pt = table_va(n, *pde & n->fmt->addr_mask);
	for (int i = 0; i < ENTRIES; i++) {
		__atomic_fetch_and(&pt[i], ~n->fmt->dirty_bit, __ATOMIC_RELAXED);
		if (n->wp_log)
			set_writable(n, &pt[i], false);
	}
	return true;
}

/* unprotect_fn: one block's 4 KiB RAM entries writable again (RAM is always mapped RWX). */
static bool unprotect_fn(struct npt *n, const struct gmem *m, uint64_t gpa, uint64_t *pde,
                         uint64_t *arg)
{
	(void)m, (void)gpa, (void)arg;
	if (!n->fmt->present(*pde) || (*pde & n->fmt->large_bit))
		return true;
	uint64_t *pt = table_va(n, *pde & n->fmt->addr_mask);
	for (int i = 0; i < ENTRIES; i++)
		set_writable(n, &pt[i], true);
	return true;
}

bool npt_dirty_log_start(struct npt *n, const struct gmem *m)
{
	spin_lock(&n->lock);
	n->logging = true;
	bool ok = for_each_ram_pde(n, m, start_fn, NULL);
	spin_unlock(&n->lock);
	return ok;
}

/* harvest_fn: move the dirty bits of one block's 4 KiB entries into the bitmap. */
static bool harvest_fn(struct npt *n, const struct gmem *m, uint64_t gpa, uint64_t *pde,
                       uint64_t *arg)
{
	uint64_t *bitmap = (uint64_t *)arg[0];
	if (!n->fmt->present(*pde) || (*pde & n->fmt->large_bit))
		return true; /* logging keeps RAM in 4 KiB pages; nothing to harvest otherwise */
	uint64_t first;
	if (!gmem_page_index(m, gpa, &first))
		return true;
	uint64_t *pt = table_va(n, *pde & n->fmt->addr_mask);
	for (int i = 0; i < ENTRIES; i++) {
		if (!(__atomic_load_n(&pt[i], __ATOMIC_RELAXED) & n->fmt->dirty_bit))
			continue;
		uint64_t old = __atomic_fetch_and(&pt[i], ~n->fmt->dirty_bit, __ATOMIC_ACQ_REL);
		if (old & n->fmt->dirty_bit) {
			bitmap_set(bitmap, first + (uint64_t)i);
			arg[1]++;
		}
	}
	return true;
}

uint64_t npt_dirty_harvest(struct npt *n, const struct gmem *m, uint64_t *bitmap)
{
	uint64_t arg[2] = {(uint64_t)bitmap, 0};
	spin_lock(&n->lock);
	for_each_ram_pde(n, m, harvest_fn, arg);
	spin_unlock(&n->lock);
	return arg[1];
}

void npt_dirty_log_stop(struct npt *n, const struct gmem *m)
{
	spin_lock(&n->lock);
	n->logging = false; /* 4 KiB mappings stay: correct, just a little slower */
	if (n->wp_log)
		for_each_ram_pde(n, m, unprotect_fn, NULL);
	n->wp_log = false;
	spin_unlock(&n->lock);
}

uint64_t npt_dirty_take(struct npt *n, const struct gmem *m, uint64_t *log, uint64_t *out)
{
	uint64_t moved = 0;
	spin_lock(&n->lock);
	for (uint64_t w = 0; w < BITMAP_WORDS(m->npages); w++) {
		if (!__atomic_load_n(&log[w], __ATOMIC_RELAXED))
			continue;
		uint64_t bits = __atomic_exchange_n(&log[w], 0, __ATOMIC_ACQ_REL);
		out[w] |= bits;
		moved += popcount64(bits);
		for (; bits; bits &= bits - 1) {
			uint64_t gpa;
			int l;
			if (!gmem_index_to_gpa(m, w * 64 + (uint64_t)__builtin_ctzll(bits), &gpa))
				continue;
			uint64_t *e = leaf_entry(n, gpa, &l);
			if (!e)
				continue;
			__atomic_fetch_and(e, ~n->fmt->dirty_bit, __ATOMIC_RELAXED);
			if (n->wp_log && l == 0)
				set_writable(n, e, false);
		}
	}
	spin_unlock(&n->lock);
	return moved;
}

uint64_t npt_dirty_peek(struct npt *n, const struct gmem *m, uint64_t first, uint32_t count,
                        uint64_t *out)
{
	uint64_t found = 0;
	spin_lock(&n->lock);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t gpa;
		int l;
		if (!gmem_index_to_gpa(m, first + i, &gpa))
			break;
		uint64_t *e = leaf_entry(n, gpa, &l);
		if (e && l == 0 && (__atomic_load_n(e, __ATOMIC_RELAXED) & n->fmt->dirty_bit)) {
			bitmap_set(out, i);
			found++;
		}
	}
	spin_unlock(&n->lock);
	return found;
}

bool npt_dirty_write_fault(struct npt *n, const struct gmem *m, uint64_t gpa, uint64_t *log)
{
	uint64_t idx;
	int l;
	bool ok = false;
	if (gpa >= NPT_GPA_LIMIT)
		return false;
	spin_lock(&n->lock);
	uint64_t *e = leaf_entry(n, gpa, &l);
	if (e && (n->fmt->perm(*e) & NPT_W)) {
		ok = true; /* a translation cached before the entry became writable */
	} else if (e && l == 0 && n->wp_log && log && gmem_page_index(m, gpa, &idx)) {
		bitmap_set_atomic(log, idx); /* before the page is writable: no write goes unseen */
		set_writable(n, e, true);
		ok = true;
	}
	spin_unlock(&n->lock);
	return ok;
}
