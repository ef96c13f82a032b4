/*
 * VMX guest state: conversion between the VMCS guest-state area (SDM 3C 25.4) and struct
 * vcpu_arch_state, the quick accessors the exit handlers use, event injection (SDM 3C 27.6),
 * control registers with Tern-owned bits, and the MSRs the VMCS or Tern keep.
 *
 * While a vCPU is `cached` (never run yet, or its thread parked), every operation works on the
 * software copy s->st; otherwise on the VMCS, which vmx_load makes current on this CPU first.
 * Segment attributes are already in the VMX access-rights layout in the common format.
 */
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/vm.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx.h"

#define CR0_OWNED_FLUSH (CR0_PE | CR0_PG | CR0_WP | CR0_CD | CR0_NW)
/* CR4 bits whose change flushes the TLB (SDM 3A 4.10.4.1): PSE PAE PGE LA57 PCIDE SMEP SMAP */
#define CR4_FLUSH_BITS                                                                             \
	((1ULL << 4) | (1ULL << 5) | (1ULL << 7) | (1ULL << 12) | (1ULL << 17) | (1ULL << 20) |    \
	 (1ULL << 21))
#define CR4_SMXE  (1ULL << 14)
#define CR4_PCIDE (1ULL << 17)
/* EFER bits an Intel guest may set (SDM 3A 2.2.1): SCE, LME, LMA (read-only), NXE */
#define EFER_INTEL_MASK  (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)
#define PAT_RESET        0x0007040600070406ULL
#define AR_TYPE_ACCESSED 1u
#define AR_S             (1u << 4)

/* VMCS_GUARD: interrupts off until the enclosing function returns. Accessors run in the vCPU
 * thread with interrupts on; a thread is preempted only at interrupt return, and another vCPU
 * thread on this CPU loads its own VMCS. So "make v's VMCS current" and the VMREAD/VMWRITEs
 * after it must not be interrupted, or they reach the other vCPU's VMCS. */
static inline void vmcs_unguard(uint64_t *fl)
{
	irq_restore(*fl);
}
#define VMCS_GUARD uint64_t vmcs_guard_fl __attribute__((cleanup(vmcs_unguard))) = irq_save()

/* live: false while the state is cached; else the VMCS is made current and true (call it
 * under VMCS_GUARD). */
static bool live(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	if (s->cached)
		return false;
	vmx_load(v);
	return true;
}

/* visible_cr: what the guest reads from CR0/CR4: read shadow for Tern-owned bits. */
static uint64_t visible_cr(uint64_t real, uint64_t shadow, uint64_t mask)
{
	return (real & ~mask) | (shadow & mask);
}

uint64_t vmx_guest_cr(struct vcpu *v, int cr)
{
	if (cr == 0)
		return visible_cr(vmread(VMCS_GUEST_CR0), vmread(VMCS_CR0_SHADOW),
		                  vmx_caps.cr0_guest_mask);
	if (cr == 4)
		return visible_cr(vmread(VMCS_GUEST_CR4), vmread(VMCS_CR4_SHADOW),
		                  vmx_caps.cr4_guest_mask);
	return vmread(VMCS_GUEST_CR3);
}

/* write_cr0_fields / write_cr4_fields: the guest value as read shadow, plus what VMX requires
 * (NE; VMXE) in the real register (SDM 3C 24.8; PE/PG may be 0 with unrestricted guest). */
static void write_cr0_fields(uint64_t val)
{
	uint64_t fixed0 = vmx_caps.cr0_fixed0 & ~(CR0_PE | CR0_PG);
	vmwrite(VMCS_GUEST_CR0, (val | fixed0) & vmx_caps.cr0_fixed1);
	vmwrite(VMCS_CR0_SHADOW, val);
}

static void write_cr4_fields(uint64_t val)
{
	vmwrite(VMCS_GUEST_CR4, (val | vmx_caps.cr4_fixed0) & vmx_caps.cr4_fixed1);
	vmwrite(VMCS_CR4_SHADOW, val);
}

/* load_pdptes: with PAE paging outside long mode VM entry loads the four PDPTEs from the
 * VMCS, not from memory (SDM 3C 27.3.2.4): refresh them from the guest's CR3. */
