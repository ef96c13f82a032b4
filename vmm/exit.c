/*
 * Exit handling: one handler per common exit reason, dispatched through a table. A handler
 * returns 0 to resume the guest or -1 after calling vm_fatal() for a guest error the VM
 * cannot continue from (Tern itself keeps running).
 */
#include "vmm/exit.h"
#include "kernel/fpu.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/cpuid.h"
#include "vmm/dirty.h"
#include "vmm/emulate.h"
#include "vmm/msr.h"
#include "vmm/vm.h"
#include "vmm/x86_walk.h"

#define VMCALL_ENOSYS ((uint64_t)-1000)

/* skip: advance RIP past the exiting instruction (decoding it if the CPU gave no length). */
static int skip(struct vcpu *v, struct vmexit *e)
{
	unsigned len = e->insn_len;
	if (!len && vcpu_insn_len(v, &len) < 0)
		return 0; /* the fetch faulted: that fault was injected instead */
	vcpu_advance(v, len);
	return 0;
}

static int h_cpuid(struct vcpu *v, struct vmexit *e)
{
	uint32_t out[4];
	cpuid_guest(v, (uint32_t)vmm->get_reg(v, R_RAX), (uint32_t)vmm->get_reg(v, R_RCX), out);
	vmm->set_reg(v, R_RAX, out[0]);
	vmm->set_reg(v, R_RBX, out[1]);
	vmm->set_reg(v, R_RCX, out[2]);
	vmm->set_reg(v, R_RDX, out[3]);
	return skip(v, e);
}

static int h_msr_read(struct vcpu *v, struct vmexit *e)
{
	uint64_t val;
	if (msr_guest_read(v, (uint32_t)vmm->get_reg(v, R_RCX), &val) < 0) {
		vcpu_inject_gp(v);
		return 0;
	}
	vmm->set_reg(v, R_RAX, (uint32_t)val);
	vmm->set_reg(v, R_RDX, val >> 32);
	return skip(v, e);
}

static int h_msr_write(struct vcpu *v, struct vmexit *e)
{
	uint64_t val = (uint32_t)vmm->get_reg(v, R_RAX) | (vmm->get_reg(v, R_RDX) << 32);
	if (msr_guest_write(v, (uint32_t)vmm->get_reg(v, R_RCX), val) < 0) {
		vcpu_inject_gp(v);
		return 0;
	}
	return skip(v, e);
}

/* string_io: INS/OUTS (optionally REP) through the guest's page tables, bounded per exit. */
static int string_io(struct vcpu *v, struct vmexit *e)
{
	struct vm *vm = v->vm;
	if (!e->io.addr_size) { /* the exit did not say: decode the instruction */
		unsigned as, sg;
		if (vcpu_string_operand(v, &as, &sg) < 0)
			return 0; /* its fetch faulted: that fault was injected */
		e->io.addr_size = (uint8_t)as;
		e->io.seg = (uint8_t)sg;
	}
	uint64_t mask = e->io.addr_size == 8   ? ~0ULL
	                : e->io.addr_size == 4 ? 0xffffffffULL
	                                       : 0xffff;
	int idx_reg = e->io.in ? R_RDI : R_RSI;
	struct seg sg;
	vmm->get_seg(v, e->io.in ? S_ES : e->io.seg, &sg);
	bool df = vmm->get_rflags(v) & RFLAGS_DF;
	uint64_t count = e->io.rep ? vmm->get_reg(v, R_RCX) & mask : 1;
	unsigned n = (unsigned)MIN(count, 1024ULL);
	for (unsigned i = 0; i < n; i++) {
		uint64_t idx = vmm->get_reg(v, idx_reg) & mask;
		uint64_t la = (vmm->get_efer(v) & EFER_LMA) && e->io.seg < 4 ? idx : sg.base + idx;
		uint64_t gpa;
		uint32_t val = 0;
		if (vcpu_translate(v, la, e->io.in, &gpa) < 0)
			return 0; /* #PF injected; the guest retries the remaining iterations */
		if (!e->io.in && !gmem_read(&vm->mem, gpa, &val, e->io.size))
			return vm_fatal(vm, "string OUT from non-RAM address %#llx",
			                (unsigned long long)gpa),
			       -1;
		vm_pio(vm, v, e->io.port, e->io.size, !e->io.in, &val);
		if (e->io.in && !gmem_write(&vm->mem, gpa, &val, e->io.size))
			return vm_fatal(vm, "string IN to non-RAM address %#llx",
			                (unsigned long long)gpa),
			       -1;
		uint64_t next = df ? idx - e->io.size : idx + e->io.size;
		vmm->set_reg(v, idx_reg, (vmm->get_reg(v, idx_reg) & ~mask) | (next & mask));
		if (e->io.rep)
			vmm->set_reg(v, R_RCX,
			             (vmm->get_reg(v, R_RCX) & ~mask) | ((count - i - 1) & mask));
	}
	if (!e->io.rep || count <= n)
		vmm->set_rip(v, e->io.next_rip);
	return 0;
}

