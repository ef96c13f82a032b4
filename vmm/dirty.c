/* Dirty-page tracking; see dirty.h. */
#include "vmm/dirty.h"
#include "kernel/args.h"
#include "kernel/bitmap.h"
#include "kernel/heap.h"
#include "kernel/log.h"
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
		for (uint64_t spins = 0; READ_ONCE(v->in_guest) &&
					 READ_ONCE(v->exits_total) == seen[i] && spins < (1ULL << 32);
		     spins++)
			cpu_relax();
	}
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
	if (!npt_dirty_log_start(&vm->npt, &vm->mem)) {
		vm_dirty_stop(vm);
		*err = "out of memory for 4 KiB nested page tables";
		return -1;
	}
	vm_flush_guest_tlbs(vm); /* drop 2 MiB translations and cached dirty state */
	return 0;
}

uint64_t vm_dirty_fetch(struct vm *vm, uint64_t *out)
{
	uint64_t n = npt_dirty_harvest(&vm->npt, &vm->mem, out);
	vm_flush_guest_tlbs(vm);
	if (vm->mem.dirty)
		n += bitmap_fetch_clear(vm->mem.dirty, out, vm->mem.npages);
	return n;
}

void vm_dirty_stop(struct vm *vm)
{
	npt_dirty_log_stop(&vm->npt);
	uint64_t *log = __atomic_exchange_n(&vm->mem.dirty, NULL, __ATOMIC_ACQ_REL);
	kfree(log);
}

/* cmd_dirtylog: `vm-dirty NAME start|fetch|stop`: watch a guest's write activity. */
static int cmd_dirtylog(int argc, char **argv)
{
	const char *usage = "vm-dirty NAME start|fetch|stop";
	if (argc != 3)
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
			return shell_error("dirty logging is off (vm-dirty %s start)", vm->cfg.name);
		uint64_t *bm = kzalloc(BITMAP_WORDS(vm->mem.npages) * 8);
		if (!bm)
			return shell_error("out of memory");
		vm_dirty_fetch(vm, bm);
		uint64_t n = bitmap_count(bm, vm->mem.npages);
		kfree(bm);
		kprintf("%s: %llu dirty pages (%llu KiB) since the last fetch\n", vm->cfg.name,
			(unsigned long long)n, (unsigned long long)(n * 4));
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
SHELL_COMMAND(vmdirty, "vm-dirty", "vm-dirty NAME start|fetch|stop",
	      "track the pages a VM writes (for migration and diagnostics)", cmd_dirtylog);
