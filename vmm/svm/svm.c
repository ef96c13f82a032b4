/*
 * AMD-V (SVM) backend with nested paging (APM vol. 2 ch. 15).
 *
 * Per host CPU: EFER.SVME, a host save area (VM_HSAVE_PA) and a host VMCB for VMSAVE/VMLOAD of
 * the host's FS/GS/TR/syscall state. Per vCPU: one VMCB. IOPM and MSRPM are shared: every port
 * is intercepted, MSRs are intercepted except the syscall/segment-base ones the VMCB switches.
 * ASIDs are handed out per host CPU with a generation counter (APM 15.16): a vCPU gets a fresh
 * ASID whenever it runs on a CPU whose generation moved on, and a wrap flushes the whole TLB.
 */
#include "vmm/svm/svm.h"
#include "kernel/fpu.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/npt.h"
#include "vmm/svm/vmcb.h"
#include "vmm/vm.h"

void svm_enter(uint64_t guest_vmcb_pa, uint64_t *gprs, uint64_t host_vmcb_pa);

struct svm_cpu {
	uint64_t hsave_pa;
	uint64_t host_vmcb_pa;
	uint32_t next_asid, max_asid;
	uint64_t asid_gen;
};

struct svm_vcpu {
	struct vmcb *vmcb;
	uint64_t vmcb_pa;
	/* NMI blocking (APM 15.20): set when an NMI is injected, cleared once the guest has
	 * executed the IRET that the IRET intercept reported at iret_rip */
	bool nmi_masked, iret_seen;
	uint64_t iret_rip;
};

static uint64_t g_iopm_pa, g_msrpm_pa;
static bool g_flush_by_asid, g_nrips;
static struct svm_cpu g_cpu[MAX_CPUS];

/* vmcb_of: the VMCB of a vCPU. */
static struct vmcb *vmcb_of(struct vcpu *v)
{
	return ((struct svm_vcpu *)v->arch)->vmcb;
}

/* msrpm_passthrough: let the guest access msr directly (clear both intercept bits). */
static void msrpm_passthrough(uint8_t *pm, uint32_t msr)
{
	uint32_t base;
	if (msr < 0x2000)
		base = 0;
	else if (msr >= 0xc0000000 && msr < 0xc0002000)
		base = 0x800, msr -= 0xc0000000;
	else if (msr >= 0xc0010000 && msr < 0xc0012000)
		base = 0x1000, msr -= 0xc0010000;
	else
		return;
	uint32_t bit = msr * 2;
	pm[base + bit / 8] &= (uint8_t) ~(3u << (bit % 8));
}

/* shared_tables: the global IOPM (all ports intercepted) and MSRPM. */
static int shared_tables(void)
{
	uint64_t io = pmm_alloc(2); /* 12 KiB used of 16 */
	uint64_t msr = pmm_alloc(1);
	if (!io || !msr)
		return -1;
	memset(P2V(io), 0xff, 4 * PAGE_SIZE);
	memset(P2V(msr), 0xff, 2 * PAGE_SIZE);
	static const uint32_t pass[] = {MSR_FS_BASE,
	                                MSR_GS_BASE,
	                                MSR_KERNEL_GS_BASE,
	                                MSR_STAR,
	                                MSR_LSTAR,
	                                0xc0000083 /* CSTAR */,
	                                0xc0000084 /* SFMASK */,
	                                0x174,
	                                0x175,
	                                0x176 /* SYSENTER */};
	for (size_t i = 0; i < ARRAY_SIZE(pass); i++)
		msrpm_passthrough(P2V(msr), pass[i]);
	g_iopm_pa = io;
	g_msrpm_pa = msr;
	return 0;
}

