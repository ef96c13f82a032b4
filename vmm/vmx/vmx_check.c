/*
 * Why did a VM entry fail? The CPU only says "invalid control field(s)", "invalid host-state
 * field(s)" or "invalid guest state"; this file re-runs the checks of SDM 3C 27.2 (controls and
 * host state) and 27.3.1 (guest state) on the current VMCS and names the first field that
 * fails one. Not every check of the SDM is here (only those Tern's own state could plausibly
 * break); NULL means "none of these".
 */
#include "kernel/fmt.h"
#include "kernel/x86.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx.h"

#define FAIL(...) (fmt_snprintf(buf, len, __VA_ARGS__), buf)

static const char *const g_seg_names[NR_SEGS] = {"ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"};

/* canonical: bits 63:47 all equal (48-bit linear addresses). */
static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* bad_ctl: a control word with a bit outside what its capability MSR allows (SDM 3D A.3). */
static bool bad_ctl(uint32_t msr, uint32_t val)
{
	uint64_t cap = rdmsr(msr);
	return (val & (uint32_t)cap) != (uint32_t)cap || (val & ~(uint32_t)(cap >> 32));
}

/* check_controls: SDM 3C 27.2.1. */
static const char *check_controls(char *buf, size_t len)
{
	bool tru = vmx_caps.basic & VMX_BASIC_TRUE_CTLS;
	uint32_t pin = (uint32_t)vmread(VMCS_PIN_CTLS), proc = (uint32_t)vmread(VMCS_PROC_CTLS);
	uint32_t proc2 = (proc & PROC_SECONDARY) ? (uint32_t)vmread(VMCS_PROC_CTLS2) : 0;
	uint32_t ex = (uint32_t)vmread(VMCS_EXIT_CTLS), en = (uint32_t)vmread(VMCS_ENTRY_CTLS);
	if (bad_ctl(tru ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS, pin))
		return FAIL("pin-based controls %#x outside the allowed settings", pin);
	if (bad_ctl(tru ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS, proc))
		return FAIL("processor-based controls %#x outside the allowed settings", proc);
	if ((proc & PROC_SECONDARY) && bad_ctl(MSR_VMX_PROCBASED_CTLS2, proc2))
		return FAIL("secondary controls %#x outside the allowed settings", proc2);
	if (bad_ctl(tru ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS, ex))
		return FAIL("VM-exit controls %#x outside the allowed settings", ex);
	if (bad_ctl(tru ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS, en))
		return FAIL("VM-entry controls %#x outside the allowed settings", en);
	if ((pin & PIN_VIRTUAL_NMIS) && !(pin & PIN_NMI_EXITING))
		return FAIL("virtual NMIs without NMI exiting");
	if ((proc & PROC_NMI_WINDOW) && !(pin & PIN_VIRTUAL_NMIS))
		return FAIL("NMI-window exiting without virtual NMIs");
	if ((proc & PROC_MSR_BITMAPS) && (vmread(VMCS_MSR_BITMAP) & 0xfff))
		return FAIL("MSR-bitmap address not page aligned");
	uint64_t eptp = vmread(VMCS_EPTP);
	if ((proc2 & PROC2_EPT) && ((eptp & 7) != 6 || ((eptp >> 3) & 7) != 3 || (eptp & 0xf80) ||
	                            ((eptp & EPTP_AD) && !vmx_caps.ept_ad)))
		return FAIL("EPT pointer %#llx (type, walk length, A/D or reserved bits)",
		            (unsigned long long)eptp);
	if ((proc2 & PROC2_UNRESTRICTED) && !(proc2 & PROC2_EPT))
		return FAIL("unrestricted guest without EPT");
	if ((proc2 & PROC2_VPID) && !vmread(VMCS_VPID))
		return FAIL("VPID enabled with VPID 0");
	if ((proc2 & PROC2_PML) && (!(proc2 & PROC2_EPT) || (vmread(VMCS_PML_ADDRESS) & 0xfff)))
		return FAIL("PML without EPT or with an unaligned log address");
	uint32_t ev = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
	if (ev & INTR_INFO_VALID) {
		unsigned type = INTR_INFO_TYPE(ev), vec = INTR_INFO_VECTOR(ev);
		uint64_t cr0 = vmread(VMCS_GUEST_CR0);
		bool want_err = type == INTR_TYPE_HW_EXC && vmx_error_code_delivered(vec, cr0);
		if (type == 1 || (type == INTR_TYPE_NMI && vec != 2) ||
		    (type == INTR_TYPE_HW_EXC && vec > 31) || (ev & 0x7ffff000u))
			return FAIL("VM-entry interruption information %#x: type/vector", ev);
		if (!!(ev & INTR_INFO_HAS_ERROR) != want_err)
			return FAIL("VM-entry interruption information %#x: deliver-error-code bit",
			            ev);
		if ((ev & INTR_INFO_HAS_ERROR) && (vmread(VMCS_ENTRY_EXC_ERROR) >> 15))
			return FAIL("VM-entry exception error code bits 31:15 set");
	}
	if (vmread(VMCS_CR3_TARGET_COUNT) > 4)
		return FAIL("CR3-target count above 4");
	return NULL;
}