static void load_pdptes(struct vcpu *v)
{
	uint64_t cr0 = vmx_guest_cr(v, 0), cr4 = vmx_guest_cr(v, 4);
	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (vmread(VMCS_GUEST_EFER) & EFER_LMA))
		return;
	uint64_t pdpte[4] = {0};
	gmem_read(&v->vm->mem, vmread(VMCS_GUEST_CR3) & 0xffffffe0ULL, pdpte, sizeof(pdpte));
	for (int i = 0; i < 4; i++)
		vmwrite(VMCS_GUEST_PDPTE(i), pdpte[i]);
}

/* set_long_mode: EFER.LMA and the "IA-32e mode guest" entry control move together. */
static void set_long_mode(uint64_t efer, bool lma)
{
	uint32_t entry = (uint32_t)vmread(VMCS_ENTRY_CTLS);
	vmwrite(VMCS_GUEST_EFER, lma ? efer | EFER_LMA : efer & ~EFER_LMA);
	vmwrite(VMCS_ENTRY_CTLS, lma ? entry | ENTRY_IA32E : entry & ~ENTRY_IA32E);
}

/* vmx_set_cr0: MOV to CR0 by the guest (SDM 3A 2.5, 9.8.5 for long-mode activation). */
bool vmx_set_cr0(struct vcpu *v, uint64_t val)
{
	struct vmx_vcpu *s = vmx_of(v);
	uint64_t old = vmx_guest_cr(v, 0), efer = vmread(VMCS_GUEST_EFER);
	val |= CR0_ET;
	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) ||
	    ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	if ((val & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
		if (!(vmx_guest_cr(v, 4) & CR4_PAE))
			return false;
		set_long_mode(efer, true);
	} else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
		if (vmread(VMCS_GUEST_AR(S_CS)) & SEG_ATTR_L)
			return false; /* paging off from 64-bit code */
		set_long_mode(efer, false);
	}
	write_cr0_fields(val);
	if ((old ^ val) & CR0_OWNED_FLUSH)
		s->vpid_flush = true;
	load_pdptes(v);
	return true;
}

/* vmx_set_cr4: MOV to CR4 by the guest: VMX/SMX and unsupported bits raise #GP. */
bool vmx_set_cr4(struct vcpu *v, uint64_t val)
{
	struct vmx_vcpu *s = vmx_of(v);
	uint64_t old = vmx_guest_cr(v, 4);
	uint64_t allowed = vmx_caps.cr4_fixed1 & ~(CR4_VMXE | CR4_SMXE);
	bool lma = vmread(VMCS_GUEST_EFER) & EFER_LMA;
	if ((val & ~allowed) || (lma && !(val & CR4_PAE)) || (!lma && (val & CR4_PCIDE)))
		return false;
	write_cr4_fields(val);
	if ((old ^ val) & CR4_FLUSH_BITS)
		s->vpid_flush = true;
	load_pdptes(v);
	return true;
}

/* vmx_set_cr3: MOV to CR3 when the CPU forces CR3-load exiting; bit 63 with CR4.PCIDE keeps
 * the TLB (SDM 3A 4.10.4.1). */
void vmx_set_cr3(struct vcpu *v, uint64_t val)
{
	struct vmx_vcpu *s = vmx_of(v);
	bool keep = (vmx_guest_cr(v, 4) & CR4_PCIDE) && (val >> 63);
	vmwrite(VMCS_GUEST_CR3, val & ~(1ULL << 63));
	if (!keep)
		s->vpid_flush = true;
	load_pdptes(v);
}

/* seg_ar_for_entry: access rights VM entry accepts for a state from any source: P=0 means
 * unusable, code/data segments are "accessed", a TSS is "busy" (SDM 3C 27.3.1.2). */
static uint32_t seg_ar_for_entry(int seg, uint32_t attr)
{
	uint32_t ar = attr & 0x1f0ffu;
	if (!(ar & SEG_ATTR_P))
		ar |= SEG_ATTR_UNUSABLE;
	if (ar & SEG_ATTR_UNUSABLE)
		return ar;
	if (ar & AR_S)
		ar |= AR_TYPE_ACCESSED;
	else if (seg == S_TR && ((ar & 0xf) == 1 || (ar & 0xf) == 9))
		ar |= 2;
	return ar;
}

