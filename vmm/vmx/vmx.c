/*
 * Intel VT-x backend with EPT (SDM vol. 3C ch. 24-29): bring-up, VMCS set-up, the run step.
 *
 * Every control word is computed from the capability MSRs (allowed-0 bits forced on, allowed-1
 * bits the limit; the TRUE_* MSRs when IA32_VMX_BASIC[55] says so, SDM 3D A.2): Tern asks for
 * what it wants and refuses to start only if something it cannot do without is missing.
 *
 * Per host CPU: IA32_FEATURE_CONTROL, the CR0/CR4 fixed bits, a VMXON region. Per vCPU: one
 * VMCS. vCPU threads are pinned, so a VMCS is only ever active on one CPU; it is VMCLEARed
 * when the thread parks or leaves (vcpu_release), which also moves the guest state into a
 * software copy that get_state/set_state can use from any CPU (see vmx.h, `cached`).
 * The MSR bitmap is shared: every MSR exits except the syscall/segment-base ones, which the
 * VMCS switches (FS/GS base, SYSENTER_*) or Tern swaps lazily (STAR, LSTAR, CSTAR, SFMASK,
 * KERNEL_GS_BASE: the host never uses them). All I/O instructions exit.
 */
#include "vmm/vmx/vmx.h"
#include "kernel/fpu.h"
#include "kernel/gdt.h"
#include "kernel/bitmap.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"
#include "vmm/npt.h"
#include "vmm/vm.h"
#include "vmm/vmx/vmcs.h"

int vmx_enter(uint64_t *gprs, int launched);
extern char vmx_exit_point[];

struct vmx_caps vmx_caps;
enum vmx_dirty vmx_dirty_mode = VMX_DIRTY_WP;
const char *const vmx_dirty_names[3] = {"write protection", "EPT dirty bits", "PML"};
uint64_t vmx_pml_logged;
static struct vmx_cpu g_cpu[MAX_CPUS];
static uint64_t g_msr_bitmap_pa;
static const char *g_why_not;

#define NR_VPIDS 65536
static uint64_t g_vpid_used[NR_VPIDS / 64];
static struct spinlock g_vpid_lock = SPINLOCK_INIT("vpid");

const uint32_t vmx_gmsr_index[NR_GMSRS] = {MSR_STAR, MSR_LSTAR, 0xc0000083 /* CSTAR */,
                                           0xc0000084 /* SFMASK */, MSR_KERNEL_GS_BASE};

/* adjust: a control word: wanted bits plus those that must be 1, within those that may be 1
 * (SDM 3D A.3-A.5); false if a bit in need is not allowed. */
static bool adjust(uint32_t msr, uint32_t want, uint32_t need, uint32_t *out, const char *what)
{
	uint64_t cap = rdmsr(msr);
	uint32_t must = (uint32_t)cap, may = (uint32_t)(cap >> 32);
	*out = (want | must) & may;
	if ((*out & need) != need) {
		klog("vmx: %s control bits %#x not offered by this CPU", what, need & ~*out);
		return false;
	}
	return true;
}

/* may_set: can a control bit be 1 (allowed-1 setting)? */
static bool may_set(uint32_t msr, uint32_t bit)
{
	return (rdmsr(msr) >> 32) & bit;
}

/* guest_masks: CR0/CR4 bits Tern owns (guest writes to them exit): those VMX fixes (minus
 * PE/PG, free with unrestricted guest), PG (long-mode activation updates the "IA-32e mode
 * guest" control), PAE (PDPTE loading), SMXE/VMXE (hidden features) (SDM 3C 25.6.6). */
static void guest_masks(struct vmx_caps *c)
{
	c->cr0_guest_mask =
	    ((c->cr0_fixed0 & ~(CR0_PE | CR0_PG)) | ~c->cr0_fixed1 | CR0_PG | CR0_NE) & ~CR0_PE;
	c->cr4_guest_mask = c->cr4_fixed0 | ~c->cr4_fixed1 | CR4_PAE | CR4_VMXE | (1ULL << 14);
}

