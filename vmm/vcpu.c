/*
 * The vCPU run loop: deliver pending events, enter the guest, handle the exit, repeat; sleep
 * while halted (no host CPU used) until an interrupt or the guest's timer deadline; park while
 * the VM is paused; leave when the VM stops. Wake-ups go through vcpu_kick().
 */
#include "vmm/vcpu.h"
#include "kernel/apic.h"
#include "kernel/fpu.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/x86.h"
#include "vmm/exit.h"
#include "vmm/vm.h"

#define LVT_LINT0 4

uint64_t vcpu_guest_tsc(struct vcpu *v)
{
	return rdtsc() + v->tsc_offset;
}

void vcpu_inject_gp(struct vcpu *v)
{
	vmm->inject_exception(v, EXC_GP, true, 0);
}

void vcpu_inject_ud(struct vcpu *v)
{
	vmm->inject_exception(v, EXC_UD, false, 0);
}

/* vcpu_advance: RIP += len (wrapping to 32 bits outside 64-bit code); clears STI shadow. */
void vcpu_advance(struct vcpu *v, unsigned len)
{
	uint64_t rip = vmm->get_rip(v) + len;
	struct seg cs;
	vmm->get_seg(v, S_CS, &cs);
	if (!((vmm->get_efer(v) & EFER_LMA) && (cs.attr & SEG_ATTR_L)))
		rip &= 0xffffffffULL;
	vmm->set_rip(v, rip);
}

/* vcpu_kick: wake a sleeping vCPU thread, or pull a running one out of guest mode. */
void vcpu_kick(struct vcpu *v)
{
	spin_lock(&v->vm->lock);
	v->kick = true;
	waitq_wake_all(&v->wq);
	spin_unlock(&v->vm->lock);
	if (READ_ONCE(v->in_guest) && v->host_cpu != cpu_id())
		lapic_send_ipi(cpus[v->host_cpu].apic_id, VEC_CALL);
}

/* pic_deliverable: the 8259's INTR reaches vCPU 0 through LINT0 in ExtINT mode (or with the
 * LAPIC disabled, which makes LINT0 a plain INTR pin). */
static bool pic_deliverable(struct vcpu *v)
{
	if (v->id != 0 || !vpic_has_interrupt(&v->vm->plat.pic))
		return false;
	uint32_t lint0 = v->lapic.lvt[LVT_LINT0];
	if (!vlapic_enabled(&v->lapic))
		return true;
	return !(lint0 & (1u << 16)) && ((lint0 >> 8) & 7) == APIC_DM_EXTINT;
}

/* event_pending: something would wake a halted vCPU. A maskable interrupt ends HLT only when
 * RFLAGS.IF is set: `cli; hlt` sleeps until an NMI (SDM vol. 2 HLT, APM 15.21.1). */
static bool event_pending(struct vcpu *v)
{
	if (v->lapic.nmi_pending)
		return true;
	if (!(vmm->get_rflags(v) & RFLAGS_IF))
		return false;
	return vlapic_pending(&v->lapic) >= 0 || pic_deliverable(v);
}

/* inject_events: an NMI, then the highest interrupt, or ask for an interrupt window. */
static void inject_events(struct vcpu *v)
{
	if (v->lapic.nmi_pending &&
	    (vmm->can_inject_nmi ? vmm->can_inject_nmi(v) : vmm->can_inject_irq(v))) {
		v->lapic.nmi_pending = false;
		vmm->inject_nmi(v);
		return;
	}
	bool pic = pic_deliverable(v);
	int vec = vlapic_pending(&v->lapic);
	if (vec < 0 && !pic) {
		vmm->request_irq_window(v, false);
		return;
	}
	if (!vmm->can_inject_irq(v)) {
		vmm->request_irq_window(v, true);
		return;
	}
	vmm->request_irq_window(v, false);
	if (pic) {
		vmm->inject_irq(v, vpic_ack(&v->vm->plat.pic));
	} else {
		vlapic_ack(&v->lapic, (uint8_t)vec);
		vmm->inject_irq(v, (uint8_t)vec);
	}
}

/* next_deadline: the earliest guest timer this vCPU must wake up for (host TSC). */
static uint64_t next_deadline(struct vcpu *v, uint64_t platform_deadline)
{
	uint64_t d = v->guest_deadline;
	if (platform_deadline && (!d || platform_deadline < d))
		d = platform_deadline;
	return d;
}

/* sleep_until: block until kicked or the deadline passes (vm->lock protects v->kick). */
static void sleep_until(struct vcpu *v, uint64_t deadline)
{
	struct vm *vm = v->vm;
	spin_lock(&vm->lock);
	while (!v->kick && !vm->stop_requested && !vm->pause_requested) {
		if (!waitq_wait(&v->wq, &vm->lock, deadline))
			break;
	}
	v->kick = false;
	spin_unlock(&vm->lock);
}