/* vmx_error_code_delivered: VM entry delivers an error code exactly for these hardware
 * exceptions in protected mode (SDM 3C 27.2.1.3). */
bool vmx_error_code_delivered(unsigned vector, uint64_t cr0)
{
	bool has = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
	return has && (cr0 & CR0_PE);
}

/* write_event: an event to deliver at the next entry (SDM 3C 25.8.3). */
static void write_event(unsigned vector, unsigned type, uint32_t error, uint64_t cr0)
{
	uint32_t info = vector | (type << 8) | INTR_INFO_VALID;
	if (type == INTR_TYPE_HW_EXC && vmx_error_code_delivered(vector, cr0)) {
		info |= INTR_INFO_HAS_ERROR;
		vmwrite(VMCS_ENTRY_EXC_ERROR, error);
	}
	vmwrite(VMCS_ENTRY_INTR_INFO, info);
}

/* vmx_write_state: load a complete common state into the current VMCS. */
void vmx_write_state(struct vcpu *v, const struct vcpu_arch_state *st)
{
	struct vmx_vcpu *s = vmx_of(v);
	memcpy(v->gpr, st->gpr, sizeof(v->gpr));
	vmwrite(VMCS_GUEST_RSP, st->gpr[R_RSP]);
	vmwrite(VMCS_GUEST_RIP, st->rip);
	vmwrite(VMCS_GUEST_RFLAGS, (st->rflags & 0x3f7fd7ULL) | 2);
	write_cr0_fields(st->cr0 | CR0_ET);
	write_cr4_fields(st->cr4);
	vmwrite(VMCS_GUEST_CR3, st->cr3);
	s->cr2 = st->cr2;
	uint64_t efer = st->efer & EFER_INTEL_MASK;
	set_long_mode(efer, (efer & EFER_LME) && (st->cr0 & CR0_PG));
	vmwrite(VMCS_GUEST_DR7, st->dr7 ? st->dr7 : 0x400);
	uint64_t dr6 = st->dr6 ? st->dr6 : 0xffff0ff0ULL; /* not in the VMCS: the register */
	__asm__ volatile("mov %0, %%dr6" : : "r"(dr6));
	for (int i = 0; i < NR_SEGS; i++) {
		const struct seg *sg = &st->seg[i];
		vmwrite(VMCS_GUEST_SEL(i), sg->sel);
		vmwrite(VMCS_GUEST_BASE(i), sg->base);
		vmwrite(VMCS_GUEST_LIMIT(i), sg->limit);
		vmwrite(VMCS_GUEST_AR(i), seg_ar_for_entry(i, sg->attr));
	}
	vmwrite(VMCS_GUEST_GDTR_BASE, st->gdt.base);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, st->gdt.limit & 0xffff);
	vmwrite(VMCS_GUEST_IDTR_BASE, st->idt.base);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, st->idt.limit & 0xffff);
	vmwrite(VMCS_GUEST_SYSENTER_CS, st->sysenter_cs);
	vmwrite(VMCS_GUEST_SYSENTER_ESP, st->sysenter_esp);
	vmwrite(VMCS_GUEST_SYSENTER_EIP, st->sysenter_eip);
	vmwrite(VMCS_GUEST_PAT, st->pat ? st->pat : PAT_RESET);
	const uint64_t gm[NR_GMSRS] = {st->star, st->lstar, st->cstar, st->sfmask,
	                               st->kernel_gs_base};
	memcpy(s->gmsr, gm, sizeof(gm));
	struct vmx_cpu *c = this_cpu()->vmm;
	if (c->msr_owner == v)
		c->msr_owner = NULL; /* reloaded from gmsr before the next entry */
	v->xcr0 = st->xcr0 ? st->xcr0 : 1;
	uint32_t intr = 0;
	if (st->interrupt_shadow)
		intr = (st->rflags & RFLAGS_IF) ? INTERRUPTIBILITY_STI : INTERRUPTIBILITY_MOVSS;
	if (st->nmi_masked)
		intr |= INTERRUPTIBILITY_NMI;
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, intr);
	/* single-stepping under an STI/MOV-SS shadow needs BS pending (SDM 3C 27.3.1.5) */
	vmwrite(VMCS_GUEST_PENDING_DBG, (intr & 3) && (st->rflags & (1ULL << 8)) ? 1ULL << 14 : 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	if (st->pending_event_valid &&
	    (st->pending_event_type == INTR_TYPE_EXT || st->pending_event_type == INTR_TYPE_NMI ||
	     st->pending_event_type == INTR_TYPE_HW_EXC))
		write_event(st->pending_event_vector & 0xff, st->pending_event_type,
		            st->pending_event_error, st->cr0);
	load_pdptes(v);
	s->vpid_flush = true; /* the guest's linear translations are someone else's now */
}

