/* The `vmx` console command: what VT-x offers here, what Tern uses, and the PML knob. */
#include "kernel/log.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "vmm/vm.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx.h"

#define VMX_USAGE "vmx [dirty pml|ad|wp | state VM]"

/* show: one line per group of capabilities. */
static void show(void)
{
	const struct vmx_caps *c = &vmx_caps;
	kprintf("VMCS revision %#x, true controls %s, INS/OUTS info %s\n", c->revision,
	        (c->basic & VMX_BASIC_TRUE_CTLS) ? "yes" : "no", c->ins_outs_info ? "yes" : "no");
	kprintf("controls: pin %#x proc %#x proc2 %#x exit %#x entry %#x\n", c->pin, c->proc,
	        c->proc2, c->exit, c->entry);
	kprintf("EPT: A/D %s, INVEPT %s; VPID %s (INVVPID %s)\n", c->ept_ad ? "yes" : "no",
	        c->invept_single ? "single-context" : "all-context", c->vpid ? "yes" : "no",
	        c->invvpid_single ? "single-context" : "all-context");
	kprintf("dirty tracking: %s; PML entries logged so far: %llu\n",
	        vmx_dirty_names[vmx_dirty_mode],
	        (unsigned long long)__atomic_load_n(&vmx_pml_logged, __ATOMIC_RELAXED));
	kprintf("CR0 owned %#llx, CR4 owned %#llx\n", (unsigned long long)c->cr0_guest_mask,
	        (unsigned long long)c->cr4_guest_mask);
}

/* show_vm: each vCPU's registers that explain a stuck guest (the VM must be paused, so that
 * the state is the software copy). */
static int show_vm(const char *name)
{
	struct vm *vm = vm_find(name);
	if (!vm)
		return shell_error("no VM named '%s'", name);
	if (vm->state != VM_PAUSED)
		return shell_error("pause %s first (vm pause %s)", name, name);
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpu[i];
		struct vcpu_arch_state st;
		vmm->get_state(v, &st);
		kprintf("vcpu %d: state %d rip %#llx rflags %#llx cr0 %#llx cr3 %#llx efer %#llx "
		        "cs %#x/%#x shadow %u nmi-masked %u event %s%u/%u\n",
		        i, v->run_state, (unsigned long long)st.rip, (unsigned long long)st.rflags,
		        (unsigned long long)st.cr0, (unsigned long long)st.cr3,
		        (unsigned long long)st.efer, st.seg[S_CS].sel, st.seg[S_CS].attr,
		        st.interrupt_shadow, st.nmi_masked, st.pending_event_valid ? "" : "none ",
		        st.pending_event_vector, st.pending_event_type);
		kprintf("  lapic: tpr %#x irr", v->lapic.tpr);
		for (int w = 7; w >= 0; w--)
			kprintf(" %08x", v->lapic.irr[w]);
		kprintf(" isr");
		for (int w = 7; w >= 0; w--)
			kprintf(" %08x", v->lapic.isr[w]);
		kprintf(" pending %d, %llu exits\n", vlapic_pending(&v->lapic),
		        (unsigned long long)v->exits_total);
	}
	return 0;
}

/* set_dirty_mode: `vmx dirty pml|ad|wp`, for the next vm-dirty start. */
static int set_dirty_mode(const char *how)
{
	static const char *const keys[3] = {"wp", "ad", "pml"};
	for (int m = 0; m < 3; m++) {
		if (strcmp(how, keys[m]))
			continue;
		if ((m == VMX_DIRTY_PML && !vmx_caps.pml) ||
		    (m == VMX_DIRTY_AD && !vmx_caps.ept_ad))
			return shell_error("this CPU has no %s", vmx_dirty_names[m]);
		vmx_dirty_mode = (enum vmx_dirty)m;
		kprintf("dirty tracking for the next vm-dirty start: %s\n", vmx_dirty_names[m]);
		return 0;
	}
	return shell_usage(VMX_USAGE);
}

/* cmd_vmx: capabilities, the dirty-tracking choice, a paused VM's vCPUs. */
static int cmd_vmx(int argc, char **argv)
{
	if (!vmx_caps.revision)
		return shell_error("the VMX backend is not active on this host");
	if (argc == 1) {
		show();
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "dirty"))
		return set_dirty_mode(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "state"))
		return show_vm(argv[2]);
	return shell_usage(VMX_USAGE);
}
SHELL_COMMAND(vmx, "vmx", VMX_USAGE,
              "Intel VT-x capabilities; dirty: how vm-dirty finds written pages (PML, EPT "
              "dirty bits, write protection); state VM: the vCPUs of a paused VM",
              cmd_vmx);

/* cmd_break_entry: `vmx-break-entry VM` (debug): make a paused VM's next VM entry fail on
 * purpose (vCPU 0's TR unusable, SDM 3C 27.3.1.2), so that tests see the failure report. */
static int cmd_break_entry(int argc, char **argv)
{
	if (argc != 2)
		return shell_usage("vmx-break-entry VM");
	struct vm *vm = vm_find(argv[1]);
	if (!vm)
		return shell_error("no VM named '%s'", argv[1]);
	if (!vmx_caps.revision || vm->state != VM_PAUSED)
		return shell_error("needs the VMX backend and a paused VM");
	struct vcpu_arch_state st;
	vmm->get_state(vm->vcpu[0], &st);
	st.seg[S_TR].attr = 0; /* not present: loaded as unusable */
	vmm->set_state(vm->vcpu[0], &st);
	kprintf("%s: vcpu 0's next VM entry will fail (guest TR unusable)\n", vm->cfg.name);
	return 0;
}
SHELL_DEBUG_COMMAND(vmx_break_entry, "vmx-break-entry", "vmx-break-entry VM",
                    "make a paused VM's next VM entry fail (debug, tests)", cmd_break_entry);