/* svm_cpu_init: enable SVM on this CPU (APM 15.4). */
static int svm_cpu_init(void)
{
	static struct spinlock once = SPINLOCK_INIT("svm-init");
	uint32_t r[4];
	cpuid(0x8000000a, 0, r);
	spin_lock(&once);
	if (!g_msrpm_pa && shared_tables() < 0) {
		spin_unlock(&once);
		return -1;
	}
	g_nrips = (r[3] >> 3) & 1;
	g_flush_by_asid = (r[3] >> 6) & 1;
	spin_unlock(&once);
	struct svm_cpu *c = &g_cpu[cpu_id()];
	c->hsave_pa = pmm_alloc_zeroed(0);
	c->host_vmcb_pa = pmm_alloc_zeroed(0);
	if (!c->hsave_pa || !c->host_vmcb_pa)
		return -1;
	c->max_asid = r[1] - 1; /* EBX: number of ASIDs; 0 belongs to the host */
	c->next_asid = 1;
	c->asid_gen = 1;
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, c->hsave_pa);
	this_cpu()->vmm = c;
	return 0;
}

/* svm_vcpu_create: a VMCB with Tern's intercepts, pointing at the VM's nested page table. */
static int svm_vcpu_create(struct vcpu *v)
{
	struct svm_vcpu *s = kzalloc(sizeof(*s));
	if (!s)
		return -1;
	s->vmcb_pa = pmm_alloc_zeroed(0);
	if (!s->vmcb_pa) {
		kfree(s);
		return -1;
	}
	s->vmcb = P2V(s->vmcb_pa);
	v->arch = s;
	struct vmcb_control *c = &s->vmcb->ctl;
	c->intercept_exceptions = 1u << 18; /* #MC: the host must see machine checks */
	c->intercept_misc1 = INTERCEPT1_INTR | INTERCEPT1_NMI | INTERCEPT1_SMI | INTERCEPT1_INIT |
	                     INTERCEPT1_CPUID | INTERCEPT1_INVD | INTERCEPT1_HLT |
	                     INTERCEPT1_INVLPGA | INTERCEPT1_IOIO | INTERCEPT1_MSR |
	                     INTERCEPT1_TASK_SWITCH | INTERCEPT1_SHUTDOWN;
	c->intercept_misc2 = INTERCEPT2_VMRUN | INTERCEPT2_VMMCALL | INTERCEPT2_VMLOAD |
	                     INTERCEPT2_VMSAVE | INTERCEPT2_STGI | INTERCEPT2_CLGI |
	                     INTERCEPT2_SKINIT | INTERCEPT2_RDTSCP | INTERCEPT2_MONITOR |
	                     INTERCEPT2_MWAIT | INTERCEPT2_MWAIT_C | INTERCEPT2_XSETBV;
	c->iopm_base_pa = g_iopm_pa;
	c->msrpm_base_pa = g_msrpm_pa;
	c->int_ctl = V_INTR_MASKING;
	c->np_enable = 1;
	c->n_cr3 = v->vm->npt.root;
	s->vmcb->save.g_pat = 0x0007040600070406ULL; /* the architectural reset value */
	s->vmcb->save.efer = EFER_SVME;
	v->asid_cpu = -1;
	return 0;
}

static void svm_vcpu_destroy(struct vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	if (!s)
		return;
	pmm_free(s->vmcb_pa, 0);
	kfree(s);
	v->arch = NULL;
}

/* assign_asid: a fresh ASID when this CPU's generation moved on (APM 15.16). */
static void assign_asid(struct vcpu *v, struct vmcb *vmcb)
{
	struct svm_cpu *c = this_cpu()->vmm;
	if (v->asid_cpu != cpu_id() || v->asid_gen != c->asid_gen) {
		if (c->next_asid > c->max_asid) {
			c->asid_gen++;
			c->next_asid = 1;
			vmcb->ctl.tlb_control = TLB_CONTROL_FLUSH_ALL;
		}
		v->asid = c->next_asid++;
		v->asid_gen = c->asid_gen;
		v->asid_cpu = cpu_id();
		vmcb->ctl.asid = v->asid;
		v->tlb_flush = false; /* a never-used ASID on this CPU has no stale entries */
	}
	if (v->tlb_flush) {
		if (vmcb->ctl.tlb_control == TLB_CONTROL_NONE)
			vmcb->ctl.tlb_control =
			    g_flush_by_asid ? TLB_CONTROL_FLUSH_ASID : TLB_CONTROL_FLUSH_ALL;
		v->tlb_flush = false;
	}
}