/* compute_caps: read the capability MSRs and choose the controls (SDM 3D appendix A). */
static bool compute_caps(struct vmx_caps *c)
{
	c->basic = rdmsr(MSR_VMX_BASIC);
	if (VMX_BASIC_MEMTYPE(c->basic) != 6 || (c->basic & VMX_BASIC_32BIT_PA) ||
	    VMX_BASIC_VMCS_SIZE(c->basic) > PAGE_SIZE) {
		g_why_not = "VMCS must be write-back, 64-bit addressed and at most 4 KiB";
		return false;
	}
	c->revision = VMX_BASIC_REVISION(c->basic);
	bool tru = c->basic & VMX_BASIC_TRUE_CTLS;
	c->ins_outs_info = c->basic & VMX_BASIC_INOUT_INFO;
	c->misc = rdmsr(MSR_VMX_MISC);
	c->store_lma = c->misc & VMX_MISC_STORE_LMA;
	uint32_t pin_msr = tru ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS;
	uint32_t proc_msr = tru ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS;
	uint32_t exit_msr = tru ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS;
	uint32_t entry_msr = tru ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS;
	uint32_t proc_need = PROC_HLT_EXITING | PROC_UNCOND_IO | PROC_MSR_BITMAPS | PROC_SECONDARY |
	                     PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING | PROC_TSC_OFFSET;
	g_why_not = "a VMX control Tern needs is missing (see the log)";
	if (!adjust(pin_msr,
	            PIN_EXTINT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS | PIN_PREEMPT_TIMER,
	            PIN_EXTINT_EXITING | PIN_NMI_EXITING, &c->pin, "pin-based") ||
	    !adjust(proc_msr,
	            proc_need | PROC_MWAIT_EXITING | PROC_MONITOR_EXITING | PROC_RDPMC_EXITING,
	            proc_need, &c->proc, "processor-based") ||
	    !may_set(proc_msr, PROC_INTR_WINDOW) ||
	    !adjust(MSR_VMX_PROCBASED_CTLS2, PROC2_EPT | PROC2_UNRESTRICTED,
	            PROC2_EPT | PROC2_UNRESTRICTED, &c->proc2, "secondary") ||
	    !adjust(exit_msr,
	            EXIT_HOST_64 | EXIT_SAVE_DEBUG | EXIT_SAVE_PAT | EXIT_LOAD_PAT |
	                EXIT_SAVE_EFER | EXIT_LOAD_EFER,
	            EXIT_HOST_64 | EXIT_LOAD_PAT | EXIT_LOAD_EFER, &c->exit, "VM-exit") ||
	    !adjust(entry_msr, ENTRY_LOAD_DEBUG | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER,
	            ENTRY_LOAD_PAT | ENTRY_LOAD_EFER, &c->entry, "VM-entry") ||
	    !may_set(entry_msr, ENTRY_IA32E))
		return false;
	c->entry &= ~ENTRY_IA32E; /* per vCPU, from the guest's EFER.LMA */
	c->nmi_window = (c->pin & PIN_VIRTUAL_NMIS) && may_set(proc_msr, PROC_NMI_WINDOW);
	if (c->pin & PIN_PREEMPT_TIMER) {
		uint64_t t = ns_to_tsc(VMX_RUN_BOUND_NS) >> VMX_MISC_PREEMPT_SHIFT(c->misc);
		c->preempt_ticks = (uint32_t)MIN(MAX(t, 1ULL), 0xffffffffULL);
	}
	c->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
	uint64_t need = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT;
	if ((c->ept_vpid & need) != need ||
	    !(c->ept_vpid & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL))) {
		g_why_not = "EPT lacks 4-level walks, write-back, 2 MiB pages or INVEPT";
		return false;
	}
	c->invept_single = c->ept_vpid & EPT_CAP_INVEPT_SINGLE;
	c->ept_ad = c->ept_vpid & EPT_CAP_AD;
	c->pml = c->ept_ad && may_set(MSR_VMX_PROCBASED_CTLS2, PROC2_PML);
	vmx_dirty_mode = c->pml ? VMX_DIRTY_PML : c->ept_ad ? VMX_DIRTY_AD : VMX_DIRTY_WP;
	c->vpid = may_set(MSR_VMX_PROCBASED_CTLS2, PROC2_VPID) &&
	          (c->ept_vpid & VPID_CAP_INVVPID) &&
	          (c->ept_vpid & (VPID_CAP_SINGLE | VPID_CAP_ALL));
	c->invvpid_single = c->ept_vpid & VPID_CAP_SINGLE;
	uint32_t r[4];
	cpuid(7, 0, r);
	c->invpcid = ((r[1] >> 10) & 1) && may_set(MSR_VMX_PROCBASED_CTLS2, PROC2_INVPCID);
	if (c->invpcid)
		c->proc2 |= PROC2_INVPCID; /* else INVPCID raises #UD, and CPUID hides it */
	c->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	c->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	c->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	c->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
	guest_masks(c);
	g_why_not = NULL;
	return true;
}

