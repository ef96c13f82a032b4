/*
 * The AMD Virtual Machine Control Block (APM vol. 2, appendix B): a 4 KiB page, control area
 * at 0x000, state-save area at 0x400. Offsets are from table B-1 and B-2.
 */
#ifndef TERN_VMCB_H
#define TERN_VMCB_H

#include "kernel/compiler.h"

struct vmcb_seg {
	uint16_t sel;
	uint16_t attr; /* type S DPL P | AVL L DB G (12 bits, "compressed") */
	uint32_t limit;
	uint64_t base;
} __packed;

struct vmcb_control {
	uint32_t intercept_cr;         /* 0x000: reads 15:0, writes 31:16 */
	uint32_t intercept_dr;         /* 0x004 */
	uint32_t intercept_exceptions; /* 0x008 */
	uint32_t intercept_misc1;      /* 0x00c: INTERCEPT1_* */
	uint32_t intercept_misc2;      /* 0x010: INTERCEPT2_* */
	uint32_t intercept_misc3;      /* 0x014 */
	uint8_t reserved1[0x03c - 0x018];
	uint16_t pause_filter_thresh; /* 0x03c */
	uint16_t pause_filter_count;  /* 0x03e */
	uint64_t iopm_base_pa;        /* 0x040 */
	uint64_t msrpm_base_pa;       /* 0x048 */
	uint64_t tsc_offset;          /* 0x050 */
	uint32_t asid;                /* 0x058 */
	uint8_t tlb_control;          /* 0x05c */
	uint8_t reserved2[3];
	uint64_t int_ctl;       /* 0x060: V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, masking, vector */
	uint64_t int_state;     /* 0x068: bit 0 interrupt shadow */
	uint64_t exit_code;     /* 0x070 */
	uint64_t exit_info1;    /* 0x078 */
	uint64_t exit_info2;    /* 0x080 */
	uint64_t exit_int_info; /* 0x088 */
	uint64_t np_enable;     /* 0x090: bit 0 nested paging */
	uint64_t avic_apic_bar; /* 0x098 */
	uint64_t ghcb_pa;       /* 0x0a0 */
	uint64_t event_inj;     /* 0x0a8 */
	uint64_t n_cr3;         /* 0x0b0 */
	uint64_t virt_ext;      /* 0x0b8: LBR virtualization, VMSAVE/VMLOAD virtualization */
	uint32_t clean_bits;    /* 0x0c0 */
	uint32_t reserved3;
	uint64_t next_rip;      /* 0x0c8 (NRIPS) */
	uint8_t insn_len;       /* 0x0d0 (decode assists) */
	uint8_t insn_bytes[15]; /* 0x0d1 */
	uint8_t reserved4[0x400 - 0x0e0];
} __packed;

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs; /* 0x400 */
	struct vmcb_seg gdtr, ldtr, idtr, tr;   /* 0x460 */
	uint8_t reserved1[0x4cb - 0x4a0];
	uint8_t cpl; /* 0x4cb */
	uint32_t reserved2;
	uint64_t efer; /* 0x4d0 */
	uint8_t reserved3[0x548 - 0x4d8];
	uint64_t cr4;    /* 0x548 */
	uint64_t cr3;    /* 0x550 */
	uint64_t cr0;    /* 0x558 */
	uint64_t dr7;    /* 0x560 */
	uint64_t dr6;    /* 0x568 */
	uint64_t rflags; /* 0x570 */
	uint64_t rip;    /* 0x578 */
	uint8_t reserved4[0x5d8 - 0x580];
	uint64_t rsp; /* 0x5d8 */
	uint64_t s_cet, ssp, isst_addr;
	uint64_t rax;            /* 0x5f8 */
	uint64_t star;           /* 0x600 */
	uint64_t lstar;          /* 0x608 */
	uint64_t cstar;          /* 0x610 */
	uint64_t sfmask;         /* 0x618 */
	uint64_t kernel_gs_base; /* 0x620 */
	uint64_t sysenter_cs;    /* 0x628 */
	uint64_t sysenter_esp;   /* 0x630 */
	uint64_t sysenter_eip;   /* 0x638 */
	uint64_t cr2;            /* 0x640 */
	uint8_t reserved5[0x668 - 0x648];
	uint64_t g_pat;  /* 0x668 */
	uint64_t dbgctl; /* 0x670 */
	uint8_t reserved6[0x1000 - 0x678];
} __packed;

struct vmcb {
	struct vmcb_control ctl;
	struct vmcb_save save;
} __packed;

STATIC_ASSERT(sizeof(struct vmcb) == 4096, "VMCB must be one page");
STATIC_ASSERT(offsetof(struct vmcb, save.rax) == 0x5f8, "VMCB save area layout");
STATIC_ASSERT(offsetof(struct vmcb, ctl.next_rip) == 0xc8, "VMCB control layout");