/* check_host: SDM 3C 27.2.2, 27.2.3 (64-bit host). */
static const char *check_host(char *buf, size_t len)
{
	uint64_t cr0 = vmread(VMCS_HOST_CR0), cr4 = vmread(VMCS_HOST_CR4);
	if ((cr0 & vmx_caps.cr0_fixed0) != vmx_caps.cr0_fixed0 || (cr0 & ~vmx_caps.cr0_fixed1))
		return FAIL("host CR0 %#llx violates the VMX fixed bits", (unsigned long long)cr0);
	if ((cr4 & vmx_caps.cr4_fixed0) != vmx_caps.cr4_fixed0 || (cr4 & ~vmx_caps.cr4_fixed1) ||
	    !(cr4 & CR4_PAE))
		return FAIL("host CR4 %#llx violates the VMX fixed bits or lacks PAE",
		            (unsigned long long)cr4);
	static const uint32_t sel[] = {VMCS_HOST_ES_SEL, VMCS_HOST_CS_SEL, VMCS_HOST_SS_SEL,
	                               VMCS_HOST_DS_SEL, VMCS_HOST_FS_SEL, VMCS_HOST_GS_SEL,
	                               VMCS_HOST_TR_SEL};
	for (size_t i = 0; i < ARRAY_SIZE(sel); i++)
		if (vmread(sel[i]) & 7)
			return FAIL("host selector field %#x has RPL or TI set", sel[i]);
	if (!vmread(VMCS_HOST_CS_SEL) || !vmread(VMCS_HOST_TR_SEL))
		return FAIL("host CS or TR selector is 0");
	static const uint32_t base[] = {VMCS_HOST_FS_BASE,   VMCS_HOST_GS_BASE,   VMCS_HOST_TR_BASE,
	                                VMCS_HOST_GDTR_BASE, VMCS_HOST_IDTR_BASE, VMCS_HOST_RIP};
	for (size_t i = 0; i < ARRAY_SIZE(base); i++)
		if (!canonical(vmread(base[i])))
			return FAIL("host field %#x is not canonical", base[i]);
	uint64_t efer = vmread(VMCS_HOST_EFER);
	if (!(efer & EFER_LMA) || !(efer & EFER_LME))
		return FAIL("host EFER %#llx: a 64-bit host needs LMA and LME",
		            (unsigned long long)efer);
	return NULL;
}

/* limit_g_ok: limit bits 11:0 all 1 if G is set... and G set if bits 31:20 are not 0. */
static bool limit_g_ok(uint32_t limit, uint32_t ar)
{
	bool g = ar & SEG_ATTR_G;
	if ((limit & 0xfff) != 0xfff && g)
		return false;
	if ((limit >> 20) && !g)
		return false;
	return true;
}