/* msr_bitmap: every MSR exits but those the VMCS switches or Tern swaps (SDM 3C 25.6.9). */
static bool msr_bitmap(void)
{
	uint64_t pa = pmm_alloc(0);
	if (!pa)
		return false;
	uint8_t *bm = P2V(pa);
	memset(bm, 0xff, PAGE_SIZE);
	static const uint32_t pass[] = {MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_STAR,
	                                MSR_LSTAR,   0xc0000083,  0xc0000084,         0x174,
	                                0x175,       0x176};
	for (size_t i = 0; i < ARRAY_SIZE(pass); i++) {
		uint32_t m = pass[i], base = m >= 0xc0000000 ? 1024 : 0, bit = m & 0x1fff;
		bm[base + bit / 8] &= (uint8_t) ~(1u << (bit % 8));        /* read */
		bm[base + 2048 + bit / 8] &= (uint8_t) ~(1u << (bit % 8)); /* write */
	}
	g_msr_bitmap_pa = pa;
	return true;
}

/* enable_vmx_here: IA32_FEATURE_CONTROL, CR0/CR4 fixed bits, VMXON (SDM 3C 24.7, 24.8). */
static bool enable_vmx_here(struct vmx_cpu *c)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 5))) /* never set CR4.VMXE on a CPU without VMX */
		return (g_why_not = "CPUID.1:ECX.VMX = 0"), false;
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	if (!(fc & FEATURE_CONTROL_LOCK))
		wrmsr(MSR_FEATURE_CONTROL,
		      fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
	else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
		return (g_why_not = "VMX disabled by firmware (IA32_FEATURE_CONTROL)"), false;
	write_cr0((read_cr0() | vmx_caps.cr0_fixed0) & vmx_caps.cr0_fixed1);
	write_cr4((read_cr4() | vmx_caps.cr4_fixed0 | CR4_VMXE) & vmx_caps.cr4_fixed1);
	c->vmxon_pa = pmm_alloc_zeroed(0);
	if (!c->vmxon_pa)
		return (g_why_not = "out of memory"), false;
	*(uint32_t *)P2V(c->vmxon_pa) = vmx_caps.revision;
	if (!vmxon(c->vmxon_pa))
		return (g_why_not = "VMXON failed"), false;
	/* translations tagged by earlier software (firmware) must not survive (SDM 3C 29.4.3.3) */
	if (vmx_caps.ept_vpid & EPT_CAP_INVEPT_ALL)
		invept(INVEPT_ALL, 0);
	if (vmx_caps.vpid && (vmx_caps.ept_vpid & VPID_CAP_ALL))
		invvpid(INVVPID_ALL, 0);
	return true;
}