/* xsetbv0: load XCR0. */
static void xsetbv0(uint64_t v)
{
	__asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* decode_exit: translate the VMCB exit information into a struct vmexit. */
static void decode_exit(struct vcpu *v, struct vmcb *vmcb, struct vmexit *e)
{
	uint64_t code = vmcb->ctl.exit_code, i1 = vmcb->ctl.exit_info1, i2 = vmcb->ctl.exit_info2;
	memset(e, 0, sizeof(*e));
	e->raw = code;
	if (g_nrips && vmcb->ctl.next_rip > vmcb->save.rip &&
	    vmcb->ctl.next_rip - vmcb->save.rip <= 15)
		e->insn_len = (uint8_t)(vmcb->ctl.next_rip - vmcb->save.rip);
	switch (code) {
	case SVM_EXIT_IRET: {
		/* the IRET ending an NMI handler is about to run: NMIs are unmasked once RIP
		 * has moved past it (checked in svm_can_inject_nmi); nothing else to do */
		struct svm_vcpu *s = v->arch;
		s->iret_seen = true;
		s->iret_rip = vmcb->save.rip;
		vmcb->ctl.intercept_misc1 &= ~INTERCEPT1_IRET;
		e->reason = EXIT_NONE;
		break;
	}
	case SVM_EXIT_CPUID:
		e->reason = EXIT_CPUID;
		break;
	case SVM_EXIT_HLT:
		e->reason = EXIT_HLT;
		break;
	case SVM_EXIT_INTR:
		e->reason = EXIT_INTR;
		break;
	case SVM_EXIT_NMI:
		e->reason = EXIT_NMI;
		break;
	case SVM_EXIT_VINTR:
		e->reason = EXIT_INTR_WINDOW;
		break;
	case SVM_EXIT_SHUTDOWN:
		e->reason = EXIT_SHUTDOWN;
		break;
	case SVM_EXIT_VMMCALL:
		e->reason = EXIT_VMCALL;
		break;
	case SVM_EXIT_XSETBV:
		e->reason = EXIT_XSETBV;
		break;
	case SVM_EXIT_PAUSE:
		e->reason = EXIT_PAUSE;
		break;
	case SVM_EXIT_INVD:
		e->reason = EXIT_INVD;
		break;
	case SVM_EXIT_MSR:
		e->reason = i1 ? EXIT_MSR_WRITE : EXIT_MSR_READ;
		break;
	case SVM_EXIT_IOIO:
		e->reason = EXIT_IO;
		e->io.port = IOIO_PORT(i1);
		e->io.size = (uint8_t)(IOIO_SIZE(i1) == 4 ? 4 : IOIO_SIZE(i1) == 2 ? 2 : 1);
		e->io.in = i1 & IOIO_IN;
		e->io.string = i1 & IOIO_STR;
		e->io.rep = i1 & IOIO_REP;
		e->io.seg = (uint8_t)((i1 >> 10) & 7);
		/* A64/A32/A16; 0 when none is set (QEMU's SVM model leaves these and the
		 * segment clear): string_io then decodes the instruction */
		if (i1 & (1u << 9))
			e->io.addr_size = 8;
		else if (i1 & (1u << 8))
			e->io.addr_size = 4;
		else
			e->io.addr_size = (i1 & (1u << 7)) ? 2 : 0;
		e->io.next_rip = i2; /* EXITINFO2 holds the next RIP even without NRIPS */
		if (i2 > vmcb->save.rip && i2 - vmcb->save.rip <= 15)
			e->insn_len = (uint8_t)(i2 - vmcb->save.rip);
		break;
	case SVM_EXIT_NPF:
		e->reason = EXIT_NPF;
		e->npf.gpa = i2;
		e->npf.write = i1 & NPF_WRITE;
		e->npf.fetch = i1 & NPF_FETCH;
		e->npf.present = i1 & NPF_P;
		e->npf.in_guest_walk = i1 & NPF_GUEST_WALK;
		break;
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_RDTSCP:
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
	case SVM_EXIT_MWAIT_C:
	case SVM_EXIT_INVLPGA:
		e->reason = EXIT_INVALID_OP;
		break;
	case SVM_EXIT_INVALID:
		e->reason = EXIT_ENTRY_FAILED;
		break;
	default:
		if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
			e->reason = EXIT_EXCEPTION;
			e->exc.vector = (uint32_t)(code - SVM_EXIT_EXCP_BASE);
			e->exc.error = (uint32_t)i1;
		} else {
			e->reason = EXIT_OTHER;
		}
		break;
	}
	if (e->reason == EXIT_OTHER || e->reason == EXIT_ENTRY_FAILED) {
		e->other.info1 = i1;
		e->other.info2 = i2;
	}
}

