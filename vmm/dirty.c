/* Dirty-page tracking; see dirty.h. */
#include "vmm/dirty.h"
#include "kernel/args.h"
#include "kernel/bitmap.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/vm.h"

void vm_flush_guest_tlbs(struct vm *vm)
{
	uint64_t seen[VM_MAX_VCPUS];
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpu[i];
		vmm->flush_guest_tlb(v);
		seen[i] = READ_ONCE(v->exits_total);
		if (READ_ONCE(v->in_guest))
			vcpu_kick(v);
	}
	/* a vCPU that was in guest mode must exit once; it flushes on its next entry */
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpu[i];
		for (uint64_t spins = 0;
		     READ_ONCE(v->in_guest) && READ_ONCE(v->exits_total) == seen[i] &&
		     spins < (1ULL << 32);
		     spins++)
			cpu_relax();
	}
}

/* hw_log_set: hardware dirty logging (PML) on every vCPU, or on none; false if unavailable. */
static bool hw_log_set(struct vm *vm, bool on)
{
	if (!vmm->dirty_log)
		return false;
	for (int i = 0; i < vm->nvcpus; i++) {
		if (!vmm->dirty_log(vm->vcpu[i], on)) {
			while (on && i-- > 0)
				vmm->dirty_log(vm->vcpu[i], false);
			return false;
		}
	}
	return true;
}

int vm_dirty_start(struct vm *vm, const char **err)
{
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		*err = "VM is not running";
		return -1;
	}
	if (vm->mem.dirty) {
		*err = "dirty logging is already on";
		return -1;
	}
	uint64_t *log = kzalloc(BITMAP_WORDS(vm->mem.npages) * 8);
	if (!log) {
		*err = "out of memory";
		return -1;
	}
	__atomic_store_n(&vm->mem.dirty, log, __ATOMIC_RELEASE);
	/* PML logs a page when its dirty bit goes from 0 to 1: it must be on in every vCPU
	 * before the bits are cleared, or a page written in between would never be logged */
	vm->npt.hw_log = hw_log_set(vm, true);
	/* no usable hardware dirty bits: write-protect RAM, log first writes (h_npf) */
	vm->npt.wp_log = !vm->npt.hw_log && vmm->dirty_bits && !vmm->dirty_bits();
	if (vm->npt.hw_log)
		vm_flush_guest_tlbs(vm); /* each vCPU in guest mode exits; it re-enters with PML */
	if (!npt_dirty_log_start(&vm->npt, &vm->mem)) {
		vm_dirty_stop(vm);
		*err = "out of memory for 4 KiB nested page tables";
		return -1;
	}
	vm_flush_guest_tlbs(vm); /* drop 2 MiB translations and cached dirty state */
	return 0;
}

bool vm_dirty_write_fault(struct vm *vm, uint64_t gpa)
{
	return npt_dirty_write_fault(&vm->npt, &vm->mem, gpa,
	                             __atomic_load_n(&vm->mem.dirty, __ATOMIC_ACQUIRE));
}

uint64_t vm_dirty_fetch(struct vm *vm, uint64_t *out)
{
	if ((vm->npt.hw_log || vm->npt.wp_log) && vm->mem.dirty) {
		if (vm->npt.hw_log)
			vm_flush_guest_tlbs(vm); /* each vCPU exits once: its PML goes to the log */
		uint64_t n = npt_dirty_take(&vm->npt, &vm->mem, vm->mem.dirty, out);
		vm_flush_guest_tlbs(vm); /* no TLB keeps a cleared dirty bit or write access */
		return n;
	}
	uint64_t n = npt_dirty_harvest(&vm->npt, &vm->mem, out);
	vm_flush_guest_tlbs(vm);
	if (vm->mem.dirty)
		n += bitmap_fetch_clear(vm->mem.dirty, out, vm->mem.npages);
	return n;
}