/* vmx_cpu_init: capabilities once, then VMX operation on this CPU. */
static int vmx_cpu_init(void)
{
	static struct spinlock once = SPINLOCK_INIT("vmx-init");
	static bool done, ok;
	spin_lock(&once);
	if (!done) {
		done = true;
		ok = compute_caps(&vmx_caps) && msr_bitmap();
		if (ok)
			klog("vmx: VMCS revision %#x, EPT A/D %s, PML %s, VPID %s, unrestricted "
			     "guest",
			     vmx_caps.revision, vmx_caps.ept_ad ? "yes" : "no",
			     vmx_caps.pml ? "yes" : "no", vmx_caps.vpid ? "yes" : "no");
	}
	spin_unlock(&once);
	struct vmx_cpu *c = &g_cpu[cpu_id()];
	if (!ok || !enable_vmx_here(c)) {
		klog("vmx: cpu %d: %s", cpu_id(), g_why_not ? g_why_not : "start-up failed");
		return -1;
	}
	this_cpu()->vmm = c;
	return 0;
}

/* vpid_alloc: a VPID no live vCPU has (1..65535); 0 = none left (run untagged). */
static uint16_t vpid_alloc(void)
{
	uint16_t id = 0;
	spin_lock(&g_vpid_lock);
	for (uint32_t i = 1; i < NR_VPIDS && !id; i++) {
		if (!bitmap_test(g_vpid_used, i)) {
			bitmap_set(g_vpid_used, i);
			id = (uint16_t)i;
		}
	}
	spin_unlock(&g_vpid_lock);
	return id;
}

static void vpid_free(uint16_t id)
{
	spin_lock(&g_vpid_lock);
	bitmap_clear(g_vpid_used, id);
	spin_unlock(&g_vpid_lock);
}

/* vmx_vcpu_create: a VMCS region and the software state; the VMCS itself is written on the
 * vCPU's own CPU at its first entry (vmx_load). */
static int vmx_vcpu_create(struct vcpu *v)
{
	struct vmx_vcpu *s = kzalloc(sizeof(*s));
	if (!s)
		return -1;
	s->vmcs_pa = pmm_alloc_zeroed(0);
	if (!s->vmcs_pa) {
		kfree(s);
		return -1;
	}
	*(uint32_t *)P2V(s->vmcs_pa) = vmx_caps.revision;
	s->v = v;
	s->cpu = -1;
	s->cached = true;
	s->st.rflags = 2;
	s->st.pat = 0x0007040600070406ULL;
	s->st.xcr0 = 1;
	s->vpid = vmx_caps.vpid ? vpid_alloc() : 0;
	s->vpid_flush = true; /* a reused VPID may still tag old translations */
	v->arch = s;
	v->tlb_flush = true; /* so may an EPT root at a reused address */
	return 0;
}

/* vmx_vcpu_destroy: the thread has released (VMCLEARed) the VMCS already. */
static void vmx_vcpu_destroy(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	if (!s)
		return;
	ASSERT(s->cpu < 0);
	if (s->vpid)
		vpid_free(s->vpid);
	if (s->pml_pa)
		pmm_free(s->pml_pa, 0);
	pmm_free(s->vmcs_pa, 0);
	kfree(s);
	v->arch = NULL;
}

/* descriptor_table_base: SGDT/SIDT base (the limits VM exits set to 0xffff are harmless:
 * Tern's GDT has no selectors beyond its end, its IDT has 256 gates). */
static uint64_t descriptor_table_base(bool idt)
{
	struct __packed {
		uint16_t limit;
		uint64_t base;
	} d;
	if (idt)
		__asm__ volatile("sidt %0" : "=m"(d));
	else
		__asm__ volatile("sgdt %0" : "=m"(d));
	return d.base;
}

/* setup_host: the state a VM exit loads (SDM 3C 25.5, 28.5): this CPU's GDT/TSS/IDT, GS base
 * = its struct cpu, Tern's page tables. */