/* svm_run: one VMRUN with GIF clear around it; pending events are re-injected after. */
static void svm_run(struct vcpu *v, struct vmexit *e)
{
	struct svm_vcpu *s = v->arch;
	struct vmcb *vmcb = s->vmcb;
	struct svm_cpu *c = this_cpu()->vmm;
	vmcb->ctl.tsc_offset = v->tsc_offset;
	vmcb->ctl.clean_bits = 0; /* no VMCB caching: everything reloaded */
	__asm__ volatile("clgi" ::: "memory");
	assign_asid(v, vmcb);
	uint64_t host_xcr0 = fpu_xcr0();
	bool swap_xcr0 = host_xcr0 && v->xcr0 != host_xcr0;
	if (swap_xcr0)
		xsetbv0(v->xcr0);
	v->in_guest = true;
	svm_enter(s->vmcb_pa, v->gpr, c->host_vmcb_pa);
	v->in_guest = false;
	if (swap_xcr0)
		xsetbv0(host_xcr0);
	vmcb->ctl.tlb_control = TLB_CONTROL_NONE;
	__asm__ volatile("stgi" ::: "memory");
	/* An event interrupted by the exit must be delivered again (APM 15.7.2). */
	vmcb->ctl.event_inj = 0;
	if (vmcb->ctl.exit_int_info & EVENT_VALID)
		vmcb->ctl.event_inj = vmcb->ctl.exit_int_info;
	decode_exit(v, vmcb, e);
}

/* Segment attributes: SVM packs bits 11:8 of the VMX layout's 15:12 (APM 15.5.1). */
static uint32_t attr_from_svm(uint16_t a)
{
	uint32_t r = (a & 0xffu) | ((uint32_t)(a & 0xf00u) << 4);
	return (a & 0x80) ? r : r | SEG_ATTR_UNUSABLE;
}

static uint16_t attr_to_svm(uint32_t a)
{
	if (a & SEG_ATTR_UNUSABLE)
		return 0;
	return (uint16_t)((a & 0xffu) | ((a >> 4) & 0xf00u));
}

static void seg_from(const struct vmcb_seg *s, struct seg *o)
{
	o->sel = s->sel;
	o->attr = attr_from_svm(s->attr);
	o->limit = s->limit;
	o->base = s->base;
}

static void seg_to(const struct seg *o, struct vmcb_seg *s)
{
	s->sel = o->sel;
	s->attr = attr_to_svm(o->attr);
	s->limit = o->limit;
	s->base = o->base;
}

/* seg_ptr: the VMCB segment for a common segment index. */
static struct vmcb_seg *seg_ptr(struct vmcb *vmcb, int seg)
{
	struct vmcb_seg *t[NR_SEGS] = {&vmcb->save.es,   &vmcb->save.cs, &vmcb->save.ss,
	                               &vmcb->save.ds,   &vmcb->save.fs, &vmcb->save.gs,
	                               &vmcb->save.ldtr, &vmcb->save.tr};
	return t[seg];
}