static int h_io(struct vcpu *v, struct vmexit *e)
{
	if (e->io.string)
		return string_io(v, e);
	uint32_t val = (uint32_t)vmm->get_reg(v, R_RAX);
	vm_pio(v->vm, v, e->io.port, e->io.size, !e->io.in, &val);
	if (e->io.in) {
		uint64_t rax = vmm->get_reg(v, R_RAX);
		uint64_t mask = e->io.size == 4 ? 0xffffffffULL : (1ULL << (8 * e->io.size)) - 1;
		/* a 32-bit IN zero-extends into RAX; 8/16-bit INs merge */
		rax = e->io.size == 4 ? val : (rax & ~mask) | (val & mask);
		vmm->set_reg(v, R_RAX, rax);
	}
	vmm->set_rip(v, e->io.next_rip);
	return 0;
}

static int h_hlt(struct vcpu *v, struct vmexit *e)
{
	skip(v, e);
	v->run_state = VCPU_HALTED; /* the run loop sleeps until an interrupt is pending */
	return 0;
}

/* h_npf: MMIO emulation; RAM faults only on writes while dirty logging write-protects it. */
static int h_npf(struct vcpu *v, struct vmexit *e)
{
	struct vm *vm = v->vm;
	if (e->npf.write && gmem_is_ram(&vm->mem, e->npf.gpa, 1) &&
	    vm_dirty_write_fault(vm, e->npf.gpa))
		return 0; /* logged; the write runs again */
	if (gmem_is_ram(&vm->mem, e->npf.gpa, 1))
		return vm_fatal(vm, "unexpected nested page fault on RAM at %#llx (rip %#llx)",
		                (unsigned long long)e->npf.gpa,
		                (unsigned long long)vmm->get_rip(v)),
		       -1;
	if (e->npf.fetch)
		return vm_fatal(vm, "guest executed code from device memory at %#llx",
		                (unsigned long long)e->npf.gpa),
		       -1;
	char why[160];
	if (vcpu_emulate_mmio(v, e->npf.gpa, why, sizeof(why)) < 0)
		return vm_fatal(vm, "vcpu %d: %s", v->id, why), -1;
	return 0;
}

static int h_nothing(struct vcpu *v, struct vmexit *e)
{
	(void)v, (void)e;
	return 0;
}

static int h_shutdown(struct vcpu *v, struct vmexit *e)
{
	(void)e;
	vm_fatal(v->vm, "triple fault (shutdown) on vcpu %d at rip %#llx", v->id,
	         (unsigned long long)vmm->get_rip(v));
	return -1;
}

/* h_vmcall: Tern's hypercall interface has no calls yet: RAX = -ENOSYS, like KVM's. */
static int h_vmcall(struct vcpu *v, struct vmexit *e)
{
	vmm->set_reg(v, R_RAX, VMCALL_ENOSYS);
	return skip(v, e);
}

/* h_xsetbv: XCR0 must keep x87, AVX needs SSE, and only what the host enabled (SDM XSETBV). */
static int h_xsetbv(struct vcpu *v, struct vmexit *e)
{
	uint64_t val = (uint32_t)vmm->get_reg(v, R_RAX) | (vmm->get_reg(v, R_RDX) << 32);
	if ((uint32_t)vmm->get_reg(v, R_RCX) != 0 || !(val & 1) || (val & ~fpu_xcr0()) ||
	    ((val & 4) && !(val & 2)) || (val & ~7ULL)) {
		vcpu_inject_gp(v);
		return 0;
	}
	v->xcr0 = val;
	return skip(v, e);
}