static void setup_host(void)
{
	vmwrite(VMCS_HOST_CR0, read_cr0());
	vmwrite(VMCS_HOST_CR3, read_cr3());
	vmwrite(VMCS_HOST_CR4, read_cr4());
	vmwrite(VMCS_HOST_CS_SEL, SEL_KCODE);
	vmwrite(VMCS_HOST_SS_SEL, SEL_KDATA);
	vmwrite(VMCS_HOST_DS_SEL, SEL_KDATA);
	vmwrite(VMCS_HOST_ES_SEL, SEL_KDATA);
	vmwrite(VMCS_HOST_FS_SEL, 0);
	vmwrite(VMCS_HOST_GS_SEL, 0);
	vmwrite(VMCS_HOST_TR_SEL, SEL_TSS);
	vmwrite(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmwrite(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmwrite(VMCS_HOST_TR_BASE, (uint64_t)&this_cpu()->gdt.tss);
	vmwrite(VMCS_HOST_GDTR_BASE, descriptor_table_base(false));
	vmwrite(VMCS_HOST_IDTR_BASE, descriptor_table_base(true));
	vmwrite(VMCS_HOST_SYSENTER_CS, rdmsr(0x174));
	vmwrite(VMCS_HOST_SYSENTER_ESP, rdmsr(0x175));
	vmwrite(VMCS_HOST_SYSENTER_EIP, rdmsr(0x176));
	vmwrite(VMCS_HOST_PAT, rdmsr(MSR_PAT));
	vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER));
	vmwrite(VMCS_HOST_RIP, (uint64_t)vmx_exit_point);
}

/* setup_controls: execution, exit and entry controls (SDM 3C 25.6-25.8). */
static void setup_controls(struct vcpu *v, struct vmx_vcpu *s)
{
	vmwrite(VMCS_PIN_CTLS, vmx_caps.pin);
	if (vmx_caps.pin & PIN_PREEMPT_TIMER) /* reloaded from here at every entry */
		vmwrite(VMCS_PREEMPT_TIMER, vmx_caps.preempt_ticks);
	s->proc_written = vmx_caps.proc | (s->want_irq_window ? PROC_INTR_WINDOW : 0) |
	                  (s->nmi_deferred ? PROC_NMI_WINDOW : 0);
	vmwrite(VMCS_PROC_CTLS, s->proc_written);
	vmwrite(VMCS_PROC_CTLS2, vmx_caps.proc2 | (s->vpid ? PROC2_VPID : 0));
	s->pml_on = false;
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << 18); /* #MC: the host must see machine checks */
	vmwrite(VMCS_PF_ERR_MASK, 0);
	vmwrite(VMCS_PF_ERR_MATCH, 0);
	vmwrite(VMCS_CR3_TARGET_COUNT, 0);
	vmwrite(VMCS_EXIT_CTLS, vmx_caps.exit);
	vmwrite(VMCS_ENTRY_CTLS, vmx_caps.entry);
	vmwrite(VMCS_EXIT_MSR_STORE_CNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_CNT, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_CNT, 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_MSR_BITMAP, g_msr_bitmap_pa);
	vmwrite(VMCS_EPTP, ept_pointer(v->vm->npt.root));
	if (s->vpid)
		vmwrite(VMCS_VPID, s->vpid);
	vmwrite(VMCS_CR0_MASK, vmx_caps.cr0_guest_mask);
	vmwrite(VMCS_CR4_MASK, vmx_caps.cr4_guest_mask);
	vmwrite(VMCS_LINK_POINTER, ~0ULL);
	vmwrite(VMCS_GUEST_DEBUGCTL, 0);
	vmwrite(VMCS_GUEST_ACTIVITY, 0);
	vmwrite(VMCS_TSC_OFFSET, v->tsc_offset);
	s->tsc_offset_written = v->tsc_offset;
}

/* vmx_load: see vmx.h. A VMCS that was clear gets VMCLEAR (launch state "clear") and a full
 * set-up here, on the CPU that will run it (SDM 3C 25.11.3). */