/* wait_sipi: an application processor waits for INIT-SIPI, then starts in real mode at
 * vector * 4096 (SDM 3A 8.4.4.1). */
static void start_from_sipi(struct vcpu *v)
{
	struct vcpu_arch_state st;
	memset(&st, 0, sizeof(st));
	st.rflags = 2;
	st.cr0 = 0x60000010; /* CD NW ET, as after INIT */
	st.rip = 0;
	for (int s = 0; s < NR_SEGS; s++)
		st.seg[s] = (struct seg){0, 0x93, 0xffff, 0};
	st.seg[S_CS] = (struct seg){(uint16_t)(v->sipi_vector << 8), 0x9b, 0xffff,
	                            (uint64_t)v->sipi_vector << 12};
	st.seg[S_LDTR] = (struct seg){0, 0x82, 0xffff, 0};
	st.seg[S_TR] = (struct seg){0, 0x8b, 0xffff, 0};
	st.gdt.limit = st.idt.limit = 0xffff;
	st.xcr0 = 1;
	st.pat = 0x0007040600070406ULL;
	st.gpr[R_RDX] = 0x600; /* processor signature, as after reset */
	vmm->set_state(v, &st);
	v->sipi_pending = false;
	v->run_state = VCPU_RUNNING;
}

/* park: the VM is paused: report in and sleep until resumed or stopped. */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	fpu_save_current(this_cpu()); /* the state saver reads v->fpu while we are parked */
	if (vmm->vcpu_release)
		vmm->vcpu_release(v); /* ... and get_state, from another CPU */
	spin_lock(&vm->lock);
	vm->vcpus_parked++;
	waitq_wake_all(&vm->state_wq);
	while (vm->pause_requested && !vm->stop_requested)
		waitq_wait(&v->wq, &vm->lock, 0);
	vm->vcpus_parked--;
	spin_unlock(&vm->lock);
}

#define THROTTLE_SLICE_NS 10000000ULL

/* throttle_sleep: hold the vCPU back until deadline (TSC). Kicks (interrupts for the guest)
 * do not end it, or a busy guest would escape the throttle; a pause or stop request does: at
 * 99% a hold lasts ~1 s, and a migration's stop-and-copy must not wait that out. */
static void throttle_sleep(struct vcpu *v, uint64_t deadline)
{
	struct vm *vm = v->vm;
	spin_lock(&vm->lock);
	while (!vm->stop_requested && !vm->pause_requested && rdtsc() < deadline)
		waitq_wait(&v->wq, &vm->lock, deadline);
	spin_unlock(&vm->lock);
}

/* throttle: auto-converge (migration): after each slice of running time, sleep so that the
 * vCPU runs only (100 - pct)% of the time. */
static void throttle(struct vcpu *v)
{
	int pct = v->vm->throttle_pct;
	uint64_t now = rdtsc();
	if (pct <= 0 || pct >= 100) {
		v->throttle_mark = now;
		return;
	}
	uint64_t ran = now - v->throttle_mark;
	if (ran < ns_to_tsc(THROTTLE_SLICE_NS))
		return;
	uint64_t hold = ran * (uint64_t)pct / (uint64_t)(100 - pct);
	throttle_sleep(v, rdtsc() + hold);
	v->throttle_mark = rdtsc();
}

/* vcpu_thread: see the comment at the top of this file. */
void vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct vmexit e;
	v->host_cpu = cpu_id();
	while (!vm->stop_requested) {
		v->kick = false;
		if (vm->pause_requested) {
			park(v);
			continue;
		}
		if (v->lapic.init_pending) {
			v->lapic.init_pending = false;
			v->run_state = VCPU_WAIT_SIPI;
		}
		uint64_t plat = v->id == 0 ? platform_timers(vm) : 0;
		vlapic_timer_check(&v->lapic);
		if (v->run_state == VCPU_WAIT_SIPI) {
			if (v->sipi_pending)
				start_from_sipi(v);
			else
				sleep_until(v, 0);
			continue;
		}
		if (v->run_state == VCPU_HALTED) {
			if (!event_pending(v)) {
				sleep_until(v, next_deadline(v, plat));
				continue;
			}
			v->run_state = VCPU_RUNNING;
		}
		inject_events(v);
		uint64_t hint = next_deadline(v, plat);
		if (v->vm->throttle_pct) { /* exits often enough to be held back on time */
			uint64_t slice = v->throttle_mark + ns_to_tsc(THROTTLE_SLICE_NS);
			hint = hint && hint < slice ? hint : slice;
		}
		sched_set_timer_hint(hint); /* usually unchanged since the last entry: no cost */
		vmm->run(v, &e);
		if (vcpu_handle_exit(v, &e) < 0)
			break;
		throttle(v);
	}
	if (vmm->vcpu_release)
		vmm->vcpu_release(v);
	vm_vcpu_exited(vm, v);
}
