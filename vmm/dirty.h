/*
 * Dirty-page tracking for a running VM (the memory-layer API migration builds on):
 *   vm_dirty_start   split RAM mappings to 4 KiB, clear dirty bits, start the software log
 *   vm_dirty_fetch   OR every page written since the last fetch into a bitmap and clear
 *   vm_dirty_peek    which pages of a range were written since the last fetch (no clearing)
 *   vm_dirty_stop    end logging
 * CPU writes are seen through the nested page tables' dirty bits (Intel: or the PML log, or,
 * without EPT A/D bits, write protection and the first write fault to each page), Tern's own
 * writes into guest memory (device DMA, loaders) through the software log in struct gmem.
 * After clearing dirty bits (or write access) every vCPU's guest TLB is flushed before fetch
 * returns, so no write after the fetch can slip through a stale TLB entry (APM 15.25.7 /
 * SDM 29.3.5, 29.4.3).
 */
#ifndef TERN_DIRTY_H
#define TERN_DIRTY_H

#include "kernel/compiler.h"

struct vm;

int vm_dirty_start(struct vm *vm, const char **err);
/* vm_dirty_fetch: out has BITMAP_WORDS(vm->mem.npages) words; returns pages newly set. */
uint64_t vm_dirty_fetch(struct vm *vm, uint64_t *out);
void vm_dirty_stop(struct vm *vm);
/* vm_dirty_peek: set bit i of out (BITMAP_WORDS(count) words, cleared first) for each page
 * first+i written since the last fetch; clears nothing, so the next fetch still reports them.
 * A migration round skips such pages: the next round sends them anyway. count <=
 * DIRTY_PEEK_MAX; returns the pages set. */
#define DIRTY_PEEK_MAX 512
uint64_t vm_dirty_peek(struct vm *vm, uint64_t first, uint32_t count, uint64_t *out);
/* vm_dirty_write_fault: a guest write faulted on RAM at gpa; true if it was the write
 * protection of dirty logging (logged, now writable) and the guest may retry. */
bool vm_dirty_write_fault(struct vm *vm, uint64_t gpa);
/* vm_flush_guest_tlbs: make every vCPU flush its guest TLB before it runs guest code again,
 * and wait until none still runs with the old entries. */
void vm_flush_guest_tlbs(struct vm *vm);

#endif