static void svm_get_state(struct vcpu *v, struct vcpu_arch_state *st)
{
	struct vmcb *vmcb = vmcb_of(v);
	struct vmcb_save *s = &vmcb->save;
	memset(st, 0, sizeof(*st));
	memcpy(st->gpr, v->gpr, sizeof(st->gpr));
	st->gpr[R_RAX] = s->rax;
	st->gpr[R_RSP] = s->rsp;
	st->rip = s->rip;
	st->rflags = s->rflags;
	st->cr0 = s->cr0;
	st->cr2 = s->cr2;
	st->cr3 = s->cr3;
	st->cr4 = s->cr4;
	st->cr8 = vmcb->ctl.int_ctl & V_TPR_MASK;
	st->efer = s->efer & ~EFER_SVME;
	st->dr6 = s->dr6;
	st->dr7 = s->dr7;
	for (int i = 0; i < NR_SEGS; i++)
		seg_from(seg_ptr(vmcb, i), &st->seg[i]);
	st->gdt = (struct dtable){s->gdtr.base, s->gdtr.limit};
	st->idt = (struct dtable){s->idtr.base, s->idtr.limit};
	st->star = s->star;
	st->lstar = s->lstar;
	st->cstar = s->cstar;
	st->sfmask = s->sfmask;
	st->kernel_gs_base = s->kernel_gs_base;
	st->sysenter_cs = s->sysenter_cs;
	st->sysenter_esp = s->sysenter_esp;
	st->sysenter_eip = s->sysenter_eip;
	st->pat = s->g_pat;
	st->xcr0 = v->xcr0;
	st->interrupt_shadow = vmcb->ctl.int_state & 1;
	uint64_t ev = vmcb->ctl.event_inj;
	if (ev & EVENT_VALID) {
		st->pending_event_valid = 1;
		st->pending_event_vector = EVENT_VECTOR(ev);
		st->pending_event_type = EVENT_TYPE(ev);
		st->pending_event_has_error = (ev & EVENT_EV) != 0;
		st->pending_event_error = (uint32_t)(ev >> 32);
	}
}

static void svm_set_state(struct vcpu *v, const struct vcpu_arch_state *st)
{
	struct vmcb *vmcb = vmcb_of(v);
	struct vmcb_save *s = &vmcb->save;
	memcpy(v->gpr, st->gpr, sizeof(v->gpr));
	s->rax = st->gpr[R_RAX];
	s->rsp = st->gpr[R_RSP];
	s->rip = st->rip;
	s->rflags = st->rflags | 2; /* bit 1 is always set */
	s->cr0 = st->cr0;
	s->cr2 = st->cr2;
	s->cr3 = st->cr3;
	s->cr4 = st->cr4;
	vmcb->ctl.int_ctl = (vmcb->ctl.int_ctl & ~V_TPR_MASK) | (st->cr8 & 0xf);
	s->efer = st->efer | EFER_SVME;
	s->dr6 = st->dr6 ? st->dr6 : 0xffff0ff0;
	s->dr7 = st->dr7 ? st->dr7 : 0x400;
	for (int i = 0; i < NR_SEGS; i++)
		seg_to(&st->seg[i], seg_ptr(vmcb, i));
	s->gdtr.base = st->gdt.base;
	s->gdtr.limit = st->gdt.limit;
	s->idtr.base = st->idt.base;
	s->idtr.limit = st->idt.limit;
	s->star = st->star;
	s->lstar = st->lstar;
	s->cstar = st->cstar;
	s->sfmask = st->sfmask;
	s->kernel_gs_base = st->kernel_gs_base;
	s->sysenter_cs = st->sysenter_cs;
	s->sysenter_esp = st->sysenter_esp;
	s->sysenter_eip = st->sysenter_eip;
	s->g_pat = st->pat ? st->pat : 0x0007040600070406ULL;
	/* CPL is the DPL of SS in protected mode, 0 in real mode (APM 15.5.1) */
	s->cpl = (st->cr0 & CR0_PE) ? (uint8_t)((st->seg[S_SS].attr >> 5) & 3) : 0;
	v->xcr0 = st->xcr0 ? st->xcr0 : 1;
	vmcb->ctl.int_state = st->interrupt_shadow & 1;
	vmcb->ctl.event_inj = 0;
	if (st->pending_event_valid)
		vmcb->ctl.event_inj = (st->pending_event_vector & 0xff) |
		                      ((uint64_t)(st->pending_event_type & 7) << 8) |
		                      (st->pending_event_has_error ? EVENT_EV : 0) |
		                      ((uint64_t)st->pending_event_error << 32) | EVENT_VALID;
	v->tlb_flush = true;
	struct svm_vcpu *sv = v->arch; /* NMI blocking is not part of the saved state */
	sv->nmi_masked = sv->iret_seen = false;
	vmcb->ctl.intercept_misc1 &= ~INTERCEPT1_IRET;
}