/* check_segment: SDM 3C 27.3.1.2 for one usable register. */
static const char *check_segment(int s, bool ia32e, bool unrestricted, bool real, char *buf,
                                 size_t len)
{
	uint32_t ar = (uint32_t)vmread(VMCS_GUEST_AR(s)), type = ar & 0xf;
	uint32_t limit = (uint32_t)vmread(VMCS_GUEST_LIMIT(s));
	uint16_t sel = (uint16_t)vmread(VMCS_GUEST_SEL(s));
	const char *n = g_seg_names[s];
	bool unusable = ar & SEG_ATTR_UNUSABLE;
	if (s == S_TR || s == S_CS) {
		if (unusable)
			return FAIL("guest %s is unusable", n);
	} else if (unusable) {
		return NULL;
	}
	if ((ar & 0xf00) || (ar & 0xfffe0000u))
		return FAIL("guest %s access rights %#x: reserved bits", n, ar);
	if (!(ar & SEG_ATTR_P))
		return FAIL("guest %s access rights %#x: not present", n, ar);
	if (!limit_g_ok(limit, ar))
		return FAIL("guest %s limit %#x does not match G in access rights %#x", n, limit,
		            ar);
	bool sbit = ar & (1u << 4);
	switch (s) {
	case S_TR:
		if ((sel & 4) || sbit || !(type == 11 || (!ia32e && type == 3)))
			return FAIL(
			    "guest TR selector %#x / access rights %#x: must be a busy TSS%s", sel,
			    ar, ia32e ? " (64-bit)" : "");
		break;
	case S_LDTR:
		if ((sel & 4) || sbit || type != 2)
			return FAIL("guest LDTR access rights %#x: must be an LDT", ar);
		break;
	case S_CS:
		if (!sbit || !((type & 9) == 9 || (unrestricted && type == 3)))
			return FAIL("guest CS access rights %#x: must be accessed code", ar);
		if (ia32e && (ar & SEG_ATTR_L) && (ar & SEG_ATTR_DB))
			return FAIL("guest CS access rights %#x: L and D both set", ar);
		break;
	case S_SS:
		if (!sbit || (type != 3 && type != 7))
			return FAIL("guest SS access rights %#x: must be read/write data", ar);
		if (real && ((ar >> 5) & 3))
			return FAIL("guest SS DPL must be 0 in real mode");
		break;
	default:
		if (!sbit || !(type & 1) || ((type & 8) && !(type & 2)))
			return FAIL("guest %s access rights %#x: must be accessed, readable", n,
			            ar);
		break;
	}
	return NULL;
}

/* check_guest_regs: control registers, EFER, RFLAGS, RIP (SDM 3C 27.3.1.1, 27.3.1.4). */
static const char *check_guest_regs(bool ia32e, bool unrestricted, char *buf, size_t len)
{
	uint64_t cr0 = vmread(VMCS_GUEST_CR0), cr4 = vmread(VMCS_GUEST_CR4);
	uint64_t f0 = vmx_caps.cr0_fixed0 & (unrestricted ? ~(CR0_PE | CR0_PG) : ~0ULL);
	if ((cr0 & f0) != f0 || (cr0 & ~vmx_caps.cr0_fixed1) || ((cr0 & CR0_PG) && !(cr0 & CR0_PE)))
		return FAIL("guest CR0 %#llx violates the VMX fixed bits", (unsigned long long)cr0);
	if ((cr4 & vmx_caps.cr4_fixed0) != vmx_caps.cr4_fixed0 || (cr4 & ~vmx_caps.cr4_fixed1))
		return FAIL("guest CR4 %#llx violates the VMX fixed bits", (unsigned long long)cr4);
	uint64_t efer = vmread(VMCS_GUEST_EFER);
	if (!!(efer & EFER_LMA) != ia32e)
		return FAIL("guest EFER.LMA (%#llx) differs from the IA-32e mode guest control",
		            (unsigned long long)efer);
	if ((cr0 & CR0_PG) && !!(efer & EFER_LME) != !!(efer & EFER_LMA))
		return FAIL("guest EFER %#llx: LME and LMA differ with paging on",
		            (unsigned long long)efer);
	if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
		return FAIL("IA-32e mode guest without CR0.PG and CR4.PAE");
	if (!ia32e && (cr4 & (1ULL << 17)))
		return FAIL("guest CR4.PCIDE outside IA-32e mode");
	uint64_t fl = vmread(VMCS_GUEST_RFLAGS);
	if ((fl & ~0x3f7fd7ULL) || !(fl & 2))
		return FAIL("guest RFLAGS %#llx: reserved bits", (unsigned long long)fl);
	if ((fl & (1ULL << 17)) && (ia32e || !(cr0 & CR0_PE)))
		return FAIL("guest RFLAGS.VM outside protected mode");
	uint64_t rip = vmread(VMCS_GUEST_RIP);
	bool l = vmread(VMCS_GUEST_AR(S_CS)) & SEG_ATTR_L;
	if ((!(ia32e && l) && (rip >> 32)) || !canonical(rip))
		return FAIL("guest RIP %#llx out of range for the mode", (unsigned long long)rip);
	if (vmread(VMCS_GUEST_GDTR_LIMIT) > 0xffff || vmread(VMCS_GUEST_IDTR_LIMIT) > 0xffff ||
	    !canonical(vmread(VMCS_GUEST_GDTR_BASE)) || !canonical(vmread(VMCS_GUEST_IDTR_BASE)))
		return FAIL("guest GDTR/IDTR limit above 0xffff or base not canonical");
	return NULL;
}