/* vmx_read_state: the current VMCS as a common state. Software-event re-injections are not
 * recorded: RIP still points at the INT instruction, which runs again after a restore. */
void vmx_read_state(struct vcpu *v, struct vcpu_arch_state *st)
{
	struct vmx_vcpu *s = vmx_of(v);
	memset(st, 0, sizeof(*st));
	memcpy(st->gpr, v->gpr, sizeof(st->gpr));
	st->gpr[R_RSP] = vmread(VMCS_GUEST_RSP);
	st->rip = vmread(VMCS_GUEST_RIP);
	st->rflags = vmread(VMCS_GUEST_RFLAGS);
	st->cr0 = vmx_guest_cr(v, 0);
	st->cr2 = s->cr2;
	st->cr3 = vmread(VMCS_GUEST_CR3);
	st->cr4 = vmx_guest_cr(v, 4);
	st->cr8 = (v->lapic.tpr >> 4) & 0xf;
	st->efer = vmread(VMCS_GUEST_EFER);
	uint64_t dr6;
	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	st->dr6 = dr6;
	st->dr7 = vmread(VMCS_GUEST_DR7);
	for (int i = 0; i < NR_SEGS; i++)
		vmx_get_seg(v, i, &st->seg[i]);
	st->gdt =
	    (struct dtable){vmread(VMCS_GUEST_GDTR_BASE), (uint32_t)vmread(VMCS_GUEST_GDTR_LIMIT)};
	st->idt =
	    (struct dtable){vmread(VMCS_GUEST_IDTR_BASE), (uint32_t)vmread(VMCS_GUEST_IDTR_LIMIT)};
	st->sysenter_cs = vmread(VMCS_GUEST_SYSENTER_CS);
	st->sysenter_esp = vmread(VMCS_GUEST_SYSENTER_ESP);
	st->sysenter_eip = vmread(VMCS_GUEST_SYSENTER_EIP);
	st->pat = vmread(VMCS_GUEST_PAT);
	if (((struct vmx_cpu *)this_cpu()->vmm)->msr_owner == v)
		vmx_gmsr_save(v);
	st->star = s->gmsr[GMSR_STAR];
	st->lstar = s->gmsr[GMSR_LSTAR];
	st->cstar = s->gmsr[GMSR_CSTAR];
	st->sfmask = s->gmsr[GMSR_SFMASK];
	st->kernel_gs_base = s->gmsr[GMSR_KGSBASE];
	st->xcr0 = v->xcr0;
	uint32_t intr = (uint32_t)vmread(VMCS_GUEST_INTERRUPTIBILITY);
	st->interrupt_shadow = (intr & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS)) != 0;
	st->nmi_masked = (intr & INTERRUPTIBILITY_NMI) != 0;
	uint32_t ev = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
	unsigned type = INTR_INFO_TYPE(ev);
	if ((ev & INTR_INFO_VALID) &&
	    (type == INTR_TYPE_EXT || type == INTR_TYPE_NMI || type == INTR_TYPE_HW_EXC)) {
		st->pending_event_valid = 1;
		st->pending_event_vector = INTR_INFO_VECTOR(ev);
		st->pending_event_type = type;
		st->pending_event_has_error = (ev & INTR_INFO_HAS_ERROR) != 0;
		st->pending_event_error = (uint32_t)vmread(VMCS_ENTRY_EXC_ERROR);
	}
}