static uint64_t svm_get_rip(struct vcpu *v)
{
	return vmcb_of(v)->save.rip;
}

static void svm_set_rip(struct vcpu *v, uint64_t rip)
{
	vmcb_of(v)->save.rip = rip;
}

static uint64_t svm_get_reg(struct vcpu *v, int r)
{
	if (r == R_RAX)
		return vmcb_of(v)->save.rax;
	if (r == R_RSP)
		return vmcb_of(v)->save.rsp;
	return v->gpr[r];
}

static void svm_set_reg(struct vcpu *v, int r, uint64_t val)
{
	if (r == R_RAX)
		vmcb_of(v)->save.rax = val;
	else if (r == R_RSP)
		vmcb_of(v)->save.rsp = val;
	else
		v->gpr[r] = val;
}

static void svm_get_seg(struct vcpu *v, int seg, struct seg *out)
{
	seg_from(seg_ptr(vmcb_of(v), seg), out);
}

static uint64_t svm_get_cr(struct vcpu *v, int cr)
{
	struct vmcb_save *s = &vmcb_of(v)->save;
	switch (cr) {
	case 0:
		return s->cr0;
	case 2:
		return s->cr2;
	case 3:
		return s->cr3;
	case 4:
		return s->cr4;
	case 8:
		return vmcb_of(v)->ctl.int_ctl & V_TPR_MASK;
	default:
		return 0;
	}
}

static uint64_t svm_get_efer(struct vcpu *v)
{
	return vmcb_of(v)->save.efer & ~EFER_SVME;
}

static uint64_t svm_get_rflags(struct vcpu *v)
{
	return vmcb_of(v)->save.rflags;
}

static void svm_set_rflags(struct vcpu *v, uint64_t f)
{
	vmcb_of(v)->save.rflags = f | 2;
}

static void svm_set_cr2(struct vcpu *v, uint64_t cr2)
{
	vmcb_of(v)->save.cr2 = cr2;
}

/* svm_can_inject_irq: IF set, no STI/MOV-SS shadow, no event already queued. */
static bool svm_can_inject_irq(struct vcpu *v)
{
	struct vmcb *vmcb = vmcb_of(v);
	return (vmcb->save.rflags & RFLAGS_IF) && !(vmcb->ctl.int_state & 1) &&
	       !(vmcb->ctl.event_inj & EVENT_VALID);
}

static void svm_inject_irq(struct vcpu *v, uint8_t vector)
{
	vmcb_of(v)->ctl.event_inj = vector | ((uint64_t)EVENT_TYPE_INTR << 8) | EVENT_VALID;
}

/* svm_request_irq_window: a virtual interrupt makes the CPU exit when the guest can take
 * an interrupt (VINTR intercept, APM 15.21.4). */