uint64_t vm_dirty_peek(struct vm *vm, uint64_t first, uint32_t count, uint64_t *out)
{
	ASSERT(count <= DIRTY_PEEK_MAX && first <= vm->mem.npages &&
	       count <= vm->mem.npages - first);
	memset(out, 0, BITMAP_WORDS(count) * 8);
	uint64_t *log = __atomic_load_n(&vm->mem.dirty, __ATOMIC_ACQUIRE);
	if (!log)
		return 0; /* not logging: nothing to say */
	/* the dirty bits, unless write protection stands in for them (then the log has it all) */
	if (!vm->npt.wp_log)
		npt_dirty_peek(&vm->npt, &vm->mem, first, count, out);
	for (uint32_t i = 0; i < count; i++)
		if (bitmap_test(log, first + i))
			bitmap_set(out, i);
	return bitmap_count(out, count);
}

void vm_dirty_stop(struct vm *vm)
{
	if (vm->npt.hw_log) {
		hw_log_set(vm, false);
		vm->npt.hw_log = false;
	}
	npt_dirty_log_stop(&vm->npt, &vm->mem);
	uint64_t *log = __atomic_exchange_n(&vm->mem.dirty, NULL, __ATOMIC_ACQ_REL);
	kfree(log);
}

#define DIRTY_LIST_MAX 256

/* print_dirty_gpas: the first DIRTY_LIST_MAX guest-physical pages set in bm, eight a line. */
static void print_dirty_gpas(struct vm *vm, const uint64_t *bm, uint64_t n)
{
	uint64_t shown = 0;
	for (uint64_t i = bitmap_next_set(bm, vm->mem.npages, 0);
	     i < vm->mem.npages && shown < DIRTY_LIST_MAX;
	     i = bitmap_next_set(bm, vm->mem.npages, i + 1)) {
		uint64_t gpa;
		if (!gmem_index_to_gpa(&vm->mem, i, &gpa))
			continue;
		kprintf("%s%#llx", shown % 8 ? " " : "  ", (unsigned long long)gpa);
		if (++shown % 8 == 0)
			kprintf("\n");
	}
	if (shown % 8)
		kprintf("\n");
	if (n > shown)
		kprintf("  ... %llu more\n", (unsigned long long)(n - shown));
}

/* cmd_dirtylog: `vm-dirty NAME start|fetch [list]|stop`: watch a guest's write activity. */
static int cmd_dirtylog(int argc, char **argv)
{
	const char *usage = "vm-dirty NAME start|fetch [list]|stop";
	bool list = argc == 4 && !strcmp(argv[2], "fetch") && !strcmp(argv[3], "list");
	if (argc != 3 && !list)
		return shell_usage(usage);
	struct vm *vm = vm_find(argv[1]);
	if (!vm)
		return shell_error("no VM named '%s'", argv[1]);
	const char *err;
	if (!strcmp(argv[2], "start")) {
		if (vm_dirty_start(vm, &err) < 0)
			return shell_error("%s", err);
		kprintf("dirty logging on for %s\n", vm->cfg.name);
	} else if (!strcmp(argv[2], "fetch")) {
		if (!vm->mem.dirty)
			return shell_error("dirty logging is off (vm-dirty %s start)",
			                   vm->cfg.name);
		uint64_t *bm = kzalloc(BITMAP_WORDS(vm->mem.npages) * 8);
		if (!bm)
			return shell_error("out of memory");
		vm_dirty_fetch(vm, bm);
		uint64_t n = bitmap_count(bm, vm->mem.npages);
		kprintf("%s: %llu dirty pages (%llu KiB) since the last fetch\n", vm->cfg.name,
		        (unsigned long long)n, (unsigned long long)(n * 4));
		if (list)
			print_dirty_gpas(vm, bm, n);
		kfree(bm);
	} else if (!strcmp(argv[2], "stop")) {
		if (!vm->mem.dirty)
			return shell_error("dirty logging is off");
		vm_dirty_stop(vm);
		kprintf("dirty logging off for %s\n", vm->cfg.name);
	} else {
		return shell_usage(usage);
	}
	return 0;
}
SHELL_COMMAND(vmdirty, "vm-dirty", "vm-dirty NAME start|fetch [list]|stop",
              "track the pages a VM writes (for migration and diagnostics)", cmd_dirtylog);
