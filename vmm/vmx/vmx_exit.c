/*
 * VMX exits into the common struct vmexit (SDM 3C ch. 26 "VM exits", 28.2 exit information,
 * appendix C reasons). Runs right after the exit, interrupts still disabled, with the vCPU's
 * VMCS current. Things only VMX has are handled here and reported as EXIT_NONE: control-register
 * accesses to the bits Tern owns, the NMI window, a full page-modification log, RDPMC.
 * An event whose delivery the exit interrupted (IDT-vectoring information) is queued again
 * for the next entry (SDM 3C 28.2.4, 27.6).
 */
#include "kernel/fmt.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/vm.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx.h"

/* in_64bit_code: EFER.LMA and CS.L. */
static bool in_64bit_code(void)
{
	return (vmread(VMCS_GUEST_EFER) & EFER_LMA) && (vmread(VMCS_GUEST_AR(S_CS)) & SEG_ATTR_L);
}

/* reinject: queue the event the exit interrupted, with the instruction length for software
 * interrupts and exceptions (SDM 3C 28.2.4). */
static void reinject(uint32_t idt)
{
	if (!(idt & INTR_INFO_VALID))
		return;
	unsigned type = INTR_INFO_TYPE(idt);
	if (idt & INTR_INFO_HAS_ERROR)
		vmwrite(VMCS_ENTRY_EXC_ERROR, vmread(VMCS_IDT_VECT_ERROR));
	if (type == INTR_TYPE_SW_INT || type == INTR_TYPE_PRIV_SW_EXC || type == INTR_TYPE_SW_EXC)
		vmwrite(VMCS_ENTRY_INSN_LEN, vmread(VMCS_EXIT_INSN_LEN));
	vmwrite(VMCS_ENTRY_INTR_INFO, idt & (INTR_INFO_VALID | INTR_INFO_HAS_ERROR | 0x7ffu));
}

/* nmi_unblocked_by_iret: a fault in the guest's IRET unblocked NMIs; if the IRET runs again,
 * NMIs must be blocked again first (SDM 3C 28.2.3). */
static void nmi_unblocked_by_iret(bool bit12, uint32_t idt)
{
	if (bit12 && !(idt & INTR_INFO_VALID) && (vmx_caps.pin & PIN_VIRTUAL_NMIS))
		vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
		        vmread(VMCS_GUEST_INTERRUPTIBILITY) | INTERRUPTIBILITY_NMI);
}

/* gp: #GP(0) for the guest's instruction (it is not skipped). */
static void gp(struct vcpu *v)
{
	vmx_inject_exception(v, EXC_GP, true, 0);
}

/* cr_access: MOV to/from CR0/CR3/CR4/CR8, CLTS, LMSW (SDM 3C table 28-3). */
static void cr_access(struct vcpu *v, uint64_t q, unsigned len)
{
	unsigned cr = CR_QUAL_NUM(q), reg = CR_QUAL_GPR(q);
	uint64_t cr0 = vmx_guest_cr(v, 0);
	bool ok = true;
	switch (CR_QUAL_TYPE(q)) {
	case CR_TYPE_MOV_TO: {
		uint64_t val = vmx_get_reg(v, (int)reg);
		if (!in_64bit_code())
			val &= 0xffffffffULL;
		if (cr == 0)
			ok = vmx_set_cr0(v, val);
		else if (cr == 4)
			ok = vmx_set_cr4(v, val);
		else if (cr == 3)
			vmx_set_cr3(v, val);
		else if (cr == 8 && !(val >> 4))
			v->lapic.tpr = (uint32_t)val << 4; /* CR8 = TPR[7:4] (SDM 3A 10.8.6.1) */
		else
			ok = false;
		break;
	}
	case CR_TYPE_MOV_FROM:
		vmx_set_reg(v, (int)reg,
		            cr == 3 ? vmread(VMCS_GUEST_CR3) : (v->lapic.tpr >> 4) & 0xf);
		break;
	case CR_TYPE_CLTS:
		ok = vmx_set_cr0(v, cr0 & ~CR0_TS);
		break;
	case CR_TYPE_LMSW: /* loads PE MP EM TS; cannot clear PE */
		ok = vmx_set_cr0(v, (cr0 & ~0xeULL) | (CR_QUAL_LMSW_SRC(q) & 0xfu));
		break;
	}
	if (ok)
		vcpu_advance(v, len);
	else
		gp(v);
}