static void svm_request_irq_window(struct vcpu *v, bool on)
{
	struct vmcb *vmcb = vmcb_of(v);
	if (on) {
		vmcb->ctl.int_ctl |= V_IRQ | V_IGN_TPR | (0xfULL << V_INTR_PRIO_SHIFT);
		vmcb->ctl.intercept_misc1 |= INTERCEPT1_VINTR;
	} else {
		vmcb->ctl.int_ctl &= ~(V_IRQ | V_IGN_TPR | (0xfULL << V_INTR_PRIO_SHIFT));
		vmcb->ctl.intercept_misc1 &= ~INTERCEPT1_VINTR;
	}
}

static void svm_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t err)
{
	vmcb_of(v)->ctl.event_inj = vector | ((uint64_t)EVENT_TYPE_EXC << 8) |
	                            (has_error ? EVENT_EV | ((uint64_t)err << 32) : 0) |
	                            EVENT_VALID;
}

/* svm_can_inject_nmi: NMIs are not masked by RFLAGS.IF, only by an NMI in service, the
 * interrupt shadow, or an event already queued. */
static bool svm_can_inject_nmi(struct vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	struct vmcb *vmcb = s->vmcb;
	if (s->nmi_masked && s->iret_seen && vmcb->save.rip != s->iret_rip)
		s->nmi_masked = s->iret_seen = false;
	return !s->nmi_masked && !(vmcb->ctl.int_state & 1) && !(vmcb->ctl.event_inj & EVENT_VALID);
}

static void svm_inject_nmi(struct vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	s->vmcb->ctl.event_inj = 2 | ((uint64_t)EVENT_TYPE_NMI << 8) | EVENT_VALID;
	s->nmi_masked = true; /* until the handler's IRET */
	s->iret_seen = false;
	s->vmcb->ctl.intercept_misc1 |= INTERCEPT1_IRET;
}

static void svm_flush_guest_tlb(struct vcpu *v)
{
	v->tlb_flush = true;
}

/* EFER bits a guest may set (APM 3.1.7): SCE, LME, LMA, NXE, LMSLE, FFXSR, TCE. */
#define EFER_GUEST_MASK                                                                            \
	((1ULL << 0) | (1ULL << 8) | (1ULL << 10) | (1ULL << 11) | (1ULL << 13) | (1ULL << 14) |   \
	 (1ULL << 15))

/* svm_msr_read: MSRs whose value lives in the VMCB. */
static bool svm_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	struct vmcb_save *s = &vmcb_of(v)->save;
	switch (msr) {
	case MSR_EFER:
		*val = s->efer & ~EFER_SVME;
		return true;
	case MSR_PAT:
		*val = s->g_pat;
		return true;
	case MSR_STAR:
		*val = s->star;
		return true;
	case MSR_LSTAR:
		*val = s->lstar;
		return true;
	case 0xc0000083:
		*val = s->cstar;
		return true;
	case 0xc0000084:
		*val = s->sfmask;
		return true;
	case MSR_FS_BASE:
		*val = s->fs.base;
		return true;
	case MSR_GS_BASE:
		*val = s->gs.base;
		return true;
	case MSR_KERNEL_GS_BASE:
		*val = s->kernel_gs_base;
		return true;
	case 0x174:
		*val = s->sysenter_cs;
		return true;
	case 0x175:
		*val = s->sysenter_esp;
		return true;
	case 0x176:
		*val = s->sysenter_eip;
		return true;
	default:
		return false;
	}
}

/* pat_valid: every PAT entry must be a defined memory type (0, 1, 4, 5, 6, 7). */
static bool pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		uint8_t t = (pat >> (8 * i)) & 0xff;
		if (t > 7 || t == 2 || t == 3)
			return false;
	}
	return true;
}