void vmx_load(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	struct vmx_cpu *c = this_cpu()->vmm;
	if (c->current != s) {
		ASSERT(s->cpu < 0 || s->cpu == cpu_id());
		if (s->cpu < 0) {
			vmclear(s->vmcs_pa);
			s->launched = s->setup = false;
		}
		if (!vmptrld(s->vmcs_pa))
			panic("vmx: VMPTRLD of vcpu %d's VMCS failed", v->id);
		c->current = s;
		s->cpu = cpu_id();
	}
	if (!s->setup) {
		setup_controls(v, s);
		setup_host();
		s->setup = true;
	}
	if (s->cached) {
		s->cached = false;
		vmx_write_state(v, &s->st);
	}
}

/* vcpu_release: the thread parks or leaves: guest state into the software copy, VMCS
 * flushed to memory and clear, so any CPU may read the state or free the VMCS. */
static void vmx_vcpu_release(struct vcpu *v)
{
	struct vmx_vcpu *s = vmx_of(v);
	uint64_t fl = irq_save();
	if (!s->cached) {
		vmx_load(v);
		if (s->pml_on)
			vmx_pml_drain(v);
		vmx_read_state(v, &s->st);
		s->cached = true;
	}
	struct vmx_cpu *c = this_cpu()->vmm;
	if (c->msr_owner == v)
		c->msr_owner = NULL; /* vmx_read_state saved them */
	if (s->cpu >= 0) {
		ASSERT(s->cpu == cpu_id());
		vmclear(s->vmcs_pa);
		if (c->current == s)
			c->current = NULL;
		s->cpu = -1;
		s->launched = s->setup = false;
	}
	irq_restore(fl);
}

/* apply_requests: what other CPUs asked for, and what changed since the last entry. */
static void apply_requests(struct vcpu *v, struct vmx_vcpu *s)
{
	if (v->tsc_offset != s->tsc_offset_written) {
		vmwrite(VMCS_TSC_OFFSET, v->tsc_offset);
		s->tsc_offset_written = v->tsc_offset;
	}
	if (READ_ONCE(s->pml_want) != s->pml_on) {
		uint32_t p2 = (uint32_t)vmread(VMCS_PROC_CTLS2);
		if (!s->pml_on) {
			vmwrite(VMCS_PML_ADDRESS, s->pml_pa);
			vmwrite(VMCS_GUEST_PML_INDEX, 511);
			vmwrite(VMCS_PROC_CTLS2, p2 | PROC2_PML);
		} else {
			vmx_pml_drain(v);
			vmwrite(VMCS_PROC_CTLS2, p2 & ~PROC2_PML);
		}
		s->pml_on = !s->pml_on;
	}
	if (__atomic_exchange_n(&v->tlb_flush, false, __ATOMIC_ACQ_REL))
		ept_invalidate(ept_pointer(v->vm->npt.root));
	if (s->vpid_flush) {
		s->vpid_flush = false;
		if (s->vpid)
			invvpid(vmx_caps.invvpid_single ? INVVPID_SINGLE : INVVPID_ALL, s->vpid);
	}
	struct vmx_cpu *c = this_cpu()->vmm;
	if (c->msr_owner != v) {
		if (c->msr_owner)
			vmx_gmsr_save(c->msr_owner);
		vmx_gmsr_load(v);
		c->msr_owner = v;
	}
}

/* xsetbv0: load XCR0. */
static void xsetbv0(uint64_t val)
{
	__asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
}

/* vmx_run: one VM entry with interrupts disabled from before in_guest is set until the exit
 * is decoded: a kick IPI in that window stays pending and makes the guest exit at once; the
 * host takes its interrupt when interrupts are enabled again (acknowledge-on-exit is off). */
