/*
 * Vendor-neutral virtual CPU.
 *
 * A vCPU is run by one kernel thread. The backend (vmm/svm or vmm/vmx) enters the guest and
 * translates every exit into a struct vmexit with a common reason; vmm/exit.c handles it
 * through a dispatch table. Architectural state that must be saved, restored or migrated is
 * expressed in struct vcpu_arch_state, the same on both vendors.
 */
#ifndef TERN_VCPU_H
#define TERN_VCPU_H

#include "kernel/compiler.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "vmm/lapic.h"

struct vm;
struct vcpu;

/* General-purpose registers by x86 encoding number. */
enum {
	R_RAX,
	R_RCX,
	R_RDX,
	R_RBX,
	R_RSP,
	R_RBP,
	R_RSI,
	R_RDI,
	R_R8,
	R_R9,
	R_R10,
	R_R11,
	R_R12,
	R_R13,
	R_R14,
	R_R15,
	NR_GPRS
};

/* Segment registers in x86 encoding order. */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR, NR_SEGS };

/* A segment register with its hidden part; attr uses the VMX access-rights layout
 * (type[3:0] S[4] DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15], bit 16 = unusable). */
struct seg {
	uint16_t sel;
	uint32_t attr;
	uint32_t limit;
	uint64_t base;
};

#define SEG_ATTR_P        (1u << 7)
#define SEG_ATTR_L        (1u << 13)
#define SEG_ATTR_DB       (1u << 14)
#define SEG_ATTR_G        (1u << 15)
#define SEG_ATTR_UNUSABLE (1u << 16)

struct dtable {
	uint64_t base;
	uint32_t limit;
};

/* Everything about a vCPU that a snapshot or migration carries (versioned in vmm/state.c). */
struct vcpu_arch_state {
	uint64_t gpr[NR_GPRS];
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t dr6, dr7;
	struct seg seg[NR_SEGS];
	struct dtable gdt, idt;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat;
	uint64_t xcr0;
	uint64_t tsc;              /* guest TSC value at the moment of the save */
	uint32_t interrupt_shadow; /* 1: STI/MOV SS shadow active */
	uint32_t nmi_masked;
	/* an event being delivered when the state was taken (re-injected on restore) */
	uint32_t pending_event_valid, pending_event_vector, pending_event_type;
	uint32_t pending_event_has_error, pending_event_error;
};

/* Common exit reasons; backends map their own codes onto these. */
enum vmexit_reason {
	EXIT_NONE,
	EXIT_CPUID,
	EXIT_MSR_READ,
	EXIT_MSR_WRITE,
	EXIT_IO,
	EXIT_HLT,
	EXIT_NPF,  /* nested page fault / EPT violation */
	EXIT_INTR, /* host interrupt arrived */
	EXIT_NMI,
	EXIT_INTR_WINDOW, /* guest can now take an interrupt */
	EXIT_SHUTDOWN,    /* triple fault */
	EXIT_VMCALL,
	EXIT_XSETBV,
	EXIT_INVALID_OP, /* an instruction the guest may not run (VMRUN, VMXON, ...) -> #UD */
	EXIT_PAUSE,
	EXIT_INVD,
	EXIT_ENTRY_FAILED, /* the CPU refused the guest state */
	EXIT_EXCEPTION,    /* an intercepted guest exception */
	EXIT_OTHER,
	NR_EXIT_REASONS
};

struct vmexit {
	enum vmexit_reason reason;
	uint64_t raw;     /* vendor exit code, for reports */
	uint8_t insn_len; /* length of the exiting instruction, 0 if unknown (decode it) */
	union {
		struct {
			uint16_t port;
			uint8_t size; /* 1, 2, 4 */
			bool in, string, rep;
			uint8_t seg;       /* string instructions: segment of the memory operand */
			uint8_t addr_size; /* string instructions: 2, 4 or 8 */
			uint64_t next_rip;
		} io;
		struct {
			uint64_t gpa;
			bool write, fetch, present;
			bool in_guest_walk; /* fault while the CPU walked the guest's page tables */
		} npf;
		struct {
			uint32_t vector;
			uint32_t error;
		} exc;
		struct {
			uint64_t info1, info2; /* for reports of unexpected exits */
		} other;
	};
};

enum vcpu_run_state {
	VCPU_WAIT_SIPI, /* application processor before INIT-SIPI */
	VCPU_RUNNING,
	VCPU_HALTED,
	VCPU_STOPPED,
};

struct vcpu {
	struct vm *vm;
	int id;
	int host_cpu;
	struct thread *thread;
	volatile int run_state; /* enum vcpu_run_state */
	void *arch;             /* backend state (VMCB / VMCS) */
	void *fpu;              /* guest FPU/SSE/AVX state (XSAVE area), lent to the thread */

	/* GPRs other than those the backend keeps in its control block (RAX/RSP on SVM). */
	uint64_t gpr[NR_GPRS];

	struct vlapic lapic;
	uint32_t sipi_vector;
	volatile bool sipi_pending;
	volatile bool in_guest; /* between entry and exit: kick with an IPI */
	volatile bool kick;     /* asked to leave guest mode (stop, pause, snapshot) */
	bool tlb_flush;         /* flush this vCPU's guest TLB before the next entry */
	uint32_t asid;          /* SVM */
	uint64_t asid_gen;
	int asid_cpu;