/* svm_msr_write: as svm_msr_read; false also for values the guest may not set. */
static bool svm_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	struct vmcb_save *s = &vmcb_of(v)->save;
	switch (msr) {
	case MSR_EFER:
		if (val & ~EFER_GUEST_MASK)
			return false;
		/* LME cannot change while paging is on (APM 3.1.7, SDM 4.1.2) */
		if (((val ^ s->efer) & EFER_LME) && (s->cr0 & CR0_PG))
			return false;
		s->efer = (val & ~EFER_LMA) | (s->efer & EFER_LMA) | EFER_SVME;
		v->tlb_flush = true;
		return true;
	case MSR_PAT:
		if (!pat_valid(val))
			return false;
		s->g_pat = val;
		return true;
	case MSR_STAR:
		s->star = val;
		return true;
	case MSR_LSTAR:
		s->lstar = val;
		return true;
	case 0xc0000083:
		s->cstar = val;
		return true;
	case 0xc0000084:
		s->sfmask = val;
		return true;
	case MSR_FS_BASE:
		s->fs.base = val;
		return true;
	case MSR_GS_BASE:
		s->gs.base = val;
		return true;
	case MSR_KERNEL_GS_BASE:
		s->kernel_gs_base = val;
		return true;
	case 0x174:
		s->sysenter_cs = val;
		return true;
	case 0x175:
		s->sysenter_esp = val;
		return true;
	case 0x176:
		s->sysenter_eip = val;
		return true;
	default:
		return false;
	}
}

/* AMD NPT entries are ordinary long-mode entries; guest accesses count as user accesses, so
 * every level needs U=1 (APM 15.25.5). */
#define NPT_P  (1ULL << 0)
#define NPT_RW (1ULL << 1)
#define NPT_US (1ULL << 2)
#define NPT_PS (1ULL << 7)
#define NPT_D  (1ULL << 6)
#define NPT_NX (1ULL << 63)

static uint64_t amd_leaf(uint64_t hpa, int level, unsigned perm)
{
	return hpa | NPT_P | NPT_US | ((perm & NPT_W) ? NPT_RW : 0) | (level ? NPT_PS : 0) |
	       ((perm & NPT_X) ? 0 : NPT_NX);
}

static uint64_t amd_table(uint64_t hpa)
{
	return hpa | NPT_P | NPT_RW | NPT_US;
}

static bool amd_present(uint64_t e)
{
	return e & NPT_P;
}

/* amd_perm: NPT_* permissions of a leaf (reads are always allowed when present). */
static unsigned amd_perm(uint64_t e)
{
	return NPT_R | ((e & NPT_RW) ? NPT_W : 0) | ((e & NPT_NX) ? 0 : NPT_X);
}

static const struct npt_format amd_npt = {
    .name = "NPT",
    .leaf = amd_leaf,
    .table = amd_table,
    .present = amd_present,
    .perm = amd_perm,
    .addr_mask = 0x000ffffffffff000ULL,
    .large_bit = NPT_PS,
    .dirty_bit = NPT_D,
};

const struct vmm_backend svm_backend = {
    .name = "AMD-V (SVM+NPT)",
    .cpu_init = svm_cpu_init,
    .vcpu_create = svm_vcpu_create,
    .vcpu_destroy = svm_vcpu_destroy,
    .run = svm_run,
    .get_state = svm_get_state,
    .set_state = svm_set_state,
    .get_rip = svm_get_rip,
    .set_rip = svm_set_rip,
    .get_reg = svm_get_reg,
    .set_reg = svm_set_reg,
    .get_seg = svm_get_seg,
    .get_cr = svm_get_cr,
    .get_efer = svm_get_efer,
    .get_rflags = svm_get_rflags,
    .set_rflags = svm_set_rflags,
    .set_cr2 = svm_set_cr2,
    .can_inject_irq = svm_can_inject_irq,
    .can_inject_nmi = svm_can_inject_nmi,
    .inject_irq = svm_inject_irq,
    .request_irq_window = svm_request_irq_window,
    .inject_exception = svm_inject_exception,
    .inject_nmi = svm_inject_nmi,
    .flush_guest_tlb = svm_flush_guest_tlb,
    .msr_read = svm_msr_read,
    .msr_write = svm_msr_write,
    .npt = &amd_npt,
};