/* vmx_gmsr_save / vmx_gmsr_load: the lazily switched syscall MSRs, registers <-> copy. */
void vmx_gmsr_save(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	for (int i = 0; i < NR_GMSRS; i++)
		s->gmsr[i] = rdmsr(vmx_gmsr_index[i]);
}

void vmx_gmsr_load(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	for (int i = 0; i < NR_GMSRS; i++)
		wrmsr(vmx_gmsr_index[i], s->gmsr[i]);
}

void vmx_get_state(struct vcpu *v, struct vcpu_arch_state *st)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	if (!live(v)) {
		*st = s->st;
		st->cr8 = (v->lapic.tpr >> 4) & 0xf;
		return;
	}
	vmx_read_state(v, st);
}

/* vmx_set_state: into the software copy; vmx_load writes it to the VMCS on the vCPU's CPU. */
void vmx_set_state(struct vcpu *v, const struct vcpu_arch_state *st)
{
	struct vmx_vcpu *s = vmx_of(v);
	s->st = *st;
	s->cached = true;
	s->nmi_deferred = s->want_irq_window = false;
}

uint64_t vmx_get_rip(struct vcpu *v)
{
	VMCS_GUARD;
	return live(v) ? vmread(VMCS_GUEST_RIP) : vmx_of(v)->st.rip;
}

/* vmx_set_rip: Tern completed the guest's instruction (skipped, emulated): an STI or MOV SS
 * shadow it ran in ends with it (SDM 3A 6.8.3), else e.g. `sti; hlt` keeps blocking the
 * interrupt meant to end the HLT. */
void vmx_set_rip(struct vcpu *v, uint64_t rip)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	if (!live(v)) {
		s->st.rip = rip;
		s->st.interrupt_shadow = 0;
		return;
	}
	vmwrite(VMCS_GUEST_RIP, rip);
	uint32_t intr = (uint32_t)vmread(VMCS_GUEST_INTERRUPTIBILITY);
	if (intr & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS))
		vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
		        intr & ~(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS));
}

uint64_t vmx_get_reg(struct vcpu *v, int r)
{
	VMCS_GUARD;
	if (!live(v))
		return vmx_of(v)->st.gpr[r];
	return r == R_RSP ? vmread(VMCS_GUEST_RSP) : v->gpr[r];
}

void vmx_set_reg(struct vcpu *v, int r, uint64_t val)
{
	VMCS_GUARD;
	if (!live(v))
		vmx_of(v)->st.gpr[r] = val;
	else if (r == R_RSP)
		vmwrite(VMCS_GUEST_RSP, val);
	else
		v->gpr[r] = val;
}

void vmx_get_seg(struct vcpu *v, int seg, struct seg *out)
{
	VMCS_GUARD;
	if (!live(v)) {
		*out = vmx_of(v)->st.seg[seg];
		return;
	}
	out->sel = (uint16_t)vmread(VMCS_GUEST_SEL(seg));
	out->base = vmread(VMCS_GUEST_BASE(seg));
	out->limit = (uint32_t)vmread(VMCS_GUEST_LIMIT(seg));
	out->attr = (uint32_t)vmread(VMCS_GUEST_AR(seg)) & 0x1f0ffu;
}

uint64_t vmx_get_cr(struct vcpu *v, int cr)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	if (cr == 8)
		return (v->lapic.tpr >> 4) & 0xf; /* CR8 is the TPR (SDM 3A 10.8.6.1) */
	if (!live(v))
		return cr == 0   ? s->st.cr0
		       : cr == 2 ? s->st.cr2
		       : cr == 3 ? s->st.cr3
		       : cr == 4 ? s->st.cr4
		                 : 0;
	if (cr == 2)
		return s->cr2;
	return cr == 0 || cr == 3 || cr == 4 ? vmx_guest_cr(v, cr) : 0;
}

uint64_t vmx_get_efer(struct vcpu *v)
{
	VMCS_GUARD;
	return live(v) ? vmread(VMCS_GUEST_EFER) : vmx_of(v)->st.efer;
}