/* io_exit: port, size, direction, string/REP, segment and address size (SDM 3C table 28-5,
 * 28-8). Without the INS/OUTS information a string instruction is assumed to use DS and the
 * mode's default address size. */
static void io_exit(struct vmexit *e, uint64_t q)
{
	unsigned len = (unsigned)vmread(VMCS_EXIT_INSN_LEN);
	bool b64 = in_64bit_code();
	e->reason = EXIT_IO;
	e->insn_len = (uint8_t)len;
	e->io.port = IO_QUAL_PORT(q);
	e->io.size = (uint8_t)IO_QUAL_SIZE(q);
	e->io.in = q & IO_QUAL_IN;
	e->io.string = q & IO_QUAL_STRING;
	e->io.rep = q & IO_QUAL_REP;
	uint64_t next = vmread(VMCS_GUEST_RIP) + len;
	e->io.next_rip = b64 ? next : next & 0xffffffffULL;
	if (!e->io.string)
		return;
	if (vmx_caps.ins_outs_info) {
		uint32_t info = (uint32_t)vmread(VMCS_EXIT_INSN_INFO);
		e->io.addr_size = (uint8_t)(2u << MIN(IO_INFO_ADDR_SIZE(info), 2u));
		e->io.seg = (uint8_t)MIN(IO_INFO_SEG(info), 5u);
	} else {
		bool d = vmread(VMCS_GUEST_AR(S_CS)) & SEG_ATTR_DB;
		e->io.addr_size = b64 ? 8 : d ? 4 : 2;
		e->io.seg = S_DS;
	}
}

/* ept_violation: the qualification as a nested page fault (SDM 3C table 28-7). */
static void ept_violation(struct vmexit *e, uint64_t q, uint32_t idt)
{
	e->reason = EXIT_NPF;
	e->npf.gpa = vmread(VMCS_GUEST_PHYS_ADDR);
	e->npf.write = q & EPT_QUAL_WRITE;
	e->npf.fetch = q & EPT_QUAL_FETCH;
	e->npf.present = q & EPT_QUAL_PERM_MASK;
	e->npf.in_guest_walk = (q & EPT_QUAL_LINEAR_VALID) && !(q & EPT_QUAL_TRANSLATED);
	nmi_unblocked_by_iret(q & EPT_QUAL_NMI_UNBLOCK, idt);
}

/* exception_or_nmi: a host NMI goes to the host's NMI handler (it was consumed by the exit);
 * an intercepted guest exception (#MC) to the common handler. */
static void exception_or_nmi(struct vmexit *e, uint32_t idt)
{
	uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
	if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
		__asm__ volatile("int $2" ::: "memory");
		e->reason = EXIT_NMI;
		return;
	}
	e->reason = EXIT_EXCEPTION;
	e->exc.vector = INTR_INFO_VECTOR(info);
	if (info & INTR_INFO_HAS_ERROR)
		e->exc.error = (uint32_t)vmread(VMCS_EXIT_INTR_ERROR);
	nmi_unblocked_by_iret(info & INTR_INFO_NMI_UNBLOCK, idt);
}

