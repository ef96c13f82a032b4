/* Guest physical memory access; see gmem.h. */
#include "vmm/gmem.h"
#include "kernel/bitmap.h"
#include "kernel/string.h"

#define FOUR_GIB (4ULL << 30)

/* gmem_layout: low slot up to hole_start, high slot from 4 GiB for the remainder. */
bool gmem_layout(struct gmem *m, uint64_t ram_size, uint64_t hole_start)
{
	if (!ram_size || !IS_ALIGNED(ram_size, GMEM_CHUNK_SIZE) ||
	    !IS_ALIGNED(hole_start, GMEM_CHUNK_SIZE) || hole_start > FOUR_GIB ||
	    ram_size > (1ULL << 46))
		return false;
	m->ram_size = ram_size;
	m->nchunks = ram_size >> GMEM_CHUNK_SHIFT;
	m->npages = ram_size >> GMEM_PAGE_SHIFT;
	uint64_t low = MIN(ram_size, hole_start);
	m->nslots = 1;
	m->slot[0] = (struct gmem_slot){0, low, 0, 0};
	if (ram_size > low) {
		m->nslots = 2;
		m->slot[1] = (struct gmem_slot){FOUR_GIB, ram_size - low, low >> GMEM_CHUNK_SHIFT,
		                                low >> GMEM_PAGE_SHIFT};
	}
	return true;
}

/* find_slot: the slot holding all of [gpa, gpa+len), or NULL. */
static const struct gmem_slot *find_slot(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nslots; i++)
		if (range_within(gpa, len, m->slot[i].gpa, m->slot[i].size))
			return &m->slot[i];
	return NULL;
}

bool gmem_is_ram(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	return find_slot(m, gpa, len ? len : 1) != NULL;
}

/* chunk_ptr: host address of gpa, which lies in slot s. */
static uint8_t *chunk_ptr(const struct gmem *m, const struct gmem_slot *s, uint64_t gpa)
{
	uint64_t off = gpa - s->gpa;
	return m->chunk_hva[s->first_chunk + (off >> GMEM_CHUNK_SHIFT)] +
	       (off & (GMEM_CHUNK_SIZE - 1));
}

void *gmem_hva(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	const struct gmem_slot *s = find_slot(m, gpa, len ? len : 1);
	if (!s)
		return NULL;
	if (len &&
	    ((gpa - s->gpa) >> GMEM_CHUNK_SHIFT) != ((gpa - s->gpa + len - 1) >> GMEM_CHUNK_SHIFT))
		return NULL; /* crosses a chunk edge: use gmem_read/gmem_write */
	return chunk_ptr(m, s, gpa);
}

/* copy: move len bytes between buf and guest memory, chunk by chunk. */
static bool copy(const struct gmem *m, uint64_t gpa, void *buf, const void *src, uint64_t len,
                 int fill)
{
	const struct gmem_slot *s = find_slot(m, gpa, len);
	if (!s)
		return false;
	uint64_t done = 0;
	while (done < len) {
		uint64_t a = gpa + done;
		uint64_t room = GMEM_CHUNK_SIZE - ((a - s->gpa) & (GMEM_CHUNK_SIZE - 1));
		uint64_t n = MIN(room, len - done);
		uint8_t *p = chunk_ptr(m, s, a);
		if (buf)
			memcpy((uint8_t *)buf + done, p, n);
		else if (src)
			memcpy(p, (const uint8_t *)src + done, n);
		else
			memset(p, fill, n);
		done += n;
	}
	return true;
}

bool gmem_read(const struct gmem *m, uint64_t gpa, void *buf, uint64_t len)
{
	return len == 0 || copy(m, gpa, buf, NULL, len, 0);
}

bool gmem_write(struct gmem *m, uint64_t gpa, const void *buf, uint64_t len)
{
	if (len == 0)
		return true;
	if (!copy(m, gpa, NULL, buf, len, 0))
		return false;
	gmem_mark_dirty(m, gpa, len);
	return true;
}

bool gmem_fill(struct gmem *m, uint64_t gpa, int c, uint64_t len)
{
	if (len == 0)
		return true;
	if (!copy(m, gpa, NULL, NULL, len, c))
		return false;
	gmem_mark_dirty(m, gpa, len);
	return true;
}

bool gmem_page_index(const struct gmem *m, uint64_t gpa, uint64_t *index)
{
	const struct gmem_slot *s = find_slot(m, gpa, 1);
	if (!s)
		return false;
	*index = s->first_page + ((gpa - s->gpa) >> GMEM_PAGE_SHIFT);
	return true;
}

bool gmem_index_to_gpa(const struct gmem *m, uint64_t index, uint64_t *gpa)
{
	for (int i = 0; i < m->nslots; i++) {
		const struct gmem_slot *s = &m->slot[i];
		uint64_t pages = s->size >> GMEM_PAGE_SHIFT;
		if (index >= s->first_page && index - s->first_page < pages) {
			*gpa = s->gpa + ((index - s->first_page) << GMEM_PAGE_SHIFT);
			return true;
		}
	}
	return false;
}

/* gmem_mark_dirty: atomic bit sets, since devices on other CPUs log concurrently. */
void gmem_mark_dirty(struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t *log = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
	if (!log || !len)
		return;
	uint64_t first, last;
	if (!gmem_page_index(m, gpa, &first) || !gmem_page_index(m, gpa + len - 1, &last))
		return;
	for (uint64_t p = first; p <= last; p++)
		bitmap_set_atomic(log, p);
}

uint64_t gmem_chunk_sum(const struct gmem *m, uint64_t i)
{
	if (i >= m->nchunks)
		return 0;
	const uint64_t *w = (const uint64_t *)m->chunk_hva[i];
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (uint64_t k = 0; k < GMEM_CHUNK_SIZE / 8; k++)
		h = ((h << 7) | (h >> 57)) ^ (w[k] + k);
	return h;
}