static int h_invalid_op(struct vcpu *v, struct vmexit *e)
{
	(void)e;
	vcpu_inject_ud(v);
	return 0;
}

static int h_invd(struct vcpu *v, struct vmexit *e)
{
	return skip(v, e); /* INVD inside a VM is a no-op: caches stay coherent */
}

static int h_entry_failed(struct vcpu *v, struct vmexit *e)
{
	vm_fatal(v->vm, "vcpu %d: the CPU refused the guest state (exit %#llx, info %#llx/%#llx)",
	         v->id, (unsigned long long)e->raw, (unsigned long long)e->other.info1,
	         (unsigned long long)e->other.info2);
	return -1;
}

static int h_exception(struct vcpu *v, struct vmexit *e)
{
	if (e->exc.vector == 18) {
		klog("vm %s: machine check while running vcpu %d", v->vm->cfg.name, v->id);
		vm_fatal(v->vm, "machine check exception");
		return -1;
	}
	vmm->inject_exception(v, (uint8_t)e->exc.vector, false, 0);
	return 0;
}

static int h_other(struct vcpu *v, struct vmexit *e)
{
	vm_fatal(v->vm, "vcpu %d: unexpected exit %#llx (info %#llx/%#llx) at rip %#llx", v->id,
	         (unsigned long long)e->raw, (unsigned long long)e->other.info1,
	         (unsigned long long)e->other.info2, (unsigned long long)vmm->get_rip(v));
	return -1;
}

static int (*const g_handlers[NR_EXIT_REASONS])(struct vcpu *, struct vmexit *) = {
    [EXIT_NONE] = h_nothing,
    [EXIT_CPUID] = h_cpuid,
    [EXIT_MSR_READ] = h_msr_read,
    [EXIT_MSR_WRITE] = h_msr_write,
    [EXIT_IO] = h_io,
    [EXIT_HLT] = h_hlt,
    [EXIT_NPF] = h_npf,
    [EXIT_INTR] = h_nothing, /* the host took its interrupt after the exit */
    [EXIT_NMI] = h_nothing,
    [EXIT_INTR_WINDOW] = h_nothing, /* the run loop injects now */
    [EXIT_SHUTDOWN] = h_shutdown,
    [EXIT_VMCALL] = h_vmcall,
    [EXIT_XSETBV] = h_xsetbv,
    [EXIT_INVALID_OP] = h_invalid_op,
    [EXIT_PAUSE] = h_nothing,
    [EXIT_INVD] = h_invd,
    [EXIT_ENTRY_FAILED] = h_entry_failed,
    [EXIT_EXCEPTION] = h_exception,
    [EXIT_OTHER] = h_other,
};

const char *const exit_reason_names[NR_EXIT_REASONS] = {
    [EXIT_NONE] = "none",
    [EXIT_CPUID] = "cpuid",
    [EXIT_MSR_READ] = "rdmsr",
    [EXIT_MSR_WRITE] = "wrmsr",
    [EXIT_IO] = "io",
    [EXIT_HLT] = "hlt",
    [EXIT_NPF] = "npf/mmio",
    [EXIT_INTR] = "intr",
    [EXIT_NMI] = "nmi",
    [EXIT_INTR_WINDOW] = "irq-window",
    [EXIT_SHUTDOWN] = "shutdown",
    [EXIT_VMCALL] = "vmcall",
    [EXIT_XSETBV] = "xsetbv",
    [EXIT_INVALID_OP] = "invalid-op",
    [EXIT_PAUSE] = "pause",
    [EXIT_INVD] = "invd",
    [EXIT_ENTRY_FAILED] = "entry-failed",
    [EXIT_EXCEPTION] = "exception",
    [EXIT_OTHER] = "other",
};

int vcpu_handle_exit(struct vcpu *v, struct vmexit *e)
{
	ASSERT(e->reason < NR_EXIT_REASONS && g_handlers[e->reason]);
	v->exits[e->reason]++;
	v->exits_total++;
	return g_handlers[e->reason](v, e);
}
