/*
 * Guest physical memory (pure; host-tested).
 *
 * A VM's RAM is backed by 2 MiB host chunks (so nested paging can use large pages) that need
 * not be contiguous on the host. Guest-physical layout (see vmm/layout.h): RAM from 0 up to
 * the 32-bit device hole, the rest above 4 GiB. Every access by Tern on behalf of a guest
 * (device DMA, loaders, instruction fetch) goes through these functions, which bounds-check
 * the guest-physical range, split it at chunk edges, and record the pages written in the dirty
 * log so that migration sees device writes too (nested-paging dirty bits only see the CPU's).
 */
#ifndef TERN_GMEM_H
#define TERN_GMEM_H

#include "kernel/compiler.h"

#define GMEM_CHUNK_SHIFT 21
#define GMEM_CHUNK_SIZE  (1ULL << GMEM_CHUNK_SHIFT)
#define GMEM_PAGE_SHIFT  12
#define GMEM_PAGE_SIZE   (1ULL << GMEM_PAGE_SHIFT)
#define GMEM_MAX_SLOTS   2

struct gmem_slot {
	uint64_t gpa;         /* guest-physical start, chunk aligned */
	uint64_t size;        /* bytes, chunk multiple */
	uint64_t first_chunk; /* index into chunk_hva */
	uint64_t first_page;  /* index of its first page in the RAM page numbering */
};

struct gmem {
	uint64_t ram_size; /* bytes of RAM in all slots */
	int nslots;
	struct gmem_slot slot[GMEM_MAX_SLOTS];
	uint64_t nchunks;
	uint8_t **chunk_hva; /* host virtual address of each chunk */
	uint64_t npages;     /* ram_size / 4 KiB: the domain of the dirty bitmap */
	uint64_t *dirty;     /* software dirty log (device writes), NULL when not logging */
};

/* gmem_layout: compute slots for ram_size bytes below hole_start and above 4 GiB. */
bool gmem_layout(struct gmem *m, uint64_t ram_size, uint64_t hole_start);
/* gmem_hva: host pointer for [gpa, gpa+len) if it is RAM inside one chunk, else NULL. */
void *gmem_hva(const struct gmem *m, uint64_t gpa, uint64_t len);
/* gmem_is_ram: the whole range is guest RAM (may span chunks and slots? no: one slot). */
bool gmem_is_ram(const struct gmem *m, uint64_t gpa, uint64_t len);
/* gmem_read / gmem_write: copy across chunk edges; false (nothing done) if not all RAM. */
bool gmem_read(const struct gmem *m, uint64_t gpa, void *buf, uint64_t len);
bool gmem_write(struct gmem *m, uint64_t gpa, const void *buf, uint64_t len);
/* gmem_fill: set len bytes at gpa to c. */
bool gmem_fill(struct gmem *m, uint64_t gpa, int c, uint64_t len);
/* gmem_page_index: RAM page number of gpa (for bitmaps and the migration stream). */
bool gmem_page_index(const struct gmem *m, uint64_t gpa, uint64_t *index);
/* gmem_index_to_gpa: inverse of gmem_page_index. */
bool gmem_index_to_gpa(const struct gmem *m, uint64_t index, uint64_t *gpa);
/* gmem_chunk_sum: an order-sensitive 64-bit checksum of RAM chunk index i (2 MiB), for
 * end-to-end checks of migrated memory; 0 if i is out of range. */
uint64_t gmem_chunk_sum(const struct gmem *m, uint64_t i);
/* gmem_mark_dirty: record writes to [gpa, gpa+len) in the software dirty log, if logging. */
void gmem_mark_dirty(struct gmem *m, uint64_t gpa, uint64_t len);

#endif