static void vmx_run(struct vcpu *v, struct vmexit *e)
{
	struct vmx_vcpu *s = vmx_of(v);
	uint64_t fl = irq_save();
	vmx_load(v);
	WRITE_ONCE(v->in_guest, true);
	/* pairs with the fence after setting tlb_flush / pml_want on another CPU: either it
	 * sees in_guest and waits for our exit, or we see its request now */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	apply_requests(v, s);
	if (read_cr2() != s->cr2)
		write_cr2(s->cr2);
	uint64_t host_xcr0 = fpu_xcr0();
	bool swap_xcr0 = host_xcr0 && v->xcr0 != host_xcr0;
	if (swap_xcr0)
		xsetbv0(v->xcr0);
	int rc = vmx_enter(v->gpr, s->launched);
	if (swap_xcr0)
		xsetbv0(host_xcr0);
	s->cr2 = read_cr2();
	if (rc == 0 && s->pml_on)
		vmx_pml_drain(v); /* before in_guest drops: vm_dirty_fetch relies on it */
	WRITE_ONCE(v->in_guest, false);
	if (rc == 0) {
		s->launched = true;
		vmx_decode_exit(v, e);
	} else {
		vmx_entry_failed(v, rc, e);
	}
	irq_restore(fl);
}

/* vmx_flush_guest_tlb: INVEPT before the next entry (see vmx_run for the fence). */
static void vmx_flush_guest_tlb(struct vcpu *v)
{
	__atomic_store_n(&v->tlb_flush, true, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* vmx_dirty_log: page-modification logging on or off (SDM 3C 29.3.6); applied at the vCPU's
 * next entry. false if the CPU has no PML or `vmx dirty` chose another way. */
static bool vmx_dirty_log(struct vcpu *v, bool on)
{
	struct vmx_vcpu *s = vmx_of(v);
	if (on && (!vmx_caps.pml || vmx_dirty_mode != VMX_DIRTY_PML))
		return false;
	if (on && !s->pml_pa && !(s->pml_pa = pmm_alloc_zeroed(0)))
		return false;
	WRITE_ONCE(s->pml_want, on);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return true;
}

/* vmx_dirty_bits: the CPU sets EPT dirty bits (SDM 3C 29.3.5) and `vmx dirty` did not ask for
 * write protection. */
static bool vmx_dirty_bits(void)
{
	return vmx_caps.ept_ad && vmx_dirty_mode != VMX_DIRTY_WP;
}

const struct vmm_backend vmx_backend = {
    .name = "Intel VT-x (VMX+EPT)",
    .cpu_init = vmx_cpu_init,
    .vcpu_create = vmx_vcpu_create,
    .vcpu_destroy = vmx_vcpu_destroy,
    .vcpu_release = vmx_vcpu_release,
    .run = vmx_run,
    .get_state = vmx_get_state,
    .set_state = vmx_set_state,
    .get_rip = vmx_get_rip,
    .set_rip = vmx_set_rip,
    .get_reg = vmx_get_reg,
    .set_reg = vmx_set_reg,
    .get_seg = vmx_get_seg,
    .get_cr = vmx_get_cr,
    .get_efer = vmx_get_efer,
    .get_rflags = vmx_get_rflags,
    .set_rflags = vmx_set_rflags,
    .set_cr2 = vmx_set_cr2,
    .can_inject_irq = vmx_can_inject_irq,
    .can_inject_nmi = vmx_can_inject_nmi,
    .inject_irq = vmx_inject_irq,
    .request_irq_window = vmx_request_irq_window,
    .inject_exception = vmx_inject_exception,
    .inject_nmi = vmx_inject_nmi,
    .flush_guest_tlb = vmx_flush_guest_tlb,
    .dirty_log = vmx_dirty_log,
    .dirty_bits = vmx_dirty_bits,
    .msr_read = vmx_msr_read,
    .msr_write = vmx_msr_write,
    .npt = &ept_format,
};

/* vmx_why_not: the reason start-up failed, for `version`. */
const char *vmx_why_not(void)
{
	return g_why_not ? g_why_not : "VMX start-up failed";
}