/* check_guest_nonreg: activity, interruptibility, pending debug exceptions, link pointer
 * (SDM 3C 27.3.1.5). */
static const char *check_guest_nonreg(char *buf, size_t len)
{
	uint32_t intr = (uint32_t)vmread(VMCS_GUEST_INTERRUPTIBILITY);
	uint64_t fl = vmread(VMCS_GUEST_RFLAGS);
	uint32_t ev = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
	if (vmread(VMCS_GUEST_ACTIVITY) > 3)
		return FAIL("guest activity state %llu",
		            (unsigned long long)vmread(VMCS_GUEST_ACTIVITY));
	if ((intr & ~0x1fu) || ((intr & 3) == 3))
		return FAIL("guest interruptibility %#x: reserved bits or STI and MOV SS", intr);
	if ((intr & INTERRUPTIBILITY_STI) && !(fl & RFLAGS_IF))
		return FAIL("guest interruptibility %#x: STI blocking with IF = 0", intr);
	if ((ev & INTR_INFO_VALID) && INTR_INFO_TYPE(ev) == INTR_TYPE_EXT &&
	    (!(fl & RFLAGS_IF) || (intr & 3)))
		return FAIL("external interrupt injected while the guest blocks interrupts");
	if ((ev & INTR_INFO_VALID) && INTR_INFO_TYPE(ev) == INTR_TYPE_NMI &&
	    ((intr & INTERRUPTIBILITY_MOVSS) ||
	     ((vmx_caps.pin & PIN_VIRTUAL_NMIS) && (intr & INTERRUPTIBILITY_NMI))))
		return FAIL("NMI injected while the guest blocks NMIs (interruptibility %#x)",
		            intr);
	uint64_t dbg = vmread(VMCS_GUEST_PENDING_DBG);
	if ((intr & 3) && (fl & (1ULL << 8)) && !(dbg & (1ULL << 14)))
		return FAIL("single-step under an interrupt shadow without pending BS");
	if (vmread(VMCS_LINK_POINTER) != ~0ULL)
		return FAIL("VMCS link pointer is not all ones");
	return NULL;
}

const char *vmx_diagnose(char *buf, size_t len)
{
	const char *r;
	if ((r = check_controls(buf, len)) || (r = check_host(buf, len)))
		return r;
	uint32_t en = (uint32_t)vmread(VMCS_ENTRY_CTLS);
	uint32_t proc2 = (uint32_t)vmread(VMCS_PROC_CTLS2);
	bool ia32e = en & ENTRY_IA32E, unrestricted = proc2 & PROC2_UNRESTRICTED;
	bool real = !(vmread(VMCS_GUEST_CR0) & CR0_PE);
	if ((r = check_guest_regs(ia32e, unrestricted, buf, len)))
		return r;
	for (int s = 0; s < NR_SEGS; s++)
		if ((r = check_segment(s, ia32e, unrestricted, real, buf, len)))
			return r;
	return check_guest_nonreg(buf, len);
}
