/* Kernel heap: small objects from power-of-two size classes, large ones straight from pages. */
#ifndef TERN_HEAP_H
#define TERN_HEAP_H

#include "kernel/compiler.h"

void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

struct heap_stats {
	uint64_t bytes_in_use;
	uint64_t allocations;
};
void heap_get_stats(struct heap_stats *s);

#endif