uint64_t vmx_get_rflags(struct vcpu *v)
{
	VMCS_GUARD;
	return live(v) ? vmread(VMCS_GUEST_RFLAGS) : vmx_of(v)->st.rflags;
}

void vmx_set_rflags(struct vcpu *v, uint64_t f)
{
	VMCS_GUARD;
	if (live(v))
		vmwrite(VMCS_GUEST_RFLAGS, f | 2);
	else
		vmx_of(v)->st.rflags = f | 2;
}

void vmx_set_cr2(struct vcpu *v, uint64_t cr2)
{
	struct vmx_vcpu *s = vmx_of(v);
	if (s->cached)
		s->st.cr2 = cr2;
	else
		s->cr2 = cr2;
}

/* vmx_can_inject_irq: IF set, no STI/MOV-SS blocking, nothing queued (SDM 3C 27.3.1.5). */
bool vmx_can_inject_irq(struct vcpu *v)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	if (!live(v))
		return (s->st.rflags & RFLAGS_IF) && !s->st.interrupt_shadow &&
		       !s->st.pending_event_valid;
	return (vmread(VMCS_GUEST_RFLAGS) & RFLAGS_IF) &&
	       !(vmread(VMCS_GUEST_INTERRUPTIBILITY) &
	         (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS)) &&
	       !(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID);
}

/* queue: an event for the next entry, in whichever copy is live. */
static void queue(struct vcpu *v, unsigned vector, unsigned type, uint32_t error)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	if (!live(v)) {
		s->st.pending_event_valid = 1;
		s->st.pending_event_vector = vector;
		s->st.pending_event_type = type;
		s->st.pending_event_has_error =
		    type == INTR_TYPE_HW_EXC && vmx_error_code_delivered(vector, s->st.cr0);
		s->st.pending_event_error = error;
		return;
	}
	write_event(vector, type, error, vmx_guest_cr(v, 0));
}

void vmx_inject_irq(struct vcpu *v, uint8_t vector)
{
	queue(v, vector, INTR_TYPE_EXT, 0);
}

/* update_proc: the primary controls with the window exits wanted now. */
static void update_proc(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	uint32_t p = vmx_caps.proc | (s->want_irq_window ? PROC_INTR_WINDOW : 0) |
	             (s->nmi_deferred ? PROC_NMI_WINDOW : 0);
	if (p != s->proc_written) {
		vmwrite(VMCS_PROC_CTLS, p);
		s->proc_written = p;
	}
}

/* vmx_request_irq_window: interrupt-window exiting (SDM 3C 26.7.5). */
void vmx_request_irq_window(struct vcpu *v, bool on)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	s->want_irq_window = on;
	if (live(v))
		update_proc(v);
}

void vmx_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t err)
{
	(void)has_error; /* VM entry decides from vector and mode: vmx_error_code_delivered */
	queue(v, vector, INTR_TYPE_HW_EXC, err);
}

/* vmx_can_inject_nmi: no NMI in service (virtual-NMI blocking, which the CPU sets on delivery
 * and clears at the handler's IRET), no STI/MOV-SS shadow, nothing queued. If not, ask for an
 * NMI-window exit so the run loop tries again as soon as it can (SDM 3C 26.7.6). */
bool vmx_can_inject_nmi(struct vcpu *v)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	if (!live(v))
		return !s->st.nmi_masked && !s->st.interrupt_shadow && !s->st.pending_event_valid;
	bool ok = !(vmread(VMCS_GUEST_INTERRUPTIBILITY) &
	            (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS | INTERRUPTIBILITY_NMI)) &&
	          !(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID);
	if (s->nmi_deferred != (!ok && vmx_caps.nmi_window)) {
		s->nmi_deferred = !ok && vmx_caps.nmi_window;
		update_proc(v);
	}
	return ok;
}

void vmx_inject_nmi(struct vcpu *v)
{
	queue(v, 2, INTR_TYPE_NMI, 0);
}

/* vmx_nmi_window: the NMI-window exit came: stop asking; the run loop injects now. */
void vmx_nmi_window(struct vcpu *v)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	s->nmi_deferred = false;
	update_proc(v);
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

