/*
 * The Intel VT-x backend (vmm/vmx/): shared declarations of its files.
 *
 *   vmx.c        bring-up per CPU, capability checks, control computation, VMCS set-up, run
 *   vmx_exit.c   exit decoding into struct vmexit, CR accesses, re-injection, PML draining
 *   vmx_state.c  guest state <-> struct vcpu_arch_state, accessors, event injection, MSRs
 *   vmx_check.c  why a VM entry failed: the SDM 3C 27.2/27.3 checks, named
 *   vmx_cmd.c    the `vmx` console command (capabilities, PML knob)
 *   ept.c        the EPT entry format for vmm/npt.c, EPTP, INVEPT
 *   vmx_enter.asm the world switch
 * See docs/vmx.md for the design.
 */
#ifndef TERN_VMX_H
#define TERN_VMX_H

#include "vmm/vcpu.h"

extern const struct vmm_backend vmx_backend;

/* What this CPU model offers and what Tern chose (computed once, on the boot CPU). */
struct vmx_caps {
	uint64_t basic, misc, ept_vpid;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint32_t pin, proc, proc2, exit, entry; /* the controls every VMCS gets */
	uint32_t revision;
	bool ept_ad, pml, vpid, invept_single, invvpid_single, ins_outs_info, store_lma;
	bool invpcid;           /* guest INVPCID enabled (else CPUID hides it) */
	bool nmi_window;        /* NMI-window exiting with virtual NMIs */
	uint32_t preempt_ticks; /* VMX-preemption timer value bounding each guest run */
	uint64_t cr0_guest_mask, cr4_guest_mask; /* bits owned by Tern (MOV exits) */
};
extern struct vmx_caps vmx_caps;

/* The longest a guest runs without an exit when the CPU has the VMX-preemption timer: host
 * interrupts normally cause exits anyway, but Bochs 2.7 does not take external-interrupt
 * exits while the guest entered with RFLAGS.IF = 0 (it re-evaluates interrupt masking only on
 * an IF change), which would starve the host scheduler and console behind a spinning vCPU. */
#define VMX_RUN_BOUND_NS 10000000ULL
/* How dirty logging finds the pages a guest wrote (`vmx dirty`, read at vm-dirty start): by
 * default the best the CPU has; the others stay selectable so that every path is tested. */
enum vmx_dirty { VMX_DIRTY_WP, VMX_DIRTY_AD, VMX_DIRTY_PML };
extern enum vmx_dirty vmx_dirty_mode;
extern const char *const vmx_dirty_names[3];
extern uint64_t vmx_pml_logged; /* PML entries drained so far (all VMs), for `vmx` */

/* Per host CPU. */
struct vmx_cpu {
	uint64_t vmxon_pa;
	struct vmx_vcpu *current; /* VMCS loaded by VMPTRLD */
	struct vcpu *msr_owner;   /* whose syscall MSRs are in the hardware registers */
};

/* The syscall MSRs the guest uses directly; swapped lazily (KVM's "user-return" idea). */
enum { GMSR_STAR, GMSR_LSTAR, GMSR_CSTAR, GMSR_SFMASK, GMSR_KGSBASE, NR_GMSRS };
extern const uint32_t vmx_gmsr_index[NR_GMSRS];

/* Per vCPU. */
struct vmx_vcpu {
	struct vcpu *v;
	uint64_t vmcs_pa;
	int cpu;       /* host CPU whose VMCS cache holds it, -1 when clear */
	bool launched; /* VMLAUNCH done since the last VMCLEAR */
	bool setup;    /* controls and host state written since the last VMCLEAR */
	/* While `cached`, the guest state lives in st (not yet loaded, or the thread parked),
	 * and the accessors use it; otherwise the VMCS is the truth. */
	bool cached;
	struct vcpu_arch_state st;
	bool want_irq_window;
	uint32_t proc_written;   /* primary controls as last written */
	uint64_t gmsr[NR_GMSRS]; /* valid while this vCPU is not the CPU's msr_owner */
	uint16_t vpid;
	bool vpid_flush; /* INVVPID before the next entry (guest state replaced) */
	bool pml_want, pml_on;
	uint64_t pml_pa;
	uint64_t tsc_offset_written;
	bool nmi_deferred; /* NMI-window exiting on: an NMI waits for the guest to unblock */
	uint64_t cr2;      /* guest CR2 (VMX does not switch it): in the register while in guest */
};