/* simple_reason: exits that map one-to-one and carry an instruction length. */
static enum vmexit_reason simple_reason(uint32_t r)
{
	switch (r) {
	case VMX_EXIT_CPUID:
		return EXIT_CPUID;
	case VMX_EXIT_HLT:
		return EXIT_HLT;
	case VMX_EXIT_INVD:
		return EXIT_INVD;
	case VMX_EXIT_WBINVD:
		return EXIT_INVD; /* skipped the same way */
	case VMX_EXIT_RDMSR:
		return EXIT_MSR_READ;
	case VMX_EXIT_WRMSR:
		return EXIT_MSR_WRITE;
	case VMX_EXIT_VMCALL:
		return EXIT_VMCALL;
	case VMX_EXIT_XSETBV:
		return EXIT_XSETBV;
	case VMX_EXIT_PAUSE:
		return EXIT_PAUSE;
	case VMX_EXIT_GETSEC:
	case VMX_EXIT_VMCLEAR ... VMX_EXIT_VMXON:
	case VMX_EXIT_INVEPT:
	case VMX_EXIT_INVVPID:
	case VMX_EXIT_VMFUNC:
	case VMX_EXIT_MWAIT:
	case VMX_EXIT_MONITOR:
	case VMX_EXIT_RDTSCP:
	case VMX_EXIT_INVPCID:
	case VMX_EXIT_XSAVES:
	case VMX_EXIT_XRSTORS:
	case VMX_EXIT_RDRAND:
	case VMX_EXIT_RDSEED:
		return EXIT_INVALID_OP;
	default:
		return EXIT_NONE;
	}
}

/* misconfig: an EPT entry the CPU calls invalid (a Tern bug): say which. */
static void misconfig(struct vcpu *v, struct vmexit *e)
{
	char walk[160];
	uint64_t gpa = vmread(VMCS_GUEST_PHYS_ADDR);
	ept_describe(v, gpa, walk, sizeof(walk));
	klog("vm %s: vcpu %d: EPT misconfiguration at %#llx: %s", v->vm->cfg.name, v->id,
	     (unsigned long long)gpa, walk);
	e->reason = EXIT_OTHER;
	e->other.info1 = gpa;
}

void vmx_decode_exit(struct vcpu *v, struct vmexit *e)
{
	uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);
	memset(e, 0, sizeof(*e));
	e->raw = reason & 0xffff;
	if (reason & VMX_EXIT_REASON_ENTRY_FAIL) {
		vmx_entry_failed(v, 0, e);
		return;
	}
	uint64_t q = vmread(VMCS_EXIT_QUAL);
	uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECT_INFO);
	reinject(idt);
	uint32_t r = reason & 0xffff;
	enum vmexit_reason simple = simple_reason(r);
	if (simple != EXIT_NONE) {
		e->reason = simple;
		e->insn_len = (uint8_t)vmread(VMCS_EXIT_INSN_LEN);
		return;
	}
	switch (r) {
	case VMX_EXIT_EXC_NMI:
		exception_or_nmi(e, idt);
		break;
	case VMX_EXIT_EXT_INTR:
		e->reason = EXIT_INTR;
		break;
	case VMX_EXIT_TRIPLE_FAULT:
		e->reason = EXIT_SHUTDOWN;
		break;
	case VMX_EXIT_INTR_WINDOW:
		e->reason = EXIT_INTR_WINDOW;
		break;
	case VMX_EXIT_NMI_WINDOW:
		vmx_nmi_window(v);
		break;
	case VMX_EXIT_IO:
		io_exit(e, q);
		break;
	case VMX_EXIT_EPT_VIOLATION:
		ept_violation(e, q, idt);
		break;
	case VMX_EXIT_EPT_MISCONFIG:
		misconfig(v, e);
		break;
	case VMX_EXIT_CR_ACCESS:
		cr_access(v, q, (unsigned)vmread(VMCS_EXIT_INSN_LEN));
		break;
	case VMX_EXIT_RDPMC:
		gp(v);
		break;               /* no performance counters are offered */
	case VMX_EXIT_PREEMPT_TIMER: /* the run bound: the host looks at its interrupts now */
	case VMX_EXIT_PML_FULL:
		break;      /* vmx_run drains the log after every exit */
	case VMX_EXIT_INIT: /* INIT is blocked in VMX root operation; the guest's are virtual */
		klog("vm %s: vcpu %d: INIT signal to the host CPU ignored", v->vm->cfg.name, v->id);
		break;
	default:
		e->reason = EXIT_OTHER;
		e->other.info1 = q;
		e->other.info2 = idt;
		break;
	}
}