	uint64_t tsc_offset; /* guest TSC = host TSC + tsc_offset */
	uint64_t xcr0;       /* guest XCR0 */
	uint64_t exits[NR_EXIT_REASONS];
	uint64_t exits_total;
	struct waitq wq;         /* halted/paused vCPU sleeps here; lock = vm->lock */
	uint64_t guest_deadline; /* host TSC at which the vLAPIC timer fires, 0 = none */
	uint64_t throttle_mark;  /* host TSC at the end of the last throttle sleep */
	uint64_t pv_msr;         /* MSR_KVM_SYSTEM_TIME_NEW: record GPA | enable (kvmclock.h) */
	uint64_t pv_wall_msr;    /* MSR_KVM_WALL_CLOCK_NEW: the last wall-clock record GPA */
	uint32_t pv_version;     /* version of the last record published */
};

/* Backend operations: one table per vendor (svm_ops, vmx_ops). */
struct vmm_backend {
	const char *name;
	/* per host CPU, once */
	int (*cpu_init)(void);
	/* create/destroy the control block for a vCPU (NPT root from vm) */
	int (*vcpu_create)(struct vcpu *v);
	void (*vcpu_destroy)(struct vcpu *v);
	/* the vCPU thread parks or leaves (optional): afterwards get_state, set_state and
	 * vcpu_destroy may run on any CPU (VMX: the VMCS is flushed and cleared) */
	void (*vcpu_release)(struct vcpu *v);
	/* enter the guest once; fill *exit */
	void (*run)(struct vcpu *v, struct vmexit *exit);
	/* full architectural state in the common format */
	void (*get_state)(struct vcpu *v, struct vcpu_arch_state *s);
	void (*set_state)(struct vcpu *v, const struct vcpu_arch_state *s);
	/* quick accessors used on every exit */
	uint64_t (*get_rip)(struct vcpu *v);
	void (*set_rip)(struct vcpu *v, uint64_t rip);
	uint64_t (*get_reg)(struct vcpu *v, int reg);
	void (*set_reg)(struct vcpu *v, int reg, uint64_t val);
	void (*get_seg)(struct vcpu *v, int seg, struct seg *out);
	uint64_t (*get_cr)(struct vcpu *v, int cr);
	uint64_t (*get_efer)(struct vcpu *v);
	uint64_t (*get_rflags)(struct vcpu *v);
	void (*set_rflags)(struct vcpu *v, uint64_t f);
	void (*set_cr2)(struct vcpu *v, uint64_t cr2);
	/* event injection */
	bool (*can_inject_irq)(struct vcpu *v);
	/* an NMI can be injected now: not blocked by an earlier NMI's handler (until its IRET),
	 * no STI/MOV-SS shadow, no event queued; RFLAGS.IF does not matter. Optional: without
	 * it NMIs wait for can_inject_irq (i.e. for RFLAGS.IF) */
	bool (*can_inject_nmi)(struct vcpu *v);
	void (*inject_irq)(struct vcpu *v, uint8_t vector);
	void (*request_irq_window)(struct vcpu *v, bool on);
	void (*inject_exception)(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error);
	void (*inject_nmi)(struct vcpu *v);
	/* nested paging changed (unmap, write-protect, dirty bits cleared) */
	void (*flush_guest_tlb)(struct vcpu *v);
	/* hardware dirty logging (Intel PML) on/off from the vCPU's next entry; optional, false
	 * if not available. While on, the backend puts the guest-physical pages the CPU marks
	 * dirty into vm->mem.dirty at every exit (see vmm/dirty.c) */
	bool (*dirty_log)(struct vcpu *v, bool on);
	/* the nested page tables' dirty bits work (optional, default yes); if not, dirty logging
	 * write-protects RAM and logs the first write fault to each page */
	bool (*dirty_bits)(void);
	/* MSRs held in the control block (EFER, PAT, ...): false if not handled */
	bool (*msr_read)(struct vcpu *v, uint32_t msr, uint64_t *val);
	bool (*msr_write)(struct vcpu *v, uint32_t msr, uint64_t val);
	/* the nested page-table format of this vendor */
	const struct npt_format *npt;
};

extern const struct vmm_backend *vmm;

/* Exception vectors injected by the VMM. */
#define EXC_DE 0
#define EXC_UD 6
#define EXC_GP 13
#define EXC_PF 14

/* vcpu_inject_gp / ud: fault the guest's current instruction. */
void vcpu_inject_gp(struct vcpu *v);
void vcpu_inject_ud(struct vcpu *v);
/* vcpu_advance: skip the exiting instruction of length len. */
void vcpu_advance(struct vcpu *v, unsigned len);
/* vcpu_kick: make a vCPU leave guest mode soon (IPI if it runs on another CPU). */
void vcpu_kick(struct vcpu *v);
/* vcpu_thread: the loop every vCPU thread runs. */
void vcpu_thread(void *arg);
/* vcpu_guest_tsc: the guest's view of the TSC now. */
uint64_t vcpu_guest_tsc(struct vcpu *v);

#endif