/* vmx_of: the backend state of a vCPU. */
static inline struct vmx_vcpu *vmx_of(struct vcpu *v)
{
	return v->arch;
}

/* vmx.c */
/* vmx_why_not: why start-up failed, for `version`. */
const char *vmx_why_not(void);
/* vmx_load: make v's VMCS current on this CPU, writing cached state into it. */
void vmx_load(struct vcpu *v);

/* vmx_state.c: the backend operations on guest state */
void vmx_get_state(struct vcpu *v, struct vcpu_arch_state *st);
void vmx_set_state(struct vcpu *v, const struct vcpu_arch_state *st);
uint64_t vmx_get_rip(struct vcpu *v);
void vmx_set_rip(struct vcpu *v, uint64_t rip);
uint64_t vmx_get_reg(struct vcpu *v, int r);
void vmx_set_reg(struct vcpu *v, int r, uint64_t val);
void vmx_get_seg(struct vcpu *v, int seg, struct seg *out);
uint64_t vmx_get_cr(struct vcpu *v, int cr);
uint64_t vmx_get_efer(struct vcpu *v);
uint64_t vmx_get_rflags(struct vcpu *v);
void vmx_set_rflags(struct vcpu *v, uint64_t f);
void vmx_set_cr2(struct vcpu *v, uint64_t cr2);
bool vmx_can_inject_irq(struct vcpu *v);
void vmx_inject_irq(struct vcpu *v, uint8_t vector);
void vmx_request_irq_window(struct vcpu *v, bool on);
void vmx_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t err);
void vmx_inject_nmi(struct vcpu *v);
bool vmx_can_inject_nmi(struct vcpu *v);
/* vmx_nmi_window: NMI-window exit: the run loop may inject the NMI now. */
void vmx_nmi_window(struct vcpu *v);
bool vmx_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool vmx_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
/* vmx_error_code_delivered: whether VM entry delivers an error code with this hardware
 * exception (also what vmx_check.c checks). */
bool vmx_error_code_delivered(unsigned vector, uint64_t cr0);
/* conversions between the VMCS (current, loaded) and the common state */
void vmx_write_state(struct vcpu *v, const struct vcpu_arch_state *st);
void vmx_read_state(struct vcpu *v, struct vcpu_arch_state *st);
/* vmx_set_cr0 / vmx_set_cr4: a guest-visible value into GUEST_CRx + read shadow, keeping
 * the bits VMX requires; track EFER.LMA; false (#GP due) for a value the guest may not set. */
bool vmx_set_cr0(struct vcpu *v, uint64_t val);
bool vmx_set_cr4(struct vcpu *v, uint64_t val);
void vmx_set_cr3(struct vcpu *v, uint64_t val);
uint64_t vmx_guest_cr(struct vcpu *v, int cr);
void vmx_gmsr_save(struct vcpu *v);
void vmx_gmsr_load(struct vcpu *v);

/* vmx_exit.c */
void vmx_decode_exit(struct vcpu *v, struct vmexit *e);
void vmx_pml_drain(struct vcpu *v);
/* vmx_entry_failed: fill e for a VMLAUNCH/VMRESUME that did not enter (rc from vmx_enter). */
void vmx_entry_failed(struct vcpu *v, int rc, struct vmexit *e);

/* vmx_check.c */
/* vmx_diagnose: the first SDM check the current VMCS fails, or NULL; for entry failures. */
const char *vmx_diagnose(char *buf, size_t len);

/* ept.c */
extern const struct npt_format ept_format;
uint64_t ept_pointer(uint64_t root);
void ept_invalidate(uint64_t eptp);
/* ept_describe: the EPT entries walked for gpa, for EPT-misconfiguration reports. */
void ept_describe(struct vcpu *v, uint64_t gpa, char *buf, size_t len);

#endif