/* vmx_pml_drain: the page-modification log into the VM's dirty log, then empty it. The index
 * counts down from 511; the entries above it are valid (SDM 3C 29.3.6). */
void vmx_pml_drain(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	uint16_t idx = (uint16_t)vmread(VMCS_GUEST_PML_INDEX);
	if (idx == 511)
		return;
	const uint64_t *log = P2V(s->pml_pa);
	unsigned first = idx >= 512 ? 0 : idx + 1u;
	for (unsigned i = first; i < 512; i++)
		gmem_mark_dirty(&v->vm->mem, log[i] & ~0xfffULL, 1);
	__atomic_fetch_add(&vmx_pml_logged, 512 - first, __ATOMIC_RELAXED);
	vmwrite(VMCS_GUEST_PML_INDEX, 511);
}

/* VM-instruction error numbers (SDM 3C 31.4). */
static const char *const g_insn_errors[] = {
    [1] = "VMCALL in VMX root operation",
    [4] = "VMLAUNCH with non-clear VMCS",
    [5] = "VMRESUME with non-launched VMCS",
    [7] = "VM entry with invalid control field(s)",
    [8] = "VM entry with invalid host-state field(s)",
    [9] = "VMPTRLD with invalid physical address",
    [11] = "VMPTRLD with incorrect VMCS revision identifier",
    [12] = "VMREAD/VMWRITE of an unsupported VMCS component",
    [13] = "VMWRITE to a read-only VMCS component",
    [26] = "VM entry with events blocked by MOV SS",
    [28] = "invalid operand to INVEPT/INVVPID",
};

/* vmx_entry_failed: VMLAUNCH/VMRESUME failed (rc 1-3 from vmx_enter) or the entry failed while
 * loading guest state (rc 0, exit reason bit 31, SDM 3C 27.8): name the check that failed,
 * stop the VM with it, and report EXIT_ENTRY_FAILED. */
void vmx_entry_failed(struct vcpu *v, int rc, struct vmexit *e)
{
	char why[120], what[96];
	uint64_t reason = vmread(VMCS_EXIT_REASON) & 0xffff;
	memset(e, 0, sizeof(*e));
	e->reason = EXIT_ENTRY_FAILED;
	if (rc == 1 || rc == 3) {
		e->raw = ~0ULL;
		e->other.info1 = (uint64_t)rc;
		fmt_snprintf(what, sizeof(what), "%s",
		             rc == 1 ? "VMfailInvalid (no current VMCS)" : "HOST_RSP not writable");
		why[0] = 0;
	} else if (rc == 2) {
		uint32_t err = (uint32_t)vmread(VMCS_VM_INSN_ERROR);
		e->raw = 0x10000 | err;
		e->other.info1 = err;
		const char *name = err < ARRAY_SIZE(g_insn_errors) && g_insn_errors[err]
		                       ? g_insn_errors[err]
		                       : "?";
		fmt_snprintf(what, sizeof(what), "VM-instruction error %u (%s)", err, name);
		const char *d = vmx_diagnose(why, sizeof(why));
		if (!d)
			why[0] = 0;
	} else {
		e->raw = reason | VMX_EXIT_REASON_ENTRY_FAIL;
		e->other.info1 = reason;
		e->other.info2 = vmread(VMCS_EXIT_QUAL);
		fmt_snprintf(what, sizeof(what), "%s (qualification %llu)",
		             reason == VMX_EXIT_BAD_GUEST      ? "invalid guest state"
		             : reason == VMX_EXIT_BAD_MSR_LOAD ? "MSR loading"
		                                               : "machine check",
		             (unsigned long long)e->other.info2);
		const char *d = vmx_diagnose(why, sizeof(why));
		if (!d)
			why[0] = 0;
	}
	klog("vm %s: vcpu %d: VM entry failed: %s%s%s", v->vm->cfg.name, v->id, what,
	     why[0] ? ": " : "", why);
	vm_fatal(v->vm, "VM entry failed: %s", why[0] ? why : what);
}