/* gmsr_slot: index of a lazily switched MSR, or -1. */
static int gmsr_slot(uint32_t msr)
{
	for (int i = 0; i < NR_GMSRS; i++)
		if (vmx_gmsr_index[i] == msr)
			return i;
	return -1;
}

/* vmx_msr_read: MSRs in the VMCS, the lazily switched ones, and Intel platform MSRs a
 * Linux guest reads on Intel CPUs (SDM 4 table 2-2). Called from exit handlers only. */
bool vmx_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	vmx_load(v);
	int g = gmsr_slot(msr);
	if (g >= 0) {
		bool owner = ((struct vmx_cpu *)this_cpu()->vmm)->msr_owner == v;
		*val = owner ? rdmsr(msr) : s->gmsr[g];
		return true;
	}
	switch (msr) {
	case MSR_EFER:
		*val = vmread(VMCS_GUEST_EFER);
		return true;
	case MSR_PAT:
		*val = vmread(VMCS_GUEST_PAT);
		return true;
	case MSR_FS_BASE:
		*val = vmread(VMCS_GUEST_BASE(S_FS));
		return true;
	case MSR_GS_BASE:
		*val = vmread(VMCS_GUEST_BASE(S_GS));
		return true;
	case 0x174:
		*val = vmread(VMCS_GUEST_SYSENTER_CS);
		return true;
	case 0x175:
		*val = vmread(VMCS_GUEST_SYSENTER_ESP);
		return true;
	case 0x176:
		*val = vmread(VMCS_GUEST_SYSENTER_EIP);
		return true;
	case MSR_FEATURE_CONTROL:
		*val = FEATURE_CONTROL_LOCK;
		return true; /* locked, no VMX */
	case 0x17:
		*val = 0;
		return true; /* IA32_PLATFORM_ID */
	case 0x1a0:
		*val = 0x1801;
		return true; /* MISC_ENABLE: fast strings, no BTS/PEBS */
	default:
		return false;
	}
}

/* vmx_msr_write: as vmx_msr_read; false also for values the guest may not set (#GP). */
bool vmx_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	VMCS_GUARD;
	struct vmx_vcpu *s = vmx_of(v);
	vmx_load(v);
	int g = gmsr_slot(msr);
	if (g >= 0) {
		s->gmsr[g] = val;
		if (((struct vmx_cpu *)this_cpu()->vmm)->msr_owner == v)
			wrmsr(msr, val);
		return true;
	}
	uint64_t efer = vmread(VMCS_GUEST_EFER);
	switch (msr) {
	case MSR_EFER:
		if ((val & ~EFER_INTEL_MASK) ||
		    ((vmx_guest_cr(v, 0) & CR0_PG) && ((val ^ efer) & EFER_LME)))
			return false;
		vmwrite(VMCS_GUEST_EFER, (val & ~EFER_LMA) | (efer & EFER_LMA));
		if ((val ^ efer) & EFER_NXE)
			s->vpid_flush = true;
		return true;
	case MSR_PAT:
		if (!pat_valid(val))
			return false;
		vmwrite(VMCS_GUEST_PAT, val);
		return true;
	case MSR_FS_BASE:
		vmwrite(VMCS_GUEST_BASE(S_FS), val);
		return true;
	case MSR_GS_BASE:
		vmwrite(VMCS_GUEST_BASE(S_GS), val);
		return true;
	case 0x174:
		vmwrite(VMCS_GUEST_SYSENTER_CS, val);
		return true;
	case 0x175:
		vmwrite(VMCS_GUEST_SYSENTER_ESP, val);
		return true;
	case 0x176:
		vmwrite(VMCS_GUEST_SYSENTER_EIP, val);
		return true;
	/* read-only here; writing back the value read is accepted (hardware would #GP on the
	 * locked FEATURE_CONTROL, but "what a read returns can be written back" is kinder) */
	case MSR_FEATURE_CONTROL:
		return val == FEATURE_CONTROL_LOCK;
	case 0x17:
		return val == 0;
	case 0x1a0:
		return val == 0x1801;
	default:
		return false;
	}
}