/* Intercept vector 3 (offset 0x00c) bits. */
#define INTERCEPT1_INTR        (1u << 0)
#define INTERCEPT1_NMI         (1u << 1)
#define INTERCEPT1_SMI         (1u << 2)
#define INTERCEPT1_INIT        (1u << 3)
#define INTERCEPT1_VINTR       (1u << 4)
#define INTERCEPT1_CPUID       (1u << 18)
#define INTERCEPT1_IRET        (1u << 20)
#define INTERCEPT1_INVD        (1u << 22)
#define INTERCEPT1_HLT         (1u << 24)
#define INTERCEPT1_INVLPGA     (1u << 26)
#define INTERCEPT1_IOIO        (1u << 27)
#define INTERCEPT1_MSR         (1u << 28)
#define INTERCEPT1_TASK_SWITCH (1u << 29)
#define INTERCEPT1_SHUTDOWN    (1u << 31)
/* Intercept vector 4 (offset 0x010) bits. */
#define INTERCEPT2_VMRUN   (1u << 0)
#define INTERCEPT2_VMMCALL (1u << 1)
#define INTERCEPT2_VMLOAD  (1u << 2)
#define INTERCEPT2_VMSAVE  (1u << 3)
#define INTERCEPT2_STGI    (1u << 4)
#define INTERCEPT2_CLGI    (1u << 5)
#define INTERCEPT2_SKINIT  (1u << 6)
#define INTERCEPT2_RDTSCP  (1u << 7)
#define INTERCEPT2_MONITOR (1u << 10)
#define INTERCEPT2_MWAIT   (1u << 11)
#define INTERCEPT2_MWAIT_C (1u << 12)
#define INTERCEPT2_XSETBV  (1u << 13)

/* int_ctl (offset 0x060) fields. */
#define V_TPR_MASK          0xffULL
#define V_IRQ               (1ULL << 8)
#define V_INTR_PRIO_SHIFT   16
#define V_IGN_TPR           (1ULL << 20)
#define V_INTR_MASKING      (1ULL << 24)
#define V_INTR_VECTOR_SHIFT 32

/* TLB_CONTROL values (APM 15.16.1). */
#define TLB_CONTROL_NONE       0
#define TLB_CONTROL_FLUSH_ALL  1
#define TLB_CONTROL_FLUSH_ASID 3

/* EVENTINJ / EXITINTINFO (APM 15.20). */
#define EVENT_VECTOR(e) ((e)&0xff)
#define EVENT_TYPE(e)   (((e) >> 8) & 7)
#define EVENT_TYPE_INTR 0
#define EVENT_TYPE_NMI  2
#define EVENT_TYPE_EXC  3
#define EVENT_TYPE_SOFT 4
#define EVENT_EV        (1ULL << 11) /* error code valid */
#define EVENT_VALID     (1ULL << 31)

/* Exit codes (APM table C-1). */
#define SVM_EXIT_EXCP_BASE   0x40
#define SVM_EXIT_INTR        0x60
#define SVM_EXIT_NMI         0x61
#define SVM_EXIT_SMI         0x62
#define SVM_EXIT_INIT        0x63
#define SVM_EXIT_VINTR       0x64
#define SVM_EXIT_CPUID       0x72
#define SVM_EXIT_IRET        0x74
#define SVM_EXIT_INVD        0x76
#define SVM_EXIT_PAUSE       0x77
#define SVM_EXIT_HLT         0x78
#define SVM_EXIT_INVLPGA     0x7a
#define SVM_EXIT_IOIO        0x7b
#define SVM_EXIT_MSR         0x7c
#define SVM_EXIT_TASK_SWITCH 0x7d
#define SVM_EXIT_SHUTDOWN    0x7f
#define SVM_EXIT_VMRUN       0x80
#define SVM_EXIT_VMMCALL     0x81
#define SVM_EXIT_VMLOAD      0x82
#define SVM_EXIT_VMSAVE      0x83
#define SVM_EXIT_STGI        0x84
#define SVM_EXIT_CLGI        0x85
#define SVM_EXIT_SKINIT      0x86
#define SVM_EXIT_RDTSCP      0x87
#define SVM_EXIT_MONITOR     0x8a
#define SVM_EXIT_MWAIT       0x8b
#define SVM_EXIT_MWAIT_C     0x8c
#define SVM_EXIT_XSETBV      0x8d
#define SVM_EXIT_NPF         0x400
#define SVM_EXIT_INVALID     0xffffffffffffffffULL

/* IOIO EXITINFO1 (APM 15.10.2). */
#define IOIO_IN      (1u << 0)
#define IOIO_STR     (1u << 2)
#define IOIO_REP     (1u << 3)
#define IOIO_SIZE(i) (((i) >> 4) & 7) /* one-hot: 1, 2, 4 bytes */
#define IOIO_PORT(i) ((uint16_t)((i) >> 16))

/* NPF EXITINFO1 bits (page-fault error code plus APM 15.25.6 bits 32/33). */
#define NPF_P          (1ULL << 0)
#define NPF_WRITE      (1ULL << 1)
#define NPF_FETCH      (1ULL << 4)
#define NPF_GUEST_WALK (1ULL << 33)

#define MSR_VM_HSAVE_PA 0xc0010117

#endif
